//! One-line human messages (the sanitising of outside text is [`crate::text`]'s).
//!
//! A message is one line, at most [`MAX_MESSAGE`] characters, and never holds a bearer
//! token, an OAuth token or an API key, whatever the body contained. A line is our
//! words with parts from outside (Google's message, a model or project name, a link,
//! an OAuth error, a transport failure): each such part is sanitised as it is written
//! into the line, and the whole line is then cut to the bound.

use crate::text::{bounded, sanitize, sanitized};
use std::fmt;
use std::time::Duration;

use super::ApiError;
use super::class::ErrorClass;
use super::phrases::{Phrase, Said};

/// The longest message, in characters.
pub const MAX_MESSAGE: usize = 300;
/// The longest body excerpt kept for unknown shapes, in characters.
pub const MAX_EXCERPT: usize = 160;

/// Builds the human line for a classified error.
///
/// Every part that comes from outside (the body, the configuration, a transport
/// failure) is written through [`Clean`], sanitised where it enters the line; the
/// line's own words are ours and need no scan. The whole line is then bounded.
pub(crate) fn human_message(error: &ApiError) -> String {
    let model = error.model().map(Clean);
    // The parts below are written only by the lines that use them.
    let for_model = lazy(|f| match &model {
        Some(model) => write!(f, " for {model}"),
        None => Ok(()),
    });
    // What Google said, or failing that, an excerpt of what came back instead.
    let said = lazy(|f| match shown(error) {
        Some(shown) => write!(f, ": {shown}"),
        None => Ok(()),
    });
    let code = lazy(|f| match error.http_status() {
        Some(status) => write!(f, "HTTP {status}"),
        None => f.write_str("no HTTP response"),
    });
    let wait = error.retry_delay().map(Delay);
    let project = lazy(|f| match error.project() {
        Some(project) => write!(f, " for project {}", Clean(project)),
        None => Ok(()),
    });

    let mut line = match error.class() {
        ErrorClass::Capacity => {
            let model = model.unwrap_or(Clean("this model"));
            match &wait {
                Some(wait) => format!(
                    "Gemini capacity exhausted for {model} (Google-side throttle, not your quota); retry in {wait} or switch model"
                ),
                None => format!(
                    "Gemini capacity exhausted for {model} (Google-side throttle, not your quota); retry shortly or switch model"
                ),
            }
        }
        ErrorClass::RateLimit => match &wait {
            Some(wait) => format!("Gemini rate limit reached{for_model}; retry in {wait}"),
            None => format!("Gemini rate limit reached{for_model}; retry shortly"),
        },
        ErrorClass::QuotaExhausted => match &wait {
            Some(wait) => format!(
                "Gemini quota exhausted{for_model}; it resets in about {wait}, or switch model"
            ),
            None => format!(
                "Gemini quota exhausted{for_model}; it resets later (often daily), or switch model"
            ),
        },
        ErrorClass::Billing => format!("Billing problem{project}{said}"),
        ErrorClass::ModelNotFound => format!(
            "Model {} was not found ({code}); choose another model",
            model.unwrap_or(Clean("(unnamed)"))
        ),
        ErrorClass::NotFound => format!("Not found ({code}){said}"),
        ErrorClass::Auth => {
            format!("Google rejected the access token ({code}); refresh it and retry")
        }
        ErrorClass::AuthPermanent => auth_permanent(error),
        ErrorClass::Permission => match (error.reason(), error.metadata_link(&["activationUrl", "activation_url"])) {
            (Some(reason), Some(url)) if reason.eq_ignore_ascii_case("SERVICE_DISABLED") => {
                format!("The API is not enabled{project}: enable it at {}", Clean(url))
            }
            _ => format!("Google denied permission{project}{said}"),
        },
        ErrorClass::ValidationRequired => match error.validation_url() {
            Some(url) => format!("Verify your Google account at {}", Clean(url)),
            None => format!("Google requires you to verify your account{said}"),
        },
        ErrorClass::AccountDisabled => {
            match error.metadata_link(&["appeal_url", "appealUrl"]) {
                Some(url) => format!(
                    "Google has disabled this account for this service (TOS_VIOLATION); appeal at {}",
                    Clean(url)
                ),
                None => format!(
                    "Google has disabled this account for this service (TOS_VIOLATION){said}"
                ),
            }
        }
        ErrorClass::ClientInvalid => {
            "The OAuth server does not accept this OAuth client (invalid_client): check the client id and secret configured".to_owned()
        }
        ErrorClass::PolicyBlocked => format!(
            "Blocked by your organization's VPC Service Controls policy (SECURITY_POLICY_VIOLATED){project}"
        ),
        ErrorClass::ServerError => format!("Google server error ({code}){said}; retry shortly"),
        ErrorClass::Timeout => match error.transport() {
            Some(failure) => format!(
                "The request timed out before Google answered: {}",
                Clean(failure.detail())
            ),
            None => format!("The request timed out ({code}){said}"),
        },
        ErrorClass::ContextOverflow => {
            format!("The input is larger than the model's context window{for_model}{said}")
        }
        ErrorClass::PayloadTooLarge => format!("The request body is too large ({code}){said}"),
        ErrorClass::InvalidRequest if location_refused(error) => format!(
            "Gemini is not available in your location ({code}); trying again will not help{said}"
        ),
        ErrorClass::InvalidRequest => match error.oauth() {
            Some(oauth) => format!(
                "The OAuth server refused the request ({}){}",
                Clean(&oauth.error),
                lazy(|f| match oauth.description.as_deref() {
                    Some(description) => write!(f, ": {}", Clean(description)),
                    None => Ok(()),
                })
            ),
            None => format!("Google rejected the request as invalid ({code}){said}"),
        },
        ErrorClass::Network => match error.transport() {
            Some(failure) => format!("Could not reach Google: {}", Clean(&failure.to_string())),
            None => "Could not reach Google".to_owned(),
        },
        ErrorClass::TransportPermanent => match error.transport() {
            Some(failure) => format!(
                "No usable answer (trying again will not help): {}",
                Clean(&failure.to_string())
            ),
            None => "No usable answer (trying again will not help)".to_owned(),
        },
        ErrorClass::Unknown => String::new(),
    };
    if line.is_empty() {
        // The old raw form: the status and a short excerpt of what came back.
        line = match shown(error) {
            Some(shown) => format!("{code}: {shown}"),
            None => format!("{code} with an empty body"),
        };
    }
    bounded(line, MAX_MESSAGE)
}

