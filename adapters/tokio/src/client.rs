//! The async client: a thin shell over `codeassist_core::client` that performs what
//! core's operations ask for on tokio.

use std::sync::Arc;
use std::time::SystemTime;

use codeassist_core::Secret;
use codeassist_core::client::SignIn;
use codeassist_core::client::{
    Action, Cached, Client as CoreClient, Input, Operation, StoreOp, StoreReply,
};
use codeassist_core::client::{Answered, Opened};
use codeassist_core::code_assist::{ProjectContext, Quota};
use codeassist_core::flow::Request;
use codeassist_core::inference::Chunk;
use codeassist_core::inference::{ModelInfo, OpenAiPath, OpenAiStreamReader, Target};
use codeassist_core::oauth::{Credentials, Logout};
use codeassist_core::source::{CredentialSource, SourceKind};
use codeassist_runtime::{
    CallbackWaitError, ClientBuilder, ClientError, ClientParts, CredentialStore, LoginOptions,
    Runtime, StoreSession,
};

use crate::driver::Opening;
use crate::listener::CallbackListener;
use crate::stream::AsyncResponseStream;
use crate::{AsyncDriver, os_random};

/// Sign-in, tokens, project, quota and streams over the async driver and a credential
/// store: the same surface as the blocking client, with `async` methods.
///
/// `Send + Sync` and cheap to clone (clones share the in-memory token). Every
/// decision is made in `codeassist_core::client`; store work runs on
/// `spawn_blocking`. Concurrent callers whose token needs a refresh each take the
/// store's lock in turn, and all but the first find the refreshed token there.
///
/// ```no_run
/// # async fn example() -> Result<(), codeassist_tokio::ClientError> {
/// use codeassist_core::oauth::OAuthClient;
/// use codeassist_tokio::Client;
///
/// let client = Client::builder(OAuthClient::new("id.apps.googleusercontent.com", "secret")).build()?;
/// let token = client.access_token().await?;
/// let project = client.project().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    core: CoreClient,
    store: Arc<dyn CredentialStore + Send + Sync>,
    driver: AsyncDriver,
    /// One refresh at a time in this process: later callers find its token.
    refreshing: Arc<tokio::sync::Mutex<()>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", self.core.config())
            .finish_non_exhaustive()
    }
}

