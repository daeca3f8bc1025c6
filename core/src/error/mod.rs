//! Google errors: the envelope parser, the classifier and the one-line messages.
//!
//! [`ApiError::from_parts`] takes what came back (status, headers, body) and the
//! current time, and never fails: whatever the body holds (a `google.rpc.Status`
//! envelope, an OAuth token-endpoint error, an array, an SSE stream, HTML, nothing,
//! or a truncated or non-UTF-8 mess) it yields an error with
//!
//! - the facts: HTTP status, `error.code`, `error.status`, `error.message` and every
//!   detail by `@type` ([`Envelope`], [`Detail`]);
//! - a class to route on ([`ErrorClass`]) with its `retryable`, `fallback` and
//!   `needs_sign_in` properties;
//! - one retry delay (see below);
//! - a human line of at most 300 characters that names the model when Google named
//!   one, and never holds a secret.
//!
//! The body is read once, into the [`Envelope`], and classified once; the human line is
//! built the first time something asks for it.
//!
//! # The retry delay
//! One delay, from the first source that has one:
//! 1. `RetryInfo.retryDelay` in the body (Google's own, most specific answer);
//! 2. the `Retry-After` header (delta-seconds, or an HTTP-date relative to `now`);
//! 3. ErrorInfo `metadata.quotaResetDelay` (a Go duration such as `25h20m26.18s`), then
//!    `metadata.quotaResetTimeStamp` (RFC 3339, relative to `now`);
//! 4. a phrase in the message such as "Please retry in 5s", "retry in 900.2ms",
//!    "Resets in 9h22m20s" or "Your quota will reset after 8h44m7s";
//! 5. 60 seconds for a per-minute `QuotaFailure` that named no delay;
//! 6. none.
//!
//! Negative, non-finite and absurd values (over 30 days) count as absent. A delay is
//! reported whatever the class; a 429 whose delay is over 300 seconds is
//! `quota_exhausted`, not `rate_limit`, because waiting it out in-line is not sensible.
//!
//! # Classifying a 429 (or `RESOURCE_EXHAUSTED`)
//! In this order: `capacity` (ErrorInfo reason `MODEL_CAPACITY_EXHAUSTED` or
//! `MODEL_CAPACITY_EXCEEDED`, or a "no capacity" message, unless a reason is
//! `RATE_LIMIT_EXCEEDED`; a 503 with those signals is `capacity` too), then `billing`
//! (`INSUFFICIENT_G1_CREDITS_BALANCE`), then `quota_exhausted` (a daily quota, reason
//! `QUOTA_EXHAUSTED`, `limit: 0`, or a delay over 300 s), else `rate_limit`.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use codeassist_core::error::{ApiError, ErrorClass};
//!
//! let body = br#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "...",
//!   "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
//!                "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "cloudcode-pa.googleapis.com",
//!                "metadata": {"model": "gemini-2.5-pro"}},
//!               {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.5s"}]}}"#;
//! let error = ApiError::from_parts(429, &http::HeaderMap::new(), body, UNIX_EPOCH);
//! assert_eq!(error.class(), ErrorClass::Capacity);
//! assert!(error.class().retryable() && error.class().fallback());
//! assert_eq!(error.retry_delay(), Some(Duration::from_millis(3500)));
//! assert_eq!(error.model(), Some("gemini-2.5-pro"));
//! assert!(error.message().starts_with("Gemini capacity exhausted for gemini-2.5-pro"));
//! ```

mod class;
mod delay;
mod envelope;
mod message;
mod model;
mod phrases;
mod rules;
mod signals;
mod wire;

pub(crate) use model::lossy_utf8;

pub use class::{ErrorClass, LONG_WAIT, PER_MINUTE_WAIT};
pub use delay::{
    MAX_PLAUSIBLE_DELAY, delay_in_message, parse_delay_text, parse_go_duration,
    parse_protobuf_duration, parse_retry_after,
};
pub use message::{MAX_MESSAGE, format_delay};
pub use model::{
    Detail, Envelope, FieldViolation, HelpLink, LegacyError, MAX_PARSED_BODY, OAuthError,
    PreconditionViolation, QuotaViolation,
};

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde::Serialize;

