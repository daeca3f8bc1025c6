//! The async convenience client: `Send + Sync`, cheap to clone, one refresh at a time.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use codeassist_core::code_assist::{
    CodeAssistConfig, ProjectContext, Quota, resolve_project, retrieve_user_quota,
};
use codeassist_core::oauth::{
    AccessToken, Credentials, DEFAULT_REFRESH_WINDOW, LoginOptions, Logout, OAuthClient,
    exchange_code, fetch_email, revoke_token,
};
use codeassist_core::retry::{Decision, Retry};
use codeassist_core::{Error, Secret, SplitMix64};
use codeassist_store::{CredentialStore, FileStore, StoreError, TokenError};

use crate::listener::{CallbackListener, CallbackWaitError};
use crate::{AsyncDriver, os_random};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Nobody is signed in.
    #[error("nobody is signed in: run `codeassist login`")]
    NotSignedIn,
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A flow failed: Google's classified error, or a Code Assist or OAuth problem.
    #[error(transparent)]
    Flow(#[from] Error),
    /// Waiting for the browser failed.
    #[error(transparent)]
    Login(#[from] CallbackWaitError),
    /// A blocking task (store I/O) was cancelled or panicked.
    #[error("a background task failed: {0}")]
    Task(String),
}

impl ClientError {
    /// True when a person must sign in again.
    pub fn needs_login(&self) -> bool {
        match self {
            ClientError::NotSignedIn => true,
            ClientError::Flow(error) => error.api().is_some_and(|api| api.reauth()),
            _ => false,
        }
    }
}

impl From<TokenError<Error>> for ClientError {
    fn from(error: TokenError<Error>) -> Self {
        match error {
            TokenError::Store(store) => ClientError::Store(store),
            TokenError::Refresh(flow) => ClientError::Flow(flow),
            _ => ClientError::NotSignedIn,
        }
    }
}

struct Shared {
    driver: AsyncDriver,
    oauth: OAuthClient,
    code_assist: CodeAssistConfig,
    store: Arc<dyn CredentialStore + Send + Sync>,
    project: Option<String>,
    env_project: Option<String>,
    window: Duration,
    /// Single flight: one refresh at a time in this process.
    refreshing: tokio::sync::Mutex<()>,
}

/// Sign-in, tokens, project and quota over the async driver and a credential store.
///
/// `Send + Sync` and cheap to clone (clones share everything). Concurrent
/// [`Client::access_token`] calls share one refresh; across processes the store's lock
/// holds. File work runs on `spawn_blocking`.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("oauth", &self.shared.oauth)
            .field("project", &self.shared.project)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    driver: AsyncDriver,
    oauth: OAuthClient,
    code_assist: CodeAssistConfig,
    store: Option<Arc<dyn CredentialStore + Send + Sync>>,
    project: Option<String>,
    env_project: Option<String>,
}

