//! The round's state machine in process, as `state-machine/round.asl.json` says it
//! runs: `Plan`, the `MiniTrees` Map (its items from the `ItemReader`), the
//! `UserIndex` Map, `Aggregate`; each task with the definition's `Retry` lists and
//! `TimeoutSeconds` (read from the file, not restated here), on tokio's paused
//! clock, so a hang costs its timeout in virtual time and none in real time. A
//! failed execution is recorded by the aggregator's failure mode (as EventBridge
//! invokes it) and can be redriven: the failed state again, and of a Map only the
//! items that did not succeed, as Step Functions' redrive does.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use summa_agg::json::RoundResult;
use summa_functions::handlers;
use summa_functions::model::{
    AggregatorInput, AggregatorOutput, Failure, MiniTreeInput, PlanOutput, RoundInput,
};
use summa_functions::storage::{Counting, MemoryStorage};
use summa_functions::FnError;

/// One retrier of a task: the errors it matches, its attempts and backoff.
#[derive(Clone, Debug)]
struct Retrier {
    errors: Vec<String>,
    max_attempts: u32,
    interval_s: f64,
    backoff: f64,
}

/// A task state's retriers and timeout.
#[derive(Clone, Debug)]
pub struct Task {
    retry: Vec<Retrier>,
    timeout: Duration,
}

/// The four task states of the definition.
#[derive(Clone, Debug)]
pub struct Definition {
    plan: Task,
    mini_tree: Task,
    index_partition: Task,
    aggregate: Task,
}

impl Definition {
    /// Reads `state-machine/round.asl.json`.
    pub fn load() -> Definition {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../state-machine/round.asl.json"
        );
        let asl: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("the state machine")).unwrap();
        let states = &asl["States"];
        let task = |s: &serde_json::Value| Task {
            retry: s["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| Retrier {
                    errors: r["ErrorEquals"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e.as_str().unwrap().to_string())
                        .collect(),
                    max_attempts: r["MaxAttempts"].as_u64().unwrap_or(3) as u32,
                    interval_s: r["IntervalSeconds"].as_f64().unwrap_or(1.0),
                    backoff: r["BackoffRate"].as_f64().unwrap_or(2.0),
                })
                .collect(),
            timeout: Duration::from_secs(s["TimeoutSeconds"].as_u64().unwrap_or(99_999_999)),
        };
        let in_map = |map: &str, state: &str| task(&states[map]["ItemProcessor"]["States"][state]);
        Definition {
            plan: task(&states["Plan"]),
            mini_tree: in_map("MiniTrees", "MiniTree"),
            index_partition: in_map("UserIndex", "IndexPartition"),
            aggregate: task(&states["Aggregate"]),
        }
    }
}

/// A task's failure as Step Functions names it: the error and its cause.
#[derive(Clone, Debug)]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl From<FnError> for TaskError {
    fn from(e: FnError) -> Self {
        TaskError {
            error: e.error_type().to_string(),
            cause: e.to_string(),
        }
    }
}

/// Where a failed execution stopped, for a redrive.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    plan: Option<PlanOutput>,
    mini_trees: BTreeSet<usize>,
    partitions: BTreeSet<u64>,
    indexed: bool,
}

/// How one execution (or redrive) ended.
pub enum Ended {
    Succeeded(Box<RoundResult>),
    Failed(TaskError, Box<Progress>),
}

/// How a task invocation is run: once, or twice (one after the other: a lost
/// answer retried; at the same time: an at-least-once delivery).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Twice {
    No,
    Sequential,
    Concurrent,
}

/// The world an execution runs in: the store, the definition and which task
/// invocations run twice.
pub struct Sim<'a> {
    pub storage: &'a Counting<MemoryStorage>,
    pub def: &'a Definition,
    /// Decides, for the n-th task invocation of the campaign, whether it runs twice.
    pub twice: &'a (dyn Fn() -> Twice + Sync),
    pub concurrency: usize,
}

