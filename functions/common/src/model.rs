//! The round's objects and the functions' inputs and outputs (JSON).
//!
//! Under a round prefix `P`: `P/round.json` (the custodian's [`Manifest`]),
//! `P/shards/*.csv`, then what the functions write: `P/plan.json` ([`PlanFile`]),
//! `P/mini-trees/NNNNNN.{mst,json}`, `P/aggregation.mst`, `P/result.json` or
//! `P/error.json` ([`ErrorRecord`]).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use summa_agg::json::NodeJson;
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
}

fn default_n_bytes() -> u8 {
    DEFAULT_N_BYTES
}

impl Manifest {
    /// Parses and checks a manifest read from `key`.
    pub fn parse(bytes: &[u8], key: &str) -> Result<Manifest, FnError> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| bad_json(key, e))?;
        m.params()
            .validate()
            .map_err(|e| FnError::InvalidInput(format!("{key}: {e}")))?;
        if let Some(shards) = &m.shards {
            if shards.is_empty() {
                return Err(FnError::InvalidInput(format!(
                    "{key}: \"shards\" is empty (leave it out to use every shards/*.csv)"
                )));
            }
            let mut seen = HashSet::new();
            for (i, s) in shards.iter().enumerate() {
                if s.is_empty() || s.ends_with('/') {
                    return Err(FnError::InvalidInput(format!(
                        "{key}: shards[{i}] = {s:?} is not an object key"
                    )));
                }
                if !seen.insert(s.as_str()) {
                    return Err(FnError::InvalidInput(format!(
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

/// `P/plan.json`, written by `plan` and read by the other steps.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanFile {
    /// The hash layout.
    pub layout: Layout,
    /// The balance range in bytes.
    pub n_bytes: u8,
    /// The currencies of every shard's header.
    pub currencies: Vec<Currency>,
    /// The shards' keys; shard `i` is mini-tree `i`.
    pub shards: Vec<String>,
}

impl PlanFile {
    /// The round's parameters.
    pub fn params(&self) -> Params {
        Params {
            layout: self.layout,
            n_bytes: self.n_bytes,
        }
    }

    /// Parses `P/plan.json` read from `key`.
    pub fn parse(bytes: &[u8], key: &str) -> Result<PlanFile, FnError> {
        let p: PlanFile = serde_json::from_slice(bytes)
            .map_err(|e| FnError::Internal(format!("{key}: not a valid plan: {e}")))?;
        p.params()
            .validate()
            .map_err(|e| FnError::Internal(format!("{key}: {e}")))?;
        Ok(p)
    }
}

/// Input of `plan` and of `aggregator` in normal mode: a round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix `P` (no trailing `/`).
    pub prefix: String,
}

/// Output of `plan`: what the state machine's Map iterates over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanOutput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
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
    /// The mini-tree's key (`P/mini-trees/NNNNNN.mst`).
    pub mini_tree_key: String,
    /// Number of users.
    pub entries: u64,
    /// The mini-tree's own depth.
    pub depth: u32,
    /// Its root.
    pub root: NodeJson,
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

/// Input of `aggregator`: a round, and in failure mode the failure to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregatorInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// Present in failure mode (the state machine's RecordFailure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// `P/error.json`: why a round failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The step that failed (`plan`, `mini-tree`, `aggregator`), when known.
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
    /// The index of the mini-tree (shard) that holds the user, if known: then
    /// only that mini-tree is read.
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
    /// The execution's name (derived from the prefix and the manifest's ETag).
    pub execution_name: String,
    /// The execution's ARN (absent when `already_started`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// True when Step Functions answered ExecutionAlreadyExists: this manifest
    /// version's round was started before and has finished. (A duplicate event
    /// while that round still runs gets the running execution's ARN back, with
    /// `false`: StartExecution is idempotent for the same name and input.)
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
            return Err(FnError::InvalidInput(
                "the round prefix is empty: rounds live under a non-empty prefix P (P/round.json)"
                    .into(),
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

    /// `P/plan.json`.
    pub fn plan(&self) -> String {
        self.key(PLAN_FILE)
    }

    /// `P/shards/`.
    pub fn shards_dir(&self) -> String {
        self.key("shards/")
    }

    /// `P/mini-trees/NNNNNN.mst`.
    pub fn mini_tree(&self, i: usize) -> String {
        self.key(&summa_agg::round::mini_tree_path(i))
    }

    /// `P/mini-trees/NNNNNN.json`.
    pub fn mini_tree_summary(&self, i: usize) -> String {
        self.key(&summa_agg::round::mini_tree_summary_path(i))
    }

    /// `P/mini-trees/NNNNNN.error.json`: why shard `i` was rejected (written by
    /// `mini-tree` on invalid input, removed when the shard succeeds).
    pub fn mini_tree_error(&self, i: usize) -> String {
        self.key(&format!(
            "{}/{i:06}{SHARD_ERROR_SUFFIX}",
            summa_agg::round::MINI_TREE_DIR
        ))
    }

    /// `P/mini-trees/`.
    pub fn mini_trees_dir(&self) -> String {
        self.key(&format!("{}/", summa_agg::round::MINI_TREE_DIR))
    }

    /// `P/aggregation.mst`.
    pub fn aggregation(&self) -> String {
        self.key(summa_agg::round::AGGREGATION_FILE)
    }

    /// `P/result.json`.
    pub fn result(&self) -> String {
        self.key(summa_agg::round::RESULT_FILE)
    }

    /// `P/error.json`.
    pub fn error(&self) -> String {
        self.key(ERROR_FILE)
    }
}

/// The manifest's file name.
pub const MANIFEST_FILE: &str = "round.json";
/// The plan's file name.
pub const PLAN_FILE: &str = "plan.json";
/// Suffix of a shard's error record under `P/mini-trees/`.
pub const SHARD_ERROR_SUFFIX: &str = ".error.json";
/// The failure record's file name.
pub const ERROR_FILE: &str = "error.json";
