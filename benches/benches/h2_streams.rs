//! 500 concurrent streamed answers through one tokio driver: over HTTP/2 (one shared
//! connection, the emulator behind a hyper h2 server) against over HTTP/1.1 (a
//! connection each, the emulator's own HTTPS server), wall time per batch; and the
//! memory an in-flight stream holds (allocated, not yet freed, while 500 are open).

use std::alloc::System;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeassist_core::Secret;
use codeassist_core::inference::{ModelMethod, StreamItem, Target};
use codeassist_runtime::TrustRoots;
use codeassist_testkit::emulator::{API_KEY, Emulator};
use codeassist_testkit::h2::H2Server;
use codeassist_testkit::tls::private_ca;
use codeassist_tokio::{AsyncDriver, DriverConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const STREAMS: usize = 500;

fn requests(base: &str) -> Vec<codeassist_core::flow::Request> {
    let target = Target::gemini_api(Some(Secret::new(API_KEY))).under(base);
    let body = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    (0..STREAMS)
        .map(|_| {
            target
                .model_request("gemini-3.8-flash", ModelMethod::Stream, &body, None)
                .unwrap()
        })
        .collect()
}

/// Opens and reads `STREAMS` streams at once.
async fn batch(driver: &AsyncDriver, base: &str) {
    let mut tasks = tokio::task::JoinSet::new();
    for request in requests(base) {
        let driver = driver.clone();
        tasks.spawn(async move {
            let mut stream = driver.stream(request).await.unwrap();
            let mut chunks = 0;
            while let Some(item) = stream.next().await {
                if let StreamItem::Chunk(_) = item.unwrap() {
                    chunks += 1;
                }
            }
            assert_eq!(chunks, 4);
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// Bytes held per open stream while `STREAMS` are open and none is read.
async fn memory_per_stream(driver: &AsyncDriver, base: &str) -> usize {
    let region = Region::new(GLOBAL);
    let requests = requests(base);
    let mut tasks = tokio::task::JoinSet::new();
    for request in requests {
        let driver = driver.clone();
        tasks.spawn(async move { driver.stream(request).await.unwrap() });
    }
    let mut open = Vec::with_capacity(STREAMS);
    while let Some(stream) = tasks.join_next().await {
        open.push(stream.unwrap());
    }
    let change = region.change();
    drop(open);
    (change.bytes_allocated + change.bytes_reallocated.max(0) as usize)
        .saturating_sub(change.bytes_deallocated)
        / STREAMS
}

fn h2_streams(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ca = private_ca();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let mut config = DriverConfig::default();
    config.trust = Some(Arc::new(TrustRoots::load(Some(&bundle)).unwrap()));
    let emulator = Emulator::new();
    let h2 = runtime
        .block_on(H2Server::start(emulator.clone(), &ca.server))
        .unwrap();
    let http1 = emulator.serve_tls(ca.server.clone()).unwrap();
    let h2_driver = runtime.block_on(async { AsyncDriver::new(config.clone()) });
    let http1_driver = runtime.block_on(async { AsyncDriver::new(config.clone()) });
    // Warm: the h2 driver has its connection (one call; concurrent first calls to a
    // cold host would each open one).
    runtime.block_on(async {
        let request = requests(h2.base_url()).remove(0);
        h2_driver.stream(request).await.unwrap();
    });

    let mut group = c.benchmark_group("500-streams");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("http2-one-connection", |b| {
        b.iter(|| runtime.block_on(batch(&h2_driver, h2.base_url())))
    });
    group.bench_function("http1-connection-each", |b| {
        b.iter(|| runtime.block_on(batch(&http1_driver, &http1.base_url())))
    });
    group.finish();

    let (mut over_h2, mut over_http1) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..5 {
        let started = Instant::now();
        runtime.block_on(batch(&http1_driver, &http1.base_url()));
        over_http1 += started.elapsed();
        let started = Instant::now();
        runtime.block_on(batch(&h2_driver, h2.base_url()));
        over_h2 += started.elapsed();
    }
    let per_stream = runtime.block_on(memory_per_stream(&h2_driver, h2.base_url()));
    eprintln!(
        "500 streams: paired over 5 batches, h2 / http1 wall time = {:.3} ({:?} vs {:?} per batch); {} connections on h2; {per_stream} bytes held per in-flight h2 stream",
        over_h2.as_secs_f64() / over_http1.as_secs_f64(),
        over_h2 / 5,
        over_http1 / 5,
        h2.connections(),
    );
}

criterion_group!(benches, h2_streams);
criterion_main!(benches);
