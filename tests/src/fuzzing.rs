//! The checks behind every fuzz target, shared with the corpus replay on stable.
//!
//! Each `check_*` takes the fuzzer's raw bytes, runs them through the library, and
//! panics when an invariant breaks: that panic is what cargo-fuzz reports as a crash.
//! The same functions run over every file in `fuzz/corpus/<target>/` in `cargo test`,
//! so the corpora stay green without nightly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arbitrary::{Arbitrary, Unstructured};
use codeassist_core::code_assist::{CodeAssistConfig, resolve_project, retrieve_user_quota};
use codeassist_core::error::MAX_PLAUSIBLE_DELAY;
use codeassist_core::flow::{
    Call, Flow, Request, Response, Step, TransportError, TransportErrorKind,
};
use codeassist_core::oauth::{
    Credentials, OAuthClient, OAuthEndpoints, TokenResponse, callback_reply, exchange_code,
    fetch_email, parse_callback,
};
use codeassist_core::retry::{Jitter, Retry, RetryPolicy};
use codeassist_core::{ApiError, Secret, SplitMix64};

/// The fuzz targets, by name (each has a corpus directory of the same name).
pub const TARGETS: [&str; 8] = [
    "envelope",
    "retry",
    "callback",
    "token_response",
    "flows",
    "sse",
    "credential_file",
    "compat",
];

