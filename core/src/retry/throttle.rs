//! A retry budget shared across requests, as in gRPC's retry throttling.

use std::sync::Mutex;

/// A token bucket that stops retries when many requests are failing.
///
/// Every failed attempt takes one token; every success gives back `token_ratio`.
/// Retries are allowed only while more than half of `max_tokens` remain. When a
/// service is down for everyone, this turns N clients × M retries into roughly N
/// requests, and it recovers as successes come back. Share one `Arc<RetryThrottle>`
/// between the [`RetryPolicy`](super::RetryPolicy) values of the calls that should
/// share the budget.
#[derive(Debug)]
pub struct RetryThrottle {
    max_tokens: f64,
    token_ratio: f64,
    tokens: Mutex<f64>,
}

impl RetryThrottle {
    /// A full bucket of `max_tokens` (at least 1) refilled by `token_ratio` (clamped to
    /// `0.0..=max_tokens`) per success. gRPC's examples use 10 and 0.1.
    pub fn new(max_tokens: f64, token_ratio: f64) -> Self {
        let max_tokens = if max_tokens.is_finite() {
            max_tokens.max(1.0)
        } else {
            10.0
        };
        let token_ratio = if token_ratio.is_finite() {
            token_ratio.clamp(0.0, max_tokens)
        } else {
            0.1
        };
        Self {
            max_tokens,
            token_ratio,
            tokens: Mutex::new(max_tokens),
        }
    }

    /// Whether a retry may be attempted now.
    pub fn allows_retry(&self) -> bool {
        self.tokens() > self.max_tokens / 2.0
    }

    /// Records a failed attempt.
    pub fn record_failure(&self) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *tokens = (*tokens - 1.0).max(0.0);
    }

    /// Records a successful attempt.
    pub fn record_success(&self) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *tokens = (*tokens + self.token_ratio).min(self.max_tokens);
    }

    /// The tokens left.
    pub fn tokens(&self) -> f64 {
        *self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for RetryThrottle {
    fn default() -> Self {
        Self::new(10.0, 0.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_close_the_bucket_and_successes_reopen_it() {
        let throttle = RetryThrottle::new(10.0, 0.5);
        assert!(throttle.allows_retry());
        for _ in 0..5 {
            throttle.record_failure();
        }
        assert_eq!(throttle.tokens(), 5.0);
        assert!(!throttle.allows_retry(), "exactly half is not enough");
        throttle.record_success();
        assert!(throttle.allows_retry());
        for _ in 0..100 {
            throttle.record_failure();
        }
        assert_eq!(throttle.tokens(), 0.0);
        for _ in 0..100 {
            throttle.record_success();
        }
        assert_eq!(throttle.tokens(), 10.0);
    }
}
