//! The reason classes a host routes on, and the rules that pick one.
//!
//! | class | retryable | fallback | sign in again | meaning |
//! |---|---|---|---|---|
//! | `auth` | yes | no | no | 401: refresh the access token, then retry |
//! | `auth_permanent` | no | no | yes | `invalid_grant` (also with `error_subtype: invalid_rapt`), `unauthorized_client`, `ACCESS_TOKEN_SCOPE_INSUFFICIENT`, `API_KEY_INVALID`: a person must sign in again (or fix the key) |
//! | `account_disabled` | no | no | no | `TOS_VIOLATION`: the account is suspended; the message carries the appeal link |
//! | `client_invalid` | no | no | no | token endpoint `invalid_client`: the OAuth client itself is refused; fix its id or secret |
//! | `permission` | no | no | no | 403 that is none of the below (`SERVICE_DISABLED`, `IAM_PERMISSION_DENIED`) |
//! | `validation_required` | no | no | no | the person must open a verification link |
//! | `policy_blocked` | no | no | no | VPC Service Controls (`SECURITY_POLICY_VIOLATED`) |
//! | `billing` | no | yes | no | 402, `BILLING_DISABLED`, `INSUFFICIENT_G1_CREDITS_BALANCE` |
//! | `rate_limit` | yes | no | no | short-term rate limit (429, `QUOTA_EXCEEDED` alone, legacy `rateLimitExceeded`, 499 `CANCELLED`): wait and retry |
//! | `quota_exhausted` | no | yes | no | daily quota, a zero limit (`limit: 0`, `quota_limit_value: "0"`, `quotaValue: "0"`), no free tier, or a wait over 300 s |
//! | `capacity` | yes | yes | no | Google has no capacity for the model right now |
//! | `server_error` | yes | no | no | 500, 502, 503 and other 5xx |
//! | `timeout` | yes | no | no | 408, 504, `DEADLINE_EXCEEDED`, transport timeouts |
//! | `model_not_found` | no | yes | no | 404 naming a model |
//! | `not_found` | no | no | no | any other 404 |
//! | `context_overflow` | no | yes | no | 400: the input has more tokens than the model takes |
//! | `payload_too_large` | no | no | no | 413 |
//! | `invalid_request` | no | no | no | any other 400 (a location Gemini does not serve among them), 501 |
//! | `network` | yes | no | no | no HTTP response: DNS, connect, reset |
//! | `transport_permanent` | no | no | no | no usable response, and trying again will not help: TLS or certificate failure, a body over the cap, malformed HTTP, a request refused before sending |
//! | `unknown` | no | no | no | none of the above |
//!
//! *Fallback* means another model or provider is likely to succeed where this one will
//! not; it is independent of *retryable* (a capacity error is both).

use std::borrow::Cow;
use std::time::Duration;

use serde::Serialize;

use super::envelope::{Detail, Envelope, OAuthError};
use crate::flow::{TransportError, TransportErrorKind};

