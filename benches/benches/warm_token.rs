//! The warm `access_token()` call of both clients: an in-memory hit, no store and no
//! network. The floor is the least such a call can do: lock a mutex, check the expiry,
//! clone the token. Each client is timed against its floor, paired.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use codeassist_core::Secret;
use codeassist_core::oauth::{Credentials, OAuthClient, unix_seconds};
use codeassist_runtime::{CredentialStore, FileStore};
use criterion::{Criterion, criterion_group, criterion_main};

const WINDOW: Duration = Duration::from_secs(300);

fn signed_in(dir: &std::path::Path) -> (FileStore, Credentials) {
    let store = FileStore::new(dir.join("oauth.json"));
    let mut credentials = Credentials::new("client", Some(Secret::new("secret")), "1//r");
    credentials.access_token = Some(Secret::new(
        "ya29.warm-token-of-a-realistic-length-0123456789",
    ));
    credentials.expires_at = Some(unix_seconds(SystemTime::now()) + 3000);
    store.lock().unwrap().save(&credentials).unwrap();
    (store, credentials)
}

/// The floor: what any in-memory token cache must do.
fn floor(memory: &Mutex<Option<Credentials>>) -> Secret {
    let memory = memory.lock().unwrap();
    memory
        .as_ref()
        .and_then(|c| c.valid_access_token(SystemTime::now(), WINDOW))
        .cloned()
        .unwrap()
}

/// Runs `floor` and `ours` alternately and prints ours / floor.
fn paired_ratio(label: &str, rounds: usize, mut floor: impl FnMut(), mut ours: impl FnMut()) {
    let (mut floor_time, mut our_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..100 {
            floor();
        }
        floor_time += started.elapsed();
        let started = Instant::now();
        for _ in 0..100 {
            ours();
        }
        our_time += started.elapsed();
    }
    eprintln!(
        "{label}: paired over {rounds}×100 calls, ours / floor = {:.3} ({:?} vs {:?} per call)",
        our_time.as_secs_f64() / floor_time.as_secs_f64(),
        our_time / (rounds as u32 * 100),
        floor_time / (rounds as u32 * 100),
    );
}

fn warm_token(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (store, credentials) = signed_in(dir.path());
    let memory = Mutex::new(Some(credentials));
    let oauth = OAuthClient::new("client", "secret");

    let blocking = codeassist_blocking::Client::builder(oauth.clone())
        .store(store.clone())
        .build()
        .unwrap();
    blocking.access_token().unwrap();
    let mut group = c.benchmark_group("warm-access-token");
    group.bench_function("floor", |b| b.iter(|| floor(black_box(&memory))));
    group.bench_function("blocking", |b| b.iter(|| blocking.access_token().unwrap()));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let asynchronous = runtime.block_on(async {
        codeassist_tokio::Client::builder(oauth)
            .store(store)
            .build()
            .unwrap()
    });
    runtime.block_on(asynchronous.access_token()).unwrap();
    group.bench_function("tokio-floor", |b| {
        b.iter(|| runtime.block_on(async { floor(black_box(&memory)) }))
    });
    group.bench_function("tokio", |b| {
        b.iter(|| runtime.block_on(asynchronous.access_token()).unwrap())
    });
    group.finish();

    paired_ratio(
        "warm-access-token/blocking",
        2000,
        || drop(black_box(floor(&memory))),
        || drop(black_box(blocking.access_token().unwrap())),
    );
    paired_ratio(
        "warm-access-token/tokio",
        2000,
        || drop(black_box(runtime.block_on(async { floor(&memory) }))),
        || {
            drop(black_box(
                runtime.block_on(asynchronous.access_token()).unwrap(),
            ))
        },
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = warm_token
}
criterion_main!(benches);
