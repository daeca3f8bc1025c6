//! What browsers do to a callback listener, shared by the listener tests of every
//! adapter.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;

/// What [`preconnect_then_callbacks`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconnectReport {
    /// The status of the answer to the callback with the wrong state.
    pub forged_status: u16,
    /// Whether the silent connection was still open when that answer arrived: false
    /// means the listener gave up on it first, so it held the other request up.
    pub silent_still_open: bool,
    /// The status of the answer to the real callback.
    pub real_status: u16,
}

impl PreconnectReport {
    /// Asserts that the wrong-state callback got its error page while the silent
    /// connection was still open, and the real callback its success page.
    pub fn assert_not_held_up(&self) {
        assert_eq!(self.forged_status, 400, "{self:?}");
        assert!(
            self.silent_still_open,
            "the wrong-state callback was answered only after the silent connection was dropped"
        );
        assert_eq!(self.real_status, 200, "{self:?}");
    }
}

/// Opens a connection to the listener on `port` that never sends a byte (as a
/// browser's speculative preconnect does); then sends a callback with a wrong state
/// and reads the answer; then checks the silent connection; then sends the real
/// callback with `code` and `state`.
pub fn preconnect_then_callbacks(port: u16, code: &str, state: &str) -> PreconnectReport {
    let mut silent = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let forged_status = callback(port, "evil", "not-the-state");
    silent.set_nonblocking(true).expect("non-blocking");
    let silent_still_open =
        matches!(silent.read(&mut [0; 1]), Err(error) if error.kind() == ErrorKind::WouldBlock);
    let real_status = callback(port, code, state);
    PreconnectReport {
        forged_status,
        silent_still_open,
        real_status,
    }
}

/// Sends `GET /oauth2callback?code=..&state=..` and returns the answer's status (0
/// when there was no readable answer).
fn callback(port: u16, code: &str, state: &str) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let request = format!(
        "GET /oauth2callback?code={code}&state={state} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .unwrap_or(0)
}

/// Opens `slow` connections to the listener on `port` that each send one byte of a
/// request every 200 ms (a local client holding the port hostage), then sends the
/// real callback and returns its status and how long it took to be answered.
pub fn slow_clients_then_callback(
    port: u16,
    slow: usize,
    code: &str,
    state: &str,
) -> (u16, std::time::Duration) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drips: Vec<_> = (0..slow)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                for byte in b"GET /oauth2callback?code=slow".iter().cycle() {
                    if stop.load(std::sync::atomic::Ordering::Relaxed)
                        || stream.write_all(&[*byte]).is_err()
                    {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
            })
        })
        .collect();
    // Let every slow client take its slot first.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let started = std::time::Instant::now();
    let status = callback(port, code, state);
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for drip in drips {
        let _ = drip.join();
    }
    (status, took)
}

/// An HTTP agent as a test's browser uses it: every status is an answer (not an
/// error), and no redirect is followed (the test follows the one it expects).
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}
