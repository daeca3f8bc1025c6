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
    pub trust: Option<std::sync::Arc<codeassist_runtime::TrustRoots>>,
    /// The proxy for HTTPS to Google (default: the environment, as curl reads it);
    /// loopback and the metadata server always go direct.
    pub proxy: codeassist_runtime::ProxySetting,
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
            proxy: codeassist_runtime::ProxySetting::Environment,
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
    /// The ureq agent over the trust roots, set up by the first request.
    network: codeassist_runtime::LazyNetwork<ureq::Agent>,
    /// Which requests go through which proxy (shared with the tokio runtime).
    rules: codeassist_runtime::ProxyRules,
    /// How long an opening may take, and a stream may be silent.
    request_timeout: Duration,
    stream_idle_timeout: Duration,
    max_body: usize,
}

/// The ureq agent with `config`'s timeouts, trusting `trust` (nothing when the roots
/// could not be used).
fn agent(config: &DriverConfig, trust: Option<&codeassist_runtime::TrustRoots>) -> ureq::Agent {
    let roots = trust.map_or_else(Vec::new, |trust| {
        trust
            .certificates()
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned())
            .collect::<Vec<_>>()
    });
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(roots)))
        .build();
    ureq::Agent::config_builder()
        // The proxy is chosen per request by the shared rules.
        .proxy(None)
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(config.connect_timeout))
        .timeout_recv_response(Some(config.read_timeout))
        .timeout_recv_body(Some(config.read_timeout))
        .timeout_global(Some(config.request_timeout))
        .user_agent(codeassist_core::flow::request::USER_AGENT)
        .build()
        .new_agent()
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
        let timeouts = config.clone();
        // The trust roots are loaded by the first request, not here: a warm token
        // read from the store opens no certificate file.
        let network = codeassist_runtime::LazyNetwork::new(
            config.trust.clone(),
            config.proxy.clone(),
            move |trust| agent(&timeouts, trust),
        );
        Self {
            network,
            rules: codeassist_runtime::ProxyRules::new(&config.proxy),
            request_timeout: config.request_timeout,
            stream_idle_timeout: config.stream_idle_timeout,
            max_body: config.max_body,
        }
    }

    /// The ureq agent, with this driver's timeouts and trust roots, for requests of the
    /// host's own. It has no proxy: this driver picks one per request
    /// (`codeassist_runtime::ProxyRules`).
    pub fn agent(&self) -> &ureq::Agent {
        self.network.get().0
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
        let agent = self.set_up()?;
        let target = format!("{} {}", request.method(), request.uri().path());
        let response = agent
            .run(self.prepared(agent, request, false)?)
            .map_err(|error| transport_error(&error))?;
        let response = self.read_whole(response)?;
        tracing::debug!(request = %target, status = response.status().as_u16(), bytes = response.body().len(), "response");
        Ok(response)
    }

    /// Sends a streaming request: a 2xx answer's body is kept to be read as it
    /// arrives; anything else is read whole.
    pub(crate) fn open(&self, request: Request) -> Opening {
        let agent = match self.set_up() {
            Ok(agent) => agent,
            Err(failure) => return Opening::Answered(Err(failure)),
        };
        let prepared = match self.prepared(agent, request, true) {
            Ok(prepared) => prepared,
            Err(failure) => return Opening::Answered(Err(failure)),
        };
        let response = match agent.run(prepared) {
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

    /// The agent, set up on first use; fails when the trust roots or the proxy cannot
    /// be used (a broken CA file, a SOCKS proxy).
    fn set_up(&self) -> Result<&ureq::Agent, TransportError> {
        match self.network.get() {
            (agent, None) => Ok(agent),
            (_, Some(problem)) => Err(TransportError::new(
                TransportErrorKind::Tls,
                problem.to_owned(),
            )),
        }
    }

    /// The request as it is sent: through the proxy the shared rules choose (if
    /// any); bounded by the flow's timeout, else the driver's; a streaming request with
    /// no total deadline but an idle timeout per read.
    fn prepared(
        &self,
        agent: &ureq::Agent,
        request: Request,
        streaming: bool,
    ) -> Result<Request, TransportError> {
        let timeout = request
            .extensions()
            .get::<RequestTimeout>()
            .map(|RequestTimeout(t)| *t);
        // A proxy that applies but cannot be used fails the call: never a silent
        // direct connection past a proxy the network requires.
        let proxy = match self.rules.proxy_for(request.uri()) {
            None => None,
            Some(route) => Some(ureq_proxy(&route).ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Refused,
                    format!(
                        "the proxy {} cannot be used",
                        codeassist_runtime::redact_proxy_url(&route.uri().to_string())
                    ),
                )
            })?),
        };
        let mut config = agent.configure_request(request).proxy(proxy);
        if streaming {
            config = config
                .timeout_global(None)
                .timeout_recv_response(Some(timeout.unwrap_or(self.request_timeout)))
                .timeout_recv_body(None)
                .timeout_per_read(Some(self.stream_idle_timeout));
        } else if let Some(timeout) = timeout {
            config = config.timeout_global(Some(timeout));
        }
        Ok(config.build())
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

/// The ureq proxy for a route the shared rules chose: its host, port and credentials
/// (decoded from the `Basic` value the rules carry).
fn ureq_proxy(route: &codeassist_runtime::Intercept) -> Option<ureq::Proxy> {
    use base64::Engine as _;
    let uri = route.uri();
    let https = uri.scheme_str() == Some("https");
    let protocol = match https {
        true => ureq::ProxyProtocol::Https,
        false => ureq::ProxyProtocol::Http,
    };
    let mut builder = ureq::Proxy::builder(protocol)
        .host(uri.host()?)
        .port(uri.port_u16().unwrap_or(if https { 443 } else { 80 }));
    if let Some(basic) = route.basic_auth() {
        let encoded = basic.to_str().ok()?.strip_prefix("Basic ")?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':').unwrap_or((decoded.as_str(), ""));
        builder = builder.username(user).password(password);
    }
    builder.build().ok()
}