impl Sim<'_> {
    /// Runs `f` as the task `task`: its timeout, its retriers (their backoff on
    /// the paused clock), and maybe twice.
    async fn invoke<T, F, Fut>(&self, task: &Task, f: F) -> Result<T, TaskError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, FnError>>,
    {
        let mut attempts = vec![0u32; task.retry.len()];
        loop {
            let once = async {
                let timed = |fut: Fut| async {
                    match tokio::time::timeout(task.timeout, fut).await {
                        Ok(r) => r.map_err(TaskError::from),
                        Err(_) => Err(TaskError {
                            error: "States.Timeout".into(),
                            cause: "the task ran past its TimeoutSeconds".into(),
                        }),
                    }
                };
                match (self.twice)() {
                    Twice::No => timed(f()).await,
                    Twice::Sequential => {
                        let _ = timed(f()).await;
                        timed(f()).await
                    }
                    Twice::Concurrent => {
                        let (a, b) = tokio::join!(timed(f()), timed(f()));
                        a.or(b)
                    }
                }
            };
            let e = match once.await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(i) = task
                .retry
                .iter()
                .position(|r| r.errors.iter().any(|x| *x == e.error || x == "States.ALL"))
            else {
                return Err(e);
            };
            let r = &task.retry[i];
            if attempts[i] >= r.max_attempts {
                return Err(e);
            }
            let wait = r.interval_s * r.backoff.powi(attempts[i] as i32);
            attempts[i] += 1;
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
    }

    /// One execution of `input`'s run, from `from` (a redrive) or the start.
    pub async fn execute(&self, input: &RoundInput, from: Progress) -> Ended {
        let mut p = from;
        match self.steps(input, &mut p).await {
            Ok(r) => Ended::Succeeded(Box::new(r)),
            Err(e) => Ended::Failed(e, Box::new(p)),
        }
    }

    async fn steps(&self, input: &RoundInput, p: &mut Progress) -> Result<RoundResult, TaskError> {
        let s = self.storage;
        if p.plan.is_none() {
            p.plan = Some(
                self.invoke(&self.def.plan, || handlers::plan(s, input.clone()))
                    .await?,
            );
        }
        let plan = p.plan.clone().expect("planned");
        let items: Vec<MiniTreeInput> = item_reader(handlers::read_items(s, &plan))
            .await?
            .into_iter()
            .filter(|i| !p.mini_trees.contains(&i.shard))
            .collect();
        let done: Vec<Result<usize, TaskError>> = futures::stream::iter(items)
            .map(|item| async move {
                let shard = item.shard;
                self.invoke(&self.def.mini_tree, || handlers::mini_tree(s, item.clone()))
                    .await
                    .map(|_| shard)
            })
            .buffer_unordered(self.concurrency)
            .collect()
            .await;
        map_outcome(done, &mut p.mini_trees)?;
        if !p.indexed {
            let partitions: Vec<AggregatorInput> =
                item_reader(handlers::read_index_items(s, &plan))
                    .await?
                    .into_iter()
                    .filter(|i| {
                        !i.index
                            .as_ref()
                            .is_some_and(|x| p.partitions.contains(&x.partition))
                    })
                    .collect();
            let done: Vec<Result<u64, TaskError>> = futures::stream::iter(partitions)
                .map(|item| async move {
                    let part = item.index.as_ref().map_or(0, |x| x.partition);
                    self.invoke(&self.def.index_partition, || {
                        handlers::aggregator(s, item.clone())
                    })
                    .await
                    .map(|_| part)
                })
                .buffer_unordered(self.concurrency)
                .collect()
                .await;
            map_outcome(done, &mut p.partitions)?;
            p.indexed = true;
        }
        let aggregate = aggregator_input(input, None);
        match self
            .invoke(&self.def.aggregate, || {
                handlers::aggregator(s, aggregate.clone())
            })
            .await?
        {
            AggregatorOutput::Result(r) => Ok(*r),
            other => Err(TaskError {
                error: "Unexpected".into(),
                cause: format!("the aggregator answered {other:?}"),
            }),
        }
    }

    /// The failed execution's record, as EventBridge invokes the aggregator's
    /// failure mode (asynchronously: Lambda tries it up to three times).
    pub async fn record_failure(&self, input: &RoundInput, e: &TaskError) {
        let failure = Failure {
            error: Some(e.error.clone()),
            cause: Some(e.cause.clone()),
        };
        let aggregate = aggregator_input(input, Some(failure));
        for _ in 0..3 {
            let r = tokio::time::timeout(
                self.def.aggregate.timeout,
                handlers::aggregator(self.storage, aggregate.clone()),
            )
            .await;
            if matches!(r, Ok(Ok(_))) {
                return;
            }
        }
    }
}

/// How long the ItemReader waits for its read (its own timeout, not the
/// definition's: Step Functions does not publish it).
const ITEM_READER_TIMEOUT: Duration = Duration::from_secs(60);

/// A Map's ItemReader: Step Functions reads the items itself, without the
/// task's retries; a failure fails the Map.
async fn item_reader<T>(
    read: impl std::future::Future<Output = Result<T, FnError>>,
) -> Result<T, TaskError> {
    let failed = |cause: String| TaskError {
        error: "States.ItemReaderFailed".into(),
        cause,
    };
    match tokio::time::timeout(ITEM_READER_TIMEOUT, read).await {
        Ok(r) => r.map_err(|e| failed(e.to_string())),
        Err(_) => Err(failed("the read timed out".into())),
    }
}

/// A Map's outcome: the items that succeeded are kept for a redrive; any that
/// failed fails the Map, as with no tolerated failures.
fn map_outcome<K: Ord>(
    done: Vec<Result<K, TaskError>>,
    succeeded: &mut BTreeSet<K>,
) -> Result<(), TaskError> {
    let mut failed = None;
    for d in done {
        match d {
            Ok(k) => {
                succeeded.insert(k);
            }
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    match failed {
        None => Ok(()),
        Some(e) => Err(TaskError {
            error: "States.ExceedToleratedFailureThreshold".into(),
            cause: format!("an item failed: {}: {}", e.error, e.cause),
        }),
    }
}

fn aggregator_input(input: &RoundInput, failure: Option<Failure>) -> AggregatorInput {
    AggregatorInput {
        bucket: input.bucket.clone(),
        prefix: input.prefix.clone(),
        run: input.run.clone(),
        failure,
        failed_step: None,
        shard: None,
        index: None,
    }
}
