//! `aggregator`: combines the mini-tree summaries into the round's tree, writes
//! `P/aggregation.mst` and then `P/result.json`; in failure mode writes
//! `P/error.json` instead.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use summa_agg::format::write_aggregation;
use summa_agg::json::{RoundResult, SummaryJson};
use summa_agg::tree::{Aggregation, TreeSummary};

use crate::error::{join_error, FnError};
use crate::handlers::mini_tree::read_plan;
use crate::model::{AggregatorInput, AggregatorOutput, ErrorRecord, Failure, RoundKeys};
use crate::storage::Storage;

/// The step's name in error messages and `error.json`.
pub const STEP: &str = "aggregator";
/// Summaries read at once.
const CONCURRENCY: usize = 64;

/// Aggregates the round, or (with `failure`) records why it failed.
pub async fn aggregator(
    storage: &impl Storage,
    input: AggregatorInput,
) -> Result<AggregatorOutput, FnError> {
    match input.failure {
        Some(ref failure) => record_failure(storage, &input.bucket, &input.prefix, failure)
            .await
            .map(AggregatorOutput::Failure),
        None => aggregate(storage, &input.bucket, &input.prefix)
            .await
            .map(|r| AggregatorOutput::Result(Box::new(r))),
    }
    .map_err(|e| e.in_step(STEP))
}

async fn aggregate(
    storage: &impl Storage,
    bucket: &str,
    prefix: &str,
) -> Result<RoundResult, FnError> {
    let keys = RoundKeys::new(prefix)?;
    let plan = read_plan(storage, bucket, &keys).await?;
    let keys_ref = &keys;
    let plan_ref = &plan;
    let summaries: Vec<TreeSummary> = futures::stream::iter(0..plan.shards.len())
        .map(|i| async move {
            let key = keys_ref.mini_tree_summary(i);
            let bytes = storage.get(bucket, &key).await?;
            let json: SummaryJson = serde_json::from_slice(&bytes)
                .map_err(|e| FnError::Internal(format!("{key}: not a mini-tree summary: {e}")))?;
            if json.name != plan_ref.shards[i] {
                return Err(FnError::Internal(format!(
                    "{key} is the summary of {:?}, but the plan's shard {i} is {:?} (a stale mini-tree: run mini-tree {i} again)",
                    json.name, plan_ref.shards[i]
                )));
            }
            json.to_summary().map_err(FnError::from)
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;

    let params = plan.params();
    let currencies = plan.currencies.clone();
    let (bytes, mut result) = tokio::task::spawn_blocking(move || {
        let agg = Aggregation::build(&params, &currencies, summaries)?;
        let mut bytes = Vec::new();
        write_aggregation(&agg, &mut bytes)
            .map_err(|e| summa_agg::Error::io(summa_agg::round::AGGREGATION_FILE, e))?;
        Ok::<_, summa_agg::Error>((bytes, RoundResult::of(&agg)))
    })
    .await
    .map_err(join_error)??;

    let agg_key = keys.aggregation();
    storage
        .put(
            bucket,
            &agg_key,
            Bytes::from(bytes),
            "application/octet-stream",
        )
        .await?;
    result.artifacts = BTreeMap::from([
        ("aggregation".to_string(), agg_key),
        ("mini_trees".to_string(), keys.mini_trees_dir()),
        ("plan".to_string(), keys.plan()),
    ]);
    let mut body = serde_json::to_vec_pretty(&result).expect("a result serializes");
    body.push(b'\n');
    storage
        .put(
            bucket,
            &keys.result(),
            Bytes::from(body),
            "application/json",
        )
        .await?;
    Ok(result)
}

/// The names of the steps, as the functions prefix their messages.
const STEPS: [&str; 4] = ["plan", "mini-tree", "aggregator", "trigger"];

/// Reads the state machine's Catch payload into an [`ErrorRecord`].
///
/// `Cause` is, for a Lambda error, the error payload as JSON text
/// (`{"errorType", "errorMessage", ...}`); the functions' messages start with the
/// step (`mini-tree: `) and, for a shard, `shard 3 (P/shards/c.csv): `. A
/// Distributed Map reports a failed child as `States.ExceedToleratedFailureThreshold`
/// with its own cause: then the step is `mini-tree` and the shard is unknown.
pub fn error_record(failure: &Failure) -> ErrorRecord {
    let error = failure
        .error
        .clone()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "Unknown".into());
    let raw = failure.cause.clone().unwrap_or_default();
    let message = serde_json::from_str::<serde_json::Value>(&raw)
        .ok()
        .and_then(|v| {
            v.get("errorMessage")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or(raw);
    let mut step = None;
    let mut shard = None;
    let mut shard_key = None;
    if let Some((s, rest)) = message.split_once(": ") {
        if STEPS.contains(&s) {
            step = Some(s.to_string());
            if let Some((index, key)) = parse_shard(rest) {
                shard = Some(index);
                shard_key = Some(key);
            }
        }
    }
    if step.is_none() && error.starts_with("States.ExceedToleratedFailure") {
        step = Some(crate::handlers::mini_tree::STEP.to_string());
    }
    ErrorRecord {
        step,
        shard,
        shard_key,
        error,
        cause: message,
    }
}

/// `shard 3 (P/shards/c.csv): ...` -> (3, "P/shards/c.csv").
fn parse_shard(s: &str) -> Option<(u64, String)> {
    let rest = s.strip_prefix("shard ")?;
    let digits = rest.find(|c: char| !c.is_ascii_digit())?;
    let index = rest[..digits].parse().ok()?;
    let rest = rest[digits..].strip_prefix(" (")?;
    let end = rest
        .find("): ")
        .or_else(|| rest.strip_suffix(')').map(str::len))?;
    Some((index, rest[..end].to_string()))
}

/// The first (lowest-index) shard error record under `P/mini-trees/`, if any.
async fn first_shard_error(
    storage: &impl Storage,
    bucket: &str,
    keys: &RoundKeys,
) -> Option<ErrorRecord> {
    let listed = storage.list(bucket, &keys.mini_trees_dir()).await.ok()?;
    let key = listed
        .into_iter()
        .find(|k| k.ends_with(crate::model::SHARD_ERROR_SUFFIX))?;
    let bytes = storage.get(bucket, &key).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

async fn record_failure(
    storage: &impl Storage,
    bucket: &str,
    prefix: &str,
    failure: &Failure,
) -> Result<ErrorRecord, FnError> {
    let keys = RoundKeys::new(prefix)?;
    let mut record = error_record(failure);
    if record.shard.is_none()
        && record.step.as_deref() != Some("plan")
        && record.step.as_deref() != Some("aggregator")
    {
        // A Distributed Map's own failure does not say which shard failed: the
        // rejected shards left error records; report the first.
        if let Some(shard) = first_shard_error(storage, bucket, &keys).await {
            record = shard;
        }
    }
    let mut body = serde_json::to_vec_pretty(&record).expect("a record serializes");
    body.push(b'\n');
    storage
        .put(bucket, &keys.error(), Bytes::from(body), "application/json")
        .await?;
    Ok(record)
}
