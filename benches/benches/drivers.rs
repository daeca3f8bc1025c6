//! Token refresh round trips over loopback against the emulator: our blocking and
//! tokio drivers, the raw request of the same bytes through the same HTTP client (the
//! floor), and the `oauth2` crate doing the same refresh through the same ureq agent.

use std::time::Duration;

use codeassist_blocking::BlockingDriver;
use codeassist_core::Secret;
use codeassist_core::flow::request::form_post;
use codeassist_core::oauth::{Credentials, refresh_token};
use codeassist_testkit::emulator::{CLIENT_ID, CLIENT_SECRET, Emulator};
use codeassist_tokio::AsyncDriver;
use criterion::{Criterion, criterion_group, criterion_main};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, RefreshToken, TokenResponse, TokenUrl};

fn drivers(c: &mut Criterion) {
    let emulator = Emulator::new();
    let server = emulator.serve().expect("emulator");
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

    let mut group = c.benchmark_group("refresh-round-trip");
    let blocking = BlockingDriver::default();
    group.bench_function("blocking/raw-floor", |b| {
        b.iter(|| blocking.send(raw_request.clone()).unwrap().status())
    });
    group.bench_function("blocking/codeassist", |b| {
        b.iter(|| {
            blocking
                .run(refresh_token(&credentials, &token_url).unwrap())
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
    let peer = BasicClient::new(ClientId::new(CLIENT_ID.to_owned()))
        .set_client_secret(ClientSecret::new(CLIENT_SECRET.to_owned()))
        .set_token_uri(TokenUrl::new(token_url.clone()).unwrap())
        // The emulator, like our client, sends the client credentials in the form body.
        .set_auth_type(oauth2::AuthType::RequestBody);
    group.bench_function("blocking/peer-oauth2", |b| {
        b.iter(|| {
            let response = peer
                .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
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
    group.bench_function("tokio/raw-floor", |b| {
        b.iter(|| {
            runtime
                .block_on(asynchronous.send(raw_request.clone()))
                .unwrap()
                .status()
        })
    });
    group.bench_function("tokio/codeassist", |b| {
        b.iter(|| {
            runtime
                .block_on(asynchronous.run(refresh_token(&credentials, &token_url).unwrap()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1)).sample_size(50);
    targets = drivers
}
criterion_main!(benches);
