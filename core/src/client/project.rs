//! The project cache beside the credentials, and the operations that use the store
//! under its lock: project resolution, quota, saving a sign-in, logout.
//!
//! ```text
//!  ResolveProjectOp:  TokenOp ─▶ cache hit for (account, requested project)? ──yes──▶ Done
//!                                   │ no (or --refresh)
//!                                   ▼
//!                     loadCodeAssist … (401 → refresh once) ─▶ Lock ─▶ Load ─▶ Save(+entry) ─▶ Unlock ─▶ Done
//!
//!  InProject:         ResolveProjectOp ─▶ the call (quota, generate, stream) ──ok──▶ Done
//!                                             │ 403/404: the project is gone or not ours
//!                                             ▼
//!                                   Lock ─▶ Load ─▶ Save(−entry) ─▶ Unlock ─▶ the error
//!
//!  LogoutOp:          Lock ─▶ Load ─▶ revoke (one short attempt) ─▶ Delete ─▶ Unlock ─▶ Done
//! ```

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{
    Action, Authenticated, Client, FlowOp, Input, Operation, StoreOp, StoreReply, TokenOp,
};
use crate::code_assist::{ProjectContext, RetrieveQuota, resolve_project};
use crate::error::ErrorClass;
use crate::flow::request::RequestTimeout;
use crate::flow::{Flow, Misuse, Step};
use crate::oauth::{Credentials, Logout, RevokeToken, revoke_token};
use crate::retry::Retry;
use crate::{Error, Secret, SplitMix64};

/// Builds an operation from a valid token.
type MakeOp<O> = Box<dyn FnMut(&Secret) -> Result<O, Error> + Send>;

/// The most projects cached for one account.
const MAX_CACHED_PROJECTS: usize = 8;

/// A resolved project remembered beside the credentials: which project was asked
/// for (the configured or environment id, or none for discovery) and what Code
/// Assist answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CachedProject {
    /// The project asked for; `None` when discovery chose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// The Code Assist endpoint the answer is valid for.
    pub endpoint: String,
    /// The resolved project.
    pub project: ProjectContext,
}

/// True when `error` means the cached project may no longer be usable: a 403 or 404
/// from Code Assist that is not about a model.
pub fn project_failure_drops_cache(error: &Error) -> bool {
    error.api().is_some_and(|api| {
        matches!(api.http_status(), Some(403 | 404)) && api.class() != ErrorClass::ModelNotFound
    })
}

/// Lock ─▶ Load ─▶ edit ─▶ Save (when changed) ─▶ Unlock.
struct Rewrite {
    edit: Box<dyn FnMut(&mut Credentials) -> bool + Send>,
    stage: RewriteStage,
    input: Option<Input>,
}

enum RewriteStage {
    Start,
    Locking,
    Loading,
    Saving,
    Unlocking,
    Finished,
}

impl Rewrite {
    fn new(edit: impl FnMut(&mut Credentials) -> bool + Send + 'static) -> Self {
        Self {
            edit: Box::new(edit),
            stage: RewriteStage::Start,
            input: None,
        }
    }

