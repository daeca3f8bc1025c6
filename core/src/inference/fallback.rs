//! Model fallback, as a pure policy: which model to try next when one cannot answer,
//! and for how long a model stays unavailable.
//!
//! ```text
//!  requested model ──available?──▶ try it ──ok──▶ done
//!        │ no (cooling down, removed)     │ capacity: one short retry (≤ 5 s), then
//!        ▼                                │   unavailable for max(30 s, Google's delay)
//!  next in its chain ◀────────────────────┤ quota_exhausted: unavailable until reset
//!  (the rules of `models` over the        │ model_not_found: removed for the client's life
//!   models the target lists)              │ anything else: the error, no fallback
//!        │ chain exhausted                ▼
//!        ▼                          a ModelSwitch { from, to, why } for the host
//!  the last error
//! ```
//!
//! Fallback never happens after a streamed answer delivered text: only the opening of
//! a call falls back.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use crate::error::ErrorClass;

/// How models fall back; part of the client's configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FallbackPolicy {
    /// Off: a model's failure is the call's failure.
    pub enabled: bool,
    /// How long a model that answered `capacity` is left alone (at least).
    pub capacity_cooldown: Duration,
    /// How long a model out of quota is left alone when Google gave no reset time.
    pub quota_cooldown: Duration,
    /// The longest server delay a capacity error is retried on the same model for.
    pub same_model_retry: Duration,
    /// Chains replacing the defaults: model → the model to try after it.
    pub chains: BTreeMap<String, String>,
}

impl Default for FallbackPolicy {
    fn default() -> Self {
        Self {
            enabled: true,
            capacity_cooldown: Duration::from_secs(30),
            quota_cooldown: Duration::from_secs(3600),
            same_model_retry: Duration::from_secs(5),
            chains: BTreeMap::new(),
        }
    }
}

impl FallbackPolicy {
    /// The model tried after `model`: the configured chain, else the rules of
    /// [`crate::inference::models`] over the models the target lists (`listed`).
    pub fn next_model(&self, model: &str, listed: &[String]) -> Option<String> {
        if let Some(next) = self.chains.get(model) {
            return Some(next.clone()).filter(|next| next != model);
        }
        super::models::fallback_among(model, listed.iter().map(String::as_str))
    }

    /// `model` and the models after it among `listed`, each once (at most 8).
    pub fn chain(&self, model: &str, listed: &[String]) -> Vec<String> {
        let mut chain = vec![model.to_owned()];
        while chain.len() < 8 {
            match self.next_model(chain.last().map_or(model, String::as_str), listed) {
                Some(next) if !chain.contains(&next) => chain.push(next),
                _ => break,
            }
        }
        chain
    }
}

/// A switch from one model to another, for the host to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ModelSwitch {
    /// The model that could not answer.
    pub from: String,
    /// The model tried instead.
    pub to: String,
    /// Why: the class of `from`'s failure (`capacity`, `quota_exhausted`,
    /// `model_not_found`), or `unavailable` when it was still cooling down.
    pub why: String,
}

/// Until when a model is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    Time(SystemTime),
    Forever,
}

/// How long a target's list of models is trusted before it is asked again.
pub const LISTED_MODELS_MAX_AGE: Duration = Duration::from_secs(3600);

/// Which models are unavailable, and until when, and which models each target lists:
/// shared by a client's clones.
#[derive(Debug, Default)]
pub struct ModelAvailability {
    unavailable: HashMap<String, Until>,
    /// When each model's quota resets, from the last quota buckets read.
    resets: HashMap<String, SystemTime>,
    /// The models each target (by kind) listed, and when.
    listed: HashMap<String, (SystemTime, Vec<String>)>,
    /// When listing a target's models last failed.
    listing_failed: HashMap<String, SystemTime>,
}

/// How long after a failed listing the built-in list is used without asking again.
const LISTING_RETRY: Duration = Duration::from_secs(300);

impl ModelAvailability {
    /// True when `model` may be tried at `now`.
    pub fn available(&self, model: &str, now: SystemTime) -> bool {
        match self.unavailable.get(model) {
            None => true,
            Some(Until::Forever) => false,
            Some(Until::Time(until)) => *until <= now,
        }
    }

    /// Remembers the models the target `scope` listed at `now` (`models.list`, or Code
    /// Assist's quota buckets), ids without `models/`.
    pub fn note_listed<'a>(
        &mut self,
        scope: &str,
        ids: impl IntoIterator<Item = &'a str>,
        now: SystemTime,
    ) {
        let ids = ids
            .into_iter()
            .map(|id| id.strip_prefix("models/").unwrap_or(id).to_owned())
            .collect();
        self.listed.insert(scope.to_owned(), (now, ids));
    }

    /// The models the target `scope` listed within [`LISTED_MODELS_MAX_AGE`] of `now`.
    pub fn listed(&self, scope: &str, now: SystemTime) -> Option<Vec<String>> {
        let (at, ids) = self.listed.get(scope)?;
        let age = now.duration_since(*at).unwrap_or_default();
        (age <= LISTED_MODELS_MAX_AGE && !ids.is_empty()).then(|| ids.clone())
    }

    /// Remembers that listing the models of `scope` failed at `now`.
    pub fn note_listing_failed(&mut self, scope: &str, now: SystemTime) {
        self.listing_failed.insert(scope.to_owned(), now);
    }

    /// True when the models of `scope` should be listed at `now`: no recent list, and
    /// no failed attempt in the last five minutes.
    pub fn should_list(&self, scope: &str, now: SystemTime) -> bool {
        let failed_recently = self
            .listing_failed
            .get(scope)
            .is_some_and(|at| now.duration_since(*at).unwrap_or_default() < LISTING_RETRY);
        self.listed(scope, now).is_none() && !failed_recently
    }

    /// Remembers when models' quotas reset (from quota buckets), for a
    /// `quota_exhausted` answer that gives no delay.
    pub fn note_resets<'a>(&mut self, resets: impl IntoIterator<Item = (&'a str, SystemTime)>) {
        for (model, reset) in resets {
            self.resets.insert(model.to_owned(), reset);
        }
    }

    /// Records that `model` (a key `{target}:{model}`, or a bare model) failed with
    /// `class` (and Google's `delay`) at `now`; true when the failure is one that
    /// falls back. A quota without a delay rests until its bucket's reset when known.
    pub fn record(
        &mut self,
        policy: &FallbackPolicy,
        model: &str,
        class: ErrorClass,
        delay: Option<Duration>,
        now: SystemTime,
    ) -> bool {
        let until = match class {
            ErrorClass::Capacity => {
                Until::Time(now + delay.unwrap_or_default().max(policy.capacity_cooldown))
            }
            ErrorClass::QuotaExhausted => {
                let bare = model.rsplit(':').next().unwrap_or(model);
                let reset = self.resets.get(bare).copied().filter(|reset| *reset > now);
                Until::Time(match (delay, reset) {
                    (Some(delay), _) => now + delay,
                    (None, Some(reset)) => reset,
                    (None, None) => now + policy.quota_cooldown,
                })
            }
            ErrorClass::ModelNotFound => Until::Forever,
            _ => return false,
        };
        self.unavailable.insert(model.to_owned(), until);
        true
    }
}
