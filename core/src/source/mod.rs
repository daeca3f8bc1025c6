//! Where access tokens come from: every credential a Google user may already hold,
//! each a way to mint a token that the client's one lifecycle
//! ([`crate::client::TokenOp`]) refreshes under the same outage rules.
//!
//! | source | what it holds | how a token is made |
//! |---|---|---|
//! | [`CredentialSource::SignIn`] | this library's own sign-in, in the credential store | refresh with our OAuth client |
//! | [`CredentialSource::AuthorizedUser`] | gcloud's user credentials (`authorized_user`) | refresh with the file's client |
//! | [`CredentialSource::ServiceAccount`] | a service-account key (`service_account`) | JWT-bearer grant (RFC 7523), RS256 |
//! | [`CredentialSource::Metadata`] | the metadata server (Compute Engine, Cloud Run, GKE) | `GET …/service-accounts/default/token` |
//! | [`CredentialSource::Injected`] | a token handed over in the environment | used as is, never refreshed |
//!
//! Tokens of every source but the first live in memory only: nothing is written back
//! to files this library does not own.
//!
//! # Discovery
//!
//! [`DiscoverOp`] finds the source to use, in Application Default Credentials order
//! (AIP-4110) with this library's own pieces in front:
//!
//! ```text
//!  CODEASSIST_ACCESS_TOKEN / GOOGLE_CLOUD_ACCESS_TOKEN set ──▶ Injected
//!        │ no
//!  our own sign-in in the store ─────────────────────────────▶ SignIn
//!        │ no
//!  GOOGLE_APPLICATION_CREDENTIALS set ── read + parse ───────▶ AuthorizedUser | ServiceAccount
//!        │ no                             (missing or broken: an error naming the variable)
//!  gcloud's well-known file exists ───── read + parse ───────▶ AuthorizedUser | ServiceAccount
//!        │ no
//!  NO_GCE_CHECK=true ──────────────────────────────────────── ▶ nothing: NotSignedIn
//!        │ no
//!  metadata server answers with Metadata-Flavor: Google (≤ 1 s) ▶ Metadata
//!        │ no
//!        ▼
//!  nothing: NotSignedIn
//! ```
//!
//! A host or the CLI can pin one source ([`SourceKind`]); a pinned source that is
//! absent is an error that says what was looked for.
//!
//! RSA signing for service accounts is behind [`RsaKeys`]: core builds the JWT and its
//! signing input, the runtime supplies the signer (the shared runtime crate uses
//! `ring`, already in the tree through rustls). Signing is pure computation, but
//! `ring`'s signing API takes an operating-system random source, which core never
//! touches.

pub mod aws;
mod discover;
pub mod external;
mod file;
mod gcloud;
pub mod impersonate;
mod jwt;
mod metadata;
mod project;

pub use discover::DiscoverOp;
pub use external::{ExternalAccount, ExternalEnvironment, SubjectFormat, SubjectSource};
pub use file::{CredentialFile, MAX_CREDENTIAL_FILE, parse_credential_file};
pub use gcloud::{GcloudProject, gcloud_project_in};
pub use impersonate::Impersonation;
pub use jwt::{JWT_BEARER_GRANT, MAX_ASSERTION_LIFETIME, jwt_bearer};
pub use metadata::{
    DEFAULT_METADATA_HOST, FALLBACK_METADATA_HOST, METADATA_FLAVOR, metadata_email,
    metadata_project_id, metadata_token,
};
pub use project::{ProjectLookup, ProjectOrigin};

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use crate::client::{BoxedOp, FlowOp, Steps};
use crate::oauth::{Credentials, refresh_token};
use crate::{Error, Secret};

