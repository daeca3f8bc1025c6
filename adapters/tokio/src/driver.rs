//! The one async driver loop, over hyper 1 on tokio.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use codeassist_core::flow::{Flow, Request, Response, Step, TransportError, TransportErrorKind};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The largest response body read by default: 10 MiB.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;

/// Timeouts and limits of the async driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Connecting (DNS included) may take this long.
    pub connect_timeout: Duration,
    /// A whole request, body included, may take this long.
    pub request_timeout: Duration,
    /// Response bodies larger than this fail as [`TransportErrorKind::BodyTooLarge`].
    pub max_body: usize,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(120),
            max_body: DEFAULT_MAX_BODY,
        }
    }
}

/// Runs any `codeassist-core` flow on tokio: hyper-util's pooled client with rustls
/// (ring, webpki roots), `tokio::time::sleep` for waits, the real clock.
///
/// Cheap to clone (clones share the connection pool); `Send + Sync`.
#[derive(Debug, Clone)]
pub struct AsyncDriver {
    client: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    config: DriverConfig,
}

impl Default for AsyncDriver {
    fn default() -> Self {
        Self::new(DriverConfig::default())
    }
}

impl AsyncDriver {
    /// A driver with these timeouts and limits.
    pub fn new(config: DriverConfig) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(config.connect_timeout));
        let tls = rustls::ClientConfig::builder_with_provider(
            rustls::crypto::ring::default_provider().into(),
        )
        .with_safe_default_protocol_versions()
        .map(|builder| {
            hyper_rustls::ConfigBuilderExt::with_webpki_roots(builder).with_no_client_auth()
        })
        .expect("ring supports the default protocol versions");
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = HyperClient::builder(TokioExecutor::new()).build(connector);
        Self { client, config }
    }

    pub(crate) fn client(&self) -> &HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>> {
        &self.client
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

    /// Sends one request and reads the whole (capped) response.
    pub async fn send(&self, request: Request) -> Result<Response, TransportError> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| client_error(&error))?;
            let (parts, body) = response.into_parts();
            let collected = Limited::new(body, self.config.max_body)
                .collect()
                .await
                .map_err(|error| body_error(error.as_ref()))?;
            Ok(Response::from_parts(parts, collected.to_bytes().to_vec()))
        };
        match tokio::time::timeout(self.config.request_timeout, exchange).await {
            Ok(outcome) => outcome,
            Err(_) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!(
                    "no complete answer within {:?}",
                    self.config.request_timeout
                ),
            )),
        }
    }
}

fn client_error(error: &hyper_util::client::legacy::Error) -> TransportError {
    let chain = describe(error);
    let kind = if error.is_connect() {
        let lower = chain.to_ascii_lowercase();
        if lower.contains("dns") || lower.contains("resolve") || lower.contains("lookup") {
            TransportErrorKind::Dns
        } else if lower.contains("timed out") || lower.contains("timeout") {
            TransportErrorKind::Timeout
        } else if lower.contains("tls") || lower.contains("certificate") {
            TransportErrorKind::Tls
        } else {
            TransportErrorKind::Connect
        }
    } else {
        TransportErrorKind::Reset
    };
    TransportError::new(kind, chain)
}

fn body_error(error: &(dyn std::error::Error + Send + Sync + 'static)) -> TransportError {
    if error.is::<http_body_util::LengthLimitError>() {
        TransportError::new(TransportErrorKind::BodyTooLarge, error.to_string())
    } else {
        TransportError::new(TransportErrorKind::Reset, describe(error))
    }
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
