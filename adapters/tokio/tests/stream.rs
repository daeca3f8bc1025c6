//! Streamed answers from the emulator over the async driver.

use codeassist_core::error::ErrorClass;
use codeassist_core::inference::{GenerateRequest, StreamItem};
use codeassist_core::oauth::{Credentials, refresh_token};
use codeassist_core::{Secret, SplitMix64};
use codeassist_testkit::emulator::{CLIENT_ID, CLIENT_SECRET, Emulator, Server};
use codeassist_tokio::AsyncDriver;

async fn collect(driver: &AsyncDriver, request: http::Request<Vec<u8>>) -> Vec<StreamItem> {
    let mut stream = driver.stream(request).await.unwrap();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item.unwrap());
    }
    items
}

/// An emulator on loopback, a driver, and a valid access token for it.
async fn signed_in() -> (Emulator, Server, AsyncDriver, Secret) {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let driver = AsyncDriver::default();
    let credentials = Credentials::new(
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        emulator.issue_refresh_token(),
    );
    let token_endpoint = format!("{}/token", server.base_url());
    let fresh = driver
        .run(refresh_token(&credentials, &token_endpoint).unwrap())
        .await
        .unwrap();
    (emulator, server, driver, fresh.access_token.unwrap())
}

#[tokio::test]
async fn streams_arrive_item_by_item_and_errors_mid_stream_are_classified() {
    let (emulator, server, driver, token) = signed_in().await;
    let base = server.base_url();
    let request = GenerateRequest::new(
        "gemini-2.5-flash",
        "proj-1",
        "p-1",
        serde_json::json!({"contents": []}),
    );
    let mut ids = SplitMix64::new(5);

    let items = collect(
        &driver,
        request.to_stream_request(&base, &token, &mut ids).unwrap(),
    )
    .await;
    assert_eq!(items.len(), 4);
    let StreamItem::Chunk(last) = &items[3] else {
        panic!()
    };
    assert_eq!(last.finish_reason.as_deref(), Some("STOP"));

    emulator.capacity_error_mid_stream();
    let items = collect(
        &driver,
        request.to_stream_request(&base, &token, &mut ids).unwrap(),
    )
    .await;
    assert_eq!(items.len(), 3);
    let StreamItem::Error(error) = &items[2] else {
        panic!("{items:?}")
    };
    assert_eq!(error.class(), ErrorClass::Capacity);
    assert_eq!(error.model(), Some("gemini-2.5-flash"));

    let error = driver
        .stream(
            request
                .to_stream_request(&base, &Secret::new("ya29.nope"), &mut ids)
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.api().unwrap().class(), ErrorClass::Auth);
}

#[tokio::test]
async fn the_client_retries_the_opening_and_refreshes_a_refused_token_once() {
    use codeassist_testkit::client_scenarios::signed_in_store;
    use codeassist_testkit::conformance::{code_assist_config, oauth_client};
    use codeassist_testkit::emulator::Fault;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    // A token the emulator never issued, "valid" for an hour: the first open gets 401.
    let store = signed_in_store(
        &emulator,
        &dir.path().join("oauth.json"),
        "ya29.refused",
        3600,
    );
    let client = codeassist_tokio::Client::builder(oauth_client(&base))
        .store(store)
        .code_assist(code_assist_config(&base))
        .env_project(None)
        .build()
        .unwrap();
    emulator.inject("/v1internal:streamGenerateContent", Fault::Unavailable, 1);
    let request = GenerateRequest::new(
        "gemini-2.5-pro",
        "proj-1",
        "p-1",
        serde_json::json!({"contents": []}),
    );
    let mut ids = SplitMix64::new(1);
    let mut stream = client
        .stream(|token| request.to_stream_request(&base, token, &mut ids))
        .await
        .unwrap();
    let mut items = 0;
    while let Some(item) = stream.next().await {
        item.unwrap();
        items += 1;
    }
    assert_eq!(items, 4);
    // 401, then (after the refresh) 503, then the stream.
    assert_eq!(emulator.count("/v1internal:streamGenerateContent"), 3);
    assert_eq!(emulator.count("/token"), 1);
}

#[tokio::test]
async fn the_client_streams_in_the_cached_project() {
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
    let client = codeassist_tokio::Client::builder(oauth_client(&base))
        .store(store)
        .code_assist(code_assist_config(&base))
        .env_project(None)
        .build()
        .unwrap();
    let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    for _ in 0..2 {
        let mut stream = client
            .stream_generate("gemini-2.5-flash", request.clone())
            .await
            .unwrap();
        let mut items = 0;
        while let Some(item) = stream.next().await {
            item.unwrap();
            items += 1;
        }
        assert_eq!(items, 4);
    }
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), 1);
    let chunk = client.generate("gemini-2.5-flash", request).await.unwrap();
    assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"));
}

