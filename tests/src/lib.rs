//! `codeassist-testkit`: an emulator of Google's endpoints for tests and demos.
//!
//! - [`browser`]: what browsers do to a callback listener (a silent preconnect);
//! - [`emulator`]: Google's OAuth (authorize, token, userinfo, revoke) and Code Assist
//!   (load, onboard, operations, quota) endpoints, strict, with scriptable faults, in
//!   memory or on a loopback port;
//! - [`conformance`]: the scenarios every driver must pass, and the in-memory
//!   reference driver;
//! - [`fuzzing`]: the checks behind the fuzz targets, replayed over the corpora in
//!   `cargo test`;
//! - [`vectors`]: recorded failed responses with the classification each must get,
//!   checked against the library and against `codeassist explain-error --json`.
#![forbid(unsafe_code)]

pub mod browser;
pub mod client_scenarios;
pub mod conformance;
pub mod emulator;
pub mod fuzzing;
pub mod vectors;