/// Why a request failed, as a host routes it. See the `error` module docs for the
/// table of properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// 401 / `UNAUTHENTICATED`: refresh the access token, then retry.
    Auth,
    /// The refresh token is dead (`invalid_grant`, `unauthorized_client`): sign in again.
    AuthPermanent,
    /// 403 that is not one of the more specific classes.
    Permission,
    /// 403 `VALIDATION_REQUIRED`: the person must open a verification link.
    ValidationRequired,
    /// VPC Service Controls refused the call (`SECURITY_POLICY_VIOLATED`).
    PolicyBlocked,
    /// Billing is off, or credits ran out.
    Billing,
    /// A short-term rate limit: wait and retry.
    RateLimit,
    /// A quota that will not come back soon (daily, zero, or a long wait).
    QuotaExhausted,
    /// Google has no capacity for the model right now.
    Capacity,
    /// A server-side failure (500, 502, 503, other 5xx).
    ServerError,
    /// The request timed out (408, 504, `DEADLINE_EXCEEDED`, transport timeout).
    Timeout,
    /// 404 naming a model.
    ModelNotFound,
    /// Any other 404.
    NotFound,
    /// 400: the input has more tokens than the model accepts.
    ContextOverflow,
    /// 413: the request body is too large.
    PayloadTooLarge,
    /// Any other 400 (and 501 `UNIMPLEMENTED`).
    InvalidRequest,
    /// The account is suspended (`TOS_VIOLATION`): no retry, no other model and no
    /// new sign-in helps; the message carries Google's appeal link.
    AccountDisabled,
    /// The OAuth client itself is refused (`invalid_client`: a wrong id or secret, a
    /// deleted client): fix the client configuration.
    ClientInvalid,
    /// No HTTP response: DNS, connect, reset. Trying again may help.
    Network,
    /// No usable HTTP response, and trying again will not help: a TLS or certificate
    /// failure, a body over the cap, malformed HTTP, a request refused before sending.
    TransportPermanent,
    /// Nothing above fits.
    Unknown,
}

impl ErrorClass {
    /// Every class, in declaration order.
    pub const ALL: [ErrorClass; 21] = [
        Self::Auth,
        Self::AuthPermanent,
        Self::Permission,
        Self::ValidationRequired,
        Self::PolicyBlocked,
        Self::Billing,
        Self::RateLimit,
        Self::QuotaExhausted,
        Self::Capacity,
        Self::ServerError,
        Self::Timeout,
        Self::ModelNotFound,
        Self::NotFound,
        Self::ContextOverflow,
        Self::PayloadTooLarge,
        Self::InvalidRequest,
        Self::AccountDisabled,
        Self::ClientInvalid,
        Self::Network,
        Self::TransportPermanent,
        Self::Unknown,
    ];

