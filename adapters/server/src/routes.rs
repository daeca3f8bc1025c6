//! One request: the key check, the route, the translation, the call, the answer in
//! the caller's wire, the log line and the metrics.

use std::convert::Infallible;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use codeassist_core::Error;
use codeassist_core::compat::{ErrorReply, Translated, anthropic, gemini, openai};
use codeassist_core::inference::{ModelInfo, StreamItem, models::KNOWN_MODELS};
use codeassist_runtime::ClientError;
use codeassist_tokio::AsyncResponseStream;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::{Body, Gateway};

/// Which wire a request speaks (for its errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    OpenAi,
    Anthropic,
    Gemini,
}

/// What the log line and the metrics say of a request.
#[derive(Debug, Default)]
struct Note {
    route: &'static str,
    asked: Option<String>,
    answered: Option<String>,
    class: Option<String>,
    fallbacks: usize,
}

fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> http::Response<Body> {
    let mut response = http::Response::new(Full::new(body.into()).boxed_unsync());
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn json_response(status: u16, body: &Value) -> http::Response<Body> {
    full(status, "application/json", body.to_string())
}

/// An error reply of any wire: its status, `Retry-After` and body.
fn error_response(reply: ErrorReply) -> http::Response<Body> {
    let mut response = json_response(reply.status, &reply.body);
    if let Some(seconds) = reply.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn with_model(mut response: http::Response<Body>, model: &str) -> http::Response<Body> {
    if let Ok(value) = HeaderValue::from_str(model) {
        response.headers_mut().insert("x-codeassist-model", value);
    }
    response
}

/// A random id: `prefix` and 24 hex digits.
fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

fn unix_now() -> i64 {
    codeassist_core::oauth::unix_seconds(SystemTime::now())
}

/// The core error of a client failure (store and task failures become a
/// configuration error with their own words).
fn core_error(error: ClientError) -> Error {
    match error {
        ClientError::Flow(error) => error,
        other => Error::Config(other.to_string()),
    }
}

fn class_of(error: &Error) -> String {
    match error.root() {
        Error::Api(api) => api.class().to_string(),
        _ if error.needs_sign_in() => "not_signed_in".to_owned(),
        _ => "gateway".to_owned(),
    }
}

/// A failure in the caller's wire.
fn failure(wire: Wire, error: &Error) -> http::Response<Body> {
    error_response(match wire {
        Wire::OpenAi => openai::failure_reply(error),
        Wire::Anthropic => anthropic::failure_reply(error),
        Wire::Gemini => gemini::failure_reply(error),
    })
}

/// A refused or malformed request in the caller's wire.
fn bad_request(wire: Wire, refusal: &codeassist_core::compat::Refusal) -> http::Response<Body> {
    error_response(match wire {
        Wire::OpenAi => openai::refusal_reply(refusal),
        Wire::Anthropic => anthropic::refusal_reply(refusal),
        Wire::Gemini => gemini::reply(400, &refusal.to_string()),
    })
}

fn plain_error(wire: Wire, status: u16, message: &str) -> http::Response<Body> {
    let body = match wire {
        Wire::OpenAi => {
            json!({"error": {"message": message, "type": "invalid_request_error", "code": null, "param": null}})
        }
        Wire::Anthropic => {
            json!({"type": "error", "error": {"type": if status == 404 { "not_found_error" } else { "invalid_request_error" }, "message": message}})
        }
        Wire::Gemini => gemini::reply(status, message).body,
    };
    json_response(status, &body)
}

fn unauthorized(wire: Wire) -> http::Response<Body> {
    error_response(match wire {
        Wire::OpenAi => openai::unauthorized(),
        Wire::Anthropic => anthropic::unauthorized(),
        Wire::Gemini => gemini::reply(401, "a valid API key for this gateway is required"),
    })
}

/// The key a request presents: `Authorization: Bearer`, `x-api-key`,
/// `x-goog-api-key` or `?key=`.
fn presented_key(request: &http::Request<Incoming>) -> Option<String> {
    let headers = request.headers();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(bearer) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return Some(bearer.trim().to_owned());
    }
    for name in ["x-api-key", "x-goog-api-key"] {
        if let Some(key) = header(name) {
            return Some(key.to_owned());
        }
    }
    url::form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes())
        .find(|(name, _)| name == "key")
        .map(|(_, value)| value.into_owned())
}

