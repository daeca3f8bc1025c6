//! The blocking client: a thin shell over `codeassist_core::client` that performs
//! what core's operations ask for on the calling thread.

use std::sync::Arc;
use std::time::SystemTime;

use codeassist_core::Secret;
use codeassist_core::client::SignIn;
use codeassist_core::client::{Action, Client as CoreClient, Input, Operation};
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
use crate::stream::ResponseStream;
use crate::{BlockingDriver, os_random};

/// Sign-in, tokens, project, quota and streams over the blocking driver and a
/// credential store. Cheap to clone; clones share the in-memory token.
///
/// Every decision (when to refresh, the lock protocol, 401 → refresh → retry, the
/// project cache, how long an outage may hold a call) is made in
/// `codeassist_core::client`; this type performs store and network work for it.
///
/// ```no_run
/// use codeassist_blocking::{Client, LoginOptions};
/// use codeassist_core::oauth::OAuthClient;
///
/// let client = Client::builder(OAuthClient::new("id.apps.googleusercontent.com", "secret")).build()?;
/// client.login(LoginOptions::new(|url| eprintln!("Open {url}")))?;
/// let token = client.access_token()?;
/// let project = client.project()?;
/// # Ok::<(), codeassist_blocking::ClientError>(())
/// ```
#[derive(Clone)]
pub struct Client {
    core: CoreClient,
    store: Arc<dyn CredentialStore + Send + Sync>,
    driver: BlockingDriver,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", self.core.config())
            .finish_non_exhaustive()
    }
}

impl Runtime for BlockingDriver {
    type Client = Client;
    fn client(parts: ClientParts<Self>) -> Client {
        Client {
            core: parts.core,
            store: parts.store,
            driver: parts.driver,
        }
    }
}

impl Client {
    /// A builder for `oauth`: see [`ClientBuilder`].
    pub fn builder(oauth: codeassist_core::oauth::OAuthClient) -> ClientBuilder<BlockingDriver> {
        ClientBuilder::new(oauth, BlockingDriver::default())
    }

    /// Finds the credential source to use: `pinned`, or the discovery order for
    /// [`SourceKind::Auto`] (see [`codeassist_core::source`]). Reads this process's
    /// environment, the store, credential files, and probes the metadata server
    /// (at most a second; never with `NO_GCE_CHECK=true`).
    ///
    /// ```no_run
    /// use codeassist_blocking::Client;
    /// use codeassist_core::inference::Target;
    /// use codeassist_core::oauth::OAuthClient;
    /// use codeassist_core::source::SourceKind;
    ///
    /// let client = Client::builder(OAuthClient::new("id.apps.googleusercontent.com", "")).build()?;
    /// // Whatever this machine holds: a key file, gcloud's credentials, the metadata server…
    /// let client = client.with_source(client.discover(SourceKind::Auto)?);
    /// let request = serde_json::json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    /// let answered = client.generate_with_fallback(
    ///     &Target::vertex("my-project", "global"),
    ///     "gemini-2.5-pro",
    ///     request,
    /// )?;
    /// for switch in &answered.switches {
    ///     eprintln!("{} → {} ({})", switch.from, switch.to, switch.why);
    /// }
    /// println!("{}", answered.output.response);
    /// # Ok::<(), codeassist_blocking::ClientError>(())
    /// ```
    pub fn discover(&self, pinned: SourceKind) -> Result<CredentialSource, ClientError> {
        self.run(codeassist_runtime::discovery(pinned))
    }

    /// This client with another model fallback policy (`enabled: false` turns it
    /// off); memory and the driver are shared.
    pub fn with_fallback(&self, policy: codeassist_core::inference::FallbackPolicy) -> Self {
        Self {
            core: self.core.with_fallback(policy),
            store: Arc::clone(&self.store),
            driver: self.driver.clone(),
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
        }
    }

    /// The client core (configuration, in-memory credentials), to make operations
    /// this type has no method for.
    pub fn core(&self) -> &CoreClient {
        &self.core
    }

