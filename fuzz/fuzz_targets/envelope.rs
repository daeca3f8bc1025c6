//! Any status, headers and body through parse + classify + human message.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::ApiError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // First two bytes: the status; next byte: how many bytes form a Retry-After value.
    let (status, rest) = match data {
        [a, b, rest @ ..] => (100 + u16::from_be_bytes([*a, *b]) % 500, rest),
        _ => (429, data),
    };
    let (retry_after, body) = match rest {
        [n, rest @ ..] => rest.split_at((*n as usize).min(rest.len())),
        [] => (&[][..], rest),
    };
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_bytes(retry_after) {
        headers.insert(http::header::RETRY_AFTER, value);
    }
    let error = ApiError::from_parts(status, &headers, body, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let message = error.message();
    assert!(message.chars().count() <= 300);
    assert!(!message.contains('\n'));
    for (at, _) in message.match_indices("ya29.") {
        let next = message[at + 5..].chars().next();
        assert!(!next.is_some_and(|c| c.is_ascii_alphanumeric()), "token leaked: {message}");
    }
    if let Some(delay) = error.retry_delay() {
        assert!(delay <= codeassist_core::error::MAX_PLAUSIBLE_DELAY);
    }
});
