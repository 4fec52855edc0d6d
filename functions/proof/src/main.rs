//! The `proof` Lambda function: a user's zero-knowledge inclusion proof
//! (`{bucket, prefix, username, run?, keys?, merkle?}`; `merkle` only where
//! `SUMMA_MERKLE_PROOFS=allow`). The handler is
//! [`summa_fn_proof::proof`]; this only builds the S3 client and the warm
//! container's key cache and runs it.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use summa_fn_proof::KeysCache;
use summa_functions::aws;

#[tokio::main]
async fn main() -> Result<(), Error> {
    summa_functions::init_logging();
    let storage = aws::s3_storage().await;
    let storage = &storage;
    let cache = &KeysCache::default();
    let allow_merkle = summa_fn_proof::merkle_allowed_by_env();
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            summa_fn_proof::proof(storage, cache, allow_merkle, event.payload).await
        },
    ))
    .await
}
