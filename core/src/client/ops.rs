//! Small operations: any flow as an operation, and opening a stream with retries.

use std::time::SystemTime;

use super::{Action, Input, Operation};
use crate::Error;
use crate::error::ApiError;
use crate::flow::{Flow, Misuse, Request, Step};
use crate::retry::{AttemptState, Decision, RetryPolicy};

/// Any [`Flow`] as an [`Operation`]: its requests are `Send`s, its waits `Wait`s.
#[derive(Debug)]
pub struct FlowOp<F> {
    flow: F,
}

impl<F> FlowOp<F> {
    /// Wraps `flow`.
    pub fn new(flow: F) -> Self {
        Self { flow }
    }
}

impl<F: Flow<Error = Error>> Operation for FlowOp<F> {
    type Output = F::Output;

    fn poll(&mut self, now: SystemTime) -> Result<Action<F::Output>, Error> {
        Ok(match self.flow.poll(now)? {
            Step::Send(request) => Action::Send(request),
            Step::Wait(duration) => Action::Wait(duration),
            Step::Done(output) => Action::Done(output),
        })
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        match input {
            Input::Response(response) => self.flow.handle_response(response, now),
            // A flow never asks for these: answering is a misuse the flow reports.
            Input::Opened(_) | Input::Store(_) | Input::Read(_) | Input::Ran(_) => {
                self.flow.handle_response(
                    Err(crate::flow::TransportError::new(
                        crate::flow::TransportErrorKind::Other,
                        "a flow was fed an answer it did not ask for",
                    )),
                    now,
                )
            }
        }
    }
}

/// The status and headers of a streamed answer whose body the runtime kept.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Opened {
    /// The 2xx status.
    pub status: http::StatusCode,
    /// The answer's headers.
    pub headers: http::HeaderMap,
}

impl Opened {
    /// The status and headers of `parts`.
    pub fn new(status: http::StatusCode, headers: http::HeaderMap) -> Self {
        Self { status, headers }
    }
}

/// What a runtime got when it sent an [`Action::Open`]: a 2xx answer's head and the
/// body `S` it keeps for the host, or anything else read whole (or the transport
/// failure), to feed back as [`Input::Response`].
#[derive(Debug)]
pub enum Opening<S> {
    /// A 2xx answer: its status and headers, and the body to read as it arrives.
    Opened(Opened, S),
    /// Anything else.
    Answered(Result<crate::flow::Response, crate::flow::TransportError>),
}

/// Opens a streamed answer: sends `request` as [`Action::Open`]; a failure before the
/// first byte is classified and retried under the policy (feeding its throttle, when
/// it has one). The output is the opened answer's status and headers; the runtime
/// holds the body.
#[derive(Debug)]
pub struct OpenStream {
    request: Request,
    policy: RetryPolicy,
    random: crate::SplitMix64,
    attempt: AttemptState,
    started: Option<SystemTime>,
    stage: Stage,
}

#[derive(Debug)]
enum Stage {
    Ready,
    Opening,
    Answered(Input),
    Finished,
}

impl OpenStream {
    /// Opens `request` under `policy`; `random` seeds the jitter of computed backoff.
    pub fn new<R: rand_core::Rng + ?Sized>(
        request: Request,
        policy: RetryPolicy,
        random: &mut R,
    ) -> Self {
        Self {
            request,
            policy,
            random: crate::SplitMix64::seeded_from(random),
            attempt: AttemptState::default(),
            started: None,
            stage: Stage::Ready,
        }
    }
}

impl Operation for OpenStream {
    type Output = Opened;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Opened>, Error> {
        let started = *self.started.get_or_insert(now);
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Ready => {
                self.stage = Stage::Opening;
                Ok(Action::Open(self.request.clone()))
            }
            Stage::Opening => Err(Misuse("polled before the stream opened").into()),
            Stage::Finished => Err(Misuse("polled after the operation finished").into()),
            Stage::Answered(Input::Opened(opened)) => {
                if let Some(throttle) = &self.policy.throttle {
                    throttle.record_success();
                }
                Ok(Action::Done(opened))
            }
            Stage::Answered(Input::Response(answer)) => {
                let failure = match answer {
                    Ok(response) if response.status().is_success() => {
                        // A runtime that read a 2xx answer whole: it is still opened.
                        return Ok(Action::Done(Opened::new(
                            response.status(),
                            response.headers().clone(),
                        )));
                    }
                    Ok(response) => ApiError::from_response(&response, now),
                    Err(transport) => ApiError::from_transport(&transport),
                };
                if let Some(throttle) = &self.policy.throttle {
                    throttle.record_failure();
                }
                self.attempt.attempts += 1;
                self.attempt.elapsed = now.duration_since(started).unwrap_or_default();
                match self.policy.decide(&failure, self.attempt, &mut self.random) {
                    Decision::RetryAfter(wait) => {
                        tracing::info!(
                            target: "codeassist::retry",
                            class = %failure.class(),
                            wait = %crate::error::format_delay(wait),
                            "retrying"
                        );
                        self.stage = Stage::Ready;
                        Ok(Action::Wait(wait))
                    }
                    _ => Err(failure.into()),
                }
            }
            Stage::Answered(Input::Store(_) | Input::Read(_) | Input::Ran(_)) => {
                Err(Misuse("a stream was fed a store or file answer").into())
            }
        }
    }

    fn handle(&mut self, input: Input, _now: SystemTime) {
        self.stage = match self.stage {
            Stage::Opening => Stage::Answered(input),
            _ => Stage::Finished,
        };
    }
}
