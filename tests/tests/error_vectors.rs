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
