//! The built binary against the emulator: login by following the printed URL as a
//! browser would, then every command.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use codeassist_testkit::emulator::{Account, CLIENT_ID, CLIENT_SECRET, Emulator};

fn codeassist(home: &Path, base: &str) -> Command {
    let mut command =
        codeassist_testkit::cli::hermetic(env!("CARGO_BIN_EXE_codeassist"), home, base);
    command
        .env("CODEASSIST_CLIENT_ID", CLIENT_ID)
        .env("CODEASSIST_CLIENT_SECRET", CLIENT_SECRET);
    command
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .expect("run codeassist")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

use codeassist_testkit::browser::agent;

/// Runs `codeassist login`, reads the URL it prints, and plays the browser.
fn login(home: &Path, base: &str) -> Output {
    let mut child = codeassist(home, base)
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
    let consent = agent().get(&url).call().unwrap();
    if let Some(location) = consent.headers().get("location") {
        agent().get(location.to_str().unwrap()).call().unwrap();
    }
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    seen.extend(rest);
    let mut output = child.wait_with_output().unwrap();
    output.stderr = seen.join("\n").into_bytes();
    output
}

#[test]
fn login_then_every_command() {
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("std-project".to_owned()),
    });
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();

    let output = login(home.path(), &base);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("Signed in as person@example.com"),
        "{}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).is_empty(), "messages go to stderr");

    let output = run(codeassist(home.path(), &base).arg("token"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let token = text(&output.stdout);
    assert_eq!(token.lines().count(), 1);
    assert!(token.starts_with("ya29.emu-access-"), "{token}");

    let output = run(codeassist(home.path(), &base).args(["project", "--json"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let project: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(project["project_id"], "std-project");
    assert_eq!(project["tier_id"], "standard-tier");
    assert_eq!(project["source"], "discovered");
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), 1);

    // Warm start: a token then a project make no request at all.
    let (tokens, loads) = (
        emulator.count("/token"),
        emulator.count("/v1internal:loadCodeAssist"),
    );
    assert!(
        run(codeassist(home.path(), &base).arg("token"))
            .status
            .success()
    );
    let output = run(codeassist(home.path(), &base).arg("project"));
    assert_eq!(text(&output.stdout).trim(), "std-project");
    assert_eq!(emulator.count("/token"), tokens);
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), loads);
    let output = run(codeassist(home.path(), &base).args(["project", "--refresh"]));
    assert_eq!(text(&output.stdout).trim(), "std-project");
    assert_eq!(emulator.count("/v1internal:loadCodeAssist"), loads + 1);

    let output = run(codeassist(home.path(), &base).args(["project", "--project", "flag-project"]));
    assert_eq!(text(&output.stdout).trim(), "flag-project");
    assert!(
        text(&output.stderr).contains("from config"),
        "{}",
        text(&output.stderr)
    );

    let output = run(codeassist(home.path(), &base).args(["quota", "--json"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let quota: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(quota["buckets"].as_array().unwrap().len(), 2);
    let output = run(codeassist(home.path(), &base).arg("quota"));
    let table = text(&output.stdout);
    assert!(
        table.contains("gemini-2.5-pro") && table.contains("42%"),
        "{table}"
    );

    for args in [&["status"][..], &["status", "--json"]] {
        let output = run(codeassist(home.path(), &base).args(args));
        assert!(output.status.success());
        let shown = text(&output.stdout);
        assert!(shown.contains("person@example.com"), "{shown}");
        assert!(
            !shown.contains("ya29.") && !shown.contains("1//") && !shown.contains(CLIENT_SECRET),
            "{shown}"
        );
    }

    let output = run(codeassist(home.path(), &base).arg("logout"));
    assert!(output.status.success());
    assert!(
        text(&output.stderr).contains("revoked at the OAuth server"),
        "{}",
        text(&output.stderr)
    );

    let output = run(codeassist(home.path(), &base).arg("token"));
    assert_eq!(output.status.code(), Some(3));
    assert!(
        text(&output.stderr).contains("codeassist login"),
        "{}",
        text(&output.stderr)
    );
    assert!(output.stdout.is_empty());
}

/// Rewrites the stored token's expiry to `seconds` from now.
fn expire_in(home: &Path, seconds: i64) {
    let path = home.join("oauth.json");
    let mut stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    stored["expires_at"] = serde_json::json!(now + seconds);
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
}

#[test]
fn a_hanging_token_endpoint_never_holds_a_valid_token_hostage() {
    use codeassist_testkit::emulator::Fault;
    use std::time::{Duration, Instant};
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    assert!(login(home.path(), &base).status.success());
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.path().join("oauth.json")).unwrap()).unwrap();
    let current = stored["access_token"].as_str().unwrap().to_owned();

    // 200 s left, inside the refresh window; the token endpoint accepts and never answers.
    emulator.inject("/token", Fault::Slow(Duration::from_secs(300)), 20);
    expire_in(home.path(), 200);
    let started = Instant::now();
    let output = run(codeassist(home.path(), &base).arg("token"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), current);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    // Expired: a bounded wait, then a clear error that is not "sign in again".
    expire_in(home.path(), -10);
    let started = Instant::now();
    let output = run(codeassist(home.path(), &base).arg("token"));
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(output.stdout.is_empty());
    let said = text(&output.stderr);
    assert!(said.to_lowercase().contains("time"), "{said}");
}

#[test]
fn a_revoked_grant_exits_3_and_a_denied_consent_is_explained() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    assert!(login(home.path(), &base).status.success());

    // Make the stored token expire, revoke the grant: `token` says sign in again.
    let path = home.path().join("oauth.json");
    let mut stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    stored["expires_at"] = serde_json::json!(0);
    std::fs::write(&path, stored.to_string()).unwrap();
    emulator.revoke_all();
    let output = run(codeassist(home.path(), &base).arg("token"));
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));

    emulator.deny_consent(true);
    let output = login(home.path(), &base);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("denied"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn configuration_errors_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    let output = run(codeassist(home.path(), "http://127.0.0.1:9")
        .env_remove("CODEASSIST_CLIENT_ID")
        .args(["login", "--no-browser"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("Desktop app"),
        "{}",
        text(&output.stderr)
    );

    let output = run(codeassist(home.path(), "http://google.example.com").arg("status"));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("CODEASSIST_GOOGLE_BASE_URL"),
        "{}",
        text(&output.stderr)
    );

    let output = run(codeassist(home.path(), "http://127.0.0.1:9").arg("token"));
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn the_demo_runs_the_whole_journey() {
    let output = run(Command::new(env!("CARGO_BIN_EXE_codeassist")).arg("demo"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let narration = text(&output.stdout);
    for expected in [
        "signed in as person@example.com",
        "refreshed under the file lock",
        "project emu-managed-project on free-tier (onboarded)",
        "gemini-2.5-pro",
        "retryDelay 1.5s",
        "Gemini capacity exhausted for gemini-2.5-pro",
        "switched to gemini-3.8-flash",
        "gemini-3.8-flash streamed: \"Hello from the emulator.\"",
        "stored credentials deleted",
    ] {
        assert!(
            narration.contains(expected),
            "missing {expected:?} in:\n{narration}"
        );
    }
}

#[test]
fn logs_on_demand_hold_no_secret_and_a_refused_revocation_exits_1() {
    use codeassist_testkit::emulator::Fault;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    assert!(login(home.path(), &base).status.success());

    // A refresh with every log line on.
    expire_in(home.path(), -10);
    let output = run(codeassist(home.path(), &base)
        .arg("token")
        .env("RUST_LOG", "trace"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let token = text(&output.stdout).trim().to_owned();
    let logs = text(&output.stderr);
    assert!(!logs.is_empty(), "RUST_LOG=trace printed nothing");
    for secret in [token.as_str(), "1//emu-refresh", CLIENT_SECRET, "ya29."] {
        assert!(!logs.contains(secret), "a log line holds {secret}:\n{logs}");
    }
    let output = run(codeassist(home.path(), &base).args(["-vv", "status"]));
    assert!(output.status.success(), "{}", text(&output.stderr));

    // The server refuses the revocation: the credentials go, the exit code says so.
    emulator.inject("/revoke", Fault::Unavailable, 1);
    let output = run(codeassist(home.path(), &base).arg("logout"));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("credentials are deleted"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        run(codeassist(home.path(), &base).arg("token"))
            .status
            .code(),
        Some(3)
    );

    // --local deletes without asking the server.
    assert!(login(home.path(), &base).status.success());
    let revocations = emulator.count("/revoke");
    let output = run(codeassist(home.path(), &base).args(["logout", "--local"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(emulator.count("/revoke"), revocations);
    assert_eq!(
        run(codeassist(home.path(), &base).arg("token"))
            .status
            .code(),
        Some(3)
    );
}

/// Log lines are plain text unless a person reads them on a terminal: no colour codes
/// in a file or a pipe, none with `NO_COLOR` even on a terminal (a pseudo-terminal
/// made by `script`), colour otherwise (`codeassist -v ask`, as a person runs it); and
/// the "no credentials" advice reads as one sentence (no runs of spaces from a broken
/// line continuation).
#[test]
fn log_lines_are_coloured_only_on_a_terminal_without_no_color() {
    use codeassist_testkit::emulator::API_KEY;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let ask = |no_color: Option<&str>| {
        let mut command = codeassist(home.path(), &base);
        command
            .env_remove("NO_COLOR")
            .env("GEMINI_API_KEY", API_KEY);
        if let Some(value) = no_color {
            command.env("NO_COLOR", value);
        }
        command
    };
    let args = ["-v", "ask", "--model", "gemini-3.8-flash", "hi"];
    let output = run(ask(None).args(args));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let logs = text(&output.stderr);
    assert!(logs.contains(" INFO "), "no log line: {logs}");
    assert!(!logs.contains('\x1b'), "colour codes in a pipe: {logs:?}");

    let output =
        run(codeassist(home.path(), "http://127.0.0.1:9").args(["token", "--source", "auto"]));
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let advice = text(&output.stderr);
    assert!(
        advice.contains("no credentials found (--source auto): run `codeassist login`, or provide Application Default Credentials"),
        "{advice}"
    );
    assert!(!advice.contains("  "), "a run of spaces: {advice:?}");

    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the terminal half: `script` (util-linux) is not installed");
        return;
    }
    // `script` runs the command on a pseudo-terminal and copies what it wrote.
    let on_terminal = |no_color: Option<&str>| {
        let mut command = ask(no_color);
        command
            .env("CODEASSIST_PROGRAM", env!("CARGO_BIN_EXE_codeassist"))
            .args([
                "-qec",
                &format!("\"$CODEASSIST_PROGRAM\" {}", args.join(" ")),
                "/dev/null",
            ]);
        let mut script = Command::new("script");
        script.args(command.get_args());
        script.env_clear();
        for (name, value) in command.get_envs() {
            if let Some(value) = value {
                script.env(name, value);
            }
        }
        script.env("PATH", std::env::var_os("PATH").unwrap_or_default());
        text(&run(&mut script).stdout)
    };
    let coloured = on_terminal(None);
    assert!(
        coloured.contains("Hello from the emulator."),
        "{coloured:?}"
    );
    assert!(
        coloured.contains("\x1b["),
        "no colour on a terminal: {coloured:?}"
    );
    let plain = on_terminal(Some("1"));
    assert!(plain.contains(" INFO "), "{plain:?}");
    assert!(
        !plain.contains('\x1b'),
        "colour despite NO_COLOR: {plain:?}"
    );
}

/// Every credential source through the CLI: a service-account key named by
/// `GOOGLE_APPLICATION_CREDENTIALS`, the metadata server through `GCE_METADATA_HOST`,
/// an injected token, and the errors that name the file or variable. Nothing is
/// written to the credential file, and no secret reaches the output, even at trace.
#[test]
fn every_credential_source() {
    use codeassist_testkit::emulator::{
        SERVICE_ACCOUNT_EMAIL, TEST_SERVICE_ACCOUNT_KEY, service_account_file,
    };
    let emulator = Emulator::new();
    emulator.set_account(Account::Standard {
        project: Some("sa-project".into()),
    });
    emulator.trust_service_account(SERVICE_ACCOUNT_EMAIL, TEST_SERVICE_ACCOUNT_KEY);
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("key.json");
    std::fs::write(&key, service_account_file(&format!("{base}/token"))).unwrap();

    // A service-account key: token, project, status; logs at trace hold no secret.
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
        .env("RUST_LOG", "trace")
        .args(["token", "--source", "service-account"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let token = text(&output.stdout).trim().to_owned();
    assert!(token.starts_with("ya29.emu-access-"), "{token}");
    let logs = text(&output.stderr);
    assert!(!logs.contains(&token), "the token reached the logs");
    assert!(
        !logs.contains("PRIVATE KEY") && !logs.contains("eyJ"),
        "{logs}"
    );
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
        .args(["project"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout).trim(), "sa-project");

    // No --target: a service account with a project goes to Vertex AI, and -v says why.
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
        .args(["-v", "ask", "--model", "gemini-3.8-flash", "hi"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");
    assert!(
        text(&output.stderr).contains("a Google Cloud credential with a project"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(
        emulator.count("/v1/projects/emulator-project/locations/global/publishers/google/models/gemini-3.8-flash:streamGenerateContent"),
        1,
        "{}",
        text(&output.stderr)
    );
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
        .args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["source"]["kind"], "service-account");
    assert_eq!(status["source"]["account"], SERVICE_ACCOUNT_EMAIL);
    assert!(
        !home.path().join("oauth.json").exists(),
        "another source wrote the credential file"
    );

    // Asked with --cache-token, the token is kept beside the sign-in (the token and
    // its expiry, not the key) and the next run uses it without a new grant.
    let cache = home.path().join("source-token.json");
    let cached_token = || {
        let output = run(codeassist(home.path(), &base)
            .env("GOOGLE_APPLICATION_CREDENTIALS", &key)
            .args(["token", "--source", "service-account", "--cache-token"]));
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout).trim().to_owned()
    };
    let first = cached_token();
    let grants = emulator.count("/token");
    let kept = std::fs::read_to_string(&cache).expect("source-token.json is written");
    assert!(
        kept.contains(&first) && !kept.contains("PRIVATE KEY"),
        "{kept}"
    );
    assert_eq!(cached_token(), first);
    assert_eq!(
        emulator.count("/token"),
        grants,
        "the cached token was not used"
    );
    assert!(!home.path().join("oauth.json").exists());

    // A missing file named by the variable: an error naming it, exit 1.
    let output = run(codeassist(home.path(), &base)
        .env(
            "GOOGLE_APPLICATION_CREDENTIALS",
            home.path().join("nope.json"),
        )
        .args(["token"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("GOOGLE_APPLICATION_CREDENTIALS"));

    // A broken workload identity federation file says what it lacks.
    let external = home.path().join("external.json");
    std::fs::write(
        &external,
        r#"{"type": "external_account", "audience": "x"}"#,
    )
    .unwrap();
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_APPLICATION_CREDENTIALS", &external)
        .args(["token"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("missing field `subject_token_type`"),
        "{}",
        text(&output.stderr)
    );

    // The metadata server, found by the discovery order through GCE_METADATA_HOST.
    let host = base.trim_start_matches("http://").to_owned();
    let output = run(codeassist(home.path(), &base)
        .env("GCE_METADATA_HOST", &host)
        .env_remove("NO_GCE_CHECK")
        .args(["token"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("ya29.emu-access-"));
    let output = run(codeassist(home.path(), &base)
        .env("GCE_METADATA_HOST", &host)
        .args(["status", "--source", "metadata", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["source"]["kind"], "metadata");
    assert_eq!(
        status["source"]["account"],
        codeassist_testkit::emulator::METADATA_EMAIL
    );

    // An injected token is printed as given; nothing found at all asks for login.
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_CLOUD_ACCESS_TOKEN", "ya29.injected")
        .args(["token"]));
    assert_eq!(text(&output.stdout).trim(), "ya29.injected");
    let output = run(codeassist(home.path(), &base).args(["token"]));
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    let output = run(codeassist(home.path(), &base).args(["token", "--source", "env"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("CODEASSIST_ACCESS_TOKEN"));
}

/// `ask` and `models`: the Gemini API with a key (prompt from the argument and from
/// stdin, `--json`), a capacity error on the Pro model falling back to Flash with a
/// notice on stderr, `--no-fallback`, Vertex AI with the metadata server's token, and
/// a bad key's exit code and message.
#[test]
fn ask_and_models() {
    use codeassist_testkit::emulator::{API_KEY, Fault};
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let mut command = codeassist(home.path(), &base);
        command.env("GEMINI_API_KEY", API_KEY).arg("ask").args(args);
        command
    };

    let output = run(ask(&["--model", "gemini-3.8-flash", "hello"]).env("RUST_LOG", "trace"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");
    assert!(
        !text(&output.stderr).contains(API_KEY),
        "the API key reached the logs"
    );

    let mut child = ask(&["--json", "--model", "gemini-3.8-flash"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from stdin")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines: Vec<serde_json::Value> = text(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[3]["candidates"][0]["finishReason"], "STOP");
    let prompt = String::from_utf8(
        emulator
            .bodies("/v1beta/models/gemini-3.8-flash:streamGenerateContent")
            .pop()
            .unwrap(),
    )
    .unwrap();
    assert!(prompt.contains("from stdin"), "{prompt}");

    // Capacity on Pro: one switch to Flash, said on stderr; the answer still comes.
    emulator.inject(
        "/v1beta/models/gemini-2.5-pro",
        Fault::NoCapacity("gemini-2.5-pro".into(), 60.0),
        1,
    );
    let output = run(&mut ask(&["hello"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");
    assert!(
        text(&output.stderr)
            .contains("gemini-2.5-pro is unavailable (capacity); using gemini-3.8-flash"),
        "{}",
        text(&output.stderr)
    );
    emulator.inject(
        "/v1beta/models/gemini-2.5-pro",
        Fault::NoCapacity("gemini-2.5-pro".into(), 600.0),
        1,
    );
    let output = run(&mut ask(&["--no-fallback", "hello"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("capacity"),
        "{}",
        text(&output.stderr)
    );

    // A key Google refuses: one class, one exit code (3: the credentials need a
    // person) from every command, the advice to check the key, the key never shown.
    for (key, args) in [
        (
            "AIzaSyWrong-key-000000000000000000000000",
            &["ask", "hello"][..],
        ),
        ("AIzaSyWrong-key-000000000000000000000000", &["models"][..]),
        ("AQ.Ab8RN6LwrongKey0000000000000000", &["ask", "hello"][..]),
        ("AQ.Ab8RN6LwrongKey0000000000000000", &["models"][..]),
    ] {
        let output = run(codeassist(home.path(), &base)
            .env("GEMINI_API_KEY", key)
            .args(args));
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {stderr}");
        assert!(stderr.contains("check the key"), "{args:?}: {stderr}");
        assert!(!stderr.contains(&key[..12]), "{args:?}: {stderr}");
    }

    // Vertex AI with the metadata server's token and project.
    let host = base.trim_start_matches("http://").to_owned();
    let output = run(codeassist(home.path(), &base)
        .env("GCE_METADATA_HOST", &host)
        .env_remove("NO_GCE_CHECK")
        .args([
            "ask",
            "--target",
            "vertex",
            "--model",
            "gemini-3.8-flash",
            "hi",
        ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");
    assert_eq!(
        emulator.count("/v1/projects/emulator-project/locations/global/publishers/google/models/gemini-3.8-flash:streamGenerateContent"),
        1
    );

    // models, from models.list.
    let output = run(codeassist(home.path(), &base)
        .env("GEMINI_API_KEY", API_KEY)
        .args(["models", "--json"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let models: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(models["target"], "gemini-api");
    assert_eq!(models["models"][0]["name"], "gemini-2.5-pro");
    assert_eq!(models["models"][0]["input_token_limit"], 1_048_576);

    // A rate limit is waited out, and the wait is said on stderr.
    emulator.inject(
        "/v1beta/models/gemini-3.8-flash",
        Fault::RateLimited(0.2),
        1,
    );
    let output = run(ask(&["--model", "gemini-3.8-flash", "hi"]).env_remove("RUST_LOG"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("retrying"),
        "{}",
        text(&output.stderr)
    );
    assert!(
        text(&output.stderr).contains("rate_limit"),
        "{}",
        text(&output.stderr)
    );

    // No prompt at all is a usage error.
    let output = run(&mut ask(&[]));
    assert_eq!(output.status.code(), Some(2));
}

/// `login --target gemini-api` asks for the Gemini API's scope beside the others.
#[test]
fn login_for_the_gemini_api_asks_for_its_scope() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut child = codeassist(home.path(), &server.base_url())
        .args([
            "login",
            "--no-browser",
            "--port",
            "0",
            "--target",
            "gemini-api",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let url = BufReader::new(stderr)
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("http"))
        .expect("the URL is printed");
    child.kill().unwrap();
    let _ = child.wait();
    let scope: String = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(key, _)| key == "scope")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    assert!(
        scope
            .split(' ')
            .any(|s| s == "https://www.googleapis.com/auth/generative-language.retriever"),
        "{scope}"
    );
    assert!(scope.contains("cloud-platform"), "{scope}");
}

/// `status` says which certificate authorities are trusted, and an extra bundle that
/// cannot be read is named.
#[test]
fn status_names_the_trusted_cas() {
    let home = tempfile::tempdir().unwrap();
    let bundle = home.path().join("corp-ca.pem");
    std::fs::write(&bundle, codeassist_testkit::tls::private_ca().ca_pem).unwrap();
    let output = run(codeassist(home.path(), "http://127.0.0.1:9")
        .env("CODEASSIST_CA_FILE", &bundle)
        .args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let roots = status["trust_roots"].to_string();
    assert!(roots.contains("corp-ca.pem (1 certificate)"), "{roots}");
    let output = run(codeassist(home.path(), "http://127.0.0.1:9")
        .env("CODEASSIST_CA_FILE", home.path().join("gone.pem"))
        .args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        status["trust_problem"]
            .as_str()
            .unwrap_or("")
            .contains("CODEASSIST_CA_FILE"),
        "{status}"
    );
}

/// Proxies from the environment: `status` names the proxy without its password;
/// `NO_PROXY` sends a host around a (dead) proxy; without it the call goes to the
/// proxy and fails.
#[test]
fn proxies_from_the_environment() {
    use codeassist_testkit::emulator::API_KEY;
    let home = tempfile::tempdir().unwrap();
    let output = run(codeassist(home.path(), "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://alice:s3cret@127.0.0.1:9")
        .args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let proxy = status["proxy"].as_str().unwrap_or("");
    assert!(
        proxy.contains("alice:[redacted]@127.0.0.1:9") && proxy.contains("HTTPS_PROXY"),
        "{status}"
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("s3cret"));

    let Some(ip) = codeassist_testkit::proxy::non_loopback_address() else {
        return;
    };
    let ca = codeassist_testkit::tls::private_ca_for(&[ip.to_string()]);
    let emulator = Emulator::new();
    let server = emulator.serve_tls_on(ca.server.clone(), ip).unwrap();
    let bundle = home.path().join("ca.pem");
    std::fs::write(&bundle, &ca.ca_pem).unwrap();
    let ask = |proxy: &str, no_proxy: Option<&str>| {
        let mut command = codeassist(home.path(), &server.base_url());
        command
            .env("CODEASSIST_CA_FILE", &bundle)
            .env("GEMINI_API_KEY", API_KEY)
            .env("HTTPS_PROXY", proxy)
            .args(["ask", "--model", "gemini-3.8-flash", "hi"]);
        if let Some(no_proxy) = no_proxy {
            command.env("NO_PROXY", no_proxy);
        }
        run(&mut command)
    };
    // A dead proxy, but the host is in NO_PROXY (as a CIDR block, as curl allows):
    // straight there.
    let output = ask("http://127.0.0.1:9", Some(&format!("example.com,{ip}/24")));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");
    // A real proxy that wants credentials we do not give: refused at once, no retries.
    let Some(proxy) = codeassist_testkit::proxy::Tinyproxy::start(Some(("alice", "s3cret"))) else {
        return;
    };
    let started = std::time::Instant::now();
    let output = ask(&proxy.url(None), None);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let output = ask(&proxy.url(Some(("alice", "s3cret"))), None);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!text(&output.stderr).contains("s3cret"));
}

/// A project id from Google is printed only when it is one: an answer holding
/// terminal escapes, a bell, a carriage return, a bidi override or a newline is a
/// clear error, and nothing reaches stdout (where `$(codeassist project)` would take
/// it).
#[test]
fn a_project_that_is_not_a_project_id_is_refused_not_printed() {
    for hostile in [
        "evil\u{1b}]0;pwned\u{7}proj",
        "proj-1\nexport X=1",
        "proj\r-ok",
        "proj\u{202e}1-abc",
        "proj\u{9b}31m-abc",
    ] {
        let emulator = Emulator::new();
        emulator.set_account(Account::Standard {
            project: Some(hostile.to_owned()),
        });
        let server = emulator.serve().unwrap();
        let base = server.base_url();
        let home = tempfile::tempdir().unwrap();
        assert!(login(home.path(), &base).status.success());
        let output = run(codeassist(home.path(), &base).arg("project"));
        assert_ne!(output.status.code(), Some(0), "{hostile:?} accepted");
        assert!(output.stdout.is_empty(), "{:?}", text(&output.stdout));
        let stderr = text(&output.stderr);
        assert!(stderr.contains("not a project id"), "{stderr}");
        assert!(
            !stderr.contains(['\u{1b}', '\u{7}', '\r', '\u{202e}', '\u{9b}']),
            "{stderr:?}"
        );
    }
}

/// Files named from outside that are not files: a FIFO as `GOOGLE_APPLICATION_CREDENTIALS`,
/// as gcloud's ADC file, as `CODEASSIST_CA_FILE` or as `oauth.json`, and `/dev/zero` as
/// `CODEASSIST_CA_FILE` or `SSL_CERT_FILE`. Each is a clear error naming the file, at
/// once (no hang, no unbounded read, no abort), with an exit code the README lists.
#[cfg(unix)]
#[test]
fn files_that_are_not_files_are_clear_errors_at_once() {
    use codeassist_testkit::emulator::API_KEY;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|status| status.success())
    {
        eprintln!("skipped: mkfifo is not available");
        return;
    }
    let gcloud_home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(gcloud_home.path().join("gcloud")).unwrap();
    Command::new("mkfifo")
        .arg(
            gcloud_home
                .path()
                .join("gcloud/application_default_credentials.json"),
        )
        .status()
        .unwrap();
    let store_home = tempfile::tempdir().unwrap();
    Command::new("mkfifo")
        .arg(store_home.path().join("oauth.json"))
        .status()
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let fifo = fifo.to_str().unwrap();
    let ask = ["ask", "--model", "gemini-3.8-flash", "hi"];
    /// The home, the environment, the arguments, and what the error must say.
    type Case<'a> = (&'a Path, Vec<(&'a str, &'a str)>, &'a [&'a str], &'a str);
    let cases: Vec<Case> = vec![
        (
            home.path(),
            vec![("GOOGLE_APPLICATION_CREDENTIALS", fifo)],
            &["token", "--source", "adc"],
            "not a regular file",
        ),
        (
            gcloud_home.path(),
            vec![],
            &["token", "--source", "adc"],
            "not a regular file",
        ),
        (
            home.path(),
            vec![("CODEASSIST_CA_FILE", fifo), ("GEMINI_API_KEY", API_KEY)],
            &ask,
            "not a regular file",
        ),
        (
            home.path(),
            vec![
                ("CODEASSIST_CA_FILE", "/dev/zero"),
                ("GEMINI_API_KEY", API_KEY),
            ],
            &ask,
            "/dev/zero",
        ),
        (
            home.path(),
            vec![("SSL_CERT_FILE", "/dev/zero"), ("GEMINI_API_KEY", API_KEY)],
            &ask,
            "SSL_CERT_FILE",
        ),
        (store_home.path(), vec![], &["token"], "not a regular file"),
    ];
    for (home, vars, args, says) in cases {
        // `timeout` bounds a hang the test would otherwise become.
        let mut command = Command::new("timeout");
        command
            .arg("20")
            .arg(env!("CARGO_BIN_EXE_codeassist"))
            .args(args);
        let hermetic = codeassist(home, &base);
        for (name, value) in hermetic.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        for (name, value) in &vars {
            command.env(name, value);
        }
        let output = run(&mut command);
        let code = output.status.code();
        assert!(
            matches!(code, Some(1..=3)),
            "{args:?} with {vars:?}: exit {code:?} (124 is a hang): {}",
            text(&output.stderr)
        );
        assert!(
            text(&output.stderr).contains(says),
            "{args:?} with {vars:?}: {}",
            text(&output.stderr)
        );
    }
}

/// `--thinking` maps to what each model takes (a level on 3.x, a budget on 2.5, never
/// both; clamped, said with -v); `GEMINI_MODEL` names the model; with neither, the
/// newest stable Pro the target lists; `models` marks the default and each fallback.
#[test]
fn thinking_models_and_the_default_model() {
    use codeassist_testkit::emulator::API_KEY;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let codeassist = || {
        let mut command = codeassist(home.path(), &base);
        command
            .env("GEMINI_API_KEY", API_KEY)
            .env_remove("GEMINI_MODEL");
        command
    };
    let sent = |model: &str| -> serde_json::Value {
        let path = format!("/v1beta/models/{model}:streamGenerateContent");
        let bodies = emulator.bodies(&path);
        serde_json::from_slice(bodies.last().expect("a request")).unwrap()
    };

    let output = run(codeassist().env("GEMINI_MODEL", "gemini-3.8-flash").args([
        "ask",
        "--thinking",
        "high",
        "hi",
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        sent("gemini-3.8-flash")["generationConfig"]["thinkingConfig"],
        serde_json::json!({"thinkingLevel": "HIGH"})
    );

    let output = run(codeassist().args([
        "ask",
        "--model",
        "gemini-2.5-pro",
        "--thinking",
        "low",
        "hi",
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        sent("gemini-2.5-pro")["generationConfig"]["thinkingConfig"],
        serde_json::json!({"thinkingBudget": 1024})
    );

    let output = run(codeassist().args([
        "-v",
        "ask",
        "--model",
        "gemini-3.1-pro-preview",
        "--thinking",
        "minimal",
        "hi",
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("does not take MINIMAL; using LOW"),
        "{}",
        text(&output.stderr)
    );
    let thinking = &sent("gemini-3.1-pro-preview")["generationConfig"]["thinkingConfig"];
    assert_eq!(thinking["thinkingLevel"], "LOW");
    assert_eq!(
        thinking["includeThoughts"], true,
        "-v asks for the summaries"
    );
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");

    let output = run(codeassist().args(["ask", "--thinking", "lots", "hi"]));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));

    // No model named: the newest stable Pro the Gemini API lists.
    let before = emulator.count("/v1beta/models/gemini-2.5-pro:streamGenerateContent");
    let output = run(codeassist().args(["ask", "hi"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        emulator.count("/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
        before + 1
    );

    let output = run(codeassist().args(["models", "--json"]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["default"], "gemini-2.5-pro");
    let models = listed["models"].as_array().unwrap();
    let entry = |name: &str| models.iter().find(|m| m["name"] == name).cloned();
    assert_eq!(entry("gemini-2.5-pro").unwrap()["default"], true);
    assert_eq!(
        entry("gemini-3-pro-preview").unwrap()["fallback"],
        "gemini-3-flash-preview"
    );
    assert_eq!(
        entry("gemini-3.5-flash-lite").unwrap()["fallback"],
        "gemini-3.5-flash"
    );
    assert!(
        entry("gemini-embedding-001").is_none(),
        "not a model for generation"
    );
    let output = run(codeassist().args(["models"]));
    assert!(
        text(&output.stdout).contains("gemini-2.5-pro (default)"),
        "{}",
        text(&output.stdout)
    );
}

/// `--target vertex` with an API key and no project is Vertex AI Express; `--api-version
/// v1` calls the Gemini API's v1.
#[test]
fn vertex_express_and_the_gemini_apis_v1() {
    use codeassist_testkit::emulator::API_KEY;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let mut command = codeassist(home.path(), &base);
        command
            .env("GEMINI_API_KEY", API_KEY)
            .env_remove("GOOGLE_CLOUD_PROJECT")
            .arg("ask")
            .args(args);
        run(&mut command)
    };
    let output = ask(&["--target", "vertex", "--model", "gemini-3.8-flash", "hi"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Hello from the emulator.\n");
    assert_eq!(
        emulator.count("/v1/publishers/google/models/gemini-3.8-flash:streamGenerateContent"),
        1
    );
    let output = ask(&["--api-version", "v1", "--model", "gemini-3.8-flash", "hi"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        emulator.count("/v1/models/gemini-3.8-flash:streamGenerateContent"),
        1
    );
    let output = ask(&["--api-version", "v2", "hi"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
}

/// A model that keeps answering capacity, and `--no-fallback`: two same-model retries,
/// the wait said on stderr, then the classified error (exit 1), not ten attempts.
#[test]
fn capacity_without_fallback_is_bounded() {
    use codeassist_testkit::emulator::{API_KEY, Fault};
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let path = "/v1beta/models/gemini-3-pro-preview:streamGenerateContent";
    emulator.inject(
        path,
        Fault::NoCapacity("gemini-3-pro-preview".into(), 0.05),
        10,
    );
    let output = run(codeassist(home.path(), &base)
        .env("GEMINI_API_KEY", API_KEY)
        .env_remove("RUST_LOG")
        .args([
            "ask",
            "--no-fallback",
            "--model",
            "gemini-3-pro-preview",
            "hi",
        ]));
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert_eq!(emulator.count(path), 3, "the first attempt and two retries");
    let stderr = text(&output.stderr);
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(stderr.contains("capacity"), "{stderr}");
}

/// The project as google-auth finds it: `GCLOUD_PROJECT` after `GOOGLE_CLOUD_PROJECT`,
/// and for gcloud's user credentials gcloud's configured project, read from its files;
/// `status` says which and from where, and Vertex AI uses it.
#[test]
fn the_project_comes_from_where_google_auth_finds_it() {
    use codeassist_testkit::emulator::{CLIENT_ID, CLIENT_SECRET};
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let home = tempfile::tempdir().unwrap();
    let gcloud = home.path().join("gcloud");
    std::fs::create_dir_all(gcloud.join("configurations")).unwrap();
    let user = serde_json::json!({"type": "authorized_user", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "refresh_token": emulator.issue_refresh_token()});
    std::fs::write(
        gcloud.join("application_default_credentials.json"),
        user.to_string(),
    )
    .unwrap();
    std::fs::write(gcloud.join("active_config"), "work\n").unwrap();
    std::fs::write(
        gcloud.join("configurations/config_work"),
        "[core]\naccount = person@example.com\nproject = gc-project\n",
    )
    .unwrap();

    let output = run(codeassist(home.path(), &base).arg("status"));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("Project: gc-project (from gcloud's configuration)"),
        "{}",
        text(&output.stdout)
    );
    let output = run(codeassist(home.path(), &base).args([
        "ask",
        "--target",
        "vertex",
        "--model",
        "gemini-3.8-flash",
        "hi",
    ]));
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        emulator.count("/v1/projects/gc-project/locations/global/publishers/google/models/gemini-3.8-flash:streamGenerateContent"),
        1
    );

    let output = run(codeassist(home.path(), &base)
        .env("GCLOUD_PROJECT", "env-project")
        .args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["project"], "env-project");
    assert_eq!(status["project_from"], "GCLOUD_PROJECT");
    let output = run(codeassist(home.path(), &base)
        .env("GOOGLE_CLOUD_PROJECT", "")
        .env("GCLOUD_PROJECT", "env-project")
        .args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        status["project"], "gc-project",
        "an empty GOOGLE_CLOUD_PROJECT hides GCLOUD_PROJECT"
    );
}

/// `codeassist serve --port 0 ARGS` with the emulator's API key, and the URL it printed.
fn start_serve(home: &Path, base: &str, args: &[&str]) -> (std::process::Child, String) {
    let mut child = codeassist(home, base)
        .env("GEMINI_API_KEY", codeassist_testkit::emulator::API_KEY)
        .args(["serve", "--port", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line.trim().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{line:?}");
    (child, url)
}

#[test]
fn serve_tries_a_failing_upstream_call_at_most_max_attempts_times() {
    use codeassist_testkit::emulator::Fault;
    let home = tempfile::tempdir().unwrap();
    let emulator = codeassist_testkit::emulator::Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    emulator.inject_model("gemini-3.8-flash", Fault::Unavailable, 50);
    let (mut child, url) = start_serve(
        home.path(),
        &base,
        &["--max-attempts", "1", "--no-fallback"],
    );
    let response = agent()
        .post(format!("{url}/v1/chat/completions"))
        .send(r#"{"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]}"#)
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        emulator.count("/v1beta/models/gemini-3.8-flash:generateContent"),
        1,
        "one attempt, no retry"
    );
    let _ = child.kill();
    let _ = child.wait();
    // Out of range is a usage error.
    let output = run(codeassist(home.path(), &base).args(["serve", "--max-attempts", "0"]));
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn serve_refuses_to_expose_the_credentials_without_a_key_and_stops_on_sigterm() {
    let home = tempfile::tempdir().unwrap();
    let emulator = codeassist_testkit::emulator::Emulator::new();
    let server = emulator.serve().unwrap();
    let base = server.base_url();
    let output = run(codeassist(home.path(), &base)
        .env("GEMINI_API_KEY", codeassist_testkit::emulator::API_KEY)
        .args(["serve", "--host", "0.0.0.0", "--port", "0"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("--api-key"),
        "{}",
        text(&output.stderr)
    );
    let output = run(codeassist(home.path(), &base)
        .env("GEMINI_API_KEY", codeassist_testkit::emulator::API_KEY)
        .args(["serve", "--host", "example.test"]));
    assert_eq!(output.status.code(), Some(2));

    // On loopback it serves, and SIGTERM ends it with 0.
    let (mut child, url) = start_serve(home.path(), &base, &[]);
    let url = url.as_str();
    let mut response = agent()
        .post(format!("{url}/v1/chat/completions"))
        .send(r#"{"model": "gemini-3.8-flash", "messages": [{"role": "user", "content": "hi"}]}"#)
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("Hello from the emulator.")
    );
    #[cfg(unix)]
    {
        let killed = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(15),
                "serve did not stop"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(status.code(), Some(0));
    }
    #[cfg(not(unix))]
    let _ = child.kill();
}
