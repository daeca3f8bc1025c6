//! `codeassist-runtime`: what every runtime of codeassist shares.
//!
//! Core (`codeassist-core`) decides; a runtime performs. The blocking runtime
//! (`codeassist-blocking`, ureq), the async one (`codeassist-tokio`, hyper) and any
//! runtime after them are each one driver loop plus the I/O that differs between them
//! (sockets, sleeping, the callback listener's accept loop). Everything else they need
//! is written once, here:
//!
//! - **the store** ([`CredentialStore`], [`FileStore`], [`MemoryCredentialStore`],
//!   [`StoreSession`]): where credentials live, and the store operations core's client
//!   asks for (the file is atomic, locked and `0600`; see [`FileStore`]);
//! - **the client builder** ([`ClientBuilder`]): `Client::builder(oauth)` of every
//!   runtime, the same methods in each, and [`ClientError`], their one error type;
//! - **sign-in** ([`LoginOptions`], [`WaitOptions`], [`read_pasted_lines`]): what a
//!   login asks of the host, and the bounded reader of a pasted callback URL;
//! - **the network setup** ([`ProxyRules`], [`TrustRoots`], [`LazyNetwork`]): the
//!   proxy rule as curl reads it and the trust roots, decided once for every runtime
//!   and loaded when the first connection is made;
//! - **credential sources' I/O** ([`RingKeys`], [`read_credential_file`], [`run_command`]): RSA signing
//!   of service-account assertions, the bounded reader of credential files, and
//!   [`run_command`], the bounded runner of the programs a credential names;
//! - **files named from outside** ([`read_regular_file`]): regular files only, opened
//!   without blocking, read up to a cap.
//!
//! ```no_run
//! use std::sync::Arc;
//! use codeassist_core::client::StoreOp;
//! use codeassist_runtime::{FileStore, StoreSession};
//!
//! let mut session = StoreSession::new(Arc::new(FileStore::at_default_location()?));
//! session.perform(StoreOp::Lock)?;
//! let stored = session.perform(StoreOp::Load)?;
//! session.perform(StoreOp::Unlock)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod builder;
mod client_error;
mod files;
mod login;
mod network;
mod proxy;
mod sources;
mod store;
mod trust;

pub use builder::{ClientBuilder, ClientParts, Runtime, discovery, switch_source};
pub use client_error::ClientError;
pub use files::{open_regular_file, read_capped, read_regular_file};
pub use login::{
    CallbackWaitError, LoginOptions, MAX_PASTE_LINE, RejectedPasteHook, WaitOptions,
    read_pasted_lines,
};
pub use network::{LazyNetwork, network_setup};
pub use proxy::{Intercept, PROXY_VARS, ProxyRules, ProxySetting, may_proxy, redact_proxy_url};
pub use sources::{RingKeys, read_credential_file, run_command};
pub use store::{
    CredentialStore, DEFAULT_LOCK_TIMEOUT, FileStore, LockedStore, MemoryCredentialStore,
    SOURCE_TOKEN_FILE_NAME, StoreError, StoreSession, default_path, resolve_default_path,
};
pub use trust::{CA_FILE_VAR, TrustRoots, default_trust};
