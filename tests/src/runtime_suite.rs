//! One suite for every runtime: each scenario is written once, against
//! [`RuntimeUnderTest`], and runs on every runtime that implements it (the blocking
//! and tokio runtimes today; the next one implements the trait and invokes
//! [`runtime_suite!`](crate::runtime_suite!)).
//!
//! The trait is a synchronous view of a runtime: its drivers, its client, its
//! callback listener. An async runtime performs each call on its own executor and
//! waits for it; streams are read to their end and handed back as the items they
//! gave. The scenarios talk to the emulator over loopback.
//!
//! ```ignore
//! // adapters/<runtime>/tests/suite.rs
//! struct MyRuntime { /* … */ }
//! impl codeassist_testkit::runtime_suite::RuntimeUnderTest for MyRuntime { /* … */ }
//! codeassist_testkit::runtime_suite!(MyRuntime);
//! ```

use std::io::Cursor;
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use codeassist_core::client::{Answered, Opened, Operation, SignIn};
use codeassist_core::code_assist::{ProjectContext, ProjectSource, Quota};
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{Call, Flow, Request, TransportErrorKind};
use codeassist_core::inference::{
    ApiVersion, Chunk, GenerateRequest, ModelInfo, OpenAiItem, OpenAiPath, StreamItem, Target,
};
use codeassist_core::oauth::{
    CallbackError, Credentials, Logout, OAuthClient, refresh_token, unix_seconds,
};
use codeassist_core::{Error, Secret, SplitMix64};
use codeassist_runtime::{
    CallbackWaitError, ClientBuilder, ClientError, CredentialStore, FileStore, LoginOptions,
    ProxySetting, TrustRoots, WaitOptions,
};
use serde_json::json;

use crate::browser::{agent, preconnect_then_callbacks, slow_clients_then_callback};
use crate::client_scenarios::{
    ClientRuntime, credentials_expiring, short_refresh, signed_in_store,
};
use crate::conformance::{Driver, code_assist_config, oauth_client};
use crate::emulator::{API_KEY, Account, CLIENT_ID, CLIENT_SECRET, EMAIL, Emulator, Fault, Server};

/// What `Client::stream` takes: the request, built from a valid token.
pub type MakeRequest = Box<dyn FnMut(&Secret) -> Result<Request, Error> + Send>;

/// A value computed elsewhere (a thread, a task), waited for when called.
pub type Joiner<T> = Box<dyn FnOnce() -> T + Send>;

/// What a scenario sets on a driver; `None` keeps the runtime's default.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DriverSettings {
    /// Response bodies larger than this are transport failures.
    pub max_body: Option<usize>,
    /// A whole request may take this long (a stream's opening too).
    pub request_timeout: Option<Duration>,
    /// A stream may be silent this long.
    pub stream_idle_timeout: Option<Duration>,
    /// The certificate authorities trusted.
    pub trust: Option<Arc<TrustRoots>>,
    /// The proxy (default: the runtime's, from the environment).
    pub proxy: Option<ProxySetting>,
}

/// A runtime seen synchronously: what every scenario of this suite drives.
pub trait RuntimeUnderTest: Sized {
    /// The runtime's driver, which also makes its client.
    type Driver: codeassist_runtime::Runtime<Client = Self::Client> + Clone + Send + Sync + 'static;
    /// The runtime's client.
    type Client: Clone + Send + Sync + 'static;
    /// The runtime's callback listener.
    type Listener;
    /// A callback the listener took.
    type Callback;

    /// The runtime, ready (an async one with its executor running).
    fn start() -> Self;