impl ClientBuilder {
    /// Uses another credential store (default: the file at its default location).
    pub fn store(mut self, store: impl CredentialStore + Send + Sync + 'static) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Uses another Code Assist configuration.
    pub fn code_assist(mut self, config: CodeAssistConfig) -> Self {
        self.code_assist = config;
        self
    }

    /// Uses another driver.
    pub fn driver(mut self, driver: AsyncDriver) -> Self {
        self.driver = driver;
        self
    }

    /// Sets the configured project id (it wins over the environment).
    pub fn project(mut self, project: Option<String>) -> Self {
        self.project = project;
        self
    }

    /// Replaces the `GOOGLE_CLOUD_PROJECT` value read from the environment.
    pub fn env_project(mut self, project: Option<String>) -> Self {
        self.env_project = project;
        self
    }

    /// The client.
    pub fn build(self) -> Result<Client, ClientError> {
        let store = match self.store {
            Some(store) => store,
            None => Arc::new(FileStore::at_default_location()?),
        };
        Ok(Client {
            shared: Arc::new(Shared {
                driver: self.driver,
                oauth: self.oauth,
                code_assist: self.code_assist,
                store,
                project: self.project,
                env_project: self.env_project,
                window: DEFAULT_REFRESH_WINDOW,
                refreshing: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

impl Client {
    /// A builder for `oauth`, with Google's Code Assist endpoints and
    /// `GOOGLE_CLOUD_PROJECT` read from the environment.
    pub fn builder(oauth: OAuthClient) -> ClientBuilder {
        ClientBuilder {
            driver: AsyncDriver::default(),
            oauth,
            code_assist: CodeAssistConfig::default(),
            store: None,
            project: None,
            env_project: std::env::var(codeassist_core::code_assist::PROJECT_ENV_VAR).ok(),
        }
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&dyn CredentialStore) -> Result<T, ClientError> + Send + 'static,
    ) -> Result<T, ClientError> {
        let store = self.shared.store.clone();
        tokio::task::spawn_blocking(move || work(&*store))
            .await
            .map_err(|error| ClientError::Task(error.to_string()))?
    }

    /// The stored credentials, if anyone is signed in.
    pub async fn credentials(&self) -> Result<Option<Credentials>, ClientError> {
        self.blocking(|store| Ok(store.load()?)).await
    }

    /// Signs a person in (see the blocking client's `login`).
    pub async fn login(&self, options: LoginOptions) -> Result<Credentials, ClientError> {
        let shared = &self.shared;
        let listener = CallbackListener::bind(options.port)
            .await
            .map_err(CallbackWaitError::Io)?;
        let oauth = shared
            .oauth
            .clone()
            .with_redirect_uri(listener.redirect_uri());
        let request = oauth.authorization_request(&mut os_random())?;
        (options.on_url)(&request.url);
        let code = listener.wait_for_code(&request.state, options.wait).await?;
        let mut credentials = shared
            .driver
            .run(exchange_code(
                &oauth,
                &code,
                request.pkce.verifier(),
                &request.redirect_uri,
            )?)
            .await?;
        if let Some(token) = &credentials.access_token {
            match shared
                .driver
                .run(fetch_email(token, &oauth.endpoints.userinfo)?)
                .await
            {
                Ok(email) => credentials.email = Some(email),
                Err(error) => {
                    tracing::warn!(error = %error, "signed in, but could not read the email")
                }
            }
        }
        let saved = credentials.clone();
        self.blocking(move |store| Ok(store.lock()?.save(&saved)?))
            .await?;
        Ok(credentials)
    }

    /// A valid access token, refreshed (once, for all concurrent callers) when fewer
    /// than 5 minutes remain.
    pub async fn access_token(&self) -> Result<Secret, ClientError> {
        let window = self.shared.window;
        let stored = self.credentials().await?.ok_or(ClientError::NotSignedIn)?;
        if let Some(token) = stored.valid_access_token(SystemTime::now(), window) {
            return Ok(token.clone());
        }
        let _single_flight = self.shared.refreshing.lock().await;
        let driver = self.shared.driver.clone();
        let token_endpoint = self.shared.oauth.endpoints.token.clone();
        let policy = self.shared.code_assist.retry.clone();
        let runtime = tokio::runtime::Handle::current();
        self.blocking(move |store| {
            let fresh =
                codeassist_store::access_token(store, SystemTime::now, window, |credentials| {
                    let flow = AccessToken::new(credentials, token_endpoint).with_window(window);
                    let flow = Retry::new(flow, policy, SplitMix64::seeded_from(&mut os_random()));
                    runtime
                        .block_on(driver.run(flow))
                        .map(|fresh| fresh.credentials)
                })?;
            Ok(fresh.access_token)
        })
        .await
    }

    async fn expire_access_token(&self) -> Result<(), ClientError> {
        self.blocking(|store| {
            let mut locked = store.lock()?;
            if let Some(mut credentials) = locked.load()? {
                credentials.expires_at = Some(0);
                locked.save(&credentials)?;
            }
            Ok(())
        })
        .await
    }

    /// Resolves the Code Assist project; a 401 refreshes the token and tries once more.
    pub async fn project(&self) -> Result<ProjectContext, ClientError> {
        let shared = &self.shared;
        let run = |token: Secret| {
            shared.driver.run(resolve_project(
                shared.code_assist.clone(),
                token,
                shared.project.as_deref(),
                shared.env_project.as_deref(),
                &mut os_random(),
            ))
        };
        match run(self.access_token().await?).await {
            Err(error) if wants_reauth(&error) => {
                self.expire_access_token().await?;
                Ok(run(self.access_token().await?).await?)
            }
            other => Ok(other?),
        }
    }

    /// The quota buckets of the resolved project.
    pub async fn quota(&self) -> Result<Quota, ClientError> {
        let project = self.project().await?;
        let shared = &self.shared;
        let token = self.access_token().await?;
        let flow = retrieve_user_quota(
            &shared.code_assist,
            &token,
            &project.project_id,
            &mut os_random(),
        )?;
        Ok(shared.driver.run(flow).await?)
    }

    /// Revokes the grant at Google and deletes the stored credentials, even when the
    /// revocation fails.
    pub async fn logout(&self) -> Result<Logout, ClientError> {
        let Some(credentials) = self.credentials().await? else {
            return Ok(Logout::new(false, None));
        };
        let revocation_error = match revoke_token(
            &credentials.refresh_token,
            &self.shared.oauth.endpoints.revoke,
        ) {
            Ok(flow) => self.shared.driver.run(flow).await.err(),
            Err(error) => Some(error),
        };
        self.blocking(|store| Ok(store.lock()?.delete()?)).await?;
        Ok(Logout::new(true, revocation_error))
    }
}

fn wants_reauth(error: &Error) -> bool {
    error
        .retry_history()
        .is_some_and(|history| history.final_decision == Some(Decision::Reauthenticate))
}
