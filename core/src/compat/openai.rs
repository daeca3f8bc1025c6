//! OpenAI Chat Completions ⇄ Gemini: see the [room's docs](super) for what is settled
//! here once for every wire.
//!
//! ```
//! use codeassist_core::compat::{Options, openai};
//! use serde_json::json;
//!
//! let asked = json!({"model": "gemini-3-pro-preview", "reasoning_effort": "low",
//!     "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]});
//! let translated = openai::to_gemini(&asked, Options::default()).unwrap();
//! assert_eq!(translated.request["systemInstruction"]["parts"][0]["text"], "Be brief.");
//! assert_eq!(translated.request["generationConfig"]["thinkingConfig"]["thinkingLevel"], "LOW");
//!
//! let answer = json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello."}]},
//!     "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2}});
//! let meta = openai::AnswerMeta::new("chatcmpl-1", 1_700_000_000, "gemini-3-pro-preview");
//! let object = openai::from_gemini(&answer, &meta);
//! assert_eq!(object["choices"][0]["message"]["content"], "Hello.");
//! assert_eq!(object["choices"][0]["finish_reason"], "stop");
//! assert_eq!(object["usage"]["total_tokens"], 6);
//! ```

use std::collections::HashMap;

use serde_json::{Map, Value, json};

pub use super::ErrorReply;
use super::signature::{normalize, signature_from_id, tool_call_id};
use super::{
    Ending, Options, Piece, Refusal, SKIP_SIGNATURE, Strictness, Translated, Usage, answer_tag,
    candidates, data_uri, declaration, ending, function_response, model_of, number, pieces,
    retry_after_secs, set, stop_sequences, think,
};
use crate::error::{ApiError, ErrorClass};
use crate::inference::models::Thinking;

/// The fields of a request this translation reads; anything else is refused (or
/// dropped when allowed).
const KNOWN: [&str; 24] = [
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "user",
    "stream",
    "stream_options",
    "reasoning_effort",
    "store",
    "metadata",
    "extra_body",
];

/// Translates an OpenAI `POST /v1/chat/completions` body.
pub fn to_gemini(body: &Value, options: Options) -> Result<Translated, Refusal> {
    let object = body
        .as_object()
        .ok_or_else(|| Refusal::new("body", "must be a JSON object"))?;
    let mut strict = Strictness::new(options);
    strict.unknown_keys(object, &KNOWN)?;
    let model = model_of(object.get("model"))?;
    let mut request = json!({});
    let (contents, system) = messages(object.get("messages"), &mut strict)?;
    request["contents"] = Value::Array(contents);
    if !system.is_empty() {
        request["systemInstruction"] = json!({"parts": system});
    }
    let mut config = Map::new();
    if let Some(tools) = object.get("tools").filter(|t| !t.is_null()) {
        request["tools"] = json!([{"functionDeclarations": declarations(tools, &mut strict)?}]);
    }
    if let Some(choice) = object.get("tool_choice").filter(|c| !c.is_null()) {
        request["toolConfig"] = json!({"functionCallingConfig": tool_choice(choice)?});
    }
    let single_tool_call = match object.get("parallel_tool_calls") {
        None | Some(Value::Null) | Some(Value::Bool(true)) => false,
        Some(Value::Bool(false)) => true,
        Some(_) => return Err(Refusal::new("parallel_tool_calls", "must be true or false")),
    };
    if let Some(format) = object.get("response_format").filter(|f| !f.is_null()) {
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some("json_object") => set(&mut config, "responseMimeType", json!("application/json")),
            Some("json_schema") => {
                let schema = format
                    .pointer("/json_schema/schema")
                    .filter(|s| s.is_object())
                    .ok_or_else(|| {
                        Refusal::new(
                            "response_format.json_schema.schema",
                            "a JSON Schema object is required",
                        )
                    })?;
                set(&mut config, "responseMimeType", json!("application/json"));
                set(&mut config, "responseJsonSchema", schema.clone());
            }
            _ => {
                return Err(Refusal::new(
                    "response_format.type",
                    "must be text, json_object or json_schema",
                ));
            }
        }
    }
    for (field, key) in [
        ("max_completion_tokens", "maxOutputTokens"),
        ("max_tokens", "maxOutputTokens"),
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("n", "candidateCount"),
        ("seed", "seed"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(value) = object.get(field).filter(|v| !v.is_null())
            && !config.contains_key(key)
        {
            set(&mut config, key, number(value, field)?);
        }
    }
    if let Some(stop) = object.get("stop")
        && let Some(stops) = stop_sequences(stop, "stop")?
    {
        set(&mut config, "stopSequences", stops);
    }
    if object.get("logprobs").and_then(Value::as_bool) == Some(true) {
        strict.unsupported("logprobs", "log probabilities are not translated")?;
    }
    if object.get("top_logprobs").is_some_and(|v| !v.is_null()) {
        strict.unsupported("top_logprobs", "log probabilities are not translated")?;
    }
    if object.get("store").and_then(Value::as_bool) == Some(true) {
        strict.unsupported("store", "stored completions are not supported")?;
    }
    if object.get("extra_body").is_some_and(|v| !v.is_null()) {
        strict.unsupported("extra_body", "is not supported by this gateway")?;
    }
    // `user` and `metadata` identify the caller's own users: never forwarded.
    if !config.is_empty() {
        request["generationConfig"] = Value::Object(config);
    }
    if let Some(effort) = object.get("reasoning_effort").filter(|e| !e.is_null()) {
        let thinking = effort
            .as_str()
            .and_then(|e| match e {
                "none" | "minimal" | "low" | "medium" | "high" => Thinking::parse(e).ok(),
                _ => None,
            })
            .ok_or_else(|| {
                Refusal::new(
                    "reasoning_effort",
                    "must be none, minimal, low, medium or high",
                )
            })?;
        think(&mut request, &model, thinking);
    }
    let stream = match object.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(Refusal::new("stream", "must be true or false")),
    };
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(Translated {
        model,
        request,
        stream,
        include_usage,
        single_tool_call,
        dropped: strict.into_dropped(),
    })
}