    /// A driver with these settings.
    fn driver(&self, settings: DriverSettings) -> Self::Driver;
    /// Runs `flow` to its end on `driver`.
    fn run<F>(&self, driver: &Self::Driver, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static;
    /// Sends a streaming request on `driver` and reads the stream to its end.
    fn stream(
        &self,
        driver: &Self::Driver,
        request: Request,
    ) -> Result<Vec<Result<StreamItem, Error>>, Error>;

    /// Builds a client (the builder made with [`RuntimeUnderTest::builder`]).
    fn build(&self, builder: ClientBuilder<Self::Driver>) -> Self::Client;
    /// Runs any core client operation.
    fn client_run<O>(&self, client: &Self::Client, op: O) -> Result<O::Output, ClientError>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static;
    /// Runs `op` elsewhere (a thread, a task) and returns how to wait for it.
    fn run_in_background<O>(
        &self,
        client: &Self::Client,
        op: O,
    ) -> Joiner<Result<O::Output, ClientError>>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static;
    /// `Client::access_token`, elsewhere (concurrent callers of one client).
    fn access_token_in_background(
        &self,
        client: &Self::Client,
    ) -> Joiner<Result<Secret, ClientError>>;
    /// `Client::login`.
    fn login(&self, client: &Self::Client, options: LoginOptions) -> Result<SignIn, ClientError>;
    /// `Client::credentials`.
    fn credentials(&self, client: &Self::Client) -> Result<Option<Credentials>, ClientError>;
    /// `Client::access_token`.
    fn access_token(&self, client: &Self::Client) -> Result<Secret, ClientError>;
    /// `Client::project`.
    fn project(&self, client: &Self::Client) -> Result<ProjectContext, ClientError>;
    /// `Client::quota`.
    fn quota(&self, client: &Self::Client) -> Result<Quota, ClientError>;
    /// `Client::logout`.
    fn logout(&self, client: &Self::Client) -> Result<Logout, ClientError>;
    /// `Client::generate`.
    fn generate(
        &self,
        client: &Self::Client,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError>;
    /// `Client::stream_generate`, read to its end.
    fn stream_generate(
        &self,
        client: &Self::Client,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError>;
    /// `Client::generate_on`.
    fn generate_on(
        &self,
        client: &Self::Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError>;
    /// `Client::stream_on`, read to its end.
    fn stream_on(
        &self,
        client: &Self::Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError>;
    /// `Client::stream_with_fallback`, the stream read to its end.
    #[allow(clippy::type_complexity)]
    fn stream_with_fallback(
        &self,
        client: &Self::Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<(Answered<Opened>, Vec<Result<StreamItem, Error>>), ClientError>;
    /// `Client::list_models_on`.
    fn list_models_on(
        &self,
        client: &Self::Client,
        target: &Target,
    ) -> Result<Vec<ModelInfo>, ClientError>;
    /// `Client::openai`.
    fn openai(
        &self,
        client: &Self::Client,
        target: &Target,
        path: OpenAiPath,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError>;
    /// `Client::openai_stream`, read to its end.
    fn openai_stream(
        &self,
        client: &Self::Client,
        target: &Target,
        body: serde_json::Value,
    ) -> Result<Vec<Result<OpenAiItem, Error>>, ClientError>;
    /// `Client::stream`, read to its end.
    fn client_stream(
        &self,
        client: &Self::Client,
        make: MakeRequest,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError>;

    /// `CallbackListener::bind`.
    fn bind(&self, port: u16) -> std::io::Result<Self::Listener>;
    /// The port the listener took.
    fn listener_port(listener: &Self::Listener) -> u16;
    /// The listener's redirect URI.
    fn redirect_uri(listener: &Self::Listener) -> String;
    /// `CallbackListener::wait_for_code`.
    fn wait_for_code(
        &self,
        listener: &Self::Listener,
        state: &Secret,
        options: WaitOptions,
    ) -> Result<Self::Callback, CallbackWaitError>;
    /// The code a callback carried.
    fn code(callback: &Self::Callback) -> &Secret;
    /// `Callback::answer`: what the browser is told.
    fn answer(&self, callback: Self::Callback, outcome: Result<(), &str>);

    /// `Client::builder(oauth)` of this runtime, over a default driver.
    fn builder(&self, oauth: OAuthClient) -> ClientBuilder<Self::Driver> {
        ClientBuilder::new(oauth, self.driver(DriverSettings::default()))
    }
}

/// Runs each named scenario of this module as a `#[test]` on `$runtime`.
#[macro_export]
macro_rules! runtime_suite {
    ($runtime:ty) => {
        $crate::runtime_suite!(@each $runtime;
            the_driver_conforms,
            bodies_over_the_cap_are_transport_failures,
            a_stream_arrives_item_by_item_and_a_mid_stream_429_is_classified,
            streams_have_an_idle_timeout_not_a_total_deadline,
            a_private_ca_is_trusted_only_when_given,
            https_goes_through_a_real_proxy,
            the_client_follows_the_client_rules,
            the_lock_is_free_while_a_refresh_backs_off,
            the_client_retries_the_opening_as_google_asks_and_refreshes_a_refused_token_once,
            the_client_streams_in_the_cached_project,
            every_target_streams_and_pro_falls_back_to_flash,
            the_openai_compatible_endpoint_passes_through,
            the_client_signs_in_and_serves_tokens_projects_and_quota,
            a_revoked_grant_asks_for_login_and_logout_survives_a_failed_revocation,
            the_listener_ignores_strays_and_forgeries_then_takes_the_real_callback,
            access_denied_ends_the_wait_and_silence_times_out,
            a_busy_port_falls_back_to_a_free_one,
            a_paste_races_the_browser_and_its_end_does_not_cancel,
            a_silent_connection_does_not_hold_up_the_callback,
            slow_local_clients_cannot_hold_the_callback_hostage,
            a_federation_program_runs_under_the_runtime,
        );
    };
    (@each $runtime:ty; $($scenario:ident),* $(,)?) => {
        $(
            #[test]
            fn $scenario() {
                let runtime = <$runtime as $crate::runtime_suite::RuntimeUnderTest>::start();
                $crate::runtime_suite::$scenario(&runtime);
            }
        )*
    };
}

// ---------------------------------------------------------------------------------
// Helpers.

/// Workload identity federation through a program (an executable credential
/// source): the runtime runs it, without a shell, with Google's variables, and the
/// token it prints is exchanged at the emulated STS; a program that hangs is stopped
/// at its timeout.
pub fn a_federation_program_runs_under_the_runtime<R: RuntimeUnderTest>(runtime: &R) {
    if cfg!(not(unix)) {
        return;
    }
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let script = dir.path().join("token-helper");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE\" = 0 ] || exit 9\n\
             [ \"$1\" = hang ] && sleep 30\n\
             printf '{{\"version\": 1, \"success\": true, \"token_type\": \"urn:ietf:params:oauth:token-type:jwt\", \"id_token\": \"{}\", \"expiration_time\": 4102444800}}'\n",
            crate::emulator::SUBJECT_TOKEN
        ),
    )
    .expect("the script");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    let client_for = |argument: &str| {
        let file = json!({"type": "external_account",
            "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": format!("{base}/v1/token"),
            "credential_source": {"executable": {
                "command": format!("{} {argument}", script.display()), "timeout_millis": 5000}}});
        let parsed = codeassist_core::source::parse_credential_file(
            file.to_string().as_bytes(),
            &codeassist_core::source::Origin("federation.json".into()),
            &codeassist_runtime::RingKeys,
        )
        .expect("the file parses");
        let mut source = parsed.into_source();
        source.use_environment(&codeassist_core::source::Environment::from_vars([(
            "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
            "1",
        )]));
        runtime.build(
            runtime
                .builder(oauth_client(&base))
                .store(FileStore::new(dir.path().join("oauth.json")))
                .env_project(None)
                .source(source),
        )
    };
    let token = runtime
        .access_token(&client_for("run"))
        .expect("a federated token");
    assert!(token.expose().starts_with("ya29.emu-access-"), "{token:?}");
    assert_eq!(emulator.count("/v1/token"), 1);

    let started = Instant::now();
    let error = runtime.access_token(&client_for("hang")).unwrap_err();
    assert!(
        error.to_string().contains("did not finish within 5 s"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(emulator.count("/v1/token"), 1);
}

/// GETs `url`, returning the status and the body.
fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().expect("the GET");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// What a browser does with the authorization URL: the emulator consents and
/// redirects; the browser follows to the listener.
fn browse(authorize_url: &str) -> (u16, String) {
    let response = agent().get(authorize_url).call().expect("the consent page");
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned();
    get(&location)
}

/// Login options whose browser follows the URL on a thread, on any free port.
fn browsing() -> LoginOptions {
    let mut options = LoginOptions::new(|url| {
        let url = url.to_owned();
        std::thread::spawn(move || browse(&url));
    });
    options.port = 0;
    options
}

fn wait(timeout: Duration) -> WaitOptions {
    let mut options = WaitOptions::default();
    options.timeout = timeout;
    options
}

/// The text of a streamed answer's chunks.
fn texts(items: &[StreamItem]) -> String {
    items
        .iter()
        .filter_map(|item| match item {
            StreamItem::Chunk(chunk) => {
                chunk.response["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .map(str::to_owned)
            }
            _ => None,
        })
        .collect()
}

/// Every item of a stream that must not fail.
fn all_ok<T: std::fmt::Debug>(items: Vec<Result<T, Error>>) -> Vec<T> {
    items
        .into_iter()
        .map(|item| item.expect("a stream item"))
        .collect()
}

fn userinfo(base: &str) -> Request {
    http::Request::get(format!("{base}/oauth2/v2/userinfo"))
        .body(Vec::new())
        .expect("a request")
}

/// The chat request every inference scenario sends.
fn hi() -> serde_json::Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
}

/// An emulator on loopback, a default driver, and a valid access token for it.
fn signed_in<R: RuntimeUnderTest>(runtime: &R) -> (Emulator, Server, R::Driver, Secret) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let driver = runtime.driver(DriverSettings::default());
    let credentials = Credentials::new(
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        emulator.issue_refresh_token(),
    );
    let token_endpoint = format!("{}/token", server.base_url());
    let refresh = refresh_token(&credentials, &token_endpoint).expect("a refresh flow");
    let fresh = runtime.run(&driver, refresh).expect("a token");
    let token = fresh.access_token.expect("an access token");
    (emulator, server, driver, token)
}

/// A client of `runtime` over a file store in `dir`, with the emulator's Code Assist.
fn client_in<R: RuntimeUnderTest>(runtime: &R, base: &str, store: FileStore) -> R::Client {
    runtime.build(
        runtime
            .builder(oauth_client(base))
            .store(store)
            .code_assist(code_assist_config(base))
            .env_project(None),
    )
}

/// An emulator of a Standard-tier account, and a client signed in with an expired
/// token (the first call refreshes).
fn standard_account<R: RuntimeUnderTest>(
    runtime: &R,
) -> (Emulator, Server, R::Client, tempfile::TempDir) {
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("std-project".into()),
    });
    let server = emulator.serve().expect("the emulator");
    let dir = tempfile::tempdir().expect("a directory");
    let store = signed_in_store(&emulator, &dir.path().join("oauth.json"), "ya29.old", -10);
    let client = client_in(runtime, &server.base_url(), store);
    (emulator, server, client, dir)
}

// ---------------------------------------------------------------------------------
// The driver.

/// The driver conformance scenarios of [`crate::conformance`], over real loopback
/// HTTP.
pub fn the_driver_conforms<R: RuntimeUnderTest>(runtime: &R) {
    struct OnRuntime<'a, R: RuntimeUnderTest> {
        runtime: &'a R,
        driver: R::Driver,
        base_url: String,
    }
    impl<R: RuntimeUnderTest> Driver for OnRuntime<'_, R> {
        fn run<F>(&mut self, flow: F) -> Result<F::Output, Error>
        where
            F: Flow<Error = Error> + Send + 'static,
            F::Output: Send + 'static,
        {
            self.runtime.run(&self.driver, flow)
        }
        fn base_url(&self) -> String {
            self.base_url.clone()
        }
    }
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let mut driver = OnRuntime {
        runtime,
        driver: runtime.driver(DriverSettings::default()),
        base_url: server.base_url(),
    };
    crate::conformance::run_all(&mut driver, &emulator);
}

/// A body over the driver's cap fails as a transport failure: Google never answered.
pub fn bodies_over_the_cap_are_transport_failures<R: RuntimeUnderTest>(runtime: &R) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let driver = runtime.driver(DriverSettings {
        max_body: Some(1024),
        ..DriverSettings::default()
    });
    emulator.inject("/huge", Fault::HugeBody(64 * 1024), 1);
    let request = http::Request::get(format!("{}/huge", server.base_url()))
        .body(Vec::new())
        .expect("a request");
    let error = runtime.run(&driver, Call::new(request)).unwrap_err();
    assert!(error.api().is_none(), "Google never answered");
    assert_eq!(
        error.transport().map(|t| t.kind()),
        Some(TransportErrorKind::BodyTooLarge)
    );
}

/// A streamed answer arrives as chunks ending in STOP; a capacity 429 mid-stream is a
/// classified item with its delay and model; a refused token fails the opening.
pub fn a_stream_arrives_item_by_item_and_a_mid_stream_429_is_classified<R: RuntimeUnderTest>(
    runtime: &R,
) {
    let (emulator, server, driver, token) = signed_in(runtime);
    let base = server.base_url();
    let request = GenerateRequest::new("gemini-2.5-pro", "proj-1", "p-1", json!({"contents": []}));
    let mut ids = SplitMix64::new(3);

    let open = |token: &Secret, ids: &mut SplitMix64| {
        request
            .to_stream_request(&base, token, ids)
            .expect("a stream request")
    };
    let items = all_ok(runtime.stream(&driver, open(&token, &mut ids)).unwrap());
    assert_eq!(items.len(), 4);
    assert_eq!(texts(&items), "Hello from the emulator.");
    let Some(StreamItem::Chunk(last)) = items.last() else {
        panic!("{items:?}")
    };
    assert_eq!(last.finish_reason.as_deref(), Some("STOP"));

    emulator.capacity_error_mid_stream();
    let items = all_ok(runtime.stream(&driver, open(&token, &mut ids)).unwrap());
    assert_eq!(items.len(), 3);
    assert_eq!(texts(&items), "Hello from");
    let Some(StreamItem::Error(error)) = items.last() else {
        panic!("{items:?}")
    };
    assert_eq!(error.class(), ErrorClass::Capacity);
    assert_eq!(error.retry_delay(), Some(Duration::from_secs(2)));
    assert_eq!(error.model(), Some("gemini-2.5-pro"));

    let error = runtime
        .stream(&driver, open(&Secret::new("ya29.wrong"), &mut ids))
        .unwrap_err();
    assert_eq!(error.api().map(|api| api.class()), Some(ErrorClass::Auth));
}

/// A long answer is never cut by a total deadline: a stream slower in total than the
/// request timeout completes while each event arrives within the idle timeout; a
/// stream silent for longer than the idle timeout ends with a timeout.
pub fn streams_have_an_idle_timeout_not_a_total_deadline<R: RuntimeUnderTest>(runtime: &R) {
    let (emulator, server, _, token) = signed_in(runtime);
    let base = server.base_url();
    let driver = runtime.driver(DriverSettings {
        request_timeout: Some(Duration::from_millis(800)),
        stream_idle_timeout: Some(Duration::from_millis(700)),
        ..DriverSettings::default()
    });
    let request = || {
        GenerateRequest::new("gemini-3.8-flash", "proj-1", "p-1", json!({"contents": []}))
            .to_stream_request(&base, &token, &mut SplitMix64::new(5))
            .expect("a stream request")
    };
    emulator.pace_streams(Duration::from_millis(300));
    let items = all_ok(runtime.stream(&driver, request()).unwrap());
    assert_eq!(texts(&items), "Hello from the emulator.");

    emulator.pace_streams(Duration::from_millis(1500));
    let items = runtime.stream(&driver, request()).unwrap();
    let ended = items
        .into_iter()
        .find_map(Result::err)
        .expect("the silence ends the stream");
    assert_eq!(
        ended.transport().map(|t| t.kind()),
        Some(TransportErrorKind::Timeout),
        "{ended}"
    );
}

/// A private CA: the emulator over HTTPS with a certificate from a CA made by the
/// test. Refused without the CA (a permanent TLS failure, never retried), accepted
/// with it as an extra bundle; the system's roots still count beside it.
pub fn a_private_ca_is_trusted_only_when_given<R: RuntimeUnderTest>(runtime: &R) {
    let ca = crate::tls::private_ca();
    let emulator = Emulator::new();
    let server = emulator.serve_tls(ca.server.clone()).expect("the emulator");
    let base = server.base_url();
    assert!(base.starts_with("https://localhost:"));

    let default = runtime.driver(DriverSettings::default());
    let error = runtime
        .run(&default, Call::new(userinfo(&base)))
        .unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::TransportPermanent),
        "{error}"
    );
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 0);

    let dir = tempfile::tempdir().expect("a directory");
    let bundle = dir.path().join("corporate-ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).expect("the bundle");
    let trust = TrustRoots::load(Some(&bundle)).expect("the roots");
    assert!(
        trust
            .sources()
            .iter()
            .any(|s| s.contains("corporate-ca.pem"))
    );
    assert!(
        trust.certificates().len() > 1,
        "the system's roots are kept"
    );
    let driver = runtime.driver(DriverSettings {
        trust: Some(Arc::new(trust)),
        ..DriverSettings::default()
    });
    // The emulator answers (401 without a token): TLS was accepted.
    let error = runtime
        .run(&driver, Call::new(userinfo(&base)))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);
}

