//! An operation written as a chain of steps: each step names one action and what to do
//! with its answer. How the credential sources with several exchanges (workload
//! identity federation, impersonation) are written without a hand-made state per
//! exchange.
//!
//! ```text
//!  Next::Send / Read / Run(action, then) ──poll──▶ the action ──handle(input)──▶ then(input) ──▶ Next …
//!  Next::Done(output) ──poll──▶ Action::Done
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use super::{Action, BoxedOp, Command, Input, Operation};
use crate::Error;
use crate::flow::{Flow, Misuse, Request, Step};

/// What to do with the answer to a step's action.
pub type Then<T> = Box<dyn FnOnce(Input, SystemTime) -> Result<Next<T>, Error> + Send>;

/// The next step of a [`Steps`] operation.
pub enum Next<T> {
    /// Send this request; its answer goes to the continuation.
    Send(Request, Then<T>),
    /// Read this file; its answer goes to the continuation.
    Read(PathBuf, Then<T>),
    /// Run this program; its answer goes to the continuation.
    Run(Command, Then<T>),
    /// Finished.
    Done(T),
}

impl<T> fmt::Debug for Next<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Next::Send(..) => "Next::Send",
            Next::Read(..) => "Next::Read",
            Next::Run(..) => "Next::Run",
            Next::Done(_) => "Next::Done",
        })
    }
}

impl<T: 'static> Next<T> {
    /// Runs a one-request `flow` (a [`Call`](crate::flow::Call) or a map of one), then
    /// `then` with its output.
    pub fn flow<F>(
        mut flow: F,
        now: SystemTime,
        then: impl FnOnce(F::Output, SystemTime) -> Result<Next<T>, Error> + Send + 'static,
    ) -> Result<Next<T>, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
    {
        let Step::Send(request) = flow.poll(now)? else {
            return Err(Misuse("a step's flow starts with a request").into());
        };
        Ok(Next::Send(
            request,
            Box::new(move |input, now| {
                let Input::Response(response) = input else {
                    return Err(Misuse("a request step was fed another answer").into());
                };
                flow.handle_response(response, now);
                match flow.poll(now)? {
                    Step::Done(output) => then(output, now),
                    _ => Err(Misuse("a step's flow is a single request").into()),
                }
            }),
        ))
    }
}

/// An operation made of [`Next`] steps: each names one action and what to do with its
/// answer (how the sources with several exchanges are written).
pub struct Steps<T> {
    state: State<T>,
}

#[allow(clippy::large_enum_variant)] // one per operation; boxing buys nothing
enum State<T> {
    /// Another operation runs first; its output is the next step.
    First(BoxedOp<Result<Next<T>, Error>>),
    Ready(Result<Next<T>, Error>),
    Waiting(Then<T>),
    Finished,
}

impl<T> fmt::Debug for Steps<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.state {
            State::First(_) => "Steps(first)",
            State::Ready(_) => "Steps(ready)",
            State::Waiting(_) => "Steps(waiting)",
            State::Finished => "Steps(finished)",
        })
    }
}

impl<T> Steps<T> {
    /// The operation that starts with `first`.
    pub fn new(first: Result<Next<T>, Error>) -> Self {
        Self {
            state: State::Ready(first),
        }
    }
}

impl<T: 'static> Steps<T> {
    /// The operation that runs `first`, then the steps `then` makes of its output.
    pub fn after<X: 'static>(
        first: BoxedOp<X>,
        then: impl FnOnce(X, SystemTime) -> Result<Next<T>, Error> + Send + 'static,
    ) -> Self {
        Self {
            state: State::First(Box::new(AndThen {
                first,
                then: Some(Box::new(then)),
            })),
        }
    }
}

type Continue<X, T> = Box<dyn FnOnce(X, SystemTime) -> Result<Next<T>, Error> + Send>;

/// An operation whose output is passed to a continuation.
struct AndThen<X, T> {
    first: BoxedOp<X>,
    then: Option<Continue<X, T>>,
}

impl<X, T> Operation for AndThen<X, T> {
    type Output = Result<Next<T>, Error>;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Self::Output>, Error> {
        match self.first.poll(now)?.pass() {
            Ok(action) => Ok(action),
            Err(output) => match self.then.take() {
                Some(then) => Ok(Action::Done(then(output, now))),
                None => Err(Misuse("polled after the operation finished").into()),
            },
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        self.first.handle(input, now);
    }
}

impl<T> Operation for Steps<T> {
    type Output = T;

    fn poll(&mut self, now: SystemTime) -> Result<Action<T>, Error> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::First(mut first) => match first.poll(now)? {
                Action::Done(next) => {
                    self.state = State::Ready(next);
                    self.poll(now)
                }
                action => {
                    self.state = State::First(first);
                    match action.pass() {
                        Ok(action) => Ok(action),
                        Err(_) => Err(Misuse("a finished step was not taken").into()),
                    }
                }
            },
            State::Ready(next) => match next? {
                Next::Send(request, then) => {
                    self.state = State::Waiting(then);
                    Ok(Action::Send(request))
                }
                Next::Read(path, then) => {
                    self.state = State::Waiting(then);
                    Ok(Action::Read(path))
                }
                Next::Run(command, then) => {
                    self.state = State::Waiting(then);
                    Ok(Action::Run(command))
                }
                Next::Done(output) => Ok(Action::Done(output)),
            },
            State::Waiting(then) => {
                self.state = State::Waiting(then);
                Err(Misuse("polled before the last action was answered").into())
            }
            State::Finished => Err(Misuse("polled after the operation finished").into()),
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        self.state = match std::mem::replace(&mut self.state, State::Finished) {
            State::First(mut first) => {
                first.handle(input, now);
                State::First(first)
            }
            State::Waiting(then) => State::Ready(then(input, now)),
            _ => State::Ready(Err(
                Misuse("an answer to an action that was not asked for").into()
            )),
        };
    }
}