    /// The snake_case name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth => "auth",
            Self::AuthPermanent => "auth_permanent",
            Self::Permission => "permission",
            Self::ValidationRequired => "validation_required",
            Self::PolicyBlocked => "policy_blocked",
            Self::Billing => "billing",
            Self::RateLimit => "rate_limit",
            Self::QuotaExhausted => "quota_exhausted",
            Self::Capacity => "capacity",
            Self::ServerError => "server_error",
            Self::Timeout => "timeout",
            Self::ModelNotFound => "model_not_found",
            Self::NotFound => "not_found",
            Self::ContextOverflow => "context_overflow",
            Self::PayloadTooLarge => "payload_too_large",
            Self::InvalidRequest => "invalid_request",
            Self::AccountDisabled => "account_disabled",
            Self::ClientInvalid => "client_invalid",
            Self::Network => "network",
            Self::TransportPermanent => "transport_permanent",
            Self::Unknown => "unknown",
        }
    }

    /// The same request may succeed later (for `auth`: after a token refresh).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Auth
                | Self::RateLimit
                | Self::Capacity
                | Self::ServerError
                | Self::Timeout
                | Self::Network
        )
    }

    /// A host should switch model or provider: this one will not serve the request soon.
    pub fn fallback(self) -> bool {
        matches!(
            self,
            Self::Billing
                | Self::QuotaExhausted
                | Self::Capacity
                | Self::ModelNotFound
                | Self::ContextOverflow
        )
    }

    /// A person must sign in again.
    pub fn needs_sign_in(self) -> bool {
        matches!(self, Self::AuthPermanent)
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A wait above this turns a 429 into `quota_exhausted`: it is not a blip.
pub const LONG_WAIT: Duration = Duration::from_secs(300);
/// The wait assumed for a per-minute quota when Google names no delay.
pub const PER_MINUTE_WAIT: Duration = Duration::from_secs(60);

/// The names of the ErrorInfo reasons the classifier asks about, one bit each.
const KNOWN_REASONS: [&str; 13] = [
    "SECURITY_POLICY_VIOLATED",
    "VALIDATION_REQUIRED",
    "MODEL_CAPACITY_EXHAUSTED",
    "MODEL_CAPACITY_EXCEEDED",
    "RATE_LIMIT_EXCEEDED",
    "INSUFFICIENT_G1_CREDITS_BALANCE",
    "QUOTA_EXHAUSTED",
    "BILLING_DISABLED",
    "TOS_VIOLATION",
    "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
    "API_KEY_INVALID",
    "IAM_PERMISSION_DENIED",
    "QUOTA_EXCEEDED",
];

/// Which of the known ErrorInfo reasons some ErrorInfo named (trimmed, any case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ReasonSet(u16);

impl ReasonSet {
    pub const SECURITY_POLICY_VIOLATED: Self = Self(1);
    pub const VALIDATION_REQUIRED: Self = Self(1 << 1);
    pub const MODEL_CAPACITY_EXHAUSTED: Self = Self(1 << 2);
    pub const MODEL_CAPACITY_EXCEEDED: Self = Self(1 << 3);
    pub const RATE_LIMIT_EXCEEDED: Self = Self(1 << 4);
    pub const INSUFFICIENT_G1_CREDITS_BALANCE: Self = Self(1 << 5);
    pub const QUOTA_EXHAUSTED: Self = Self(1 << 6);
    pub const BILLING_DISABLED: Self = Self(1 << 7);
    pub const TOS_VIOLATION: Self = Self(1 << 8);
    pub const ACCESS_TOKEN_SCOPE_INSUFFICIENT: Self = Self(1 << 9);
    pub const API_KEY_INVALID: Self = Self(1 << 10);
    pub const IAM_PERMISSION_DENIED: Self = Self(1 << 11);
    pub const QUOTA_EXCEEDED: Self = Self(1 << 12);

    /// The set holding `reason` when it is a known one, else the empty set.
    pub fn of(reason: &str) -> Self {
        // Reasons are upper snake case: skip the Unicode trim when the ends show it.
        let plain = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
        let bytes = reason.as_bytes();
        let reason = if plain(bytes.first()) && plain(bytes.last()) {
            reason
        } else {
            reason.trim()
        };
        // The legacy `errors[].reason` spelling of a rate limit.
        if reason.eq_ignore_ascii_case("rateLimitExceeded") {
            return Self::RATE_LIMIT_EXCEEDED;
        }
        KNOWN_REASONS
            .iter()
            .position(|known| reason.eq_ignore_ascii_case(known))
            .map_or(Self(0), |index| Self(1 << index))
    }

    /// Both sets together.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// True when the two sets share a reason.
    pub fn meets(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }
}

/// What the `quotaId`s of QuotaFailure violations say about the quota's period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct QuotaPeriod {
    /// Some quota id names a minute (`...PerMinute...`).
    pub per_minute: bool,
    /// Some quota id names a day (`...PerDay...`, `...Daily...`).
    pub per_day: bool,
}

impl QuotaPeriod {
    /// The period one quota id names.
    pub fn of(quota_id: &str) -> Self {
        Self {
            per_minute: contains_ignore_case(quota_id, "perminute"),
            per_day: contains_ignore_case(quota_id, "perday")
                || contains_ignore_case(quota_id, "daily"),
        }
    }

    /// Both periods together.
    pub fn union(self, other: Self) -> Self {
        Self {
            per_minute: self.per_minute || other.per_minute,
            per_day: self.per_day || other.per_day,
        }
    }
}

/// True when `haystack` holds `needle` (lower-case ASCII) in any case.
fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// What the details of an envelope contribute to the class and the delay.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct DetailSignals {
    /// The known reasons of every ErrorInfo.
    pub reasons: ReasonSet,
    /// The periods named by every QuotaFailure.
    pub quota: QuotaPeriod,
    /// Some ErrorInfo names a model in its metadata (`model`, else `modelId`).
    pub model_in_metadata: bool,
    /// The first RetryInfo delay.
    pub retry_info: Option<Duration>,
    /// Some quota's limit is zero (`quota_limit_value: "0"`, `quotaValue: "0"`).
    pub zero_limit: bool,
    /// ErrorInfo `metadata.quotaResetDelay` (a Go duration).
    pub reset_delay: Option<Duration>,
    /// ErrorInfo `metadata.quotaResetTimeStamp` (RFC 3339).
    pub reset_at: Option<std::time::SystemTime>,
}