/// Through a real CONNECT proxy (tinyproxy) to the emulator over HTTPS on a
/// non-loopback address: proxy credentials accepted, wrong ones refused at once (no
/// retry storm), loopback never proxied, a SOCKS proxy refused with a clear error
/// that holds no password. Skipped (with a line saying so) without tinyproxy or a
/// non-loopback address.
pub fn https_goes_through_a_real_proxy<R: RuntimeUnderTest>(runtime: &R) {
    use crate::proxy::{Tinyproxy, non_loopback_address};
    let Some(ip) = non_loopback_address() else {
        return;
    };
    let Some(proxy) = Tinyproxy::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let ca = crate::tls::private_ca_for(&[ip.to_string()]);
    let emulator = Emulator::new();
    let server = emulator
        .serve_tls_on(ca.server.clone(), ip)
        .expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).expect("the bundle");
    let trust = Arc::new(TrustRoots::load(Some(&bundle)).expect("the roots"));
    let driver = |proxy: ProxySetting| {
        runtime.driver(DriverSettings {
            trust: Some(trust.clone()),
            proxy: Some(proxy),
            ..DriverSettings::default()
        })
    };

    let through = driver(ProxySetting::Url(proxy.url(Some(("alice", "s3cret")))));
    let error = runtime
        .run(&through, Call::new(userinfo(&base)))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);

    let refused = driver(ProxySetting::Url(proxy.url(Some(("alice", "wrong")))));
    let error = runtime
        .run(&refused, Call::new(userinfo(&base)))
        .unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::TransportPermanent),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong"), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);

    // Loopback never goes through a proxy, even a dead one.
    let loopback = Emulator::new();
    let local = loopback.serve().expect("the emulator");
    let dead = driver(ProxySetting::Url("http://127.0.0.1:9".into()));
    let error = runtime
        .run(&dead, Call::new(userinfo(&local.base_url())))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");

    let socks = driver(ProxySetting::Url("socks5://bob:pw@127.0.0.1:1080".into()));
    let error = runtime.run(&socks, Call::new(userinfo(&base))).unwrap_err();
    assert!(error.to_string().contains("SOCKS"), "{error}");
    assert!(!error.to_string().contains("pw@"), "{error}");
}

