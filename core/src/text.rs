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

    proptest! {
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
