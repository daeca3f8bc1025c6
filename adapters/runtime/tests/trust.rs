//! Trust roots from a CA bundle: a bundle that cannot be read, or holds no
//! certificate, is a clear error naming the file.

use codeassist_runtime::TrustRoots;

#[test]
fn a_broken_ca_bundle_is_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    assert!(
        TrustRoots::load(Some(&missing))
            .unwrap_err()
            .contains("missing.pem")
    );
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate").unwrap();
    let error = TrustRoots::load(Some(&empty)).unwrap_err();
    assert!(
        error.contains("empty.pem") && error.contains("CERTIFICATE"),
        "{error}"
    );
}