impl DetailSignals {
    /// The signals of `self` followed by those of `later`.
    pub fn then(self, later: Self) -> Self {
        Self {
            reasons: self.reasons.union(later.reasons),
            quota: self.quota.union(later.quota),
            model_in_metadata: self.model_in_metadata || later.model_in_metadata,
            retry_info: self.retry_info.or(later.retry_info),
            zero_limit: self.zero_limit || later.zero_limit,
            reset_delay: self.reset_delay.or(later.reset_delay),
            reset_at: self.reset_at.or(later.reset_at),
        }
    }
}

/// True when an ErrorInfo `model` / `modelId` metadata value names a model.
pub(crate) fn names_a_model(value: &str) -> bool {
    // `trim_start_matches("models/")`, without building a substring searcher.
    let mut name = value.trim();
    while let Some(rest) = name.strip_prefix("models/") {
        name = rest;
    }
    !name.is_empty()
}

/// Everything the classifier reads from a body, gathered once from the parsed
/// envelope ([`Signals::from_parsed`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Signals<'a> {
    /// `error.code`.
    pub code: Option<u16>,
    /// `error.status`, as written.
    pub grpc: Cow<'a, str>,
    /// `error.message`, else the OAuth description, else the excerpt; as written.
    pub text: Cow<'a, str>,
    /// What the details say.
    pub details: DetailSignals,
}

impl<'a> Signals<'a> {
    /// The signals of what [`super::envelope::parse_body`] found, plus the excerpt.
    pub fn from_parsed(
        envelope: Option<&'a Envelope>,
        oauth: Option<&'a OAuthError>,
        excerpt: Option<&'a str>,
    ) -> Self {
        let legacy = envelope
            .into_iter()
            .flat_map(|e| &e.errors)
            .map(|error| DetailSignals {
                reasons: error
                    .reason
                    .as_deref()
                    .map(ReasonSet::of)
                    .unwrap_or_default(),
                ..DetailSignals::default()
            });
        let details = envelope
            .into_iter()
            .flat_map(|e| &e.details)
            .map(detail_signals)
            .chain(legacy)
            .fold(DetailSignals::default(), DetailSignals::then);
        let text = envelope
            .and_then(|e| e.message.as_deref())
            .or(oauth.and_then(|o| o.description.as_deref()))
            .or(excerpt)
            .unwrap_or("");
        Self {
            code: envelope.and_then(|e| e.code),
            grpc: Cow::Borrowed(envelope.and_then(|e| e.status.as_deref()).unwrap_or("")),
            text: Cow::Borrowed(text),
            details,
        }
    }
}

fn detail_signals(detail: &Detail) -> DetailSignals {
    match detail {
        Detail::ErrorInfo {
            reason, metadata, ..
        } => DetailSignals {
            reasons: reason.as_deref().map(ReasonSet::of).unwrap_or_default(),
            model_in_metadata: metadata
                .get("model")
                .or_else(|| metadata.get("modelId"))
                .is_some_and(|model| names_a_model(model)),
            zero_limit: metadata
                .get("quota_limit_value")
                .or_else(|| metadata.get("quotaLimitValue"))
                .is_some_and(|value| value.trim() == "0"),
            reset_delay: metadata
                .get("quotaResetDelay")
                .and_then(|delay| super::delay::parse_go_duration(delay)),
            reset_at: metadata
                .get("quotaResetTimeStamp")
                .and_then(|at| crate::code_assist::parse_rfc3339(at)),
            ..DetailSignals::default()
        },
        Detail::RetryInfo { retry_delay } => DetailSignals {
            retry_info: *retry_delay,
            ..DetailSignals::default()
        },
        Detail::QuotaFailure { violations } => DetailSignals {
            quota: violations
                .iter()
                .filter_map(|v| v.quota_id.as_deref())
                .map(QuotaPeriod::of)
                .fold(QuotaPeriod::default(), QuotaPeriod::union),
            zero_limit: violations
                .iter()
                .any(|v| v.quota_value.as_deref().map(str::trim) == Some("0")),
            ..DetailSignals::default()
        },
        _ => DetailSignals::default(),
    }
}

