//! Client conformance: the rules of `codeassist_core::client`, written once and run on
//! every runtime (the in-memory one on a virtual clock, the blocking and tokio
//! clients on loopback with short timeouts).
//!
//! A runtime implements [`ClientRuntime`]; [`run_all`] runs every scenario. Each
//! scenario makes its own core client (and so its own memory, like a new process)
//! and has the runtime perform its operations over the runtime's store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use codeassist_core::Error;
use codeassist_core::client::{
    Client, ClientConfig, MemoryRuntime, MemoryStore, Operation, RefreshPolicy, Reply,
};
use codeassist_core::code_assist::CodeAssistError;
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{TransportError, TransportErrorKind};
use codeassist_core::oauth::{Credentials, unix_seconds};
use codeassist_core::{Secret, SplitMix64};

use codeassist_core::source::{
    CredentialFile, CredentialSource, DiscoverOp, Environment, InjectedToken, MetadataServer,
    Origin, SourceKind, parse_credential_file,
};
use codeassist_runtime::{CredentialStore, FileStore, RingKeys};

use crate::conformance::{code_assist_config, oauth_client};
use crate::emulator::{
    Account, CLIENT_ID, CLIENT_SECRET, Emulator, Fault, SERVICE_ACCOUNT_EMAIL,
    TEST_SERVICE_ACCOUNT_KEY, service_account_file,
};

/// A runtime that performs core client operations against the emulator.
pub trait ClientRuntime {
    /// Runs `op` to its end over this runtime's network and store.
    fn run<O>(&mut self, op: O) -> Result<O::Output, Error>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static;

    /// Replaces what the store holds.
    fn put(&mut self, credentials: Option<Credentials>);

    /// What the store holds.
    fn stored(&mut self) -> Option<Credentials>;

    /// The emulator's base URL as this runtime reaches it.
    fn base_url(&self) -> String;

    /// The current time: virtual for the in-memory runtime, the clock otherwise.
    fn now(&self) -> SystemTime;

    /// Places a file this runtime's `Action::Read` can read; returns its path.
    fn place_file(&mut self, name: &str, bytes: &[u8]) -> PathBuf;
}

/// The refresh policy the scenarios use: the defaults shrunk so real runtimes finish
/// in a second or two.
pub fn short_refresh() -> RefreshPolicy {
    let mut policy = RefreshPolicy::default();
    policy.attempt_timeout = Duration::from_millis(300);
    policy.expired_budget = Duration::from_millis(1500);
    policy.initial_backoff = Duration::from_millis(100);
    policy
}

/// A core client for the emulator behind `runtime`, with [`short_refresh`].
pub fn client_for<R: ClientRuntime>(runtime: &R) -> Client {
    let base = runtime.base_url();
    let mut config = ClientConfig::new(oauth_client(&base));
    config.code_assist = code_assist_config(&base);
    config.refresh = short_refresh();
    Client::new(config)
}

/// Credentials the emulator accepts, whose access token lives `left` more seconds
/// (the token itself is one the emulator never issued unless `refresh` first).
pub fn credentials_expiring(emulator: &Emulator, left: i64) -> Credentials {
    let mut credentials = Credentials::new(
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        emulator.issue_refresh_token(),
    );
    credentials.access_token = Some(Secret::new("ya29.still-valid"));
    credentials.expires_at = Some(unix_seconds(SystemTime::now()) + left);
    credentials
}

/// Replaces what `store` holds (`None` deletes it), as another process would.
pub fn put(store: &FileStore, credentials: Option<&Credentials>) {
    let mut locked = store.lock().expect("the store locks");
    match credentials {
        Some(credentials) => locked.save(credentials).expect("the store saves"),
        None => locked.delete().expect("the store deletes"),
    }
}

/// A file store at `path` holding credentials the emulator accepts, whose access
/// token `access_token` lives `left` more seconds.
pub fn signed_in_store(
    emulator: &Emulator,
    path: &std::path::Path,
    access_token: &str,
    left: i64,
) -> FileStore {
    let store = FileStore::new(path);
    let mut credentials = credentials_expiring(emulator, left);
    credentials.access_token = Some(Secret::new(access_token));
    put(&store, Some(&credentials));
    store
}

