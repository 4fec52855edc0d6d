//! What a function's `main` needs: its runtime ([`runtime`]), logging, reading
//! its input ([`parse_input`], [`Payload`]) and [`serve`], the whole `main` of a
//! function over S3 storage.

use crate::error::InStep;
use crate::model::{AggregatorInput, MiniTreeInput, ProofCall, ProofInput, RoundInput};
use crate::FnError;

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

/// A function's input, read from its invocation payload: a payload that does not
/// fit is `InvalidInput` in the function's step.
pub trait Payload: Sized {
    /// The input of `step` from `payload`.
    fn from_payload(step: &str, payload: serde_json::Value) -> Result<Self, FnError>;
}

macro_rules! plain_payload {
    ($($t:ty),*) => {$(
        impl Payload for $t {
            fn from_payload(step: &str, payload: serde_json::Value) -> Result<Self, FnError> {
                parse_input(step, payload)
            }
        }
    )*};
}
plain_payload!(RoundInput, MiniTreeInput, ProofInput);

impl Payload for AggregatorInput {
    /// The state machine's input, or (failure mode) the EventBridge event of a
    /// failed execution of the round.
    fn from_payload(step: &str, payload: serde_json::Value) -> Result<Self, FnError> {
        AggregatorInput::from_payload(payload).in_step(step)
    }
}

impl Payload for ProofCall {
    /// A direct invocation's payload, or an API Gateway HTTP API request
    /// (payload format 2.0) to the proof API.
    fn from_payload(step: &str, payload: serde_json::Value) -> Result<Self, FnError> {
        ProofCall::from_payload(payload).in_step(step)
    }
}

/// The `main` of a function over S3 storage (`plan`, `mini-tree`, `aggregator`):
/// on [`runtime`] (with `SUMMA_AGG_THREADS=1` a current-thread runtime, and no
/// thread started), logging initialized, the S3 client built once; then each
/// invocation's payload is read as `step`'s input and handed to `handler` with the
/// invocation's context.
#[cfg(feature = "aws")]
pub fn serve<I, O, H, Fut>(step: &'static str, handler: H) -> Result<(), lambda_runtime::Error>
where
    I: Payload,
    O: serde::Serialize,
    H: Fn(&'static crate::S3Storage, I, lambda_runtime::Context) -> Fut,
    Fut: std::future::Future<Output = Result<O, FnError>>,
{
    use lambda_runtime::{service_fn, LambdaEvent};

    runtime()?.block_on(async {
        init_logging();
        // One client for the process's life.
        let storage: &'static crate::S3Storage =
            Box::leak(Box::new(crate::aws::s3_storage().await));
        let handler = &handler;
        lambda_runtime::run(service_fn(
            move |event: LambdaEvent<serde_json::Value>| async move {
                let input = I::from_payload(step, event.payload)?;
                handler(storage, input, event.context).await
            },
        ))
        .await
    })
}
