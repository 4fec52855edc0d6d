//! Handler tests over local-directory storage and the committed event fixtures
//! (functions/<name>/events/*.json): this file is the shared harness (the
//! [`Round`] over the round driver, fixtures, storage wrappers that record or
//! fail); the tests are in one file per step (`plan.rs`, `mini_tree.rs`,
//! `aggregator.rs`, `proof.rs`, `trigger.rs`), for whole rounds (`round.rs`), the
//! storage adapters (`storage.rs`), the deployment contract (`contract.rs`), the
//! proof API (`proof_api.rs`) and the functions' IAM policies against what they
//! do (`iam.rs`, over the template as `cfn.rs` reads it).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use summa_agg::json::RoundResult;
use summa_agg::{Layout, Params};

use crate::executions::{Executions, StartOutcome};
use crate::handlers;
use crate::model::*;
use crate::storage::{Counting, Fault};
use crate::{FnError, LocalStorage, Storage, StorageRead};

const BUCKET: &str = "summa-rounds";
const PREFIX: &str = "rounds/r1";
const ENTRY_64_V1_ROOT: &str = "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

mod aggregator;
mod cfn;
mod contract;
mod iam;
mod mini_tree;
mod plan;
mod proof;
mod proof_api;
mod round;
mod storage;
mod trigger;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo().join("tests/fixtures").join(name)).unwrap()
}

