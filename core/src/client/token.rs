//! The token operation: memory, store, lock, refresh, and the outage rules.

use std::time::{Duration, SystemTime};

use super::{Action, BoxedOp, Client, Input, Operation, StoreOp, StoreReply};
use crate::error::ErrorClass;
use crate::flow::Misuse;
use crate::flow::request::RequestTimeout;
use crate::oauth::Credentials;
use crate::source::CredentialSource;
use crate::{Error, Secret};

/// How access tokens are refreshed, and how long an outage may hold a caller.
///
/// | setting | default | why |
/// |---|---|---|
/// | `window` | 5 min | refresh before a token is near its end, as Google's libraries do |
/// | `attempt_timeout` | 5 s | the token endpoint answers in well under a second when it is up |
/// | `expired_budget` | 30 s | with no valid token there is nothing to hand out; a bounded wait, then a clear error |
/// | `expired_attempts` | 4 | a few tries inside that budget |
/// | `initial_backoff` | 1 s | doubled between tries |
///
/// With a token that is still valid, one attempt is made (never longer than the token
/// has left) and the current token is returned if it fails; the next call tries again.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// Refresh when fewer than this remain.
    pub window: Duration,
    /// The longest one refresh request may take.
    pub attempt_timeout: Duration,
    /// With an expired token: the most time spent refreshing, waits included.
    pub expired_budget: Duration,
    /// With an expired token: the most refresh attempts.
    pub expired_attempts: u32,
    /// The first wait between attempts; doubled each time.
    pub initial_backoff: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            window: crate::oauth::DEFAULT_REFRESH_WINDOW,
            attempt_timeout: Duration::from_secs(5),
            expired_budget: Duration::from_secs(30),
            expired_attempts: 4,
            initial_backoff: Duration::from_secs(1),
        }
    }
}

/// A valid access token, from memory, the store, or a refresh; see the
/// [module docs](super) for the states.
#[derive(Debug)]
pub struct TokenOp {
    client: Client,
    /// A token the server refused (401): it must not be handed out again.
    rejected: Option<Secret>,
    stage: Stage,
    input: Option<Input>,
    started: Option<SystemTime>,
    attempts: u32,
}

#[derive(Debug)]
enum Stage {
    Start,
    Loading,
    Locking,
    LoadingLocked,
    Refreshing {
        mint: Minting,
        current: Box<Credentials>,
        /// The longest each request of this attempt may take.
        timeout: Duration,
    },
    Saving(Secret),
    Unlocking(Outcome),
    Backoff,
    Finished,
}

/// The operation minting a token (its steps are the source's business).
struct Minting(BoxedOp<Credentials>);

impl std::fmt::Debug for Minting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minting")
    }
}

/// What the operation ends with once the lock is released.
#[derive(Debug)]
enum Outcome {
    Token(Secret),
    Fail(Error),
    Retry(Duration),
}

impl TokenOp {
    /// A token operation for `client`; `rejected` is a token a server just refused.
    pub(crate) fn new(client: Client, rejected: Option<Secret>) -> Self {
        Self {
            client,
            rejected,
            stage: Stage::Start,
            input: None,
            started: None,
            attempts: 0,
        }
    }

    /// A token operation that will not hand out `rejected` (a 401 just refused it):
    /// it refreshes unless another process already stored a different token.
    pub fn replacing(client: &Client, rejected: Secret) -> Self {
        Self::new(client.clone(), Some(rejected))
    }

    fn usable(&self, credentials: &Credentials, now: SystemTime) -> Option<Secret> {
        let token = credentials.valid_access_token(now, self.client.config.refresh.window)?;
        match &self.rejected {
            Some(rejected) if rejected.constant_time_eq(token.expose()) => None,
            _ => Some(token.clone()),
        }
    }

    /// Ends with `outcome` once the lock is released (at once for a source whose
    /// credentials live in memory only).
    fn unlock(&mut self, outcome: Outcome) -> Result<Action<Secret>, Error> {
        if self.in_memory() {
            return self.conclude(outcome);
        }
        self.stage = Stage::Unlocking(outcome);
        Ok(Action::Store(StoreOp::Unlock))
    }

