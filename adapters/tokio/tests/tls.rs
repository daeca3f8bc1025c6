//! A private CA over the async driver: the emulator over HTTPS with a certificate
//! from a CA made by the test, refused without the CA and accepted with it.

use std::sync::Arc;

use codeassist_core::error::ErrorClass;
use codeassist_core::flow::Call;
use codeassist_runtime::TrustRoots;
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

/// Through a real CONNECT proxy (tinyproxy) with the async driver: credentials
/// accepted, wrong ones refused at once, loopback never proxied, SOCKS refused.
#[tokio::test]
async fn https_goes_through_a_real_proxy() {
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
        AsyncDriver::new(config)
    };

    let through = driver(ProxySetting::Url(proxy.url(Some(("alice", "s3cret")))));
    let error = through.run(Call::new(userinfo(&base))).await.unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);

    let refused = driver(ProxySetting::Url(proxy.url(Some(("alice", "wrong")))));
    let error = refused.run(Call::new(userinfo(&base))).await.unwrap_err();
    assert_eq!(
        error.class(),
        Some(ErrorClass::TransportPermanent),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong"), "{error}");
    assert_eq!(emulator.count("/oauth2/v2/userinfo"), 1);

    let loopback = Emulator::new();
    let local = loopback.serve().unwrap();
    let dead = driver(ProxySetting::Url("http://127.0.0.1:9".into()));
    let error = dead
        .run(Call::new(userinfo(&local.base_url())))
        .await
        .unwrap_err();
    assert_eq!(error.class(), Some(ErrorClass::Auth), "{error}");

    let socks = driver(ProxySetting::Url("socks5://bob:pw@127.0.0.1:1080".into()));
    let error = socks.run(Call::new(userinfo(&base))).await.unwrap_err();
    assert!(error.to_string().contains("SOCKS"), "{error}");
}

/// HTTP/2 with ALPN: once the driver has a connection to the host, 500 concurrent
/// streamed answers through it complete, sharing it (at most two connections in all).
/// Concurrent first calls to a host the driver never reached may each open one:
/// hyper-util's pool learns that a host speaks HTTP/2 only once ALPN answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_streams_share_a_connection() {
    use codeassist_core::Secret;
    use codeassist_core::inference::{ModelMethod, StreamItem, Target};
    use codeassist_testkit::emulator::API_KEY;
    use codeassist_testkit::h2::H2Server;
    let ca = private_ca();
    let emulator = Emulator::new();
    let server = H2Server::start(emulator.clone(), &ca.server).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let mut config = DriverConfig::default();
    config.trust = Some(Arc::new(TrustRoots::load(Some(&bundle)).unwrap()));
    let driver = AsyncDriver::new(config);
    let target = Target::gemini_api(Some(Secret::new(API_KEY))).under(server.base_url());
    let body = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    // The first call makes the connection.
    let warm = target
        .model_request("gemini-2.5-flash", ModelMethod::Generate, &body, None)
        .unwrap();
    driver.send(warm).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let request = target
            .model_request("gemini-2.5-flash", ModelMethod::Stream, &body, None)
            .unwrap();
        let driver = driver.clone();
        tasks.spawn(async move {
            let mut stream = driver.stream(request).await.unwrap();
            let mut text = String::new();
            while let Some(item) = stream.next().await {
                if let StreamItem::Chunk(chunk) = item.unwrap() {
                    text.push_str(
                        chunk.response["candidates"][0]["content"]["parts"][0]["text"]
                            .as_str()
                            .unwrap_or(""),
                    );
                }
            }
            text
        });
    }
    let mut done = 0;
    while let Some(text) = tasks.join_next().await {
        assert_eq!(text.unwrap(), "Hello from the emulator.");
        done += 1;
    }
    assert_eq!(done, 500);
    assert!(
        (1..=2).contains(&server.connections()),
        "{} connections",
        server.connections()
    );
}

/// `NO_PROXY` from the environment, in a child process (the environment is the
/// process's): a dead `HTTPS_PROXY` is not used for a host `NO_PROXY` names, and is
/// for one it does not (the call then fails to reach the proxy).
#[test]
fn no_proxy_from_the_environment_sends_a_host_around_the_proxy() {
    const CHILD: &str = "CODEASSIST_TEST_CHILD_BASE_URL";
    if let Ok(base) = std::env::var(CHILD) {
        // The child: the driver reads HTTPS_PROXY / NO_PROXY / CODEASSIST_CA_FILE.
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let error = runtime
            .block_on(AsyncDriver::default().run(Call::new(userinfo(&base))))
            .unwrap_err();
        println!(
            "CHILD-CLASS {}",
            error.class().map(|c| c.to_string()).unwrap_or_default()
        );
        return;
    }
    let Some(ip) = codeassist_testkit::proxy::non_loopback_address() else {
        return;
    };
    let ca = codeassist_testkit::tls::private_ca_for(&[ip.to_string()]);
    let emulator = Emulator::new();
    let server = emulator.serve_tls_on(ca.server.clone(), ip).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let child = |no_proxy: &str| {
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "no_proxy_from_the_environment_sends_a_host_around_the_proxy",
                "--nocapture",
            ])
            .env(CHILD, server.base_url())
            .env("CODEASSIST_CA_FILE", &bundle)
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", no_proxy)
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("https_proxy")
            .env_remove("no_proxy")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        stdout
            .lines()
            .find_map(|line| line.strip_prefix("CHILD-CLASS ").map(str::to_owned))
            .unwrap_or_else(|| panic!("no answer from the child: {stdout}"))
    };
    // Reached the emulator (401 without a token): the proxy was bypassed.
    assert_eq!(child(&ip.to_string()), "auth");
    // Sent to the dead proxy: it cannot be reached.
    assert_ne!(child("example.com"), "auth");
}
