//! Parse + classify real error bodies, against baselines on the same bytes: a naive
//! port (`serde_json::Value`, walked by hand), serde_json's own floor (`IgnoredAny`:
//! validation only), and the least a `#[derive(Deserialize)]` reader of the same
//! fields does (strict types, no leniency, no classification), with owned and with
//! borrowed strings. Also counts allocations per parse.

use std::alloc::System;
use std::hint::black_box;
use std::time::{Duration, Instant, UNIX_EPOCH};

use codeassist_benches::baselines::{naive, strict_borrowed, strict_owned};
use codeassist_core::ApiError;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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
        // Once before counting: the phrase searchers are built on first use, once per
        // process, and are not a cost of each parse.
        black_box(error().message().len());
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
        group.bench_function("strict-derive-owned", |b| {
            b.iter(|| strict_owned(black_box(body)))
        });
        group.bench_function("strict-derive-borrowed", |b| {
            b.iter(|| strict_borrowed(black_box(body)))
        });
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
            let naive_ratio = paired_ratio(ours, || {
                black_box(naive(black_box(body)));
            });
            let with_message = || {
                black_box(
                    ApiError::from_parts(status, &headers, black_box(body), now)
                        .message()
                        .len(),
                );
            };
            let naive_message = paired_ratio(with_message, || {
                black_box(naive(black_box(body)));
            });
            let floor_of = |reader: fn(&[u8]) -> usize| {
                paired_ratio(
                    || {
                        black_box(reader(black_box(body)));
                    },
                    || {
                        black_box(
                            serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body))
                                .is_ok(),
                        );
                    },
                )
            };
            let (owned, borrowed) = (floor_of(strict_owned), floor_of(strict_borrowed));
            eprintln!(
                "{name}: paired, ours / floor = {floor:.2}, naive / ours = {:.2}, \
                 naive / ours with the message = {:.2}; strict derive / floor: owned \
                 {owned:.2}, borrowed {borrowed:.2}",
                1.0 / naive_ratio,
                1.0 / naive_message
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
