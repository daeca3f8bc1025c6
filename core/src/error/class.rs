//! The reason classes a host routes on: the public table. The signals read from a
//! body are in `signals`, the rules that pick a class in `rules`.
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

use std::time::Duration;

use serde::Serialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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
