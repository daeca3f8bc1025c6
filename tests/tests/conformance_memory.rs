//! The conformance scenarios on the reference driver: core's `drive`, in memory.

use codeassist_testkit::conformance::{MemoryDriver, run_all};
use codeassist_testkit::emulator::Emulator;

#[test]
fn the_in_memory_driver_conforms() {
    let emulator = Emulator::new();
    let mut driver = MemoryDriver::new(&emulator);
    run_all(&mut driver, &emulator);
}

#[test]
fn the_client_rules_hold_in_memory() {
    use codeassist_testkit::client_scenarios::{MemoryClientRuntime, run_all};
    let emulator = Emulator::new();
    let mut runtime = MemoryClientRuntime::new(&emulator);
    run_all(&mut runtime, &emulator);
}
