//! Code Assist flows driven with scripted responses: every path of project
//! resolution, and quota.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::code_assist::{
    CodeAssistConfig, CodeAssistError, ProjectContext, ProjectSource, resolve_project,
    retrieve_user_quota,
};
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{TransportError, TransportErrorKind, VirtualClock, drive};
use codeassist_core::retry::RetryPolicy;
use codeassist_core::{Error, Secret};
use serde_json::{Value, json};

struct Seq(u64);
impl rand_core::TryRng for Seq {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 += 1;
        Ok(self.0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        dst.fill(self.0 as u8);
        Ok(())
    }
}

const PROD: &str = "https://cloudcode-pa.googleapis.com";
const DAILY: &str = "https://daily-cloudcode-pa.sandbox.googleapis.com";
const AUTOPUSH: &str = "https://autopush-cloudcode-pa.sandbox.googleapis.com";

/// A request as the transport saw it.
#[derive(Debug)]
struct Seen {
    method: String,
    url: String,
    body: Option<Value>,
    request_id: String,
    at: SystemTime,
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn config() -> CodeAssistConfig {
    let mut config = CodeAssistConfig::default();
    config.retry = RetryPolicy::default().without_jitter();
    config
}

fn reply(status: u16, body: Value) -> Result<http::Response<Vec<u8>>, TransportError> {
    Ok(http::Response::builder()
        .status(status)
        .body(body.to_string().into_bytes())
        .unwrap())
}

fn raw(status: u16, body: &str) -> Result<http::Response<Vec<u8>>, TransportError> {
    Ok(http::Response::builder()
        .status(status)
        .body(body.as_bytes().to_vec())
        .unwrap())
}

type Answer = Result<http::Response<Vec<u8>>, TransportError>;

/// Runs project resolution against a script of answers; returns the outcome, every
/// request seen, and the virtual clock.
fn run(
    config: CodeAssistConfig,
    configured: Option<&str>,
    env: Option<&str>,
    script: Vec<Answer>,
) -> (Result<ProjectContext, Error>, Vec<Seen>, VirtualClock) {
    let flow = resolve_project(
        config,
        Secret::new("ya29.token"),
        configured,
        env,
        &mut Seq(0),
    );
    let mut clock = VirtualClock::new(start());
    let mut script = script.into_iter();
    let mut seen = Vec::new();
    let outcome = drive(flow, &mut clock, |request, now| {
        let headers = request.headers();
        assert_eq!(headers["authorization"], "Bearer ya29.token");
        assert!(
            headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("codeassist/")
        );
        assert_eq!(headers["accept"], "application/json");
        if request.method() == "POST" {
            assert_eq!(headers["content-type"], "application/json");
        }
        seen.push(Seen {
            method: request.method().to_string(),
            url: request.uri().to_string(),
            body: (!request.body().is_empty())
                .then(|| serde_json::from_slice(request.body()).unwrap()),
            request_id: headers["x-activity-request-id"]
                .to_str()
                .unwrap()
                .to_owned(),
            at: now,
        });
        script
            .next()
            .unwrap_or_else(|| panic!("unexpected request {} {}", request.method(), request.uri()))
    });
    (outcome, seen, clock)
}

fn metadata() -> Value {
    json!({"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"})
}

fn new_free_user() -> Value {
    json!({"allowedTiers": [{"id": "legacy-tier"}, {"id": "free-tier", "isDefault": true}]})
}

fn not_done() -> Value {
    json!({"name": "operations/onboard-1", "done": false})
}

fn done(project: Value) -> Value {
    json!({"name": "operations/onboard-1", "done": true, "response": {"cloudaicompanionProject": project}})
}

#[test]
fn a_new_user_is_onboarded_to_free_tier_when_the_first_poll_finishes() {
    let (outcome, seen, clock) = run(
        config(),
        None,
        None,
        vec![
            reply(200, new_free_user()),
            reply(200, not_done()),
            reply(200, done(json!({"id": "managed-123"}))),
        ],
    );
    let context = outcome.unwrap();
    assert_eq!(context.project_id, "managed-123");
    assert_eq!(context.tier_id, "free-tier");
    assert_eq!(context.source, ProjectSource::Onboarded);
    assert_eq!(context.managed_project_id.as_deref(), Some("managed-123"));
    assert_eq!(context.endpoint, PROD);

    assert_eq!(seen.len(), 3);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].url.as_str()),
        (
            "POST",
            "https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist"
        )
    );
    assert_eq!(seen[0].body, Some(json!({"metadata": metadata()})));
    assert_eq!(
        (seen[1].method.as_str(), seen[1].url.as_str()),
        (
            "POST",
            "https://cloudcode-pa.googleapis.com/v1internal:onboardUser"
        )
    );
    // Free tier: no project anywhere in the body.
    assert_eq!(
        seen[1].body,
        Some(json!({"tierId": "free-tier", "metadata": metadata()}))
    );
    assert_eq!(
        (seen[2].method.as_str(), seen[2].url.as_str()),
        (
            "GET",
            "https://cloudcode-pa.googleapis.com/v1internal/operations/onboard-1"
        )
    );
    assert_eq!(seen[2].body, None);
    assert_eq!(clock.waits(), &[Duration::from_secs(5)]);
    assert_eq!(seen[2].at, start() + Duration::from_secs(5));
    // A fresh UUID v4 per request.
    let ids: std::collections::BTreeSet<_> = seen.iter().map(|s| s.request_id.clone()).collect();
    assert_eq!(ids.len(), 3);
    assert!(
        seen.iter()
            .all(|s| s.request_id.len() == 36 && &s.request_id[14..15] == "4")
    );
}

