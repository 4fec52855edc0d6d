//! The functions' inputs and outputs (the state machine's JSON messages).

use serde::{Deserialize, Serialize};
use summa_agg::json::NodeJson;
use summa_agg::Layout;

use super::events::{
    ExecutionInput, ExecutionStatusEvent, EXECUTION_STATUS_CHANGE, FAILED_STATUSES,
};
use super::files::{ErrorRecord, PlannedShard};
use crate::error::FnError;

/// Input of `plan` and of `aggregator` in normal mode: a run of a round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix `P` (no trailing `/`).
    pub prefix: String,
    /// The run (the execution's name): its artifacts live under `P/runs/<run>/`.
    pub run: String,
}

/// Output of `plan`: where the state machine's Map reads its items. Its size
/// does not grow with the round: the items (one [`MiniTreeInput`] per shard) are
/// in `items_key`, which the Map reads with an S3 `ItemReader`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOutput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The run.
    pub run: String,
    /// The hash layout.
    pub layout: Layout,
    /// The balance range in bytes.
    pub n_bytes: u8,
    /// Number of shards.
    pub shard_count: usize,
    /// `P/runs/R/items.json`: a JSON array of `shard_count` [`MiniTreeInput`]s,
    /// each with its [`ShardTask`], in shard order.
    pub items_key: String,
    /// The username index has `2^index_bits` partitions.
    pub index_bits: u32,
    /// `P/runs/R/index-items.json`: a JSON array of `2^index_bits`
    /// [`AggregatorInput`]s in index mode, one per partition.
    pub index_items_key: String,
}

/// One partition of the username index to build (the aggregator in index mode).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPartition {
    /// The partition, `0..2^bits`.
    pub partition: u64,
    /// The index has `2^bits` partitions.
    pub bits: u32,
    /// The round's shards.
    pub shard_count: usize,
}

/// Output of the aggregator in index mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexOutput {
    /// The partition.
    pub partition: u64,
    /// Its users.
    pub users: u64,
    /// Its file.
    pub key: String,
}

/// Input of `mini-tree`: one item of the plan's `items.json` (the Map passes it
/// as is), or by hand only the shard's index (the function then reads the plan
/// and the items file).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniTreeInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The run.
    pub run: String,
    /// The shard's index in the plan.
    pub shard: usize,
    /// What the plan pinned for this shard, so that a mini-tree reads nothing of
    /// the plan whose size grows with the round.
    pub task: Option<ShardTask>,
}

/// What one mini-tree needs of its run's plan: the round's parameters and the
/// shard's pinned version. Written by `plan` into each item of `items.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardTask {
    /// The hash layout.
    pub layout: Layout,
    /// The balance range in bytes.
    pub n_bytes: u8,
    /// The currencies of every shard's header.
    pub currencies: Vec<summa_agg::shard::Currency>,
    /// The shard's key, size, ETag and what it may re-use.
    pub planned: PlannedShard,
}

impl ShardTask {
    /// The round's parameters.
    pub fn params(&self) -> summa_agg::Params {
        summa_agg::Params {
            layout: self.layout,
            n_bytes: self.n_bytes,
        }
    }
}

/// Output of `mini-tree`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MiniTreeOutput {
    /// The shard's index.
    pub shard: usize,
    /// The shard's key.
    pub key: String,
    /// The mini-tree's key (`P/runs/R/mini-trees/NNNNNN.mst`).
    pub mini_tree_key: String,
    /// Number of users.
    pub entries: u64,
    /// The mini-tree's own depth.
    pub depth: u32,
    /// Its root.
    pub root: NodeJson,
    /// Whether the mini-tree was copied from the previous round.
    #[serde(default)]
    pub reused: bool,
}

/// The state machine's Catch payload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Failure {
    /// The error name (a Lambda's `errorType`, or `States.*`).
    pub error: Option<String>,
    /// The cause: for a Lambda error, its payload as JSON text.
    pub cause: Option<String>,
}

/// Input of `aggregator`: a run, and in failure mode the failure to record.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The run.
    pub run: String,
    /// Present in failure mode (from the EventBridge event of a failed
    /// execution, see [`AggregatorInput::from_payload`]).
    pub failure: Option<Failure>,
    /// In failure mode: the step that failed, when the caller knows it;
    /// otherwise the aggregator infers it from the run's artifacts.
    pub failed_step: Option<String>,
    /// In failure mode: the shard whose mini-tree failed without recording it
    /// (by hand; the mini-tree records its own timeouts). Only that shard's
    /// error record is written.
    pub shard: Option<usize>,
    /// Index mode: build this partition of the username index (an item of the
    /// `UserIndex` Map), not the round's tree.
    pub index: Option<IndexPartition>,
}

