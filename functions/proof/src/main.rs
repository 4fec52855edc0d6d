//! The `proof` Lambda function: a user's zero-knowledge inclusion proof
//! (`{bucket, prefix, username, run?, keys?, merkle?}`; `merkle` only where
//! `SUMMA_MERKLE_PROOFS=allow`), or an API Gateway HTTP API request for the
//! caller's own proof (where `SUMMA_PROOF_API_*` configure the proof API). The
//! handler is [`summa_fn_proof::invoke`]; this only builds the S3 client, the warm
//! container's key cache and the API's configuration, and runs it.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use summa_fn_proof::KeysCache;
use summa_functions::aws;
use summa_functions::handlers::proof_api::ProofApi;

#[tokio::main]
async fn main() -> Result<(), Error> {
    summa_functions::init_logging();
    let storage = aws::s3_storage().await;
    let storage = &storage;
    let cache = &KeysCache::default();
    let allow_merkle = summa_fn_proof::merkle_allowed_by_env();
    let api = &ProofApi::from_env()?;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            summa_fn_proof::invoke(storage, cache, allow_merkle, api.as_ref(), event.payload).await
        },
    ))
    .await
}
