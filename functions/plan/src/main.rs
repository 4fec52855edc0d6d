//! The `plan` Lambda function: plans a round (`{bucket, prefix}` -> `P/plan.json`).
//! The handler is [`summa_functions::handlers::plan`]; [`summa_functions::serve`]
//! builds the S3 client and runs it.

use summa_functions::handlers;

fn main() -> Result<(), lambda_runtime::Error> {
    summa_functions::serve(handlers::plan::STEP, |storage, input, _| {
        handlers::plan(storage, input)
    })
}
