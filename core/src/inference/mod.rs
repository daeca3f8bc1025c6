//! Inference on every target: where a request goes ([`Target`]: Code Assist, the
//! Gemini API, Vertex AI), the `generateContent`, `streamGenerateContent`,
//! `countTokens` and `models.list` requests, reading their answers (streamed errors
//! included), model fallback as a pure policy ([`FallbackPolicy`]), the Gemini API's
//! OpenAI-compatible endpoint as a pass-through, and the SSE decoder under all streams.
//!
//! The caller's Gemini request stays JSON: it is not re-modelled here. Code Assist wraps a Gemini request as `{model, project, user_prompt_id, request}`
//! and its answers as `{response: …}`. The caller's Gemini request stays JSON: it is
//! not re-modelled here.
//!
//! A streamed answer is a 200 whose server-sent events may carry an error envelope
//! mid-stream (a 429 after some text); [`StreamReader`] turns such an event into the
//! same classified [`ApiError`] a non-streamed 429 gives (with its retry delay), and
//! reports a stream that ends without a finish reason as truncated.
//!
//! ```
//! use std::time::UNIX_EPOCH;
//! use codeassist_core::inference::{StreamItem, StreamReader};
//!
//! let mut reader = StreamReader::new();
//! let mut items = reader.push(b"data: {\"response\": {\"candidates\": [{\"content\": {}}]}}\n\n", UNIX_EPOCH);
//! items.extend(reader.push(b"data: {\"error\": {\"code\": 429, \"status\": \"RESOURCE_EXHAUSTED\"}}\n\n", UNIX_EPOCH));
//! assert!(matches!(items[0], StreamItem::Chunk(_)));
//! let StreamItem::Error(error) = &items[1] else { panic!() };
//! assert_eq!(error.class(), codeassist_core::ErrorClass::RateLimit);
//! ```

mod fallback;
pub mod models;
mod openai;
mod sse;
mod target;

pub use fallback::{FallbackPolicy, LISTED_MODELS_MAX_AGE, ModelAvailability, ModelSwitch};
pub use openai::{OpenAiItem, OpenAiPath, OpenAiStreamReader, openai_call};
pub use sse::{MAX_EVENT, MAX_LINE, SseDecoder, SseError, SseEvent};
pub use target::{
    API_KEY_HEADER, API_KEY_VARS, ApiVersion, DEFAULT_LOCATION, GEMINI_API_BASE,
    GENERATIVE_LANGUAGE_SCOPE, LOCATION_VAR, ListModels, MAX_MODEL_PAGES, ModelInfo, ModelMethod,
    Target, TargetGenerate, TargetKind, VERTEX_GLOBAL_BASE, check_model, count_tokens,
    default_target, read_models_page, target_generate, vertex_host,
};

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::code_assist::control_request;
use crate::error::ApiError;
use crate::flow::{Call, Map, Request};
use crate::retry::{Retry, RetryPolicy};
use crate::text::sanitize;
use crate::{Error, Secret, SplitMix64};

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamItem {
    /// A chunk of the answer: the `response` object, unwrapped.
    Chunk(Box<Chunk>),
    /// An error envelope arrived in the stream, classified.
    Error(Box<ApiError>),
    /// An event that was not JSON, or broke the decoder's bounds.
    Malformed(String),
}

/// A chunk of a (streamed or not) answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Chunk {
    /// The Gemini `GenerateContentResponse`, as JSON.
    pub response: Value,
    /// `candidates[0].finishReason`, when this chunk ends the answer.
    pub finish_reason: Option<String>,
}

impl Chunk {
    /// Unwraps Code Assist's `{"response": …}` (an answer without the wrapper is taken
    /// as it is).
    pub fn from_value(mut value: Value) -> Self {
        let response = match value.get_mut("response") {
            Some(response) if response.is_object() => response.take(),
            _ => value,
        };
        let finish_reason = response
            .pointer("/candidates/0/finishReason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
            .map(|r| sanitize(r, 64));
        Self {
            response,
            finish_reason,
        }
    }
}

/// Turns a streamed body into items, bytes as they arrive: Gemini's events
/// ([`StreamReader`]) or the OpenAI-compatible ones ([`OpenAiStreamReader`]). The
/// runtimes' stream types read with either.
pub trait EventReader: Default + Send + 'static {
    /// One piece of the stream.
    type Item: Send + 'static;
    /// Feeds the next bytes, received at `now`; returns the items they complete.
    fn push(&mut self, bytes: &[u8], now: SystemTime) -> Vec<Self::Item>;
    /// Ends the stream: an error when it stopped before its end.
    fn finish(&self) -> Result<(), Error>;
}

impl EventReader for StreamReader {
    type Item = StreamItem;
    fn push(&mut self, bytes: &[u8], now: SystemTime) -> Vec<StreamItem> {
        StreamReader::push(self, bytes, now)
    }
    fn finish(&self) -> Result<(), Error> {
        StreamReader::finish(self)
    }
}

/// Reads a streamed answer chunk by chunk.
#[derive(Debug, Default)]
pub struct StreamReader {
    decoder: SseDecoder,
    finished: bool,
    failed: bool,
}