impl Runtime for AsyncDriver {
    type Client = Client;
    fn client(parts: ClientParts<Self>) -> Client {
        Client {
            core: parts.core,
            store: parts.store,
            driver: parts.driver,
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// Performs `op` on a blocking thread; the session (and its lock guard) goes there
/// and comes back.
async fn perform(
    session: StoreSession,
    op: StoreOp,
) -> Result<(StoreSession, StoreReply), ClientError> {
    let mut session = session;
    tokio::task::spawn_blocking(move || {
        let reply = session.perform(op)?;
        Ok((session, reply))
    })
    .await
    .map_err(|error| ClientError::Task(error.to_string()))?
}

impl Client {
    /// A builder for `oauth`: see [`ClientBuilder`].
    pub fn builder(oauth: codeassist_core::oauth::OAuthClient) -> ClientBuilder<AsyncDriver> {
        ClientBuilder::new(oauth, AsyncDriver::default())
    }

    /// The client core (configuration, in-memory credentials), to make operations
    /// this type has no method for.
    pub fn core(&self) -> &CoreClient {
        &self.core
    }

    /// The driver.
    pub fn driver(&self) -> &AsyncDriver {
        &self.driver
    }

    /// Finds the credential source to use: `pinned`, or the discovery order for
    /// [`SourceKind::Auto`] (see [`codeassist_core::source`]). Reads this process's
    /// environment, the store, credential files, and probes the metadata server
    /// (at most a second; never with `NO_GCE_CHECK=true`).
    pub async fn discover(&self, pinned: SourceKind) -> Result<CredentialSource, ClientError> {
        self.run(codeassist_runtime::discovery(pinned)).await
    }

    /// This client with another model fallback policy (`enabled: false` turns it
    /// off); memory and the driver are shared.
    pub fn with_fallback(&self, policy: codeassist_core::inference::FallbackPolicy) -> Self {
        Self {
            core: self.core.with_fallback(policy),
            store: Arc::clone(&self.store),
            driver: self.driver.clone(),
            refreshing: Arc::clone(&self.refreshing),
        }
    }

    /// This client taking its tokens from `source` instead (call it on a client built
    /// for this library's own sign-in); the driver is shared.
    pub fn with_source(&self, source: CredentialSource) -> Self {
        let (core, store) = codeassist_runtime::switch_source(&self.core, &self.store, source);
        Self {
            core,
            store,
            driver: self.driver.clone(),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Runs any core client operation to its end.
    pub async fn run<O: Operation>(&self, op: O) -> Result<O::Output, ClientError> {
        self.drive(op).await.map(|(output, _)| output)
    }

    /// The one loop: performs each action core asks for. A stream opened along the
    /// way is returned beside the output.
    async fn drive<O: Operation>(
        &self,
        mut op: O,
    ) -> Result<(O::Output, Option<AsyncResponseStream>), ClientError> {
        let mut session = StoreSession::new(self.store.clone());
        let mut opened = None;
        loop {
            let input = match op.poll(SystemTime::now())? {
                Action::Done(output) => return Ok((output, opened)),
                Action::Wait(duration) => {
                    tokio::time::sleep(duration).await;
                    continue;
                }
                Action::Store(store_op) => {
                    let (back, reply) = perform(session, store_op).await?;
                    session = back;
                    Input::Store(reply)
                }
                Action::Read(path) => Input::Read(
                    tokio::task::spawn_blocking(move || {
                        codeassist_runtime::read_credential_file(&path)
                    })
                    .await
                    .unwrap_or_else(|_| Err("the file reader stopped".to_owned())),
                ),
                Action::Run(command) => Input::Ran(
                    tokio::task::spawn_blocking(move || codeassist_runtime::run_command(&command))
                        .await
                        .unwrap_or_else(|_| Err("the program runner stopped".to_owned())),
                ),
                Action::Send(request) => Input::Response(self.driver.send(request).await),
                Action::Open(request) => match self.driver.open(request).await {
                    Opening::Opened(head, stream) => {
                        opened = Some(stream);
                        Input::Opened(head)
                    }
                    Opening::Answered(answer) => Input::Response(answer),
                },
            };
            op.handle(input, SystemTime::now());
        }
    }

    /// The stored credentials, if anyone is signed in.
    pub async fn credentials(&self) -> Result<Option<Credentials>, ClientError> {
        match perform(StoreSession::new(self.store.clone()), StoreOp::Load).await? {
            (_, StoreReply::Loaded(credentials)) => Ok(credentials.map(|c| *c)),
            _ => Ok(None),
        }
    }

    /// Signs a person in: checks the credentials can be saved, listens on loopback,
    /// hands the URL to `options.on_url`, waits for the browser (or a paste), then
    /// exchanges the code, learns the email and saves (`codeassist_core::client`'s
    /// sign-in). The browser is told "signed in" only once that succeeded.
    pub async fn login(&self, mut options: LoginOptions) -> Result<SignIn, ClientError> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || store.check_writable())
            .await
            .map_err(|error| ClientError::Task(error.to_string()))??;
        let listener = CallbackListener::bind(options.port)
            .await
            .map_err(CallbackWaitError::Io)?;
        let pending = self
            .core
            .start_sign_in(&listener.redirect_uri(), &mut os_random())?;
        options.wait.issuers = pending.issuers().to_vec();
        (options.on_url)(pending.url());
        let callback = listener
            .wait_for_code(pending.state(), options.wait)
            .await?;
        let outcome = self.run(pending.finish(&callback.code)).await;
        match &outcome {
            Ok(_) => callback.answer(Ok(())).await,
            Err(error) => callback.answer(Err(&error.to_string())).await,
        }
        outcome
    }

    /// A valid access token: from memory while it has more than the refresh window
    /// left (no I/O at all), else from the store, else refreshed under the store's
    /// lock, once for all concurrent callers in this process. During an outage a
    /// still-valid token is returned after one short attempt.
    ///
    /// **Refresh ahead:** when the token in memory has entered the 5-minute window but
    /// still has more than a minute left, it is returned at once and one refresh runs
    /// in a background task (single flight: at most one at a time per client). This
    /// needs a running tokio runtime, which an `async` caller has.
    pub async fn access_token(&self) -> Result<Secret, ClientError> {
        match self.core.cached(SystemTime::now()) {
            Cached::Fresh(token) => Ok(token),
            Cached::Aging(token) => {
                self.refresh_in_background();
                Ok(token)
            }
            // Boxed, so the warm path's future stays small.
            _ => Box::pin(self.fetch_access_token()).await,
        }
    }

    /// Starts one background refresh unless one is running.
    fn refresh_in_background(&self) {
        let Ok(single_flight) = self.refreshing.clone().try_lock_owned() else {
            return;
        };
        let client = self.clone();
        tokio::spawn(async move {
            let _single_flight = single_flight;
            if let Err(error) = client.run(client.core.access_token()).await {
                tracing::warn!(error = %error, "background token refresh failed; the current token is still valid");
            }
        });
    }

    async fn fetch_access_token(&self) -> Result<Secret, ClientError> {
        let _single_flight = self.refreshing.lock().await;
        self.run(self.core.access_token()).await
    }

    /// Resolves the Code Assist project: configured, `GOOGLE_CLOUD_PROJECT`, the
    /// cache beside the credentials, discovered, or onboarded.
    pub async fn project(&self) -> Result<ProjectContext, ClientError> {
        self.run(self.core.project(false, &mut os_random())).await
    }

    /// [`Client::project`], asking Code Assist again instead of using the cache.
    pub async fn refresh_project(&self) -> Result<ProjectContext, ClientError> {
        self.run(self.core.project(true, &mut os_random())).await
    }

    /// The quota buckets of the resolved project.
    pub async fn quota(&self) -> Result<Quota, ClientError> {
        self.run(self.core.quota(&mut os_random())).await
    }

    /// `generateContent` for `model` in the resolved project (the cached one when
    /// there is one): `request` is the Gemini `GenerateContentRequest` as JSON. Retried
    /// under the Code Assist policy; a 401 refreshes the token once; a 403/404 about
    /// the project forgets the cached one.
    pub async fn generate(
        &self,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        self.run(self.core.generate(model, request, &mut os_random()))
            .await
    }

    /// `streamGenerateContent` for `model` in the resolved project, item by item as
    /// the answer arrives; see [`Client::generate`] for the rules of the opening.
    pub async fn stream_generate(
        &self,
        model: &str,
        request: serde_json::Value,
    ) -> Result<AsyncResponseStream, ClientError> {
        let (_head, stream) = self
            .drive(self.core.stream_generate(model, request, &mut os_random()))
            .await?;
        stream.ok_or_else(read_whole)
    }

    /// `generateContent` for `model` on `target` (Code Assist, the Gemini API or
    /// Vertex AI): the same rules as [`Client::generate`] (retries, the 401 rule, the
    /// quota project for user credentials); an API key needs no sign-in.
    pub async fn generate_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        let op = self
            .core
            .generate_on(target, model, request, &mut os_random());
        self.run(op).await
    }

    /// `streamGenerateContent` for `model` on `target`, item by item.
    pub async fn stream_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<AsyncResponseStream, ClientError> {
        let op = self
            .core
            .stream_on(target, model, request, &mut os_random());
        let (_head, stream) = self.drive(op).await?;
        stream.ok_or_else(read_whole)
    }

    /// [`Client::generate_on`], falling back along the model's chain when it cannot
    /// answer (capacity, quota, unknown model); the answer says which model answered
    /// and every switch made.
    pub async fn generate_with_fallback(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Answered<Chunk>, ClientError> {
        let op = self
            .core
            .generate_with_fallback(target, model, request, &mut os_random());
        self.run(op).await
    }

    /// [`Client::stream_on`], the opening falling back along the model's chain; once
    /// text flows no switch happens (a later error comes out of the stream).
    ///
    /// ```no_run
    /// # async fn example() -> Result<(), codeassist_tokio::ClientError> {
    /// use codeassist_core::Secret;
    /// use codeassist_core::inference::{StreamItem, Target};
    /// use codeassist_core::oauth::OAuthClient;
    /// use codeassist_tokio::Client;
    ///
    /// let client = Client::builder(OAuthClient::new("", "")).build()?;
    /// let key = std::env::var("GEMINI_API_KEY").unwrap_or_default();
    /// let target = Target::gemini_api(Some(Secret::new(key)));
    /// let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    /// let (answered, mut stream) = client
    ///     .stream_with_fallback(&target, "gemini-2.5-pro", request)
    ///     .await?;
    /// eprintln!("answered by {}", answered.model);
    /// while let Some(item) = stream.next().await {
    ///     if let StreamItem::Chunk(chunk) = item? {
    ///         print!("{}", chunk.response["candidates"][0]["content"]["parts"][0]["text"]);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn stream_with_fallback(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<(Answered<Opened>, AsyncResponseStream), ClientError> {
        let op = self
            .core
            .stream_with_fallback(target, model, request, &mut os_random());
        let (answered, stream) = self.drive(op).await?;
        Ok((answered, stream.ok_or_else(read_whole)?))
    }

    /// A non-streamed call to the Gemini API's OpenAI-compatible endpoint: the host's
    /// JSON passed through with authentication added (retries, the 401 rule, errors
    /// classified); the answer's JSON.
    pub async fn openai(
        &self,
        target: &Target,
        path: OpenAiPath,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        self.run(self.core.openai_on(target, path, body)).await
    }

    /// A streamed `chat/completions` on the OpenAI-compatible endpoint (`"stream":
    /// true` is set): chunks until `data: [DONE]`.
    pub async fn openai_stream(
        &self,
        target: &Target,
        body: serde_json::Value,
    ) -> Result<AsyncResponseStream<OpenAiStreamReader>, ClientError> {
        let op = self.core.openai_stream_on(target, body, &mut os_random());
        let (_head, stream) = self.drive(op).await?;
        Ok(stream.ok_or_else(read_whole)?.read_with())
    }

    /// `countTokens` for `model` on the Gemini API or Vertex AI.
    pub async fn count_tokens_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<u64, ClientError> {
        self.run(self.core.count_tokens_on(target, model, request))
            .await
    }

    /// The Gemini API's models with their token limits.
    pub async fn list_models_on(&self, target: &Target) -> Result<Vec<ModelInfo>, ClientError> {
        self.run(self.core.list_models_on(target)).await
    }

    /// Revokes the grant and deletes the stored credentials, under the store's lock.
    /// The deletion happens even when the revocation fails; [`Logout`] says what
    /// happened.
    pub async fn logout(&self) -> Result<Logout, ClientError> {
        self.run(self.core.logout()).await
    }

    /// Deletes the stored credentials without revoking them at the OAuth server.
    pub async fn forget(&self) -> Result<Logout, ClientError> {
        self.run(self.core.forget()).await
    }

    /// Opens a streamed answer: `make` builds the request from a valid token. The
    /// opening exchange is retried under the Code Assist policy and a 401 refreshes
    /// the token once; errors inside the stream are items for the host to act on.
    pub async fn stream(
        &self,
        make: impl FnMut(&Secret) -> Result<Request, codeassist_core::Error>,
    ) -> Result<AsyncResponseStream, ClientError> {
        let (_head, stream) = self
            .drive(self.core.open_stream(make, &mut os_random()))
            .await?;
        stream.ok_or_else(read_whole)
    }
}

/// A streaming request whose 2xx answer came back read whole (a runtime that does
/// not stream): nothing to iterate.
fn read_whole() -> ClientError {
    codeassist_core::Error::InvalidResponse {
        what: "the stream",
        detail: "the answer was read whole instead of streamed".to_owned(),
    }
    .into()
}