    fn poll(&mut self, client: &Client) -> Result<Action<()>, Error> {
        let input = self.input.take();
        let (next, action) = match (&self.stage, input) {
            // Another source's credentials live in memory only: edit them there.
            (RewriteStage::Start, None) if !client.config.source.is_sign_in() => {
                let remembered = client.memory().clone();
                if let Some(mut credentials) = remembered
                    && (self.edit)(&mut credentials)
                {
                    client.remember(Some(credentials));
                }
                (RewriteStage::Finished, Action::Done(()))
            }
            (RewriteStage::Start, None) => (RewriteStage::Locking, Action::Store(StoreOp::Lock)),
            (RewriteStage::Locking, Some(Input::Store(StoreReply::Done))) => {
                (RewriteStage::Loading, Action::Store(StoreOp::Load))
            }
            (RewriteStage::Loading, Some(Input::Store(StoreReply::Loaded(loaded)))) => match loaded
            {
                Some(mut credentials) => {
                    let changed = (self.edit)(&mut credentials);
                    client.remember(Some((*credentials).clone()));
                    match changed {
                        true => (
                            RewriteStage::Saving,
                            Action::Store(StoreOp::Save(credentials)),
                        ),
                        false => (RewriteStage::Unlocking, Action::Store(StoreOp::Unlock)),
                    }
                }
                None => {
                    client.remember(None);
                    (RewriteStage::Unlocking, Action::Store(StoreOp::Unlock))
                }
            },
            (RewriteStage::Saving, Some(Input::Store(StoreReply::Done))) => {
                (RewriteStage::Unlocking, Action::Store(StoreOp::Unlock))
            }
            (RewriteStage::Unlocking, Some(Input::Store(StoreReply::Done))) => {
                (RewriteStage::Finished, Action::Done(()))
            }
            _ => return Err(Misuse("the store was stepped out of order").into()),
        };
        self.stage = next;
        Ok(action)
    }
}

/// Resolves the Code Assist project with the cache beside the credentials; made by
/// [`Client::project`].
pub struct ResolveProjectOp {
    client: Client,
    refresh: bool,
    random: SplitMix64,
    stage: ResolveStage,
}

type ResolveFlow = FlowOp<Retry<crate::code_assist::ResolveProject>>;
type Resolving = Authenticated<ResolveFlow, MakeOp<ResolveFlow>>;

enum ResolveStage {
    Token(TokenOp),
    Resolving(Box<Resolving>),
    Caching(Rewrite, Box<ProjectContext>),
    Finished,
}

impl std::fmt::Debug for ResolveProjectOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResolveProjectOp")
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl ResolveProjectOp {
    pub(crate) fn new<R: rand_core::Rng + ?Sized>(
        client: Client,
        refresh: bool,
        random: &mut R,
    ) -> Self {
        Self {
            stage: ResolveStage::Token(client.access_token()),
            client,
            refresh,
            random: SplitMix64::seeded_from(random),
        }
    }

    fn cache_key(&self) -> (Option<String>, String) {
        let config = self.client.config();
        (
            config.requested_project().map(str::to_owned),
            config
                .code_assist
                .endpoints
                .first()
                .cloned()
                .unwrap_or_default(),
        )
    }

    fn cached(&self) -> Option<ProjectContext> {
        let (requested, endpoint) = self.cache_key();
        let memory = self.client.memory();
        memory
            .as_ref()?
            .projects
            .iter()
            .find(|entry| entry.requested == requested && entry.endpoint == endpoint)
            // The file is outside input: a cached id that is not one is not used.
            .filter(|entry| crate::code_assist::is_project_id(&entry.project.project_id))
            .map(|entry| entry.project.clone())
    }

    fn resolving(&mut self) -> Resolving {
        let config = self.client.config().clone();
        let mut ids = SplitMix64::seeded_from(&mut self.random);
        let make: MakeOp<_> = Box::new(move |token: &Secret| {
            Ok(FlowOp::new(resolve_project(
                config.code_assist.clone(),
                token.clone(),
                config.project.as_deref(),
                config.env_project.as_deref(),
                &mut ids,
            )))
        });
        self.client.authenticated(make)
    }
}

impl Operation for ResolveProjectOp {
    type Output = ProjectContext;

