//! The in-memory runtime: any operation on a virtual clock, with a store in memory
//! and a closure as the network. Core's conformance driver, and a model for a host
//! with its own I/O.

use std::time::{Duration, SystemTime};

use super::{Action, Input, Opened, Operation, StoreOp, StoreReply};
use crate::Error;
use crate::flow::request::RequestTimeout;
use crate::flow::{Misuse, Request, Response, TransportError, TransportErrorKind, VirtualClock};
use crate::oauth::Credentials;

/// A credential store in memory that records how it was used.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    /// What is stored.
    pub credentials: Option<Credentials>,
    /// True while an operation holds the lock.
    pub locked: bool,
    /// Loads performed.
    pub loads: usize,
    /// Saves performed.
    pub saves: usize,
}

impl MemoryStore {
    /// A store holding `credentials`.
    pub fn holding(credentials: Credentials) -> Self {
        Self {
            credentials: Some(credentials),
            ..Self::default()
        }
    }

    /// Performs `op` as a runtime would. A save or delete without the lock, a second
    /// lock, or an unlock without one is a misuse.
    pub fn perform(&mut self, op: StoreOp) -> Result<StoreReply, Misuse> {
        match op {
            StoreOp::Load => {
                self.loads += 1;
                return Ok(StoreReply::Loaded(self.credentials.clone().map(Box::new)));
            }
            StoreOp::Lock | StoreOp::LockWithin(_) if self.locked => {
                return Err(Misuse("locked twice"));
            }
            StoreOp::Lock | StoreOp::LockWithin(_) => self.locked = true,
            StoreOp::Unlock if !self.locked => return Err(Misuse("unlocked without the lock")),
            StoreOp::Unlock => self.locked = false,
            StoreOp::Save(_) | StoreOp::Delete if !self.locked => {
                return Err(Misuse("wrote without the lock"));
            }
            StoreOp::Save(credentials) => {
                self.saves += 1;
                self.credentials = Some(*credentials);
            }
            StoreOp::Delete => self.credentials = None,
        }
        Ok(StoreReply::Done)
    }
}

/// What the in-memory network answers: an outcome, and how long it took.
#[derive(Debug)]
pub struct Reply {
    /// The response, or the failure in its place.
    pub outcome: Result<Response, TransportError>,
    /// How long the exchange takes; a request whose [`RequestTimeout`] is shorter
    /// times out after that timeout instead.
    pub took: Duration,
}

impl Reply {
    /// An immediate answer.
    pub fn now(outcome: Result<Response, TransportError>) -> Self {
        Self {
            outcome,
            took: Duration::ZERO,
        }
    }
}

/// Runs operations on a [`VirtualClock`] with a [`MemoryStore`].
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use codeassist_core::client::{Client, ClientConfig, MemoryRuntime, MemoryStore, Reply};
/// use codeassist_core::oauth::{Credentials, OAuthClient};
///
/// let client = Client::new(ClientConfig::new(OAuthClient::new("id", "secret")));
/// let store = MemoryStore::holding(Credentials::new("id", None, "1//refresh"));
/// let mut runtime = MemoryRuntime::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000), store);
/// let token = runtime
///     .run(client.access_token(), |_request, _now| {
///         let body = br#"{"access_token": "ya29.fresh", "expires_in": 3599}"#;
///         Reply::now(Ok(http::Response::builder().status(200).body(body.to_vec()).unwrap()))
///     })
///     .unwrap();
/// assert_eq!(token.expose(), "ya29.fresh");
/// assert_eq!(runtime.store.saves, 1);
/// // Warm: from memory, no store and no network.
/// let again = runtime.run(client.access_token(), |_, _| unreachable!()).unwrap();
/// assert_eq!(again.expose(), "ya29.fresh");
/// ```
#[derive(Debug)]
pub struct MemoryRuntime {
    /// Time.
    pub clock: VirtualClock,
    /// The store.
    pub store: MemoryStore,
    /// Requests sent, in order.
    pub sent: Vec<Request>,
    /// The body of the last stream opened.
    pub opened_body: Option<Vec<u8>>,
    /// The files [`Action::Read`] can read; any other path does not exist.
    pub files: std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>,
    /// What [`Action::Run`] answers, by program; any other program is not found.
    pub programs: std::collections::BTreeMap<String, super::CommandOutput>,
    /// The programs run, in order.
    pub ran: Vec<super::Command>,
}

impl MemoryRuntime {
    /// A runtime whose clock starts at `start`, with `store`.
    pub fn new(start: SystemTime, store: MemoryStore) -> Self {
        Self {
            clock: VirtualClock::new(start),
            store,
            sent: Vec::new(),
            opened_body: None,
            files: std::collections::BTreeMap::new(),
            programs: std::collections::BTreeMap::new(),
            ran: Vec::new(),
        }
    }

    /// Runs `op` to the end, answering requests with `network`. Waiting while the
    /// store lock is held is reported as a misuse.
    pub fn run<O: Operation>(
        &mut self,
        mut op: O,
        mut network: impl FnMut(&Request, SystemTime) -> Reply,
    ) -> Result<O::Output, Error> {
        let outcome = loop {
            let action = match op.poll(self.clock.now()) {
                Ok(action) => action,
                Err(error) => break Err(error),
            };
            let input = match action {
                Action::Done(output) => break Ok(output),
                Action::Wait(duration) => {
                    if self.store.locked {
                        break Err(Misuse("waited while holding the store lock").into());
                    }
                    self.clock.advance(duration);
                    continue;
                }
                Action::Store(store_op) => match self.store.perform(store_op) {
                    Ok(reply) => Input::Store(reply),
                    Err(misuse) => break Err(misuse.into()),
                },
                Action::Read(path) => Input::Read(Ok(self.files.get(&path).cloned())),
                Action::Run(command) => {
                    let outcome = self
                        .programs
                        .get(&command.program)
                        .cloned()
                        .ok_or_else(|| format!("{} was not found", command.program));
                    self.ran.push(command);
                    Input::Ran(outcome)
                }
                Action::Send(request) => Input::Response(self.exchange(request, &mut network)),
                Action::Open(request) => match self.exchange(request, &mut network) {
                    Ok(response) if response.status().is_success() => {
                        let (parts, body) = response.into_parts();
                        self.opened_body = Some(body);
                        Input::Opened(Opened::new(parts.status, parts.headers))
                    }
                    other => Input::Response(other),
                },
            };
            op.handle(input, self.clock.now());
        };
        // As a runtime drops its lock guard when an operation ends.
        self.store.locked = false;
        outcome
    }

    fn exchange(
        &mut self,
        request: Request,
        network: &mut impl FnMut(&Request, SystemTime) -> Reply,
    ) -> Result<Response, TransportError> {
        let reply = network(&request, self.clock.now());
        let timeout = request.extensions().get::<RequestTimeout>().map(|t| t.0);
        self.sent.push(request);
        match timeout {
            Some(timeout) if reply.took > timeout => {
                self.clock.advance(timeout);
                Err(TransportError::new(
                    TransportErrorKind::Timeout,
                    format!("no answer within {timeout:?}"),
                ))
            }
            _ => {
                if !reply.took.is_zero() {
                    self.clock.advance(reply.took);
                }
                reply.outcome
            }
        }
    }
}
