//! The `plan` Lambda function: plans a round (`{bucket, prefix}` -> `P/plan.json`).
//! The handler is [`summa_functions::handlers::plan`]; this only builds the S3
//! client and runs it.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use summa_functions::{aws, handlers, parse_input};

fn main() -> Result<(), Error> {
    // SUMMA_AGG_THREADS=1: a current-thread runtime, no thread started
    // (summa_functions::runtime).
    summa_functions::runtime()?.block_on(serve())
}

async fn serve() -> Result<(), Error> {
    summa_functions::init_logging();
    let storage = aws::s3_storage().await;
    let storage = &storage;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let input = parse_input(handlers::plan::STEP, event.payload)?;
            handlers::plan(storage, input).await
        },
    ))
    .await
}
