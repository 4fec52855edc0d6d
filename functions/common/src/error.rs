//! The functions' errors, with the stable `error_type` names that the state
//! machine's Retry and Catch match on.

use std::fmt;

use crate::storage::{StoreError, StoreErrorKind};

/// A function's error. The message names the round step, the shard (index and
/// key) where there is one, the line and the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FnError {
    /// The input is wrong (bad CSV, bad manifest, index out of range...): retrying
    /// cannot help.
    #[error("{0}")]
    InvalidInput(String),
    /// Something asked for is not there (an object, a user).
    #[error("{0}")]
    NotFound(String),
    /// Storage failed; retrying may help.
    #[error("{0}")]
    Storage(String),
    /// Storage asked us to slow down (S3 SlowDown, 503); retrying later helps.
    #[error("{0}")]
    Throttled(String),
    /// A bug, a corrupt artifact or a misconfiguration.
    #[error("{0}")]
    Internal(String),
}

/// The stable `error_type` names.
pub mod error_type {
    /// [`super::FnError::InvalidInput`].
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// [`super::FnError::NotFound`].
    pub const NOT_FOUND: &str = "NotFound";
    /// [`super::FnError::Storage`].
    pub const STORAGE: &str = "StorageError";
    /// [`super::FnError::Throttled`].
    pub const THROTTLED: &str = "Throttled";
    /// [`super::FnError::Internal`].
    pub const INTERNAL: &str = "Internal";
}

impl FnError {
    /// The stable name reported as the Lambda error's `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            FnError::InvalidInput(_) => error_type::INVALID_INPUT,
            FnError::NotFound(_) => error_type::NOT_FOUND,
            FnError::Storage(_) => error_type::STORAGE,
            FnError::Throttled(_) => error_type::THROTTLED,
            FnError::Internal(_) => error_type::INTERNAL,
        }
    }

    /// Whether retrying the same input may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, FnError::Storage(_) | FnError::Throttled(_))
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            FnError::InvalidInput(m)
            | FnError::NotFound(m)
            | FnError::Storage(m)
            | FnError::Throttled(m)
            | FnError::Internal(m) => m,
        }
    }

    fn map_message(self, f: impl FnOnce(String) -> String) -> Self {
        match self {
            FnError::InvalidInput(m) => FnError::InvalidInput(f(m)),
            FnError::NotFound(m) => FnError::NotFound(f(m)),
            FnError::Storage(m) => FnError::Storage(f(m)),
            FnError::Throttled(m) => FnError::Throttled(f(m)),
            FnError::Internal(m) => FnError::Internal(f(m)),
        }
    }

    /// Prefixes the message with `context: `.
    pub fn context(self, context: impl fmt::Display) -> Self {
        self.map_message(|m| format!("{context}: {m}"))
    }

    /// Prefixes the message with the round step, e.g. `plan: ...`; the aggregator's
    /// failure mode reads it back into `error.json`'s `step`.
    pub fn in_step(self, step: &str) -> Self {
        self.context(step)
    }

    /// Prefixes the message with the shard, e.g. `shard 3 (P/shards/c.csv): ...`;
    /// the aggregator's failure mode reads it back into `error.json`.
    pub fn in_shard(self, index: usize, key: &str) -> Self {
        self.context(format_args!("shard {index} ({key})"))
    }
}

impl From<StoreError> for FnError {
    fn from(e: StoreError) -> Self {
        let m = e.to_string();
        match e.kind {
            StoreErrorKind::NotFound => FnError::NotFound(m),
            StoreErrorKind::Throttled => FnError::Throttled(m),
            StoreErrorKind::Other => FnError::Storage(m),
        }
    }
}

impl From<summa_agg::Error> for FnError {
    fn from(e: summa_agg::Error) -> Self {
        use summa_agg::ErrorKind;
        // Reads through `ReadAt` or a stream carry the storage error inside the
        // io::Error: keep its class (throttling in particular).
        if let summa_agg::Error::Io { source, .. } = &e {
            if let Some(se) = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<StoreError>())
            {
                return se.clone().into();
            }
        }
        let m = e.to_string();
        match e.kind() {
            ErrorKind::InvalidInput => FnError::InvalidInput(m),
            ErrorKind::NotFound => FnError::NotFound(m),
            ErrorKind::Storage => FnError::Storage(m),
            ErrorKind::Corrupt => FnError::Internal(m),
        }
    }
}

impl From<FnError> for lambda_runtime::Diagnostic {
    fn from(e: FnError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// A task that panicked or was cancelled.
pub(crate) fn join_error(e: tokio::task::JoinError) -> FnError {
    FnError::Internal(format!("a worker task failed: {e}"))
}

/// JSON that does not parse as `what`.
pub(crate) fn bad_json(what: &str, e: serde_json::Error) -> FnError {
    FnError::InvalidInput(format!("{what}: invalid JSON: {e}"))
}