fn wire_of(path: &str, request: &http::Request<Incoming>) -> Wire {
    if path.starts_with("/v1/messages")
        || (path == "/v1/models" && request.headers().contains_key("anthropic-version"))
    {
        Wire::Anthropic
    } else if path.starts_with("/v1beta/")
        || path.starts_with("/v1/models/")
        // google-genai on `v1` lists at the OpenAI path; it names itself.
        || (path == "/v1/models"
            && (request.headers().contains_key("x-goog-api-client")
                || request.headers().contains_key("x-goog-api-key")))
    {
        Wire::Gemini
    } else {
        Wire::OpenAi
    }
}

pub(crate) async fn handle(
    gateway: &Gateway,
    request: http::Request<Incoming>,
) -> http::Response<Body> {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let wire = wire_of(&path, &request);
    let mut note = Note::default();
    let response = route(gateway, request, &path, wire, &mut note).await;
    let status = response.status().as_u16();
    let metrics = &gateway.inner.metrics;
    metrics.request(note.route, status);
    if let Some(class) = &note.class {
        metrics.error(class);
    }
    metrics.fallbacks(note.fallbacks);
    if note.route != "healthz" && note.route != "metrics" {
        tracing::info!(
            target: "codeassist::serve",
            %method,
            path = %codeassist_core::text::sanitize(&path, 120),
            asked = note.asked.as_deref().unwrap_or("-"),
            answered = note.answered.as_deref().unwrap_or("-"),
            status,
            class = note.class.as_deref().unwrap_or("-"),
            ms = started.elapsed().as_millis() as u64,
            fallbacks = note.fallbacks,
            "request"
        );
    }
    response
}

async fn route(
    gateway: &Gateway,
    request: http::Request<Incoming>,
    path: &str,
    wire: Wire,
    note: &mut Note,
) -> http::Response<Body> {
    let method = request.method().clone();
    if path == "/healthz" {
        note.route = "healthz";
        return full(200, "text/plain", "ok\n");
    }
    let config = &gateway.inner.config;
    if let Some(expected) = &config.api_key {
        let presented = presented_key(&request).unwrap_or_default();
        if !expected.constant_time_eq(&presented) {
            note.route = "unauthorized";
            return unauthorized(wire);
        }
    }
    if path == "/metrics" {
        note.route = "metrics";
        gateway
            .inner
            .metrics
            .sync_refreshes(gateway.inner.client.core().refreshes());
        return full(
            200,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            gateway.inner.metrics.render(),
        );
    }
    let query = request.uri().query().unwrap_or("").to_owned();
    let body = match read_body(request, config.max_request).await {
        Ok(body) => body,
        Err(status) => {
            note.route = "too_large";
            return plain_error(
                wire,
                status,
                "the request body is too large, too slow or broken",
            );
        }
    };
    match (method.as_str(), path) {
        ("POST", "/v1/chat/completions") => {
            note.route = "openai_chat";
            chat_completions(gateway, &body, note).await
        }
        ("GET", "/v1/models") if wire == Wire::Gemini => {
            note.route = "gemini";
            native(gateway, "GET", path, &query, &body, note).await
        }
        ("GET", "/v1/models") => {
            note.route = "models";
            list_models(gateway, wire, note).await
        }
        ("POST", "/v1/messages") => {
            note.route = "anthropic_messages";
            messages(gateway, &body, note).await
        }
        ("POST", "/v1/messages/count_tokens") => {
            note.route = "anthropic_count_tokens";
            count_tokens(gateway, &body, note).await
        }
        (_, p) if p.starts_with("/v1beta/models") || p.starts_with("/v1/models/") => {
            note.route = "gemini";
            native(gateway, method.as_str(), p, &query, &body, note).await
        }
        _ => {
            note.route = "not_found";
            plain_error(
                wire,
                404,
                &format!(
                    "{method} {} is not a route of this gateway",
                    codeassist_core::text::sanitize(path, 120)
                ),
            )
        }
    }
}

