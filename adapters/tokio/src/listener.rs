//! The localhost OAuth callback listener, on tokio.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use codeassist_core::Secret;
use codeassist_core::oauth::{
    CALLBACK_PATH, CallbackError, callback_http_response, callback_reply,
};
pub use codeassist_core::oauth::{DEFAULT_LOGIN_TIMEOUT, DEFAULT_PORT, MAX_CALLBACK_CONNECTIONS};
pub use codeassist_store::{CallbackWaitError, RejectedPasteHook, WaitOptions};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
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
    /// [`callback_reply`] for what each request gets.
    ///
    /// Each connection is served by a task of its own (at most
    /// [`MAX_CALLBACK_CONNECTIONS`] at once), so one that sends nothing (a browser's
    /// speculative preconnect, a stray local client) never holds up the callback.
    /// Connections still open when the wait ends are closed.
    pub async fn wait_for_code(
        &self,
        expected_state: &Secret,
        mut options: WaitOptions,
    ) -> Result<Secret, CallbackWaitError> {
        let mut pasted = options.paste.take().map(spawn_line_reader);
        let mut serving = JoinSet::new();
        let wait = async {
            loop {
                tokio::select! {
                    accepted = self.listener.accept() => {
                        let (stream, peer) = accepted?;
                        if serving.len() < MAX_CALLBACK_CONNECTIONS {
                            let expected_state = expected_state.clone();
                            serving.spawn(async move {
                                serve(stream, peer, expected_state.expose()).await
                            });
                        } else {
                            tracing::debug!(%peer, "too many callback-port connections; dropped one");
                        }
                    }
                    Some(served) = serving.join_next(), if !serving.is_empty() => {
                        if let Ok(Some(outcome)) = served {
                            return outcome.map_err(CallbackWaitError::from);
                        }
                    }
                    Some(line) = async { match pasted.as_mut() { Some(lines) => lines.recv().await, None => None } } => {
                        if let Some(code) = options.accept_paste(&line, expected_state.expose()) {
                            return Ok(code);
                        }
                    }
                }
            }
        };
        tokio::time::timeout(options.timeout, wait)
            .await
            .unwrap_or(Err(CallbackWaitError::TimedOut(options.timeout)))
    }
}

/// Pasted lines, read on a thread of their own; the channel closes at end of input.
fn spawn_line_reader(reader: Box<dyn Read + Send>) -> mpsc::UnboundedReceiver<String> {
    let (sender, receiver) = mpsc::unbounded_channel();
    codeassist_store::read_pasted_lines(reader, move |line| sender.send(line).is_ok());
    receiver
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    expected_state: &str,
) -> Option<Result<Secret, CallbackError>> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        reader.read_line(&mut request_line).await?;
        // Drain the headers so the browser sees a clean answer.
        let mut header = String::new();
        for _ in 0..100 {
            header.clear();
            if reader.read_line(&mut header).await? == 0 || header.trim().is_empty() {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    if !matches!(read, Ok(Ok(()))) {
        return None;
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let reply = callback_reply(method, target, expected_state);
    if reply.outcome.is_none() {
        tracing::debug!(%peer, status = reply.status, "callback-port request did not end the wait");
    }
    let mut stream = reader.into_inner();
    let _ = stream.write_all(&callback_http_response(&reply)).await;
    let _ = stream.shutdown().await;
    reply.outcome
}