    fn conclude(&mut self, outcome: Outcome) -> Result<Action<Secret>, Error> {
        match outcome {
            Outcome::Token(token) => Ok(Action::Done(token)),
            Outcome::Fail(error) => Err(error),
            Outcome::Retry(wait) => {
                self.stage = Stage::Backoff;
                Ok(Action::Wait(wait))
            }
        }
    }

    /// True when the source is not this library's own sign-in and its tokens are not
    /// cached: its credentials live in the client's memory (from the source's seed),
    /// never in the store.
    fn in_memory(&self) -> bool {
        !self.client.config.source.is_sign_in() && !self.caches_source_tokens()
    }

    /// True when the host asked for this source's access tokens to be kept in the
    /// store ([`ClientConfig::cache_source_tokens`](super::ClientConfig)).
    fn caches_source_tokens(&self) -> bool {
        let source = &self.client.config.source;
        self.client.config.cache_source_tokens
            && !source.is_sign_in()
            && !matches!(source, CredentialSource::Injected(_))
    }

    /// For a cached source: the source's own credentials (remembered, else its seed)
    /// with the stored access token when the store holds one of this source that
    /// lasts longer. What the store holds of another source, or a refresh token, is
    /// never taken.
    fn with_cached_token(&self, stored: Option<Box<Credentials>>) -> Option<Box<Credentials>> {
        let mut own = self
            .client
            .memory()
            .clone()
            .or_else(|| self.client.config.source.seed())?;
        if let Some(stored) = stored
            && source_fingerprint(&stored) == Some(cache_fingerprint(&own))
            && stored.expires_at > own.expires_at
        {
            own.access_token = stored.access_token;
            own.expires_at = stored.expires_at;
            own.scope = stored.scope;
            own.token_type = stored.token_type;
        }
        Some(Box::new(own))
    }

    /// For an in-memory source: the remembered credentials, else the source's seed,
    /// treated as if loaded under the lock.
    fn mint_in_memory(&mut self, now: SystemTime) -> Result<Action<Secret>, Error> {
        let current = self
            .client
            .memory()
            .clone()
            .or_else(|| self.client.config.source.seed())
            .map(Box::new);
        self.loaded(current, true, now)
    }

    fn loaded(
        &mut self,
        credentials: Option<Box<Credentials>>,
        locked: bool,
        now: SystemTime,
    ) -> Result<Action<Secret>, Error> {
        let credentials = match self.caches_source_tokens() {
            true => self.with_cached_token(credentials),
            false => credentials,
        };
        let Some(credentials) = credentials else {
            self.client.remember(None);
            return match locked {
                true => self.unlock(Outcome::Fail(Error::NotSignedIn)),
                false => Err(Error::NotSignedIn),
            };
        };
        self.client.remember(Some((*credentials).clone()));
        if let Some(token) = self.usable(&credentials, now) {
            if !locked {
                return Ok(Action::Done(token));
            }
            tracing::debug!("another process refreshed the token while this one waited");
            return self.unlock(Outcome::Token(token));
        }
        if !locked {
            self.stage = Stage::Locking;
            return Ok(self.lock(now));
        }
        match self.start_refresh(credentials, now) {
            Ok(action) => Ok(action),
            Err(error) => self.unlock(Outcome::Fail(error)),
        }
    }

    /// What is left at `now` of the time this call may take with an expired token
    /// ([`RefreshPolicy::expired_budget`](super::RefreshPolicy::expired_budget)),
    /// counted from its first poll.
    fn budget_left(&self, now: SystemTime) -> Duration {
        let elapsed = self
            .started
            .and_then(|started| now.duration_since(started).ok())
            .unwrap_or_default();
        self.client
            .config
            .refresh
            .expired_budget
            .saturating_sub(elapsed)
    }

