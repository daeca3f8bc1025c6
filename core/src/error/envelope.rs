//! Reading Google's error envelope (`google.rpc.Status` in JSON) out of any body.
//!
//! Accepted shapes, tried in this order:
//! 1. a JSON object `{"error": {...}}` (or an OAuth token-endpoint error
//!    `{"error": "invalid_grant", "error_description": ...}`);
//! 2. a JSON array whose first object with an `error` key is the envelope;
//! 3. a server-sent-events stream: the first `data:` event carrying an `error`;
//! 4. truncated JSON: the fields that can still be read (`code`, `status`, `message`,
//!    `reason`, `retryDelay`, `model`) are salvaged;
//! 5. anything else (HTML from a proxy, plain text, empty, binary) is no envelope, and
//!    the caller keeps a sanitised excerpt instead.
//!
//! An `error.message` that itself holds a JSON envelope as a string is unwrapped (at
//! most [`MAX_NESTING`] levels). Every string kept is capped, and so is the number of
//! details, so a huge body cannot make the parsed value huge.

use std::collections::BTreeMap;

use serde_json::Value;

use super::delay::parse_protobuf_duration;
use super::model::{
    Detail, Envelope, MAX_ITEMS, MAX_PARSED_BODY, OAuthError, ParsedBody, cap, lossy_utf8,
};
use super::wire;

/// How many times an `error.message` holding another envelope is unwrapped.
pub const MAX_NESTING: usize = 3;

/// Reads whatever error a body holds. Never fails: an unreadable body yields an empty
/// [`ParsedBody`].
pub(crate) fn parse_body(body: &[u8]) -> ParsedBody {
    let body = &body[..body.len().min(MAX_PARSED_BODY)];
    let text = lossy_utf8(body);
    let text = text.trim_start_matches('\u{feff}').trim();
    if text.is_empty() {
        return ParsedBody::default();
    }
    if text.starts_with('{') || text.starts_with('[') {
        return match wire::parse(text) {
            Ok(parsed) => unwrap_nested(parsed, 0),
            Err(_) => ParsedBody {
                envelope: salvage(text),
                oauth: None,
            },
        };
    }
    if let Some(parsed) = from_sse(text) {
        return parsed;
    }
    from_form(text).unwrap_or_default()
}

/// A token-endpoint error sent form-encoded (`error=invalid_grant&error_description=…`).
fn from_form(text: &str) -> Option<ParsedBody> {
    if !text.starts_with("error=") || text.contains(char::is_whitespace) {
        return None;
    }
    let mut oauth = OAuthError {
        error: String::new(),
        description: None,
        subtype: None,
    };
    for (key, value) in url::form_urlencoded::parse(text.as_bytes()) {
        match key.as_ref() {
            "error" => oauth.error = cap(&value),
            "error_description" => oauth.description = Some(cap(&value)),
            "error_subtype" => oauth.subtype = Some(cap(&value)),
            _ => {}
        }
    }
    (!oauth.error.is_empty()).then_some(ParsedBody {
        envelope: None,
        oauth: Some(oauth),
    })
}

fn from_sse(text: &str) -> Option<ParsedBody> {
    let mut data = String::new();
    let mut saw_data = false;
    // A trailing empty line ends the last event.
    for line in text.lines().chain(std::iter::once("")) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            if !data.is_empty() {
                if let Some(parsed) = event_error(&data) {
                    return Some(parsed);
                }
                data.clear();
            }
        } else if let Some(rest) = line.strip_prefix("data:") {
            saw_data = true;
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    saw_data.then(ParsedBody::default)
}

/// The error one event's data holds. A corrupted stream can leave lines holding only
/// `,` inside the JSON (the separators of a streamed array): read without them when
/// the data does not parse as it is.
fn event_error(data: &str) -> Option<ParsedBody> {
    let parsed = match wire::parse(data) {
        Ok(parsed) => parsed,
        Err(_) if data.lines().any(|line| line.trim() == ",") => {
            let cleaned: Vec<&str> = data.lines().filter(|line| line.trim() != ",").collect();
            wire::parse(&cleaned.join("\n")).ok()?
        }
        Err(_) => return None,
    };
    let parsed = unwrap_nested(parsed, 0);
    (parsed.envelope.is_some() || parsed.oauth.is_some()).then_some(parsed)
}