fn elapsed<R: ClientRuntime>(runtime: &R, since: SystemTime) -> Duration {
    runtime.now().duration_since(since).unwrap_or_default()
}

/// A token with 200 s left is returned after one short attempt when the token
/// endpoint answers 503 or never answers.
pub fn outage_with_a_valid_token<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    for fault in [Fault::Unavailable, Fault::Slow(Duration::from_secs(5))] {
        runtime.put(Some(credentials_expiring(emulator, 200)));
        emulator.inject("/token", fault.clone(), 10);
        let before = emulator.count("/token");
        let started = runtime.now();
        let token = runtime.run(client_for(runtime).access_token()).unwrap();
        assert_eq!(token.expose(), "ya29.still-valid", "{fault:?}");
        assert_eq!(
            emulator.count("/token"),
            before + 1,
            "{fault:?}: one attempt"
        );
        assert!(
            elapsed(runtime, started) < Duration::from_secs(1),
            "{fault:?}: {:?}",
            elapsed(runtime, started)
        );
        emulator.clear_faults();
    }
}

/// An expired token: a few attempts within the budget, then the classified error.
pub fn outage_with_an_expired_token<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    for fault in [Fault::Unavailable, Fault::Slow(Duration::from_secs(5))] {
        runtime.put(Some(credentials_expiring(emulator, -10)));
        emulator.inject("/token", fault.clone(), 10);
        let before = emulator.count("/token");
        let started = runtime.now();
        let error = runtime.run(client_for(runtime).access_token()).unwrap_err();
        let attempts = emulator.count("/token") - before;
        assert!(
            (2..=4).contains(&attempts),
            "{fault:?}: {attempts} attempts"
        );
        assert!(
            elapsed(runtime, started) < Duration::from_millis(2500),
            "{fault:?}: {:?}",
            elapsed(runtime, started)
        );
        assert!(
            error.class().is_some_and(ErrorClass::retryable),
            "{fault:?}: {error}"
        );
        assert!(!error.needs_sign_in());
        emulator.clear_faults();
    }
    // It recovers as soon as the endpoint does.
    runtime.put(Some(credentials_expiring(emulator, -10)));
    emulator.inject("/token", Fault::Unavailable, 1);
    let token = runtime.run(client_for(runtime).access_token()).unwrap();
    assert!(token.expose().starts_with("ya29.emu-access-"));
    let stored = runtime.stored().unwrap();
    assert_eq!(stored.access_token.as_ref(), Some(&token), "saved");
}

/// A revoked grant: sign in again; nobody signed in: the same.
pub fn sign_in_again<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    runtime.put(None);
    let error = runtime.run(client_for(runtime).access_token()).unwrap_err();
    assert!(matches!(error, Error::NotSignedIn), "{error:?}");
    runtime.put(Some(credentials_expiring(emulator, -10)));
    emulator.revoke_all();
    let error = runtime.run(client_for(runtime).access_token()).unwrap_err();
    assert!(error.needs_sign_in(), "{error}");
}

/// A token the server no longer accepts: 401 → refresh once → the call succeeds,
/// for project discovery and for quota.
pub fn unauthorized_refreshes_once<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.set_account(Account::Standard {
        project: Some("std-project".into()),
    });
    // "ya29.still-valid" was never issued: every Code Assist call answers 401.
    runtime.put(Some(credentials_expiring(emulator, 3000)));
    let client = client_for(runtime);
    let before = emulator.count("/token");
    let project = runtime
        .run(client.project(false, &mut SplitMix64::new(1)))
        .unwrap();
    assert_eq!(project.project_id, "std-project");
    assert_eq!(emulator.count("/token"), before + 1);

    emulator.revoke_access_tokens_only();
    let quota = runtime.run(client.quota(&mut SplitMix64::new(2))).unwrap();
    assert_eq!(quota.buckets.len(), 2);
    assert_eq!(emulator.count("/token"), before + 2);
}

