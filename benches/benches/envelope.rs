//! Parse + classify real error bodies, against two baselines on the same bytes:
//! a naive port (`serde_json::Value`, walked by hand) and serde_json's own floor
//! (`IgnoredAny`: validation only). Also counts allocations per parse.

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use codeassist_core::ApiError;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const BODIES: [(&str, u16, &[u8]); 4] = [
    (
        "429-capacity",
        429,
        include_bytes!("../data/429-capacity.json"),
    ),
    (
        "429-free-tier-quota-2k",
        429,
        include_bytes!("../data/429-free-tier-quota.json"),
    ),
    (
        "502-proxy-html",
        502,
        include_bytes!("../data/502-proxy.html"),
    ),
    ("junk-64k", 500, include_bytes!("../data/junk-64k.bin")),
];

/// What a naive port does: parse into `Value`, then dig out the fields by hand.
fn naive(body: &[u8]) -> (Option<String>, Option<String>, Option<f64>) {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return (None, None, None);
    };
    let error = &value["error"];
    let status = error["status"].as_str().map(str::to_owned);
    let mut reason = None;
    let mut delay = None;
    for detail in error["details"].as_array().into_iter().flatten() {
        match detail["@type"].as_str() {
            Some(t) if t.ends_with("ErrorInfo") => {
                reason = detail["reason"].as_str().map(str::to_owned)
            }
            Some(t) if t.ends_with("RetryInfo") => {
                delay = detail["retryDelay"]
                    .as_str()
                    .and_then(|d| d.trim_end_matches('s').parse().ok())
            }
            _ => {}
        }
    }
    (status, reason, delay)
}

/// Allocations (count, bytes) made by `work`.
fn allocations(work: impl FnOnce()) -> (usize, usize) {
    let region = Region::new(GLOBAL);
    work();
    let stats = region.change();
    (stats.allocations, stats.bytes_allocated)
}

/// Times `ours` and `theirs` in alternating batches and returns ours / theirs. Paired
/// this way, both see the machine in the same state, so the ratio holds still when
/// the absolute times drift from run to run.
fn paired_ratio(mut ours: impl FnMut(), mut theirs: impl FnMut()) -> f64 {
    const BATCHES: usize = 300;
    const BATCH: usize = 1000;
    let (mut our_time, mut their_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..BATCHES {
        let started = Instant::now();
        for _ in 0..BATCH {
            theirs();
        }
        their_time += started.elapsed();
        let started = Instant::now();
        for _ in 0..BATCH {
            ours();
        }
        our_time += started.elapsed();
    }
    our_time.as_secs_f64() / their_time.as_secs_f64()
}

fn envelope(c: &mut Criterion) {
    let headers = http::HeaderMap::new();
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for (name, status, body) in BODIES {
        let error = || ApiError::from_parts(status, &headers, body, UNIX_EPOCH);
        let (count, bytes) = allocations(|| {
            black_box(error().class());
        });
        eprintln!("{name}: {count} allocations, {bytes} bytes for the class and delay");
        let (count, bytes) = allocations(|| {
            black_box(error().envelope().is_some());
        });
        eprintln!("{name}: {count} allocations, {bytes} bytes with the envelope");
        let (count, bytes) = allocations(|| {
            black_box(error().message().len());
        });
        eprintln!("{name}: {count} allocations, {bytes} bytes with the message");
        let mut group = c.benchmark_group(format!("envelope/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function("codeassist", |b| {
            b.iter(|| ApiError::from_parts(status, &headers, black_box(body), now).class())
        });
        group.bench_function("codeassist-with-envelope", |b| {
            b.iter(|| {
                ApiError::from_parts(status, &headers, black_box(body), now)
                    .envelope()
                    .is_some()
            })
        });
        group.bench_function("codeassist-with-message", |b| {
            b.iter(|| {
                ApiError::from_parts(status, &headers, black_box(body), now)
                    .message()
                    .len()
            })
        });
        group.bench_function("naive-value-walk", |b| b.iter(|| naive(black_box(body))));
        group.bench_function("serde-ignored-any", |b| {
            b.iter(|| serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok())
        });
        group.finish();
        if status == 429 {
            let ours = || {
                black_box(ApiError::from_parts(status, &headers, black_box(body), now).class());
            };
            let floor = paired_ratio(ours, || {
                black_box(serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok());
            });
            let naive = paired_ratio(ours, || {
                black_box(naive(black_box(body)));
            });
            eprintln!(
                "{name}: paired, ours / floor = {floor:.2}, naive / ours = {:.2}",
                1.0 / naive
            );
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = envelope
}
criterion_main!(benches);