#[test]
fn the_operation_may_finish_on_the_last_poll() {
    let mut script = vec![reply(200, new_free_user()), reply(200, not_done())];
    script.extend((0..11).map(|_| reply(200, json!({"name": "operations/onboard-1"}))));
    script.push(reply(200, done(json!("managed-plain-string"))));
    let (outcome, seen, clock) = run(config(), None, None, script);
    assert_eq!(outcome.unwrap().project_id, "managed-plain-string");
    assert_eq!(seen.len(), 2 + 12);
    assert_eq!(clock.waits(), vec![Duration::from_secs(5); 12]);
}

#[test]
fn an_operation_that_never_finishes_is_an_error_not_a_success() {
    let mut script = vec![reply(200, new_free_user()), reply(200, not_done())];
    script.extend((0..12).map(|_| reply(200, not_done())));
    let (outcome, seen, clock) = run(config(), None, None, script);
    let error = outcome.unwrap_err();
    assert!(
        matches!(error.root(), Error::CodeAssist(CodeAssistError::OnboardingTimedOut { polls: 12, waited, .. }) if *waited == Duration::from_secs(60)),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("did not finish in 60 seconds"),
        "{error}"
    );
    assert_eq!(seen.len(), 14);
    assert_eq!(clock.total_waited(), Duration::from_secs(60));
}

#[test]
fn polling_is_configurable() {
    let mut config = config();
    config.poll_interval = Duration::from_secs(2);
    config.max_polls = 3;
    let mut script = vec![reply(200, new_free_user()), reply(200, not_done())];
    script.extend((0..3).map(|_| reply(200, not_done())));
    let (outcome, _, clock) = run(config, None, None, script);
    assert!(
        outcome
            .unwrap_err()
            .to_string()
            .contains("did not finish in 6 seconds")
    );
    assert_eq!(clock.waits(), vec![Duration::from_secs(2); 3]);
}

#[test]
fn an_existing_standard_tier_uses_the_configured_project_without_onboarding() {
    let (outcome, seen, _) = run(
        config(),
        Some("my-project"),
        Some("ignored-env-project"),
        vec![reply(
            200,
            json!({"currentTier": {"id": "standard-tier"}, "allowedTiers": [{"id": "standard-tier", "isDefault": true}]}),
        )],
    );
    let context = outcome.unwrap();
    assert_eq!(
        (
            context.project_id.as_str(),
            context.tier_id.as_str(),
            context.source
        ),
        ("my-project", "standard-tier", ProjectSource::Config)
    );
    assert_eq!(context.managed_project_id, None);
    assert_eq!(seen.len(), 1);
    let mut expected_metadata = metadata();
    expected_metadata["duetProject"] = json!("my-project");
    assert_eq!(
        seen[0].body,
        Some(json!({"metadata": expected_metadata, "cloudaicompanionProject": "my-project"}))
    );
}

#[test]
fn discovery_and_paid_tier() {
    let (outcome, _, _) = run(
        config(),
        None,
        None,
        vec![reply(
            200,
            json!({"currentTier": {"id": "free-tier"}, "paidTier": {"id": "g1-pro-tier"}, "cloudaicompanionProject": "found-1"}),
        )],
    );
    let context = outcome.unwrap();
    assert_eq!(
        (
            context.project_id.as_str(),
            context.tier_id.as_str(),
            context.source
        ),
        ("found-1", "g1-pro-tier", ProjectSource::Discovered)
    );

    let (outcome, _, _) = run(
        config(),
        None,
        Some("env-project"),
        vec![reply(200, json!({"currentTier": {"id": "standard-tier"}}))],
    );
    assert_eq!(outcome.unwrap().source, ProjectSource::Env);
}