/// The project is remembered beside the credentials: a new process with a warm token
/// makes no request; `refresh` asks again; a 403 on quota forgets it.
pub fn project_cache<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.set_account(Account::Standard {
        project: Some("std-project".into()),
    });
    runtime.put(Some(credentials_expiring(emulator, -10)));
    let loads = emulator.count("/v1internal:loadCodeAssist");
    let first = client_for(runtime);
    runtime
        .run(first.project(false, &mut SplitMix64::new(1)))
        .unwrap();
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), loads + 1);
    assert_eq!(runtime.stored().unwrap().projects.len(), 1);

    let second = client_for(runtime);
    let tokens = emulator.count("/token");
    runtime.run(second.access_token()).unwrap();
    let project = runtime
        .run(second.project(false, &mut SplitMix64::new(2)))
        .unwrap();
    assert_eq!(project.project_id, "std-project");
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), loads + 1);
    assert_eq!(
        emulator.count("/token"),
        tokens,
        "a warm start makes no request"
    );

    runtime
        .run(second.project(true, &mut SplitMix64::new(3)))
        .unwrap();
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), loads + 2);

    emulator.inject("/v1internal:retrieveUserQuota", Fault::Forbidden, 1);
    let error = runtime
        .run(second.quota(&mut SplitMix64::new(4)))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Permission));
    assert!(runtime.stored().unwrap().projects.is_empty());
}

/// Inference goes to the cached project with no `loadCodeAssist`; a 403 on it drops
/// the cached project; a 404 about a model does not.
pub fn inference_in_the_cached_project<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.set_account(Account::Standard {
        project: Some("std-project".into()),
    });
    runtime.put(Some(credentials_expiring(emulator, -10)));
    let client = client_for(runtime);
    runtime
        .run(client.project(false, &mut SplitMix64::new(1)))
        .unwrap();
    let loads = emulator.count("/v1internal:loadCodeAssist");
    let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let chunk = runtime
        .run(client_for(runtime).generate(
            "gemini-2.5-pro",
            request.clone(),
            &mut SplitMix64::new(2),
        ))
        .unwrap();
    assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"));
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), loads);
    let sent = emulator.bodies("/v1internal:generateContent");
    let body: serde_json::Value = serde_json::from_slice(sent.last().unwrap()).unwrap();
    assert_eq!(body["project"], "std-project");

    emulator.inject("/v1internal:generateContent", Fault::ModelNotFound, 1);
    let error = runtime
        .run(client.generate("gemini-9", request.clone(), &mut SplitMix64::new(3)))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::ModelNotFound));
    assert_eq!(
        runtime.stored().unwrap().projects.len(),
        1,
        "a missing model keeps the project"
    );

    emulator.inject("/v1internal:generateContent", Fault::Forbidden, 1);
    runtime
        .run(client.generate("gemini-2.5-pro", request, &mut SplitMix64::new(4)))
        .unwrap_err();
    assert!(runtime.stored().unwrap().projects.is_empty());
}

/// `UNSUPPORTED_CLIENT`: no onboarding, Google's reason carried whole.
pub fn ineligible_tier<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.set_account(Account::UnsupportedClient);
    runtime.put(Some(credentials_expiring(emulator, -10)));
    let onboards = emulator.count("/v1internal:onboardUser");
    let error = runtime
        .run(client_for(runtime).project(false, &mut SplitMix64::new(1)))
        .unwrap_err();
    assert_eq!(emulator.count("/v1internal:onboardUser"), onboards);
    let Error::CodeAssist(CodeAssistError::Ineligible(tier)) = error.root() else {
        panic!("{error:?}");
    };
    assert_eq!(tier.reason_code.as_deref(), Some("UNSUPPORTED_CLIENT"));
    assert!(error.to_string().contains("Vertex AI"), "{error}");
}

/// Logout revokes and deletes, under the lock, even when revocation hangs.
pub fn logout<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    runtime.put(Some(credentials_expiring(emulator, 3000)));
    emulator.inject("/revoke", Fault::Slow(Duration::from_secs(5)), 1);
    let started = runtime.now();
    let outcome = runtime.run(client_for(runtime).logout()).unwrap();
    assert!(outcome.was_signed_in && outcome.revocation_error.is_some());
    assert!(runtime.stored().is_none());
    assert!(elapsed(runtime, started) < Duration::from_secs(2));
    let outcome = runtime.run(client_for(runtime).logout()).unwrap();
    assert!(!outcome.was_signed_in);
}

