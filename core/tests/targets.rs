//! Inference targets and model fallback on a virtual clock: the exact requests of the
//! Gemini API and Vertex AI, API keys never in URLs, and the fallback policy
//! (cooldowns, reset times, removal, no fallback when off or for other errors).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::client::{Client, ClientConfig, MemoryRuntime, MemoryStore, Reply};
use codeassist_core::inference::{FallbackPolicy, ModelMethod, Target};
use codeassist_core::oauth::{OAuthClient, OAuthEndpoints};
use codeassist_core::retry::RetryPolicy;
use codeassist_core::{Secret, SplitMix64};
use serde_json::json;

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn keyed() -> Target {
    Target::gemini_api(Some(Secret::new("AIza-test-key")))
}

fn client(fallback: FallbackPolicy) -> Client {
    let mut config = ClientConfig::new(
        OAuthClient::new("c", "s").with_endpoints(OAuthEndpoints::under("https://google.test")),
    );
    config.code_assist.retry = RetryPolicy::default().without_jitter();
    config.fallback = fallback;
    Client::new(config)
}

fn prompt() -> serde_json::Value {
    json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
}

fn answer(status: u16, body: serde_json::Value) -> Reply {
    Reply::now(Ok(http::Response::builder()
        .status(status)
        .body(body.to_string().into_bytes())
        .unwrap()))
}

fn ok() -> Reply {
    answer(
        200,
        json!({"candidates": [{"content": {"parts": [{"text": "hi"}]}, "finishReason": "STOP"}]}),
    )
}

fn capacity(model: &str, seconds: u64) -> Reply {
    answer(
        429,
        json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": format!("No capacity available for model {model}"),
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "generativelanguage.googleapis.com", "metadata": {"model": model}},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{seconds}s")}]}}),
    )
}

fn model_of(request: &http::Request<Vec<u8>>) -> String {
    let path = request.uri().path();
    let last = path.rsplit('/').next().unwrap_or("");
    last.split(':').next().unwrap_or("").to_owned()
}

#[test]
fn requests_are_exact_and_keys_stay_out_of_urls() {
    let request = keyed()
        .model_request(
            "models/gemini-2.5-pro",
            ModelMethod::Stream,
            &prompt(),
            None,
        )
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"
    );
    let key = &request.headers()["x-goog-api-key"];
    assert!(key.is_sensitive());
    assert!(!request.uri().to_string().contains("AIza"));
    assert_eq!(request.headers()["accept"], "text/event-stream");
    assert!(request.headers().get("authorization").is_none());

    let token = Secret::new("ya29.t");
    let vertex = Target::vertex("p-1", "us-central1");
    let request = vertex
        .model_request(
            "gemini-2.5-flash",
            ModelMethod::Generate,
            &prompt(),
            Some(&token),
        )
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p-1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(request.headers()["authorization"], "Bearer ya29.t");
    let global = Target::vertex("p-1", "global")
        .model_url("gemini-2.5-flash", ModelMethod::CountTokens)
        .unwrap();
    assert_eq!(
        global,
        "https://aiplatform.googleapis.com/v1/projects/p-1/locations/global/publishers/google/models/gemini-2.5-flash:countTokens"
    );
    let under = Target::vertex("p-1", "global").under("http://127.0.0.1:9");
    assert!(
        under
            .model_url("m", ModelMethod::Generate)
            .unwrap()
            .starts_with("http://127.0.0.1:9/v1/projects/p-1/")
    );
    for bad in ["", "a/b", "../x", "m?x=1", "m#f"] {
        assert!(
            keyed().model_url(bad, ModelMethod::Generate).is_err(),
            "{bad}"
        );
    }
    assert!(
        Target::vertex("p/../x", "global")
            .model_url("m", ModelMethod::Generate)
            .is_err()
    );
    // A token target without a token is a configuration error, not a request.
    assert!(
        Target::gemini_api(None)
            .model_request("m", ModelMethod::Generate, &prompt(), None)
            .is_err()
    );
}

