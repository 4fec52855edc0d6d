//! The Summa round's Lambda functions, as a library: the handlers
//! ([`handlers`]) over a [`Storage`] port (S3 or a local directory), their inputs
//! and outputs ([`model`]) and errors ([`FnError`], whose `error_type` names are
//! stable: `InvalidInput`, `NotFound`, `StorageError`, `Throttled`, `Internal`).
//! The binaries `trigger`, `plan`, `mini-tree`, `aggregator` and `proof`
//! (functions/*) only build clients and run these handlers; see
//! functions/README.md.

#![deny(missing_docs)]

pub mod aws;
pub mod error;
pub mod handlers;
pub mod index;
pub mod model;
pub mod remote;
pub mod storage;

#[cfg(test)]
mod tests;

pub use error::{ErrorKind, FnError, ShardRef};
pub use storage::{
    LocalStorage, ObjectInfo, PutCondition, S3Storage, Storage, StoreError, StoreErrorKind,
};

/// Re-exported for the binaries.
pub use aws_lambda_events::event::s3::S3Event;
pub use lambda_runtime;

/// Initializes logging for a function (`RUST_LOG`, JSON or text as the Lambda
/// runtime configures it).
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Reads a function's input: a payload that does not fit is `InvalidInput` (not
/// the runtime's own deserialization error, whose type name is not one of the
/// stable names).
pub fn parse_input<T: serde::de::DeserializeOwned>(
    step: &str,
    payload: serde_json::Value,
) -> Result<T, FnError> {
    serde_json::from_value(payload)
        .map_err(|e| FnError::invalid(format!("invalid input: {e}")).in_step(step))
}