// ---------------------------------------------------------------------------------
// The client.

/// The runtime's client performing core's operations over a file store, for the
/// scenarios of [`crate::client_scenarios`].
struct ClientHarness<'a, R: RuntimeUnderTest> {
    runtime: &'a R,
    client: R::Client,
    store: FileStore,
    base_url: String,
    dir: tempfile::TempDir,
}

impl<R: RuntimeUnderTest> ClientRuntime for ClientHarness<'_, R> {
    fn run<O>(&mut self, op: O) -> Result<O::Output, Error>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        self.runtime
            .client_run(&self.client, op)
            .map_err(|error| match error {
                ClientError::Flow(error) => error,
                other => panic!("the store failed: {other}"),
            })
    }

    fn put(&mut self, credentials: Option<Credentials>) {
        crate::client_scenarios::put(&self.store, credentials.as_ref());
    }

    fn stored(&mut self) -> Option<Credentials> {
        self.store.load().expect("the store")
    }

    fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn place_file(&mut self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("the file");
        path
    }
}

/// The client scenarios of [`crate::client_scenarios`] on this runtime's client.
pub fn the_client_follows_the_client_rules<R: RuntimeUnderTest>(runtime: &R) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base_url = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let store = FileStore::new(dir.path().join("oauth.json"));
    let client = runtime.build(
        runtime
            .builder(oauth_client(&base_url))
            .store(store.clone())
            .env_project(None),
    );
    let mut harness = ClientHarness {
        runtime,
        client,
        store,
        base_url,
        dir,
    };
    crate::client_scenarios::run_all(&mut harness, &emulator);
}

