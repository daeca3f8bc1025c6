//! One-line human messages, and the sanitising every shown string goes through.
//!
//! A message is one line, at most [`MAX_MESSAGE`] characters, and never holds a bearer
//! token, an OAuth token or an API key, whatever the body contained. A line is our
//! words with parts from outside (Google's message, a model or project name, a link,
//! an OAuth error, a transport failure): each such part is sanitised as it is written
//! into the line, and the whole line is then cut to the bound.

use std::borrow::Cow;
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

/// Makes text safe to show: one line, secrets redacted, at most `max_chars` characters
/// (an ellipsis marks a cut).
pub fn sanitize(text: &str, max_chars: usize) -> String {
    sanitized(text, max_chars).unwrap_or_else(|| text.to_owned())
}

/// A line cut to at most `max_chars` characters (an ellipsis marks a cut); kept as it
/// is when short enough.
fn bounded(line: String, max_chars: usize) -> String {
    // Fewer bytes than the bound: fewer characters too, without counting them.
    if line.len() <= max_chars {
        return line;
    }
    let chars = line.chars().count();
    if chars <= max_chars {
        return line;
    }
    ellipsized(&line, max_chars)
}

/// The first `max_chars - 1` characters of a too long text, trailing spaces removed,
/// and an ellipsis.
fn ellipsized(text: &str, max_chars: usize) -> String {
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

/// True when the text is already one bounded line: short enough, visible ASCII in
/// words separated by single spaces.
fn is_one_clean_line(text: &str, max_chars: usize) -> bool {
    let bytes = text.as_bytes();
    let mut last_space = true;
    for &b in bytes {
        if b == b' ' {
            if last_space {
                return false;
            }
            last_space = true;
        } else if b.is_ascii_graphic() {
            last_space = false;
        } else {
            return false;
        }
    }
    (bytes.is_empty() || !last_space) && bytes.len() <= max_chars
}

/// [`sanitize`]'s result, or `None` when that is the text itself.
fn sanitized(text: &str, max_chars: usize) -> Option<String> {
    let redacted = redacted(text);
    if matches!(redacted, Cow::Borrowed(_)) && is_one_clean_line(text, max_chars) {
        return None;
    }
    let redacted = redacted.as_ref();
    let bytes = redacted.as_bytes();
    let mut out = String::with_capacity(redacted.len().min(max_chars.saturating_mul(4)));
    let mut last_space = true;
    let mut chars = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Runs of visible ASCII, the bulk of any message, are copied whole.
        if bytes[i].is_ascii_graphic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_graphic() {
                i += 1;
            }
            out.push_str(&redacted[start..i]);
            chars += i - start;
            last_space = false;
            continue;
        }
        let Some(c) = redacted[i..].chars().next() else {
            break;
        };
        i += c.len_utf8();
        // Bidirectional controls can make a line read differently from what it holds.
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
        {
            continue;
        }
        if c.is_control() || c.is_whitespace() {
            if last_space {
                continue;
            }
            last_space = true;
            out.push(' ');
        } else {
            last_space = false;
            out.push(c);
        }
        chars += 1;
    }
    if last_space && out.ends_with(' ') {
        out.pop();
        chars -= 1;
    }
    if chars <= max_chars {
        return Some(out);
    }
    Some(ellipsized(&out, max_chars))
}

/// Replaces anything that looks like a credential with `[redacted]`: `Bearer …`,
/// Google access tokens (`ya29.…`), refresh tokens (`1//…`), API keys (`AIza…`), and
/// the values of `access_token`, `refresh_token`, `id_token`, `client_secret` and
/// `code` in JSON or form encoding.
pub fn redact_secrets(text: &str) -> String {
    redacted(text).into_owned()
}

/// Token-shaped strings: the marker, the least token length after it that makes one,
/// and whether it counts anywhere (`ya29.` is distinctive enough) rather than only at
/// the start of a word.
const MARKERS: [(&str, usize, bool); 6] = [
    ("bearer ", 1, false),
    ("ya29.", 1, true),
    ("1//", 8, false),
    ("1%2f%2f", 8, false),
    ("4/0a", 8, false),
    ("aiza", 26, false),
];

/// Keys whose value (`key: value`, `key=value`, JSON) is a secret, at the start of a
/// word.
const KEYS: [&str; 7] = [
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "code_verifier",
    "api_key",
    "assertion",
];

