//! The conformance scenarios over real loopback HTTP with the blocking driver.

use codeassist_blocking::BlockingDriver;
use codeassist_core::Error;
use codeassist_core::flow::Flow;
use codeassist_testkit::conformance::{Driver, run_all};
use codeassist_testkit::emulator::Emulator;

struct Blocking {
    driver: BlockingDriver,
    base_url: String,
}

impl Driver for Blocking {
    fn run<F>(&mut self, flow: F) -> Result<F::Output, Error>
    where
        F: Flow<Error = Error> + Send + 'static,
        F::Output: Send + 'static,
    {
        self.driver.run(flow)
    }

    fn base_url(&self) -> String {
        self.base_url.clone()
    }
}

#[test]
fn the_blocking_driver_conforms() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let mut driver = Blocking {
        driver: BlockingDriver::default(),
        base_url: server.base_url(),
    };
    run_all(&mut driver, &emulator);
}

#[test]
fn bodies_over_the_cap_are_transport_failures() {
    use codeassist_blocking::DriverConfig;
    use codeassist_core::flow::{Call, TransportErrorKind};
    use codeassist_testkit::emulator::Fault;
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let mut config = DriverConfig::default();
    config.max_body = 1024;
    let driver = BlockingDriver::new(config);
    emulator.inject("/huge", Fault::HugeBody(64 * 1024), 1);
    let request = http::Request::get(format!("{}/huge", server.base_url()))
        .body(Vec::new())
        .unwrap();
    let error = driver.run(Call::new(request)).unwrap_err();
    assert!(error.api().is_none(), "Google never answered");
    assert_eq!(
        error.transport().map(|t| t.kind()),
        Some(TransportErrorKind::BodyTooLarge)
    );
}

/// The blocking client performing core's operations over a file store.
struct BlockingClient {
    client: codeassist_blocking::Client,
    store: codeassist_runtime::FileStore,
    base_url: String,
    _dir: tempfile::TempDir,
}

impl BlockingClient {
    fn new(base_url: String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = codeassist_runtime::FileStore::new(dir.path().join("oauth.json"));
        let client = codeassist_blocking::Client::builder(
            codeassist_testkit::conformance::oauth_client(&base_url),
        )
        .store(store.clone())
        .env_project(None)
        .build()
        .unwrap();
        Self {
            client,
            store,
            base_url,
            _dir: dir,
        }
    }
}

impl codeassist_testkit::client_scenarios::ClientRuntime for BlockingClient {
    fn run<O>(&mut self, op: O) -> Result<O::Output, Error>
    where
        O: codeassist_core::client::Operation + Send + 'static,
        O::Output: Send + 'static,
    {
        self.client.run(op).map_err(|error| match error {
            codeassist_blocking::ClientError::Flow(error) => error,
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
fn the_blocking_client_follows_the_client_rules() {
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let mut runtime = BlockingClient::new(server.base_url());
    codeassist_testkit::client_scenarios::run_all(&mut runtime, &emulator);
}

#[test]
fn the_lock_is_free_while_a_refresh_backs_off() {
    use codeassist_core::client::{Client, ClientConfig};
    use codeassist_testkit::client_scenarios::{credentials_expiring, short_refresh};
    use codeassist_testkit::emulator::Fault;
    use std::time::{Duration, Instant};
    let emulator = Emulator::new();
    let server = emulator.serve().unwrap();
    let first = BlockingClient::new(server.base_url());
    let store = first.store.clone();
    let base = server.base_url();
    let core = |backoff: Duration| {
        let mut config = ClientConfig::new(codeassist_testkit::conformance::oauth_client(&base));
        config.refresh = short_refresh();
        config.refresh.initial_backoff = backoff;
        config.refresh.expired_budget = Duration::from_secs(10);
        Client::new(config)
    };
    {
        use codeassist_runtime::CredentialStore;
        let expired = credentials_expiring(&emulator, -10);
        store.lock().unwrap().save(&expired).unwrap();
    }
    emulator.inject("/token", Fault::Unavailable, 1);
    // Process A: its first refresh fails, then it backs off for 2 s.
    let slow = core(Duration::from_secs(2));
    let a_client = first.client.clone();
    let a = std::thread::spawn(move || a_client.run(slow.access_token()));
    std::thread::sleep(Duration::from_millis(400));
    // Process B asks meanwhile: the lock is free, it refreshes at once.
    let started = Instant::now();
    let b_client =
        codeassist_blocking::Client::builder(codeassist_testkit::conformance::oauth_client(&base))
            .store(store.clone())
            .env_project(None)
            .build()
            .unwrap();
    let token_b = b_client
        .run(core(Duration::from_millis(100)).access_token())
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // A, after its wait, finds B's token under the lock and makes no second refresh.
    let token_a = a.join().unwrap().unwrap();
    assert_eq!(token_a, token_b);
    assert_eq!(
        emulator.count("/token"),
        2,
        "A's failed attempt and B's refresh"
    );
}
