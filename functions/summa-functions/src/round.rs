//! The round driver: one run of a round in-process, step by step as the state
//! machine runs it (`state-machine/round.asl.json`): `plan`, then every shard's
//! `mini-tree` (`concurrency` at once, the Map), every partition of the username
//! index (the aggregator in index mode, the second Map), then `aggregator`. The CLI's S3
//! mode (`summa-agg round --bucket`), the handlers' test harness and the proof
//! function's tests run rounds with it; the Lambda functions are the same
//! handlers, one invocation each.

use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use summa_agg::json::RoundResult;

use crate::handlers;
use crate::model::{
    AggregatorInput, AggregatorOutput, ErrorRecord, MiniTreeOutput, PlanOutput, RoundInput, RunKeys,
};
use crate::storage::Storage;
use crate::FnError;

/// How long each step of a run took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepTimes {
    /// `plan`.
    pub plan: Duration,
    /// Every mini-tree, `concurrency` at once.
    pub mini_trees: Duration,
    /// `aggregator`.
    pub aggregation: Duration,
}

/// What a completed run returned at each step.
#[derive(Clone, Debug, PartialEq)]
pub struct Completed {
    /// `plan`'s output.
    pub plan: PlanOutput,
    /// Each shard's `mini-tree` output, in shard order.
    pub mini_trees: Vec<MiniTreeOutput>,
    /// The round's result (as published in `P/result.json`).
    pub result: RoundResult,
    /// The steps' times.
    pub times: StepTimes,
}

/// A step completed, for a progress report.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// The plan: how many mini-trees follow.
    Planned(&'a PlanOutput),
    /// One mini-tree (in completion order).
    Built(&'a MiniTreeOutput),
}

/// Runs `input`'s run: plan, the mini-trees (`concurrency` at once, at least
/// one) and the aggregation; `progress` hears of the plan and of each mini-tree. The first
/// failure is returned as is (its step and shard are fields): nothing is recorded,
/// see [`record_failure`].
pub async fn run<S: Storage>(
    storage: &S,
    input: RoundInput,
    concurrency: usize,
    progress: &(dyn Fn(Progress<'_>) + Sync),
) -> Result<Completed, FnError> {
    let start = Instant::now();
    let plan = handlers::plan(storage, input.clone()).await?;
    let planned = start.elapsed();
    progress(Progress::Planned(&plan));
    // The Map's items, as its ItemReader reads them.
    let items = handlers::read_items(storage, &plan).await?;
    let mut mini_trees: Vec<MiniTreeOutput> = futures::stream::iter(items)
        .map(|item| handlers::mini_tree(storage, item))
        .buffer_unordered(concurrency.max(1))
        .inspect_ok(|out| progress(Progress::Built(out)))
        .try_collect()
        .await?;
    mini_trees.sort_by_key(|m| m.shard);
    // The username index's partitions (the UserIndex Map).
    let index_items = handlers::read_index_items(storage, &plan).await?;
    futures::stream::iter(index_items)
        .map(|item| handlers::aggregator(storage, item))
        .buffer_unordered(concurrency.max(1))
        .try_for_each(|_| async { Ok(()) })
        .await?;
    let built = start.elapsed();
    let aggregate = AggregatorInput {
        bucket: input.bucket,
        prefix: input.prefix,
        run: input.run,
        failure: None,
        failed_step: None,
        shard: None,
        index: None,
    };
    let result = match handlers::aggregator(storage, aggregate).await? {
        AggregatorOutput::Result(r) => *r,
        AggregatorOutput::Failure(f) => return Err(FnError::internal(f.cause)),
        AggregatorOutput::Index(i) => {
            return Err(FnError::internal(format!(
                "the aggregator built index partition {} instead of the round",
                i.partition
            )))
        }
    };
    Ok(Completed {
        plan,
        mini_trees,
        result,
        times: StepTimes {
            plan: planned,
            mini_trees: built - planned,
            aggregation: start.elapsed() - built,
        },
    })
}

/// Records a failed run as the state machine's failure handler does: the run's
/// `error.json` and `P/error.json`, made from the error's fields (best effort:
/// a failure to record is not reported).
pub async fn record_failure<S: Storage>(storage: &S, input: &RoundInput, error: &FnError) {
    if let Ok(keys) = RunKeys::new(&input.prefix, &input.run) {
        let record = ErrorRecord::of(error, Some(&input.run));
        let _ = handlers::publish_error(storage, &input.bucket, &keys, &record).await;
    }
}
