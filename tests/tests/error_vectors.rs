//! Every error vector through the library.

use std::time::{Duration, UNIX_EPOCH};

use codeassist_core::ApiError;
use codeassist_testkit::vectors::error_vectors;

#[test]
fn every_vector_classifies_as_expected() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let vectors = error_vectors();
    assert!(
        vectors.len() >= 40,
        "vectors went missing: {}",
        vectors.len()
    );
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|vector| {
            let error =
                ApiError::from_parts(vector.status, &vector.header_map(), &vector.body, now);
            let summary = serde_json::to_value(error.summary()).unwrap();
            vector.check(&summary).err()
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_message_is_one_short_line() {
    for vector in error_vectors() {
        let error = ApiError::from_parts(
            vector.status,
            &vector.header_map(),
            &vector.body,
            UNIX_EPOCH,
        );
        let message = error.message();
        assert!(!message.is_empty(), "{}", vector.name);
        assert!(message.chars().count() <= 300, "{}: {message}", vector.name);
        assert!(!message.contains('\n'), "{}: {message}", vector.name);
    }
}

/// The quick scan that routes most bodies agrees with the full parse on every vector,
/// and does read the common ones.
#[test]
fn the_quick_scan_agrees_with_the_full_parse() {
    let mut read = Vec::new();
    for vector in error_vectors() {
        match ApiError::check_quick_scan(vector.status, &vector.body) {
            Ok(true) => read.push(vector.name),
            Ok(false) => {}
            Err(difference) => panic!("{}: {difference}", vector.name),
        }
    }
    assert!(
        read.len() >= 30,
        "only {} read quickly: {read:?}",
        read.len()
    );
    for common in [
        "capacity-with-retryinfo",
        "per-minute-rate-limit",
        "daily-quota",
        "model-not-found-404",
    ] {
        assert!(read.iter().any(|name| name == common), "{common} not read");
    }
}
