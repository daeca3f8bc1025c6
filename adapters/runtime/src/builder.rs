//! The one client builder every runtime shares.

use std::sync::Arc;

use codeassist_core::client::{Client as CoreClient, ClientConfig, RefreshPolicy};
use codeassist_core::code_assist::{CodeAssistConfig, project_from_env};
use codeassist_core::oauth::OAuthClient;

use codeassist_core::source::{
    CredentialSource, DiscoverOp, Environment, QUOTA_PROJECT_VAR, SourceKind,
};

use crate::{ClientError, CredentialStore, FileStore, MemoryCredentialStore};

/// A runtime's driver, which knows how to make its client from the built parts.
pub trait Runtime: Sized {
    /// The client this runtime makes.
    type Client;
    /// Makes the client.
    fn client(parts: ClientParts<Self>) -> Self::Client;
}

/// What a built client is made of.
#[non_exhaustive]
pub struct ClientParts<D> {
    /// The client core: configuration and in-memory credentials.
    pub core: CoreClient,
    /// Where credentials live.
    pub store: Arc<dyn CredentialStore + Send + Sync>,
    /// The runtime's driver.
    pub driver: D,
}

/// Builds a client of either runtime: `codeassist_blocking::Client::builder(oauth)` or
/// `codeassist_tokio::Client::builder(oauth)`, the same methods in both.
pub struct ClientBuilder<D> {
    config: ClientConfig,
    store: Option<Arc<dyn CredentialStore + Send + Sync>>,
    source_token_store: Option<Arc<dyn CredentialStore + Send + Sync>>,
    driver: D,
}

impl<D: std::fmt::Debug> std::fmt::Debug for ClientBuilder<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

impl<D: Runtime> ClientBuilder<D> {
    /// A builder for `oauth` over `driver`, with Google's Code Assist endpoints, the
    /// file store at its default location, and the project the environment names
    /// (`GOOGLE_CLOUD_PROJECT`, else `GCLOUD_PROJECT`).
    pub fn new(oauth: OAuthClient, driver: D) -> Self {
        let mut config = ClientConfig::new(oauth);
        config.env_project =
            project_from_env(|name| std::env::var(name).ok()).map(|(project, _)| project);
        config.quota_project = std::env::var(QUOTA_PROJECT_VAR).ok();
        Self {
            config,
            store: None,
            source_token_store: None,
            driver,
        }
    }

    /// Uses another credential store (default: the file at its default location).
    pub fn store(mut self, store: impl CredentialStore + Send + Sync + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Uses another Code Assist configuration.
    pub fn code_assist(mut self, config: CodeAssistConfig) -> Self {
        self.config.code_assist = config;
        self
    }

    /// Sets the configured project id (it wins over the environment).
    pub fn project(mut self, project: Option<String>) -> Self {
        self.config.project = project;
        self
    }

    /// Replaces the `GOOGLE_CLOUD_PROJECT` value read from the environment.
    pub fn env_project(mut self, project: Option<String>) -> Self {
        self.config.env_project = project;
        self
    }

    /// Uses another refresh policy (window, attempt timeout, budget with an expired
    /// token).
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.config.refresh = policy;
        self
    }

    /// Takes access tokens from `source` (default: this library's own sign-in, in the
    /// store). Tokens of any other source are kept in memory only. Find one with
    /// `Client::discover`.
    pub fn source(mut self, source: CredentialSource) -> Self {
        self.config.source = source;
        self
    }

    /// Keeps the access tokens of a source other than this library's own sign-in in
    /// `store`, so processes sharing it share them (see
    /// [`ClientConfig::cache_source_tokens`] for what is kept: never a refresh token
    /// or a key). Give it a store of its own, such as
    /// [`FileStore::source_tokens_beside`] the sign-in's file: never the sign-in's.
    /// Without this, such tokens live in memory only.
    ///
    /// ```no_run
    /// use codeassist_runtime::FileStore;
    /// // `~/.config/codeassist/source-token.json`, beside the sign-in's `oauth.json`:
    /// // give it to `Client::builder(…).cache_source_tokens(…)` of either runtime.
    /// let cache = FileStore::at_default_location()?.source_tokens_beside();
    /// # Ok::<(), codeassist_runtime::StoreError>(())
    /// ```
    pub fn cache_source_tokens(
        mut self,
        store: impl CredentialStore + Send + Sync + 'static,
    ) -> Self {
        self.config.cache_source_tokens = true;
        self.source_token_store = Some(Arc::new(store));
        self
    }

    /// Bills user credentials' calls to this quota project (`x-goog-user-project`);
    /// replaces `GOOGLE_CLOUD_QUOTA_PROJECT` read from the environment.
    pub fn quota_project(mut self, project: Option<String>) -> Self {
        self.config.quota_project = project;
        self
    }

    /// Uses another driver (timeouts, limits).
    pub fn driver(mut self, driver: D) -> Self {
        self.driver = driver;
        self
    }

    /// The client.
    pub fn build(self) -> Result<D::Client, ClientError> {
        let store: Arc<dyn CredentialStore + Send + Sync> =
            match (self.store, self.config.source.is_sign_in()) {
                // Another source never touches the credential file: its tokens go to
                // the store the host gave for them, else nowhere.
                (_, false) => self
                    .source_token_store
                    .unwrap_or_else(|| Arc::new(MemoryCredentialStore::default())),
                (Some(store), true) => store,
                (None, true) => Arc::new(FileStore::at_default_location()?),
            };
        Ok(D::client(ClientParts {
            core: CoreClient::new(self.config),
            store,
            driver: self.driver,
        }))
    }
}

/// The core and store of a client switched to `source`: a new in-memory lifecycle;
/// the store stays for this library's own sign-in, and is an in-memory one for any
/// other source. What `Client::with_source` of both runtimes does.
pub fn switch_source(
    core: &CoreClient,
    store: &Arc<dyn CredentialStore + Send + Sync>,
    source: CredentialSource,
) -> (CoreClient, Arc<dyn CredentialStore + Send + Sync>) {
    let store: Arc<dyn CredentialStore + Send + Sync> = match source.is_sign_in() {
        true => Arc::clone(store),
        false => Arc::new(MemoryCredentialStore::default()),
    };
    (core.reconfigured(|config| config.source = source), store)
}

/// Discovery of `pinned` (or the whole order for [`SourceKind::Auto`]) in this
/// process's environment, with `ring` for service-account keys: what
/// `Client::discover` of both runtimes runs.
pub fn discovery(pinned: SourceKind) -> DiscoverOp {
    DiscoverOp::new(
        Environment::capture(|name| std::env::var(name).ok()),
        pinned,
        Arc::new(crate::RingKeys),
    )
}