async fn read_body(request: http::Request<Incoming>, max: usize) -> Result<Bytes, u16> {
    let reading = Limited::new(request.into_body(), max).collect();
    match tokio::time::timeout(crate::REQUEST_READ_TIMEOUT, reading).await {
        Err(_) => Err(408),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => Err(413),
        Ok(Err(_)) => Err(400),
    }
}

fn parse_json(body: &[u8]) -> Result<Value, codeassist_core::compat::Refusal> {
    serde_json::from_slice(body)
        .map_err(|_| codeassist_core::compat::Refusal::new("body", "is not JSON"))
}

/// The answer to one Gemini request, with fallback when configured: the model that
/// answered, the switches made, and the answer.
async fn generate(
    gateway: &Gateway,
    model: &str,
    request: Value,
) -> Result<(String, usize, Value), Error> {
    let inner = &gateway.inner;
    let started = Instant::now();
    let outcome = if inner.config.fallback {
        inner
            .client
            .generate_with_fallback(&inner.config.target, model, request)
            .await
            .map(|answered| {
                (
                    answered.model,
                    answered.switches.len(),
                    answered.output.response,
                )
            })
    } else {
        inner
            .client
            .generate_on(&inner.config.target, model, request)
            .await
            .map(|chunk| (model.to_owned(), 0, chunk.response))
    };
    inner.metrics.upstream(started.elapsed().as_secs_f64());
    outcome.map_err(core_error)
}

/// A stream opened, with fallback when configured.
async fn open(
    gateway: &Gateway,
    model: &str,
    request: Value,
) -> Result<(String, usize, AsyncResponseStream), Error> {
    let inner = &gateway.inner;
    let started = Instant::now();
    let outcome = if inner.config.fallback {
        inner
            .client
            .stream_with_fallback(&inner.config.target, model, request)
            .await
            .map(|(answered, stream)| (answered.model, answered.switches.len(), stream))
    } else {
        inner
            .client
            .stream_on(&inner.config.target, model, request)
            .await
            .map(|stream| (model.to_owned(), 0, stream))
    };
    inner.metrics.upstream(started.elapsed().as_secs_f64());
    outcome.map_err(core_error)
}

fn note_failure(note: &mut Note, error: &Error) {
    note.class = Some(class_of(error));
}

async fn chat_completions(gateway: &Gateway, body: &[u8], note: &mut Note) -> http::Response<Body> {
    let translated =
        match parse_json(body).and_then(|v| openai::to_gemini(&v, gateway.inner.config.options)) {
            Ok(translated) => translated,
            Err(refusal) => return bad_request(Wire::OpenAi, &refusal),
        };
    note.asked = Some(translated.model.clone());
    let Translated {
        model,
        request,
        stream,
        include_usage,
        single_tool_call,
        ..
    } = translated;
    let id = random_id("chatcmpl-");
    let created = unix_now();
    if stream {
        return match open(gateway, &model, request).await {
            Ok((answered, switches, upstream)) => {
                note.answered = Some(answered.clone());
                note.fallbacks = switches;
                let mut meta = openai::AnswerMeta::new(id, created, answered.clone());
                meta.single_tool_call = single_tool_call;
                let translator = OpenAiEvents(openai::StreamTranslator::new(meta, include_usage));
                with_model(relay(gateway, upstream, translator), &answered)
            }
            Err(error) => {
                note_failure(note, &error);
                failure(Wire::OpenAi, &error)
            }
        };
    }
    match generate(gateway, &model, request).await {
        Ok((answered, switches, response)) => {
            note.answered = Some(answered.clone());
            note.fallbacks = switches;
            let mut meta = openai::AnswerMeta::new(id, created, answered.clone());
            meta.single_tool_call = single_tool_call;
            with_model(
                json_response(200, &openai::from_gemini(&response, &meta)),
                &answered,
            )
        }
        Err(error) => {
            note_failure(note, &error);
            failure(Wire::OpenAi, &error)
        }
    }
}

