//! Reading a JSON error body into the [`Envelope`] model: `#[derive(Deserialize)]`
//! structs for `google.rpc.Status`, its details and the OAuth error, with a few
//! lenient field readers.
//!
//! Leniency, so an odd body degrades to "absent" instead of failing the whole parse:
//! any scalar where a string is expected is read as text (numbers as strings,
//! `"code": "429"`), any other JSON type there is absent; a list holding non-objects
//! keeps its objects; metadata keeps its scalar values as strings; `@type` is also
//! read with a stray space. Strings are capped at [`MAX_FIELD`](super::model::MAX_FIELD)
//! and lists at [`MAX_ITEMS`].
//!
//! Details are read in one pass into a flat struct holding every field of every known
//! detail type; which fields count depends on `@type`. Only when a body holds a detail
//! of a type this crate does not know is it read again, keeping each detail as raw
//! JSON first, so the unknown one is kept whole (capped).
//!
//! A syntax error (truncated, not JSON, a repeated key) fails the parse; the caller
//! then salvages what it can from the text.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::delay::{parse_delay_text, parse_protobuf_duration};
use super::model::{
    Detail, Envelope, FieldViolation, HelpLink, LegacyError, MAX_ITEMS, OAuthError, ParsedBody,
    PreconditionViolation, QuotaViolation, cap, capped_value, normalise_domain,
};

/// The visit methods for the scalars (numbers, booleans, null) a lenient reader does
/// not want: each gives `$none`.
macro_rules! other_scalars {
    ($value:ty, $none:expr) => {
        fn visit_u64<E>(self, _: u64) -> Result<$value, E> {
            Ok($none)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$value, E> {
            Ok($none)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$value, E> {
            Ok($none)
        }
        fn visit_bool<E>(self, _: bool) -> Result<$value, E> {
            Ok($none)
        }
        fn visit_unit<E>(self) -> Result<$value, E> {
            Ok($none)
        }
    };
}

/// Parses one JSON document (an object, or an array whose first object holding an
/// error wins) into what it holds.
pub(crate) fn parse(json: &str) -> Result<ParsedBody, serde_json::Error> {
    match serde_json::from_str::<Document<WireDetail>>(json)?.0 {
        Some(parsed) => Ok(parsed),
        // A detail of an unknown type: read again, keeping details raw.
        None => serde_json::from_str::<Document<&RawValue>>(json)
            .map(|document| document.0.unwrap_or_default()),
    }
}

/// How details are read: in one pass ([`WireDetail`]), or kept raw first and read by
/// their type afterwards (`&RawValue`), which can keep an unknown detail whole.
trait DetailRead<'de> {
    /// The list of details, lenient like every list here; `None` when it holds a
    /// detail this reader cannot keep (an unknown type read in one pass), which sends
    /// the body to the raw reader.
    fn details<D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Detail>>, D::Error>;
}

impl<'de> DetailRead<'de> for WireDetail<'de> {
    fn details<D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Detail>>, D::Error> {
        // Each detail becomes the model's as soon as it is read.
        let mut unknown = false;
        let details = kept_items(d, |item: MaybeObject<WireDetail<'de>>| {
            match item.0.map(known_detail) {
                Some(Ok(detail)) => Some(detail),
                Some(Err(_)) => {
                    unknown = true;
                    None
                }
                None => None,
            }
        })?;
        Ok((!unknown).then_some(details))
    }
}

impl<'de> DetailRead<'de> for &'de RawValue {
    fn details<D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Detail>>, D::Error> {
        let raw = kept_items(d, |raw: &'de RawValue| {
            raw.get().starts_with('{').then_some(raw)
        })?;
        Ok(Some(raw.into_iter().filter_map(raw_detail).collect()))
    }
}

/// The whole document; `None` inside when the one-pass reader met an unknown detail.
struct Document<R>(Option<ParsedBody>, PhantomData<R>);

