//! The wires' translation on golden cases (`tests/data/compat/*.json`: a client
//! request in, the Gemini request out; a Gemini answer or stream in, the client's
//! object or events out), refusals naming their field, error replies, and properties:
//! any request gives a Gemini request or a refusal; a stream translates the same
//! whatever its byte boundaries; tool-call indices are unique and stable; usage sums.
//!
//! `BLESS=1 cargo test -p codeassist-core --test compat` rewrites the expected
//! outputs; the diff is then read by a person before it is committed.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::ApiError;
use codeassist_core::compat::{Options, Refusal, anthropic, openai};
use codeassist_core::error::ErrorClass;
use codeassist_core::inference::{StreamItem, StreamReader};
use proptest::prelude::*;
use serde_json::{Value, json};

fn cases() -> Vec<(PathBuf, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/data/compat");
    let mut cases: Vec<(PathBuf, Value)> = std::fs::read_dir(&dir)
        .expect("the golden cases")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            (path, value)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

fn run(case: &Value) -> Value {
    let model = case["model"].as_str().unwrap_or("gemini-3-pro-preview");
    let input = &case["input"];
    match (
        case["wire"].as_str().unwrap(),
        case["kind"].as_str().unwrap(),
    ) {
        ("openai", "request") => {
            let t = openai::to_gemini(input, Options::default()).unwrap();
            json!({"model": t.model, "request": t.request, "stream": t.stream,
                "include_usage": t.include_usage, "single_tool_call": t.single_tool_call})
        }
        ("anthropic", "request") => {
            let t = anthropic::to_gemini(input, Options::default()).unwrap();
            json!({"model": t.model, "request": t.request, "stream": t.stream,
                "single_tool_call": t.single_tool_call})
        }
        ("openai", "answer") => openai::from_gemini(
            input,
            &openai::AnswerMeta::new("chatcmpl-1", 1_700_000_000, model),
        ),
        ("anthropic", "answer") => {
            anthropic::from_gemini(input, &anthropic::AnswerMeta::new("msg_1", model))
        }
        ("openai", "stream") => {
            let include = case["include_usage"].as_bool().unwrap_or(false);
            let mut translator = openai::StreamTranslator::new(
                openai::AnswerMeta::new("chatcmpl-1", 1_700_000_000, model),
                include,
            );
            let mut events = Vec::new();
            for chunk in input.as_array().unwrap() {
                events.extend(translator.push(chunk));
            }
            events.extend(translator.finish());
            Value::Array(events)
        }
        ("anthropic", "stream") => {
            let mut translator =
                anthropic::StreamTranslator::new(anthropic::AnswerMeta::new("msg_1", model));
            let mut events = Vec::new();
            for chunk in input.as_array().unwrap() {
                events.extend(translator.push(chunk));
            }
            events.extend(translator.finish());
            Value::Array(
                events
                    .into_iter()
                    .map(|(name, data)| json!({"event": name, "data": data}))
                    .collect(),
            )
        }
        other => panic!("unknown case kind {other:?}"),
    }
}

#[test]
fn golden_cases() {
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let cases = cases();
    assert!(cases.len() >= 11, "the golden cases are missing");
    for (path, mut case) in cases {
        let output = run(&case);
        if bless {
            case["expected"] = output;
            std::fs::write(&path, serde_json::to_string_pretty(&case).unwrap() + "\n").unwrap();
            continue;
        }
        assert_eq!(output, case["expected"], "{}", path.display());
    }
}

fn refused(wire: &str, body: Value) -> Refusal {
    match wire {
        "openai" => openai::to_gemini(&body, Options::default()).unwrap_err(),
        _ => anthropic::to_gemini(&body, Options::default()).unwrap_err(),
    }
}

#[test]
fn what_cannot_be_translated_is_refused_naming_the_field() {
    let user = json!([{"role": "user", "content": "hi"}]);
    for (body, field) in [
        (json!({"messages": user}), "model"),
        (json!({"model": "../x", "messages": user}), "model"),
        (
            json!({"model": "gemini-3.8-flash", "messages": []}),
            "messages",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "logprobs": true}),
            "logprobs",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "audio": {}}),
            "audio",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "store": true}),
            "store",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "reasoning_effort": "max"}),
            "reasoning_effort",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "https://example.test/cat.png"}}]}]}),
            "messages[0].content[0].image_url.url",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": [{"role": "tool", "tool_call_id": "x", "content": "1"}]}),
            "messages[0].tool_call_id",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": [{"role": "assistant", "tool_calls": [
            {"id": "a", "function": {"name": "f", "arguments": "{not json"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "tools": [{"type": "web_search"}]}),
            "tools[0].type",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "stop": ["a", "b", "c", "d", "e", "f"]}),
            "stop",
        ),
        // A key that is not a plain name is named as a JSON string: never an empty
        // field, never a raw control character.
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "": 1}),
            "\"\"",
        ),
        (
            json!({"model": "gemini-3.8-flash", "messages": user, "\u{1b}[31mred": 1}),
            "\"\\u001b[31mred\"",
        ),
    ] {
        let refusal = refused("openai", body.clone());
        assert_eq!(refusal.field, field, "{body}");
        let reply = openai::refusal_reply(&refusal);
        assert_eq!(reply.status, 400);
        assert_eq!(reply.body["error"]["param"], field);
    }
    for (body, field) in [
        (
            json!({"model": "gemini-3.8-flash", "messages": user}),
            "max_tokens",
        ),
        (
            json!({"model": "gemini-3.8-flash", "max_tokens": 9, "messages": user, "container": "c"}),
            "container",
        ),
        (
            json!({"model": "gemini-3.8-flash", "max_tokens": 9, "messages": [{"role": "user", "content": [
            {"type": "image", "source": {"type": "url", "url": "https://example.test/a.png"}}]}]}),
            "messages[0].content[0].source.type",
        ),
        (
            json!({"model": "gemini-3.8-flash", "max_tokens": 9, "messages": [{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "nope", "content": "1"}]}]}),
            "messages[0].content[0].tool_use_id",
        ),
        (
            json!({"model": "gemini-3.8-flash", "max_tokens": 9, "messages": user,
            "tools": [{"type": "web_search_20250305", "name": "web_search"}]}),
            "tools[0].type",
        ),
    ] {
        let refusal = refused("anthropic", body.clone());
        assert_eq!(refusal.field, field, "{body}");
        assert_eq!(
            anthropic::refusal_reply(&refusal).body["error"]["type"],
            "invalid_request_error"
        );
    }
    // Asked to, the gateway drops what it cannot translate, and says so.
    let dropped = openai::to_gemini(
        &json!({"model": "gemini-3.8-flash", "messages": user, "logprobs": true, "audio": {}}),
        Options::dropping(),
    )
    .unwrap();
    assert_eq!(dropped.dropped, ["audio", "logprobs"]);
}

