//! `codeassist-core`: the sans-IO heart of codeassist.
//!
//! This crate knows Google's protocols (OAuth, every credential source of Application
//! Default Credentials, Code Assist, the Gemini API, Vertex AI) and nothing about I/O:
//! it opens no sockets and files, reads no clock, never sleeps and draws no OS
//! randomness. Every exchange is a [`flow::Flow`], a state machine the caller steps:
//!
//! ```text
//! loop {
//!     match flow.poll(now)? {
//!         Step::Send(request)  => flow.handle_response(transport.send(request), now),
//!         Step::Wait(duration) => sleep(duration),
//!         Step::Done(output)   => break output,
//!     }
//! }
//! ```
//!
//! The runtime crates (`codeassist-blocking`, `codeassist-tokio`, over the shared
//! `codeassist-runtime`) run that loop over a real network. Here is the whole loop written out by hand, with a closure as the
//! transport, driving a [`flow::Call`] whose first answer is a Google error:
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use codeassist_core::error::ErrorClass;
//! use codeassist_core::flow::{Call, Flow, Step};
//!
//! let transport = |request: http::Request<Vec<u8>>| {
//!     assert_eq!(request.uri(), "https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist");
//!     let body = br#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
//!         "message": "Resource has been exhausted (e.g. check quota).",
//!         "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.5s"}]}}"#;
//!     Ok(http::Response::builder().status(429).body(body.to_vec()).unwrap())
//! };
//!
//! let request = http::Request::post("https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist")
//!     .body(b"{}".to_vec())
//!     .unwrap();
//! let mut flow = Call::new(request);
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let outcome = loop {
//!     match flow.poll(now) {
//!         Ok(Step::Send(request)) => flow.handle_response(transport(request), now),
//!         Ok(Step::Wait(_duration)) => unreachable!("a single call never waits"),
//!         Ok(Step::Done(response)) => break Ok(response),
//!         Err(error) => break Err(error),
//!     }
//! };
//!
//! let error = outcome.unwrap_err();
//! let api = error.api().unwrap();
//! assert_eq!(api.class(), ErrorClass::RateLimit);
//! assert_eq!(api.retry_delay(), Some(Duration::from_millis(3500)));
//! ```
//!
//! [`flow::drive`] runs the same loop for you on a [`flow::VirtualClock`].
//!
//! Modules:
//! - [`client`]: what every runtime's client is: the token lifecycle and the
//!   cross-process refresh protocol, 401 → refresh once → retry, stream opening, the
//!   project cache, as operations that also ask for store work. A runtime performs
//!   them; [`client::MemoryRuntime`] performs them on a virtual clock.
//! - [`flow`]: the driving contract, the virtual-clock driver, transport failures.
//! - [`error`]: Google's error envelope, its classification and one-line messages.
//! - [`retry`]: the retry policy and the combinator that applies it to any flow.
//! - [`code_assist`]: loadCodeAssist with fallback endpoints, onboarding with
//!   operation polling, project resolution, and quota.
//! - [`inference`]: the targets (Code Assist, the Gemini API, Vertex AI), generate,
//!   stream, count and list requests, model fallback, and an incremental reader of
//!   streamed answers that classifies errors arriving mid-stream.
//! - [`oauth`]: PKCE, the authorization URL, callbacks, token exchange and refresh,
//!   userinfo, revocation.
//! - [`source`]: where access tokens come from (this library's sign-in, gcloud's and
//!   other credential files, service-account keys, the metadata server, an injected
//!   token) and the order in which they are discovered.
//! - [`compat`]: the OpenAI Chat Completions and Anthropic Messages wires ⇄ Gemini,
//!   as pure translation (requests, whole and streamed answers, errors).
//! - [`text`] and [`rfc3339`]: leaves every room may use: outside text made safe to
//!   show (one line, no secret, bounded), and RFC 3339 timestamps.
//!
//! Which flows retry by themselves: the Code Assist calls (`resolve_project`,
//! `retrieve_user_quota`, `generate_content`) come wrapped in their configured
//! [`retry::RetryPolicy`]; the OAuth calls (`exchange_code`, `refresh_token`,
//! `fetch_email`, `revoke_token`) are single requests, because how long a token
//! endpoint may be retried depends on the token at stake, which [`client`] decides.
#![forbid(unsafe_code)]

pub mod client;
pub mod code_assist;
pub mod compat;
pub mod error;
pub mod flow;
pub mod inference;
mod named;
pub mod oauth;
mod random;
pub mod retry;
pub mod rfc3339;
mod secret;
pub mod source;
pub mod text;

pub use random::SplitMix64;
pub use secret::Secret;

pub use error::{ApiError, ErrorClass};

/// Every way a flow of this crate can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Google (or the network in between) answered with an error, or did not answer.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The caller stepped a flow out of order.
    #[error(transparent)]
    Misuse(#[from] flow::Misuse),
    /// A Code Assist step could not complete (a project is needed, onboarding did not
    /// finish, …).
    #[error(transparent)]
    CodeAssist(#[from] code_assist::CodeAssistError),
    /// A 2xx answer whose body could not be used.
    #[error("unexpected answer from {what}: {detail}")]
    InvalidResponse {
        /// Which endpoint answered.
        what: &'static str,
        /// What was wrong (sanitised).
        detail: String,
    },
    /// The OAuth callback gave no usable code.
    #[error(transparent)]
    Callback(#[from] oauth::CallbackError),
    /// A secret would have gone to a URL that is neither `https://` nor loopback.
    #[error("refusing to send credentials to {0}: only https:// or loopback http:// is allowed")]
    InsecureEndpoint(String),
    /// A credential source cannot give a token (a broken key file, a metadata server
    /// that is not one, an injected token that was refused); names the source and the
    /// file, variable or host.
    #[error(transparent)]
    Source(#[from] source::SourceError),
    /// The configuration cannot work (a malformed URL, a missing value).
    #[error("configuration error: {0}")]
    Config(String),
    /// The token endpoint refused the authorization code of a sign-in (a stale or
    /// reused code, a PKCE mismatch, a wrong redirect URI): nothing was saved.
    #[error(
        "the OAuth server refused the authorization code ({error}{}); start the sign-in again",
        description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    CodeRefused {
        /// The OAuth `error`, such as `invalid_grant`.
        error: String,
        /// Its `error_description`, when given (sanitised).
        description: Option<String>,
    },
    /// A sign-in's code exchange gave no refresh token, so nothing was kept.
    #[error(
        "the server issued no refresh token, so this sign-in could not be kept: with Google, remove this app's access at https://myaccount.google.com/permissions and sign in again; with another server, check its offline-access policy (the offline_access scope, or consent)"
    )]
    NoRefreshToken,
    /// Nobody is signed in, or the sign-in was revoked and cannot be refreshed: a
    /// person must sign in again (see [`Error::needs_sign_in`]).
    #[error("nobody is signed in")]
    NotSignedIn,
    /// A flow wrapped in [`retry::Retry`] failed; `history` says what was tried.
    #[error("{error} (after {} attempts)", history.attempts)]
    Retried {
        /// The error the flow ended with.
        error: Box<Error>,
        /// Every attempt and wait.
        history: Box<retry::RetryHistory>,
    },
}

impl Error {
    /// Google's classified answer, when Google (or a proxy in between) answered.
    /// `None` when no HTTP response arrived: see [`Error::transport`].
    pub fn api(&self) -> Option<&ApiError> {
        self.classified().filter(|api| api.transport().is_none())
    }

    /// The failure that kept any HTTP response from arriving (DNS, connect, TLS,
    /// timeout, reset, a body over the cap, malformed HTTP).
    pub fn transport(&self) -> Option<&flow::TransportError> {
        self.classified().and_then(ApiError::transport)
    }

    /// The classified failure, whether Google answered or the transport failed: what
    /// retry decisions and messages are made from.
    pub fn classified(&self) -> Option<&ApiError> {
        match self.root() {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The class of the failure, when it was classified (Google's answer or a
    /// transport failure).
    pub fn class(&self) -> Option<ErrorClass> {
        self.classified().map(ApiError::class)
    }

    /// True when a person must sign in again: nobody is signed in, or the grant was
    /// revoked (`invalid_grant`, [`ErrorClass::AuthPermanent`]).
    pub fn needs_sign_in(&self) -> bool {
        match self.root() {
            Error::NotSignedIn => true,
            other => other.class() == Some(ErrorClass::AuthPermanent),
        }
    }

    /// The error underneath any [`Error::Retried`] wrapping.
    pub fn root(&self) -> &Error {
        match self {
            Error::Retried { error, .. } => error.root(),
            other => other,
        }
    }

    /// The retry history, when the flow ran under [`retry::Retry`].
    pub fn retry_history(&self) -> Option<&retry::RetryHistory> {
        match self {
            Error::Retried { history, .. } => Some(history),
            _ => None,
        }
    }
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Error::Api(Box::new(error))
    }
}