#[test]
fn a_tier_without_a_project_names_the_setting_and_the_reasons() {
    let (outcome, seen, _) = run(
        config(),
        None,
        None,
        vec![reply(
            200,
            json!({"currentTier": {"id": "standard-tier"}, "ineligibleTiers": [
                {"tierId": "free-tier", "reasonCode": "VALIDATION_REQUIRED", "reasonMessage": "Verify your account", "validationUrl": "https://accounts.google.com/verify?x=1"}]}),
        )],
    );
    let error = outcome.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("GOOGLE_CLOUD_PROJECT"), "{message}");
    assert!(message.contains("Verify your account"), "{message}");
    assert!(
        message.contains("https://accounts.google.com/verify?x=1"),
        "{message}"
    );
    match error.root() {
        Error::CodeAssist(CodeAssistError::ProjectRequired { reasons, .. }) => {
            assert_eq!(
                reasons[0].reason_code.as_deref(),
                Some("VALIDATION_REQUIRED")
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(seen.len(), 1);
}

#[test]
fn a_tier_that_needs_a_project_fails_before_onboarding() {
    let (outcome, seen, _) = run(
        config(),
        None,
        None,
        vec![reply(
            200,
            json!({"allowedTiers": [{"id": "standard-tier", "isDefault": true}]}),
        )],
    );
    let error = outcome.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("standard-tier tier needs a Google Cloud project"),
        "{error}"
    );
    assert_eq!(seen.len(), 1, "no onboardUser request");
}

#[test]
fn onboarding_a_paid_tier_sends_the_configured_project() {
    let (outcome, seen, _) = run(
        config(),
        Some("billing-project"),
        None,
        vec![
            reply(
                200,
                json!({"allowedTiers": [{"id": "standard-tier", "isDefault": true}]}),
            ),
            reply(
                200,
                json!({"name": "operations/x", "done": true, "response": {}}),
            ),
        ],
    );
    let context = outcome.unwrap();
    assert_eq!(
        (context.project_id.as_str(), context.source),
        ("billing-project", ProjectSource::Config)
    );
    let mut expected_metadata = metadata();
    expected_metadata["duetProject"] = json!("billing-project");
    assert_eq!(
        seen[1].body,
        Some(
            json!({"tierId": "standard-tier", "metadata": expected_metadata, "cloudaicompanionProject": "billing-project"})
        )
    );
}

#[test]
fn no_tier_and_no_default_means_legacy_tier() {
    let (outcome, seen, _) = run(
        config(),
        None,
        None,
        vec![
            reply(200, json!({})),
            reply(200, done(json!("legacy-managed"))),
        ],
    );
    assert_eq!(outcome.unwrap().tier_id, "legacy-tier");
    assert_eq!(seen[1].body.as_ref().unwrap()["tierId"], "legacy-tier");
}

const VPC_SC: &str = r#"{"error": {"code": 403, "message": "Request is prohibited by organization's policy.", "status": "PERMISSION_DENIED",
  "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SECURITY_POLICY_VIOLATED", "domain": "googleapis.com"}]}}"#;

#[test]
fn vpc_service_controls_mean_standard_tier_with_the_callers_project() {
    let (outcome, seen, _) = run(config(), None, Some("corp-project"), vec![raw(403, VPC_SC)]);
    let context = outcome.unwrap();
    assert_eq!(
        (
            context.project_id.as_str(),
            context.tier_id.as_str(),
            context.source
        ),
        ("corp-project", "standard-tier", ProjectSource::Env)
    );
    assert_eq!(seen.len(), 1);

    let message_only = r#"{"error": {"code": 403, "message": "SECURITY_POLICY_VIOLATED: vpcServiceControlsUniqueIdentifier", "status": "PERMISSION_DENIED"}}"#;
    let (outcome, _, _) = run(config(), Some("p"), None, vec![raw(403, message_only)]);
    assert_eq!(outcome.unwrap().tier_id, "standard-tier");

    let (outcome, seen, _) = run(config(), None, None, vec![raw(403, VPC_SC)]);
    let error = outcome.unwrap_err();
    assert!(
        error.to_string().contains("VPC Service Controls"),
        "{error}"
    );
    assert!(
        error.to_string().contains("GOOGLE_CLOUD_PROJECT"),
        "{error}"
    );
    assert_eq!(seen.len(), 1);
}

