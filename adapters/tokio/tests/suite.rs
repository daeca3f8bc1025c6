//! The runtime suite (`codeassist_testkit::runtime_suite`) on the tokio runtime: each
//! call spawned as a task on a two-worker runtime and waited for, so it really runs
//! on the executor's workers; streams read item by item with `next().await`.

use codeassist_core::client::{Answered, Opened, Operation, SignIn};
use codeassist_core::code_assist::{ProjectContext, Quota};
use codeassist_core::flow::{Flow, Request};
use codeassist_core::inference::{Chunk, ModelInfo, OpenAiItem, OpenAiPath, StreamItem, Target};
use codeassist_core::oauth::{Credentials, Logout};
use codeassist_core::{Error, Secret};
use codeassist_runtime::{
    CallbackWaitError, ClientBuilder, ClientError, LoginOptions, ProxySetting, WaitOptions,
};
use codeassist_testkit::runtime_suite::{DriverSettings, Joiner, MakeRequest, RuntimeUnderTest};
use codeassist_tokio::{AsyncDriver, AsyncResponseStream, CallbackListener, Client, DriverConfig};

/// A multi-threaded tokio runtime with two workers.
struct OnTokio {
    runtime: tokio::runtime::Runtime,
}

impl OnTokio {
    /// Runs `work` as a task on the runtime's workers and waits for it.
    fn spawned<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> T {
        self.runtime
            .block_on(self.runtime.spawn(work))
            .expect("the task")
    }

    /// Runs `work` as a task; the joiner waits for it.
    fn in_background<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Joiner<T> {
        let task = self.runtime.spawn(work);
        let handle = self.runtime.handle().clone();
        Box::new(move || handle.block_on(task).expect("the task"))
    }
}

/// Every item of `stream`, read as it arrives.
async fn read_to_end<R: codeassist_core::inference::EventReader>(
    mut stream: AsyncResponseStream<R>,
) -> Vec<Result<R::Item, Error>> {
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    items
}

