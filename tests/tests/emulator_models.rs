//! The emulator plays Google's models as of December 2026: retired models are not
//! found (404, Google's words naming the model), and thinking settings a model does
//! not take are refused (400 INVALID_ARGUMENT); the library classifies each answer.

use std::time::SystemTime;

use codeassist_core::ApiError;
use codeassist_core::error::ErrorClass;
use codeassist_testkit::emulator::{API_KEY, Emulator};
use serde_json::{Value, json};

/// Asks the emulator for `model` on the Gemini API at `version` with `thinking`.
fn ask(emulator: &Emulator, version: &str, model: &str, thinking: Value) -> (u16, ApiError) {
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                      "generationConfig": {"thinkingConfig": thinking}});
    let request = http::Request::post(format!(
        "http://127.0.0.1/{version}/models/{model}:generateContent"
    ))
    .header("x-goog-api-key", API_KEY)
    .body(serde_json::to_vec(&body).unwrap())
    .unwrap();
    let response = emulator
        .handle(&request, SystemTime::now())
        .response
        .expect("an answer");
    let status = response.status().as_u16();
    let error = ApiError::from_response(&response, SystemTime::now());
    (status, error)
}

#[test]
fn retired_models_are_not_found_and_refused_thinking_is_invalid() {
    let emulator = Emulator::new();
    let (status, error) = ask(&emulator, "v1beta", "gemini-2.5-flash", json!({}));
    assert_eq!(status, 404);
    assert_eq!(error.class(), ErrorClass::ModelNotFound);
    assert!(
        error.message().contains("gemini-2.5-flash"),
        "{}",
        error.message()
    );

    for (model, thinking) in [
        ("gemini-2.5-pro", json!({"thinkingLevel": "HIGH"})),
        (
            "gemini-3.8-flash",
            json!({"thinkingLevel": "LOW", "thinkingBudget": 1024}),
        ),
        ("gemini-2.5-pro", json!({"thinkingBudget": 0})),
        (
            "gemini-3.1-pro-preview",
            json!({"thinkingLevel": "MINIMAL"}),
        ),
        ("gemini-3.7-flash", json!({"thinkingLevel": "MINIMAL"})),
    ] {
        let (status, error) = ask(&emulator, "v1", model, thinking.clone());
        assert_eq!(status, 400, "{model} {thinking}");
        assert_eq!(
            error.class(),
            ErrorClass::InvalidRequest,
            "{model} {thinking}"
        );
    }
    for (model, thinking) in [
        ("gemini-2.5-pro", json!({"thinkingBudget": 1024})),
        ("gemini-3.8-flash", json!({"thinkingLevel": "MINIMAL"})),
        (
            "gemini-3.1-pro-preview",
            json!({"thinkingLevel": "LOW", "includeThoughts": true}),
        ),
    ] {
        let (status, _) = ask(&emulator, "v1beta", model, thinking.clone());
        assert_eq!(status, 200, "{model} {thinking}");
    }
}

/// `models.get`: a listed model's description, Google's 404 for any other.
#[test]
fn models_get_describes_listed_models_only() {
    let emulator = Emulator::new();
    let get = |path: &str| {
        let request = http::Request::get(format!("http://127.0.0.1{path}"))
            .header("x-goog-api-key", API_KEY)
            .body(Vec::new())
            .unwrap();
        emulator
            .handle(&request, SystemTime::now())
            .response
            .unwrap()
    };
    let found = get("/v1/models/gemini-3.8-flash");
    assert_eq!(found.status(), 200);
    let model: Value = serde_json::from_slice(found.body()).unwrap();
    assert_eq!(model["name"], "models/gemini-3.8-flash");
    let missing = get("/v1beta/models/gemini-2.5-flash");
    assert_eq!(missing.status(), 404);
    let error = ApiError::from_response(&missing, SystemTime::now());
    assert_eq!(error.class(), ErrorClass::ModelNotFound);
}
