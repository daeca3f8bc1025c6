//! `codeassist-emulator`: an emulator of Google's endpoints that plays Google
//! strictly, for testing hosts of codeassist (and codeassist itself) without an
//! account or a network.
//!
//! ```no_run
//! use codeassist_emulator::{API_KEY, Emulator, Fault};
//!
//! let emulator = Emulator::new();
//! // The next Pro call meets a capacity error: a host's fallback can be exercised.
//! emulator.inject("/v1beta/models/gemini-2.5-pro", Fault::NoCapacity("gemini-2.5-pro".into(), 30.0), 1);
//! let server = emulator.serve()?;
//! // Point the host at server.base_url() (CODEASSIST_GOOGLE_BASE_URL for the CLI),
//! // with API_KEY as its Gemini API key.
//! # let _ = API_KEY;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! It checks what Google checks, so a client bug fails a test instead of passing it:
//! the PKCE verifier against the challenge, `redirect_uri` equal to the one
//! authorized, single-use codes, client id and secret, access tokens that expire, and
//! a Bearer token on every Code Assist call.
//!
//! [`Emulator::handle`] answers one request in memory (the "closure driver" uses it
//! directly); [`Emulator::serve`] puts the same handler behind a loopback HTTP/1.1
//! server for the real drivers. Paths are Google's: `/o/oauth2/v2/auth`, `/token`
//! (authorization code, refresh, and the JWT-bearer grant with RS256 checked),
//! `/revoke`, `/oauth2/v2/userinfo`, `/v1internal:loadCodeAssist`,
//! `/v1internal:onboardUser`, `/v1internal/operations/…`, `/v1internal:retrieveUserQuota`,
//! `/v1internal:(stream)generateContent`; the Gemini API's `/v1beta/models…` and
//! `/v1/models…`; Vertex AI Express's `/v1/publishers/google/models/{m}:…`
//! (generate, stream, countTokens, list, get; retired and unknown models are not
//! found, thinking settings a model does not take refused); Vertex AI's
//! `/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:…`; and the metadata
//! server's `/computeMetadata/v1/…` (answering `Metadata-Flavor: Google`).
//!
//! Faults are queued per path prefix with [`Emulator::inject`]; requests are counted per
//! path ([`Emulator::count`]).

#![forbid(unsafe_code)]

mod control;
mod federation;
mod server;

pub use control::{EMULATOR_SIGNATURE, external_account_file};
pub use federation::{
    AWS_ACCESS_KEY_ID, AWS_ROLE, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_ZONE, SUBJECT_TOKEN,
};
pub use server::{Server, paced_pieces};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The OAuth client the emulator knows.
pub const CLIENT_ID: &str = "emulator-client.apps.googleusercontent.com";
/// Its secret.
pub const CLIENT_SECRET: &str = "GOCSPX-emulator-secret";
/// The signed-in person.
pub const EMAIL: &str = "person@example.com";
/// The Gemini API key the emulator accepts.
pub const API_KEY: &str = "AIzaSy-emulator-api-key-000000000000000";
/// The service account of [`TEST_SERVICE_ACCOUNT_KEY`].
pub const SERVICE_ACCOUNT_EMAIL: &str = "robot@emulator-project.iam.gserviceaccount.com";
/// The instance's service account on the emulated metadata server.
pub const METADATA_EMAIL: &str = "instance@emulator-project.iam.gserviceaccount.com";
/// The project the metadata server and the service-account key name.
pub const METADATA_PROJECT: &str = "emulator-project";
/// A 2048-bit RSA key (PKCS#8 PEM) made for these tests only; it protects nothing.
pub const TEST_SERVICE_ACCOUNT_KEY: &str = include_str!("../data/service-account-key.pem");

/// A service-account key file for [`TEST_SERVICE_ACCOUNT_KEY`] whose `token_uri` is
/// `token_uri` (the emulator's `/token`).
pub fn service_account_file(token_uri: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": METADATA_PROJECT,
        "private_key_id": "emulator-key-1",
        "private_key": TEST_SERVICE_ACCOUNT_KEY,
        "client_email": SERVICE_ACCOUNT_EMAIL,
        "client_id": "1000000000000",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    })
    .to_string()
}

/// What the next matching requests get instead of a normal answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// 429 `RESOURCE_EXHAUSTED` with `RetryInfo` of this many seconds.
    RateLimited(f64),
    /// 429 `MODEL_CAPACITY_EXHAUSTED` for this model, with `RetryInfo` seconds.
    NoCapacity(String, f64),
    /// 503 `UNAVAILABLE`.
    Unavailable,
    /// 500 with an HTML page, as a proxy sends.
    HtmlServerError,
    /// 403 VPC Service Controls refusal.
    VpcServiceControls,
    /// The answer is delayed this long (over a socket; in memory it is not).
    Slow(Duration),
    /// The connection is closed without an answer.
    Drop,
    /// 200 with a body that is not JSON.
    MalformedJson,
    /// 200 with a body of this many bytes.
    HugeBody(usize),
    /// 404 `NOT_FOUND` naming a model.
    ModelNotFound,
    /// 403 `PERMISSION_DENIED` naming the project (as after losing access to it).
    Forbidden,
    /// 429 quota exhausted (a daily free-tier limit of zero) that resets in this many
    /// seconds.
    QuotaExhausted(f64),
    /// 400 `INVALID_ARGUMENT`.
    InvalidArgument,
}

/// One scripted answer: its parts (one streamed event each), its finish reason and
/// its usage.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    /// The candidate's parts, as Gemini writes them (`text`, `thought`,
    /// `thoughtSignature`, `functionCall`, …).
    pub parts: Vec<Value>,
    /// `finishReason` (`STOP` by default).
    pub finish_reason: String,
    /// `usageMetadata`, on the last event.
    pub usage: Option<Value>,
}

