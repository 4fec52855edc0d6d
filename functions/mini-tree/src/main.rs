//! The `mini-tree` Lambda function: builds one shard's mini-tree (`{bucket, prefix, shard}`).
//! The handler is [`summa_functions::handlers::mini_tree`]; this only builds the S3
//! client and runs it.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use summa_functions::{aws, handlers, parse_input};

#[tokio::main]
async fn main() -> Result<(), Error> {
    summa_functions::init_logging();
    let storage = aws::s3_storage().await;
    let storage = &storage;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let input = parse_input(handlers::mini_tree::STEP, event.payload)?;
            handlers::mini_tree(storage, input).await
        },
    ))
    .await
}