#[test]
fn production_failing_falls_back_to_the_sandbox() {
    let mut config = config();
    config.retry.max_attempts = 2;
    let (outcome, seen, clock) = run(
        config,
        None,
        None,
        vec![
            raw(500, ""),
            raw(500, "<html>still down</html>"),
            reply(
                200,
                json!({"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "proj-1"}),
            ),
        ],
    );
    let context = outcome.unwrap();
    assert_eq!(context.endpoint, DAILY);
    let urls: Vec<_> = seen.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist",
            "https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist",
            "https://daily-cloudcode-pa.sandbox.googleapis.com/v1internal:loadCodeAssist"
        ]
    );
    assert_eq!(clock.waits(), &[Duration::from_secs(5)]);
}

#[test]
fn when_every_endpoint_fails_the_error_is_the_last_cause() {
    let not_found = |which: &str| {
        reply(
            404,
            json!({"error": {"code": 404, "message": format!("{which} says no"), "status": "NOT_FOUND"}}),
        )
    };
    let (outcome, seen, _) = run(
        config(),
        None,
        None,
        vec![not_found("prod"), not_found("daily"), not_found("autopush")],
    );
    let error = outcome.unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.http_status(), Some(404));
    assert_eq!(api.status(), Some("NOT_FOUND"));
    assert_eq!(api.google_message(), Some("autopush says no"));
    assert_eq!(
        seen.last().unwrap().url,
        format!("{AUTOPUSH}/v1internal:loadCodeAssist")
    );
    assert_eq!(seen.len(), 3);
}

