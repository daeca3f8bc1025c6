//! Anthropic Messages ⇄ Gemini: see the [room's docs](super) for what is settled here
//! once for every wire.
//!
//! ```
//! use codeassist_core::compat::{Options, anthropic};
//! use serde_json::json;
//!
//! let asked = json!({"model": "gemini-2.5-pro", "max_tokens": 512, "system": "Be brief.",
//!     "thinking": {"type": "enabled", "budget_tokens": 2048},
//!     "messages": [{"role": "user", "content": "Hi"}]});
//! let translated = anthropic::to_gemini(&asked, Options::default()).unwrap();
//! assert_eq!(translated.request["generationConfig"]["maxOutputTokens"], 512);
//! assert_eq!(translated.request["generationConfig"]["thinkingConfig"]["thinkingBudget"], 2048);
//! ```

use std::collections::HashMap;

use serde_json::{Map, Value, json};

pub use super::ErrorReply;
use super::signature::{normalize, signature_from_id, tool_call_id};
use super::{
    Ending, Options, Piece, Refusal, SKIP_SIGNATURE, Strictness, Translated, Usage, answer_tag,
    candidates, declaration, ending, function_response, model_of, number, pieces, retry_after_secs,
    set, stop_sequences, think,
};
use crate::error::{ApiError, ErrorClass};
use crate::inference::models::Thinking;

/// The fields of a request this translation reads.
const KNOWN: [&str; 13] = [
    "model",
    "messages",
    "system",
    "max_tokens",
    "tools",
    "tool_choice",
    "thinking",
    "stop_sequences",
    "temperature",
    "top_p",
    "top_k",
    "metadata",
    "stream",
];

/// Translates an Anthropic `POST /v1/messages` body.
pub fn to_gemini(body: &Value, options: Options) -> Result<Translated, Refusal> {
    let object = body
        .as_object()
        .ok_or_else(|| Refusal::new("body", "must be a JSON object"))?;
    let mut strict = Strictness::new(options);
    strict.unknown_keys(object, &KNOWN)?;
    let model = model_of(object.get("model"))?;
    let mut request = conversation(object, &mut strict)?;
    let mut config = Map::new();
    let max = object
        .get("max_tokens")
        .filter(|m| m.as_u64().is_some_and(|m| m > 0))
        .ok_or_else(|| Refusal::new("max_tokens", "a positive number is required"))?;
    set(&mut config, "maxOutputTokens", max.clone());
    for (field, key) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("top_k", "topK"),
    ] {
        if let Some(value) = object.get(field).filter(|v| !v.is_null()) {
            set(&mut config, key, number(value, field)?);
        }
    }
    if let Some(stop) = object.get("stop_sequences")
        && let Some(stops) = stop_sequences(stop, "stop_sequences")?
    {
        set(&mut config, "stopSequences", stops);
    }
    request["generationConfig"] = Value::Object(config);
    let mut single_tool_call = false;
    if let Some(choice) = object.get("tool_choice").filter(|c| !c.is_null()) {
        let mode = match choice.get("type").and_then(Value::as_str) {
            Some("auto") => json!({"mode": "AUTO"}),
            Some("any") => json!({"mode": "ANY"}),
            Some("none") => json!({"mode": "NONE"}),
            Some("tool") => {
                let name = choice
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Refusal::new("tool_choice.name", "is required"))?;
                json!({"mode": "ANY", "allowedFunctionNames": [name]})
            }
            _ => {
                return Err(Refusal::new(
                    "tool_choice.type",
                    "must be auto, any, tool or none",
                ));
            }
        };
        single_tool_call = choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        request["toolConfig"] = json!({"functionCallingConfig": mode});
    }
    if let Some(thinking) = object.get("thinking").filter(|t| !t.is_null()) {
        let setting = match thinking.get("type").and_then(Value::as_str) {
            Some("enabled") => {
                let budget = thinking
                    .get("budget_tokens")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| Refusal::new("thinking.budget_tokens", "is required"))?;
                Thinking::Budget(u32::try_from(budget).unwrap_or(u32::MAX))
            }
            Some("disabled") => Thinking::None,
            _ => return Err(Refusal::new("thinking.type", "must be enabled or disabled")),
        };
        think(&mut request, &model, setting);
    }
    // `metadata.user_id` identifies the caller's own users: never forwarded.
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Refusal::new("stream", "must be true or false")),
    };
    Ok(Translated {
        model,
        request,
        stream,
        include_usage: true,
        single_tool_call,
        dropped: strict.into_dropped(),
    })
}

