//! Conformance scenarios, written once and run against every driver.
//!
//! A driver implements [`Driver`]; each scenario takes it and the [`Emulator`] it
//! talks to, and panics with a clear message when the driver gets something wrong.
//! [`run_all`] runs them all. The in-memory [`MemoryDriver`] is the pure reference:
//! core's own `drive` with the emulator's handler as the closure.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use codeassist_core::code_assist::{
    CodeAssistConfig, ProjectSource, resolve_project, retrieve_user_quota,
};
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{
    Flow, Misuse, Response, Step, TransportError, TransportErrorKind, VirtualClock, drive,
};
use codeassist_core::oauth::{
    Credentials, OAuthClient, OAuthEndpoints, exchange_code, fetch_email, parse_callback,
    refresh_token,
};
use codeassist_core::retry::RetryPolicy;
use codeassist_core::{Error, Secret, SplitMix64};

use crate::emulator::{Account, CLIENT_ID, CLIENT_SECRET, EMAIL, Emulator, Fault};

/// Something that runs core flows against the emulator.
pub trait Driver {
    /// Runs `flow` to completion.
    fn run<F>(&mut self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static;

    /// The emulator's base URL as this driver reaches it.
    fn base_url(&self) -> String;
}

/// The reference driver: core's [`drive`] on a virtual clock, the emulator's handler
/// as the transport. No sockets, no sleeping.
#[derive(Debug)]
pub struct MemoryDriver {
    emulator: Emulator,
    clock: VirtualClock,
}

impl MemoryDriver {
    /// A driver for `emulator`, its clock starting at the real current time.
    pub fn new(emulator: &Emulator) -> Self {
        Self {
            emulator: emulator.clone(),
            clock: VirtualClock::new(SystemTime::now()),
        }
    }

    /// The virtual clock (to read the waits).
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }
}

impl Driver for MemoryDriver {
    fn run<F>(&mut self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static,
    {
        let emulator = self.emulator.clone();
        drive(flow, &mut self.clock, move |request, now| {
            emulator.handle(&request, now).response.ok_or_else(|| {
                TransportError::new(
                    TransportErrorKind::Reset,
                    "connection closed without a response",
                )
            })
        })
    }

    fn base_url(&self) -> String {
        // Any loopback URL: nothing listens, the handler is called directly.
        "http://127.0.0.1:9".to_owned()
    }
}

/// A deterministic stand-in for a cryptographic random source, for tests only.
#[derive(Debug, Clone)]
pub struct TestRandom(SplitMix64);

impl TestRandom {
    /// A source starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(SplitMix64::new(seed))
    }
}

impl rand_core::TryRng for TestRandom {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.0.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.try_fill_bytes(dst)
    }
}

impl rand_core::TryCryptoRng for TestRandom {}

/// The OAuth client the emulator accepts, with its endpoints under `base`.
pub fn oauth_client(base: &str) -> OAuthClient {
    OAuthClient::new(CLIENT_ID, CLIENT_SECRET)
        .with_endpoints(OAuthEndpoints::under(base))
        .with_redirect_uri("http://127.0.0.1:8085/oauth2callback")
}

/// A Code Assist configuration for the emulator at `base`, with short waits.
pub fn code_assist_config(base: &str) -> CodeAssistConfig {
    let mut config = CodeAssistConfig::with_endpoint(base);
    config.poll_interval = Duration::from_millis(20);
    config.retry = fast_retry();
    config
}

/// The default policy shrunk to milliseconds, without jitter.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        ..RetryPolicy::default().without_jitter()
    }
}

/// A flow that sends one request and returns whatever comes back, any status.
#[derive(Debug)]
pub struct Exchange {
    request: Option<codeassist_core::flow::Request>,
    response: Option<Result<Response, TransportError>>,
}

impl Exchange {
    /// Sends `request` once.
    pub fn new(request: codeassist_core::flow::Request) -> Self {
        Self {
            request: Some(request),
            response: None,
        }
    }
}