/// Runs the check of `target` on `data`. Unknown targets are ignored.
pub fn check(target: &str, data: &[u8]) {
    match target {
        "envelope" => check_envelope(data),
        "retry" => check_retry(data),
        "callback" => check_callback(data),
        "token_response" => check_token_response(data),
        "flows" => check_flows(data),
        "sse" => check_sse(data),
        "credential_file" => check_credential_file(data),
        "compat" => check_compat(data),
        _ => {}
    }
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A message never shows a token: no `ya29.` followed by a token character.
fn assert_no_token(message: &str) {
    for (at, _) in message.match_indices("ya29.") {
        let next = message[at + 5..].chars().next();
        assert!(
            !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "token leaked: {message}"
        );
    }
}

fn assert_error_invariants(error: &ApiError) {
    let message = error.message();
    assert!(
        message.chars().count() <= 300,
        "message too long: {message}"
    );
    assert!(
        !message.contains('\n') && !message.contains('\r'),
        "message not one line: {message:?}"
    );
    assert_no_token(message);
    if let Some(delay) = error.retry_delay() {
        assert!(delay <= MAX_PLAUSIBLE_DELAY, "absurd delay {delay:?}");
    }
}

/// Any status, `Retry-After` and body through parse, classify and message.
pub fn check_envelope(data: &[u8]) {
    let (status, rest) = match data {
        [a, b, rest @ ..] => (100 + u16::from_be_bytes([*a, *b]) % 500, rest),
        _ => (429, data),
    };
    let (retry_after, body) = match rest {
        [n, rest @ ..] => rest.split_at((*n as usize % 40).min(rest.len())),
        [] => (&[][..], rest),
    };
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_bytes(retry_after) {
        headers.insert(http::header::RETRY_AFTER, value);
    }
    let error = ApiError::from_parts(status, &headers, body, now());
    assert_error_invariants(&error);
    // A bearer token planted in the body never reaches the message (unless the input
    // already held those characters outside a token, which the fuzzer may learn to do).
    const PLANTED: &str = "PLANTEDsecretTOKEN";
    // (What a message shows is the body sanitised: bidirectional controls dropped, so
    // the check looks at the body the same way.)
    let shown = codeassist_core::text::sanitize(&String::from_utf8_lossy(body), usize::MAX);
    if !shown.contains(PLANTED) {
        let mut planted = body.to_vec();
        planted.extend_from_slice(format!(" Authorization: Bearer ya29.{PLANTED} ").as_bytes());
        let error = ApiError::from_parts(status, &headers, &planted, now());
        assert!(!error.message().contains(PLANTED), "{}", error.message());
    }
}

/// Policy parameters and scripted outcomes, decoded from fuzz bytes.
#[derive(Debug, Arbitrary)]
struct RetryInput {
    max_attempts: u8,
    initial_ms: u16,
    multiplier_tenths: u8,
    max_delay_ms: u32,
    budget_ms: u32,
    max_server_ms: u32,
    jitter: u8,
    seed: u64,
    outcomes: Vec<(u8, Option<u32>)>,
}

/// Any policy and any sequence of outcomes: attempts, total wait and each wait stay
/// bounded, and the flow ends.
pub fn check_retry(data: &[u8]) {
    let Ok(input) = RetryInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let policy = RetryPolicy {
        max_attempts: u32::from(input.max_attempts % 16),
        initial_delay: Duration::from_millis(u64::from(input.initial_ms)),
        multiplier: f64::from(input.multiplier_tenths) / 10.0,
        max_delay: Duration::from_millis(u64::from(input.max_delay_ms % 600_000)),
        total_budget: Duration::from_millis(u64::from(input.budget_ms % 3_600_000)),
        jitter: [Jitter::Full, Jitter::Equal, Jitter::None][usize::from(input.jitter % 3)],
        max_server_delay: Duration::from_millis(u64::from(input.max_server_ms % 3_600_000)),
        throttle: None,
        ..RetryPolicy::default()
    };
    let request = http::Request::get("https://example.test/")
        .body(Vec::new())
        .unwrap();
    let mut outcomes = input.outcomes.into_iter();
    let mut flow = Retry::new(
        Call::new(request),
        policy.clone(),
        &mut SplitMix64::new(input.seed),
    );
    let (mut requests, mut waited, mut time) = (0u32, Duration::ZERO, now());
    for _ in 0..10_000 {
        match flow.poll(time) {
            Ok(Step::Send(_)) => {
                requests += 1;
                let (kind, delay) = outcomes.next().unwrap_or((0, None));
                let answer = scripted(kind, delay);
                flow.handle_response(answer, time);
            }
            Ok(Step::Wait(wait)) => {
                assert!(
                    wait <= policy.max_single_wait(),
                    "wait {wait:?} over the cap"
                );
                waited += wait;
                time += wait;
            }
            Ok(Step::Done(_)) | Err(_) => {
                assert!(
                    requests <= policy.max_attempts.max(1),
                    "{requests} requests"
                );
                assert!(waited <= policy.total_budget, "waited {waited:?}");
                return;
            }
        }
    }
    panic!("the retry flow did not end");
}

fn scripted(kind: u8, delay_ms: Option<u32>) -> Result<Response, TransportError> {
    let (status, grpc) = match kind % 9 {
        0 => (200, "OK"),
        1 => (429, "RESOURCE_EXHAUSTED"),
        2 => (503, "UNAVAILABLE"),
        3 => (500, "INTERNAL"),
        4 => (401, "UNAUTHENTICATED"),
        5 => (400, "INVALID_ARGUMENT"),
        6 => (504, "DEADLINE_EXCEEDED"),
        7 => return Err(TransportError::new(TransportErrorKind::Reset, "reset")),
        _ => return Err(TransportError::new(TransportErrorKind::Timeout, "slow")),
    };
    let details = delay_ms
        .map(|ms| {
            format!(
                r#"{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "{}s"}}"#,
                f64::from(ms) / 1000.0
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"{{"error": {{"code": {status}, "status": "{grpc}", "message": "m", "details": [{details}]}}}}"#
    );
    Ok(http::Response::builder()
        .status(status)
        .body(body.into_bytes())
        .unwrap())
}

/// Any pasted text or callback request against an expected state.
pub fn check_callback(data: &[u8]) {
    let (state_len, rest) = match data {
        [n, rest @ ..] => (usize::from(*n % 48).min(rest.len()), rest),
        [] => return,
    };
    let (state, input) = rest.split_at(state_len);
    let state = String::from_utf8_lossy(state);
    let input = String::from_utf8_lossy(input);
    let issuers = [String::from("https://accounts.google.com")];
    if let Ok(code) = parse_callback(&input, &state, &issuers) {
        let code = code.expose();
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_graphic()),
            "{code:?}"
        );
    }
    let target = input.split_whitespace().next().unwrap_or("/");
    let reply = callback_reply("GET", target, &state, &issuers);
    assert!(matches!(reply.status, 200 | 400 | 404));
    assert_eq!(reply.status == 200, matches!(reply.outcome, Some(Ok(_))));
    assert!(
        !reply.page.contains("<script"),
        "a page echoed markup: {}",
        reply.page
    );
}

/// Any token-endpoint body.
pub fn check_token_response(data: &[u8]) {
    // The same bytes as an ID token's payload: never a panic, an email only when the
    // token names this client and an accepted issuer.
    use base64::Engine as _;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data);
    let issuers = [String::from("https://accounts.google.com")];
    if let Ok(Some(email)) =
        codeassist_core::oauth::id_token_email(&format!("e30.{payload}.sig"), "client", &issuers)
    {
        assert!(!email.is_empty() && email.len() <= 320, "{email:?}");
        let claims: serde_json::Value = serde_json::from_slice(data).expect("the payload parsed");
        assert_eq!(claims["iss"], "https://accounts.google.com");
    }
    if let Ok(response) = TokenResponse::parse(data) {
        assert!(!response.access_token.is_empty());
        assert!(
            response
                .access_token
                .expose()
                .bytes()
                .all(|b| b.is_ascii_graphic())
        );
        let expires_at = response.expires_at(now());
        assert!(
            expires_at >= 1_700_000_000,
            "expiry before the response: {expires_at}"
        );
        let mut credentials = Credentials::new("client", None, "1//old");
        credentials.apply(response, now());
        assert!(!credentials.refresh_token.is_empty());
        assert!(
            credentials
                .valid_access_token(now(), Duration::ZERO)
                .is_some()
                || credentials.remaining(now()).is_zero()
        );
    }
    let error = ApiError::from_parts(400, &http::HeaderMap::new(), data, now());
    assert_error_invariants(&error);
}