/// The environment variables through which a token is handed over, in the order read.
pub const INJECTED_TOKEN_VARS: [&str; 2] = ["CODEASSIST_ACCESS_TOKEN", "GOOGLE_CLOUD_ACCESS_TOKEN"];
/// The variable naming a credential file (AIP-4110).
pub const CREDENTIALS_FILE_VAR: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// The variable naming the quota project for user credentials.
pub const QUOTA_PROJECT_VAR: &str = "GOOGLE_CLOUD_QUOTA_PROJECT";
/// The variable naming the metadata server's host (and port).
pub const METADATA_HOST_VAR: &str = "GCE_METADATA_HOST";
/// The variable that, set to `true`, skips the metadata server check.
pub const NO_GCE_CHECK_VAR: &str = "NO_GCE_CHECK";
/// gcloud's configuration directory, when moved.
pub const CLOUDSDK_CONFIG_VAR: &str = "CLOUDSDK_CONFIG";
/// The scope service accounts and the metadata server are asked for by default.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Google's token endpoint as credential files name it.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Every variable discovery reads; a runtime captures these into an [`Environment`].
pub const DISCOVERY_VARS: [&str; 18] = [
    INJECTED_TOKEN_VARS[0],
    INJECTED_TOKEN_VARS[1],
    CREDENTIALS_FILE_VAR,
    QUOTA_PROJECT_VAR,
    METADATA_HOST_VAR,
    NO_GCE_CHECK_VAR,
    CLOUDSDK_CONFIG_VAR,
    "HOME",
    "APPDATA",
    "XDG_CONFIG_HOME",
    external::ALLOW_EXECUTABLES_VAR,
    external::AWS_VARS[0],
    external::AWS_VARS[1],
    external::AWS_VARS[2],
    external::AWS_VARS[3],
    external::AWS_VARS[4],
    crate::code_assist::PROJECT_ENV_VAR,
    crate::code_assist::GCLOUD_PROJECT_VAR,
];

/// How the origin of a credential read from gcloud's well-known file ends.
pub(crate) const GCLOUD_FILE_ORIGIN: &str = "(gcloud's application default credentials)";

/// The environment values discovery reads, captured by the runtime (core reads no
/// environment). Empty and blank values count as unset.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be tokens: only the names are shown.
        f.debug_struct("Environment")
            .field("set", &self.vars.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Environment {
    /// An environment with these variables set.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                // Kept as set: empty and blank read as unset through
                // [`Environment::get`], and mean something for a few variables
                // ([`Environment::is_blank`], [`Environment::raw`]).
                .collect(),
        }
    }

    /// Captures [`DISCOVERY_VARS`] through `read` (a runtime passes `std::env::var`).
    pub fn capture(read: impl Fn(&str) -> Option<String>) -> Self {
        Self::from_vars(
            DISCOVERY_VARS
                .iter()
                .filter_map(|name| read(name).map(|value| (*name, value))),
        )
    }

    /// The value of `name`, trimmed; `None` when unset or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// True when `name` is set to spaces only (not empty: empty is unset).
    pub fn is_blank(&self, name: &str) -> bool {
        self.vars
            .get(name)
            .is_some_and(|v| !v.is_empty() && v.trim().is_empty())
    }

    /// The value of `name` exactly as set, empty included; `None` when unset.
    pub fn raw(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// gcloud's Application Default Credentials file: `$CLOUDSDK_CONFIG/…`, else
    /// `%APPDATA%\gcloud\…` on Windows, else `~/.config/gcloud/…`.
    pub fn gcloud_adc_file(&self) -> Option<PathBuf> {
        self.gcloud_dir()
            .map(|dir| dir.join("application_default_credentials.json"))
    }

    /// gcloud's configuration directory: `CLOUDSDK_CONFIG`, else `%APPDATA%\gcloud`
    /// on Windows, else `~/.config/gcloud`.
    pub fn gcloud_dir(&self) -> Option<PathBuf> {
        if let Some(dir) = self.get(CLOUDSDK_CONFIG_VAR) {
            return Some(PathBuf::from(dir));
        }
        if cfg!(windows) {
            return self
                .get("APPDATA")
                .map(|dir| PathBuf::from(dir).join("gcloud"));
        }
        self.get("HOME")
            .map(|home| PathBuf::from(home).join(".config").join("gcloud"))
    }

    /// The metadata hosts to try, in order: `GCE_METADATA_HOST` alone when set, else
    /// Google's name and then its fixed address.
    pub fn metadata_hosts(&self) -> Vec<String> {
        match self.get(METADATA_HOST_VAR) {
            Some(host) => vec![host.to_owned()],
            None => vec![
                DEFAULT_METADATA_HOST.to_owned(),
                FALLBACK_METADATA_HOST.to_owned(),
            ],
        }
    }
}

/// Which source to use: one pinned, or the discovery order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SourceKind {
    /// The discovery order (see the [module docs](self)).
    #[default]
    Auto,
    /// This library's own sign-in.
    Login,
    /// Application Default Credentials: `GOOGLE_APPLICATION_CREDENTIALS`, else
    /// gcloud's well-known file (user credentials or a service-account key).
    Adc,
    /// A service-account key, from the same files as [`SourceKind::Adc`].
    ServiceAccount,
    /// The metadata server.
    Metadata,
    /// A token from `CODEASSIST_ACCESS_TOKEN` or `GOOGLE_CLOUD_ACCESS_TOKEN`.
    Env,
}