/// Replaces an envelope whose `error.message` is itself an envelope by the inner one
/// (the outer fills what the inner lacks), at most [`MAX_NESTING`] levels deep.
fn unwrap_nested(mut parsed: ParsedBody, depth: usize) -> ParsedBody {
    let Some(outer) = parsed.envelope.take() else {
        return parsed;
    };
    let inner = match outer.message.as_deref().map(str::trim) {
        Some(message)
            if depth < MAX_NESTING && (message.starts_with('{') || message.starts_with('[')) =>
        {
            wire::parse(message)
                .ok()
                .map(|inner| unwrap_nested(inner, depth + 1))
                .and_then(|inner| inner.envelope)
        }
        _ => None,
    };
    parsed.envelope = Some(match inner {
        Some(inner) => merge(outer, inner),
        None => outer,
    });
    parsed
}

/// The inner envelope wins field by field; the outer one fills what it lacks.
fn merge(outer: Envelope, inner: Envelope) -> Envelope {
    let mut details = inner.details;
    details.extend(outer.details);
    details.truncate(MAX_ITEMS);
    let mut errors = inner.errors;
    errors.extend(outer.errors);
    errors.truncate(MAX_ITEMS);
    Envelope {
        code: inner.code.or(outer.code),
        status: inner.status.or(outer.status),
        message: inner.message.or(outer.message),
        details,
        errors,
        salvaged: inner.salvaged || outer.salvaged,
    }
}

/// Reads what it can from a JSON body that was cut off.
fn salvage(text: &str) -> Option<Envelope> {
    let status = string_values(text, "status").next();
    let message = string_values(text, "message").next();
    let code = number_value(text, "code");
    let mut details: Vec<Detail> = string_values(text, "reason")
        .take(MAX_ITEMS / 2)
        .map(|reason| {
            let mut metadata = BTreeMap::new();
            if let Some(model) = string_values(text, "model").next() {
                metadata.insert("model".to_owned(), model);
            }
            Detail::ErrorInfo {
                reason: Some(reason),
                domain: None,
                metadata,
            }
        })
        .collect();
    if let Some(delay) = string_values(text, "retryDelay").next() {
        details.push(Detail::RetryInfo {
            retry_delay: parse_protobuf_duration(&Value::String(delay)),
        });
    }
    if status.is_none() && message.is_none() && code.is_none() && details.is_empty() {
        return None;
    }
    Some(Envelope {
        code,
        status,
        message,
        details,
        errors: Vec::new(),
        salvaged: true,
    })
}

/// Every complete string value of `"key": "..."` in `text`.
fn string_values<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = String> + 'a {
    let needle_len = key.len() + 2;
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            let at = find_key(rest, key)?;
            let after = &rest[at + needle_len..];
            rest = after;
            let after = after.trim_start();
            let Some(after) = after.strip_prefix(':') else {
                continue;
            };
            let after = after.trim_start();
            let Some(after) = after.strip_prefix('"') else {
                continue;
            };
            if let Some(value) = read_json_string(after) {
                return Some(cap(&value));
            }
        }
    })
}

fn number_value(text: &str, key: &str) -> Option<u16> {
    let at = find_key(text, key)?;
    let after = text[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .ok()
        .filter(|code| (100..=599).contains(code))
}

fn find_key(text: &str, key: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(found) = text[from..].find(key) {
        let at = from + found;
        if at > 0 && text[..at].ends_with('"') && text[at + key.len()..].starts_with('"') {
            return Some(at - 1);
        }
        from = at + key.len();
    }
    None
}

/// The decoded content of a JSON string whose opening quote was already consumed, if
/// its closing quote is present.
fn read_json_string(after_quote: &str) -> Option<String> {
    let mut escaped = false;
    for (index, c) in after_quote.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => {
                let literal = &after_quote[..=index];
                return serde_json::from_str::<String>(&format!("\"{literal}")).ok();
            }
            _ => {}
        }
    }
    None
}
