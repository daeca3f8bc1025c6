//! The file store: permissions, atomic replacement, refusals, and one refresh under
//! contention from several processes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use codeassist_core::client::{Action, Client, ClientConfig, Input, Operation};
use codeassist_core::flow::Response;
use codeassist_core::oauth::{Credentials, OAuthClient, unix_seconds};
use codeassist_core::{Error, Secret};
use codeassist_runtime::{ClientError, CredentialStore, FileStore, StoreError, StoreSession};

/// Core's token operation performed over `store` at time `now`, with `token_endpoint`
/// answering refreshes: the protocol the clients run, without a network.
fn access_token(
    store: &FileStore,
    now: impl Fn() -> SystemTime,
    mut token_endpoint: impl FnMut() -> Response,
) -> Result<Secret, ClientError> {
    let client = Client::new(ClientConfig::new(OAuthClient::new("client", "secret")));
    let mut op = client.access_token();
    let mut session = StoreSession::new(Arc::new(store.clone()));
    loop {
        let input = match op.poll(now())? {
            Action::Done(token) => return Ok(token),
            Action::Store(store_op) => Input::Store(session.perform(store_op)?),
            Action::Send(_) => Input::Response(Ok(token_endpoint())),
            other => panic!("unexpected {other:?}"),
        };
        op.handle(input, now());
    }
}

fn answer(status: u16, body: String) -> Response {
    http::Response::builder()
        .status(status)
        .body(body.into_bytes())
        .unwrap()
}

fn credentials(access: &str, expires_at: i64) -> Credentials {
    let mut credentials = Credentials::new("client", Some(Secret::new("secret")), "1//refresh");
    credentials.access_token = Some(Secret::new(access));
    credentials.expires_at = Some(expires_at);
    credentials.email = Some("person@example.com".to_owned());
    credentials
}

fn save(store: &FileStore, credentials: &Credentials) {
    store.lock().unwrap().save(credentials).unwrap();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn saves_privately_and_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/codeassist/oauth.json");
    let store = FileStore::new(&path);
    assert!(store.load().unwrap().is_none());
    let saved = credentials("ya29.a", 1_700_000_000);
    save(&store, &saved);
    assert_eq!(store.load().unwrap(), Some(saved));
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    // No temporary files are left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.contains(".tmp-")).count(),
        0,
        "{names:?}"
    );

    store.lock().unwrap().delete().unwrap();
    assert!(store.load().unwrap().is_none());
    store.lock().unwrap().delete().unwrap();
}

#[cfg(unix)]
#[test]
fn a_world_readable_file_is_refused_not_fixed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    save(&store, &credentials("ya29.a", 1));
    std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = store.load().unwrap_err();
    assert!(
        matches!(error, StoreError::PermissionsTooOpen { mode: 0o644, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("chmod 600"), "{error}");
    assert_eq!(mode(store.path()), 0o644, "left for the person to fix");
}

#[test]
fn corrupt_and_truncated_files_are_reported_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    let whole = serde_json::to_string(&credentials("ya29.a", 1)).unwrap();
    for content in [
        &whole[..whole.len() / 2],
        "",
        "not json",
        "{\"client_id\": 5}",
    ] {
        save(&store, &credentials("x", 1));
        std::fs::write(store.path(), content).unwrap();
        let error = access_token(&store, SystemTime::now, || {
            panic!("must not refresh from a corrupt file")
        })
        .unwrap_err();
        assert!(
            matches!(error, ClientError::Store(StoreError::Corrupt { .. })),
            "{content:?}: {error:?}"
        );
        assert_eq!(std::fs::read_to_string(store.path()).unwrap(), content);
    }
}