/// What [`classify`] looks at: the signals of the body, the lower-cased text, and
/// what came with the response (or instead of it).
pub(crate) struct Facts<'a> {
    pub http_status: Option<u16>,
    pub oauth_error: Option<&'a str>,
    pub oauth_subtype: Option<&'a str>,
    pub transport: Option<&'a TransportError>,
    pub signals: &'a Signals<'a>,
    /// [`Signals::text`], lower-cased.
    pub text: &'a str,
    pub retry_delay: Option<Duration>,
}

impl Facts<'_> {
    fn has_reason(&self, wanted: ReasonSet) -> bool {
        self.signals.details.reasons.meets(wanted)
    }

    /// The effective status: the HTTP one, or the envelope's when the HTTP status says
    /// nothing (an error inside a 200 stream).
    fn status(&self) -> Option<u16> {
        match (self.http_status, self.signals.code) {
            (Some(http), Some(code)) if http < 400 => Some(code),
            (Some(http), _) => Some(http),
            (None, code) => code,
        }
    }
}

/// Calls `use_text` with `text` lower-cased (ASCII letters only): in a small buffer
/// on the stack when the text is short, as most messages are, else in a `String`.
pub(crate) fn with_lowered<R>(text: &str, use_text: impl FnOnce(&str) -> R) -> R {
    const INLINE: usize = 192;
    if text.len() > INLINE {
        return use_text(&text.to_ascii_lowercase());
    }
    let mut buffer = [0; INLINE];
    let lowered = &mut buffer[..text.len()];
    lowered.copy_from_slice(text.as_bytes());
    lowered.make_ascii_lowercase();
    // Lower-casing ASCII bytes keeps UTF-8 valid, so this never falls back.
    use_text(std::str::from_utf8(lowered).unwrap_or_default())
}

