//! `codeassist-server`: the gateway runtime. Any OpenAI, Anthropic or google-genai
//! client calls it; it answers with Google's Gemini behind, through one
//! [`codeassist_tokio::Client`] shared by every request (one sign-in, one token
//! lifecycle, refreshes single-flight), the wire translation of
//! [`codeassist_core::compat`], model fallback before the first byte, and each
//! wire's own errors.
//!
//! | route | wire |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI Chat Completions (streamed or not) |
//! | `GET /v1/models` | OpenAI's list (Anthropic's when `anthropic-version` is sent) |
//! | `POST /v1/messages`, `POST /v1/messages/count_tokens` | Anthropic Messages |
//! | `POST /v1beta/models/{m}:generateContent`, `:streamGenerateContent`, `:countTokens`, `GET /v1beta/models[/{m}]` (and `/v1/…`) | Gemini, passed through with the gateway's credentials |
//! | `GET /healthz`, `GET /metrics` | health, Prometheus text format |
//!
//! A connection's life:
//!
//! ```text
//!  accept ─▶ HTTP/1.1 or h2c ─▶ per request: key check ─▶ route ─▶ translate ─▶ upstream
//!                                      │ 401 in the caller's wire         │ whole: one answer
//!                                                                         │ stream: a pump task
//!  shutdown ─▶ stop accepting ─▶ draining: streams get `drain` (10 s), then an error event ─▶ exit
//! ```
//!
//! A stream is pumped by its own task through a channel of a few frames: a slow
//! client slows the upstream read (memory stays bounded), and a client that goes away
//! drops the upstream request at once.
#![forbid(unsafe_code)]

mod metrics;
mod routes;

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use codeassist_core::Secret;
use codeassist_core::compat::Options;
use codeassist_core::inference::Target;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use metrics::Metrics;

/// The body of every answer: whole, or a stream of frames.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How long in-flight streams may go on after shutdown starts: 10 s.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);
/// The longest a caller may take to send a request's head, and then its body.
pub const REQUEST_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest a stream waits for its caller to take the next frame before the
/// caller counts as gone (a slow caller slows the upstream; a stalled one ends it).
pub const CALLER_STALL_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest request body taken: 32 MiB (images and documents inline).
pub const DEFAULT_MAX_REQUEST: usize = 32 * 1024 * 1024;

/// What the gateway does, set by the host (the CLI's `codeassist serve`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GatewayConfig {
    /// The key callers must present (`Authorization: Bearer`, `x-api-key`,
    /// `x-goog-api-key` or `?key=`); `None` for none (loopback only).
    pub api_key: Option<Secret>,
    /// Where Gemini requests go.
    pub target: Target,
    /// Fall back along the model's chain before the first byte.
    pub fallback: bool,
    /// Drop fields that cannot be translated instead of refusing them.
    pub options: Options,
    /// How long in-flight streams may go on after shutdown starts.
    pub drain: Duration,
    /// The largest request body taken.
    pub max_request: usize,
}

impl GatewayConfig {
    /// A gateway to `target` with fallback, no key, strict translation.
    pub fn new(target: Target) -> Self {
        Self {
            api_key: None,
            target,
            fallback: true,
            options: Options::default(),
            drain: DEFAULT_DRAIN,
            max_request: DEFAULT_MAX_REQUEST,
        }
    }
}

/// True for an address that only this machine can reach: `127.0.0.0/8` and `::1`.
pub fn is_loopback(address: IpAddr) -> bool {
    address.is_loopback()
}

/// Refuses to listen on an address others can reach without a key: the gateway
/// spends the host's Google credentials for whoever calls it.
pub fn check_exposure(address: SocketAddr, has_key: bool) -> Result<(), String> {
    if is_loopback(address.ip()) || has_key {
        return Ok(());
    }
    Err(format!(
        "{} is not a loopback address: anyone who reaches it would use this machine's Google \
         credentials; set --api-key (or CODEASSIST_SERVE_API_KEY), or listen on 127.0.0.1",
        address.ip()
    ))
}

/// The gateway: cheap to clone (clones share the client, metrics and drain signal).
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    client: codeassist_tokio::Client,
    config: GatewayConfig,
    metrics: Metrics,
    draining: watch::Sender<bool>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("target", &self.inner.config.target.kind())
            .field("fallback", &self.inner.config.fallback)
            .field("api_key", &self.inner.config.api_key.is_some())
            .finish()
    }
}

impl Gateway {
    /// A gateway calling Google through `client`.
    pub fn new(client: codeassist_tokio::Client, config: GatewayConfig) -> Self {
        let (draining, _) = watch::channel(false);
        Self {
            inner: Arc::new(Inner {
                client,
                config,
                metrics: Metrics::new(),
                draining,
            }),
        }
    }

    /// The metrics it keeps.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Serves connections from `listener` until `shutdown` completes; then stops
    /// accepting, lets in-flight streams go on for the drain time (then ends them with
    /// an error event), and returns once every connection is closed (at most a second
    /// after the drain time).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // A caller that never finishes its request head is not waited for forever.
        builder
            .http1()
            .timer(hyper_util::rt::TokioTimer::new())
            .header_read_timeout(REQUEST_READ_TIMEOUT);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (stream, _) = match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = stream.set_nodelay(true);
                    let gateway = self.clone();
                    // The answer's future is boxed: hyper keeps a slot the size of the
                    // service's future for the connection's life, and an open stream
                    // should not hold the handler's state once its head is answered.
                    let service = hyper::service::service_fn(move |request| {
                        let gateway = gateway.clone();
                        Box::pin(async move { Ok::<_, Infallible>(gateway.handle(request).await) })
                    });
                    let connection = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        if let Err(error) = connection.await {
                            tracing::debug!(%error, "connection ended with an error");
                        }
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        tracing::info!(drain = ?self.inner.config.drain, "shutting down: draining");
        let _ = self.inner.draining.send(true);
        let limit = self.inner.config.drain + Duration::from_secs(1);
        if tokio::time::timeout(limit, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the drain; closing them");
        }
        Ok(())
    }

    /// Answers one request (what [`Gateway::serve`] calls per request).
    pub async fn handle(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        routes::handle(self, request).await
    }
}
