//! The client every runtime drives: the token lifecycle, the cross-process refresh
//! protocol, the 401 → refresh → retry rule, stream opening and the project cache,
//! written once as operations a runtime steps.
//!
//! An [`Operation`] is a [`Flow`](crate::flow::Flow) that can also ask for store work
//! and for a streamed request. Each [`Operation::poll`] answers with one [`Action`]:
//!
//! ```text
//!            ┌──────────────────── poll(now) ────────────────────┐
//!   Action::Send(request)  ──▶ send, read the whole (capped) answer ──▶ Input::Response
//!   Action::Open(request)  ──▶ send; 2xx: keep the body for the host ──▶ Input::Opened
//!                                    other: read it whole            ──▶ Input::Response
//!   Action::Store(op)      ──▶ load / lock / save / delete / unlock  ──▶ Input::Store
//!   Action::Wait(duration) ──▶ sleep (the store lock is never held here)
//!   Action::Read(path)     ──▶ read a credential file (bounded)       ──▶ Input::Read
//!   Action::Run(command)   ──▶ run a program (bounded in time, output) ──▶ Input::Ran
//!   Action::Done(output)   ──▶ finished
//! ```
//!
//! A runtime's loop is the whole of its client logic: it performs the action and feeds
//! the outcome back with [`Operation::handle`]. A store failure ends the operation on
//! the runtime side (the lock guard is dropped with it); everything else is decided
//! here.
//!
//! # The token lifecycle
//!
//! ```text
//!  memory holds a token valid beyond the window ─────────────────────────▶ Done
//!        │ no
//!        ▼
//!  Load ── none ──▶ NotSignedIn          valid beyond the window ──▶ Done
//!        │ needs a refresh
//!        ▼
//!  Lock ─▶ Load (another process may have refreshed) ── fresh ──▶ Unlock ─▶ Done
//!        │ still needed
//!        ▼
//!  Send refresh (one attempt, short timeout, never longer than the token lives)
//!        │ ok ─────────────────────────────▶ Save ─▶ Unlock ─▶ Done(new token)
//!        │ invalid_grant ──────────────────▶ Unlock ─▶ sign in again
//!        │ any other failure, token still valid ──▶ Unlock ─▶ Done(current token)
//!        │ transient failure, token expired
//!        ▼
//!  Unlock ─▶ Wait(backoff) ─▶ Lock … (bounded: attempts and a total budget of its own)
//! ```
//!
//! [`RefreshPolicy`] holds the numbers. [`Client`] holds the configuration and an
//! in-memory copy of the credentials shared by every clone, so a warm
//! [`Client::access_token`] touches neither the store nor the network.
//!
//! [`MemoryRuntime`] runs any operation on a virtual clock with an in-memory store:
//! core's own conformance driver.

mod authenticated;
mod command;
mod fallback;
mod memory;
mod ops;
mod project;
mod sign_in;
mod steps;
mod token;

pub use authenticated::Authenticated;
pub use command::{Command, CommandOutput, MAX_COMMAND_OUTPUT};
pub use fallback::{Answered, FallbackOp, MakeForModel};
pub use memory::{MemoryRuntime, MemoryStore, Reply};
pub use ops::{FlowOp, OpenStream, Opened, Opening};
pub use project::{
    CachedProject, InProject, LogoutOp, MakeInProject, QuotaOp, ResolveProjectOp, SaveLogin,
    project_failure_drops_cache,
};
pub use sign_in::{SignIn, SignInOp};
pub use steps::{Next, Steps, Then};
pub use token::{RefreshPolicy, TokenOp};

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::Error;
use crate::code_assist::CodeAssistConfig;
use crate::flow::Misuse;
use crate::inference::{Chunk, Target};
use crate::source::CredentialSource;

/// An operation of any shape, boxed (what the target calls return).
pub type BoxedOp<T> = Box<dyn Operation<Output = T> + Send>;