    fn poll(&mut self, now: SystemTime) -> Result<Action<ProjectContext>, Error> {
        loop {
            match std::mem::replace(&mut self.stage, ResolveStage::Finished) {
                ResolveStage::Token(mut op) => match op.poll(now)?.pass() {
                    Ok(action) => {
                        self.stage = ResolveStage::Token(op);
                        return Ok(action);
                    }
                    Err(_token) => {
                        if !self.refresh
                            && let Some(project) = self.cached()
                        {
                            tracing::debug!(project = %project.project_id, "project from the cache");
                            return Ok(Action::Done(project));
                        }
                        self.stage = ResolveStage::Resolving(Box::new(self.resolving()));
                    }
                },
                ResolveStage::Resolving(mut op) => match op.poll(now)?.pass() {
                    Ok(action) => {
                        self.stage = ResolveStage::Resolving(op);
                        return Ok(action);
                    }
                    Err(project) => {
                        let (requested, endpoint) = self.cache_key();
                        let entry = CachedProject {
                            requested,
                            endpoint,
                            project: project.clone(),
                        };
                        let rewrite = Rewrite::new(move |credentials: &mut Credentials| {
                            credentials.projects.retain(|e| {
                                !(e.requested == entry.requested && e.endpoint == entry.endpoint)
                            });
                            credentials.projects.insert(0, entry.clone());
                            credentials.projects.truncate(MAX_CACHED_PROJECTS);
                            true
                        });
                        self.stage = ResolveStage::Caching(rewrite, Box::new(project));
                    }
                },
                ResolveStage::Caching(mut rewrite, project) => {
                    match rewrite.poll(&self.client)?.pass() {
                        Ok(action) => {
                            self.stage = ResolveStage::Caching(rewrite, project);
                            return Ok(action);
                        }
                        Err(()) => return Ok(Action::Done(*project)),
                    }
                }
                ResolveStage::Finished => {
                    return Err(Misuse("polled after the operation finished").into());
                }
            }
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        match &mut self.stage {
            ResolveStage::Token(op) => op.handle(input, now),
            ResolveStage::Resolving(op) => op.handle(input, now),
            ResolveStage::Caching(rewrite, _) => rewrite.input = Some(input),
            ResolveStage::Finished => {}
        }
    }
}

/// Drops the cached entry for `project` (after a 403/404 named it), then ends with
/// `error`.
fn forget_project(project: &ProjectContext) -> Rewrite {
    let id = project.project_id.clone();
    Rewrite::new(move |credentials: &mut Credentials| {
        let before = credentials.projects.len();
        credentials
            .projects
            .retain(|entry| entry.project.project_id != id);
        credentials.projects.len() != before
    })
}

/// Builds an operation from the resolved project and a valid token.
pub type MakeInProject<O> = Box<dyn FnMut(&ProjectContext, &Secret) -> Result<O, Error> + Send>;

/// A call about the resolved project (quota, inference): the project (from the cache
/// when it holds one), then the call with the 401 rule; a 403/404 from the call drops
/// the cached project before the error is returned. Made by [`Client::quota`],
/// [`Client::generate`] and [`Client::stream_generate`].
pub struct InProject<O: Operation> {
    client: Client,
    make: Option<MakeInProject<O>>,
    stage: InProjectStage<O>,
}

enum InProjectStage<O: Operation> {
    Project(Box<ResolveProjectOp>),
    Calling(Box<Authenticated<O, MakeOp<O>>>, Box<ProjectContext>),
    Forgetting(Rewrite, Box<Error>),
    Finished,
}

/// The quota buckets of the resolved project; their reset times are remembered for
/// model fallback.
#[derive(Debug)]
pub struct QuotaOp {
    client: Client,
    inner: InProject<FlowOp<RetrieveQuota>>,
}

impl QuotaOp {
    pub(crate) fn new(client: Client, inner: InProject<FlowOp<RetrieveQuota>>) -> Self {
        Self { client, inner }
    }
}

impl Operation for QuotaOp {
    type Output = crate::code_assist::Quota;

    fn poll(&mut self, now: SystemTime) -> Result<Action<crate::code_assist::Quota>, Error> {
        let action = self.inner.poll(now)?;
        if let Action::Done(quota) = &action {
            let mut models = self.client.models();
            models.note_resets(
                quota
                    .buckets
                    .iter()
                    .filter_map(|b| Some((b.model_id.as_str(), b.reset_time?))),
            );
            // The quota's buckets are the models Code Assist offers this account.
            models.note_listed(
                crate::inference::TargetKind::CodeAssist.name(),
                quota.buckets.iter().map(|b| b.model_id.as_str()),
                now,
            );
        }
        Ok(action)
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        self.inner.handle(input, now);
    }
}

impl<O: Operation> std::fmt::Debug for InProject<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProject").finish_non_exhaustive()
    }
}