#[test]
fn a_429_with_retry_info_waits_and_continues() {
    let rate_limited = r#"{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED",
      "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "cloudcode-pa.googleapis.com"},
                  {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.2s"}]}}"#;
    let (outcome, seen, clock) = run(
        config(),
        None,
        None,
        vec![
            raw(429, rate_limited),
            reply(
                200,
                json!({"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "proj-p1"}),
            ),
        ],
    );
    assert_eq!(outcome.unwrap().endpoint, PROD);
    assert_eq!(clock.waits(), &[Duration::from_millis(1200)]);
    assert_eq!(seen[1].at, start() + Duration::from_millis(1200));
    assert_eq!(seen[0].body, seen[1].body);
}

#[test]
fn a_401_is_an_auth_error_and_does_not_wander_the_endpoints() {
    let (outcome, seen, _) = run(
        config(),
        None,
        None,
        vec![reply(
            401,
            json!({"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}}),
        )],
    );
    let error = outcome.unwrap_err();
    let api = error.api().unwrap();
    assert_eq!(api.class(), ErrorClass::Auth);
    assert_eq!(api.http_status(), Some(401));
    assert_eq!(seen.len(), 1);
    assert_eq!(
        error.retry_history().unwrap().final_decision,
        Some(codeassist_core::retry::Decision::Reauthenticate)
    );
}

#[test]
fn transport_failures_are_retried_then_fall_back() {
    let mut config = config();
    config.retry.max_attempts = 1;
    let (outcome, seen, _) = run(
        config,
        None,
        None,
        vec![
            Err(TransportError::new(TransportErrorKind::Dns, "no such host")),
            reply(
                200,
                json!({"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "proj-p1"}),
            ),
        ],
    );
    assert_eq!(outcome.unwrap().endpoint, DAILY);
    assert_eq!(seen.len(), 2);
}

#[test]
fn malformed_json_at_each_step() {
    let one_endpoint = || {
        let mut config = config();
        config.endpoints.truncate(1);
        config
    };
    let (outcome, _, _) = run(one_endpoint(), None, None, vec![raw(200, "{not json")]);
    assert!(matches!(
        outcome.unwrap_err().root(),
        Error::InvalidResponse {
            what: "loadCodeAssist",
            ..
        }
    ));

    let (outcome, _, _) = run(
        one_endpoint(),
        None,
        None,
        vec![reply(200, new_free_user()), raw(200, "[]")],
    );
    assert!(matches!(
        outcome.unwrap_err().root(),
        Error::InvalidResponse {
            what: "onboardUser",
            ..
        }
    ));

    let (outcome, _, _) = run(
        one_endpoint(),
        None,
        None,
        vec![
            reply(200, new_free_user()),
            reply(200, not_done()),
            raw(200, "<html>"),
        ],
    );
    assert!(matches!(
        outcome.unwrap_err().root(),
        Error::InvalidResponse {
            what: "the onboarding operation",
            ..
        }
    ));

    // Malformed JSON on production still lets the sandbox answer.
    let (outcome, _, _) = run(
        config(),
        None,
        None,
        vec![
            raw(200, "]]"),
            reply(
                200,
                json!({"currentTier": {"id": "free-tier"}, "cloudaicompanionProject": "proj-p1"}),
            ),
        ],
    );
    assert_eq!(outcome.unwrap().endpoint, DAILY);

    // Done, but no project.
    let (outcome, _, _) = run(
        one_endpoint(),
        None,
        None,
        vec![
            reply(200, new_free_user()),
            reply(200, json!({"done": true, "response": {}})),
        ],
    );
    assert!(
        outcome
            .unwrap_err()
            .to_string()
            .contains("without naming a project")
    );

    // Not done and nothing to poll.
    let (outcome, _, _) = run(
        one_endpoint(),
        None,
        None,
        vec![
            reply(200, new_free_user()),
            reply(200, json!({"done": false})),
        ],
    );
    assert!(
        outcome
            .unwrap_err()
            .to_string()
            .contains("no operation to poll")
    );
}

#[test]
fn a_failed_operation_is_a_classified_error() {
    let (outcome, _, _) = run(
        config(),
        None,
        None,
        vec![
            reply(200, new_free_user()),
            reply(
                200,
                json!({"name": "operations/x", "done": true, "error": {"code": 403, "message": "Precondition Failed", "status": "PERMISSION_DENIED"}}),
            ),
        ],
    );
    let error = outcome.unwrap_err();
    assert_eq!(error.api().unwrap().class(), ErrorClass::Permission);
}

#[test]
fn a_project_number_is_refused_before_any_request() {
    for (configured, env) in [(Some("123456789012"), None), (None, Some(" 987654 "))] {
        let (outcome, seen, _) = run(config(), configured, env, vec![]);
        let error = outcome.unwrap_err();
        assert!(
            matches!(
                error.root(),
                Error::CodeAssist(CodeAssistError::ProjectNumber(_))
            ),
            "{error:?}"
        );
        assert!(error.to_string().contains("project number"), "{error}");
        assert!(seen.is_empty());
    }
}

#[test]
fn quota_buckets_tolerate_odd_shapes() {
    let body = json!({"buckets": [
        {"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingFraction": 0.25, "resetTime": "2023-11-15T00:00:00Z"},
        {"modelId": "gemini-2.5-flash"},
        {"modelId": "gemini-2.0-flash", "remainingFraction": "0.5", "tokenType": "REQ\u{1b}]0;x\u{7}\nUESTS\u{202e}"},
        {"modelId": "bad-fraction", "remainingFraction": 7},
        {"modelId": "bad-time", "resetTime": "tomorrow"},
        {"tokenType": "REQUESTS"},
        "not an object",
        {"modelId": 5},
    ]});
    let flow =
        retrieve_user_quota(&config(), &Secret::new("ya29.token"), "proj-1", &mut Seq(0)).unwrap();
    let mut seen = None;
    let quota = drive(flow, &mut VirtualClock::new(start()), |request, _| {
        seen = Some((
            request.uri().to_string(),
            serde_json::from_slice::<Value>(request.body()).unwrap(),
        ));
        reply(200, body.clone())
    })
    .unwrap();
    assert_eq!(
        seen.unwrap(),
        (
            format!("{PROD}/v1internal:retrieveUserQuota"),
            json!({"project": "proj-1"})
        )
    );
    let models: Vec<_> = quota.buckets.iter().map(|b| b.model_id.as_str()).collect();
    assert_eq!(
        models,
        ["gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.0-flash"]
    );
    assert_eq!(quota.skipped, 5);
    assert_eq!(quota.buckets[0].remaining_fraction, Some(0.25));
    assert_eq!(
        quota.buckets[0].reset_time,
        Some(UNIX_EPOCH + Duration::from_secs(1_700_006_400))
    );
    assert_eq!(quota.buckets[1].remaining_fraction, None);
    assert_eq!(quota.buckets[2].remaining_fraction, Some(0.5));
    // The token type is shown in the quota table: one clean line.
    assert_eq!(
        quota.buckets[2].token_type.as_deref(),
        Some("REQ ]0;x UESTS")
    );

    let flow = retrieve_user_quota(&config(), &Secret::new("t"), "p", &mut Seq(0)).unwrap();
    let quota = drive(flow, &mut VirtualClock::new(start()), |_, _| {
        reply(200, json!({}))
    })
    .unwrap();
    assert!(quota.buckets.is_empty());
}