use crate::flow::{Response, TransportError};
use crate::text::sanitize;
use delay::delay_in_lowered;
use phrases::{Phrase, Said};
use rules::Facts;
use signals::{Signals, bare_model_name};

/// A failed request, parsed and classified: what Google said, what class of failure it
/// is, how long to wait, and one line for a person.
///
/// Built from a response with [`ApiError::from_response`] / [`ApiError::from_parts`],
/// or from a transport failure with [`ApiError::from_transport`]. Holds no secret: the
/// request is not kept, and every string shown is sanitised.
///
#[derive(Clone)]
pub struct ApiError {
    http_status: Option<u16>,
    envelope: Option<Envelope>,
    oauth: Option<OAuthError>,
    transport: Option<TransportError>,
    excerpt: Option<String>,
    retry_after_header: Option<Duration>,
    class: ErrorClass,
    retry_delay: Option<Duration>,
    /// Built on first use: routing needs only the class and the delay.
    message: OnceLock<String>,
}

impl PartialEq for ApiError {
    fn eq(&self, other: &Self) -> bool {
        self.http_status == other.http_status
            && self.envelope() == other.envelope()
            && self.oauth == other.oauth
            && self.transport == other.transport
            && self.excerpt == other.excerpt
            && self.retry_after_header == other.retry_after_header
            && self.class == other.class
            && self.retry_delay == other.retry_delay
    }
}

impl ApiError {
    /// Parses and classifies a response received at `now`.
    pub fn from_response(response: &Response, now: SystemTime) -> Self {
        Self::from_parts(
            response.status().as_u16(),
            response.headers(),
            response.body(),
            now,
        )
    }

