//! Streaming, lenient deserialisation of an error body straight into [`Envelope`].
//!
//! serde visitors read the JSON once, keep only the fields the envelope holds, and
//! skip everything else without building a tree: any JSON type where a string is
//! expected degrades to "absent", never to an error. Keys are matched after trimming
//! (Google has sent `" @type"`). A syntax error (truncated, not JSON) fails the whole
//! parse; the caller then salvages what it can from the text.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::delay::{parse_delay_text, parse_protobuf_duration};
use super::envelope::{
    Detail, Envelope, FieldViolation, HelpLink, LegacyError, MAX_ITEMS, OAuthError, ParsedBody,
    PreconditionViolation, QuotaViolation, cap, capped_value, normalise_domain,
};

/// Parses one JSON document (object, or array of objects) into what it holds.
///
/// Takes `&str` so serde_json skips re-validating UTF-8 inside every string.
pub(crate) fn parse(json: &str) -> Result<ParsedBody, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let parsed = deserializer.deserialize_any(TopVisitor)?;
    deserializer.end()?;
    Ok(parsed)
}

/// Drains whatever value comes next.
fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// The keys this module cares about, matched after trimming; anything else is `Other`.
enum Key {
    Error,
    ErrorDescription,
    ErrorSubtype,
    Errors,
    QuotaValue,
    Code,
    Status,
    Message,
    Details,
    Type,
    Reason,
    Domain,
    Metadata,
    RetryDelay,
    Violations,
    Links,
    Locale,
    FieldViolations,
    Detail,
    Subject,
    Description,
    QuotaId,
    QuotaMetric,
    QuotaDimensions,
    Url,
    Field,
    Other(String),
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key.trim() {
                    "error" => Key::Error,
                    "error_description" => Key::ErrorDescription,
                    "error_subtype" => Key::ErrorSubtype,
                    "errors" => Key::Errors,
                    "quotaValue" => Key::QuotaValue,
                    "code" => Key::Code,
                    "status" => Key::Status,
                    "message" => Key::Message,
                    "details" => Key::Details,
                    "@type" => Key::Type,
                    "reason" => Key::Reason,
                    "domain" => Key::Domain,
                    "metadata" => Key::Metadata,
                    "retryDelay" => Key::RetryDelay,
                    "violations" => Key::Violations,
                    "links" => Key::Links,
                    "locale" => Key::Locale,
                    "fieldViolations" => Key::FieldViolations,
                    "detail" => Key::Detail,
                    "subject" => Key::Subject,
                    "description" => Key::Description,
                    "quotaId" => Key::QuotaId,
                    "quotaMetric" => Key::QuotaMetric,
                    "quotaDimensions" => Key::QuotaDimensions,
                    "url" => Key::Url,
                    "field" => Key::Field,
                    other => Key::Other(cap(other)),
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// A value read as a string when it is a scalar; `None` for null, arrays and objects.
struct Text(Option<String>);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any value")
            }
            fn visit_str<E>(self, v: &str) -> Result<Text, E> {
                Ok(Text(Some(cap(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Text, E> {
                Ok(Text(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// An object of scalars read as string pairs (at most [`MAX_ITEMS`]); anything else
/// is an empty map.
struct StringMap(BTreeMap<String, String>);

impl<'de> de::Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor;
        impl<'de> Visitor<'de> for MapVisitor {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(key) = map.next_key::<Text>()? {
                    let Text(value) = map.next_value()?;
                    if let (Some(key), Some(value)) = (key.0, value)
                        && out.len() < MAX_ITEMS
                    {
                        out.insert(cap(key.trim()), value);
                    }
                }
                Ok(StringMap(out))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringMap, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(StringMap(BTreeMap::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<StringMap, E> {
                Ok(StringMap(BTreeMap::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<StringMap, E> {
                Ok(StringMap(BTreeMap::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<StringMap, E> {
                Ok(StringMap(BTreeMap::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<StringMap, E> {
                Ok(StringMap(BTreeMap::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<StringMap, E> {
                Ok(StringMap(BTreeMap::new()))
            }
            fn visit_unit<E>(self) -> Result<StringMap, E> {
                Ok(StringMap(BTreeMap::new()))
            }
        }
        deserializer.deserialize_any(MapVisitor)
    }
}

/// A list of objects, each read by `T`, at most [`MAX_ITEMS`] kept; non-objects and
/// non-lists are skipped.
struct List<T>(Vec<T>);

/// The fields any list entry of the details may have.
#[derive(Default)]
struct Entry {
    subject: Option<String>,
    description: Option<String>,
    quota_id: Option<String>,
    quota_metric: Option<String>,
    quota_dimensions: BTreeMap<String, String>,
    url: Option<String>,
    field: Option<String>,
    reason: Option<String>,
    kind: Option<String>,
    domain: Option<String>,
    message: Option<String>,
    quota_value: Option<String>,
}

impl<'de> de::Deserialize<'de> for List<Entry> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = List<Entry>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<Entry>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = seq.next_element::<Option<EntryObject>>()? {
                    if let Some(EntryObject(Some(entry))) = entry
                        && out.len() < MAX_ITEMS
                    {
                        out.push(entry);
                    }
                }
                Ok(List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<Entry>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<List<Entry>, E> {
                Ok(List(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<List<Entry>, E> {
                Ok(List(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<List<Entry>, E> {
                Ok(List(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<List<Entry>, E> {
                Ok(List(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<List<Entry>, E> {
                Ok(List(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<List<Entry>, E> {
                Ok(List(Vec::new()))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// One list entry: `Some` for an object, `None` (drained) for anything else.
struct EntryObject(Option<Entry>);

impl<'de> de::Deserialize<'de> for EntryObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntryVisitor;
        impl<'de> Visitor<'de> for EntryVisitor {
            type Value = EntryObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EntryObject, A::Error> {
                let mut entry = Entry::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Subject => entry.subject = map.next_value::<Text>()?.0,
                        Key::Description => entry.description = map.next_value::<Text>()?.0,
                        Key::QuotaId => entry.quota_id = map.next_value::<Text>()?.0,
                        Key::QuotaMetric => entry.quota_metric = map.next_value::<Text>()?.0,
                        Key::QuotaDimensions => {
                            entry.quota_dimensions = map.next_value::<StringMap>()?.0
                        }
                        Key::Url => entry.url = map.next_value::<Text>()?.0,
                        Key::Field => entry.field = map.next_value::<Text>()?.0,
                        Key::Reason => entry.reason = map.next_value::<Text>()?.0,
                        Key::Domain => entry.domain = map.next_value::<Text>()?.0,
                        Key::Message => entry.message = map.next_value::<Text>()?.0,
                        Key::QuotaValue => entry.quota_value = map.next_value::<Text>()?.0,
                        Key::Other(name) if name == "type" => {
                            entry.kind = map.next_value::<Text>()?.0
                        }
                        _ => skip(&mut map)?,
                    }
                }
                Ok(EntryObject(Some(entry)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<EntryObject, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(EntryObject(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<EntryObject, E> {
                Ok(EntryObject(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<EntryObject, E> {
                Ok(EntryObject(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<EntryObject, E> {
                Ok(EntryObject(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<EntryObject, E> {
                Ok(EntryObject(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<EntryObject, E> {
                Ok(EntryObject(None))
            }
            fn visit_unit<E>(self) -> Result<EntryObject, E> {
                Ok(EntryObject(None))
            }
        }
        deserializer.deserialize_any(EntryVisitor)
    }
}

/// One detail object, read into [`Detail`] by its `@type`.
struct DetailObject(Option<Detail>);

impl<'de> de::Deserialize<'de> for DetailObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DetailVisitor;
        impl<'de> Visitor<'de> for DetailVisitor {
            type Value = DetailObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a detail object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<DetailObject, A::Error> {
                let mut type_url = None;
                let (mut reason, mut domain, mut locale, mut message, mut debug) =
                    (None, None, None, None, None);
                let mut metadata = BTreeMap::new();
                let mut retry_delay: Option<Duration> = None;
                let mut entries = Vec::new();
                let mut extra = Map::new();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Type => type_url = map.next_value::<Text>()?.0,
                        Key::Reason => reason = map.next_value::<Text>()?.0,
                        Key::Domain => domain = map.next_value::<Text>()?.0,
                        Key::Locale => locale = map.next_value::<Text>()?.0,
                        Key::Message => message = map.next_value::<Text>()?.0,
                        Key::Detail => debug = map.next_value::<Text>()?.0,
                        Key::Metadata => metadata = map.next_value::<StringMap>()?.0,
                        Key::RetryDelay => retry_delay = map.next_value::<Delay>()?.0,
                        Key::Violations | Key::Links | Key::FieldViolations => {
                            entries = map.next_value::<List<Entry>>()?.0
                        }
                        Key::Other(name) if extra.len() < MAX_ITEMS => {
                            let value: Value = map.next_value()?;
                            extra.insert(name, capped_value(&value, 0));
                        }
                        _ => skip(&mut map)?,
                    }
                }
                let short = type_url
                    .as_deref()
                    .map(|url| url.rsplit('/').next().unwrap_or(url).trim());
                let detail = match short {
                    Some("google.rpc.ErrorInfo") => Detail::ErrorInfo {
                        reason,
                        domain: domain
                            .map(|d| normalise_domain(&d))
                            .filter(|d| !d.is_empty()),
                        metadata,
                    },
                    Some("google.rpc.RetryInfo") => Detail::RetryInfo { retry_delay },
                    Some("google.rpc.QuotaFailure") => Detail::QuotaFailure {
                        violations: entries
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
                        links: entries
                            .into_iter()
                            .map(|e| HelpLink {
                                description: e.description,
                                url: e.url,
                            })
                            .collect(),
                    },
                    Some("google.rpc.LocalizedMessage") => {
                        Detail::LocalizedMessage { locale, message }
                    }
                    Some("google.rpc.BadRequest") => Detail::BadRequest {
                        field_violations: entries
                            .into_iter()
                            .map(|e| FieldViolation {
                                field: e.field,
                                description: e.description,
                                reason: e.reason,
                            })
                            .collect(),
                    },
                    Some("google.rpc.PreconditionFailure") => Detail::PreconditionFailure {
                        violations: entries
                            .into_iter()
                            .map(|e| PreconditionViolation {
                                kind: e.kind,
                                subject: e.subject,
                                description: e.description,
                            })
                            .collect(),
                    },
                    Some("google.rpc.DebugInfo") => Detail::DebugInfo { detail: debug },
                    _ => {
                        // Unknown type: keep what was read, as JSON.
                        let mut raw = extra;
                        let known = [
                            ("@type", &type_url),
                            ("reason", &reason),
                            ("domain", &domain),
                            ("locale", &locale),
                            ("message", &message),
                            ("detail", &debug),
                        ];
                        for (name, value) in known {
                            if let Some(value) = value {
                                raw.insert(name.to_owned(), Value::String(value.clone()));
                            }
                        }
                        if !metadata.is_empty() {
                            let metadata = metadata
                                .into_iter()
                                .map(|(k, v)| (k, Value::String(v)))
                                .collect();
                            raw.insert("metadata".to_owned(), Value::Object(metadata));
                        }
                        Detail::Other {
                            type_url,
                            raw: Value::Object(raw),
                        }
                    }
                };
                Ok(DetailObject(Some(detail)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DetailObject, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(DetailObject(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<DetailObject, E> {
                Ok(DetailObject(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<DetailObject, E> {
                Ok(DetailObject(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<DetailObject, E> {
                Ok(DetailObject(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<DetailObject, E> {
                Ok(DetailObject(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<DetailObject, E> {
                Ok(DetailObject(None))
            }
            fn visit_unit<E>(self) -> Result<DetailObject, E> {
                Ok(DetailObject(None))
            }
        }
        deserializer.deserialize_any(DetailVisitor)
    }
}

/// `error.details`: a list of detail objects.
struct Details(Vec<Detail>);

impl<'de> de::Deserialize<'de> for Details {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DetailsVisitor;
        impl<'de> Visitor<'de> for DetailsVisitor {
            type Value = Details;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of details")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Details, A::Error> {
                let mut out = Vec::new();
                while out.len() < MAX_ITEMS {
                    match seq.next_element::<DetailObject>()? {
                        Some(DetailObject(Some(detail))) => out.push(detail),
                        Some(DetailObject(None)) => {}
                        None => return Ok(Details(out)),
                    }
                }
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Details(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Details, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Details(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Details, E> {
                Ok(Details(Vec::new()))
            }
        }
        deserializer.deserialize_any(DetailsVisitor)
    }
}

/// A protobuf `Duration` in JSON (`"3.5s"`, a number, or `{"seconds", "nanos"}`),
/// read without building a tree for the common string form.
struct Delay(Option<Duration>);

impl<'de> de::Deserialize<'de> for Delay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DelayVisitor;
        impl<'de> Visitor<'de> for DelayVisitor {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration")
            }
            fn visit_str<E>(self, v: &str) -> Result<Delay, E> {
                Ok(Delay(parse_delay_text(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Delay, E> {
                Ok(Delay(parse_protobuf_duration(&Value::from(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Delay, E> {
                Ok(Delay(parse_protobuf_duration(&Value::from(v))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Delay, E> {
                Ok(Delay(parse_protobuf_duration(&Value::from(v))))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Delay, E> {
                Ok(Delay(None))
            }
            fn visit_unit<E>(self) -> Result<Delay, E> {
                Ok(Delay(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Delay, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Delay(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Delay, A::Error> {
                // The object form is rare: read it as a small tree.
                let mut object = Map::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if object.len() < 4 {
                        object.insert(key, value);
                    }
                }
                Ok(Delay(parse_protobuf_duration(&Value::Object(object))))
            }
        }
        deserializer.deserialize_any(DelayVisitor)
    }
}

/// A status code: a number or a numeric string within 100..=599.
struct Code(Option<u16>);

impl<'de> de::Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Text(text) = Text::deserialize(deserializer)?;
        let code = text
            .and_then(|t| t.trim().parse::<u64>().ok())
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..=599).contains(c));
        Ok(Code(code))
    }
}

/// The value of the top-level `error` key: a status object, an OAuth error code, or
/// something else.
enum ErrorValue {
    Status(Envelope),
    OAuth(String),
    Nothing,
}

impl<'de> de::Deserialize<'de> for ErrorValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ErrorVisitor;
        impl<'de> Visitor<'de> for ErrorVisitor {
            type Value = ErrorValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object or code")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorValue, A::Error> {
                let mut envelope = Envelope::default();
                while let Some(key) = map.next_key::<Key>()? {
                    match key {
                        Key::Code => envelope.code = map.next_value::<Code>()?.0,
                        Key::Status => envelope.status = map.next_value::<Text>()?.0,
                        Key::Message => envelope.message = map.next_value::<Text>()?.0,
                        Key::Details => envelope.details = map.next_value::<Details>()?.0,
                        Key::Errors => {
                            envelope.errors = map
                                .next_value::<List<Entry>>()?
                                .0
                                .into_iter()
                                .map(|e| LegacyError {
                                    domain: e.domain,
                                    reason: e.reason,
                                    message: e.message,
                                })
                                .collect()
                        }
                        _ => skip(&mut map)?,
                    }
                }
                Ok(ErrorValue::Status(envelope))
            }
            fn visit_str<E>(self, v: &str) -> Result<ErrorValue, E> {
                Ok(ErrorValue::OAuth(cap(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorValue, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ErrorValue::Nothing)
            }
            fn visit_u64<E>(self, _: u64) -> Result<ErrorValue, E> {
                Ok(ErrorValue::Nothing)
            }
            fn visit_i64<E>(self, _: i64) -> Result<ErrorValue, E> {
                Ok(ErrorValue::Nothing)
            }
            fn visit_f64<E>(self, _: f64) -> Result<ErrorValue, E> {
                Ok(ErrorValue::Nothing)
            }
            fn visit_bool<E>(self, _: bool) -> Result<ErrorValue, E> {
                Ok(ErrorValue::Nothing)
            }
            fn visit_unit<E>(self) -> Result<ErrorValue, E> {
                Ok(ErrorValue::Nothing)
            }
        }
        deserializer.deserialize_any(ErrorVisitor)
    }
}

/// One top-level object read for `error` and `error_description`.
struct TopObject(ParsedBody);

impl<'de> de::Deserialize<'de> for TopObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TopVisitor).map(TopObject)
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = ParsedBody;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON document")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ParsedBody, A::Error> {
        let mut error = ErrorValue::Nothing;
        let mut description = None;
        let mut subtype = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Error => error = map.next_value()?,
                Key::ErrorDescription => description = map.next_value::<Text>()?.0,
                Key::ErrorSubtype => subtype = map.next_value::<Text>()?.0,
                _ => skip(&mut map)?,
            }
        }
        Ok(match error {
            ErrorValue::Status(envelope) => ParsedBody {
                envelope: Some(envelope),
                oauth: None,
            },
            ErrorValue::OAuth(code) => ParsedBody {
                envelope: None,
                oauth: Some(OAuthError {
                    error: code,
                    description,
                    subtype,
                }),
            },
            ErrorValue::Nothing => ParsedBody::default(),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ParsedBody, A::Error> {
        // The first element that holds an error wins; the rest is only validated.
        let mut found = ParsedBody::default();
        let mut looked = 0;
        while looked < MAX_ITEMS && found.envelope.is_none() && found.oauth.is_none() {
            match seq.next_element::<TopObject>()? {
                Some(TopObject(parsed)) => found = parsed,
                None => return Ok(found),
            }
            looked += 1;
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(found)
    }
    fn visit_str<E>(self, _: &str) -> Result<ParsedBody, E> {
        Ok(ParsedBody::default())
    }
    fn visit_u64<E>(self, _: u64) -> Result<ParsedBody, E> {
        Ok(ParsedBody::default())
    }
    fn visit_i64<E>(self, _: i64) -> Result<ParsedBody, E> {
        Ok(ParsedBody::default())
    }
    fn visit_f64<E>(self, _: f64) -> Result<ParsedBody, E> {
        Ok(ParsedBody::default())
    }
    fn visit_bool<E>(self, _: bool) -> Result<ParsedBody, E> {
        Ok(ParsedBody::default())
    }
    fn visit_unit<E>(self) -> Result<ParsedBody, E> {
        Ok(ParsedBody::default())
    }
}
