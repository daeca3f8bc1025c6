//! `codeassist-testkit`: an emulator of Google's endpoints for tests and demos.
//!
//! - [`browser`]: what browsers do to a callback listener (a silent preconnect);
//! - [`emulator`]: the `codeassist-emulator` crate (Google's OAuth, Code Assist,
//!   Gemini API, Vertex AI and metadata-server endpoints), re-exported;
//! - [`conformance`]: the scenarios every driver must pass, and the in-memory
//!   reference driver;
//! - [`client_scenarios`]: the rules of core's client, run on every runtime;
//! - [`runtime_suite`](mod@runtime_suite): every scenario of a runtime (driver, client, listener),
//!   written once and run on each runtime through [`runtime_suite!`];
//! - [`tls`]: a private CA made per test, for the emulator over HTTPS;
//! - [`cli`]: the `codeassist` program run with an environment of the test's own;
//! - [`proxy`]: a real CONNECT proxy (tinyproxy) started per test;
//! - [`h2`]: the emulator behind HTTP/2 over TLS;
//! - [`fuzzing`]: the checks behind the fuzz targets, replayed over the corpora in
//!   `cargo test`;
//! - [`vectors`]: recorded failed responses with the classification each must get,
//!   checked against the library and against `codeassist explain-error --json`.
#![forbid(unsafe_code)]

pub mod browser;
pub mod cli;
pub mod client_scenarios;
pub mod conformance;
pub use codeassist_emulator as emulator;
pub mod fuzzing;
pub mod h2;
pub mod proxy;
pub mod runtime_suite;
pub mod tls;
pub mod vectors;
