//! The connector that sends HTTPS through a proxy when the shared rules say so
//! ([`codeassist_runtime::may_proxy`], [`ProxySetting`]): hyper-util's matcher reads the
//! environment as curl does and its tunnel connector speaks `CONNECT`; loopback, the
//! callback listener, the metadata server and plain HTTP always go direct.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use codeassist_runtime::{ProxyRules, ProxySetting};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A failure of the proxy itself (it refused the tunnel, asked for credentials, or
/// answered with something that is not HTTP): permanent, never retried.
#[derive(Debug)]
pub(crate) struct ProxyFailure(pub(crate) BoxError);

impl std::fmt::Display for ProxyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the proxy refused the connection: {}", self.0)
    }
}

impl std::error::Error for ProxyFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.0.as_ref())
    }
}

/// Connects directly, or through the proxy the setting names for the destination.
#[derive(Clone)]
pub(crate) struct ProxyConnector<R> {
    direct: HttpConnector<R>,
    rules: ProxyRules,
}

impl<R> std::fmt::Debug for ProxyConnector<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConnector")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl<R> ProxyConnector<R> {
    pub(crate) fn new(direct: HttpConnector<R>, setting: &ProxySetting) -> Self {
        Self {
            direct,
            rules: ProxyRules::new(setting),
        }
    }
}

impl<R> Service<http::Uri> for ProxyConnector<R>
where
    HttpConnector<R>: Service<http::Uri, Response = TokioIo<TcpStream>> + Clone + Send + 'static,
    <HttpConnector<R> as Service<http::Uri>>::Error: Into<BoxError>,
    <HttpConnector<R> as Service<http::Uri>>::Future: Send,
{
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.direct.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        let intercept = self.rules.proxy_for(&dst);
        match intercept {
            None => {
                let connecting = self.direct.call(dst);
                Box::pin(async move { connecting.await.map_err(Into::into) })
            }
            Some(intercept) => {
                let mut tunnel = Tunnel::new(intercept.uri().clone(), self.direct.clone());
                if let Some(auth) = intercept.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                tracing::debug!(proxy = %codeassist_runtime::redact_proxy_url(&intercept.uri().to_string()), "through the proxy");
                let connecting = tunnel.call(dst);
                Box::pin(async move {
                    connecting
                        .await
                        .map_err(|error| Box::new(ProxyFailure(Box::new(error))) as BoxError)
                })
            }
        }
    }
}