impl RuntimeUnderTest for OnTokio {
    type Driver = AsyncDriver;
    type Client = Client;
    type Listener = CallbackListener;
    type Callback = codeassist_tokio::Callback;

    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        OnTokio { runtime }
    }

    fn driver(&self, settings: DriverSettings) -> AsyncDriver {
        let mut config = DriverConfig::default();
        config.max_body = settings.max_body.unwrap_or(config.max_body);
        config.request_timeout = settings.request_timeout.unwrap_or(config.request_timeout);
        config.stream_idle_timeout = settings
            .stream_idle_timeout
            .unwrap_or(config.stream_idle_timeout);
        config.trust = settings.trust;
        config.proxy = settings.proxy.unwrap_or(ProxySetting::Environment);
        AsyncDriver::new(config)
    }

    fn run<F>(&self, driver: &AsyncDriver, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static,
    {
        let driver = driver.clone();
        self.spawned(async move { driver.run(flow).await })
    }

    fn stream(
        &self,
        driver: &AsyncDriver,
        request: Request,
    ) -> Result<Vec<Result<StreamItem, Error>>, Error> {
        let driver = driver.clone();
        self.spawned(async move { Ok(read_to_end(driver.stream(request).await?).await) })
    }

    fn build(&self, builder: ClientBuilder<AsyncDriver>) -> Client {
        builder.build().expect("the client")
    }

    fn client_run<O>(&self, client: &Client, op: O) -> Result<O::Output, ClientError>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let client = client.clone();
        self.spawned(async move { client.run(op).await })
    }

    fn run_in_background<O>(&self, client: &Client, op: O) -> Joiner<Result<O::Output, ClientError>>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let client = client.clone();
        self.in_background(async move { client.run(op).await })
    }

    fn access_token_in_background(&self, client: &Client) -> Joiner<Result<Secret, ClientError>> {
        let client = client.clone();
        self.in_background(async move { client.access_token().await })
    }

    fn login(&self, client: &Client, options: LoginOptions) -> Result<SignIn, ClientError> {
        // Not spawned: the login future holds the paste reader, which is not `Sync`.
        let client = client.clone();
        self.spawned(async move { client.login(options).await })
    }

    fn credentials(&self, client: &Client) -> Result<Option<Credentials>, ClientError> {
        let client = client.clone();
        self.spawned(async move { client.credentials().await })
    }

    fn access_token(&self, client: &Client) -> Result<Secret, ClientError> {
        let client = client.clone();
        self.spawned(async move { client.access_token().await })
    }

    fn project(&self, client: &Client) -> Result<ProjectContext, ClientError> {
        let client = client.clone();
        self.spawned(async move { client.project().await })
    }

    fn quota(&self, client: &Client) -> Result<Quota, ClientError> {
        let client = client.clone();
        self.spawned(async move { client.quota().await })
    }

    fn logout(&self, client: &Client) -> Result<Logout, ClientError> {
        let client = client.clone();
        self.spawned(async move { client.logout().await })
    }

    fn generate(
        &self,
        client: &Client,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        let (client, model) = (client.clone(), model.to_owned());
        self.spawned(async move { client.generate(&model, request).await })
    }

    fn stream_generate(
        &self,
        client: &Client,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError> {
        let (client, model) = (client.clone(), model.to_owned());
        self.spawned(async move {
            Ok(read_to_end(client.stream_generate(&model, request).await?).await)
        })
    }

    fn generate_on(
        &self,
        client: &Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        let (client, target, model) = (client.clone(), target.clone(), model.to_owned());
        self.spawned(async move { client.generate_on(&target, &model, request).await })
    }

    fn stream_on(
        &self,
        client: &Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError> {
        let (client, target, model) = (client.clone(), target.clone(), model.to_owned());
        self.spawned(async move {
            Ok(read_to_end(client.stream_on(&target, &model, request).await?).await)
        })
    }

    fn stream_with_fallback(
        &self,
        client: &Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<(Answered<Opened>, Vec<Result<StreamItem, Error>>), ClientError> {
        let (client, target, model) = (client.clone(), target.clone(), model.to_owned());
        self.spawned(async move {
            let (answered, stream) = client
                .stream_with_fallback(&target, &model, request)
                .await?;
            Ok((answered, read_to_end(stream).await))
        })
    }

    fn list_models_on(
        &self,
        client: &Client,
        target: &Target,
    ) -> Result<Vec<ModelInfo>, ClientError> {
        let (client, target) = (client.clone(), target.clone());
        self.spawned(async move { client.list_models_on(&target).await })
    }

    fn openai(
        &self,
        client: &Client,
        target: &Target,
        path: OpenAiPath,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        let (client, target) = (client.clone(), target.clone());
        self.spawned(async move { client.openai(&target, path, body).await })
    }

    fn openai_stream(
        &self,
        client: &Client,
        target: &Target,
        body: serde_json::Value,
    ) -> Result<Vec<Result<OpenAiItem, Error>>, ClientError> {
        let (client, target) = (client.clone(), target.clone());
        self.spawned(
            async move { Ok(read_to_end(client.openai_stream(&target, body).await?).await) },
        )
    }

    fn client_stream(
        &self,
        client: &Client,
        make: MakeRequest,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError> {
        let client = client.clone();
        self.spawned(async move { Ok(read_to_end(client.stream(make).await?).await) })
    }

    fn bind(&self, port: u16) -> std::io::Result<CallbackListener> {
        self.runtime.block_on(CallbackListener::bind(port))
    }

    fn listener_port(listener: &CallbackListener) -> u16 {
        listener.port()
    }

    fn redirect_uri(listener: &CallbackListener) -> String {
        listener.redirect_uri()
    }

    fn wait_for_code(
        &self,
        listener: &CallbackListener,
        state: &Secret,
        options: WaitOptions,
    ) -> Result<codeassist_tokio::Callback, CallbackWaitError> {
        self.runtime
            .block_on(listener.wait_for_code(state, options))
    }

    fn code(callback: &codeassist_tokio::Callback) -> &Secret {
        &callback.code
    }

    fn answer(&self, callback: codeassist_tokio::Callback, outcome: Result<(), &str>) {
        self.runtime.block_on(callback.answer(outcome));
    }
}

codeassist_testkit::runtime_suite!(OnTokio);
