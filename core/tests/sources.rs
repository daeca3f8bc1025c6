//! Credential sources on a virtual clock: the JWT-bearer grant's request, the
//! metadata server's, gcloud's user credentials and the quota project, injected
//! tokens, credential-file parsing, discovery, and that no secret is ever shown.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use codeassist_core::Error;
use codeassist_core::client::{Client, ClientConfig, MemoryRuntime, MemoryStore, Reply};
use codeassist_core::oauth::{OAuthClient, OAuthEndpoints, unix_seconds};
use codeassist_core::source::{
    CredentialFile, CredentialSource, DiscoverOp, Environment, GOOGLE_TOKEN_URI, MetadataServer,
    Origin, Rs256Signer, RsaKeys, SourceKind, parse_credential_file,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const BASE: &str = "https://google.test";
const KEY_PEM: &str = include_str!("../../emulator/data/service-account-key.pem");

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// Signs with a fixed signature (the emulator tests check real RS256 signatures).
#[derive(Debug)]
struct FixedSigner;

impl Rs256Signer for FixedSigner {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, String> {
        Ok(b"signature".to_vec())
    }
}

/// Accepts any key.
#[derive(Debug)]
struct AnyKey;

impl RsaKeys for AnyKey {
    fn load_pkcs8(&self, der: &[u8]) -> Result<Arc<dyn Rs256Signer>, String> {
        match der.is_empty() {
            true => Err("empty".into()),
            false => Ok(Arc::new(FixedSigner)),
        }
    }
}

fn origin() -> Origin {
    Origin("/keys/key.json (GOOGLE_APPLICATION_CREDENTIALS)".into())
}

fn key_file(token_uri: &str) -> String {
    json!({"type": "service_account", "project_id": "p", "private_key_id": "kid-1",
        "private_key": KEY_PEM, "client_email": "robot@p.iam.gserviceaccount.com",
        "token_uri": token_uri, "unknown_field": [1, 2]})
    .to_string()
}

fn user_file(quota_project: Option<&str>) -> String {
    let mut file = json!({"type": "authorized_user", "client_id": "gcloud-client",
        "client_secret": "gcloud-secret", "refresh_token": "1//gcloud-refresh"});
    if let Some(project) = quota_project {
        file["quota_project_id"] = json!(project);
    }
    file.to_string()
}

fn parse(file: &str) -> Result<CredentialSource, Error> {
    Ok(
        match parse_credential_file(file.as_bytes(), &origin(), &AnyKey)? {
            CredentialFile::AuthorizedUser(user) => CredentialSource::AuthorizedUser(user),
            CredentialFile::ServiceAccount(account) => CredentialSource::ServiceAccount(account),
            _ => unreachable!("a new kind of file"),
        },
    )
}

fn client(source: CredentialSource) -> Client {
    let mut config = ClientConfig::new(
        OAuthClient::new("our-client", "our-secret").with_endpoints(OAuthEndpoints::under(BASE)),
    );
    config.source = source;
    Client::new(config)
}

fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut response = http::Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    Reply::now(Ok(response.body(body.as_bytes().to_vec()).unwrap()))
}

fn token_reply() -> Reply {
    minted("ya29.minted")
}

/// A token endpoint's answer with `token`, valid for an hour.
fn minted(token: &str) -> Reply {
    reply(
        200,
        &[],
        &format!(r#"{{"access_token": "{token}", "expires_in": 3599}}"#),
    )
}

fn form(body: &[u8]) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn a_service_account_sends_a_jwt_bearer_grant_with_the_right_claims() {
    // The file names Google's endpoint: the configured (overridden) one is used.
    let source = parse(&key_file(GOOGLE_TOKEN_URI)).unwrap();
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let token = runtime
        .run(client(source).access_token(), |_, _| token_reply())
        .unwrap();
    assert_eq!(token.expose(), "ya29.minted");
    assert!(runtime.store.credentials.is_none(), "the store was written");
    let request = &runtime.sent[0];
    assert_eq!(request.uri(), "https://google.test/token");
    let fields = form(request.body());
    assert_eq!(
        fields["grant_type"],
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let parts: Vec<&str> = fields["assertion"].split('.').collect();
    assert_eq!(parts.len(), 3);
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
    );
    assert_eq!(claims["iss"], "robot@p.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], claims["iss"]);
    assert_eq!(claims["aud"], "https://google.test/token");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/cloud-platform"
    );
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(iat, unix_seconds(start()));
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 3600);
    assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), b"signature");
    // A file naming another of Google's token hosts (a Private Service Connect name)
    // keeps it.
    let psc = "https://oauth2-corp.p.googleapis.com/token";
    let source = parse(&key_file(psc)).unwrap();
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(client(source).access_token(), |_, _| token_reply())
        .unwrap();
    assert_eq!(runtime.sent[0].uri(), psc);
}

