//! The round's objects and the functions' inputs and outputs (JSON).
//!
//! Under a round prefix `P`: `P/round.json` (the custodian's [`Manifest`]) and
//! `P/shards/*.csv`. Each execution (run `R`) writes only under `P/runs/R/`:
//! `plan.json` ([`PlanFile`]), `mini-trees/NNNNNN.{mst,json,names}` (the
//! summary is a [`ShardSummary`]), `mini-trees/NNNNNN.error.json`,
//! `aggregation.mst`, `user-index.bin`, and `result.json` or `error.json`
//! ([`ErrorRecord`]). A completed run then publishes its result as `P/result.json`
//! with a conditional write; a failed one its error as `P/error.json`.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use summa_agg::json::{InputRecord, NodeJson, SummaryJson};
use summa_agg::layout::DEFAULT_N_BYTES;
use summa_agg::shard::Currency;
use summa_agg::{Layout, Params};

use crate::error::{bad_json, FnError};

/// The custodian's manifest, `P/round.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The hash layout (default `v1`).
    #[serde(default)]
    pub layout: Layout,
    /// The balance range in bytes (default 14).
    #[serde(default = "default_n_bytes")]
    pub n_bytes: u8,
    /// The shards' full keys, in round order; default: every `P/shards/*.csv` in
    /// key order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<String>>,
    /// A previous round's prefix (e.g. `"rounds/2026-11-22T10"`, or this round's
    /// own): shards whose bytes are unchanged since its published result re-use
    /// its mini-trees (server-side copies) instead of being rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

fn default_n_bytes() -> u8 {
    DEFAULT_N_BYTES
}

impl Manifest {
    /// Parses and checks a manifest read from `key`.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Manifest, FnError> {
        // An object, not any JSON that serde can read as the struct: serde reads a
        // struct from an array of its fields too, and every field is optional, so
        // `[]` would start a round with the defaults (found by the fuzzer).
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad_json(key, e))?;
        if bytes.trim_ascii_start().first() != Some(&b'{') {
            return Err(FnError::invalid(format!(
                "{key}: a manifest is a JSON object, e.g. {{\"layout\": \"v1\", \"n_bytes\": 14}}"
            )));
        }
        m.params()
            .validate()
            .map_err(|e| FnError::invalid(format!("{key}: {e}")))?;
        if let Some(p) = &m.previous {
            RoundKeys::new(p)
                .map_err(|e| FnError::invalid(format!("{key}: \"previous\": {}", e.message)))?;
        }
        if let Some(shards) = &m.shards {
            if shards.is_empty() {
                return Err(FnError::invalid(format!(
                    "{key}: \"shards\" is empty (leave it out to use every shards/*.csv)"
                )));
            }
            let mut seen = HashSet::new();
            for (i, s) in shards.iter().enumerate() {
                if s.is_empty() || s.ends_with('/') {
                    return Err(FnError::invalid(format!(
                        "{key}: shards[{i}] = {s:?} is not an object key"
                    )));
                }
                if !seen.insert(s.as_str()) {
                    return Err(FnError::invalid(format!(
                        "{key}: shards[{i}] = {s:?} is listed twice"
                    )));
                }
            }
        }
        Ok(m)
    }

    /// The round's parameters.
    pub fn params(&self) -> Params {
        Params {
            layout: self.layout,
            n_bytes: self.n_bytes,
        }
    }
}

/// One shard of a plan: the version of the object that the round is built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedShard {
    /// The shard's key.
    pub key: String,
    /// Its size in bytes when planned.
    pub size: u64,
    /// Its ETag when planned; `mini-tree` reads it with `If-Match`.
    pub etag: String,
    /// The previous round's mini-tree of the same bytes, when the manifest names
    /// a previous round and it has one: `mini-tree` copies it instead of building.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse: Option<ReuseFrom>,
}

/// A previous round's mini-tree that a shard can re-use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReuseFrom {
    /// The previous round's prefix.
    pub prefix: String,
    /// Its published run.
    pub run: String,
    /// The shard's index in that run.
    pub index: usize,
    /// That run's input record of the shard (same size and ETag as this one).
    pub input: InputRecord,
}

/// The previous round a plan looked at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousRound {
    /// Its prefix, as the manifest names it.
    pub prefix: String,
    /// Its published run, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Why nothing of it is re-used, when so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrusted: Option<String>,
}