/// A listing of models whose answer the client remembers for fallback.
struct NoteListed {
    client: Client,
    scope: &'static str,
    inner: BoxedOp<Vec<crate::inference::ModelInfo>>,
}

impl Operation for NoteListed {
    type Output = Vec<crate::inference::ModelInfo>;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Self::Output>, Error> {
        let action = self.inner.poll(now)?;
        if let Action::Done(models) = &action {
            let generating = models.iter().filter(|m| {
                m.methods.is_empty() || m.methods.iter().any(|g| g == "generateContent")
            });
            let ids: Vec<&str> = generating.map(|m| m.name.as_str()).collect();
            let mut known = self.client.models();
            match ids.is_empty() {
                // A list without a model to generate with tells fallback nothing.
                true => known.note_listing_failed(self.scope, now),
                false => known.note_listed(self.scope, ids, now),
            }
        }
        Ok(action)
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        self.inner.handle(input, now);
    }
}

/// An operation that fails at once (a request that could not be built).
#[derive(Debug)]
struct Failed<T>(Option<Error>, std::marker::PhantomData<fn() -> T>);

impl<T> Operation for Failed<T> {
    type Output = T;
    fn poll(&mut self, _now: SystemTime) -> Result<Action<T>, Error> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| Misuse("polled after the operation finished").into()))
    }
    fn handle(&mut self, _input: Input, _now: SystemTime) {}
}

/// The header that bills a call to a quota project.
pub const USER_PROJECT_HEADER: &str = "x-goog-user-project";
use crate::flow::{Request, Response, TransportError};
use crate::oauth::{Credentials, OAuthClient};

/// What an operation asks its runtime to do next.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // short-lived; boxing every request buys nothing
pub enum Action<T> {
    /// Send this request, read the whole answer, feed it as [`Input::Response`].
    Send(Request),
    /// Send this streaming request. On a 2xx answer keep the body for the host and
    /// feed [`Input::Opened`] with the status and headers; otherwise read the body
    /// whole and feed [`Input::Response`] (a transport failure too).
    Open(Request),
    /// Do this to the credential store and feed [`Input::Store`].
    Store(StoreOp),
    /// Wait this long, then poll again.
    Wait(Duration),
    /// Read this file (a credential file named by the environment or gcloud's), at most
    /// [`MAX_CREDENTIAL_FILE`](crate::source::MAX_CREDENTIAL_FILE) + 1 bytes, and feed
    /// [`Input::Read`].
    Read(std::path::PathBuf),
    /// Run this program (never through a shell), kill it at its timeout, and feed
    /// [`Input::Ran`].
    Run(Command),
    /// Finished with this output.
    Done(T),
}

impl<T> Action<T> {
    /// Splits a child's action: `Err(output)` when it is done, else the same action
    /// for a parent with another output type.
    pub fn pass<U>(self) -> Result<Action<U>, T> {
        match self {
            Action::Send(request) => Ok(Action::Send(request)),
            Action::Open(request) => Ok(Action::Open(request)),
            Action::Store(op) => Ok(Action::Store(op)),
            Action::Wait(duration) => Ok(Action::Wait(duration)),
            Action::Read(path) => Ok(Action::Read(path)),
            Action::Run(command) => Ok(Action::Run(command)),
            Action::Done(output) => Err(output),
        }
    }
}

/// The store work an operation asks for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoreOp {
    /// Read the stored credentials (under the lock when it is held). Answer:
    /// [`StoreReply::Loaded`].
    Load,
    /// Take the store's exclusive lock. Answer: [`StoreReply::Done`].
    Lock,
    /// Take the store's exclusive lock, waiting at most this long for another process
    /// to release it (the call's own time bound, which the wait counts against).
    /// Answer: [`StoreReply::Done`], or the store's lock timeout as an error.
    LockWithin(std::time::Duration),
    /// Replace the stored credentials; only asked while the lock is held.
    Save(Box<Credentials>),
    /// Delete the stored credentials; only asked while the lock is held.
    Delete,
    /// Release the lock.
    Unlock,
}

