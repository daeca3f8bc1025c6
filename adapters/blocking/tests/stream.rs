//! Streamed answers from the emulator, item by item.

use codeassist_blocking::BlockingDriver;
use codeassist_core::error::ErrorClass;
use codeassist_core::inference::{GenerateRequest, StreamItem};
use codeassist_core::oauth::{Credentials, refresh_token};
use codeassist_core::{Secret, SplitMix64};
use codeassist_testkit::emulator::{CLIENT_ID, CLIENT_SECRET, Emulator, Server};
use serde_json::json;

/// An emulator on loopback, a driver, and a valid access token for it.
fn signed_in() -> (Emulator, Server, BlockingDriver, Secret) {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let driver = BlockingDriver::default();
    let credentials = Credentials::new(
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        emulator.issue_refresh_token(),
    );
    let token_endpoint = format!("{}/token", server.base_url());
    let fresh = driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .unwrap();
    (emulator, server, driver, fresh.access_token.unwrap())
}

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

#[test]
fn a_stream_arrives_item_by_item_and_a_mid_stream_429_is_classified() {
    let (emulator, server, driver, token) = signed_in();
    let base = server.base_url();
    let request = GenerateRequest::new("gemini-2.5-pro", "proj-1", "p-1", json!({"contents": []}));
    let mut ids = SplitMix64::new(3);

    let items: Vec<StreamItem> = driver
        .stream(request.to_stream_request(&base, &token, &mut ids).unwrap())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(texts(&items), "Hello from the emulator.");
    let StreamItem::Chunk(last) = items.last().unwrap() else {
        panic!()
    };
    assert_eq!(last.finish_reason.as_deref(), Some("STOP"));

    emulator.capacity_error_mid_stream();
    let items: Vec<_> = driver
        .stream(request.to_stream_request(&base, &token, &mut ids).unwrap())
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert_eq!(texts(&items), "Hello from");
    let StreamItem::Error(error) = items.last().unwrap() else {
        panic!("{items:?}")
    };
    assert_eq!(error.class(), ErrorClass::Capacity);
    assert_eq!(error.retry_delay(), Some(std::time::Duration::from_secs(2)));

    let error = driver
        .stream(
            request
                .to_stream_request(&base, &Secret::new("ya29.wrong"), &mut ids)
                .unwrap(),
        )
        .unwrap_err();
    assert_eq!(error.api().unwrap().class(), ErrorClass::Auth);
}

#[test]
fn the_client_retries_the_opening_as_google_asks_and_refreshes_a_refused_token_once() {
    use codeassist_testkit::client_scenarios::signed_in_store;
    use codeassist_testkit::conformance::{code_assist_config, oauth_client};
    use codeassist_testkit::emulator::Fault;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(
        &emulator,
        &dir.path().join("oauth.json"),
        "ya29.refused",
        3600,
    );
    let client = codeassist_blocking::Client::builder(oauth_client(&base))
        .store(store)
        .code_assist(code_assist_config(&base))
        .env_project(None)
        .build()
        .unwrap();
    let request = GenerateRequest::new("gemini-2.5-pro", "proj-1", "p-1", json!({"contents": []}));
    emulator.inject(
        "/v1internal:streamGenerateContent",
        Fault::RateLimited(0.05),
        1,
    );
    let mut ids = SplitMix64::new(1);
    let stream = client
        .stream(|token| request.to_stream_request(&base, token, &mut ids))
        .unwrap();
    assert_eq!(stream.count(), 4);
    assert_eq!(emulator.count("/v1internal:streamGenerateContent"), 3);
    assert_eq!(emulator.count("/token"), 1);

    emulator.inject(
        "/v1internal:streamGenerateContent",
        Fault::NoCapacity("gemini-2.5-pro".into(), 600.0),
        1,
    );
    let error = client
        .stream(|token| request.to_stream_request(&base, token, &mut ids))
        .unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::Capacity),
        "a wait past the cap is the host's call"
    );
}

#[test]
fn the_client_streams_in_the_cached_project() {
    use codeassist_testkit::client_scenarios::signed_in_store;
    use codeassist_testkit::conformance::{code_assist_config, oauth_client};
    use codeassist_testkit::emulator::Account;
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("std-project".into()),
    });
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(&emulator, &dir.path().join("oauth.json"), "ya29.old", -10);
    let client = codeassist_blocking::Client::builder(oauth_client(&base))
        .store(store)
        .code_assist(code_assist_config(&base))
        .env_project(None)
        .build()
        .unwrap();
    let request = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    for _ in 0..2 {
        let items: Vec<_> = client
            .stream_generate("gemini-2.5-flash", request.clone())
            .unwrap()
            .collect();
        assert_eq!(items.len(), 4);
        assert!(items.iter().all(Result::is_ok));
    }
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), 1);
    let chunk = client.generate("gemini-2.5-flash", request).unwrap();
    assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"));
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), 1);
}