/// An event fixture of a function.
fn event<T: DeserializeOwned>(function: &str, file: &str) -> T {
    let path = repo()
        .join("functions")
        .join(function)
        .join("events")
        .join(file);
    serde_json::from_slice(&std::fs::read(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The run of the event fixtures.
const RUN: &str = "r1-manual";

/// `P/runs/RUN/name`.
fn in_run(run: &str, name: &str) -> String {
    format!("{PREFIX}/runs/{run}/{name}")
}

struct Round {
    _dir: tempfile::TempDir,
    storage: LocalStorage,
    /// The run that plan, mini_tree and aggregate use.
    run: Mutex<String>,
    runs: std::sync::atomic::AtomicUsize,
}

impl Round {
    fn new() -> Round {
        let dir = tempfile::tempdir().unwrap();
        let storage = LocalStorage::new(dir.path());
        Round {
            _dir: dir,
            storage,
            run: Mutex::new(RUN.to_string()),
            runs: Default::default(),
        }
    }

    fn run_id(&self) -> String {
        self.run.lock().unwrap().clone()
    }

    /// Switches to a new run id and returns it.
    fn next_run(&self) -> String {
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("r1-run-{n}");
        *self.run.lock().unwrap() = id.clone();
        id
    }

    /// `P/runs/<current run>/name`.
    fn key(&self, name: &str) -> String {
        in_run(&self.run_id(), name)
    }

    async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        let body = Bytes::from(body.into());
        let binary = crate::storage::BINARY;
        self.storage.put(BUCKET, key, body, binary).await.unwrap();
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.storage.get(BUCKET, key).await {
            Ok(b) => Some(b),
            Err(e) if e.kind == crate::StoreErrorKind::NotFound => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// A new round of `shards` (name, CSV) and the manifest `{}`.
    async fn with_shards(shards: &[(impl AsRef<str>, Vec<u8>)]) -> Round {
        Round::uploaded(shards, serde_json::json!({})).await
    }

    /// A new round of `shards` (name, CSV) and `manifest`.
    async fn uploaded(shards: &[(impl AsRef<str>, Vec<u8>)], manifest: serde_json::Value) -> Round {
        let round = Round::new();
        round.upload(shards, manifest).await;
        round
    }

    /// Uploads `shards` (name, CSV) under `P/shards/` and a manifest.
    async fn upload(&self, shards: &[(impl AsRef<str>, Vec<u8>)], manifest: serde_json::Value) {
        for (name, csv) in shards {
            let name = name.as_ref();
            self.put(&format!("{PREFIX}/shards/{name}"), csv.clone())
                .await;
        }
        self.manifest(manifest).await;
    }

    /// Uploads the round's manifest, `P/round.json`.
    async fn manifest(&self, manifest: serde_json::Value) {
        self.put(&format!("{PREFIX}/round.json"), manifest.to_string())
            .await;
    }

    async fn plan(&self) -> Result<PlanOutput, FnError> {
        handlers::plan(
            &self.storage,
            RoundInput {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                run: self.run_id(),
            },
        )
        .await
    }

    async fn mini_tree(&self, i: usize) -> Result<MiniTreeOutput, FnError> {
        handlers::mini_tree(
            &self.storage,
            MiniTreeInput {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                run: self.run_id(),
                shard: i,
                task: None,
            },
        )
        .await
    }

    async fn aggregate(&self) -> Result<RoundResult, FnError> {
        let run = self.run_id();
        try_index_run(&self.storage, &run).await?;
        let out = handlers::aggregator(&self.storage, aggregate_input(&run)).await?;
        Ok(result_of(out))
    }

    /// Failure mode for the current run.
    async fn record_failure(
        &self,
        error: &str,
        cause: &str,
        step: Option<&str>,
        shard: Option<usize>,
    ) -> ErrorRecord {
        let input = AggregatorInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            run: self.run_id(),
            failure: Some(Failure {
                error: Some(error.into()),
                cause: Some(cause.into()),
            }),
            failed_step: step.map(str::to_owned),
            shard,
            index: None,
        };
        failure_of(&self.storage, input).await
    }

    /// The current run's JSON object `name` (`P/runs/<run>/name`), which must
    /// exist.
    async fn run_json<T: DeserializeOwned>(&self, name: &str) -> T {
        let key = self.key(name);
        let bytes = self.get(&key).await.unwrap_or_else(|| panic!("no {key}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{key}: {e}"))
    }

    /// The record of the current run after its mini-tree Map failed (the
    /// Map's own error names no shard).
    async fn map_failed(&self) -> ErrorRecord {
        self.record_failure(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
            Some("mini-tree"),
            None,
        )
        .await
    }

    /// A new run: plan, every mini-tree, aggregator (the round driver, one
    /// mini-tree at a time).
    async fn run(&self) -> Result<RoundResult, FnError> {
        let run = self.next_run();
        let input = RoundInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            run: run.clone(),
        };
        let done = crate::round::run(&self.storage, input, 1, &|_| {}).await?;
        let plan = &done.plan;
        assert_eq!(plan.run, run);
        assert_eq!(plan.items_key, in_run(&run, "items.json"));
        assert_eq!(done.mini_trees.len(), plan.shard_count);
        for (i, out) in done.mini_trees.iter().enumerate() {
            assert_eq!(out.shard, i);
            assert_eq!(
                out.mini_tree_key,
                in_run(&run, &format!("mini-trees/{i:06}.mst"))
            );
        }
        let result = done.result;
        assert_eq!(result.run.as_deref(), Some(run.as_str()));
        let stored: RoundResult =
            serde_json::from_slice(&self.get(&in_run(&run, "result.json")).await.unwrap()).unwrap();
        assert_eq!(stored, result);
        let published: RoundResult =
            serde_json::from_slice(&self.get(&format!("{PREFIX}/result.json")).await.unwrap())
                .unwrap();
        assert_eq!(published, result);
        Ok(result)
    }
}

/// The aggregator's answer in failure mode: the error record (a result panics).
async fn failure_of(storage: &impl Storage, input: AggregatorInput) -> ErrorRecord {
    match handlers::aggregator(storage, input).await.unwrap() {
        AggregatorOutput::Failure(f) => f,
        other => panic!("expected a failure record: {other:?}"),
    }
}

/// The CLI's round (`summa-agg round`) over the same shards, in key order.
fn cli_result(shards: &[(&str, Vec<u8>)], params: &Params) -> RoundResult {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, csv) in shards {
        let p = dir.path().join(name);
        std::fs::write(&p, csv).unwrap();
        files.push(p);
    }
    let inputs = summa_agg::round::collect_inputs(&files).unwrap();
    without_artifacts(
        summa_agg::round::run_local(&inputs, &dir.path().join("out"), params, &|_| {})
            .unwrap()
            .0,
    )
}

fn four_shards() -> Vec<(&'static str, Vec<u8>)> {
    (1..=4)
        .map(|i| {
            let name: &'static str = Box::leak(format!("entry_16_{i}.csv").into_boxed_str());
            (name, fixture(name))
        })
        .collect()
}

/// The result without what differs between S3 and a local directory: the
/// artifacts, the run, the inputs' keys and ETags and the build records (times;
/// see `build_records_name_each_built_shard`). The inputs' sizes and hashes (and
/// the mini-trees' content hashes) must be equal.
fn without_artifacts(mut r: RoundResult) -> RoundResult {
    r.artifacts.clear();
    r.run = None;
    r.build = None;
    for i in &mut r.inputs {
        i.key = i.key.rsplit('/').next().unwrap().to_string();
        i.etag.clear();
        i.mini_tree = i.mini_tree.rsplit('/').next().unwrap().to_string();
    }
    r
}

/// entry_64.csv cut into shards of 1, 5, 26 and 32 users.
fn unequal_shards() -> Vec<(&'static str, Vec<u8>)> {
    let text = String::from_utf8(fixture("entry_64.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut out = Vec::new();
    let mut at = 0;
    for (i, n) in [1usize, 5, 26, 32].into_iter().enumerate() {
        let mut csv = format!("{header}\n");
        for r in &rows[at..at + n] {
            csv.push_str(r);
            csv.push('\n');
        }
        at += n;
        let name: &'static str = Box::leak(format!("part-{i}.csv").into_boxed_str());
        out.push((name, csv.into_bytes()));
    }
    out
}

/// Runs the four good shards and returns the published result.
async fn round_with_four_shards_published(round: &Round) -> RoundResult {
    round.upload(&four_shards(), serde_json::json!({})).await;
    let r = round.run().await.unwrap();
    assert_eq!(r.root.hash, ENTRY_64_V1_ROOT);
    r
}

/// Storage that records what is read and written, and fails or hangs chosen
/// streams (the shipped counting adapter).
type Recording = Counting<LocalStorage>;

/// The set of keys `storage` read.
fn keys_read(storage: &Recording) -> std::collections::BTreeSet<String> {
    storage.keys_read().into_iter().collect()
}

/// Input of run `run`'s mini-tree `i`.
fn mini_tree_input(run: &str, i: usize) -> MiniTreeInput {
    MiniTreeInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.into(),
        shard: i,
        task: None,
    }
}

fn round_input(run: &str) -> RoundInput {
    RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.into(),
    }
}

fn aggregate_input(run: &str) -> AggregatorInput {
    AggregatorInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.into(),
        failure: None,
        failed_step: None,
        shard: None,
        index: None,
    }
}

