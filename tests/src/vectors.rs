//! Error vectors: failed responses and what their classification must say.
//!
//! `data/errors.jsonl` holds one case per line: `name`, `status`, `headers` (an
//! object), `body` (a string; or `body_hex` for bytes that are not UTF-8) and
//! `expect`. Each key of `expect` is compared with the same key of an
//! [`ErrorSummary`](codeassist_core::error::ErrorSummary) rendered as JSON, except:
//! `class_in` (the class is one of these), `message_contains` and `message_excludes`
//! (substrings of the human message). Numbers compare within 1e-6.

use serde_json::Value;

/// The vector file, compiled in so tests never depend on the working directory.
pub const ERRORS_JSONL: &str = include_str!("../data/errors.jsonl");

/// One recorded failure.
#[derive(Debug, Clone)]
pub struct Vector {
    /// A short unique name.
    pub name: String,
    /// The HTTP status.
    pub status: u16,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// What the summary must say.
    pub expect: serde_json::Map<String, Value>,
}

/// Every vector in [`ERRORS_JSONL`]. Panics on a malformed line: the file is ours.
pub fn error_vectors() -> Vec<Vector> {
    ERRORS_JSONL
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let case: Value = serde_json::from_str(line).expect("vector line is JSON");
            let body = match case.get("body_hex").and_then(Value::as_str) {
                Some(hex) => (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex body"))
                    .collect(),
                None => case["body"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
            Vector {
                name: case["name"].as_str().expect("name").to_owned(),
                status: case["status"].as_u64().expect("status") as u16,
                headers: case["headers"]
                    .as_object()
                    .map(|h| {
                        h.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default(),
                body,
                expect: case["expect"].as_object().expect("expect").clone(),
            }
        })
        .collect()
}

impl Vector {
    /// The headers as an `http::HeaderMap`.
    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in &self.headers {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                http::HeaderValue::from_str(value).expect("header value"),
            );
        }
        map
    }

    /// Compares a summary (as JSON) with the expectations; lists every mismatch.
    pub fn check(&self, summary: &Value) -> Result<(), String> {
        let mut problems = Vec::new();
        let message = summary["message"].as_str().unwrap_or_default();
        for (key, want) in &self.expect {
            match key.as_str() {
                "class_in" => {
                    let allowed = want.as_array().cloned().unwrap_or_default();
                    if !allowed.contains(&summary["class"]) {
                        problems.push(format!("class {} not in {want}", summary["class"]));
                    }
                }
                "message_contains" | "message_excludes" => {
                    for needle in want
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        let found = message.contains(needle);
                        if found != (key == "message_contains") {
                            problems.push(format!("message {message:?} {key} {needle:?}"));
                        }
                    }
                }
                _ => {
                    let got = summary.get(key).unwrap_or(&Value::Null);
                    let same = match (got.as_f64(), want.as_f64()) {
                        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
                        _ => got == want,
                    };
                    if !same {
                        problems.push(format!("{key}: got {got}, want {want}"));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {}", self.name, problems.join("; ")))
        }
    }
}
