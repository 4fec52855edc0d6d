//! The Summa round's Lambda functions, as a library: the handlers
//! ([`handlers`]) over a [`Storage`] port (S3 or a local directory), their inputs
//! and outputs ([`model`]) and errors ([`FnError`], whose `error_type` names are
//! stable: `InvalidInput`, `NotFound`, `StorageError`, `Throttled`, `Internal`, and
//! from the proof API `Unauthorized` and `Forbidden`).
//! The binaries `trigger`, `plan`, `mini-tree`, `aggregator` and `proof`
//! (functions/*) only build clients and run these handlers; see
//! functions/README.md.

#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod aws;
pub mod error;
pub mod executions;
pub mod handlers;
pub mod index;
pub mod model;
pub mod remote;
pub mod round;
pub mod serve;
pub mod storage;

#[cfg(test)]
mod tests;

pub use error::{ErrorKind, FnError, ShardRef};
#[cfg(feature = "memory")]
pub use storage::MemoryStorage;
#[cfg(feature = "aws")]
pub use storage::S3Storage;
pub use storage::{
    LocalStorage, ObjectInfo, PutCondition, Storage, StorageRead, StoreError, StoreErrorKind,
    StoreResult,
};

#[cfg(feature = "aws")]
pub use serve::serve;
pub use serve::{init_logging, parse_input, runtime, Payload};

/// Re-exported for the binaries.
pub use aws_lambda_events::event::s3::S3Event;
pub use lambda_runtime;