/// Text from outside, sanitised ([`sanitize`]) as it is written into a line: written
/// as it is when already clean, as most parts are.
struct Clean<'a>(&'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match sanitized(self.0, MAX_MESSAGE) {
            None => f.write_str(self.0),
            Some(clean) => f.write_str(&clean),
        }
    }
}

/// What Google said (sanitised), or failing that, the excerpt of what came back.
fn shown(error: &ApiError) -> Option<String> {
    error
        .google_message()
        .map(|message| sanitize(message, 200))
        .or_else(|| error.excerpt().map(str::to_owned))
}

/// Text that is built only when a format string writes it.
struct Lazy<F>(F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for Lazy<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}

/// A [`Lazy`] from a closure (this fixes the closure's signature).
fn lazy<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result>(write: F) -> Lazy<F> {
    Lazy(write)
}

/// The line for `auth_permanent`: what exactly must be fixed.
fn auth_permanent(error: &ApiError) -> String {
    let reason = error.reason().unwrap_or("");
    if reason.eq_ignore_ascii_case("ACCESS_TOKEN_SCOPE_INSUFFICIENT") {
        let service = error
            .envelope()
            .into_iter()
            .flat_map(|e| &e.details)
            .find_map(|detail| match detail {
                super::Detail::ErrorInfo { metadata, .. } => metadata.get("service"),
                _ => None,
            })
            .map(String::as_str)
            .or(error.domain())
            .unwrap_or("");
        if service.contains("generativelanguage") {
            return "The access token lacks the Gemini API's scope (https://www.googleapis.com/auth/generative-language.retriever); sign in with `codeassist login --target gemini-api`, or use an API key".to_owned();
        }
        return "The access token lacks a scope this call needs (ACCESS_TOKEN_SCOPE_INSUFFICIENT); sign in again granting it".to_owned();
    }
    let key_invalid = Said::with(error.google_message().unwrap_or(""), |said| {
        said.has(Phrase::ApiKeyNotValid)
    });
    if reason.eq_ignore_ascii_case("API_KEY_INVALID") || key_invalid {
        return "The API key is not valid (API_KEY_INVALID); check the key configured".to_owned();
    }
    let Some(oauth) = error.oauth() else {
        return "The OAuth server refused the saved sign-in; sign in again".to_owned();
    };
    if oauth.subtype.as_deref().map(str::trim) == Some("invalid_rapt") {
        return "Your organisation requires you to sign in again (invalid_rapt)".to_owned();
    }
    let description = oauth
        .description
        .as_deref()
        .map(|d| format!(": {}", sanitize(d, 120)))
        .unwrap_or_default();
    format!(
        "The OAuth server refused the saved sign-in ({}{description}); sign in again",
        Clean(&oauth.error)
    )
}