fn declarations(tools: &Value, strict: &mut Strictness) -> Result<Vec<Value>, Refusal> {
    let tools = tools
        .as_array()
        .ok_or_else(|| Refusal::new("tools", "must be a list"))?;
    let mut out = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let field = format!("tools[{i}]");
        if tool.get("type").and_then(Value::as_str) != Some("function") {
            strict.unsupported(
                &format!("{field}.type"),
                "only function tools are supported",
            )?;
            continue;
        }
        let function = tool
            .get("function")
            .ok_or_else(|| Refusal::new(format!("{field}.function"), "is required"))?;
        out.push(declaration(
            function.get("name"),
            function.get("description"),
            function.get("parameters"),
            &format!("{field}.function"),
        )?);
    }
    Ok(out)
}

fn tool_choice(choice: &Value) -> Result<Value, Refusal> {
    match choice {
        Value::String(mode) => match mode.as_str() {
            "none" => Ok(json!({"mode": "NONE"})),
            "auto" => Ok(json!({"mode": "AUTO"})),
            "required" => Ok(json!({"mode": "ANY"})),
            _ => Err(Refusal::new(
                "tool_choice",
                "must be none, auto, required or a function",
            )),
        },
        Value::Object(_) => {
            let name = choice
                .pointer("/function/name")
                .and_then(Value::as_str)
                .ok_or_else(|| Refusal::new("tool_choice.function.name", "is required"))?;
            Ok(json!({"mode": "ANY", "allowedFunctionNames": [name]}))
        }
        _ => Err(Refusal::new("tool_choice", "must be a string or an object")),
    }
}