/// A key file whose `token_uri` is neither Google's nor under the base URL that
/// replaces Google's hosts gets nothing: the signed assertion is never sent there.
#[test]
fn a_key_file_naming_a_foreign_token_host_gets_no_assertion() {
    for foreign in [
        "https://private.test/token",
        "https://oauth2.googleapis.com.evil.test/token",
        "https://evilgoogleapis.com/token",
        "https://user@oauth2.googleapis.com/token",
    ] {
        let source = parse(&key_file(foreign)).unwrap();
        let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
        let error = runtime
            .run(client(source).access_token(), |_, _| token_reply())
            .unwrap_err();
        assert!(runtime.sent.is_empty(), "{foreign}: a request was sent");
        assert!(
            error.to_string().contains("not one of Google's hosts"),
            "{foreign}: {error}"
        );
    }
}

#[test]
fn a_service_account_token_is_kept_in_memory_and_outages_follow_the_rules() {
    let source = parse(&key_file(GOOGLE_TOKEN_URI)).unwrap();
    let client = client(source);
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(client.access_token(), |_, _| token_reply())
        .unwrap();
    // Warm: no request.
    runtime
        .run(client.access_token(), |_, _| {
            panic!("a warm token made a request")
        })
        .unwrap();
    // Expired, and the token endpoint is down: bounded retries, then the error.
    runtime.clock.advance(Duration::from_secs(3600));
    let error = runtime
        .run(client.access_token(), |_, _| {
            reply(
                503,
                &[],
                r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "down"}}"#,
            )
        })
        .unwrap_err();
    assert!(error.to_string().contains("down"), "{error}");
    assert!(runtime.sent.len() > 2, "no retries: {}", runtime.sent.len());
}

#[test]
fn a_source_token_is_cached_in_the_store_only_when_asked_and_only_for_its_own_source() {
    let cached_client = |file: &str| {
        client(parse(file).unwrap()).reconfigured(|config| config.cache_source_tokens = true)
    };
    // Minted once, the token lands in the store without the key or any refresh token.
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(
            cached_client(&key_file(GOOGLE_TOKEN_URI)).access_token(),
            |_, _| token_reply(),
        )
        .unwrap();
    let record = runtime
        .store
        .credentials
        .clone()
        .expect("the token is cached");
    assert_eq!(
        record.access_token.as_ref().unwrap().expose(),
        "ya29.minted"
    );
    assert!(record.refresh_token.is_empty());
    let shown = serde_json::to_string(&record).unwrap();
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains("MII"),
        "{shown}"
    );
    // A new client (another process) sharing the store uses it: no request.
    let token = runtime
        .run(
            cached_client(&key_file(GOOGLE_TOKEN_URI)).access_token(),
            |_, _| panic!("a cached token made a request"),
        )
        .unwrap();
    assert_eq!(token.expose(), "ya29.minted");
    // Another account never takes it.
    let other = key_file(GOOGLE_TOKEN_URI).replace("robot@", "other-robot@");
    runtime
        .run(cached_client(&other).access_token(), |_, _| {
            minted("ya29.other")
        })
        .unwrap();
    assert_eq!(runtime.sent.len(), 2);

    // Two people on gcloud's one client: told apart by their refresh tokens, which
    // never reach the store.
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(cached_client(&user_file(None)).access_token(), |_, _| {
            token_reply()
        })
        .unwrap();
    let record = runtime.store.credentials.clone().unwrap();
    let shown = serde_json::to_string(&record).unwrap();
    assert!(
        !shown.contains("gcloud-refresh") && !shown.contains("gcloud-secret"),
        "{shown}"
    );
    let someone_else = user_file(None).replace("1//gcloud-refresh", "1//another-refresh");
    runtime
        .run(cached_client(&someone_else).access_token(), |_, _| {
            minted("ya29.theirs")
        })
        .unwrap();
    assert_eq!(runtime.sent.len(), 2, "a cached token crossed accounts");

    // Not asked: the store is never touched.
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(
            client(parse(&user_file(None)).unwrap()).access_token(),
            |_, _| token_reply(),
        )
        .unwrap();
    assert_eq!((runtime.store.loads, runtime.store.saves), (0, 0));
    assert!(runtime.store.credentials.is_none());
}

