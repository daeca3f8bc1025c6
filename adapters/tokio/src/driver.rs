//! The one async driver loop, over hyper 1 on tokio.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use codeassist_core::client::Opened;
use codeassist_core::flow::request::RequestTimeout;
use codeassist_core::flow::{Flow, Request, Response, Step, TransportError, TransportErrorKind};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use std::sync::Arc;

use codeassist_runtime::{LazyNetwork, ProxySetting, TrustRoots};

use crate::proxy::{ProxyConnector, ProxyFailure};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::{GaiAddrs, GaiResolver, Name};
use hyper_util::rt::TokioExecutor;

pub use codeassist_core::flow::request::{DEFAULT_MAX_BODY, MAX_STREAM};

use crate::stream::AsyncResponseStream;

/// Timeouts and limits of the async driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Connecting (DNS included) may take this long.
    pub connect_timeout: Duration,
    /// A whole request, body included, may take this long (a flow may ask for less).
    pub request_timeout: Duration,
    /// Response bodies larger than this fail as [`TransportErrorKind::BodyTooLarge`].
    pub max_body: usize,
    /// A streamed answer may go this long without a byte; it has no total deadline
    /// (a long answer is never cut). Its opening is bounded like any request.
    pub stream_idle_timeout: Duration,
    /// The certificate authorities trusted; `None`: the system's (Mozilla's where
    /// there is no system store) plus `CODEASSIST_CA_FILE` when set.
    pub trust: Option<Arc<TrustRoots>>,
    /// The proxy for HTTPS to Google (default: the environment, as curl reads it);
    /// loopback and the metadata server always go direct.
    pub proxy: ProxySetting,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_body: DEFAULT_MAX_BODY,
            stream_idle_timeout: Duration::from_secs(60),
            trust: None,
            proxy: ProxySetting::Environment,
        }
    }
}

type Connector = HttpsConnector<ProxyConnector<TypedResolver>>;

/// Runs any `codeassist-core` flow on tokio: hyper-util's pooled client with rustls
/// (ring; the system's CA store, see [`TrustRoots`]), `tokio::time::sleep` for waits,
/// the real clock.
///
/// Cheap to clone (clones share the connection pool); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct AsyncDriver {
    /// The pooled client over the trust roots, set up by the first request.
    network: LazyNetwork<HyperClient<Connector, Full<Bytes>>>,
    config: DriverConfig,
}

/// What opening a streamed request gave.
pub(crate) type Opening = codeassist_core::client::Opening<AsyncResponseStream>;

impl Default for AsyncDriver {
    fn default() -> Self {
        Self::new(DriverConfig::default())
    }
}

impl AsyncDriver {
    /// A driver with these timeouts and limits.
    pub fn new(config: DriverConfig) -> Self {
        let settings = config.clone();
        // The trust roots are loaded by the first request, not here: a warm token
        // read from the store opens no certificate file.
        let network = LazyNetwork::new(config.trust.clone(), config.proxy.clone(), move |trust| {
            hyper_client(&settings, trust)
        });
        Self { network, config }
    }

    /// Runs `flow` to completion.
    pub async fn run<F: Flow>(&self, mut flow: F) -> Result<F::Output, F::Error> {
        loop {
            match flow.poll(SystemTime::now())? {
                Step::Send(request) => {
                    let outcome = self.send(request).await;
                    flow.handle_response(outcome, SystemTime::now());
                }
                Step::Wait(duration) => tokio::time::sleep(duration).await,
                Step::Done(output) => return Ok(output),
            }
        }
    }

    /// The time this request may take: the flow's [`RequestTimeout`] within the
    /// driver's own limit.
    fn timeout_for(&self, request: &Request) -> Duration {
        match request.extensions().get::<RequestTimeout>() {
            Some(RequestTimeout(timeout)) => (*timeout).min(self.config.request_timeout),
            None => self.config.request_timeout,
        }
    }

    async fn exchange(&self, request: Request) -> Result<http::Response<Incoming>, TransportError> {
        let client = match self.network.get() {
            (client, None) => client,
            (_, Some(problem)) => {
                return Err(TransportError::new(
                    TransportErrorKind::Tls,
                    problem.to_owned(),
                ));
            }
        };
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        client
            .request(request)
            .await
            .map_err(|error| transport_error(&error))
    }

    async fn read_whole(
        &self,
        response: http::Response<Incoming>,
    ) -> Result<Response, TransportError> {
        let (parts, body) = response.into_parts();
        let collected = Limited::new(body, self.config.max_body)
            .collect()
            .await
            .map_err(|error| transport_error(error.as_ref()))?;
        Ok(Response::from_parts(parts, collected.to_bytes().to_vec()))
    }

    /// Sends one request and reads the whole (capped) response, within the request's
    /// timeout.
    pub async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let timeout = self.timeout_for(&request);
        let exchange = async {
            let response = self.exchange(request).await?;
            self.read_whole(response).await
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(timed_out(timeout)))
    }

    /// Sends a streaming request: a 2xx answer's body is kept to be read as it
    /// arrives (the timeout covers the opening only); anything else is read whole.
    pub(crate) async fn open(&self, request: Request) -> Opening {
        let timeout = self.timeout_for(&request);
        let opening = async {
            let response = self.exchange(request).await?;
            if response.status().is_success() {
                let (parts, body) = response.into_parts();
                return Ok(Opening::Opened(
                    Opened::new(parts.status, parts.headers),
                    AsyncResponseStream::new(body, self.config.stream_idle_timeout),
                ));
            }
            Ok(Opening::Answered(self.read_whole(response).await))
        };
        match tokio::time::timeout(timeout, opening).await {
            Ok(Ok(opening)) => opening,
            Ok(Err(failure)) => Opening::Answered(Err(failure)),
            Err(_) => Opening::Answered(Err(timed_out(timeout))),
        }
    }
}