    /// The store's lock, waited for no longer than the call's budget has left: the
    /// wait for another process counts against the bound like the refresh does.
    fn lock(&self, now: SystemTime) -> Action<Secret> {
        Action::Store(StoreOp::LockWithin(self.budget_left(now)))
    }

    fn start_refresh(
        &mut self,
        credentials: Box<Credentials>,
        now: SystemTime,
    ) -> Result<Action<Secret>, Error> {
        let mint = self.client.config.source.mint(
            &credentials,
            &self.client.config.oauth.endpoints.token,
            now,
        )?;
        let policy = &self.client.config.refresh;
        // One attempt never outlives the token it protects (when there is one left).
        let left = credentials.remaining(now);
        let timeout = match left.is_zero() {
            true => policy.attempt_timeout,
            false => policy.attempt_timeout.min(left),
        };
        // Nor the call's budget (the lock wait may have spent some of it).
        let timeout = timeout.min(self.budget_left(now).max(Duration::from_secs(1)));
        self.attempts += 1;
        self.step_refresh(Minting(mint), credentials, timeout, now)
    }

    /// The next action of a refresh: most sources send one request; workload identity
    /// federation and impersonation read a file, run a program or send several.
    fn step_refresh(
        &mut self,
        mut mint: Minting,
        current: Box<Credentials>,
        timeout: Duration,
        now: SystemTime,
    ) -> Result<Action<Secret>, Error> {
        let action = match mint.0.poll(now) {
            Ok(Action::Done(refreshed)) => return self.refreshed(Ok(refreshed), *current, now),
            Ok(Action::Send(mut request)) => {
                request.extensions_mut().insert(RequestTimeout(timeout));
                Action::Send(request)
            }
            Ok(Action::Store(_) | Action::Open(_)) => {
                let misuse = Misuse("a refresh asked for the store or a stream").into();
                return self.refreshed(Err(misuse), *current, now);
            }
            Ok(other) => match other.pass() {
                Ok(action) => action,
                Err(refreshed) => return self.refreshed(Ok(refreshed), *current, now),
            },
            Err(error) => return self.refreshed(Err(error), *current, now),
        };
        self.stage = Stage::Refreshing {
            mint,
            current,
            timeout,
        };
        Ok(action)
    }

    fn refreshed(
        &mut self,
        outcome: Result<Credentials, Error>,
        current: Credentials,
        now: SystemTime,
    ) -> Result<Action<Secret>, Error> {
        let error = match outcome {
            Ok(mut refreshed) => {
                self.client.count_refresh();
                refreshed.projects = current.projects;
                let token = refreshed.access_token.clone().unwrap_or_default();
                self.client.remember(Some(refreshed.clone()));
                if self.in_memory() {
                    return self.unlock(Outcome::Token(token));
                }
                let saved = match self.caches_source_tokens() {
                    true => cached_record(&refreshed),
                    false => refreshed,
                };
                self.stage = Stage::Saving(token);
                return Ok(Action::Store(StoreOp::Save(Box::new(saved))));
            }
            Err(error) => error,
        };
        let class = error.class();
        if class == Some(ErrorClass::AuthPermanent) {
            return self.unlock(Outcome::Fail(error));
        }
        // A failed refresh never takes away a token that still works.
        if !current.remaining(now).is_zero()
            && let Some(token) = current.access_token.clone().filter(|t| !t.is_empty())
            && self
                .rejected
                .as_ref()
                .is_none_or(|r| !r.constant_time_eq(token.expose()))
        {
            tracing::warn!(error = %error, "token refresh failed; the current token is still valid");
            return self.unlock(Outcome::Token(token));
        }
        let policy = &self.client.config.refresh;
        let transient = class.is_some_and(ErrorClass::retryable) && class != Some(ErrorClass::Auth);
        let elapsed = self
            .started
            .and_then(|started| now.duration_since(started).ok())
            .unwrap_or_default();
        let backoff = policy
            .initial_backoff
            .saturating_mul(1 << self.attempts.saturating_sub(1).min(16));
        let fits = elapsed + backoff + policy.attempt_timeout <= policy.expired_budget;
        if transient && self.attempts < policy.expired_attempts && fits {
            tracing::warn!(error = %error, wait = ?backoff, "token refresh failed; trying again");
            return self.unlock(Outcome::Retry(backoff));
        }
        self.unlock(Outcome::Fail(error))
    }