/// The system prompt, messages and tools as a Gemini request (also what
/// `count_tokens` counts).
fn conversation(object: &Map<String, Value>, strict: &mut Strictness) -> Result<Value, Refusal> {
    let mut request = json!({});
    match object.get("system") {
        None | Some(Value::Null) => {}
        Some(Value::String(text)) => {
            request["systemInstruction"] = json!({"parts": [{"text": text}]})
        }
        Some(Value::Array(blocks)) => {
            let mut parts = Vec::new();
            for (i, block) in blocks.iter().enumerate() {
                let text = block
                    .get("text")
                    .and_then(Value::as_str)
                    .filter(|_| block.get("type").and_then(Value::as_str) == Some("text"))
                    .ok_or_else(|| Refusal::new(format!("system[{i}]"), "must be a text block"))?;
                parts.push(json!({"text": text}));
            }
            request["systemInstruction"] = json!({"parts": parts});
        }
        Some(_) => return Err(Refusal::new("system", "must be a string or text blocks")),
    }
    request["contents"] = Value::Array(messages(object.get("messages"), strict)?);
    if let Some(tools) = object.get("tools").filter(|t| !t.is_null()) {
        let tools = tools
            .as_array()
            .ok_or_else(|| Refusal::new("tools", "must be a list"))?;
        let mut declarations = Vec::new();
        for (i, tool) in tools.iter().enumerate() {
            let field = format!("tools[{i}]");
            if tool
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t != "custom")
            {
                strict.unsupported(&format!("{field}.type"), "server tools are not supported")?;
                continue;
            }
            declarations.push(declaration(
                tool.get("name"),
                tool.get("description"),
                tool.get("input_schema"),
                &field,
            )?);
        }
        if !declarations.is_empty() {
            request["tools"] = json!([{"functionDeclarations": declarations}]);
        }
    }
    Ok(request)
}

