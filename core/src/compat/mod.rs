//! The OpenAI Chat Completions and Anthropic Messages wires ⇄ Gemini, as pure
//! translation: a client's request becomes a Gemini `GenerateContentRequest` (or a
//! 400 naming the field that cannot be translated), and Gemini's answers, whole or
//! streamed, become the client's objects and events. No I/O: the gateway
//! (`codeassist serve`) and any host stand on it.
//!
//! ```text
//!  OpenAI / Anthropic request ──openai::to_gemini / anthropic::to_gemini──▶ Translated { model, Gemini request }
//!  Gemini answer ──openai::from_gemini / anthropic::from_gemini──▶ the client's object
//!  Gemini chunks ──openai::StreamTranslator / anthropic::StreamTranslator──▶ the client's SSE events
//!  ApiError / Refusal ──openai::error_reply / anthropic::error_reply──▶ status, Retry-After, body
//! ```
//!
//! What other gateways get wrong, and this room settles once:
//!
//! - **Thought signatures.** Gemini 3 refuses a replayed function call without the
//!   `thoughtSignature` it came with. A signature leaves in the wire's own field
//!   (`extra_content.google.thought_signature`, Anthropic's `thinking.signature`) and
//!   inside the tool call's id ([`signature`]), so a client that drops unknown fields
//!   still returns it; it comes back from either, and Google's placeholder
//!   ([`SKIP_SIGNATURE`]) stands in when none did. Only the first of parallel calls
//!   carries one, as Gemini sends them.
//! - **Usage** ([`Usage`]): Gemini's prompt count already includes the cached tokens;
//!   thoughts are output tokens.
//! - **Thinking**: a wire's effort or budget maps through
//!   [`crate::inference::models::thinking_config`], never both fields.
//! - **Finish reasons**: each wire's own words only.
//!
//! A field is translated, or refused with a [`Refusal`] naming it; it is dropped only
//! when the host asks ([`Options::drop_unsupported`]), and the drop is reported.

pub mod anthropic;
pub mod gemini;
pub mod openai;
pub mod signature;

use serde_json::{Map, Value, json};

use crate::inference::models::{Thinking, apply_thinking};

/// Google's documented stand-in for a thought signature a client did not return.
pub const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// A client request this room cannot translate: the field (a JSON path such as
/// `messages[2].content[0].image_url`) and why. A gateway answers it with a 400 in the
/// client's wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
#[non_exhaustive]
pub struct Refusal {
    /// The field, as a path into the request.
    pub field: String,
    /// Why it cannot be translated.
    pub message: String,
}

impl Refusal {
    /// `field` refused because `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error as a wire's SDKs read it (every wire's replies are of this shape: the
/// `openai`, `anthropic` and `gemini` rooms make the body).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ErrorReply {
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, in whole seconds.
    pub retry_after: Option<u64>,
    /// The body, in the wire's own error shape.
    pub body: Value,
}

/// How strict a translation is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Drop fields that cannot be translated (reported in [`Translated::dropped`])
    /// instead of refusing the request.
    pub drop_unsupported: bool,
}

impl Options {
    /// Options that drop what cannot be translated.
    pub fn dropping() -> Self {
        Self {
            drop_unsupported: true,
        }
    }
}

/// A client request made Gemini's.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Translated {
    /// The model asked for, without `models/`.
    pub model: String,
    /// The Gemini `GenerateContentRequest`.
    pub request: Value,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`: usage in a last chunk of its own.
    pub include_usage: bool,
    /// The client allowed one tool call per answer (OpenAI `parallel_tool_calls:
    /// false`, Anthropic `disable_parallel_tool_use`): later calls are left out of
    /// the answer.
    pub single_tool_call: bool,
    /// Fields dropped under [`Options::drop_unsupported`].
    pub dropped: Vec<String>,
}

/// A model id as a client sends it, without `models/`, checked.
pub(crate) fn model_of(value: Option<&Value>) -> Result<String, Refusal> {
    let model = value
        .and_then(Value::as_str)
        .map(|m| m.trim().trim_start_matches("models/"))
        .filter(|m| !m.is_empty())
        .ok_or_else(|| Refusal::new("model", "a model is required"))?;
    crate::inference::check_model(model)
        .map(str::to_owned)
        .map_err(|_| Refusal::new("model", "not a model id"))
}

/// Collects what a translation refuses or drops.
#[derive(Debug, Default)]
pub(crate) struct Strictness {
    options: Options,
    dropped: Vec<String>,
}

impl Strictness {
    pub(crate) fn new(options: Options) -> Self {
        Self {
            options,
            dropped: Vec::new(),
        }
    }

    /// `field` cannot be translated: refused, or dropped when the host allows it.
    pub(crate) fn unsupported(&mut self, field: &str, why: &str) -> Result<(), Refusal> {
        if self.options.drop_unsupported {
            self.dropped.push(field.to_owned());
            return Ok(());
        }
        Err(Refusal::new(field, why))
    }