/// A message's `content` as Gemini parts.
fn content_parts(content: Option<&Value>, field: &str) -> Result<Vec<Value>, Refusal> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"text": text})]),
        Some(Value::Array(items)) => {
            let mut parts = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let field = format!("{field}[{i}]");
                match item.get("type").and_then(Value::as_str) {
                    Some("text") => {
                        let text = item
                            .get("text")
                            .and_then(Value::as_str)
                            .ok_or_else(|| Refusal::new(format!("{field}.text"), "must be text"))?;
                        parts.push(json!({"text": text}));
                    }
                    Some("image_url") => {
                        let url = item
                            .pointer("/image_url/url")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                Refusal::new(format!("{field}.image_url.url"), "is required")
                            })?;
                        parts.push(data_uri(url, &format!("{field}.image_url.url"))?);
                    }
                    Some("input_audio") => {
                        let data = item.pointer("/input_audio/data").and_then(Value::as_str);
                        let format = item.pointer("/input_audio/format").and_then(Value::as_str);
                        let (Some(data), Some(format)) = (data, format) else {
                            return Err(Refusal::new(
                                format!("{field}.input_audio"),
                                "needs data and format",
                            ));
                        };
                        let mime = match format {
                            "wav" => "audio/wav",
                            "mp3" => "audio/mp3",
                            _ => {
                                return Err(Refusal::new(
                                    format!("{field}.input_audio.format"),
                                    "must be wav or mp3",
                                ));
                            }
                        };
                        parts.push(json!({"inlineData": {"mimeType": mime, "data": data}}));
                    }
                    Some("file") => {
                        let data = item
                            .pointer("/file/file_data")
                            .and_then(Value::as_str)
                            .ok_or_else(|| {
                                Refusal::new(
                                    format!("{field}.file.file_data"),
                                    "only inline file_data (a data: URI) is supported",
                                )
                            })?;
                        parts.push(data_uri(data, &format!("{field}.file.file_data"))?);
                    }
                    _ => {
                        return Err(Refusal::new(
                            format!("{field}.type"),
                            "must be text, image_url, input_audio or file",
                        ));
                    }
                }
            }
            Ok(parts)
        }
        Some(_) => Err(Refusal::new(field, "must be a string or a list of parts")),
    }
}

/// The messages as Gemini `contents` (consecutive turns of one role merged) and the
/// system instruction's parts.
fn messages(
    messages: Option<&Value>,
    strict: &mut Strictness,
) -> Result<(Vec<Value>, Vec<Value>), Refusal> {
    let messages = messages
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Refusal::new("messages", "a non-empty list is required"))?;
    let mut contents: Vec<Value> = Vec::new();
    let mut system = Vec::new();
    // Call ids seen in assistant turns, for the function names of tool results.
    let mut names: HashMap<String, String> = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let field = format!("messages[{i}]");
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::new(format!("{field}.role"), "is required"))?;
        let (gemini_role, parts) = match role {
            "system" | "developer" => {
                system.extend(content_parts(
                    message.get("content"),
                    &format!("{field}.content"),
                )?);
                continue;
            }
            "user" => (
                "user",
                content_parts(message.get("content"), &format!("{field}.content"))?,
            ),
            "assistant" => ("model", assistant_parts(message, &field, &mut names)?),
            "tool" => {
                let id = message
                    .get("tool_call_id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Refusal::new(format!("{field}.tool_call_id"), "is required"))?;
                let name = names.get(id).cloned().ok_or_else(|| {
                    Refusal::new(
                        format!("{field}.tool_call_id"),
                        "names no tool call of an earlier assistant message",
                    )
                })?;
                let text = match message.get("content") {
                    Some(Value::String(text)) => text.clone(),
                    other => content_parts(other, &format!("{field}.content"))?
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect::<Vec<_>>()
                        .join(""),
                };
                ("user", vec![function_response(&name, &text, false)])
            }
            "function" => {
                strict.unsupported(
                    &format!("{field}.role"),
                    "the legacy function role is not supported; use tool",
                )?;
                continue;
            }
            _ => {
                return Err(Refusal::new(
                    format!("{field}.role"),
                    "must be system, developer, user, assistant or tool",
                ));
            }
        };
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last["role"] == gemini_role => {
                if let Some(existing) = last["parts"].as_array_mut() {
                    existing.extend(parts);
                }
            }
            _ => contents.push(json!({"role": gemini_role, "parts": parts})),
        }
    }
    if contents.is_empty() {
        return Err(Refusal::new("messages", "no user or assistant message"));
    }
    Ok((contents, system))
}