#[test]
fn the_metadata_server_is_asked_with_its_header_and_must_answer_with_it() {
    let mut server = MetadataServer::new("169.254.169.254");
    server.scopes = vec!["https://www.googleapis.com/auth/cloud-platform".into()];
    let client = client(CredentialSource::Metadata(server));
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let error = runtime
        .run(client.access_token(), |_, _| token_reply())
        .unwrap_err();
    assert!(matches!(error, Error::Source(_)), "{error:?}");
    assert!(error.to_string().contains("Metadata-Flavor"));
    let request = &runtime.sent[0];
    assert_eq!(request.headers()["metadata-flavor"], "Google");
    assert_eq!(
        request.uri().to_string(),
        "http://169.254.169.254/computeMetadata/v1/instance/service-accounts/default/token?scopes=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fcloud-platform"
    );
    let token = runtime
        .run(client.access_token(), |_, _| {
            reply(
                200,
                &[("metadata-flavor", "Google")],
                r#"{"access_token": "ya29.instance", "expires_in": 3599, "token_type": "Bearer"}"#,
            )
        })
        .unwrap();
    assert_eq!(token.expose(), "ya29.instance");
}

#[test]
fn gcloud_user_credentials_refresh_with_their_own_client_and_bill_the_quota_project() {
    let source = parse(&user_file(Some("billing-project"))).unwrap();
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(client(source.clone()).access_token(), |_, _| token_reply())
        .unwrap();
    let fields = form(runtime.sent[0].body());
    assert_eq!(fields["client_id"], "gcloud-client");
    assert_eq!(fields["client_secret"], "gcloud-secret");
    assert_eq!(fields["refresh_token"], "1//gcloud-refresh");

    // The quota project: the file's, unless configured.
    let mut config = client(source.clone()).config().clone();
    assert_eq!(config.user_quota_project(), Some("billing-project"));
    config.quota_project = Some("configured".into());
    assert_eq!(config.user_quota_project(), Some("configured"));
    let mut request = http::Request::get("https://x.test/")
        .body(Vec::new())
        .unwrap();
    config.bill_to_quota_project(&mut request);
    assert_eq!(request.headers()["x-goog-user-project"], "configured");
    // GOOGLE_CLOUD_QUOTA_PROJECT (or the host's) applies to every credential, as in
    // google-auth; a service account has no file quota project of its own.
    config.source = parse(&key_file(GOOGLE_TOKEN_URI)).unwrap();
    assert_eq!(config.user_quota_project(), Some("configured"));
    config.quota_project = None;
    assert_eq!(config.user_quota_project(), None);
}

#[test]
fn an_injected_token_is_used_until_refused_and_never_refreshed() {
    let env = Environment::from_vars([("CODEASSIST_ACCESS_TOKEN", "ya29.given")]);
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let source = runtime
        .run(
            DiscoverOp::new(env, SourceKind::Auto, Arc::new(AnyKey)),
            |_, _| panic!("discovery of an injected token made a request"),
        )
        .unwrap();
    let client = client(source);
    let token = runtime
        .run(client.access_token(), |_, _| panic!("no request"))
        .unwrap();
    assert_eq!(token.expose(), "ya29.given");
    let refused = runtime
        .run(
            codeassist_core::client::TokenOp::replacing(&client, token),
            |_, _| panic!("an injected token was refreshed"),
        )
        .unwrap_err();
    assert!(
        refused.to_string().contains("CODEASSIST_ACCESS_TOKEN"),
        "{refused}"
    );
}

