//! What the credential sources need from a runtime, written once for every runtime:
//! RSA signing for service-account keys (`ring`, already in the tree through rustls),
//! a bounded reader for credential files, and the bounded runner of the programs
//! workload identity federation names.

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use codeassist_core::client::{Command, CommandOutput, MAX_COMMAND_OUTPUT};
use codeassist_core::source::{MAX_CREDENTIAL_FILE, Rs256Signer, RsaKeys};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// Loads service-account keys with `ring` (RSASSA-PKCS1-v1_5, SHA-256).
#[derive(Debug, Clone, Copy, Default)]
pub struct RingKeys;

/// One loaded RSA key.
struct RingSigner {
    pair: RsaKeyPair,
    random: SystemRandom,
}

impl std::fmt::Debug for RingSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingSigner")
            .field("modulus_bits", &(self.pair.public().modulus_len() * 8))
            .finish_non_exhaustive()
    }
}

impl Rs256Signer for RingSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &self.random, message, &mut signature)
            .map_err(|_| "the RSA signature could not be made".to_owned())?;
        Ok(signature)
    }
}

impl RsaKeys for RingKeys {
    fn load_pkcs8(&self, der: &[u8]) -> Result<Arc<dyn Rs256Signer>, String> {
        let pair =
            RsaKeyPair::from_pkcs8(der).map_err(|why| format!("not a usable RSA key ({why})"))?;
        Ok(Arc::new(RingSigner {
            pair,
            random: SystemRandom::new(),
        }))
    }
}

/// Reads a credential file for `Action::Read`: `None` when it does not exist; only a
/// regular file (a FIFO or a device is an error at once, never a hang); at most
/// [`MAX_CREDENTIAL_FILE`] + 1 bytes (core refuses anything larger).
pub fn read_credential_file(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let file =
        crate::open_regular_file(path, true).map_err(|error| format!("cannot be read: {error}"))?;
    let Some(file) = file else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(MAX_CREDENTIAL_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot be read: {error}"))?;
    Ok(Some(bytes))
}

/// Runs a program for `Action::Run`: not through a shell, with no input and its stderr
/// discarded (it could hold anything, escape sequences included); its stdout read up
/// to [`MAX_COMMAND_OUTPUT`] bytes; killed when it outlives its timeout.
pub fn run_command(command: &Command) -> Result<CommandOutput, String> {
    let program = codeassist_core::text::sanitize(&command.program, 120);
    let mut child = std::process::Command::new(&command.program)
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("{program} could not be started: {error}"))?;
    let deadline = Instant::now() + command.timeout;
    let (sender, output) = std::sync::mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = stdout
                .take(MAX_COMMAND_OUTPUT as u64)
                .read_to_end(&mut bytes);
            let _ = sender.send(bytes);
        });
    }
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{program} did not finish within {} s and was stopped",
                    command.timeout.as_secs_f32()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(format!("{program} could not be waited for: {error}")),
        }
    };
    // A child it started may still hold the pipe open: wait for the output no longer
    // than the deadline allows.
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(100));
    let output = output.recv_timeout(left).unwrap_or_default();
    Ok(CommandOutput::new(status.code(), output))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> Command {
        Command::new("sh", vec!["-c".into(), script.into()], timeout)
    }

    #[test]
    fn a_program_gives_its_stdout_and_exit_code_with_the_variables_asked() {
        let mut command = sh(
            "echo \"out:$GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE\"; echo noise >&2; exit 3",
            Duration::from_secs(10),
        );
        command.env = vec![("GOOGLE_EXTERNAL_ACCOUNT_AUDIENCE".into(), "pool".into())];
        let output = run_command(&command).unwrap();
        assert_eq!(output.code, Some(3));
        // stderr is discarded: it never reaches a message or a terminal.
        assert_eq!(output.output, b"out:pool\n");
    }

    #[test]
    fn a_program_that_outlives_its_timeout_is_stopped() {
        let started = Instant::now();
        let error = run_command(&sh("sleep 30", Duration::from_millis(300))).unwrap_err();
        assert!(error.contains("did not finish within 0.3 s"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn output_is_capped_and_a_missing_program_is_named() {
        let output = run_command(&sh(
            "head -c 200000 /dev/zero | tr '\\0' a",
            Duration::from_secs(10),
        ))
        .unwrap();
        assert_eq!(output.output.len(), MAX_COMMAND_OUTPUT);
        let error = run_command(&Command::new(
            "/nonexistent/token-helper\u{1b}[31m",
            Vec::new(),
            Duration::from_secs(1),
        ))
        .unwrap_err();
        assert!(error.contains("/nonexistent/token-helper"), "{error}");
        assert!(!error.contains('\u{1b}'), "{error:?}");
    }
}