/// hyper-util's pooled client with `config`'s limits, trusting `trust` (nothing when
/// the roots could not be used).
fn hyper_client(
    config: &DriverConfig,
    trust: Option<&TrustRoots>,
) -> HyperClient<Connector, Full<Bytes>> {
    let mut http = HttpConnector::new_with_resolver(TypedResolver(GaiResolver::new()));
    http.enforce_http(false);
    http.set_connect_timeout(Some(config.connect_timeout));
    let roots = trust.map_or_else(rustls::RootCertStore::empty, TrustRoots::root_store);
    let tls = rustls::ClientConfig::builder_with_provider(
        rustls::crypto::ring::default_provider().into(),
    )
    .with_safe_default_protocol_versions()
    .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
    .expect("ring supports the default protocol versions");
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        // ALPN offers h2 first, HTTP/1.1 as the fallback: concurrent calls and
        // streams to one Google host share a connection.
        .enable_all_versions()
        .wrap_connector(ProxyConnector::new(http, &config.proxy));
    HyperClient::builder(TokioExecutor::new())
        .timer(hyper_util::rt::TokioTimer::new())
        // Pings keep a long, quiet stream's connection from being dropped by NATs
        // and proxies, and find a dead one.
        .http2_keep_alive_interval(Some(Duration::from_secs(30)))
        .http2_keep_alive_timeout(Duration::from_secs(20))
        .http2_keep_alive_while_idle(false)
        .build(connector)
}

fn timed_out(timeout: Duration) -> TransportError {
    TransportError::new(
        TransportErrorKind::Timeout,
        format!("no complete answer within {timeout:?}"),
    )
}

/// A name that did not resolve: the resolver's failure, typed where it happens.
#[derive(Debug)]
struct DnsFailure(std::io::Error);

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the host name did not resolve: {}", self.0)
    }
}

impl std::error::Error for DnsFailure {}

/// hyper-util's resolver, with its failures wrapped in [`DnsFailure`].
#[derive(Debug, Clone)]
struct TypedResolver(GaiResolver);

impl tower_service::Service<Name> for TypedResolver {
    type Response = GaiAddrs;
    type Error = DnsFailure;
    type Future = Pin<Box<dyn Future<Output = Result<GaiAddrs, DnsFailure>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DnsFailure>> {
        self.0.poll_ready(cx).map_err(DnsFailure)
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolving = self.0.call(name);
        Box::pin(async move { resolving.await.map_err(DnsFailure) })
    }
}

/// The kind of a failure, read from the types in its chain of causes.
fn kind_of(error: &(dyn std::error::Error + 'static)) -> TransportErrorKind {
    let mut current = Some(error);
    let mut kind = TransportErrorKind::Other;
    while let Some(cause) = current {
        if cause.is::<DnsFailure>() {
            return TransportErrorKind::Dns;
        }
        if cause.is::<rustls::Error>() {
            return TransportErrorKind::Tls;
        }
        if let Some(proxy) = cause.downcast_ref::<ProxyFailure>() {
            // The proxy could not be reached: a network failure; it refused: final.
            return match kind_of(proxy.0.as_ref()) {
                TransportErrorKind::Other => TransportErrorKind::Refused,
                reached => reached,
            };
        }
        if cause.is::<http_body_util::LengthLimitError>() {
            return TransportErrorKind::BodyTooLarge;
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_parse() || hyper.is_parse_status() {
                return TransportErrorKind::Malformed;
            }
            if hyper.is_timeout() {
                return TransportErrorKind::Timeout;
            }
            if hyper.is_incomplete_message() || hyper.is_closed() || hyper.is_canceled() {
                kind = TransportErrorKind::Reset;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind;
            let by_io = match io.kind() {
                ErrorKind::TimedOut => Some(TransportErrorKind::Timeout),
                ErrorKind::ConnectionRefused => Some(TransportErrorKind::Connect),
                ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof => Some(TransportErrorKind::Reset),
                _ => None,
            };
            // rustls reports certificate failures inside an io::Error, at times
            // wrapped in another: `io::Error::source` skips the wrapped error itself,
            // so the walk goes into it.
            let inner = io.get_ref();
            if inner.is_some_and(|inner| inner.is::<rustls::Error>()) {
                return TransportErrorKind::Tls;
            }
            if let Some(by_io) = by_io {
                return by_io;
            }
            if let Some(inner) = inner {
                current = Some(inner);
                continue;
            }
        }
        current = cause.source();
    }
    kind
}

/// Maps a hyper or body failure to the kind the core flows route on.
fn transport_error(error: &(dyn std::error::Error + 'static)) -> TransportError {
    let mut kind = kind_of(error);
    if kind == TransportErrorKind::Other
        && let Some(client) = error.downcast_ref::<hyper_util::client::legacy::Error>()
        && client.is_connect()
    {
        kind = TransportErrorKind::Connect;
    }
    TransportError::new(kind, describe(error))
}

/// The error and its causes, one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