/// Vertex AI's host per location (multi-regions included), Express's URL and key, and
/// the Gemini API's versions.
#[test]
fn vertex_hosts_express_and_api_versions() {
    use codeassist_core::inference::{ApiVersion, vertex_host};
    for (location, host) in [
        ("global", "aiplatform.googleapis.com"),
        ("us", "aiplatform.us.rep.googleapis.com"),
        ("eu", "aiplatform.eu.rep.googleapis.com"),
        ("us-central1", "us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "europe-west4-aiplatform.googleapis.com"),
    ] {
        assert_eq!(vertex_host(location), host);
        assert_eq!(
            Target::vertex("p-1", location)
                .model_url("gemini-3.8-flash", ModelMethod::Generate)
                .unwrap(),
            format!(
                "https://{host}/v1/projects/p-1/locations/{location}/publishers/google/models/gemini-3.8-flash:generateContent"
            )
        );
    }
    let express = Target::vertex_express(Secret::new("AQ.express-key"));
    assert!(!express.uses_token());
    assert_eq!(
        express.kind(),
        codeassist_core::inference::TargetKind::Vertex
    );
    let request = express
        .model_request("gemini-3.8-flash", ModelMethod::Stream, &prompt(), None)
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-3.8-flash:streamGenerateContent?alt=sse"
    );
    assert_eq!(request.headers()["x-goog-api-key"], "AQ.express-key");
    assert!(request.headers().get("authorization").is_none());

    let v1 = Target::gemini_api(None).with_api_version(ApiVersion::V1);
    assert_eq!(
        v1.model_url("gemini-3.8-flash", ModelMethod::CountTokens)
            .unwrap(),
        "https://generativelanguage.googleapis.com/v1/models/gemini-3.8-flash:countTokens"
    );
    assert_eq!(
        v1.clone()
            .under("http://127.0.0.1:9")
            .model_url("m", ModelMethod::Generate)
            .unwrap(),
        "http://127.0.0.1:9/v1/models/m:generateContent"
    );
    assert_eq!(
        v1.with_api_version(ApiVersion::V1Beta)
            .model_url("m", ModelMethod::Generate)
            .unwrap(),
        "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent"
    );
    assert_eq!("v1".parse::<ApiVersion>(), Ok(ApiVersion::V1));
    assert!("v2".parse::<ApiVersion>().is_err());
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The chain rules over the models a target lists, and over the built-in table when
/// it lists none: a Pro falls back to the Flash of its generation, else the newest
/// (stable) Flash; a preview Pro to a preview Flash; Flash-Lite climbs to Flash; a
/// model the target does not list is never chosen.
#[test]
fn chains_follow_the_rules_over_the_listed_models() {
    use codeassist_core::inference::models::{KNOWN_MODELS, default_among, fallback_among};
    let known = KNOWN_MODELS;
    // December 2026: 2.5 Flash is gone, so 2.5 Pro goes to the newest stable Flash.
    assert_eq!(
        fallback_among("gemini-2.5-pro", known).as_deref(),
        Some("gemini-3.8-flash")
    );
    assert_eq!(
        fallback_among("gemini-3-pro-preview", known).as_deref(),
        Some("gemini-3-flash-preview")
    );
    assert_eq!(
        fallback_among("gemini-3.1-pro-preview", known).as_deref(),
        Some("gemini-3-flash-preview")
    );
    assert_eq!(
        fallback_among("gemini-3.5-flash-lite", known).as_deref(),
        Some("gemini-3.5-flash")
    );
    assert_eq!(
        fallback_among("gemini-3.1-flash-lite", known).as_deref(),
        Some("gemini-3.8-flash")
    );
    assert_eq!(fallback_among("gemini-3.8-flash", known), None);
    assert_eq!(fallback_among("my-tuned-model", known), None);
    // A target that still lists 2.5 Flash keeps the generation's Flash.
    let older = [
        "models/gemini-2.5-pro",
        "models/gemini-2.5-flash",
        "models/gemini-3.5-flash",
    ];
    assert_eq!(
        fallback_among("gemini-2.5-pro", older).as_deref(),
        Some("gemini-2.5-flash")
    );
    // A list without the chain's usual Flash: the newest the target offers, never an
    // unlisted one, never a variant.
    let sparse = [
        "gemini-3-pro-preview",
        "gemini-3.6-flash",
        "gemini-3.9-flash-image",
    ];
    assert_eq!(
        fallback_among("gemini-3-pro-preview", sparse).as_deref(),
        Some("gemini-3.6-flash")
    );
    assert_eq!(
        fallback_among("gemini-3-pro-preview", ["gemini-3-pro-preview"]),
        None
    );

    // The default: the newest stable Pro listed.
    assert_eq!(default_among(known).as_deref(), Some("gemini-2.5-pro"));
    assert_eq!(
        default_among(["gemini-3-pro-preview", "gemini-3.5-pro", "gemini-2.5-pro"]).as_deref(),
        Some("gemini-3.5-pro")
    );
    assert_eq!(default_among(["gemini-3-pro-preview"]), None);

    // The policy: configured chains first, each model once.
    let mut policy = FallbackPolicy::default();
    policy.chains.insert("a".into(), "b".into());
    policy.chains.insert("b".into(), "a".into());
    assert_eq!(policy.chain("a", &[]), ["a", "b"]);
    let known = strings(&KNOWN_MODELS);
    assert_eq!(
        FallbackPolicy::default().chain("gemini-3.1-flash-lite", &known),
        ["gemini-3.1-flash-lite", "gemini-3.8-flash"]
    );
}

#[test]
fn capacity_falls_back_then_cools_down() {
    let client = client(FallbackPolicy::default());
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let mut network =
        |request: &http::Request<Vec<u8>>, _: SystemTime| match model_of(request).as_str() {
            "gemini-2.5-pro" => capacity("gemini-2.5-pro", 40),
            _ => ok(),
        };
    let answered = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(1),
            ),
            &mut network,
        )
        .unwrap();
    assert_eq!(answered.model, "gemini-3.8-flash");
    assert_eq!(answered.switches.len(), 1);
    assert_eq!(answered.switches[0].why, "capacity");
    // Google's delay (40 s) was over the same-model bound (5 s): one request to pro.
    let pro = |runtime: &MemoryRuntime| {
        runtime
            .sent
            .iter()
            .filter(|r| model_of(r) == "gemini-2.5-pro")
            .count()
    };
    assert_eq!(pro(&runtime), 1);
    // Within the cooldown pro is skipped without a request.
    let answered = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(2),
            ),
            &mut network,
        )
        .unwrap();
    assert_eq!(answered.switches[0].why, "unavailable");
    assert_eq!(pro(&runtime), 1);
    // After Google's delay, pro is tried again.
    runtime.clock.advance(Duration::from_secs(41));
    runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(3),
            ),
            &mut network,
        )
        .unwrap();
    assert_eq!(pro(&runtime), 2);
}

