//! The `trigger` Lambda function: an S3 event for `P/round.json` starts the round
//! state machine (`STATE_MACHINE_ARN`). The handler is
//! [`summa_functions::handlers::trigger`]; this only builds the clients and runs it.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use summa_functions::aws;
use summa_functions::executions::SfnExecutions;
use summa_functions::{handlers, parse_input, S3Storage};

#[tokio::main]
async fn main() -> Result<(), Error> {
    summa_functions::init_logging();
    let config = aws::load_config().await;
    let storage = S3Storage::from_config(&config);
    // Without STATE_MACHINE_ARN every invocation fails with `Internal`, saying so
    // (rather than the function failing to start).
    let executions = SfnExecutions::from_env(&config);
    let (storage, executions) = (&storage, &executions);
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let executions = executions
                .as_ref()
                .map_err(|e| e.clone().in_step(handlers::trigger::STEP))?;
            let input = parse_input(handlers::trigger::STEP, event.payload)?;
            handlers::trigger(storage, executions, input).await
        },
    ))
    .await
}
