//! The retry policy: one decision, and a whole 10-attempt schedule.

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use codeassist_core::SplitMix64;
use codeassist_core::error::ErrorClass;
use codeassist_core::retry::{AttemptState, RetryPolicy};
use criterion::{Criterion, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn schedule(policy: &RetryPolicy, random: &mut SplitMix64) -> Duration {
    let mut state = AttemptState::default();
    let mut total = Duration::ZERO;
    for attempt in 1..=10 {
        state.attempts = attempt;
        state.elapsed = total;
        match policy.decide_class(ErrorClass::ServerError, None, state, random) {
            codeassist_core::retry::Decision::RetryAfter(wait) => total += wait,
            _ => break,
        }
    }
    total
}

fn retry(c: &mut Criterion) {
    let policy = RetryPolicy::default();
    let mut random = SplitMix64::new(7);
    let state = AttemptState {
        attempts: 3,
        elapsed: Duration::from_secs(12),
        reauthenticated: false,
    };
    let region = Region::new(GLOBAL);
    black_box(schedule(&policy, &mut random));
    eprintln!(
        "retry schedule: {} allocations",
        region.change().allocations
    );

    c.bench_function("retry/decision-backoff", |b| {
        b.iter(|| policy.decide_class(ErrorClass::RateLimit, None, black_box(state), &mut random))
    });
    c.bench_function("retry/decision-server-delay", |b| {
        b.iter(|| {
            policy.decide_class(
                ErrorClass::Capacity,
                Some(Duration::from_millis(1200)),
                black_box(state),
                &mut random,
            )
        })
    });
    c.bench_function("retry/schedule-10-attempts", |b| {
        b.iter(|| schedule(black_box(&policy), &mut random))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = retry
}
criterion_main!(benches);