/// The text of a streamed answer's chunks.
fn text_of(items: &[StreamItem]) -> String {
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

/// Every target streamed and whole through the async client, and a capacity error on
/// Pro falling back to Flash before any text, per kind of target.
#[tokio::test]
async fn every_target_streams_and_pro_falls_back_to_flash() {
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
    let client = codeassist_tokio::Client::builder(oauth_client(&base))
        .store(store)
        .code_assist(code_assist_config(&base))
        .env_project(None)
        .build()
        .unwrap();
    let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let targets = [
        Target::gemini_api(Some(Secret::new(API_KEY))).under(&base),
        Target::gemini_api(None).under(&base),
        Target::vertex("v-project", "europe-west4").under(&base),
        Target::CodeAssist,
    ];
    for target in &targets {
        let mut stream = client
            .stream_on(target, "gemini-2.5-flash", request.clone())
            .await
            .unwrap();
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item.unwrap());
        }
        assert_eq!(text_of(&items), "Hello from the emulator.", "{target:?}");
        let chunk = client
            .generate_on(target, "gemini-2.5-flash", request.clone())
            .await
            .unwrap();
        assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"), "{target:?}");
    }
    for target in [&targets[0], &targets[2], &targets[3]] {
        emulator.inject_model(
            "gemini-2.5-pro",
            Fault::NoCapacity("gemini-2.5-pro".into(), 30.0),
            1,
        );
        let (answered, mut stream) = client
            .stream_with_fallback(target, "gemini-2.5-pro", request.clone())
            .await
            .unwrap();
        assert_eq!(answered.model, "gemini-2.5-flash", "{target:?}");
        assert_eq!(answered.switches[0].why, "capacity");
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item.unwrap());
        }
        assert_eq!(text_of(&items), "Hello from the emulator.");
    }
}

/// The OpenAI-compatible pass-through over the async client: streamed to `[DONE]`,
/// and an unknown field refused and classified.
#[tokio::test]
async fn the_openai_compatible_endpoint_passes_through() {
    use codeassist_core::inference::{OpenAiItem, Target};
    use codeassist_testkit::conformance::oauth_client;
    use codeassist_testkit::emulator::API_KEY;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let client = codeassist_tokio::Client::builder(oauth_client(&base))
        .store(codeassist_runtime::FileStore::new(
            dir.path().join("oauth.json"),
        ))
        .build()
        .unwrap();
    let target = Target::gemini_api(Some(Secret::new(API_KEY))).under(&base);
    let body = serde_json::json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]});
    let mut stream = client.openai_stream(&target, body.clone()).await.unwrap();
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item.unwrap());
    }
    assert_eq!(items.len(), 5);
    assert_eq!(items[4], OpenAiItem::Done);
    let mut with_store = body;
    with_store["store"] = serde_json::json!(true);
    let error = client.openai_stream(&target, with_store).await.unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::InvalidRequest), "{error}");
}

/// A long answer is never cut by a total deadline, and a silent stream times out.
#[tokio::test]
async fn streams_have_an_idle_timeout_not_a_total_deadline() {
    use codeassist_tokio::DriverConfig;
    let (emulator, server, _, token) = signed_in().await;
    let base = server.base_url();
    let mut config = DriverConfig::default();
    config.request_timeout = std::time::Duration::from_millis(800);
    config.stream_idle_timeout = std::time::Duration::from_millis(700);
    let driver = AsyncDriver::new(config);
    let request = || {
        GenerateRequest::new(
            "gemini-2.5-flash",
            "proj-1",
            "p-1",
            serde_json::json!({"contents": []}),
        )
        .to_stream_request(&base, &token, &mut SplitMix64::new(5))
        .unwrap()
    };
    emulator.pace_streams(std::time::Duration::from_millis(300));
    let items = collect(&driver, request()).await;
    assert_eq!(text_of(&items), "Hello from the emulator.");

    emulator.pace_streams(std::time::Duration::from_millis(1500));
    let mut stream = driver.stream(request()).await.unwrap();
    let mut ended = None;
    while let Some(item) = stream.next().await {
        if let Err(error) = item {
            ended = Some(error);
        }
    }
    let ended = ended.expect("the silence ends the stream");
    assert_eq!(
        ended.transport().map(|t| t.kind()),
        Some(codeassist_core::flow::TransportErrorKind::Timeout),
        "{ended}"
    );
}