#[test]
fn credential_files_are_strict_about_types_and_name_their_origin() {
    // Unknown fields are fine.
    assert!(parse(&key_file(GOOGLE_TOKEN_URI)).is_ok());
    let cases = [
        (
            r#"{"type": "authorized_user", "client_id": "c", "client_secret": "s", "refresh_token": 5}"#,
            "unreadable",
        ),
        (
            r#"{"type": "external_account"}"#,
            "missing field `audience`",
        ),
        (
            r#"{"type": "impersonated_service_account"}"#,
            "missing field `service_account_impersonation_url`",
        ),
        (
            r#"{"type": "something_else"}"#,
            "unsupported credential type",
        ),
        (r#"{"client_id": "c"}"#, "no \"type\""),
        ("not json", "not a JSON"),
        (
            &key_file(GOOGLE_TOKEN_URI).replace("BEGIN PRIVATE KEY", "BEGIN NONSENSE"),
            "PEM",
        ),
        (&key_file("http://insecure.test/token"), "token_uri"),
        (
            &key_file(GOOGLE_TOKEN_URI).replacen(
                '{',
                r#"{"universe_domain": "example-cloud.test", "#,
                1,
            ),
            "universe_domain \"example-cloud.test\" is not supported",
        ),
    ];
    // Google's own universe, named or not, is the default.
    assert!(
        parse(&key_file(GOOGLE_TOKEN_URI).replacen(
            '{',
            r#"{"universe_domain": "googleapis.com", "#,
            1
        ))
        .is_ok()
    );
    for (file, expected) in cases {
        let error = parse(file).unwrap_err().to_string();
        assert!(error.contains(expected), "{file}: {error}");
        assert!(error.contains("/keys/key.json"), "{error}");
        assert!(!error.contains("MII"), "key material in an error: {error}");
    }
}

#[test]
fn no_secret_in_debug_output() {
    let shown = format!(
        "{:?} {:?} {:?}",
        parse(&user_file(None)).unwrap(),
        parse(&key_file(GOOGLE_TOKEN_URI)).unwrap(),
        Environment::from_vars([("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.secret-value")]),
    );
    for secret in [
        "gcloud-secret",
        "1//gcloud-refresh",
        "ya29.secret-value",
        "MII",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn pinned_sources_say_what_was_looked_for() {
    let discover = |vars: Vec<(&'static str, &'static str)>, pinned, files: Vec<(&str, String)>| {
        let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
        for (path, bytes) in files {
            runtime.files.insert(path.into(), bytes.into_bytes());
        }
        runtime.run(
            DiscoverOp::new(Environment::from_vars(vars), pinned, Arc::new(AnyKey)),
            |_, _| panic!("a pinned source probed the network"),
        )
    };
    assert!(matches!(
        discover(vec![], SourceKind::Login, vec![]),
        Err(Error::NotSignedIn)
    ));
    let error = discover(
        vec![("HOME", "/home/a"), ("NO_GCE_CHECK", "true")],
        SourceKind::Adc,
        vec![],
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("gcloud auth application-default login")
    );
    // gcloud's file, found through HOME.
    let found = discover(
        vec![("HOME", "/home/a")],
        SourceKind::Auto,
        vec![(
            "/home/a/.config/gcloud/application_default_credentials.json",
            user_file(None),
        )],
    );
    if !cfg!(windows) {
        assert_eq!(found.unwrap().summary().kind, "adc");
    }
    // A user-credentials file is not a service-account key.
    let error = discover(
        vec![("GOOGLE_APPLICATION_CREDENTIALS", "/k.json")],
        SourceKind::ServiceAccount,
        vec![("/k.json", user_file(None))],
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("not a service-account key"),
        "{error}"
    );
    // Pinned metadata: no probe, the configured host.
    let found = discover(
        vec![("GCE_METADATA_HOST", "127.0.0.1:8080")],
        SourceKind::Metadata,
        vec![],
    )
    .unwrap();
    assert_eq!(
        found.summary().origin.as_deref(),
        Some("metadata server 127.0.0.1:8080")
    );
}

proptest! {
    /// No file makes the parser panic; every failure is an error naming the origin.
    #[test]
    fn no_credential_file_makes_the_parser_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Err(error) = parse_credential_file(&bytes, &origin(), &AnyKey) {
            prop_assert!(error.to_string().contains("/keys/key.json"));
        }
    }

    /// No claim values make the grant's request panic.
    #[test]
    fn no_claims_make_the_grant_panic(email in "\\PC{0,40}", kid in "\\PC{0,20}", scope in "\\PC{0,40}") {
        let file = json!({"type": "service_account", "private_key_id": kid, "private_key": KEY_PEM,
            "client_email": format!("{email}@x"), "token_uri": GOOGLE_TOKEN_URI, "scope": scope});
        if let Ok(source) = parse(&file.to_string()) {
            let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
            let _ = runtime.run(client(source).access_token(), |_, _| token_reply());
        }
    }
}

/// The metadata server's account email is one word: a bidirectional override (which
/// would make it read backwards on a terminal) is refused like a control character.
#[test]
fn a_metadata_email_with_a_bidi_override_is_refused() {
    use codeassist_core::flow::{VirtualClock, drive};
    let server = MetadataServer::new("169.254.169.254");
    for (body, accepted) in [
        ("sa@project.iam.gserviceaccount.com", true),
        ("sa@project\u{202e}moc.liame", false),
        ("sa@project\u{2066}x", false),
        ("sa@pro\u{85}ject", false),
    ] {
        let outcome = drive(
            codeassist_core::source::metadata_email(&server).unwrap(),
            &mut VirtualClock::new(start()),
            |_, _| {
                Ok(http::Response::builder()
                    .status(200)
                    .header("metadata-flavor", "Google")
                    .body(body.as_bytes().to_vec())
                    .unwrap())
            },
        );
        assert_eq!(outcome.is_ok(), accepted, "{body:?}: {outcome:?}");
    }
}

/// As google-auth: Application Default Credentials end with the metadata server, whose
/// probe must answer 200 with its flavour (a 503 that carries the header is not one);
/// a blank `GOOGLE_APPLICATION_CREDENTIALS` is an error, an empty one is unset.
#[test]
fn adc_ends_with_the_metadata_server_and_blank_is_not_unset() {
    let discover = |vars: Vec<(&'static str, &'static str)>, status: u16| {
        let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
        runtime.run(
            DiscoverOp::new(
                Environment::from_vars(vars),
                SourceKind::Adc,
                Arc::new(AnyKey),
            ),
            |_, _| reply(status, &[("metadata-flavor", "Google")], ""),
        )
    };
    let found = discover(vec![("HOME", "/home/a")], 200).unwrap();
    assert!(matches!(found, CredentialSource::Metadata(_)), "{found:?}");
    let error = discover(vec![("HOME", "/home/a")], 503).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("no credential file and no metadata server"),
        "{error}"
    );
    let error = discover(
        vec![
            ("HOME", "/home/a"),
            ("GOOGLE_APPLICATION_CREDENTIALS", "   "),
        ],
        200,
    )
    .unwrap_err();
    assert!(error.to_string().contains("is blank"), "{error}");
    let found = discover(
        vec![("HOME", "/home/a"), ("GOOGLE_APPLICATION_CREDENTIALS", "")],
        200,
    )
    .unwrap();
    assert!(
        matches!(found, CredentialSource::Metadata(_)),
        "empty is unset"
    );
}

/// The project from the environment, as google-auth reads it.
#[test]
fn the_environments_project_follows_google_auth() {
    use codeassist_core::code_assist::project_from_env;
    let env = |vars: &'static [(&'static str, &'static str)]| {
        project_from_env(move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    };
    assert_eq!(
        env(&[
            ("GOOGLE_CLOUD_PROJECT", "a-project"),
            ("GCLOUD_PROJECT", "b-project")
        ]),
        Some(("a-project".into(), "GOOGLE_CLOUD_PROJECT"))
    );
    assert_eq!(
        env(&[("GCLOUD_PROJECT", " b-project ")]),
        Some(("b-project".into(), "GCLOUD_PROJECT"))
    );
    assert_eq!(
        env(&[
            ("GOOGLE_CLOUD_PROJECT", ""),
            ("GCLOUD_PROJECT", "b-project")
        ]),
        None
    );
    assert_eq!(env(&[]), None);
}

/// gcloud's configured project, read from its files as google-auth reads it: the
/// active configuration (or `default`), its `[core] project`; nothing for a name that
/// would leave the directory or a value that is not a project id.
#[test]
fn gclouds_configured_project_is_read_from_its_files() {
    use codeassist_core::source::GcloudProject;
    let read = |files: &[(&str, &str)]| {
        let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
        for (path, text) in files {
            runtime
                .files
                .insert((*path).into(), text.as_bytes().to_vec());
        }
        let env = Environment::from_vars([("CLOUDSDK_CONFIG", "/g")]);
        runtime
            .run(GcloudProject::new(&env), |_, _| panic!("no network"))
            .unwrap()
    };
    let config =
        "[core]\naccount = person@example.com\nproject = my-project\n\n[compute]\nregion = us\n";
    assert_eq!(
        read(&[
            ("/g/active_config", "work\n"),
            ("/g/configurations/config_work", config)
        ]),
        Some("my-project".into())
    );
    assert_eq!(
        read(&[("/g/configurations/config_default", config)]),
        Some("my-project".into()),
        "no active_config: the default configuration"
    );
    assert_eq!(read(&[("/g/active_config", "../../etc/x")]), None);
    assert_eq!(
        read(&[(
            "/g/configurations/config_default",
            "[core]\nproject = evil\u{1b}]0;x\n"
        )]),
        None
    );
    assert_eq!(
        read(&[(
            "/g/configurations/config_default",
            "[compute]\nproject = my-project\n"
        )]),
        None
    );
    assert_eq!(read(&[]), None);
}

/// The project of a credential, in google-auth's order: the variables, the key's own,
/// gcloud's configured project for gcloud's file only, the metadata server's.
#[test]
fn a_credentials_project_follows_google_auth() {
    use codeassist_core::source::{ProjectLookup, ProjectOrigin};
    let lookup = |source: &CredentialSource, vars: &[(&str, &str)]| {
        let mut vars = vars.to_vec();
        vars.push(("CLOUDSDK_CONFIG", "/gcloud"));
        let env = Environment::from_vars(vars);
        let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
        runtime.files.insert(
            "/gcloud/configurations/config_default".into(),
            b"[core]\nproject = gcloud-project\n".to_vec(),
        );
        runtime
            .run(ProjectLookup::new(&env, source), |request, _| {
                assert!(request.uri().path().ends_with("/project/project-id"));
                reply(200, &[("Metadata-Flavor", "Google")], "metadata-project")
            })
            .unwrap()
    };
    let key = parse(&key_file(GOOGLE_TOKEN_URI)).unwrap();
    assert_eq!(
        lookup(&key, &[("GCLOUD_PROJECT", "legacy")]),
        Some(("legacy".into(), ProjectOrigin::Variable("GCLOUD_PROJECT")))
    );
    // An empty GOOGLE_CLOUD_PROJECT hides GCLOUD_PROJECT; the key's own applies.
    assert_eq!(
        lookup(
            &key,
            &[("GOOGLE_CLOUD_PROJECT", ""), ("GCLOUD_PROJECT", "legacy")]
        ),
        Some(("p".into(), ProjectOrigin::CredentialFile))
    );
    // gcloud's configured project is for credentials from gcloud's own file.
    let named = parse(&user_file(None)).unwrap();
    assert_eq!(lookup(&named, &[]), None);
    let parsed = parse_credential_file(
        user_file(None).as_bytes(),
        &Origin("/gcloud/application_default_credentials.json (gcloud's application default credentials)".into()),
        &AnyKey,
    )
    .unwrap();
    let from_gcloud = parsed.into_source();
    assert!(from_gcloud.is_from_gcloud_file());
    assert_eq!(
        lookup(&from_gcloud, &[]),
        Some(("gcloud-project".into(), ProjectOrigin::Gcloud))
    );
    let metadata = CredentialSource::Metadata(MetadataServer::new("127.0.0.1:9"));
    assert_eq!(
        lookup(&metadata, &[]),
        Some(("metadata-project".into(), ProjectOrigin::MetadataServer))
    );
}
