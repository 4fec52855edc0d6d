//! `aggregator`: checks the run's mini-tree summaries against its plan, combines
//! them into the round's tree, writes `P/runs/R/aggregation.mst`, the username
//! index and `P/runs/R/result.json`, then publishes the result as `P/result.json`
//! with a conditional write. In failure mode (the EventBridge event of a failed
//! execution, see [`AggregatorInput::from_payload`]) it writes the run's
//! `error.json` (and publishes it as `P/error.json`) instead, naming the step
//! and the shard from the functions' own records and the run's artifacts.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use summa_agg::format::{write_aggregation, TreeFile};
use summa_agg::json::{BuildSummary, RoundResult};
use summa_agg::proof::paths::write_paths;
use summa_agg::tree::{Aggregation, TreeSummary};

use super::artifacts::{put_binary, read_plan, write_error_record, write_once};
use crate::error::{join_error, FnError, InStep};
use crate::model::{
    AggregatorInput, AggregatorOutput, ErrorRecord, Failure, LookupFile, PlanFile, RunKeys,
    ShardSummary, SHARD_ERROR_SUFFIX,
};
use crate::storage::{Put, PutCondition, Storage, StoreErrorKind, JSON};

/// The step's name in error messages and `error.json`.
pub const STEP: &str = crate::model::steps::AGGREGATOR;
/// Summaries read at once.
const CONCURRENCY: usize = 64;
/// The key of `result.json`'s `artifacts` that gives the username index's
/// partitions, `2^bits` (a number, as text).
pub const USER_INDEX_BITS: &str = "user_index_bits";
/// Attempts at the conditional publication of `P/result.json`.
const PUBLISH_ATTEMPTS: usize = 8;

/// Aggregates the run, or (with `failure`) records why it failed.
pub async fn aggregator(
    storage: &impl Storage,
    input: AggregatorInput,
) -> Result<AggregatorOutput, FnError> {
    let keys = RunKeys::new(&input.prefix, &input.run).in_step(STEP)?;
    if let Some(task) = &input.index {
        // Index mode: its errors are the user-index step's.
        return super::user_index::user_index(storage, &input.bucket, &keys, task)
            .await
            .map(AggregatorOutput::Index);
    }
    match input.failure {
        Some(ref failure) => match input.shard {
            Some(shard) => {
                record_shard_failure(storage, &input.bucket, &keys, shard, failure).await
            }
            None => {
                record_failure(
                    storage,
                    &input.bucket,
                    &keys,
                    input.failed_step.as_deref(),
                    failure,
                )
                .await
            }
        }
        .map(AggregatorOutput::Failure),
        None => aggregate(storage, &input.bucket, &keys)
            .await
            .map(|r| AggregatorOutput::Result(Box::new(r))),
    }
    .in_step(STEP)
}

/// Checks a summary against the plan: the same run, layout, `n_bytes`,
/// currencies, and the shard version the plan pinned.
fn check_summary(s: &ShardSummary, plan: &PlanFile, i: usize, key: &str) -> Result<(), FnError> {
    let planned = &plan.shards[i];
    let mismatch = |what: &str, found: String, expected: String| {
        Err(FnError::internal(format!(
            "{key}: the summary's {what} is {found}, the plan's is {expected}: it is not this run's mini-tree {i} (run mini-tree {i} of run {} again)",
            plan.run
        )))
    };
    if s.run != plan.run {
        return mismatch("run", format!("{:?}", s.run), format!("{:?}", plan.run));
    }
    if s.layout != plan.layout {
        return mismatch("layout", s.layout.to_string(), plan.layout.to_string());
    }
    if s.n_bytes != plan.n_bytes {
        return mismatch("n_bytes", s.n_bytes.to_string(), plan.n_bytes.to_string());
    }
    if s.currencies != plan.currencies {
        return mismatch(
            "currencies",
            summa_agg::shard::header_line(&s.currencies),
            summa_agg::shard::header_line(&plan.currencies),
        );
    }
    if s.summary.name != planned.key || s.input.key != planned.key {
        return mismatch(
            "shard",
            format!("{:?}", s.input.key),
            format!("{:?}", planned.key),
        );
    }
    if s.input.etag != planned.etag || s.input.size != planned.size {
        return mismatch(
            "shard version",
            format!("{} ({} bytes)", s.input.etag, s.input.size),
            format!("{} ({} bytes)", planned.etag, planned.size),
        );
    }
    Ok(())
}

