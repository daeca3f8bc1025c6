//! The driving contract every flow in this crate implements.
//!
//! A [`Flow`] is a value the caller steps. Each call to [`Flow::poll`] is given the
//! current time and answers with one [`Step`]:
//!
//! ```text
//!            ┌────────────── poll(now) ──────────────┐
//!            │                                        │
//!   Step::Send(request) ──▶ caller sends it ──▶ handle_response(result, now)
//!   Step::Wait(duration) ──▶ caller sleeps (or advances a virtual clock)
//!   Step::Done(output)   ──▶ finished; polling again is a misuse
//! ```
//!
//! After `Send`, the caller must feed the outcome of that request (a response, or the
//! [`TransportError`] that prevented one) before polling again. Flows never block,
//! never read a clock and never panic; every deadline is a value they return.
//!
//! [`drive`] runs any flow with a closure as the transport and a [`VirtualClock`], so
//! tests and hosts with their own I/O need no runtime at all.

mod call;
mod map;
pub mod request;
mod transport;

pub use call::Call;
pub use map::Map;
pub use transport::{TransportError, TransportErrorKind};

use std::time::{Duration, SystemTime};

/// A request as flows emit it: `http` types with the body already in memory.
pub type Request = http::Request<Vec<u8>>;
/// A response as flows consume it: `http` types with the whole body read (and capped
/// by the transport).
pub type Response = http::Response<Vec<u8>>;

/// What a flow asks its driver to do next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // short-lived; boxing every request buys nothing
pub enum Step<T> {
    /// Send this request and feed the outcome to [`Flow::handle_response`].
    Send(Request),
    /// Wait this long, then poll again.
    Wait(Duration),
    /// The flow has finished with this output.
    Done(T),
}

/// A protocol exchange written as a state machine: see the [module docs](self).
pub trait Flow {
    /// What the flow produces when it succeeds.
    type Output;
    /// What the flow produces when it fails.
    type Error;

    /// Advances the flow at time `now` and says what the driver must do next.
    ///
    /// Returns an error when the flow has failed, or when it is misused (polled while a
    /// request is outstanding, or after it finished).
    fn poll(&mut self, now: SystemTime) -> Result<Step<Self::Output>, Self::Error>;

    /// Feeds the outcome of the request the last [`Step::Send`] asked for, received at
    /// `now`. A response fed when no request is outstanding is remembered as a misuse
    /// and reported by the next [`Flow::poll`].
    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime);
}

/// A caller's misuse of a flow (as opposed to a peer's misbehaviour).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("flow misused: {0}")]
pub struct Misuse(pub &'static str);

/// A clock that only moves when told to: time for flows driven by [`drive`].
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now: SystemTime,
    waits: Vec<Duration>,
}

impl VirtualClock {
    /// A clock that starts at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self {
            now: start,
            waits: Vec::new(),
        }
    }

    /// The current virtual time.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// Moves the clock forward by `duration` and records it as a wait.
    pub fn advance(&mut self, duration: Duration) {
        self.now = self.now.checked_add(duration).unwrap_or(self.now);
        self.waits.push(duration);
    }

    /// Every wait the clock has been advanced by, in order.
    pub fn waits(&self) -> &[Duration] {
        &self.waits
    }

    /// The sum of all waits.
    pub fn total_waited(&self) -> Duration {
        self.waits.iter().sum()
    }
}

/// Runs `flow` to completion with `transport` as the network and `clock` as time.
///
/// `Wait` steps advance the virtual clock instead of sleeping; the clock is not moved
/// while a request is "in flight", so a test controls time completely. The closure is
/// called once per request with the request and the current virtual time.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use codeassist_core::flow::{drive, Call, VirtualClock};
///
/// let request = http::Request::get("https://example.test/ping").body(Vec::new()).unwrap();
/// let mut clock = VirtualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let response = drive(Call::new(request), &mut clock, |_request, _now| {
///     Ok(http::Response::builder().status(200).body(b"pong".to_vec()).unwrap())
/// })
/// .unwrap();
/// assert_eq!(response.body(), b"pong");
/// ```
pub fn drive<F, T>(
    mut flow: F,
    clock: &mut VirtualClock,
    mut transport: T,
) -> Result<F::Output, F::Error>
where
    F: Flow,
    T: FnMut(Request, SystemTime) -> Result<Response, TransportError>,
{
    loop {
        match flow.poll(clock.now())? {
            Step::Send(request) => {
                let outcome = transport(request, clock.now());
                flow.handle_response(outcome, clock.now());
            }
            Step::Wait(duration) => clock.advance(duration),
            Step::Done(output) => return Ok(output),
        }
    }
}

impl<T> Step<T> {
    /// Converts the output of a `Done` step; other steps pass through.
    pub fn map<U>(self, convert: impl FnOnce(T) -> U) -> Step<U> {
        match self {
            Step::Send(request) => Step::Send(request),
            Step::Wait(duration) => Step::Wait(duration),
            Step::Done(output) => Step::Done(convert(output)),
        }
    }

    /// The request, when this step asks for one to be sent.
    pub fn as_request(&self) -> Option<&Request> {
        match self {
            Step::Send(request) => Some(request),
            _ => None,
        }
    }
}