/// A core client taking its tokens from `source`; the runtime's store (empty) is
/// never touched by it.
fn client_with_source<R: ClientRuntime>(runtime: &mut R, source: CredentialSource) -> Client {
    runtime.put(None);
    client_for(runtime).reconfigured(|config| config.source = source)
}

/// The emulator's host and port, as `GCE_METADATA_HOST` takes it.
fn metadata_host<R: ClientRuntime>(runtime: &R) -> String {
    runtime
        .base_url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// The service-account key of the tests, parsed as discovery parses it.
pub fn test_service_account(token_uri: &str) -> CredentialSource {
    service_account_from(&service_account_file(token_uri))
}

fn service_account_from(file: &str) -> CredentialSource {
    match parse_credential_file(file.as_bytes(), &Origin("test key".into()), &RingKeys) {
        Ok(CredentialFile::ServiceAccount(account)) => CredentialSource::ServiceAccount(account),
        other => panic!("the test key did not parse: {other:?}"),
    }
}

/// A service-account key signs a JWT-bearer assertion the emulator verifies (RS256
/// against the key, audience, lifetime, scope); its token works on Code Assist.
pub fn service_account<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.trust_service_account(SERVICE_ACCOUNT_EMAIL, TEST_SERVICE_ACCOUNT_KEY);
    emulator.set_account(Account::Standard {
        project: Some("robot-project".into()),
    });
    let source = test_service_account(&format!("{}/token", runtime.base_url()));
    let client = client_with_source(runtime, source);
    let token = runtime.run(client.access_token()).unwrap();
    assert!(token.expose().starts_with("ya29.emu-access-"));
    let project = runtime
        .run(client.project(false, &mut SplitMix64::new(7)))
        .unwrap();
    assert_eq!(project.project_id, "robot-project");
    // An account the emulator does not know is refused: the grant fails for good.
    let stranger = service_account_from(
        &service_account_file(&format!("{}/token", runtime.base_url())).replace(
            SERVICE_ACCOUNT_EMAIL,
            "stranger@example.iam.gserviceaccount.com",
        ),
    );
    let client = client_with_source(runtime, stranger);
    let error = runtime.run(client.access_token()).unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::AuthPermanent), "{error}");
    assert!(
        runtime.stored().is_none(),
        "another source wrote to the store"
    );
}

/// Asked to, a client keeps a service account's token in its store: without the key
/// or any secret but the token, and another client (another process) sharing the
/// store uses it without a new grant.
pub fn cached_source_token<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.trust_service_account(SERVICE_ACCOUNT_EMAIL, TEST_SERVICE_ACCOUNT_KEY);
    let source = test_service_account(&format!("{}/token", runtime.base_url()));
    let cached = |runtime: &mut R| {
        client_for(runtime).reconfigured(|config| {
            config.source = source.clone();
            config.cache_source_tokens = true;
        })
    };
    runtime.put(None);
    let grants = emulator.count("/token");
    let client = cached(runtime);
    let token = runtime.run(client.access_token()).unwrap();
    assert_eq!(emulator.count("/token"), grants + 1);
    let record = runtime.stored().expect("the token is kept in the store");
    assert_eq!(record.access_token.as_ref(), Some(&token));
    assert!(record.refresh_token.is_empty());
    let kept = serde_json::to_string(&record).unwrap();
    assert!(!kept.contains("PRIVATE KEY"), "{kept}");
    let client = cached(runtime);
    let again = runtime.run(client.access_token()).unwrap();
    assert_eq!(again, token);
    assert_eq!(
        emulator.count("/token"),
        grants + 1,
        "a cached token was minted again"
    );
}