/// A 400 saying Gemini does not serve the caller's location.
fn location_refused(error: &ApiError) -> bool {
    Said::with(error.google_message().unwrap_or(""), |said| {
        said.any(&[Phrase::LocationNotSupported, Phrase::NotAvailableInCountry])
    })
}

/// Formats a delay the way people read it: `30s`, `1.5s`, `900ms`, `5m 0s`.
pub fn format_delay(delay: Duration) -> String {
    Delay(delay).to_string()
}

/// A delay written the way [`format_delay`] says, straight into a line.
struct Delay(Duration);

impl fmt::Display for Delay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        // In u64 (u128 division is slow); saturates only past 500 million years.
        let millis = secs
            .saturating_mul(1000)
            .saturating_add(u64::from(self.0.subsec_millis()));
        if millis < 1000 {
            write!(f, "{millis}ms")
        } else if secs < 120 {
            // Tenths of a second, rounded half up, in integers (no float formatting).
            let tenths = (millis + 50) / 100;
            match tenths % 10 {
                0 => write!(f, "{}s", tenths / 10),
                fraction => write!(f, "{}.{fraction}s", tenths / 10),
            }
        } else if secs < 7200 {
            write!(f, "{}m {}s", secs / 60, secs % 60)
        } else {
            write!(f, "{}h {}m", secs / 3600, secs % 3600 / 60)
        }
    }
}

/// A short, sanitised excerpt of a body for unknown shapes: HTML tags and
/// `<script>`/`<style>` contents are dropped, whitespace collapsed.
pub(crate) fn excerpt(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(8 * 1024)];
    let text = super::model::lossy_utf8(head);
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return None;
    }
    let plain = if text.starts_with('<') {
        strip_tags(text)
    } else {
        text.to_owned()
    };
    let cleaned = sanitize(&plain, MAX_EXCERPT);
    (!cleaned.is_empty()).then_some(cleaned)
}

