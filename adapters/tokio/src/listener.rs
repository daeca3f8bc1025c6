//! The localhost OAuth callback listener, on tokio.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use codeassist_core::Secret;
use codeassist_core::oauth::{
    CALLBACK_PATH, CALLBACK_READ_DEADLINE, CallbackError, MAX_CALLBACK_HEAD,
    callback_http_response, head_complete, reply_to_head, sign_in_page,
};
pub use codeassist_core::oauth::{DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT, MAX_CALLBACK_CONNECTIONS};
pub use codeassist_runtime::{CallbackWaitError, RejectedPasteHook, WaitOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Listens on `127.0.0.1` for Google's redirect back to the app.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

impl CallbackListener {
    /// Binds `127.0.0.1:port`, or a free port when that one is busy.
    pub async fn bind(port: u16) -> std::io::Result<Self> {
        let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await {
            Ok(listener) => listener,
            Err(error) if error.kind() == std::io::ErrorKind::AddrInUse => {
                tracing::info!(port, "callback port busy; using a free one");
                TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?
            }
            Err(error) => return Err(error),
        };
        let port = listener.local_addr()?.port();
        Ok(Self { listener, port })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The redirect URI to put in the authorization URL.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Waits for the callback carrying `expected_state`, or a usable paste; see
    /// [`callback_reply`](codeassist_core::oauth::callback_reply) for what each request gets.
    ///
    /// Each connection is served by a task of its own (at most
    /// [`MAX_CALLBACK_CONNECTIONS`] at once), so one that sends nothing (a browser's
    /// speculative preconnect, a stray local client) never holds up the callback.
    /// Connections still open when the wait ends are closed.
    pub async fn wait_for_code(
        &self,
        expected_state: &Secret,
        mut options: WaitOptions,
    ) -> Result<Callback, CallbackWaitError> {
        let mut pasted = options.paste.take().map(spawn_line_reader);
        let mut serving = JoinSet::new();
        // The connections being read, oldest first, to close when the slots are full.
        let mut open: std::collections::VecDeque<tokio::task::AbortHandle> =
            std::collections::VecDeque::new();
        let timeout = options.timeout;
        // Owns the options (never borrows them across an await), so the future is
        // `Send` and a login can be spawned as a task.
        let wait = async move {
            loop {
                tokio::select! {
                    accepted = self.listener.accept() => {
                        let (stream, peer) = accepted?;
                        open.retain(|task| !task.is_finished());
                        if open.len() >= MAX_CALLBACK_CONNECTIONS
                            && let Some(oldest) = open.pop_front()
                        {
                            // Full: the oldest connection gives way, so a flood of slow
                            // local clients cannot keep a real callback out.
                            tracing::debug!("callback-port slots full; closing the oldest connection");
                            oldest.abort();
                        }
                        let expected_state = expected_state.clone();
                        let issuers = options.issuers.clone();
                        open.push_back(serving.spawn(async move {
                            serve(stream, peer, expected_state.expose(), &issuers).await
                        }));
                    }
                    Some(served) = serving.join_next(), if !serving.is_empty() => {
                        if let Ok(Some(outcome)) = served {
                            return outcome.map_err(CallbackWaitError::from);
                        }
                    }
                    Some(line) = async { match pasted.as_mut() { Some(lines) => lines.recv().await, None => None } } => {
                        if let Some(code) = options.accept_paste(&line, expected_state.expose()) {
                            return Ok(Callback { code, browser: None });
                        }
                    }
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or(Err(CallbackWaitError::TimedOut(timeout)))
    }
}

/// Pasted lines, read on a thread of their own; the channel closes at end of input.
fn spawn_line_reader(reader: Box<dyn Read + Send>) -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
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
    pub async fn answer(mut self, outcome: Result<(), &str>) {
        if let Some(mut browser) = self.browser.take() {
            let _ = browser.write_all(&sign_in_page(outcome)).await;
            let _ = browser.shutdown().await;
        }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        // No await here: a short blocking write of a small page on the same socket.
        if let Some(browser) = self.browser.take()
            && let Ok(mut browser) = browser.into_std()
        {
            use std::io::Write;
            let _ = browser.set_nonblocking(false);
            let _ = browser.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = browser.write_all(&sign_in_page(Err("the sign-in did not finish")));
        }
    }
}

/// Reads a request head within [`CALLBACK_READ_DEADLINE`] in all and
/// [`MAX_CALLBACK_HEAD`] bytes, however the bytes trickle in.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let reading = async {
        let mut head = Vec::new();
        let mut buffer = [0u8; 2048];
        while !head_complete(&head) && head.len() < MAX_CALLBACK_HEAD {
            match stream.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => head.extend_from_slice(&buffer[..read]),
                Err(_) => return None,
            }
        }
        Some(head)
    };
    tokio::time::timeout(CALLBACK_READ_DEADLINE, reading)
        .await
        .ok()
        .flatten()
}

/// Answers one connection. `Some` ends the wait; a code comes with the stream, to be
/// answered when the sign-in has finished.
async fn serve(
    mut stream: TcpStream,
    peer: SocketAddr,
    expected_state: &str,
    issuers: &[String],
) -> Option<Result<Callback, CallbackError>> {
    let head = read_head(&mut stream).await?;
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
            let _ = stream.write_all(&callback_http_response(&reply)).await;
            let _ = stream.shutdown().await;
            outcome.map(|outcome| {
                outcome.map(|code| Callback {
                    code,
                    browser: None,
                })
            })
        }
    }
}
