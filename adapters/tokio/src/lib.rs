//! `codeassist-tokio`: runs every `codeassist-core` flow on hyper 1 and tokio.
//!
//! - [`AsyncDriver`]: the one async driver loop (hyper-util's pooled client with
//!   rustls, HTTP/2 over ALPN with HTTP/1.1 as the fallback, the system's trust roots
//!   plus an extra CA bundle, proxies as curl reads them; `tokio::time::sleep` for
//!   waits);
//! - [`CallbackListener`]: the tokio localhost OAuth callback listener;
//! - [`AsyncDriver::stream`]: streamed answers, item by item as frames arrive;
//! - [`Client`]: sign-in, `access_token()`, `project()`, `quota()`; `Send + Sync`, cheap
//!   to clone, with one shared refresh for concurrent callers.
//!
//! ```no_run
//! # async fn example() -> Result<(), codeassist_tokio::ClientError> {
//! use codeassist_core::oauth::OAuthClient;
//! use codeassist_tokio::Client;
//!
//! let client = Client::builder(OAuthClient::new("id.apps.googleusercontent.com", "secret")).build()?;
//! let token = client.access_token().await?;
//! let project = client.project().await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod driver;
mod listener;
mod proxy;
mod stream;

pub use client::Client;
pub use codeassist_core::oauth::Logout;
pub use codeassist_runtime::{ClientBuilder, ClientError, LoginOptions};
pub use driver::{AsyncDriver, DEFAULT_MAX_BODY, DriverConfig, MAX_STREAM};
pub use listener::{
    Callback, CallbackListener, CallbackWaitError, DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT,
    MAX_CALLBACK_CONNECTIONS, RejectedPasteHook, WaitOptions,
};
pub use stream::AsyncResponseStream;

/// The OS random source (`getrandom`), infallible as core's APIs want it.
pub fn os_random() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}
