//! The `aggregator` Lambda function: aggregates the mini-trees into `P/result.json`, or
//! records a failed execution (the EventBridge event of its `FAILED` / `TIMED_OUT`
//! status) in `P/error.json`.
//! The handler is [`summa_functions::handlers::aggregator`];
//! [`summa_functions::serve`] builds the S3 client and runs it.

use summa_functions::handlers;

fn main() -> Result<(), lambda_runtime::Error> {
    // The input is the state machine's, or (failure mode) the EventBridge event
    // of a failed execution of the round (`AggregatorInput::from_payload`).
    summa_functions::serve(handlers::aggregator::STEP, |storage, input, _| {
        handlers::aggregator(storage, input)
    })
}
