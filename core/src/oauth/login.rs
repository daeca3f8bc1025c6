//! What a sign-in asks of a runtime: options shared by the blocking and async clients.
//!
//! The types are plain data; the adapters do the listening, reading and waiting.

use std::io::Read;
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

/// Told about each pasted line that was not usable.
pub type RejectedPasteHook = Box<dyn Fn(&CallbackError) + Send + Sync>;

/// How a listener waits for the browser.
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// A reader of pasted lines (stdin in a CLI), raced against the browser. Each line
    /// may be the redirected URL, its query, or the bare code. Its end does not stop
    /// the wait: the browser may still come back.
    pub paste: Option<Box<dyn Read + Send>>,
    /// Told about each pasted line that was not usable (a wrong state, no code).
    pub on_rejected_paste: Option<RejectedPasteHook>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_LOGIN_TIMEOUT,
            paste: None,
            on_rejected_paste: None,
        }
    }
}

impl WaitOptions {
    /// Reads one pasted line: the code when it is usable; otherwise (blank lines
    /// aside) tells [`WaitOptions::on_rejected_paste`] why, and the wait goes on.
    pub fn accept_paste(&self, line: &str, expected_state: &str) -> Option<crate::Secret> {
        if line.trim().is_empty() {
            return None;
        }
        match super::parse_callback(line, expected_state) {
            Ok(code) => Some(code),
            Err(rejected) => {
                tracing::warn!(error = %rejected, "pasted sign-in not usable");
                if let Some(report) = &self.on_rejected_paste {
                    report(&rejected);
                }
                None
            }
        }
    }
}

impl std::fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("paste", &self.paste.is_some())
            .finish_non_exhaustive()
    }
}

/// How a client's `login` runs.
#[non_exhaustive]
pub struct LoginOptions {
    /// The callback port (a free one is used when it is busy; `0` always picks one).
    pub port: u16,
    /// Called with the authorization URL: print it, open a browser.
    pub on_url: Box<dyn FnOnce(&str) + Send>,
    /// How to wait for the browser.
    pub wait: WaitOptions,
}

impl LoginOptions {
    /// Default port and timeout; `on_url` receives the URL to open.
    pub fn new(on_url: impl FnOnce(&str) + Send + 'static) -> Self {
        Self {
            port: DEFAULT_PORT,
            on_url: Box::new(on_url),
            wait: WaitOptions::default(),
        }
    }
}

impl std::fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOptions")
            .field("port", &self.port)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
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