    /// The body's top-level keys that `known` does not list cannot be translated. A key
    /// that is not a plain name (empty, or holding quotes, spaces or control characters)
    /// is named as a JSON string, so the refusal always names something a reader can see.
    pub(crate) fn unknown_keys(
        &mut self,
        body: &Map<String, Value>,
        known: &[&str],
    ) -> Result<(), Refusal> {
        for key in body.keys().filter(|key| !known.contains(&key.as_str())) {
            let plain = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            let field = if plain {
                key.clone()
            } else {
                Value::String(key.clone()).to_string()
            };
            self.unsupported(&field, "is not supported by this gateway")?;
        }
        Ok(())
    }

    pub(crate) fn into_dropped(self) -> Vec<String> {
        self.dropped
    }
}

/// A `generationConfig` being filled.
pub(crate) fn set(config: &mut Map<String, Value>, key: &str, value: Value) {
    config.insert(key.to_owned(), value);
}

/// A number field, checked.
pub(crate) fn number(value: &Value, field: &str) -> Result<Value, Refusal> {
    match value {
        Value::Number(_) => Ok(value.clone()),
        _ => Err(Refusal::new(field, "must be a number")),
    }
}

/// `stop` / `stop_sequences`: a string or up to 5 strings.
pub(crate) fn stop_sequences(value: &Value, field: &str) -> Result<Option<Value>, Refusal> {
    let list: Vec<Value> = match value {
        Value::Null => return Ok(None),
        Value::String(s) => vec![json!(s)],
        Value::Array(items) if items.iter().all(Value::is_string) => items.clone(),
        _ => return Err(Refusal::new(field, "must be a string or a list of strings")),
    };
    if list.len() > 5 {
        return Err(Refusal::new(field, "at most 5 stop sequences are accepted"));
    }
    Ok((!list.is_empty()).then_some(Value::Array(list)))
}

/// Thinking asked for `model`: the family's field, and `includeThoughts` unless
/// thinking is off, so thoughts can come back.
pub(crate) fn think(request: &mut Value, model: &str, thinking: Thinking) {
    let _ = apply_thinking(model, thinking, request);
    if thinking != Thinking::None
        && let Some(config) = request
            .pointer_mut("/generationConfig/thinkingConfig")
            .and_then(Value::as_object_mut)
    {
        config.insert("includeThoughts".into(), json!(true));
    }
}

/// A data URI (`data:image/png;base64,…`) as Gemini's `inlineData`.
pub(crate) fn data_uri(uri: &str, field: &str) -> Result<Value, Refusal> {
    let rest = uri
        .strip_prefix("data:")
        .ok_or_else(|| Refusal::new(field, "only data: URIs are accepted (base64 content)"))?;
    let (head, data) = rest
        .split_once(',')
        .ok_or_else(|| Refusal::new(field, "a data: URI without data"))?;
    let mime = head
        .strip_suffix(";base64")
        .ok_or_else(|| Refusal::new(field, "a data: URI must be base64"))?;
    if mime.is_empty() || !crate::text::is_one_word(mime) {
        return Err(Refusal::new(field, "a data: URI without a media type"));
    }
    Ok(json!({"inlineData": {"mimeType": mime, "data": data}}))
}

/// A function's parameters (JSON Schema), as Gemini's `parametersJsonSchema`.
pub(crate) fn declaration(
    name: Option<&Value>,
    description: Option<&Value>,
    parameters: Option<&Value>,
    field: &str,
) -> Result<Value, Refusal> {
    let name = name
        .and_then(Value::as_str)
        .filter(|n| {
            !n.is_empty()
                && n.len() <= 128
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
        })
        .ok_or_else(|| {
            Refusal::new(
                format!("{field}.name"),
                "a function name of letters, digits, _ - . : (at most 128)",
            )
        })?;
    let mut declaration = json!({"name": name});
    if let Some(description) = description.and_then(Value::as_str) {
        declaration["description"] = json!(description);
    }
    match parameters {
        None | Some(Value::Null) => {}
        Some(schema @ Value::Object(_)) => declaration["parametersJsonSchema"] = schema.clone(),
        Some(_) => {
            return Err(Refusal::new(
                format!("{field}.parameters"),
                "must be a JSON Schema object",
            ));
        }
    }
    Ok(declaration)
}

/// Tool results as Gemini's `functionResponse.response` (an object): a JSON object
/// as it is, anything else under `result` (or `error` for a failed call).
pub(crate) fn function_response(name: &str, content: &str, failed: bool) -> Value {
    let parsed = serde_json::from_str::<Value>(content).ok();
    let response = match (parsed, failed) {
        (Some(object @ Value::Object(_)), false) => object,
        (_, true) => json!({"error": content}),
        (Some(other), false) => json!({"result": other}),
        (None, false) => json!({"result": content}),
    };
    json!({"functionResponse": {"name": name, "response": response}})
}

/// Gemini's token counts (`usageMetadata`), read once for every wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// `promptTokenCount` (cached tokens included).
    pub prompt: u64,
    /// `cachedContentTokenCount`.
    pub cached: u64,
    /// `candidatesTokenCount`.
    pub candidates: u64,
    /// `thoughtsTokenCount`.
    pub thoughts: u64,
    /// `toolUsePromptTokenCount`.
    pub tool_prompt: u64,
}

