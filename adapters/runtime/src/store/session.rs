//! Performing the store operations core's client asks for.

use std::sync::Arc;

use codeassist_core::client::{StoreOp, StoreReply};

use super::{CredentialStore, LockedStore, StoreError};

/// A store and, while core's client holds it, its lock guard: performs each
/// [`StoreOp`] and answers with the [`StoreReply`] core expects.
///
/// Dropping the session releases the lock, so an operation that ends early (an error,
/// a cancelled future) never leaves it held.
pub struct StoreSession {
    store: Arc<dyn CredentialStore + Send + Sync>,
    guard: Option<Box<dyn LockedStore + Send>>,
}

impl std::fmt::Debug for StoreSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreSession")
            .field("locked", &self.is_locked())
            .finish_non_exhaustive()
    }
}

impl StoreSession {
    /// A session over `store`, not holding its lock.
    pub fn new(store: Arc<dyn CredentialStore + Send + Sync>) -> Self {
        Self { store, guard: None }
    }

    /// True while the lock is held.
    pub fn is_locked(&self) -> bool {
        self.guard.is_some()
    }

    /// Performs `op`. `Load` reads under the lock when it is held; `Save` and
    /// `Delete` take the lock for themselves if it is not held; `Lock` while held and
    /// `Unlock` while free do nothing.
    pub fn perform(&mut self, op: StoreOp) -> Result<StoreReply, StoreError> {
        match op {
            StoreOp::Load => {
                let loaded = match &mut self.guard {
                    Some(guard) => guard.load()?,
                    None => self.store.load()?,
                };
                return Ok(StoreReply::Loaded(loaded.map(Box::new)));
            }
            StoreOp::Lock => {
                self.locked()?;
            }
            StoreOp::LockWithin(wait) if self.guard.is_none() => {
                self.guard = Some(self.store.lock_within(wait)?);
            }
            StoreOp::Unlock => self.guard = None,
            StoreOp::Save(credentials) => self.locked()?.save(&credentials)?,
            StoreOp::Delete => self.locked()?.delete()?,
            _ => {}
        }
        Ok(StoreReply::Done)
    }

    fn locked(&mut self) -> Result<&mut Box<dyn LockedStore + Send>, StoreError> {
        let guard = match self.guard.take() {
            Some(guard) => guard,
            None => self.store.lock()?,
        };
        Ok(self.guard.insert(guard))
    }
}