/// Which account the Code Assist endpoints play.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Account {
    /// Never onboarded; free tier is the default; onboarding finishes after this many
    /// operation polls.
    NewFreeUser {
        /// Polls answered `done: false` before the one answered `done: true`.
        polls_before_done: u32,
    },
    /// Already on `standard-tier`, with this project known to Google (or none).
    Standard {
        /// `cloudaicompanionProject`, when Google knows it.
        project: Option<String>,
    },
    /// Behind VPC Service Controls: `loadCodeAssist` is refused.
    VpcServiceControls,
    /// An individual account through a client Google no longer serves (since
    /// 2026-06): no tier, and free-tier listed as ineligible with `UNSUPPORTED_CLIENT`.
    /// Onboarding anyway answers 400 "Precondition check failed".
    UnsupportedClient,
}

/// What the emulator answers: a response, or a dropped connection, after a delay.
#[derive(Debug)]
pub struct Answer {
    /// The response, or `None` to drop the connection.
    pub response: Option<http::Response<Vec<u8>>>,
    /// How long a server waits before answering.
    pub delay: Duration,
    /// For a streamed answer: how long a server waits between its events (a slow
    /// model); zero sends the answer at once.
    pub pace: Duration,
}

#[derive(Debug)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    scope: String,
}

#[derive(Debug, Default)]
struct State {
    account: Option<Account>,
    deny_consent: bool,
    rotate_refresh_tokens: bool,
    token_lifetime: u64,
    next_id: u64,
    codes: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, bool>,
    access_tokens: HashMap<String, SystemTime>,
    onboarded: Option<(String, String)>,
    operations: HashMap<String, u32>,
    faults: Vec<(String, VecDeque<Fault>)>,
    capacity_mid_stream: bool,
    /// The pause between a stream's events.
    stream_pace: Duration,
    counts: BTreeMap<String, usize>,
    bodies: Vec<(String, Vec<u8>)>,
    /// Every request: method, path and body size (for the control API).
    log: Vec<(String, String, usize)>,
    /// Answers queued per model (`/_emulator/script`), used before the default one.
    scripts: HashMap<String, VecDeque<Scripted>>,
    /// Service accounts whose assertions are accepted: email → RSA public key (DER).
    service_accounts: HashMap<String, Vec<u8>>,
    /// Whether the metadata server answers with `Metadata-Flavor: Google`.
    metadata_unflavored: bool,
    /// Faults for a model's generate calls, whatever the target.
    model_faults: HashMap<String, VecDeque<Fault>>,
    /// IMDSv2 session tokens the emulated AWS metadata service handed out.
    imds_sessions: Vec<String>,
    /// How long every model call takes before its answer (a fixed upstream latency
    /// for benchmarks); zero by default.
    latency: Duration,
}

impl State {
    /// A refresh token for the emulator's OAuth client, as a sign-in would get.
    fn issue_refresh_token(&mut self) -> String {
        self.next_id += 1;
        let token = format!("1//emu-refresh-{}", self.next_id);
        self.refresh_tokens.insert(token.clone(), false);
        token
    }
}

/// The emulator's state and handler; cheap to clone (clones share state).
#[derive(Debug, Clone)]
pub struct Emulator {
    state: Arc<Mutex<State>>,
}

impl Default for Emulator {
    fn default() -> Self {
        Self::new()
    }
}

impl Emulator {
    /// An emulator playing a new free-tier user whose onboarding finishes on the
    /// first poll, with one-hour access tokens.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                account: Some(Account::NewFreeUser {
                    polls_before_done: 1,
                }),
                token_lifetime: 3600,
                ..State::default()
            })),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Plays `account` from now on.
    pub fn set_account(&self, account: Account) {
        let mut state = self.state();
        state.account = Some(account);
        state.onboarded = None;
    }

    /// Makes the consent screen answer `access_denied`.
    pub fn deny_consent(&self, deny: bool) {
        self.state().deny_consent = deny;
    }

    /// Makes refreshes return a new refresh token (and retire the old one).
    pub fn rotate_refresh_tokens(&self, rotate: bool) {
        self.state().rotate_refresh_tokens = rotate;
    }

    /// Sets the lifetime of new access tokens, in seconds.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// Revokes every refresh token (as a person removing the app's access would).
    pub fn revoke_all(&self) {
        let mut state = self.state();
        for revoked in state.refresh_tokens.values_mut() {
            *revoked = true;
        }
        state.access_tokens.clear();
    }

    /// Forgets every access token (as after a server-side invalidation); refresh
    /// tokens keep working.
    pub fn revoke_access_tokens_only(&self) {
        self.state().access_tokens.clear();
    }

    /// Issues a refresh token directly, as if a sign-in had happened.
    pub fn issue_refresh_token(&self) -> String {
        self.state().issue_refresh_token()
    }

    /// Accepts JWT-bearer assertions from `email` signed with the private key
    /// `pkcs8_pem` (as Google knows a service account's public keys).
    pub fn trust_service_account(&self, email: &str, pkcs8_pem: &str) {
        use rustls_pki_types::pem::PemObject as _;
        let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(pkcs8_pem.as_bytes())
            .expect("a PKCS#8 PEM test key");
        let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .expect("an RSA test key");
        self.state()
            .service_accounts
            .insert(email.to_owned(), pair.public().as_ref().to_vec());
    }

    /// Makes the metadata server answer without `Metadata-Flavor: Google`, as an
    /// impostor at its address would.
    pub fn metadata_unflavored(&self, unflavored: bool) {
        self.state().metadata_unflavored = unflavored;
    }

    /// Queues `fault` for the next `times` requests whose path starts with `path`.
    pub fn inject(&self, path: &str, fault: Fault, times: usize) {
        let mut state = self.state();
        let queue = std::iter::repeat_n(fault, times).collect();
        state.faults.push((path.to_owned(), queue));
    }

    /// Queues `fault` for the next `times` generate or stream calls of `model`, on any
    /// target (Code Assist names the model in the body, the others in the path).
    pub fn inject_model(&self, model: &str, fault: Fault, times: usize) {
        self.state()
            .model_faults
            .entry(model.to_owned())
            .or_default()
            .extend(std::iter::repeat_n(fault, times));
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        let mut state = self.state();
        state.faults.clear();
        state.model_faults.clear();
    }

    /// Queues `answer` as `model`'s next answer on any target (then the default one
    /// comes back).
    pub fn script(&self, model: &str, answer: Scripted) {
        self.state()
            .scripts
            .entry(model.to_owned())
            .or_default()
            .push_back(answer);
    }

    /// Makes streamed answers pause this long between their events (zero: at once).
    pub fn pace_streams(&self, pace: Duration) {
        self.state().stream_pace = pace;
    }

    /// Makes the next streamed answer break off with a capacity 429 after two chunks.
    pub fn capacity_error_mid_stream(&self) {
        self.state().capacity_mid_stream = true;
    }

    /// How many requests reached `path` (exact path, without the query).
    pub fn count(&self, path: &str) -> usize {
        self.state().counts.get(path).copied().unwrap_or(0)
    }

    /// Every model call (generate, stream, OpenAI-compatible chat) answers after
    /// `latency`: a fixed upstream latency, for benchmarks.
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }

    /// The bodies of every request to `path`, in order.
    pub fn bodies(&self, path: &str) -> Vec<Vec<u8>> {
        self.state()
            .bodies
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Starts a loopback HTTP server for this emulator.
    pub fn serve(&self) -> std::io::Result<Server> {
        Server::start(self.clone())
    }

    /// Starts a loopback HTTPS server for this emulator with `tls` (for tests of
    /// private CAs): its base URL is `https://localhost:{port}`.
    pub fn serve_tls(&self, tls: Arc<rustls::ServerConfig>) -> std::io::Result<Server> {
        Server::start_tls(self.clone(), tls)
    }

    /// Starts an HTTPS server for this emulator on `ip` (a non-loopback address, for
    /// tests through a proxy).
    pub fn serve_tls_on(
        &self,
        tls: Arc<rustls::ServerConfig>,
        ip: std::net::IpAddr,
    ) -> std::io::Result<Server> {
        Server::start_tls_on(self.clone(), tls, ip)
    }

    /// Starts a loopback HTTP server that keeps connections open between requests, as
    /// Google does; for benchmarks, where a new connection per request would measure
    /// TCP set-up instead of the client.
    pub fn serve_keep_alive(&self) -> std::io::Result<Server> {
        Server::start_keep_alive(self.clone())
    }

    /// Answers one request at `now`.
    pub fn handle(&self, request: &http::Request<Vec<u8>>, now: SystemTime) -> Answer {
        let path = request.uri().path().to_owned();
        let mut state = self.state();
        if path.starts_with("/_emulator/") {
            let host = request
                .headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
                .to_owned();
            return control::control(
                &mut state,
                request.method().as_str(),
                &path,
                request.body(),
                &host,
            );
        }
        if state.log.len() < 100_000 {
            let entry = (
                request.method().to_string(),
                path.clone(),
                request.body().len(),
            );
            state.log.push(entry);
        }
        *state.counts.entry(path.clone()).or_default() += 1;
        state.bodies.push((path.clone(), request.body().clone()));
        let called = model_called(request, &path);
        let model_call = called.is_some() || path.ends_with("/chat/completions");
        let latency = state.latency;
        let mut answer = answer(&mut state, request, &path, called, now);
        if model_call {
            answer.delay = answer.delay.max(latency);
        }
        answer
    }
}

