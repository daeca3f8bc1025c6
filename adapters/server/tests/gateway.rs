//! The gateway against the emulator over loopback: every route, fallback, errors in
//! each wire with Retry-After, the caller's key, a client that goes away, drain on
//! shutdown, metrics, and the exposure rule.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use codeassist_core::Secret;
use codeassist_core::inference::Target;
use codeassist_runtime::MemoryCredentialStore;
use codeassist_server::{Gateway, GatewayConfig, check_exposure};
use codeassist_testkit::browser::agent;
use codeassist_testkit::conformance::{code_assist_config, oauth_client};
use codeassist_testkit::emulator::{API_KEY, Emulator, Fault, Server};
use serde_json::{Value, json};

/// A gateway in front of an emulator, on a runtime of its own.
struct Running {
    url: String,
    emulator: Emulator,
    gateway: Gateway,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _server: Server,
}

impl Running {
    fn start(configure: impl FnOnce(&mut GatewayConfig)) -> Self {
        Self::start_with(configure, 10)
    }

    /// A gateway whose client tries each call at most `attempts` times.
    fn start_with(configure: impl FnOnce(&mut GatewayConfig), attempts: u32) -> Self {
        let emulator = Emulator::new();
        let server = emulator.serve().expect("the emulator");
        let base = server.base_url();
        let target = Target::gemini_api(Some(Secret::new(API_KEY))).under(&base);
        let mut config = GatewayConfig::new(target);
        configure(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut code_assist = code_assist_config(&base);
        code_assist.retry.max_attempts = attempts;
        let client = runtime.block_on(async {
            codeassist_tokio::Client::builder(oauth_client(&base))
                .store(MemoryCredentialStore::default())
                .code_assist(code_assist)
                .env_project(None)
                .build()
                .unwrap()
        });
        let gateway = Gateway::new(client, config);
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = gateway.clone();
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(serving.serve(listener, async {
                    let _ = stopped.await;
                }))
                .unwrap();
        });
        Self {
            url,
            emulator,
            gateway,
            stop: Some(stop),
            thread: Some(thread),
            _server: server,
        }
    }

    fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (u16, http::HeaderMap, String) {
        let mut request = agent().post(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.send(body.to_string()).expect("an answer");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        (status, headers, text)
    }

    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = agent().get(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request.call().expect("an answer");
        (
            response.status().as_u16(),
            response.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// Stops the gateway and waits for it; returns how long that took.
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
        started.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn chat(stream: bool) -> Value {
    json!({"model": "gemini-3.8-flash", "stream": stream,
        "messages": [{"role": "user", "content": "hi"}]})
}

/// The `data:` payloads of an SSE body.
fn data_lines(body: &str) -> Vec<String> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn openai_chat_whole_and_streamed_with_the_answering_model() {
    let gateway = Running::start(|_| {});
    let (status, headers, body) = gateway.post("/v1/chat/completions", &[], &chat(false));
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "Hello from the emulator."
    );
    assert_eq!(headers["x-codeassist-model"], "gemini-3.8-flash");

    let (status, headers, body) = gateway.post("/v1/chat/completions", &[], &chat(true));
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/event-stream");
    let events = data_lines(&body);
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    let text: String = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter_map(|e| {
            e["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(text, "Hello from the emulator.");
    // One id on every chunk.
    let ids: std::collections::BTreeSet<String> = events[..events.len() - 1]
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
}

#[test]
fn a_model_without_capacity_falls_back_before_the_first_byte() {
    let gateway = Running::start(|_| {});
    gateway.emulator.inject_model(
        "gemini-3-pro-preview",
        Fault::NoCapacity("gemini-3-pro-preview".into(), 0.01),
        50,
    );
    let mut body = chat(true);
    body["model"] = json!("gemini-3-pro-preview");
    let (status, headers, text) = gateway.post("/v1/chat/completions", &[], &body);
    assert_eq!(status, 200, "{text}");
    let answered = headers["x-codeassist-model"].to_str().unwrap().to_owned();
    assert_ne!(answered, "gemini-3-pro-preview");
    let first: Value = serde_json::from_str(&data_lines(&text)[0]).unwrap();
    assert_eq!(first["model"], answered.as_str());
    assert!(
        gateway
            .gateway
            .metrics()
            .render()
            .contains("codeassist_fallbacks_total 1")
    );

    // Without fallback, the capacity error reaches the caller in its wire.
    let strict = Running::start_with(|config| config.fallback = false, 1);
    strict.emulator.inject_model(
        "gemini-3-pro-preview",
        Fault::NoCapacity("gemini-3-pro-preview".into(), 7.0),
        50,
    );
    let (status, headers, text) = strict.post(
        "/v1/messages",
        &[],
        &json!({
        "model": "gemini-3-pro-preview", "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(status, 529, "{text}");
    assert_eq!(headers["retry-after"], "7");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["type"], "overloaded_error");
}

#[test]
fn a_rate_limit_reaches_openai_clients_as_429_with_retry_after() {
    // One attempt: the wait Google asks for is the caller's to make.
    let gateway = Running::start_with(|config| config.fallback = false, 1);
    gateway
        .emulator
        .inject_model("gemini-3.8-flash", Fault::RateLimited(11.5), 50);
    let (status, headers, text) = gateway.post("/v1/chat/completions", &[], &chat(false));
    assert_eq!(status, 429, "{text}");
    assert_eq!(headers["retry-after"], "12");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["error"]["type"], "rate_limit_error");
    assert!(
        gateway
            .gateway
            .metrics()
            .render()
            .contains("class=\"rate_limit\"")
    );
}

#[test]
fn anthropic_messages_whole_streamed_and_counted() {
    let gateway = Running::start(|_| {});
    let ask = json!({"model": "gemini-3.8-flash", "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}]});
    let (status, _, text) = gateway.post("/v1/messages", &[], &ask);
    assert_eq!(status, 200, "{text}");
    let message: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(message["content"][0]["text"], "Hello from the emulator.");
    assert_eq!(message["stop_reason"], "end_turn");

    let mut streamed = ask.clone();
    streamed["stream"] = json!(true);
    let (status, _, text) = gateway.post("/v1/messages", &[], &streamed);
    assert_eq!(status, 200);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"message_start"));
    assert_eq!(names.last(), Some(&"message_stop"));
    assert!(names.contains(&"content_block_delta"));

    let (status, _, text) = gateway.post(
        "/v1/messages/count_tokens",
        &[],
        &json!({
        "model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]}),
    );
    assert_eq!(status, 200, "{text}");
    assert!(serde_json::from_str::<Value>(&text).unwrap()["input_tokens"].is_u64());
}

#[test]
fn gemini_routes_pass_through_with_the_gateways_own_credentials() {
    let gateway = Running::start(|config| config.api_key = Some(Secret::new("gateway-key")));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let (status, headers, text) = gateway.post(
        "/v1beta/models/gemini-3.8-flash:generateContent?key=gateway-key",
        &[],
        &body,
    );
    assert_eq!(status, 200, "{text}");
    assert_eq!(headers["x-codeassist-model"], "gemini-3.8-flash");
    let answer: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        answer["candidates"][0]["content"]["parts"][0]["text"],
        "Hello from the emulator."
    );
    let (status, _, text) = gateway.post(
        "/v1beta/models/gemini-3.8-flash:streamGenerateContent?alt=sse",
        &[("x-goog-api-key", "gateway-key")],
        &body,
    );
    assert_eq!(status, 200);
    assert!(data_lines(&text).len() >= 2, "{text}");
    let (status, text) = gateway.get("/v1beta/models", &[("x-goog-api-key", "gateway-key")]);
    assert_eq!(status, 200);
    assert!(text.contains("models/gemini-3.8-flash"), "{text}");
    // An unknown model: Google's envelope.
    let (status, _, text) = gateway.post(
        "/v1beta/models/gemini-9-nonexistent:generateContent",
        &[("x-goog-api-key", "gateway-key")],
        &body,
    );
    assert_eq!(status, 404, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"]["status"],
        "NOT_FOUND"
    );
}

#[test]
fn the_callers_key_is_checked_in_each_wire_and_never_forwarded() {
    let gateway = Running::start(|config| config.api_key = Some(Secret::new("gateway-key")));
    let (status, _, text) = gateway.post("/v1/chat/completions", &[], &chat(false));
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"]["code"],
        "invalid_api_key"
    );
    let (status, _, text) = gateway.post("/v1/messages", &[("x-api-key", "wrong")], &json!({}));
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"]["type"],
        "authentication_error"
    );
    let (status, _, _) = gateway.post(
        "/v1/chat/completions",
        &[("authorization", "Bearer gateway-key")],
        &chat(false),
    );
    assert_eq!(status, 200);
    let (status, _, _) = gateway.post(
        "/v1/chat/completions",
        &[("x-api-key", "gateway-key")],
        &chat(false),
    );
    assert_eq!(status, 200);
    for body in gateway
        .emulator
        .bodies("/v1beta/models/gemini-3.8-flash:generateContent")
    {
        assert!(!String::from_utf8_lossy(&body).contains("gateway-key"));
    }
    // Health needs no key; metrics do.
    assert_eq!(gateway.get("/healthz", &[]).0, 200);
    assert_eq!(gateway.get("/metrics", &[]).0, 401);
    let (status, metrics) = gateway.get("/metrics", &[("authorization", "Bearer gateway-key")]);
    assert_eq!(status, 200);
    assert!(metrics.contains("codeassist_requests_total"), "{metrics}");
    // An API key mints no token.
    assert!(
        metrics.contains("codeassist_token_refreshes_total 0"),
        "{metrics}"
    );
}

#[test]
fn a_refused_field_is_a_400_naming_it() {
    let gateway = Running::start(|_| {});
    let mut body = chat(false);
    body["logprobs"] = json!(true);
    let (status, _, text) = gateway.post("/v1/chat/completions", &[], &body);
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["error"]["param"],
        "logprobs"
    );
    let dropping =
        Running::start(|config| config.options = codeassist_core::compat::Options::dropping());
    let (status, _, _) = dropping.post("/v1/chat/completions", &[], &body);
    assert_eq!(status, 200);
}

/// Opens a streamed chat over a raw connection and reads until the first delta.
fn open_stream(url: &str) -> (TcpStream, BufReader<TcpStream>) {
    let address: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let body = chat(true).to_string();
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if line.contains("\"content\":\"Hello\"") {
            break;
        }
        line.clear();
    }
    (stream, reader)
}

fn open_streams(gateway: &Running) -> String {
    gateway
        .gateway
        .metrics()
        .render()
        .lines()
        .find(|l| l.starts_with("codeassist_open_streams"))
        .unwrap_or("")
        .to_owned()
}

#[test]
fn a_client_that_goes_away_ends_its_upstream_at_once() {
    let gateway = Running::start(|_| {});
    gateway.emulator.pace_streams(Duration::from_millis(500));
    let (stream, reader) = open_stream(&gateway.url);
    assert_eq!(open_streams(&gateway), "codeassist_open_streams 1");
    drop(reader);
    stream.shutdown(std::net::Shutdown::Both).unwrap();
    drop(stream);
    let started = Instant::now();
    while open_streams(&gateway) != "codeassist_open_streams 0" {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "the stream is still relayed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shutdown_drains_streams_then_cuts_them_with_an_error_event() {
    let mut gateway = Running::start(|config| config.drain = Duration::from_millis(300));
    gateway.emulator.pace_streams(Duration::from_secs(2));
    let (_stream, mut reader) = open_stream(&gateway.url);
    let took = gateway.stop();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    let mut rest = String::new();
    let _ = reader.read_to_string(&mut rest);
    assert!(rest.contains("shutting down"), "{rest}");
    assert!(!rest.contains("[DONE]"), "{rest}");
}

#[test]
fn anything_but_loopback_needs_a_key() {
    let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let loopback: SocketAddr = "127.0.0.2:8080".parse().unwrap();
    assert!(
        check_exposure(public, false)
            .unwrap_err()
            .contains("--api-key")
    );
    assert!(check_exposure(public, true).is_ok());
    assert!(check_exposure(loopback, false).is_ok());
    assert!(check_exposure("[::1]:8080".parse().unwrap(), false).is_ok());
    assert!(check_exposure("[::]:8080".parse().unwrap(), false).is_err());
}

#[test]
fn h2c_clients_are_served_too() {
    let gateway = Running::start(|_| {});
    let address: SocketAddr = gateway.url.trim_start_matches("http://").parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = gateway.url.clone();
    let body = runtime.block_on(async move {
        use http_body_util::BodyExt;
        let stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let request = http::Request::post(format!("{url}/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::from(
                chat(false).to_string(),
            )))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        response.into_body().collect().await.unwrap().to_bytes()
    });
    assert!(String::from_utf8_lossy(&body).contains("Hello from the emulator."));
    // The client's connection closes with its runtime; shutdown needs no drain.
    drop(runtime);
    let mut gateway = gateway;
    assert!(gateway.stop() < Duration::from_secs(5));
}