impl<O: Operation + 'static> InProject<O> {
    pub(crate) fn new<R: rand_core::Rng + ?Sized>(
        client: Client,
        random: &mut R,
        make: MakeInProject<O>,
    ) -> Self {
        Self {
            stage: InProjectStage::Project(Box::new(client.project(false, random))),
            client,
            make: Some(make),
        }
    }
}

impl<O: Operation + 'static> Operation for InProject<O> {
    type Output = O::Output;

    fn poll(&mut self, now: SystemTime) -> Result<Action<O::Output>, Error> {
        loop {
            match std::mem::replace(&mut self.stage, InProjectStage::Finished) {
                InProjectStage::Project(mut op) => match op.poll(now)?.pass() {
                    Ok(action) => {
                        self.stage = InProjectStage::Project(op);
                        return Ok(action);
                    }
                    Err(project) => {
                        let mut make = self.make.take().ok_or(Misuse("started twice"))?;
                        let context = project.clone();
                        let make: MakeOp<O> = Box::new(move |token: &Secret| make(&context, token));
                        self.stage = InProjectStage::Calling(
                            Box::new(self.client.authenticated(make)),
                            Box::new(project),
                        );
                    }
                },
                InProjectStage::Calling(mut op, project) => match op.poll(now) {
                    Ok(action) => match action.pass() {
                        Ok(action) => {
                            self.stage = InProjectStage::Calling(op, project);
                            return Ok(action);
                        }
                        Err(output) => return Ok(Action::Done(output)),
                    },
                    Err(error) if project_failure_drops_cache(&error) => {
                        tracing::info!(project = %project.project_id, "Code Assist refused the project; forgetting it");
                        self.stage =
                            InProjectStage::Forgetting(forget_project(&project), Box::new(error));
                    }
                    Err(error) => return Err(error),
                },
                InProjectStage::Forgetting(mut rewrite, error) => {
                    match rewrite.poll(&self.client)?.pass() {
                        Ok(action) => {
                            self.stage = InProjectStage::Forgetting(rewrite, error);
                            return Ok(action);
                        }
                        Err(()) => return Err(*error),
                    }
                }
                InProjectStage::Finished => {
                    return Err(Misuse("polled after the operation finished").into());
                }
            }
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        match &mut self.stage {
            InProjectStage::Project(op) => op.handle(input, now),
            InProjectStage::Calling(op, _) => op.handle(input, now),
            InProjectStage::Forgetting(rewrite, _) => rewrite.input = Some(input),
            InProjectStage::Finished => {}
        }
    }
}

/// Saves a sign-in's credentials under the lock; made by [`Client::save_login`].
pub struct SaveLogin {
    client: Client,
    rewrite: Rewrite,
    credentials: Option<Credentials>,
}

impl std::fmt::Debug for SaveLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SaveLogin").finish_non_exhaustive()
    }
}

impl SaveLogin {
    pub(crate) fn new(client: Client, credentials: Credentials) -> Self {
        Self {
            client,
            rewrite: Rewrite::new(|_| false),
            credentials: Some(credentials),
        }
    }
}

impl Operation for SaveLogin {
    type Output = ();

    fn poll(&mut self, _now: SystemTime) -> Result<Action<()>, Error> {
        // The stored file is replaced whole: Lock ─▶ Save ─▶ Unlock.
        let locked = matches!(self.rewrite.stage, RewriteStage::Locking)
            && matches!(self.rewrite.input, Some(Input::Store(StoreReply::Done)));
        if !locked {
            return self.rewrite.poll(&self.client);
        }
        self.rewrite.input = None;
        let credentials = self.credentials.take().ok_or(Misuse("saved twice"))?;
        self.client.remember(Some(credentials.clone()));
        self.rewrite.stage = RewriteStage::Saving;
        Ok(Action::Store(StoreOp::Save(Box::new(credentials))))
    }

    fn handle(&mut self, input: Input, _now: SystemTime) {
        self.rewrite.input = Some(input);
    }
}

