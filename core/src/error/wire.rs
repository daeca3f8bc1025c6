//! Reading a JSON error body into the [`Envelope`] model: `#[derive(Deserialize)]`
//! structs for `google.rpc.Status`, its details and the OAuth error, with a few
//! lenient field readers.
//!
//! Leniency, so an odd body degrades to "absent" instead of failing the whole parse:
//! any scalar where a string is expected is read as text (numbers as strings,
//! `"code": "429"`), any other JSON type there is absent; a list holding non-objects
//! keeps its objects; metadata keeps its scalar values as strings; `@type` is also
//! read with a stray space. Strings are capped at [`MAX_FIELD`](super::model::MAX_FIELD)
//! and lists at [`MAX_ITEMS`]. Each detail is kept as raw JSON first and read by its
//! `@type`; a detail of a type this crate does not know is kept whole (capped).
//!
//! A syntax error (truncated, not JSON, a repeated key) fails the parse; the caller
//! then salvages what it can from the text.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
    serde_json::from_str::<Document>(json).map(|document| document.0)
}

/// The whole document.
struct Document(ParsedBody);

/// One top-level object: a `google.rpc.Status` under `error`, or an OAuth error.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Top<'a> {
    #[serde(borrow)]
    error: ErrorField<'a>,
    #[serde(deserialize_with = "text")]
    error_description: Option<String>,
    #[serde(deserialize_with = "text")]
    error_subtype: Option<String>,
}

/// The value of `error`: a status object, an OAuth error code, or something else.
#[derive(Default)]
enum ErrorField<'a> {
    Status(WireStatus<'a>),
    OAuth(String),
    #[default]
    Nothing,
}

/// `google.rpc.Status`, with the legacy `errors[]` beside it.
#[derive(Deserialize, Default)]
#[serde(default)]
struct WireStatus<'a> {
    #[serde(deserialize_with = "code")]
    code: Option<u16>,
    #[serde(deserialize_with = "text")]
    status: Option<String>,
    #[serde(deserialize_with = "text")]
    message: Option<String>,
    #[serde(borrow, deserialize_with = "raw_objects")]
    details: Vec<&'a RawValue>,
    #[serde(deserialize_with = "objects")]
    errors: Vec<Entry>,
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

impl From<Top<'_>> for ParsedBody {
    fn from(top: Top<'_>) -> Self {
        match top.error {
            ErrorField::Status(status) => ParsedBody {
                envelope: Some(status.into_envelope()),
                oauth: None,
            },
            ErrorField::OAuth(error) => ParsedBody {
                envelope: None,
                oauth: Some(OAuthError {
                    error,
                    description: top.error_description,
                    subtype: top.error_subtype,
                }),
            },
            ErrorField::Nothing => ParsedBody::default(),
        }
    }
}

impl WireStatus<'_> {
    fn into_envelope(self) -> Envelope {
        Envelope {
            code: self.code,
            status: self.status,
            message: self.message,
            details: self.details.iter().filter_map(|raw| detail(raw)).collect(),
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
        }
    }
}

/// One detail, read by its `@type` (the part after the last `/`).
fn detail(raw: &RawValue) -> Option<Detail> {
    let wire: WireDetail = serde_json::from_str(raw.get()).ok()?;
    let short = wire
        .type_url
        .as_deref()
        .map(|url| url.rsplit('/').next().unwrap_or(url).trim());
    Some(match short {
        Some("google.rpc.ErrorInfo") => Detail::ErrorInfo {
            reason: wire.reason,
            domain: wire
                .domain
                .map(|d| normalise_domain(&d))
                .filter(|d| !d.is_empty()),
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
        // Any other type (or none): kept as it came, capped.
        _ => Detail::Other {
            type_url: wire.type_url.map(|url| cap(&url)),
            raw: serde_json::from_str::<Value>(raw.get())
                .map(|value| capped_value(&value, 0))
                .unwrap_or(Value::Null),
        },
    })
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;
        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON document")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Document, A::Error> {
                Top::deserialize(MapAccessDeserializer::new(map)).map(|top| Document(top.into()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
                // The first element that holds an error wins; the rest is only validated.
                let mut found = ParsedBody::default();
                let mut looked = 0;
                while looked < MAX_ITEMS && found.envelope.is_none() && found.oauth.is_none() {
                    match seq.next_element::<MaybeObject<Top<'de>>>()? {
                        Some(MaybeObject(Some(top))) => found = top.into(),
                        Some(MaybeObject(None)) => {}
                        None => return Ok(Document(found)),
                    }
                    looked += 1;
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Document(found))
            }
            fn visit_str<E>(self, _: &str) -> Result<Document, E> {
                Ok(Document(ParsedBody::default()))
            }
            other_scalars!(Document, Document(ParsedBody::default()));
        }
        deserializer.deserialize_any(DocumentVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ErrorField<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ErrorVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ErrorVisitor<'a> {
            type Value = ErrorField<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object or code")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ErrorField<'a>, A::Error> {
                WireStatus::deserialize(MapAccessDeserializer::new(map)).map(ErrorField::Status)
            }
            fn visit_str<E>(self, v: &str) -> Result<ErrorField<'a>, E> {
                Ok(ErrorField::OAuth(cap(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorField<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ErrorField::Nothing)
            }
            other_scalars!(ErrorField<'a>, ErrorField::Nothing);
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
    let list: Option<Vec<MaybeObject<T>>> =
        Option::<Lenient<Vec<MaybeObject<T>>>>::deserialize(d)?.and_then(|lenient| lenient.0);
    Ok(list
        .into_iter()
        .flatten()
        .filter_map(|item| item.0)
        .take(MAX_ITEMS)
        .collect())
}

/// A list's objects kept as raw JSON (at most [`MAX_ITEMS`]), for reading by type.
fn raw_objects<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<&'de RawValue>, D::Error> {
    let list: Option<Vec<&'de RawValue>> =
        Option::<Lenient<Vec<&'de RawValue>>>::deserialize(d)?.and_then(|lenient| lenient.0);
    Ok(list
        .into_iter()
        .flatten()
        .filter(|raw| raw.get().starts_with('{'))
        .take(MAX_ITEMS)
        .collect())
}

/// A list, or nothing when the value is not a list.
struct Lenient<T>(Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Lenient<T>, A::Error> {
                T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(|t| Lenient(Some(t)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Lenient<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Lenient<T>, E> {
                Ok(Lenient(None))
            }
            other_scalars!(Lenient<T>, Lenient(None));
        }
        deserializer.deserialize_any(ListVisitor(PhantomData))
    }
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
    let pairs: Option<BTreeMap<String, Text>> = Option::<MaybeObject<MapOf>>::deserialize(d)?
        .and_then(|object| object.0)
        .map(|map| map.0);
    Ok(pairs
        .into_iter()
        .flatten()
        .filter_map(|(key, Text(value))| Some((cap(key.trim()), value?)))
        .take(MAX_ITEMS)
        .collect())
}

/// Every entry of an object, values read as [`Text`].
struct MapOf(BTreeMap<String, Text>);

impl<'de> Deserialize<'de> for MapOf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = MapOf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MapOf, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((Text(key), value)) = map.next_entry::<Text, Text>()? {
                    if let Some(key) = key
                        && out.len() < MAX_ITEMS
                    {
                        out.insert(key, value);
                    }
                }
                Ok(MapOf(out))
            }
        }
        d.deserialize_map(EntriesVisitor)
    }
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

/// A status code: a number or a numeric string within 100..=599.
fn code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    Ok(text(d)?
        .and_then(|t| t.trim().parse::<u64>().ok())
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| (100..=599).contains(c)))
}
