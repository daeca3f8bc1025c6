//! The client core on a virtual clock: token lifecycle and outage rules, the lock,
//! 401 → refresh → retry, the project cache, ineligible tiers, logout, streams.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::client::{
    Action, Client, ClientConfig, Input, MemoryRuntime, MemoryStore, Operation, Reply, StoreOp,
    StoreReply,
};
use codeassist_core::code_assist::{CodeAssistConfig, CodeAssistError};
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::request::RequestTimeout;
use codeassist_core::flow::{Request, Response, TransportError, TransportErrorKind};
use codeassist_core::oauth::{Credentials, OAuthClient, OAuthEndpoints, unix_seconds};
use codeassist_core::retry::RetryPolicy;
use codeassist_core::{Error, Secret, SplitMix64};

const BASE: &str = "https://google.test";

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn client() -> Client {
    let mut config = ClientConfig::new(
        OAuthClient::new("client-id", "client-secret").with_endpoints(OAuthEndpoints::under(BASE)),
    );
    let mut code_assist = CodeAssistConfig::with_endpoint(BASE);
    code_assist.retry = RetryPolicy::default().without_jitter();
    code_assist.poll_interval = Duration::from_secs(1);
    config.code_assist = code_assist;
    Client::new(config)
}

/// Credentials whose access token has `left` seconds to live at `start()`.
fn stored(left: i64) -> Credentials {
    let mut credentials = Credentials::new("client-id", Some(Secret::new("client-secret")), "1//r");
    credentials.access_token = Some(Secret::new("ya29.current"));
    credentials.expires_at = Some(unix_seconds(start()) + left);
    credentials
}

fn json(status: u16, body: &str) -> Reply {
    Reply::now(Ok(http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap()))
}

fn fresh_token() -> Reply {
    json(200, r#"{"access_token": "ya29.fresh", "expires_in": 3599}"#)
}

fn unavailable() -> Reply {
    json(
        503,
        r#"{"error": {"code": 503, "status": "UNAVAILABLE", "message": "down"}}"#,
    )
}

fn hangs() -> Reply {
    Reply {
        outcome: Err(TransportError::new(
            TransportErrorKind::Reset,
            "never answered",
        )),
        took: Duration::from_secs(3600),
    }
}

fn path(request: &Request) -> String {
    request.uri().path().to_owned()
}

fn elapsed(runtime: &MemoryRuntime) -> Duration {
    runtime.clock.now().duration_since(start()).unwrap()
}

fn runtime(credentials: Option<Credentials>) -> MemoryRuntime {
    let store = match credentials {
        Some(credentials) => MemoryStore::holding(credentials),
        None => MemoryStore::default(),
    };
    MemoryRuntime::new(start(), store)
}

#[test]
fn a_warm_token_comes_from_memory_without_store_or_network() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    let token = runtime
        .run(client.access_token(), |_, _| unreachable!())
        .unwrap();
    assert_eq!(token.expose(), "ya29.current");
    assert_eq!(runtime.store.loads, 1);
    let again = runtime
        .run(client.access_token(), |_, _| unreachable!())
        .unwrap();
    assert_eq!(again.expose(), "ya29.current");
    assert_eq!(runtime.store.loads, 1, "the second call is a memory hit");
    assert!(runtime.sent.is_empty());
}

#[test]
fn the_refresh_window_is_five_minutes_by_default_and_configurable() {
    let client = client();
    let mut outside = runtime(Some(stored(301)));
    outside
        .run(client.access_token(), |_, _| unreachable!())
        .unwrap();
    let mut inside = runtime(Some(stored(299)));
    let token = inside
        .run(client.reconfigured(|_| ()).access_token(), |_, _| {
            fresh_token()
        })
        .unwrap();
    assert_eq!(token.expose(), "ya29.fresh");

    let wide = client.reconfigured(|config| config.refresh.window = Duration::from_secs(600));
    let mut early = runtime(Some(stored(400)));
    let token = early
        .run(wide.access_token(), |_, _| fresh_token())
        .unwrap();
    assert_eq!(token.expose(), "ya29.fresh");
}

