//! The cost of the sans-IO machinery itself: whole flows driven in memory with canned
//! responses (no parsing of requests, no network).

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::code_assist::{CodeAssistConfig, resolve_project};
use codeassist_core::flow::{Response, VirtualClock, drive};
use codeassist_core::oauth::{Credentials, refresh_token};
use codeassist_core::{Secret, SplitMix64};
use criterion::{Criterion, criterion_group, criterion_main};

fn ok(body: &'static str) -> Response {
    http::Response::builder()
        .status(200)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

fn flows(c: &mut Criterion) {
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    c.bench_function("flows/resolve-load-onboard-3-polls", |b| {
        b.iter(|| {
            let mut answers = [
                r#"{"allowedTiers": [{"id": "free-tier", "isDefault": true}]}"#,
                r#"{"name": "operations/1", "done": false}"#,
                r#"{"name": "operations/1", "done": false}"#,
                r#"{"name": "operations/1", "done": false}"#,
                r#"{"name": "operations/1", "done": true, "response": {"cloudaicompanionProject": {"id": "p"}}}"#,
            ]
            .into_iter();
            let flow = resolve_project(CodeAssistConfig::default(), Secret::new("ya29.t"), None, None, &mut SplitMix64::new(1));
            let mut clock = VirtualClock::new(start);
            drive(flow, &mut clock, |_, _| Ok(ok(answers.next().unwrap_or("{}")))).unwrap()
        })
    });
    c.bench_function("flows/token-refresh", |b| {
        b.iter(|| {
            let credentials = Credentials::new("client", Some(Secret::new("s")), "1//r");
            let flow = refresh_token(
                black_box(&credentials),
                "https://oauth2.googleapis.com/token",
            )
            .unwrap();
            let mut clock = VirtualClock::new(start);
            drive(flow, &mut clock, |_, _| {
                Ok(ok(
                    r#"{"access_token": "ya29.new", "expires_in": 3599, "token_type": "Bearer"}"#,
                ))
            })
            .unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = flows
}
criterion_main!(benches);