/// What `path` answers: a fault queued for the model called or for the path, else
/// the route's own answer.
fn answer(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
    called: Option<String>,
    now: SystemTime,
) -> Answer {
    let model_fault = called.and_then(|model| state.model_faults.get_mut(&model)?.pop_front());
    match model_fault.or_else(|| take_fault(state, path)) {
        Some(Fault::Slow(delay)) => {
            let mut answer = route(state, request, path, now);
            answer.delay = delay;
            answer
        }
        Some(other) => fault_answer(&other),
        None => route(state, request, path, now),
    }
}

/// The model a generate or stream call names: in the path (Gemini API, Vertex AI) or
/// in the body (Code Assist).
fn model_called(request: &http::Request<Vec<u8>>, path: &str) -> Option<String> {
    let last = path.rsplit('/').next()?;
    if let Some((model, method)) = last.split_once(':')
        && method.ends_with("enerateContent")
    {
        return match model {
            "v1internal" => serde_json::from_slice::<Value>(request.body())
                .ok()?
                .get("model")?
                .as_str()
                .map(str::to_owned),
            model => Some(model.to_owned()),
        };
    }
    None
}

fn take_fault(state: &mut State, path: &str) -> Option<Fault> {
    let (_, queue) = state
        .faults
        .iter_mut()
        .find(|(prefix, queue)| path.starts_with(prefix.as_str()) && !queue.is_empty())?;
    queue.pop_front()
}

fn respond(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
    let response = http::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body)
        .expect("static response parts");
    Answer {
        response: Some(response),
        delay: Duration::ZERO,
        pace: Duration::ZERO,
    }
}

fn json_answer(status: u16, body: Value) -> Answer {
    respond(
        status,
        "application/json; charset=UTF-8",
        body.to_string().into_bytes(),
    )
}

fn google_error(code: u16, status: &str, message: &str, details: Value) -> Answer {
    json_answer(
        code,
        json!({"error": {"code": code, "message": message, "status": status, "details": details}}),
    )
}

fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    json_answer(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn fault_answer(fault: &Fault) -> Answer {
    match fault {
        Fault::RateLimited(seconds) => google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
            json!([
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "cloudcode-pa.googleapis.com"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s")}
            ]),
        ),
        Fault::NoCapacity(model, seconds) => google_error(
            429,
            "RESOURCE_EXHAUSTED",
            &format!("No capacity available for model {model} on the server"),
            json!([
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "cloudcode-pa.googleapis.com", "metadata": {"model": model}},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s")}
            ]),
        ),
        Fault::InvalidArgument => google_error(
            400,
            "INVALID_ARGUMENT",
            "Request contains an invalid argument.",
            json!([]),
        ),
        Fault::ModelNotFound => google_error(
            404,
            "NOT_FOUND",
            "Requested entity was not found: models/gemini-9 is not found for API version v1internal",
            json!([]),
        ),
        Fault::Forbidden => google_error(
            403,
            "PERMISSION_DENIED",
            "Permission denied on resource project (or it may not exist).",
            json!([]),
        ),
        Fault::QuotaExhausted(seconds) => google_error(
            429,
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
            json!([
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests", "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaValue": "0"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s")}
            ]),
        ),
        Fault::Unavailable => google_error(503, "UNAVAILABLE", "The service is currently unavailable.", json!([])),
        Fault::HtmlServerError => respond(
            500,
            "text/html",
            b"<html><head><title>500 Internal Server Error</title></head><body><h1>Internal Server Error</h1></body></html>".to_vec(),
        ),
        Fault::VpcServiceControls => google_error(
            403,
            "PERMISSION_DENIED",
            "Request is prohibited by organization's policy. vpcServiceControlsUniqueIdentifier: emu",
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SECURITY_POLICY_VIOLATED", "domain": "googleapis.com"}]),
        ),
        Fault::Drop => Answer {
            response: None,
            delay: Duration::ZERO,
            pace: Duration::ZERO,
        },
        Fault::MalformedJson => respond(200, "application/json", b"{\"currentTier\": {\"id\": ".to_vec()),
        Fault::HugeBody(size) => respond(200, "application/json", vec![b' '; *size]),
        Fault::Slow(_) => respond(500, "text/plain", b"unreachable".to_vec()),
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn route(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
    now: SystemTime,
) -> Answer {
    let method = request.method().as_str();
    match (method, path) {
        ("GET", "/o/oauth2/v2/auth") => authorize(state, request),
        ("GET", p) if p == "/" || p.starts_with("/computeMetadata/") => {
            metadata(state, request, p, now)
        }
        (_, p) if p.starts_with("/v1beta/openai/") => openai(state, request, p, now),
        ("POST", "/v1/token") => federation::sts(state, request, now),
        ("POST", p) if p.contains("/serviceAccounts/") && p.ends_with(":generateAccessToken") => {
            federation::generate_access_token(state, request, p, now)
        }
        (_, p) if p.starts_with("/latest/") => federation::aws_metadata(state, request, p),
        (_, p)
            if p.starts_with("/v1beta/models")
                || p.starts_with("/v1/models")
                || p.starts_with("/v1/projects/")
                || p.starts_with("/v1/publishers/") =>
        {
            public_models(state, request, p, now)
        }
        ("POST", "/token") => {
            let fields = form(request.body());
            match fields.get("grant_type").map(String::as_str) {
                Some(JWT_BEARER) => jwt_bearer(state, &fields, now),
                _ => token(state, &fields, now),
            }
        }
        ("POST", "/revoke") => {
            let token = form(request.body())
                .get("token")
                .cloned()
                .unwrap_or_default();
            if let Some(revoked) = state.refresh_tokens.get_mut(&token) {
                *revoked = true;
                json_answer(200, json!({}))
            } else if state.access_tokens.remove(&token).is_some() {
                json_answer(200, json!({}))
            } else {
                oauth_error(400, "invalid_token", "Token expired or revoked")
            }
        }
        ("GET", "/oauth2/v2/userinfo") if authorized(state, request, now) => json_answer(
            200,
            json!({"id": "1234567890", "email": EMAIL, "verified_email": true}),
        ),
        ("POST", p) | ("GET", p)
            if p.starts_with("/v1internal") && authorized(state, request, now) =>
        {
            code_assist(state, method, p, request.body())
        }
        (_, "/oauth2/v2/userinfo") => unauthenticated(),
        (_, p) if p.starts_with("/v1internal") => unauthenticated(),
        _ => google_error(
            404,
            "NOT_FOUND",
            &format!("{method} {path} is not an emulated endpoint"),
            json!([]),
        ),
    }
}