/// The answers a flow gets, decoded from fuzz bytes.
#[derive(Debug, Arbitrary)]
enum Scripted {
    /// Any status, a `Retry-After` in seconds (0: none), any body.
    Status(u16, u8, Vec<u8>),
    Json(u16, u8),
    Transport(u8),
}

const SHAPES: [&str; 12] = [
    r#"{"access_token": "ya29.a", "expires_in": 3599, "refresh_token": "1//r"}"#,
    r#"{"email": "p@example.com"}"#,
    r#"{"allowedTiers": [{"id": "free-tier", "isDefault": true}]}"#,
    r#"{"currentTier": {"id": "standard-tier"}, "cloudaicompanionProject": "p"}"#,
    r#"{"name": "operations/1", "done": false}"#,
    r#"{"name": "operations/1", "done": true, "response": {"cloudaicompanionProject": {"id": "m"}}}"#,
    r#"{"buckets": [{"modelId": "gemini-2.5-pro", "remainingFraction": 0.5, "resetTime": "2030-01-01T00:00:00Z"}]}"#,
    r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.01s"}]}}"#,
    r#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "SECURITY_POLICY_VIOLATED"}}"#,
    r#"{"error": "invalid_grant", "error_description": "revoked"}"#,
    r#"{"done": true, "error": {"code": 400, "message": "Precondition Failed"}}"#,
    "",
];

fn answer(scripted: Option<Scripted>) -> Result<Response, TransportError> {
    let (status, retry_after, body) = match scripted {
        None => (200, 0, Vec::new()),
        Some(Scripted::Status(status, retry_after, body)) => {
            (100 + status % 500, retry_after, body)
        }
        Some(Scripted::Json(status, shape)) => {
            let status =
                [200, 200, 200, 400, 401, 403, 404, 429, 500, 503][usize::from(status % 10)];
            (
                status,
                0,
                SHAPES[usize::from(shape) % SHAPES.len()]
                    .as_bytes()
                    .to_vec(),
            )
        }
        Some(Scripted::Transport(kind)) => {
            let kind = [
                TransportErrorKind::Dns,
                TransportErrorKind::Reset,
                TransportErrorKind::Timeout,
            ][usize::from(kind % 3)];
            return Err(TransportError::new(kind, "fuzz"));
        }
    };
    let mut response = http::Response::builder().status(status);
    if retry_after > 0 {
        response = response.header(http::header::RETRY_AFTER, retry_after.to_string());
    }
    response
        .body(body)
        .map_err(|_| TransportError::new(TransportErrorKind::Other, "bad status"))
}