impl SourceKind {
    /// Every kind, by its name.
    pub const ALL: [(&'static str, SourceKind); 6] = [
        ("auto", SourceKind::Auto),
        ("login", SourceKind::Login),
        ("adc", SourceKind::Adc),
        ("service-account", SourceKind::ServiceAccount),
        ("metadata", SourceKind::Metadata),
        ("env", SourceKind::Env),
    ];

    /// The name the CLI uses (`auto`, `login`, `adc`, `service-account`, `metadata`,
    /// `env`).
    pub fn name(self) -> &'static str {
        crate::named::name_of(&Self::ALL, self)
    }
}

impl std::str::FromStr for SourceKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        crate::named::parse_name(&Self::ALL, s, "credential source")
    }
}

/// Signs with one RSA private key: RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`).
pub trait Rs256Signer: Send + Sync + fmt::Debug {
    /// The signature of `message`.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String>;
}

/// Turns a PKCS#8 RSA private key into a [`Rs256Signer`]; supplied by the runtime.
pub trait RsaKeys: Send + Sync + fmt::Debug {
    /// A signer for the key, or why the key cannot sign (not RSA, too small, broken).
    fn load_pkcs8(&self, der: &[u8]) -> Result<Arc<dyn Rs256Signer>, String>;
}

/// Where a credential came from, for messages: a file (and the variable that named
/// it), a variable, or the metadata server's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(pub String);

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A credential source that cannot give a token, naming the source and where it came
/// from; never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} ({origin}): {problem}")]
pub struct SourceError {
    /// The source (`service account key`, `metadata server`, …).
    pub source_name: &'static str,
    /// The file, variable or host involved.
    pub origin: Origin,
    /// What is wrong and what to do.
    pub problem: String,
}

impl SourceError {
    pub(crate) fn new(
        source_name: &'static str,
        origin: &Origin,
        problem: impl Into<String>,
    ) -> Self {
        Self {
            source_name,
            origin: origin.clone(),
            problem: problem.into(),
        }
    }
}

/// gcloud's user credentials (`type: authorized_user`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuthorizedUser {
    /// The OAuth client gcloud signed in with.
    pub client_id: String,
    /// Its secret.
    pub client_secret: Secret,
    /// The refresh token.
    pub refresh_token: Secret,
    /// `quota_project_id` from the file.
    pub quota_project_id: Option<String>,
    /// The file, and the variable that named it.
    pub origin: Origin,
}

/// A service-account key (`type: service_account`) with its signer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServiceAccount {
    /// The account (`iss` and `sub` of the assertion).
    pub client_email: String,
    /// The key's id (`kid`).
    pub private_key_id: String,
    /// Where the assertion is sent (`aud`).
    pub token_uri: String,
    /// The project the key belongs to.
    pub project_id: Option<String>,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Signs with the private key.
    pub signer: Arc<dyn Rs256Signer>,
    /// The file, and the variable that named it.
    pub origin: Origin,
}

/// The metadata server of the machine this runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetadataServer {
    /// Host (and port) of the server.
    pub host: String,
    /// The scopes asked for; empty for the instance's own.
    pub scopes: Vec<String>,
}

impl MetadataServer {
    /// The server at `host`, asking for the instance's own scopes.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            scopes: Vec::new(),
        }
    }
}

/// An access token handed over in the environment.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InjectedToken {
    /// The token.
    pub token: Secret,
    /// The variable it came from.
    pub origin: Origin,
}

impl InjectedToken {
    /// `token`, handed over through `variable`.
    pub fn new(token: Secret, variable: &str) -> Self {
        Self {
            token,
            origin: Origin(format!("environment variable {variable}")),
        }
    }
}

/// A service account impersonated with another credential's token
/// (`type: impersonated_service_account`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ImpersonatedServiceAccount {
    /// The credential whose token buys the impersonated one (gcloud's user
    /// credentials, a service-account key, or workload identity federation).
    pub source: Box<CredentialSource>,
    /// Who is impersonated, and how.
    pub impersonation: Impersonation,
    /// `quota_project_id` from the file.
    pub quota_project_id: Option<String>,
    /// The file, and the variable that named it.
    pub origin: Origin,
}

/// Where the client's access tokens come from (see the [module docs](self)).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum CredentialSource {
    /// This library's own sign-in, in the credential store.
    #[default]
    SignIn,
    /// gcloud's user credentials.
    AuthorizedUser(AuthorizedUser),
    /// A service-account key.
    ServiceAccount(ServiceAccount),
    /// The metadata server.
    Metadata(MetadataServer),
    /// A token handed over in the environment.
    Injected(InjectedToken),
    /// Workload identity federation.
    ExternalAccount(Box<ExternalAccount>),
    /// A service account impersonated with another credential.
    Impersonated(ImpersonatedServiceAccount),
}