/// The answer to a [`StoreOp`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StoreReply {
    /// What [`StoreOp::Load`] read.
    Loaded(Option<Box<Credentials>>),
    /// Any other operation succeeded.
    Done,
}

/// What a runtime feeds an operation after performing an [`Action`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Input {
    /// The answer to [`Action::Send`], or to an [`Action::Open`] that was not 2xx.
    Response(Result<Response, TransportError>),
    /// An [`Action::Open`] got a 2xx answer; the runtime keeps its body.
    Opened(Opened),
    /// The answer to [`Action::Store`].
    Store(StoreReply),
    /// The answer to [`Action::Read`]: the bytes, `None` when the file does not exist,
    /// or why it could not be read.
    Read(Result<Option<Vec<u8>>, String>),
    /// The answer to [`Action::Run`]: how the program ended, or why it could not run
    /// (not found, or killed at its timeout).
    Ran(Result<CommandOutput, String>),
}

/// A client operation: see the [module docs](self).
pub trait Operation {
    /// What the operation produces.
    type Output;

    /// Advances the operation at `now`.
    fn poll(&mut self, now: SystemTime) -> Result<Action<Self::Output>, Error>;

    /// Feeds the outcome of the last action (not needed after `Wait`).
    fn handle(&mut self, input: Input, now: SystemTime);
}

impl<O: Operation + ?Sized> Operation for Box<O> {
    type Output = O::Output;
    fn poll(&mut self, now: SystemTime) -> Result<Action<O::Output>, Error> {
        (**self).poll(now)
    }
    fn handle(&mut self, input: Input, now: SystemTime) {
        (**self).handle(input, now)
    }
}

/// One prompt for `model` in `project`, with a fresh prompt id.
fn prompt(
    model: &str,
    project: &crate::code_assist::ProjectContext,
    request: &serde_json::Value,
    ids: &mut crate::SplitMix64,
) -> crate::inference::GenerateRequest {
    crate::inference::GenerateRequest::new(
        model,
        project.project_id.clone(),
        ids.uuid_v4(),
        request.clone(),
    )
}

/// A random source for an operation's own seeds, drawn from the caller's.
fn ids_seed<R: rand_core::Rng + ?Sized>(random: &mut R) -> crate::SplitMix64 {
    crate::SplitMix64::seeded_from(random)
}

/// A sign-in waiting for the browser: made by [`Client::start_sign_in`].
#[derive(Debug)]
pub struct PendingSignIn {
    client: Client,
    oauth: OAuthClient,
    request: crate::oauth::AuthorizationRequest,
}

impl PendingSignIn {
    /// The URL to open in the person's browser.
    pub fn url(&self) -> &str {
        &self.request.url
    }

    /// The `state` the callback must carry.
    pub fn state(&self) -> &crate::Secret {
        &self.request.state
    }

    /// The issuers a callback's `iss` may name (RFC 9207).
    pub fn issuers(&self) -> &[String] {
        &self.oauth.endpoints.issuers
    }

    /// The operation that exchanges `code`, learns the email and saves.
    pub fn finish(&self, code: &crate::Secret) -> SignInOp {
        self.client
            .sign_in(self.oauth.clone(), code, self.request.pkce.verifier())
    }
}

/// The least life a token must have left to be handed out while a refresh runs in
/// the background.
pub const AHEAD_MINIMUM: Duration = Duration::from_secs(60);

/// What memory holds: see [`Client::cached`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Cached {
    /// Valid beyond the refresh window: use it.
    Fresh(crate::Secret),
    /// Inside the window but with more than [`AHEAD_MINIMUM`] left: use it, and
    /// refresh in the background.
    Aging(crate::Secret),
    /// Nothing usable: refresh (or load) before answering.
    Missing,
}