fn messages(messages: Option<&Value>, strict: &mut Strictness) -> Result<Vec<Value>, Refusal> {
    let messages = messages
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Refusal::new("messages", "a non-empty list is required"))?;
    let mut names: HashMap<String, String> = HashMap::new();
    let mut contents: Vec<Value> = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        let field = format!("messages[{i}]");
        let role = match message.get("role").and_then(Value::as_str) {
            Some("user") => "user",
            Some("assistant") => "model",
            _ => {
                return Err(Refusal::new(
                    format!("{field}.role"),
                    "must be user or assistant",
                ));
            }
        };
        let blocks = match message.get("content") {
            Some(Value::String(text)) => vec![json!({"type": "text", "text": text})],
            Some(Value::Array(blocks)) => blocks.clone(),
            _ => {
                return Err(Refusal::new(
                    format!("{field}.content"),
                    "must be a string or blocks",
                ));
            }
        };
        let mut parts = Vec::new();
        // A signature from a thinking block goes on the part that follows it.
        let mut pending_signature: Option<String> = None;
        let mut calls_in_turn = 0;
        for (j, block) in blocks.iter().enumerate() {
            let field = format!("{field}.content[{j}]");
            let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
            let mut part = match kind {
                "text" => json!({"text": block.get("text").and_then(Value::as_str).unwrap_or("")}),
                "image" => image(block, &field)?,
                "thinking" => {
                    if let Some(signature) = block
                        .get("signature")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                    {
                        pending_signature = Some(normalize(signature));
                    }
                    continue;
                }
                // Encrypted thinking Gemini never sends: nothing of it to return.
                "redacted_thinking" => continue,
                "tool_use" => {
                    let name = block
                        .get("name")
                        .and_then(Value::as_str)
                        .ok_or_else(|| Refusal::new(format!("{field}.name"), "is required"))?;
                    let id = block.get("id").and_then(Value::as_str).unwrap_or("");
                    names.insert(id.to_owned(), name.to_owned());
                    let input = match block.get("input") {
                        Some(input @ Value::Object(_)) => input.clone(),
                        None | Some(Value::Null) => json!({}),
                        Some(_) => {
                            return Err(Refusal::new(
                                format!("{field}.input"),
                                "must be an object",
                            ));
                        }
                    };
                    let mut part = json!({"functionCall": {"name": name, "args": input}});
                    if calls_in_turn == 0 {
                        let signature = pending_signature
                            .take()
                            .or_else(|| signature_from_id(id))
                            .unwrap_or_else(|| SKIP_SIGNATURE.to_owned());
                        part["thoughtSignature"] = json!(signature);
                    }
                    calls_in_turn += 1;
                    part
                }
                "tool_result" => {
                    let id = block
                        .get("tool_use_id")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let name = names.get(id).cloned().ok_or_else(|| {
                        Refusal::new(
                            format!("{field}.tool_use_id"),
                            "names no tool_use of an earlier assistant message",
                        )
                    })?;
                    let failed = block
                        .get("is_error")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let text = match block.get("content") {
                        None | Some(Value::Null) => String::new(),
                        Some(Value::String(text)) => text.clone(),
                        Some(Value::Array(inner)) => {
                            let mut text = String::new();
                            for (k, item) in inner.iter().enumerate() {
                                match item.get("type").and_then(Value::as_str) {
                                    Some("text") => text.push_str(
                                        item.get("text").and_then(Value::as_str).unwrap_or(""),
                                    ),
                                    _ => strict.unsupported(
                                        &format!("{field}.content[{k}]"),
                                        "only text is translated inside a tool result",
                                    )?,
                                }
                            }
                            text
                        }
                        Some(_) => {
                            return Err(Refusal::new(
                                format!("{field}.content"),
                                "must be a string or blocks",
                            ));
                        }
                    };
                    function_response(&name, &text, failed)
                }
                "document" => {
                    let data = block.pointer("/source/data").and_then(Value::as_str);
                    let mime = block.pointer("/source/media_type").and_then(Value::as_str);
                    match (
                        block.pointer("/source/type").and_then(Value::as_str),
                        data,
                        mime,
                    ) {
                        (Some("base64"), Some(data), Some(mime)) => {
                            json!({"inlineData": {"mimeType": mime, "data": data}})
                        }
                        (Some("text"), Some(data), _) => json!({"text": data}),
                        _ => {
                            return Err(Refusal::new(
                                format!("{field}.source"),
                                "only base64 or text documents are supported",
                            ));
                        }
                    }
                }
                _ => {
                    strict.unsupported(
                        &format!("{field}.type"),
                        "this block type is not supported",
                    )?;
                    continue;
                }
            };
            if let Some(signature) = pending_signature.take()
                && part.get("thoughtSignature").is_none()
            {
                part["thoughtSignature"] = json!(signature);
            }
            parts.push(part);
        }
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(existing) = last["parts"].as_array_mut() {
                    existing.extend(parts);
                }
            }
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    if contents.is_empty() {
        return Err(Refusal::new("messages", "no content to send"));
    }
    Ok(contents)
}

fn image(block: &Value, field: &str) -> Result<Value, Refusal> {
    let source = block
        .get("source")
        .ok_or_else(|| Refusal::new(format!("{field}.source"), "is required"))?;
    match source.get("type").and_then(Value::as_str) {
        Some("base64") => {
            let mime = source.get("media_type").and_then(Value::as_str);
            let data = source.get("data").and_then(Value::as_str);
            match (mime, data) {
                (Some(mime), Some(data)) => {
                    Ok(json!({"inlineData": {"mimeType": mime, "data": data}}))
                }
                _ => Err(Refusal::new(
                    format!("{field}.source"),
                    "needs media_type and data",
                )),
            }
        }
        _ => Err(Refusal::new(
            format!("{field}.source.type"),
            "only base64 images are supported",
        )),
    }
}