/// Every target streamed and whole through the blocking client: the Gemini API with a
/// key and with a token, Vertex AI with a token, Code Assist; and a capacity error on
/// Pro falling back to Flash before any text, on each target (a model's cooldown is
/// per target).
#[test]
fn every_target_streams_and_pro_falls_back_to_flash() {
    use codeassist_core::inference::Target;
    use codeassist_testkit::client_scenarios::signed_in_store;
    use codeassist_testkit::conformance::{code_assist_config, oauth_client};
    use codeassist_testkit::emulator::{API_KEY, Account, Fault};
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("std-project".into()),
    });
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(&emulator, &dir.path().join("oauth.json"), "ya29.old", -10);
    let client = codeassist_blocking::Client::builder(oauth_client(&base))
        .store(store)
        .code_assist(code_assist_config(&base))
        .env_project(None)
        .build()
        .unwrap();
    let request = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let targets = [
        Target::gemini_api(Some(Secret::new(API_KEY))).under(&base),
        Target::gemini_api(None).under(&base),
        Target::vertex("v-project", "europe-west4").under(&base),
        Target::CodeAssist,
    ];
    for target in &targets {
        let items: Vec<_> = client
            .stream_on(target, "gemini-2.5-flash", request.clone())
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(texts(&items), "Hello from the emulator.", "{target:?}");
        let chunk = client
            .generate_on(target, "gemini-2.5-flash", request.clone())
            .unwrap();
        assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"), "{target:?}");
    }
    // One target of each kind (a model's cooldown is per kind of target).
    for target in [&targets[0], &targets[2], &targets[3]] {
        emulator.inject_model(
            "gemini-2.5-pro",
            Fault::NoCapacity("gemini-2.5-pro".into(), 30.0),
            1,
        );
        let (answered, stream) = client
            .stream_with_fallback(target, "gemini-2.5-pro", request.clone())
            .unwrap();
        assert_eq!(answered.model, "gemini-2.5-flash", "{target:?}");
        assert_eq!(answered.switches[0].why, "capacity");
        let items: Vec<_> = stream.map(Result::unwrap).collect();
        assert_eq!(texts(&items), "Hello from the emulator.");
    }
    // Within the cooldown, Pro is skipped without asking.
    let (answered, _stream) = client
        .stream_with_fallback(&targets[1], "gemini-2.5-pro", request.clone())
        .unwrap();
    assert_eq!(answered.switches[0].why, "unavailable");
    // Quota exhausted on Flash-Lite: it climbs to Flash.
    emulator.inject_model("gemini-2.5-flash-lite", Fault::QuotaExhausted(3600.0), 1);
    let (answered, _stream) = client
        .stream_with_fallback(&targets[0], "gemini-2.5-flash-lite", request.clone())
        .unwrap();
    assert_eq!(answered.model, "gemini-2.5-flash");
    assert_eq!(answered.switches[0].why, "quota_exhausted");
    // Capacity after text has arrived: no switch, the classified error in the stream.
    emulator.capacity_error_mid_stream();
    let (answered, stream) = client
        .stream_with_fallback(&targets[2], "gemini-2.5-flash", request)
        .unwrap();
    assert!(answered.switches.is_empty());
    let items: Vec<_> = stream.map(Result::unwrap).collect();
    assert_eq!(texts(&items), "Hello from");
    assert!(
        matches!(items.last(), Some(StreamItem::Error(error)) if error.class() == ErrorClass::Capacity)
    );
}

/// The OpenAI-compatible pass-through: streamed to `[DONE]`, whole, the models list,
/// and an unknown field (`store`) refused as Google refuses it (a JSON array holding
/// the envelope), classified.
#[test]
fn the_openai_compatible_endpoint_passes_through() {
    use codeassist_core::inference::{OpenAiItem, OpenAiPath, Target};
    use codeassist_testkit::conformance::oauth_client;
    use codeassist_testkit::emulator::API_KEY;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let client = codeassist_blocking::Client::builder(oauth_client(&base))
        .store(codeassist_runtime::FileStore::new(
            dir.path().join("oauth.json"),
        ))
        .build()
        .unwrap();
    let target = Target::gemini_api(Some(Secret::new(API_KEY))).under(&base);
    let body =
        json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]});
    let items: Vec<OpenAiItem> = client
        .openai_stream(&target, body.clone())
        .unwrap()
        .map(Result::unwrap)
        .collect();
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
    let whole = client
        .openai(&target, OpenAiPath::ChatCompletions, Some(body.clone()))
        .unwrap();
    assert_eq!(
        whole["choices"][0]["message"]["content"],
        "Hello from the emulator."
    );
    let models = client.openai(&target, OpenAiPath::Models, None).unwrap();
    assert_eq!(models["data"][0]["id"], "models/gemini-2.5-pro");

    let mut with_store = body;
    with_store["store"] = json!(true);
    let error = client.openai_stream(&target, with_store).unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::InvalidRequest), "{error}");
    assert!(error.to_string().contains("store"), "{error}");
}

/// A long answer is never cut by a total deadline: a stream slower in total than the
/// request timeout completes while each event arrives within the idle timeout; a
/// stream silent for longer than the idle timeout ends with a timeout.
#[test]
fn streams_have_an_idle_timeout_not_a_total_deadline() {
    use codeassist_blocking::DriverConfig;
    let (emulator, server, _, token) = signed_in();
    let base = server.base_url();
    let mut config = DriverConfig::default();
    config.request_timeout = std::time::Duration::from_millis(800);
    config.stream_idle_timeout = std::time::Duration::from_millis(700);
    let driver = BlockingDriver::new(config);
    let request = || {
        GenerateRequest::new("gemini-2.5-flash", "proj-1", "p-1", json!({"contents": []}))
            .to_stream_request(&base, &token, &mut SplitMix64::new(5))
            .unwrap()
    };
    emulator.pace_streams(std::time::Duration::from_millis(300));
    let items: Vec<_> = driver
        .stream(request())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(texts(&items), "Hello from the emulator.");

    emulator.pace_streams(std::time::Duration::from_millis(1500));
    let mut stream = driver.stream(request()).unwrap();
    let ended = stream
        .find_map(Result::err)
        .expect("the silence ends the stream");
    assert_eq!(
        ended.transport().map(|t| t.kind()),
        Some(codeassist_core::flow::TransportErrorKind::Timeout),
        "{ended}"
    );
}
