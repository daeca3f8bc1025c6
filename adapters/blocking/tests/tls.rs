//! A private CA: the emulator over HTTPS with a certificate from a CA made by the
//! test. Refused without the CA (a permanent TLS failure, never retried), accepted
//! with it as an extra bundle; the system's roots still count beside it.

use std::sync::Arc;

use codeassist_blocking::{BlockingDriver, DriverConfig};
use codeassist_core::error::ErrorClass;
use codeassist_core::flow::Call;
use codeassist_runtime::TrustRoots;
use codeassist_testkit::emulator::Emulator;
use codeassist_testkit::tls::private_ca;

fn userinfo(base: &str) -> codeassist_core::flow::Request {
    http::Request::get(format!("{base}/oauth2/v2/userinfo"))
        .body(Vec::new())
        .unwrap()
}

#[test]
fn a_private_ca_is_trusted_only_when_given() {
    let ca = private_ca();
    let emulator = Emulator::new();
    let server = emulator.serve_tls(ca.server.clone()).unwrap();
    let base = server.base_url();
    assert!(base.starts_with("https://localhost:"));

    let error = BlockingDriver::default()
        .run(Call::new(userinfo(&base)))
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
    let trust = TrustRoots::load(Some(&bundle)).unwrap();
    assert!(
        trust
            .sources()
            .iter()
            .any(|s| s.contains("corporate-ca.pem"))
    );
    assert!(
        trust.certificates().len() > 1,
        "the system's roots are kept"
    );
    let mut config = DriverConfig::default();
    config.trust = Some(Arc::new(trust));
    let driver = BlockingDriver::new(config);
    // The emulator answers (401 without a token): TLS was accepted.
    let error = driver.run(Call::new(userinfo(&base))).unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);
}

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

/// Through a real CONNECT proxy (tinyproxy) to the emulator over HTTPS on a
/// non-loopback address: proxy credentials accepted, wrong ones refused at once (no
/// retry storm), loopback never proxied, a SOCKS proxy refused with a clear error.
#[test]
fn https_goes_through_a_real_proxy() {
    use codeassist_runtime::ProxySetting;
    use codeassist_testkit::proxy::{Tinyproxy, non_loopback_address};
    let Some(ip) = non_loopback_address() else {
        return;
    };
    let Some(proxy) = Tinyproxy::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let ca = codeassist_testkit::tls::private_ca_for(&[ip.to_string()]);
    let emulator = Emulator::new();
    let server = emulator.serve_tls_on(ca.server.clone(), ip).unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let trust = Arc::new(TrustRoots::load(Some(&bundle)).unwrap());
    let driver = |proxy: ProxySetting| {
        let mut config = DriverConfig::default();
        config.trust = Some(trust.clone());
        config.proxy = proxy;
        BlockingDriver::new(config)
    };

    let through = driver(ProxySetting::Url(proxy.url(Some(("alice", "s3cret")))));
    let error = through.run(Call::new(userinfo(&base))).unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);

    let refused = driver(ProxySetting::Url(proxy.url(Some(("alice", "wrong")))));
    let error = refused.run(Call::new(userinfo(&base))).unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::TransportPermanent),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong"), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);

    // Loopback never goes through a proxy, even a dead one.
    let loopback = Emulator::new();
    let local = loopback.serve().unwrap();
    let dead = driver(ProxySetting::Url("http://127.0.0.1:9".into()));
    let error = dead
        .run(Call::new(userinfo(&local.base_url())))
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");

    let socks = driver(ProxySetting::Url("socks5://bob:pw@127.0.0.1:1080".into()));
    let error = socks.run(Call::new(userinfo(&base))).unwrap_err();
    assert!(error.to_string().contains("SOCKS"), "{error}");
    assert!(!error.to_string().contains("pw@"), "{error}");
}