/// `POST /v1/messages/count_tokens` as a Gemini `countTokens` body: the system
/// prompt, messages and tools counted together, as Anthropic counts them.
pub fn count_tokens_request(body: &Value, options: Options) -> Result<(String, Value), Refusal> {
    let object = body
        .as_object()
        .ok_or_else(|| Refusal::new("body", "must be a JSON object"))?;
    let model = model_of(object.get("model"))?;
    let mut strict = Strictness::new(options);
    let mut request = conversation(object, &mut strict)?;
    request["model"] = json!(format!("models/{model}"));
    Ok((model, json!({"generateContentRequest": request})))
}

/// Gemini's `countTokens` answer as Anthropic's (`{"input_tokens": n}`).
pub fn count_tokens_answer(answer: &Value) -> Value {
    json!({"input_tokens": answer.get("totalTokens").and_then(Value::as_u64).unwrap_or(0)})
}

/// What every event of one answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnswerMeta {
    /// `msg_…`.
    pub id: String,
    /// The model that answered (after fallback).
    pub model: String,
    /// Keep only the first tool call ([`Translated::single_tool_call`]).
    pub single_tool_call: bool,
}

impl AnswerMeta {
    /// The answer `id` by `model`.
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            single_tool_call: false,
        }
    }
}

fn stop_reason(ending: Ending) -> &'static str {
    match ending {
        Ending::Stop => "end_turn",
        Ending::Length => "max_tokens",
        Ending::Filtered => "refusal",
        Ending::ToolCalls => "tool_use",
    }
}

/// Anthropic's usage object.
pub fn usage(usage: &Usage) -> Value {
    json!({
        "input_tokens": usage.input().saturating_sub(usage.cached),
        "output_tokens": usage.output(),
        "cache_read_input_tokens": usage.cached,
        "cache_creation_input_tokens": 0,
    })
}

/// A whole Gemini answer as Anthropic's message object.
pub fn from_gemini(response: &Value, meta: &AnswerMeta) -> Value {
    let candidate = candidates(response)
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let mut content = Vec::new();
    let mut calls = 0;
    for piece in pieces(&candidate) {
        match piece {
            Piece::Text(text) => match content.last_mut() {
                Some(Value::Object(last)) if last.get("type") == Some(&json!("text")) => {
                    let joined = format!("{}{text}", last["text"].as_str().unwrap_or(""));
                    last.insert("text".into(), json!(joined));
                }
                _ => content.push(json!({"type": "text", "text": text})),
            },
            Piece::Thought { text, signature } => {
                match content.last_mut() {
                    Some(Value::Object(last)) if last.get("type") == Some(&json!("thinking")) && last["signature"] == "" => {
                        let joined = format!("{}{text}", last["thinking"].as_str().unwrap_or(""));
                        last.insert("thinking".into(), json!(joined));
                        if let Some(signature) = signature {
                            last.insert("signature".into(), json!(signature));
                        }
                    }
                    _ => content.push(json!({"type": "thinking", "thinking": text, "signature": signature.unwrap_or_default()})),
                }
            }
            Piece::Call { name, args, signature } => {
                if meta.single_tool_call && calls > 0 {
                    continue;
                }
                let prefix = format!("toolu_{}_", answer_tag(&meta.id));
                content.push(json!({"type": "tool_use", "id": tool_call_id(&prefix, calls, signature.as_deref()),
                    "name": name, "input": args}));
                calls += 1;
            }
        }
    }
    let end = ending(
        candidate.get("finishReason").and_then(Value::as_str),
        calls > 0,
    );
    json!({
        "id": meta.id, "type": "message", "role": "assistant", "model": meta.model,
        "content": content, "stop_reason": stop_reason(end), "stop_sequence": null,
        "usage": usage(&Usage::of(response).unwrap_or_default()),
    })
}

