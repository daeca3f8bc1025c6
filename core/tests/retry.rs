//! The retry policy and the combinator, on a virtual clock.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::Error;
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{Call, TransportError, TransportErrorKind, VirtualClock, drive};
use codeassist_core::retry::{AttemptState, Decision, Jitter, Retry, RetryPolicy, RetryThrottle};
use proptest::prelude::*;

/// Replays the given values forever.
#[derive(Debug, Clone)]
struct Replay(Vec<u64>, usize);

impl rand_core::TryRng for Replay {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let value = self
            .0
            .get(self.1 % self.0.len().max(1))
            .copied()
            .unwrap_or(0);
        self.1 += 1;
        Ok(value)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for byte in dst {
            *byte = self.try_next_u64()? as u8;
        }
        Ok(())
    }
}

fn zero() -> Replay {
    Replay(vec![0], 0)
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn after(attempts: u32) -> AttemptState {
    AttemptState {
        attempts,
        ..AttemptState::default()
    }
}

fn response(status: u16, body: &str) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()
}

const RETRY_INFO_1_2S: &str = r#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Resource has been exhausted (e.g. check quota).",
  "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "cloudcode-pa.googleapis.com"},
              {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.2s"}]}}"#;

#[test]
fn wrapped_flow_waits_exactly_through_429_then_503_then_succeeds() {
    let request =
        http::Request::post("https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist")
            .body(b"{\"metadata\": {}}".to_vec())
            .unwrap();
    let mut script = vec![
        response(429, RETRY_INFO_1_2S),
        response(
            503,
            r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "overloaded"}}"#,
        ),
        response(200, r#"{"currentTier": {"id": "free-tier"}}"#),
    ]
    .into_iter();
    let mut sent = Vec::new();
    let mut clock = VirtualClock::new(start());
    let flow = Retry::new(
        Call::new(request),
        RetryPolicy::default().without_jitter(),
        &mut zero(),
    );
    let output = drive(flow, &mut clock, |request, now| {
        sent.push((request.uri().to_string(), request.body().clone(), now));
        Ok(script.next().expect("no more than three requests"))
    })
    .unwrap();

    assert_eq!(output.status(), 200);
    // RetryInfo's 1.2 s first; then the 503 has no delay: the second computed backoff,
    // 5 s × 2.
    assert_eq!(
        clock.waits(),
        &[Duration::from_millis(1200), Duration::from_secs(10)]
    );
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|(uri, body, _)| uri.ends_with(":loadCodeAssist") && body == b"{\"metadata\": {}}"));
    assert_eq!(sent[1].2, start() + Duration::from_millis(1200));
    assert_eq!(sent[2].2, start() + Duration::from_millis(11_200));
}

#[test]
fn the_final_error_carries_the_history() {
    let request = http::Request::get("https://example.test/")
        .body(Vec::new())
        .unwrap();
    let policy = RetryPolicy {
        max_attempts: 3,
        ..RetryPolicy::default().without_jitter()
    };
    let mut clock = VirtualClock::new(start());
    let error = drive(
        Retry::new(Call::new(request), policy, &mut zero()),
        &mut clock,
        |_, _| {
            Err(TransportError::new(
                TransportErrorKind::Reset,
                "connection reset",
            ))
        },
    )
    .unwrap_err();
    let history = error.retry_history().expect("history");
    assert_eq!(history.attempts, 3);
    assert_eq!(history.retries, 2);
    assert_eq!(
        history.waits,
        vec![Duration::from_secs(5), Duration::from_secs(10)]
    );
    assert_eq!(history.total_waited(), Duration::from_secs(15));
    assert_eq!(history.last_class, Some(ErrorClass::Network));
    assert_eq!(
        history.final_decision,
        Some(Decision::GiveUp { retry_delay: None })
    );
    assert_eq!(error.class().unwrap(), ErrorClass::Network);
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
}