#[test]
fn a_reader_never_sees_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    let mut big = credentials("ya29.a", 1);
    big.extra.insert(
        "padding".to_owned(),
        serde_json::Value::String("p".repeat(256 * 1024)),
    );
    save(&store, &big);
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let done = done.clone();
        std::thread::spawn(move || {
            for i in 0..60 {
                let mut next = big.clone();
                next.access_token = Some(Secret::new(format!("ya29.{i}")));
                save(&store, &next);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let mut reads = 0;
    while !done.load(Ordering::SeqCst) {
        let loaded = store.load().expect("always a whole file").expect("present");
        assert!(loaded.access_token.unwrap().expose().starts_with("ya29."));
        reads += 1;
    }
    writer.join().unwrap();
    assert!(reads > 0);
}

#[test]
fn refreshes_only_when_needed_and_saves_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    let now = || UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    let error = access_token(&store, now, || panic!("nobody to refresh")).unwrap_err();
    assert!(matches!(error, ClientError::Flow(Error::NotSignedIn)));
    assert!(error.needs_sign_in());

    save(&store, &credentials("ya29.valid", 1_700_000_000 + 301));
    let token = access_token(&store, now, || panic!("no refresh needed")).unwrap();
    assert_eq!(token.expose(), "ya29.valid");

    save(&store, &credentials("ya29.old", 1_700_000_000 + 299));
    let token = access_token(&store, now, || {
        answer(
            200,
            r#"{"access_token": "ya29.new", "expires_in": 3600}"#.into(),
        )
    })
    .unwrap();
    assert_eq!(token.expose(), "ya29.new");
    let saved = store.load().unwrap().unwrap();
    assert_eq!(saved.access_token.unwrap().expose(), "ya29.new");
    assert_eq!(saved.email.as_deref(), Some("person@example.com"));

    save(&store, &credentials("ya29.old", 0));
    let error = access_token(&store, now, || {
        answer(400, r#"{"error": "invalid_grant"}"#.into())
    })
    .unwrap_err();
    assert!(error.needs_sign_in(), "{error}");
    assert_eq!(
        store
            .load()
            .unwrap()
            .unwrap()
            .access_token
            .unwrap()
            .expose(),
        "ya29.old",
        "nothing lost"
    );
}

/// Environment variables that turn this test binary into one contending process.
const CHILD_STORE: &str = "CODEASSIST_STORE_TEST_CHILD_STORE";
const CHILD_COUNTER: &str = "CODEASSIST_STORE_TEST_CHILD_COUNTER";

/// Not a test on its own: the body each child process runs in
/// `eight_processes_make_one_refresh`. Without the environment it returns at once.
#[test]
fn contending_process() {
    let (Some(store), Some(counter)) = (
        std::env::var_os(CHILD_STORE),
        std::env::var_os(CHILD_COUNTER),
    ) else {
        return;
    };
    let store = FileStore::new(store);
    let token = access_token(&store, SystemTime::now, || {
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&counter)
            .unwrap();
        writeln!(log, "refresh by {}", std::process::id()).unwrap();
        // A slow token endpoint: the others pile up on the lock meanwhile.
        std::thread::sleep(Duration::from_millis(300));
        let body = format!(
            r#"{{"access_token": "ya29.from-{}", "expires_in": 3600}}"#,
            std::process::id()
        );
        answer(200, body)
    })
    .unwrap();
    println!("TOKEN={}", token.expose());
}

#[test]
fn eight_processes_make_one_refresh() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("oauth.json");
    let counter = dir.path().join("refreshes.log");
    let store = FileStore::new(&store_path);
    save(
        &store,
        &credentials("ya29.expiring", unix_seconds(SystemTime::now()) + 60),
    );

    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "contending_process",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_STORE, &store_path)
                .env(CHILD_COUNTER, &counter)
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
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let stdout = String::from_utf8(output.stdout).unwrap();
            // The harness may print the test name on the same line.
            stdout
                .split("TOKEN=")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("no token in {stdout}"))
                .to_owned()
        })
        .collect();

    let refreshes = std::fs::read_to_string(&counter).unwrap();
    assert_eq!(refreshes.lines().count(), 1, "{refreshes}");
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    assert!(tokens[0].starts_with("ya29.from-"));
    assert_eq!(
        store
            .load()
            .unwrap()
            .unwrap()
            .access_token
            .unwrap()
            .expose(),
        tokens[0]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    // A dangling symlink where the lock file goes: refused, its target not created.
    let target = dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, store.lock_path()).unwrap();
    assert!(store.lock().is_err());
    assert!(!target.exists(), "the lock created the symlink's target");
    std::fs::remove_file(store.lock_path()).unwrap();

    // A symlink where the credential file goes: refused when read.
    let real = dir.path().join("real.json");
    std::fs::write(&real, b"{}").unwrap();
    std::os::unix::fs::symlink(&real, store.path()).unwrap();
    assert!(matches!(store.load(), Err(StoreError::Io { .. })));
}

