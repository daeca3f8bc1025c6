//! `codeassist-blocking`: runs every `codeassist-core` flow on a blocking HTTP client.
//!
//! It will hold the one blocking driver loop (ureq 3: sends requests, sleeps for waits,
//! reads the real clock, supplies OS randomness), the std localhost OAuth callback
//! listener, and a three-line convenience client.
#![forbid(unsafe_code)]