    /// The driver.
    pub fn driver(&self) -> &BlockingDriver {
        &self.driver
    }

    /// Runs any core client operation to its end.
    pub fn run<O: Operation>(&self, op: O) -> Result<O::Output, ClientError> {
        self.drive(op).map(|(output, _)| output)
    }

    /// The one loop: performs each action core asks for. A stream opened along the
    /// way is returned beside the output.
    fn drive<O: Operation>(
        &self,
        mut op: O,
    ) -> Result<(O::Output, Option<ResponseStream>), ClientError> {
        let mut session = StoreSession::new(self.store.clone());
        let mut opened = None;
        loop {
            let input = match op.poll(SystemTime::now())? {
                Action::Done(output) => return Ok((output, opened)),
                Action::Wait(duration) => {
                    std::thread::sleep(duration);
                    continue;
                }
                Action::Store(store_op) => Input::Store(session.perform(store_op)?),
                Action::Read(path) => Input::Read(codeassist_runtime::read_credential_file(&path)),
                Action::Run(command) => Input::Ran(codeassist_runtime::run_command(&command)),
                Action::Send(request) => Input::Response(self.driver.send(request)),
                Action::Open(request) => match self.driver.open(request) {
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
    pub fn credentials(&self) -> Result<Option<Credentials>, ClientError> {
        Ok(self.store.load()?)
    }

    /// Signs a person in: checks the credentials can be saved, listens on loopback,
    /// hands the URL to `options.on_url`, waits for the browser (or a paste), then
    /// exchanges the code, learns the email and saves (`codeassist_core::client`'s
    /// sign-in). The browser is told "signed in" only once that succeeded.
    pub fn login(&self, mut options: LoginOptions) -> Result<SignIn, ClientError> {
        self.store.check_writable()?;
        let listener = CallbackListener::bind(options.port).map_err(CallbackWaitError::Io)?;
        let pending = self
            .core
            .start_sign_in(&listener.redirect_uri(), &mut os_random())?;
        options.wait.issuers = pending.issuers().to_vec();
        (options.on_url)(pending.url());
        let callback = listener.wait_for_code(pending.state(), options.wait)?;
        let outcome = self.run(pending.finish(&callback.code));
        match &outcome {
            Ok(_) => callback.answer(Ok(())),
            Err(error) => callback.answer(Err(&error.to_string())),
        }
        outcome
    }

    /// A valid access token: from memory while it has more than the refresh window
    /// left (no I/O at all), else from the store, else refreshed under the store's
    /// lock. During an outage a still-valid token is returned after one short attempt.
    pub fn access_token(&self) -> Result<Secret, ClientError> {
        if let Some(token) = self.core.memory_hit(SystemTime::now()) {
            return Ok(token);
        }
        self.run(self.core.access_token())
    }

    /// Resolves the Code Assist project: configured, `GOOGLE_CLOUD_PROJECT`, the
    /// cache beside the credentials, discovered, or onboarded.
    pub fn project(&self) -> Result<ProjectContext, ClientError> {
        self.run(self.core.project(false, &mut os_random()))
    }

    /// [`Client::project`], asking Code Assist again instead of using the cache.
    pub fn refresh_project(&self) -> Result<ProjectContext, ClientError> {
        self.run(self.core.project(true, &mut os_random()))
    }

    /// The quota buckets of the resolved project.
    pub fn quota(&self) -> Result<Quota, ClientError> {
        self.run(self.core.quota(&mut os_random()))
    }

    /// `generateContent` for `model` in the resolved project (the cached one when
    /// there is one): `request` is the Gemini `GenerateContentRequest` as JSON. Retried
    /// under the Code Assist policy; a 401 refreshes the token once; a 403/404 about
    /// the project forgets the cached one.
    pub fn generate(&self, model: &str, request: serde_json::Value) -> Result<Chunk, ClientError> {
        self.run(self.core.generate(model, request, &mut os_random()))
    }

    /// `streamGenerateContent` for `model` in the resolved project, item by item as
    /// the answer arrives; see [`Client::generate`] for the rules of the opening.
    pub fn stream_generate(
        &self,
        model: &str,
        request: serde_json::Value,
    ) -> Result<ResponseStream, ClientError> {
        let (_head, stream) =
            self.drive(self.core.stream_generate(model, request, &mut os_random()))?;
        stream.ok_or_else(read_whole)
    }

    /// `generateContent` for `model` on `target` (Code Assist, the Gemini API or
    /// Vertex AI): the same rules as [`Client::generate`] (retries, the 401 rule, the
    /// quota project for user credentials); an API key needs no sign-in.
    pub fn generate_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        self.run(
            self.core
                .generate_on(target, model, request, &mut os_random()),
        )
    }

    /// `streamGenerateContent` for `model` on `target`, item by item.
    pub fn stream_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<ResponseStream, ClientError> {
        let (_head, stream) =
            self.drive(
                self.core
                    .stream_on(target, model, request, &mut os_random()),
            )?;
        stream.ok_or_else(read_whole)
    }

    /// [`Client::generate_on`], falling back along the model's chain when it cannot
    /// answer (capacity, quota, unknown model); the answer says which model answered
    /// and every switch made.
    pub fn generate_with_fallback(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Answered<Chunk>, ClientError> {
        self.run(
            self.core
                .generate_with_fallback(target, model, request, &mut os_random()),
        )
    }

    /// [`Client::stream_on`], the opening falling back along the model's chain; once
    /// text flows no switch happens (a later error comes out of the stream).
    pub fn stream_with_fallback(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<(Answered<Opened>, ResponseStream), ClientError> {
        let (answered, stream) =
            self.drive(
                self.core
                    .stream_with_fallback(target, model, request, &mut os_random()),
            )?;
        Ok((answered, stream.ok_or_else(read_whole)?))
    }

    /// A non-streamed call to the Gemini API's OpenAI-compatible endpoint: the host's
    /// JSON passed through with authentication added (retries, the 401 rule, errors
    /// classified); the answer's JSON.
    pub fn openai(
        &self,
        target: &Target,
        path: OpenAiPath,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        self.run(self.core.openai_on(target, path, body))
    }

    /// A streamed `chat/completions` on the OpenAI-compatible endpoint (`"stream":
    /// true` is set): chunks until `data: [DONE]`.
    pub fn openai_stream(
        &self,
        target: &Target,
        body: serde_json::Value,
    ) -> Result<ResponseStream<OpenAiStreamReader>, ClientError> {
        let (_head, stream) =
            self.drive(self.core.openai_stream_on(target, body, &mut os_random()))?;
        Ok(stream.ok_or_else(read_whole)?.read_with())
    }

    /// `countTokens` for `model` on the Gemini API or Vertex AI.
    pub fn count_tokens_on(
        &self,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<u64, ClientError> {
        self.run(self.core.count_tokens_on(target, model, request))
    }

    /// The Gemini API's models with their token limits.
    pub fn list_models_on(&self, target: &Target) -> Result<Vec<ModelInfo>, ClientError> {
        self.run(self.core.list_models_on(target))
    }

    /// Revokes the grant and deletes the stored credentials, under the store's lock.
    /// The deletion happens even when the revocation fails; [`Logout`] says what
    /// happened.
    pub fn logout(&self) -> Result<Logout, ClientError> {
        self.run(self.core.logout())
    }

    /// Deletes the stored credentials without revoking them at the OAuth server.
    pub fn forget(&self) -> Result<Logout, ClientError> {
        self.run(self.core.forget())
    }

    /// Opens a streamed answer: `make` builds the request from a valid token (see
    /// `codeassist_core::inference`). The opening exchange is retried under the Code
    /// Assist policy and a 401 refreshes the token once; errors inside the stream are
    /// items for the host to act on.
    pub fn stream(
        &self,
        make: impl FnMut(&Secret) -> Result<Request, codeassist_core::Error>,
    ) -> Result<ResponseStream, ClientError> {
        let (_head, stream) = self.drive(self.core.open_stream(make, &mut os_random()))?;
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
