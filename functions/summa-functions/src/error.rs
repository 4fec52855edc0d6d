//! The functions' errors, with the stable `error_type` names that the state
//! machine's Retry and Catch match on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::storage::{StoreError, StoreErrorKind};

/// The class of a [`FnError`]; its [`ErrorKind::name`] is the Lambda `errorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The input is wrong (bad CSV, bad manifest, index out of range, a shard
    /// that changed since the plan...): retrying cannot help.
    InvalidInput,
    /// Something asked for is not there (an object, a user).
    NotFound,
    /// Storage failed; retrying may help.
    Storage,
    /// Storage asked us to slow down (S3 SlowDown, 503); retrying later helps.
    Throttled,
    /// A bug, a corrupt artifact or a misconfiguration.
    Internal,
    /// A request through the proof API that carries no identity (no JWT
    /// authorizer's claims): HTTP 401.
    Unauthorized,
    /// A request through the proof API that its identity may not make (another
    /// user's proof, an identity without the username claim): HTTP 403.
    Forbidden,
}

impl ErrorKind {
    /// The stable name reported as the Lambda error's `errorType`, which the
    /// state machine's `Retry` and `Catch` lists match.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "InvalidInput",
            ErrorKind::NotFound => "NotFound",
            ErrorKind::Storage => "StorageError",
            ErrorKind::Throttled => "Throttled",
            ErrorKind::Internal => "Internal",
            ErrorKind::Unauthorized => "Unauthorized",
            ErrorKind::Forbidden => "Forbidden",
        }
    }
}

/// The shard an error is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRef {
    /// Its index in the plan.
    pub index: u64,
    /// Its key.
    pub key: String,
}

/// A function's error: a kind, a message, and where it happened (the round step
/// and the shard) as fields. Displayed as `step: shard i (key): message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnError {
    /// The class.
    pub kind: ErrorKind,
    /// What went wrong (for a shard, the core library's `file:line: problem`).
    pub message: String,
    /// The round step (`plan`, `mini-tree`, `aggregator`, `proof`, `trigger`).
    pub step: Option<String>,
    /// The shard, where the error is about one.
    pub shard: Option<ShardRef>,
}

impl fmt::Display for FnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(step) = &self.step {
            write!(f, "{step}: ")?;
        }
        if let Some(s) = &self.shard {
            write!(f, "shard {} ({}): ", s.index, s.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for FnError {}

impl FnError {
    /// A new error.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        FnError {
            kind,
            message: message.into(),
            step: None,
            shard: None,
        }
    }

    /// [`ErrorKind::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    /// [`ErrorKind::NotFound`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    /// [`ErrorKind::Storage`].
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }

    /// [`ErrorKind::Throttled`].
    pub fn throttled(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Throttled, message)
    }

    /// [`ErrorKind::Internal`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// [`ErrorKind::Unauthorized`].
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unauthorized, message)
    }

    /// [`ErrorKind::Forbidden`].
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    /// The stable name reported as the Lambda error's `errorType`.
    pub fn error_type(&self) -> &'static str {
        self.kind.name()
    }

    /// Whether retrying the same input may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Storage | ErrorKind::Throttled)
    }

    /// The message, without the step and shard.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Prefixes the message with `context: `.
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// Sets the round step (kept if already set: the innermost step wins).
    pub fn in_step(mut self, step: &str) -> Self {
        if self.step.is_none() {
            self.step = Some(step.to_string());
        }
        self
    }

    /// Sets the shard (kept if already set).
    pub fn in_shard(mut self, index: usize, key: &str) -> Self {
        if self.shard.is_none() {
            self.shard = Some(ShardRef {
                index: index as u64,
                key: key.to_string(),
            });
        }
        self
    }
}

impl From<StoreError> for FnError {
    fn from(e: StoreError) -> Self {
        let m = e.to_string();
        match e.kind {
            StoreErrorKind::NotFound => FnError::not_found(m),
            StoreErrorKind::Throttled => FnError::throttled(m),
            StoreErrorKind::Changed => FnError::invalid(m),
            StoreErrorKind::Other => FnError::storage(m),
        }
    }
}

impl From<summa_agg::Error> for FnError {
    fn from(e: summa_agg::Error) -> Self {
        use summa_agg::ErrorKind as K;
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
            K::InvalidInput => FnError::invalid(m),
            K::NotFound => FnError::not_found(m),
            K::Storage => FnError::storage(m),
            K::Corrupt => FnError::internal(m),
        }
    }
}

/// The error as the state machine and the logs see it: its message escaped
/// ([`summa_agg::text::shown`]), since it may quote a shard's bytes or a key.
impl From<FnError> for lambda_runtime::Diagnostic {
    fn from(e: FnError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: summa_agg::text::shown(&e.to_string()).into_owned(),
        }
    }
}

/// A task that panicked or was cancelled.
pub fn join_error(e: tokio::task::JoinError) -> FnError {
    FnError::internal(format!("a worker task failed: {e}"))
}

/// JSON that does not parse as `what`.
pub(crate) fn bad_json(what: &str, e: serde_json::Error) -> FnError {
    FnError::invalid(format!("{what}: invalid JSON: {e}"))
}

/// [`FnError::in_step`] on a step's result.
pub trait InStep {
    /// The result with its error's round step set (kept if already set).
    fn in_step(self, step: &str) -> Self;
}

impl<T> InStep for Result<T, FnError> {
    fn in_step(self, step: &str) -> Self {
        self.map_err(|e| e.in_step(step))
    }
}
