//! What a client's `login` takes, in every runtime, and the one reader of pasted lines.

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use codeassist_core::Secret;
use codeassist_core::oauth::{
    CallbackError, DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT, GOOGLE_ISSUERS, judge_paste,
};

/// Told about each pasted line that was not usable.
pub type RejectedPasteHook = Box<dyn Fn(&CallbackError) + Send + Sync>;

/// The longest pasted line kept; longer ones are cut (and then refused as unusable).
pub const MAX_PASTE_LINE: usize = 16 * 1024;

/// How a listener waits for the browser.
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// A reader of pasted lines (stdin in a CLI), raced against the browser. Each line
    /// may be the redirected URL, its query, or the bare code. Its end does not stop
    /// the wait: the browser may still come back.
    pub paste: Option<Box<dyn Read + Send>>,
    /// Told about each pasted line that was not usable (a wrong state, no code).
    pub on_rejected_paste: Option<RejectedPasteHook>,
    /// The issuers a callback's `iss` may name (RFC 9207); a client's `login` sets
    /// its OAuth endpoints' issuers here.
    pub issuers: Vec<String>,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_LOGIN_TIMEOUT,
            paste: None,
            on_rejected_paste: None,
            issuers: GOOGLE_ISSUERS.iter().map(|i| (*i).to_owned()).collect(),
        }
    }
}

impl WaitOptions {
    /// One pasted line, judged by core: the code when it is usable; otherwise (blank
    /// lines aside) [`WaitOptions::on_rejected_paste`] is told why and the wait goes on.
    pub fn accept_paste(&self, line: &str, expected_state: &str) -> Option<Secret> {
        match judge_paste(line, expected_state, &self.issuers)? {
            Ok(code) => Some(code),
            Err(rejected) => {
                tracing::warn!(error = %rejected, "pasted sign-in not usable");
                if let Some(report) = &self.on_rejected_paste {
                    report(&rejected);
                }
                None
            }
        }
    }
}

impl std::fmt::Debug for WaitOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitOptions")
            .field("timeout", &self.timeout)
            .field("paste", &self.paste.is_some())
            .finish_non_exhaustive()
    }
}

/// How a client's `login` runs.
#[non_exhaustive]
pub struct LoginOptions {
    /// The callback port (a free one is used when it is busy; `0` always picks one).
    pub port: u16,
    /// Called with the authorization URL: print it, open a browser.
    pub on_url: Box<dyn FnOnce(&str) + Send>,
    /// How to wait for the browser.
    pub wait: WaitOptions,
}

impl LoginOptions {
    /// Default port and timeout; `on_url` receives the URL to open.
    pub fn new(on_url: impl FnOnce(&str) + Send + 'static) -> Self {
        Self {
            port: DEFAULT_PORT,
            on_url: Box::new(on_url),
            wait: WaitOptions::default(),
        }
    }
}

impl std::fmt::Debug for LoginOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginOptions")
            .field("port", &self.port)
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

/// Why a listener waiting for the browser gave no code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackWaitError {
    /// Nothing usable arrived in time.
    #[error("no sign-in arrived within {} seconds", .0.as_secs())]
    TimedOut(Duration),
    /// The callback (or the paste) carried an error, such as `access_denied`.
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// The listener's socket failed.
    #[error("the callback listener failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads pasted lines on a thread of its own and hands each to `deliver` until it
/// answers `false` or the input ends. Bytes that are not UTF-8 are replaced, not
/// fatal (a later good paste still counts); a line is cut at [`MAX_PASTE_LINE`].
pub fn read_pasted_lines(
    reader: Box<dyn Read + Send>,
    mut deliver: impl FnMut(String) -> bool + Send + 'static,
) {
    std::thread::spawn(move || {
        let mut lines = BufReader::new(reader);
        let mut line = Vec::new();
        loop {
            line.clear();
            let read = (&mut lines)
                .take(MAX_PASTE_LINE as u64 + 1)
                .read_until(b'\n', &mut line);
            match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    // A line over the cap: drop the rest of it as it is read, never
                    // holding more than the reader's buffer.
                    if line.len() > MAX_PASTE_LINE
                        && !line.ends_with(b"\n")
                        && skip_line(&mut lines).is_err()
                    {
                        return;
                    }
                    line.truncate(MAX_PASTE_LINE);
                    if !deliver(String::from_utf8_lossy(&line).into_owned()) {
                        return;
                    }
                }
            }
        }
    });
}

/// Reads and drops the rest of the current line (through its `\n`, or to the end of
/// the input), a buffer at a time.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|b| *b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pasted line of `len` bytes of `x`, made as it is read (never held whole).
    struct LongLine {
        left: usize,
        then: std::io::Cursor<&'static [u8]>,
    }

    impl Read for LongLine {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.left == 0 {
                return self.then.read(buf);
            }
            let n = buf.len().min(self.left);
            buf[..n].fill(b'x');
            self.left -= n;
            Ok(n)
        }
    }

    /// The peak resident memory of this process, in KiB (Linux).
    fn peak_kib() -> Option<u64> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    #[test]
    fn a_huge_pasted_line_is_dropped_as_it_is_read() {
        let before = peak_kib();
        let input = LongLine {
            left: 256 * 1024 * 1024,
            then: std::io::Cursor::new(b"\n4/good-code\n"),
        };
        let (sender, receiver) = std::sync::mpsc::channel();
        read_pasted_lines(Box::new(input), move |line| sender.send(line).is_ok());
        let first = receiver.recv().unwrap();
        assert_eq!(first.len(), MAX_PASTE_LINE);
        assert_eq!(receiver.recv().unwrap(), "4/good-code\n");
        if let (Some(before), Some(after)) = (before, peak_kib()) {
            assert!(
                after.saturating_sub(before) < 64 * 1024,
                "the reader held {} KiB more",
                after - before
            );
        }
    }

    #[test]
    fn bad_bytes_do_not_stop_the_reader() {
        let input: &[u8] = b"\xff\xfe not utf-8\n4/good-code\n";
        let (sender, receiver) = std::sync::mpsc::channel();
        read_pasted_lines(Box::new(input), move |line| sender.send(line).is_ok());
        let lines: Vec<String> = receiver.iter().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].contains("not utf-8"));
        assert_eq!(lines[1], "4/good-code\n");
    }

    #[test]
    fn long_lines_are_cut() {
        let mut input = vec![b'x'; MAX_PASTE_LINE * 3];
        input.extend_from_slice(b"\nnext\n");
        let (sender, receiver) = std::sync::mpsc::channel();
        read_pasted_lines(Box::new(std::io::Cursor::new(input)), move |line| {
            sender.send(line).is_ok()
        });
        let lines: Vec<String> = receiver.iter().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), MAX_PASTE_LINE);
        assert_eq!(lines[1], "next\n");
    }
}
