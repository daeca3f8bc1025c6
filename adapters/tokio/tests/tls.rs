//! A private CA over the async driver: the emulator over HTTPS with a certificate
//! from a CA made by the test, refused without the CA and accepted with it.

use std::sync::Arc;

use codeassist_core::error::ErrorClass;
use codeassist_core::flow::Call;
use codeassist_store::TrustRoots;
use codeassist_testkit::emulator::Emulator;
use codeassist_testkit::tls::private_ca;
use codeassist_tokio::{AsyncDriver, DriverConfig};

fn userinfo(base: &str) -> codeassist_core::flow::Request {
    http::Request::get(format!("{base}/oauth2/v2/userinfo"))
        .body(Vec::new())
        .unwrap()
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let ca = private_ca();
    let emulator = Emulator::new();
    let server = emulator.serve_tls(ca.server.clone()).unwrap();
    let base = server.base_url();

    let error = AsyncDriver::default()
        .run(Call::new(userinfo(&base)))
        .await
        .unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::TransportPermanent),
        "{error}"
    );
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 0);

    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("corporate-ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let mut config = DriverConfig::default();
    config.trust = Some(Arc::new(TrustRoots::load(Some(&bundle)).unwrap()));
    let error = AsyncDriver::new(config)
        .run(Call::new(userinfo(&base)))
        .await
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);
}
