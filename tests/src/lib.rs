//! `codeassist-testkit`: an emulator of Google's endpoints for tests and demos.
//!
//! Today it holds the shared error vectors ([`vectors`]): recorded failed responses
//! with the classification each must get, checked against the library and against
//! `codeassist explain-error --json`. Later it will hold a loopback server that speaks
//! Google's OAuth (authorize, token, userinfo, revoke) and Code Assist (load, onboard,
//! operations, quota) protocols with scriptable faults, and the conformance scenarios
//! every driver must pass.
#![forbid(unsafe_code)]

pub mod vectors;
