//! The one blocking driver loop, over ureq.

use std::io::ErrorKind;
use std::time::{Duration, SystemTime};

use codeassist_core::client::Opened;
use codeassist_core::flow::request::RequestTimeout;
use codeassist_core::flow::{Flow, Request, Response, Step, TransportError, TransportErrorKind};

use crate::stream::ResponseStream;

pub use codeassist_core::flow::request::{DEFAULT_MAX_BODY, MAX_STREAM};

/// Timeouts and limits of the blocking driver.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DriverConfig {
    /// Connecting (DNS included) may take this long.
    pub connect_timeout: Duration,
    /// Each read may wait this long for bytes.
    pub read_timeout: Duration,
    /// A whole request, response included, may take this long.
    pub request_timeout: Duration,
    /// Response bodies larger than this fail as [`TransportErrorKind::BodyTooLarge`].
    pub max_body: usize,
    /// A streamed answer may go this long without a byte; it has no total deadline
    /// (a long answer is never cut). Its opening is bounded like any request.
    pub stream_idle_timeout: Duration,
    /// The certificate authorities trusted; `None`: the system's (Mozilla's where
    /// there is no system store) plus `CODEASSIST_CA_FILE` when set.
    pub trust: Option<std::sync::Arc<codeassist_store::TrustRoots>>,
    /// The proxy for HTTPS to Google (default: the environment, as curl reads it);
    /// loopback and the metadata server always go direct.
    pub proxy: codeassist_store::ProxySetting,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            max_body: DEFAULT_MAX_BODY,
            stream_idle_timeout: Duration::from_secs(60),
            trust: None,
            proxy: codeassist_store::ProxySetting::Environment,
        }
    }
}

/// Runs any `codeassist-core` flow on the calling thread: sends with ureq (rustls),
/// sleeps for waits, reads the real clock.
///
/// 4xx and 5xx answers are responses, not errors; redirects are not followed (the
/// flows never expect one, and a bearer token must not follow a redirect).
#[derive(Debug, Clone)]
pub struct BlockingDriver {
    /// Requests that may go through the proxy (HTTPS to Google).
    agent: ureq::Agent,
    /// How long an opening may take, and a stream may be silent.
    request_timeout: Duration,
    stream_idle_timeout: Duration,
    /// Everything else (loopback, the metadata server): never proxied.
    direct: ureq::Agent,
    max_body: usize,
    /// Why the trust roots or the proxy cannot be used: every request fails with it.
    setup_error: Option<String>,
}

/// What opening a streamed request gave.
pub(crate) type Opening = codeassist_core::client::Opening<ResponseStream>;

impl Default for BlockingDriver {
    fn default() -> Self {
        Self::new(DriverConfig::default())
    }
}

