//! A warm `codeassist token` (a valid token in `oauth.json`) as a whole process,
//! against `cat` of the same file: the least any program that prints a stored token
//! can cost (start a process, open and read one file, write it out). Paired: the two
//! alternate, and the median of the per-pair ratios is printed. Goal: ≤ 1.5×.
//!
//! The CLI package holds this bench because Cargo hands the built binary's path
//! (`CARGO_BIN_EXE_codeassist`) only to its own package's tests and benches.
//! `cargo bench -p codeassist-cli --bench warm_token_process` (add `-- PAIRS` for more
//! than the default 41 pairs).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Writes a sign-in whose access token is valid for another 50 minutes.
fn warm_sign_in(home: &Path) {
    let expires_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is past 1970")
        .as_secs()
        + 3000;
    let file = home.join("oauth.json");
    let body = format!(
        r#"{{"client_id": "bench-client", "client_secret": "bench-secret", "refresh_token": "1//bench-refresh", "access_token": "ya29.warm-token-of-a-realistic-length-0123456789", "expires_at": {expires_at}}}"#
    );
    std::fs::write(&file, body).expect("write oauth.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }
}

/// How long `command` takes from spawn to exit; it must succeed.
fn timed(command: &mut Command) -> Duration {
    let started = Instant::now();
    let status = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("start the process");
    let took = started.elapsed();
    assert!(status.success(), "{command:?} failed");
    took
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a number among the arguments is the pair count.
    let pairs = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse::<usize>().ok())
        .unwrap_or(41);
    let home = tempfile::tempdir().expect("a temporary directory");
    warm_sign_in(home.path());
    let program = env!("CARGO_BIN_EXE_codeassist");
    let token = || {
        let mut command = Command::new(program);
        command
            .arg("token")
            .env("CODEASSIST_HOME", home.path())
            .env("CODEASSIST_CLIENT_ID", "bench-client")
            .env("CODEASSIST_CLIENT_SECRET", "bench-secret")
            .env_remove("RUST_LOG")
            .env_remove("CODEASSIST_ACCESS_TOKEN");
        command
    };
    let cat = || {
        let mut command = Command::new("cat");
        command.arg(home.path().join("oauth.json"));
        command
    };
    // Warm the page cache and the binary once.
    timed(&mut token());
    timed(&mut cat());
    let mut ratios = Vec::with_capacity(pairs);
    let (mut ours, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..pairs {
        let cat_took = timed(&mut cat());
        let token_took = timed(&mut token());
        ratios.push(token_took.as_secs_f64() / cat_took.as_secs_f64());
        ours.push(token_took.as_secs_f64());
        floor.push(cat_took.as_secs_f64());
    }
    println!(
        "warm-token-process: paired over {pairs} pairs, median token / cat = {:.2} \
         (median {:.2} ms vs {:.2} ms per process; goal <= 1.5)",
        median(&mut ratios),
        median(&mut ours) * 1e3,
        median(&mut floor) * 1e3,
    );
}
