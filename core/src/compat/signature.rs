//! Thought signatures carried inside tool call ids, for clients that drop every field
//! they do not know but must return a call's id with its result.
//!
//! ```text
//!  id = {prefix}{n}_ts_{signature as base64url}     signature = the bytes Gemini sent
//! ```
//!
//! The signature Gemini sends is base64; the id holds the same bytes as base64url
//! without padding (letters, digits, `-` and `_` only, as Anthropic requires of ids).
//! Reading it back gives Gemini's base64 again; a signature the client returns in the
//! wire's own field is compared as the bytes it encodes, whatever its alphabet.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// What separates the id's own part from the signature.
const SEPARATOR: &str = "_ts_";

/// A tool call id: `{prefix}{n}`, with the signature appended when there is one (and
/// it is base64, as Gemini's are).
pub fn tool_call_id(prefix: &str, n: usize, signature: Option<&str>) -> String {
    let bytes = signature.and_then(decode);
    match bytes {
        Some(bytes) => format!("{prefix}{n}{SEPARATOR}{}", URL_SAFE_NO_PAD.encode(bytes)),
        None => format!("{prefix}{n}"),
    }
}

/// The signature an id carries, as Gemini's base64; `None` when it carries none.
pub fn signature_from_id(id: &str) -> Option<String> {
    let (_, encoded) = id.split_once(SEPARATOR)?;
    let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
    (!bytes.is_empty()).then(|| STANDARD.encode(bytes))
}

/// A signature as a client returned it (base64 or base64url, padded or not), as
/// Gemini's base64; a value that is no base64 at all is passed on as it is.
pub fn normalize(signature: &str) -> String {
    if signature == super::SKIP_SIGNATURE {
        return signature.to_owned();
    }
    match decode(signature) {
        Some(bytes) => STANDARD.encode(bytes),
        None => signature.to_owned(),
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim().trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed.replace('+', "-").replace('/', "_"))
        .ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_survives_the_id_and_any_alphabet() {
        let signature = "CiQB0e2Kb+/xZ9w=";
        let id = tool_call_id("call_", 0, Some(signature));
        assert!(id.starts_with("call_0_ts_"));
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
        assert_eq!(signature_from_id(&id).as_deref(), Some(signature));
        assert_eq!(normalize("CiQB0e2Kb-_xZ9w"), signature);
        assert_eq!(tool_call_id("call_", 3, None), "call_3");
        assert_eq!(signature_from_id("call_3"), None);
        assert_eq!(signature_from_id("call_3_ts_!!"), None);
        assert_eq!(
            normalize("skip_thought_signature_validator"),
            "skip_thought_signature_validator"
        );
    }
}
