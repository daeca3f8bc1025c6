//! Outside text made safe to show: one line, no secret, bounded.
//!
//! Every room that puts text from outside (a body, a header, a file, a URL, an
//! environment value) into an error, a log line or a terminal passes it through
//! [`sanitize`]: control characters and runs of whitespace become single spaces,
//! bidirectional controls are dropped, anything shaped like a credential is
//! [`redact_secrets`]-ed, and the result is cut to a bound with an ellipsis. A leaf:
//! it depends on no other room of the crate.

use std::borrow::Cow;

/// Makes text safe to show: one line, secrets redacted, at most `max_chars` characters
/// (an ellipsis marks a cut).
pub fn sanitize(text: &str, max_chars: usize) -> String {
    sanitized(text, max_chars).unwrap_or_else(|| text.to_owned())
}

/// A line cut to at most `max_chars` characters (an ellipsis marks a cut); kept as it
/// is when short enough.
pub(crate) fn bounded(line: String, max_chars: usize) -> String {
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
pub(crate) fn sanitized(text: &str, max_chars: usize) -> Option<String> {
    // Invisible characters go first: `ya29.\u{202e}abc` is a token once shown.
    let visible: Cow<'_, str> = match text.chars().any(is_invisible) {
        true => Cow::Owned(text.chars().filter(|c| !is_invisible(*c)).collect()),
        false => Cow::Borrowed(text),
    };
    let redacted = redacted(&visible);
    if matches!(redacted, Cow::Borrowed(_))
        && matches!(visible, Cow::Borrowed(_))
        && is_one_clean_line(text, max_chars)
    {
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

/// True for the characters a terminal does not show but that change how a line reads:
/// the bidirectional controls (a line holding them can read differently from what it
/// holds) and the zero-width characters. Shown text drops them, before redaction, so a
/// token split by one is still found.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
        | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// True when `text` is one word a terminal shows as it is: not empty, and without
/// control characters (C0, DEL, C1), whitespace of any kind, or bidirectional controls.
pub fn is_one_word(text: &str) -> bool {
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || is_invisible(c))
}

/// True for an email address fit to keep and show: one word ([`is_one_word`]) of at
/// most 320 bytes with an `@` that is neither first nor last.
pub fn is_email(text: &str) -> bool {
    text.len() <= 320
        && is_one_word(text)
        && text
            .rfind('@')
            .is_some_and(|at| at > 0 && at + 1 < text.len())
}

/// Replaces anything that looks like a credential with `[redacted]`: `Bearer …`,
/// Google access tokens (`ya29.…`), refresh tokens (`1//…`), authorization codes
/// (`4/0A…`), API keys (`AIza…`, `AQ.…`), OAuth client secrets (`GOCSPX-…`), each
/// also URL-encoded once or twice, and the values of `access_token`,
/// `refresh_token`, `id_token`, `client_secret`, `code_verifier`, `api_key` and
/// `assertion` (in JSON, `key: value` or form encoding, the `=` encoded or not) and of
/// a `key=` or `code=` query parameter.
pub fn redact_secrets(text: &str) -> String {
    redacted(text).into_owned()
}

/// A token-shaped secret: a marker (ASCII, matched in any case), and how many token
/// characters must follow it to make one.
struct Marker {
    text: &'static str,
    least: usize,
    /// Counts anywhere (`ya29.` is distinctive enough), not only at a word's start.
    anywhere: bool,
    /// The marker stays and only what follows goes (`Bearer [redacted]`).
    keep: bool,
}

const fn marker(text: &'static str, least: usize) -> Marker {
    Marker {
        text,
        least,
        anywhere: false,
        keep: false,
    }
}

const MARKERS: [Marker; 14] = [
    Marker {
        keep: true,
        ..marker("bearer ", 1)
    },
    Marker {
        anywhere: true,
        ..marker("ya29.", 1)
    },
    Marker {
        anywhere: true,
        ..marker("ya29%2e", 1)
    },
    Marker {
        anywhere: true,
        ..marker("ya29%252e", 1)
    },
    marker("1//", 8),
    marker("1%2f%2f", 8),
    marker("1%252f%252f", 8),
    marker("4/0a", 8),
    marker("4%2f0a", 8),
    marker("4%252f0a", 8),
    marker("aiza", 26),
    // Gemini API and Vertex Express keys of 2026.
    marker("aq.", 16),
    marker("aq%2e", 16),
    // OAuth client secrets.
    marker("gocspx-", 8),
];

/// Keys whose value is a secret, at the start of a word, with the separators that
/// make what follows their value.
const KEYS: [(&str, Separators); 9] = [
    ("access_token", Separators::Any),
    ("refresh_token", Separators::Any),
    ("id_token", Separators::Any),
    ("client_secret", Separators::Any),
    ("code_verifier", Separators::Any),
    ("api_key", Separators::Any),
    ("assertion", Separators::Any),
    // Query parameters: `?key=…` (an API key), `code=…` (an authorization code). Only
    // after `=`: "key: value" and "code: 400" are prose and error codes.
    ("key", Separators::Equals),
    ("code", Separators::Equals),
];

/// The bytes a marker or key starts with, in either case.
const FIRST_BYTES: [bool; 256] = {
    const fn mark(table: &mut [bool; 256], pattern: &str) {
        let first = pattern.as_bytes()[0];
        table[first.to_ascii_lowercase() as usize] = true;
        table[first.to_ascii_uppercase() as usize] = true;
    }
    let mut table = [false; 256];
    let mut i = 0;
    while i < MARKERS.len() {
        mark(&mut table, MARKERS[i].text);
        i += 1;
    }
    let mut i = 0;
    while i < KEYS.len() {
        mark(&mut table, KEYS[i].0);
        i += 1;
    }
    table
};

/// Which separators make the text after a key its value.
#[derive(Clone, Copy, PartialEq)]
enum Separators {
    /// `:` or `=` (JSON, YAML, forms), encoded or not.
    Any,
    /// `=` only, encoded or not.
    Equals,
}

/// True when the byte at `i` starts a word: the start of the text, after a byte that
/// is not a letter, digit or `_`, or after a URL-encoded byte (`%22access_token`,
/// `%26code`).
fn word_starts(bytes: &[u8], i: usize) -> bool {
    let after_encoded = i >= 3
        && bytes[i - 3] == b'%'
        && bytes[i - 2].is_ascii_hexdigit()
        && bytes[i - 1].is_ascii_hexdigit();
    i == 0 || after_encoded || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')
}

/// True when `bytes[at..]` starts with `what` (ASCII, any case).
fn starts_with_at(bytes: &[u8], at: usize, what: &str) -> bool {
    bytes
        .get(at..at + what.len())
        .is_some_and(|here| here.eq_ignore_ascii_case(what.as_bytes()))
}

/// [`redact_secrets`], borrowing the text when it holds nothing to redact (as most
/// messages do). Every position is tried against every pattern: plain, and fast
/// enough for the short texts it sees.
fn redacted(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // Everything before `copied` is in `out` already.
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match secret_at(bytes, i) {
            Some((start, end)) => {
                out.push_str(&text[copied..start]);
                out.push_str("[redacted]");
                copied = end;
                i = end;
            }
            None => i += 1,
        }
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The span to replace when a secret starts at `i`. Every marker and key starts with
/// an ASCII byte, so the span starts on a character boundary; it ends after ASCII
/// token characters, so it ends on one too.
fn secret_at(bytes: &[u8], i: usize) -> Option<(usize, usize)> {
    // Most bytes start no pattern: one table look-up rules them out.
    if !FIRST_BYTES[usize::from(bytes[i])] {
        return None;
    }
    let word_start = word_starts(bytes, i);
    for marker in &MARKERS {
        if (marker.anywhere || word_start) && starts_with_at(bytes, i, marker.text) {
            let start = i + marker.text.len();
            let end = token_end(bytes, start);
            if end - start >= marker.least {
                return Some((if marker.keep { start } else { i }, end));
            }
        }
    }
    if !word_start {
        return None;
    }
    KEYS.iter().find_map(|(key, separators)| {
        if !starts_with_at(bytes, i, key) {
            return None;
        }
        let value = value_after_key(bytes, i + key.len(), *separators)?;
        let end = token_end(bytes, value);
        (end > value).then_some((value, end))
    })
}

/// Where the value of a `key: value` / `key=value` / `"key": "value"` /
/// `key%3Dvalue` pair starts, when `from` (just after the key) begins such a
/// separator. A key followed by a plain word ("refresh_token in the …") is prose.
fn value_after_key(bytes: &[u8], from: usize, separators: Separators) -> Option<usize> {
    let quote = |j: usize| -> usize {
        if matches!(bytes.get(j), Some(b'"' | b'\'')) {
            j + 1
        } else if starts_with_at(bytes, j, "%22") {
            j + 3
        } else {
            j
        }
    };
    let spaces = |mut j: usize| {
        while bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        j
    };
    let j = spaces(quote(from));
    let after = if bytes.get(j) == Some(&b'=') {
        j + 1
    } else if starts_with_at(bytes, j, "%3d") {
        j + 3
    } else if starts_with_at(bytes, j, "%253d") {
        j + 5
    } else if separators == Separators::Any && bytes.get(j) == Some(&b':') {
        j + 1
    } else if separators == Separators::Any && starts_with_at(bytes, j, "%3a") {
        j + 3
    } else {
        return None;
    };
    Some(quote(spaces(after)))
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

/// Where a token that starts at `start` ends: letters, digits and the characters of
/// base64url, JWTs and URL encoding.
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The plain character-by-character form of [`sanitize`], without its fast path
    /// for ASCII runs: the two must agree on every input.
    fn sanitize_by_chars(text: &str, max_chars: usize) -> String {
        let mut out = String::new();
        let mut last_space = true;
        let visible: String = text.chars().filter(|c| !is_invisible(*c)).collect();
        for c in redact_secrets(&visible).chars() {
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

    proptest! {
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

    /// The keys, secrets and codes of 2026, as Google's bodies and echoed forms carry
    /// them: plain, URL-encoded once, or twice.
    #[test]
    fn keys_client_secrets_and_encoded_tokens_are_redacted() {
        for (text, leaked) in [
            (
                "Request failed for key AQ.Ab8RN6LmNopQrStUvWxYz0123",
                "Ab8RN6",
            ),
            (
                "GET /v1beta/models?key=AQ.Ab8RN6LmNopQrStUvWxYz0123&alt=sse",
                "Ab8RN6",
            ),
            ("GET /v1beta/models?alt=sse&key=any-key-at-all", "any-key"),
            ("the client GOCSPX-abcdefgh12345678 is unknown", "abcdefgh"),
            ("token ya29%2Ea0AfH6SMBxyz was refused", "a0AfH6"),
            ("token ya29%252Ea0AfH6SMBxyz was refused", "a0AfH6"),
            (
                "form: refresh_token%3D1%2F%2F0gAbCdEfGhIj%26client_id%3Dx",
                "0gAbCd",
            ),
            ("form: refresh_token%253D1%252F%252F0gAbCdEfGhIj", "0gAbCd"),
            (
                "grant_type=authorization_code&code=4%2F0AQlEd8xyzABCDEFG",
                "0AQlEd",
            ),
            ("echo: 4%2F0AQlEd8xyzABCDEFG", "0AQlEd"),
            ("{\"client_secret\": \"plain-words-secret\"}", "plain-words"),
            ("%22access_token%22%3A%22opaque-value%22", "opaque"),
        ] {
            let redacted = redact_secrets(text);
            assert!(!redacted.contains(leaked), "{text} -> {redacted}");
            assert!(redacted.contains("[redacted]"), "{text} -> {redacted}");
        }
        // Google's own words about keys and codes stay as they are.
        for prose in [
            "API key not valid. Please pass a valid API key.",
            "API key: expired",
            "error code: 400",
            "the code exchange failed; the key was refused",
            "aq.short",
        ] {
            assert_eq!(redact_secrets(prose), prose);
        }
    }

    proptest! {
        /// A secret of any of these shapes, planted anywhere in any text, never comes
        /// out of sanitising.
        #[test]
        fn planted_secrets_never_survive(
            before in "[a-zA-Z0-9 .,:;=&?/\"'_-]{0,30}",
            after in "([ .,;&\"']|[ .,;&][a-z ]{0,10}){0,3}",
            secret in prop::sample::select(vec![
                "ya29.PLANTEDa0AfH6", "Bearer PLANTEDtok", "1//PLANTED0gAbCd", "AIzaPLANTED0123456789abcdefghijkl",
                "AQ.PLANTEDAb8RN6LmNopQr", "GOCSPX-PLANTEDxyz1", "4/0APLANTEDxyz", "4%2F0APLANTEDxyz",
                "ya29%2EPLANTED", "1%2F%2FPLANTED0gAbCd", "key=PLANTED", "access_token=PLANTED",
                "refresh_token%3DPLANTED", "\"client_secret\": \"PLANTED\"",
            ]),
        ) {
            // A secret glued to a word before it is not at a word's start: keep a
            // separator, as text around a secret has.
            let text = format!("{before} {secret}{after}");
            let shown = sanitize(&text, 10_000);
            prop_assert!(!shown.contains("PLANTED"), "{} -> {}", text, shown);
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

    /// A token split by an invisible character is still a token once shown: it is
    /// found and redacted (the fuzzer found `ya29.` + U+202E + the rest).
    #[test]
    fn tokens_split_by_invisible_characters_are_redacted() {
        for split in [
            "ya29.\u{202e}ARWke-token",
            "ya29\u{200b}.ARWke-token",
            "Bearer \u{feff}ARWke",
        ] {
            let shown = sanitize(&format!("header {split} end"), 200);
            assert!(!shown.contains("ARWke"), "{split:?} -> {shown}");
        }
    }

    #[test]
    fn bidirectional_controls_are_dropped() {
        assert_eq!(
            sanitize("pay \u{202E}gpj.exe\u{202C} now", 100),
            "pay gpj.exe now"
        );
    }
}
