//! Time to the first streamed item of an `ask` (the fallback operation, the target's
//! request, the opening with retries) against a raw streamed request of the same
//! client's driver, both through the emulator on one keep-alive loopback server.
//! Paired: the two alternate, and the ratio is printed after the criterion groups.

use std::hint::black_box;
use std::time::{Duration, Instant};

use codeassist_blocking::Client;
use codeassist_core::Secret;
use codeassist_core::inference::{ModelMethod, Target};
use codeassist_testkit::conformance::oauth_client;
use codeassist_testkit::emulator::{API_KEY, Emulator};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

struct Setup {
    client: Client,
    target: Target,
    request: serde_json::Value,
    _server: codeassist_testkit::emulator::Server,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let emulator = Emulator::new();
    let server = emulator.serve_keep_alive().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::builder(oauth_client(&base))
        .store(codeassist_runtime::FileStore::new(
            dir.path().join("oauth.json"),
        ))
        .build()
        .unwrap();
    Setup {
        client,
        target: Target::gemini_api(Some(Secret::new(API_KEY))).under(&base),
        request: json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}),
        _server: server,
        _dir: dir,
    }
}

fn ask(setup: &Setup) {
    let (_answered, mut stream) = setup
        .client
        .stream_with_fallback(&setup.target, "gemini-3.8-flash", setup.request.clone())
        .unwrap();
    black_box(stream.next());
}

fn raw(setup: &Setup) {
    let request = setup
        .target
        .model_request(
            "gemini-3.8-flash",
            ModelMethod::Stream,
            &setup.request,
            None,
        )
        .unwrap();
    let mut stream = setup.client.driver().stream(request).unwrap();
    black_box(stream.next());
}

fn ask_ttfb(c: &mut Criterion) {
    let setup = setup();
    let mut group = c.benchmark_group("ask-first-item");
    group.bench_function("ask", |b| b.iter(|| ask(&setup)));
    group.bench_function("raw-stream", |b| b.iter(|| raw(&setup)));
    group.finish();

    let (mut ours, mut theirs) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..200 {
        let started = Instant::now();
        for _ in 0..10 {
            raw(&setup);
        }
        theirs += started.elapsed();
        let started = Instant::now();
        for _ in 0..10 {
            ask(&setup);
        }
        ours += started.elapsed();
    }
    eprintln!(
        "ask first item: paired over 200×10 calls, ask / raw = {:.3} ({:?} vs {:?} per call)",
        ours.as_secs_f64() / theirs.as_secs_f64(),
        ours / 2000,
        theirs / 2000,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(3));
    targets = ask_ttfb
}
criterion_main!(benches);