/// [`redact_secrets`], borrowing the text when it holds nothing to redact (as most
/// messages do).
fn redacted(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    // Built on the first redaction; until then nothing needed changing.
    let mut out = String::new();
    // Everything before `copied` is in `out` already.
    let mut copied = 0;
    let mut from = 0;
    // The class of the byte before `from` (none at the start: a word starts there).
    let mut previous = 0;
    while let Some(i) = next_candidate(bytes, from, previous) {
        let class = BYTE_CLASSES[usize::from(bytes[i])];
        let word_start = i == 0 || BYTE_CLASSES[usize::from(bytes[i - 1])] & WORD == 0;
        // The first byte rules out most patterns before any comparison of the rest.
        let first = bytes[i].to_ascii_lowercase();
        let starts_with = |at: usize, what: &str| {
            what.as_bytes().first() == Some(&first)
                && bytes
                    .get(at..at + what.len())
                    .is_some_and(|here| here.eq_ignore_ascii_case(what.as_bytes()))
        };
        let marker = MARKERS
            .iter()
            .find(|(m, _, anywhere)| starts_with(i, m) && (*anywhere || word_start));
        let key = KEYS.iter().find(|k| word_start && starts_with(i, k));
        if let Some((marker, least, _)) = marker {
            let start = i + marker.len();
            let end = token_end(bytes, start);
            if end - start >= *least {
                out.push_str(&text[copied..i]);
                if *marker == "bearer " {
                    out.push_str(&text[i..start]);
                }
                out.push_str("[redacted]");
                previous = BYTE_CLASSES[usize::from(bytes[end - 1])];
                from = end;
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
                previous = BYTE_CLASSES[usize::from(bytes[end - 1])];
                from = end;
                copied = end;
                continue;
            }
        }
        previous = class;
        from = i + 1;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
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

/// The first position at or after `from` where a marker or key may start (`ya29.`
/// anywhere, the others at the start of a word), given the class of the byte before
/// `from`. Every marker and key starts with an ASCII byte, so a position found is on a
/// character boundary.
fn next_candidate(bytes: &[u8], from: usize, mut previous: u8) -> Option<usize> {
    // An index loop: the compiler keeps it tighter than an iterator's `position`.
    let mut i = from;
    while i < bytes.len() {
        let class = BYTE_CLASSES[usize::from(bytes[i])];
        // STARTS_AT_WORD (the bit above WORD) counts only when the byte before is not
        // part of a word; written without a branch.
        if class & (STARTS_ANYWHERE | (((previous & WORD) ^ WORD) << 1)) != 0 {
            return Some(i);
        }
        previous = class;
        i += 1;
    }
    None
}

/// A byte that belongs to a word (for [`redacted`]: markers and keys count only at
/// the start of one).
const WORD: u8 = 1;
/// A byte a marker or key can start with, at the start of a word (the bit just above
/// [`WORD`]: [`next_candidate`] relies on it).
const STARTS_AT_WORD: u8 = WORD << 1;
/// A byte a marker can start with anywhere (`ya29.`).
const STARTS_ANYWHERE: u8 = 4;
/// The classes of every byte, so the scan reads one table entry per byte; the start
/// bytes come from [`MARKERS`] and [`KEYS`], in both cases.
const BYTE_CLASSES: [u8; 256] = {
    let mut classes = [0; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() || b == b'_' {
            classes[byte] = WORD;
        }
        byte += 1;
    }
    let mut i = 0;
    while i < MARKERS.len() {
        let (marker, _, anywhere) = MARKERS[i];
        let class = if anywhere {
            STARTS_ANYWHERE
        } else {
            STARTS_AT_WORD
        };
        mark_first_byte(&mut classes, marker, class);
        i += 1;
    }
    let mut i = 0;
    while i < KEYS.len() {
        mark_first_byte(&mut classes, KEYS[i], STARTS_AT_WORD);
        i += 1;
    }
    classes
};

/// Adds `class` to the first byte of `pattern`, in both cases.
const fn mark_first_byte(classes: &mut [u8; 256], pattern: &str, class: u8) {
    let first = pattern.as_bytes()[0];
    classes[first.to_ascii_lowercase() as usize] |= class;
    classes[first.to_ascii_uppercase() as usize] |= class;
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

    /// The plain character-by-character form of [`sanitize`], without its fast path
    /// for ASCII runs: the two must agree on every input.
    fn sanitize_by_chars(text: &str, max_chars: usize) -> String {
        let mut out = String::new();
        let mut last_space = true;
        for c in redact_secrets(text).chars() {
            if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
            {
                continue;
            }
            let c = if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            };
            if c == ' ' && last_space {
                continue;
            }
            last_space = c == ' ';
            out.push(c);
        }
        let out = out.trim_end().to_owned();
        if out.chars().count() <= max_chars {
            return out;
        }
        let mut cut: String = out.chars().take(max_chars - 1).collect();
        cut.truncate(cut.trim_end().len());
        cut + "…"
    }

    /// The plain form of [`redact_secrets`]: every position tried against every
    /// pattern, no table, no skipping. The two must agree on every input.
    fn redact_at_every_position(text: &str) -> String {
        let bytes = text.as_bytes();
        let at = |i: usize, what: &str| {
            bytes
                .get(i..i + what.len())
                .is_some_and(|here| here.eq_ignore_ascii_case(what.as_bytes()))
        };
        let (mut out, mut copied, mut i) = (String::new(), 0, 0);
        while i < bytes.len() {
            let word_start =
                i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
            let marker = MARKERS
                .iter()
                .find(|(m, _, anywhere)| at(i, m) && (*anywhere || word_start));
            let key = KEYS.iter().find(|k| word_start && at(i, k));
            let redact = match (marker, key) {
                (Some((marker, least, _)), _) => {
                    let start = i + marker.len();
                    let end = token_end(bytes, start);
                    let keep = if *marker == "bearer " { start } else { i };
                    (end - start >= *least).then_some((keep, end))
                }
                (None, Some(key)) => value_after_key(bytes, i + key.len())
                    .map(|start| (start, token_end(bytes, start)))
                    .filter(|(start, end)| end > start),
                (None, None) => None,
            };
            match redact {
                Some((keep, end)) => {
                    out.push_str(&text[copied..keep]);
                    out.push_str("[redacted]");
                    (copied, i) = (end, end);
                }
                None => i += 1,
            }
        }
        out + &text[copied..]
    }

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

        #[test]
        fn redaction_agrees_with_the_plain_form(
            text in "([a-z_ =:\"]|ya29\\.|Bearer |1//|4/0A|AIza|access_token|api_key|x{8}|\\.|é){0,40}",
        ) {
            prop_assert_eq!(redact_secrets(&text), redact_at_every_position(&text));
        }

        #[test]
        fn sanitize_agrees_with_the_plain_form(
            text in "([a-z ]|ya29\\.x|Bearer t|\t|\n|\u{00a0}|\u{202e}|é|☃|\u{7f}){0,80}",
            max_chars in 1usize..60,
        ) {
            prop_assert_eq!(sanitize(&text, max_chars), sanitize_by_chars(&text, max_chars));
        }
    }

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