/// Picks the class. The order of the rules is the contract: see the crate README.
pub(crate) fn classify(facts: &Facts<'_>) -> ErrorClass {
    if let Some(failure) = facts.transport {
        return match failure.kind() {
            TransportErrorKind::Timeout => ErrorClass::Timeout,
            TransportErrorKind::Tls
            | TransportErrorKind::BodyTooLarge
            | TransportErrorKind::Malformed
            | TransportErrorKind::Refused => ErrorClass::TransportPermanent,
            _ => ErrorClass::Network,
        };
    }
    if facts.oauth_subtype.map(str::trim) == Some("invalid_rapt") {
        return ErrorClass::AuthPermanent;
    }
    if let Some(oauth_error) = facts.oauth_error {
        match oauth_error.trim() {
            "invalid_grant" | "unauthorized_client" => return ErrorClass::AuthPermanent,
            "invalid_client" => return ErrorClass::ClientInvalid,
            "access_denied" => return ErrorClass::Permission,
            "invalid_request" | "invalid_scope" | "unsupported_grant_type" => {
                return ErrorClass::InvalidRequest;
            }
            _ => {}
        }
    }
    let status = facts.status();
    let grpc = facts.signals.grpc.as_ref();
    let text = facts.text;

    if facts.has_reason(ReasonSet::SECURITY_POLICY_VIOLATED)
        || text.contains("security_policy_violated")
    {
        return ErrorClass::PolicyBlocked;
    }
    if facts.has_reason(ReasonSet::TOS_VIOLATION) {
        return ErrorClass::AccountDisabled;
    }
    if facts.has_reason(ReasonSet::VALIDATION_REQUIRED) {
        return ErrorClass::ValidationRequired;
    }
    if facts
        .has_reason(ReasonSet::ACCESS_TOKEN_SCOPE_INSUFFICIENT.union(ReasonSet::API_KEY_INVALID))
        || text.contains("api key not valid")
        || text.contains("api_key_invalid")
    {
        return ErrorClass::AuthPermanent;
    }

    let capacity_signal = facts
        .has_reason(ReasonSet::MODEL_CAPACITY_EXHAUSTED.union(ReasonSet::MODEL_CAPACITY_EXCEEDED))
        || text.contains("no capacity available")
        || text.contains("no capacity for")
        // Said of per-minute quotas too ("… your quota will reset after 0s"): only
        // capacity when the message does not speak of quota.
        || (text.contains("exhausted your capacity on this model") && !text.contains("quota"))
        || text.contains("model is overloaded");
    let capacity = capacity_signal
        && !facts.has_reason(
            ReasonSet::RATE_LIMIT_EXCEEDED
                .union(ReasonSet::QUOTA_EXHAUSTED)
                .union(ReasonSet::QUOTA_EXCEEDED),
        );
    let exhausted = status == Some(429)
        || grpc == "RESOURCE_EXHAUSTED"
        || status == Some(499)
        || grpc == "CANCELLED";
    if exhausted || (capacity && (status == Some(503) || grpc == "UNAVAILABLE")) {
        if capacity {
            return ErrorClass::Capacity;
        }
        if facts.has_reason(ReasonSet::INSUFFICIENT_G1_CREDITS_BALANCE) {
            return ErrorClass::Billing;
        }
        if quota_exhausted(facts) {
            return ErrorClass::QuotaExhausted;
        }
        return ErrorClass::RateLimit;
    }
    if status == Some(402)
        || facts.has_reason(
            ReasonSet::BILLING_DISABLED.union(ReasonSet::INSUFFICIENT_G1_CREDITS_BALANCE),
        )
    {
        return ErrorClass::Billing;
    }
    if facts.has_reason(ReasonSet::IAM_PERMISSION_DENIED) {
        return ErrorClass::Permission;
    }
    match (status, grpc) {
        (Some(401), _) | (_, "UNAUTHENTICATED") => ErrorClass::Auth,
        (Some(501), _) | (_, "UNIMPLEMENTED") => ErrorClass::InvalidRequest,
        (Some(403), _) | (_, "PERMISSION_DENIED") => ErrorClass::Permission,
        (Some(404), _) | (_, "NOT_FOUND") => {
            if names_model(facts) {
                ErrorClass::ModelNotFound
            } else {
                ErrorClass::NotFound
            }
        }
        (Some(408 | 504), _) | (_, "DEADLINE_EXCEEDED") => ErrorClass::Timeout,
        (Some(413), _) => ErrorClass::PayloadTooLarge,
        (Some(400), _) | (_, "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "OUT_OF_RANGE") => {
            if context_overflow(text) {
                ErrorClass::ContextOverflow
            } else {
                ErrorClass::InvalidRequest
            }
        }
        (Some(500..=599), _) | (_, "INTERNAL" | "UNAVAILABLE" | "UNKNOWN") => {
            ErrorClass::ServerError
        }
        _ => ErrorClass::Unknown,
    }
}

fn quota_exhausted(facts: &Facts<'_>) -> bool {
    let text = facts.text;
    facts.signals.details.quota.per_day
        || facts.signals.details.zero_limit
        || text.contains("have a free quota tier")
        || text.contains("daily")
        || text.contains("per day")
        || text.contains("per-day")
        || facts.has_reason(ReasonSet::QUOTA_EXHAUSTED)
        || limit_is_zero(text)
        || facts.retry_delay.is_some_and(|delay| delay > LONG_WAIT)
}