impl Usage {
    /// The counts of a Gemini answer's `usageMetadata`, when it has one.
    pub fn of(response: &Value) -> Option<Self> {
        let usage = response.get("usageMetadata")?.as_object()?;
        let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        Some(Self {
            prompt: count("promptTokenCount"),
            cached: count("cachedContentTokenCount").min(count("promptTokenCount")),
            candidates: count("candidatesTokenCount"),
            thoughts: count("thoughtsTokenCount"),
            tool_prompt: count("toolUsePromptTokenCount"),
        })
    }

    /// Input tokens: the prompt and the tool-use prompt (cached ones included).
    pub fn input(&self) -> u64 {
        self.prompt.saturating_add(self.tool_prompt)
    }

    /// Output tokens: the answer and the thoughts.
    pub fn output(&self) -> u64 {
        self.candidates.saturating_add(self.thoughts)
    }
}

/// What one Gemini candidate part is, for every wire.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Piece {
    Text(String),
    Thought {
        text: String,
        signature: Option<String>,
    },
    Call {
        name: String,
        args: Value,
        signature: Option<String>,
    },
}

/// The pieces of a candidate's parts, in order (parts of kinds no wire carries, such
/// as executable code, are skipped).
pub(crate) fn pieces(candidate: &Value) -> Vec<Piece> {
    let Some(parts) = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for part in parts {
        let signature = part
            .get("thoughtSignature")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if let Some(call) = part.get("functionCall") {
            out.push(Piece::Call {
                name: call
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                args: match call.get("args") {
                    Some(args @ Value::Object(_)) => args.clone(),
                    _ => json!({}),
                },
                signature,
            });
        } else if let Some(text) = part.get("text").and_then(Value::as_str) {
            if part.get("thought").and_then(Value::as_bool) == Some(true) {
                out.push(Piece::Thought {
                    text: text.to_owned(),
                    signature,
                });
            } else {
                out.push(Piece::Text(text.to_owned()));
            }
        } else if let Some(signature) = signature {
            // A part holding only a signature (Gemini 3 closes thoughts so).
            out.push(Piece::Thought {
                text: String::new(),
                signature: Some(signature),
            });
        }
    }
    out
}

/// How a candidate ended, in neutral words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    Stop,
    Length,
    Filtered,
    ToolCalls,
}

/// Gemini's `finishReason`, read; `tool_called` turns a stop into tool calls.
pub(crate) fn ending(finish_reason: Option<&str>, tool_called: bool) -> Ending {
    match finish_reason {
        Some("MAX_TOKENS") => Ending::Length,
        Some(
            "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY"
            | "LANGUAGE",
        ) => Ending::Filtered,
        _ if tool_called => Ending::ToolCalls,
        _ => Ending::Stop,
    }
}

/// The candidates of a Gemini answer; a prompt blocked before any candidate counts
/// as one empty, filtered candidate.
pub(crate) fn candidates(response: &Value) -> Vec<Value> {
    match response.get("candidates").and_then(Value::as_array) {
        Some(candidates) if !candidates.is_empty() => candidates.clone(),
        _ if response.pointer("/promptFeedback/blockReason").is_some() => {
            vec![json!({"index": 0, "finishReason": "SAFETY", "content": {"parts": []}})]
        }
        _ => Vec::new(),
    }
}

/// Eight hex digits naming one answer (FNV-1a of its id), so tool call ids differ
/// between answers; hex holds no `_ts_`, the separator of [`signature`].
pub(crate) fn answer_tag(id: &str) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in id.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    format!("{hash:08x}")
}

/// A failed call as a wire shows it: Google's classified error, or the gateway's
/// own trouble (no sign-in, a credential that cannot give a token, a broken
/// answer) with the status and one line to send.
pub(crate) enum Fault<'a> {
    Google(&'a crate::ApiError),
    Gateway { status: u16, message: String },
}

pub(crate) fn fault_of(error: &crate::Error) -> Fault<'_> {
    use crate::Error;
    let message = crate::text::redact_secrets(&crate::text::sanitize(&error.to_string(), 400));
    // Retries wrap the error that ended them: the wire shows that one.
    let error = error.root();
    match error {
        Error::Api(api) => Fault::Google(api),
        _ if error.needs_sign_in() => Fault::Gateway {
            status: 503,
            message: "the gateway is not signed in to Google: run `codeassist login` (or give it \
                      Application Default Credentials) where it runs"
                .into(),
        },
        Error::Source(_) | Error::CodeAssist(_) => Fault::Gateway {
            status: 503,
            message,
        },
        Error::InvalidResponse { .. } => Fault::Gateway {
            status: 502,
            message,
        },
        _ => Fault::Gateway {
            status: 500,
            message,
        },
    }
}

/// Whole seconds of a retry delay, rounded up (what `Retry-After` carries).
pub(crate) fn retry_after_secs(delay: Option<std::time::Duration>) -> Option<u64> {
    delay.map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}
