//! The round's files: the custodian's manifest (`P/round.json`), a run's plan
//! (`plan.json`), a mini-tree's summary (`NNNNNN.json`), a completed run's
//! [`LookupFile`] (`lookup.json`) and the error records
//! (`error.json`, `NNNNNN.error.json`). Types and their parsing only; reading
//! and writing them is the handlers' (`handlers/artifacts.rs`).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use summa_agg::json::{InputRecord, SummaryJson};
use summa_agg::layout::DEFAULT_N_BYTES;
use summa_agg::shard::Currency;
use summa_agg::{Layout, Params};

use super::keys::RoundKeys;
use crate::error::{bad_json, FnError};

/// The custodian's manifest, `P/round.json`.
#[serde_with::skip_serializing_none]
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
    pub shards: Option<Vec<String>>,
    /// A previous round's prefix (e.g. `"rounds/2026-11-22T10"`, or this round's
    /// own): shards whose bytes are unchanged since its published result re-use
    /// its mini-trees (server-side copies) instead of being rebuilt.
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
#[serde_with::skip_serializing_none]
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
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousRound {
    /// Its prefix, as the manifest names it.
    pub prefix: String,
    /// Its published run, when it has one.
    pub run: Option<String>,
    /// Why nothing of it is re-used, when so.
    pub untrusted: Option<String>,
}

/// `P/runs/R/plan.json`, written by `plan` and read by the other steps of run R.
#[serde_with::skip_serializing_none]
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
    /// The username index has `2^index_bits` partitions.
    #[serde(default)]
    pub index_bits: u32,
    /// The previous round, when the manifest names one.
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
#[serde_with::skip_serializing_none]
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
    pub reused_from: Option<String>,
    /// What built it (Poseidon backend, CPU, threads, build time); absent when
    /// re-used, and in summaries written before it was recorded.
    pub build: Option<summa_agg::host::BuildRecord>,
}

/// `error.json` (`P/runs/R/error.json`, published as `P/error.json`) and a
/// shard's `P/runs/R/mini-trees/NNNNNN.error.json`: why a run failed.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// The run, when there is one (a manifest rejected by `trigger` has none).
    pub run: Option<String>,
    /// The step that failed (`trigger`, `plan`, `mini-tree`, `aggregator`), when
    /// known.
    pub step: Option<String>,
    /// The failed shard's index, when known.
    pub shard: Option<u64>,
    /// The failed shard's key, when known.
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
            // Escaped: a record is read by people and tools, and may quote a
            // shard's bytes (summa_agg::text).
            cause: summa_agg::text::shown(e.message()).into_owned(),
        }
    }

    /// The record as pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut body = serde_json::to_vec_pretty(self).expect("a record serializes");
        body.push(b'\n');
        body
    }
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

/// A completed run's `lookup.json` (and the published run's, `P/lookup.json`):
/// what a proof needs to find a user, in a file whose size does not grow with
/// the round. Written by the aggregator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupFile {
    /// The run.
    pub run: String,
    /// The round's root hash (`0x` + 64 hex digits), as `result.json` gives it.
    pub root: String,
    /// The number of mini-trees.
    pub mini_trees: u64,
    /// The username index has `2^user_index_bits` partitions.
    pub user_index_bits: u32,
    /// The size of a record of `aggregation-paths.bin`.
    pub paths_stride: u64,
}

impl LookupFile {
    /// Parses a lookup file read from `key`.
    pub fn parse(bytes: &[u8], key: &str) -> Result<LookupFile, FnError> {
        serde_json::from_slice(bytes).map_err(|e| bad_json(key, e))
    }
}