/// The metadata server's token works; an impostor without `Metadata-Flavor: Google`
/// is refused with an error naming the metadata server.
pub fn metadata_server<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.set_account(Account::Standard {
        project: Some("instance-project".into()),
    });
    let source = CredentialSource::Metadata(MetadataServer::new(metadata_host(runtime)));
    let client = client_with_source(runtime, source.clone());
    runtime.run(client.access_token()).unwrap();
    let project = runtime
        .run(client.project(false, &mut SplitMix64::new(7)))
        .unwrap();
    assert_eq!(project.project_id, "instance-project");

    emulator.metadata_unflavored(true);
    let client = client_with_source(runtime, source);
    let error = runtime.run(client.access_token()).unwrap_err();
    emulator.metadata_unflavored(false);
    assert!(matches!(error, Error::Source(_)), "{error:?}");
    assert!(error.to_string().contains("Metadata-Flavor"), "{error}");
}

/// An injected token is used as is; once refused it is not refreshed, and the error
/// names the variable.
pub fn injected_token<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    emulator.set_account(Account::Standard {
        project: Some("p".into()),
    });
    let source = CredentialSource::Injected(InjectedToken::new(
        Secret::new("ya29.not-issued-by-the-emulator"),
        "CODEASSIST_ACCESS_TOKEN",
    ));
    let client = client_with_source(runtime, source);
    assert_eq!(
        runtime.run(client.access_token()).unwrap().expose(),
        "ya29.not-issued-by-the-emulator"
    );
    let refreshes = emulator.count("/token");
    let error = runtime
        .run(client.project(false, &mut SplitMix64::new(7)))
        .unwrap_err();
    assert!(
        error.to_string().contains("CODEASSIST_ACCESS_TOKEN"),
        "{error}"
    );
    assert_eq!(emulator.count("/token"), refreshes);
}

/// Discovery: a variable naming a key file wins over the metadata server; a missing
/// file is an error naming the variable; with nothing else, the metadata server
/// (through `GCE_METADATA_HOST`) is found; `NO_GCE_CHECK` skips it.
pub fn discovery<R: ClientRuntime>(runtime: &mut R, _emulator: &Emulator) {
    runtime.put(None);
    let host = metadata_host(runtime);
    let key = runtime.place_file(
        "key.json",
        service_account_file(&format!("{}/token", runtime.base_url())).as_bytes(),
    );
    let discover = |vars: &[(&str, &str)], pinned| {
        DiscoverOp::new(
            Environment::from_vars(vars.iter().copied()),
            pinned,
            Arc::new(RingKeys),
        )
    };
    let key_path = key.to_string_lossy().into_owned();
    let found = runtime
        .run(discover(
            &[
                ("GOOGLE_APPLICATION_CREDENTIALS", &key_path),
                ("GCE_METADATA_HOST", &host),
            ],
            SourceKind::Auto,
        ))
        .unwrap();
    assert_eq!(found.summary().kind, "service-account");
    assert_eq!(
        found.summary().account.as_deref(),
        Some(SERVICE_ACCOUNT_EMAIL)
    );

    let missing = key
        .with_file_name("missing.json")
        .to_string_lossy()
        .into_owned();
    let error = runtime
        .run(discover(
            &[("GOOGLE_APPLICATION_CREDENTIALS", &missing)],
            SourceKind::Auto,
        ))
        .unwrap_err();
    assert!(
        error.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{error}"
    );

    let found = runtime
        .run(discover(
            &[("GCE_METADATA_HOST", &host), ("HOME", "/nonexistent")],
            SourceKind::Auto,
        ))
        .unwrap();
    assert_eq!(found.summary().kind, "metadata");

    let error = runtime
        .run(discover(
            &[
                ("GCE_METADATA_HOST", &host),
                ("NO_GCE_CHECK", "true"),
                ("HOME", "/nonexistent"),
            ],
            SourceKind::Auto,
        ))
        .unwrap_err();
    assert!(matches!(error, Error::NotSignedIn), "{error:?}");

    let found = runtime
        .run(discover(
            &[("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.x")],
            SourceKind::Auto,
        ))
        .unwrap();
    assert_eq!(found.summary().kind, "env");
}