/// `P/runs/R/plan.json`, written by `plan` and read by the other steps of run R.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The run.
    pub run: String,
    /// When the plan was made (Unix milliseconds): orders runs for publishing.
    pub planned_at_ms: u64,
    /// The manifest's ETag when planned.
    pub manifest_etag: String,
    /// The hash layout.
    pub layout: Layout,
    /// The balance range in bytes.
    pub n_bytes: u8,
    /// The currencies of every shard's header.
    pub currencies: Vec<Currency>,
    /// The shards; shard `i` is mini-tree `i`.
    pub shards: Vec<PlannedShard>,
    /// The previous round, when the manifest names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousRound>,
}

impl PlanFile {
    /// The round's parameters.
    pub fn params(&self) -> Params {
        Params {
            layout: self.layout,
            n_bytes: self.n_bytes,
        }
    }

    /// Parses a plan read from `key`.
    pub fn parse(bytes: &[u8], key: &str) -> Result<PlanFile, FnError> {
        let p: PlanFile = serde_json::from_slice(bytes)
            .map_err(|e| FnError::internal(format!("{key}: not a valid plan: {e}")))?;
        p.params()
            .validate()
            .map_err(|e| FnError::internal(format!("{key}: {e}")))?;
        Ok(p)
    }
}

/// `P/runs/R/mini-trees/NNNNNN.json`: a mini-tree's summary, with what built it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSummary {
    /// The run it belongs to.
    pub run: String,
    /// The hash layout it was built with.
    pub layout: Layout,
    /// Its `n_bytes`.
    pub n_bytes: u8,
    /// The currencies of its header.
    pub currencies: Vec<Currency>,
    /// The shard it was built from (key, size, ETag, SHA-256 of the bytes read)
    /// and the mini-tree's content hash.
    pub input: InputRecord,
    /// The tree: entries, depth, root and the root's preimage.
    pub summary: SummaryJson,
    /// The previous round's mini-tree this one is a server-side copy of, when
    /// re-used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_from: Option<String>,
    /// What built it (Poseidon backend, CPU, threads, build time); absent when
    /// re-used, and in summaries written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<summa_agg::host::BuildRecord>,
}

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

/// Output of `plan`: what the state machine's Map iterates over.
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
    /// `0..shard_count`: one Map item per shard.
    pub items: Vec<usize>,
}

/// Input of `mini-tree`.
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
pub struct Failure {
    /// The error name (a Lambda's `errorType`, or `States.*`).
    #[serde(rename = "Error", default)]
    pub error: Option<String>,
    /// The cause: for a Lambda error, its payload as JSON text.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

/// Input of `aggregator`: a run, and in failure mode the failure to record.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    /// In failure mode: the step that failed, when the caller knows it;
    /// otherwise the aggregator infers it from the run's artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// In failure mode: the shard whose mini-tree failed without recording it
    /// (by hand; the mini-tree records its own timeouts). Only that shard's
    /// error record is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<usize>,
}

/// The event EventBridge delivers when an execution of the round state machine
/// changes status (`"detail-type": "Step Functions Execution Status Change"`,
/// `"source": "aws.states"`); the template's rule sends the `FAILED` and
/// `TIMED_OUT` ones to the aggregator, which records the failure. Only the
/// fields used are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionStatusEvent {
    /// `Step Functions Execution Status Change`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `aws.states`.
    pub source: String,
    /// The execution.
    pub detail: ExecutionStatusDetail,
}

/// The `detail` of an [`ExecutionStatusEvent`] (the fields of DescribeExecution).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionStatusDetail {
    /// The execution's ARN.
    #[serde(rename = "executionArn")]
    pub execution_arn: String,
    /// The execution's name (the run, unless the input names one).
    pub name: String,
    /// `FAILED`, `TIMED_OUT`, `ABORTED`, `SUCCEEDED`, `RUNNING`, ...
    pub status: String,
    /// The execution's input, as JSON text (`{"bucket", "prefix", "run"?}`).
    #[serde(default)]
    pub input: Option<String>,
    /// The execution's error, when it failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The execution's cause, when it failed.
    #[serde(default)]
    pub cause: Option<String>,
    /// How many times the execution was redriven.
    #[serde(rename = "redriveCount", default)]
    pub redrive_count: Option<u64>,
}

/// The execution input that the failure handler needs (`run` defaults to the
/// execution's name, as in the state machine).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
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
        })
    }
}

/// The `detail-type` of a Step Functions execution status change event.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";
/// The execution statuses the failure handler records.
pub const FAILED_STATUSES: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];

