//! Inference: request wrapping, and streamed answers split at every boundary.

use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::error::ErrorClass;
use codeassist_core::inference::{Chunk, GenerateRequest, StreamItem, StreamReader};
use codeassist_core::{Error, Secret, SplitMix64};
use proptest::prelude::*;
use serde_json::json;

/// A recorded stream: two chunks of text, then Google's capacity 429 mid-stream, with
/// CRLF line ends, a comment, multi-line data and non-ASCII text.
const RECORDED: &str = concat!(
    ": keep-alive\r\n",
    "data: {\"response\": {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Bonjour, ça va\"}]}}]}}\r\n\r\n",
    "data: {\"response\": {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \" — très bien\"}]},\r\n",
    "data:  \"finishReason\": \"\"}]}}\r\n\r\n",
    "data: {\"error\": {\"code\": 429, \"message\": \"No capacity available for model gemini-2.5-pro on the server\", ",
    "\"status\": \"RESOURCE_EXHAUSTED\", \"details\": [{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", ",
    "\"reason\": \"MODEL_CAPACITY_EXHAUSTED\", \"metadata\": {\"model\": \"gemini-2.5-pro\"}}, ",
    "{\"@type\": \"type.googleapis.com/google.rpc.RetryInfo\", \"retryDelay\": \"12s\"}]}}\r\n\r\n",
);

fn read(chunks: &[&[u8]]) -> (Vec<StreamItem>, Result<(), Error>) {
    let mut reader = StreamReader::new();
    let mut items = Vec::new();
    for chunk in chunks {
        items.extend(reader.push(chunk, UNIX_EPOCH));
    }
    let end = reader.finish();
    (items, end)
}

#[test]
fn an_error_mid_stream_is_classified_not_dropped() {
    let (items, end) = read(&[RECORDED.as_bytes()]);
    assert_eq!(items.len(), 3, "{items:?}");
    let StreamItem::Chunk(first) = &items[0] else {
        panic!("{:?}", items[0])
    };
    assert_eq!(
        first.response["candidates"][0]["content"]["parts"][0]["text"],
        "Bonjour, ça va"
    );
    assert_eq!(first.finish_reason, None);
    let StreamItem::Error(error) = &items[2] else {
        panic!("{:?}", items[2])
    };
    assert_eq!(error.class(), ErrorClass::Capacity);
    assert_eq!(error.retry_delay(), Some(Duration::from_secs(12)));
    assert_eq!(error.model(), Some("gemini-2.5-pro"));
    assert!(end.is_ok(), "the error explains the end");
}

#[test]
fn a_stream_without_a_finish_reason_is_truncated() {
    let (items, end) = read(&[b"data: {\"response\": {\"candidates\": [{}]}}\n\n"]);
    assert_eq!(items.len(), 1);
    assert!(end.unwrap_err().to_string().contains("truncated"));

    let (_, end) = read(&[b"data: {\"response\": {\"candidates\": [{}]}}\n\ndata: {\"respo"]);
    assert!(end.unwrap_err().to_string().contains("middle of an event"));

    let (items, end) =
        read(&[b"data: {\"response\": {\"candidates\": [{\"finishReason\": \"STOP\"}]}}\n\n"]);
    let StreamItem::Chunk(chunk) = &items[0] else {
        panic!()
    };
    assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"));
    assert!(end.is_ok());
}

#[test]
fn malformed_events_are_reported_and_the_stream_goes_on() {
    let (items, _) = read(&[b"data: not json\n\ndata: {\"response\": {}}\n\n"]);
    assert!(matches!(items[0], StreamItem::Malformed(_)));
    assert!(matches!(items[1], StreamItem::Chunk(_)));
}

#[test]
fn requests_wrap_the_gemini_body() {
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"temperature": 0.2}});
    let request = GenerateRequest::new("gemini-2.5-pro", "proj-1", "prompt-7", gemini.clone());
    let mut ids = SplitMix64::new(1);
    let token = Secret::new("ya29.t");
    let plain = request
        .to_request("https://cloudcode-pa.googleapis.com", &token, &mut ids)
        .unwrap();
    assert_eq!(
        plain.uri(),
        "https://cloudcode-pa.googleapis.com/v1internal:generateContent"
    );
    let body: serde_json::Value = serde_json::from_slice(plain.body()).unwrap();
    assert_eq!(
        body,
        json!({"model": "gemini-2.5-pro", "project": "proj-1", "user_prompt_id": "prompt-7", "request": gemini})
    );
    assert_eq!(plain.headers()["authorization"], "Bearer ya29.t");
    assert!(plain.headers().contains_key("x-activity-request-id"));

    let streamed = request
        .to_stream_request("https://cloudcode-pa.googleapis.com", &token, &mut ids)
        .unwrap();
    assert_eq!(
        streamed.uri(),
        "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse"
    );
    assert_eq!(streamed.headers()["accept"], "text/event-stream");
    assert_ne!(
        plain.headers()["x-activity-request-id"],
        streamed.headers()["x-activity-request-id"]
    );
    assert!(
        request
            .to_request("http://cloudcode.example.com", &token, &mut ids)
            .is_err(),
        "bearer only to https"
    );
}

#[test]
fn a_non_streamed_answer_unwraps_the_same_way() {
    let chunk = Chunk::from_value(
        json!({"response": {"candidates": [{"finishReason": "MAX_TOKENS"}]}, "traceId": "t"}),
    );
    assert_eq!(chunk.finish_reason.as_deref(), Some("MAX_TOKENS"));
    assert!(chunk.response.get("traceId").is_none());
}

proptest! {
    /// Any split of the recorded stream into chunks yields the same items.
    #[test]
    fn any_split_yields_the_same_items(cuts in proptest::collection::vec(0usize..RECORDED.len(), 0..12)) {
        let bytes = RECORDED.as_bytes();
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for cut in cuts {
            chunks.push(&bytes[start..cut]);
            start = cut;
        }
        chunks.push(&bytes[start..]);
        let (whole, _) = read(&[bytes]);
        let (split, _) = read(&chunks);
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn generate_content_retries_a_429_and_unwraps_the_answer() {
    use codeassist_core::flow::{VirtualClock, drive};
    use codeassist_core::inference::generate_content;
    use codeassist_core::retry::RetryPolicy;
    let request = GenerateRequest::new("gemini-2.5-pro", "proj-1", "p", json!({"contents": []}));
    let flow = generate_content(
        &request,
        "https://cloudcode-pa.googleapis.com",
        &Secret::new("ya29.t"),
        RetryPolicy::default().without_jitter(),
        &mut SplitMix64::new(9),
    )
    .unwrap();
    let mut answers = vec![
        (429, r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.2s"}]}}"#),
        (200, r#"{"response": {"candidates": [{"finishReason": "STOP"}]}}"#),
    ]
    .into_iter();
    let mut clock = VirtualClock::new(UNIX_EPOCH);
    let chunk = drive(flow, &mut clock, |request, _| {
        assert!(request.uri().path().ends_with(":generateContent"));
        let (status, body) = answers.next().unwrap();
        Ok(http::Response::builder()
            .status(status)
            .body(body.as_bytes().to_vec())
            .unwrap())
    })
    .unwrap();
    assert_eq!(chunk.finish_reason.as_deref(), Some("STOP"));
    assert_eq!(clock.waits(), &[Duration::from_millis(1200)]);
}
