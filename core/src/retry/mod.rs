//! Retrying failed requests: a policy, a pure decision function, a combinator that
//! wraps any flow, and an optional budget shared across calls.
//!
//! [`RetryPolicy::decide`] looks at a classified [`ApiError`](crate::ApiError), the
//! attempts made, the time spent and a random source, and answers with a
//! [`Decision`]:
//!
//! - `auth` (401): [`Decision::Reauthenticate`] once, then give up;
//! - a class that is not retryable: [`Decision::Fallback`] when another model or
//!   provider would do (`capacity`, `quota_exhausted`, `billing`, `model_not_found`,
//!   `context_overflow`), else [`Decision::GiveUp`];
//! - a retryable class: [`Decision::RetryAfter`] with the server's delay when it gave
//!   one (`RetryInfo`, then `Retry-After`), else an exponential backoff with jitter;
//!   unless attempts or the time budget run out (for `capacity`, its own smaller
//!   ones), the shared throttle is closed, or the server asks for more than
//!   `max_server_delay`; then `rate_limit` and `capacity` fall back and the rest give
//!   up, the server's delay still reported.
//!
//! [`Retry`] wraps a flow and applies the policy to every request it sends, emitting
//! the waits as [`Step::Wait`](crate::flow::Step::Wait) (it never sleeps).
//!
//! # Defaults, and why
//!
//! | setting | default | reasoning |
//! |---|---|---|
//! | `max_attempts` | 10 | Google's Gemini CLI retries 429 and 5xx up to 10 attempts in all |
//! | `initial_delay` | 5 s | the Gemini CLI's first backoff; Code Assist rate limits are per minute, so shorter waits mostly fail again |
//! | `multiplier` | 2 | the usual doubling |
//! | `max_delay` | 30 s | the Gemini CLI's cap on computed backoff |
//! | `total_budget` | 300 s | one request never holds a host for more than five minutes |
//! | `jitter` | full | spreads clients that failed together (the Gemini CLI uses ±30 %; full jitter spreads better) |
//! | `max_server_delay` | 120 s | honour Google's `retryDelay` for per-minute limits (often 10-60 s); a longer wait is a reason to switch model, not to freeze |
//! | `throttle` | off | a host with many concurrent calls opts in |
//! | `capacity_attempts` | 3 | a model out of capacity rarely recovers in seconds: two same-model retries (as Google's CLI), then the host decides |
//! | `capacity_budget` | 60 s | with no model left to fall back to, a capacity error reaches the host within a minute, not after `total_budget` |
//!
//! Server delays win over computed backoff because Google knows when the window
//! reopens; retrying earlier just spends another attempt.
//!
//! ```
//! use std::time::Duration;
//! use codeassist_core::error::ErrorClass;
//! use codeassist_core::retry::{AttemptState, Decision, RetryPolicy};
//!
//! # struct Zero;
//! # impl rand_core::TryRng for Zero {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok(0) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { Ok(0) }
//! #     fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> { dst.fill(0); Ok(()) }
//! # }
//! let policy = RetryPolicy::default().without_jitter();
//! let first_failure = AttemptState { attempts: 1, ..AttemptState::default() };
//! let server_says = Some(Duration::from_millis(1200));
//! assert_eq!(
//!     policy.decide_class(ErrorClass::RateLimit, server_says, first_failure, &mut Zero),
//!     Decision::RetryAfter(Duration::from_millis(1200))
//! );
//! assert_eq!(
//!     policy.decide_class(ErrorClass::RateLimit, Some(Duration::from_secs(3600)), first_failure, &mut Zero),
//!     Decision::Fallback { retry_delay: Some(Duration::from_secs(3600)) }
//! );
//! ```

mod flow;
mod policy;
mod throttle;

pub use flow::{Retry, RetryHistory};
pub use policy::{AttemptState, Decision, Jitter, RetryPolicy};
pub use throttle::RetryThrottle;