/// An assistant message's text and tool calls; the first call carries its thought
/// signature (from `extra_content`, else the id, else Google's placeholder).
fn assistant_parts(
    message: &Value,
    field: &str,
    names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, Refusal> {
    let mut parts = content_parts(message.get("content"), &format!("{field}.content"))?;
    let Some(calls) = message.get("tool_calls").filter(|c| !c.is_null()) else {
        return Ok(parts);
    };
    let calls = calls
        .as_array()
        .ok_or_else(|| Refusal::new(format!("{field}.tool_calls"), "must be a list"))?;
    for (j, call) in calls.iter().enumerate() {
        let field = format!("{field}.tool_calls[{j}]");
        let name = call
            .pointer("/function/name")
            .and_then(Value::as_str)
            .ok_or_else(|| Refusal::new(format!("{field}.function.name"), "is required"))?;
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        let args: Value = match arguments.trim() {
            "" => json!({}),
            text => serde_json::from_str(text)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    Refusal::new(
                        format!("{field}.function.arguments"),
                        "must be a JSON object",
                    )
                })?,
        };
        let id = call.get("id").and_then(Value::as_str).unwrap_or("");
        if !id.is_empty() {
            names.insert(id.to_owned(), name.to_owned());
        }
        let mut part = json!({"functionCall": {"name": name, "args": args}});
        if j == 0 {
            let signature = call
                .pointer("/extra_content/google/thought_signature")
                .and_then(Value::as_str)
                .map(normalize)
                .or_else(|| signature_from_id(id))
                .unwrap_or_else(|| SKIP_SIGNATURE.to_owned());
            part["thoughtSignature"] = json!(signature);
        }
        parts.push(part);
    }
    Ok(parts)
}

/// What every object of one answer carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AnswerMeta {
    /// `chatcmpl-…`, the same on every chunk.
    pub id: String,
    /// Unix seconds, the same on every chunk.
    pub created: i64,
    /// The model that answered (after fallback).
    pub model: String,
    /// Keep only the first tool call of each choice ([`Translated::single_tool_call`]).
    pub single_tool_call: bool,
}

impl AnswerMeta {
    /// The answer `id`, made at `created` by `model`.
    pub fn new(id: impl Into<String>, created: i64, model: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            created,
            model: model.into(),
            single_tool_call: false,
        }
    }
}

fn finish_reason(ending: Ending) -> &'static str {
    match ending {
        Ending::Stop => "stop",
        Ending::Length => "length",
        Ending::Filtered => "content_filter",
        Ending::ToolCalls => "tool_calls",
    }
}

/// OpenAI's usage object.
pub fn usage(usage: &Usage) -> Value {
    json!({
        "prompt_tokens": usage.input(),
        "completion_tokens": usage.output(),
        "total_tokens": usage.input() + usage.output(),
        "prompt_tokens_details": {"cached_tokens": usage.cached},
        "completion_tokens_details": {"reasoning_tokens": usage.thoughts},
    })
}

/// A tool call as OpenAI writes it (its id unique to the answer and call); the
/// signature also in `extra_content`.
fn tool_call(
    meta: &AnswerMeta,
    n: usize,
    name: &str,
    args: &Value,
    signature: Option<&str>,
) -> Value {
    let prefix = format!("call_{}_", answer_tag(&meta.id));
    let mut call = json!({
        "id": tool_call_id(&prefix, n, signature),
        "type": "function",
        "function": {"name": name, "arguments": args.to_string()},
    });
    if let Some(signature) = signature {
        call["extra_content"] = json!({"google": {"thought_signature": signature}});
    }
    call
}

/// A whole Gemini answer as a `chat.completion`.
pub fn from_gemini(response: &Value, meta: &AnswerMeta) -> Value {
    let mut choices = Vec::new();
    let mut calls_made = 0;
    for (position, candidate) in candidates(response).iter().enumerate() {
        let index = candidate
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position as u64);
        let (mut text, mut reasoning, mut calls) = (String::new(), String::new(), Vec::new());
        for piece in pieces(candidate) {
            match piece {
                Piece::Text(t) => text.push_str(&t),
                Piece::Thought { text: t, .. } => reasoning.push_str(&t),
                Piece::Call {
                    name,
                    args,
                    signature,
                } => {
                    if meta.single_tool_call && !calls.is_empty() {
                        continue;
                    }
                    calls.push(tool_call(
                        meta,
                        calls_made,
                        &name,
                        &args,
                        signature.as_deref(),
                    ));
                    calls_made += 1;
                }
            }
        }
        let end = ending(
            candidate.get("finishReason").and_then(Value::as_str),
            !calls.is_empty(),
        );
        let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { json!(text) }});
        if !reasoning.is_empty() {
            message["reasoning_content"] = json!(reasoning);
        }
        if !calls.is_empty() {
            message["tool_calls"] = Value::Array(calls);
        }
        choices.push(json!({"index": index, "message": message, "finish_reason": finish_reason(end), "logprobs": null}));
    }
    let mut object = json!({
        "id": meta.id, "object": "chat.completion", "created": meta.created,
        "model": meta.model, "choices": choices,
    });
    if let Some(counts) = Usage::of(response) {
        object["usage"] = usage(&counts);
    }
    object
}