/// Process A's refresh fails and it backs off for 2 s; the lock is free meanwhile, so
/// process B refreshes at once; A, after its wait, finds B's token under the lock and
/// makes no second refresh.
pub fn the_lock_is_free_while_a_refresh_backs_off<R: RuntimeUnderTest>(runtime: &R) {
    use codeassist_core::client::{Client, ClientConfig};
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let store = FileStore::new(dir.path().join("oauth.json"));
    let core = |backoff: Duration| {
        let mut config = ClientConfig::new(oauth_client(&base));
        config.refresh = short_refresh();
        config.refresh.initial_backoff = backoff;
        config.refresh.expired_budget = Duration::from_secs(10);
        Client::new(config)
    };
    let expired = credentials_expiring(&emulator, -10);
    store
        .lock()
        .expect("the lock")
        .save(&expired)
        .expect("saved");
    emulator.inject("/token", Fault::Unavailable, 1);
    let client = |store: &FileStore| {
        runtime.build(
            runtime
                .builder(oauth_client(&base))
                .store(store.clone())
                .env_project(None),
        )
    };
    let a = runtime.run_in_background(&client(&store), core(Duration::from_secs(2)).access_token());
    std::thread::sleep(Duration::from_millis(400));
    let started = Instant::now();
    let token_b = runtime
        .client_run(
            &client(&store),
            core(Duration::from_millis(100)).access_token(),
        )
        .expect("B's token");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let token_a = a().expect("A's token");
    assert_eq!(token_a, token_b);
    assert_eq!(
        emulator.count("/token"),
        2,
        "A's failed attempt and B's refresh"
    );
}

/// The opening of a stream is retried as Google asks (a short 429), a refused token is
/// refreshed once, and a wait past the cap is the host's call (the classified error).
pub fn the_client_retries_the_opening_as_google_asks_and_refreshes_a_refused_token_once<
    R: RuntimeUnderTest,
>(
    runtime: &R,
) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    // A token the emulator never issued, "valid" for an hour: the first open gets 401.
    let store = signed_in_store(
        &emulator,
        &dir.path().join("oauth.json"),
        "ya29.refused",
        3600,
    );
    let client = client_in(runtime, &base, store);
    let request = GenerateRequest::new("gemini-2.5-pro", "proj-1", "p-1", json!({"contents": []}));
    let make = |request: GenerateRequest, base: String| {
        let mut ids = SplitMix64::new(1);
        Box::new(move |token: &Secret| request.to_stream_request(&base, token, &mut ids))
            as MakeRequest
    };
    emulator.inject(
        "/v1internal:streamGenerateContent",
        Fault::RateLimited(0.05),
        1,
    );
    let items = runtime
        .client_stream(&client, make(request.clone(), base.clone()))
        .expect("the stream");
    assert_eq!(all_ok(items).len(), 4);
    // 401, then (after the refresh) 429, then the stream.
    assert_eq!(emulator.count("/v1internal:streamGenerateContent"), 3);
    assert_eq!(emulator.count("/token"), 1);

    emulator.inject(
        "/v1internal:streamGenerateContent",
        Fault::NoCapacity("gemini-2.5-pro".into(), 600.0),
        1,
    );
    let error = runtime
        .client_stream(&client, make(request, base))
        .unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::Capacity),
        "a wait past the cap is the host's call"
    );
}

/// Streams and whole answers go to the cached project: one `loadCodeAssist` for all.
pub fn the_client_streams_in_the_cached_project<R: RuntimeUnderTest>(runtime: &R) {
    let (emulator, _server, client, _dir) = standard_account(runtime);
    for _ in 0..2 {
        let items = runtime
            .stream_generate(&client, "gemini-3.8-flash", hi())
            .expect("the stream");
        assert_eq!(all_ok(items).len(), 4);
    }
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), 1);
    let chunk = runtime
        .generate(&client, "gemini-3.8-flash", hi())
        .expect("the answer");
    assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"));
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), 1);
}

