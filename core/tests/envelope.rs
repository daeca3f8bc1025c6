//! The envelope parser: every detail type, every body shape, and no panics on any bytes.

use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::error::{ApiError, Detail, ErrorClass};
use http::HeaderMap;
use proptest::prelude::*;

fn parse(status: u16, body: &str) -> ApiError {
    ApiError::from_parts(status, &HeaderMap::new(), body.as_bytes(), UNIX_EPOCH)
}

fn details(error: &ApiError) -> &[Detail] {
    &error.envelope().expect("an envelope").details
}

#[test]
fn error_info_with_metadata() {
    let error = parse(
        429,
        r#"{"error": {"code": 429, "message": "m", "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "MODEL_CAPACITY_EXHAUSTED",
             "domain": " cloudcode-pa.googleapis.com,", "metadata": {"model": "gemini-2.5-pro", "n": 3}}]}}"#,
    );
    let Detail::ErrorInfo {
        reason,
        domain,
        metadata,
    } = &details(&error)[0]
    else {
        panic!("not ErrorInfo: {:?}", details(&error));
    };
    assert_eq!(reason.as_deref(), Some("MODEL_CAPACITY_EXHAUSTED"));
    assert_eq!(domain.as_deref(), Some("cloudcode-pa.googleapis.com"));
    assert_eq!(
        metadata.get("model").map(String::as_str),
        Some("gemini-2.5-pro")
    );
    assert_eq!(metadata.get("n").map(String::as_str), Some("3"));
    assert_eq!(error.envelope().unwrap().code, Some(429));
    assert_eq!(error.status(), Some("RESOURCE_EXHAUSTED"));
}

#[test]
fn retry_info_durations() {
    for (text, expected) in [
        ("3.5s", Duration::from_millis(3500)),
        ("0.000500s", Duration::from_micros(500)),
        ("30s", Duration::from_secs(30)),
    ] {
        let error = parse(
            429,
            &format!(
                r#"{{"error": {{"code": 429, "details": [{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "{text}"}}]}}}}"#
            ),
        );
        assert_eq!(
            details(&error)[0],
            Detail::RetryInfo {
                retry_delay: Some(expected)
            },
            "{text}"
        );
        assert_eq!(error.retry_delay(), Some(expected));
    }
}