#[test]
fn a_short_capacity_delay_is_retried_on_the_same_model_first() {
    let client = client(FallbackPolicy::default());
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let mut first = true;
    let answered = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(1),
            ),
            |request, _| match (model_of(request).as_str(), std::mem::take(&mut first)) {
                ("gemini-2.5-pro", true) => capacity("gemini-2.5-pro", 2),
                _ => ok(),
            },
        )
        .unwrap();
    assert_eq!(answered.model, "gemini-2.5-pro");
    assert!(answered.switches.is_empty());
    assert_eq!(runtime.sent.len(), 2);
}

#[test]
fn unknown_models_are_removed_and_other_errors_do_not_fall_back() {
    let client = client(FallbackPolicy::default());
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let not_found = || {
        answer(
            404,
            json!({"error": {"code": 404, "status": "NOT_FOUND", "message": "models/gemini-2.5-pro is not found for API version v1beta"}}),
        )
    };
    let answered = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(1),
            ),
            |request, _| match model_of(request).as_str() {
                "gemini-2.5-pro" => not_found(),
                _ => ok(),
            },
        )
        .unwrap();
    assert_eq!(answered.switches[0].why, "model_not_found");
    // Removed for good: a day later it is still skipped.
    runtime.clock.advance(Duration::from_secs(86_400));
    let sent = runtime.sent.len();
    runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(2),
            ),
            |_, _| ok(),
        )
        .unwrap();
    // The models are listed again (the last listing failed a day ago), then only the
    // Flash is asked.
    let asked: Vec<String> = runtime.sent[sent..].iter().map(model_of).collect();
    assert_eq!(asked, ["models", "gemini-3.8-flash"]);
    // A 400 is the caller's: no fallback.
    let error = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-3-pro",
                prompt(),
                &mut SplitMix64::new(3),
            ),
            |_, _| {
                answer(
                    400,
                    json!({"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}),
                )
            },
        )
        .unwrap_err();
    assert_eq!(
        error.class(),
        Some(codeassist_core::ErrorClass::InvalidRequest)
    );
    assert!(
        runtime.sent[sent + 2..]
            .iter()
            .all(|r| model_of(r) == "gemini-3-pro")
    );
}