async fn messages(gateway: &Gateway, body: &[u8], note: &mut Note) -> http::Response<Body> {
    let translated = match parse_json(body)
        .and_then(|v| anthropic::to_gemini(&v, gateway.inner.config.options))
    {
        Ok(translated) => translated,
        Err(refusal) => return bad_request(Wire::Anthropic, &refusal),
    };
    note.asked = Some(translated.model.clone());
    let Translated {
        model,
        request,
        stream,
        single_tool_call,
        ..
    } = translated;
    let id = random_id("msg_");
    if stream {
        return match open(gateway, &model, request).await {
            Ok((answered, switches, upstream)) => {
                note.answered = Some(answered.clone());
                note.fallbacks = switches;
                let mut meta = anthropic::AnswerMeta::new(id, answered.clone());
                meta.single_tool_call = single_tool_call;
                let translator = AnthropicEvents(anthropic::StreamTranslator::new(meta));
                with_model(relay(gateway, upstream, translator), &answered)
            }
            Err(error) => {
                note_failure(note, &error);
                failure(Wire::Anthropic, &error)
            }
        };
    }
    match generate(gateway, &model, request).await {
        Ok((answered, switches, response)) => {
            note.answered = Some(answered.clone());
            note.fallbacks = switches;
            let mut meta = anthropic::AnswerMeta::new(id, answered.clone());
            meta.single_tool_call = single_tool_call;
            with_model(
                json_response(200, &anthropic::from_gemini(&response, &meta)),
                &answered,
            )
        }
        Err(error) => {
            note_failure(note, &error);
            failure(Wire::Anthropic, &error)
        }
    }
}

async fn count_tokens(gateway: &Gateway, body: &[u8], note: &mut Note) -> http::Response<Body> {
    let (model, request) = match parse_json(body)
        .and_then(|v| anthropic::count_tokens_request(&v, gateway.inner.config.options))
    {
        Ok(parts) => parts,
        Err(refusal) => return bad_request(Wire::Anthropic, &refusal),
    };
    note.asked = Some(model.clone());
    let inner = &gateway.inner;
    match inner
        .client
        .count_tokens_on(&inner.config.target, &model, request)
        .await
    {
        Ok(total) => json_response(
            200,
            &anthropic::count_tokens_answer(&json!({"totalTokens": total})),
        ),
        Err(error) => {
            let error = core_error(error);
            note_failure(note, &error);
            failure(Wire::Anthropic, &error)
        }
    }
}

/// The models the target offers for generation (every page of the Gemini API's
/// list; the known current models elsewhere).
async fn model_infos(gateway: &Gateway) -> Result<Vec<ModelInfo>, Error> {
    let inner = &gateway.inner;
    match inner.config.target.kind() {
        codeassist_core::inference::TargetKind::GeminiApi => inner
            .client
            .list_models_on(&inner.config.target)
            .await
            .map(|models| {
                models
                    .into_iter()
                    .filter(|m| {
                        m.methods.is_empty() || m.methods.iter().any(|g| g == "generateContent")
                    })
                    .collect()
            })
            .map_err(core_error),
        _ => Ok(KNOWN_MODELS
            .iter()
            .map(|id| ModelInfo::known(*id))
            .collect()),
    }
}

async fn list_models(gateway: &Gateway, wire: Wire, note: &mut Note) -> http::Response<Body> {
    match model_infos(gateway).await {
        Ok(models) => {
            let ids: Vec<String> = models.into_iter().map(|m| m.name).collect();
            match wire {
                Wire::Anthropic => json_response(200, &anthropic::models_list(&ids)),
                _ => json_response(200, &openai::models_list(&ids, unix_now())),
            }
        }
        Err(error) => {
            note_failure(note, &error);
            failure(wire, &error)
        }
    }
}

fn gemini_model(info: &ModelInfo) -> Value {
    json!({"name": format!("models/{}", info.name), "displayName": info.name,
        "inputTokenLimit": info.input_token_limit, "outputTokenLimit": info.output_token_limit,
        "supportedGenerationMethods": info.methods})
}

