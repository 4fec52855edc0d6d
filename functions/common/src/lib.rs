//! The Summa round's Lambda functions, as a library: the handlers
//! ([`handlers`]) over a [`Storage`] port (S3 or a local directory), their inputs
//! and outputs ([`model`]) and errors ([`FnError`], whose `error_type` names are
//! stable: `InvalidInput`, `NotFound`, `StorageError`, `Throttled`, `Internal`).
//! The binaries `trigger`, `plan`, `mini-tree`, `aggregator` and `proof`
//! (functions/*) only build clients and run these handlers; see
//! functions/README.md.

#![deny(missing_docs)]

#[cfg(feature = "aws")]
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
#[cfg(feature = "aws")]
pub use storage::S3Storage;
pub use storage::{LocalStorage, ObjectInfo, PutCondition, Storage, StoreError, StoreErrorKind};

/// Re-exported for the binaries.
pub use aws_lambda_events::event::s3::S3Event;
pub use lambda_runtime;

/// The runtime of a function that can run on one thread (`plan`, `mini-tree`,
/// `aggregator`; `trigger` and `proof` keep `#[tokio::main]`), from
/// [`summa_agg::threads::THREADS_ENV`] (`SUMMA_AGG_THREADS`):
///
/// - `1`: a **current-thread** tokio runtime, and the engine's pool made of the
///   calling thread ([`summa_agg::threads::configure`]): call this from the
///   thread that then runs `block_on` (`main`). The handler builds on that
///   thread, so the process starts no thread at all: what a 1-vCPU Lambda
///   needs, and what lets the aarch64 binary run under qemu-user. Endpoints must
///   then be IP literals or the resolver's threads start (the Lambda runtime API
///   is one; `AWS_ENDPOINT_URL=http://127.0.0.1:...` locally).
/// - another number, or unset: tokio's multi-thread runtime, and the engine's
///   own pool of that many threads (default: one per usable CPU,
///   [`summa_agg::threads::configure_pool`]), fed from tokio's blocking threads.
pub fn runtime() -> Result<tokio::runtime::Runtime, lambda_runtime::Error> {
    let threads = summa_agg::threads::from_env()?;
    let mut builder = if threads == Some(1) {
        summa_agg::threads::configure(Some(1))?;
        tokio::runtime::Builder::new_current_thread()
    } else {
        summa_agg::threads::configure_pool(threads)?;
        tokio::runtime::Builder::new_multi_thread()
    };
    Ok(builder.enable_all().build()?)
}

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
