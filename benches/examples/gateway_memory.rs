//! Heap bytes the gateway holds per open idle stream, counted in-process: the gateway
//! runs here (its allocations counted through a wrapped system allocator) in front of
//! an upstream in another process (`codeassist emulator`, its streams paced so they
//! stay open); `--streams` callers on plain sockets each send a streamed chat request
//! and read the answer's head, then the bytes allocated and not yet freed are divided
//! by the number of streams. `benches/gateway/run.sh` measures resident memory of the
//! real binary; this attributes it. An `https://` upstream (`examples/h2_upstream.rs`,
//! HTTP/2) is trusted through `CODEASSIST_CA_FILE`.
//!
//! ```text
//! cargo run --release -p codeassist-benches --example gateway_memory -- \
//!     --upstream http://127.0.0.1:PORT --key KEY --streams 200
//! ```

use std::alloc::System;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use codeassist_core::Secret;
use codeassist_core::inference::Target;
use codeassist_runtime::MemoryCredentialStore;
use codeassist_server::{Gateway, GatewayConfig};
use codeassist_testkit::conformance::{code_assist_config, oauth_client};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Sends a streamed chat request on a new connection and reads up to the end of the
/// answer's head; returns the connection, left open and unread.
fn open_stream(gateway: &str) -> TcpStream {
    let body = r#"{"model": "gemini-3.8-flash", "stream": true, "messages": [{"role": "user", "content": "hi"}]}"#;
    let mut stream = TcpStream::connect(gateway).expect("the gateway");
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: {gateway}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("a request");
    let mut head = [0u8; 4096];
    let mut seen = 0;
    while !head[..seen].windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut head[seen..]).expect("an answer");
        assert!(read > 0, "the gateway closed the connection");
        seen += read;
    }
    assert!(head.starts_with(b"HTTP/1.1 200"), "not a 200");
    stream
}

fn main() {
    let (mut upstream, mut key, mut streams) = (String::new(), String::new(), 200usize);
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--upstream" => upstream = value,
            "--key" => key = value,
            "--streams" => streams = value.parse().expect("a number"),
            other => panic!("unknown flag {other}"),
        }
    }
    assert!(
        !upstream.is_empty() && !key.is_empty(),
        "--upstream and --key"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let target = Target::gemini_api(Some(Secret::new(key))).under(&upstream);
    let client = runtime.block_on(async {
        codeassist_tokio::Client::builder(oauth_client(&upstream))
            .store(MemoryCredentialStore::default())
            .code_assist(code_assist_config(&upstream))
            .env_project(None)
            .build()
            .unwrap()
    });
    let mut config = GatewayConfig::new(target);
    config.fallback = false;
    let gateway = Gateway::new(client, config);
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address = listener.local_addr().unwrap().to_string();
    runtime.spawn(gateway.serve(listener, std::future::pending()));
    // Warm what is made once (the connection pool, lazies, the tracing setup).
    let warm: Vec<TcpStream> = (0..4).map(|_| open_stream(&address)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let region = Region::new(GLOBAL);
    let held: Vec<TcpStream> = (0..streams).map(|_| open_stream(&address)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let change = region.change();
    let net = change.bytes_allocated as i64 + change.bytes_reallocated as i64
        - change.bytes_deallocated as i64;
    println!(
        "{{\"streams\": {streams}, \"held_bytes_per_stream\": {}, \"allocations_per_stream\": {}}}",
        net / streams as i64,
        (change.allocations as i64 - change.deallocations as i64) / streams as i64
    );
    drop((held, warm));
}
