//! The rules that pick a class from the signals of a body (or a transport failure).
//! Their order is the contract; the class table is in `class`.

use std::time::Duration;

use super::class::{ErrorClass, LONG_WAIT};
use super::signals::{ReasonSet, Signals};
use crate::flow::{TransportError, TransportErrorKind};

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
}
