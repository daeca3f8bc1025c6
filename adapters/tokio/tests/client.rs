//! The async client and listener against the emulator over loopback.

use std::sync::Arc;
use std::time::Duration;

use codeassist_core::Secret;
use codeassist_core::code_assist::ProjectSource;
use codeassist_core::oauth::{CallbackError, unix_seconds};
use codeassist_runtime::{CredentialStore, FileStore};
use codeassist_testkit::browser::preconnect_then_callbacks;
use codeassist_testkit::conformance::{code_assist_config, oauth_client};
use codeassist_testkit::emulator::{EMAIL, Emulator};
use codeassist_tokio::{CallbackListener, CallbackWaitError, Client, LoginOptions, WaitOptions};

/// A browser: follows the consent redirect to the listener, on a plain thread.
fn browse(url: String) {
    std::thread::spawn(move || {
        let agent = http_get_agent();
        let response = agent.get(&url).call().unwrap();
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        agent.get(&location).call().unwrap();
    });
}

fn http_get_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

fn assert_send_sync_clone<T: Send + Sync + Clone>() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_then_concurrent_callers_share_one_refresh() {
    assert_send_sync_clone::<Client>();
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oauth.json");
    let client = Client::builder(oauth_client(&server.base_url()))
        .store(FileStore::new(&path))
        .code_assist(code_assist_config(&server.base_url()))
        .env_project(None)
        .build()
        .unwrap();

    let mut options = LoginOptions::new(|url| browse(url.to_owned()));
    options.port = 0;
    let credentials = client.login(options).await.unwrap().credentials;
    assert_eq!(credentials.email.as_deref(), Some(EMAIL));

    // Near expiry: sixteen concurrent callers, one refresh.
    let mut near_expiry = credentials.clone();
    near_expiry.expires_at = Some(unix_seconds(std::time::SystemTime::now()) + 30);
    FileStore::new(&path)
        .lock()
        .unwrap()
        .save(&near_expiry)
        .unwrap();
    let before = emulator.count("/token");
    // A later run of the program: it starts from the file.
    let client = Client::builder(oauth_client(&server.base_url()))
        .store(FileStore::new(&path))
        .code_assist(code_assist_config(&server.base_url()))
        .env_project(None)
        .build()
        .unwrap();
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.access_token().await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap());
    }
    assert_eq!(emulator.count("/token"), before + 1, "single flight");
    assert!(tokens.iter().all(|t| t == &tokens[0]));
    assert_ne!(Some(&tokens[0]), credentials.access_token.as_ref());
    let on_disk = FileStore::new(&path).load().unwrap().unwrap();
    assert_eq!(on_disk.access_token.as_ref(), Some(&tokens[0]));
    assert_eq!(
        on_disk.refresh_token, credentials.refresh_token,
        "kept on disk when the answer has none"
    );

    let project = client.project().await.unwrap();
    assert_eq!(project.source, ProjectSource::Onboarded);
    assert_eq!(client.quota().await.unwrap().buckets.len(), 2);

    assert_eq!(
        emulator.count("/v1internal:loadCodeAssist"),
        1,
        "quota reuses the project"
    );

    let before = emulator.count("/token");
    emulator.revoke_access_tokens_only();
    assert!(
        client.quota().await.is_ok(),
        "a 401 refreshes once and goes on"
    );
    assert_eq!(emulator.count("/token"), before + 1);

    let logout = client.logout().await.unwrap();
    assert!(logout.was_signed_in);
    assert!(client.access_token().await.unwrap_err().needs_sign_in());
}

#[tokio::test]
async fn the_listener_ignores_forgeries_and_reports_denial() {
    let listener = CallbackListener::bind(0).await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.port());
    let state = Secret::new("st");
    let browser = std::thread::spawn(move || {
        let agent = http_get_agent();
        let stray = agent
            .get(&format!("{base}/favicon.ico"))
            .call()
            .unwrap()
            .status()
            .as_u16();
        let forged = agent
            .get(&format!("{base}/oauth2callback?code=x&state=bad"))
            .call()
            .unwrap()
            .status()
            .as_u16();
        let denied = agent
            .get(&format!(
                "{base}/oauth2callback?error=access_denied&state=st"
            ))
            .call()
            .unwrap()
            .status()
            .as_u16();
        (stray, forged, denied)
    });
    let error = listener
        .wait_for_code(&state, WaitOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CallbackWaitError::Callback(CallbackError::AccessDenied)
        ),
        "{error:?}"
    );
    assert_eq!(browser.join().unwrap(), (404, 400, 400));

    let listener = CallbackListener::bind(0).await.unwrap();
    let mut options = WaitOptions::default();
    options.timeout = Duration::from_millis(100);
    options.paste = Some(Box::new(std::io::Cursor::new("")));
    assert!(matches!(
        listener.wait_for_code(&state, options).await,
        Err(CallbackWaitError::TimedOut(_))
    ));

    let listener = CallbackListener::bind(0).await.unwrap();
    let rejected = Arc::new(std::sync::Mutex::new(0));
    let mut options = WaitOptions::default();
    options.paste = Some(Box::new(std::io::Cursor::new(
        "code=4/x&state=nope\ncode=4/pasted&state=st\n",
    )));
    let count = rejected.clone();
    options.on_rejected_paste = Some(Box::new(move |_| *count.lock().unwrap() += 1));
    assert_eq!(
        listener
            .wait_for_code(&state, options)
            .await
            .unwrap()
            .code
            .expose(),
        "4/pasted"
    );
    assert_eq!(*rejected.lock().unwrap(), 1);
}

#[tokio::test]
async fn a_silent_connection_does_not_hold_up_the_callback() {
    let listener = CallbackListener::bind(0).await.unwrap();
    let port = listener.port();
    let browser =
        std::thread::spawn(move || preconnect_then_callbacks(port, "4/good", "the-state"));
    let mut options = WaitOptions::default();
    options.timeout = Duration::from_secs(30);
    let callback = listener
        .wait_for_code(&Secret::new("the-state"), options)
        .await
        .unwrap();
    assert_eq!(callback.code.expose(), "4/good");
    callback.answer(Ok(())).await;
    browser.join().unwrap().assert_not_held_up();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_local_clients_cannot_hold_the_callback_hostage() {
    use codeassist_testkit::browser::slow_clients_then_callback;
    let listener = CallbackListener::bind(0).await.unwrap();
    let port = listener.port();
    let browser = std::thread::spawn(move || slow_clients_then_callback(port, 16, "4/real", "s"));
    let mut options = WaitOptions::default();
    options.timeout = Duration::from_secs(30);
    let callback = listener
        .wait_for_code(&Secret::new("s"), options)
        .await
        .unwrap();
    assert_eq!(callback.code.expose(), "4/real");
    callback.answer(Ok(())).await;
    let (status, took) = browser.join().unwrap();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(5),
        "the callback waited {took:?}"
    );
}