/// The block a stream has open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
}

/// Gemini's streamed chunks as Anthropic's events (`message_start`, `ping`, blocks
/// with their deltas, `message_delta` with the stop reason and usage,
/// `message_stop`), the same whatever the chunk boundaries.
#[derive(Debug, Clone)]
pub struct StreamTranslator {
    meta: AnswerMeta,
    started: bool,
    open: Option<Open>,
    index: usize,
    calls: usize,
    usage: Usage,
    finish: Option<String>,
    ended: bool,
}

/// One event: its name and data.
pub type Event = (&'static str, Value);

impl StreamTranslator {
    /// A translator for one answer.
    pub fn new(meta: AnswerMeta) -> Self {
        Self {
            meta,
            started: false,
            open: None,
            index: 0,
            calls: 0,
            usage: Usage::default(),
            finish: None,
            ended: false,
        }
    }

    fn start(&mut self, out: &mut Vec<Event>) {
        if self.started {
            return;
        }
        self.started = true;
        out.push((
            "message_start",
            json!({"type": "message_start", "message": {"id": self.meta.id, "type": "message",
                "role": "assistant", "model": self.meta.model, "content": [], "stop_reason": null,
                "stop_sequence": null, "usage": usage(&self.usage)}}),
        ));
        out.push(("ping", json!({"type": "ping"})));
    }

    fn close(&mut self, out: &mut Vec<Event>) {
        if self.open.take().is_some() {
            out.push((
                "content_block_stop",
                json!({"type": "content_block_stop", "index": self.index}),
            ));
            self.index += 1;
        }
    }

    fn open(&mut self, kind: Open, out: &mut Vec<Event>) {
        if self.open == Some(kind) {
            return;
        }
        self.close(out);
        let block = match kind {
            Open::Text => json!({"type": "text", "text": ""}),
            Open::Thinking => json!({"type": "thinking", "thinking": "", "signature": ""}),
        };
        out.push((
            "content_block_start",
            json!({"type": "content_block_start", "index": self.index, "content_block": block}),
        ));
        self.open = Some(kind);
    }

    fn delta(&self, delta: Value) -> Event {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": self.index, "delta": delta}),
        )
    }

    /// The events for one Gemini chunk.
    pub fn push(&mut self, response: &Value) -> Vec<Event> {
        let mut out = Vec::new();
        if let Some(usage) = Usage::of(response) {
            self.usage = usage;
        }
        self.start(&mut out);
        let Some(candidate) = candidates(response).into_iter().next() else {
            return out;
        };
        for piece in pieces(&candidate) {
            match piece {
                Piece::Text(text) if !text.is_empty() => {
                    self.open(Open::Text, &mut out);
                    out.push(self.delta(json!({"type": "text_delta", "text": text})));
                }
                Piece::Thought { text, signature } => {
                    self.open(Open::Thinking, &mut out);
                    if !text.is_empty() {
                        out.push(self.delta(json!({"type": "thinking_delta", "thinking": text})));
                    }
                    if let Some(signature) = signature {
                        out.push(
                            self.delta(json!({"type": "signature_delta", "signature": signature})),
                        );
                        self.close(&mut out);
                    }
                }
                Piece::Call {
                    name,
                    args,
                    signature,
                } => {
                    if self.meta.single_tool_call && self.calls > 0 {
                        continue;
                    }
                    self.close(&mut out);
                    let prefix = format!("toolu_{}_", answer_tag(&self.meta.id));
                    let id = tool_call_id(&prefix, self.calls, signature.as_deref());
                    self.calls += 1;
                    out.push(("content_block_start", json!({"type": "content_block_start", "index": self.index,
                        "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
                    out.push(self.delta(
                        json!({"type": "input_json_delta", "partial_json": args.to_string()}),
                    ));
                    out.push((
                        "content_block_stop",
                        json!({"type": "content_block_stop", "index": self.index}),
                    ));
                    self.index += 1;
                }
                _ => {}
            }
        }
        if let Some(reason) = candidate
            .get("finishReason")
            .and_then(Value::as_str)
            .filter(|r| !r.is_empty())
        {
            self.finish = Some(reason.to_owned());
        }
        out
    }

    /// The events that end the stream.
    pub fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if self.ended {
            return out;
        }
        self.ended = true;
        self.start(&mut out);
        self.close(&mut out);
        let end = ending(self.finish.as_deref(), self.calls > 0);
        out.push((
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(end), "stop_sequence": null},
            "usage": usage(&self.usage)}),
        ));
        out.push(("message_stop", json!({"type": "message_stop"})));
        out
    }

    /// The event that ends a stream broken by `error`.
    pub fn error(&mut self, error: &ApiError) -> Event {
        self.ended = true;
        ("error", error_reply(error).body)
    }
}

