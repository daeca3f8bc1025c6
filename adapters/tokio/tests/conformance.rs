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
    let api = error.api().unwrap();
    assert_eq!(
        api.transport().map(|t| t.kind()),
        Some(TransportErrorKind::BodyTooLarge)
    );
}
