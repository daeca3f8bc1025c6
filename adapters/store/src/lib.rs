//! `codeassist-store`: the credential file that never loses a token.
//!
//! [`CredentialStore`] is the small seam a host can fill with a keychain or a shared
//! store: load; lock, re-read, save. [`FileStore`] is the default, a JSON file that is
//!
//! - created `0600` from its first byte, in a directory created `0700`;
//! - replaced atomically: a temporary file in the same directory, `fsync`, `rename`,
//!   `fsync` of the directory, so a reader sees the old file or the new one, never a
//!   mix;
//! - written only under an exclusive advisory lock on the sibling `oauth.json.lock`;
//! - refused, never overwritten, when corrupt, truncated, or readable by group or
//!   others (the error says how to fix it: `chmod 600`, or sign in again).
//!
//! [`access_token`] is the refresh protocol across processes: read; if the token has
//! more than the refresh window left, use it; otherwise take the lock, re-read (another
//! process may have refreshed meanwhile), refresh only if still needed, save, release.
//! Eight processes asking at once near expiry make one refresh and all get its token.
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use codeassist_store::{FileStore, access_token};
//!
//! let store = FileStore::at_default_location()?;
//! let fresh = access_token(&store, SystemTime::now, Duration::from_secs(300), |credentials| {
//!     // Run `codeassist_core::oauth::refresh_token` with any driver here.
//!     Ok::<_, std::io::Error>(credentials)
//! })?;
//! println!("Bearer {}", fresh.access_token.expose());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod file;
mod path;

pub use file::FileStore;
pub use path::{default_path, resolve_default_path};

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use codeassist_core::oauth::{Credentials, FreshToken};

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not valid credentials (corrupt, truncated, hand-edited).
    #[error(
        "the credential file {path} is unreadable ({detail}); it was left as it is: fix or delete it, then sign in again"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The file can be read by group or others; it is refused, not fixed, so a
    /// person notices.
    #[error(
        "the credential file {path} has mode {mode:o} and can be read by others; run `chmod 600 {path}`"
    )]
    PermissionsTooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Another process held the lock for too long.
    #[error("timed out after {waited:?} waiting for the lock on {path}")]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// No home directory to put the default file in.
    #[error("no location for the credential file: set CODEASSIST_HOME, XDG_CONFIG_HOME or HOME")]
    NoLocation,
}

/// Where credentials live: a file, a keychain, a shared service.
pub trait CredentialStore {
    /// Reads the stored credentials, if any, without locking.
    fn load(&self) -> Result<Option<Credentials>, StoreError>;

    /// Takes the exclusive lock; it is released when the guard is dropped.
    fn lock(&self) -> Result<Box<dyn LockedStore + '_>, StoreError>;
}

/// A store held under its exclusive lock.
pub trait LockedStore {
    /// Re-reads the stored credentials under the lock.
    fn load(&mut self) -> Result<Option<Credentials>, StoreError>;
    /// Replaces the stored credentials.
    fn save(&mut self, credentials: &Credentials) -> Result<(), StoreError>;
    /// Removes the stored credentials; absent ones are not an error.
    fn delete(&mut self) -> Result<(), StoreError>;
}

/// Why [`access_token`] gave no token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError<E> {
    /// Nobody is signed in.
    #[error("nobody is signed in: run `codeassist login`")]
    NotSignedIn,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The refresh failed (for `invalid_grant`, the person must sign in again).
    #[error("{0}")]
    Refresh(E),
}

/// A valid access token from `store`, refreshing with `refresh` only when fewer than
/// `window` remain, under the store's lock, after re-reading what another process may
/// have written meanwhile. `now` is called each time the time matters.
pub fn access_token<S, E>(
    store: &S,
    now: impl Fn() -> SystemTime,
    window: Duration,
    refresh: impl FnOnce(Credentials) -> Result<Credentials, E>,
) -> Result<FreshToken, TokenError<E>>
where
    S: CredentialStore + ?Sized,
{
    let credentials = store.load()?.ok_or(TokenError::NotSignedIn)?;
    if credentials.valid_access_token(now(), window).is_some() {
        return FreshToken::from_credentials(credentials, false).ok_or(TokenError::NotSignedIn);
    }
    let mut locked = store.lock()?;
    let credentials = locked.load()?.ok_or(TokenError::NotSignedIn)?;
    if credentials.valid_access_token(now(), window).is_some() {
        tracing::debug!("another process refreshed the token while this one waited for the lock");
        return FreshToken::from_credentials(credentials, false).ok_or(TokenError::NotSignedIn);
    }
    let refreshed = refresh(credentials).map_err(TokenError::Refresh)?;
    locked.save(&refreshed)?;
    FreshToken::from_credentials(refreshed, true).ok_or(TokenError::NotSignedIn)
}