/// What the client needs to know: who signs in, where Code Assist is, which project
/// was asked for, and how patiently to refresh.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The OAuth client (its endpoints are used for refresh and revocation).
    pub oauth: OAuthClient,
    /// Code Assist's endpoints and retry policy.
    pub code_assist: CodeAssistConfig,
    /// The configured project id (it wins over `env_project`).
    pub project: Option<String>,
    /// `GOOGLE_CLOUD_PROJECT`, as the runtime read it (core reads no environment).
    pub env_project: Option<String>,
    /// How tokens are refreshed.
    pub refresh: RefreshPolicy,
    /// Where access tokens come from (default: this library's own sign-in).
    pub source: CredentialSource,
    /// The quota project for user credentials (`GOOGLE_CLOUD_QUOTA_PROJECT`, as the
    /// runtime read it, or the host's); a credential file's `quota_project_id` is used
    /// when this is unset.
    pub quota_project: Option<String>,
    /// How models fall back (on by default).
    pub fallback: crate::inference::FallbackPolicy,
    /// Keep the access tokens of a source other than this library's own sign-in (gcloud
    /// user credentials, a service account, the metadata server) in the client's
    /// store, so the processes that share the store share them too. Off by default:
    /// those tokens live in the client's memory only.
    ///
    /// Only the access token, its expiry and scope, and a fingerprint of the source
    /// (a truncated SHA-256, so a token is never used for another account) are kept;
    /// never a refresh token, a client secret or a key. Give such a client a store of
    /// its own (the CLI uses `source-token.json` beside `oauth.json`): a cached token
    /// replaces whatever the store held. An injected token is never cached.
    pub cache_source_tokens: bool,
}

impl ClientConfig {
    /// A configuration for `oauth` with Google's Code Assist endpoints, no project and
    /// the default refresh policy.
    pub fn new(oauth: OAuthClient) -> Self {
        Self {
            oauth,
            code_assist: CodeAssistConfig::default(),
            project: None,
            env_project: None,
            refresh: RefreshPolicy::default(),
            source: CredentialSource::SignIn,
            quota_project: None,
            fallback: crate::inference::FallbackPolicy::default(),
            cache_source_tokens: false,
        }
    }

    /// The quota project sent as `x-goog-user-project`, when the source is a user's
    /// (see [`CredentialSource::quota_project`]).
    pub fn user_quota_project(&self) -> Option<&str> {
        self.source.quota_project(self.quota_project.as_deref())
    }

    /// Adds `x-goog-user-project` to an authenticated request when there is a quota
    /// project for the source (a request that already names one keeps it).
    pub fn bill_to_quota_project(&self, request: &mut Request) {
        let Some(project) = self.user_quota_project() else {
            return;
        };
        if request.headers().contains_key(USER_PROJECT_HEADER) {
            return;
        }
        match http::HeaderValue::from_str(project) {
            Ok(value) => {
                request.headers_mut().insert(USER_PROJECT_HEADER, value);
            }
            Err(_) => tracing::warn!("the quota project is not a valid header value; not sent"),
        }
    }

    /// The project asked for: the configured id, else the environment's, trimmed.
    pub fn requested_project(&self) -> Option<&str> {
        fn clean(value: Option<&str>) -> Option<&str> {
            value.map(str::trim).filter(|value| !value.is_empty())
        }
        clean(self.project.as_deref()).or_else(|| clean(self.env_project.as_deref()))
    }
}

/// The client core: its configuration and the in-memory credentials, shared by every
/// clone (clones are cheap). Each method makes an operation for a runtime to drive.
#[derive(Debug, Clone)]
pub struct Client {
    config: Arc<ClientConfig>,
    memory: Arc<Mutex<Option<Credentials>>>,
    models: Arc<Mutex<crate::inference::ModelAvailability>>,
    /// Tokens minted by this client and its clones (refreshes, grants, exchanges).
    refreshes: Arc<std::sync::atomic::AtomicU64>,
}

impl Client {
    /// A client with `config` and nothing in memory yet.
    pub fn new(config: ClientConfig) -> Self {
        Self {
            config: Arc::new(config),
            memory: Arc::new(Mutex::new(None)),
            models: Arc::default(),
            refreshes: Arc::default(),
        }
    }