impl<R> Document<R> {
    fn new(parsed: Option<ParsedBody>) -> Self {
        Document(parsed, PhantomData)
    }
}

/// One top-level object: a `google.rpc.Status` under `error`, or an OAuth error.
#[derive(Deserialize)]
#[serde(default, bound(deserialize = "D: DetailRead<'de>"))]
struct Top<D> {
    error: ErrorField<D>,
    #[serde(deserialize_with = "text")]
    error_description: Option<String>,
    #[serde(deserialize_with = "text")]
    error_subtype: Option<String>,
}

impl<D> Default for Top<D> {
    fn default() -> Self {
        Top {
            error: ErrorField::Nothing,
            error_description: None,
            error_subtype: None,
        }
    }
}

/// The value of `error`: a status object, an OAuth error code, or something else.
enum ErrorField<D> {
    Status(WireStatus<D>),
    OAuth(String),
    Nothing,
}

/// `google.rpc.Status`, with the legacy `errors[]` beside it.
#[derive(Deserialize)]
#[serde(default, bound(deserialize = "D: DetailRead<'de>"))]
struct WireStatus<D> {
    #[serde(deserialize_with = "code")]
    code: Option<u16>,
    #[serde(deserialize_with = "text")]
    status: Option<String>,
    #[serde(deserialize_with = "text")]
    message: Option<String>,
    #[serde(deserialize_with = "D::details")]
    details: Option<Vec<Detail>>,
    #[serde(deserialize_with = "objects")]
    errors: Vec<Entry>,
    #[serde(skip)]
    reader: PhantomData<D>,
}

impl<D> Default for WireStatus<D> {
    fn default() -> Self {
        WireStatus {
            code: None,
            status: None,
            message: None,
            details: Some(Vec::new()),
            errors: Vec::new(),
            reader: PhantomData,
        }
    }
}

/// Every field any known detail type has; which ones count depends on `@type`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireDetail<'a> {
    #[serde(
        rename = "@type",
        alias = " @type",
        alias = "@type ",
        borrow,
        deserialize_with = "borrowed_text"
    )]
    type_url: Option<std::borrow::Cow<'a, str>>,
    #[serde(deserialize_with = "text")]
    reason: Option<String>,
    #[serde(deserialize_with = "text")]
    domain: Option<String>,
    #[serde(deserialize_with = "string_map")]
    metadata: BTreeMap<String, String>,
    #[serde(rename = "retryDelay", deserialize_with = "delay")]
    retry_delay: Option<Duration>,
    #[serde(deserialize_with = "objects")]
    violations: Vec<Entry>,
    #[serde(deserialize_with = "objects")]
    links: Vec<Entry>,
    #[serde(rename = "fieldViolations", deserialize_with = "objects")]
    field_violations: Vec<Entry>,
    #[serde(deserialize_with = "text")]
    locale: Option<String>,
    #[serde(deserialize_with = "text")]
    message: Option<String>,
    #[serde(deserialize_with = "text")]
    detail: Option<String>,
}

/// Every field an entry of a detail's list (or of the legacy `errors[]`) may have.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Entry {
    #[serde(deserialize_with = "text")]
    subject: Option<String>,
    #[serde(deserialize_with = "text")]
    description: Option<String>,
    #[serde(rename = "quotaId", deserialize_with = "text")]
    quota_id: Option<String>,
    #[serde(rename = "quotaMetric", deserialize_with = "text")]
    quota_metric: Option<String>,
    #[serde(rename = "quotaDimensions", deserialize_with = "string_map")]
    quota_dimensions: BTreeMap<String, String>,
    #[serde(rename = "quotaValue", deserialize_with = "text")]
    quota_value: Option<String>,
    #[serde(deserialize_with = "text")]
    url: Option<String>,
    #[serde(deserialize_with = "text")]
    field: Option<String>,
    #[serde(deserialize_with = "text")]
    reason: Option<String>,
    #[serde(rename = "type", deserialize_with = "text")]
    kind: Option<String>,
    #[serde(deserialize_with = "text")]
    domain: Option<String>,
    #[serde(deserialize_with = "text")]
    message: Option<String>,
}

