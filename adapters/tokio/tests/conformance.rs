//! The conformance scenarios over real loopback HTTP with the tokio driver.

use codeassist_core::Error;
use codeassist_core::flow::Flow;
use codeassist_testkit::conformance::{Driver, run_all};
use codeassist_testkit::emulator::Emulator;
use codeassist_tokio::AsyncDriver;

struct OnTokio {
    runtime: tokio::runtime::Runtime,
    driver: AsyncDriver,
    base_url: String,
}

impl Driver for OnTokio {
    fn run<F>(&mut self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static,
    {
        let driver = self.driver.clone();
        // Spawned, so the flow really runs as a task on the runtime's workers.
        self.runtime.block_on(async move {
            tokio::spawn(async move { driver.run(flow).await })
                .await
                .unwrap()
        })
    }

    fn base_url(&self) -> String {
        self.base_url.clone()
    }
}

#[test]
fn the_tokio_driver_conforms() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let driver = runtime.block_on(async { AsyncDriver::default() });
    let mut driver = OnTokio {
        runtime,
        driver,
        base_url: server.base_url(),
    };
    run_all(&mut driver, &emulator);
}

#[test]
fn bodies_over_the_cap_are_transport_failures() {
    use codeassist_core::flow::{Call, TransportErrorKind};
    use codeassist_testkit::emulator::Fault;
    use codeassist_tokio::DriverConfig;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut config = DriverConfig::default();
    config.max_body = 1024;
    emulator.inject("/huge", Fault::HugeBody(64 * 1024), 1);
    let request = http::Request::get(format!("{}/huge", server.base_url()))
        .body(Vec::new())
        .unwrap();
    let error = runtime
        .block_on(async { AsyncDriver::new(config).run(Call::new(request)).await })
        .unwrap_err();
    assert!(error.api().is_none(), "Google never answered");
    assert_eq!(
        error.transport().map(|t| t.kind()),
        Some(TransportErrorKind::BodyTooLarge)
    );
}

/// The tokio client performing core's operations over a file store, each operation
/// spawned as a task on a multi-threaded runtime.
struct TokioClient {
    runtime: tokio::runtime::Runtime,
    client: codeassist_tokio::Client,
    store: codeassist_runtime::FileStore,
    base_url: String,
    _dir: tempfile::TempDir,
}

impl codeassist_testkit::client_scenarios::ClientRuntime for TokioClient {
    fn run<O>(&mut self, op: O) -> Result<O::Output, Error>
    where
        O: codeassist_core::client::Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        let client = self.client.clone();
        let outcome = self.runtime.block_on(async move {
            tokio::spawn(async move { client.run(op).await })
                .await
                .unwrap()
        });
        outcome.map_err(|error| match error {
            codeassist_tokio::ClientError::Flow(error) => error,
            other => panic!("the store failed: {other}"),
        })
    }

    fn put(&mut self, credentials: Option<codeassist_core::oauth::Credentials>) {
        codeassist_testkit::client_scenarios::put(&self.store, credentials.as_ref());
    }

    fn stored(&mut self) -> Option<codeassist_core::oauth::Credentials> {
        use codeassist_runtime::CredentialStore;
        self.store.load().unwrap()
    }

    fn base_url(&self) -> String {
        self.base_url.clone()
    }

    fn now(&self) -> std::time::SystemTime {
        std::time::SystemTime::now()
    }

    fn place_file(&mut self, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = self._dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

#[test]
fn the_tokio_client_follows_the_client_rules() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = codeassist_runtime::FileStore::new(dir.path().join("oauth.json"));
    let client = runtime.block_on(async {
        codeassist_tokio::Client::builder(codeassist_testkit::conformance::oauth_client(
            &server.base_url(),
        ))
        .store(store.clone())
        .env_project(None)
        .build()
        .unwrap()
    });
    let mut harness = TokioClient {
        runtime,
        client,
        store,
        base_url: server.base_url(),
        _dir: dir,
    };
    codeassist_testkit::client_scenarios::run_all(&mut harness, &emulator);
}