impl Flow for Exchange {
    type Output = Response;
    type Error = Error;

    fn poll(&mut self, _now: SystemTime) -> Result<Step<Response>, Error> {
        if let Some(request) = self.request.take() {
            return Ok(Step::Send(request));
        }
        match self.response.take() {
            Some(Ok(response)) => Ok(Step::Done(response)),
            Some(Err(failure)) => Err(codeassist_core::ApiError::from_transport(&failure).into()),
            None => Err(Misuse("polled without a response").into()),
        }
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, _now: SystemTime) {
        self.response = Some(response);
    }
}

/// Signs in the way a browser would (the authorize endpoint auto-consents and
/// redirects), then exchanges the code and asks who signed in.
pub fn sign_in<D: Driver>(driver: &mut D) -> Credentials {
    let client = oauth_client(&driver.base_url());
    let authorization = client
        .authorization_request(&mut TestRandom::new(1))
        .expect("authorization URL");
    let consent = driver
        .run(Exchange::new(
            http::Request::get(authorization.url.as_str())
                .body(Vec::new())
                .unwrap(),
        ))
        .expect("consent screen answers");
    assert_eq!(consent.status(), 302, "the consent screen redirects");
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let code = parse_callback(
        &location,
        authorization.state.expose(),
        &client.endpoints.issuers,
    )
    .expect("callback carries the code");
    let (mut credentials, _id_token) = driver
        .run(
            exchange_code(
                &client,
                &code,
                authorization.pkce.verifier(),
                &authorization.redirect_uri,
            )
            .unwrap(),
        )
        .expect("code exchange");
    let email = driver
        .run(
            fetch_email(
                credentials.access_token.as_ref().unwrap(),
                &client.endpoints.userinfo,
            )
            .unwrap(),
        )
        .expect("userinfo");
    credentials.email = Some(email);
    credentials
}

/// Sign-in gives credentials with a refresh token and the person's email.
pub fn login<D: Driver>(driver: &mut D, emulator: &Emulator) {
    let credentials = sign_in(driver);
    assert_eq!(credentials.email.as_deref(), Some(EMAIL));
    assert!(credentials.refresh_token.expose().starts_with("1//"));
    assert_eq!(credentials.client_id, CLIENT_ID);
    assert!(
        credentials
            .valid_access_token(SystemTime::now(), Duration::from_secs(300))
            .is_some()
    );
    assert_eq!(emulator.count("/token"), 1);
    // The code is single-use: the emulator would refuse it again, and the client never retries it.
    let client = oauth_client(&driver.base_url());
    let replay = driver.run(
        exchange_code(
            &client,
            &Secret::new("4/emu-code-1"),
            &Secret::new("wrong"),
            &client.redirect_uri,
        )
        .unwrap(),
    );
    assert_eq!(
        replay.unwrap_err().api().map(|a| a.class()),
        Some(ErrorClass::AuthPermanent)
    );
}

/// A refresh over the driver, keeping the refresh token when the answer has none and
/// taking the new one when the server rotates it.
pub fn refresh<D: Driver>(driver: &mut D, emulator: &Emulator) {
    let credentials = sign_in(driver);
    let token_endpoint = format!("{}/token", driver.base_url());
    let before = emulator.count("/token");
    let refreshed = driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .unwrap();
    assert_eq!(emulator.count("/token"), before + 1);
    assert_ne!(refreshed.access_token, credentials.access_token);
    assert_eq!(
        refreshed.refresh_token, credentials.refresh_token,
        "kept when the answer has none"
    );

    emulator.rotate_refresh_tokens(true);
    let rotated = driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .unwrap();
    assert_ne!(
        rotated.refresh_token, credentials.refresh_token,
        "replaced when rotated"
    );
    emulator.rotate_refresh_tokens(false);
}

