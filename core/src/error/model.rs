//! The model of what an error body holds: `google.rpc.Status` and its details, the
//! OAuth token-endpoint error, and the bounds every kept value respects. Reading
//! bodies into it is `wire` (JSON) and `envelope` (every other shape).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// The part of a body that is parsed at all; anything after it is ignored.
pub const MAX_PARSED_BODY: usize = 1024 * 1024;
/// Longest string kept from a body, in bytes.
pub const MAX_FIELD: usize = 2048;
/// Most details kept from `error.details[]`, and most entries kept per list.
pub const MAX_ITEMS: usize = 32;

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

/// Strips the stray punctuation and spaces that sometimes surround a domain (the
/// string is kept as it is when there are none, as is usual).
pub(crate) fn normalise_domain(domain: String) -> String {
    let stray = |c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
    if domain.starts_with(stray) || domain.ends_with(stray) {
        return domain.trim_matches(stray).to_owned();
    }
    domain
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
