//! The one error type of every runtime's client.

use crate::{CallbackWaitError, StoreError};
use codeassist_core::error::{ApiError, ErrorClass};

/// Why a client call failed, in either runtime.
///
/// Route on [`ClientError::needs_sign_in`] (a person must sign in again),
/// [`ClientError::class`] (Google's answer or a transport failure, classified), or
/// match the variants.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A flow failed: nobody signed in, Google's classified error, a transport
    /// failure, or a Code Assist or OAuth problem.
    #[error(transparent)]
    Flow(#[from] codeassist_core::Error),
    /// The credential store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Waiting for the browser failed.
    #[error(transparent)]
    Login(#[from] CallbackWaitError),
    /// A background task (store I/O on a blocking thread) was cancelled or panicked.
    #[error("a background task failed: {0}")]
    Task(String),
}

impl ClientError {
    /// True when a person must sign in again: nobody is signed in, or the grant was
    /// revoked.
    pub fn needs_sign_in(&self) -> bool {
        matches!(self, ClientError::Flow(error) if error.needs_sign_in())
    }

    /// Google's classified answer, when Google answered (`None` for a transport
    /// failure: see [`ClientError::classified`]).
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Flow(error) => error.api(),
            _ => None,
        }
    }

    /// The classified failure, Google's answer or a transport failure.
    pub fn classified(&self) -> Option<&ApiError> {
        match self {
            ClientError::Flow(error) => error.classified(),
            _ => None,
        }
    }

    /// The class to route on, when the failure was classified.
    pub fn class(&self) -> Option<ErrorClass> {
        self.classified().map(ApiError::class)
    }
}