/// What `status` shows of a source: never a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SourceSummary {
    /// The source's kind, as [`SourceKind::name`] spells it.
    pub kind: &'static str,
    /// The account, when the source names it (a service account's `client_email`).
    pub account: Option<String>,
    /// Where the credential came from.
    pub origin: Option<String>,
    /// The credential file's `type` (`authorized_user`, `service_account`,
    /// `external_account`, `impersonated_service_account`), for a file.
    pub file_type: Option<&'static str>,
}

impl CredentialSource {
    /// True for this library's own sign-in, whose credentials live in the store.
    pub fn is_sign_in(&self) -> bool {
        matches!(self, CredentialSource::SignIn)
    }

    /// True when the token belongs to a person (this library's sign-in, gcloud's user
    /// credentials, an injected token), so a quota project is sent with it.
    pub fn is_user(&self) -> bool {
        matches!(
            self,
            CredentialSource::SignIn
                | CredentialSource::AuthorizedUser(_)
                | CredentialSource::Injected(_)
        )
    }

    /// The quota project to send as `x-goog-user-project`: `configured` (from
    /// `GOOGLE_CLOUD_QUOTA_PROJECT` or the host) for every credential, as google-auth
    /// applies it; else the `quota_project_id` of gcloud's user credentials.
    pub fn quota_project<'a>(&'a self, configured: Option<&'a str>) -> Option<&'a str> {
        let from_file = match self {
            CredentialSource::AuthorizedUser(user) => user.quota_project_id.as_deref(),
            CredentialSource::ExternalAccount(account) => account.quota_project_id.as_deref(),
            CredentialSource::Impersonated(impersonated) => {
                impersonated.quota_project_id.as_deref()
            }
            _ => None,
        };
        configured
            .or(from_file)
            .map(str::trim)
            .filter(|p| !p.is_empty())
    }

    /// True when the credential was read from gcloud's well-known file (whose
    /// configured project then applies, as in google-auth).
    pub fn is_from_gcloud_file(&self) -> bool {
        let origin = match self {
            CredentialSource::AuthorizedUser(user) => &user.origin,
            CredentialSource::ServiceAccount(account) => &account.origin,
            CredentialSource::ExternalAccount(account) => &account.origin,
            CredentialSource::Impersonated(impersonated) => &impersonated.origin,
            _ => return false,
        };
        origin.0.ends_with(GCLOUD_FILE_ORIGIN)
    }

    /// The project the credential itself names (a service account's `project_id`).
    pub fn project_id(&self) -> Option<&str> {
        match self {
            CredentialSource::ServiceAccount(account) => account.project_id.as_deref(),
            _ => None,
        }
    }

    /// Gives a workload identity federation source (also as an impersonation's
    /// source) what it reads of the environment: the AWS variables and whether
    /// executables may run.
    pub fn use_environment(&mut self, env: &Environment) {
        match self {
            CredentialSource::ExternalAccount(account) => {
                account.environment = ExternalEnvironment::from_environment(env);
            }
            CredentialSource::Impersonated(impersonated) => {
                impersonated.source.use_environment(env)
            }
            _ => {}
        }
    }

    /// What `status` may show.
    pub fn summary(&self) -> SourceSummary {
        let (kind, account, origin) = match self {
            CredentialSource::SignIn => ("login", None, None),
            CredentialSource::AuthorizedUser(user) => ("adc", None, Some(user.origin.0.clone())),
            CredentialSource::ServiceAccount(account) => (
                "service-account",
                Some(account.client_email.clone()),
                Some(account.origin.0.clone()),
            ),
            CredentialSource::Metadata(server) => (
                "metadata",
                None,
                Some(format!("metadata server {}", server.host)),
            ),
            CredentialSource::Injected(injected) => ("env", None, Some(injected.origin.0.clone())),
            CredentialSource::ExternalAccount(account) => (
                "adc",
                account
                    .impersonation
                    .as_ref()
                    .map(|impersonation| impersonation.target.clone()),
                Some(account.origin.0.clone()),
            ),
            CredentialSource::Impersonated(impersonated) => (
                "adc",
                Some(impersonated.impersonation.target.clone()),
                Some(impersonated.origin.0.clone()),
            ),
        };
        let file_type = match self {
            CredentialSource::AuthorizedUser(_) => Some("authorized_user"),
            CredentialSource::ServiceAccount(_) => Some("service_account"),
            CredentialSource::ExternalAccount(_) => Some("external_account"),
            CredentialSource::Impersonated(_) => Some("impersonated_service_account"),
            _ => None,
        };
        SourceSummary {
            kind,
            account,
            origin,
            file_type,
        }
    }

