//! The default store: one JSON file, replaced atomically under a lock.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use codeassist_core::oauth::Credentials;

use super::{CredentialStore, LockedStore, StoreError};

/// The largest credential file read; anything bigger is not ours.
const MAX_FILE: u64 = 1024 * 1024;
/// The file name of the store for cached tokens of other credential sources
/// ([`FileStore::source_tokens_beside`]).
pub const SOURCE_TOKEN_FILE_NAME: &str = "source-token.json";
/// How long [`FileStore::lock`] waits for another process by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);

/// Credentials in a JSON file; see the [crate docs](crate) for the guarantees.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    lock_timeout: Duration,
}

impl FileStore {
    /// A store at `path` (nothing is touched until it is used).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// A store at [`default_path`](super::default_path).
    pub fn at_default_location() -> Result<Self, StoreError> {
        Ok(Self::new(super::default_path()?))
    }

    /// The store for cached tokens of other credential sources, beside this one:
    /// `source-token.json` in the same directory (see
    /// [`ClientBuilder::cache_source_tokens`](crate::ClientBuilder::cache_source_tokens)).
    pub fn source_tokens_beside(&self) -> Self {
        let path = self.path.with_file_name(SOURCE_TOKEN_FILE_NAME);
        Self {
            path,
            lock_timeout: self.lock_timeout,
        }
    }

    /// The same store with another lock timeout.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The credential file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sibling lock file.
    pub fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lock")
    }

    fn read(&self) -> Result<Option<Credentials>, StoreError> {
        // Never through a symbolic link; a FIFO or a device is refused at once.
        let file = match crate::open_regular_file(&self.path, false) {
            Ok(Some(file)) => file,
            Ok(None) => return Ok(None),
            Err(source) => return Err(io("open", &self.path, source)),
        };
        check_private(&file, &self.path)?;
        let bytes = crate::read_capped(file, MAX_FILE).map_err(|source| match source.kind() {
            ErrorKind::InvalidData => corrupt(&self.path, "larger than 1 MiB"),
            _ => io("read", &self.path, source),
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(corrupt(&self.path, "empty"));
        }
        let credentials: Credentials = serde_json::from_slice(&bytes)
            .map_err(|error| corrupt(&self.path, &error.to_string()))?;
        credentials
            .check_tokens()
            .map_err(|problem| corrupt(&self.path, &format!("it holds {problem}")))?;
        Ok(Some(credentials))
    }

    fn write(&self, credentials: &Credentials) -> Result<(), StoreError> {
        let dir = self.ensure_dir()?;
        let mut json = serde_json::to_vec_pretty(credentials)
            .map_err(|e| corrupt(&self.path, &e.to_string()))?;
        json.push(b'\n');
        let temp = temp_path(&self.path);
        let result = (|| {
            let mut file = create_private(&temp)?;
            file.write_all(&json)
                .map_err(|source| io("write", &temp, source))?;
            file.sync_all()
                .map_err(|source| io("sync", &temp, source))?;
            drop(file);
            fs::rename(&temp, &self.path).map_err(|source| io("replace", &self.path, source))?;
            sync_dir(&dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn ensure_dir(&self) -> Result<PathBuf, StoreError> {
        let dir = match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder
            .create(&dir)
            .map_err(|source| io("create directory", &dir, source))?;
        Ok(dir)
    }
}

impl CredentialStore for FileStore {
    fn load(&self) -> Result<Option<Credentials>, StoreError> {
        self.read()
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        let dir = self.ensure_dir()?;
        let probe = temp_path(&self.path);
        create_private(&probe)?;
        let _ = fs::remove_file(&probe);
        sync_dir(&dir).or(Ok(()))
    }

    fn lock(&self) -> Result<Box<dyn LockedStore + Send>, StoreError> {
        self.lock_waiting(self.lock_timeout)
    }

    fn lock_within(&self, wait: Duration) -> Result<Box<dyn LockedStore + Send>, StoreError> {
        self.lock_waiting(wait.min(self.lock_timeout))
    }
}

impl FileStore {
    /// Takes the lock, waiting at most `timeout` for another process.
    fn lock_waiting(&self, timeout: Duration) -> Result<Box<dyn LockedStore + Send>, StoreError> {
        self.ensure_dir()?;
        let lock_path = self.lock_path();
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // A symlink (dangling or not) is refused, never followed or created through.
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        let lock_file = options
            .open(&lock_path)
            .map_err(|source| io("open", &lock_path, source))?;
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match lock_file.try_lock() {
                Ok(()) => break,
                Err(fs::TryLockError::WouldBlock) => {
                    if started.elapsed() >= timeout {
                        return Err(StoreError::LockTimeout {
                            path: lock_path,
                            waited: started.elapsed(),
                        });
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(fs::TryLockError::Error(source)) => return Err(io("lock", &lock_path, source)),
            }
        }
        // Temporary files are only written under the lock: any found now were left by
        // a process that died mid-write (they may hold a refresh token).
        self.remove_stale_temporaries();
        Ok(Box::new(LockedFile {
            store: self.clone(),
            _lock: lock_file,
        }))
    }

    /// Removes the temporary files of this store (`.oauth.json.tmp-*`) left behind by
    /// a process killed while it wrote; called with the lock held.
    fn remove_stale_temporaries(&self) {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return;
        };
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".tmp-");
        let prefix = prefix.as_encoded_bytes().to_vec();
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().as_encoded_bytes().starts_with(&prefix) {
                match fs::remove_file(entry.path()) {
                    Ok(()) => {
                        tracing::debug!(file = %entry.path().display(), "removed a stale temporary file")
                    }
                    Err(error) => {
                        tracing::debug!(%error, "a stale temporary file could not be removed")
                    }
                }
            }
        }
    }
}

/// A [`FileStore`] under its lock; dropping it closes the lock file, which releases
/// the lock.
struct LockedFile {
    store: FileStore,
    _lock: File,
}

impl LockedStore for LockedFile {
    fn load(&mut self) -> Result<Option<Credentials>, StoreError> {
        self.store.read()
    }

    fn save(&mut self, credentials: &Credentials) -> Result<(), StoreError> {
        self.store.write(credentials)
    }

    fn delete(&mut self) -> Result<(), StoreError> {
        match fs::remove_file(&self.store.path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io("delete", &self.store.path, source)),
        }
    }
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn corrupt(path: &Path, detail: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        detail: codeassist_core::text::sanitize(detail, 160),
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Creates a new file readable only by its owner from the first byte.
fn create_private(path: &Path) -> Result<File, StoreError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|source| io("create", path, source))
}

#[cfg(unix)]
fn check_private(file: &File, path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file
        .metadata()
        .map_err(|source| io("inspect", path, source))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::PermissionsTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_file: &File, _path: &Path) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io("sync directory", dir, source))
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), StoreError> {
    Ok(())
}