#[test]
fn memory_says_fresh_aging_or_missing() {
    use codeassist_core::client::Cached;
    let client = client();
    assert_eq!(client.cached(start()), Cached::Missing);
    let mut runtime = runtime(Some(stored(3000)));
    runtime
        .run(client.access_token(), |_, _| unreachable!())
        .unwrap();
    let at = |seconds: u64| start() + Duration::from_secs(seconds);
    assert!(matches!(client.cached(at(0)), Cached::Fresh(_)));
    // 200 s left: inside the window, enough life to hand out during a refresh.
    assert!(matches!(client.cached(at(2800)), Cached::Aging(_)));
    // 30 s left: too little; refresh first.
    assert_eq!(client.cached(at(2970)), Cached::Missing);
}

#[test]
fn a_token_near_its_end_is_refreshed_under_the_lock_and_saved() {
    let client = client();
    let mut runtime = runtime(Some(stored(200)));
    let token = runtime
        .run(client.access_token(), |request, _| {
            assert_eq!(path(request), "/token");
            fresh_token()
        })
        .unwrap();
    assert_eq!(token.expose(), "ya29.fresh");
    assert_eq!(runtime.store.saves, 1);
    let saved = runtime.store.credentials.as_ref().unwrap();
    assert_eq!(saved.access_token.as_ref().unwrap().expose(), "ya29.fresh");
    assert!(!runtime.store.locked);
}

#[test]
fn a_valid_token_is_returned_at_once_when_the_token_endpoint_is_down() {
    for (name, reply) in [("503", unavailable as fn() -> Reply), ("hang", hangs)] {
        let client = client();
        let mut runtime = runtime(Some(stored(200)));
        let token = runtime.run(client.access_token(), |_, _| reply()).unwrap();
        assert_eq!(token.expose(), "ya29.current", "{name}");
        assert_eq!(runtime.sent.len(), 1, "{name}: one attempt");
        assert!(
            elapsed(&runtime) <= Duration::from_secs(5),
            "{name}: {:?}",
            elapsed(&runtime)
        );
        assert_eq!(runtime.store.saves, 0);
        // The next call tries again.
        runtime.run(client.access_token(), |_, _| reply()).unwrap();
        assert_eq!(runtime.sent.len(), 2, "{name}");
    }
}

#[test]
fn one_attempt_never_outlives_the_token_it_protects() {
    let client = client();
    let mut runtime = runtime(Some(stored(2)));
    let error = runtime
        .run(client.access_token(), |_, _| hangs())
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Timeout));
    let first = runtime.sent[0]
        .extensions()
        .get::<RequestTimeout>()
        .copied();
    assert_eq!(first, Some(RequestTimeout(Duration::from_secs(2))));
    let later = runtime.sent[1]
        .extensions()
        .get::<RequestTimeout>()
        .copied();
    assert_eq!(later, Some(RequestTimeout(Duration::from_secs(5))));
    assert!(elapsed(&runtime) <= Duration::from_secs(30));
}

#[test]
fn an_expired_token_gets_a_bounded_budget_and_a_clear_error() {
    for (name, reply) in [("503", unavailable as fn() -> Reply), ("hang", hangs)] {
        let client = client();
        let mut runtime = runtime(Some(stored(-10)));
        let error = runtime
            .run(client.access_token(), |_, _| reply())
            .unwrap_err();
        assert!(
            elapsed(&runtime) <= Duration::from_secs(30),
            "{name}: {:?}",
            elapsed(&runtime)
        );
        assert!(
            runtime.sent.len() >= 2 && runtime.sent.len() <= 4,
            "{name}: {}",
            runtime.sent.len()
        );
        let class = error.class().unwrap();
        assert!(class.retryable(), "{name}: {class}");
        assert!(!error.needs_sign_in());
        assert!(!runtime.store.locked);
    }
}

#[test]
fn an_expired_token_recovers_when_the_endpoint_comes_back() {
    let client = client();
    let mut runtime = runtime(Some(stored(-10)));
    let mut calls = 0;
    let token = runtime
        .run(client.access_token(), |_, _| {
            calls += 1;
            if calls < 3 {
                unavailable()
            } else {
                fresh_token()
            }
        })
        .unwrap();
    assert_eq!(token.expose(), "ya29.fresh");
    // Waits of 1 s and 2 s between the attempts, the lock released for each.
    assert_eq!(
        runtime.clock.waits(),
        &[Duration::from_secs(1), Duration::from_secs(2)]
    );
}