/// The Gemini API with an API key (no sign-in) and with a token, and Vertex AI with a
/// token: generate, count tokens, list models; a bad key is `auth_permanent`.
pub fn targets<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    use codeassist_core::inference::Target;
    let base = runtime.base_url();
    let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let text = |chunk: &codeassist_core::inference::Chunk| {
        chunk.response["candidates"][0]["content"]["parts"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    runtime.put(None);
    let keyed = Target::gemini_api(Some(Secret::new(crate::emulator::API_KEY))).under(&base);
    let client = client_for(runtime);
    let chunk = runtime
        .run(client.generate_on(
            &keyed,
            "gemini-3.8-flash",
            request.clone(),
            &mut SplitMix64::new(1),
        ))
        .unwrap();
    assert_eq!(text(&chunk), "Hello from the emulator.");
    assert!(
        runtime
            .run(client.count_tokens_on(&keyed, "gemini-3.8-flash", request.clone()))
            .unwrap()
            > 0
    );
    let models = runtime.run(client.list_models_on(&keyed)).unwrap();
    assert_eq!(models[0].name, "gemini-2.5-pro");
    assert_eq!(models[0].input_token_limit, Some(1_048_576));

    let wrong =
        Target::gemini_api(Some(Secret::new("AIza-wrong-key-0000000000000000000000"))).under(&base);
    let error = runtime
        .run(client.generate_on(
            &wrong,
            "gemini-3.8-flash",
            request.clone(),
            &mut SplitMix64::new(1),
        ))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::AuthPermanent), "{error}");

    // With a token: the Gemini API and Vertex AI.
    runtime.put(Some(credentials_expiring(emulator, 3000)));
    let client = client_for(runtime);
    runtime.run(client.access_token()).unwrap();
    for target in [
        Target::gemini_api(None).under(&base),
        Target::vertex("vertex-project", "us-central1").under(&base),
    ] {
        let chunk = runtime
            .run(client.generate_on(
                &target,
                "gemini-2.5-pro",
                request.clone(),
                &mut SplitMix64::new(2),
            ))
            .unwrap();
        assert_eq!(text(&chunk), "Hello from the emulator.", "{target:?}");
    }
    // A bad model name never reaches the network.
    let error = runtime
        .run(client.generate_on(&keyed, "../../etc", request, &mut SplitMix64::new(3)))
        .unwrap_err();
    assert!(matches!(error, Error::Config(_)), "{error:?}");
}

/// A credential file parsed as discovery parses it, with `env` as its environment.
fn source_from_file(file: &serde_json::Value, env: &[(&str, &str)]) -> CredentialSource {
    let parsed = parse_credential_file(
        file.to_string().as_bytes(),
        &Origin("federation test file".into()),
        &RingKeys,
    )
    .expect("the test file parses");
    let mut source = parsed.into_source();
    source.use_environment(&Environment::from_vars(env.iter().copied()));
    source
}

/// Workload identity federation against the emulated STS and IAM Credentials: a
/// subject token from a file, exchanged, then the service account impersonated; an
/// AWS workload through the emulated instance metadata service; a subject token STS
/// refuses is a permanent failure.
pub fn workload_identity_federation<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    let base = runtime.base_url();
    let subject = runtime.place_file("subject-token", crate::emulator::SUBJECT_TOKEN.as_bytes());
    let audience =
        "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/q";
    let file = serde_json::json!({"type": "external_account", "audience": audience,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": format!("{base}/v1/token"),
        "service_account_impersonation_url": format!(
            "{base}/v1/projects/-/serviceAccounts/{SERVICE_ACCOUNT_EMAIL}:generateAccessToken"),
        "credential_source": {"file": subject}});
    let client = client_with_source(runtime, source_from_file(&file, &[]));
    let token = runtime.run(client.access_token()).unwrap();
    assert!(
        token.expose().starts_with("ya29.emu-impersonated-"),
        "{token:?}"
    );
    assert_eq!(emulator.count("/v1/token"), 1);
    assert!(runtime.stored().is_none(), "the store was written");
    // Warm: from memory.
    runtime.run(client.access_token()).unwrap();
    assert_eq!(emulator.count("/v1/token"), 1);

    let mut aws = serde_json::json!({"type": "external_account", "audience": audience,
        "subject_token_type": "urn:ietf:params:aws:token-type:aws4_request",
        "token_url": format!("{base}/v1/token"),
        "credential_source": {"environment_id": "aws1",
            "region_url": format!("{base}/latest/meta-data/placement/availability-zone"),
            "url": format!("{base}/latest/meta-data/iam/security-credentials"),
            "imdsv2_session_token_url": format!("{base}/latest/api/token")}});
    let client = client_with_source(runtime, source_from_file(&aws, &[]));
    let token = runtime.run(client.access_token()).unwrap();
    assert!(token.expose().starts_with("ya29.emu-access-"), "{token:?}");
    assert_eq!(emulator.count("/v1/token"), 2);

    // Keys of another AWS account: STS refuses the signed request, for good.
    aws["credential_source"]
        .as_object_mut()
        .unwrap()
        .remove("imdsv2_session_token_url");
    let env = [
        ("AWS_REGION", "us-east-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDSTRANGER"),
        ("AWS_SECRET_ACCESS_KEY", "stranger-secret"),
    ];
    let client = client_with_source(runtime, source_from_file(&aws, &env));
    let error = runtime.run(client.access_token()).unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::AuthPermanent), "{error}");
    assert!(!error.to_string().contains("stranger-secret"), "{error}");
}