    /// The same client (same memory, same model availability) with another retry
    /// policy for its calls.
    pub fn with_retry(&self, policy: crate::retry::RetryPolicy) -> Self {
        let mut config = (*self.config).clone();
        config.code_assist.retry = policy;
        Self {
            config: Arc::new(config),
            memory: Arc::clone(&self.memory),
            models: Arc::clone(&self.models),
            refreshes: Arc::clone(&self.refreshes),
        }
    }

    /// The same client (same memory, same model availability) with another fallback
    /// policy (`FallbackPolicy { enabled: false, .. }` turns fallback off).
    pub fn with_fallback(&self, policy: crate::inference::FallbackPolicy) -> Self {
        let mut config = (*self.config).clone();
        config.fallback = policy;
        Self {
            config: Arc::new(config),
            memory: Arc::clone(&self.memory),
            models: Arc::clone(&self.models),
            refreshes: Arc::clone(&self.refreshes),
        }
    }

    /// Which models are unavailable, and until when.
    pub(crate) fn models(&self) -> MutexGuard<'_, crate::inference::ModelAvailability> {
        self.models
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `generateContent` for `model` on `target`, falling back along the model's
    /// chain (see [`crate::inference::FallbackPolicy`]) when it cannot answer.
    pub fn generate_with_fallback<R: rand_core::Rng + ?Sized>(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
    ) -> FallbackOp<Chunk> {
        self.along_chain(target, model, request, random, Client::generate_on)
    }

    /// `streamGenerateContent` for `model` on `target`, the opening falling back
    /// along the model's chain; once the stream is open no switch happens.
    pub fn stream_with_fallback<R: rand_core::Rng + ?Sized>(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
    ) -> FallbackOp<Opened> {
        self.along_chain(target, model, request, random, Client::stream_on)
    }