    /// Parses and classifies a status, headers and body received at `now`. Never fails
    /// and never panics, whatever the bytes.
    pub fn from_parts(status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Self {
        let retry_after_header = headers
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, now));
        let parsed = envelope::parse_body(body);
        let excerpt = if parsed.envelope.is_none() && parsed.oauth.is_none() {
            message::excerpt(body)
        } else {
            None
        };
        let signals = Signals::from_parsed(
            parsed.envelope.as_ref(),
            parsed.oauth.as_ref(),
            excerpt.as_deref(),
        );
        let (class, retry_delay) = decide(
            Some(status),
            parsed.oauth.as_ref(),
            None,
            &signals,
            retry_after_header,
            now,
        );
        Self {
            http_status: Some(status),
            envelope: parsed.envelope,
            oauth: parsed.oauth,
            transport: None,
            excerpt,
            retry_after_header,
            class,
            retry_delay,
            message: OnceLock::new(),
        }
    }

    /// Classifies a request that got no response at all.
    pub fn from_transport(failure: &TransportError) -> Self {
        let (class, retry_delay) = decide(
            None,
            None,
            Some(failure),
            &Signals::default(),
            None,
            SystemTime::UNIX_EPOCH,
        );
        Self {
            http_status: None,
            envelope: None,
            oauth: None,
            transport: Some(failure.clone()),
            excerpt: None,
            retry_after_header: None,
            class,
            retry_delay,
            message: OnceLock::new(),
        }
    }

    /// The class a host routes on.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// The same request may succeed later. Shorthand for `class().retryable()`.
    pub fn retryable(&self) -> bool {
        self.class.retryable()
    }

    /// The host should switch model or provider. Shorthand for `class().fallback()`.
    pub fn fallback(&self) -> bool {
        self.class.fallback()
    }

    /// A person must sign in again. Shorthand for `class().needs_sign_in()`.
    pub fn needs_sign_in(&self) -> bool {
        self.class.needs_sign_in()
    }

    /// How long Google asked the caller to wait, when it said (see the module docs for
    /// the sources and their order).
    pub fn retry_delay(&self) -> Option<Duration> {
        self.retry_delay
    }

    /// The one-line human message (at most 300 characters, no secrets).
    pub fn message(&self) -> &str {
        self.message.get_or_init(|| message::human_message(self))
    }

    /// The HTTP status, or `None` when no response arrived.
    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// The parsed `google.rpc.Status`, when the body held one.
    pub fn envelope(&self) -> Option<&Envelope> {
        self.envelope.as_ref()
    }

    /// The OAuth token-endpoint error, when the body was one.
    pub fn oauth(&self) -> Option<&OAuthError> {
        self.oauth.as_ref()
    }

    /// The transport failure, when no response arrived.
    pub fn transport(&self) -> Option<&TransportError> {
        self.transport.as_ref()
    }

    /// A short sanitised excerpt of a body that held no recognisable error.
    pub fn excerpt(&self) -> Option<&str> {
        self.excerpt.as_deref()
    }

    /// The `Retry-After` header's delay, when the response had a readable one.
    pub fn retry_after_header(&self) -> Option<Duration> {
        self.retry_after_header
    }

    /// `error.status`, such as `RESOURCE_EXHAUSTED`.
    pub fn status(&self) -> Option<&str> {
        self.envelope()?.status.as_deref()
    }

    /// The first ErrorInfo `reason`, such as `MODEL_CAPACITY_EXHAUSTED`.
    pub fn reason(&self) -> Option<&str> {
        self.error_infos().find_map(|(reason, _, _)| reason)
    }

    /// The first ErrorInfo `domain`, normalised.
    pub fn domain(&self) -> Option<&str> {
        self.error_infos().find_map(|(_, domain, _)| domain)
    }

    /// The model Google named: ErrorInfo metadata `model` or `modelId`, else a model
    /// named in the message (`models/NAME`, "for model NAME").
    pub fn model(&self) -> Option<&str> {
        let message = self.google_message().unwrap_or("");
        model_name(self.envelope(), message)
    }

    /// The project Google named in ErrorInfo metadata (`consumer`, `project`, `projectId`).
    pub fn project(&self) -> Option<&str> {
        self.error_infos().find_map(|(_, _, metadata)| {
            ["consumer", "project", "projectId", "project_id"]
                .iter()
                .find_map(|key| metadata.get(*key))
                .map(|value| value.trim_start_matches("projects/"))
                .filter(|value| !value.is_empty())
        })
    }

    /// The verification link for `validation_required`: a Help link, else a metadata
    /// value or message word starting with `https://`.
    pub fn validation_url(&self) -> Option<&str> {
        let details = self.envelope().into_iter().flat_map(|e| &e.details);
        let from_help = details.clone().find_map(|detail| match detail {
            Detail::Help { links } => links.iter().find_map(|link| link.url.as_deref()),
            _ => None,
        });
        from_help
            .or_else(|| {
                self.error_infos().find_map(|(_, _, metadata)| {
                    metadata
                        .values()
                        .find(|v| v.starts_with("https://"))
                        .map(String::as_str)
                })
            })
            .or_else(|| {
                self.google_message()?
                    .split_whitespace()
                    .find(|word| word.starts_with("https://"))
                    .map(|word| word.trim_end_matches(['.', ',', ')', '"']))
            })
    }

    /// The first ErrorInfo metadata value under one of `keys` that is an `https://`
    /// link (an appeal or activation page), whole.
    pub fn metadata_link(&self, keys: &[&str]) -> Option<&str> {
        self.error_infos().find_map(|(_, _, metadata)| {
            keys.iter()
                .find_map(|key| metadata.get(*key))
                .map(|value| value.trim())
                .filter(|value| {
                    value.starts_with("https://") && !value.contains(char::is_whitespace)
                })
        })
    }

    /// Google's own message (`error.message`, or an OAuth `error_description`), raw but
    /// capped. Prefer [`ApiError::message`] for people.
    pub fn google_message(&self) -> Option<&str> {
        self.envelope()
            .and_then(|e| e.message.as_deref())
            .or_else(|| self.oauth.as_ref()?.description.as_deref())
    }

    fn error_infos(
        &self,
    ) -> impl Iterator<
        Item = (
            Option<&str>,
            Option<&str>,
            &std::collections::BTreeMap<String, String>,
        ),
    > {
        self.envelope()
            .into_iter()
            .flat_map(|e| &e.details)
            .filter_map(|detail| match detail {
                Detail::ErrorInfo {
                    reason,
                    domain,
                    metadata,
                } => Some((reason.as_deref(), domain.as_deref(), metadata)),
                _ => None,
            })
    }

    /// The summary a host or a script reads: the keys `codeassist explain-error --json`
    /// prints.
    /// Every string in it is sanitised (one line, bounded, no secret, no bidirectional
    /// controls), since a body can put anything there.
    pub fn summary(&self) -> ErrorSummary<'_> {
        let clean = |value: Option<&str>| value.map(|v| sanitize(v, 120));
        ErrorSummary {
            http_status: self.http_status,
            status: clean(self.status()),
            reason: clean(self.reason()),
            domain: clean(self.domain()),
            model: clean(self.model()),
            retry_after_secs: self.retry_delay.map(|d| d.as_secs_f64()),
            class: self.class,
            retryable: self.retryable(),
            fallback: self.fallback(),
            needs_sign_in: self.needs_sign_in(),
            message: self.message(),
        }
    }
}