/// One scenario, run on a runtime against its emulator.
type Scenario<R> = fn(&mut R, &Emulator);

/// Every scenario, in order. The emulator is reset to a new free user between them.
pub fn run_all<R: ClientRuntime>(runtime: &mut R, emulator: &Emulator) {
    let scenarios: [(&str, Scenario<R>); 15] = [
        ("outage_with_a_valid_token", outage_with_a_valid_token),
        ("outage_with_an_expired_token", outage_with_an_expired_token),
        ("sign_in_again", sign_in_again),
        ("unauthorized_refreshes_once", unauthorized_refreshes_once),
        ("project_cache", project_cache),
        (
            "inference_in_the_cached_project",
            inference_in_the_cached_project,
        ),
        ("ineligible_tier", ineligible_tier),
        ("logout", logout),
        ("service_account", service_account),
        ("cached_source_token", cached_source_token),
        ("metadata_server", metadata_server),
        ("injected_token", injected_token),
        ("discovery", discovery),
        ("targets", targets),
        ("workload_identity_federation", workload_identity_federation),
    ];
    for (name, scenario) in scenarios {
        reset(emulator);
        eprintln!("client scenario: {name}");
        scenario(runtime, emulator);
    }
}

fn reset(emulator: &Emulator) {
    emulator.clear_faults();
    emulator.set_account(Account::NewFreeUser {
        polls_before_done: 0,
    });
}

/// The in-memory runtime: core's [`MemoryRuntime`] with the emulator's handler as the
/// network, on a virtual clock.
#[derive(Debug)]
pub struct MemoryClientRuntime {
    emulator: Emulator,
    runtime: MemoryRuntime,
}

impl MemoryClientRuntime {
    /// A runtime for `emulator`, its clock starting now.
    pub fn new(emulator: &Emulator) -> Self {
        Self {
            emulator: emulator.clone(),
            runtime: MemoryRuntime::new(SystemTime::now(), MemoryStore::default()),
        }
    }
}

impl ClientRuntime for MemoryClientRuntime {
    fn run<O>(&mut self, op: O) -> Result<O::Output, Error>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let emulator = self.emulator.clone();
        self.runtime.run(op, move |request, now| {
            let answer = emulator.handle(request, now);
            Reply {
                outcome: answer.response.ok_or_else(|| {
                    TransportError::new(TransportErrorKind::Reset, "closed without an answer")
                }),
                took: answer.delay,
            }
        })
    }

    fn put(&mut self, credentials: Option<Credentials>) {
        self.runtime.store.credentials = credentials;
    }

    fn stored(&mut self) -> Option<Credentials> {
        self.runtime.store.credentials.clone()
    }

    fn base_url(&self) -> String {
        "http://127.0.0.1:9".to_owned()
    }

    fn now(&self) -> SystemTime {
        self.runtime.clock.now()
    }

    fn place_file(&mut self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = PathBuf::from("/virtual").join(name);
        self.runtime.files.insert(path.clone(), bytes.to_vec());
        path
    }
}
