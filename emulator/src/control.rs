//! The control API under `/_emulator/`, for hosts in any language that drive the
//! emulator as a process (`codeassist emulator`):
//!
//! | request | does |
//! |---|---|
//! | `GET /_emulator/credentials` | the OAuth client and a refresh token for it, the API key, a service-account key file the emulator accepts, and a workload identity federation subject token with an `external_account` file that uses it |
//! | `POST /_emulator/fault` | queues a fault: `{"model"?, "path"?, "kind", "retry_after_secs"?, "times"?}` |
//! | `POST /_emulator/script` | queues a model's next answers: `{"model", "answers": [{"parts"?, "text"?, "thoughts"?, "function_calls"?, "finish_reason"?, "usage"?}]}` |
//! | `GET /_emulator/requests` | what it received: method, path and body size per request (bodies, which hold secrets, are not shown) |
//! | `POST /_emulator/reset` | clears faults, counts and the request log |
//! | `POST /_emulator/latency` | every model call answers after `{"ms": …}` (a fixed upstream latency, for benchmarks) |
//! | `POST /_emulator/pace` | streamed answers wait `{"ms": …}` between events |
//!
//! A scripted answer's parts are Gemini's (`text`, `thought`, `thoughtSignature`,
//! `functionCall`, …), one streamed event each; or, shorter, `thoughts` (thought
//! parts, the first signed), `text` (text parts) and `function_calls` (`{"name",
//! "args"}`, the first signed, as Gemini signs only the first of parallel calls).
//!
//! Fault kinds: `capacity`, `quota`, `rate_limit`, `invalid_argument`, `unavailable`,
//! `not_found`, `mid_stream_capacity` (the next stream breaks off after its first
//! words), `stall` (the answer waits `retry_after_secs`, 30 s by default).

use std::time::Duration;

use serde_json::{Value, json};

use super::federation::{
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, SUBJECT_TOKEN,
};
use super::{
    API_KEY, Answer, CLIENT_ID, CLIENT_SECRET, Fault, SERVICE_ACCOUNT_EMAIL, Scripted, State,
    google_error, json_answer, service_account_file,
};

/// The signature the emulator puts on the parts Gemini signs (base64, as Google's).
pub const EMULATOR_SIGNATURE: &str = "ZW11bGF0b3Itc2lnbmF0dXJl";

/// An `external_account` file for the emulator at `host`: the subject token from
/// `GET /_emulator/credentials` (its `subject_token` field), exchanged at the
/// emulator's STS, then the service account impersonated.
pub fn external_account_file(host: &str) -> Value {
    json!({
        "type": "external_account",
        "audience": "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/emulator-pool/providers/emulator-provider",
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": format!("http://{host}/v1/token"),
        "service_account_impersonation_url": format!(
            "http://{host}/v1/projects/-/serviceAccounts/{SERVICE_ACCOUNT_EMAIL}:generateAccessToken"
        ),
        "credential_source": {
            "url": format!("http://{host}/_emulator/credentials"),
            "format": {"type": "json", "subject_token_field_name": "subject_token"},
        },
    })
}

/// The most faults one request may queue.
const MAX_TIMES: u64 = 1000;

/// Answers a control request (`path` under `/_emulator/`); `host` is the `Host` the
/// caller used, for the key file's `token_uri`.
pub(crate) fn control(
    state: &mut State,
    method: &str,
    path: &str,
    body: &[u8],
    host: &str,
) -> Answer {
    match (method, path) {
        ("GET", "/_emulator/credentials") => json_answer(
            200,
            json!({
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "api_key": API_KEY,
                // A signed-in user's refresh token, fresh at each call (gcloud's
                // `authorized_user` file holds one with the client above).
                "refresh_token": state.issue_refresh_token(),
                "service_account_email": SERVICE_ACCOUNT_EMAIL,
                "service_account_key": serde_json::from_str::<Value>(
                    &service_account_file(&format!("http://{host}/token"))
                ).unwrap_or(Value::Null),
                // Workload identity federation: the subject token the emulated STS
                // accepts, and a file that uses it (its token read from this very
                // endpoint) and impersonates the service account above.
                "subject_token": SUBJECT_TOKEN,
                "external_account": external_account_file(host),
                // The emulated AWS role's keys (also served by the emulated instance
                // metadata service under /latest/).
                "aws": {"access_key_id": AWS_ACCESS_KEY_ID,
                    "secret_access_key": AWS_SECRET_ACCESS_KEY,
                    "session_token": AWS_SESSION_TOKEN},
            }),
        ),
        ("GET", "/_emulator/requests") => json_answer(
            200,
            json!({"requests": state.log.iter().map(|(method, path, bytes)| json!({
                "method": method, "path": path, "body_bytes": bytes,
            })).collect::<Vec<_>>()}),
        ),
        ("POST", "/_emulator/reset") => {
            state.faults.clear();
            state.model_faults.clear();
            state.counts.clear();
            state.bodies.clear();
            state.log.clear();
            state.scripts.clear();
            state.capacity_mid_stream = false;
            json_answer(200, json!({}))
        }
        ("POST", "/_emulator/latency" | "/_emulator/pace") => {
            let ms = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["ms"].as_u64())
                .filter(|ms| *ms <= 600_000);
            match ms {
                Some(ms) if path.ends_with("latency") => {
                    state.latency = Duration::from_millis(ms);
                    json_answer(200, json!({"latency_ms": ms}))
                }
                Some(ms) => {
                    state.stream_pace = Duration::from_millis(ms);
                    json_answer(200, json!({"pace_ms": ms}))
                }
                None => google_error(400, "INVALID_ARGUMENT", "ms must be 0 to 600000", json!([])),
            }
        }
        ("POST", "/_emulator/script") => match queue_script(state, body) {
            Ok(queued) => json_answer(200, queued),
            Err(problem) => google_error(400, "INVALID_ARGUMENT", &problem, json!([])),
        },
        ("POST", "/_emulator/fault") => match queue_fault(state, body) {
            Ok(queued) => json_answer(200, queued),
            Err(problem) => google_error(400, "INVALID_ARGUMENT", &problem, json!([])),
        },
        _ => google_error(404, "NOT_FOUND", "No such control request.", json!([])),
    }
}