/// Every target streamed and whole: the Gemini API with a key (v1beta and v1) and with
/// a token, Vertex AI with a token and Express with a key, Code Assist. A capacity
/// error on a preview Pro falls back, before any text, to the Flash each kind of
/// target offers (a model's cooldown is per kind); within the cooldown the Pro is skipped without asking. Once the Gemini
/// API target has listed its models, fallback chooses among them: 2.5 Pro, whose
/// Flash is retired, goes to the newest Flash listed. Flash-Lite out of quota climbs
/// to its Flash; capacity after text has arrived makes no switch.
pub fn every_target_streams_and_pro_falls_back_to_flash<R: RuntimeUnderTest>(runtime: &R) {
    let (emulator, server, client, _dir) = standard_account(runtime);
    let base = server.base_url();
    let targets = [
        Target::gemini_api(Some(Secret::new(API_KEY))).under(&base),
        Target::gemini_api(None).under(&base),
        Target::vertex("v-project", "europe-west4").under(&base),
        Target::CodeAssist,
        // Vertex AI Express (an API key, no project) and the Gemini API's v1.
        Target::vertex_express(Secret::new(API_KEY)).under(&base),
        Target::gemini_api(Some(Secret::new(API_KEY)))
            .with_api_version(ApiVersion::V1)
            .under(&base),
    ];
    for target in &targets {
        let items = runtime
            .stream_on(&client, target, "gemini-3.8-flash", hi())
            .expect("the stream");
        assert_eq!(
            texts(&all_ok(items)),
            "Hello from the emulator.",
            "{target:?}"
        );
        let chunk = runtime
            .generate_on(&client, target, "gemini-3.8-flash", hi())
            .expect("the answer");
        assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"), "{target:?}");
    }
    // Code Assist's quota buckets name 2.5 Pro and 3.8 Flash only: its chain goes to
    // the Flash it offers; the Gemini API lists the preview Flash; Vertex AI follows
    // the built-in list.
    for (target, flash) in [
        (&targets[0], "gemini-3-flash-preview"),
        (&targets[2], "gemini-3-flash-preview"),
        (&targets[3], "gemini-3.8-flash"),
    ] {
        emulator.inject_model(
            "gemini-3-pro-preview",
            Fault::NoCapacity("gemini-3-pro-preview".into(), 30.0),
            1,
        );
        let (answered, items) = runtime
            .stream_with_fallback(&client, target, "gemini-3-pro-preview", hi())
            .expect("the stream");
        assert_eq!(answered.model, flash, "{target:?}");
        assert_eq!(answered.switches[0].why, "capacity");
        assert_eq!(texts(&all_ok(items)), "Hello from the emulator.");
    }
    let (answered, _items) = runtime
        .stream_with_fallback(&client, &targets[1], "gemini-3-pro-preview", hi())
        .expect("the stream");
    assert_eq!(answered.switches[0].why, "unavailable");

    let listed = runtime
        .list_models_on(&client, &targets[0])
        .expect("the models");
    assert!(listed.iter().any(|m| m.name == "gemini-3.8-flash"));
    assert!(
        !listed.iter().any(|m| m.name == "gemini-2.5-flash"),
        "retired"
    );
    emulator.inject_model(
        "gemini-2.5-pro",
        Fault::NoCapacity("gemini-2.5-pro".into(), 30.0),
        1,
    );
    let (answered, _items) = runtime
        .stream_with_fallback(&client, &targets[0], "gemini-2.5-pro", hi())
        .expect("the stream");
    assert_eq!(
        answered.model, "gemini-3.8-flash",
        "the newest Flash listed"
    );

    emulator.inject_model("gemini-3.5-flash-lite", Fault::QuotaExhausted(3600.0), 1);
    let (answered, _items) = runtime
        .stream_with_fallback(&client, &targets[0], "gemini-3.5-flash-lite", hi())
        .expect("the stream");
    assert_eq!(answered.model, "gemini-3.5-flash");
    assert_eq!(answered.switches[0].why, "quota_exhausted");
    emulator.capacity_error_mid_stream();
    let (answered, items) = runtime
        .stream_with_fallback(&client, &targets[2], "gemini-3.8-flash", hi())
        .expect("the stream");
    assert!(answered.switches.is_empty());
    let items = all_ok(items);
    assert_eq!(texts(&items), "Hello from");
    assert!(
        matches!(items.last(), Some(StreamItem::Error(error)) if error.class() == ErrorClass::Capacity)
    );
}

/// The OpenAI-compatible pass-through: streamed to `[DONE]`, whole, the models list,
/// and an unknown field (`store`) refused as Google refuses it (a JSON array holding
/// the envelope), classified.
pub fn the_openai_compatible_endpoint_passes_through<R: RuntimeUnderTest>(runtime: &R) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let client = runtime.build(
        runtime
            .builder(oauth_client(&base))
            .store(FileStore::new(dir.path().join("oauth.json"))),
    );
    let target = Target::gemini_api(Some(Secret::new(API_KEY))).under(&base);
    let body =
        json!({"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]});
    let items = all_ok(
        runtime
            .openai_stream(&client, &target, body.clone())
            .expect("the stream"),
    );
    assert_eq!(items.len(), 5);
    assert_eq!(items[4], OpenAiItem::Done);
    let text: String = items
        .iter()
        .filter_map(|item| match item {
            OpenAiItem::Chunk(chunk) => chunk["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hello from the emulator.");
    let whole = runtime
        .openai(
            &client,
            &target,
            OpenAiPath::ChatCompletions,
            Some(body.clone()),
        )
        .expect("the answer");
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "Hello from the emulator."
    );
    let models = runtime
        .openai(&client, &target, OpenAiPath::Models, None)
        .expect("the models");
    assert_eq!(models["data"][0]["id"], "models/gemini-2.5-pro");
    assert_eq!(models["data"][1]["id"], "models/gemini-3.8-flash");

    let mut with_store = body;
    with_store["store"] = json!(true);
    let error = runtime
        .openai_stream(&client, &target, with_store)
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::InvalidRequest), "{error}");
    assert!(error.to_string().contains("store"), "{error}");
}

