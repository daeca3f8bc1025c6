//! A tokio host: the same client surface as the blocking one, async. Clones share the
//! in-memory token, so concurrent tasks make one refresh between them.
//!
//! `cargo run -p codeassist-examples --bin tokio-host` (against the emulator).

use codeassist_core::Secret;
use codeassist_core::oauth::{Credentials, OAuthClient, OAuthEndpoints};
use codeassist_emulator::{Account, CLIENT_ID, CLIENT_SECRET, Emulator};
use codeassist_runtime::{CredentialStore, FileStore};
use codeassist_tokio::{Client, ClientError};

#[tokio::main]
async fn main() -> Result<(), ClientError> {
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("example-project".into()),
    });
    let server = emulator.serve().expect("the emulator starts on loopback");
    let base = server.base_url();
    let home = tempfile::tempdir().expect("a scratch directory");
    let store = FileStore::new(home.path().join("oauth.json"));
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

    // Eight tasks ask for a token at once: one refresh serves them all.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { client.access_token().await })
        })
        .collect();
    for task in tasks {
        task.await.expect("the task ran")?;
    }
    println!("8 tokens, {} refresh", emulator.count("/token"));

    let request =
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]});
    let mut stream = client.stream_generate("gemini-3.8-flash", request).await?;
    print!("answer: ");
    while let Some(item) = stream.next().await {
        match item {
            Ok(codeassist_core::inference::StreamItem::Chunk(chunk)) => {
                let text = chunk.response["candidates"][0]["content"]["parts"][0]["text"].as_str();
                print!("{}", text.unwrap_or(""));
            }
            Ok(_) => {}
            Err(error) => {
                println!("\nstream stopped: {error}");
                break;
            }
        }
    }
    println!();
    let quota = client.quota().await?;
    println!("quota buckets: {}", quota.buckets.len());
    Ok(())
}