#[test]
fn permanent_failures_are_not_retried() {
    for kind in [
        TransportErrorKind::Tls,
        TransportErrorKind::BodyTooLarge,
        TransportErrorKind::Malformed,
    ] {
        let name = kind.as_str();
        let client = client();
        let mut runtime = runtime(Some(stored(-10)));
        let error = runtime
            .run(client.access_token(), |_, _| {
                Reply::now(Err(TransportError::new(kind, "no")))
            })
            .unwrap_err();
        assert_eq!(
            error.class(),
            Some(ErrorClass::TransportPermanent),
            "{name}"
        );
        assert_eq!(runtime.sent.len(), 1, "{name}");
    }
}

#[test]
fn invalid_grant_means_sign_in_again_even_with_a_valid_token() {
    let client = client();
    let mut runtime = runtime(Some(stored(200)));
    let error = runtime
        .run(client.access_token(), |_, _| {
            json(400, r#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#)
        })
        .unwrap_err();
    assert!(error.needs_sign_in(), "{error}");
    assert_eq!(error.class(), Some(ErrorClass::AuthPermanent));
}

#[test]
fn nobody_signed_in_is_one_error() {
    let error = runtime(None)
        .run(client().access_token(), |_, _| unreachable!())
        .unwrap_err();
    assert!(matches!(error, Error::NotSignedIn));
    assert!(error.needs_sign_in());
    assert_eq!(error.to_string(), "nobody is signed in");
}

#[test]
fn a_refresh_by_another_process_is_seen_under_the_lock() {
    let client = client();
    let mut op = client.access_token();
    let now = start();
    assert!(matches!(
        op.poll(now).unwrap(),
        Action::Store(StoreOp::Load)
    ));
    op.handle(
        Input::Store(StoreReply::Loaded(Some(Box::new(stored(-10))))),
        now,
    );
    // The lock's wait counts against the call's bound: all of it is left.
    let budget = client.config().refresh.expired_budget;
    assert!(matches!(
        op.poll(now).unwrap(),
        Action::Store(StoreOp::LockWithin(wait)) if wait == budget
    ));
    op.handle(Input::Store(StoreReply::Done), now);
    assert!(matches!(
        op.poll(now).unwrap(),
        Action::Store(StoreOp::Load)
    ));
    let mut theirs = stored(3000);
    theirs.access_token = Some(Secret::new("ya29.theirs"));
    op.handle(
        Input::Store(StoreReply::Loaded(Some(Box::new(theirs)))),
        now,
    );
    assert!(matches!(
        op.poll(now).unwrap(),
        Action::Store(StoreOp::Unlock)
    ));
    op.handle(Input::Store(StoreReply::Done), now);
    match op.poll(now).unwrap() {
        Action::Done(token) => assert_eq!(token.expose(), "ya29.theirs"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn stepping_out_of_order_is_a_misuse_not_a_panic() {
    let client = client();
    let mut op = client.access_token();
    op.handle(Input::Store(StoreReply::Done), start());
    assert!(matches!(op.poll(start()), Err(Error::Misuse(_))));
    assert!(matches!(op.poll(start()), Err(Error::Misuse(_))));
}

fn load_answer() -> Reply {
    json(
        200,
        r#"{"currentTier": {"id": "standard-tier"}, "cloudaicompanionProject": "proj-1"}"#,
    )
}

#[test]
fn project_401_refreshes_once_and_retries() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    let mut seen = Vec::new();
    let project = runtime
        .run(client.project(false, &mut SplitMix64::new(1)), |request, _| {
            let auth = request.headers().get("authorization").map(|v| v.to_str().unwrap().to_owned());
            seen.push((path(request), auth.clone()));
            match (path(request).as_str(), auth.as_deref()) {
                ("/token", _) => fresh_token(),
                (_, Some("Bearer ya29.current")) => json(401, r#"{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "bad"}}"#),
                _ => load_answer(),
            }
        })
        .unwrap();
    assert_eq!(project.project_id, "proj-1");
    let paths: Vec<_> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v1internal:loadCodeAssist",
            "/token",
            "/v1internal:loadCodeAssist"
        ]
    );
    assert_eq!(seen[2].1.as_deref(), Some("Bearer ya29.fresh"));
}

#[test]
fn a_second_401_is_returned_not_looped() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    let error = runtime
        .run(
            client.project(false, &mut SplitMix64::new(1)),
            |request, _| match path(request).as_str() {
                "/token" => fresh_token(),
                _ => json(
                    401,
                    r#"{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "bad"}}"#,
                ),
            },
        )
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth));
    assert_eq!(runtime.sent.len(), 3);
}

