//! Token refresh round trips over loopback against the emulator: our blocking and
//! tokio drivers, the raw request of the same bytes through the same HTTP client (the
//! floor), and the `oauth2` crate doing the same refresh through the same ureq agent.

use std::hint::black_box;
use std::time::{Duration, Instant};

use codeassist_blocking::BlockingDriver;
use codeassist_core::Secret;
use codeassist_core::flow::Request;
use codeassist_core::flow::request::form_post;
use codeassist_core::oauth::{Credentials, refresh_token};
use codeassist_testkit::emulator::{CLIENT_ID, CLIENT_SECRET, Emulator, Server};
use codeassist_tokio::AsyncDriver;
use criterion::{Criterion, criterion_group, criterion_main};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};

/// A fresh emulator on loopback and what a refresh against it needs. Each benchmark
/// gets its own, so none runs against the tokens and logs the ones before it left.
/// Connections are kept open between requests, as Google keeps them: a new one per
/// request would measure TCP set-up (and the sockets left in TIME_WAIT), not clients.
struct Target {
    _server: Server,
    token_url: String,
    refresh: String,
    credentials: Credentials,
    raw_request: Request,
}

impl Target {
    fn new() -> Self {
        let emulator = Emulator::new();
        let server = emulator.serve_keep_alive().expect("emulator");
        let token_url = format!("{}/token", server.base_url());
        let refresh = emulator.issue_refresh_token();
        let credentials =
            Credentials::new(CLIENT_ID, Some(Secret::new(CLIENT_SECRET)), refresh.clone());
        let raw_request = form_post(
            &token_url,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
        )
        .unwrap();
        Self {
            _server: server,
            token_url,
            refresh,
            credentials,
            raw_request,
        }
    }
}

/// Runs `floor` (or a peer) and `ours` alternately `rounds` times and prints the ratio. Paired
/// this way, both see the same machine at the same moment, so the ratio holds still
/// when the absolute times drift from run to run (loopback on a shared VM does).
fn paired_ratio(label: &str, rounds: usize, mut floor: impl FnMut(), mut ours: impl FnMut()) {
    let (mut floor_time, mut our_time) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..rounds {
        let started = Instant::now();
        floor();
        floor_time += started.elapsed();
        let started = Instant::now();
        ours();
        our_time += started.elapsed();
    }
    eprintln!(
        "{label}: paired over {rounds} rounds, ours / theirs = {:.3} ({:?} vs {:?} each)",
        our_time.as_secs_f64() / floor_time.as_secs_f64(),
        our_time / rounds as u32,
        floor_time / rounds as u32,
    );
}

fn drivers(c: &mut Criterion) {
    let mut group = c.benchmark_group("refresh-round-trip");
    let blocking = BlockingDriver::default();
    let target = Target::new();
    group.bench_function("blocking/raw-floor", |b| {
        b.iter(|| blocking.send(target.raw_request.clone()).unwrap().status())
    });
    let target = Target::new();
    group.bench_function("blocking/codeassist", |b| {
        b.iter(|| {
            blocking
                .run(refresh_token(&target.credentials, &target.token_url).unwrap())
                .unwrap()
        })
    });

    // The peer gets the very agent our driver uses: same timeouts, same settings.
    let agent = blocking.agent().clone();
    let http_client = |request: oauth2::HttpRequest| -> Result<oauth2::HttpResponse, ureq::Error> {
        let response = agent.run(request)?;
        let (parts, body) = response.into_parts();
        let bytes = body
            .into_with_config()
            .limit(10 * 1024 * 1024)
            .read_to_vec()?;
        Ok(oauth2::HttpResponse::from_parts(parts, bytes))
    };
    let target = Target::new();
    let peer = peer_client(&target.token_url);
    group.bench_function("blocking/peer-oauth2", |b| {
        b.iter(|| {
            let response = peer
                .exchange_refresh_token(&RefreshToken::new(target.refresh.clone()))
                .request(&http_client)
                .unwrap();
            response.access_token().secret().len()
        })
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let asynchronous = runtime.block_on(async { AsyncDriver::default() });
    let target = Target::new();
    group.bench_function("tokio/raw-floor", |b| {
        b.iter(|| {
            runtime
                .block_on(asynchronous.send(target.raw_request.clone()))
                .unwrap()
                .status()
        })
    });
    let target = Target::new();
    group.bench_function("tokio/codeassist", |b| {
        b.iter(|| {
            runtime
                .block_on(
                    asynchronous
                        .run(refresh_token(&target.credentials, &target.token_url).unwrap()),
                )
                .unwrap()
        })
    });
    group.finish();

    let target = Target::new();
    paired_ratio(
        "blocking",
        PAIRED_ROUNDS,
        || {
            black_box(blocking.send(target.raw_request.clone()).unwrap());
        },
        || {
            black_box(
                blocking
                    .run(refresh_token(&target.credentials, &target.token_url).unwrap())
                    .unwrap(),
            );
        },
    );
    let peer = peer_client(&target.token_url);
    paired_ratio(
        "blocking against the oauth2 peer",
        PAIRED_ROUNDS,
        || {
            let response = peer
                .exchange_refresh_token(&RefreshToken::new(target.refresh.clone()))
                .request(&http_client)
                .unwrap();
            black_box(response.access_token().secret().len());
        },
        || {
            black_box(
                blocking
                    .run(refresh_token(&target.credentials, &target.token_url).unwrap())
                    .unwrap(),
            );
        },
    );
    paired_ratio(
        "tokio",
        PAIRED_ROUNDS,
        || {
            black_box(
                runtime
                    .block_on(asynchronous.send(target.raw_request.clone()))
                    .unwrap(),
            );
        },
        || {
            black_box(
                runtime
                    .block_on(
                        asynchronous
                            .run(refresh_token(&target.credentials, &target.token_url).unwrap()),
                    )
                    .unwrap(),
            );
        },
    );
}

/// The `oauth2` crate's client for the token endpoint at `token_url`.
fn peer_client(
    token_url: &str,
) -> oauth2::Client<
    oauth2::basic::BasicErrorResponse,
    oauth2::basic::BasicTokenResponse,
    oauth2::basic::BasicTokenIntrospectionResponse,
    oauth2::StandardRevocableToken,
    oauth2::basic::BasicRevocationErrorResponse,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.to_owned()))
        .set_token_uri(TokenUrl::new(token_url.to_owned()).unwrap())
        // The emulator, like our client, sends the client credentials in the form body.
        .set_auth_type(oauth2::AuthType::RequestBody)
}

/// Rounds of the paired comparison after the criterion group.
const PAIRED_ROUNDS: usize = 5000;

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = drivers
}
criterion_main!(benches);
