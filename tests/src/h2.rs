//! The emulator behind HTTP/2 over TLS (ALPN `h2`), for tests of the async runtime's
//! HTTP/2: a hyper server on tokio that hands every request to
//! [`Emulator::handle`](crate::emulator::Emulator::handle), waits its latency, paces
//! streamed answers as the emulator's own server does, and counts the connections it
//! accepted.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use bytes::Bytes;
use http_body_util::channel::Channel;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::emulator::{Emulator, paced_pieces};

/// A running HTTP/2 front of an emulator; stops when dropped.
#[derive(Debug)]
pub struct H2Server {
    base_url: String,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl H2Server {
    /// Serves `emulator` over HTTP/2 with `tls` (its ALPN set to `h2` only) on a
    /// loopback port; must run inside a tokio runtime.
    pub async fn start(emulator: Emulator, tls: &rustls::ServerConfig) -> std::io::Result<Self> {
        let mut tls = tls.clone();
        tls.alpn_protocols = vec![b"h2".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = connections.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, emulator) = (acceptor.clone(), emulator.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(move |request| {
                        let emulator = emulator.clone();
                        async move { Ok::<_, Infallible>(answer(&emulator, request).await) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .max_concurrent_streams(1000)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            base_url: format!("https://localhost:{port}"),
            connections,
            task,
        })
    }

    /// `https://localhost:{port}`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// How many connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    emulator: &Emulator,
    request: http::Request<Incoming>,
) -> http::Response<BoxBody<Bytes, Infallible>> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let answer = emulator.handle(&http::Request::from_parts(parts, body), SystemTime::now());
    tokio::time::sleep(answer.delay).await;
    let Some(response) = answer.response else {
        return http::Response::builder()
            .status(502)
            .body(Full::new(Bytes::new()).boxed())
            .expect("a static response");
    };
    if answer.pace.is_zero() {
        return response.map(|body| Full::new(Bytes::from(body)).boxed());
    }
    // A slow model: each event after a pause, while the caller reads.
    let (parts, body) = response.into_parts();
    let (mut sender, channel) = Channel::<Bytes, Infallible>::new(1);
    tokio::spawn(async move {
        for piece in paced_pieces(&body) {
            tokio::time::sleep(answer.pace).await;
            if sender
                .send_data(Bytes::copy_from_slice(piece))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    http::Response::from_parts(parts, channel.boxed())
}