#[test]
fn fallback_off_means_the_models_own_error() {
    let mut policy = FallbackPolicy::default();
    policy.enabled = false;
    let mut config_retry = RetryPolicy::default().without_jitter();
    config_retry.max_attempts = 1;
    let client = client(policy).with_retry(config_retry);
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let error = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(1),
            ),
            |_, _| capacity("gemini-2.5-pro", 40),
        )
        .unwrap_err();
    assert_eq!(error.class(), Some(codeassist_core::ErrorClass::Capacity));
    assert!(runtime.sent.iter().all(|r| model_of(r) == "gemini-2.5-pro"));
}

#[test]
fn quota_exhausted_waits_for_its_reset() {
    let client = client(FallbackPolicy::default());
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let quota = || {
        answer(
            429,
            json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "You exceeded your current quota",
            "details": [{"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier", "quotaValue": "0"}]},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3600s"}]}}),
        )
    };
    let answered = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(1),
            ),
            |request, _| match model_of(request).as_str() {
                "gemini-2.5-pro" => quota(),
                _ => ok(),
            },
        )
        .unwrap();
    assert_eq!(answered.switches[0].why, "quota_exhausted");
    runtime.clock.advance(Duration::from_secs(1800));
    let sent = runtime.sent.len();
    runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-2.5-pro",
                prompt(),
                &mut SplitMix64::new(2),
            ),
            |_, _| ok(),
        )
        .unwrap();
    let asked: Vec<String> = runtime.sent[sent..].iter().map(model_of).collect();
    assert_eq!(
        asked,
        ["models", "gemini-3.8-flash"],
        "listed again, then Flash only"
    );
}

#[test]
fn the_openai_compatible_request_and_stream() {
    use codeassist_core::inference::{EventReader, OpenAiItem, OpenAiPath, OpenAiStreamReader};
    let body = json!({"model": "gemini-2.5-flash", "messages": [], "stream": true});
    let request = keyed()
        .openai_request(OpenAiPath::ChatCompletions, Some(&body), None)
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions"
    );
    assert_eq!(request.headers()["authorization"], "Bearer AIza-test-key");
    assert!(request.headers()["authorization"].is_sensitive());
    assert_eq!(request.headers()["accept"], "text/event-stream");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(request.body()).unwrap(),
        body
    );
    assert!(
        Target::vertex("p", "global")
            .openai_request(OpenAiPath::Models, None, None)
            .is_err()
    );

    let mut reader = OpenAiStreamReader::default();
    let items = reader.push(
        b"data: {\"choices\": [{\"delta\": {\"content\": \"hi\"}}]}\n\ndata: [DONE]\n\n",
        start(),
    );
    assert!(matches!(items[0], OpenAiItem::Chunk(_)));
    assert_eq!(items[1], OpenAiItem::Done);
    assert!(reader.finish().is_ok());

    let mut truncated = OpenAiStreamReader::default();
    truncated.push(b"data: {\"choices\": []}\n\n", start());
    assert!(truncated.finish().is_err());

    let mut failed = OpenAiStreamReader::default();
    let items = failed.push(
        b"data: [{\"error\": {\"code\": 429, \"status\": \"RESOURCE_EXHAUSTED\", \"message\": \"No capacity available for model gemini-2.5-pro\"}}]\n\n",
        start(),
    );
    let OpenAiItem::Error(error) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(error.class(), codeassist_core::ErrorClass::Capacity);
    assert!(failed.finish().is_ok());
}

#[test]
fn quota_without_a_delay_rests_until_the_buckets_reset() {
    use codeassist_core::ErrorClass;
    use codeassist_core::inference::ModelAvailability;
    let policy = FallbackPolicy::default();
    let mut models = ModelAvailability::default();
    let reset = start() + Duration::from_secs(7200);
    models.note_resets([("gemini-2.5-pro", reset)]);
    assert!(models.record(
        &policy,
        "gemini-api:gemini-2.5-pro",
        ErrorClass::QuotaExhausted,
        None,
        start()
    ));
    assert!(!models.available("gemini-api:gemini-2.5-pro", reset - Duration::from_secs(1)));
    assert!(models.available("gemini-api:gemini-2.5-pro", reset));
    // No bucket: the policy's quota cooldown.
    assert!(models.record(
        &policy,
        "gemini-api:gemini-2.5-flash",
        ErrorClass::QuotaExhausted,
        None,
        start()
    ));
    assert!(!models.available(
        "gemini-api:gemini-2.5-flash",
        start() + policy.quota_cooldown - Duration::from_secs(1)
    ));
    // Other classes never make a model unavailable.
    assert!(!models.record(&policy, "x:m", ErrorClass::RateLimit, None, start()));
    assert!(models.available("x:m", start()));
}