/// `error.json` (`P/runs/R/error.json`, published as `P/error.json`) and a
/// shard's `P/runs/R/mini-trees/NNNNNN.error.json`: why a run failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The run, when there is one (a manifest rejected by `trigger` has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The step that failed (`trigger`, `plan`, `mini-tree`, `aggregator`), when
    /// known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The failed shard's index, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u64>,
    /// The failed shard's key, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_key: Option<String>,
    /// The error name: `InvalidInput`, `NotFound`, `StorageError`, `Throttled`,
    /// `Internal`, or a Step Functions name such as `States.Timeout`.
    pub error: String,
    /// What went wrong (the function's error message, or the raw cause).
    pub cause: String,
}

impl ErrorRecord {
    /// The record of a function's error, from its fields.
    pub fn of(e: &FnError, run: Option<&str>) -> ErrorRecord {
        ErrorRecord {
            run: run.map(str::to_owned),
            step: e.step.clone(),
            shard: e.shard.as_ref().map(|s| s.index),
            shard_key: e.shard.as_ref().map(|s| s.key.clone()),
            error: e.error_type().to_string(),
            cause: e.message().to_string(),
        }
    }

    /// The record as pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut body = serde_json::to_vec_pretty(self).expect("a record serializes");
        body.push(b'\n');
        body
    }
}

/// Output of `aggregator`: the round's result, or in failure mode the error record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AggregatorOutput {
    /// Normal mode: `result.json`.
    Result(Box<summa_agg::json::RoundResult>),
    /// Failure mode: `error.json`.
    Failure(ErrorRecord),
}

/// Input of `proof`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The user.
    pub username: String,
    /// The run to prove against; default: the published one (`P/result.json`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The index of the mini-tree (shard) that holds the user, if known: then
    /// only that mini-tree is read (without it, the run's username index finds it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<u64>,
}

/// One round started (or found already started) by `trigger`.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// Checks a run id: 1 to 80 characters of `A-Za-z0-9-_` (a Step Functions
/// execution name of that alphabet), so that `P/runs/<run>/` is one plain segment.
pub fn check_run(run: &str) -> Result<(), FnError> {
    if run.is_empty()
        || run.len() > 80
        || !run
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(FnError::invalid(format!(
            "run {run:?} is not a run id (1 to 80 characters of A-Za-z0-9-_)"
        )));
    }
    Ok(())
}

/// Round-relative object keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoundKeys {
    prefix: String,
}

impl RoundKeys {
    /// The keys under `prefix` (trailing `/` removed); an empty prefix is an error.
    pub fn new(prefix: &str) -> Result<RoundKeys, FnError> {
        let p = prefix.trim_end_matches('/');
        if p.is_empty() {
            return Err(FnError::invalid(
                "the round prefix is empty: rounds live under a non-empty prefix P (P/round.json)",
            ));
        }
        Ok(RoundKeys {
            prefix: p.to_string(),
        })
    }

    /// The prefix, without a trailing `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `P/name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.prefix)
    }

    /// `P/round.json`.
    pub fn manifest(&self) -> String {
        self.key(MANIFEST_FILE)
    }

    /// `P/shards/`.
    pub fn shards_dir(&self) -> String {
        self.key("shards/")
    }

    /// `P/result.json`: the published result (of the latest completed run).
    pub fn result(&self) -> String {
        self.key(summa_agg::round::RESULT_FILE)
    }

    /// `P/error.json`: the latest failure (of a run, or of the trigger).
    pub fn error(&self) -> String {
        self.key(ERROR_FILE)
    }

    /// The keys of run `run` (checked, see [`check_run`]).
    pub fn run(&self, run: &str) -> Result<RunKeys, FnError> {
        check_run(run)?;
        Ok(RunKeys {
            round: self.clone(),
            dir: self.key(&format!("{RUNS_DIR}/{run}")),
            run: run.to_string(),
        })
    }
}

/// The keys of one run, all under `P/runs/R/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunKeys {
    round: RoundKeys,
    dir: String,
    run: String,
}

impl RunKeys {
    /// The keys of `prefix` and `run`.
    pub fn new(prefix: &str, run: &str) -> Result<RunKeys, FnError> {
        RoundKeys::new(prefix)?.run(run)
    }

    /// The round's keys.
    pub fn round(&self) -> &RoundKeys {
        &self.round
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.run
    }