/// The routing facts of an [`ApiError`] as one flat, serialisable record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ErrorSummary<'a> {
    /// HTTP status, or `None` when no response arrived.
    pub http_status: Option<u16>,
    /// `error.status`.
    pub status: Option<String>,
    /// The first ErrorInfo reason.
    pub reason: Option<String>,
    /// The first ErrorInfo domain.
    pub domain: Option<String>,
    /// The model Google named.
    pub model: Option<String>,
    /// The retry delay in seconds.
    pub retry_after_secs: Option<f64>,
    /// The class.
    pub class: ErrorClass,
    /// See [`ErrorClass::retryable`].
    pub retryable: bool,
    /// See [`ErrorClass::fallback`].
    pub fallback: bool,
    /// See [`ErrorClass::needs_sign_in`].
    pub needs_sign_in: bool,
    /// The human line.
    pub message: &'a str,
}

/// The class and the retry delay of a failure (see the module docs for the order of
/// the delay's sources).
fn decide(
    http_status: Option<u16>,
    oauth: Option<&OAuthError>,
    transport: Option<&TransportError>,
    signals: &Signals<'_>,
    retry_after_header: Option<Duration>,
    now: SystemTime,
) -> (ErrorClass, Option<Duration>) {
    Said::with(&signals.text, |said| {
        let details = &signals.details;
        let retry_delay = details
            .retry_info
            .or(retry_after_header)
            .or(details.reset_delay)
            .or_else(|| {
                let at = details.reset_at?;
                at.duration_since(now)
                    .ok()
                    .filter(|d| *d <= MAX_PLAUSIBLE_DELAY)
            })
            .or_else(|| delay_in_lowered(said.lowered()))
            .or_else(|| details.quota.per_minute.then_some(PER_MINUTE_WAIT));
        let facts = Facts {
            http_status,
            oauth_error: oauth.map(|o| o.error.as_str()),
            oauth_subtype: oauth.and_then(|o| o.subtype.as_deref()),
            transport,
            signals,
            said,
            retry_delay,
        };
        (rules::classify(&facts), retry_delay)
    })
}

/// The model named by an envelope's ErrorInfo metadata, else by its message.
pub(crate) fn model_name<'a>(envelope: Option<&'a Envelope>, message: &'a str) -> Option<&'a str> {
    let from_metadata =
        envelope
            .into_iter()
            .flat_map(|e| &e.details)
            .find_map(|detail| match detail {
                Detail::ErrorInfo { metadata, .. } => metadata
                    .get("model")
                    .or_else(|| metadata.get("modelId"))
                    .and_then(|m| bare_model_name(m)),
                _ => None,
            });
    from_metadata.or_else(|| model_in_message(message))
}

fn model_in_message(message: &str) -> Option<&str> {
    let start = Said::with(message, |said| {
        said.after(Phrase::ModelsPath)
            .or_else(|| said.after(Phrase::ForModel))
    })?;
    let rest = &message[start..];
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'))
        .count();
    let name = rest[..len].trim_end_matches(['.', ':']);
    (!name.is_empty() && name.bytes().any(|b| b.is_ascii_alphabetic())).then_some(name)
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiError")
            .field("class", &self.class)
            .field("http_status", &self.http_status)
            .field("status", &self.status())
            .field("reason", &self.reason())
            .field("retry_delay", &self.retry_delay)
            .field("message", &self.message())
            .finish()
    }
}

impl std::error::Error for ApiError {}
