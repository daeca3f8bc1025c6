//! The localhost OAuth callback listener, on std.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use codeassist_core::Secret;
use codeassist_core::oauth::{
    CALLBACK_READ_DEADLINE, CallbackError, MAX_CALLBACK_HEAD, callback_http_response,
    head_complete, reply_to_head, sign_in_page,
};
pub use codeassist_core::oauth::{DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT, MAX_CALLBACK_CONNECTIONS};
pub use codeassist_runtime::{CallbackWaitError, RejectedPasteHook, WaitOptions};

pub use codeassist_core::oauth::CALLBACK_PATH;

/// Listens on `127.0.0.1` for Google's redirect back to the app.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

impl CallbackListener {
    /// Binds `127.0.0.1:port`, or a free port when that one is busy (`0` always picks
    /// a free one).
    pub fn bind(port: u16) -> std::io::Result<Self> {
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            Ok(listener) => listener,
            Err(error) if error.kind() == ErrorKind::AddrInUse => {
                tracing::info!(port, "callback port busy; using a free one");
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            }
            Err(error) => return Err(error),
        };
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        Ok(Self { listener, port })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The redirect URI to put in the authorization URL: the loopback address itself,
    /// so a browser that resolves `localhost` to `::1` still arrives here.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the callback carrying `expected_state`, or a usable paste.
    ///
    /// Only `GET /oauth2callback` is answered as a callback; `/favicon.ico` and stray
    /// requests get a 404. A callback with the wrong `state` (forged, or a stale tab)
    /// gets an error page and the wait goes on. `access_denied` and other Google
    /// errors end the wait with that error.
    ///
    /// Each connection is served on a thread of its own (at most
    /// [`MAX_CALLBACK_CONNECTIONS`] at once), so one that sends nothing (a browser's
    /// speculative preconnect, a stray local client) never holds up the callback.
    pub fn wait_for_code(
        &self,
        expected_state: &Secret,
        mut options: WaitOptions,
    ) -> Result<Callback, CallbackWaitError> {
        let deadline = Instant::now() + options.timeout;
        let pasted = options.paste.take().map(spawn_line_reader);
        let (outcome_sender, outcomes) = mpsc::channel();
        // The connections being served, oldest first (with a flag each sets when done),
        // to close when every slot is taken.
        let mut open: std::collections::VecDeque<(Arc<AtomicBool>, TcpStream)> =
            std::collections::VecDeque::new();
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    open.retain(|(done, _)| !done.load(Ordering::Acquire));
                    if open.len() >= MAX_CALLBACK_CONNECTIONS
                        && let Some((_, oldest)) = open.pop_front()
                    {
                        // Full: the oldest connection gives way, so a flood of slow local
                        // clients cannot keep a real callback out.
                        tracing::debug!("callback-port slots full; closing the oldest connection");
                        let _ = oldest.shutdown(std::net::Shutdown::Both);
                    }
                    let done = Arc::new(AtomicBool::new(false));
                    let Ok(handle) = stream.try_clone() else {
                        continue;
                    };
                    open.push_back((Arc::clone(&done), handle));
                    let sender = outcome_sender.clone();
                    let expected_state = expected_state.clone();
                    let issuers = options.issuers.clone();
                    std::thread::spawn(move || {
                        if let Some(outcome) =
                            serve(stream, peer, expected_state.expose(), &issuers)
                        {
                            // The wait may be over already; then nobody listens.
                            let _ = sender.send(outcome);
                        }
                        done.store(true, Ordering::Release);
                    });
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error.into()),
            }
            if let Ok(outcome) = outcomes.try_recv() {
                return outcome.map_err(CallbackWaitError::from);
            }
            if let Some(lines) = &pasted {
                while let Ok(line) = lines.try_recv() {
                    if let Some(code) = options.accept_paste(&line, expected_state.expose()) {
                        return Ok(Callback {
                            code,
                            browser: None,
                        });
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(CallbackWaitError::TimedOut(options.timeout));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Pasted lines, read on a thread of their own; the channel closes at end of input
/// (which the wait ignores: the browser may still come back).
fn spawn_line_reader(reader: Box<dyn Read + Send>) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    codeassist_runtime::read_pasted_lines(reader, move |line| sender.send(line).is_ok());
    receiver
}

/// A code, and the browser that brought it, waiting for the outcome of the sign-in.
///
/// The browser is told "signed in" only by [`Callback::answer`] after the exchange and
/// the save succeeded; dropped unanswered, it is told the sign-in did not finish.
#[derive(Debug)]
pub struct Callback {
    /// The authorization code.
    pub code: Secret,
    browser: Option<TcpStream>,
}

impl Callback {
    /// Tells the browser how the sign-in ended (`Err` carries the reason shown).
    pub fn answer(mut self, outcome: Result<(), &str>) {
        if let Some(mut browser) = self.browser.take() {
            let _ = browser.write_all(&sign_in_page(outcome));
            let _ = browser.flush();
            let _ = browser.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Some(mut browser) = self.browser.take() {
            let _ = browser.write_all(&sign_in_page(Err("the sign-in did not finish")));
            let _ = browser.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// Reads a request head within [`CALLBACK_READ_DEADLINE`] in all and
/// [`MAX_CALLBACK_HEAD`] bytes, however the bytes trickle in.
fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let _ = stream.set_nonblocking(false);
    let deadline = Instant::now() + CALLBACK_READ_DEADLINE;
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head_complete(&head) {
        let left = deadline.checked_duration_since(Instant::now())?;
        if left.is_zero() || head.len() >= MAX_CALLBACK_HEAD {
            return None;
        }
        stream.set_read_timeout(Some(left)).ok()?;
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    Some(head)
}

/// Answers one connection. `Some` ends the wait; a code comes with the stream, to be
/// answered when the sign-in has finished.
fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    expected_state: &str,
    issuers: &[String],
) -> Option<Result<Callback, CallbackError>> {
    let Some(head) = read_head(&mut stream) else {
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return None;
    };
    let mut reply = reply_to_head(&head, expected_state, issuers);
    match reply.outcome.take() {
        Some(Ok(code)) => Some(Ok(Callback {
            code,
            browser: Some(stream),
        })),
        outcome => {
            if outcome.is_none() {
                tracing::debug!(%peer, status = reply.status, "callback-port request did not end the wait");
            }
            let _ = stream.write_all(&callback_http_response(&reply));
            let _ = stream.flush();
            // The listener keeps a handle to close stragglers: end the connection here.
            let _ = stream.shutdown(std::net::Shutdown::Both);
            outcome.map(|outcome| {
                outcome.map(|code| Callback {
                    code,
                    browser: None,
                })
            })
        }
    }
}
