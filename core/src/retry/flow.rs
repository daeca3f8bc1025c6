//! The retry combinator: wraps any flow and retries its failed requests.
//!
//! ```text
//!            inner.poll ──Send──▶ InFlight ──answer──▶ policy.decide
//!   Idle ◀─────────────────────────┐                     │ RetryAfter(d)
//!    │  inner Wait/Done pass through│ success, or a       ▼
//!    │                              │ decision other  Waiting(d) ──poll──▶ Wait(d)
//!    │                              │ than retry: the      │
//!    │                              │ answer goes to  Resend ──poll──▶ Send(same request)
//!    │                              └── the inner flow ◀───┘            │
//!    ▼                                                                   ▼
//!  Finished (inner Done, or its error wrapped with the history)       InFlight
//! ```

use std::time::{Duration, SystemTime};

use rand_core::Rng;

use super::policy::{AttemptState, Decision, RetryPolicy};
use crate::Error;
use crate::error::{ApiError, ErrorClass};
use crate::flow::{Flow, Misuse, Request, Response, Step, TransportError};

/// What happened across all attempts of a wrapped flow.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct RetryHistory {
    /// HTTP attempts made, first attempts and retries together.
    pub attempts: u32,
    /// How many of them were retries.
    pub retries: u32,
    /// Every retry wait, in order.
    pub waits: Vec<Duration>,
    /// The class of the last failed attempt.
    pub last_class: Option<ErrorClass>,
    /// The decision that ended retrying, when one did (fallback, give up, re-authenticate).
    pub final_decision: Option<Decision>,
}

impl RetryHistory {
    /// The sum of all retry waits.
    pub fn total_waited(&self) -> Duration {
        self.waits.iter().sum()
    }
}

/// A flow whose failed requests are retried according to a [`RetryPolicy`].
///
/// Each request the inner flow emits is remembered; when its answer is a failure the
/// policy says to retry, the answer is withheld from the inner flow, a
/// [`Step::Wait`] is emitted, and the same request is sent again. Any other answer
/// (success, or a failure the policy will not retry) goes to the inner flow, which
/// decides what it means (a flow with fallback endpoints tries the next one). If the
/// flow then fails, the error comes back as [`Error::Retried`] with the whole
/// [`RetryHistory`].
///
/// The caller's random source seeds the jitter of computed backoffs.
#[derive(Debug)]
pub struct Retry<F> {
    inner: F,
    policy: RetryPolicy,
    random: crate::SplitMix64,
    state: State,
    history: RetryHistory,
    request: Option<Request>,
    attempt: AttemptState,
    request_started: SystemTime,
}

#[derive(Debug)]
enum State {
    Idle,
    InFlight,
    Waiting(Duration),
    Resend,
    Finished,
    Misused(&'static str),
}

impl<F> Retry<F>
where
    F: Flow<Error = Error>,
{
    /// Wraps `inner`, retrying its requests under `policy`; `random` seeds the jitter.
    pub fn new<R: Rng + ?Sized>(inner: F, policy: RetryPolicy, random: &mut R) -> Self {
        Self {
            inner,
            policy,
            random: crate::SplitMix64::seeded_from(random),
            state: State::Idle,
            history: RetryHistory::default(),
            request: None,
            attempt: AttemptState::default(),
            request_started: SystemTime::UNIX_EPOCH,
        }
    }

    /// What happened so far.
    pub fn history(&self) -> &RetryHistory {
        &self.history
    }

    /// The wrapped flow.
    pub fn inner(&self) -> &F {
        &self.inner
    }

    fn fail(&mut self, error: Error) -> Error {
        self.state = State::Finished;
        Error::Retried {
            error: Box::new(error),
            history: Box::new(self.history.clone()),
        }
    }
}

impl<F> Flow for Retry<F>
where
    F: Flow<Error = Error>,
{
    type Output = F::Output;
    type Error = Error;

    fn poll(&mut self, now: SystemTime) -> Result<Step<F::Output>, Error> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Waiting(wait) => {
                self.state = State::Resend;
                Ok(Step::Wait(wait))
            }
            State::Resend => match self.request.clone() {
                Some(request) => {
                    self.state = State::InFlight;
                    Ok(Step::Send(request))
                }
                None => Err(self.fail(Misuse("nothing to resend").into())),
            },
            State::InFlight => {
                self.state = State::InFlight;
                Err(Misuse("polled before the response was handled").into())
            }
            State::Finished => {
                self.state = State::Finished;
                Err(Misuse("polled after the flow finished").into())
            }
            State::Misused(what) => Err(self.fail(Misuse(what).into())),
            State::Idle => match self.inner.poll(now) {
                Ok(Step::Send(request)) => {
                    self.request = Some(request.clone());
                    self.attempt = AttemptState::default();
                    self.request_started = now;
                    self.state = State::InFlight;
                    Ok(Step::Send(request))
                }
                Ok(Step::Wait(wait)) => Ok(Step::Wait(wait)),
                Ok(Step::Done(output)) => {
                    self.state = State::Finished;
                    Ok(Step::Done(output))
                }
                Err(error) => Err(self.fail(error)),
            },
        }
    }

    fn handle_response(&mut self, response: Result<Response, TransportError>, now: SystemTime) {
        if !matches!(self.state, State::InFlight) {
            self.state = State::Misused("response handled while no request was outstanding");
            return;
        }
        self.attempt.attempts = self.attempt.attempts.saturating_add(1);
        self.attempt.elapsed = now.duration_since(self.request_started).unwrap_or_default();
        self.history.attempts = self.history.attempts.saturating_add(1);

        let failure = match &response {
            Ok(ok) if ok.status().as_u16() < 400 => None,
            Ok(failed) => Some(ApiError::from_response(failed, now)),
            Err(transport) => Some(ApiError::from_transport(transport)),
        };
        let Some(failure) = failure else {
            if let Some(throttle) = &self.policy.throttle {
                throttle.record_success();
            }
            self.state = State::Idle;
            self.inner.handle_response(response, now);
            return;
        };
        if let Some(throttle) = &self.policy.throttle {
            throttle.record_failure();
        }
        self.history.last_class = Some(failure.class());
        match self.policy.decide(&failure, self.attempt, &mut self.random) {
            Decision::RetryAfter(wait) => {
                tracing::info!(
                    target: "codeassist::retry",
                    class = %failure.class(),
                    wait = %crate::error::format_delay(wait),
                    "retrying"
                );
                self.history.retries = self.history.retries.saturating_add(1);
                self.history.waits.push(wait);
                self.state = State::Waiting(wait);
            }
            decision => {
                if decision == Decision::Reauthenticate {
                    self.attempt.reauthenticated = true;
                }
                self.history.final_decision = Some(decision);
                self.state = State::Idle;
                self.inner.handle_response(response, now);
            }
        }
    }
}