/// A sign-in through the browser, then tokens (sixteen concurrent callers near expiry
/// make one refresh), the project and quota, a 401 that refreshes once, and logout.
pub fn the_client_signs_in_and_serves_tokens_projects_and_quota<R: RuntimeUnderTest>(runtime: &R) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("oauth.json");
    let client = client_in(runtime, &base, FileStore::new(&path));

    let credentials = runtime
        .login(&client, browsing())
        .expect("the sign-in")
        .credentials;
    assert_eq!(credentials.email.as_deref(), Some(EMAIL));
    assert_eq!(
        emulator.count("/oauth2/v2/userinfo"),
        0,
        "the ID token named the email: no UserInfo call"
    );
    assert_eq!(
        runtime.credentials(&client).expect("the store"),
        Some(credentials.clone())
    );
    let token = runtime.access_token(&client).expect("a token");
    assert_eq!(Some(&token), credentials.access_token.as_ref());
    assert_eq!(
        emulator.count("/token"),
        1,
        "no refresh while the token is fresh"
    );

    // Near expiry: sixteen concurrent callers of a later run of the program, one
    // refresh between them.
    let mut near_expiry = credentials.clone();
    near_expiry.expires_at = Some(unix_seconds(SystemTime::now()) + 30);
    FileStore::new(&path)
        .lock()
        .expect("the lock")
        .save(&near_expiry)
        .expect("saved");
    let before = emulator.count("/token");
    let client = client_in(runtime, &base, FileStore::new(&path));
    let calls: Vec<_> = (0..16)
        .map(|_| runtime.access_token_in_background(&client))
        .collect();
    let tokens: Vec<Secret> = calls
        .into_iter()
        .map(|call| call().expect("a token"))
        .collect();
    assert_eq!(emulator.count("/token"), before + 1, "single flight");
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_ne!(Some(&tokens[0]), credentials.access_token.as_ref());
    let on_disk = FileStore::new(&path)
        .load()
        .expect("the store")
        .expect("credentials");
    assert_eq!(on_disk.access_token.as_ref(), Some(&tokens[0]));
    assert_eq!(
        on_disk.refresh_token, credentials.refresh_token,
        "kept on disk when the answer has none"
    );

    let project = runtime.project(&client).expect("the project");
    assert_eq!(project.source, ProjectSource::Onboarded);
    assert_eq!(runtime.quota(&client).expect("the quota").buckets.len(), 2);
    assert_eq!(
        emulator.count("/v1internal:loadCodeAssist"),
        1,
        "quota reuses the project"
    );

    // The server forgets the access token (as after a restart): the 401 refreshes once
    // and goes on.
    let before = emulator.count("/token");
    emulator.revoke_access_tokens_only();
    assert!(runtime.quota(&client).is_ok());
    assert_eq!(emulator.count("/token"), before + 1);

    let logout = runtime.logout(&client).expect("the logout");
    assert!(logout.was_signed_in && logout.revocation_error.is_none());
    assert!(runtime.credentials(&client).expect("the store").is_none());
    let error = runtime.access_token(&client).unwrap_err();
    assert!(error.needs_sign_in(), "{error}");
}

/// An expired token whose grant was revoked asks for a sign-in; a logout whose
/// revocation fails still deletes the local credentials and says so.
pub fn a_revoked_grant_asks_for_login_and_logout_survives_a_failed_revocation<
    R: RuntimeUnderTest,
>(
    runtime: &R,
) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("the emulator");
    let base = server.base_url();
    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("oauth.json");
    let client = client_in(runtime, &base, FileStore::new(&path));
    let mut credentials = runtime
        .login(&client, browsing())
        .expect("the sign-in")
        .credentials;

    // Expire the stored token, revoke the grant: the refresh says "log in again".
    credentials.expires_at = Some(0);
    FileStore::new(&path)
        .lock()
        .expect("the lock")
        .save(&credentials)
        .expect("saved");
    emulator.revoke_all();
    // Another process: it starts from the file, not from this client's memory.
    let client = client_in(runtime, &base, FileStore::new(&path));
    let error = runtime.access_token(&client).unwrap_err();
    assert!(error.needs_sign_in(), "{error}");

    // Revocation fails (already revoked), the local credentials go anyway.
    emulator.inject("/revoke", Fault::Unavailable, 1);
    let logout = runtime.logout(&client).expect("the logout");
    assert!(logout.was_signed_in);
    assert!(logout.revocation_error.is_some());
    assert!(runtime.credentials(&client).expect("the store").is_none());
}

// ---------------------------------------------------------------------------------
// The callback listener.

/// Strays get a 404, a forged state an error page and the wait goes on, the real
/// callback is taken; the browser hears "signed in" only once the sign-in finished.
pub fn the_listener_ignores_strays_and_forgeries_then_takes_the_real_callback<
    R: RuntimeUnderTest,
