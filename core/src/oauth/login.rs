//! What a sign-in and a sign-out mean to a runtime: the defaults, how a pasted line
//! is judged, and what a logout did. The runtimes do the listening, reading and
//! waiting (their options live beside their clients).

use std::time::Duration;

use super::CallbackError;

/// The port Google's installed-app examples use.
pub const DEFAULT_PORT: u16 = 8085;
/// How long a sign-in may take by default.
pub const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(300);
/// Most connections a callback listener serves at once; more are dropped unanswered.
/// Each is served on its own, so one that sends nothing (a browser's speculative
/// preconnect) never holds up the callback.
pub const MAX_CALLBACK_CONNECTIONS: usize = 16;

/// Judges one pasted line (the redirected URL, its query, or the bare code): `None`
/// for a blank line, else the code or why it is not usable. A runtime reads the
/// lines; this decides what they mean.
pub fn judge_paste(
    line: &str,
    expected_state: &str,
    issuers: &[String],
) -> Option<Result<crate::Secret, CallbackError>> {
    if line.trim().is_empty() {
        return None;
    }
    Some(super::parse_callback(line, expected_state, issuers))
}

/// What a client's `logout` did.
#[derive(Debug)]
#[non_exhaustive]
pub struct Logout {
    /// Whether anyone was signed in.
    pub was_signed_in: bool,
    /// The revocation's failure, if it failed (the credentials are deleted anyway).
    pub revocation_error: Option<crate::Error>,
}

impl Logout {
    /// A logout with these facts.
    pub fn new(was_signed_in: bool, revocation_error: Option<crate::Error>) -> Self {
        Self {
            was_signed_in,
            revocation_error,
        }
    }
}