fn authorize(state: &mut State, request: &http::Request<Vec<u8>>) -> Answer {
    let query: HashMap<String, String> =
        url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let get = |key: &str| query.get(key).cloned().unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    if get("client_id") != CLIENT_ID {
        return respond(400, "text/plain", b"Error 401: invalid_client".to_vec());
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").len() != 43
    {
        return respond(400, "text/plain", b"Error 400: invalid_request".to_vec());
    }
    let Ok(mut location) = url::Url::parse(&redirect_uri) else {
        return respond(
            400,
            "text/plain",
            b"Error 400: redirect_uri_mismatch".to_vec(),
        );
    };
    if state.deny_consent {
        location
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("state", &get("state"));
    } else {
        state.next_id += 1;
        let code = format!("4/emu-code-{}", state.next_id);
        state.codes.insert(
            code.clone(),
            Grant {
                challenge: get("code_challenge"),
                redirect_uri: redirect_uri.clone(),
                scope: get("scope"),
            },
        );
        location
            .query_pairs_mut()
            .append_pair("state", &get("state"))
            .append_pair("code", &code)
            .append_pair("scope", &get("scope"));
    }
    let response = http::Response::builder()
        .status(302)
        .header("location", location.as_str())
        .body(Vec::new())
        .expect("static response parts");
    Answer {
        response: Some(response),
        delay: Duration::ZERO,
        pace: Duration::ZERO,
    }
}

/// An ID token as Google's token endpoint sends it (the signature is not checked by
/// clients that receive it straight from the token endpoint, so it is a placeholder).
fn id_token(now: SystemTime) -> String {
    let iat = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = json!({"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "1",
        "email": EMAIL, "email_verified": true, "iat": iat, "exp": iat + 3600});
    format!(
        "{}.{}.emulator-signature",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn token(state: &mut State, fields: &HashMap<String, String>, now: SystemTime) -> Answer {
    let get = |key: &str| fields.get(key).map(String::as_str).unwrap_or("");
    if get("client_id") != CLIENT_ID || get("client_secret") != CLIENT_SECRET {
        return oauth_error(401, "invalid_client", "The OAuth client was not found.");
    }
    match get("grant_type") {
        "authorization_code" => {
            // Single use: the code is gone whatever happens next.
            let Some(grant) = state.codes.remove(get("code")) else {
                return oauth_error(400, "invalid_grant", "Malformed auth code.");
            };
            if grant.redirect_uri != get("redirect_uri") {
                return oauth_error(400, "redirect_uri_mismatch", "Bad Request");
            }
            let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
            if challenge != grant.challenge {
                return oauth_error(400, "invalid_grant", "Invalid code verifier.");
            }
            state.next_id += 1;
            let refresh = format!("1//emu-refresh-{}", state.next_id);
            state.refresh_tokens.insert(refresh.clone(), false);
            let (access, lifetime) = new_access_token(state, now);
            let mut body = json!({"access_token": access, "expires_in": lifetime, "refresh_token": refresh, "scope": "https://www.googleapis.com/auth/cloud-platform", "token_type": "Bearer"});
            // As Google: `openid email` puts the email in an ID token.
            let scopes: Vec<&str> = grant.scope.split(' ').collect();
            if scopes.contains(&"openid") && scopes.contains(&"email") {
                body["id_token"] = json!(id_token(now));
            }
            json_answer(200, body)
        }
        "refresh_token" => {
            let refresh = get("refresh_token").to_owned();
            if state.refresh_tokens.get(&refresh) != Some(&false) {
                return oauth_error(400, "invalid_grant", "Token has been expired or revoked.");
            }
            let (access, lifetime) = new_access_token(state, now);
            let mut body = json!({"access_token": access, "expires_in": lifetime, "scope": "https://www.googleapis.com/auth/cloud-platform", "token_type": "Bearer"});
            if state.rotate_refresh_tokens {
                state.next_id += 1;
                let rotated = format!("1//emu-refresh-{}", state.next_id);
                state.refresh_tokens.insert(refresh, true);
                state.refresh_tokens.insert(rotated.clone(), false);
                body["refresh_token"] = json!(rotated);
            }
            json_answer(200, body)
        }
        _ => oauth_error(400, "unsupported_grant_type", "Invalid grant_type."),
    }
}

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The JWT-bearer grant as Google checks it: a known account, an RS256 signature by
/// its key, `aud` = this endpoint, `iss` = `sub`, `exp - iat` ≤ 3600, a current
/// `iat`, and a scope.
fn jwt_bearer(state: &mut State, fields: &HashMap<String, String>, now: SystemTime) -> Answer {
    let refuse = |why: &str| oauth_error(400, "invalid_grant", why);
    let assertion = fields.get("assertion").map(String::as_str).unwrap_or("");
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return refuse("Invalid JWT: not three parts.");
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return refuse("Invalid JWT: undecodable header or claims.");
    };
    if header["alg"] != "RS256" || !header["kid"].is_string() {
        return refuse("Invalid JWT: alg must be RS256 with a kid.");
    }
    let email = claims["iss"].as_str().unwrap_or("");
    let Some(public_key) = state.service_accounts.get(email) else {
        return oauth_error(400, "invalid_grant", "Invalid JWT Signature.");
    };
    let signed = &assertion[..assertion.len() - signature.len() - 1];
    let verified = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .is_some_and(|signature| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                public_key,
            )
            .verify(signed.as_bytes(), &signature)
            .is_ok()
        });
    if !verified {
        return refuse("Invalid JWT Signature.");
    }
    let now_secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap_or(0),
        claims["exp"].as_i64().unwrap_or(0),
    );
    // `sub` is optional (Google's libraries leave it out unless a user is
    // impersonated through domain-wide delegation).
    if !(claims["sub"].is_null() || claims["sub"] == claims["iss"])
        || !claims["aud"]
            .as_str()
            .is_some_and(|aud| aud.ends_with("/token"))
        || exp - iat > 3600
        || exp <= now_secs
        || iat > now_secs + 60
    {
        return refuse(
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        );
    }
    if claims["scope"]
        .as_str()
        .is_none_or(|scope| scope.trim().is_empty())
    {
        return refuse("Invalid JWT: no scope.");
    }
    let (access, lifetime) = new_access_token(state, now);
    json_answer(
        200,
        json!({"access_token": access, "expires_in": lifetime, "token_type": "Bearer"}),
    )
}