/// True when the message says `limit: 0` exactly: `limit: 0`, `limit: 0,` and
/// `limit: 0.` at the end of a sentence are zero; `limit: 0.5` and `limit: 05` are not.
fn limit_is_zero(text: &str) -> bool {
    let mut from = 0;
    while let Some(found) = text[from..].find("limit:") {
        let rest = text[from + found + "limit:".len()..]
            .trim_start()
            .as_bytes();
        let zero = rest.first() == Some(&b'0')
            && match rest.get(1) {
                None => true,
                Some(b) if b.is_ascii_digit() => false,
                Some(b'.') => !rest.get(2).is_some_and(u8::is_ascii_digit),
                Some(_) => true,
            };
        if zero {
            return true;
        }
        from += found + 1;
    }
    false
}

/// A model named in metadata, or the word "model" anywhere in the text (which covers
/// `models/NAME` and "for model NAME").
fn names_model(facts: &Facts<'_>) -> bool {
    facts.signals.details.model_in_metadata || facts.text.contains("model")
}

fn context_overflow(text: &str) -> bool {
    (text.contains("token")
        && (text.contains("exceed") || text.contains("too long") || text.contains("maximum")))
        || text.contains("only supports up to")
        || text.contains("context length")
        || text.contains("context window")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_zero_is_exact() {
        assert!(limit_is_zero("quota exceeded for metric: x, limit: 0"));
        assert!(limit_is_zero("limit: 0, model: gemini"));
        assert!(!limit_is_zero("limit: 0.5"));
        assert!(limit_is_zero("quota exceeded for metric x, limit: 0."));
        assert!(limit_is_zero("limit: 0"));
        assert!(!limit_is_zero("limit: 05"));
        assert!(!limit_is_zero("limit: 10"));
        assert!(!limit_is_zero("no limit here"));
    }

    #[test]
    fn each_known_reason_has_its_own_bit() {
        let named = [
            ReasonSet::SECURITY_POLICY_VIOLATED,
            ReasonSet::VALIDATION_REQUIRED,
            ReasonSet::MODEL_CAPACITY_EXHAUSTED,
            ReasonSet::MODEL_CAPACITY_EXCEEDED,
            ReasonSet::RATE_LIMIT_EXCEEDED,
            ReasonSet::INSUFFICIENT_G1_CREDITS_BALANCE,
            ReasonSet::QUOTA_EXHAUSTED,
            ReasonSet::BILLING_DISABLED,
            ReasonSet::TOS_VIOLATION,
            ReasonSet::ACCESS_TOKEN_SCOPE_INSUFFICIENT,
            ReasonSet::API_KEY_INVALID,
            ReasonSet::IAM_PERMISSION_DENIED,
            ReasonSet::QUOTA_EXCEEDED,
        ];
        for (name, set) in KNOWN_REASONS.iter().zip(named) {
            assert_eq!(ReasonSet::of(name), set, "{name}");
            assert_eq!(ReasonSet::of(&format!(" {} ", name.to_lowercase())), set);
        }
        assert_eq!(ReasonSet::of("SERVICE_DISABLED"), ReasonSet::default());
    }

    #[test]
    fn lowered_text_matches_to_ascii_lowercase() {
        for text in [
            "",
            "Retry In 5S",
            "É Daily ☃",
            &"AbC".repeat(64),
            &"AbC".repeat(65),
        ] {
            assert_eq!(with_lowered(text, str::to_owned), text.to_ascii_lowercase());
        }
    }

    #[test]
    fn names_are_snake_case_and_unique() {
        let names: std::collections::BTreeSet<_> =
            ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ErrorClass::ALL.len());
        for class in ErrorClass::ALL {
            let json = serde_json::to_string(&class).unwrap();
            assert_eq!(json, format!("\"{}\"", class.as_str()));
        }
    }
}
