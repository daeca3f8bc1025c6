//! Where credentials live: the [`CredentialStore`] seam, the [`FileStore`] that never
//! loses a token, the in-memory store, and the [`StoreSession`] that performs the store
//! operations core's client asks for.
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
//! The refresh protocol across processes (read; lock; re-read; refresh only if still
//! needed; save; release) is decided in `codeassist_core::client`; [`StoreSession`]
//! performs the store operations it asks for, holding the lock guard between them.
//! Eight processes asking at once near expiry make one refresh and all get its token.

mod file;
mod memory;
mod path;
mod session;

pub use file::{DEFAULT_LOCK_TIMEOUT, FileStore, SOURCE_TOKEN_FILE_NAME};
pub use memory::MemoryCredentialStore;
pub use path::{default_path, resolve_default_path};
pub use session::StoreSession;

use std::path::PathBuf;
use std::time::Duration;

use codeassist_core::oauth::Credentials;

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

    /// Checks that credentials could be saved (a sign-in asks before it opens the
    /// browser, so a read-only home fails before tokens are issued).
    fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Takes the exclusive lock; it is released when the guard is dropped. The guard
    /// owns what it needs, so it can be held across an `await` or moved between
    /// threads.
    fn lock(&self) -> Result<Box<dyn LockedStore + Send>, StoreError>;

    /// [`CredentialStore::lock`], waiting at most `wait` for another holder (a call
    /// whose time is bounded counts the wait against it). The default waits as `lock`
    /// does.
    fn lock_within(&self, wait: Duration) -> Result<Box<dyn LockedStore + Send>, StoreError> {
        let _ = wait;
        self.lock()
    }
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
