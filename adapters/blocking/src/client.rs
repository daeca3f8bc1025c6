//! The convenience client: sign in, tokens, project and quota in a few lines.

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
use crate::{BlockingDriver, os_random};

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
}

impl ClientError {
    /// True when a person must sign in again (nobody signed in, or the grant revoked).
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
            TokenError::NotSignedIn => ClientError::NotSignedIn,
            TokenError::Store(store) => ClientError::Store(store),
            TokenError::Refresh(flow) => ClientError::Flow(flow),
            _ => ClientError::NotSignedIn,
        }
    }
}

/// Sign-in, tokens, project and quota over the blocking driver and a credential store.
///
/// ```no_run
/// use codeassist_blocking::{Client, LoginOptions};
/// use codeassist_core::oauth::OAuthClient;
///
/// let client = Client::new(OAuthClient::new("id.apps.googleusercontent.com", "secret"))?;
/// client.login(LoginOptions::new(|url| eprintln!("Open {url}")))?;
/// let token = client.access_token()?;
/// let project = client.project()?;
/// # Ok::<(), codeassist_blocking::ClientError>(())
/// ```
#[derive(Clone)]
pub struct Client {
    driver: BlockingDriver,
    oauth: OAuthClient,
    code_assist: CodeAssistConfig,
    store: Arc<dyn CredentialStore + Send + Sync>,
    project: Option<String>,
    env_project: Option<String>,
    window: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("oauth", &self.oauth)
            .field("code_assist", &self.code_assist)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `oauth` with the file store at its default location, Google's
    /// Code Assist endpoints, and `GOOGLE_CLOUD_PROJECT` read from the environment.
    pub fn new(oauth: OAuthClient) -> Result<Self, ClientError> {
        Ok(Self {
            driver: BlockingDriver::default(),
            oauth,
            code_assist: CodeAssistConfig::default(),
            store: Arc::new(FileStore::at_default_location()?),
            project: None,
            env_project: std::env::var(codeassist_core::code_assist::PROJECT_ENV_VAR).ok(),
            window: DEFAULT_REFRESH_WINDOW,
        })
    }

    /// Uses another credential store.
    pub fn with_store(mut self, store: impl CredentialStore + Send + Sync + 'static) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// Uses another Code Assist configuration.
    pub fn with_code_assist(mut self, config: CodeAssistConfig) -> Self {
        self.code_assist = config;
        self
    }

    /// Uses another driver.
    pub fn with_driver(mut self, driver: BlockingDriver) -> Self {
        self.driver = driver;
        self
    }

    /// Sets the configured project id (it wins over the environment).
    pub fn with_project(mut self, project: Option<String>) -> Self {
        self.project = project;
        self
    }

    /// Replaces the `GOOGLE_CLOUD_PROJECT` value read at construction.
    pub fn with_env_project(mut self, project: Option<String>) -> Self {
        self.env_project = project;
        self
    }

    /// The stored credentials, if anyone is signed in.
    pub fn credentials(&self) -> Result<Option<Credentials>, ClientError> {
        Ok(self.store.load()?)
    }

    /// Signs a person in: listens on loopback, hands the URL to `options.on_url`, waits
    /// for the browser (or a paste), exchanges the code, asks who it is, and saves.
    pub fn login(&self, options: LoginOptions) -> Result<Credentials, ClientError> {
        let listener = CallbackListener::bind(options.port).map_err(CallbackWaitError::Io)?;
        let oauth = self
            .oauth
            .clone()
            .with_redirect_uri(listener.redirect_uri());
        let request = oauth.authorization_request(&mut os_random())?;
        (options.on_url)(&request.url);
        let code = listener.wait_for_code(&request.state, options.wait)?;
        let mut credentials = self.driver.run(exchange_code(
            &oauth,
            &code,
            request.pkce.verifier(),
            &request.redirect_uri,
        )?)?;
        if let Some(token) = &credentials.access_token {
            match self
                .driver
                .run(fetch_email(token, &oauth.endpoints.userinfo)?)
            {
                Ok(email) => credentials.email = Some(email),
                Err(error) => {
                    tracing::warn!(error = %error, "signed in, but could not read the email")
                }
            }
        }
        self.store.lock()?.save(&credentials)?;
        Ok(credentials)
    }

    /// A valid access token: the stored one while it has more than 5 minutes left,
    /// otherwise refreshed under the store's lock (one refresh across processes).
    pub fn access_token(&self) -> Result<Secret, ClientError> {
        Ok(self.fresh_credentials()?.0)
    }

    fn fresh_credentials(&self) -> Result<(Secret, Credentials), ClientError> {
        let token_endpoint = self.oauth.endpoints.token.clone();
        let window = self.window;
        let fresh =
            codeassist_store::access_token(&*self.store, SystemTime::now, window, |credentials| {
                let flow = AccessToken::new(credentials, token_endpoint).with_window(window);
                let flow = Retry::new(
                    flow,
                    self.code_assist.retry.clone(),
                    SplitMix64::seeded_from(&mut os_random()),
                );
                self.driver.run(flow).map(|fresh| fresh.credentials)
            })?;
        Ok((fresh.access_token, fresh.credentials))
    }

    /// Forgets the stored access token, so the next call refreshes.
    fn expire_access_token(&self) -> Result<(), ClientError> {
        let mut locked = self.store.lock()?;
        if let Some(mut credentials) = locked.load()? {
            credentials.expires_at = Some(0);
            locked.save(&credentials)?;
        }
        Ok(())
    }

    /// Runs a flow that needs a token; a 401 refreshes the token and runs it once more.
    fn with_token<T>(&self, run: impl Fn(&Secret) -> Result<T, Error>) -> Result<T, ClientError> {
        let token = self.access_token()?;
        match run(&token) {
            Err(error)
                if error
                    .retry_history()
                    .is_some_and(|h| h.final_decision == Some(Decision::Reauthenticate)) =>
            {
                self.expire_access_token()?;
                let token = self.access_token()?;
                Ok(run(&token)?)
            }
            other => Ok(other?),
        }
    }

    /// Resolves the Code Assist project: configured, `GOOGLE_CLOUD_PROJECT`,
    /// discovered, or onboarded.
    pub fn project(&self) -> Result<ProjectContext, ClientError> {
        self.with_token(|token| {
            self.driver.run(resolve_project(
                self.code_assist.clone(),
                token.clone(),
                self.project.as_deref(),
                self.env_project.as_deref(),
                &mut os_random(),
            ))
        })
    }

    /// The quota buckets of the resolved project.
    pub fn quota(&self) -> Result<Quota, ClientError> {
        let project = self.project()?;
        self.with_token(|token| {
            self.driver.run(retrieve_user_quota(
                &self.code_assist,
                token,
                &project.project_id,
                &mut os_random(),
            )?)
        })
    }

    /// Revokes the grant at Google and deletes the stored credentials. The deletion
    /// happens even when the revocation fails; [`Logout`] says what happened.
    pub fn logout(&self) -> Result<Logout, ClientError> {
        let mut locked = self.store.lock()?;
        let Some(credentials) = locked.load()? else {
            return Ok(Logout::new(false, None));
        };
        let revocation_error =
            revoke_token(&credentials.refresh_token, &self.oauth.endpoints.revoke)
                .and_then(|flow| self.driver.run(flow))
                .err();
        locked.delete()?;
        Ok(Logout::new(true, revocation_error))
    }
}