async fn aggregate(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
) -> Result<RoundResult, FnError> {
    let plan = read_plan(storage, bucket, keys).await?;
    // A run aggregated already (a retry or a second delivery after its own
    // result.json and lookup.json were written): its files are published as they
    // are, never written again, so that nothing P/result.json names changes after
    // it is published (found by the fault campaign: an aggregator run twice in
    // turn rewrote aggregation.mst after the first had published).
    if let Some((body, lookup)) = run_files(storage, bucket, keys).await? {
        let result: RoundResult = summa_agg::json::from_slice_strict(&body).map_err(|e| {
            FnError::internal(format!("{}: not a round's result: {e}", keys.result()))
        })?;
        publish_run(
            storage,
            bucket,
            keys,
            &plan,
            &Bytes::from(body),
            &Bytes::from(lookup),
        )
        .await?;
        return Ok(result);
    }
    let plan_ref = &plan;
    let summaries: Vec<ShardSummary> = futures::stream::iter(0..plan.shards.len())
        .map(|i| async move {
            let key = keys.mini_tree_summary(i);
            let bytes = storage.get(bucket, &key).await?;
            let s: ShardSummary = serde_json::from_slice(&bytes)
                .map_err(|e| FnError::internal(format!("{key}: not a mini-tree summary: {e}")))?;
            check_summary(&s, plan_ref, i, &key)?;
            Ok::<_, FnError>(s)
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    // The username index's partitions (the UserIndex Map) hold every user once
    // per shard that has them: their record counts add up to the users.
    let index_bits = plan.index_bits;
    let users: u64 = summaries.iter().map(|s| s.summary.entries).sum();
    let indexed: Vec<u64> = futures::stream::iter(0..1u64 << index_bits)
        .map(|p| async move {
            let key = keys.user_index_partition(p);
            crate::index::records_in(storage, bucket, &key)
                .await
                .map_err(|e| {
                    e.context(format_args!(
                        "the username index's partition {p} ({key}) is missing or bad: has the UserIndex step finished?"
                    ))
                })
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let indexed: u64 = indexed.iter().sum();
    if indexed != users {
        return Err(FnError::internal(format!(
            "the username index of run {} holds {indexed} users, the mini-trees {users}: run the UserIndex step again",
            keys.id()
        )));
    }

    let params = plan.params();
    let currencies = plan.currencies.clone();
    let trees: Vec<TreeSummary> = summaries
        .iter()
        .map(|s| s.summary.to_summary())
        .collect::<Result<_, _>>()?;
    let work = move || {
        let agg = Aggregation::build(&params, &currencies, trees)?;
        let mut bytes = Vec::new();
        write_aggregation(&agg, &mut bytes)
            .map_err(|e| summa_agg::Error::io(summa_agg::round::AGGREGATION_FILE, e))?;
        let result = RoundResult::of(&agg);
        drop(agg);
        // Every mini-tree's path above it, from the file just written: a proof
        // reads one record instead of the aggregation tree.
        let file = TreeFile::open(&bytes[..], summa_agg::round::AGGREGATION_FILE)?;
        let paths = write_paths(&file, &file.shards()?)?;
        Ok::<_, summa_agg::Error>((bytes, paths, result))
    };
    // On a blocking thread, or in one-thread mode on this one (no thread started).
    let (bytes, (paths, stride), mut result) = if super::inline_engine() {
        work()?
    } else {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(join_error)??
    };

    let agg_key = keys.aggregation();
    put_binary(storage, bucket, &agg_key, bytes).await?;
    put_binary(storage, bucket, &keys.aggregation_paths(), paths).await?;
    result.run = Some(keys.id().to_string());
    if let Some(prev) = plan.previous.as_ref().filter(|p| p.untrusted.is_none()) {
        result.previous = Some(match &prev.run {
            Some(run) => format!("{} (run {run})", prev.prefix),
            None => prev.prefix.clone(),
        });
        result.reused_mini_trees =
            summaries.iter().filter(|s| s.reused_from.is_some()).count() as u64;
    }
    result.build = BuildSummary::of(
        summaries
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.build.clone().map(|b| (i, b))),
    );
    result.inputs = summaries.into_iter().map(|s| s.input).collect();
    result.artifacts = BTreeMap::from([
        ("aggregation".to_string(), agg_key),
        ("aggregation_paths".to_string(), keys.aggregation_paths()),
        ("lookup".to_string(), keys.lookup()),
        ("mini_trees".to_string(), keys.mini_trees_dir()),
        ("plan".to_string(), keys.plan()),
        ("user_index".to_string(), keys.user_index()),
        (USER_INDEX_BITS.to_string(), index_bits.to_string()),
        ("result".to_string(), keys.result()),
    ]);
    let mut body = serde_json::to_vec_pretty(&result).expect("a result serializes");
    body.push(b'\n');
    let body = Bytes::from(body);
    let lookup = LookupFile {
        run: keys.id().to_string(),
        root: result.root.hash.clone(),
        mini_trees: result.inputs.len() as u64,
        user_index_bits: index_bits,
        paths_stride: stride,
    };
    let mut lookup = serde_json::to_vec_pretty(&lookup).expect("a lookup file serializes");
    lookup.push(b'\n');
    let lookup = Bytes::from(lookup);
    // The run's own files are written once: a second aggregator of the same run
    // (a retry) must find the same bytes.
    write_once(storage, bucket, keys, &keys.result(), &body, JSON).await?;
    write_once(storage, bucket, keys, &keys.lookup(), &lookup, JSON).await?;
    publish_run(storage, bucket, keys, &plan, &body, &lookup).await?;
    Ok(result)
}

/// The run's own `result.json` and `lookup.json`, when both are written (a
/// failed read other than a missing object is an error, not an absence).
async fn run_files(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
) -> Result<Option<(Vec<u8>, Vec<u8>)>, FnError> {
    let mut files = Vec::with_capacity(2);
    for key in [keys.result(), keys.lookup()] {
        match storage.get(bucket, &key).await {
            Ok(b) => files.push(b),
            Err(e) if e.kind == StoreErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    let lookup = files.pop().expect("two files");
    Ok(Some((files.pop().expect("two files"), lookup)))
}

/// Publishes a run whose own `result.json` (`body`) and `lookup.json` are
/// written: `P/lookup.json`, then `P/result.json`, the run's last write, so that
/// an execution that fails (is killed, times out) has either published nothing
/// or published a result whose every file is there (the fault campaign's
/// invariant). Between the two writes (or after a failure there, until the
/// redrive), `P/lookup.json` may name this run while `P/result.json` still names
/// the previous one: a proof made then is of this run, and its root is not the
/// published one, which `verify` says.
async fn publish_run(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    plan: &PlanFile,
    body: &Bytes,
    lookup: &Bytes,
) -> Result<(), FnError> {
    // A redriven run about to succeed: its error record of the failed attempt
    // is no longer true (P/error.json, the latest failure, stays; if publishing
    // fails, the failure handler records it again).
    let _ = storage.delete(bucket, &keys.error()).await;
    // Both follow the same rule (the latest planned run wins), so that they name
    // the same run once the aggregators are done.
    if publish(storage, bucket, keys, plan, &keys.round().lookup(), lookup).await? {
        publish(storage, bucket, keys, plan, &keys.round().result(), body).await?;
    }
    Ok(())
}

/// When run `run` was planned (Unix ms), read from its plan.
async fn planned_at(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    run: &str,
) -> Result<Option<u64>, FnError> {
    let other = keys.round().run(run)?;
    match storage.get(bucket, &other.plan()).await {
        Ok(b) => Ok(Some(
            crate::model::PlanFile::parse(&b, &other.plan())?.planned_at_ms,
        )),
        Err(e) if e.kind == StoreErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The run a published JSON file (`P/result.json`, `P/lookup.json`) is of.
#[derive(serde::Deserialize)]
struct RunOf {
    run: Option<String>,
}

/// Publishes the run's file `body` as `key` (`P/result.json`, `P/lookup.json`)
/// by compare-and-swap (If-Match on the ETag read, or If-None-Match when there
/// is none), unless a run planned later has published there already. Returns
/// whether it published.
async fn publish(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    plan: &PlanFile,
    key: &str,
    body: &Bytes,
) -> Result<bool, FnError> {
    for _ in 0..PUBLISH_ATTEMPTS {
        let condition = match storage.get_with_etag(bucket, key).await {
            Ok((current, etag)) => {
                let current_run = serde_json::from_slice::<RunOf>(&current)
                    .ok()
                    .and_then(|r| r.run);
                if let Some(run) = current_run {
                    if run == keys.id() {
                        return Ok(true);
                    }
                    if let Ok(other) = keys.round().run(&run) {
                        let theirs = planned_at(storage, bucket, &other, &run).await?;
                        let newer = theirs
                            .is_some_and(|t| (t, run.as_str()) > (plan.planned_at_ms, keys.id()));
                        if newer {
                            return Ok(false);
                        }
                    }
                }
                PutCondition::Matches(etag)
            }
            Err(e) if e.kind == StoreErrorKind::NotFound => PutCondition::Absent,
            Err(e) => return Err(e.into()),
        };
        let put = Put::new(body.clone(), crate::storage::JSON).when(condition);
        match storage.write(bucket, key, put).await {
            Ok(()) => return Ok(true),
            // Another run published in between: look again.
            Err(e) if e.kind == StoreErrorKind::Changed => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(FnError::storage(format!(
        "{key}: could not publish after {PUBLISH_ATTEMPTS} conditional writes (other runs keep publishing)"
    )))
}

/// The message of a Catch payload's Cause: for a Lambda error the payload is
/// JSON, `{"errorType", "errorMessage"}`, and the message is `errorMessage`;
/// otherwise the raw text.
fn cause_message(failure: &Failure) -> String {
    let raw = failure.cause.clone().unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or(raw)
}

fn error_name(failure: &Failure) -> String {
    failure
        .error
        .clone()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "Unknown".into())
}

/// The run's first (lowest-index) shard error record, if any. Only this run's
/// records exist under its keys: a previous run's are never read.
async fn first_shard_error(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
) -> Option<ErrorRecord> {
    let listed = storage.list(bucket, &keys.mini_trees_dir()).await.ok()?;
    let key = listed
        .into_iter()
        .find(|k| k.ends_with(SHARD_ERROR_SUFFIX))?;
    let bytes = storage.get(bucket, &key).await.ok()?;
    serde_json::from_slice(&bytes)
        .ok()
        .filter(|r: &ErrorRecord| r.run.as_deref() == Some(keys.id()))
}

/// Writes the run's `error.json` and publishes it as `P/error.json`.
pub async fn publish_error(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    record: &ErrorRecord,
) -> Result<(), FnError> {
    write_error_record(storage, bucket, &keys.error(), record).await?;
    write_error_record(storage, bucket, &keys.round().error(), record).await
}

/// The step a run failed in, when the failure does not say (the EventBridge
/// event of a failed execution names only its Error and Cause): from the run's
/// artifacts. No plan: `plan`. A shard with an error record, or without a
/// summary: `mini-tree`. A partition of the username index missing:
/// `user-index`. Otherwise: `aggregator`.
/// `None` when the storage cannot tell.
async fn infer_step(storage: &impl Storage, bucket: &str, keys: &RunKeys) -> Option<&'static str> {
    use crate::model::steps;
    let plan = match read_plan(storage, bucket, keys).await {
        Ok(plan) => plan,
        Err(e) if e.kind == crate::ErrorKind::NotFound => return Some(steps::PLAN),
        Err(_) => return None,
    };
    let listed: std::collections::HashSet<String> = storage
        .list(bucket, &keys.mini_trees_dir())
        .await
        .ok()?
        .into_iter()
        .collect();
    let failed_shard = (0..plan.shards.len()).any(|i| {
        listed.contains(&keys.mini_tree_error(i)) || !listed.contains(&keys.mini_tree_summary(i))
    });
    if failed_shard {
        return Some(steps::MINI_TREE);
    }
    let indexed = storage.list(bucket, &keys.user_index()).await.ok()?;
    let partitions =
        (0..1u64 << plan.index_bits).all(|p| indexed.contains(&keys.user_index_partition(p)));
    Some(if partitions {
        steps::AGGREGATOR
    } else {
        steps::USER_INDEX
    })
}

/// Whether run `keys` has completed: its `result.json` exists and it was
/// published, or superseded by a run planned later (then its aggregator
/// finished without publishing). A failure event that arrives after that (a
/// redrive that succeeded first) is stale.
async fn run_completed(storage: &impl Storage, bucket: &str, keys: &RunKeys) -> bool {
    if storage.get(bucket, &keys.result()).await.is_err() {
        return false;
    }
    let Some(published) = storage
        .get(bucket, &keys.round().result())
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<RoundResult>(&b).ok())
        .and_then(|r| r.run)
    else {
        return false;
    };
    if published == keys.id() {
        return true;
    }
    let Ok(plan) = read_plan(storage, bucket, keys).await else {
        return false;
    };
    let Ok(other) = keys.round().run(&published) else {
        return false;
    };
    let theirs = planned_at(storage, bucket, &other, &published)
        .await
        .ok()
        .flatten();
    theirs.is_some_and(|t| (t, published.as_str()) > (plan.planned_at_ms, keys.id()))
}

async fn record_failure(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    step: Option<&str>,
    failure: &Failure,
) -> Result<ErrorRecord, FnError> {
    if run_completed(storage, bucket, keys).await {
        return Err(FnError::invalid(format!(
            "run {} has completed since this failure (a redrive succeeded): the failure is not recorded",
            keys.id()
        )));
    }
    let error = error_name(failure);
    let step = match step {
        Some(step) => Some(step.to_owned()),
        None if error.starts_with("States.ExceedToleratedFailure") => {
            Some(crate::model::steps::MINI_TREE.to_string())
        }
        None => infer_step(storage, bucket, keys).await.map(str::to_owned),
    };
    let mut record = ErrorRecord {
        run: Some(keys.id().to_string()),
        step,
        shard: None,
        shard_key: None,
        error: error.clone(),
        cause: cause_message(failure),
    };
    if record.step.as_deref() == Some(crate::model::steps::MINI_TREE) {
        // A Distributed Map's own failure does not say which shard failed: the
        // rejected (or timed-out) shards left error records; report the first.
        if let Some(shard) = first_shard_error(storage, bucket, keys).await {
            record = shard;
        }
    }
    publish_error(storage, bucket, keys, &record).await?;
    Ok(record)
}

/// Records that shard `shard`'s mini-tree failed without recording it itself (a
/// Lambda timeout, after its one retry): its error record names the shard.
async fn record_shard_failure(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    shard: usize,
    failure: &Failure,
) -> Result<ErrorRecord, FnError> {
    let plan = read_plan(storage, bucket, keys).await?;
    let shard_key = plan.shards.get(shard).map(|s| s.key.clone());
    let error = error_name(failure);
    let record = ErrorRecord {
        run: Some(keys.id().to_string()),
        step: Some(crate::model::steps::MINI_TREE.to_string()),
        shard: Some(shard as u64),
        shard_key: shard_key.clone(),
        cause: format!(
            "the mini-tree of shard {shard} ({}) did not finish, twice: {error}: {}",
            shard_key.as_deref().unwrap_or("not in the plan"),
            cause_message(failure)
        ),
        error,
    };
    write_error_record(storage, bucket, &keys.mini_tree_error(shard), &record).await?;
    Ok(record)
}
