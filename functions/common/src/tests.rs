//! Handler tests over local-directory storage and the committed event fixtures
//! (functions/<name>/events/*.json).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use summa_agg::json::RoundResult;
use summa_agg::{Layout, Params};

use crate::handlers::{self, Executions, StartOutcome};
use crate::model::*;
use crate::remote::{RemoteFile, BLOCK_SIZE};
use crate::{FnError, LocalStorage, Storage, StorageRead};

const BUCKET: &str = "summa-rounds";
const PREFIX: &str = "rounds/r1";
const ENTRY_64_V1_ROOT: &str = "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

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
        self.storage
            .put(
                BUCKET,
                key,
                Bytes::from(body.into()),
                "application/octet-stream",
            )
            .await
            .unwrap();
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.storage.get(BUCKET, key).await {
            Ok(b) => Some(b),
            Err(e) if e.kind == crate::StoreErrorKind::NotFound => None,
            Err(e) => panic!("{e}"),
        }
    }

    /// Uploads `shards` (name, CSV) under `P/shards/` and a manifest.
    async fn upload(&self, shards: &[(&str, Vec<u8>)], manifest: serde_json::Value) {
        for (name, csv) in shards {
            self.put(&format!("{PREFIX}/shards/{name}"), csv.clone())
                .await;
        }
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
            },
        )
        .await
    }

    async fn aggregate(&self) -> Result<RoundResult, FnError> {
        let input = AggregatorInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            run: self.run_id(),
            failure: None,
            failed_step: None,
            shard: None,
        };
        match handlers::aggregator(&self.storage, input).await? {
            AggregatorOutput::Result(r) => Ok(*r),
            AggregatorOutput::Failure(f) => panic!("failure mode: {f:?}"),
        }
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
        };
        match handlers::aggregator(&self.storage, input).await.unwrap() {
            AggregatorOutput::Failure(f) => f,
            AggregatorOutput::Result(_) => panic!("expected a failure record"),
        }
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
        assert_eq!(plan.items, (0..plan.shard_count).collect::<Vec<_>>());
        assert_eq!(done.mini_trees.len(), plan.shard_count);
        for (i, out) in plan.items.iter().zip(&done.mini_trees) {
            assert_eq!(out.shard, *i);
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

/// On a current-thread runtime (the functions' one-thread mode,
/// `SUMMA_AGG_THREADS=1`) the mini-tree reads the shard into memory and builds it
/// inline: the same mini-trees, names and result as on the multi-thread runtime.
#[test]
fn one_thread_mode_builds_the_same_mini_trees() {
    let round = Round::new();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pooled = multi.block_on(async {
        round.upload(&four_shards(), serde_json::json!({})).await;
        round.run().await.unwrap()
    });
    let pooled_run = round.run_id();
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let inline = current.block_on(async {
        assert!(super::handlers::inline_engine());
        round.run().await.unwrap()
    });
    assert_eq!(inline.root.hash, ENTRY_64_V1_ROOT);
    assert_eq!(runless(inline.clone()), runless(pooled));
    assert_eq!(inline.build.unwrap().shards.len(), 4);
    multi.block_on(async {
        assert!(!super::handlers::inline_engine());
        for i in 0..4 {
            for ext in ["mst", "names"] {
                let name = format!("mini-trees/{i:06}.{ext}");
                assert_eq!(
                    round.get(&in_run(&pooled_run, &name)).await,
                    round.get(&round.key(&name)).await,
                    "{name}"
                );
            }
        }
    });
}

/// Each built mini-tree's summary records the Poseidon backend, CPU, arch,
/// threads and build time, and `result.json`'s `build` gathers them in shard
/// order; a summary written before these records (no `build`) still aggregates,
/// and that shard is left out of `build`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_records_name_each_built_shard() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let result = round.run().await.unwrap();
    let build = result.build.clone().expect("a run that built records it");
    assert_eq!(build.backends, [summa_agg::poseidon::backend()]);
    assert_eq!(build.cpus, [summa_agg::host::cpu_model()]);
    assert_eq!(build.shards.len(), 4);
    let mut total = 0;
    for (i, s) in build.shards.iter().enumerate() {
        assert_eq!(s.shard, i as u64);
        let r = &s.record;
        assert_eq!(r.backend, summa_agg::poseidon::backend());
        assert_eq!(r.cpu, summa_agg::host::cpu_model());
        assert_eq!(r.arch, std::env::consts::ARCH);
        // rayon's default pool: one thread per usable CPU (unless the
        // environment sets RAYON_NUM_THREADS).
        let expected = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().unwrap().get());
        assert_eq!(r.threads, expected);
        total += r.build_ms;
        // The shard's own summary holds the same record.
        let summary: ShardSummary = serde_json::from_slice(
            &round
                .get(&round.key(&format!("mini-trees/{i:06}.json")))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(summary.build.as_ref(), Some(r));
    }
    assert_eq!(build.total_build_ms, total);
    assert_eq!(
        build.max_build_ms,
        build
            .shards
            .iter()
            .map(|s| s.record.build_ms)
            .max()
            .unwrap()
    );
    // In result.json as JSON: the record's fields sit beside `shard`.
    let json: serde_json::Value =
        serde_json::from_slice(&round.get(&round.key("result.json")).await.unwrap()).unwrap();
    let s0 = &json["build"]["shards"][0];
    for field in ["shard", "backend", "cpu", "arch", "threads", "build_ms"] {
        assert!(s0.get(field).is_some(), "no {field} in {s0}");
    }

    // A summary of an older build, without the record: a new run whose shard 1
    // summary has it removed before the aggregator reads it.
    round.next_run();
    round.plan().await.unwrap();
    for i in 0..4 {
        round.mini_tree(i).await.unwrap();
    }
    let key = round.key("mini-trees/000001.json");
    let mut old: serde_json::Value =
        serde_json::from_slice(&round.get(&key).await.unwrap()).unwrap();
    assert!(old.as_object_mut().unwrap().remove("build").is_some());
    round.put(&key, old.to_string()).await;
    let result = round.aggregate().await.unwrap();
    assert_eq!(result.root.hash, ENTRY_64_V1_ROOT);
    let listed: Vec<u64> = result
        .build
        .unwrap()
        .shards
        .iter()
        .map(|s| s.shard)
        .collect();
    assert_eq!(listed, [0, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_over_four_shards_equals_entry_64_and_the_cli() {
    let round = Round::new();
    let shards = four_shards();
    round.upload(&shards, serde_json::json!({})).await;
    let result = round.run().await.unwrap();
    assert_eq!(result.root.hash, ENTRY_64_V1_ROOT);
    assert_eq!(result.root.balances, ["2227448", "2227448"]);
    assert_eq!((result.entries, result.mini_trees), (64, 4));
    assert_eq!(
        without_artifacts(result.clone()),
        cli_result(&shards, &Params::default())
    );
    let run = result.run.clone().unwrap();
    assert_eq!(
        result.artifacts.get("aggregation").unwrap(),
        &in_run(&run, "aggregation.mst")
    );
    assert_eq!(
        result.artifacts.get("mini_trees").unwrap(),
        &in_run(&run, "mini-trees/")
    );
    assert_eq!(
        result.artifacts.get("plan").unwrap(),
        &in_run(&run, "plan.json")
    );
    let plan: PlanFile =
        serde_json::from_slice(&round.get(&in_run(&run, "plan.json")).await.unwrap()).unwrap();
    assert_eq!(plan.shards[3].key, "rounds/r1/shards/entry_16_4.csv");
    assert_eq!(plan.currencies.len(), 2);
    // The inputs: each shard's key, size, ETag (the plan's) and the SHA-256 of
    // its bytes; each mini-tree's content hash.
    assert_eq!(result.inputs.len(), 4);
    for (i, input) in result.inputs.iter().enumerate() {
        let bytes = fixture(&format!("entry_16_{}.csv", i + 1));
        assert_eq!(input.key, plan.shards[i].key);
        assert_eq!(input.etag, plan.shards[i].etag);
        assert_eq!(input.size, bytes.len() as u64);
        assert_eq!(input.sha256, hex::encode(summa_agg::round::sha256(&bytes)));
        let mst = round
            .get(&in_run(&run, &format!("mini-trees/{i:06}.mst")))
            .await
            .unwrap();
        assert_eq!(
            input.mini_tree_sha256,
            hex::encode(summa_agg::round::sha256(&mst))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_layout_equals_the_cli() {
    for layout in Layout::ALL {
        let round = Round::new();
        let shards = four_shards();
        round
            .upload(
                &shards,
                serde_json::json!({ "layout": layout.name(), "n_bytes": 14 }),
            )
            .await;
        let result = round.run().await.unwrap();
        let params = Params {
            layout,
            n_bytes: 14,
        };
        assert_eq!(
            without_artifacts(result),
            cli_result(&shards, &params),
            "{layout}"
        );
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unequal_shards_equal_the_cli_in_every_layout() {
    for layout in Layout::ALL {
        let round = Round::new();
        let shards = unequal_shards();
        round
            .upload(&shards, serde_json::json!({ "layout": layout.name() }))
            .await;
        // Not a shard: ignored by the default listing.
        round.put("rounds/r1/shards/notes.txt", "x").await;
        round.put("rounds/r1/shards/old/part-9.csv", "x").await;
        let result = round.run().await.unwrap();
        assert_eq!(result.mini_trees, 4);
        assert_eq!(result.mini_tree_depth, 5);
        let params = Params {
            layout,
            n_bytes: 14,
        };
        assert_eq!(
            without_artifacts(result),
            cli_result(&shards, &params),
            "{layout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_shard_list_sets_the_shards_and_their_order() {
    let round = Round::new();
    let shards = four_shards();
    round
        .upload(
            &shards,
            serde_json::json!({ "shards": [
                "rounds/r1/shards/entry_16_2.csv",
                "rounds/r1/shards/entry_16_4.csv",
            ]}),
        )
        .await;
    let result = round.run().await.unwrap();
    let picked = vec![shards[1].clone(), shards[3].clone()];
    assert_eq!(
        without_artifacts(result),
        cli_result(&picked, &Params::default())
    );
    // Reversed, the root changes.
    round
        .put(
            "rounds/r1/round.json",
            serde_json::json!({ "shards": [
                "rounds/r1/shards/entry_16_4.csv",
                "rounds/r1/shards/entry_16_2.csv",
            ]})
            .to_string(),
        )
        .await;
    let reversed = round.run().await.unwrap();
    assert_ne!(reversed.root, cli_result(&picked, &Params::default()).root);
    assert_ne!(reversed.run, None);
    assert_eq!(reversed.entries, 32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_shard_fails_naming_it_and_publishes_nothing() {
    let round = Round::new();
    let good = round_with_four_shards_published(&round).await;
    let mut shards = four_shards();
    shards[2] = ("entry_16_3.csv", fixture("entry_16_overflow.csv"));
    round.upload(&shards, serde_json::json!({})).await;
    let run = round.next_run();
    let plan = round.plan().await.unwrap();
    let mut failed = None;
    for i in plan.items {
        if let Err(e) = round.mini_tree(i).await {
            failed = Some((i, e));
        }
    }
    let (i, e) = failed.expect("the overflow shard fails");
    assert_eq!(i, 2);
    assert_eq!(e.error_type(), "InvalidInput");
    // Step and shard are fields; the message is the core library's.
    assert_eq!(e.step.as_deref(), Some("mini-tree"));
    assert_eq!(
        e.shard,
        Some(crate::ShardRef {
            index: 2,
            key: "rounds/r1/shards/entry_16_3.csv".into()
        })
    );
    assert!(
        e.message().starts_with("rounds/r1/shards/entry_16_3.csv:"),
        "{e}"
    );
    let m = e.to_string();
    assert!(
        m.starts_with("mini-tree: shard 2 (rounds/r1/shards/entry_16_3.csv): rounds/r1/shards/entry_16_3.csv:"),
        "{m}"
    );
    assert!(m.contains("out of range for n_bytes = 14"), "{m}");
    assert!(round
        .get(&round.key("mini-trees/000002.json"))
        .await
        .is_none());

    // The aggregator would not find the summary: no result for this run, and the
    // published result is still the previous run's.
    let agg = round.aggregate().await.unwrap_err();
    assert_eq!(agg.error_type(), "NotFound");
    assert!(agg.to_string().starts_with("aggregator: "), "{agg}");
    assert!(round.get(&round.key("result.json")).await.is_none());
    let published: RoundResult =
        serde_json::from_slice(&round.get("rounds/r1/result.json").await.unwrap()).unwrap();
    assert_eq!(published, good);

    // In AWS the Distributed Map fails with its own error, which names no shard:
    // the shard's error record does (this run's; written from the error's fields).
    let shard_record: ErrorRecord = serde_json::from_slice(
        &round
            .get(&round.key("mini-trees/000002.error.json"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(shard_record, ErrorRecord::of(&e, Some(&run)));
    let record = round
        .record_failure(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
            Some("mini-tree"),
            None,
        )
        .await;
    assert_eq!(
        record, shard_record,
        "the shard's record names shard and cause"
    );
    assert_eq!(record.step.as_deref(), Some("mini-tree"));
    assert_eq!(record.shard, Some(2));
    assert_eq!(record.run.as_deref(), Some(run.as_str()));
    assert!(record.cause.contains("out of range"), "{}", record.cause);
    for key in [round.key("error.json"), "rounds/r1/error.json".to_string()] {
        let stored: ErrorRecord = serde_json::from_slice(&round.get(&key).await.unwrap()).unwrap();
        assert_eq!(stored, record, "{key}");
    }
    let published_after: RoundResult =
        serde_json::from_slice(&round.get("rounds/r1/result.json").await.unwrap()).unwrap();
    assert_eq!(published_after, good, "a failed run publishes no result");

    // The next run never reads that record: its own failure names no shard
    // (its plan failed, say), and its proofs... are the published run's.
    round.next_run();
    round.plan().await.unwrap();
    let other = round
        .record_failure("States.Timeout", "too slow", Some("mini-tree"), None)
        .await;
    assert_eq!(
        other.shard, None,
        "a previous run's shard record was read: {other:?}"
    );
    assert_eq!(other.error, "States.Timeout");
    assert_eq!(other.cause, "too slow");
}

/// Runs the four good shards and returns the published result.
async fn round_with_four_shards_published(round: &Round) -> RoundResult {
    round.upload(&four_shards(), serde_json::json!({})).await;
    let r = round.run().await.unwrap();
    assert_eq!(r.root.hash, ENTRY_64_V1_ROOT);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_mode_from_the_event_fixtures() {
    let round = Round::new();
    let input: AggregatorInput = event("aggregator", "failure.json");
    assert_eq!(input.run, RUN);
    let AggregatorOutput::Failure(record) =
        handlers::aggregator(&round.storage, input).await.unwrap()
    else {
        panic!("expected a failure record")
    };
    // No shard record in this run: the step comes from the state machine, the
    // cause from the Lambda error payload; the shard is not parsed out of it.
    assert_eq!(record.step.as_deref(), Some("mini-tree"));
    assert_eq!(record.shard, None);
    assert_eq!(record.error, "InvalidInput");
    assert!(
        record.cause.starts_with("mini-tree: shard 2 "),
        "{}",
        record.cause
    );
    assert!(round.get(&in_run(RUN, "error.json")).await.is_some());
    assert!(round.get("rounds/r1/error.json").await.is_some());
    assert!(round.get("rounds/r1/result.json").await.is_none());

    let input: AggregatorInput = event("aggregator", "failure-map.json");
    let AggregatorOutput::Failure(record) =
        handlers::aggregator(&round.storage, input).await.unwrap()
    else {
        panic!("expected a failure record")
    };
    assert_eq!(record.step.as_deref(), Some("mini-tree"));
    assert_eq!(record.shard, None);
    assert_eq!(record.error, "States.ExceedToleratedFailureThreshold");
    assert_eq!(
        record.cause,
        "The specified tolerated failure threshold was exceeded"
    );
    // The JSON shape: optional fields left out.
    let v: serde_json::Value =
        serde_json::from_slice(&round.get("rounds/r1/error.json").await.unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "run": RUN,
            "step": "mini-tree",
            "error": "States.ExceedToleratedFailureThreshold",
            "cause": "The specified tolerated failure threshold was exceeded"
        })
    );

    // Missing Catch payloads still give a record.
    let input = AggregatorInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: RUN.into(),
        failure: Some(Failure::default()),
        failed_step: None,
        shard: None,
    };
    let AggregatorOutput::Failure(r) = handlers::aggregator(&round.storage, input).await.unwrap()
    else {
        panic!("expected a failure record")
    };
    // The step, not given, comes from the run's artifacts: it has no plan.
    assert_eq!(
        (r.error.as_str(), r.cause.as_str(), r.step.as_deref()),
        ("Unknown", "", Some("plan"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_shard_is_recorded_by_name() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let run = round.next_run();
    round.plan().await.unwrap();
    // RecordShardTimeout (inside the Map, after the one retry).
    let shard = round
        .record_failure(
            "Sandbox.Timedout",
            r#"{"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 900.00 seconds"}"#,
            None,
            Some(1),
        )
        .await;
    assert_eq!(shard.step.as_deref(), Some("mini-tree"));
    assert_eq!(shard.shard, Some(1));
    assert_eq!(
        shard.shard_key.as_deref(),
        Some("rounds/r1/shards/entry_16_2.csv")
    );
    assert_eq!(shard.error, "Sandbox.Timedout");
    assert!(
        shard
            .cause
            .contains("shard 1 (rounds/r1/shards/entry_16_2.csv)")
            && shard.cause.contains("Task timed out after 900.00 seconds"),
        "{}",
        shard.cause
    );
    assert!(
        round.get(&in_run(&run, "error.json")).await.is_none(),
        "only the shard's record"
    );
    // Then the Map fails and RecordFailure reports that shard.
    let record = round
        .record_failure(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
            Some("mini-tree"),
            None,
        )
        .await;
    assert_eq!(record, shard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_tree_is_idempotent() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    handlers::plan(&round.storage, event("plan", "plan.json"))
        .await
        .unwrap();
    let mini_tree_event: MiniTreeInput = event("mini-tree", "shard-1.json");
    assert_eq!(mini_tree_event.run, RUN);
    let first = handlers::mini_tree(&round.storage, mini_tree_event.clone())
        .await
        .unwrap();
    let mst = round
        .get(&in_run(RUN, "mini-trees/000001.mst"))
        .await
        .unwrap();
    let json = round
        .get(&in_run(RUN, "mini-trees/000001.json"))
        .await
        .unwrap();
    let second = handlers::mini_tree(&round.storage, mini_tree_event)
        .await
        .unwrap();
    assert_eq!(first, second);
    assert_eq!(
        round
            .get(&in_run(RUN, "mini-trees/000001.mst"))
            .await
            .unwrap(),
        mst
    );
    assert_eq!(
        round
            .get(&in_run(RUN, "mini-trees/000001.json"))
            .await
            .unwrap(),
        json
    );
    assert_eq!(first.key, "rounds/r1/shards/entry_16_2.csv");
    assert_eq!((first.entries, first.depth), (16, 4));
    // The .mst is the mini-tree of the CLI.
    let p = Params::default();
    let tree = summa_agg::round::build_mini_tree(
        &fixture("entry_16_2.csv")[..],
        "rounds/r1/shards/entry_16_2.csv",
        &p,
        None,
    )
    .unwrap();
    let mut bytes = Vec::new();
    summa_agg::format::write_mini_tree(&tree, &mut bytes).unwrap();
    assert_eq!(bytes, mst);

    let e = round.mini_tree(4).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(
        e.to_string()
            .contains("shard 4 is out of range: the plan has 4 shards"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_with_and_without_a_hint() {
    let round = Round::new();
    let shards = unequal_shards();
    round.upload(&shards, serde_json::json!({})).await;
    let result = round.run().await.unwrap();
    let root = summa_agg::json::parse_fr(&result.root.hash, "root").unwrap();

    // The committed events: user dxGaEAii is in shard 0.
    for file in ["proof.json", "proof-search.json"] {
        let input: ProofInput = event("proof", file);
        let p = handlers::proof(&round.storage, input).await.unwrap();
        summa_agg::proof::verify(&p, Some(&root)).unwrap();
        assert_eq!(p.entry.username, "dxGaEAii");
        assert_eq!(p.mini_tree, 0);
        assert_eq!(p.root, result.root);
    }

    // The same proof as the CLI's, from the local artifacts.
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (name, csv) in &shards {
        let p = dir.path().join(name);
        std::fs::write(&p, csv).unwrap();
        files.push(p);
    }
    let out = dir.path().join("out");
    summa_agg::round::run_local(&files, &out, &Params::default(), &|_| {}).unwrap();
    let agg = summa_agg::format::TreeFile::open(
        std::fs::File::open(out.join("aggregation.mst")).unwrap(),
        "aggregation.mst",
    )
    .unwrap();
    let text = String::from_utf8(shards[3].1.clone()).unwrap();
    let user = text.lines().nth(7).unwrap().split(',').next().unwrap();
    let cli = summa_agg::proof::generate(
        &agg,
        |i| {
            summa_agg::format::TreeFile::open(
                std::fs::File::open(out.join(summa_agg::round::mini_tree_path(i))).unwrap(),
                "mt",
            )
        },
        user,
    )
    .unwrap();
    for hint in [None, Some(3), Some(0), Some(1)] {
        let p = handlers::proof(
            &round.storage,
            ProofInput {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                username: user.into(),
                run: None,
                shard: hint,
            },
        )
        .await
        .unwrap();
        assert_eq!(p, cli, "hint {hint:?}");
    }

    let e = handlers::proof(
        &round.storage,
        ProofInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            username: "nobody".into(),
            run: None,
            shard: Some(1),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
    assert!(
        e.to_string().contains("\"nobody\" is not in this round"),
        "{e}"
    );
    let e = handlers::proof(
        &round.storage,
        ProofInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            username: user.into(),
            run: None,
            shard: Some(9),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    let e = handlers::proof(
        &round.storage,
        ProofInput {
            bucket: BUCKET.into(),
            prefix: "rounds/none".into(),
            username: user.into(),
            run: None,
            shard: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
}

/// A fake Step Functions: names are unique, like StartExecution's.
#[derive(Default)]
struct FakeExecutions {
    started: Mutex<Vec<(String, String)>>,
    names: Mutex<HashSet<String>>,
}

impl Executions for FakeExecutions {
    async fn start(&self, name: &str, input: &str) -> Result<StartOutcome, FnError> {
        if !self.names.lock().unwrap().insert(name.to_string()) {
            return Ok(StartOutcome::AlreadyExists);
        }
        self.started
            .lock()
            .unwrap()
            .push((name.to_string(), input.to_string()));
        Ok(StartOutcome::Started {
            execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:round:{name}"),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_starts_one_execution_per_manifest_version() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let sfn = FakeExecutions::default();
    let ev: crate::S3Event = event("trigger", "round-uploaded.json");
    let out = handlers::trigger(&round.storage, &sfn, ev.clone())
        .await
        .unwrap();
    assert_eq!(out.started.len(), 1);
    assert!(out.ignored.is_empty());
    let s = &out.started[0];
    assert_eq!((s.bucket.as_str(), s.prefix.as_str()), (BUCKET, PREFIX));
    assert!(!s.already_started);
    assert!(
        s.execution_name.starts_with("rounds-r1-"),
        "{}",
        s.execution_name
    );
    let input: serde_json::Value = serde_json::from_str(&sfn.started.lock().unwrap()[0].1).unwrap();
    assert_eq!(
        input,
        serde_json::json!({ "bucket": BUCKET, "prefix": PREFIX, "run": s.execution_name })
    );

    // The same event again (S3 delivers at least once): nothing new.
    let again = handlers::trigger(&round.storage, &sfn, ev.clone())
        .await
        .unwrap();
    assert!(again.started[0].already_started);
    assert_eq!(again.started[0].execution_name, s.execution_name);
    assert_eq!(sfn.started.lock().unwrap().len(), 1);

    // The same manifest uploaded again (after fixing a shard, say): the same
    // ETag, a new sequencer: a new run.
    let updated_ev: crate::S3Event = event("trigger", "round-updated.json");
    assert_eq!(
        updated_ev.records[0].s3.object.e_tag,
        ev.records[0].s3.object.e_tag
    );
    let updated = handlers::trigger(&round.storage, &sfn, updated_ev.clone())
        .await
        .unwrap();
    assert!(!updated.started[0].already_started);
    assert_ne!(updated.started[0].execution_name, s.execution_name);
    assert_eq!(sfn.started.lock().unwrap().len(), 2);
    // A version id, where the bucket has versioning, names the upload instead.
    let mut versioned = updated_ev.clone();
    versioned.records[0].s3.object.version_id = Some("3HL4kqtJlcpXroDTDmJ".into());
    let v = handlers::trigger(&round.storage, &sfn, versioned.clone())
        .await
        .unwrap();
    assert!(!v.started[0].already_started);
    versioned.records[0].s3.object.sequencer = Some("FFFF".into());
    let v2 = handlers::trigger(&round.storage, &sfn, versioned)
        .await
        .unwrap();
    assert!(v2.started[0].already_started, "same version, same run");
    assert_eq!(sfn.started.lock().unwrap().len(), 3);

    // Shards, plan.json, a root round.json and a removal are ignored.
    let other = handlers::trigger(&round.storage, &sfn, event("trigger", "other-keys.json"))
        .await
        .unwrap();
    assert!(other.started.is_empty());
    assert_eq!(other.ignored.len(), 4);
    assert_eq!(
        other.ignored[0],
        "s3://summa-rounds/rounds/r1/shards/entry_16_1.csv"
    );
    assert_eq!(sfn.started.lock().unwrap().len(), 3);

    // An invalid manifest is InvalidInput, starts nothing, and is recorded in
    // P/error.json for the operator.
    round
        .put("rounds/r1/round.json", r#"{"layout": "v2"}"#)
        .await;
    let e = handlers::trigger(&round.storage, &sfn, event("trigger", "round-updated.json"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert_eq!(e.step.as_deref(), Some("trigger"));
    assert!(e.to_string().contains("unknown variant `v2`"), "{e}");
    assert_eq!(sfn.started.lock().unwrap().len(), 3);
    let record: ErrorRecord =
        serde_json::from_slice(&round.get("rounds/r1/error.json").await.unwrap()).unwrap();
    assert_eq!(record.step.as_deref(), Some("trigger"));
    assert_eq!(record.run, None);
    assert_eq!(record.error, "InvalidInput");
    assert!(
        record.cause.contains("unknown variant `v2`"),
        "{}",
        record.cause
    );
}

#[test]
fn execution_names_follow_step_functions_rules() {
    let ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 80
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let a = handlers::execution_name("rounds/r1", "\"abc\"");
    assert_eq!(a, handlers::execution_name("rounds/r1", "abc"));
    assert!(a.starts_with("rounds-r1-") && ok(&a), "{a}");
    assert_eq!(a.len(), "rounds-r1-".len() + 16);
    assert_ne!(a, handlers::execution_name("rounds/r1", "abd"));
    assert_ne!(a, handlers::execution_name("rounds/r2", "abc"));
    // Prefixes that sanitize alike still differ.
    assert_ne!(
        handlers::execution_name("a b", "e"),
        handlers::execution_name("a/b", "e")
    );
    let long = format!("{}/{}", "x".repeat(200), "2024 Q2 [final]");
    let n = handlers::execution_name(&long, "e");
    assert!(ok(&n) && n.len() == 80, "{n}");
    assert!(n.contains("2024-Q2-final"), "{n}");
    let n = handlers::execution_name("///ü€", "e");
    assert!(ok(&n) && n.starts_with("round-"), "{n}");
    // Stable across builds (a hash, not std's randomized hasher).
    assert_eq!(
        handlers::execution_name("rounds/r1", "0123456789abcdef0123456789abcdef"),
        handlers::execution_name("rounds/r1", "0123456789abcdef0123456789abcdef")
    );
}

#[test]
fn s3_event_keys_are_decoded() {
    use crate::handlers::trigger::{decode_key, round_prefix};
    assert_eq!(
        decode_key("rounds/2024+Q2%2Fa/round.json"),
        "rounds/2024 Q2/a/round.json"
    );
    assert_eq!(decode_key("a%2"), "a%2");
    assert_eq!(decode_key("a%zz%41"), "a%zzA");
    assert_eq!(decode_key("%E2%82%AC"), "€");
    assert_eq!(round_prefix("rounds/r1/round.json"), Some("rounds/r1"));
    assert_eq!(round_prefix("round.json"), None);
    assert_eq!(round_prefix("/round.json"), None);
    assert_eq!(round_prefix("rounds/r1/myround.json"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_rejects_bad_rounds() {
    async fn plan_err(shards: &[(&str, Vec<u8>)], manifest: serde_json::Value) -> FnError {
        let round = Round::new();
        round.upload(shards, manifest).await;
        let e = round.plan().await.unwrap_err();
        assert!(round.get(&round.key("plan.json")).await.is_none());
        e
    }
    let good = fixture("entry_16_1.csv");
    let check = |e: FnError, t: &str, text: &str| {
        assert_eq!(e.error_type(), t, "{e}");
        assert!(e.to_string().starts_with("plan: "), "{e}");
        assert!(e.to_string().contains(text), "{e}\nshould contain: {text}");
    };
    let other_header = b"username,balance_BTC_BTC\nalice,1\n".to_vec();
    check(
        plan_err(&[("a.csv", good.clone()), ("b.csv", other_header)], serde_json::json!({})).await,
        "InvalidInput",
        "shard 1 (rounds/r1/shards/b.csv): rounds/r1/shards/b.csv:1: header differs from rounds/r1/shards/a.csv",
    );
    check(
        plan_err(
            &[
                ("a.csv", good.clone()),
                (
                    "b.csv",
                    b"username,balance_ETH_ETH,balance_USDT_ETH\r\n\r\n".to_vec(),
                ),
            ],
            serde_json::json!({}),
        )
        .await,
        "InvalidInput",
        "rounds/r1/shards/b.csv: no users",
    );
    check(
        plan_err(&[("a.csv", Vec::new())], serde_json::json!({})).await,
        "InvalidInput",
        "shard 0 (rounds/r1/shards/a.csv): rounds/r1/shards/a.csv: empty file",
    );
    check(
        plan_err(
            &[("a.csv", b"name,balance_ETH_ETH\na,1\n".to_vec())],
            serde_json::json!({}),
        )
        .await,
        "InvalidInput",
        "rounds/r1/shards/a.csv:1: invalid header",
    );
    check(
        plan_err(&[("a.txt", good.clone())], serde_json::json!({})).await,
        "InvalidInput",
        "no shard",
    );
    check(
        plan_err(
            &[("a.csv", good.clone())],
            serde_json::json!({ "layot": "v1" }),
        )
        .await,
        "InvalidInput",
        "rounds/r1/round.json: invalid JSON: unknown field `layot`",
    );
    check(
        plan_err(
            &[("a.csv", good.clone())],
            serde_json::json!({ "n_bytes": 40 }),
        )
        .await,
        "InvalidInput",
        "n_bytes must be between 1 and 31",
    );
    check(
        plan_err(
            &[("a.csv", good.clone())],
            serde_json::json!({ "shards": [] }),
        )
        .await,
        "InvalidInput",
        "\"shards\" is empty",
    );
    check(
        plan_err(
            &[("a.csv", good.clone())],
            serde_json::json!({ "shards": ["rounds/r1/shards/a.csv", "rounds/r1/shards/a.csv"] }),
        )
        .await,
        "InvalidInput",
        "listed twice",
    );
    check(
        plan_err(
            &[("a.csv", good.clone())],
            serde_json::json!({ "shards": ["rounds/r1/shards/missing.csv"] }),
        )
        .await,
        "NotFound",
        "shard 0 (rounds/r1/shards/missing.csv): local://summa-rounds/rounds/r1/shards/missing.csv",
    );
    // No manifest at all.
    let round = Round::new();
    let e = round.plan().await.unwrap_err();
    check(e, "NotFound", "rounds/r1/round.json");
    // An empty prefix.
    let e = handlers::plan(
        &round.storage,
        RoundInput {
            bucket: BUCKET.into(),
            prefix: "/".into(),
            run: RUN.into(),
        },
    )
    .await
    .unwrap_err();
    check(e, "InvalidInput", "prefix is empty");
    // A run id that is not one plain key segment.
    for bad in ["", "../x", "a/b", &"x".repeat(81)] {
        let e = handlers::plan(
            &round.storage,
            RoundInput {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                run: bad.into(),
            },
        )
        .await
        .unwrap_err();
        check(e, "InvalidInput", "is not a run id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_only_the_head_of_big_shards() {
    let round = Round::new();
    // A long shard: the plan must still accept it (it reads 64 KiB), and a header
    // longer than the first read is read further.
    let mut big = b"username,balance_ETH_ETH\n".to_vec();
    for i in 0..20_000 {
        big.extend_from_slice(format!("user{i},{i}\n").as_bytes());
    }
    let mut wide = b"username".to_vec();
    for i in 0..5_000 {
        wide.extend_from_slice(format!(",balance_C{i}_CHAIN").as_bytes());
    }
    wide.extend_from_slice(b"\nu");
    for _ in 0..5_000 {
        wide.extend_from_slice(b",1");
    }
    wide.push(b'\n');
    assert!(wide.len() as u64 > crate::handlers::plan::HEAD_BYTES);
    round
        .upload(&[("big.csv", big)], serde_json::json!({}))
        .await;
    assert_eq!(round.plan().await.unwrap().shard_count, 1);
    let round = Round::new();
    round
        .upload(&[("wide.csv", wide)], serde_json::json!({}))
        .await;
    round.plan().await.unwrap();
    let plan: PlanFile =
        serde_json::from_slice(&round.get(&round.key("plan.json")).await.unwrap()).unwrap();
    assert_eq!(plan.currencies.len(), 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_output_for_10000_shards_fits_the_state_limit() {
    // What plan really returns for 10,000 shards, with the longest run id.
    let round = Round::new();
    let csv = b"username,balance_ETH_ETH\na,1\n".to_vec();
    for i in 0..10_000 {
        round
            .put(&format!("{PREFIX}/shards/s{i:05}.csv"), csv.clone())
            .await;
    }
    round.put(&format!("{PREFIX}/round.json"), "{}").await;
    *round.run.lock().unwrap() = "r".repeat(80);
    let out = round.plan().await.unwrap();
    assert_eq!(out.shard_count, 10_000);
    assert_eq!(out.items.len(), 10_000);
    let n = serde_json::to_vec(&out).unwrap().len();
    // The Map's input is this plus the execution input: far below 256 KiB.
    assert!(n < 256 * 1024 / 4, "{n} bytes");
}

#[test]
fn error_types_are_stable() {
    let cases = [
        (FnError::invalid("a"), "InvalidInput"),
        (FnError::not_found("a"), "NotFound"),
        (FnError::storage("a"), "StorageError"),
        (FnError::throttled("a"), "Throttled"),
        (FnError::internal("a"), "Internal"),
    ];
    for (e, t) in cases {
        let d = lambda_runtime::Diagnostic::from(e.clone().in_step("plan"));
        assert_eq!(d.error_type, t);
        assert_eq!(d.error_message, "plan: a");
        assert_eq!(e.kind.name(), t);
        assert_eq!(e.is_retryable(), matches!(t, "StorageError" | "Throttled"));
        let in_shard = e.clone().in_shard(3, "P/shards/c.csv").in_step("mini-tree");
        assert_eq!(
            in_shard.to_string(),
            "mini-tree: shard 3 (P/shards/c.csv): a"
        );
        assert_eq!(in_shard.message(), "a");
        // The innermost step and shard stay.
        let outer = in_shard.clone().in_step("aggregator").in_shard(4, "x");
        assert_eq!(outer, in_shard);
    }
    // A throttled read through ReadAt stays Throttled.
    let store = crate::StoreError::new(crate::StoreErrorKind::Throttled, "s3://b/k", "SlowDown");
    let e = FnError::from(summa_agg::Error::io("k", store.into_io()));
    assert_eq!(e.error_type(), "Throttled");
    let e = FnError::from(summa_agg::Error::UnknownUser("u".into()));
    assert_eq!(e.error_type(), "NotFound");
    // A failed condition (If-Match) is not retried.
    let e = FnError::from(crate::StoreError::new(
        crate::StoreErrorKind::Changed,
        "s3://b/k",
        "PreconditionFailed",
    ));
    assert_eq!(e.error_type(), "InvalidInput");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_file_reads_any_range() {
    use summa_agg::format::ReadAt;
    let round = Round::new();
    let data: Vec<u8> = (0..(3 * BLOCK_SIZE + 123))
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    round.put("obj", data.clone()).await;
    let f = RemoteFile::open(round.storage.clone(), BUCKET, "obj")
        .await
        .unwrap();
    let (f, data) = tokio::task::spawn_blocking(move || {
        let ranges = [
            (0u64, 10usize),
            (BLOCK_SIZE - 5, 10),
            (5, 2 * BLOCK_SIZE as usize + 100),
            (3 * BLOCK_SIZE, 123),
            (0, data.len()),
        ];
        for (o, n) in ranges {
            let mut buf = vec![0u8; n];
            f.read_at(o, &mut buf).unwrap();
            assert_eq!(buf, &data[o as usize..o as usize + n], "{o}+{n}");
        }
        let mut buf = [0u8; 2];
        assert!(f.read_at(data.len() as u64 - 1, &mut buf).is_err());
        (f, data)
    })
    .await
    .unwrap();
    assert_eq!(f.size().unwrap(), data.len() as u64);
    // Each block was fetched once (blocks 0, 1, 2, 3: four GETs); the whole-object
    // read came from the cache.
    assert_eq!(f.gets(), 4);
}

#[tokio::test]
async fn local_storage_lists_by_prefix_and_refuses_escapes() {
    let round = Round::new();
    for k in ["a/b/1", "a/b/2", "a/c", "b"] {
        round.put(k, "x").await;
    }
    let s = &round.storage;
    assert_eq!(
        s.list(BUCKET, "a/").await.unwrap(),
        ["a/b/1", "a/b/2", "a/c"]
    );
    assert_eq!(s.list(BUCKET, "a/b").await.unwrap(), ["a/b/1", "a/b/2"]);
    assert!(s.list("other", "").await.unwrap().is_empty());
    assert_eq!(s.get_range(BUCKET, "a/c", 0, 100).await.unwrap(), b"x");
    assert!(s.get_range(BUCKET, "a/c", 5, 100).await.unwrap().is_empty());
    s.delete(BUCKET, "a/c").await.unwrap();
    s.delete(BUCKET, "a/c").await.unwrap();
    assert_eq!(
        s.get(BUCKET, "a/c").await.unwrap_err().kind,
        crate::StoreErrorKind::NotFound
    );
    for bad in ["../x", "a/../../x", "/etc/passwd", "a//b", ""] {
        assert!(s.get(BUCKET, bad).await.is_err(), "{bad}");
    }
}

/// Storage that records the keys read.
#[derive(Clone)]
struct Recording {
    inner: LocalStorage,
    reads: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Recording {
    fn read(&self, key: &str) {
        self.reads.lock().unwrap().push(key.to_string());
    }
    fn keys_read(&self) -> std::collections::BTreeSet<String> {
        self.reads.lock().unwrap().iter().cloned().collect()
    }
}

impl StorageRead for Recording {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, crate::StoreError> {
        self.read(key);
        self.inner.get(bucket, key).await
    }
    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, crate::StoreError> {
        self.read(key);
        self.inner.get_range(bucket, key, offset, len).await
    }
    async fn size(&self, bucket: &str, key: &str) -> Result<u64, crate::StoreError> {
        self.read(key);
        self.inner.size(bucket, key).await
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<crate::ObjectInfo, crate::StoreError> {
        self.read(key);
        self.inner.head(bucket, key).await
    }
    async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<u8>, String), crate::StoreError> {
        self.read(key);
        self.inner.get_with_etag(bucket, key).await
    }
    async fn open_if_match(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<crate::storage::ObjectReader, crate::StoreError> {
        self.read(key);
        self.inner.open_if_match(bucket, key, etag).await
    }
    async fn open(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<crate::storage::ObjectReader, crate::StoreError> {
        self.read(key);
        self.inner.open(bucket, key).await
    }
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, crate::StoreError> {
        self.inner.list(bucket, prefix).await
    }
}

impl Storage for Recording {
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: crate::PutCondition,
    ) -> Result<(), crate::StoreError> {
        self.inner
            .put_if(bucket, key, body, content_type, condition)
            .await
    }
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), crate::StoreError> {
        self.inner.put(bucket, key, body, content_type).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), crate::StoreError> {
        self.inner.delete(bucket, key).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_read_only_what_they_need() {
    let round = Round::new();
    round.upload(&unequal_shards(), serde_json::json!({})).await;
    round.run().await.unwrap();
    let storage = Recording {
        inner: round.storage.clone(),
        reads: Default::default(),
    };
    let run = round.run_id();
    let set = |keys: &[&str]| -> std::collections::BTreeSet<String> {
        keys.iter()
            .map(|k| match k.strip_prefix('/') {
                Some(top) => format!("{PREFIX}/{top}"),
                None => in_run(&run, k),
            })
            .collect()
    };

    // A proof with the right hint: the published result (which run), the
    // aggregation tree and that mini-tree only.
    let text = String::from_utf8(unequal_shards()[2].1.clone()).unwrap();
    let user = text.lines().nth(3).unwrap().split(',').next().unwrap();
    let input = |shard| ProofInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username: user.into(),
        run: None,
        shard,
    };
    let p = handlers::proof(&storage, input(Some(2))).await.unwrap();
    assert_eq!(p.mini_tree, 2);
    assert_eq!(
        storage.keys_read(),
        set(&["/result.json", "aggregation.mst", "mini-trees/000002.mst"])
    );
    // Without a hint: the username index names the mini-tree.
    storage.reads.lock().unwrap().clear();
    handlers::proof(&storage, input(None)).await.unwrap();
    assert_eq!(
        storage.keys_read(),
        set(&[
            "/result.json",
            "aggregation.mst",
            "user-index.bin",
            "mini-trees/000002.mst"
        ])
    );

    // The aggregator reads the plan, the summaries and hashed usernames, the
    // run's result (this is a second aggregation of the run: it must find the
    // same bytes) and the published result (to publish over it), not the .mst
    // files.
    storage.reads.lock().unwrap().clear();
    let input = AggregatorInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.clone(),
        failure: None,
        failed_step: None,
        shard: None,
    };
    handlers::aggregator(&storage, input).await.unwrap();
    let mut expected = vec![
        "plan.json".to_string(),
        "result.json".to_string(),
        "/result.json".to_string(),
    ];
    for i in 0..4 {
        expected.push(format!("mini-trees/{i:06}.json"));
        expected.push(format!("mini-trees/{i:06}.names"));
    }
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(storage.keys_read(), set(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_only_the_first_64_kib_of_a_shard() {
    #[derive(Clone)]
    struct Ranges(LocalStorage, std::sync::Arc<Mutex<Vec<(String, u64, u64)>>>);
    impl StorageRead for Ranges {
        async fn get(&self, b: &str, k: &str) -> Result<Vec<u8>, crate::StoreError> {
            self.1.lock().unwrap().push((k.into(), 0, u64::MAX));
            self.0.get(b, k).await
        }
        async fn get_range(
            &self,
            b: &str,
            k: &str,
            o: u64,
            n: u64,
        ) -> Result<Vec<u8>, crate::StoreError> {
            self.1.lock().unwrap().push((k.into(), o, n));
            self.0.get_range(b, k, o, n).await
        }
        async fn size(&self, b: &str, k: &str) -> Result<u64, crate::StoreError> {
            self.0.size(b, k).await
        }
        async fn head(&self, b: &str, k: &str) -> Result<crate::ObjectInfo, crate::StoreError> {
            // Metadata only: no bytes.
            self.1.lock().unwrap().push((k.into(), 0, 0));
            self.0.head(b, k).await
        }
        async fn get_with_etag(
            &self,
            b: &str,
            k: &str,
        ) -> Result<(Vec<u8>, String), crate::StoreError> {
            self.1.lock().unwrap().push((k.into(), 0, u64::MAX));
            self.0.get_with_etag(b, k).await
        }
        async fn open_if_match(
            &self,
            b: &str,
            k: &str,
            e: &str,
        ) -> Result<crate::storage::ObjectReader, crate::StoreError> {
            self.1.lock().unwrap().push((k.into(), 0, u64::MAX));
            self.0.open_if_match(b, k, e).await
        }
        async fn open(
            &self,
            b: &str,
            k: &str,
        ) -> Result<crate::storage::ObjectReader, crate::StoreError> {
            self.1.lock().unwrap().push((k.into(), 0, u64::MAX));
            self.0.open(b, k).await
        }
        async fn list(&self, b: &str, p: &str) -> Result<Vec<String>, crate::StoreError> {
            self.0.list(b, p).await
        }
    }

    impl Storage for Ranges {
        async fn put_if(
            &self,
            b: &str,
            k: &str,
            body: Bytes,
            t: &str,
            c: crate::PutCondition,
        ) -> Result<(), crate::StoreError> {
            self.0.put_if(b, k, body, t, c).await
        }
        async fn put(
            &self,
            b: &str,
            k: &str,
            body: Bytes,
            t: &str,
        ) -> Result<(), crate::StoreError> {
            self.0.put(b, k, body, t).await
        }
        async fn delete(&self, b: &str, k: &str) -> Result<(), crate::StoreError> {
            self.0.delete(b, k).await
        }
    }
    let round = Round::new();
    let mut big = b"username,balance_ETH_ETH\n".to_vec();
    for i in 0..50_000 {
        big.extend_from_slice(format!("user{i},{i}\n").as_bytes());
    }
    round
        .upload(&[("big.csv", big)], serde_json::json!({}))
        .await;
    let storage = Ranges(round.storage.clone(), Default::default());
    handlers::plan(&storage, event("plan", "plan.json"))
        .await
        .unwrap();
    let reads = storage.1.lock().unwrap().clone();
    assert_eq!(
        reads,
        [
            ("rounds/r1/round.json".to_string(), 0, u64::MAX),
            ("rounds/r1/shards/big.csv".to_string(), 0, 0),
            ("rounds/r1/shards/big.csv".to_string(), 0, 64 << 10)
        ]
    );
}

/// Input of run `run`'s mini-tree `i`.
fn mini_tree_input(run: &str, i: usize) -> MiniTreeInput {
    MiniTreeInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.into(),
        shard: i,
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
    }
}

async fn published(round: &Round) -> RoundResult {
    serde_json::from_slice(&round.get("rounds/r1/result.json").await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_executions_on_one_prefix_never_mix() {
    // Run A (v1) is planned; then the custodian uploads a changed manifest
    // (agg2023), which starts run B while A runs. Their steps interleave; each
    // publishes its own root, and P/result.json is the later-planned run's even
    // though A finishes last.
    let round = Round::new();
    let shards = four_shards();
    round
        .upload(&shards, serde_json::json!({"layout": "v1"}))
        .await;
    let s = &round.storage;
    handlers::plan(s, round_input("run-a")).await.unwrap();
    handlers::mini_tree(s, mini_tree_input("run-a", 0))
        .await
        .unwrap();
    handlers::mini_tree(s, mini_tree_input("run-a", 1))
        .await
        .unwrap();
    round
        .put("rounds/r1/round.json", r#"{"layout": "agg2023"}"#)
        .await;
    // Plans are ordered by time (ms): make sure B's is later.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    handlers::plan(s, round_input("run-b")).await.unwrap();
    for i in 0..4 {
        handlers::mini_tree(s, mini_tree_input("run-b", i))
            .await
            .unwrap();
        if i >= 2 {
            handlers::mini_tree(s, mini_tree_input("run-a", i))
                .await
                .unwrap();
        }
    }
    let AggregatorOutput::Result(b) = handlers::aggregator(s, aggregate_input("run-b"))
        .await
        .unwrap()
    else {
        panic!("expected a result")
    };
    let AggregatorOutput::Result(a) = handlers::aggregator(s, aggregate_input("run-a"))
        .await
        .unwrap()
    else {
        panic!("expected a result")
    };
    let v1 = Params::default();
    let agg2023 = Params {
        layout: Layout::Agg2023,
        n_bytes: 14,
    };
    assert_eq!(a.root.hash, ENTRY_64_V1_ROOT);
    assert_eq!(without_artifacts((*a).clone()), cli_result(&shards, &v1));
    assert_eq!(
        without_artifacts((*b).clone()),
        cli_result(&shards, &agg2023)
    );
    assert_ne!(a.root, b.root);
    // Each run's own result, and the published one is B's (planned later), not
    // the one that finished last.
    for (run, r) in [("run-a", &a), ("run-b", &b)] {
        let stored: RoundResult =
            serde_json::from_slice(&round.get(&in_run(run, "result.json")).await.unwrap()).unwrap();
        assert_eq!(&stored, &**r);
    }
    assert_eq!(published(&round).await, *b);

    // A third run (v1 again) publishes over B.
    round
        .put("rounds/r1/round.json", r#"{"layout": "v1"}"#)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    handlers::plan(s, round_input("run-c")).await.unwrap();
    for i in 0..4 {
        handlers::mini_tree(s, mini_tree_input("run-c", i))
            .await
            .unwrap();
    }
    handlers::aggregator(s, aggregate_input("run-c"))
        .await
        .unwrap();
    let c = published(&round).await;
    assert_eq!(c.run.as_deref(), Some("run-c"));
    assert_eq!(c.root.hash, ENTRY_64_V1_ROOT);

    // A summary of another run copied into a run's keys is refused by name.
    let b_summary = round
        .get(&in_run("run-b", "mini-trees/000001.json"))
        .await
        .unwrap();
    round
        .put(&in_run("run-c", "mini-trees/000001.json"), b_summary)
        .await;
    let e = handlers::aggregator(s, aggregate_input("run-c"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "Internal");
    assert!(
        e.to_string()
            .contains("the summary's run is \"run-b\", the plan's is \"run-c\""),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_must_match_the_plan_in_every_field() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    round.run().await.unwrap();
    let key = round.key("mini-trees/000002.json");
    let good: ShardSummary = serde_json::from_slice(&round.get(&key).await.unwrap()).unwrap();
    let mut cases: Vec<(&str, ShardSummary)> = Vec::new();
    let mut s = good.clone();
    s.layout = Layout::Agg2023;
    cases.push(("layout is agg2023", s));
    let mut s = good.clone();
    s.n_bytes = 16;
    cases.push(("n_bytes is 16", s));
    let mut s = good.clone();
    s.currencies.swap(0, 1);
    cases.push(("currencies is username,balance_USDT_ETH,balance_ETH_ETH", s));
    let mut s = good.clone();
    s.input.etag = "\"other\"".into();
    cases.push(("shard version is \"other\"", s));
    let mut s = good.clone();
    s.summary.name = "rounds/r1/shards/entry_16_1.csv".into();
    cases.push(("shard is", s));
    for (what, forged) in cases {
        round.put(&key, serde_json::to_vec(&forged).unwrap()).await;
        let e = round.aggregate().await.unwrap_err();
        assert_eq!(e.error_type(), "Internal", "{what}");
        assert!(
            e.to_string().contains(&format!("the summary's {what}")),
            "{what}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_replaced_after_the_plan_fails_the_run_naming_it() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let run = round.next_run();
    round.plan().await.unwrap();
    round.mini_tree(0).await.unwrap();
    // Shard 1 is replaced (same header, other users) between plan and mini-tree.
    round
        .put("rounds/r1/shards/entry_16_2.csv", fixture("entry_16_4.csv"))
        .await;
    let e = round.mini_tree(1).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert_eq!(e.shard.as_ref().map(|s| s.index), Some(1));
    let m = e.to_string();
    assert!(
        m.starts_with("mini-tree: shard 1 (rounds/r1/shards/entry_16_2.csv): rounds/r1/shards/entry_16_2.csv changed since the round was planned"),
        "{m}"
    );
    assert!(round
        .get(&round.key("mini-trees/000001.json"))
        .await
        .is_none());
    // The failure recorder names it.
    let record = round
        .record_failure(
            "States.ExceedToleratedFailureThreshold",
            "The specified tolerated failure threshold was exceeded",
            Some("mini-tree"),
            None,
        )
        .await;
    assert_eq!(record.shard, Some(1));
    assert_eq!(record.run.as_deref(), Some(run.as_str()));
    assert!(record.cause.contains("changed since the round was planned"));
    assert!(round.get("rounds/r1/result.json").await.is_none());
    // A new run plans the new version and succeeds.
    let r = round.run().await.unwrap();
    assert_ne!(r.root.hash, ENTRY_64_V1_ROOT);
    assert_eq!(
        r.inputs[1].sha256,
        hex::encode(summa_agg::round::sha256(&fixture("entry_16_4.csv")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_rejects_a_shard_over_the_size_limit() {
    let round = Round::new();
    round
        .upload(
            &[("a.csv", fixture("entry_16_1.csv"))],
            serde_json::json!({}),
        )
        .await;
    // A sparse file just over the limit: plan looks at its size, not its bytes.
    let path = round
        .storage
        .path(BUCKET, "rounds/r1/shards/b.csv")
        .unwrap();
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(crate::handlers::plan::MAX_SHARD_BYTES + 1)
        .unwrap();
    let e = round.plan().await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    let m = e.to_string();
    assert!(
        m.starts_with("plan: shard 1 (rounds/r1/shards/b.csv): rounds/r1/shards/b.csv: 268435457 bytes, more than the 256 MiB"),
        "{m}"
    );
    assert!(m.contains("summa-agg split"), "{m}");
    assert!(round.get(&round.key("plan.json")).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_among_1000_shards_takes_a_bounded_number_of_reads() {
    let round = Round::new();
    let n = 1000;
    for i in 0..n {
        round
            .put(
                &format!("{PREFIX}/shards/s{i:04}.csv"),
                format!("username,balance_ETH_ETH\nuser{i}a,{i}\nuser{i}b,1\n"),
            )
            .await;
    }
    round.put(&format!("{PREFIX}/round.json"), "{}").await;
    let run = round.next_run();
    round.plan().await.unwrap();
    let s = &round.storage;
    futures::stream::iter(0..n)
        .map(|i| handlers::mini_tree(s, mini_tree_input(&run, i)))
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let result = round.aggregate().await.unwrap();
    let root = summa_agg::json::parse_fr(&result.root.hash, "root").unwrap();
    let storage = Recording {
        inner: round.storage.clone(),
        reads: Default::default(),
    };
    for user in ["user0a", "user517b", "user999b"] {
        storage.reads.lock().unwrap().clear();
        let p = handlers::proof(
            &storage,
            ProofInput {
                bucket: BUCKET.into(),
                prefix: PREFIX.into(),
                username: user.into(),
                run: None,
                shard: None,
            },
        )
        .await
        .unwrap();
        summa_agg::proof::verify_with_result(&p, &result).unwrap();
        summa_agg::proof::verify(&p, Some(&root)).unwrap();
        let reads = storage.reads.lock().unwrap().clone();
        // The published result, the index (header, bucket bounds, bucket), the
        // aggregation tree and one mini-tree (a few 64 KiB blocks each).
        assert!(
            reads.len() <= 12,
            "{user}: {} reads: {reads:?}",
            reads.len()
        );
        let mini_trees: HashSet<&String> = reads
            .iter()
            .filter(|k| k.ends_with(".mst") && k.contains("/mini-trees/"))
            .collect();
        assert_eq!(mini_trees.len(), 1, "{user}: {reads:?}");
        assert_eq!(
            reads
                .iter()
                .filter(|k| k.ends_with("user-index.bin"))
                .count(),
            3
        );
    }
    // Unknown users cost the same bounded reads.
    storage.reads.lock().unwrap().clear();
    let e = handlers::proof(
        &storage,
        ProofInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            username: "nobody".into(),
            run: None,
            shard: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
    assert!(storage.reads.lock().unwrap().len() <= 8);
}

#[test]
fn username_index_finds_every_user_and_only_them() {
    // 3 shards; a user in two shards is found in both.
    let keys = |names: &[&str]| {
        let mut k: Vec<[u8; 16]> = names
            .iter()
            .map(|n| crate::index::user_key(n.as_bytes()))
            .collect();
        k.sort();
        k.concat()
    };
    let many: Vec<String> = (0..5000).map(|i| format!("u{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let file =
        crate::index::build(&[keys(&["ann", "bob"]), keys(&many), keys(&["bob", "cat"])]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let round = Round::new();
    rt.block_on(async {
        round.put("ix", file).await;
        let find = |u: &'static str| {
            let s = round.storage.clone();
            async move { crate::index::lookup(&s, BUCKET, "ix", u).await.unwrap() }
        };
        assert_eq!(find("ann").await, [0]);
        assert_eq!(find("bob").await, [0, 2]);
        assert_eq!(find("cat").await, [2]);
        assert_eq!(find("u4321").await, [1]);
        assert!(find("dan").await.is_empty());
        // Not an index.
        round.put("ix", "not an index at all, no").await;
        let e = crate::index::lookup(&round.storage, BUCKET, "ix", "ann")
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), "Internal");
    });
}

/// An index whose header claims 2^64 - 1 records and whose bucket spans them:
/// the offsets of the ranged reads overflowed (a panic in debug builds, a read
/// at a wrapped offset in release). Found by the fuzzer (target `tree_file`).
#[test]
fn fuzz_an_index_claiming_too_many_records_is_an_error() {
    let mut file = b"SUMMA-IX".to_vec();
    file.extend_from_slice(&1u32.to_le_bytes()); // version
    file.extend_from_slice(&0u32.to_le_bytes()); // bits: one bucket
    file.extend_from_slice(&u64::MAX.to_le_bytes()); // n
    file.extend_from_slice(&0u64.to_le_bytes()); // table[0]
    file.extend_from_slice(&u64::MAX.to_le_bytes()); // table[1]
    let rt = tokio::runtime::Runtime::new().unwrap();
    let round = Round::new();
    rt.block_on(async {
        round.put("ix", file).await;
        let e = crate::index::lookup(&round.storage, BUCKET, "ix", "ann")
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), "Internal");
        assert!(e.message.contains("implausible record count"), "{e}");
    });
}

/// `Timeout:` of a function in infra/template.yaml.
fn template_timeout(template: &str, function: &str) -> u64 {
    let mut lines = template
        .lines()
        .skip_while(|l| *l != format!("  {function}:"))
        .skip(1);
    // The resource's lines: indented by more than two spaces (or blank).
    lines
        .by_ref()
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .find_map(|l| l.trim().strip_prefix("Timeout: "))
        .unwrap_or_else(|| panic!("{function} has no Timeout in the template"))
        .parse()
        .unwrap()
}

#[test]
fn function_timeouts_agree_with_the_definition() {
    let template = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let asl: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("state-machine/round.asl.json")).unwrap(),
    )
    .unwrap();
    let states = &asl["States"];
    let map = &states["MiniTrees"]["ItemProcessor"]["States"];
    let tasks = [
        (&states["Plan"], "PlanFunction"),
        (&map["MiniTree"], "MiniTreeFunction"),
        (&states["Aggregate"], "AggregatorFunction"),
    ];
    for (state, function) in tasks {
        let lambda = template_timeout(&template, function);
        let task = state["TimeoutSeconds"]
            .as_u64()
            .unwrap_or_else(|| panic!("{state}"));
        assert_eq!(
            task, lambda,
            "{function}: the task's TimeoutSeconds and the function's Timeout"
        );
    }
    // The mini-tree's timeout is retried once, then recorded naming the shard.
    let retry = map["MiniTree"]["Retry"].as_array().unwrap();
    let timeout_retry = retry
        .iter()
        .find(|r| {
            r["ErrorEquals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "States.Timeout")
        })
        .expect("a Retry for timeouts");
    assert_eq!(timeout_retry["MaxAttempts"], 1);
    assert!(timeout_retry["ErrorEquals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "Sandbox.Timedout"));
    // No Catch records it (that would make MiniTree exit, see
    // no_catch_exits_a_redrivable_state): the function does, before its deadline.
    assert!(map["MiniTree"].get("Catch").is_none());
}

/// Every state of an ASL definition, with its path (`MiniTrees/MiniTree` for
/// a state inside a Map's ItemProcessor or a Parallel's branches).
fn asl_states(states: &serde_json::Value, path: &str, out: &mut Vec<(String, serde_json::Value)>) {
    for (name, state) in states.as_object().expect("States is an object") {
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}/{name}")
        };
        out.push((here.clone(), state.clone()));
        for inner in ["ItemProcessor", "Iterator"] {
            if let Some(p) = state.get(inner) {
                asl_states(&p["States"], &here, out);
            }
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            asl_states(&branch["States"], &here, out);
        }
    }
}

/// The states of a definition that have a Catch.
fn states_with_a_catch(asl: &serde_json::Value) -> Vec<String> {
    let mut all = Vec::new();
    asl_states(&asl["States"], "", &mut all);
    all.into_iter()
        .filter(|(_, s)| s.get("Catch").is_some())
        .map(|(name, _)| name)
        .collect()
}

/// The round must be redrivable. The Step Functions Developer Guide
/// ("Redriving Map Runs in Step Functions executions") says a redriven execution
/// re-runs a state only if the history has its `<stateType>Entered` event and no
/// matching `<stateType>Exited`: a state whose error a Catch handles *exits*
/// (the Catch moves on to its Next), so a redrive would skip it and re-run only
/// what the Catch led to. Every state of this definition either succeeds or
/// fails the execution, so none may have a Catch: Plan, MiniTrees (whose failed
/// child executions a redrive re-runs), the MiniTree task inside each child
/// (which a redriven child re-runs) and Aggregate. The failure is recorded by the
/// functions and by the failure handler outside the definition.
#[test]
fn no_catch_exits_a_redrivable_state() {
    let asl: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("state-machine/round.asl.json")).unwrap(),
    )
    .unwrap();
    let mut all = Vec::new();
    asl_states(&asl["States"], "", &mut all);
    let names: HashSet<String> = all.iter().map(|(n, _)| n.clone()).collect();
    for must in ["Plan", "MiniTrees", "MiniTrees/MiniTree", "Aggregate"] {
        assert!(names.contains(must), "{must} is not in the definition");
    }
    assert_eq!(
        states_with_a_catch(&asl),
        Vec::<String>::new(),
        "a Catch makes its state exit: a redrive would not re-run it"
    );
    // No Fail state either: with no Catch nothing could reach one, and a Fail
    // state reached after a handled error is what made the round unredrivable.
    assert!(all.iter().all(|(_, s)| s["Type"] != "Fail"));

    // The check finds a Catch wherever it is (here, as the definition had them).
    let catch = serde_json::json!([{"ErrorEquals": ["States.ALL"], "Next": "X"}]);
    let mut outer = asl.clone();
    outer["States"]["MiniTrees"]["Catch"] = catch.clone();
    assert_eq!(states_with_a_catch(&outer), vec!["MiniTrees".to_string()]);
    let mut inner = asl.clone();
    inner["States"]["MiniTrees"]["ItemProcessor"]["States"]["MiniTree"]["Catch"] = catch;
    assert_eq!(
        states_with_a_catch(&inner),
        vec!["MiniTrees/MiniTree".to_string()]
    );
}

/// Storage over a directory that counts writes per key and can fail or hang the
/// read of chosen shards (a throttled S3 read that exhausted its retries, a
/// Lambda timing out).
#[derive(Clone, Default)]
struct Flaky {
    inner: Option<LocalStorage>,
    fail: std::sync::Arc<Mutex<HashSet<String>>>,
    hang: std::sync::Arc<Mutex<HashSet<String>>>,
    puts: std::sync::Arc<Mutex<Vec<String>>>,
}

impl Flaky {
    fn new(inner: LocalStorage) -> Flaky {
        Flaky {
            inner: Some(inner),
            ..Default::default()
        }
    }
    fn inner(&self) -> &LocalStorage {
        self.inner.as_ref().unwrap()
    }
    /// Writes of `key` so far.
    fn puts_of(&self, key: &str) -> usize {
        self.puts
            .lock()
            .unwrap()
            .iter()
            .filter(|k| *k == key)
            .count()
    }
    fn put_count(&self) -> usize {
        self.puts.lock().unwrap().len()
    }
}

impl StorageRead for Flaky {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, crate::StoreError> {
        self.inner().get(bucket, key).await
    }
    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, crate::StoreError> {
        self.inner().get_range(bucket, key, offset, len).await
    }
    async fn size(&self, bucket: &str, key: &str) -> Result<u64, crate::StoreError> {
        self.inner().size(bucket, key).await
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<crate::ObjectInfo, crate::StoreError> {
        self.inner().head(bucket, key).await
    }
    async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<u8>, String), crate::StoreError> {
        self.inner().get_with_etag(bucket, key).await
    }
    async fn open_if_match(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<crate::storage::ObjectReader, crate::StoreError> {
        if self.fail.lock().unwrap().contains(key) {
            return Err(crate::StoreError::new(
                crate::StoreErrorKind::Throttled,
                format!("s3://{bucket}/{key}"),
                "SlowDown: please reduce your request rate",
            ));
        }
        if self.hang.lock().unwrap().contains(key) {
            std::future::pending::<()>().await;
        }
        self.inner().open_if_match(bucket, key, etag).await
    }
    async fn open(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<crate::storage::ObjectReader, crate::StoreError> {
        self.inner().open(bucket, key).await
    }
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, crate::StoreError> {
        self.inner().list(bucket, prefix).await
    }
}

impl Storage for Flaky {
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: crate::PutCondition,
    ) -> Result<(), crate::StoreError> {
        self.puts.lock().unwrap().push(key.to_string());
        self.inner()
            .put_if(bucket, key, body, content_type, condition)
            .await
    }
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), crate::StoreError> {
        self.puts.lock().unwrap().push(key.to_string());
        self.inner().put(bucket, key, body, content_type).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), crate::StoreError> {
        self.inner().delete(bucket, key).await
    }
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

/// A round whose shards 1 and 3 fail (reads throttled past the retries): the
/// execution fails; EventBridge invokes the failure handler, which names shard 1.
/// Then the round is redriven: the Map re-runs only its failed items, then
/// Aggregate. Its result equals that of an uninterrupted run of the same
/// inputs, and no successful shard was built twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redriven_round_equals_an_uninterrupted_one_and_rebuilds_no_shard() {
    let round = Round::new();
    // The uninterrupted run, on the same objects.
    round.upload(&four_shards(), serde_json::json!({})).await;
    let uninterrupted = round.run().await.unwrap();
    assert_eq!(uninterrupted.root.hash, ENTRY_64_V1_ROOT);

    // The run of the fixture's execution (r1-manual), through counting storage.
    let s = Flaky::new(round.storage.clone());
    let plan = handlers::plan(&s, event("plan", "plan.json"))
        .await
        .unwrap();
    assert_eq!(plan.run, RUN);
    let shard_key = |i: usize| format!("{PREFIX}/shards/entry_16_{}.csv", i + 1);
    s.fail.lock().unwrap().extend([shard_key(1), shard_key(3)]);
    let mut failed = Vec::new();
    for &i in &plan.items {
        match handlers::mini_tree(&s, mini_tree_input(RUN, i)).await {
            Ok(out) => assert_eq!(out.shard, i),
            Err(e) => {
                assert_eq!(e.error_type(), "Throttled");
                failed.push(i);
            }
        }
    }
    assert_eq!(failed, vec![1, 3]);
    // The execution fails (the Map: States.ExceedToleratedFailureThreshold);
    // EventBridge delivers the event to the aggregator.
    let AggregatorOutput::Failure(record) =
        aggregator_payload(&s, event("aggregator", "execution-failed.json"))
            .await
            .unwrap()
    else {
        panic!("expected a failure record")
    };
    assert_eq!(record.run.as_deref(), Some(RUN));
    assert_eq!(record.step.as_deref(), Some("mini-tree"));
    assert_eq!(record.shard, Some(1));
    assert_eq!(record.shard_key.as_deref(), Some(shard_key(1).as_str()));
    assert_eq!(record.error, "Throttled");
    assert!(record.cause.contains("SlowDown"), "{}", record.cause);
    for key in [in_run(RUN, "error.json"), format!("{PREFIX}/error.json")] {
        let stored: ErrorRecord = serde_json::from_slice(&round.get(&key).await.unwrap()).unwrap();
        assert_eq!(stored, record, "{key}");
    }
    assert!(round.get(&in_run(RUN, "result.json")).await.is_none());
    assert_eq!(published(&round).await, uninterrupted, "nothing published");

    // The throttling is over; the operator redrives. The Map re-runs its
    // failed child executions only, then Aggregate runs.
    s.fail.lock().unwrap().clear();
    let before = s.put_count();
    for &i in &failed {
        handlers::mini_tree(&s, mini_tree_input(RUN, i))
            .await
            .unwrap();
    }
    let redriven = match handlers::aggregator(&s, aggregate_input(RUN))
        .await
        .unwrap()
    {
        AggregatorOutput::Result(r) => *r,
        AggregatorOutput::Failure(f) => panic!("{f:?}"),
    };
    assert_eq!(redriven.run.as_deref(), Some(RUN));
    assert_eq!(runless(redriven.clone()), runless(uninterrupted.clone()));
    assert_eq!(published(&round).await, redriven);
    // Every shard's artifacts were written exactly once in this run; the
    // redrive wrote only the failed shards' (3 objects each) and the
    // aggregator's (tree, index, result, P/result.json).
    for i in 0..4 {
        for ext in ["mst", "names", "json"] {
            assert_eq!(
                s.puts_of(&in_run(RUN, &format!("mini-trees/{i:06}.{ext}"))),
                1,
                "shard {i} .{ext}"
            );
        }
    }
    assert_eq!(s.put_count() - before, 2 * 3 + 4);
    // The shards' error records and the run's error.json are gone: the run
    // succeeded.
    for i in 0..4 {
        assert!(round
            .get(&in_run(RUN, &format!("mini-trees/{i:06}.error.json")))
            .await
            .is_none());
    }
    assert!(round.get(&in_run(RUN, "error.json")).await.is_none());
    // The failed attempt's event, delivered late (after the redrive succeeded),
    // records nothing.
    let e = aggregator_payload(&s, event("aggregator", "execution-failed.json"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(e.to_string().contains("has completed since"), "{e}");
    assert!(round.get(&in_run(RUN, "error.json")).await.is_none());

    // A child that is run again although it had succeeded (a Map run in full)
    // re-uses its artifacts: no write, the same output.
    let before = s.put_count();
    for &i in &plan.items {
        let out = handlers::mini_tree(&s, mini_tree_input(RUN, i))
            .await
            .unwrap();
        assert_eq!(
            out.mini_tree_key,
            in_run(RUN, &format!("mini-trees/{i:06}.mst"))
        );
        assert_eq!(out.entries, 16);
    }
    assert_eq!(s.put_count(), before, "a successful shard was rebuilt");
}

/// The failure handler's input is the event EventBridge delivers; the step
/// comes from the run's artifacts, the shard from the functions' records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_handler_takes_the_eventbridge_event() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let fixture: serde_json::Value = event("aggregator", "execution-failed.json");
    let input = AggregatorInput::from_payload(fixture.clone()).unwrap();
    assert_eq!(
        (
            input.bucket.as_str(),
            input.prefix.as_str(),
            input.run.as_str()
        ),
        (BUCKET, PREFIX, RUN)
    );
    assert_eq!(
        input.failure.as_ref().unwrap().error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    // Plan failed (no plan.json): step plan, the cause from the Lambda error.
    let cause = r#"{"errorType":"InvalidInput","errorMessage":"plan: rounds/r1/shards/entry_16_2.csv: header differs"}"#;
    let AggregatorOutput::Failure(r) = aggregator_payload(
        &round.storage,
        execution_event("FAILED", Some("InvalidInput"), Some(cause)),
    )
    .await
    .unwrap() else {
        panic!("expected a failure record")
    };
    assert_eq!(r.step.as_deref(), Some("plan"));
    assert_eq!(r.error, "InvalidInput");
    assert_eq!(
        r.cause,
        "plan: rounds/r1/shards/entry_16_2.csv: header differs"
    );
    // Every mini-tree built, the aggregator failed: step aggregator.
    handlers::plan(&round.storage, event("plan", "plan.json"))
        .await
        .unwrap();
    for i in 0..4 {
        handlers::mini_tree(&round.storage, mini_tree_input(RUN, i))
            .await
            .unwrap();
    }
    let AggregatorOutput::Failure(r) = aggregator_payload(
        &round.storage,
        execution_event("FAILED", Some("StorageError"), Some("put failed")),
    )
    .await
    .unwrap() else {
        panic!("expected a failure record")
    };
    assert_eq!(
        (r.step.as_deref(), r.shard, r.error.as_str()),
        (Some("aggregator"), None, "StorageError")
    );
    // A timed-out execution without an error name.
    let AggregatorOutput::Failure(r) =
        aggregator_payload(&round.storage, execution_event("TIMED_OUT", None, None))
            .await
            .unwrap()
    else {
        panic!("expected a failure record")
    };
    assert_eq!(r.error, "States.Timeout");
    // Started by hand without a run: the run is the execution's name.
    let mut by_hand = fixture.clone();
    by_hand["detail"]["input"] = r#"{"bucket":"summa-rounds","prefix":"rounds/r1"}"#.into();
    by_hand["detail"]["name"] = "by-hand".into();
    assert_eq!(
        AggregatorInput::from_payload(by_hand).unwrap().run,
        "by-hand"
    );
    // Not a failure, not Step Functions, no input: refused, nothing written.
    let before = round.get(&in_run(RUN, "error.json")).await;
    for (bad, why) in [
        (
            execution_event("SUCCEEDED", None, None),
            "is SUCCEEDED, not failed",
        ),
        (
            {
                let mut v = fixture.clone();
                v["source"] = "aws.s3".into();
                v
            },
            "not a Step Functions execution status change",
        ),
        (
            {
                let mut v = fixture.clone();
                v["detail"]["input"] = serde_json::Value::Null;
                v
            },
            "carries no input",
        ),
    ] {
        let e = aggregator_payload(&round.storage, bad).await.unwrap_err();
        assert_eq!(e.error_type(), "InvalidInput");
        assert!(e.to_string().contains(why), "{e}");
    }
    assert_eq!(round.get(&in_run(RUN, "error.json")).await, before);
    // The state machine's own form is still accepted.
    let direct: AggregatorInput = event("aggregator", "aggregate.json");
    assert_eq!(
        AggregatorInput::from_payload(serde_json::to_value(&direct).unwrap()).unwrap(),
        direct
    );
}

/// A mini-tree still running close to its Lambda deadline records itself as
/// timed out, naming the shard; the failure handler then names it. One that
/// still finishes deletes the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mini_tree_near_its_deadline_records_its_shard() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let s = Flaky::new(round.storage.clone());
    handlers::plan(&s, event("plan", "plan.json"))
        .await
        .unwrap();
    for i in [0, 1, 3] {
        handlers::mini_tree(&s, mini_tree_input(RUN, i))
            .await
            .unwrap();
    }
    // Shard 2's read never ends: Lambda would kill it at the deadline.
    s.hang
        .lock()
        .unwrap()
        .insert(format!("{PREFIX}/shards/entry_16_3.csv"));
    let work = handlers::mini_tree::mini_tree_with_deadline(
        &s,
        mini_tree_input(RUN, 2),
        Some(std::time::Duration::from_millis(50)),
    );
    assert!(
        tokio::time::timeout(std::time::Duration::from_secs(2), work)
            .await
            .is_err(),
        "the hung shard finished"
    );
    let shard: ErrorRecord = serde_json::from_slice(
        &round
            .get(&in_run(RUN, "mini-trees/000002.error.json"))
            .await
            .expect("the timed-out shard's record"),
    )
    .unwrap();
    assert_eq!(shard.step.as_deref(), Some("mini-tree"));
    assert_eq!(shard.shard, Some(2));
    assert_eq!(
        shard.shard_key.as_deref(),
        Some("rounds/r1/shards/entry_16_3.csv")
    );
    assert_eq!(shard.error, "States.Timeout");
    // The Map fails; the failure handler names the shard.
    let AggregatorOutput::Failure(r) =
        aggregator_payload(&s, event("aggregator", "execution-failed.json"))
            .await
            .unwrap()
    else {
        panic!("expected a failure record")
    };
    assert_eq!(r, shard);

    // The retry (or a redrive) finishes in time: the record goes away.
    s.hang.lock().unwrap().clear();
    handlers::mini_tree::mini_tree_with_deadline(
        &s,
        mini_tree_input(RUN, 2),
        Some(std::time::Duration::ZERO),
    )
    .await
    .unwrap();
    assert!(round
        .get(&in_run(RUN, "mini-trees/000002.error.json"))
        .await
        .is_none());
    let result = match handlers::aggregator(&s, aggregate_input(RUN))
        .await
        .unwrap()
    {
        AggregatorOutput::Result(r) => *r,
        AggregatorOutput::Failure(f) => panic!("{f:?}"),
    };
    assert_eq!(result.root.hash, ENTRY_64_V1_ROOT);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_previous_round_reuses_unchanged_mini_trees() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let first = round.run().await.unwrap();
    let first_run = round.run_id();
    assert_eq!(first.reused_mini_trees, 0);

    // Only the changed shard is uploaded again (an upload gives a new ETag, as a
    // local file's modification time does here).
    let shards = four_shards_one_changed();
    round
        .put(
            &format!("{PREFIX}/shards/{}", shards[2].0),
            shards[2].1.clone(),
        )
        .await;
    round
        .put(
            &format!("{PREFIX}/round.json"),
            serde_json::json!({ "previous": PREFIX }).to_string(),
        )
        .await;
    let run = round.next_run();
    let plan = round.plan().await.unwrap();
    let reused: Vec<bool> = {
        let mut v = Vec::new();
        for i in plan.items {
            v.push(round.mini_tree(i).await.unwrap().reused);
        }
        v
    };
    assert_eq!(reused, [true, true, false, true]);
    let result = round.aggregate().await.unwrap();
    assert_eq!(result.reused_mini_trees, 3);
    // Only the shard built has a build record.
    let built: Vec<u64> = result
        .build
        .iter()
        .flat_map(|b| &b.shards)
        .map(|s| s.shard)
        .collect();
    assert_eq!(built, [2]);
    assert_eq!(
        result.previous.as_deref(),
        Some(format!("{PREFIX} (run {first_run})").as_str())
    );
    assert_eq!(
        without_reuse(result.clone()),
        cli_result(&shards, &Params::default())
    );
    // The re-used mini-trees are copies of the first run's, with their records.
    for i in [0, 1, 3] {
        let name = format!("mini-trees/{i:06}.mst");
        assert_eq!(
            round.get(&in_run(&run, &name)).await,
            round.get(&in_run(&first_run, &name)).await
        );
        let s: ShardSummary = serde_json::from_slice(
            &round
                .get(&in_run(&run, &format!("mini-trees/{i:06}.json")))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(s.reused_from, Some(in_run(&first_run, &name)));
        assert_eq!(s.run, run);
    }
    // Re-invoking a re-used shard (a retry) finds its summary: nothing changes.
    assert!(round.mini_tree(1).await.unwrap().reused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_round_of_another_layout_or_tampered_is_not_trusted() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    round.run().await.unwrap();
    let first_run = round.run_id();

    // Another layout: nothing re-used, and the plan says why.
    round
        .put(
            &format!("{PREFIX}/round.json"),
            serde_json::json!({ "previous": PREFIX, "layout": "legacy" }).to_string(),
        )
        .await;
    let result = round.run().await.unwrap();
    assert_eq!(result.reused_mini_trees, 0);
    assert_eq!(result.previous, None);
    let plan: PlanFile =
        serde_json::from_slice(&round.get(&round.key("plan.json")).await.unwrap()).unwrap();
    let why = plan.previous.unwrap().untrusted.unwrap();
    assert!(why.contains("layout"), "{why}");

    // The first run's mini-tree 1 replaced by mini-tree 3: its root is not the
    // one its summary records, so shard 1 is rebuilt; the result is still right.
    let other = round
        .get(&in_run(&first_run, "mini-trees/000003.mst"))
        .await
        .unwrap();
    round
        .put(&in_run(&first_run, "mini-trees/000001.mst"), other)
        .await;
    // Published result: point `previous` at the first run again by re-publishing
    // its result.
    let first_result = round.get(&in_run(&first_run, "result.json")).await.unwrap();
    round
        .put(&format!("{PREFIX}/result.json"), first_result)
        .await;
    round
        .put(
            &format!("{PREFIX}/round.json"),
            serde_json::json!({ "previous": PREFIX }).to_string(),
        )
        .await;
    let result = round.run().await.unwrap();
    assert_eq!(result.reused_mini_trees, 3);
    assert_eq!(result.root.hash, ENTRY_64_V1_ROOT);
    let s: ShardSummary = serde_json::from_slice(
        &round
            .get(&round.key("mini-trees/000001.json"))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(s.reused_from, None);
}

#[test]
fn a_manifest_previous_must_be_a_prefix() {
    let e = Manifest::parse(br#"{"previous": ""}"#, "P/round.json").unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(Manifest::parse(br#"{"previous": "rounds/r0"}"#, "P/round.json").is_ok());
}