#[test]
fn the_project_cache_makes_a_warm_start_free() {
    let first = client();
    let mut runtime = runtime(Some(stored(3000)));
    let project = runtime
        .run(first.project(false, &mut SplitMix64::new(1)), |_, _| {
            load_answer()
        })
        .unwrap();
    assert_eq!(project.project_id, "proj-1");
    assert_eq!(
        runtime.sent.len(),
        1,
        "a first project makes exactly one loadCodeAssist"
    );
    let saved = runtime.store.credentials.clone().unwrap();
    assert_eq!(saved.projects.len(), 1);

    // Another process: new memory, same store.
    let second = client();
    runtime.sent.clear();
    runtime
        .run(second.access_token(), |_, _| unreachable!())
        .unwrap();
    let again = runtime
        .run(
            second.project(false, &mut SplitMix64::new(2)),
            |_, _| unreachable!(),
        )
        .unwrap();
    assert_eq!(again, project);
    assert!(
        runtime.sent.is_empty(),
        "warm token + warm project make no request"
    );

    // Another configured project is another key.
    let other = second.reconfigured(|config| config.project = Some("other-proj".into()));
    runtime
        .run(other.project(false, &mut SplitMix64::new(3)), |_, _| {
            load_answer()
        })
        .unwrap();
    assert_eq!(runtime.sent.len(), 1);
    assert_eq!(
        runtime.store.credentials.as_ref().unwrap().projects.len(),
        2
    );

    // --refresh asks again.
    runtime
        .run(second.project(true, &mut SplitMix64::new(4)), |_, _| {
            load_answer()
        })
        .unwrap();
    assert_eq!(runtime.sent.len(), 2);
}

#[test]
fn a_403_on_quota_drops_the_cached_project() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    runtime
        .run(client.project(false, &mut SplitMix64::new(1)), |_, _| {
            load_answer()
        })
        .unwrap();
    let error = runtime
        .run(client.quota(&mut SplitMix64::new(2)), |request, _| {
            assert_eq!(path(request), "/v1internal:retrieveUserQuota");
            json(403, r#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "Permission denied on resource project proj-1."}}"#)
        })
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Permission));
    assert!(
        runtime
            .store
            .credentials
            .as_ref()
            .unwrap()
            .projects
            .is_empty()
    );
    assert!(client.remembered().unwrap().projects.is_empty());
}

#[test]
fn quota_reuses_the_cached_project() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    runtime
        .run(client.project(false, &mut SplitMix64::new(1)), |_, _| {
            load_answer()
        })
        .unwrap();
    runtime.sent.clear();
    let loads = runtime.store.loads;
    let quota = runtime
        .run(client.quota(&mut SplitMix64::new(2)), |_, _| {
            json(
                200,
                r#"{"buckets": [{"modelId": "gemini-2.5-pro", "remainingFraction": 0.5}]}"#,
            )
        })
        .unwrap();
    assert_eq!(quota.buckets.len(), 1);
    let paths: Vec<_> = runtime.sent.iter().map(path).collect();
    assert_eq!(paths, ["/v1internal:retrieveUserQuota"]);
    assert_eq!(
        runtime.store.loads, loads,
        "quota reads no file: the token and project are in memory"
    );
}

