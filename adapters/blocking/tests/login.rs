//! The callback listener and the convenience client, against the emulator over loopback.

use std::io::Cursor;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codeassist_blocking::{CallbackListener, CallbackWaitError, Client, LoginOptions, WaitOptions};
use codeassist_core::Secret;
use codeassist_core::code_assist::ProjectSource;
use codeassist_core::oauth::CallbackError;
use codeassist_runtime::FileStore;
use codeassist_testkit::browser::preconnect_then_callbacks;
use codeassist_testkit::conformance::{code_assist_config, oauth_client};
use codeassist_testkit::emulator::{EMAIL, Emulator};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// GETs `url`, returning the status and the body.
fn get(url: &str) -> (u16, String) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().unwrap_or_default(),
    )
}

/// What a browser does with the authorization URL: the emulator consents and
/// redirects; the browser follows to the listener.
fn browse(authorize_url: &str) -> (u16, String) {
    let response = agent().get(authorize_url).call().unwrap();
    assert_eq!(response.status().as_u16(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    get(&location)
}

fn wait(timeout: Duration) -> WaitOptions {
    let mut options = WaitOptions::default();
    options.timeout = timeout;
    options
}

#[test]
fn the_listener_ignores_strays_and_forgeries_then_takes_the_real_callback() {
    let listener = CallbackListener::bind(0).unwrap();
    let base = format!("http://127.0.0.1:{}", listener.port());
    let state = Secret::new("the-state");
    let browser = std::thread::spawn(move || {
        let favicon = get(&format!("{base}/favicon.ico"));
        let forged = get(&format!("{base}/oauth2callback?code=evil&state=wrong"));
        let real = get(&format!(
            "{base}/oauth2callback?code=4/good&state=the-state"
        ));
        (favicon, forged, real)
    });
    let callback = listener
        .wait_for_code(&state, wait(Duration::from_secs(10)))
        .unwrap();
    assert_eq!(callback.code.expose(), "4/good");
    // The browser hears "signed in" only once the sign-in has finished.
    callback.answer(Ok(()));
    let (favicon, forged, real) = browser.join().unwrap();
    assert_eq!(favicon.0, 404);
    assert_eq!(forged.0, 400);
    assert!(forged.1.contains("does not belong"), "{}", forged.1);
    assert_eq!(real.0, 200);
    assert!(real.1.contains("signed in"), "{}", real.1);
}

#[test]
fn access_denied_ends_the_wait_and_silence_times_out() {
    let listener = CallbackListener::bind(0).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/oauth2callback?error=access_denied&state=s",
        listener.port()
    );
    let browser = std::thread::spawn(move || get(&url));
    let error = listener
        .wait_for_code(&Secret::new("s"), wait(Duration::from_secs(10)))
        .unwrap_err();
    assert!(
        matches!(
            error,
            CallbackWaitError::Callback(CallbackError::AccessDenied)
        ),
        "{error:?}"
    );
    assert_eq!(browser.join().unwrap().0, 400);

    let listener = CallbackListener::bind(0).unwrap();
    let error = listener
        .wait_for_code(&Secret::new("s"), wait(Duration::from_millis(100)))
        .unwrap_err();
    assert!(matches!(error, CallbackWaitError::TimedOut(_)));
}

#[test]
fn a_busy_port_falls_back_to_a_free_one() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let listener = CallbackListener::bind(port).unwrap();
    assert_ne!(listener.port(), port);
    assert_eq!(
        listener.redirect_uri(),
        format!("http://127.0.0.1:{}/oauth2callback", listener.port())
    );
}

#[test]
fn a_paste_races_the_browser_and_its_end_does_not_cancel() {
    let listener = CallbackListener::bind(0).unwrap();
    let rejected = Arc::new(Mutex::new(Vec::new()));
    let mut options = wait(Duration::from_secs(10));
    options.paste = Some(Box::new(Cursor::new(
        "\nhttp://localhost:8085/oauth2callback?code=x&state=stale\nhttp://localhost:8085/oauth2callback?code=4/pasted&state=s\n",
    )));
    let seen = rejected.clone();
    options.on_rejected_paste = Some(Box::new(move |error| {
        seen.lock().unwrap().push(error.clone())
    }));
    let callback = listener.wait_for_code(&Secret::new("s"), options).unwrap();
    assert_eq!(callback.code.expose(), "4/pasted");
    assert_eq!(
        *rejected.lock().unwrap(),
        vec![CallbackError::StateMismatch]
    );

    // An empty paste (stdin at end of file) leaves the browser to finish the job.
    let listener = CallbackListener::bind(0).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/oauth2callback?code=4/browser&state=s",
        listener.port()
    );
    let browser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        get(&url)
    });
    let mut options = wait(Duration::from_secs(10));
    options.paste = Some(Box::new(Cursor::new("")));
    let callback = listener.wait_for_code(&Secret::new("s"), options).unwrap();
    assert_eq!(callback.code.expose(), "4/browser");
    callback.answer(Err("the exchange failed"));
    let (status, page) = browser.join().unwrap();
    assert_eq!(status, 400);
    assert!(page.contains("the exchange failed"), "{page}");
}

