//! A blocking host: a token, the project, a streamed answer, with every rule of the
//! client (refresh under a lock, 401 → refresh once, the project cache) built in.
//!
//! It runs against the emulator of Google's endpoints, so it runs anywhere:
//! `cargo run -p codeassist-examples --bin blocking-host`. Against Google, build the
//! client with your own OAuth client and no `store`/`code_assist` overrides, and sign in
//! once with `client.login(LoginOptions::new(|url| println!("open {url}")))`.

use codeassist_blocking::{Client, ClientError};
use codeassist_core::Secret;
use codeassist_core::inference::StreamItem;
use codeassist_core::oauth::{Credentials, OAuthClient, OAuthEndpoints};
use codeassist_emulator::{Account, CLIENT_ID, CLIENT_SECRET, Emulator};
use codeassist_runtime::{CredentialStore, FileStore};

fn main() -> Result<(), ClientError> {
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("example-project".into()),
    });
    let server = emulator.serve().expect("the emulator starts on loopback");
    let base = server.base_url();
    let home = tempfile::tempdir().expect("a scratch directory");
    let store = FileStore::new(home.path().join("oauth.json"));
    // As if someone had signed in earlier.
    let signed_in = Credentials::new(
        CLIENT_ID,
        Some(Secret::new(CLIENT_SECRET)),
        emulator.issue_refresh_token(),
    );
    store.lock()?.save(&signed_in)?;

    let client = Client::builder(
        OAuthClient::new(CLIENT_ID, CLIENT_SECRET).with_endpoints(OAuthEndpoints::under(&base)),
    )
    .store(store)
    .code_assist(codeassist_core::code_assist::CodeAssistConfig::with_endpoint(&base))
    .env_project(None)
    .build()?;

    let token = client.access_token()?;
    println!(
        "token: {}… ({} bytes)",
        &token.expose()[..8],
        token.expose().len()
    );
    let project = client.project()?;
    println!("project: {} on {}", project.project_id, project.tier_id);

    let request =
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]});
    print!("answer: ");
    for item in client.stream_generate("gemini-3.8-flash", request)? {
        match item {
            Ok(StreamItem::Chunk(chunk)) => {
                let text = chunk.response["candidates"][0]["content"]["parts"][0]["text"].as_str();
                print!("{}", text.unwrap_or(""));
            }
            Ok(_) => {}
            Err(error) => {
                // A mid-stream error is classified like any other: route on its class.
                println!("\nstream stopped: {error} (class {:?})", error.class());
                break;
            }
        }
    }
    println!();
    Ok(())
}
