//! Fuzz target `credential_file`: see `codeassist_testkit::fuzzing::check_credential_file` for what it asserts.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| codeassist_testkit::fuzzing::check_credential_file(data));