/// Drives `flow` with scripted answers; it must end within a bounded number of steps.
fn run_flow<F: Flow>(mut flow: F, script: &mut impl Iterator<Item = Scripted>) {
    let mut time = now();
    for _ in 0..20_000 {
        match flow.poll(time) {
            Ok(Step::Send(request)) => {
                assert_request_is_safe(&request);
                flow.handle_response(answer(script.next()), time);
            }
            Ok(Step::Wait(wait)) => time += wait,
            Ok(Step::Done(_)) | Err(_) => return,
        }
    }
    panic!("a flow did not end within 20000 steps");
}

/// Core's client operations (token, project with its cache, quota, logout) with
/// arbitrary answers over an in-memory store: they end, and never leave the lock held.
fn run_client_ops(credentials: Credentials, script: &mut impl Iterator<Item = Scripted>) {
    use codeassist_core::client::{Client, ClientConfig, MemoryRuntime, MemoryStore, Reply};
    let mut config = ClientConfig::new(OAuthClient::new("client", "secret"));
    config.code_assist.retry.max_attempts = 3;
    config.code_assist.max_polls = 4;
    let client = Client::new(config);
    let mut runtime = MemoryRuntime::new(now(), MemoryStore::holding(credentials));
    let mut network = |request: &Request, _now| {
        assert_request_is_safe(request);
        Reply::now(answer(script.next()))
    };
    let mut random = SplitMix64::new(7);
    // A misuse here is core breaking its own contract (a wait under the lock, a store
    // answer out of order), whatever the network said.
    let no_misuse = |outcome: Result<(), codeassist_core::Error>| {
        if let Err(codeassist_core::Error::Misuse(misuse)) = outcome {
            panic!("client operation misused its runtime: {misuse}");
        }
    };
    no_misuse(runtime.run(client.access_token(), &mut network).map(drop));
    no_misuse(
        runtime
            .run(client.project(false, &mut random), &mut network)
            .map(drop),
    );
    no_misuse(
        runtime
            .run(client.quota(&mut random), &mut network)
            .map(drop),
    );
    no_misuse(runtime.run(client.logout(), &mut network).map(drop));
}

fn assert_request_is_safe(request: &Request) {
    if request.headers().contains_key(http::header::AUTHORIZATION) {
        let uri = request.uri();
        let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
        assert!(
            uri.scheme_str() == Some("https") || loopback,
            "bearer token to {uri}"
        );
    }
}

/// The OAuth, project-resolution and quota flows with arbitrary answers.
pub fn check_flows(data: &[u8]) {
    let Ok(answers) = Vec::<Scripted>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mut script = answers.into_iter();
    let mut config = CodeAssistConfig::default();
    config.retry = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    config.max_polls = 4;
    let token = Secret::new("ya29.fuzz");
    let client = OAuthClient::new("client", "secret");
    let mut random = SplitMix64::new(data.len() as u64);
    let mut credentials = Credentials::new("client", Some(Secret::new("secret")), "1//r");
    credentials.access_token = Some(Secret::new("ya29.old"));
    credentials.expires_at = Some(1_700_000_100);

    run_client_ops(credentials, &mut script);
    if let Ok(flow) = exchange_code(
        &client,
        &Secret::new("4/c"),
        &Secret::new("v"),
        &client.redirect_uri,
    ) {
        run_flow(flow, &mut script);
    }
    if let Ok(flow) = fetch_email(&token, &client.endpoints.userinfo) {
        run_flow(flow, &mut script);
    }
    run_flow(
        resolve_project(config.clone(), token.clone(), None, None, &mut random),
        &mut script,
    );
    run_flow(
        resolve_project(config.clone(), token.clone(), Some("p"), None, &mut random),
        &mut script,
    );
    if let Ok(flow) = retrieve_user_quota(&config, &token, "p", &mut random) {
        run_flow(flow, &mut script);
    }
}