/// Reads a fault request and queues it.
fn queue_fault(state: &mut State, body: &[u8]) -> Result<Value, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let kind = request["kind"].as_str().ok_or("kind is required")?;
    let model = request["model"].as_str().map(str::to_owned);
    let path = request["path"].as_str().map(str::to_owned);
    let seconds = request["retry_after_secs"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 86_400.0);
    let times = request["times"].as_u64().unwrap_or(1).clamp(1, MAX_TIMES) as usize;
    let named = model.clone().unwrap_or_else(|| "gemini-2.5-pro".to_owned());
    let fault = match kind {
        "capacity" => Fault::NoCapacity(named, seconds.unwrap_or(30.0)),
        "quota" => Fault::QuotaExhausted(seconds.unwrap_or(3600.0)),
        "rate_limit" => Fault::RateLimited(seconds.unwrap_or(10.0)),
        "invalid_argument" => Fault::InvalidArgument,
        "unavailable" => Fault::Unavailable,
        "not_found" => Fault::ModelNotFound,
        "stall" => Fault::Slow(Duration::from_secs_f64(seconds.unwrap_or(30.0))),
        "mid_stream_capacity" => {
            state.capacity_mid_stream = true;
            return Ok(json!({"queued": 1}));
        }
        other => {
            return Err(format!(
                "unknown fault kind {other:?}: capacity, quota, rate_limit, invalid_argument, unavailable, not_found, mid_stream_capacity or stall"
            ));
        }
    };
    match (model, path) {
        (Some(model), None) => state
            .model_faults
            .entry(model)
            .or_default()
            .extend(std::iter::repeat_n(fault, times)),
        (None, Some(path)) => match state.faults.iter_mut().find(|(p, _)| *p == path) {
            Some((_, queue)) => queue.extend(std::iter::repeat_n(fault, times)),
            None => state
                .faults
                .push((path, std::iter::repeat_n(fault, times).collect())),
        },
        _ => return Err("name exactly one of model and path".to_owned()),
    }
    Ok(json!({"queued": times}))
}

/// Reads a script request and queues its answers.
fn queue_script(state: &mut State, body: &[u8]) -> Result<Value, String> {
    let request: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let model = request["model"]
        .as_str()
        .ok_or("model is required")?
        .to_owned();
    let answers = request["answers"].as_array().ok_or("answers is required")?;
    if answers.len() > 1000 {
        return Err("at most 1000 answers at once".into());
    }
    let mut scripted = Vec::new();
    for answer in answers {
        let mut parts: Vec<Value> = answer["parts"].as_array().cloned().unwrap_or_default();
        for (index, thought) in answer["thoughts"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut part = json!({"text": thought.as_str().unwrap_or_default(), "thought": true});
            if index == 0 {
                part["thoughtSignature"] = json!(EMULATOR_SIGNATURE);
            }
            parts.push(part);
        }
        for text in answer["text"].as_array().into_iter().flatten() {
            parts.push(json!({"text": text.as_str().unwrap_or_default()}));
        }
        for (index, call) in answer["function_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let name = call["name"]
                .as_str()
                .ok_or("a function call needs a name")?;
            let mut part = json!({"functionCall": {"name": name, "args": call.get("args").cloned().unwrap_or(json!({}))}});
            if index == 0 {
                part["thoughtSignature"] = json!(EMULATOR_SIGNATURE);
            }
            parts.push(part);
        }
        scripted.push(Scripted {
            parts,
            finish_reason: answer["finish_reason"]
                .as_str()
                .unwrap_or("STOP")
                .to_owned(),
            usage: answer.get("usage").cloned().filter(Value::is_object),
        });
    }
    let queued = scripted.len();
    state.scripts.entry(model).or_default().extend(scripted);
    Ok(json!({"queued": queued}))
}
