//! Workload identity federation and impersonation on a virtual clock: the exact STS
//! form, every subject token source (file, URL, executable, AWS), the impersonation
//! request, the Google-host rule, and `impersonated_service_account` files.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::Error;
use codeassist_core::client::{
    Client, ClientConfig, CommandOutput, MemoryRuntime, MemoryStore, Reply,
};
use codeassist_core::flow::Request;
use codeassist_core::oauth::{OAuthClient, OAuthEndpoints, unix_seconds};
use codeassist_core::source::{
    CredentialSource, DiscoverOp, Environment, Origin, Rs256Signer, RsaKeys, SourceKind,
    parse_credential_file,
};
use serde_json::{Value, json};

const BASE: &str = "https://google.test";
const AUDIENCE: &str = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/github";
const JWT_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const IMPERSONATE: &str = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/robot@p.iam.gserviceaccount.com:generateAccessToken";

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[derive(Debug)]
struct AnyKey;

#[derive(Debug)]
struct FixedSigner;

impl Rs256Signer for FixedSigner {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, String> {
        Ok(b"signature".to_vec())
    }
}

impl RsaKeys for AnyKey {
    fn load_pkcs8(&self, _der: &[u8]) -> Result<Arc<dyn Rs256Signer>, String> {
        Ok(Arc::new(FixedSigner))
    }
}

fn external(credential_source: Value) -> Value {
    json!({"type": "external_account", "audience": AUDIENCE, "subject_token_type": JWT_TYPE,
        "token_url": "https://sts.googleapis.com/v1/token",
        "credential_source": credential_source})
}

fn source_of(file: &Value, env: &[(&str, &str)]) -> Result<CredentialSource, Error> {
    let parsed = parse_credential_file(
        file.to_string().as_bytes(),
        &Origin("wif.json".into()),
        &AnyKey,
    )?;
    let mut source = parsed.into_source();
    source.use_environment(&Environment::from_vars(env.iter().copied()));
    Ok(source)
}

fn client(source: CredentialSource) -> Client {
    let mut config = ClientConfig::new(
        OAuthClient::new("our-client", "our-secret").with_endpoints(OAuthEndpoints::under(BASE)),
    );
    config.source = source;
    Client::new(config)
}

fn reply(status: u16, body: &str) -> Reply {
    Reply::now(Ok(http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()))
}

fn form(request: &Request) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(request.body())
        .into_owned()
        .collect()
}