/// The metadata server: `Metadata-Flavor: Google` required on the way in and sent
/// on the way out (unless playing an impostor).
fn metadata(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
    now: SystemTime,
) -> Answer {
    let flavored = request
        .headers()
        .get("metadata-flavor")
        .is_some_and(|v| v == "Google");
    let mut answer = if !flavored {
        respond(
            403,
            "text/html",
            b"Missing Metadata-Flavor: Google header".to_vec(),
        )
    } else {
        match path {
            "/" => respond(200, "application/text", b"computeMetadata/\n".to_vec()),
            "/computeMetadata/v1/instance/service-accounts/default/token" => {
                let (access, lifetime) = new_access_token(state, now);
                json_answer(
                    200,
                    json!({"access_token": access, "expires_in": lifetime, "token_type": "Bearer"}),
                )
            }
            "/computeMetadata/v1/instance/service-accounts/default/email" => {
                respond(200, "application/text", METADATA_EMAIL.as_bytes().to_vec())
            }
            // What google-auth asks first: the account's description.
            "/computeMetadata/v1/instance/service-accounts/default/"
            | "/computeMetadata/v1/instance/service-accounts/default" => json_answer(
                200,
                json!({"aliases": ["default"], "email": METADATA_EMAIL,
                       "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}),
            ),
            "/computeMetadata/v1/project/project-id" => respond(
                200,
                "application/text",
                METADATA_PROJECT.as_bytes().to_vec(),
            ),
            _ => respond(404, "text/html", b"Not Found".to_vec()),
        }
    };
    if !state.metadata_unflavored
        && let Some(response) = answer.response.as_mut()
    {
        response
            .headers_mut()
            .insert("metadata-flavor", http::HeaderValue::from_static("Google"));
    }
    answer
}

fn new_access_token(state: &mut State, now: SystemTime) -> (String, u64) {
    state.next_id += 1;
    let token = format!("ya29.emu-access-{}", state.next_id);
    state.access_tokens.insert(
        token.clone(),
        now + Duration::from_secs(state.token_lifetime),
    );
    (token, state.token_lifetime)
}

/// True when the request carries a known, unexpired Bearer token.
fn authorized(state: &State, request: &http::Request<Vec<u8>>, now: SystemTime) -> bool {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    state
        .access_tokens
        .get(token)
        .is_some_and(|expires| *expires > now)
}

fn unauthenticated() -> Answer {
    google_error(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        json!([]),
    )
}

fn code_assist(state: &mut State, method: &str, path: &str, body: &[u8]) -> Answer {
    let path = path.split('?').next().unwrap_or(path);
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method, path) {
        ("POST", "/v1internal:loadCodeAssist") => match state.account.clone() {
            Some(Account::VpcServiceControls) => fault_answer(&Fault::VpcServiceControls),
            Some(Account::UnsupportedClient) => json_answer(
                200,
                json!({"allowedTiers": [{"id": "free-tier", "isDefault": true}],
                    "ineligibleTiers": [{"reasonCode": "UNSUPPORTED_CLIENT", "tierId": "free-tier",
                        "reasonMessage": "This client is no longer supported for Gemini Code Assist for individuals. Use a supported client."}]}),
            ),
            Some(Account::Standard { project }) => {
                let mut answer = json!({"currentTier": {"id": "standard-tier", "name": "Gemini Code Assist Standard"},
                    "allowedTiers": [{"id": "standard-tier", "isDefault": true}]});
                if let Some(project) = project {
                    answer["cloudaicompanionProject"] = json!(project);
                }
                json_answer(200, answer)
            }
            Some(Account::NewFreeUser { .. }) | None => match &state.onboarded {
                Some((tier, project)) => json_answer(
                    200,
                    json!({"currentTier": {"id": tier}, "cloudaicompanionProject": project}),
                ),
                None => json_answer(
                    200,
                    json!({"allowedTiers": [{"id": "free-tier", "isDefault": true}, {"id": "standard-tier"}]}),
                ),
            },
        },
        ("POST", "/v1internal:onboardUser") => {
            if state.account == Some(Account::UnsupportedClient) {
                return google_error(
                    400,
                    "FAILED_PRECONDITION",
                    "Precondition check failed.",
                    json!([]),
                );
            }
            let tier = body["tierId"].as_str().unwrap_or("").to_owned();
            let sends_project = body.get("cloudaicompanionProject").is_some()
                || body["metadata"].get("duetProject").is_some();
            if tier == "free-tier" && sends_project {
                return google_error(400, "FAILED_PRECONDITION", "Precondition Failed", json!([]));
            }
            if tier.is_empty() {
                return google_error(400, "INVALID_ARGUMENT", "tierId is required", json!([]));
            }
            let polls = match state.account {
                Some(Account::NewFreeUser { polls_before_done }) => polls_before_done,
                _ => 0,
            };
            state.next_id += 1;
            let name = format!("operations/onboard-{}", state.next_id);
            let project = body["cloudaicompanionProject"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| "emu-managed-project".to_owned());
            state.onboarded = Some((tier, project));
            if polls == 0 {
                return json_answer(200, operation_done(&name, state));
            }
            state.operations.insert(name.clone(), polls);
            json_answer(200, json!({"name": name, "done": false}))
        }
        ("GET", p) if p.starts_with("/v1internal/operations/") => {
            let name = p.trim_start_matches("/v1internal/").to_owned();
            match state.operations.get_mut(&name) {
                None => google_error(404, "NOT_FOUND", "Operation not found", json!([])),
                Some(left) if *left > 1 => {
                    *left -= 1;
                    json_answer(200, json!({"name": name, "done": false}))
                }
                Some(_) => {
                    state.operations.remove(&name);
                    json_answer(200, operation_done(&name, state))
                }
            }
        }
        ("POST", "/v1internal:streamGenerateContent") | ("POST", "/v1internal:generateContent") => {
            let Some(model) = body["model"].as_str().filter(|m| !m.is_empty()) else {
                return google_error(400, "INVALID_ARGUMENT", "model is required", json!([]));
            };
            if body["project"].as_str().is_none_or(str::is_empty) || !body["request"].is_object() {
                return google_error(
                    400,
                    "INVALID_ARGUMENT",
                    "project and request are required",
                    json!([]),
                );
            }
            if let Some(refusal) = refuse_model_request(model, &body["request"], "v1internal") {
                return refusal;
            }
            model_answer(state, model, path.ends_with(":streamGenerateContent"), true)
        }
        ("POST", "/v1internal:retrieveUserQuota") => {
            if body["project"].as_str().is_none_or(str::is_empty) {
                return google_error(400, "INVALID_ARGUMENT", "project is required", json!([]));
            }
            json_answer(
                200,
                json!({"buckets": [
                    {"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingFraction": 0.42, "resetTime": "2030-01-01T00:00:00Z"},
                    {"modelId": "gemini-3.8-flash", "tokenType": "REQUESTS", "remainingFraction": 1.0, "resetTime": "2030-01-01T00:00:00Z"}
                ]}),
            )
        }
        _ => google_error(404, "NOT_FOUND", "Method not found.", json!([])),
    }
}

/// The Gemini models the emulator lists, as Google's list stood in December 2026
/// (`gemini-2.5-flash` was shut down on 2026-10-16).
pub const LISTED_MODELS: [&str; 11] = [
    "gemini-2.5-pro",
    "gemini-2.5-flash-lite",
    "gemini-3-pro-preview",
    "gemini-3.1-pro-preview",
    "gemini-3-flash-preview",
    "gemini-3.5-flash",
    "gemini-3.6-flash",
    "gemini-3.7-flash",
    "gemini-3.8-flash",
    "gemini-3.5-flash-lite",
    "gemini-3.1-flash-lite",
];

/// Models Google has shut down: asked for, they are not found.
pub const RETIRED_MODELS: [&str; 6] = [
    "gemini-2.5-flash",
    "gemini-2.0-flash",
    "gemini-2.0-flash-lite",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "gemini-1.0-pro",
];

/// What Google refuses before answering a model call: a retired or unknown model (404), and
/// thinking settings the model does not take (400): both `thinkingLevel` and
/// `thinkingBudget`; a level on Gemini 2.5; a budget of 0 on 2.5 Pro (it always
/// thinks); `MINIMAL` on 3.1 Pro and 3.7 Flash.
fn refuse_model_request(model: &str, request: &Value, version: &str) -> Option<Answer> {
    let model = model.strip_prefix("models/").unwrap_or(model);
    if RETIRED_MODELS.contains(&model) || !LISTED_MODELS.contains(&model) {
        return Some(google_error(
            404,
            "NOT_FOUND",
            &format!(
                "models/{model} is not found for API version {version}, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods."
            ),
            json!([]),
        ));
    }
    if missing_thought_signature(model, request) {
        return Some(google_error(
            400,
            "INVALID_ARGUMENT",
            "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance.",
            json!([]),
        ));
    }
    // Google reads proto field names as well as their JSON names (google-genai sends
    // `thinking_level`).
    let field = |value: &Value, json_name: &str, proto_name: &str| {
        value
            .get(json_name)
            .or_else(|| value.get(proto_name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let config = field(request, "generationConfig", "generation_config");
    let thinking = field(&config, "thinkingConfig", "thinking_config");
    let level_value = field(&thinking, "thinkingLevel", "thinking_level");
    let level = level_value.as_str();
    let budget = field(&thinking, "thinkingBudget", "thinking_budget").as_i64();
    let invalid = |message: &str| Some(google_error(400, "INVALID_ARGUMENT", message, json!([])));
    if level.is_some() && budget.is_some() {
        return invalid("You can only set one of thinking budget and thinking level.");
    }
    let gemini_25 = model.starts_with("gemini-2.5-");
    if gemini_25 && level.is_some() {
        return invalid("Thinking level is not supported for this model.");
    }
    if model.starts_with("gemini-2.5-pro") && budget == Some(0) {
        return invalid("Budget 0 is invalid. This model only works in thinking mode.");
    }
    if let Some(level) = level {
        if !matches!(level, "MINIMAL" | "LOW" | "MEDIUM" | "HIGH") {
            return invalid(&format!("Invalid thinking level: {level}"));
        }
        let no_minimal =
            model.starts_with("gemini-3.1-pro") || model.starts_with("gemini-3.7-flash");
        if level == "MINIMAL" && no_minimal {
            return invalid(&format!(
                "Thinking level MINIMAL is not supported for model {model}."
            ));
        }
    }
    None
}

/// A model's answer: whole, or streamed word by word (breaking off with a capacity
/// error when asked); wrapped in `{"response": …}` as Code Assist does, or bare as
/// the Gemini API and Vertex AI answer.
fn model_answer(state: &mut State, model: &str, stream: bool, wrap: bool) -> Answer {
    let words = ["Hello", " from", " the", " emulator."];
    let wrapped = |response: Value| match wrap {
        true => json!({ "response": response }),
        false => response,
    };
    if let Some(scripted) = state.scripts.get_mut(model).and_then(VecDeque::pop_front) {
        return scripted_answer(state, model, scripted, stream, &wrapped);
    }
    if !stream {
        return json_answer(
            200,
            wrapped(
                json!({"candidates": [{"content": {"role": "model", "parts": [{"text": words.concat()}]}, "finishReason": "STOP"}], "modelVersion": model}),
            ),
        );
    }
    let capacity_mid_stream = std::mem::take(&mut state.capacity_mid_stream);
    let mut stream = String::new();
    for (index, word) in words.iter().enumerate() {
        if capacity_mid_stream && index == 2 {
            let error = fault_answer(&Fault::NoCapacity(model.to_owned(), 2.0));
            let body = error
                .response
                .map(|r| String::from_utf8_lossy(r.body()).into_owned())
                .unwrap_or_default();
            stream.push_str(&format!("data: {body}\r\n\r\n"));
            break;
        }
        let mut candidate = json!({"content": {"role": "model", "parts": [{"text": word}]}});
        if index == words.len() - 1 {
            candidate["finishReason"] = json!("STOP");
        }
        let event = wrapped(json!({"candidates": [candidate], "modelVersion": model}));
        stream.push_str(&format!("data: {event}\r\n\r\n"));
    }
    let mut answer = respond(200, "text/event-stream", stream.into_bytes());
    answer.pace = state.stream_pace;
    answer
}

/// A scripted answer: whole (every part in one candidate), or one event per part, the
/// last with the finish reason and the usage.
fn scripted_answer(
    state: &State,
    model: &str,
    scripted: Scripted,
    stream: bool,
    wrapped: &dyn Fn(Value) -> Value,
) -> Answer {
    let last = |mut candidate: Value, response: &mut Value| {
        candidate["finishReason"] = json!(scripted.finish_reason);
        if let Some(usage) = &scripted.usage {
            response["usageMetadata"] = usage.clone();
        }
        response["candidates"] = json!([candidate]);
    };
    if !stream {
        let mut response = json!({"modelVersion": model});
        let candidate = json!({"content": {"role": "model", "parts": scripted.parts}});
        last(candidate, &mut response);
        return json_answer(200, wrapped(response));
    }
    let mut body = String::new();
    let count = scripted.parts.len().max(1);
    for index in 0..count {
        let parts = scripted
            .parts
            .get(index)
            .cloned()
            .map_or_else(Vec::new, |p| vec![p]);
        let candidate = json!({"content": {"role": "model", "parts": parts}});
        let mut response = json!({"modelVersion": model});
        match index + 1 == count {
            true => last(candidate, &mut response),
            false => response["candidates"] = json!([candidate]),
        }
        body.push_str(&format!("data: {}\r\n\r\n", wrapped(response)));
    }
    let mut answer = respond(200, "text/event-stream", body.into_bytes());
    answer.pace = state.stream_pace;
    answer
}

/// Gemini 3 refuses history that replays a function call without the thought
/// signature it came with: the first `functionCall` of each model turn must carry one
/// (Google's placeholder `skip_thought_signature_validator` counts).
fn missing_thought_signature(model: &str, request: &Value) -> bool {
    if !model.starts_with("gemini-3") {
        return false;
    }
    request["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|turn| turn["role"] == "model")
        .filter_map(|turn| {
            turn["parts"]
                .as_array()?
                .iter()
                .find(|part| part.get("functionCall").is_some())
        })
        .any(|first_call| {
            first_call["thoughtSignature"]
                .as_str()
                .is_none_or(str::is_empty)
        })
}

/// The Gemini API (`/v1beta/models…` and `/v1/models…`), Vertex AI
/// (`/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:…`) and Vertex AI
/// Express (`/v1/publishers/google/models/{m}:…`): an API key ([`API_KEY`], not for
/// Vertex AI with a project) or a Bearer token the emulator issued.
fn public_models(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
    now: SystemTime,
) -> Answer {
    // Vertex AI with a project takes tokens only; the Gemini API (v1 and v1beta) and
    // Vertex AI Express (`/v1/publishers/…`, no project) take an API key.
    let vertex = path.starts_with("/v1/projects/");
    let keyed = !vertex
        && request
            .headers()
            .get("x-goog-api-key")
            .is_some_and(|key| key == API_KEY);
    if request.headers().contains_key("x-goog-api-key") && !keyed {
        return google_error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]),
        );
    }
    if !keyed && !authorized(state, request, now) {
        return unauthenticated();
    }
    if matches!(path, "/v1beta/models" | "/v1/models") && request.method() == "GET" {
        return json_answer(
            200,
            json!({"models": LISTED_MODELS
                .iter()
                .map(|id| json!({"name": format!("models/{id}"), "inputTokenLimit": 1048576, "outputTokenLimit": 65536, "supportedGenerationMethods": ["generateContent", "countTokens"]}))
                .chain(std::iter::once(json!({"name": "models/gemini-embedding-001", "inputTokenLimit": 2048, "supportedGenerationMethods": ["embedContent"]})))
                .collect::<Vec<_>>()}),
        );
    }
    // models.get: one model, or Google's 404 naming it.
    if let Some(model) = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))
        .filter(|rest| !rest.contains(':') && !rest.contains('/'))
        && request.method() == "GET"
    {
        let version = path.split('/').nth(1).unwrap_or("v1beta");
        return match LISTED_MODELS.contains(&model) {
            true => json_answer(
                200,
                json!({"name": format!("models/{model}"), "version": "001", "displayName": model,
                       "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                       "supportedGenerationMethods": ["generateContent", "countTokens"],
                       "thinking": true}),
            ),
            false => google_error(
                404,
                "NOT_FOUND",
                &format!(
                    "models/{model} is not found for API version {version}, or is not supported for GetModel."
                ),
                json!([]),
            ),
        };
    }
    let Some((model, method)) = path
        .rsplit('/')
        .next()
        .and_then(|last| last.split_once(':'))
    else {
        return google_error(404, "NOT_FOUND", "Method not found.", json!([]));
    };
    let mut body: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
    // countTokens also takes a whole request (system instruction and tools counted).
    if method == "countTokens" && body["generateContentRequest"].is_object() {
        body = body["generateContentRequest"].take();
    }
    if !body["contents"].is_array() {
        return google_error(400, "INVALID_ARGUMENT", "contents is required", json!([]));
    }
    let version = match path.starts_with("/v1beta/") {
        true => "v1beta",
        false => "v1",
    };
    if let Some(refusal) = refuse_model_request(model, &body, version) {
        return refusal;
    }
    match method {
        "generateContent" => model_answer(state, model, false, false),
        "streamGenerateContent" => model_answer(state, model, true, false),
        "countTokens" => json_answer(
            200,
            json!({"totalTokens": (body["contents"].to_string().len()
                + body["systemInstruction"].to_string().len()
                + body["tools"].to_string().len()) / 4}),
        ),
        _ => google_error(404, "NOT_FOUND", "Method not found.", json!([])),
    }
}

