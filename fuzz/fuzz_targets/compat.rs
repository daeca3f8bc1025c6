//! Fuzz target `compat`: see `codeassist_testkit::fuzzing::check_compat` for what it
//! asserts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| codeassist_testkit::fuzzing::check_compat(data));
