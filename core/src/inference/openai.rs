//! The Gemini API's OpenAI-compatible endpoint (`{base}/openai/chat/completions`,
//! `{base}/openai/models`) as a pass-through: the host's OpenAI-shaped JSON goes out
//! as it is with authentication added; a streamed answer is read event by event until
//! `data: [DONE]`; errors (which arrive as a JSON array holding Google's envelope, with
//! `BadRequest.fieldViolations` for unknown fields such as `store`) are classified
//! like every other.

use std::time::SystemTime;

use serde_json::Value;

use super::{EventReader, SseDecoder, SseEvent, Target};
use crate::error::ApiError;
use crate::flow::{Call, Map, Request, Response};
use crate::text::sanitize;
use crate::{Error, Secret};

/// Which OpenAI-compatible path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenAiPath {
    /// `POST …/openai/chat/completions`.
    ChatCompletions,
    /// `GET …/openai/models`.
    Models,
}

impl Target {
    /// A request to the OpenAI-compatible endpoint of the Gemini API: `body` (the
    /// host's JSON) as it is, the API key or `token` as `Authorization: Bearer`.
    pub fn openai_request(
        &self,
        path: OpenAiPath,
        body: Option<&Value>,
        token: Option<&Secret>,
    ) -> Result<Request, Error> {
        let Target::GeminiApi { base, api_key } = self else {
            return Err(Error::Config(
                "the OpenAI-compatible endpoint is the Gemini API's".to_owned(),
            ));
        };
        let credential = api_key.as_ref().or(token).ok_or_else(|| {
            Error::Config("the Gemini API needs an API key or an access token".to_owned())
        })?;
        let base = base.trim_end_matches('/');
        let (method, url) = match path {
            OpenAiPath::ChatCompletions => (
                http::Method::POST,
                format!("{base}/openai/chat/completions"),
            ),
            OpenAiPath::Models => (http::Method::GET, format!("{base}/openai/models")),
        };
        let body = match body {
            Some(body) => serde_json::to_vec(body)
                .map_err(|e| Error::Config(format!("the request is not JSON: {e}")))?,
            None => Vec::new(),
        };
        let streamed = body_streams(&body);
        let mut request = crate::flow::request::bearer_request(method, &url, credential, body)?;
        if streamed {
            request.headers_mut().insert(
                http::header::ACCEPT,
                http::HeaderValue::from_static("text/event-stream"),
            );
        }
        Ok(request)
    }
}

fn body_streams(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("stream").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// A non-streamed OpenAI-compatible call: the answer's JSON.
pub fn openai_call(
    target: &Target,
    path: OpenAiPath,
    body: Option<&Value>,
    token: Option<&Secret>,
) -> Result<Map<Call, Value>, Error> {
    let request = target.openai_request(path, body, token)?;
    Ok(Map::new(Call::new(request), |response: Response, _now| {
        serde_json::from_slice(response.body()).map_err(|e| Error::InvalidResponse {
            what: "the OpenAI-compatible endpoint",
            detail: sanitize(&e.to_string(), 200),
        })
    }))
}

/// One piece of an OpenAI-compatible stream.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum OpenAiItem {
    /// A `chat.completion.chunk`, as JSON.
    Chunk(Value),
    /// `data: [DONE]`: the answer is complete.
    Done,
    /// An error in the stream, classified.
    Error(Box<ApiError>),
    /// An event that was not JSON, or broke the decoder's bounds.
    Malformed(String),
}

/// Reads an OpenAI-compatible stream chunk by chunk, until `[DONE]`.
#[derive(Debug, Default)]
pub struct OpenAiStreamReader {
    decoder: SseDecoder,
    done: bool,
    failed: bool,
}

impl OpenAiStreamReader {
    fn interpret(&mut self, event: &SseEvent, now: SystemTime) -> OpenAiItem {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            return OpenAiItem::Done;
        }
        match serde_json::from_str::<Value>(data) {
            Ok(value) if value.is_array() || value.get("error").is_some() => {
                self.failed = true;
                let error =
                    ApiError::from_parts(200, &http::HeaderMap::new(), data.as_bytes(), now);
                OpenAiItem::Error(Box::new(error))
            }
            Ok(value) => OpenAiItem::Chunk(value),
            Err(error) => {
                OpenAiItem::Malformed(sanitize(&format!("an event is not JSON: {error}"), 200))
            }
        }
    }
}

impl EventReader for OpenAiStreamReader {
    type Item = OpenAiItem;

    fn push(&mut self, bytes: &[u8], now: SystemTime) -> Vec<OpenAiItem> {
        let mut events = Vec::new();
        self.decoder.feed(bytes, &mut events);
        events
            .into_iter()
            .map(|event| match event {
                Ok(event) => self.interpret(&event, now),
                Err(error) => OpenAiItem::Malformed(error.to_string()),
            })
            .collect()
    }

    fn finish(&self) -> Result<(), Error> {
        if self.done || self.failed {
            return Ok(());
        }
        Err(Error::InvalidResponse {
            what: "chat/completions",
            detail: "truncated: the stream ended without data: [DONE]".to_owned(),
        })
    }
}
