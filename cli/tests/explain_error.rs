//! `codeassist explain-error` as a black box: every error vector through the binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use codeassist_testkit::vectors::error_vectors;

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_codeassist"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn codeassist");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_vector_through_json_output() {
    let mut failures = Vec::new();
    for vector in error_vectors() {
        let status = vector.status.to_string();
        let headers: Vec<String> = vector
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        let mut args = vec!["explain-error", "--json", "--status", &status];
        for header in &headers {
            args.extend(["--header", header]);
        }
        let output = run(&args, &vector.body);
        assert!(output.status.success(), "{}: {:?}", vector.name, output);
        let stdout = String::from_utf8(output.stdout).unwrap();
        assert_eq!(
            stdout.lines().count(),
            1,
            "{}: one JSON line: {stdout}",
            vector.name
        );
        let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        for key in [
            "http_status",
            "status",
            "reason",
            "domain",
            "model",
            "retry_after_secs",
            "class",
            "retryable",
            "fallback",
            "needs_sign_in",
            "message",
        ] {
            assert!(
                summary.get(key).is_some(),
                "{}: key {key} missing",
                vector.name
            );
        }
        if let Err(problem) = vector.check(&summary) {
            failures.push(problem);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn reads_curl_i_output_and_prints_the_human_line() {
    let input = b"HTTP/2 429 \r\ncontent-type: application/json; charset=UTF-8\r\nretry-after: 7\r\n\r\n{\"error\": {\"code\": 429, \"message\": \"Resource has been exhausted (e.g. check quota).\", \"status\": \"RESOURCE_EXHAUSTED\", \"details\": [{\"@type\": \"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"MODEL_CAPACITY_EXHAUSTED\", \"domain\": \"cloudcode-pa.googleapis.com\", \"metadata\": {\"model\": \"gemini-2.5-pro\"}}]}}";
    let output = run(&["explain-error"], input);
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    assert!(
        line.starts_with("Gemini capacity exhausted for gemini-2.5-pro"),
        "{line}"
    );
    assert!(line.contains("retry in 7s"), "{line}");

    let output = run(&["explain-error", "--json"], input);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["http_status"], 429);
    assert_eq!(summary["retry_after_secs"], 7.0);
    assert_eq!(summary["class"], "capacity");
}

#[test]
fn unreadable_input_is_a_clear_error() {
    let output = run(&["explain-error"], b"{\"error\": {}}");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("--status"), "{stderr}");

    let output = run(
        &["explain-error", "--status", "429", "--header", "no colon"],
        b"",
    );
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn hostile_inputs_get_clear_answers() {
    // Tens of thousands of header lines: a clear refusal, not a crash.
    let mut input = b"HTTP/1.1 429 Too Many Requests\r\n".to_vec();
    for i in 0..30_000 {
        input.extend_from_slice(format!("x-h: {i}\r\n").as_bytes());
    }
    input.extend_from_slice(b"\r\n{}");
    let output = run(&["explain-error"], &input);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("header lines"));

    // A token planted in the reason, domain and model comes out redacted, and
    // bidirectional controls are gone.
    let body = r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "m",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "Bearer ya29.PLANTEDsecret", "domain": "ya29.PLANTEDdomain",
        "metadata": {"model": "ya29.PLANTEDmodel\u202e"}}]}}"#;
    let output = run(
        &["explain-error", "--json", "--status", "429"],
        body.as_bytes(),
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(!stdout.contains("PLANTED"), "{stdout}");
    assert!(!stdout.contains('\u{202e}'), "{stdout}");
}

/// Google's error bodies that echo secrets: a 2026 API key (in the message and in a
/// `?key=` URL), a client secret (in the message and as a `reason`), URL-encoded
/// access and refresh tokens and an encoded authorization code. None reaches the
/// plain line or the JSON summary.
#[test]
fn secrets_in_a_body_reach_neither_the_line_nor_the_json() {
    let body = br#"{"error": {"code": 400, "status": "INVALID_ARGUMENT",
        "message": "Request failed for key AQ.Ab8RN6LmNopQrStUvWxYz0123 at https://generativelanguage.googleapis.com/v1beta/models?key=AQ.Ab8RN6LmNopQrStUvWxYz0123 with client GOCSPX-abcdefgh12345678, ya29%2Ea0AfH6SMBxyz, refresh_token%3D1%2F%2F0gAbCdEfGhIj and code=4%2F0AQlEd8xyzABCDEFG",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                     "reason": "GOCSPX-abcdefgh12345678", "domain": "googleapis.com"}]}}"#;
    for json in [false, true] {
        let mut args = vec!["explain-error", "--status", "400"];
        if json {
            args.push("--json");
        }
        let output = run(&args, body);
        assert!(output.status.success(), "{output:?}");
        let shown = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        for leaked in ["Ab8RN6", "abcdefgh", "a0AfH6", "0gAbCd", "0AQlEd"] {
            assert!(
                !shown.contains(leaked),
                "{leaked} shown (json: {json}): {shown}"
            );
        }
    }
}
