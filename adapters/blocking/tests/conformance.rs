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
    let api = error.api().unwrap();
    assert_eq!(
        api.transport().map(|t| t.kind()),
        Some(TransportErrorKind::BodyTooLarge)
    );
}