impl StreamReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes, received at `now`; returns the items they complete.
    pub fn push(&mut self, bytes: &[u8], now: SystemTime) -> Vec<StreamItem> {
        let mut events = Vec::new();
        self.decoder.feed(bytes, &mut events);
        events
            .into_iter()
            .map(|event| match event {
                Ok(event) => self.interpret(&event, now),
                Err(error) => StreamItem::Malformed(error.to_string()),
            })
            .collect()
    }

    fn interpret(&mut self, event: &SseEvent, now: SystemTime) -> StreamItem {
        match serde_json::from_str::<Value>(&event.data) {
            Ok(value) if value.get("error").is_some() => {
                self.failed = true;
                // A 200 stream carrying an envelope: the envelope's code classifies it.
                let error =
                    ApiError::from_parts(200, &http::HeaderMap::new(), event.data.as_bytes(), now);
                StreamItem::Error(Box::new(error))
            }
            Ok(value) => {
                let chunk = Chunk::from_value(value);
                if chunk.finish_reason.is_some() {
                    self.finished = true;
                }
                StreamItem::Chunk(Box::new(chunk))
            }
            Err(error) => {
                StreamItem::Malformed(sanitize(&format!("an event is not JSON: {error}"), 200))
            }
        }
    }

    /// Ends the stream: an error when it stopped before a finish reason (and no
    /// error event already explained why).
    pub fn finish(&self) -> Result<(), Error> {
        if self.finished || self.failed {
            return Ok(());
        }
        let detail = if self.decoder.is_mid_event() {
            "the stream ended in the middle of an event"
        } else {
            "the stream ended without a finish reason"
        };
        Err(Error::InvalidResponse {
            what: "streamGenerateContent",
            detail: format!("truncated: {detail}"),
        })
    }
}

/// The non-streamed call as a flow, under `policy`: the answer, unwrapped.
pub type GenerateContent = Retry<Map<Call, Chunk>>;

/// `generateContent` on `endpoint` as a flow with retries (request ids and jitter
/// seeded from `random`).
///
/// A streamed call's opening answer is classified the same way (the adapters return
/// it as an [`ApiError`]); decide on it with [`RetryPolicy::decide`].
pub fn generate_content<R: rand_core::Rng + ?Sized>(
    request: &GenerateRequest,
    endpoint: &str,
    token: &Secret,
    policy: RetryPolicy,
    random: &mut R,
) -> Result<GenerateContent, Error> {
    let http_request = request.to_request(endpoint, token, random)?;
    let flow = Map::new(
        Call::new(http_request),
        |response: crate::flow::Response, _now| {
            serde_json::from_slice::<Value>(response.body())
                .map(Chunk::from_value)
                .map_err(|error| Error::InvalidResponse {
                    what: "generateContent",
                    detail: sanitize(&error.to_string(), 200),
                })
        },
    );
    Ok(Retry::new(flow, policy, random))
}

/// What to ask: the model, the project, a prompt id, and the Gemini request as JSON.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct GenerateRequest {
    /// The model, such as `gemini-2.5-pro`.
    pub model: String,
    /// The Code Assist project.
    pub project: String,
    /// An id the caller chooses per prompt.
    pub user_prompt_id: String,
    /// The Gemini `GenerateContentRequest`, kept as JSON.
    pub request: Value,
}

impl GenerateRequest {
    /// A request for `model` in `project`.
    pub fn new(
        model: impl Into<String>,
        project: impl Into<String>,
        user_prompt_id: impl Into<String>,
        request: Value,
    ) -> Self {
        Self {
            model: model.into(),
            project: project.into(),
            user_prompt_id: user_prompt_id.into(),
            request,
        }
    }

    fn body(&self) -> Value {
        json!({
            "model": self.model,
            "project": self.project,
            "user_prompt_id": self.user_prompt_id,
            "request": self.request,
        })
    }

    /// `POST {endpoint}/v1internal:generateContent`, with the control plane's headers.
    /// `random` makes the `x-activity-request-id`.
    pub fn to_request<R: rand_core::Rng + ?Sized>(
        &self,
        endpoint: &str,
        token: &Secret,
        random: &mut R,
    ) -> Result<Request, Error> {
        control_request(
            http::Method::POST,
            endpoint,
            ":generateContent",
            token,
            Some(&self.body()),
            &mut SplitMix64::seeded_from(random),
        )
    }

    /// `POST {endpoint}/v1internal:streamGenerateContent?alt=sse`.
    pub fn to_stream_request<R: rand_core::Rng + ?Sized>(
        &self,
        endpoint: &str,
        token: &Secret,
        random: &mut R,
    ) -> Result<Request, Error> {
        let mut request = control_request(
            http::Method::POST,
            endpoint,
            ":streamGenerateContent?alt=sse",
            token,
            Some(&self.body()),
            &mut SplitMix64::seeded_from(random),
        )?;
        request.headers_mut().insert(
            http::header::ACCEPT,
            http::HeaderValue::from_static("text/event-stream"),
        );
        Ok(request)
    }
}