/// A revoked grant says "sign in again"; a dropped connection is transient. (What
/// the client does with a failed refresh is in `client_scenarios`.)
pub fn refresh_failures<D: Driver>(driver: &mut D, emulator: &Emulator) {
    let credentials = sign_in(driver);
    let token_endpoint = format!("{}/token", driver.base_url());

    emulator.inject("/token", Fault::Drop, 1);
    let error = driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .unwrap_err();
    assert!(error.api().is_none(), "Google never answered");
    let api = error.classified().expect("classified");
    assert!(
        matches!(api.class(), ErrorClass::Network | ErrorClass::Timeout),
        "{api:?}"
    );
    assert!(api.retryable() && !error.needs_sign_in());
    driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .expect("recovered by itself");

    emulator.revoke_all();
    let error = driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .unwrap_err();
    assert_eq!(
        error.api().map(|a| a.class()),
        Some(ErrorClass::AuthPermanent)
    );
    assert!(error.needs_sign_in());
}

fn token<D: Driver>(driver: &mut D) -> Secret {
    sign_in(driver).access_token.expect("access token")
}

/// Each tier path of project resolution.
pub fn projects<D: Driver>(driver: &mut D, emulator: &Emulator) {
    let base = driver.base_url();
    emulator.set_account(Account::NewFreeUser {
        polls_before_done: 2,
    });
    let access = token(driver);
    let context = driver
        .run(resolve_project(
            code_assist_config(&base),
            access.clone(),
            None,
            None,
            &mut TestRandom::new(2),
        ))
        .expect("onboarding");
    assert_eq!(context.tier_id, "free-tier");
    assert_eq!(context.source, ProjectSource::Onboarded);
    assert_eq!(
        context.managed_project_id.as_deref(),
        Some("emu-managed-project")
    );
    let onboard = emulator.bodies("/v1internal:onboardUser");
    let body: serde_json::Value = serde_json::from_slice(onboard.last().unwrap()).unwrap();
    assert!(
        body.get("cloudaicompanionProject").is_none()
            && body["metadata"].get("duetProject").is_none()
    );

    // Now onboarded: discovery finds it without onboarding again.
    let onboards = emulator.count("/v1internal:onboardUser");
    let context = driver
        .run(resolve_project(
            code_assist_config(&base),
            access.clone(),
            None,
            None,
            &mut TestRandom::new(3),
        ))
        .unwrap();
    assert_eq!(context.source, ProjectSource::Discovered);
    assert_eq!(emulator.count("/v1internal:onboardUser"), onboards);

    emulator.set_account(Account::Standard {
        project: Some("std-project".to_owned()),
    });
    let context = driver
        .run(resolve_project(
            code_assist_config(&base),
            access.clone(),
            None,
            None,
            &mut TestRandom::new(4),
        ))
        .unwrap();
    assert_eq!(
        (context.project_id.as_str(), context.tier_id.as_str()),
        ("std-project", "standard-tier")
    );

    emulator.set_account(Account::Standard { project: None });
    let error = driver
        .run(resolve_project(
            code_assist_config(&base),
            access.clone(),
            None,
            None,
            &mut TestRandom::new(5),
        ))
        .unwrap_err();
    assert!(
        error.to_string().contains("GOOGLE_CLOUD_PROJECT"),
        "{error}"
    );

    emulator.set_account(Account::VpcServiceControls);
    let context = driver
        .run(resolve_project(
            code_assist_config(&base),
            access,
            None,
            Some("corp-project"),
            &mut TestRandom::new(6),
        ))
        .unwrap();
    assert_eq!(
        (context.project_id.as_str(), context.tier_id.as_str()),
        ("corp-project", "standard-tier")
    );
    emulator.set_account(Account::NewFreeUser {
        polls_before_done: 1,
    });
}