/// One choice's progress through a stream.
#[derive(Debug, Default, Clone)]
struct ChoiceState {
    calls: usize,
    finished: bool,
}

/// Gemini's streamed chunks as `chat.completion.chunk` events, the same whatever the
/// chunk boundaries: the role in each choice's first delta, thoughts as
/// `reasoning_content`, each tool call whole in one delta with its own `index`
/// (stable, counted per choice), the finish reason once, usage in a last chunk of its
/// own when asked (`choices: []`), then `[DONE]`.
#[derive(Debug, Clone)]
pub struct StreamTranslator {
    meta: AnswerMeta,
    include_usage: bool,
    choices: HashMap<u64, ChoiceState>,
    calls_made: usize,
    usage: Option<Usage>,
    ended: bool,
}

impl StreamTranslator {
    /// A translator for one answer; `include_usage` as the client asked.
    pub fn new(meta: AnswerMeta, include_usage: bool) -> Self {
        Self {
            meta,
            include_usage,
            choices: HashMap::new(),
            calls_made: 0,
            usage: None,
            ended: false,
        }
    }

    fn chunk(&self, choices: Vec<Value>) -> Value {
        json!({"id": self.meta.id, "object": "chat.completion.chunk", "created": self.meta.created,
            "model": self.meta.model, "choices": choices})
    }

    /// The events for one Gemini chunk (a `GenerateContentResponse`).
    pub fn push(&mut self, response: &Value) -> Vec<Value> {
        if let Some(usage) = Usage::of(response) {
            self.usage = Some(usage);
        }
        let mut out = Vec::new();
        for (position, candidate) in candidates(response).iter().enumerate() {
            let index = candidate
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let first = !self.choices.contains_key(&index);
            let mut state = self.choices.remove(&index).unwrap_or_default();
            if state.finished {
                self.choices.insert(index, state);
                continue;
            }
            let mut deltas: Vec<Value> = Vec::new();
            if first {
                deltas.push(json!({"role": "assistant", "content": ""}));
            }
            for piece in pieces(candidate) {
                match piece {
                    Piece::Text(text) if !text.is_empty() => deltas.push(json!({"content": text})),
                    Piece::Thought { text, .. } if !text.is_empty() => {
                        deltas.push(json!({"reasoning_content": text}))
                    }
                    Piece::Call {
                        name,
                        args,
                        signature,
                    } => {
                        if self.meta.single_tool_call && state.calls > 0 {
                            continue;
                        }
                        let mut call = tool_call(
                            &self.meta,
                            self.calls_made,
                            &name,
                            &args,
                            signature.as_deref(),
                        );
                        call["index"] = json!(state.calls);
                        state.calls += 1;
                        self.calls_made += 1;
                        deltas.push(json!({"tool_calls": [call]}));
                    }
                    _ => {}
                }
            }
            let finish = candidate
                .get("finishReason")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty());
            for delta in deltas {
                out.push(self.chunk(vec![json!({"index": index, "delta": delta, "finish_reason": null, "logprobs": null})]));
            }
            if let Some(reason) = finish {
                state.finished = true;
                let end = finish_reason(ending(Some(reason), state.calls > 0));
                out.push(self.chunk(vec![
                    json!({"index": index, "delta": {}, "finish_reason": end, "logprobs": null}),
                ]));
            }
            self.choices.insert(index, state);
        }
        out
    }

    /// The events that end the stream: usage when asked, then the caller writes
    /// `[DONE]` ([`render`]).
    pub fn finish(&mut self) -> Vec<Value> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        match (self.include_usage, self.usage) {
            (true, usage) => {
                let mut last = self.chunk(Vec::new());
                last["usage"] = self::usage(&usage.unwrap_or_default());
                vec![last]
            }
            (false, _) => Vec::new(),
        }
    }

    /// The event that ends a stream broken by `error` (nothing after it, no
    /// `[DONE]`): never a silent truncation.
    pub fn error(&mut self, error: &ApiError) -> Value {
        self.ended = true;
        error_reply(error).body
    }
}

