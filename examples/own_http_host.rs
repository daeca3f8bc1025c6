//! A host with its own HTTP stack and its own credential storage: it drives
//! `codeassist_core::client` operations with a closure. Every decision (refresh,
//! lock, 401 → refresh once, retries, the project cache) stays in core; this loop
//! only performs what each operation asks for.
//!
//! `cargo run -p codeassist-examples --bin own-http-host` (against the emulator; the
//! HTTP stack here is a bare `ureq` agent standing in for the host's own).

use std::time::SystemTime;

use codeassist_core::client::{
    Action, Client, ClientConfig, Input, Opened, Operation, StoreOp, StoreReply,
};
use codeassist_core::flow::{Request, Response, TransportError, TransportErrorKind};
use codeassist_core::oauth::{Credentials, OAuthClient, OAuthEndpoints};
use codeassist_core::{Error, Secret};
use codeassist_emulator::{Account, CLIENT_ID, CLIENT_SECRET, Emulator};

/// The host's storage: here, a value in memory (a keychain, a database row…).
#[derive(Default)]
struct HostStorage {
    credentials: Option<Credentials>,
}

/// The host's HTTP stack: any client that sends an `http::Request` and reads the answer.
fn send(agent: &ureq::Agent, request: Request) -> Result<Response, TransportError> {
    let response = agent
        .run(request)
        .map_err(|error| TransportError::new(TransportErrorKind::Other, error.to_string()))?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .into_with_config()
        .limit(10 * 1024 * 1024)
        .read_to_vec()
        .map_err(|error| TransportError::new(TransportErrorKind::Reset, error.to_string()))?;
    Ok(Response::from_parts(parts, bytes))
}

/// The whole runtime: perform each action, feed back the outcome.
fn run<O: Operation>(
    mut op: O,
    agent: &ureq::Agent,
    storage: &mut HostStorage,
) -> Result<O::Output, Error> {
    loop {
        let input = match op.poll(SystemTime::now())? {
            Action::Done(output) => return Ok(output),
            Action::Wait(duration) => {
                std::thread::sleep(duration);
                continue;
            }
            Action::Send(request) => Input::Response(send(agent, request)),
            // Credential files (discovery reads gcloud's or a key file; core refuses big ones).
            Action::Read(path) => Input::Read(match std::fs::read(&path) {
                Ok(bytes) => Ok(Some(bytes)),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error.to_string()),
            }),
            // This host runs no programs: workload identity federation through an
            // executable is not for it.
            Action::Run(command) => {
                Input::Ran(Err(format!("{} may not run here", command.program)))
            }
            // This host reads streamed answers whole.
            Action::Open(request) => match send(agent, request) {
                Ok(response) if response.status().is_success() => {
                    let (parts, _body) = response.into_parts();
                    Input::Opened(Opened::new(parts.status, parts.headers))
                }
                other => Input::Response(other),
            },
            // One process: the lock is a no-op; a shared store would take a real one.
            Action::Store(store_op) => Input::Store(match store_op {
                StoreOp::Load => StoreReply::Loaded(storage.credentials.clone().map(Box::new)),
                StoreOp::Save(credentials) => {
                    storage.credentials = Some(*credentials);
                    StoreReply::Done
                }
                StoreOp::Delete => {
                    storage.credentials = None;
                    StoreReply::Done
                }
                _ => StoreReply::Done,
            }),
        };
        op.handle(input, SystemTime::now());
    }
}

fn main() -> Result<(), Error> {
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("example-project".into()),
    });
    let server = emulator.serve().expect("the emulator starts on loopback");
    let base = server.base_url();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let mut storage = HostStorage {
        credentials: Some(Credentials::new(
            CLIENT_ID,
            Some(Secret::new(CLIENT_SECRET)),
            emulator.issue_refresh_token(),
        )),
    };

    let mut config = ClientConfig::new(
        OAuthClient::new(CLIENT_ID, CLIENT_SECRET).with_endpoints(OAuthEndpoints::under(&base)),
    );
    config.code_assist = codeassist_core::code_assist::CodeAssistConfig::with_endpoint(&base);
    let client = Client::new(config);
    let mut random = rand_core::UnwrapErr(getrandom::SysRng);

    let token = run(client.access_token(), &agent, &mut storage)?;
    println!("token: {}…", &token.expose()[..8]);
    let project = run(client.project(false, &mut random), &agent, &mut storage)?;
    println!(
        "project: {} (cached beside the credentials: {})",
        project.project_id,
        storage.credentials.as_ref().map_or(0, |c| c.projects.len())
    );
    let request =
        serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]});
    let chunk = run(
        client.generate("gemini-3.8-flash", request, &mut random),
        &agent,
        &mut storage,
    )?;
    println!(
        "answer: {}",
        chunk.response["candidates"][0]["content"]["parts"][0]["text"]
    );
    println!(
        "requests: {} to /token, {} to loadCodeAssist",
        emulator.count("/token"),
        emulator.count("/v1internal:loadCodeAssist")
    );
    Ok(())
}
