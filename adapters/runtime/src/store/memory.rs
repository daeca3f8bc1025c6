//! The in-memory store: the tokens of every source but this library's own sign-in.

use std::sync::{Arc, Mutex};

use codeassist_core::oauth::Credentials;

use super::{CredentialStore, LockedStore, StoreError};

/// Credentials held in memory only: the store of every source but this library's own
/// sign-in (nothing is written to files this library does not own). Its lock is a
/// no-op: it is not shared with other processes.
#[derive(Debug, Default, Clone)]
pub struct MemoryCredentialStore {
    credentials: Arc<Mutex<Option<Credentials>>>,
}

impl MemoryCredentialStore {
    /// A store holding `credentials`.
    pub fn new(credentials: Option<Credentials>) -> Self {
        Self {
            credentials: Arc::new(Mutex::new(credentials)),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Credentials>> {
        self.credentials
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl CredentialStore for MemoryCredentialStore {
    fn load(&self) -> Result<Option<Credentials>, StoreError> {
        Ok(self.slot().clone())
    }

    fn lock(&self) -> Result<Box<dyn LockedStore + Send>, StoreError> {
        Ok(Box::new(self.clone()))
    }
}

impl LockedStore for MemoryCredentialStore {
    fn load(&mut self) -> Result<Option<Credentials>, StoreError> {
        Ok(self.slot().clone())
    }

    fn save(&mut self, credentials: &Credentials) -> Result<(), StoreError> {
        *self.slot() = Some(credentials.clone());
        Ok(())
    }

    fn delete(&mut self) -> Result<(), StoreError> {
        *self.slot() = None;
        Ok(())
    }
}