/// The result of an aggregator run (not failure or index mode).
fn result_of(out: AggregatorOutput) -> RoundResult {
    match out {
        AggregatorOutput::Result(r) => *r,
        other => panic!("not a result: {other:?}"),
    }
}

/// Aggregates run `run` (its index built): its result.
async fn aggregate_run(s: &impl Storage, run: &str) -> RoundResult {
    result_of(handlers::aggregator(s, aggregate_input(run)).await.unwrap())
}

/// Every partition of run `run`'s username index, as the UserIndex Map builds
/// them (from the plan's index-items.json): what the aggregator needs first.
async fn index_run(storage: &impl Storage, run: &str) {
    try_index_run(storage, run).await.unwrap()
}

/// [`index_run`], or the first partition's error.
async fn try_index_run(storage: &impl Storage, run: &str) -> Result<(), FnError> {
    let items: Vec<AggregatorInput> = serde_json::from_slice(
        &storage
            .get(BUCKET, &in_run(run, "index-items.json"))
            .await?,
    )
    .unwrap();
    assert!(!items.is_empty());
    for item in items {
        match handlers::aggregator(storage, item).await? {
            AggregatorOutput::Index(_) => {}
            other => panic!("not an index partition: {other:?}"),
        }
    }
    Ok(())
}