/// Server-sent events: each value as `data: …`, then `data: [DONE]` when `done`.
pub fn render(events: &[Value], done: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for event in events {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(event.to_string().as_bytes());
        out.extend_from_slice(b"\n\n");
    }
    if done {
        out.extend_from_slice(b"data: [DONE]\n\n");
    }
    out
}

/// A classified Google error in OpenAI's words.
pub fn error_reply(error: &ApiError) -> ErrorReply {
    let retry_after = retry_after_secs(error.retry_delay());
    let (status, kind, code) = match error.class() {
        ErrorClass::InvalidRequest => (400, "invalid_request_error", None),
        ErrorClass::ContextOverflow => (
            400,
            "invalid_request_error",
            Some("context_length_exceeded"),
        ),
        ErrorClass::PayloadTooLarge => (413, "invalid_request_error", Some("request_too_large")),
        ErrorClass::Auth | ErrorClass::AuthPermanent | ErrorClass::ClientInvalid => {
            (401, "authentication_error", Some("invalid_api_key"))
        }
        ErrorClass::Permission
        | ErrorClass::ValidationRequired
        | ErrorClass::PolicyBlocked
        | ErrorClass::AccountDisabled => (403, "permission_error", None),
        ErrorClass::Billing => (429, "insufficient_quota", Some("insufficient_quota")),
        ErrorClass::ModelNotFound => (404, "invalid_request_error", Some("model_not_found")),
        ErrorClass::NotFound => (404, "invalid_request_error", None),
        ErrorClass::RateLimit => (429, "rate_limit_error", Some("rate_limit_exceeded")),
        ErrorClass::QuotaExhausted => (429, "insufficient_quota", Some("insufficient_quota")),
        ErrorClass::Capacity if retry_after.is_some() => {
            (429, "rate_limit_error", Some("model_capacity_exhausted"))
        }
        ErrorClass::Capacity => (503, "server_error", Some("model_capacity_exhausted")),
        ErrorClass::Timeout => (504, "server_error", Some("timeout")),
        ErrorClass::Network | ErrorClass::TransportPermanent => (502, "server_error", None),
        // Google's own 5xx is kept: a 503 (try again soon) is not a 500 (a fault).
        ErrorClass::ServerError => (
            error
                .http_status()
                .filter(|status| (500..=599).contains(status))
                .unwrap_or(500),
            "server_error",
            None,
        ),
        _ => (500, "server_error", None),
    };
    ErrorReply {
        status,
        retry_after,
        body: json!({"error": {"message": error.message(), "type": kind, "code": code, "param": null}}),
    }
}

/// Any failed call in OpenAI's words: Google's errors as [`error_reply`], the
/// gateway's own (no sign-in, a broken credential) as a 5xx `server_error`.
pub fn failure_reply(error: &crate::Error) -> ErrorReply {
    match super::fault_of(error) {
        super::Fault::Google(api) => error_reply(api),
        super::Fault::Gateway { status, message } => ErrorReply {
            status,
            retry_after: None,
            body: json!({"error": {"message": message, "type": "server_error", "code": null, "param": null}}),
        },
    }
}

/// The gateway's own key was missing or wrong: 401.
pub fn unauthorized() -> ErrorReply {
    ErrorReply {
        status: 401,
        retry_after: None,
        body: json!({"error": {"message": "a valid API key for this gateway is required",
            "type": "invalid_request_error", "code": "invalid_api_key", "param": null}}),
    }
}

/// A refused request: 400 naming the field.
pub fn refusal_reply(refusal: &Refusal) -> ErrorReply {
    ErrorReply {
        status: 400,
        retry_after: None,
        body: json!({"error": {"message": refusal.to_string(), "type": "invalid_request_error",
            "code": "unsupported_parameter", "param": refusal.field}}),
    }
}

/// `GET /v1/models`: model ids without `models/`.
pub fn models_list(ids: &[String], created: i64) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id.trim_start_matches("models/"), "object": "model", "created": created, "owned_by": "google"}))
        .collect();
    json!({"object": "list", "data": data})
}
