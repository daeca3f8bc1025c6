//! One-line human messages, and the sanitising every shown string goes through.
//!
//! A message is one line, at most [`MAX_MESSAGE`] characters, and never holds a bearer
//! token, an OAuth token or an API key, whatever the body contained.

use std::fmt::Write as _;
use std::time::Duration;

use super::ApiError;
use super::class::ErrorClass;

/// The longest message, in characters.
pub const MAX_MESSAGE: usize = 300;
/// The longest body excerpt kept for unknown shapes, in characters.
pub const MAX_EXCERPT: usize = 160;

/// Builds the human line for a classified error.
pub(crate) fn human_message(error: &ApiError) -> String {
    let model = error.model();
    let for_model = model.map(|m| format!(" for {m}")).unwrap_or_default();
    // What Google said, or failing that, an excerpt of what came back instead.
    let shown = error
        .google_message()
        .map(|m| sanitize(m, 200))
        .or_else(|| error.excerpt().map(str::to_owned));
    let said = shown
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default();
    let code = error
        .http_status()
        .map(|s| format!("HTTP {s}"))
        .unwrap_or_else(|| "no HTTP response".to_owned());
    let wait = error.retry_delay().map(format_delay);
    let project = error
        .project()
        .map(|p| format!(" for project {p}"))
        .unwrap_or_default();

    let mut line = match error.class() {
        ErrorClass::Capacity => {
            let mut line = format!(
                "Gemini capacity exhausted{} (Google-side throttle, not your quota)",
                model
                    .map(|m| format!(" for {m}"))
                    .unwrap_or_else(|| " for this model".to_owned())
            );
            match &wait {
                Some(wait) => write!(line, "; retry in {wait} or switch model"),
                None => write!(line, "; retry shortly or switch model"),
            }
            .ok();
            line
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
            model.unwrap_or("(unnamed)")
        ),
        ErrorClass::NotFound => format!("Not found ({code}){said}"),
        ErrorClass::Auth => {
            format!("Google rejected the access token ({code}); refresh it and retry")
        }
        ErrorClass::AuthPermanent => auth_permanent(error),
        ErrorClass::Permission => match (error.reason(), error.metadata_link(&["activationUrl", "activation_url"])) {
            (Some(reason), Some(url)) if reason.eq_ignore_ascii_case("SERVICE_DISABLED") => {
                format!("The API is not enabled{project}: enable it at {url}")
            }
            _ => format!("Google denied permission{project}{said}"),
        },
        ErrorClass::ValidationRequired => match error.validation_url() {
            Some(url) => format!("Verify your Google account at {url}"),
            None => format!("Google requires you to verify your account{said}"),
        },
        ErrorClass::AccountDisabled => {
            match error.metadata_link(&["appeal_url", "appealUrl"]) {
                Some(url) => format!(
                    "Google has disabled this account for this service (TOS_VIOLATION); appeal at {url}"
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
                failure.detail()
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
                oauth.error,
                oauth
                    .description
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            ),
            None => format!("Google rejected the request as invalid ({code}){said}"),
        },
        ErrorClass::Network => match error.transport() {
            Some(failure) => format!("Could not reach Google: {failure}"),
            None => "Could not reach Google".to_owned(),
        },
        ErrorClass::TransportPermanent => match error.transport() {
            Some(failure) => format!("No usable answer (trying again will not help): {failure}"),
            None => "No usable answer (trying again will not help)".to_owned(),
        },
        ErrorClass::Unknown => String::new(),
    };
    if line.is_empty() {
        // The old raw form: the status and a short excerpt of what came back.
        line = match &shown {
            Some(shown) => format!("{code}: {shown}"),
            None => format!("{code} with an empty body"),
        };
    }
    sanitize(&line, MAX_MESSAGE)
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
    let text = error.google_message().unwrap_or("").to_ascii_lowercase();
    if reason.eq_ignore_ascii_case("API_KEY_INVALID") || text.contains("api key not valid") {
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
        oauth.error
    )
}

/// A 400 saying Gemini does not serve the caller's location.
fn location_refused(error: &ApiError) -> bool {
    let text = error.google_message().unwrap_or("").to_ascii_lowercase();
    text.contains("location is not supported") || text.contains("not available in your country")
}

/// Formats a delay the way people read it: `30s`, `1.5s`, `900ms`, `5m 0s`.
pub fn format_delay(delay: Duration) -> String {
    let millis = delay.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if delay.as_secs() < 120 {
        // Tenths of a second, rounded half up, in integers (no float formatting).
        let tenths = (millis + 50) / 100;
        match tenths % 10 {
            0 => format!("{}s", tenths / 10),
            fraction => format!("{}.{fraction}s", tenths / 10),
        }
    } else if delay.as_secs() < 7200 {
        format!("{}m {}s", delay.as_secs() / 60, delay.as_secs() % 60)
    } else {
        format!(
            "{}h {}m",
            delay.as_secs() / 3600,
            delay.as_secs() % 3600 / 60
        )
    }
}

/// Makes text safe to show: one line, secrets redacted, at most `max_chars` characters
/// (an ellipsis marks a cut).
pub fn sanitize(text: &str, max_chars: usize) -> String {
    let redacted = redact_secrets(text);
    let mut out = String::with_capacity(redacted.len().min(max_chars.saturating_mul(4)));
    let mut last_space = true;
    let mut chars = 0;
    for c in redacted.chars() {
        // Bidirectional controls can make a line read differently from what it holds.
        if !c.is_ascii()
            && matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
        chars += 1;
    }
    if last_space && out.ends_with(' ') {
        out.pop();
        chars -= 1;
    }
    if chars <= max_chars {
        return out;
    }
    let mut cut: String = out.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// Replaces anything that looks like a credential with `[redacted]`: `Bearer …`,
/// Google access tokens (`ya29.…`), refresh tokens (`1//…`), API keys (`AIza…`), and
/// the values of `access_token`, `refresh_token`, `id_token`, `client_secret` and
/// `code` in JSON or form encoding.
pub fn redact_secrets(text: &str) -> String {
    // Token-shaped strings, with the least length that makes them one.
    const MARKERS: [(&str, usize); 6] = [
        ("bearer ", 1),
        ("ya29.", 1),
        ("1//", 8),
        ("1%2f%2f", 8),
        ("4/0a", 8),
        ("aiza", 26),
    ];
    const KEYS: [&str; 7] = [
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "api_key",
        "assertion",
    ];
    let bytes = text.as_bytes();
    let starts_with = |at: usize, what: &str| {
        bytes
            .get(at..at + what.len())
            .is_some_and(|here| here.eq_ignore_ascii_case(what.as_bytes()))
    };
    let mut out = String::with_capacity(text.len());
    // Everything before `copied` is in `out` already.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Every marker and key starts with one of these (ASCII, so `i` is on a
        // character boundary whenever one matches).
        if !matches!(
            bytes[i].to_ascii_lowercase(),
            b'a' | b'b' | b'c' | b'i' | b'r' | b'y' | b'1' | b'4'
        ) {
            i += 1;
            continue;
        }
        // `ya29.` is distinctive enough to redact wherever it starts; the others only
        // at the start of a word.
        let word_start = at_word_start(bytes, i);
        let marker = MARKERS
            .iter()
            .find(|(m, _)| starts_with(i, m) && (*m == "ya29." || word_start));
        let key = KEYS.iter().find(|k| word_start && starts_with(i, k));
        if let Some((marker, least)) = marker {
            let start = i + marker.len();
            let end = token_end(bytes, start);
            if end - start >= *least {
                out.push_str(&text[copied..i]);
                if *marker == "bearer " {
                    out.push_str(&text[i..start]);
                }
                out.push_str("[redacted]");
                i = end;
                copied = end;
                continue;
            }
        } else if let Some(key) = key
            && let Some(value_start) = value_after_key(bytes, i + key.len())
        {
            let end = token_end(bytes, value_start);
            if end > value_start {
                out.push_str(&text[copied..value_start]);
                out.push_str("[redacted]");
                i = end;
                copied = end;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[copied..]);
    out
}

/// Where the value of a `key: value` / `key=value` / `"key": "value"` /
/// `'key': 'value'` pair starts, when `from` (just after the key) begins such a
/// separator. A key followed by a plain word ("refresh_token in the …") is prose.
fn value_after_key(bytes: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    if matches!(bytes.get(j), Some(b'"' | b'\'')) {
        j += 1;
    }
    while bytes.get(j) == Some(&b' ') {
        j += 1;
    }
    if !matches!(bytes.get(j), Some(b':' | b'=')) {
        return None;
    }
    j += 1;
    while bytes.get(j) == Some(&b' ') {
        j += 1;
    }
    if matches!(bytes.get(j), Some(b'"' | b'\'')) {
        j += 1;
    }
    Some(j)
}

/// [`redact_secrets`], and every occurrence of the `known` secrets (a configured
/// client secret, say) wherever it stands, even as plain words.
pub fn redact_known(text: &str, known: &[&str]) -> String {
    let mut out = redact_secrets(text);
    for secret in known.iter().filter(|s| s.len() >= 6) {
        out = out.replace(secret, "[redacted]");
    }
    out
}

fn at_word_start(bytes: &[u8], i: usize) -> bool {
    i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

fn token_end(bytes: &[u8], start: usize) -> usize {
    let mut end = start;
    while end < bytes.len()
        && (bytes[end].is_ascii_alphanumeric()
            || matches!(
                bytes[end],
                b'.' | b'_' | b'-' | b'/' | b'~' | b'+' | b'=' | b'%'
            ))
    {
        end += 1;
    }
    end
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
        let lower_tag: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_to = if lower_tag.starts_with("<script") {
            tag.to_ascii_lowercase()
                .find("</script>")
                .map(|at| at + "</script>".len())
        } else if lower_tag.starts_with("<style") {
            tag.to_ascii_lowercase()
                .find("</style>")
                .map(|at| at + "</style>".len())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_credentials() {
        let cases = [
            (
                "Authorization: Bearer ya29.a0AfH6SMBx-abc",
                "Authorization: Bearer [redacted]",
            ),
            ("token ya29.secret.value here", "token [redacted] here"),
            ("glued 36ya29.00 on", "glued 36[redacted] on"),
            ("refresh 1//0gABCdef-xyz end", "refresh [redacted] end"),
            (
                "key=AIzaSyA1234567890abcdefghijklmnopqrstu",
                "key=[redacted]",
            ),
            (
                r#"{"access_token": "abc.def", "x": 1}"#,
                r#"{"access_token": "[redacted]", "x": 1}"#,
            ),
            (
                "refresh_token=abc&client_secret=GOCSPX-xyz",
                "refresh_token=[redacted]&client_secret=[redacted]",
            ),
            ("nothing secret", "nothing secret"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact_secrets(input), expected, "{input}");
        }
    }

    #[test]
    fn sanitize_makes_one_bounded_line() {
        assert_eq!(sanitize("a\n\tb\r\n  c", 100), "a b c");
        let long = "x".repeat(1000);
        let cut = sanitize(&long, 300);
        assert_eq!(cut.chars().count(), 300);
        assert!(cut.ends_with('…'));
        assert_eq!(sanitize("ünïcödé", 4).chars().count(), 4);
    }

    #[test]
    fn html_excerpts_lose_their_tags() {
        let html = b"<html><head><title>502 Bad Gateway</title><style>body{}</style></head><body><h1>Bad Gateway</h1><script>x()</script></body></html>";
        assert_eq!(excerpt(html).unwrap(), "502 Bad Gateway Bad Gateway");
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

    #[test]
    fn redaction_keeps_prose_and_catches_token_shapes() {
        let prose = "no refresh_token in the code exchange; remove the app's access";
        assert_eq!(redact_secrets(prose), prose);
        for (secret, leaked) in [
            ("code=4/0AeanS0ZmB7xYkq9wTtVJZk", "4/0AeanS0Z"),
            ("refresh=1%2F%2F0gAbCdEfGhIjKlMn", "0gAbCdEfGh"),
            ("{'client_secret': 'GOCSPX-abcdef123'}", "GOCSPX"),
            ("\"access_token\": \"opaque-token-value\"", "opaque"),
            ("refresh_token=1//abc", "1//abc"),
        ] {
            let redacted = redact_secrets(secret);
            assert!(!redacted.contains(leaked), "{secret} -> {redacted}");
            assert!(redacted.contains("[redacted]"), "{secret} -> {redacted}");
        }
        assert_eq!(
            redact_known(
                "the client secret is hunter2-secret, see",
                &["hunter2-secret"]
            ),
            "the client secret is [redacted], see"
        );
    }

    #[test]
    fn bidirectional_controls_are_dropped() {
        assert_eq!(
            sanitize("pay \u{202E}gpj.exe\u{202C} now", 100),
            "pay gpj.exe now"
        );
    }
}
