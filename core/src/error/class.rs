//! The reason classes a host routes on, and the rules that pick one.
//!
//! | class | retryable | fallback | reauth | meaning |
//! |---|---|---|---|---|
//! | `auth` | yes | no | no | 401: refresh the access token, then retry |
//! | `auth_permanent` | no | no | yes | `invalid_grant` / `unauthorized_client`: sign in again |
//! | `permission` | no | no | no | 403 that is none of the below (e.g. `SERVICE_DISABLED`) |
//! | `validation_required` | no | no | no | the person must open a verification link |
//! | `policy_blocked` | no | no | no | VPC Service Controls (`SECURITY_POLICY_VIOLATED`) |
//! | `billing` | no | yes | no | 402, `BILLING_DISABLED`, `INSUFFICIENT_G1_CREDITS_BALANCE` |
//! | `rate_limit` | yes | no | no | short-term rate limit: wait and retry |
//! | `quota_exhausted` | no | yes | no | daily quota, `limit: 0`, or a wait over 300 s |
//! | `capacity` | yes | yes | no | Google has no capacity for the model right now |
//! | `server_error` | yes | no | no | 500, 502, 503 and other 5xx |
//! | `timeout` | yes | no | no | 408, 504, `DEADLINE_EXCEEDED`, transport timeouts |
//! | `model_not_found` | no | yes | no | 404 naming a model |
//! | `not_found` | no | no | no | any other 404 |
//! | `context_overflow` | no | yes | no | 400: the input has more tokens than the model takes |
//! | `payload_too_large` | no | no | no | 413 |
//! | `invalid_request` | no | no | no | any other 400 |
//! | `network` | yes | no | no | no HTTP response at all |
//! | `unknown` | no | no | no | none of the above |
//!
//! *Fallback* means another model or provider is likely to succeed where this one will
//! not; it is independent of *retryable* (a capacity error is both).

use std::time::Duration;

use serde::Serialize;

use super::envelope::{Detail, Envelope, OAuthError};
use crate::flow::{TransportError, TransportErrorKind};

/// Why a request failed, as a host routes it. See the [module docs](self) for the
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
    /// Any other 400.
    InvalidRequest,
    /// No HTTP response at all (DNS, connect, TLS, reset).
    Network,
    /// Nothing above fits.
    Unknown,
}

