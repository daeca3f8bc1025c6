//! Reading Google's error envelope (`google.rpc.Status` in JSON) out of any body.
//!
//! Accepted shapes, tried in this order:
//! 1. a JSON object `{"error": {...}}` (or an OAuth token-endpoint error
//!    `{"error": "invalid_grant", "error_description": ...}`);
//! 2. a JSON array whose first object with an `error` key is the envelope;
//! 3. a server-sent-events stream: the first `data:` event carrying an `error`;
//! 4. truncated JSON: the fields that can still be read (`code`, `status`, `message`,
//!    `reason`, `retryDelay`, `model`) are salvaged;
//! 5. anything else (HTML from a proxy, plain text, empty, binary) is no envelope, and
//!    the caller keeps a sanitised excerpt instead.
//!
//! An `error.message` that itself holds a JSON envelope as a string is unwrapped (at
//! most [`MAX_NESTING`] levels). Every string kept is capped, and so is the number of
//! details, so a huge body cannot make the parsed value huge.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::delay::parse_protobuf_duration;
use super::wire;

/// The part of a body that is parsed at all; anything after it is ignored.
pub const MAX_PARSED_BODY: usize = 1024 * 1024;
/// Longest string kept from a body, in bytes.
pub const MAX_FIELD: usize = 2048;
/// Most details kept from `error.details[]`, and most entries kept per list.
pub const MAX_ITEMS: usize = 32;
/// How many times an `error.message` holding another envelope is unwrapped.
pub const MAX_NESTING: usize = 3;

/// A parsed `google.rpc.Status`: the `error` object of Google's JSON envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Envelope {
    /// `error.code`: the HTTP status Google meant (it can differ from the real one in
    /// a stream).
    pub code: Option<u16>,
    /// `error.status`: the canonical gRPC code name, such as `RESOURCE_EXHAUSTED`.
    pub status: Option<String>,
    /// `error.message`, as Google wrote it (capped).
    pub message: Option<String>,
    /// `error.details[]`, one entry per detail, unknown types kept raw.
    pub details: Vec<Detail>,
    /// `error.errors[]`, the legacy list Vertex-backed services still send
    /// (`{domain, reason: "rateLimitExceeded", message}`).
    pub errors: Vec<LegacyError>,
    /// True when the body was cut off and these fields were salvaged from it.
    pub salvaged: bool,
}

/// One entry of `error.details[]`, read according to its `@type`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Detail {
    /// `google.rpc.ErrorInfo`: why, and in which service.
    ErrorInfo {
        /// Upper snake case reason, such as `MODEL_CAPACITY_EXHAUSTED`.
        reason: Option<String>,
        /// The service that produced it, normalised (stray punctuation removed).
        domain: Option<String>,
        /// Extra string key/value pairs, such as `model`.
        metadata: BTreeMap<String, String>,
    },
    /// `google.rpc.RetryInfo`: how long to wait.
    RetryInfo {
        /// `retryDelay`; `None` when absent, negative or unreadable.
        retry_delay: Option<Duration>,
    },
    /// `google.rpc.QuotaFailure`: which quotas were exceeded.
    QuotaFailure {
        /// The violations, in order.
        violations: Vec<QuotaViolation>,
    },
    /// `google.rpc.Help`: links for the person.
    Help {
        /// The links, in order.
        links: Vec<HelpLink>,
    },
    /// `google.rpc.LocalizedMessage`: the message in the person's language.
    LocalizedMessage {
        /// BCP-47 locale, such as `en-US`.
        locale: Option<String>,
        /// The translated message.
        message: Option<String>,
    },
    /// `google.rpc.BadRequest`: which request fields were wrong.
    BadRequest {
        /// The field violations, in order.
        field_violations: Vec<FieldViolation>,
    },
    /// `google.rpc.PreconditionFailure`: which preconditions failed.
    PreconditionFailure {
        /// The violations, in order.
        violations: Vec<PreconditionViolation>,
    },
    /// `google.rpc.DebugInfo`: server internals; kept, never shown to people.
    DebugInfo {
        /// The server-side detail.
        detail: Option<String>,
    },
    /// Any other `@type` (or none), kept as the raw JSON object.
    Other {
        /// The `@type` URL, when there was one.
        type_url: Option<String>,
        /// The detail object as received (strings capped).
        raw: Value,
    },
}

/// One entry of the legacy `error.errors[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LegacyError {
    /// The service, such as `global` or `usageLimits`.
    pub domain: Option<String>,
    /// The reason, such as `rateLimitExceeded`, `forbidden`, `badRequest`.
    pub reason: Option<String>,
    /// What went wrong.
    pub message: Option<String>,
}

