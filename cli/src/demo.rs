//! `codeassist demo`: the whole journey against the built-in emulator, narrated.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use codeassist_blocking::{BlockingDriver, Client, LoginOptions};
use codeassist_core::code_assist::CodeAssistConfig;
use codeassist_core::flow::Call;
use codeassist_core::flow::request::bearer_request;
use codeassist_core::oauth::unix_seconds;
use codeassist_emulator::{Account, CLIENT_ID, CLIENT_SECRET, Emulator, Fault};
use codeassist_runtime::{CredentialStore, FileStore};

use crate::Failure;
use crate::commands::quota_table;

/// The first `chars` characters of `text`.
fn prefix(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

fn step(number: u32, title: &str) {
    println!("\n{number}. {title}");
}

fn note(text: &str) {
    println!("   {text}");
}

/// A scratch directory for the demo's credentials, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What a browser does: open the consent page (the emulator consents at once and
/// redirects), then follow the redirect to the CLI's loopback listener.
fn act_as_browser(url: String) {
    std::thread::spawn(move || {
        let driver = BlockingDriver::default();
        let get = |url: &str| {
            http::Request::get(url)
                .body(Vec::new())
                .ok()
                .and_then(|r| driver.send(r).ok())
        };
        if let Some(consent) = get(&url)
            && let Some(location) = consent
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
        {
            get(location);
        }
    });
}

pub fn run() -> Result<(), Failure> {
    let failure = |e: &dyn std::fmt::Display| Failure::error(e.to_string());
    let emulator = Emulator::new();
    emulator.set_account(Account::NewFreeUser {
        polls_before_done: 3,
    });
    let server = emulator.serve().map_err(|e| failure(&e))?;
    let base = server.base_url();
    let scratch =
        Scratch(std::env::temp_dir().join(format!("codeassist-demo-{}", std::process::id())));
    let store_path = scratch.0.join("oauth.json");
    let mut code_assist = CodeAssistConfig::with_endpoint(base.clone());
    code_assist.poll_interval = Duration::from_secs(1);
    let make_client = || {
        Client::builder(oauth_client(&base))
            .store(FileStore::new(&store_path))
            .code_assist(code_assist.clone())
            .env_project(None)
            .build()
    };
    let client = make_client()?;

    println!("codeassist demo: the whole journey against an emulator of Google on {base}");
    println!(
        "(nothing here talks to Google; credentials go to {})",
        store_path.display()
    );

    step(1, "Sign in (Authorization Code + PKCE, loopback callback)");
    let mut options = LoginOptions::new(|url| {
        note(&format!("authorization URL: {}…", prefix(url, 90)));
        note("the emulator's consent screen agrees at once and redirects to the loopback listener");
        act_as_browser(url.to_owned());
    });
    options.port = 0;
    let credentials = client.login(options)?.credentials;
    note(&format!(
        "signed in as {}; credentials saved (mode 0600)",
        credentials.email.as_deref().unwrap_or("?")
    ));

    step(2, "Get an access token");
    let token = client.access_token()?;
    note(&format!(
        "token {}… valid for {} more seconds: used as it is, no request made",
        prefix(token.expose(), 12),
        credentials.remaining(SystemTime::now()).as_secs()
    ));

    step(3, "Refresh near expiry");
    let store = FileStore::new(&store_path);
    let mut near = credentials.clone();
    near.expires_at = Some(unix_seconds(SystemTime::now()) + 60);
    store.lock()?.save(&near)?;
    let before = emulator.count("/token");
    // The next run of a program starts from the file (this one's memory still holds
    // the token it was given).
    let client = make_client()?;
    let refreshed = client.access_token()?;
    note(&format!(
        "the next run finds 60 s left (under the 5-minute window): refreshed under the file lock ({} request to /token); new token {}…",
        emulator.count("/token") - before,
        prefix(refreshed.expose(), 12)
    ));

    step(
        4,
        "Resolve the Code Assist project (a new account: onboarding with polling)",
    );
    let started = Instant::now();
    let project = client.project()?;
    note(&format!(
        "loadCodeAssist: no tier yet; onboardUser(free-tier) answered a long-running operation, polled every 1 s until done ({:.1} s)",
        started.elapsed().as_secs_f64()
    ));
    note(&format!(
        "project {} on {} ({})",
        project.project_id,
        project.tier_id,
        project.source.as_str()
    ));

    step(5, "Read the quota");
    let quota = client.quota()?;
    for line in quota_table(&quota).lines() {
        note(line);
    }

    step(6, "A 429 with RetryInfo, waited out");
    emulator.inject("/v1internal:loadCodeAssist", Fault::RateLimited(1.5), 1);
    let started = Instant::now();
    let again = client.refresh_project()?;
    note(&format!(
        "asked again (the project is otherwise remembered beside the credentials): Google said RESOURCE_EXHAUSTED, retryDelay 1.5s; the retry policy waited {:.1} s and got project {}",
        started.elapsed().as_secs_f64(),
        again.project_id
    ));

    step(7, "A capacity error, explained");
    emulator.inject(
        "/v1internal:loadCodeAssist",
        Fault::NoCapacity("gemini-2.5-pro".to_owned(), 30.0),
        1,
    );
    let token = client.access_token()?;
    let request = bearer_request(
        http::Method::POST,
        &format!("{base}/v1internal:loadCodeAssist"),
        &token,
        b"{\"metadata\": {}}".to_vec(),
    )
    .map_err(|e| failure(&e))?;
    match BlockingDriver::default().run(Call::new(request)) {
        Ok(_) => note("(unexpectedly, no error)"),
        Err(error) => {
            if let Some(api) = error.api() {
                note(api.message());
                note(&format!(
                    "class {}: retryable {}, fall back to another model {}, sign in again {}",
                    api.class(),
                    api.retryable(),
                    api.fallback(),
                    api.needs_sign_in()
                ));
            }
        }
    }

    step(
        8,
        "Ask, with a capacity error on the Pro model: fall back to Flash, streamed",
    );
    emulator.inject_model(
        "gemini-2.5-pro",
        Fault::NoCapacity("gemini-2.5-pro".to_owned(), 30.0),
        1,
    );
    let request =
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]});
    let (answered, stream) = client.stream_with_fallback(
        &codeassist_core::inference::Target::CodeAssist,
        "gemini-2.5-pro",
        request,
    )?;
    for switch in &answered.switches {
        note(&format!(
            "{} answered {} (30 s RetryInfo: longer than the 5 s worth waiting for): switched to {}",
            switch.from, switch.why, switch.to
        ));
    }
    let mut answer = String::new();
    for item in stream {
        if let codeassist_core::inference::StreamItem::Chunk(chunk) =
            item.map_err(crate::failure_of)?
        {
            answer.push_str(
                chunk.response["candidates"][0]["content"]["parts"][0]["text"]
                    .as_str()
                    .unwrap_or(""),
            );
        }
    }
    note(&format!("{} streamed: {answer:?}", answered.model));

    step(9, "Sign out");
    let logout = client.logout()?;
    note(&format!(
        "revoked at Google: {}; stored credentials deleted",
        logout.revocation_error.is_none()
    ));
    println!(
        "\nDone. With a real OAuth client (CODEASSIST_CLIENT_ID), `codeassist login` does the same with Google."
    );
    drop(scratch);
    Ok(())
}

/// The emulator's OAuth client at `base`.
fn oauth_client(base: &str) -> codeassist_core::oauth::OAuthClient {
    codeassist_core::oauth::OAuthClient::new(CLIENT_ID, CLIENT_SECRET)
        .with_endpoints(codeassist_core::oauth::OAuthEndpoints::under(base))
}
