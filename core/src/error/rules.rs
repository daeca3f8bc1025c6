//! The rules that pick a class from the signals of a body (or a transport failure).
//! Their order is the contract; the class table is in `class`.

use std::time::Duration;

use super::class::{ErrorClass, LONG_WAIT};
use super::phrases::{Phrase, Said};
use super::signals::{ReasonSet, Signals};
use crate::flow::{TransportError, TransportErrorKind};

/// What [`classify`] looks at: the signals of the body, the phrases of its text, and
/// what came with the response (or instead of it).
pub(crate) struct Facts<'a> {
    pub http_status: Option<u16>,
    pub oauth_error: Option<&'a str>,
    pub oauth_subtype: Option<&'a str>,
    pub transport: Option<&'a TransportError>,
    pub signals: &'a Signals<'a>,
    /// The phrases of [`Signals::text`].
    pub said: &'a Said<'a>,
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
    let said = facts.said;

    if facts.has_reason(ReasonSet::SECURITY_POLICY_VIOLATED)
        || said.has(Phrase::SecurityPolicyViolated)
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
        || said.any(&[Phrase::ApiKeyNotValid, Phrase::ApiKeyInvalid])
    {
        return ErrorClass::AuthPermanent;
    }

    let capacity_signal = facts
        .has_reason(ReasonSet::MODEL_CAPACITY_EXHAUSTED.union(ReasonSet::MODEL_CAPACITY_EXCEEDED))
        || said.any(&[
            Phrase::NoCapacityAvailable,
            Phrase::NoCapacityFor,
            Phrase::ModelIsOverloaded,
        ])
        // Said of per-minute quotas too ("… your quota will reset after 0s"): only
        // capacity when the message does not speak of quota.
        || (said.has(Phrase::ExhaustedYourCapacity) && !said.has(Phrase::Quota));
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
            if context_overflow(said) {
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
    let said = facts.said;
    facts.signals.details.quota.per_day
        || facts.signals.details.zero_limit
        || said.any(&[
            Phrase::FreeQuotaTier,
            Phrase::Daily,
            Phrase::PerDay,
            Phrase::PerDayHyphen,
        ])
        || facts.has_reason(ReasonSet::QUOTA_EXHAUSTED)
        || said.zero_limit()
        || facts.retry_delay.is_some_and(|delay| delay > LONG_WAIT)
}

/// A model named in metadata, or the word "model" anywhere in the text (which covers
/// `models/NAME` and "for model NAME").
fn names_model(facts: &Facts<'_>) -> bool {
    facts.signals.details.model_in_metadata || facts.said.has(Phrase::Model)
}

fn context_overflow(said: &Said<'_>) -> bool {
    (said.has(Phrase::Token) && said.any(&[Phrase::Exceed, Phrase::TooLong, Phrase::Maximum]))
        || said.any(&[
            Phrase::OnlySupportsUpTo,
            Phrase::ContextLength,
            Phrase::ContextWindow,
        ])
}