#[test]
fn tokens_that_are_not_tokens_are_refused_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    for bad in [
        "ya29.a\r\nX-Injected: 1",
        "ya29.\u{1b}[31m",
        &"a".repeat(9000),
    ] {
        save(&store, &credentials(bad, 1));
        let error = store.load().unwrap_err();
        assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
        assert!(!error.to_string().contains("Injected"), "{error}");
    }
}

#[cfg(unix)]
#[test]
fn a_read_only_home_is_found_before_sign_in() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let store = FileStore::new(home.join("oauth.json"));
    assert!(store.check_writable().is_ok());
    assert!(
        store.load().unwrap().is_none(),
        "the check leaves nothing behind"
    );
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o500)).unwrap();
    // Root writes anywhere; the check only means something for other users.
    let root = std::fs::write(home.join("probe"), b"").is_ok();
    if !root {
        assert!(store.check_writable().is_err());
    }
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// A process killed mid-write leaves `.oauth.json.tmp-*` files (holding a refresh
/// token); the next one to take the lock removes them, so a save, a refresh or a
/// logout (`delete`) leaves none behind. Other files in the directory stay.
#[test]
fn stale_temporary_files_are_removed_under_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    save(&store, &credentials("ya29.a", 2_000_000_000));
    for leftover in [".oauth.json.tmp-4242-0", ".oauth.json.tmp-4243-7"] {
        std::fs::write(dir.path().join(leftover), r#"{"refresh_token": "1//left"}"#).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let mut locked = store.lock().unwrap();
    locked.delete().unwrap();
    drop(locked);
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["notes.txt", "oauth.json.lock"]);
}

/// A FIFO, a device or a directory where the credential file should be is an error at
/// once, never a hang.
#[cfg(unix)]
#[test]
fn a_credential_file_that_is_not_a_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("oauth.json");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|status| status.success())
    {
        return;
    }
    let error = FileStore::new(&fifo).load().unwrap_err();
    assert!(error.to_string().contains("not a regular file"), "{error}");
    let error = codeassist_runtime::read_credential_file(&fifo).unwrap_err();
    assert!(error.contains("not a regular file"), "{error}");
}

/// The bound on a call with an expired token holds with the lock's wait included:
/// while another process holds the lock (its refresh hanging), a caller gives up when
/// its budget is spent, not after the store's own 30 s lock timeout.
#[test]
fn waiting_for_the_lock_counts_against_the_calls_bound() {
    use codeassist_core::client::RefreshPolicy;
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::new(dir.path().join("oauth.json"));
    save(&store, &credentials("ya29.expired", 1_000));
    // Another process holds the lock (as during a refresh that hangs).
    let held = store.lock().unwrap();
    let mut policy = RefreshPolicy::default();
    policy.expired_budget = Duration::from_millis(800);
    let mut config = ClientConfig::new(OAuthClient::new("client", "secret"));
    config.refresh = policy;
    let client = Client::new(config);
    let mut op = client.access_token();
    let mut session = StoreSession::new(Arc::new(store.clone()));
    let started = std::time::Instant::now();
    let outcome = loop {
        let input = match op.poll(SystemTime::now()) {
            Ok(Action::Done(token)) => break Ok(token),
            Ok(Action::Store(store_op)) => match session.perform(store_op) {
                Ok(reply) => Input::Store(reply),
                Err(error) => break Err(error.to_string()),
            },
            Ok(other) => panic!("unexpected {other:?}"),
            Err(error) => break Err(error.to_string()),
        };
        op.handle(input, SystemTime::now());
    };
    let took = started.elapsed();
    drop(held);
    let error = outcome.unwrap_err();
    assert!(error.contains("waiting for the lock"), "{error}");
    assert!(took < Duration::from_secs(3), "waited {took:?}");
}

/// A credential file over 1 MiB is not ours: refused as corrupt, read no further.
#[cfg(unix)]
#[test]
fn an_oversized_credential_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oauth.json");
    std::fs::write(&path, vec![b' '; 2 * 1024 * 1024]).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let error = FileStore::new(&path).load().unwrap_err();
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("larger than 1 MiB"), "{error}");
}