#[test]
fn auth_asks_for_reauthentication_and_permanent_errors_are_not_retried() {
    let request = || {
        http::Request::get("https://example.test/")
            .body(Vec::new())
            .unwrap()
    };
    let mut clock = VirtualClock::new(start());
    let mut calls = 0;
    let error = drive(
        Retry::new(Call::new(request()), RetryPolicy::default(), &mut zero()),
        &mut clock,
        |_, _| {
            calls += 1;
            Ok(response(
                401,
                r#"{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "bad"}}"#,
            ))
        },
    )
    .unwrap_err();
    assert_eq!(calls, 1);
    assert_eq!(
        error.retry_history().unwrap().final_decision,
        Some(Decision::Reauthenticate)
    );

    let mut calls = 0;
    let error = drive(
        Retry::new(Call::new(request()), RetryPolicy::default(), &mut zero()),
        &mut clock,
        |_, _| {
            calls += 1;
            Ok(response(
                400,
                r#"{"error": "invalid_grant", "error_description": "revoked"}"#,
            ))
        },
    )
    .unwrap_err();
    assert_eq!(calls, 1);
    assert!(matches!(error.root(), Error::Api(api) if api.needs_sign_in()));
    assert!(clock.waits().is_empty());
}

#[test]
fn decision_table_per_class_and_attempt() {
    let policy = RetryPolicy::default().without_jitter();
    let secs = Duration::from_secs;
    let retry_after = |d| Decision::RetryAfter(d);
    let give_up = Decision::GiveUp { retry_delay: None };
    let fall_back = Decision::Fallback { retry_delay: None };
    let rows: Vec<(ErrorClass, Option<Duration>, u32, Decision)> = vec![
        // retryable classes: backoff 5, 10, 20, 30 (capped), …
        (ErrorClass::RateLimit, None, 1, retry_after(secs(5))),
        (ErrorClass::RateLimit, None, 2, retry_after(secs(10))),
        (ErrorClass::RateLimit, None, 3, retry_after(secs(20))),
        (ErrorClass::RateLimit, None, 4, retry_after(secs(30))),
        (ErrorClass::RateLimit, None, 9, retry_after(secs(30))),
        (ErrorClass::RateLimit, None, 10, fall_back),
        (
            ErrorClass::RateLimit,
            Some(secs(49)),
            1,
            retry_after(secs(49)),
        ),
        (
            ErrorClass::RateLimit,
            Some(secs(121)),
            1,
            Decision::Fallback {
                retry_delay: Some(secs(121)),
            },
        ),
        (ErrorClass::Capacity, Some(secs(9)), 1, retry_after(secs(9))),
        (ErrorClass::Capacity, None, 10, fall_back),
        (ErrorClass::ServerError, None, 1, retry_after(secs(5))),
        (ErrorClass::ServerError, None, 10, give_up),
        (
            ErrorClass::ServerError,
            Some(secs(600)),
            1,
            Decision::GiveUp {
                retry_delay: Some(secs(600)),
            },
        ),
        (ErrorClass::Timeout, None, 2, retry_after(secs(10))),
        (ErrorClass::Network, None, 3, retry_after(secs(20))),
        // re-authenticate once
        (ErrorClass::Auth, None, 1, Decision::Reauthenticate),
        // never retried
        (ErrorClass::AuthPermanent, None, 1, give_up),
        (ErrorClass::Permission, None, 1, give_up),
        (ErrorClass::ValidationRequired, None, 1, give_up),
        (ErrorClass::PolicyBlocked, None, 1, give_up),
        (ErrorClass::InvalidRequest, None, 1, give_up),
        (ErrorClass::PayloadTooLarge, None, 1, give_up),
        (ErrorClass::NotFound, None, 1, give_up),
        (ErrorClass::Unknown, None, 1, give_up),
        (
            ErrorClass::QuotaExhausted,
            Some(secs(301)),
            1,
            Decision::Fallback {
                retry_delay: Some(secs(301)),
            },
        ),
        (ErrorClass::Billing, None, 1, fall_back),
        (ErrorClass::ModelNotFound, None, 1, fall_back),
        (ErrorClass::ContextOverflow, None, 1, fall_back),
    ];
    for (class, server_delay, attempts, expected) in rows {
        assert_eq!(
            policy.decide_class(class, server_delay, after(attempts), &mut zero()),
            expected,
            "{class} {server_delay:?} after {attempts}"
        );
    }
    let reauthenticated = AttemptState {
        attempts: 2,
        reauthenticated: true,
        ..AttemptState::default()
    };
    assert_eq!(
        policy.decide_class(ErrorClass::Auth, None, reauthenticated, &mut zero()),
        give_up
    );
}