async fn published(round: &Round) -> RoundResult {
    serde_json::from_slice(&round.get("rounds/r1/result.json").await.unwrap()).unwrap()
}

/// Checks that `record` names `step` and `error`, and that its cause says `cause`.
fn assert_record(record: &ErrorRecord, step: &str, error: &str, cause: &str) {
    assert_eq!(record.step.as_deref(), Some(step), "{record:?}");
    assert_eq!(record.error, error, "{record:?}");
    assert!(record.cause.contains(cause), "{record:?}");
}

/// Checks that `record` names the mini-tree step, `shard`, its key and `error`.
fn assert_shard_record(record: &ErrorRecord, shard: u64, key: &str, error: &str) {
    assert_eq!(record.step.as_deref(), Some("mini-tree"), "{record:?}");
    assert_eq!(record.shard, Some(shard), "{record:?}");
    assert_eq!(record.shard_key.as_deref(), Some(key), "{record:?}");
    assert_eq!(record.error, error, "{record:?}");
}

/// How many times `key` was written through `s`.
fn puts_of(s: &Recording, key: &str) -> usize {
    s.keys_put().iter().filter(|k| *k == key).count()
}

/// The committed EventBridge event of a failed execution (run `r1-manual` of
/// `summa-rounds/rounds/r1`), with its status, error and cause replaced.
fn execution_event(status: &str, error: Option<&str>, cause: Option<&str>) -> serde_json::Value {
    let mut v: serde_json::Value = event("aggregator", "execution-failed.json");
    v["detail"]["status"] = status.into();
    v["detail"]["error"] = error.into();
    v["detail"]["cause"] = cause.into();
    v
}

/// The aggregator as its Lambda runs it: the payload through
/// `AggregatorInput::from_payload`, then the handler.
async fn aggregator_payload(
    storage: &impl Storage,
    payload: serde_json::Value,
) -> Result<AggregatorOutput, FnError> {
    let input = AggregatorInput::from_payload(payload)?;
    handlers::aggregator(storage, input).await
}

/// The failure record that the aggregator writes for `payload` (an EventBridge
/// event of a failed execution).
async fn failure_of_payload(storage: &impl Storage, payload: serde_json::Value) -> ErrorRecord {
    failure_of(storage, AggregatorInput::from_payload(payload).unwrap()).await
}

/// `r` without what names its run (the run, the artifacts' keys, the mini-trees'
/// keys), to compare two runs of the same inputs.
fn runless(mut r: RoundResult) -> RoundResult {
    r.run = None;
    r.artifacts.clear();
    r.build = None;
    for i in &mut r.inputs {
        i.mini_tree.clear();
    }
    r
}

/// The result without what an incremental run adds (for comparing with a full one).
fn without_reuse(mut r: RoundResult) -> RoundResult {
    r.previous = None;
    r.reused_mini_trees = 0;
    without_artifacts(r)
}

/// Four shards of which the third has one balance changed.
fn four_shards_one_changed() -> Vec<(&'static str, Vec<u8>)> {
    let mut shards = four_shards();
    let text = String::from_utf8(shards[2].1.clone()).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let cells: Vec<String> = lines[3].split(',').map(str::to_string).collect();
    lines[3] = format!("{},{},7", cells[0], cells[1]);
    shards[2].1 = (lines.join("\n") + "\n").into_bytes();
    shards
}