#[test]
fn the_client_signs_in_and_serves_tokens_projects_and_quota() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::builder(oauth_client(&server.base_url()))
        .store(FileStore::new(dir.path().join("oauth.json")))
        .code_assist(code_assist_config(&server.base_url()))
        .env_project(None)
        .build()
        .unwrap();

    let mut options = LoginOptions::new(|url| {
        let url = url.to_owned();
        std::thread::spawn(move || browse(&url));
    });
    options.port = 0;
    let credentials = client.login(options).unwrap().credentials;
    assert_eq!(credentials.email.as_deref(), Some(EMAIL));
    assert_eq!(
        emulator.count("/oauth2/v2/userinfo"),
        0,
        "the ID token named the email: no UserInfo call"
    );
    assert_eq!(client.credentials().unwrap().unwrap(), credentials);

    let token = client.access_token().unwrap();
    assert_eq!(Some(&token), credentials.access_token.as_ref());
    assert_eq!(
        emulator.count("/token"),
        1,
        "no refresh while the token is fresh"
    );

    let project = client.project().unwrap();
    assert_eq!(project.source, ProjectSource::Onboarded);
    let quota = client.quota().unwrap();
    assert_eq!(quota.buckets.len(), 2);
    assert_eq!(
        emulator.count("/v1internal:loadCodeAssist"),
        1,
        "quota reuses the project"
    );

    // The server forgets the access token (as after a restart): the 401 refreshes once and goes on.
    let before = emulator.count("/token");
    emulator.revoke_access_tokens_only();
    assert!(client.quota().is_ok());
    assert_eq!(emulator.count("/token"), before + 1);

    let logout = client.logout().unwrap();
    assert!(logout.was_signed_in && logout.revocation_error.is_none());
    assert!(client.credentials().unwrap().is_none());
    let error = client.access_token().unwrap_err();
    assert!(error.needs_sign_in(), "{error}");
}

#[test]
fn a_revoked_grant_asks_for_login_and_logout_survives_a_failed_revocation() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::builder(oauth_client(&server.base_url()))
        .store(FileStore::new(dir.path().join("oauth.json")))
        .code_assist(code_assist_config(&server.base_url()))
        .build()
        .unwrap();
    let mut options = LoginOptions::new(|url| {
        let url = url.to_owned();
        std::thread::spawn(move || browse(&url));
    });
    options.port = 0;
    let mut credentials = client.login(options).unwrap().credentials;

    // Expire the stored token, revoke the grant: the refresh says "log in again".
    credentials.expires_at = Some(0);
    let store = FileStore::new(dir.path().join("oauth.json"));
    codeassist_runtime::CredentialStore::lock(&store)
        .unwrap()
        .save(&credentials)
        .unwrap();
    emulator.revoke_all();
    // Another process: it starts from the file, not from this client's memory.
    let client = Client::builder(oauth_client(&server.base_url()))
        .store(FileStore::new(dir.path().join("oauth.json")))
        .code_assist(code_assist_config(&server.base_url()))
        .build()
        .unwrap();
    let error = client.access_token().unwrap_err();
    assert!(error.needs_sign_in(), "{error}");

    // Revocation fails (already revoked), the local credentials go anyway.
    emulator.inject(
        "/revoke",
        codeassist_testkit::emulator::Fault::Unavailable,
        1,
    );
    let logout = client.logout().unwrap();
    assert!(logout.was_signed_in);
    assert!(logout.revocation_error.is_some());
    assert!(client.credentials().unwrap().is_none());
}

#[test]
fn a_silent_connection_does_not_hold_up_the_callback() {
    let listener = CallbackListener::bind(0).unwrap();
    let port = listener.port();
    let browser =
        std::thread::spawn(move || preconnect_then_callbacks(port, "4/good", "the-state"));
    let callback = listener
        .wait_for_code(&Secret::new("the-state"), wait(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(callback.code.expose(), "4/good");
    callback.answer(Ok(()));
    browser.join().unwrap().assert_not_held_up();
}

#[test]
fn slow_local_clients_cannot_hold_the_callback_hostage() {
    use codeassist_testkit::browser::slow_clients_then_callback;
    let listener = CallbackListener::bind(0).unwrap();
    let port = listener.port();
    let browser = std::thread::spawn(move || slow_clients_then_callback(port, 16, "4/real", "s"));
    let callback = listener
        .wait_for_code(&Secret::new("s"), wait(Duration::from_secs(30)))
        .unwrap();
    assert_eq!(callback.code.expose(), "4/real");
    callback.answer(Ok(()));
    let (status, took) = browser.join().unwrap();
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(5),
        "the callback waited {took:?}"
    );
}