    /// `P/runs/R/name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}/{name}", self.dir)
    }

    /// `P/runs/R/plan.json`.
    pub fn plan(&self) -> String {
        self.key(PLAN_FILE)
    }

    /// `P/runs/R/mini-trees/NNNNNN.mst`.
    pub fn mini_tree(&self, i: usize) -> String {
        self.key(&summa_agg::round::mini_tree_path(i))
    }

    /// `P/runs/R/mini-trees/NNNNNN.json`.
    pub fn mini_tree_summary(&self, i: usize) -> String {
        self.key(&summa_agg::round::mini_tree_summary_path(i))
    }

    /// `P/runs/R/mini-trees/NNNNNN.names`: the hashed usernames of shard `i`,
    /// sorted (input of the username index).
    pub fn mini_tree_names(&self, i: usize) -> String {
        self.key(&format!("{}/{i:06}.names", summa_agg::round::MINI_TREE_DIR))
    }

    /// `P/runs/R/mini-trees/NNNNNN.error.json`: why shard `i` was rejected.
    pub fn mini_tree_error(&self, i: usize) -> String {
        self.key(&format!(
            "{}/{i:06}{SHARD_ERROR_SUFFIX}",
            summa_agg::round::MINI_TREE_DIR
        ))
    }

    /// `P/runs/R/mini-trees/`.
    pub fn mini_trees_dir(&self) -> String {
        self.key(&format!("{}/", summa_agg::round::MINI_TREE_DIR))
    }

    /// `P/runs/R/aggregation.mst`.
    pub fn aggregation(&self) -> String {
        self.key(summa_agg::round::AGGREGATION_FILE)
    }

    /// `P/runs/R/user-index.bin`: username -> shard.
    pub fn user_index(&self) -> String {
        self.key(USER_INDEX_FILE)
    }

    /// `P/runs/R/result.json`: the run's result (written once).
    pub fn result(&self) -> String {
        self.key(summa_agg::round::RESULT_FILE)
    }

    /// `P/runs/R/error.json`.
    pub fn error(&self) -> String {
        self.key(ERROR_FILE)
    }
}

/// The round steps' names, as errors and error records give them (each
/// handler's `STEP`).
pub mod steps {
    /// `trigger`.
    pub const TRIGGER: &str = "trigger";
    /// `plan`.
    pub const PLAN: &str = "plan";
    /// `mini-tree`.
    pub const MINI_TREE: &str = "mini-tree";
    /// `aggregator`.
    pub const AGGREGATOR: &str = "aggregator";
    /// `proof`.
    pub const PROOF: &str = "proof";
}

/// The folder of the runs under `P`.
pub const RUNS_DIR: &str = "runs";
/// The username index's file name.
pub const USER_INDEX_FILE: &str = "user-index.bin";
/// The manifest's file name.
pub const MANIFEST_FILE: &str = "round.json";
/// The plan's file name.
pub const PLAN_FILE: &str = "plan.json";
/// Suffix of a shard's error record under `P/mini-trees/`.
pub const SHARD_ERROR_SUFFIX: &str = ".error.json";
/// The failure record's file name.
pub const ERROR_FILE: &str = "error.json";

/// Reads run R's plan, `P/runs/R/plan.json` (which `plan` wrote) and checks that
/// it is that run's.
pub async fn read_plan(
    storage: &impl crate::storage::Storage,
    bucket: &str,
    keys: &RunKeys,
) -> Result<PlanFile, FnError> {
    let key = keys.plan();
    let bytes = storage.get(bucket, &key).await.map_err(|e| {
        FnError::from(e).context(format_args!("the run has no plan ({key}); run plan first"))
    })?;
    let plan = PlanFile::parse(&bytes, &key)?;
    if plan.run != keys.id() {
        return Err(FnError::internal(format!(
            "{key} is the plan of run {:?}, not of {:?}",
            plan.run,
            keys.id()
        )));
    }
    Ok(plan)
}

/// Writes an error record (best effort is the caller's choice).
pub async fn write_error_record(
    storage: &impl crate::storage::Storage,
    bucket: &str,
    key: &str,
    record: &ErrorRecord,
) -> Result<(), FnError> {
    storage
        .put(
            bucket,
            key,
            bytes::Bytes::from(record.to_json()),
            "application/json",
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod fuzz_found {
    use super::*;

    /// manifest: a JSON array was a manifest (serde reads a struct from a
    /// sequence of its fields), so `[]` started a round with every default.
    #[test]
    fn a_manifest_that_is_not_a_json_object_is_refused() {
        for bad in [&b"[]"[..], b"[\"legacy\", 8]", b"[\"v1\", 14, null, null]"] {
            let e = Manifest::parse(bad, "P/round.json").unwrap_err();
            assert_eq!(e.kind, crate::ErrorKind::InvalidInput, "{e}");
            assert!(e.message.contains("P/round.json"), "{e}");
        }
        assert_eq!(
            Manifest::parse(b"{}", "P/round.json").unwrap().params(),
            Params::default()
        );
    }
}
