//! The `aggregator` Lambda function: aggregates the mini-trees into `P/result.json`, or
//! records a failed execution (the EventBridge event of its `FAILED` / `TIMED_OUT`
//! status) in `P/error.json`.
//! The handler is [`summa_functions::handlers::aggregator`]; this only builds the S3
//! client and runs it.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use summa_functions::{aws, handlers, model::AggregatorInput};

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
            // The state machine's input, or (failure mode) the EventBridge event
            // of a failed execution of the round.
            let input = AggregatorInput::from_payload(event.payload)
                .map_err(|e| e.in_step(handlers::aggregator::STEP))?;
            handlers::aggregator(storage, input).await
        },
    ))
    .await
}
