//! The whole round through the driver, against the CLI's round: every layout, unequal shards, the manifest's shard list, one-thread mode, build records, two runs on one prefix.

use super::*;

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
    let round = Round::with_shards(&four_shards()).await;
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
        let summary: ShardSummary = round.run_json(&format!("mini-trees/{i:06}.json")).await;
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
    let json: serde_json::Value = round.run_json("result.json").await;
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
    let shards = four_shards();
    let round = Round::with_shards(&shards).await;
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
        let shards = four_shards();
        let round = Round::uploaded(
            &shards,
            serde_json::json!({ "layout": layout.name(), "n_bytes": 14 }),
        )
        .await;
        let result = round.run().await.unwrap();
        assert_equals_the_cli(result, &shards, layout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unequal_shards_equal_the_cli_in_every_layout() {
    for layout in Layout::ALL {
        let shards = unequal_shards();
        let round = Round::uploaded(&shards, serde_json::json!({ "layout": layout.name() })).await;
        // Not a shard: ignored by the default listing.
        round.put("rounds/r1/shards/notes.txt", "x").await;
        round.put("rounds/r1/shards/old/part-9.csv", "x").await;
        let result = round.run().await.unwrap();
        assert_eq!(result.mini_trees, 4);
        assert_eq!(result.mini_tree_depth, 5);
        assert_equals_the_cli(result, &shards, layout);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_shard_list_sets_the_shards_and_their_order() {
    let shards = four_shards();
    let round = Round::uploaded(
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
async fn two_executions_on_one_prefix_never_mix() {
    // Run A (v1) is planned; then the custodian uploads a changed manifest
    // (agg2023), which starts run B while A runs. Their steps interleave; each
    // publishes its own root, and P/result.json is the later-planned run's even
    // though A finishes last.
    let shards = four_shards();
    let round = Round::uploaded(&shards, serde_json::json!({"layout": "v1"})).await;
    let s = &round.storage;
    handlers::plan(s, round_input("run-a")).await.unwrap();
    build_mini_tree(s, "run-a", 0).await;
    build_mini_tree(s, "run-a", 1).await;
    replan(&round, r#"{"layout": "agg2023"}"#, "run-b").await;
    for i in 0..4 {
        build_mini_tree(s, "run-b", i).await;
        if i >= 2 {
            build_mini_tree(s, "run-a", i).await;
        }
    }
    index_run(s, "run-b").await;
    index_run(s, "run-a").await;
    let b = aggregate_run(s, "run-b").await;
    let a = aggregate_run(s, "run-a").await;
    let v1 = Params::default();
    let agg2023 = Params {
        layout: Layout::Agg2023,
        n_bytes: 14,
    };
    assert_eq!(a.root.hash, ENTRY_64_V1_ROOT);
    assert_eq!(without_artifacts(a.clone()), cli_result(&shards, &v1));
    assert_eq!(without_artifacts(b.clone()), cli_result(&shards, &agg2023));
    assert_ne!(a.root, b.root);
    // Each run's own result, and the published one is B's (planned later), not
    // the one that finished last.
    for (run, r) in [("run-a", &a), ("run-b", &b)] {
        let stored: RoundResult =
            serde_json::from_slice(&round.get(&in_run(run, "result.json")).await.unwrap()).unwrap();
        assert_eq!(&stored, r);
    }
    assert_eq!(published(&round).await, b);

    // A third run (v1 again) publishes over B.
    replan(&round, r#"{"layout": "v1"}"#, "run-c").await;
    for i in 0..4 {
        build_mini_tree(s, "run-c", i).await;
    }
    index_run(s, "run-c").await;
    aggregate_run(s, "run-c").await;
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
    // (Run c's own result forgotten: a run aggregated is published as it is.)
    s.delete(BUCKET, &in_run("run-c", "result.json"))
        .await
        .unwrap();
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

/// Uploads `manifest` and plans run `run`, later than the plans before it (plans
/// are ordered by their time in ms).
async fn replan(round: &Round, manifest: &str, run: &str) {
    round.put("rounds/r1/round.json", manifest).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    handlers::plan(&round.storage, round_input(run))
        .await
        .unwrap();
}

/// Builds run `run`'s mini-tree `i`.
async fn build_mini_tree(s: &impl Storage, run: &str, i: usize) {
    handlers::mini_tree(s, mini_tree_input(run, i))
        .await
        .unwrap();
}

/// A round's result equals the CLI's over the same shards in `layout` (n_bytes 14).
fn assert_equals_the_cli(result: RoundResult, shards: &[(&str, Vec<u8>)], layout: Layout) {
    let params = Params {
        layout,
        n_bytes: 14,
    };
    assert_eq!(
        without_artifacts(result),
        cli_result(shards, &params),
        "{layout}"
    );
}

/// A published run executed again from the start with the same input (a new
/// execution where a redrive does not apply): the same result, and not one
/// object of the run written again, so nothing `P/result.json` names changes
/// after it is published (found by the fault campaign's state-machine part:
/// plan rewrote items.json and plan.json, the index its partitions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_run_executed_again_writes_nothing_of_its_run() {
    let round = Round::new();
    round.upload(&four_shards(), serde_json::json!({})).await;
    let first = round.run().await.unwrap();
    let run = round.run_id();
    let recording = Recording::new(round.storage.clone());
    let input = RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.clone(),
    };
    let again = crate::round::run(&recording, input, 1, &|_| {})
        .await
        .unwrap();
    assert_eq!(again.result.root, first.root);
    let rewritten: Vec<String> = recording
        .keys_written()
        .into_iter()
        .filter(|k| k.starts_with(&in_run(&run, "")))
        .collect();
    assert_eq!(rewritten, Vec::<String>::new());
    // What the round publishes, P/lookup.json then P/result.json, the same bytes.
    assert_eq!(published(&round).await, first);
}