impl BlockingDriver {
    /// A driver with these timeouts and limits.
    pub fn new(config: DriverConfig) -> Self {
        let trust = config
            .trust
            .clone()
            .map_or_else(codeassist_store::default_trust, Ok);
        let (roots, mut setup_error) = match trust {
            Ok(trust) => (
                trust
                    .certificates()
                    .iter()
                    .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
                    .collect::<Vec<_>>(),
                None,
            ),
            Err(error) => (Vec::new(), Some(error)),
        };
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots)))
            .build();
        if let Some(problem) = config.proxy.problem() {
            setup_error.get_or_insert(problem);
        }
        let proxy = match &config.proxy {
            codeassist_store::ProxySetting::Environment => ureq::Proxy::try_from_env(),
            codeassist_store::ProxySetting::Url(url) => ureq::Proxy::new(url).ok(),
            _ => None,
        };
        let agent_with = |proxy: Option<ureq::Proxy>| {
            ureq::Agent::config_builder()
                .proxy(proxy)
                .tls_config(tls.clone())
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_connect(Some(config.connect_timeout))
                .timeout_recv_response(Some(config.read_timeout))
                .timeout_recv_body(Some(config.read_timeout))
                .timeout_global(Some(config.request_timeout))
                .user_agent(codeassist_core::flow::request::USER_AGENT)
                .build()
                .new_agent()
        };
        Self {
            agent: agent_with(proxy),
            request_timeout: config.request_timeout,
            stream_idle_timeout: config.stream_idle_timeout,
            direct: agent_with(None),
            max_body: config.max_body,
            setup_error,
        }
    }

    /// The ureq agent, with this driver's timeouts and settings, for requests of the
    /// host's own.
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// Runs `flow` to completion.
    pub fn run<F: Flow>(&self, mut flow: F) -> Result<F::Output, F::Error> {
        loop {
            match flow.poll(SystemTime::now())? {
                Step::Send(request) => {
                    let outcome = self.send(request);
                    flow.handle_response(outcome, SystemTime::now());
                }
                Step::Wait(duration) => std::thread::sleep(duration),
                Step::Done(output) => return Ok(output),
            }
        }
    }

    /// Sends one request and reads the whole (capped) response. A
    /// [`RequestTimeout`] on the request bounds the whole exchange.
    pub fn send(&self, request: Request) -> Result<Response, TransportError> {
        self.check_trust()?;
        let target = format!("{} {}", request.method(), request.uri().path());
        let response = self
            .agent_for(&request)
            .run(self.configured(request))
            .map_err(|error| transport_error(&error))?;
        let response = self.read_whole(response)?;
        tracing::debug!(request = %target, status = response.status().as_u16(), bytes = response.body().len(), "response");
        Ok(response)
    }

    /// Sends a streaming request: a 2xx answer's body is kept to be read as it
    /// arrives; anything else is read whole.
    pub(crate) fn open(&self, request: Request) -> Opening {
        if let Err(failure) = self.check_trust() {
            return Opening::Answered(Err(failure));
        }
        let response = match self.agent_for(&request).run(self.streaming(request)) {
            Ok(response) => response,
            Err(error) => return Opening::Answered(Err(transport_error(&error))),
        };
        if !response.status().is_success() {
            return Opening::Answered(self.read_whole(response));
        }
        let (parts, body) = response.into_parts();
        let body = body.into_with_config().limit(MAX_STREAM as u64).reader();
        Opening::Opened(
            Opened::new(parts.status, parts.headers),
            ResponseStream::new(Box::new(body)),
        )
    }

    /// The agent for `request`: the proxied one only where a proxy may be used.
    fn agent_for(&self, request: &Request) -> &ureq::Agent {
        match codeassist_store::may_proxy(request.uri()) {
            true => &self.agent,
            false => &self.direct,
        }
    }

    /// Fails when the trust roots or the proxy cannot be used (a broken CA file, a
    /// SOCKS proxy).
    fn check_trust(&self) -> Result<(), TransportError> {
        match &self.setup_error {
            Some(error) => Err(TransportError::new(TransportErrorKind::Tls, error.clone())),
            None => Ok(()),
        }
    }

    /// A streaming request: its opening bounded (the flow's timeout, else the
    /// driver's), its body with no total deadline but an idle timeout per read.
    fn streaming(&self, request: Request) -> Request {
        let opening = request
            .extensions()
            .get::<RequestTimeout>()
            .map_or(self.request_timeout, |RequestTimeout(t)| *t);
        self.agent_for(&request)
            .configure_request(request)
            .timeout_global(None)
            .timeout_recv_response(Some(opening))
            .timeout_recv_body(None)
            .timeout_per_read(Some(self.stream_idle_timeout))
            .build()
    }

    /// The request with its own timeout, when its flow set one.
    fn configured(&self, request: Request) -> Request {
        match request.extensions().get::<RequestTimeout>().copied() {
            Some(RequestTimeout(timeout)) => self
                .agent
                .configure_request(request)
                .timeout_global(Some(timeout))
                .build(),
            None => request,
        }
    }

    fn read_whole(&self, response: http::Response<ureq::Body>) -> Result<Response, TransportError> {
        let (parts, body) = response.into_parts();
        let bytes = body
            .into_with_config()
            .limit(self.max_body as u64)
            .read_to_vec()
            .map_err(|error| transport_error(&error))?;
        Ok(Response::from_parts(parts, bytes))
    }
}

/// Maps a ureq failure to the kind the core flows route on.
pub fn transport_error(error: &ureq::Error) -> TransportError {
    let kind = match error {
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::HostNotFound => TransportErrorKind::Dns,
        ureq::Error::ConnectionFailed => TransportErrorKind::Connect,
        ureq::Error::BodyExceedsLimit(_) => TransportErrorKind::BodyTooLarge,
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::TlsRequired => {
            TransportErrorKind::Tls
        }
        ureq::Error::RequireHttpsOnly(_) => TransportErrorKind::Refused,
        ureq::Error::Protocol(_) => TransportErrorKind::Malformed,
        ureq::Error::BadUri(_) | ureq::Error::InvalidProxyUrl => TransportErrorKind::Refused,
        // The proxy refused the tunnel (407, 403, …): final, never retried.
        ureq::Error::ConnectProxyFailed(_) => TransportErrorKind::Refused,
        ureq::Error::BodyStalled => TransportErrorKind::Reset,
        ureq::Error::Io(io) => match io.kind() {
            ErrorKind::TimedOut | ErrorKind::WouldBlock => TransportErrorKind::Timeout,
            ErrorKind::InvalidData => TransportErrorKind::Malformed,
            ErrorKind::ConnectionRefused => TransportErrorKind::Connect,
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof => TransportErrorKind::Reset,
            _ => TransportErrorKind::Other,
        },
        _ => TransportErrorKind::Other,
    };
    TransportError::new(kind, error.to_string())
}
