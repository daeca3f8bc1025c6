//! `codeassist emulator` as a process, driven over HTTP as a host in any language
//! drives it: its address on stdout, credentials and faults under `/_emulator/`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use codeassist_testkit::browser::agent;
use serde_json::{Value, json};

/// The running emulator; killed when dropped (a failing test leaves no process).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> (Running, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codeassist"))
        .args(["emulator", "--port", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let stdout = child.stdout.take().expect("its stdout");
    let running = Running(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the address");
    (running, line.trim().to_owned())
}

fn get(url: &str) -> (u16, Value) {
    let mut response = agent().get(url).call().expect("a GET");
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> (u16, Value) {
    let mut request = agent().post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request
        .header("content-type", "application/json")
        .send(body.to_string())
        .expect("a POST");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[test]
fn the_emulator_process_is_driven_over_http() {
    let (_running, base) = start();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let (status, credentials) = get(&format!("{base}/_emulator/credentials"));
    assert_eq!(status, 200);
    let key = credentials["api_key"]
        .as_str()
        .expect("an API key")
        .to_owned();
    assert!(credentials["client_id"].is_string());
    assert_eq!(
        credentials["service_account_key"]["token_uri"],
        format!("{}/token", base)
    );

    let generate = format!("{base}/v1beta/models/gemini-3.8-flash:generateContent");
    let prompt = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let (status, queued) = post(
        &format!("{base}/_emulator/fault"),
        &[],
        &json!({"model": "gemini-3.8-flash", "kind": "capacity", "retry_after_secs": 7, "times": 1}),
    );
    assert_eq!((status, queued["queued"].as_u64()), (200, Some(1)));
    let (status, error) = post(&generate, &[("x-goog-api-key", &key)], &prompt);
    assert_eq!(status, 429);
    assert_eq!(
        error["error"]["details"][0]["reason"],
        "MODEL_CAPACITY_EXHAUSTED"
    );
    let (status, answer) = post(&generate, &[("x-goog-api-key", &key)], &prompt);
    assert_eq!(status, 200);
    assert!(answer["candidates"][0]["content"]["parts"][0]["text"].is_string());

    let (_, log) = get(&format!("{base}/_emulator/requests"));
    let paths: Vec<&str> = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert_eq!(paths.len(), 2, "{log}");
    assert!(!log.to_string().contains(&key), "no secret in the log");

    let (status, refused) = post(
        &format!("{base}/_emulator/fault"),
        &[],
        &json!({"model": "m", "kind": "meteor"}),
    );
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        post(&format!("{base}/_emulator/reset"), &[], &json!({})).0,
        200
    );
    let (_, log) = get(&format!("{base}/_emulator/requests"));
    assert_eq!(log["requests"].as_array().unwrap().len(), 0);
}

#[test]
fn a_non_loopback_address_needs_to_be_asked_for() {
    let output = Command::new(env!("CARGO_BIN_EXE_codeassist"))
        .args(["emulator", "--host", "0.0.0.0", "--port", "0"])
        .stdin(Stdio::null())
        .output()
        .expect("run the emulator");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--allow-remote"));
}

/// A tool loop against the emulator process: a scripted answer with a thought and two
/// parallel function calls (the first signed, as Gemini signs), then the history
/// replayed: without the signature Gemini 3 refuses it, with it (or Google's
/// placeholder) the loop goes on.
#[test]
fn a_tool_loop_with_thought_signatures() {
    let (_running, base) = start();
    let (_, credentials) = get(&format!("{base}/_emulator/credentials"));
    let key = credentials["api_key"].as_str().unwrap().to_owned();
    let (status, queued) = post(
        &format!("{base}/_emulator/script"),
        &[],
        &json!({"model": "gemini-3.8-flash", "answers": [{
            "thoughts": ["Two cities: two calls."],
            "function_calls": [{"name": "weather", "args": {"city": "Paris"}},
                               {"name": "weather", "args": {"city": "Oslo"}}],
            "usage": {"promptTokenCount": 10, "candidatesTokenCount": 5, "thoughtsTokenCount": 7, "totalTokenCount": 22},
        }]}),
    );
    assert_eq!((status, queued["queued"].as_u64()), (200, Some(1)));
    let generate = format!("{base}/v1beta/models/gemini-3.8-flash:generateContent");
    let ask =
        json!({"contents": [{"role": "user", "parts": [{"text": "Weather in Paris and Oslo?"}]}]});
    let (status, answer) = post(&generate, &[("x-goog-api-key", &key)], &ask);
    assert_eq!(status, 200, "{answer}");
    let parts = answer["candidates"][0]["content"]["parts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(parts[0]["thought"], true);
    assert_eq!(parts[1]["functionCall"]["args"]["city"], "Paris");
    let signature = parts[1]["thoughtSignature"]
        .as_str()
        .expect("the first call signed");
    assert!(
        parts[2].get("thoughtSignature").is_none(),
        "only the first call"
    );
    assert_eq!(answer["usageMetadata"]["totalTokenCount"], 22);

    let replay = |first_call_signature: Option<&str>| {
        let mut first = parts[1].clone();
        match first_call_signature {
            Some(signature) => first["thoughtSignature"] = json!(signature),
            None => {
                first.as_object_mut().unwrap().remove("thoughtSignature");
            }
        }
        json!({"contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris and Oslo?"}]},
            {"role": "model", "parts": [first, parts[2].clone()]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "weather", "response": {"temp": 12}}},
                {"functionResponse": {"name": "weather", "response": {"temp": 3}}}]},
        ]})
    };
    let (status, refused) = post(&generate, &[("x-goog-api-key", &key)], &replay(None));
    assert_eq!(status, 400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing a thought_signature"),
        "{refused}"
    );
    for kept in [signature, "skip_thought_signature_validator"] {
        let (status, answer) = post(&generate, &[("x-goog-api-key", &key)], &replay(Some(kept)));
        assert_eq!(status, 200, "{answer}");
    }
}
