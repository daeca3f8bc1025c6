//! The `codeassist` binary against an OpenID Certified server: panva's `oidc-provider`,
//! configured with Google's paths (`tests/interop/oidc-provider/server.mjs`).
//!
//! These tests need that server running and its base URL in `CODEASSIST_INTEROP_BASE`;
//! `tests/interop/run.sh` starts it and runs them (`.ci/run` calls it). Plain
//! `cargo test` skips them (`#[ignore]`), so cargo tests never need node.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const CLIENT: &str = "interop-client";

fn base() -> String {
    std::env::var("CODEASSIST_INTEROP_BASE")
        .expect("CODEASSIST_INTEROP_BASE: run these through tests/interop/run.sh")
}

fn secret(client: &str) -> String {
    format!("{client}-secret-0123456789")
}

fn codeassist(home: &Path, client: &str) -> Command {
    let mut command =
        codeassist_testkit::cli::hermetic(env!("CARGO_BIN_EXE_codeassist"), home, &base());
    command
        .env("CODEASSIST_CLIENT_ID", client)
        .env("CODEASSIST_CLIENT_SECRET", secret(client));
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

use codeassist_testkit::browser::agent;

/// A browser: follows the server's redirects, keeping its cookies, until the
/// redirect to the loopback callback, whose URL it returns without opening it.
fn consent(authorization_url: &str) -> String {
    let agent = agent();
    let mut cookies: Vec<(String, String)> = Vec::new();
    let mut url = authorization_url.to_owned();
    for _ in 0..20 {
        let jar = cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = agent.get(&url);
        if !jar.is_empty() {
            request = request.header("cookie", &jar);
        }
        let response = request.call().expect("the server answers");
        for set in response.headers().get_all("set-cookie") {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            if let Some((name, value)) = pair.split_once('=') {
                cookies.retain(|(known, _)| known != name);
                cookies.push((name.trim().to_owned(), value.to_owned()));
            }
        }
        let location = response
            .headers()
            .get("location")
            .unwrap_or_else(|| panic!("no redirect from {url}: {}", response.status()))
            .to_str()
            .unwrap()
            .to_owned();
        let next = url::Url::parse(&url).unwrap().join(&location).unwrap();
        if next.path() == "/oauth2callback" {
            return next.to_string();
        }
        url = next.to_string();
    }
    panic!("the consent never redirected back");
}

/// How the person hands the code back.
#[derive(Clone, Copy, PartialEq)]
enum Return {
    /// The browser opens the loopback callback (after a forged one with a wrong state).
    Browser,
    /// The person pastes the redirected address.
    Paste,
}

/// Runs `codeassist login`, plays the browser and the person.
fn login(home: &Path, client: &str, how: Return) -> Output {
    let mut child = codeassist(home, client)
        .args(["login", "--no-browser", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let url = loop {
        let line = lines.next().expect("the URL is printed").unwrap();
        seen.push(line.clone());
        if line.starts_with("http") {
            break line;
        }
    };
    let callback = consent(&url);
    let mut stdin = child.stdin.take().unwrap();
    let browser = match how {
        Return::Paste => {
            writeln!(stdin, "{callback}").unwrap();
            None
        }
        Return::Browser => Some(std::thread::spawn(move || {
            let parsed = url::Url::parse(&callback).unwrap();
            let forged = format!(
                "{}://{}:{}/oauth2callback?code=forged&state=not-this-one",
                parsed.scheme(),
                parsed.host_str().unwrap(),
                parsed.port().unwrap()
            );
            let forged_status = agent().get(&forged).call().unwrap().status().as_u16();
            let real = agent().get(&callback).call().unwrap();
            let status = real.status().as_u16();
            let page = real.into_body().read_to_string().unwrap_or_default();
            (forged_status, status, page)
        })),
    };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    seen.extend(rest);
    drop(stdin);
    let mut output = child.wait_with_output().unwrap();
    output.stderr = seen.join("\n").into_bytes();
    if let Some(browser) = browser {
        let (forged, status, page) = browser.join().unwrap();
        assert_eq!(forged, 400, "a tampered state is refused");
        if output.status.success() {
            assert_eq!(status, 200, "{page}");
            assert!(page.contains("signed in"), "{page}");
        } else {
            assert_eq!(status, 400, "{page}");
        }
    }
    output
}

fn stored(home: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(home.join("oauth.json")).unwrap()).unwrap()
}

fn store(home: &Path, value: &serde_json::Value) {
    std::fs::write(home.join("oauth.json"), serde_json::to_vec(value).unwrap()).unwrap();
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Rewrites the stored access token's expiry to `seconds` from now.
fn expire_in(home: &Path, seconds: i64) {
    let mut value = stored(home);
    value["expires_at"] = serde_json::json!(now() + seconds);
    store(home, &value);
}

/// Whether the server still takes `token` (introspection, RFC 7662).
fn active(token: &str) -> bool {
    let response = agent()
        .post(&format!("{}/introspect", base()))
        .send_form([
            ("token", token),
            ("client_id", CLIENT),
            ("client_secret", &secret(CLIENT)),
        ])
        .unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&response.into_body().read_to_string().unwrap()).unwrap();
    body["active"] == serde_json::json!(true)
}

fn token(home: &Path) -> Output {
    codeassist(home, CLIENT)
        .arg("token")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs the oidc-provider server: tests/interop/run.sh"]
fn sign_in_through_the_listener_refresh_with_rotation_and_logout() {
    let home = tempfile::tempdir().unwrap();
    let output = login(home.path(), CLIENT, Return::Browser);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("Signed in as person@example.com"),
        "{}",
        text(&output.stderr)
    );

    let first = token(home.path());
    assert!(first.status.success(), "{}", text(&first.stderr));
    let access = text(&first.stdout).trim().to_owned();
    assert_eq!(
        access,
        stored(home.path())["access_token"].as_str().unwrap()
    );
    assert!(active(&access));

    // Forced refreshes: each rotates the refresh token; the old one dies.
    let mut refresh = stored(home.path())["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..3 {
        expire_in(home.path(), -10);
        let output = token(home.path());
        assert!(output.status.success(), "{}", text(&output.stderr));
        let rotated = stored(home.path())["refresh_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_ne!(rotated, refresh, "rotated");
        assert!(!active(&refresh), "the old refresh token is consumed");
        assert!(active(&rotated));
        refresh = rotated;
    }

    let access = stored(home.path())["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let output = codeassist(home.path(), CLIENT)
        .arg("logout")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!active(&refresh), "the refresh token is revoked");
    assert!(
        !active(&access),
        "the access token is revoked with its grant"
    );
    assert_eq!(token(home.path()).status.code(), Some(3));
}

#[test]
#[ignore = "needs the oidc-provider server: tests/interop/run.sh"]
fn sign_in_by_paste_and_eight_processes_make_one_refresh() {
    let home = tempfile::tempdir().unwrap();
    let output = login(home.path(), CLIENT, Return::Paste);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let refresh = stored(home.path())["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // Near expiry; with rotation on, a second refresh with the same token would be a
    // reuse the server punishes, so one refresh for all eight is not optional.
    expire_in(home.path(), 60);
    let children: Vec<_> = (0..8)
        .map(|_| {
            codeassist(home.path(), CLIENT)
                .arg("token")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let tokens: Vec<String> = children
        .into_iter()
        .map(|child| {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "{}", text(&output.stderr));
            text(&output.stdout).trim().to_owned()
        })
        .collect();
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    let rotated = stored(home.path())["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(rotated, refresh, "one refresh happened");
    assert!(active(&rotated), "and only one: the grant is still alive");
    assert!(active(&tokens[0]));

    // A consumed refresh token: sign in again (exit 3).
    let mut value = stored(home.path());
    value["refresh_token"] = serde_json::json!(refresh);
    value["expires_at"] = serde_json::json!(now() - 10);
    store(home.path(), &value);
    let output = token(home.path());
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
}

#[test]
#[ignore = "needs the oidc-provider server: tests/interop/run.sh"]
fn a_refused_revocation_exits_non_zero_and_still_deletes() {
    let home = tempfile::tempdir().unwrap();
    assert!(login(home.path(), CLIENT, Return::Browser).status.success());
    let refresh = stored(home.path())["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // The stored client secret no longer matches: the server refuses to revoke.
    let mut value = stored(home.path());
    value["client_secret"] = serde_json::json!("not-the-secret");
    store(home.path(), &value);
    let output = codeassist(home.path(), CLIENT)
        .arg("logout")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let said = text(&output.stderr);
    assert!(said.contains("did not revoke"), "{said}");
    assert!(!said.contains("not-the-secret"), "{said}");
    assert!(!home.path().join("oauth.json").exists());
    assert!(active(&refresh), "the server kept it, as the message says");
}

#[test]
#[ignore = "needs the oidc-provider server: tests/interop/run.sh"]
fn consent_denied_and_no_refresh_token_are_explained() {
    let home = tempfile::tempdir().unwrap();
    let output = login(home.path(), "deny-client", Return::Browser);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("access was denied"),
        "{}",
        text(&output.stderr)
    );
    assert!(!home.path().join("oauth.json").exists());

    let output = login(home.path(), "no-refresh-client", Return::Browser);
    assert_eq!(output.status.code(), Some(1));
    let said = text(&output.stderr);
    assert!(said.contains("no refresh token"), "{said}");
    assert!(!said.contains("[redacted]"), "{said}");
    assert!(
        !home.path().join("oauth.json").exists(),
        "nothing half-done"
    );
}