#[test]
fn the_time_budget_stops_retries() {
    let policy = RetryPolicy {
        total_budget: Duration::from_secs(12),
        ..RetryPolicy::default().without_jitter()
    };
    let state = AttemptState {
        attempts: 1,
        elapsed: Duration::from_secs(8),
        reauthenticated: false,
    };
    assert_eq!(
        policy.decide_class(ErrorClass::ServerError, None, state, &mut zero()),
        Decision::GiveUp { retry_delay: None }
    );
    let state = AttemptState {
        elapsed: Duration::from_secs(7),
        ..state
    };
    assert_eq!(
        policy.decide_class(ErrorClass::ServerError, None, state, &mut zero()),
        Decision::RetryAfter(Duration::from_secs(5))
    );
}

#[test]
fn jitter_is_deterministic_for_a_given_source() {
    let policy = RetryPolicy::default();
    let half = Replay(vec![u64::MAX / 2], 0);
    let a = policy.backoff(3, &mut half.clone());
    let b = policy.backoff(3, &mut half.clone());
    assert_eq!(a, b);
    assert!((a.as_secs_f64() - 10.0).abs() < 0.01, "{a:?}");
    assert_eq!(policy.backoff(3, &mut zero()), Duration::ZERO);
    let equal = RetryPolicy {
        jitter: Jitter::Equal,
        ..RetryPolicy::default()
    };
    assert_eq!(equal.backoff(3, &mut zero()), Duration::from_secs(10));
}

