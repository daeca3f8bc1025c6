//! What only the async runtime does, beyond the runtime suite (`suite.rs`): refresh
//! ahead in a background task, HTTP/2 with many streams on one connection, and the
//! environment's `NO_PROXY` through hyper-util's matcher.

use std::sync::Arc;
use std::time::Duration;

use codeassist_core::Secret;
use codeassist_core::flow::Call;
use codeassist_core::oauth::unix_seconds;
use codeassist_runtime::{CredentialStore, FileStore, TrustRoots};
use codeassist_testkit::conformance::oauth_client;
use codeassist_testkit::emulator::Emulator;
use codeassist_testkit::tls::private_ca;
use codeassist_tokio::{AsyncDriver, Client, DriverConfig};

fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

#[test]
fn the_client_and_driver_are_send_sync_and_clone() {
    assert_send_sync_clone::<Client>();
    assert_send_sync_clone::<AsyncDriver>();
}

fn userinfo(base: &str) -> codeassist_core::flow::Request {
    http::Request::get(format!("{base}/oauth2/v2/userinfo"))
        .body(Vec::new())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_the_window_is_returned_at_once_and_refreshed_in_the_background() {
    use codeassist_testkit::emulator::{CLIENT_ID, CLIENT_SECRET, Fault};
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    // A window of 2999 s: fresh for a second or two, then inside the window with
    // plenty of life left (as a token 4 minutes from its end is with the default).
    let mut policy = codeassist_core::client::RefreshPolicy::default();
    policy.window = Duration::from_secs(2999);
    // The client first (building it loads the trust roots), then the token: the
    // second of freshness is not spent on set-up.
    let later = Client::builder(oauth_client(&server.base_url()))
        .store(store.clone())
        .env_project(None)
        .refresh_policy(policy)
        .build()
        .unwrap();
    let mut credentials = codeassist_core::oauth::Credentials::new(
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        emulator.issue_refresh_token(),
    );
    credentials.access_token = Some(Secret::new("ya29.aging"));
    credentials.expires_at = Some(unix_seconds(std::time::SystemTime::now()) + 3000);
    store.lock().unwrap().save(&credentials).unwrap();
    assert_eq!(later.access_token().await.unwrap().expose(), "ya29.aging");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // A slow token endpoint: the caller must not wait for it.
    emulator.inject("/token", Fault::Slow(Duration::from_millis(600)), 1);
    let started = std::time::Instant::now();
    let token = later.access_token().await.unwrap();
    assert_eq!(token.expose(), "ya29.aging");
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    // The background refresh lands in the file.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let stored = store.load().unwrap().unwrap();
        if stored.access_token.as_ref().map(Secret::expose) != Some("ya29.aging") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no background refresh"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(emulator.count("/token"), 1, "one refresh");
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
        .model_request("gemini-3.8-flash", ModelMethod::Generate, &body, None)
        .unwrap();
    driver.send(warm).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let request = target
            .model_request("gemini-3.8-flash", ModelMethod::Stream, &body, None)
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