/// The Gemini API's OpenAI-compatible endpoint: `Authorization: Bearer` with
/// [`API_KEY`] or an issued token; errors as a JSON array holding Google's envelope,
/// as Google sends them there.
fn openai(
    state: &mut State,
    request: &http::Request<Vec<u8>>,
    path: &str,
    now: SystemTime,
) -> Answer {
    let array_error = |code: u16, status: &str, message: &str, details: Value| {
        json_answer(
            code,
            json!([{"error": {"code": code, "message": message, "status": status, "details": details}}]),
        )
    };
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if bearer != API_KEY && !authorized(state, request, now) {
        return array_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
            json!([]),
        );
    }
    match (request.method().as_str(), path) {
        ("GET", "/v1beta/openai/models") => json_answer(
            200,
            json!({"object": "list", "data": [
                {"id": "models/gemini-2.5-pro", "object": "model", "owned_by": "google"},
                {"id": "models/gemini-3.8-flash", "object": "model", "owned_by": "google"}
            ]}),
        ),
        ("POST", "/v1beta/openai/chat/completions") => {
            let body: Value = serde_json::from_slice(request.body()).unwrap_or(Value::Null);
            let known = [
                "model",
                "messages",
                "stream",
                "temperature",
                "max_tokens",
                "n",
                "top_p",
                "stop",
                "tools",
                "tool_choice",
                "reasoning_effort",
                "stream_options",
            ];
            if let Some(unknown) = body
                .as_object()
                .and_then(|o| o.keys().find(|k| !known.contains(&k.as_str())))
            {
                let message = format!(
                    "Invalid JSON payload received. Unknown name \"{unknown}\": Cannot find field."
                );
                return array_error(
                    400,
                    "INVALID_ARGUMENT",
                    &message,
                    json!([{"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"description": message}]}]),
                );
            }
            let Some(model) = body["model"].as_str() else {
                return array_error(400, "INVALID_ARGUMENT", "model is required", json!([]));
            };
            let words = ["Hello", " from", " the", " emulator."];
            if body["stream"] != true {
                return json_answer(
                    200,
                    json!({"object": "chat.completion", "model": model, "choices": [{"index": 0, "message": {"role": "assistant", "content": words.concat()}, "finish_reason": "stop"}]}),
                );
            }
            let mut stream = String::new();
            for (index, word) in words.iter().enumerate() {
                let finish = if index == words.len() - 1 {
                    json!("stop")
                } else {
                    Value::Null
                };
                let chunk = json!({"object": "chat.completion.chunk", "model": model, "choices": [{"index": 0, "delta": {"role": "assistant", "content": word}, "finish_reason": finish}]});
                stream.push_str(&format!("data: {chunk}\n\n"));
            }
            stream.push_str("data: [DONE]\n\n");
            respond(200, "text/event-stream", stream.into_bytes())
        }
        _ => array_error(404, "NOT_FOUND", "Method not found.", json!([])),
    }
}

fn operation_done(name: &str, state: &State) -> Value {
    let project = state
        .onboarded
        .as_ref()
        .map(|(_, p)| p.clone())
        .unwrap_or_default();
    json!({"name": name, "done": true, "response": {"@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse",
        "cloudaicompanionProject": {"id": project, "name": project}}})
}