    /// The credentials a source other than [`CredentialSource::SignIn`] starts from,
    /// kept in memory: its identity, and for an injected token the token itself (with
    /// no end, so it is used until a server refuses it).
    pub fn seed(&self) -> Option<Credentials> {
        let seed = match self {
            CredentialSource::SignIn => return None,
            CredentialSource::AuthorizedUser(user) => Credentials::new(
                user.client_id.clone(),
                Some(user.client_secret.clone()),
                user.refresh_token.clone(),
            ),
            CredentialSource::ServiceAccount(account) => {
                let mut seed = Credentials::new(account.client_email.clone(), None, "");
                seed.email = Some(account.client_email.clone());
                seed
            }
            CredentialSource::Metadata(server) => {
                Credentials::new(format!("metadata:{}", server.host), None, "")
            }
            CredentialSource::Injected(injected) => {
                let mut seed = Credentials::new("injected", None, "");
                seed.access_token = Some(injected.token.clone());
                seed.expires_at = Some(i64::MAX);
                seed
            }
            CredentialSource::ExternalAccount(account) => {
                let mut seed = Credentials::new(format!("external:{}", account.audience), None, "");
                seed.email = account.impersonation.as_ref().map(|i| i.target.clone());
                seed
            }
            CredentialSource::Impersonated(impersonated) => {
                let target = &impersonated.impersonation.target;
                let mut seed = Credentials::new(format!("impersonated:{target}"), None, "");
                seed.email = Some(target.clone());
                seed
            }
        };
        Some(seed)
    }

    /// The operation that mints a new access token for `current` at `now`: its output
    /// is `current` with the new token applied. Most sources send one request;
    /// workload identity federation reads a file, runs a program or asks several
    /// hosts, and impersonation first mints the source's own token.
    ///
    /// `token_endpoint` is the configured token endpoint (Google's unless
    /// overridden): it replaces a credential file's `token_uri` when that is Google's
    /// own, and its origin is the one host besides Google's that a credential file's
    /// URLs may name.
    pub fn mint(
        &self,
        current: &Credentials,
        token_endpoint: &str,
        now: SystemTime,
    ) -> Result<BoxedOp<Credentials>, Error> {
        Ok(match self {
            CredentialSource::SignIn | CredentialSource::AuthorizedUser(_) => {
                Box::new(FlowOp::new(refresh_token(current, token_endpoint)?))
            }
            CredentialSource::ServiceAccount(account) => {
                let audience = match account.token_uri.as_str() {
                    GOOGLE_TOKEN_URI => token_endpoint,
                    other => other,
                };
                // The signed assertion goes only to Google's token hosts, or to the
                // base URL that replaces them: a key file naming another host would
                // hand it a credential.
                impersonate::check_google_url(
                    "token_uri",
                    audience,
                    token_endpoint,
                    &account.origin,
                )?;
                Box::new(FlowOp::new(jwt_bearer(
                    account,
                    audience,
                    current.clone(),
                    now,
                )?))
            }
            CredentialSource::Metadata(server) => {
                Box::new(FlowOp::new(metadata_token(server, current.clone())?))
            }
            CredentialSource::Injected(injected) => {
                return Err(SourceError::new(
                    "injected access token",
                    &injected.origin,
                    "the token was refused or has expired, and an injected token cannot be \
                     refreshed: provide a new one",
                )
                .into());
            }
            CredentialSource::ExternalAccount(account) => Box::new(Steps::new(account.mint(
                current.clone(),
                token_endpoint,
                now,
            ))),
            CredentialSource::Impersonated(impersonated) => {
                impersonated
                    .impersonation
                    .check_host(token_endpoint, &impersonated.origin)?;
                let seed = impersonated.source.seed().ok_or(Error::NotSignedIn)?;
                let first = impersonated.source.mint(&seed, token_endpoint, now)?;
                let impersonation = impersonated.impersonation.clone();
                let current = current.clone();
                Box::new(Steps::after(first, move |source: Credentials, now| {
                    let token = source.access_token.ok_or_else(|| Error::InvalidResponse {
                        what: "the impersonation's source credential",
                        detail: "no access token".into(),
                    })?;
                    impersonation.exchange(&token, current, now)
                }))
            }
        })
    }
}
