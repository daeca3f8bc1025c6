//! The Gemini wire itself, for a gateway that passes Gemini requests through: its
//! error envelope (what google-genai raises typed errors from) for Google's errors and
//! for the gateway's own.

use serde_json::json;

pub use super::ErrorReply;
use super::{Fault, fault_of, retry_after_secs};

/// The canonical status name of an HTTP status, as Google's envelope spells it.
fn status_name(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        413 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// Any failed call in Google's envelope: Google's own status and status name kept,
/// our one-line message (Google's facts in it, no secret).
pub fn failure_reply(error: &crate::Error) -> ErrorReply {
    match fault_of(error) {
        Fault::Google(api) => {
            let status = api
                .http_status()
                .filter(|s| (400..600).contains(s))
                .unwrap_or(502);
            let name = api
                .status()
                .filter(|s| crate::text::is_one_word(s))
                .unwrap_or_else(|| status_name(status));
            ErrorReply {
                status,
                retry_after: retry_after_secs(api.retry_delay()),
                body: json!({"error": {"code": status, "message": api.message(), "status": name}}),
            }
        }
        Fault::Gateway { status, message } => reply(status, &message),
    }
}

/// An error of the gateway itself (`status`, one line).
pub fn reply(status: u16, message: &str) -> ErrorReply {
    ErrorReply {
        status,
        retry_after: None,
        body: json!({"error": {"code": status, "message": message, "status": status_name(status)}}),
    }
}