>(
    runtime: &R,
) {
    let listener = runtime.bind(0).expect("the listener");
    let base = format!("http://127.0.0.1:{}", R::listener_port(&listener));
    let state = Secret::new("the-state");
    let browser = std::thread::spawn(move || {
        let favicon = get(&format!("{base}/favicon.ico"));
        let forged = get(&format!("{base}/oauth2callback?code=evil&state=wrong"));
        let real = get(&format!(
            "{base}/oauth2callback?code=4/good&state=the-state"
        ));
        (favicon, forged, real)
    });
    let callback = runtime
        .wait_for_code(&listener, &state, wait(Duration::from_secs(10)))
        .expect("the callback");
    assert_eq!(R::code(&callback).expose(), "4/good");
    runtime.answer(callback, Ok(()));
    let (favicon, forged, real) = browser.join().expect("the browser");
    assert_eq!(favicon.0, 404);
    assert_eq!(forged.0, 400);
    assert!(forged.1.contains("does not belong"), "{}", forged.1);
    assert_eq!(real.0, 200);
    assert!(real.1.contains("signed in"), "{}", real.1);
}

/// `access_denied` ends the wait with that error; silence ends it with a timeout.
pub fn access_denied_ends_the_wait_and_silence_times_out<R: RuntimeUnderTest>(runtime: &R) {
    let listener = runtime.bind(0).expect("the listener");
    let url = format!(
        "http://127.0.0.1:{}/oauth2callback?error=access_denied&state=s",
        R::listener_port(&listener)
    );
    let browser = std::thread::spawn(move || get(&url));
    let error = runtime
        .wait_for_code(&listener, &Secret::new("s"), wait(Duration::from_secs(10)))
        .err()
        .expect("a denial");
    assert!(
        matches!(
            error,
            CallbackWaitError::Callback(CallbackError::AccessDenied)
        ),
        "{error:?}"
    );
    assert_eq!(browser.join().expect("the browser").0, 400);

    let listener = runtime.bind(0).expect("the listener");
    let mut options = wait(Duration::from_millis(100));
    options.paste = Some(Box::new(Cursor::new("")));
    let error = runtime
        .wait_for_code(&listener, &Secret::new("s"), options)
        .err()
        .expect("a timeout");
    assert!(matches!(error, CallbackWaitError::TimedOut(_)), "{error:?}");
}

/// A busy port falls back to a free one, and the redirect URI names it.
pub fn a_busy_port_falls_back_to_a_free_one<R: RuntimeUnderTest>(runtime: &R) {
    let busy = TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = busy.local_addr().expect("its address").port();
    let listener = runtime.bind(port).expect("the listener");
    assert_ne!(R::listener_port(&listener), port);
    assert_eq!(
        R::redirect_uri(&listener),
        format!(
            "http://127.0.0.1:{}/oauth2callback",
            R::listener_port(&listener)
        )
    );
}

/// A pasted URL races the browser (a stale paste is rejected and reported, the good
/// one wins); an empty paste (stdin at its end) leaves the browser to finish, which
/// then hears why the sign-in failed.
pub fn a_paste_races_the_browser_and_its_end_does_not_cancel<R: RuntimeUnderTest>(runtime: &R) {
    let listener = runtime.bind(0).expect("the listener");
    let rejected = Arc::new(Mutex::new(Vec::new()));
    let mut options = wait(Duration::from_secs(10));
    options.paste = Some(Box::new(Cursor::new(
        "\nhttp://localhost:8085/oauth2callback?code=x&state=stale\nhttp://localhost:8085/oauth2callback?code=4/pasted&state=s\n",
    )));
    let seen = rejected.clone();
    options.on_rejected_paste = Some(Box::new(move |error| {
        seen.lock().expect("the list").push(error.clone())
    }));
    let callback = runtime
        .wait_for_code(&listener, &Secret::new("s"), options)
        .expect("the pasted code");
    assert_eq!(R::code(&callback).expose(), "4/pasted");
    assert_eq!(
        *rejected.lock().expect("the list"),
        vec![CallbackError::StateMismatch]
    );

    let listener = runtime.bind(0).expect("the listener");
    let url = format!(
        "http://127.0.0.1:{}/oauth2callback?code=4/browser&state=s",
        R::listener_port(&listener)
    );
    let browser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        get(&url)
    });
    let mut options = wait(Duration::from_secs(10));
    options.paste = Some(Box::new(Cursor::new("")));
    let callback = runtime
        .wait_for_code(&listener, &Secret::new("s"), options)
        .expect("the browser's code");
    assert_eq!(R::code(&callback).expose(), "4/browser");
    runtime.answer(callback, Err("the exchange failed"));
    let (status, page) = browser.join().expect("the browser");
    assert_eq!(status, 400);
    assert!(page.contains("the exchange failed"), "{page}");
}

/// A browser's silent preconnect does not hold up the callback behind it.
pub fn a_silent_connection_does_not_hold_up_the_callback<R: RuntimeUnderTest>(runtime: &R) {
    let listener = runtime.bind(0).expect("the listener");
    let port = R::listener_port(&listener);
    let browser =
        std::thread::spawn(move || preconnect_then_callbacks(port, "4/good", "the-state"));
    let callback = runtime
        .wait_for_code(
            &listener,
            &Secret::new("the-state"),
            wait(Duration::from_secs(30)),
        )
        .expect("the callback");
    assert_eq!(R::code(&callback).expose(), "4/good");
    runtime.answer(callback, Ok(()));
    browser.join().expect("the browser").assert_not_held_up();
}

/// Sixteen local clients trickling bytes cannot keep the real callback out.
pub fn slow_local_clients_cannot_hold_the_callback_hostage<R: RuntimeUnderTest>(runtime: &R) {
    let listener = runtime.bind(0).expect("the listener");
    let port = R::listener_port(&listener);
    let browser = std::thread::spawn(move || slow_clients_then_callback(port, 16, "4/real", "s"));
    let callback = runtime
        .wait_for_code(&listener, &Secret::new("s"), wait(Duration::from_secs(30)))
        .expect("the callback");
    assert_eq!(R::code(&callback).expose(), "4/real");
    runtime.answer(callback, Ok(()));
    let (status, took) = browser.join().expect("the browser");
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(5),
        "the callback waited {took:?}"
    );
}
