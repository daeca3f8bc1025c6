//! A program a credential source asks the runtime to run: the executable-sourced
//! subject tokens of workload identity federation (`credential_source.executable`).
//!
//! Core decides what runs, with which extra environment and for how long; the runtime
//! runs it (never through a shell, with no input, its stderr discarded), kills it at
//! the deadline, and answers with its exit status and at most [`MAX_COMMAND_OUTPUT`]
//! bytes of what it wrote to stdout.

use std::time::Duration;

/// The most a runtime keeps of what a command writes to stdout: 64 KiB.
pub const MAX_COMMAND_OUTPUT: usize = 64 * 1024;

/// A program a credential source asks a runtime to run ([`Action::Run`](super::Action::Run)):
/// never through a shell, with no input and its stderr discarded, killed at `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Command {
    /// The program (a path or a name looked up in `PATH`).
    pub program: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables set for it, on top of the process's own environment.
    pub env: Vec<(String, String)>,
    /// The longest it may run; it is killed then.
    pub timeout: Duration,
}

impl Command {
    /// `program` with `args`, no extra environment, killed after `timeout`.
    pub fn new(program: impl Into<String>, args: Vec<String>, timeout: Duration) -> Self {
        Self {
            program: program.into(),
            args,
            env: Vec::new(),
            timeout,
        }
    }
}

/// What a command did: its exit code (`None` when a signal ended it) and its output.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandOutput {
    /// The exit code.
    pub code: Option<i32>,
    /// What it wrote to stdout, at most [`MAX_COMMAND_OUTPUT`] bytes.
    pub output: Vec<u8>,
}

impl CommandOutput {
    /// An exit with `code` and `output`.
    pub fn new(code: Option<i32>, output: impl Into<Vec<u8>>) -> Self {
        Self {
            code,
            output: output.into(),
        }
    }
}