/// Any bytes, split anywhere, through the stream reader: the items do not depend on
/// where the chunks were cut, and no item breaks the error invariants.
pub fn check_sse(data: &[u8]) {
    use codeassist_core::inference::{
        EventReader, OpenAiItem, OpenAiStreamReader, StreamItem, StreamReader,
    };
    let (cuts, stream) = match data {
        [a, b, rest @ ..] => ((usize::from(*a), usize::from(*b)), rest),
        _ => return,
    };
    fn read<R: EventReader>(chunks: &[&[u8]]) -> (Vec<R::Item>, bool) {
        let mut reader = R::default();
        let mut items = Vec::new();
        for chunk in chunks {
            items.extend(reader.push(chunk, now()));
        }
        (items, reader.finish().is_ok())
    }
    let first = cuts.0.min(stream.len());
    let second = (first + cuts.1).min(stream.len());
    let pieces = [&stream[..first], &stream[first..second], &stream[second..]];
    // Gemini's events, and the OpenAI-compatible ones: cuts never change the items.
    let whole = read::<StreamReader>(&[stream]);
    assert_eq!(
        whole,
        read::<StreamReader>(&pieces),
        "cut at {first} and {second}"
    );
    for item in &whole.0 {
        if let StreamItem::Error(error) = item {
            assert_error_invariants(error);
        }
    }
    let whole = read::<OpenAiStreamReader>(&[stream]);
    assert_eq!(
        whole,
        read::<OpenAiStreamReader>(&pieces),
        "cut at {first} and {second}"
    );
    for item in &whole.0 {
        if let OpenAiItem::Error(error) = item {
            assert_error_invariants(error);
        }
    }
}

/// Any credential file (gcloud's, a service-account key), any metadata server answer
/// and any `models.list` page: never a panic; a refused file names its origin and
/// shows no key material; a metadata answer gives a token or an error, and a one-word
/// email.
pub fn check_credential_file(data: &[u8]) {
    use codeassist_core::client::{Client, ClientConfig, MemoryRuntime, MemoryStore, Reply};
    use codeassist_core::source::{
        CredentialSource, MetadataServer, Origin, metadata_email, parse_credential_file,
    };
    let origin = Origin("fuzzed.json".into());
    match parse_credential_file(data, &origin, &codeassist_runtime::RingKeys) {
        // Whatever a file holds, minting a token from it (every step answered with
        // the same bytes) ends in a token or an error, never a panic.
        Ok(file) => {
            let mut config = ClientConfig::new(
                OAuthClient::new("c", "s")
                    .with_endpoints(OAuthEndpoints::under("http://127.0.0.1:9")),
            );
            let mut source = file.into_source();
            // A program the file names answers with the same bytes (allowed to run).
            source.use_environment(&codeassist_core::source::Environment::from_vars([(
                "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
                "1",
            )]));
            let mut runtime = MemoryRuntime::new(now(), MemoryStore::default());
            if let CredentialSource::ExternalAccount(account) = &source
                && let codeassist_core::source::SubjectSource::Executable { command, .. } =
                    &account.subject
                && let Some(program) = command.first()
            {
                runtime.programs.insert(
                    program.clone(),
                    codeassist_core::client::CommandOutput::new(Some(0), data.to_vec()),
                );
            }
            config.source = source;
            runtime.files.insert("/t".into(), data.to_vec());
            let _ = runtime.run(Client::new(config).access_token(), |_, _| {
                Reply::now(Ok(http::Response::builder()
                    .status(200)
                    .body(data.to_vec())
                    .expect("a response")))
            });
        }
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains("fuzzed.json"), "{message}");
            assert!(!message.contains("PRIVATE KEY-----\n"), "{message}");
        }
    }
    let server = MetadataServer::new("127.0.0.1:9");
    let answer = || {
        Reply::now(Ok(http::Response::builder()
            .status(200)
            .header("metadata-flavor", "Google")
            .body(data.to_vec())
            .expect("a response")))
    };
    let mut config = ClientConfig::new(OAuthClient::new("c", "s"));
    config.source = CredentialSource::Metadata(server.clone());
    let mut runtime = MemoryRuntime::new(now(), MemoryStore::default());
    if let Ok(token) = runtime.run(Client::new(config).access_token(), |_, _| answer()) {
        assert!(!token.is_empty());
    }
    // The same bytes as gcloud's configuration: a project only when it is one.
    if let Some(project) = codeassist_core::source::gcloud_project_in(data) {
        assert!(
            codeassist_core::code_assist::is_project_id(&project),
            "{project:?}"
        );
    }
    // The same bytes as a model id and a thinking setting: never a panic; a thinking
    // configuration never holds both fields.
    let text = String::from_utf8_lossy(data);
    if let Ok(thinking) = codeassist_core::inference::models::Thinking::parse(&text) {
        for model in codeassist_core::inference::models::KNOWN_MODELS {
            if let Some((fields, _)) =
                codeassist_core::inference::models::thinking_config(model, thinking)
            {
                assert!(
                    fields.get("thinkingLevel").is_none() || fields.get("thinkingBudget").is_none()
                );
            }
        }
    }
    let _ = codeassist_core::inference::models::fallback_among(
        &text,
        codeassist_core::inference::models::KNOWN_MODELS,
    );
    // The same bytes as a page of `models.list`: never a panic, names bounded.
    if let Ok((models, next)) = codeassist_core::inference::read_models_page(data) {
        assert!(models.iter().all(|m| m.name.chars().count() <= 128));
        assert!(next.is_none_or(|page| !page.is_empty() && page.len() <= 1024));
    }
    let mut flow = metadata_email(&server).expect("a metadata request");
    assert!(matches!(flow.poll(now()), Ok(Step::Send(_))));
    let Ok(response) = answer().outcome else {
        return;
    };
    flow.handle_response(Ok(response), now());
    if let Ok(Step::Done(email)) = flow.poll(now()) {
        assert!(
            !email.is_empty() && !email.contains(char::is_whitespace),
            "{email:?}"
        );
    }
}