#[test]
fn quota_failure_help_localized_bad_request_precondition_debug_and_unknown() {
    let error = parse(
        400,
        r#"{"error": {"code": 400, "message": "bad", "status": "FAILED_PRECONDITION", "details": [
          {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [
             {"subject": "project:1", "description": "d", "quotaId": "RequestsPerDay", "quotaMetric": "m",
              "quotaDimensions": {"model": "gemini-2.5-pro"}}]},
          {"@type": "type.googleapis.com/google.rpc.Help", "links": [{"description": "docs", "url": "https://example.test/help"}]},
          {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": "Bad."},
          {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": "contents", "description": "empty"}]},
          {"@type": "type.googleapis.com/google.rpc.PreconditionFailure", "violations": [{"type": "TOS", "subject": "s", "description": "accept"}]},
          {"@type": "type.googleapis.com/google.rpc.DebugInfo", "detail": "stack"},
          {"@type": "type.googleapis.com/google.rpc.Novel", "x": [1, 2]}]}}"#,
    );
    let details = details(&error);
    assert_eq!(details.len(), 7);
    match &details[0] {
        Detail::QuotaFailure { violations } => {
            assert_eq!(violations[0].quota_id.as_deref(), Some("RequestsPerDay"));
            assert_eq!(violations[0].subject.as_deref(), Some("project:1"));
            assert_eq!(violations[0].quota_metric.as_deref(), Some("m"));
            assert_eq!(violations[0].quota_dimensions["model"], "gemini-2.5-pro");
        }
        other => panic!("{other:?}"),
    }
    match &details[1] {
        Detail::Help { links } => {
            assert_eq!(links[0].url.as_deref(), Some("https://example.test/help"))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&details[2], Detail::LocalizedMessage { locale: Some(l), message: Some(m) } if l == "en-US" && m == "Bad.")
    );
    match &details[3] {
        Detail::BadRequest { field_violations } => {
            assert_eq!(field_violations[0].field.as_deref(), Some("contents"))
        }
        other => panic!("{other:?}"),
    }
    match &details[4] {
        Detail::PreconditionFailure { violations } => {
            assert_eq!(violations[0].kind.as_deref(), Some("TOS"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&details[5], Detail::DebugInfo { detail: Some(d) } if d == "stack"));
    match &details[6] {
        Detail::Other { type_url, raw } => {
            assert_eq!(
                type_url.as_deref(),
                Some("type.googleapis.com/google.rpc.Novel")
            );
            assert_eq!(raw["x"], serde_json::json!([1, 2]));
        }
        other => panic!("{other:?}"),
    }
    // DebugInfo is kept but never shown.
    assert!(!error.message().contains("stack"), "{}", error.message());
}

#[test]
fn array_sse_and_nested_shapes_parse_to_the_same_facts() {
    let object = r#"{"error": {"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED", "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"}]}}"#;
    let shapes = [
        object.to_owned(),
        format!("[{object}]"),
        format!("[{{\"other\": 1}}, {object}]"),
        format!("data: {object}\n\n"),
        format!(": comment\r\nevent: error\r\ndata: {object}\r\n\r\n"),
        format!(
            r#"{{"error": {{"code": 500, "message": {}}}}}"#,
            serde_json::to_string(object).unwrap()
        ),
    ];
    for body in shapes {
        let error = parse(429, &body);
        assert_eq!(error.class(), ErrorClass::RateLimit, "{body}");
        assert_eq!(error.retry_delay(), Some(Duration::from_secs(2)), "{body}");
        assert_eq!(error.status(), Some("RESOURCE_EXHAUSTED"), "{body}");
    }
}

#[test]
fn sse_data_lines_split_across_lines_are_joined() {
    let body = "data: {\"error\": {\"code\": 429,\ndata: \"status\": \"RESOURCE_EXHAUSTED\"}}\n\n";
    let error = parse(200, body);
    assert_eq!(error.status(), Some("RESOURCE_EXHAUSTED"));
    assert_eq!(error.class(), ErrorClass::RateLimit);
}

#[test]
fn oauth_token_errors() {
    let error = parse(
        400,
        r#"{"error": "invalid_grant", "error_description": "Token has been expired or revoked."}"#,
    );
    assert_eq!(error.class(), ErrorClass::AuthPermanent);
    assert!(error.needs_sign_in());
    let oauth = error.oauth().unwrap();
    assert_eq!(oauth.error, "invalid_grant");
    assert_eq!(
        oauth.description.as_deref(),
        Some("Token has been expired or revoked.")
    );
    assert!(
        error.message().contains("sign in again"),
        "{}",
        error.message()
    );

    let error = parse(
        401,
        r#"{"error": "invalid_client", "error_description": "The OAuth client was not found."}"#,
    );
    assert_eq!(error.class(), ErrorClass::ClientInvalid);
    assert!(!error.needs_sign_in());
}

#[test]
fn unknown_shapes_become_readable_excerpts() {
    let cases: [(&[u8], &str); 5] = [
        (b"", "HTTP 418 with an empty body"),
        (b"I'm a teapot", "HTTP 418: I'm a teapot"),
        (
            b"{\"unexpected\": true}",
            "HTTP 418: {\"unexpected\": true}",
        ),
        (
            b"\xff\xfe garbage \x00",
            "HTTP 418: \u{fffd}\u{fffd} garbage",
        ),
        (
            b"<html><body><p>Teapot</p></body></html>",
            "HTTP 418: Teapot",
        ),
    ];
    for (body, expected) in cases {
        let error = ApiError::from_parts(418, &HeaderMap::new(), body, UNIX_EPOCH);
        assert_eq!(error.class(), ErrorClass::Unknown);
        assert_eq!(error.message(), expected);
    }
}

#[test]
fn huge_bodies_are_capped() {
    let message = "x".repeat(3 * 1024 * 1024);
    let body = format!(r#"{{"error": {{"code": 400, "message": "{message}"}}}}"#);
    let error = parse(400, &body);
    // Past the parsed prefix the JSON is cut off: the salvage still finds the code.
    assert_eq!(error.class(), ErrorClass::InvalidRequest);
    assert!(error.message().chars().count() <= 300);

    let details: Vec<String> = (0..10_000)
        .map(|i| format!(r#"{{"@type": "type.googleapis.com/google.rpc.Help", "links": [{{"url": "https://x/{i}"}}]}}"#))
        .collect();
    let body = format!(
        r#"{{"error": {{"code": 400, "details": [{}]}}}}"#,
        details.join(",")
    );
    let error = parse(400, &body);
    assert!(error.envelope().unwrap().details.len() <= 32);
}

#[test]
fn retry_after_http_date_is_relative_to_now() {
    let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
    let mut headers = HeaderMap::new();
    headers.insert(
        "retry-after",
        "Wed, 21 Oct 2015 07:28:42 GMT".parse().unwrap(),
    );
    let error = ApiError::from_parts(503, &headers, b"", now);
    assert_eq!(error.retry_delay(), Some(Duration::from_secs(42)));
    assert_eq!(error.retry_after_header(), Some(Duration::from_secs(42)));
    assert_eq!(error.class(), ErrorClass::ServerError);
}

#[test]
fn transport_failures_classify_as_network_or_timeout() {
    use codeassist_core::flow::{TransportError, TransportErrorKind};
    let error = ApiError::from_transport(&TransportError::new(
        TransportErrorKind::Connect,
        "connection refused",
    ));
    assert_eq!(error.class(), ErrorClass::Network);
    assert!(error.retryable());
    assert_eq!(error.http_status(), None);
    assert_eq!(
        error.message(),
        "Could not reach Google: connect failure: connection refused"
    );
    let error = ApiError::from_transport(&TransportError::new(
        TransportErrorKind::Timeout,
        "read timed out",
    ));
    assert_eq!(error.class(), ErrorClass::Timeout);
}

#[test]
fn debug_and_display_hold_no_secrets() {
    let body = r#"{"error": {"code": 401, "message": "Request had invalid authentication credentials: Bearer ya29.A0secret and refresh 1//0gSecretRefresh", "status": "UNAUTHENTICATED"}}"#;
    let error = parse(401, body);
    for shown in [
        format!("{error}"),
        format!("{error:?}"),
        error.message().to_owned(),
    ] {
        assert!(!shown.contains("ya29.A0secret"), "{shown}");
        assert!(!shown.contains("1//0gSecretRefresh"), "{shown}");
    }
}

/// A table of status × body facts → class, one row per rule of the classifier.
#[test]
fn classification_table() {
    let info = |reason: &str| {
        format!(
            r#"{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "{reason}", "domain": "googleapis.com"}}"#
        )
    };
    let envelope = |code: u16, status: &str, message: &str, details: &[String]| {
        format!(
            r#"{{"error": {{"code": {code}, "status": "{status}", "message": "{message}", "details": [{}]}}}}"#,
            details.join(",")
        )
    };
    let rows: Vec<(u16, String, ErrorClass)> = vec![
        (
            401,
            envelope(401, "UNAUTHENTICATED", "bad token", &[]),
            ErrorClass::Auth,
        ),
        (
            403,
            envelope(403, "PERMISSION_DENIED", "no", &[info("SERVICE_DISABLED")]),
            ErrorClass::Permission,
        ),
        (
            403,
            envelope(
                403,
                "PERMISSION_DENIED",
                "v",
                &[info("VALIDATION_REQUIRED")],
            ),
            ErrorClass::ValidationRequired,
        ),
        (
            403,
            envelope(403, "PERMISSION_DENIED", "SECURITY_POLICY_VIOLATED", &[]),
            ErrorClass::PolicyBlocked,
        ),
        (
            429,
            envelope(
                429,
                "RESOURCE_EXHAUSTED",
                "x",
                &[info("MODEL_CAPACITY_EXCEEDED")],
            ),
            ErrorClass::Capacity,
        ),
        (
            429,
            envelope(
                429,
                "RESOURCE_EXHAUSTED",
                "x",
                &[info("INSUFFICIENT_G1_CREDITS_BALANCE")],
            ),
            ErrorClass::Billing,
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "x", &[info("QUOTA_EXHAUSTED")]),
            ErrorClass::QuotaExhausted,
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "Daily limit reached", &[]),
            ErrorClass::QuotaExhausted,
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "requests per day", &[]),
            ErrorClass::QuotaExhausted,
        ),
        (
            429,
            envelope(429, "RESOURCE_EXHAUSTED", "x", &[]),
            ErrorClass::RateLimit,
        ),
        (
            200,
            envelope(429, "RESOURCE_EXHAUSTED", "x", &[]),
            ErrorClass::RateLimit,
        ),
        (
            503,
            envelope(503, "UNAVAILABLE", "x", &[info("MODEL_CAPACITY_EXHAUSTED")]),
            ErrorClass::Capacity,
        ),
        (
            503,
            envelope(503, "UNAVAILABLE", "overloaded", &[]),
            ErrorClass::ServerError,
        ),
        (
            500,
            envelope(500, "INTERNAL", "x", &[]),
            ErrorClass::ServerError,
        ),
        (502, String::new(), ErrorClass::ServerError),
        (504, String::new(), ErrorClass::Timeout),
        (408, String::new(), ErrorClass::Timeout),
        (
            400,
            envelope(400, "DEADLINE_EXCEEDED", "x", &[]),
            ErrorClass::Timeout,
        ),
        (
            404,
            envelope(404, "NOT_FOUND", "models/gemini-9 is not found", &[]),
            ErrorClass::ModelNotFound,
        ),
        (
            404,
            envelope(404, "NOT_FOUND", "Requested entity was not found.", &[]),
            ErrorClass::NotFound,
        ),
        (
            400,
            envelope(
                400,
                "INVALID_ARGUMENT",
                "input token count exceeds the maximum",
                &[],
            ),
            ErrorClass::ContextOverflow,
        ),
        (
            400,
            envelope(400, "INVALID_ARGUMENT", "bad field", &[]),
            ErrorClass::InvalidRequest,
        ),
        (413, String::new(), ErrorClass::PayloadTooLarge),
        (402, String::new(), ErrorClass::Billing),
        (
            403,
            envelope(403, "PERMISSION_DENIED", "x", &[info("BILLING_DISABLED")]),
            ErrorClass::Billing,
        ),
        (302, String::new(), ErrorClass::Unknown),
    ];
    for (status, body, class) in rows {
        let error = parse(status, &body);
        assert_eq!(error.class(), class, "{status} {body}");
        assert_eq!(error.retryable(), class.retryable());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn no_byte_string_panics_and_messages_stay_bounded(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..600)) {
        let error = ApiError::from_parts(status, &HeaderMap::new(), &body, UNIX_EPOCH);
        prop_assert!(error.message().chars().count() <= 300);
        prop_assert!(!error.message().contains('\n'));
        if let Some(delay) = error.retry_delay() {
            prop_assert!(delay <= codeassist_core::error::MAX_PLAUSIBLE_DELAY);
        }
    }

    #[test]
    fn json_like_bodies_never_panic(
        status in 100u16..600,
        code in any::<i64>(),
        message in ".{0,400}",
        reason in "[A-Z_]{0,30}",
        delay in ".{0,12}",
        retry_after in ".{0,30}",
    ) {
        let body = serde_json::json!({"error": {"code": code, "message": message, "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "metadata": {"model": message}},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}}).to_string();
        let mut headers = HeaderMap::new();
        if let Ok(value) = retry_after.parse() {
            headers.insert("retry-after", value);
        }
        let error = ApiError::from_parts(status, &headers, body.as_bytes(), UNIX_EPOCH);
        prop_assert!(error.message().chars().count() <= 300);
        // Truncating the same body anywhere never panics either.
        for cut in [1, body.len() / 3, body.len() / 2, body.len().saturating_sub(1)] {
            let error = ApiError::from_parts(status, &headers, &body.as_bytes()[..cut], UNIX_EPOCH);
            prop_assert!(error.message().chars().count() <= 300);
        }
    }
}