/// One entry of `QuotaFailure.violations[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct QuotaViolation {
    /// Who the quota applies to, such as `project:123`.
    pub subject: Option<String>,
    /// A human description.
    pub description: Option<String>,
    /// The quota id, such as `GenerateRequestsPerMinutePerProjectPerModel`.
    pub quota_id: Option<String>,
    /// The metric, such as `generativelanguage.googleapis.com/generate_requests`.
    pub quota_metric: Option<String>,
    /// The dimensions of the quota, such as `model`.
    pub quota_dimensions: BTreeMap<String, String>,
    /// `quotaValue`: the limit that was hit (`"0"`: no quota at all).
    pub quota_value: Option<String>,
}

/// One entry of `Help.links[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HelpLink {
    /// What the link is for.
    pub description: Option<String>,
    /// The address.
    pub url: Option<String>,
}

/// One entry of `BadRequest.fieldViolations[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct FieldViolation {
    /// The path of the field, such as `contents[0].parts`.
    pub field: Option<String>,
    /// What is wrong with it.
    pub description: Option<String>,
    /// A machine reason, when given.
    pub reason: Option<String>,
}

/// One entry of `PreconditionFailure.violations[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PreconditionViolation {
    /// The kind of precondition, such as `TOS`.
    pub kind: Option<String>,
    /// What it applies to.
    pub subject: Option<String>,
    /// How it failed.
    pub description: Option<String>,
}

/// An OAuth token-endpoint error: `{"error": "invalid_grant", "error_description": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OAuthError {
    /// The error code, such as `invalid_grant`.
    pub error: String,
    /// The human description, when given.
    pub description: Option<String>,
    /// `error_subtype`, such as `invalid_rapt` (the organisation requires the person
    /// to authenticate again).
    pub subtype: Option<String>,
}

/// What a body turned out to hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ParsedBody {
    pub envelope: Option<Envelope>,
    pub oauth: Option<OAuthError>,
}

/// The bytes as text, bad sequences replaced. Validating first is much cheaper than
/// the lossy conversion, so only bodies with bad bytes pay for it.
pub(crate) fn lossy_utf8(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Reads whatever error a body holds. Never fails: an unreadable body yields an empty
/// [`ParsedBody`].
pub(crate) fn parse_body(body: &[u8]) -> ParsedBody {
    let body = &body[..body.len().min(MAX_PARSED_BODY)];
    let text = lossy_utf8(body);
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return ParsedBody::default();
    }
    if text.starts_with('{') || text.starts_with('[') {
        return match wire::parse(text) {
            Ok(parsed) => unwrap_nested(parsed, 0),
            Err(_) => ParsedBody {
                envelope: salvage(text),
                oauth: None,
            },
        };
    }
    if let Some(parsed) = from_sse(text) {
        return parsed;
    }
    from_form(text).unwrap_or_default()
}

/// A token-endpoint error sent form-encoded (`error=invalid_grant&error_description=…`).
fn from_form(text: &str) -> Option<ParsedBody> {
    if !text.starts_with("error=") || text.contains(char::is_whitespace) {
        return None;
    }
    let mut oauth = OAuthError {
        error: String::new(),
        description: None,
        subtype: None,
    };
    for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
        match key.as_ref() {
            "error" => oauth.error = cap(&value),
            "error_description" => oauth.description = Some(cap(&value)),
            "error_subtype" => oauth.subtype = Some(cap(&value)),
            _ => {}
        }
    }
    (!oauth.error.is_empty()).then_some(ParsedBody {
        envelope: None,
        oauth: Some(oauth),
    })
}