/// The Gemini routes, passed through: the caller's key is never forwarded (the
/// gateway's own credentials are used), fallback applies.
async fn native(
    gateway: &Gateway,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    note: &mut Note,
) -> http::Response<Body> {
    let rest = path
        .strip_prefix("/v1beta/models")
        .or_else(|| path.strip_prefix("/v1/models"))
        .unwrap_or("");
    if method == "GET" {
        let models = match model_infos(gateway).await {
            Ok(models) => models,
            Err(error) => {
                note_failure(note, &error);
                return failure(Wire::Gemini, &error);
            }
        };
        let wanted = rest.trim_start_matches('/');
        if wanted.is_empty() {
            let list: Vec<Value> = models.iter().map(gemini_model).collect();
            return json_response(200, &json!({"models": list}));
        }
        return match models.iter().find(|m| m.name == wanted) {
            Some(model) => json_response(200, &gemini_model(model)),
            None => plain_error(
                Wire::Gemini,
                404,
                &format!(
                    "models/{} is not found",
                    codeassist_core::text::sanitize(wanted, 80)
                ),
            ),
        };
    }
    let Some((model, action)) = rest.trim_start_matches('/').split_once(':') else {
        return plain_error(Wire::Gemini, 404, "not a Gemini model method");
    };
    let model = model.to_owned();
    note.asked = Some(model.clone());
    let request: Value = match serde_json::from_slice(body) {
        Ok(request @ Value::Object(_)) => request,
        _ => return plain_error(Wire::Gemini, 400, "the body is not a JSON object"),
    };
    match action {
        "generateContent" => match generate(gateway, &model, request).await {
            Ok((answered, switches, response)) => {
                note.answered = Some(answered.clone());
                note.fallbacks = switches;
                with_model(json_response(200, &response), &answered)
            }
            Err(error) => {
                note_failure(note, &error);
                failure(Wire::Gemini, &error)
            }
        },
        "streamGenerateContent" => match open(gateway, &model, request).await {
            Ok((answered, switches, upstream)) => {
                note.answered = Some(answered.clone());
                note.fallbacks = switches;
                let sse = query.split('&').any(|pair| pair == "alt=sse");
                with_model(
                    relay(gateway, upstream, GeminiEvents { sse, first: true }),
                    &answered,
                )
            }
            Err(error) => {
                note_failure(note, &error);
                failure(Wire::Gemini, &error)
            }
        },
        "countTokens" => {
            let inner = &gateway.inner;
            match inner
                .client
                .count_tokens_on(&inner.config.target, &model, request)
                .await
            {
                Ok(total) => json_response(200, &json!({"totalTokens": total})),
                Err(error) => {
                    let error = core_error(error);
                    note_failure(note, &error);
                    failure(Wire::Gemini, &error)
                }
            }
        }
        _ => plain_error(
            Wire::Gemini,
            404,
            "not a Gemini model method this gateway serves",
        ),
    }
}

/// How one wire writes a stream.
trait Events: Send + 'static {
    /// The content type.
    fn content_type(&self) -> &'static str;
    /// The bytes for one Gemini chunk.
    fn chunk(&mut self, response: &Value) -> Bytes;
    /// The bytes that end the stream well.
    fn end(&mut self) -> Bytes;
    /// The bytes that end a stream broken by `error`.
    fn error(&mut self, error: &Error) -> Bytes;
}

struct OpenAiEvents(openai::StreamTranslator);

impl Events for OpenAiEvents {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }
    fn chunk(&mut self, response: &Value) -> Bytes {
        openai::render(&self.0.push(response), false).into()
    }
    fn end(&mut self) -> Bytes {
        openai::render(&self.0.finish(), true).into()
    }
    fn error(&mut self, error: &Error) -> Bytes {
        let body = match error.root() {
            Error::Api(api) => self.0.error(api),
            other => openai::failure_reply(other).body,
        };
        openai::render(&[body], false).into()
    }
}

struct AnthropicEvents(anthropic::StreamTranslator);