#[test]
fn models_list_reads_every_page() {
    let client = client(FallbackPolicy::default());
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let models = runtime
        .run(client.list_models_on(&keyed()), |request, _| {
            match request.uri().query().unwrap_or("").contains("pageToken=page-2") {
                false => answer(
                    200,
                    json!({"models": [{"name": "models/a", "inputTokenLimit": 10, "outputTokenLimit": 5, "supportedGenerationMethods": ["generateContent"]}], "nextPageToken": "page-2"}),
                ),
                true => answer(200, json!({"models": [{"name": "models/b"}, {"noname": 1}]})),
            }
        })
        .unwrap();
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(models[0].input_token_limit, Some(10));
    assert_eq!(models[0].methods, ["generateContent"]);
    assert_eq!(runtime.sent.len(), 2);
    assert!(runtime.sent[0].uri().query().unwrap().contains("pageSize="));
    assert!(
        runtime
            .sent
            .iter()
            .all(|r| !r.uri().to_string().contains("AIza"))
    );
}

/// The default target: a key → the Gemini API; another credential with a project →
/// Vertex AI; our own sign-in (or no project) → Code Assist.
#[test]
fn the_default_target_follows_the_credential() {
    use codeassist_core::inference::{TargetKind, default_target};
    assert_eq!(default_target(true, true, true).0, TargetKind::GeminiApi);
    assert_eq!(default_target(true, false, false).0, TargetKind::GeminiApi);
    assert_eq!(default_target(false, false, true).0, TargetKind::Vertex);
    assert_eq!(
        default_target(false, false, false).0,
        TargetKind::CodeAssist
    );
    assert_eq!(default_target(false, true, true).0, TargetKind::CodeAssist);
}

/// Before its first fallback on the Gemini API, the client lists the target's models
/// (once, remembered): a list without the usual preview Flash makes the chain go to a
/// Flash the target does offer.
#[test]
fn fallback_chooses_among_the_models_the_target_lists() {
    let client = client(FallbackPolicy::default());
    let mut runtime = MemoryRuntime::new(start(), MemoryStore::default());
    let listing = json!({"models": [
        {"name": "models/gemini-3-pro-preview", "supportedGenerationMethods": ["generateContent"]},
        {"name": "models/gemini-3.6-flash", "supportedGenerationMethods": ["generateContent"]},
        {"name": "models/gemini-embedding-001", "supportedGenerationMethods": ["embedContent"]},
    ]});
    let mut network =
        |request: &http::Request<Vec<u8>>, _: SystemTime| match model_of(request).as_str() {
            "models" => answer(200, listing.clone()),
            "gemini-3-pro-preview" => capacity("gemini-3-pro-preview", 40),
            _ => ok(),
        };
    let answered = runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-3-pro-preview",
                prompt(),
                &mut SplitMix64::new(1),
            ),
            &mut network,
        )
        .unwrap();
    assert_eq!(
        answered.model, "gemini-3.6-flash",
        "the listed Flash, not the built-in one"
    );
    let asked: Vec<String> = runtime.sent.iter().map(model_of).collect();
    assert_eq!(
        asked,
        ["models", "gemini-3-pro-preview", "gemini-3.6-flash"]
    );
    // Listed once: the next call asks no list.
    runtime.clock.advance(Duration::from_secs(60));
    let sent = runtime.sent.len();
    runtime
        .run(
            client.generate_with_fallback(
                &keyed(),
                "gemini-3.6-flash",
                prompt(),
                &mut SplitMix64::new(2),
            ),
            &mut network,
        )
        .unwrap();
    let asked: Vec<String> = runtime.sent[sent..].iter().map(model_of).collect();
    assert_eq!(asked, ["gemini-3.6-flash"]);
}
