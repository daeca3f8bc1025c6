//! The runtime suite (`codeassist_testkit::runtime_suite`) on the blocking runtime:
//! every call on the calling thread, background work on threads.

use codeassist_blocking::{BlockingDriver, CallbackListener, Client, DriverConfig};
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

struct Blocking;

/// Runs `work` on a thread of its own.
fn on_a_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Joiner<T> {
    let thread = std::thread::spawn(work);
    Box::new(move || thread.join().expect("the thread"))
}

impl RuntimeUnderTest for Blocking {
    type Driver = BlockingDriver;
    type Client = Client;
    type Listener = CallbackListener;
    type Callback = codeassist_blocking::Callback;

    fn start() -> Self {
        Blocking
    }

    fn driver(&self, settings: DriverSettings) -> BlockingDriver {
        let mut config = DriverConfig::default();
        config.max_body = settings.max_body.unwrap_or(config.max_body);
        config.request_timeout = settings.request_timeout.unwrap_or(config.request_timeout);
        config.stream_idle_timeout = settings
            .stream_idle_timeout
            .unwrap_or(config.stream_idle_timeout);
        config.trust = settings.trust;
        config.proxy = settings.proxy.unwrap_or(ProxySetting::Environment);
        BlockingDriver::new(config)
    }

    fn run<F>(&self, driver: &BlockingDriver, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static,
    {
        driver.run(flow)
    }

    fn stream(
        &self,
        driver: &BlockingDriver,
        request: Request,
    ) -> Result<Vec<Result<StreamItem, Error>>, Error> {
        Ok(driver.stream(request)?.collect())
    }

    fn build(&self, builder: ClientBuilder<BlockingDriver>) -> Client {
        builder.build().expect("the client")
    }

    fn client_run<O>(&self, client: &Client, op: O) -> Result<O::Output, ClientError>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        client.run(op)
    }

    fn run_in_background<O>(&self, client: &Client, op: O) -> Joiner<Result<O::Output, ClientError>>
    where
        O: Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let client = client.clone();
        on_a_thread(move || client.run(op))
    }

    fn access_token_in_background(&self, client: &Client) -> Joiner<Result<Secret, ClientError>> {
        let client = client.clone();
        on_a_thread(move || client.access_token())
    }

    fn login(&self, client: &Client, options: LoginOptions) -> Result<SignIn, ClientError> {
        client.login(options)
    }

    fn credentials(&self, client: &Client) -> Result<Option<Credentials>, ClientError> {
        client.credentials()
    }

    fn access_token(&self, client: &Client) -> Result<Secret, ClientError> {
        client.access_token()
    }

    fn project(&self, client: &Client) -> Result<ProjectContext, ClientError> {
        client.project()
    }

    fn quota(&self, client: &Client) -> Result<Quota, ClientError> {
        client.quota()
    }

    fn logout(&self, client: &Client) -> Result<Logout, ClientError> {
        client.logout()
    }

    fn generate(
        &self,
        client: &Client,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        client.generate(model, request)
    }

    fn stream_generate(
        &self,
        client: &Client,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError> {
        Ok(client.stream_generate(model, request)?.collect())
    }

    fn generate_on(
        &self,
        client: &Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Chunk, ClientError> {
        client.generate_on(target, model, request)
    }

    fn stream_on(
        &self,
        client: &Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError> {
        Ok(client.stream_on(target, model, request)?.collect())
    }

    fn stream_with_fallback(
        &self,
        client: &Client,
        target: &Target,
        model: &str,
        request: serde_json::Value,
    ) -> Result<(Answered<Opened>, Vec<Result<StreamItem, Error>>), ClientError> {
        let (answered, stream) = client.stream_with_fallback(target, model, request)?;
        Ok((answered, stream.collect()))
    }

    fn list_models_on(
        &self,
        client: &Client,
        target: &Target,
    ) -> Result<Vec<ModelInfo>, ClientError> {
        client.list_models_on(target)
    }

    fn openai(
        &self,
        client: &Client,
        target: &Target,
        path: OpenAiPath,
        body: Option<serde_json::Value>,
    ) -> Result<serde_json::Value, ClientError> {
        client.openai(target, path, body)
    }

    fn openai_stream(
        &self,
        client: &Client,
        target: &Target,
        body: serde_json::Value,
    ) -> Result<Vec<Result<OpenAiItem, Error>>, ClientError> {
        Ok(client.openai_stream(target, body)?.collect())
    }

    fn client_stream(
        &self,
        client: &Client,
        make: MakeRequest,
    ) -> Result<Vec<Result<StreamItem, Error>>, ClientError> {
        Ok(client.stream(make)?.collect())
    }

    fn bind(&self, port: u16) -> std::io::Result<CallbackListener> {
        CallbackListener::bind(port)
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
    ) -> Result<codeassist_blocking::Callback, CallbackWaitError> {
        listener.wait_for_code(state, options)
    }

    fn code(callback: &codeassist_blocking::Callback) -> &Secret {
        &callback.code
    }

    fn answer(&self, callback: codeassist_blocking::Callback, outcome: Result<(), &str>) {
        callback.answer(outcome);
    }
}

codeassist_testkit::runtime_suite!(Blocking);