impl ErrorClass {
    /// Every class, in declaration order.
    pub const ALL: [ErrorClass; 18] = [
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
        Self::Network,
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
            Self::Network => "network",
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
    pub fn reauth(self) -> bool {
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

/// Everything the classifier looks at, gathered once.
pub(crate) struct Facts<'a> {
    pub http_status: Option<u16>,
    pub envelope: Option<&'a Envelope>,
    pub oauth: Option<&'a OAuthError>,
    pub transport: Option<&'a TransportError>,
    /// The message (or, with no envelope, the body excerpt), lower-cased.
    pub text: String,
    pub retry_delay: Option<Duration>,
}

impl Facts<'_> {
    fn reasons(&self) -> impl Iterator<Item = &str> {
        self.envelope
            .into_iter()
            .flat_map(|e| e.details.iter())
            .filter_map(|detail| match detail {
                Detail::ErrorInfo {
                    reason: Some(reason),
                    ..
                } => Some(reason.trim()),
                _ => None,
            })
    }

    fn has_reason(&self, wanted: &[&str]) -> bool {
        self.reasons()
            .any(|reason| wanted.iter().any(|w| reason.eq_ignore_ascii_case(w)))
    }

    fn quota_ids(&self) -> impl Iterator<Item = String> {
        self.envelope
            .into_iter()
            .flat_map(|e| e.details.iter())
            .filter_map(|detail| match detail {
                Detail::QuotaFailure { violations } => Some(violations),
                _ => None,
            })
            .flatten()
            .filter_map(|v| v.quota_id.as_deref())
            .map(str::to_ascii_lowercase)
    }

    /// The effective status: the HTTP one, or the envelope's when the HTTP status says
    /// nothing (an error inside a 200 stream).
    fn status(&self) -> Option<u16> {
        match (self.http_status, self.envelope.and_then(|e| e.code)) {
            (Some(http), Some(code)) if http < 400 => Some(code),
            (Some(http), _) => Some(http),
            (None, code) => code,
        }
    }

    fn grpc(&self) -> &str {
        self.envelope
            .and_then(|e| e.status.as_deref())
            .unwrap_or("")
    }

    pub(crate) fn per_minute_quota(&self) -> bool {
        self.quota_ids().any(|id| id.contains("perminute"))
    }
}

/// Picks the class. The order of the rules is the contract: see the crate README.
pub(crate) fn classify(facts: &Facts<'_>) -> ErrorClass {
    if let Some(failure) = facts.transport {
        return match failure.kind() {
            TransportErrorKind::Timeout => ErrorClass::Timeout,
            _ => ErrorClass::Network,
        };
    }
    if let Some(oauth) = facts.oauth {
        match oauth.error.trim() {
            "invalid_grant" | "unauthorized_client" => return ErrorClass::AuthPermanent,
            "access_denied" => return ErrorClass::Permission,
            "invalid_request" | "invalid_client" | "invalid_scope" | "unsupported_grant_type" => {
                return ErrorClass::InvalidRequest;
            }
            _ => {}
        }
    }
    let status = facts.status();
    let grpc = facts.grpc();
    let text = facts.text.as_str();

    if facts.has_reason(&["SECURITY_POLICY_VIOLATED"]) || text.contains("security_policy_violated")
    {
        return ErrorClass::PolicyBlocked;
    }
    if facts.has_reason(&["VALIDATION_REQUIRED"]) {
        return ErrorClass::ValidationRequired;
    }

    let capacity_signal = facts
        .has_reason(&["MODEL_CAPACITY_EXHAUSTED", "MODEL_CAPACITY_EXCEEDED"])
        || text.contains("no capacity available")
        || text.contains("no capacity for");
    let capacity = capacity_signal && !facts.has_reason(&["RATE_LIMIT_EXCEEDED"]);
    let exhausted = status == Some(429) || grpc == "RESOURCE_EXHAUSTED";
    if exhausted || (capacity && (status == Some(503) || grpc == "UNAVAILABLE")) {
        if capacity {
            return ErrorClass::Capacity;
        }
        if facts.has_reason(&["INSUFFICIENT_G1_CREDITS_BALANCE"]) {
            return ErrorClass::Billing;
        }
        if quota_exhausted(facts) {
            return ErrorClass::QuotaExhausted;
        }
        return ErrorClass::RateLimit;
    }
    if status == Some(402)
        || facts.has_reason(&["BILLING_DISABLED", "INSUFFICIENT_G1_CREDITS_BALANCE"])
    {
        return ErrorClass::Billing;
    }
    match (status, grpc) {
        (Some(401), _) | (_, "UNAUTHENTICATED") => ErrorClass::Auth,
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
    let text = facts.text.as_str();
    facts
        .quota_ids()
        .any(|id| id.contains("perday") || id.contains("daily"))
        || text.contains("daily")
        || text.contains("per day")
        || text.contains("per-day")
        || facts.has_reason(&["QUOTA_EXHAUSTED"])
        || limit_is_zero(text)
        || facts.retry_delay.is_some_and(|delay| delay > LONG_WAIT)
}

/// True when the message says `limit: 0` exactly (not `limit: 0.5`, not `limit: 05`).
fn limit_is_zero(text: &str) -> bool {
    let mut from = 0;
    while let Some(found) = text[from..].find("limit:") {
        let rest = text[from + found + "limit:".len()..].trim_start();
        let mut digits = rest.bytes();
        if digits.next() == Some(b'0')
            && !digits
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'.')
        {
            return true;
        }
        from += found + 1;
    }
    false
}

fn names_model(facts: &Facts<'_>) -> bool {
    super::model_name(facts.envelope, &facts.text).is_some() || facts.text.contains("model")
}

fn context_overflow(text: &str) -> bool {
    (text.contains("token")
        && (text.contains("exceed") || text.contains("too long") || text.contains("maximum")))
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
        assert!(!limit_is_zero("limit: 05"));
        assert!(!limit_is_zero("limit: 10"));
        assert!(!limit_is_zero("no limit here"));
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
