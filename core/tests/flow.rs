//! The driving contract: the virtual-clock driver and misuse detection.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::Error;
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::{
    Call, Flow, Step, TransportError, TransportErrorKind, VirtualClock, drive,
};

fn request() -> http::Request<Vec<u8>> {
    http::Request::get("https://example.test/x")
        .body(Vec::new())
        .unwrap()
}

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[test]
fn drive_returns_the_output_and_the_transport_sees_the_request() {
    let mut clock = VirtualClock::new(start());
    let mut seen = Vec::new();
    let response = drive(Call::new(request()), &mut clock, |request, now| {
        seen.push((request.uri().to_string(), now));
        Ok(http::Response::builder()
            .status(204)
            .body(Vec::new())
            .unwrap())
    })
    .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(seen, vec![("https://example.test/x".to_owned(), start())]);
    assert!(clock.waits().is_empty());
}

#[test]
fn transport_failures_become_classified_errors() {
    let mut clock = VirtualClock::new(start());
    let error = drive(Call::new(request()), &mut clock, |_, _| {
        Err(TransportError::new(TransportErrorKind::Dns, "no such host"))
    })
    .unwrap_err();
    assert!(error.api().is_none(), "Google never answered");
    assert_eq!(error.class(), Some(ErrorClass::Network));
    assert_eq!(error.transport().unwrap().kind(), TransportErrorKind::Dns);
}

#[test]
fn misuse_is_reported_not_panicked() {
    let mut call = Call::new(request());
    assert!(matches!(call.poll(start()), Ok(Step::Send(_))));
    assert!(
        matches!(call.poll(start()), Err(Error::Misuse(_))),
        "polled while a request is outstanding"
    );
    call.handle_response(Ok(http::Response::new(Vec::new())), start());
    assert!(matches!(call.poll(start()), Ok(Step::Done(_))));
    assert!(
        matches!(call.poll(start()), Err(Error::Misuse(_))),
        "polled after done"
    );

    let mut early = Call::new(request());
    early.handle_response(Ok(http::Response::new(Vec::new())), start());
    assert!(
        matches!(early.poll(start()), Err(Error::Misuse(_))),
        "response before any request"
    );
}

#[test]
fn the_virtual_clock_records_waits() {
    let mut clock = VirtualClock::new(start());
    clock.advance(Duration::from_millis(1200));
    clock.advance(Duration::from_secs(2));
    assert_eq!(clock.now(), start() + Duration::from_millis(3200));
    assert_eq!(
        clock.waits(),
        &[Duration::from_millis(1200), Duration::from_secs(2)]
    );
    assert_eq!(clock.total_waited(), Duration::from_millis(3200));
}
