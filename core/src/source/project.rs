//! Which Google Cloud project a credential works in, and where that came from, in
//! google-auth's order:
//!
//! ```text
//!  GOOGLE_CLOUD_PROJECT ────────────────────────────────────────▶ Variable
//!  GCLOUD_PROJECT (unless GOOGLE_CLOUD_PROJECT is set but empty) ▶ Variable
//!  the credential's own: a service-account key's project_id ────▶ CredentialFile
//!  credentials from gcloud's well-known file: gcloud's configured
//!    project (active_config → configurations/config_NAME) ──────▶ Gcloud
//!  the metadata server's project id (Metadata source) ──────────▶ MetadataServer
//!  none ──────────────────────────────────────────────────────── ▶ None
//! ```
//!
//! google-auth also asks Cloud Resource Manager for a workload identity federation
//! pool's project (a network call with the new token); this library does not, so such
//! a credential needs one of the variables.

use std::fmt;
use std::time::SystemTime;

use super::{CredentialSource, Environment, GcloudProject, metadata_project_id};
use crate::Error;
use crate::client::{Action, BoxedOp, FlowOp, Input, Operation};
use crate::code_assist::{GCLOUD_PROJECT_VAR, PROJECT_ENV_VAR, project_from_env};

/// Where a project id came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProjectOrigin {
    /// An environment variable (`GOOGLE_CLOUD_PROJECT` or `GCLOUD_PROJECT`).
    Variable(&'static str),
    /// The credential file itself (a service-account key's `project_id`).
    CredentialFile,
    /// gcloud's configured project.
    Gcloud,
    /// The metadata server.
    MetadataServer,
}

impl ProjectOrigin {
    /// How `status` names it: the variable, `the credential file`, `gcloud's
    /// configuration` or `the metadata server`.
    pub fn describe(self) -> &'static str {
        match self {
            ProjectOrigin::Variable(name) => name,
            ProjectOrigin::CredentialFile => "the credential file",
            ProjectOrigin::Gcloud => "gcloud's configuration",
            ProjectOrigin::MetadataServer => "the metadata server",
        }
    }
}

impl fmt::Display for ProjectOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Finds the project of `source` in `env`, in google-auth's order: the variables, the
/// key's own project, gcloud's configured project for credentials from gcloud's own
/// file, the metadata server's project. Output: the
/// project and its origin, or `None`. Never fails on what files or the metadata
/// server hold: an unreadable answer counts as no project.
pub struct ProjectLookup {
    stage: Stage,
}

enum Stage {
    Done(Option<(String, ProjectOrigin)>),
    Asking(BoxedOp<Option<String>>, ProjectOrigin),
    Finished,
}

impl fmt::Debug for ProjectLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProjectLookup")
    }
}

/// The metadata server's project id, failures read as none.
struct Lenient<O>(O);

impl<O: Operation<Output = String>> Operation for Lenient<O> {
    type Output = Option<String>;
    fn poll(&mut self, now: SystemTime) -> Result<Action<Option<String>>, Error> {
        match self.0.poll(now) {
            Ok(action) => Ok(match action.pass() {
                Ok(action) => action,
                Err(project) => Action::Done(Some(project)),
            }),
            Err(error) => {
                tracing::debug!(%error, "the metadata server named no project");
                Ok(Action::Done(None))
            }
        }
    }
    fn handle(&mut self, input: Input, now: SystemTime) {
        self.0.handle(input, now);
    }
}

impl ProjectLookup {
    /// The lookup for `source` with `env`'s variables and gcloud directory.
    pub fn new(env: &Environment, source: &CredentialSource) -> Self {
        let read = |name: &str| match name {
            PROJECT_ENV_VAR | GCLOUD_PROJECT_VAR => env.raw(name).map(str::to_owned),
            _ => None,
        };
        // An empty GOOGLE_CLOUD_PROJECT hides GCLOUD_PROJECT, and the credential's
        // own project still applies (google-auth's `explicit or credential's`).
        if let Some((project, var)) = project_from_env(read) {
            return Self::done(Some((project, ProjectOrigin::Variable(var))));
        }
        if let Some(project) = source.project_id() {
            return Self::done(Some((project.to_owned(), ProjectOrigin::CredentialFile)));
        }
        if source.is_from_gcloud_file() {
            return Self {
                stage: Stage::Asking(Box::new(GcloudProject::new(env)), ProjectOrigin::Gcloud),
            };
        }
        if let CredentialSource::Metadata(server) = source
            && let Ok(flow) = metadata_project_id(server)
        {
            return Self {
                stage: Stage::Asking(
                    Box::new(Lenient(FlowOp::new(flow))),
                    ProjectOrigin::MetadataServer,
                ),
            };
        }
        Self::done(None)
    }

    fn done(found: Option<(String, ProjectOrigin)>) -> Self {
        Self {
            stage: Stage::Done(found),
        }
    }
}

impl Operation for ProjectLookup {
    type Output = Option<(String, ProjectOrigin)>;

    fn poll(&mut self, now: SystemTime) -> Result<Action<Self::Output>, Error> {
        match std::mem::replace(&mut self.stage, Stage::Finished) {
            Stage::Done(found) => Ok(Action::Done(found)),
            Stage::Asking(mut op, origin) => match op.poll(now)?.pass() {
                Ok(action) => {
                    self.stage = Stage::Asking(op, origin);
                    Ok(action)
                }
                Err(found) => Ok(Action::Done(found.map(|project| (project, origin)))),
            },
            Stage::Finished => {
                Err(crate::flow::Misuse("polled after the operation finished").into())
            }
        }
    }

    fn handle(&mut self, input: Input, now: SystemTime) {
        if let Stage::Asking(op, _) = &mut self.stage {
            op.handle(input, now);
        }
    }
}