impl<D> Top<D> {
    /// What the object holds; `None` when a detail needs the raw reader.
    fn into_parsed(self) -> Option<ParsedBody> {
        Some(match self.error {
            ErrorField::Status(status) => ParsedBody {
                envelope: Some(status.into_envelope()?),
                oauth: None,
            },
            ErrorField::OAuth(error) => ParsedBody {
                envelope: None,
                oauth: Some(OAuthError {
                    error,
                    description: self.error_description,
                    subtype: self.error_subtype,
                }),
            },
            ErrorField::Nothing => ParsedBody::default(),
        })
    }
}

impl<D> WireStatus<D> {
    fn into_envelope(self) -> Option<Envelope> {
        Some(Envelope {
            code: self.code,
            status: self.status,
            message: self.message,
            details: self.details?,
            errors: self
                .errors
                .into_iter()
                .map(|e| LegacyError {
                    domain: e.domain,
                    reason: e.reason,
                    message: e.message,
                })
                .collect(),
            salvaged: false,
        })
    }
}

/// A detail kept raw, read by its type; an unknown type is kept as it came, capped.
fn raw_detail(raw: &RawValue) -> Option<Detail> {
    let wire: WireDetail = serde_json::from_str(raw.get()).ok()?;
    Some(match known_detail(wire) {
        Ok(detail) => detail,
        Err(type_url) => Detail::Other {
            type_url: type_url.map(|url| cap(&url)),
            raw: serde_json::from_str::<Value>(raw.get())
                .map(|value| capped_value(&value, 0))
                .unwrap_or(Value::Null),
        },
    })
}

/// A detail of a type this crate knows, read by its `@type` (the part after the last
/// `/`); the type back when it is another (or absent).
fn known_detail(wire: WireDetail<'_>) -> Result<Detail, Option<std::borrow::Cow<'_, str>>> {
    let short = wire
        .type_url
        .as_deref()
        // By bytes from the end: the name is short, a generic search would cost more.
        .map(|url| {
            let slash = url.bytes().rposition(|b| b == b'/');
            url[slash.map_or(0, |slash| slash + 1)..].trim()
        });
    Ok(match short {
        Some("google.rpc.ErrorInfo") => Detail::ErrorInfo {
            reason: wire.reason,
            domain: wire.domain.map(normalise_domain).filter(|d| !d.is_empty()),
            metadata: wire.metadata,
        },
        Some("google.rpc.RetryInfo") => Detail::RetryInfo {
            retry_delay: wire.retry_delay,
        },
        Some("google.rpc.QuotaFailure") => Detail::QuotaFailure {
            violations: wire
                .violations
                .into_iter()
                .map(|e| QuotaViolation {
                    subject: e.subject,
                    description: e.description,
                    quota_id: e.quota_id,
                    quota_metric: e.quota_metric,
                    quota_dimensions: e.quota_dimensions,
                    quota_value: e.quota_value,
                })
                .collect(),
        },
        Some("google.rpc.Help") => Detail::Help {
            links: wire
                .links
                .into_iter()
                .map(|e| HelpLink {
                    description: e.description,
                    url: e.url,
                })
                .collect(),
        },
        Some("google.rpc.LocalizedMessage") => Detail::LocalizedMessage {
            locale: wire.locale,
            message: wire.message,
        },
        Some("google.rpc.BadRequest") => Detail::BadRequest {
            field_violations: wire
                .field_violations
                .into_iter()
                .map(|e| FieldViolation {
                    field: e.field,
                    description: e.description,
                    reason: e.reason,
                })
                .collect(),
        },
        Some("google.rpc.PreconditionFailure") => Detail::PreconditionFailure {
            violations: wire
                .violations
                .into_iter()
                .map(|e| PreconditionViolation {
                    kind: e.kind,
                    subject: e.subject,
                    description: e.description,
                })
                .collect(),
        },
        Some("google.rpc.DebugInfo") => Detail::DebugInfo {
            detail: wire.detail,
        },
        // Any other type (or none): the caller decides.
        _ => return Err(wire.type_url),
    })
}

impl<'de, R: DetailRead<'de>> Deserialize<'de> for Document<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor<R>(PhantomData<R>);
        impl<'de, R: DetailRead<'de>> Visitor<'de> for DocumentVisitor<R> {
            type Value = Document<R>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON document")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Document<R>, A::Error> {
                Top::<R>::deserialize(MapAccessDeserializer::new(map))
                    .map(|top| Document::new(top.into_parsed()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document<R>, A::Error> {
                // The first element that holds an error wins; the rest is only validated.
                let mut found = ParsedBody::default();
                let mut looked = 0;
                while looked < MAX_ITEMS && found.envelope.is_none() && found.oauth.is_none() {
                    match seq.next_element::<MaybeObject<Top<R>>>()? {
                        Some(MaybeObject(Some(top))) => match top.into_parsed() {
                            Some(parsed) => found = parsed,
                            None => {
                                while seq.next_element::<IgnoredAny>()?.is_some() {}
                                return Ok(Document::new(None));
                            }
                        },
                        Some(MaybeObject(None)) => {}
                        None => return Ok(Document::new(Some(found))),
                    }
                    looked += 1;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Document::new(Some(found)))
            }
            fn visit_str<E>(self, _: &str) -> Result<Document<R>, E> {
                Ok(Document::new(Some(ParsedBody::default())))
            }
            other_scalars!(Document<R>, Document::new(Some(ParsedBody::default())));
        }
        deserializer.deserialize_any(DocumentVisitor(PhantomData))
    }
}