#[test]
fn the_personal_fields_are_never_forwarded() {
    let translated = openai::to_gemini(
        &json!({"model": "gemini-3.8-flash", "user": "person@example.com",
            "metadata": {"who": "person@example.com"},
            "messages": [{"role": "user", "content": "hi"}]}),
        Options::default(),
    )
    .unwrap();
    assert!(
        !translated
            .request
            .to_string()
            .contains("person@example.com")
    );
    let translated = anthropic::to_gemini(
        &json!({"model": "gemini-3.8-flash", "max_tokens": 5, "metadata": {"user_id": "person-42"},
            "messages": [{"role": "user", "content": "hi"}]}),
        Options::default(),
    )
    .unwrap();
    assert!(!translated.request.to_string().contains("person-42"));
}

fn google_error(status: u16, body: &str, retry_after: Option<&str>) -> ApiError {
    let mut headers = http::HeaderMap::new();
    if let Some(value) = retry_after {
        headers.insert("retry-after", value.parse().unwrap());
    }
    ApiError::from_parts(status, &headers, body.as_bytes(), UNIX_EPOCH)
}

#[test]
fn google_errors_become_each_wires_errors_with_retry_after() {
    let capacity = google_error(
        429,
        r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "No capacity available for model gemini-3-pro-preview on the server",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "cloudcode-pa.googleapis.com", "metadata": {"model": "gemini-3-pro-preview"}},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3.2s"}]}}"#,
        None,
    );
    assert_eq!(capacity.class(), ErrorClass::Capacity);
    let reply = openai::error_reply(&capacity);
    assert_eq!((reply.status, reply.retry_after), (429, Some(4)));
    assert_eq!(reply.body["error"]["code"], "model_capacity_exhausted");
    let reply = anthropic::error_reply(&capacity);
    assert_eq!((reply.status, reply.retry_after), (529, Some(4)));
    assert_eq!(reply.body["error"]["type"], "overloaded_error");
    assert_eq!(reply.body["type"], "error");

    for (status, body, openai_status, anthropic_type) in [
        (
            400,
            r#"{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": "bad"}}"#,
            400,
            "invalid_request_error",
        ),
        (
            401,
            r#"{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "no"}}"#,
            401,
            "authentication_error",
        ),
        (
            403,
            r#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "no"}}"#,
            403,
            "permission_error",
        ),
        (
            404,
            r#"{"error": {"code": 404, "status": "NOT_FOUND", "message": "models/gemini-9 is not found for API version v1beta"}}"#,
            404,
            "not_found_error",
        ),
        (
            429,
            r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted (e.g. check quota)."}}"#,
            429,
            "rate_limit_error",
        ),
        (
            500,
            r#"{"error": {"code": 500, "status": "INTERNAL", "message": "oops"}}"#,
            500,
            "api_error",
        ),
        // Google's 503 stays a 503 for OpenAI's clients (try again soon, not a fault).
        (
            503,
            r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "The service is currently unavailable."}}"#,
            503,
            "api_error",
        ),
    ] {
        let error = google_error(status, body, Some("7"));
        assert_eq!(openai::error_reply(&error).status, openai_status, "{body}");
        assert_eq!(
            anthropic::error_reply(&error).body["error"]["type"],
            anthropic_type,
            "{body}"
        );
        assert!(
            !openai::error_reply(&error).body["error"]["message"]
                .as_str()
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn a_mid_stream_error_is_an_event_never_a_silent_end() {
    let error = google_error(
        429,
        r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted (e.g. check quota)."}}"#,
        None,
    );
    let mut translator = openai::StreamTranslator::new(
        openai::AnswerMeta::new("chatcmpl-1", 1, "gemini-3.8-flash"),
        true,
    );
    translator.push(&json!({"candidates": [{"content": {"parts": [{"text": "Hel"}]}}]}));
    let event = translator.error(&error);
    assert_eq!(event["error"]["type"], "rate_limit_error");
    assert!(translator.finish().is_empty(), "nothing after the error");
    let mut translator =
        anthropic::StreamTranslator::new(anthropic::AnswerMeta::new("msg_1", "gemini-3.8-flash"));
    let (name, data) = translator.error(&error);
    assert_eq!((name, data["type"].as_str()), ("error", Some("error")));
    assert!(translator.finish().is_empty());
}

#[test]
fn count_tokens_counts_system_messages_and_tools_together() {
    let (model, request) = anthropic::count_tokens_request(
        &json!({"model": "gemini-3.8-flash", "system": "Be brief.",
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": "hi"}]}),
        Options::default(),
    )
    .unwrap();
    assert_eq!(model, "gemini-3.8-flash");
    let inner = &request["generateContentRequest"];
    assert_eq!(inner["model"], "models/gemini-3.8-flash");
    assert_eq!(inner["systemInstruction"]["parts"][0]["text"], "Be brief.");
    assert_eq!(inner["tools"][0]["functionDeclarations"][0]["name"], "f");
    assert_eq!(
        anthropic::count_tokens_answer(&json!({"totalTokens": 42})),
        json!({"input_tokens": 42})
    );
}

/// The SSE bytes of Gemini chunks.
fn sse(chunks: &[Value]) -> Vec<u8> {
    chunks
        .iter()
        .flat_map(|c| format!("data: {c}\r\n\r\n").into_bytes())
        .collect()
}

/// The OpenAI events of an SSE body cut at `cuts`.
fn translate_cut(body: &[u8], cuts: &[usize]) -> Vec<Value> {
    let mut reader = StreamReader::new();
    let mut translator = openai::StreamTranslator::new(
        openai::AnswerMeta::new("chatcmpl-1", 1, "gemini-3-pro-preview"),
        true,
    );
    let mut events = Vec::new();
    let mut start = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (body.len() + 1)).collect();
    points.sort();
    points.push(body.len());
    for end in points {
        for item in reader.push(
            &body[start..end.max(start)],
            UNIX_EPOCH + Duration::from_secs(1),
        ) {
            if let StreamItem::Chunk(chunk) = item {
                events.extend(translator.push(&chunk.response));
            }
        }
        start = end.max(start);
    }
    events.extend(translator.finish());
    events
}

fn stream_case() -> Vec<Value> {
    cases()
        .into_iter()
        .find(|(path, _)| path.ends_with("openai_stream_parallel_calls.json"))
        .map(|(_, case)| case["input"].as_array().unwrap().clone())
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_stream_translates_the_same_whatever_its_boundaries(cuts in prop::collection::vec(0usize..4000, 0..12)) {
        let body = sse(&stream_case());
        prop_assert_eq!(translate_cut(&body, &cuts), translate_cut(&body, &[]));
    }

    #[test]
    fn tool_call_indices_are_unique_and_usage_sums(calls in 1usize..6, prompt in 0u64..10_000, cached in 0u64..10_000, out in 0u64..10_000, thoughts in 0u64..10_000) {
        let parts: Vec<Value> = (0..calls)
            .map(|i| json!({"functionCall": {"name": "f", "args": {"i": i}}}))
            .collect();
        let chunk = json!({"candidates": [{"content": {"parts": parts}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": prompt, "cachedContentTokenCount": cached,
                "candidatesTokenCount": out, "thoughtsTokenCount": thoughts}});
        let mut translator = openai::StreamTranslator::new(
            openai::AnswerMeta::new("chatcmpl-1", 1, "gemini-3-pro-preview"), true);
        let mut events = translator.push(&chunk);
        events.extend(translator.finish());
        let mut indices = Vec::new();
        let mut ids = Vec::new();
        for event in &events {
            for call in event["choices"][0]["delta"]["tool_calls"].as_array().into_iter().flatten() {
                indices.push(call["index"].as_u64().unwrap());
                ids.push(call["id"].as_str().unwrap().to_owned());
                prop_assert!(serde_json::from_str::<Value>(call["function"]["arguments"].as_str().unwrap()).is_ok());
            }
        }
        prop_assert_eq!(indices, (0..calls as u64).collect::<Vec<_>>());
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), calls);
        let usage = &events.last().unwrap()["usage"];
        prop_assert_eq!(usage["total_tokens"].as_u64(), Some(prompt + out + thoughts));
        prop_assert_eq!(usage["completion_tokens"].as_u64(), Some(out + thoughts));
        prop_assert!(usage["prompt_tokens_details"]["cached_tokens"].as_u64().unwrap() <= prompt);
        let anthropic_usage = anthropic::usage(&codeassist_core::compat::Usage::of(&chunk).unwrap());
        prop_assert_eq!(
            anthropic_usage["input_tokens"].as_u64().unwrap() + anthropic_usage["cache_read_input_tokens"].as_u64().unwrap(),
            prompt
        );
    }

    #[test]
    fn any_request_is_translated_or_refused_naming_a_field(body in any_json(4)) {
        for wire in ["openai", "anthropic"] {
            let outcome = match wire {
                "openai" => openai::to_gemini(&body, Options::default()),
                _ => anthropic::to_gemini(&body, Options::default()),
            };
            match outcome {
                Ok(translated) => prop_assert!(translated.request["contents"].as_array().is_some_and(|c| !c.is_empty())),
                Err(refusal) => prop_assert!(!refusal.field.is_empty()),
            }
        }
    }
}

fn any_json(depth: u32) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop_oneof![
            Just("model".to_owned()),
            Just("messages".to_owned()),
            Just("role".to_owned()),
            Just("user".to_owned()),
            Just("assistant".to_owned()),
            Just("tool".to_owned()),
            Just("content".to_owned()),
            Just("text".to_owned()),
            Just("gemini-3.8-flash".to_owned()),
            Just("tool_calls".to_owned()),
            Just("max_tokens".to_owned()),
            "[a-z_]{0,8}",
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("model".to_owned()),
                    Just("messages".to_owned()),
                    Just("role".to_owned()),
                    Just("content".to_owned()),
                    Just("tool_calls".to_owned()),
                    Just("max_tokens".to_owned()),
                    Just("tools".to_owned()),
                    Just("type".to_owned()),
                    Just("text".to_owned()),
                ],
                inner,
                0..5,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
