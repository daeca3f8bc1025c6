//! What the classifier reads from a parsed body: the known ErrorInfo reasons, quota
//! periods and limits, reset delays, and the text, gathered once.

use std::borrow::Cow;
use std::time::Duration;

use super::model::{Detail, Envelope, OAuthError};
use super::phrases::{Phrase, Said};

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
        Said::with(quota_id, |said| Self {
            per_minute: said.has(Phrase::PerMinuteGlued),
            per_day: said.any(&[Phrase::PerDayGlued, Phrase::Daily]),
        })
    }

    /// Both periods together.
    pub fn union(self, other: Self) -> Self {
        Self {
            per_minute: self.per_minute || other.per_minute,
            per_day: self.per_day || other.per_day,
        }
    }
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

/// The model an ErrorInfo `model` / `modelId` metadata value names: trimmed, without
/// `models/` in front; `None` when nothing is left.
pub(crate) fn bare_model_name(value: &str) -> Option<&str> {
    // `trim_start_matches("models/")`, without building a substring searcher.
    let mut name = value.trim();
    while let Some(rest) = name.strip_prefix("models/") {
        name = rest;
    }
    (!name.is_empty()).then_some(name)
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
        } => {
            let mut signals = DetailSignals {
                reasons: reason.as_deref().map(ReasonSet::of).unwrap_or_default(),
                ..DetailSignals::default()
            };
            // One pass over the metadata; `model` wins over `modelId` and
            // `quota_limit_value` over `quotaLimitValue`, whatever their order.
            let (mut model, mut limit) = (None, None);
            for (key, value) in metadata {
                match key.as_str() {
                    "model" => model = Some(value),
                    "modelId" => model = model.or(Some(value)),
                    "quota_limit_value" => limit = Some(value),
                    "quotaLimitValue" => limit = limit.or(Some(value)),
                    "quotaResetDelay" => {
                        signals.reset_delay = super::delay::parse_go_duration(value);
                    }
                    "quotaResetTimeStamp" => {
                        signals.reset_at = crate::rfc3339::parse_rfc3339(value);
                    }
                    _ => {}
                }
            }
            signals.model_in_metadata = model.and_then(|model| bare_model_name(model)).is_some();
            signals.zero_limit = limit.is_some_and(|value| value.trim() == "0");
            signals
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
