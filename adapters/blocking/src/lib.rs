//! `codeassist-blocking`: runs every `codeassist-core` flow on a blocking HTTP client.
//!
//! - [`BlockingDriver`]: the one driver loop (ureq 3 with rustls, HTTP/1.1; the
//!   system's trust roots plus an extra CA bundle; proxies as curl reads them): sends
//!   each request,
//!   sleeps for waits, reads the real clock, and maps transport failures (DNS,
//!   connect, TLS, timeout, reset) into the flow's transport-failure input;
//! - [`os_random`]: OS randomness for PKCE, `state` and request ids;
//! - [`CallbackListener`]: the localhost OAuth callback listener, racing a manual paste;
//! - [`BlockingDriver::stream`]: streamed answers, item by item as the bytes arrive;
//! - [`Client`]: sign-in, `access_token()`, `project()`, `quota()`, `stream()`: a thin
//!   shell that performs what `codeassist_core::client` decides.
//!
//! ```no_run
//! use codeassist_blocking::BlockingDriver;
//! use codeassist_core::oauth::{Credentials, refresh_token};
//!
//! let driver = BlockingDriver::default();
//! let credentials = Credentials::new("client-id", None, "1//refresh-token");
//! let refreshed = driver.run(refresh_token(&credentials, "https://oauth2.googleapis.com/token")?)?;
//! println!("{:?}", refreshed.expires_at);
//! # Ok::<(), codeassist_core::Error>(())
//! ```
#![forbid(unsafe_code)]

mod client;
mod driver;
mod listener;
mod random;
mod stream;

pub use client::Client;
pub use codeassist_core::oauth::Logout;
pub use codeassist_runtime::{ClientBuilder, ClientError, LoginOptions};
pub use driver::{BlockingDriver, DEFAULT_MAX_BODY, DriverConfig, MAX_STREAM, transport_error};
pub use listener::{
    CALLBACK_PATH, Callback, CallbackListener, CallbackWaitError, DEFAULT_LOGIN_TIMEOUT,
    DEFAULT_PORT, MAX_CALLBACK_CONNECTIONS, RejectedPasteHook, WaitOptions,
};
pub use random::os_random;
pub use stream::ResponseStream;

/// The README's examples, compiled (and the runnable ones run) as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