impl<'de, R: DetailRead<'de>> Deserialize<'de> for ErrorField<R> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ErrorVisitor<R>(PhantomData<R>);
        impl<'de, R: DetailRead<'de>> Visitor<'de> for ErrorVisitor<R> {
            type Value = ErrorField<R>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object or code")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ErrorField<R>, A::Error> {
                WireStatus::deserialize(MapAccessDeserializer::new(map)).map(ErrorField::Status)
            }
            fn visit_str<E>(self, v: &str) -> Result<ErrorField<R>, E> {
                Ok(ErrorField::OAuth(cap(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorField<R>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ErrorField::Nothing)
            }
            other_scalars!(ErrorField<R>, ErrorField::Nothing);
        }
        deserializer.deserialize_any(ErrorVisitor(PhantomData))
    }
}

/// Any value: `Some` for an object read as `T`, `None` (drained) for anything else.
struct MaybeObject<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObject<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = MaybeObject<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeObject<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| MaybeObject(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeObject<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObject(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<MaybeObject<T>, E> {
                Ok(MaybeObject(None))
            }
            other_scalars!(MaybeObject<T>, MaybeObject(None));
        }
        deserializer.deserialize_any(ObjectVisitor(PhantomData))
    }
}

/// A list's objects read as `T` (at most [`MAX_ITEMS`]); anything that is not a list
/// is an empty one.
fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    kept_items(d, |item: MaybeObject<T>| item.0)
}

/// The items of a list that `keep` keeps (at most [`MAX_ITEMS`]; the rest is only
/// validated); anything that is not a list is an empty one.
fn kept_items<'de, D, I, T, K>(d: D, keep: K) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    I: Deserialize<'de>,
    K: FnMut(I) -> Option<T>,
{
    struct ListVisitor<I, K>(K, PhantomData<I>);
    impl<'de, I: Deserialize<'de>, T, K: FnMut(I) -> Option<T>> Visitor<'de> for ListVisitor<I, K> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut kept = Vec::new();
            while kept.len() < MAX_ITEMS {
                match seq.next_element::<I>()? {
                    Some(item) => kept.extend((self.0)(item)),
                    None => return Ok(kept),
                }
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(kept)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }
        other_scalars!(Vec<T>, Vec::new());
    }
    d.deserialize_any(ListVisitor(keep, PhantomData))
}