impl Events for AnthropicEvents {
    fn content_type(&self) -> &'static str {
        "text/event-stream"
    }
    fn chunk(&mut self, response: &Value) -> Bytes {
        anthropic::render(&self.0.push(response)).into()
    }
    fn end(&mut self) -> Bytes {
        anthropic::render(&self.0.finish()).into()
    }
    fn error(&mut self, error: &Error) -> Bytes {
        let event = match error.root() {
            Error::Api(api) => self.0.error(api),
            other => ("error", anthropic::failure_reply(other).body),
        };
        anthropic::render(&[event]).into()
    }
}

/// Gemini's own stream: server-sent events (`alt=sse`), else a JSON array as
/// Google writes it without `alt=sse`.
struct GeminiEvents {
    sse: bool,
    first: bool,
}

impl Events for GeminiEvents {
    fn content_type(&self) -> &'static str {
        if self.sse {
            "text/event-stream"
        } else {
            "application/json"
        }
    }
    fn chunk(&mut self, response: &Value) -> Bytes {
        if self.sse {
            return format!("data: {response}\r\n\r\n").into();
        }
        let lead = if std::mem::replace(&mut self.first, false) {
            "["
        } else {
            ",\r\n"
        };
        format!("{lead}{response}").into()
    }
    fn end(&mut self) -> Bytes {
        match (self.sse, self.first) {
            (true, _) => Bytes::new(),
            (false, true) => "[]".into(),
            (false, false) => "]".into(),
        }
    }
    fn error(&mut self, error: &Error) -> Bytes {
        let body = gemini::failure_reply(error).body;
        if self.sse {
            return format!("data: {body}\r\n\r\n").into();
        }
        let lead = if std::mem::replace(&mut self.first, false) {
            "["
        } else {
            ",\r\n"
        };
        format!("{lead}{body}]").into()
    }
}

/// A body fed by a channel: the pump task writes, hyper reads as the client does.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|bytes| bytes.map(|b| Ok(Frame::data(b))))
    }
}

/// How many frames may wait for a slow client before the upstream read pauses.
const CHANNEL_FRAMES: usize = 4;

/// Relays `upstream` to the client in `events`' wire, through a pump task: a slow
/// client slows the upstream read; a client gone ends it at once; a shutdown lets it
/// go on for the drain time, then ends it with an error event.
fn relay(
    gateway: &Gateway,
    mut upstream: AsyncResponseStream,
    mut events: impl Events,
) -> http::Response<Body> {
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_FRAMES);
    let content_type = events.content_type();
    let guard = gateway.inner.metrics.stream_opened();
    let mut draining = gateway.inner.draining.subscribe();
    let drain = gateway.inner.config.drain;
    tokio::spawn(async move {
        let _guard = guard;
        let mut deadline: Option<tokio::time::Instant> = None;
        if *draining.borrow() {
            deadline = Some(tokio::time::Instant::now() + drain);
        }
        loop {
            let cut = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                item = upstream.next() => {
                    let (bytes, last) = match item {
                        None => (events.end(), true),
                        Some(Ok(StreamItem::Chunk(chunk))) => (events.chunk(&chunk.response), false),
                        Some(Ok(StreamItem::Error(error))) => (events.error(&Error::Api(error)), true),
                        Some(Ok(StreamItem::Malformed(what))) => {
                            tracing::debug!(%what, "a malformed event was skipped");
                            continue;
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(error)) => (events.error(&error), true),
                    };
                    if !bytes.is_empty()
                        && !matches!(
                            tokio::time::timeout(crate::CALLER_STALL_TIMEOUT, sender.send(bytes)).await,
                            Ok(Ok(()))
                        )
                    {
                        tracing::debug!("the client went away; the upstream request is dropped");
                        break;
                    }
                    if last {
                        break;
                    }
                }
                () = sender.closed() => {
                    tracing::debug!("the client went away; the upstream request is dropped");
                    break;
                }
                changed = draining.changed(), if deadline.is_none() => {
                    if changed.is_err() || *draining.borrow() {
                        deadline = Some(tokio::time::Instant::now() + drain);
                    }
                }
                () = cut => {
                    let error = Error::Config("the gateway is shutting down".into());
                    let _ = sender.send(events.error(&error)).await;
                    break;
                }
            }
        }
    });
    let mut response = http::Response::new(ChannelBody(receiver).boxed_unsync());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