/// Quota buckets.
pub fn quota<D: Driver>(driver: &mut D, _emulator: &Emulator) {
    let base = driver.base_url();
    let access = token(driver);
    let quota = driver
        .run(
            retrieve_user_quota(
                &code_assist_config(&base),
                &access,
                "p",
                &mut TestRandom::new(7),
            )
            .unwrap(),
        )
        .unwrap();
    assert_eq!(quota.buckets.len(), 2);
    assert_eq!(quota.buckets[0].model_id, "gemini-2.5-pro");
    assert_eq!(quota.buckets[0].remaining_fraction, Some(0.42));
}

/// Every fault the emulator can script, on the Code Assist endpoints.
pub fn faults<D: Driver>(driver: &mut D, emulator: &Emulator) {
    let base = driver.base_url();
    emulator.set_account(Account::Standard {
        project: Some("std-project".to_owned()),
    });
    let access = token(driver);
    let resolve = |seed| {
        resolve_project(
            code_assist_config(&base),
            access.clone(),
            None,
            None,
            &mut TestRandom::new(seed),
        )
    };
    let load = "/v1internal:loadCodeAssist";
    for (fault, seed) in [
        (Fault::RateLimited(0.05), 10),
        (Fault::NoCapacity("gemini-2.5-pro".to_owned(), 0.02), 11),
        (Fault::Unavailable, 12),
        (Fault::HtmlServerError, 13),
        (Fault::Drop, 14),
        (Fault::Slow(Duration::from_millis(100)), 15),
    ] {
        let before = emulator.count(load);
        emulator.inject(load, fault.clone(), 1);
        let context = driver
            .run(resolve(seed))
            .unwrap_or_else(|e| panic!("{fault:?}: {e}"));
        assert_eq!(context.project_id, "std-project", "{fault:?}");
        let expected = if matches!(fault, Fault::Slow(_)) {
            1
        } else {
            2
        };
        assert_eq!(
            emulator.count(load) - before,
            expected,
            "{fault:?}: retried once"
        );
    }

    emulator.inject(load, Fault::MalformedJson, 1);
    let error = driver.run(resolve(16)).unwrap_err();
    assert!(
        matches!(error.root(), Error::InvalidResponse { .. }),
        "{error:?}"
    );

    emulator.inject(load, Fault::HugeBody(2 * 1024 * 1024), 1);
    let error = driver.run(resolve(17)).unwrap_err();
    assert!(
        matches!(error.root(), Error::InvalidResponse { .. }),
        "{error:?}"
    );

    emulator.inject(load, Fault::Unavailable, 100);
    let error = driver.run(resolve(18)).unwrap_err();
    let history = error.retry_history().expect("history");
    assert_eq!(history.attempts, fast_retry().max_attempts);
    assert_eq!(error.api().unwrap().class(), ErrorClass::ServerError);
    emulator.inject(load, Fault::Unavailable, 0);
    emulator.set_account(Account::NewFreeUser {
        polls_before_done: 1,
    });
}

/// Bearer tokens go only to https or loopback: a plain-http host is refused before
/// any request.
pub fn insecure_endpoints<D: Driver>(driver: &mut D, _emulator: &Emulator) {
    let refused = fetch_email(
        &Secret::new("ya29.secret"),
        "http://userinfo.example.com/oauth2/v2/userinfo",
    );
    assert!(matches!(refused, Err(Error::InsecureEndpoint(_))));
    let mut config = code_assist_config("http://cloudcode.example.com");
    config.retry = RetryPolicy::never();
    let error = driver
        .run(resolve_project(
            config,
            Secret::new("ya29.secret"),
            None,
            None,
            &mut TestRandom::new(8),
        ))
        .unwrap_err();
    assert!(
        matches!(error.root(), Error::InsecureEndpoint(_)),
        "{error:?}"
    );
}

/// Every scenario, in order, each on a fresh emulator state where it matters.
pub fn run_all<D: Driver>(driver: &mut D, emulator: &Emulator) {
    login(driver, emulator);
    refresh(driver, emulator);
    refresh_failures(driver, emulator);
    projects(driver, emulator);
    quota(driver, emulator);
    faults(driver, emulator);
    insecure_endpoints(driver, emulator);
}