#[test]
fn a_shared_throttle_stops_retrying_when_everything_fails() {
    let throttle = Arc::new(RetryThrottle::new(4.0, 1.0));
    let policy = RetryPolicy {
        throttle: Some(throttle.clone()),
        ..RetryPolicy::default().without_jitter()
    };
    let mut total_requests = 0;
    for _ in 0..5 {
        let request = http::Request::get("https://example.test/")
            .body(Vec::new())
            .unwrap();
        let mut clock = VirtualClock::new(start());
        let _ = drive(
            Retry::new(Call::new(request), policy.clone(), &mut zero()),
            &mut clock,
            |_, _| {
                total_requests += 1;
                Ok(response(503, ""))
            },
        );
    }
    // Two failures close the bucket (4 → 2 tokens is not more than half): the first
    // call retries once, every later call makes a single attempt.
    assert_eq!(total_requests, 2 + 4);
    assert!(!throttle.allows_retry());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever fails and whatever the random values: attempts stay under the maximum,
    /// the waits under the budget, each wait under its cap, and the flow ends.
    #[test]
    fn retry_invariants_hold(
        max_attempts in 1u32..15,
        initial_ms in 0u64..10_000,
        multiplier in 0.0f64..5.0,
        max_delay_ms in 0u64..60_000,
        budget_ms in 0u64..400_000,
        max_server_ms in 0u64..200_000,
        jitter in prop_oneof![Just(Jitter::Full), Just(Jitter::Equal), Just(Jitter::None)],
        randoms in proptest::collection::vec(any::<u64>(), 1..8),
        outcomes in proptest::collection::vec((0usize..8, proptest::option::of(0u64..400_000)), 1..40),
    ) {
        let policy = RetryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(initial_ms),
            multiplier,
            max_delay: Duration::from_millis(max_delay_ms),
            total_budget: Duration::from_millis(budget_ms),
            jitter,
            max_server_delay: Duration::from_millis(max_server_ms),
            ..RetryPolicy::default()
        };
        let request = http::Request::get("https://example.test/").body(Vec::new()).unwrap();
        let mut clock = VirtualClock::new(start());
        let mut script = outcomes.into_iter();
        let mut requests = 0u32;
        let result = drive(Retry::new(Call::new(request), policy.clone(), &mut Replay(randoms, 0)), &mut clock, |_, _| {
            requests += 1;
            let (kind, delay) = script.next().unwrap_or((0, None));
            let retry_delay = delay
                .map(|ms| format!(r#"{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "{}s"}}"#, ms as f64 / 1000.0))
                .unwrap_or_default();
            let (status, grpc) = [(429, "RESOURCE_EXHAUSTED"), (503, "UNAVAILABLE"), (500, "INTERNAL"), (504, "DEADLINE_EXCEEDED"),
                                  (401, "UNAUTHENTICATED"), (400, "INVALID_ARGUMENT"), (200, "OK"), (0, "")][kind];
            if status == 0 {
                return Err(TransportError::new(TransportErrorKind::Timeout, "slow"));
            }
            let body = format!(r#"{{"error": {{"code": {status}, "status": "{grpc}", "message": "m", "details": [{retry_delay}]}}}}"#);
            Ok(response(status, &body))
        });
        prop_assert!(requests <= max_attempts.max(1));
        prop_assert!(clock.total_waited() <= policy.total_budget);
        for wait in clock.waits() {
            prop_assert!(*wait <= policy.max_single_wait());
        }
        if let Err(error) = result {
            let history = error.retry_history().expect("history");
            prop_assert_eq!(history.attempts, requests);
            prop_assert_eq!(&history.waits[..], clock.waits());
        }
    }
}

/// A model that keeps answering `MODEL_CAPACITY_EXHAUSTED` with `RetryInfo 30s`, and
/// no model to fall back to: two same-model retries and 60 s of waiting at most, then
/// the classified error (not ten attempts over four and a half minutes).
#[test]
fn capacity_with_nothing_to_fall_back_to_is_bounded() {
    let body = br#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "No capacity available for model gemini-3-pro-preview on the server",
        "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED", "domain": "cloudcode-pa.googleapis.com", "metadata": {"model": "gemini-3-pro-preview"}},
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}]}}"#;
    // Every answer is that 429: how many attempts, the error, and the clock after.
    let run = |policy: RetryPolicy| {
        let request = http::Request::post("https://example.test/")
            .body(Vec::new())
            .unwrap();
        let mut clock = VirtualClock::new(start());
        let mut attempts = 0;
        let error = drive(
            Retry::new(Call::new(request), policy, &mut zero()),
            &mut clock,
            |_, _| {
                attempts += 1;
                Ok(http::Response::builder()
                    .status(429)
                    .body(body.to_vec())
                    .unwrap())
            },
        )
        .unwrap_err();
        (attempts, error, clock.now())
    };
    let (attempts, error, ended) = run(RetryPolicy::default().without_jitter());
    assert_eq!(attempts, 3, "the first attempt and two retries");
    let history = error.retry_history().unwrap();
    assert_eq!(history.total_waited(), Duration::from_secs(60));
    assert_eq!(error.class(), Some(ErrorClass::Capacity));
    assert_eq!(ended, start() + Duration::from_secs(60));

    // A smaller budget stops sooner.
    let (attempts, _, _) = run(RetryPolicy {
        capacity_budget: Duration::from_secs(20),
        ..RetryPolicy::default().without_jitter()
    });
    assert_eq!(attempts, 1, "a 30 s wait does not fit in 20 s");
}
