//! The localhost OAuth callback listener, on std.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use codeassist_core::Secret;
use codeassist_core::oauth::{CallbackError, callback_http_response, callback_reply};
pub use codeassist_core::oauth::{DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT, MAX_CALLBACK_CONNECTIONS};
pub use codeassist_store::{CallbackWaitError, RejectedPasteHook, WaitOptions};

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
    ) -> Result<Secret, CallbackWaitError> {
        let deadline = Instant::now() + options.timeout;
        let pasted = options.paste.take().map(spawn_line_reader);
        let (outcome_sender, outcomes) = mpsc::channel();
        let serving = Arc::new(AtomicUsize::new(0));
        loop {
            match self.listener.accept() {
                Ok((stream, peer))
                    if serving.load(Ordering::Acquire) < MAX_CALLBACK_CONNECTIONS =>
                {
                    serving.fetch_add(1, Ordering::AcqRel);
                    let (sender, serving) = (outcome_sender.clone(), Arc::clone(&serving));
                    let expected_state = expected_state.clone();
                    std::thread::spawn(move || {
                        if let Some(outcome) = serve(stream, peer, expected_state.expose()) {
                            // The wait may be over already; then nobody listens.
                            let _ = sender.send(outcome);
                        }
                        serving.fetch_sub(1, Ordering::AcqRel);
                    });
                }
                Ok((_, peer)) => {
                    tracing::debug!(%peer, "too many callback-port connections; dropped one");
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
                        return Ok(code);
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
    codeassist_store::read_pasted_lines(reader, move |line| sender.send(line).is_ok());
    receiver
}

/// Answers one connection. `Some` ends the wait.
fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    expected_state: &str,
) -> Option<Result<Secret, CallbackError>> {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut reader = BufReader::new(stream.take(16 * 1024));
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).ok()? > 0 {
        if line == b"\r\n" || line == b"\n" {
            break;
        }
        head.extend_from_slice(&line);
        line.clear();
    }
    let mut stream = reader.into_inner().into_inner();
    let request_line =
        String::from_utf8_lossy(head.split(|b| *b == b'\n').next().unwrap_or_default())
            .into_owned();
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let reply = callback_reply(method, target, expected_state);
    if reply.outcome.is_none() {
        tracing::debug!(%peer, status = reply.status, "callback-port request did not end the wait");
    }
    let _ = stream.write_all(&callback_http_response(&reply));
    let _ = stream.flush();
    reply.outcome
}