#[test]
fn an_ineligible_tier_stops_before_onboarding() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    let error = runtime
        .run(client.project(false, &mut SplitMix64::new(1)), |request, _| {
            assert_eq!(path(request), "/v1internal:loadCodeAssist", "onboardUser must not be called");
            json(200, r#"{"allowedTiers": [{"id": "free-tier", "isDefault": true}],
                "ineligibleTiers": [{"reasonCode": "UNSUPPORTED_CLIENT", "tierId": "free-tier",
                  "reasonMessage": "This client is no longer supported for Gemini Code Assist for individuals."}]}"#)
        })
        .unwrap_err();
    let Error::CodeAssist(CodeAssistError::Ineligible(tier)) = error.root() else {
        panic!("{error:?}");
    };
    assert_eq!(tier.reason_code.as_deref(), Some("UNSUPPORTED_CLIENT"));
    let message = error.to_string();
    assert!(
        message.contains("no longer serves this OAuth client"),
        "{message}"
    );
    assert!(
        message.contains("Gemini API") && message.contains("Vertex AI"),
        "{message}"
    );
    assert!(
        message.contains("no longer supported for Gemini Code Assist"),
        "{message}"
    );
}

#[test]
fn logout_revokes_and_deletes_under_the_lock() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    runtime
        .run(client.access_token(), |_, _| unreachable!())
        .unwrap();
    let logout = runtime
        .run(client.logout(), |request, _| {
            assert_eq!(path(request), "/revoke");
            json(200, "")
        })
        .unwrap();
    assert!(logout.was_signed_in && logout.revocation_error.is_none());
    assert!(runtime.store.credentials.is_none());
    assert!(client.remembered().is_none());
    let error = runtime
        .run(client.access_token(), |_, _| unreachable!())
        .unwrap_err();
    assert!(error.needs_sign_in());
}

#[test]
fn logout_deletes_even_when_revocation_hangs() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    let logout = runtime.run(client.logout(), |_, _| hangs()).unwrap();
    assert!(logout.revocation_error.is_some());
    assert!(runtime.store.credentials.is_none());
    assert!(elapsed(&runtime) <= Duration::from_secs(5));
}

fn stream_request(token: &Secret) -> Result<Request, Error> {
    codeassist_core::flow::request::bearer_request(
        http::Method::POST,
        &format!("{BASE}/v1internal:streamGenerateContent?alt=sse"),
        token,
        b"{}".to_vec(),
    )
}

#[test]
fn streams_open_with_retries_that_feed_the_throttle_and_refresh_once() {
    let throttle = std::sync::Arc::new(codeassist_core::retry::RetryThrottle::new(10.0, 0.0));
    let base = client();
    let client =
        base.reconfigured(|config| config.code_assist.retry.throttle = Some(throttle.clone()));
    let mut runtime = runtime(Some(stored(3000)));
    let mut answers = vec![
        json(
            401,
            r#"{"error": {"code": 401, "status": "UNAUTHENTICATED", "message": "bad"}}"#,
        ),
        fresh_token(),
        unavailable(),
        json(200, "data: {}\n\n"),
    ]
    .into_iter();
    let opened = runtime
        .run(
            client.open_stream(stream_request, &mut SplitMix64::new(1)),
            |_, _| answers.next().unwrap(),
        )
        .unwrap();
    assert_eq!(opened.status, 200);
    assert_eq!(runtime.opened_body.as_deref(), Some(&b"data: {}\n\n"[..]));
    let paths: Vec<_> = runtime.sent.iter().map(path).collect();
    assert_eq!(
        paths,
        [
            "/v1internal:streamGenerateContent",
            "/token",
            "/v1internal:streamGenerateContent",
            "/v1internal:streamGenerateContent"
        ]
    );
    assert_eq!(
        runtime.clock.waits().len(),
        1,
        "one retry wait after the 503"
    );
    assert_eq!(
        throttle.tokens(),
        8.0,
        "the throttle saw the 401 and the 503"
    );
}