/// A Google that answers STS with `sts-token` and IAM Credentials with
/// `impersonated-token`, and the workload's own endpoints.
fn google(request: &Request, _now: SystemTime) -> Reply {
    let uri = request.uri().to_string();
    if uri.starts_with("https://sts.googleapis.com/v1/token")
        || uri == "https://google.test/v1/token"
    {
        return reply(
            200,
            r#"{"access_token": "sts-token", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3600}"#,
        );
    }
    if uri.ends_with(":generateAccessToken") {
        return reply(
            200,
            r#"{"accessToken": "impersonated-token", "expireTime": "2023-11-14T23:13:20Z"}"#,
        );
    }
    if uri == "https://google.test/token" {
        return reply(
            200,
            r#"{"access_token": "source-token", "expires_in": 3600}"#,
        );
    }
    if uri.starts_with("http://127.0.0.1:9/identity") {
        return reply(200, r#"{"value": "jwt-from-url"}"#);
    }
    if uri == "http://169.254.169.254/latest/api/token" {
        return reply(200, "imds-session");
    }
    if uri == "http://169.254.169.254/latest/meta-data/placement/availability-zone" {
        return reply(200, "eu-west-3b");
    }
    if uri == "http://169.254.169.254/latest/meta-data/iam/security-credentials" {
        return reply(200, "workload-role");
    }
    if uri == "http://169.254.169.254/latest/meta-data/iam/security-credentials/workload-role" {
        return reply(
            200,
            r#"{"AccessKeyId": "ASIAROLE", "SecretAccessKey": "role-secret", "Token": "role-session"}"#,
        );
    }
    reply(404, "not here")
}

#[test]
fn a_file_subject_token_is_exchanged_at_sts_with_the_exact_form() {
    let source = source_of(&external(json!({"file": "/var/run/token"})), &[]).unwrap();
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime.files.insert(
        PathBuf::from("/var/run/token"),
        b"header.payload.sig\n".to_vec(),
    );
    let client = client(source);
    let token = runtime.run(client.access_token(), google).unwrap();
    assert_eq!(token.expose(), "sts-token");
    assert_eq!(runtime.sent.len(), 1);
    let sts = &runtime.sent[0];
    assert_eq!(sts.method(), "POST");
    assert_eq!(sts.uri(), "https://sts.googleapis.com/v1/token");
    let expected: std::collections::BTreeMap<String, String> = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ),
        ("audience", AUDIENCE),
        ("scope", "https://www.googleapis.com/auth/cloud-platform"),
        (
            "requested_token_type",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        ("subject_token", "header.payload.sig"),
        ("subject_token_type", JWT_TYPE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(form(sts), expected);
    assert!(sts.headers().get("authorization").is_none());
    assert!(runtime.store.credentials.is_none(), "the store was written");
    // Counted for a host's metrics; a warm call mints nothing.
    assert_eq!(client.refreshes(), 1);
    runtime.run(client.access_token(), google).unwrap();
    assert_eq!(client.refreshes(), 1);

    // The file is read again on the next refresh (the platform rotates it).
    runtime.clock.advance(Duration::from_secs(3600));
    runtime
        .files
        .insert(PathBuf::from("/var/run/token"), b"rotated.jwt.sig".to_vec());
    runtime.run(client.access_token(), google).unwrap();
    assert_eq!(form(&runtime.sent[1])["subject_token"], "rotated.jwt.sig");
    assert_eq!(client.refreshes(), 2);
}

#[test]
fn a_json_file_gives_its_field_and_a_missing_file_is_named() {
    let file = external(json!({"file": "/t.json",
        "format": {"type": "json", "subject_token_field_name": "id_token"}}));
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let error = runtime
        .run(
            client(source_of(&file, &[]).unwrap()).access_token(),
            google,
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("/t.json does not exist"), "{error}");
    assert!(runtime.sent.is_empty());

    runtime
        .files
        .insert(PathBuf::from("/t.json"), br#"{"other": 1}"#.to_vec());
    let error = runtime
        .run(
            client(source_of(&file, &[]).unwrap()).access_token(),
            google,
        )
        .unwrap_err()
        .to_string();
    assert!(error.contains("no text field \"id_token\""), "{error}");

    runtime.files.insert(
        PathBuf::from("/t.json"),
        br#"{"id_token": "from.json.file"}"#.to_vec(),
    );
    runtime
        .run(
            client(source_of(&file, &[]).unwrap()).access_token(),
            google,
        )
        .unwrap();
    assert_eq!(form(&runtime.sent[0])["subject_token"], "from.json.file");
}

#[test]
fn a_url_subject_token_then_impersonation_with_its_lifetime() {
    let mut file = external(json!({"url": "http://127.0.0.1:9/identity?audience=x",
        "headers": {"Metadata": "True"},
        "format": {"type": "json", "subject_token_field_name": "value"}}));
    file["service_account_impersonation_url"] = json!(IMPERSONATE);
    file["service_account_impersonation"] = json!({"token_lifetime_seconds": 1800});
    let source = source_of(&file, &[]).unwrap();
    assert_eq!(
        source.summary().account.as_deref(),
        Some("robot@p.iam.gserviceaccount.com")
    );
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let client = client(source);
    let token = runtime.run(client.access_token(), google).unwrap();
    assert_eq!(token.expose(), "impersonated-token");
    assert_eq!(runtime.sent.len(), 3);
    let identity = &runtime.sent[0];
    assert_eq!(identity.method(), "GET");
    assert_eq!(identity.headers()["metadata"], "True");
    assert_eq!(form(&runtime.sent[1])["subject_token"], "jwt-from-url");
    let iam = &runtime.sent[2];
    assert_eq!(iam.uri(), IMPERSONATE);
    assert_eq!(iam.headers()["authorization"], "Bearer sts-token");
    let body: Value = serde_json::from_slice(iam.body()).unwrap();
    assert_eq!(
        body,
        json!({"delegates": [], "scope": ["https://www.googleapis.com/auth/cloud-platform"],
            "lifetime": "1800s"})
    );
    // The token lasts until the expireTime IAM named (an hour after the start):
    // 50 minutes on, it is still used; 56 minutes on, it is inside the refresh window.
    runtime.clock.advance(Duration::from_secs(3000));
    runtime.run(client.access_token(), google).unwrap();
    assert_eq!(runtime.sent.len(), 3);
    runtime.clock.advance(Duration::from_secs(360));
    runtime.run(client.access_token(), google).unwrap();
    assert_eq!(runtime.sent.len(), 6);
    assert!(runtime.store.credentials.is_none(), "the store was written");
}

#[test]
fn a_workforce_pool_sends_its_user_project_unless_a_client_authenticates() {
    let workforce = "//iam.googleapis.com/locations/global/workforcePools/staff/providers/okta";
    let mut file = external(json!({"file": "/t"}));
    file["audience"] = json!(workforce);
    file["workforce_pool_user_project"] = json!("billing-project");
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .files
        .insert(PathBuf::from("/t"), b"saml.or.jwt".to_vec());
    runtime
        .run(
            client(source_of(&file, &[]).unwrap()).access_token(),
            google,
        )
        .unwrap();
    let fields = form(&runtime.sent[0]);
    assert_eq!(fields["options"], r#"{"userProject":"billing-project"}"#);

    file["client_id"] = json!("sts-client");
    file["client_secret"] = json!("sts-secret");
    runtime
        .run(
            client(source_of(&file, &[]).unwrap()).access_token(),
            google,
        )
        .unwrap();
    let with_client = &runtime.sent[1];
    assert!(!form(with_client).contains_key("options"));
    // Basic base64("sts-client:sts-secret").
    assert_eq!(
        with_client.headers()["authorization"],
        "Basic c3RzLWNsaWVudDpzdHMtc2VjcmV0"
    );

    // A workload pool cannot name a user project.
    let mut wrong = external(json!({"file": "/t"}));
    wrong["workforce_pool_user_project"] = json!("billing-project");
    let error = source_of(&wrong, &[]).unwrap_err().to_string();
    assert!(
        error.contains("only valid with a workforce pool"),
        "{error}"
    );
}

fn executable(output_file: Option<&str>) -> Value {
    let mut executable = json!({"command": "/opt/bin/token-helper --audience 'pool one'",
        "timeout_millis": 10000});
    if let Some(path) = output_file {
        executable["output_file"] = json!(path);
    }
    external(json!({"executable": executable}))
}

fn executable_response(token: &str, expires: i64) -> Vec<u8> {
    json!({"version": 1, "success": true, "token_type": JWT_TYPE, "id_token": token,
        "expiration_time": expires})
    .to_string()
    .into_bytes()
}

#[test]
fn an_executable_runs_only_when_allowed_with_googles_variables() {
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let error = runtime
        .run(
            client(source_of(&executable(None), &[]).unwrap()).access_token(),
            google,
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES=1"),
        "{error}"
    );
    assert!(runtime.ran.is_empty() && runtime.sent.is_empty());

    let allowed = [("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")];
    runtime.programs.insert(
        "/opt/bin/token-helper".into(),
        CommandOutput::new(
            Some(0),
            executable_response("exe.jwt.sig", unix_seconds(start()) + 600),
        ),
    );
    let token = runtime
        .run(
            client(source_of(&executable(None), &allowed).unwrap()).access_token(),
            google,
        )
        .unwrap();
    assert_eq!(token.expose(), "sts-token");
    let ran = &runtime.ran[0];
    assert_eq!(ran.args, ["--audience", "pool one"]);
    assert_eq!(ran.timeout, Duration::from_secs(10));
    let env: std::collections::BTreeMap<_, _> = ran.env.iter().cloned().collect();
    assert_eq!(env["GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE"], AUDIENCE);
    assert_eq!(env["GOOGLE_EXTERNAL_ACCOUNT_TOKEN_TYPE"], JWT_TYPE);
    assert_eq!(env["GOOGLE_EXTERNAL_ACCOUNT_INTERACTIVE"], "0");
    assert_eq!(form(&runtime.sent[0])["subject_token"], "exe.jwt.sig");
}

#[test]
fn an_executables_output_file_is_a_cache_until_it_expires() {
    let allowed = [("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")];
    let file = executable(Some("/cache/token.json"));
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime.programs.insert(
        "/opt/bin/token-helper".into(),
        CommandOutput::new(
            Some(0),
            executable_response("fresh.jwt.sig", unix_seconds(start()) + 600),
        ),
    );
    // Still valid: used, nothing run.
    runtime.files.insert(
        PathBuf::from("/cache/token.json"),
        executable_response("cached.jwt.sig", unix_seconds(start()) + 60),
    );
    runtime
        .run(
            client(source_of(&file, &allowed).unwrap()).access_token(),
            google,
        )
        .unwrap();
    assert!(runtime.ran.is_empty());
    assert_eq!(form(&runtime.sent[0])["subject_token"], "cached.jwt.sig");

    // Expired: the program runs, told where the cache is.
    runtime.files.insert(
        PathBuf::from("/cache/token.json"),
        executable_response("stale.jwt.sig", unix_seconds(start()) - 1),
    );
    runtime
        .run(
            client(source_of(&file, &allowed).unwrap()).access_token(),
            google,
        )
        .unwrap();
    assert_eq!(runtime.ran.len(), 1);
    assert!(runtime.ran[0].env.contains(&(
        "GOOGLE_EXTERNAL_ACCOUNT_OUTPUT_FILE".into(),
        "/cache/token.json".into()
    )));
    assert_eq!(form(&runtime.sent[1])["subject_token"], "fresh.jwt.sig");
}

#[test]
fn an_executables_failure_is_reported_in_its_words() {
    let allowed = [("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")];
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let cases: [(CommandOutput, &str); 4] = [
        (
            CommandOutput::new(
                Some(0),
                br#"{"version": 1, "success": false, "code": "401", "message": "Caller not authorized."}"#.to_vec(),
            ),
            "the executable failed: 401: Caller not authorized.",
        ),
        (
            CommandOutput::new(Some(2), b"boom\x1b[31m".to_vec()),
            "ended with exit code 2: boom",
        ),
        (
            CommandOutput::new(Some(0), br#"{"version": 2, "success": true}"#.to_vec()),
            "version 2",
        ),
        (
            CommandOutput::new(Some(0), executable_response("old.jwt", unix_seconds(start()) - 5)),
            "already expired",
        ),
    ];
    for (output, expected) in cases {
        runtime
            .programs
            .insert("/opt/bin/token-helper".into(), output);
        let error = runtime
            .run(
                client(source_of(&executable(None), &allowed).unwrap()).access_token(),
                google,
            )
            .unwrap_err()
            .to_string();
        assert!(error.contains(expected), "{error}");
        assert!(!error.contains('\x1b'), "{error:?}");
    }
    assert!(runtime.sent.is_empty());
}

fn aws_file() -> Value {
    let mut file = external(json!({"environment_id": "aws1",
        "region_url": "http://169.254.169.254/latest/meta-data/placement/availability-zone",
        "url": "http://169.254.169.254/latest/meta-data/iam/security-credentials",
        "imdsv2_session_token_url": "http://169.254.169.254/latest/api/token",
        "regional_cred_verification_url": "https://sts.{region}.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"}));
    file["subject_token_type"] = json!("urn:ietf:params:aws:token-type:aws4_request");
    file
}

fn aws_subject(request: &Request) -> Value {
    let token = form(request)["subject_token"].clone();
    let decoded: String =
        url::form_urlencoded::parse(format!("t={}", token.replace('+', "%2B")).as_bytes())
            .next()
            .unwrap()
            .1
            .into_owned();
    serde_json::from_str(&decoded).unwrap()
}

#[test]
fn aws_reads_the_metadata_service_with_a_session_token_and_signs() {
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(
            client(source_of(&aws_file(), &[]).unwrap()).access_token(),
            google,
        )
        .unwrap();
    let asked: Vec<String> = runtime
        .sent
        .iter()
        .map(|r| format!("{} {}", r.method(), r.uri()))
        .collect();
    assert_eq!(
        asked,
        [
            "PUT http://169.254.169.254/latest/api/token",
            "GET http://169.254.169.254/latest/meta-data/placement/availability-zone",
            "GET http://169.254.169.254/latest/meta-data/iam/security-credentials",
            "GET http://169.254.169.254/latest/meta-data/iam/security-credentials/workload-role",
            "POST https://sts.googleapis.com/v1/token",
        ]
    );
    assert_eq!(
        runtime.sent[0].headers()["x-aws-ec2-metadata-token-ttl-seconds"],
        "300"
    );
    for metadata in &runtime.sent[1..4] {
        assert_eq!(
            metadata.headers()["x-aws-ec2-metadata-token"],
            "imds-session"
        );
    }
    let subject = aws_subject(&runtime.sent[4]);
    assert_eq!(
        subject["url"],
        "https://sts.eu-west-3.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15"
    );
    let headers: std::collections::BTreeMap<String, String> = subject["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["key"].as_str().unwrap().to_owned(),
                h["value"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(headers["x-amz-security-token"], "role-session");
    assert_eq!(headers["x-goog-cloud-target-resource"], AUDIENCE);
    assert_eq!(headers["x-amz-date"], "20231114T221320Z");
    assert!(headers["Authorization"].starts_with(
        "AWS4-HMAC-SHA256 Credential=ASIAROLE/20231114/eu-west-3/sts/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature="
    ));
}

#[test]
fn aws_keys_and_region_in_the_environment_need_no_metadata_service() {
    let env = [
        ("AWS_REGION", "us-east-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
    ];
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime
        .run(
            client(source_of(&aws_file(), &env).unwrap()).access_token(),
            google,
        )
        .unwrap();
    assert_eq!(runtime.sent.len(), 1, "only STS is asked");
    let subject = aws_subject(&runtime.sent[0]);
    assert!(subject["url"].as_str().unwrap().contains("sts.us-east-2."));
    assert!(!subject.to_string().contains("env-secret"));

    // Metadata URLs elsewhere than AWS's service are refused when the file is read.
    let mut elsewhere = aws_file();
    elsewhere["credential_source"]["url"] = json!("http://attacker.example/creds");
    let error = source_of(&elsewhere, &env).unwrap_err().to_string();
    assert!(
        error.contains("not the AWS instance metadata service"),
        "{error}"
    );
}

#[test]
fn google_urls_elsewhere_are_refused_before_anything_is_read_run_or_sent() {
    let allowed = [("GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES", "1")];
    let mut foreign_sts = executable(None);
    foreign_sts["token_url"] = json!("https://sts.googleapis.com.evil.test/v1/token");
    let mut foreign_iam = external(json!({"file": "/t"}));
    foreign_iam["service_account_impersonation_url"] = json!(
        "https://evil.test/v1/projects/-/serviceAccounts/robot@p.iam.gserviceaccount.com:generateAccessToken"
    );
    for (file, field) in [
        (foreign_sts, "token_url"),
        (foreign_iam, "service_account_impersonation_url"),
    ] {
        let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
        runtime.files.insert(PathBuf::from("/t"), b"jwt".to_vec());
        let error = runtime
            .run(
                client(source_of(&file, &allowed).unwrap()).access_token(),
                google,
            )
            .unwrap_err()
            .to_string();
        assert!(error.contains(&format!("{field} https://")), "{error}");
        assert!(error.contains("not one of Google's hosts"), "{error}");
        assert!(runtime.sent.is_empty() && runtime.ran.is_empty());
    }
    // The base URL that replaces Google's hosts is accepted (an emulator, a test).
    let mut local = external(json!({"file": "/t"}));
    local["token_url"] = json!("https://google.test/v1/token");
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime.files.insert(PathBuf::from("/t"), b"jwt".to_vec());
    runtime
        .run(
            client(source_of(&local, &[]).unwrap()).access_token(),
            google,
        )
        .unwrap();
}

#[test]
fn an_impersonated_service_account_file_refreshes_its_source_then_impersonates() {
    let file = json!({"type": "impersonated_service_account",
        "service_account_impersonation_url": IMPERSONATE,
        "delegates": ["projects/-/serviceAccounts/middle@p.iam.gserviceaccount.com"],
        "quota_project_id": "billing",
        "source_credentials": {"type": "authorized_user", "client_id": "gcloud-client",
            "client_secret": "gcloud-secret", "refresh_token": "1//gcloud-refresh"}});
    let source = source_of(&file, &[]).unwrap();
    assert_eq!(source.quota_project(None), Some("billing"));
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let token = runtime.run(client(source).access_token(), google).unwrap();
    assert_eq!(token.expose(), "impersonated-token");
    let refresh = form(&runtime.sent[0]);
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["refresh_token"], "1//gcloud-refresh");
    let iam = &runtime.sent[1];
    assert_eq!(iam.headers()["authorization"], "Bearer source-token");
    let body: Value = serde_json::from_slice(iam.body()).unwrap();
    assert_eq!(
        body["delegates"],
        json!(["projects/-/serviceAccounts/middle@p.iam.gserviceaccount.com"])
    );
    assert_eq!(body["lifetime"], "3600s");

    // An impersonation of an impersonation is refused.
    let mut nested = file.clone();
    nested["source_credentials"] = file.clone();
    let error = source_of(&nested, &[]).unwrap_err().to_string();
    assert!(error.contains("itself an impersonation"), "{error}");
}

#[test]
fn discovery_gives_a_federation_file_its_environment() {
    let op_env = [
        ("GOOGLE_APPLICATION_CREDENTIALS", "/wif.json"),
        ("AWS_REGION", "us-east-2"),
        ("AWS_ACCESS_KEY_ID", "AKIDENV"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("NO_GCE_CHECK", "true"),
    ];
    let env = Environment::capture(|name| {
        op_env
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    });
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    runtime.files.insert(
        PathBuf::from("/wif.json"),
        aws_file().to_string().into_bytes(),
    );
    let source = runtime
        .run(
            DiscoverOp::new(env, SourceKind::Auto, Arc::new(AnyKey)),
            |_, _| reply(500, ""),
        )
        .unwrap();
    let CredentialSource::ExternalAccount(account) = &source else {
        panic!("{source:?}");
    };
    assert_eq!(account.environment.aws_region.as_deref(), Some("us-east-2"));
    runtime.run(client(source).access_token(), google).unwrap();
    assert_eq!(runtime.sent.len(), 1, "the keys came from the environment");
}