/// Server-sent events with their names.
pub fn render(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in events {
        out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
    }
    out
}

/// A classified Google error in Anthropic's words (`overloaded_error`, 529, for
/// capacity).
pub fn error_reply(error: &ApiError) -> ErrorReply {
    let retry_after = retry_after_secs(error.retry_delay());
    let (status, kind) = match error.class() {
        ErrorClass::InvalidRequest | ErrorClass::ContextOverflow => (400, "invalid_request_error"),
        ErrorClass::PayloadTooLarge => (413, "request_too_large"),
        ErrorClass::Auth | ErrorClass::AuthPermanent | ErrorClass::ClientInvalid => {
            (401, "authentication_error")
        }
        ErrorClass::Permission
        | ErrorClass::ValidationRequired
        | ErrorClass::PolicyBlocked
        | ErrorClass::AccountDisabled
        | ErrorClass::Billing => (403, "permission_error"),
        ErrorClass::ModelNotFound | ErrorClass::NotFound => (404, "not_found_error"),
        ErrorClass::RateLimit | ErrorClass::QuotaExhausted => (429, "rate_limit_error"),
        ErrorClass::Capacity => (529, "overloaded_error"),
        ErrorClass::Timeout => (504, "api_error"),
        _ => (500, "api_error"),
    };
    ErrorReply {
        status,
        retry_after,
        body: json!({"type": "error", "error": {"type": kind, "message": error.message()}}),
    }
}

/// Any failed call in Anthropic's words: Google's errors as [`error_reply`], the
/// gateway's own as an `api_error` with a 5xx status.
pub fn failure_reply(error: &crate::Error) -> ErrorReply {
    match super::fault_of(error) {
        super::Fault::Google(api) => error_reply(api),
        super::Fault::Gateway { status, message } => ErrorReply {
            status,
            retry_after: None,
            body: json!({"type": "error", "error": {"type": "api_error", "message": message}}),
        },
    }
}

/// The gateway's own key was missing or wrong: 401.
pub fn unauthorized() -> ErrorReply {
    ErrorReply {
        status: 401,
        retry_after: None,
        body: json!({"type": "error", "error": {"type": "authentication_error",
            "message": "a valid API key for this gateway is required"}}),
    }
}

/// A refused request: 400 naming the field.
pub fn refusal_reply(refusal: &Refusal) -> ErrorReply {
    ErrorReply {
        status: 400,
        retry_after: None,
        body: json!({"type": "error", "error": {"type": "invalid_request_error", "message": refusal.to_string()}}),
    }
}

/// `GET /v1/models` in Anthropic's shape.
pub fn models_list(ids: &[String]) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| {
            let id = id.trim_start_matches("models/");
            json!({"type": "model", "id": id, "display_name": id, "created_at": "2026-01-01T00:00:00Z"})
        })
        .collect();
    json!({"data": data, "has_more": false, "first_id": data.first().map(|m| m["id"].clone()), "last_id": data.last().map(|m| m["id"].clone())})
}