/// A value read as a string when it is a scalar (capped); `None` for null, arrays and
/// objects.
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct TextVisitor;
    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_str<E>(self, v: &str) -> Result<Option<String>, E> {
            Ok(Some(cap(v)))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(TextVisitor)
}

/// [`text`], borrowing the string from the input when it needs no unescaping.
fn borrowed_text<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<std::borrow::Cow<'de, str>>, D::Error> {
    struct BorrowedVisitor;
    impl<'de> Visitor<'de> for BorrowedVisitor {
        type Value = Option<std::borrow::Cow<'de, str>>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any value")
        }
        fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
            Ok(Some(std::borrow::Cow::Borrowed(v)))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(std::borrow::Cow::Owned(cap(v))))
        }
        other_scalars!(Self::Value, None);
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(BorrowedVisitor)
}

/// A scalar read through [`text`], for map keys and values.
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        text(d).map(Text)
    }
}

/// An object of scalars read as string pairs (keys trimmed, at most [`MAX_ITEMS`]);
/// anything else is an empty map.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    struct EntriesVisitor;
    impl<'de> Visitor<'de> for EntriesVisitor {
        type Value = BTreeMap<String, String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some((Text(key), Text(value))) = map.next_entry::<Text, Text>()? {
                if let (Some(key), Some(value)) = (key, value)
                    && out.len() < MAX_ITEMS
                {
                    let key = match key.trim() {
                        trimmed if trimmed.len() == key.len() => key,
                        trimmed => trimmed.to_owned(),
                    };
                    out.insert(key, value);
                }
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(BTreeMap::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        other_scalars!(Self::Value, BTreeMap::new());
    }
    d.deserialize_any(EntriesVisitor)
}

/// A protobuf `Duration` in JSON (`"3.5s"`, a number, or `{"seconds", "nanos"}`);
/// only the rare object form is read as a tree.
fn delay<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    struct DelayVisitor;
    impl<'de> Visitor<'de> for DelayVisitor {
        type Value = Option<Duration>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a duration")
        }
        fn visit_str<E>(self, v: &str) -> Result<Option<Duration>, E> {
            Ok(parse_delay_text(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Option<Duration>, E> {
            Ok(parse_protobuf_duration(&Value::from(v)))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Option<Duration>, E> {
            Ok(parse_protobuf_duration(&Value::from(v)))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Option<Duration>, E> {
            Ok(parse_protobuf_duration(&Value::from(v)))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<Duration>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<Duration>, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Duration>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<Duration>, A::Error> {
            let value = Value::deserialize(MapAccessDeserializer::new(map))?;
            Ok(parse_protobuf_duration(&value))
        }
    }
    d.deserialize_any(DelayVisitor)
}

/// A status code: a number or a numeric string within 100..=599 (read without
/// allocating).
fn code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    struct CodeVisitor;
    impl<'de> Visitor<'de> for CodeVisitor {
        type Value = Option<u64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a status code")
        }
        fn visit_u64<E>(self, v: u64) -> Result<Option<u64>, E> {
            Ok(Some(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Option<u64>, E> {
            Ok(u64::try_from(v).ok())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Option<u64>, E> {
            Ok((v.fract() == 0.0 && (0.0..=65535.0).contains(&v)).then_some(v as u64))
        }
        fn visit_str<E>(self, v: &str) -> Result<Option<u64>, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<u64>, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<u64>, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    Ok(d.deserialize_any(CodeVisitor)?
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..=599).contains(c)))
}