/// Any client request (OpenAI or Anthropic) and any Gemini stream through the
/// translators of `codeassist_core::compat`: a request gives a Gemini request with
/// contents or a refusal naming a field; a stream gives, on both wires, events whose
/// tool-call indices count up from 0 per choice with arguments that are JSON, the same
/// whatever the cut of the bytes; never a panic.
pub fn check_compat(data: &[u8]) {
    use codeassist_core::compat::{Options, anthropic, openai};
    use codeassist_core::inference::{StreamItem, StreamReader};
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) {
        for options in [Options::default(), Options::dropping()] {
            for outcome in [
                openai::to_gemini(&body, options),
                anthropic::to_gemini(&body, options),
            ] {
                match outcome {
                    Ok(translated) => assert!(
                        translated.request["contents"]
                            .as_array()
                            .is_some_and(|c| !c.is_empty())
                    ),
                    Err(refusal) => assert!(!refusal.field.is_empty()),
                }
            }
        }
        let _ = anthropic::count_tokens_request(&body, Options::default());
        let _ = openai::from_gemini(&body, &openai::AnswerMeta::new("c", 1, "m"));
        let _ = anthropic::from_gemini(&body, &anthropic::AnswerMeta::new("m", "m"));
    }
    let translate = |pieces: &[&[u8]]| {
        let mut reader = StreamReader::new();
        let mut to_openai =
            openai::StreamTranslator::new(openai::AnswerMeta::new("c", 1, "m"), true);
        let mut to_anthropic =
            anthropic::StreamTranslator::new(anthropic::AnswerMeta::new("m", "m"));
        let (mut events, mut named) = (Vec::new(), Vec::new());
        for piece in pieces {
            for item in reader.push(piece, now()) {
                if let StreamItem::Chunk(chunk) = item {
                    events.extend(to_openai.push(&chunk.response));
                    named.extend(to_anthropic.push(&chunk.response));
                }
            }
        }
        events.extend(to_openai.finish());
        named.extend(to_anthropic.finish());
        (events, named)
    };
    let cut = data.first().map_or(0, |c| usize::from(*c)).min(data.len());
    let whole = translate(&[data]);
    assert_eq!(whole, translate(&[&data[..cut], &data[cut..]]));
    let mut next: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    for event in &whole.0 {
        for choice in event["choices"].as_array().into_iter().flatten() {
            let index = choice["index"].as_u64().unwrap_or(0);
            for call in choice["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let expected = next.entry(index).or_insert(0);
                assert_eq!(call["index"].as_u64(), Some(*expected));
                *expected += 1;
                let arguments = call["function"]["arguments"].as_str().unwrap_or("");
                assert!(serde_json::from_str::<serde_json::Value>(arguments).is_ok());
            }
        }
    }
    assert_eq!(whole.1.last().map(|(name, _)| *name), Some("message_stop"));
}