impl AggregatorInput {
    /// The aggregator's input from its invocation payload: the state machine's
    /// `{"bucket", "prefix", "run", "failure"?, ...}`, or the EventBridge event of
    /// a failed or timed-out execution (failure mode; the step is not known).
    pub fn from_payload(payload: serde_json::Value) -> Result<AggregatorInput, FnError> {
        let invalid = |what: String| FnError::invalid(format!("invalid input: {what}"));
        if payload.get("detail-type").is_none() {
            return serde_json::from_value(payload).map_err(|e| invalid(e.to_string()));
        }
        let event: ExecutionStatusEvent = serde_json::from_value(payload)
            .map_err(|e| invalid(format!("an EventBridge event: {e}")))?;
        if event.source != "aws.states" || event.detail_type != EXECUTION_STATUS_CHANGE {
            return Err(invalid(format!(
                "an EventBridge event of {:?} / {:?}, not a Step Functions execution status change",
                event.source, event.detail_type
            )));
        }
        let d = event.detail;
        if !FAILED_STATUSES.contains(&d.status.as_str()) {
            return Err(invalid(format!(
                "execution {} is {}, not failed ({}): there is nothing to record",
                d.execution_arn,
                d.status,
                FAILED_STATUSES.join(", ")
            )));
        }
        let text = d.input.as_deref().ok_or_else(|| {
            invalid(format!(
                "the event of execution {} carries no input",
                d.execution_arn
            ))
        })?;
        let input: ExecutionInput = serde_json::from_str(text)
            .map_err(|e| invalid(format!("the input of execution {}: {e}", d.execution_arn)))?;
        let error = d
            .error
            .filter(|e| !e.is_empty())
            .or_else(|| (d.status == "TIMED_OUT").then(|| "States.Timeout".to_string()));
        Ok(AggregatorInput {
            bucket: input.bucket,
            prefix: input.prefix,
            run: input.run.unwrap_or(d.name),
            failure: Some(Failure {
                error,
                cause: d.cause,
            }),
            failed_step: None,
            shard: None,
            index: None,
        })
    }
}

/// Output of `aggregator`: the round's result, or in failure mode the error record.
/// As the function's response (JSON) the result is its [`Aggregated`] form,
/// whose size does not grow with the round's shards: the state machine carries
/// keys and the root, never per-shard lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AggregatorOutput {
    /// Normal mode: `result.json`.
    Result(Box<summa_agg::json::RoundResult>),
    /// Failure mode: `error.json`.
    Failure(ErrorRecord),
    /// Index mode: the partition written.
    Index(IndexOutput),
}

impl Serialize for AggregatorOutput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AggregatorOutput::Result(r) => Aggregated::of(r).serialize(s),
            AggregatorOutput::Failure(f) => f.serialize(s),
            AggregatorOutput::Index(i) => i.serialize(s),
        }
    }
}

/// The aggregator's response in normal mode: `result.json` without its
/// per-shard lists (`inputs`, `build.shards`), and where the whole result is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aggregated {
    /// The run's `result.json` (`P/runs/R/result.json`), also published as
    /// `P/result.json`.
    pub result_key: String,
    /// The result, its per-shard lists left empty.
    #[serde(flatten)]
    pub result: summa_agg::json::RoundResult,
}

impl Aggregated {
    /// `result` without its per-shard lists.
    pub fn of(result: &summa_agg::json::RoundResult) -> Aggregated {
        let mut r = result.clone();
        r.inputs = Vec::new();
        if let Some(b) = r.build.as_mut() {
            b.shards = Vec::new();
        }
        Aggregated {
            result_key: r.artifacts.get("result").cloned().unwrap_or_default(),
            result: r,
        }
    }
}

/// Input of `proof`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The user.
    pub username: String,
    /// The run to prove against; default: the published one (`P/lookup.json`,
    /// published with `P/result.json`). The run's username index says which
    /// mini-tree holds the user (a `"shard"` field, which earlier versions took
    /// as a hint, is ignored).
    pub run: Option<String>,
}

/// One round started (or found already started) by `trigger`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The execution's name, which is also the run (from the prefix and the S3
    /// event's version id or sequencer).
    pub execution_name: String,
    /// The execution's ARN (absent when `already_started`).
    pub execution_arn: Option<String>,
    /// True when Step Functions answered ExecutionAlreadyExists: this upload's
    /// round was started before and has finished (if it failed, redrive that
    /// execution, or upload the manifest again for a new run). (A duplicate event while that
    /// round still runs gets the running execution's ARN back, with `false`:
    /// StartExecution is idempotent for the same name and input.)
    pub already_started: bool,
}

/// Output of `trigger`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerOutput {
    /// The manifests that (re)started a round.
    pub started: Vec<Started>,
    /// Keys of the event that are not a round manifest (`s3://bucket/key`).
    pub ignored: Vec<String>,
}