/// Revokes the grant and deletes the stored credentials, under the lock; made by
/// [`Client::logout`].
pub struct LogoutOp {
    client: Client,
    revoke: bool,
    stage: LogoutStage,
    input: Option<Input>,
    outcome: Option<Logout>,
}

enum LogoutStage {
    Start,
    Locking,
    Loading,
    Revoking(Box<RevokeToken>),
    Deleting,
    Unlocking,
    Finished,
}

impl std::fmt::Debug for LogoutOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogoutOp").finish_non_exhaustive()
    }
}

impl LogoutOp {
    pub(crate) fn new(client: Client, revoke: bool) -> Self {
        Self {
            client,
            revoke,
            stage: LogoutStage::Start,
            input: None,
            outcome: None,
        }
    }

    fn revoke(&mut self, credentials: &Credentials, now: SystemTime) -> Action<Logout> {
        let endpoint = &self.client.config().oauth.endpoints.revoke;
        let started =
            revoke_token(credentials, endpoint).and_then(|mut flow| match flow.poll(now)? {
                Step::Send(mut request) => {
                    request
                        .extensions_mut()
                        .insert(RequestTimeout(self.client.config().refresh.attempt_timeout));
                    Ok((flow, request))
                }
                _ => Err(Misuse("a revocation starts with a request").into()),
            });
        match started {
            Ok((flow, request)) => {
                self.stage = LogoutStage::Revoking(Box::new(flow));
                Action::Send(request)
            }
            Err(error) => {
                self.outcome = Some(Logout::new(true, Some(error)));
                self.stage = LogoutStage::Deleting;
                Action::Store(StoreOp::Delete)
            }
        }
    }
}

impl Operation for LogoutOp {
    type Output = Logout;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Logout>, Error> {
        let input = self.input.take();
        let stage = std::mem::replace(&mut self.stage, LogoutStage::Finished);
        let (next, action) = match (stage, input) {
            (LogoutStage::Start, None) => (LogoutStage::Locking, Action::Store(StoreOp::Lock)),
            (LogoutStage::Locking, Some(Input::Store(StoreReply::Done))) => {
                (LogoutStage::Loading, Action::Store(StoreOp::Load))
            }
            (LogoutStage::Loading, Some(Input::Store(StoreReply::Loaded(None)))) => {
                self.outcome = Some(Logout::new(false, None));
                self.client.remember(None);
                (LogoutStage::Unlocking, Action::Store(StoreOp::Unlock))
            }
            (LogoutStage::Loading, Some(Input::Store(StoreReply::Loaded(Some(credentials))))) => {
                if !self.revoke {
                    self.outcome = Some(Logout::new(true, None));
                    (LogoutStage::Deleting, Action::Store(StoreOp::Delete))
                } else {
                    return Ok(self.revoke(&credentials, now));
                }
            }
            (LogoutStage::Revoking(mut flow), Some(Input::Response(response))) => {
                flow.handle_response(response, now);
                let error = match flow.poll(now) {
                    Ok(Step::Done(())) => None,
                    Ok(_) => Some(Misuse("a revocation is a single request").into()),
                    Err(error) => Some(error),
                };
                self.outcome = Some(Logout::new(true, error));
                (LogoutStage::Deleting, Action::Store(StoreOp::Delete))
            }
            (LogoutStage::Deleting, Some(Input::Store(StoreReply::Done))) => {
                self.client.remember(None);
                (LogoutStage::Unlocking, Action::Store(StoreOp::Unlock))
            }
            (LogoutStage::Unlocking, Some(Input::Store(StoreReply::Done))) => {
                let outcome = self.outcome.take().ok_or(Misuse("logout finished twice"))?;
                (LogoutStage::Finished, Action::Done(outcome))
            }
            _ => return Err(Misuse("logout was stepped out of order").into()),
        };
        self.stage = next;
        Ok(action)
    }

    fn handle(&mut self, input: Input, _now: SystemTime) {
        self.input = Some(input);
    }
}