    fn advance(&mut self, stage: Stage, now: SystemTime) -> Result<Action<Secret>, Error> {
        let input = self.input.take();
        match (stage, input) {
            (Stage::Start, None) => {
                let remembered = self.client.memory().clone();
                if let Some(token) = remembered.and_then(|c| self.usable(&c, now)) {
                    return Ok(Action::Done(token));
                }
                if self.in_memory() {
                    return self.mint_in_memory(now);
                }
                self.stage = Stage::Loading;
                Ok(Action::Store(StoreOp::Load))
            }
            (Stage::Loading, Some(Input::Store(StoreReply::Loaded(credentials)))) => {
                self.loaded(credentials, false, now)
            }
            (Stage::Locking, Some(Input::Store(StoreReply::Done))) => {
                self.stage = Stage::LoadingLocked;
                Ok(Action::Store(StoreOp::Load))
            }
            (Stage::LoadingLocked, Some(Input::Store(StoreReply::Loaded(credentials)))) => {
                self.loaded(credentials, true, now)
            }
            (
                Stage::Refreshing {
                    mut mint,
                    current,
                    timeout,
                },
                input,
            ) => {
                // After a wait there is no input; anything else is the answer to the
                // mint's last action.
                if let Some(input) = input {
                    mint.0.handle(input, now);
                }
                self.step_refresh(mint, current, timeout, now)
            }
            (Stage::Saving(token), Some(Input::Store(StoreReply::Done))) => {
                self.unlock(Outcome::Token(token))
            }
            (Stage::Unlocking(outcome), Some(Input::Store(StoreReply::Done))) => {
                self.conclude(outcome)
            }
            (Stage::Backoff, None) if self.in_memory() => self.mint_in_memory(now),
            (Stage::Backoff, None) => {
                self.stage = Stage::Locking;
                Ok(self.lock(now))
            }
            (Stage::Finished, _) => Err(Misuse("polled after the operation finished").into()),
            (_, None) => Err(Misuse("polled before the last action was answered").into()),
            (_, Some(_)) => Err(Misuse("an answer to an action that was not asked for").into()),
        }
    }
}

/// The key under which a cached record names its source.
const SOURCE_KEY: &str = "source";

/// What a cached record of another source holds: the access token, its expiry, scope
/// and type, the account, and the source's fingerprint; no refresh token, no secret.
fn cached_record(credentials: &Credentials) -> Credentials {
    let mut record = Credentials::new(credentials.client_id.clone(), None, "");
    record.access_token = credentials.access_token.clone();
    record.expires_at = credentials.expires_at;
    record.scope = credentials.scope.clone();
    record.token_type = credentials.token_type.clone();
    record.email = credentials.email.clone();
    record.extra.insert(
        SOURCE_KEY.to_owned(),
        serde_json::Value::String(cache_fingerprint(credentials)),
    );
    record
}

/// The fingerprint a cached record carries.
fn source_fingerprint(record: &Credentials) -> Option<String> {
    record.extra.get(SOURCE_KEY)?.as_str().map(str::to_owned)
}

/// Who the tokens belong to: the client (or account) and the refresh token, hashed
/// (SHA-256, the first 16 bytes in hex), so two people on one gcloud client never share
/// a cached token and the refresh token cannot be read back from it.
fn cache_fingerprint(credentials: &Credentials) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(credentials.client_id.as_bytes());
    hasher.update([0]);
    hasher.update(credentials.refresh_token.expose().as_bytes());
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Operation for TokenOp {
    type Output = Secret;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Secret>, Error> {
        self.started.get_or_insert(now);
        let stage = std::mem::replace(&mut self.stage, Stage::Finished);
        self.advance(stage, now)
    }

    fn handle(&mut self, input: Input, _now: SystemTime) {
        self.input = Some(input);
    }
}
