//! The smallest flow: one request, one response.
//!
//! ```text
//!  Ready ──poll──▶ Send(request) ──▶ Sent ──handle_response──▶ Answered ──poll──▶ Done / error
//!                                     │ poll before the answer: misuse
//! ```

use std::time::SystemTime;

use super::{Flow, Misuse, Request, Response, Step, TransportError};
use crate::Error;
use crate::error::ApiError;

/// Sends one request; a `2xx` response is the output, anything else becomes a
/// classified [`ApiError`].
///
/// Useful on its own for calls this crate has no dedicated flow for, and as the
/// example flow in tests and docs.
#[derive(Debug)]
pub struct Call {
    state: State,
}

#[derive(Debug)]
enum State {
    Ready(Request),
    Sent,
    Answered(Result<Response, Error>),
    Finished,
    Misused(&'static str),
}

impl Call {
    /// A flow that sends `request` once.
    pub fn new(request: Request) -> Self {
        Self {
            state: State::Ready(request),
        }
    }
}

impl Flow for Call {
    type Output = Response;
    type Error = Error;

    fn poll(&mut self, _now: SystemTime) -> Result<Step<Response>, Error> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Ready(request) => {
                self.state = State::Sent;
                Ok(Step::Send(request))
            }
            State::Sent => {
                self.state = State::Sent;
                Err(Misuse("polled before the response was handled").into())
            }
            State::Answered(Ok(response)) => Ok(Step::Done(response)),
            State::Answered(Err(error)) => Err(error),
            State::Finished => Err(Misuse("polled after the flow finished").into()),
            State::Misused(what) => Err(Misuse(what).into()),
        }
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime) {
        if !matches!(self.state, State::Sent) {
            self.state = State::Misused("response handled while no request was outstanding");
            return;
        }
        self.state = State::Answered(match response {
            Ok(response) if response.status().is_success() => Ok(response),
            Ok(response) => Err(ApiError::from_response(&response, now).into()),
            Err(failure) => Err(ApiError::from_transport(&failure).into()),
        });
    }
}
