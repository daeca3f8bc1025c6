//! The retry policy and its pure decision function.

use std::time::Duration;

use rand_core::Rng;

use super::throttle::RetryThrottle;
use crate::error::{ApiError, ErrorClass};
use std::sync::Arc;

/// How computed backoff delays are randomised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// A uniform draw from `[0, backoff]` ("full jitter"): spreads a herd of clients
    /// best. The default.
    #[default]
    Full,
    /// A uniform draw from `[backoff / 2, backoff]`: never retries immediately.
    Equal,
    /// The backoff itself: deterministic, for tests.
    None,
}

/// When and how often to retry a failed request. See the [module docs](super) for the
/// defaults and why. Build one with struct update syntax over `Default`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Most attempts per request, the first included (1 = never retry).
    pub max_attempts: u32,
    /// The computed backoff before the second attempt.
    pub initial_delay: Duration,
    /// How much the computed backoff grows per attempt.
    pub multiplier: f64,
    /// The largest computed backoff (before jitter).
    pub max_delay: Duration,
    /// The most time one request may take, waits included, from its first attempt.
    pub total_budget: Duration,
    /// How computed backoffs are randomised.
    pub jitter: Jitter,
    /// The longest server-requested delay (`RetryInfo`, `Retry-After`) honoured in-line.
    /// Past it the decision is to fall back or give up, with the delay reported.
    pub max_server_delay: Duration,
    /// An optional budget shared across requests (see [`RetryThrottle`]); off by default.
    pub throttle: Option<Arc<RetryThrottle>>,
    /// Most attempts of one request while the model answers `capacity`, the first
    /// included (3: two same-model retries). Capacity rarely comes back within
    /// seconds; with no other model to fall back to, the host hears of it soon.
    pub capacity_attempts: u32,
    /// The most time one request may spend on `capacity` answers, waits included,
    /// from its first attempt.
    pub capacity_budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_delay: Duration::from_secs(5),
            multiplier: 2.0,
            max_delay: Duration::from_secs(30),
            total_budget: Duration::from_secs(300),
            jitter: Jitter::Full,
            max_server_delay: Duration::from_secs(120),
            throttle: None,
            capacity_attempts: 3,
            capacity_budget: Duration::from_secs(60),
        }
    }
}

/// What to do about a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Send the same request again after this wait.
    RetryAfter(Duration),
    /// Refresh the access token, then retry once.
    Reauthenticate,
    /// This model or provider will not serve the request soon: switch. `retry_delay`
    /// is what the server asked for, if anything.
    Fallback {
        /// The server's requested delay, when it gave one.
        retry_delay: Option<Duration>,
    },
    /// Stop and report the error. `retry_delay` is what the server asked for, if
    /// anything.
    GiveUp {
        /// The server's requested delay, when it gave one.
        retry_delay: Option<Duration>,
    },
}

/// Where a request stands when an attempt fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttemptState {
    /// Attempts made so far, the failed one included (1 after the first failure).
    pub attempts: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// Whether a re-authentication was already tried for this request.
    pub reauthenticated: bool,
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The same policy without jitter: deterministic waits, for tests.
    pub fn without_jitter(mut self) -> Self {
        self.jitter = Jitter::None;
        self
    }

    /// Decides what to do after a failed attempt classified as `error`.
    ///
    /// Pure and deterministic for a given `random` source (drawn from only when a
    /// computed backoff is jittered).
    pub fn decide<R: Rng + ?Sized>(
        &self,
        error: &ApiError,
        state: AttemptState,
        random: &mut R,
    ) -> Decision {
        self.decide_class(error.class(), error.retry_delay(), state, random)
    }

    /// [`RetryPolicy::decide`] from the class and the server's delay alone.
    pub fn decide_class<R: Rng + ?Sized>(
        &self,
        class: ErrorClass,
        server_delay: Option<Duration>,
        state: AttemptState,
        random: &mut R,
    ) -> Decision {
        let stop = || {
            if class.fallback() || matches!(class, ErrorClass::RateLimit) {
                Decision::Fallback {
                    retry_delay: server_delay,
                }
            } else {
                Decision::GiveUp {
                    retry_delay: server_delay,
                }
            }
        };
        if class == ErrorClass::Auth {
            return if state.reauthenticated {
                Decision::GiveUp {
                    retry_delay: server_delay,
                }
            } else {
                Decision::Reauthenticate
            };
        }
        if !class.retryable() {
            return if class.fallback() {
                Decision::Fallback {
                    retry_delay: server_delay,
                }
            } else {
                Decision::GiveUp {
                    retry_delay: server_delay,
                }
            };
        }
        if state.attempts >= self.max_attempts {
            return stop();
        }
        let capacity = class == ErrorClass::Capacity;
        if capacity && state.attempts >= self.capacity_attempts {
            return stop();
        }
        if let Some(throttle) = &self.throttle
            && !throttle.allows_retry()
        {
            return stop();
        }
        let wait = match server_delay {
            Some(delay) if delay > self.max_server_delay => return stop(),
            Some(delay) => delay,
            None => self.backoff(state.attempts, random),
        };
        if state.elapsed.saturating_add(wait) > self.total_budget {
            return stop();
        }
        if capacity && state.elapsed.saturating_add(wait) > self.capacity_budget {
            return stop();
        }
        Decision::RetryAfter(wait)
    }

    /// The computed, jittered backoff after `attempts` failed attempts.
    pub fn backoff<R: Rng + ?Sized>(&self, attempts: u32, random: &mut R) -> Duration {
        let exponent = attempts.saturating_sub(1).min(64) as i32;
        let multiplier = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let ceiling = self.max_delay.as_secs_f64();
        let base = (self.initial_delay.as_secs_f64() * multiplier.powi(exponent)).min(ceiling);
        let base = if base.is_finite() && base >= 0.0 {
            base
        } else {
            ceiling
        };
        let mut unit = || (random.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let seconds = match self.jitter {
            Jitter::None => base,
            Jitter::Full => base * unit(),
            Jitter::Equal => base / 2.0 + base / 2.0 * unit(),
        };
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// The longest single wait this policy can ask for.
    pub fn max_single_wait(&self) -> Duration {
        self.max_delay.max(self.max_server_delay)
    }
}