    /// `call` for `model` and, when it cannot answer, the models after it.
    fn along_chain<T: 'static, R: rand_core::Rng + ?Sized>(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
        call: fn(&Client, &Target, &str, serde_json::Value, &mut crate::SplitMix64) -> BoxedOp<T>,
    ) -> FallbackOp<T> {
        let target = target.clone();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let scope = target.kind().name();
        let asked = model.to_owned();
        // Fallback chooses among the models the target offers: the Gemini API lists
        // them, Code Assist's quota buckets name them (Vertex AI: the built-in list).
        let lister: Option<BoxedOp<()>> = match target.kind() {
            crate::inference::TargetKind::GeminiApi => {
                Some(Box::new(fallback::Discard(self.list_models_on(&target))))
            }
            crate::inference::TargetKind::CodeAssist => {
                Some(Box::new(fallback::Discard(self.quota(&mut ids))))
            }
            _ => None,
        };
        let op = FallbackOp::new(
            self,
            scope,
            model,
            Box::new(move |client: &Client, model: &str| {
                // Another model may take its thinking setting in another field.
                let request = crate::inference::models::request_for(&asked, model, &request);
                call(client, &target, model, request, &mut ids)
            }),
        );
        match lister {
            Some(lister) => op.listing_with(lister),
            None => op,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// A copy of this client with another configuration and its own memory.
    pub fn reconfigured(&self, configure: impl FnOnce(&mut ClientConfig)) -> Self {
        let mut config = (*self.config).clone();
        configure(&mut config);
        Self::new(config)
    }

    /// The credentials held in memory, when any were loaded.
    pub fn remembered(&self) -> Option<Credentials> {
        self.memory().clone()
    }

    pub(crate) fn memory(&self) -> MutexGuard<'_, Option<Credentials>> {
        self.memory
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many tokens this client and its clones have minted (refreshes, grants,
    /// exchanges), for a host's metrics.
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn count_refresh(&self) {
        self.refreshes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn remember(&self, credentials: Option<Credentials>) {
        *self.memory() = credentials;
    }

    /// The token in memory, when it is valid beyond the refresh window at `now`: the
    /// warm path, no store and no network.
    pub fn memory_hit(&self, now: SystemTime) -> Option<crate::Secret> {
        self.memory()
            .as_ref()?
            .valid_access_token(now, self.config.refresh.window)
            .cloned()
    }

    /// What memory holds at `now`, for a runtime that refreshes ahead in the
    /// background: a token valid beyond the refresh window ([`Cached::Fresh`]), one
    /// inside the window with more than [`AHEAD_MINIMUM`] left ([`Cached::Aging`]: hand it
    /// out and refresh meanwhile), or nothing usable ([`Cached::Missing`]: run
    /// [`Client::access_token`] and wait for it).
    pub fn cached(&self, now: SystemTime) -> Cached {
        let memory = self.memory();
        let Some(credentials) = memory.as_ref() else {
            return Cached::Missing;
        };
        if let Some(token) = credentials.valid_access_token(now, self.config.refresh.window) {
            return Cached::Fresh(token.clone());
        }
        match credentials.valid_access_token(now, AHEAD_MINIMUM) {
            Some(token) => Cached::Aging(token.clone()),
            None => Cached::Missing,
        }
    }

    /// A valid access token: see the [module docs](self) for the lifecycle.
    pub fn access_token(&self) -> TokenOp {
        TokenOp::new(self.clone(), None)
    }

    /// Resolves the Code Assist project, from the cache beside the credentials when
    /// it holds one for this account and request (`refresh` forces discovery).
    pub fn project<R: rand_core::Rng + ?Sized>(
        &self,
        refresh: bool,
        random: &mut R,
    ) -> ResolveProjectOp {
        ResolveProjectOp::new(self.clone(), refresh, random)
    }

    /// The quota buckets of the resolved project.
    pub fn quota<R: rand_core::Rng + ?Sized>(&self, random: &mut R) -> QuotaOp {
        let code_assist = self.config.code_assist.clone();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let make: MakeInProject<_> = Box::new(move |project, token| {
            Ok(FlowOp::new(crate::code_assist::retrieve_user_quota(
                &code_assist,
                token,
                &project.project_id,
                &mut ids,
            )?))
        });
        QuotaOp::new(
            self.clone(),
            InProject::new(self.clone(), &mut ids_seed(random), make),
        )
    }

    /// `generateContent` for `model` in the resolved project (from the cache when it
    /// holds one), with retries, the 401 rule, and the project forgotten on 403/404.
    /// `request` is the Gemini `GenerateContentRequest` as JSON.
    pub fn generate<R: rand_core::Rng + ?Sized>(
        &self,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
    ) -> InProject<FlowOp<crate::inference::GenerateContent>> {
        let config = self.config.clone();
        let model = model.to_owned();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let make: MakeInProject<_> = Box::new(move |project, token| {
            let call = prompt(&model, project, &request, &mut ids);
            Ok(FlowOp::new(crate::inference::generate_content(
                &call,
                &project.endpoint,
                token,
                config.code_assist.retry.clone(),
                &mut ids,
            )?))
        });
        InProject::new(self.clone(), &mut ids_seed(random), make)
    }

    /// `streamGenerateContent` for `model` in the resolved project: the opening
    /// exchange retried (feeding the throttle), the 401 rule, the project forgotten on
    /// 403/404. The output is the opened answer's head; the runtime holds the body.
    pub fn stream_generate<R: rand_core::Rng + ?Sized>(
        &self,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
    ) -> InProject<OpenStream> {
        let policy = self.config.code_assist.retry.clone();
        let model = model.to_owned();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let make: MakeInProject<_> = Box::new(move |project, token| {
            let call = prompt(&model, project, &request, &mut ids);
            let http = call.to_stream_request(&project.endpoint, token, &mut ids)?;
            Ok(OpenStream::new(http, policy.clone(), &mut ids))
        });
        InProject::new(self.clone(), &mut ids_seed(random), make)
    }

    /// `generateContent` for `model` on `target`: Code Assist through the resolved
    /// project (as [`Client::generate`]); the Gemini API with its key, or like Vertex
    /// AI with a token (the 401 rule, the quota project), with retries.
    pub fn generate_on<R: rand_core::Rng + ?Sized>(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
    ) -> BoxedOp<Chunk> {
        if let Target::CodeAssist = target {
            return Box::new(self.generate(model, request, random));
        }
        let policy = self.config.code_assist.retry.clone();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let (target, model) = (target.clone(), model.to_owned());
        self.on_target(target.clone(), move |token| {
            Ok(FlowOp::new(crate::inference::target_generate(
                &target,
                &model,
                &request,
                token,
                policy.clone(),
                &mut ids,
            )?))
        })
    }

    /// `streamGenerateContent` for `model` on `target`, opened with retries (feeding
    /// the throttle); the runtime holds the body.
    pub fn stream_on<R: rand_core::Rng + ?Sized>(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
        random: &mut R,
    ) -> BoxedOp<Opened> {
        if let Target::CodeAssist = target {
            return Box::new(self.stream_generate(model, request, random));
        }
        let policy = self.config.code_assist.retry.clone();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let (target, model) = (target.clone(), model.to_owned());
        self.on_target(target.clone(), move |token| {
            let http = target.model_request(
                &model,
                crate::inference::ModelMethod::Stream,
                &request,
                token,
            )?;
            Ok(OpenStream::new(http, policy.clone(), &mut ids))
        })
    }

    /// `countTokens` for `model` on the Gemini API or Vertex AI.
    pub fn count_tokens_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> BoxedOp<u64> {
        let (target_, model) = (target.clone(), model.to_owned());
        self.on_target(target.clone(), move |token| {
            Ok(FlowOp::new(crate::inference::count_tokens(
                &target_, &model, &request, token,
            )?))
        })
    }

    /// The Gemini API's models (`models.list`, every page).
    /// The models it lists are remembered (for an hour) as the ones fallback may
    /// choose among on this kind of target.
    pub fn list_models_on(&self, target: &Target) -> BoxedOp<Vec<crate::inference::ModelInfo>> {
        let target_ = target.clone();
        let listing = self.on_target(target.clone(), move |token| {
            Ok(FlowOp::new(crate::inference::ListModels::new(
                &target_, token,
            )?))
        });
        Box::new(NoteListed {
            client: self.clone(),
            scope: target.kind().name(),
            inner: listing,
        })
    }

    /// A non-streamed call to the Gemini API's OpenAI-compatible endpoint: `body` (the
    /// host's JSON) passed through with authentication added; the answer's JSON.
    pub fn openai_on(
        &self,
        target: &Target,
        path: crate::inference::OpenAiPath,
        body: Option<serde_json::Value>,
    ) -> BoxedOp<serde_json::Value> {
        let target_ = target.clone();
        self.on_target(target.clone(), move |token| {
            Ok(FlowOp::new(crate::inference::openai_call(
                &target_,
                path,
                body.as_ref(),
                token,
            )?))
        })
    }

    /// A streamed `chat/completions` on the Gemini API's OpenAI-compatible endpoint
    /// (`"stream": true` is set in `body`), opened with retries; the runtime reads it
    /// with [`crate::inference::OpenAiStreamReader`].
    pub fn openai_stream_on<R: rand_core::Rng + ?Sized>(
        &self,
        target: &Target,
        mut body: serde_json::Value,
        random: &mut R,
    ) -> BoxedOp<Opened> {
        if let Some(object) = body.as_object_mut() {
            object.insert("stream".to_owned(), serde_json::Value::Bool(true));
        }
        let policy = self.config.code_assist.retry.clone();
        let mut ids = crate::SplitMix64::seeded_from(random);
        let target_ = target.clone();
        self.on_target(target.clone(), move |token| {
            let http = target_.openai_request(
                crate::inference::OpenAiPath::ChatCompletions,
                Some(&body),
                token,
            )?;
            Ok(OpenStream::new(http, policy.clone(), &mut ids))
        })
    }

    /// An operation on a target other than Code Assist: with its API key as is, else
    /// [`Client::authenticated`] with a token from the credential source.
    fn on_target<O, M>(&self, target: Target, mut make: M) -> BoxedOp<O::Output>
    where
        O: Operation + Send + 'static,
        M: FnMut(Option<&crate::Secret>) -> Result<O, Error> + Send + 'static,
    {
        if target.uses_token() {
            return Box::new(self.authenticated(move |token| make(Some(token))));
        }
        match make(None) {
            Ok(op) => Box::new(op),
            Err(error) => Box::new(Failed(Some(error), std::marker::PhantomData)),
        }
    }

    /// Starts a sign-in whose browser comes back to `redirect_uri` (a runtime's
    /// loopback listener): a fresh PKCE pair and `state` from `random`, the URL to
    /// open, and the issuers a callback may name. [`PendingSignIn::finish`] then
    /// turns the code into saved credentials.
    pub fn start_sign_in<R: rand_core::CryptoRng + ?Sized>(
        &self,
        redirect_uri: &str,
        random: &mut R,
    ) -> Result<PendingSignIn, Error> {
        let oauth = self.config.oauth.clone().with_redirect_uri(redirect_uri);
        let request = oauth.authorization_request(random)?;
        Ok(PendingSignIn {
            client: self.clone(),
            oauth,
            request,
        })
    }

    /// Finishes a sign-in with the `code` the browser (or a paste) gave: exchanges it
    /// with `verifier` at `oauth`'s token endpoint (`oauth` carries the redirect URI
    /// the authorization URL used), learns the email from the ID token or UserInfo,
    /// and saves the credentials under the lock.
    pub fn sign_in(
        &self,
        oauth: OAuthClient,
        code: &crate::Secret,
        verifier: &crate::Secret,
    ) -> SignInOp {
        let redirect_uri = oauth.redirect_uri.clone();
        SignInOp::new(self.clone(), oauth, code, verifier, &redirect_uri)
    }

    /// Saves the credentials a sign-in produced (replacing whatever was stored).
    pub fn save_login(&self, credentials: Credentials) -> SaveLogin {
        SaveLogin::new(self.clone(), credentials)
    }

    /// Revokes the grant at the OAuth server and deletes the stored credentials
    /// under the lock; the deletion happens even when the revocation fails.
    pub fn logout(&self) -> LogoutOp {
        LogoutOp::new(self.clone(), true)
    }

    /// Deletes the stored credentials under the lock without asking the OAuth server
    /// to revoke them (they stay valid there until they expire or are revoked).
    pub fn forget(&self) -> LogoutOp {
        LogoutOp::new(self.clone(), false)
    }

    /// Runs the flow `make` builds from a valid token; a 401 refreshes the token
    /// once and runs a new flow with it.
    pub fn authenticated<O, M>(&self, make: M) -> Authenticated<O, M>
    where
        O: Operation,
        M: FnMut(&crate::Secret) -> Result<O, Error>,
    {
        Authenticated::new(self.clone(), make)
    }

    /// Opens a streamed answer: `make` builds the request from a token; the opening
    /// exchange is retried under the Code Assist policy (feeding its throttle), and a
    /// 401 refreshes the token once.
    pub fn open_stream<M, R>(
        &self,
        make: M,
        random: &mut R,
    ) -> Authenticated<OpenStream, impl FnMut(&crate::Secret) -> Result<OpenStream, Error>>
    where
        M: FnMut(&crate::Secret) -> Result<Request, Error>,
        R: rand_core::Rng + ?Sized,
    {
        let policy = self.config.code_assist.retry.clone();
        let mut jitter = crate::SplitMix64::seeded_from(random);
        let mut make = make;
        self.authenticated(move |token| {
            Ok(OpenStream::new(make(token)?, policy.clone(), &mut jitter))
        })
    }
}