fn strip_tags(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        out.push(' ');
        let tag = &rest[open..];
        let skip_to = if starts_with_ignore_case(tag, "<script") {
            find_ignore_case(tag, "</script>").map(|at| at + "</script>".len())
        } else if starts_with_ignore_case(tag, "<style") {
            find_ignore_case(tag, "</style>").map(|at| at + "</style>".len())
        } else {
            tag.find('>').map(|at| at + 1)
        };
        match skip_to {
            Some(at) => rest = &tag[at..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// True when `text` starts with `prefix` (ASCII, any case).
fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Where `needle` (ASCII) first starts in `text`, in any case. Always on a character
/// boundary: a match starts with the needle's ASCII `<`.
fn find_ignore_case(text: &str, needle: &str) -> Option<usize> {
    text.as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A body whose every part that reaches a line (message, model, project, links,
    /// reason) is `part`, for the class that `status` and `reason` lead to.
    fn hostile_body(reason: &str, part: &str) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"error": {
            "code": 400,
            "message": part,
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": reason,
                "metadata": {
                    "model": part,
                    "consumer": part,
                    "activationUrl": format!("https://x.test/{part}"),
                    "appeal_url": format!("https://x.test/{part}"),
                    "validation_url": format!("https://x.test/{part}"),
                },
            }],
        }}))
        .unwrap_or_default()
    }

    proptest! {
        /// Each outside part is sanitised where it enters a line, not the whole line:
        /// whatever the parts hold, in every line, the result is still one line within
        /// the bound, without a planted token or a bidirectional control.
        #[test]
        fn every_line_is_clean_whatever_its_parts(
            part in "([a-z .:=/-]|ya29\\.PLANTED| Bearer PLANTED|\n|\r|\t|\u{202e}|é|models/){0,60}",
            status in prop::sample::select(vec![
                400u16, 401, 402, 403, 404, 408, 413, 429, 499, 500, 501, 503,
            ]),
            reason in prop::sample::select(vec![
                "", "SERVICE_DISABLED", "TOS_VIOLATION", "VALIDATION_REQUIRED",
                "MODEL_CAPACITY_EXHAUSTED", "QUOTA_EXHAUSTED", "BILLING_DISABLED",
                "API_KEY_INVALID", "SECURITY_POLICY_VIOLATED",
            ]),
        ) {
            let headers = http::HeaderMap::new();
            // An OAuth token-endpoint error puts its own fields in the line.
            let oauth = serde_json::to_vec(&serde_json::json!({
                "error": part, "error_description": part, "error_subtype": part,
            }))
            .unwrap_or_default();
            for body in [hostile_body(reason, &part), oauth] {
                let error = ApiError::from_parts(status, &headers, &body, std::time::UNIX_EPOCH);
                let line = error.message();
                prop_assert!(line.chars().count() <= MAX_MESSAGE, "{}", line);
                prop_assert!(!line.contains(['\n', '\r', '\t', '\u{202e}']), "{:?}", line);
                prop_assert!(!line.contains("PLANTED"), "{}", line);
            }
        }

    }

    #[test]
    fn html_excerpts_lose_their_tags() {
        let html = b"<html><head><title>502 Bad Gateway</title><style>body{}</style></head><body><h1>Bad Gateway</h1><script>x()</script></body></html>";
        assert_eq!(excerpt(html).unwrap(), "502 Bad Gateway Bad Gateway");
        let shouting = b"<HTML><Style>p{}</STYLE><SCRIPT>x()</Script><p>Gone</p></HTML>";
        assert_eq!(excerpt(shouting).unwrap(), "Gone");
        // A script never closed hides the rest; a tag never closed ends the text.
        assert_eq!(excerpt(b"<p>Up</p><script>x() and more").unwrap(), "Up");
        assert_eq!(excerpt(b"<p>Up</p><a href=").unwrap(), "Up");
        assert_eq!(excerpt(b"   "), None);
    }

    #[test]
    fn delays_read_naturally() {
        assert_eq!(format_delay(Duration::from_millis(900)), "900ms");
        assert_eq!(format_delay(Duration::from_secs(30)), "30s");
        assert_eq!(format_delay(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_delay(Duration::from_secs(301)), "5m 1s");
        assert_eq!(format_delay(Duration::from_secs(7300)), "2h 1m");
    }
}
