//! `codeassist-tokio`: runs every `codeassist-core` flow on hyper 1 and tokio.
//!
//! It will hold the one async driver loop (hyper-util client with rustls,
//! `tokio::time::sleep` for waits), the tokio localhost OAuth callback listener, and a
//! cheap-to-clone async client whose concurrent token requests share one refresh.
#![forbid(unsafe_code)]
