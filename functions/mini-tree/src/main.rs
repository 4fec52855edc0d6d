//! The `mini-tree` Lambda function: builds one shard's mini-tree (`{bucket, prefix, shard}`).
//! The handler is [`summa_functions::handlers::mini_tree`]; [`summa_functions::serve`]
//! builds the S3 client and runs it, with the invocation's deadline: shortly
//! before it, the shard's error record is written (a Lambda timeout kills the
//! function before it could record anything).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use summa_functions::handlers;

/// How long before the Lambda deadline the timeout record is written.
const RECORD_MARGIN: Duration = Duration::from_secs(10);

fn main() -> Result<(), lambda_runtime::Error> {
    // SUMMA_AGG_THREADS: the engine's threads (default: one per vCPU); with 1, a
    // current-thread runtime and no thread started (summa_functions::runtime).
    summa_functions::serve(handlers::mini_tree::STEP, |storage, input, context| {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let record_after = Duration::from_millis(context.deadline)
            .checked_sub(now)
            .and_then(|left| left.checked_sub(RECORD_MARGIN));
        handlers::mini_tree::mini_tree_with_deadline(storage, input, record_after)
    })
}