fn from_sse(text: &str) -> Option<ParsedBody> {
    let mut data = String::new();
    let mut saw_data = false;
    // A trailing empty line ends the last event.
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if !data.is_empty() {
                if let Ok(parsed) = wire::parse(&data) {
                    let parsed = unwrap_nested(parsed, 0);
                    if parsed.envelope.is_some() || parsed.oauth.is_some() {
                        return Some(parsed);
                    }
                }
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            saw_data = true;
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    saw_data.then(ParsedBody::default)
}

/// Replaces an envelope whose `error.message` is itself an envelope by the inner one
/// (the outer fills what the inner lacks), at most [`MAX_NESTING`] levels deep.
fn unwrap_nested(mut parsed: ParsedBody, depth: usize) -> ParsedBody {
    let Some(outer) = parsed.envelope.take() else {
        return parsed;
    };
    let inner = match outer.message.as_deref().map(str::trim) {
        Some(message)
            if depth < MAX_NESTING && (message.starts_with('{') || message.starts_with('[')) =>
        {
            wire::parse(message)
                .ok()
                .map(|inner| unwrap_nested(inner, depth + 1))
                .and_then(|inner| inner.envelope)
        }
        _ => None,
    };
    parsed.envelope = Some(match inner {
        Some(inner) => merge(outer, inner),
        None => outer,
    });
    parsed
}

/// The inner envelope wins field by field; the outer one fills what it lacks.
fn merge(outer: Envelope, inner: Envelope) -> Envelope {
    let mut details = inner.details;
    details.extend(outer.details);
    details.truncate(MAX_ITEMS);
    let mut errors = inner.errors;
    errors.extend(outer.errors);
    errors.truncate(MAX_ITEMS);
    Envelope {
        code: inner.code.or(outer.code),
        status: inner.status.or(outer.status),
        message: inner.message.or(outer.message),
        details,
        errors,
        salvaged: inner.salvaged || outer.salvaged,
    }
}

/// Strips the stray punctuation and spaces that sometimes surround a domain.
pub(crate) fn normalise_domain(domain: &str) -> String {
    domain
        .trim_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .to_owned()
}

/// A string cut to [`MAX_FIELD`] bytes on a character boundary, as an owned copy.
pub(crate) fn cap(s: &str) -> String {
    capped(s).to_owned()
}

/// The first [`MAX_FIELD`] bytes of a string, cut on a character boundary.
pub(crate) fn capped(s: &str) -> &str {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A copy of `value` with strings capped and nesting and lengths bounded.
pub(crate) fn capped_value(value: &Value, depth: usize) -> Value {
    match value {
        Value::String(s) => Value::String(cap(s)),
        Value::Array(_) | Value::Object(_) if depth >= 4 => Value::Null,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .take(MAX_ITEMS)
                .map(|v| capped_value(v, depth + 1))
                .collect(),
        ),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| (cap(k), capped_value(v, depth + 1)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Reads what it can from a JSON body that was cut off.
fn salvage(text: &str) -> Option<Envelope> {
    let status = string_values(text, "status").next();
    let message = string_values(text, "message").next();
    let code = number_value(text, "code");
    let mut details: Vec<Detail> = string_values(text, "reason")
        .take(MAX_ITEMS / 2)
        .map(|reason| {
            let mut metadata = BTreeMap::new();
            if let Some(model) = string_values(text, "model").next() {
                metadata.insert("model".to_owned(), model);
            }
            Detail::ErrorInfo {
                reason: Some(reason),
                domain: None,
                metadata,
            }
        })
        .collect();
    if let Some(delay) = string_values(text, "retryDelay").next() {
        details.push(Detail::RetryInfo {
            retry_delay: parse_protobuf_duration(&Value::String(delay)),
        });
    }
    if status.is_none() && message.is_none() && code.is_none() && details.is_empty() {
        return None;
    }
    Some(Envelope {
        code,
        status,
        message,
        details,
        errors: Vec::new(),
        salvaged: true,
    })
}

/// Every complete string value of `"key": "..."` in `text`.
fn string_values<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = String> + 'a {
    let needle_len = key.len() + 2;
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let at = find_key(rest, key)?;
            let after = &rest[at + needle_len..];
            rest = after;
            let after = after.trim_start();
            let Some(after) = after.strip_prefix(':') else {
                continue;
            };
            let after = after.trim_start();
            let Some(after) = after.strip_prefix('"') else {
                continue;
            };
            if let Some(value) = read_json_string(after) {
                return Some(cap(&value));
            }
        }
    })
}

fn number_value(text: &str, key: &str) -> Option<u16> {
    let at = find_key(text, key)?;
    let after = text[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .ok()
        .filter(|code| (100..=599).contains(code))
}

fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(key) {
        let at = from + found;
        if at > 0 && text[..at].ends_with('"') && text[at + key.len()..].starts_with('"') {
            return Some(at - 1);
        }
        from = at + key.len();
    }
    None
}

/// The decoded content of a JSON string whose opening quote was already consumed, if
/// its closing quote is present.
fn read_json_string(after_quote: &str) -> Option<String> {
    let mut escaped = false;
    for (index, c) in after_quote.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                let literal = &after_quote[..=index];
                return serde_json::from_str::<String>(&format!("\"{literal}")).ok();
            }
            _ => {}
        }
    }
    None
}