#[test]
fn a_stream_refused_for_good_is_an_error_not_a_retry() {
    let client = client();
    let mut runtime = runtime(Some(stored(3000)));
    let error = runtime
        .run(client.open_stream(stream_request, &mut SplitMix64::new(1)), |_, _| {
            json(404, r#"{"error": {"code": 404, "status": "NOT_FOUND", "message": "models/x is not found"}}"#)
        })
        .unwrap_err();
    assert!(error.class().is_some_and(|c| !c.retryable()));
    assert_eq!(runtime.sent.len(), 1);
}

#[allow(dead_code)]
fn _response_type_is_the_flow_response(response: Response) -> Response {
    response
}

fn id_token(claims: &str) -> String {
    use base64::Engine as _;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    format!(
        "{}.{}.sig",
        encode(br#"{"alg":"RS256"}"#),
        encode(claims.as_bytes())
    )
}

fn sign_in(
    network: impl FnMut(&Request, SystemTime) -> Reply,
) -> (
    Result<codeassist_core::client::SignIn, Error>,
    MemoryRuntime,
) {
    let client = client();
    let oauth = client
        .config()
        .oauth
        .clone()
        .with_redirect_uri("http://127.0.0.1:9/oauth2callback");
    let mut runtime = runtime(None);
    let outcome = runtime.run(
        client.sign_in(oauth, &Secret::new("4/code"), &Secret::new("verifier")),
        network,
    );
    (outcome, runtime)
}

#[test]
fn sign_in_takes_the_email_from_the_id_token() {
    let token = id_token(
        r#"{"iss": "https://accounts.google.com", "aud": "client-id", "email": "p@example.com"}"#,
    );
    let (outcome, runtime) = sign_in(|request, _| {
        assert_eq!(path(request), "/token", "no UserInfo call");
        json(
            200,
            &format!(
                r#"{{"access_token": "ya29.a", "refresh_token": "1//r", "expires_in": 3599, "id_token": "{token}"}}"#
            ),
        )
    });
    let signed_in = outcome.unwrap();
    assert_eq!(
        signed_in.credentials.email.as_deref(),
        Some("p@example.com")
    );
    assert!(signed_in.email_problem.is_none());
    assert_eq!(
        runtime.store.credentials.unwrap().email.as_deref(),
        Some("p@example.com")
    );
}

#[test]
fn sign_in_falls_back_to_userinfo_and_reports_its_failure() {
    let (outcome, _) = sign_in(|request, _| match path(request).as_str() {
        "/token" => json(
            200,
            r#"{"access_token": "ya29.a", "refresh_token": "1//r"}"#,
        ),
        _ => json(200, r#"{"email": "p@example.com"}"#),
    });
    assert_eq!(
        outcome.unwrap().credentials.email.as_deref(),
        Some("p@example.com")
    );

    let foreign = id_token(
        r#"{"iss": "https://accounts.google.com", "aud": "another-client", "email": "x@example.com"}"#,
    );
    let (outcome, runtime) = sign_in(|request, _| match path(request).as_str() {
        "/token" => json(
            200,
            &format!(
                r#"{{"access_token": "ya29.a", "refresh_token": "1//r", "id_token": "{foreign}"}}"#
            ),
        ),
        _ => json(
            403,
            r#"{"error": {"code": 403, "status": "PERMISSION_DENIED", "message": "insufficient scopes"}}"#,
        ),
    });
    let signed_in = outcome.unwrap();
    assert_eq!(signed_in.credentials.email, None);
    let problem = signed_in.email_problem.unwrap();
    assert!(problem.contains("UserInfo"), "{problem}");
    assert!(runtime.store.credentials.is_some(), "still signed in");
}

#[test]
fn sign_in_keeps_nothing_half_done() {
    for (body, expect) in [
        (
            r#"{"access_token": "ya29.a", "expires_in": 3599}"#,
            "no refresh token",
        ),
        (
            r#"{"access_token": "ya29.a\r\nX-Injected: 1", "refresh_token": "1//r"}"#,
            "access_token",
        ),
    ] {
        let (outcome, runtime) = sign_in(|_, _| json(200, body));
        let error = outcome.unwrap_err();
        assert!(error.to_string().contains(expect), "{error}");
        assert!(runtime.store.credentials.is_none(), "nothing written");
        assert_eq!(runtime.store.saves, 0);
    }
}
