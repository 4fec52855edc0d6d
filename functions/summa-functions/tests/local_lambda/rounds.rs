//! Whole rounds through the functions: equal shards (and an incremental round, and the CLI's S3 mode), unequal shards in every layout, a re-invoked mini-tree, two executions interleaved on one prefix.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::data::*;
use super::stack::*;

pub async fn equal_shards(env: &Env) {
    // 1. Four equal shards: the root of entry_64.csv, and the CLI's result.
    let shards = four_shards();
    env.upload("rounds/equal", &shards, json!({})).await;
    let t = Instant::now();
    let result = env.round("rounds/equal", "run-1").await;
    eprintln!(
        "round of 4 shards (6 invocations, first ones start the functions): {:?}",
        t.elapsed()
    );
    assert_eq!(result["root"]["hash"], ENTRY_64_V1_ROOT);
    assert_eq!(result["root"]["balances"], json!(["2227448", "2227448"]));
    assert_eq!(result["run"], "run-1");
    assert_eq!(
        result["artifacts"],
        json!({
            "aggregation": "rounds/equal/runs/run-1/aggregation.mst",
            "aggregation_paths": "rounds/equal/runs/run-1/aggregation-paths.bin",
            "lookup": "rounds/equal/runs/run-1/lookup.json",
            "mini_trees": "rounds/equal/runs/run-1/mini-trees/",
            "plan": "rounds/equal/runs/run-1/plan.json",
            "result": "rounds/equal/runs/run-1/result.json",
            "user_index": "rounds/equal/runs/run-1/user-index/",
            "user_index_bits": "0"
        })
    );
    // Each shard's build record: this machine's backend and CPU, built by the
    // mini-tree function in one-thread mode; plan, mini-tree and aggregator
    // (SUMMA_AGG_THREADS=1) started no thread.
    let build = &result["build"];
    assert_eq!(build["backends"], json!([summa_agg::poseidon::backend()]));
    assert_eq!(build["cpus"], json!([summa_agg::host::cpu_model()]));
    for (i, s) in build["shards"].as_array().unwrap().iter().enumerate() {
        assert_eq!(s["shard"], json!(i), "{build}");
        assert_eq!(s["threads"], 1, "{build}");
        assert_eq!(s["arch"], std::env::consts::ARCH, "{build}");
        assert!(s["build_ms"].is_u64(), "{build}");
    }
    assert_eq!(build["shards"].as_array().unwrap().len(), 4, "{build}");
    for name in ["plan", "mini-tree", "aggregator"] {
        let f = env._functions.iter().find(|p| p.name == name).unwrap();
        assert_eq!(threads_of(f.child.id()), 1, "the {name} function's threads");
    }
    // The inputs carry S3's ETags.
    for (i, input) in result["inputs"].as_array().unwrap().iter().enumerate() {
        let key = format!("rounds/equal/shards/entry_16_{}.csv", i + 1);
        assert_eq!(input["key"], json!(key));
        assert_eq!(input["etag"], json!(env.etag(&key).await));
    }

    // 1b. An incremental round on another prefix, built on rounds/equal: the same
    // shards but the third (S3's ETag is the content's MD5, so unchanged uploads
    // keep it). Three mini-trees are server-side copies of run-1's; the result is
    // the full round's.
    let mut changed = four_shards();
    let text = String::from_utf8(changed[2].1.clone()).unwrap();
    // The last user's last balance gets one more digit.
    changed[2].1 = format!("{}1\n", text.trim_end()).into_bytes();
    env.upload(
        "rounds/inc",
        &changed,
        json!({ "previous": "rounds/equal" }),
    )
    .await;
    let inc = env.round("rounds/inc", "run-i").await;
    assert_eq!(inc["reused_mini_trees"], 3, "{inc}");
    // Only the shard built has a build record.
    let built: Vec<&Value> = inc["build"]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["shard"])
        .collect();
    assert_eq!(built, [&json!(2)], "{inc}");
    assert_eq!(inc["previous"], "rounds/equal (run run-1)");
    let mut full = env.cli_round(&changed, "v1");
    let o = full.as_object_mut().unwrap();
    o.remove("reused_mini_trees");
    let mut inc_cmp = without_artifacts(inc.clone());
    let o = inc_cmp.as_object_mut().unwrap();
    o.remove("reused_mini_trees");
    o.remove("previous");
    assert_eq!(inc_cmp, without_artifacts(full));
    for i in [0, 1, 3] {
        let copy = format!("rounds/inc/runs/run-i/mini-trees/{i:06}.mst");
        let source = format!("rounds/equal/runs/run-1/mini-trees/{i:06}.mst");
        assert_eq!(env.etag(&copy).await, env.etag(&source).await);
        let summary: Value = serde_json::from_slice(
            &env.get(&format!("rounds/inc/runs/run-i/mini-trees/{i:06}.json"))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(summary["reused_from"], json!(source));
    }
    env.assert_equals_the_cli(&result, &shards, "v1");
    let published: Value =
        serde_json::from_slice(&env.get("rounds/equal/result.json").await.unwrap()).unwrap();
    assert_eq!(published, result);
    let t = Instant::now();
    let again = env.round("rounds/equal", "run-2").await;
    eprintln!("the same round again (warm functions): {:?}", t.elapsed());
    assert_eq!(
        without_artifacts(again.clone()),
        without_artifacts(result.clone())
    );
    assert_eq!(again["run"], "run-2");

    // 1b. The CLI runs the same handlers in-process over S3: same result.
    env.upload("rounds/cli", &shards, json!({})).await;
    let out = env.cli(&["round", "--bucket", BUCKET, "--prefix", "rounds/cli"]);
    assert!(
        out.status.success(),
        "summa-agg round --bucket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = String::from_utf8(out.stdout).unwrap();
    let cli_s3: Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(without_artifacts(cli_s3), without_artifacts(result.clone()));
    assert!(env.get("rounds/cli/result.json").await.is_some());
    let mut bad = four_shards();
    bad[1].1 = fixture("entry_16_overflow.csv");
    env.upload("rounds/cli-bad", &bad, json!({})).await;
    let out = env.cli(&["round", "--bucket", BUCKET, "--prefix", "rounds/cli-bad"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shard 1 (rounds/cli-bad/shards/") && err.contains("out of range"),
        "{err}"
    );
    assert!(env.get("rounds/cli-bad/result.json").await.is_none());
    let record: Value =
        serde_json::from_slice(&env.get("rounds/cli-bad/error.json").await.unwrap()).unwrap();
    assert_eq!(record["shard"], 1);
    assert_eq!(record["step"], "mini-tree");
}

pub async fn unequal_shards_every_layout(env: &Env) {
    // 2. Unequal shards, every layout.
    let parts = unequal_shards();
    for layout in ["v1", "agg2023", "legacy"] {
        let prefix = format!("rounds/unequal-{layout}");
        env.upload(&prefix, &parts, json!({ "layout": layout, "n_bytes": 14 }))
            .await;
        let result = env.round(&prefix, "run-1").await;
        assert_eq!(result["mini_trees"], 4);
        assert_eq!(result["layout"], layout);
        env.assert_equals_the_cli(&result, &parts, layout);
    }
}

pub async fn reinvoked_and_interleaved(env: &Env) {
    let shards = four_shards();
    // 3. Re-invoking a mini-tree gives identical objects.
    let mt = |name: &str| format!("rounds/equal/runs/run-1/mini-trees/{name}");
    let mst = env.get(&mt("000001.mst")).await.unwrap();
    let summary = env.get(&mt("000001.json")).await.unwrap();
    env.invoke(
        "mini-tree",
        &json!({ "bucket": BUCKET, "prefix": "rounds/equal", "run": "run-1", "shard": 1 }),
    )
    .ok("mini-tree again");
    assert_eq!(env.get(&mt("000001.mst")).await.unwrap(), mst);
    assert_eq!(env.get(&mt("000001.json")).await.unwrap(), summary);

    // 3b. Two executions on one prefix, interleaved: run A (v1) is planned and
    // half built; the manifest changes (agg2023) and run B is planned; shard 0
    // is replaced. A fails naming the shard; B publishes its own root; the
    // published result is never a mix.
    env.upload("rounds/two", &shards, json!({ "layout": "v1" }))
        .await;
    let a = json!({ "bucket": BUCKET, "prefix": "rounds/two", "run": "run-a" });
    let b = json!({ "bucket": BUCKET, "prefix": "rounds/two", "run": "run-b" });
    let shard = |run: &Value, i: u64| {
        let mut v = run.clone();
        v["shard"] = json!(i);
        v
    };
    env.invoke("plan", &a).ok("plan A");
    env.invoke("mini-tree", &shard(&a, 1)).ok("A 1");
    env.put(
        "rounds/two/round.json",
        json!({ "layout": "agg2023" }).to_string(),
    )
    .await;
    // Shard 0 replaced by other users: shard 0's usernames with a "z" before
    // each (re-uploading the same bytes would keep S3's ETag, and the same
    // content is no change; a username may be in one shard only).
    let other_users = renamed_users(&shards[0].1, "z");
    env.put("rounds/two/shards/entry_16_1.csv", other_users.clone())
        .await;
    let mut shards_b = shards.clone();
    shards_b[0].1 = other_users;
    std::thread::sleep(Duration::from_millis(5));
    env.invoke("plan", &b).ok("plan B");
    for i in 0..4 {
        env.invoke("mini-tree", &shard(&b, i)).ok("B");
        if i >= 2 {
            env.invoke("mini-tree", &shard(&a, i)).ok("A");
        }
    }
    let (error_type, message) = env.invoke("mini-tree", &shard(&a, 0)).err("A 0");
    assert_eq!(error_type, "InvalidInput");
    assert!(
        message.starts_with("mini-tree: shard 0 (rounds/two/shards/entry_16_1.csv): rounds/two/shards/entry_16_1.csv changed since the round was planned"),
        "{message}"
    );
    let (error_type, _) = env.invoke("aggregator", &a).err("aggregator A");
    assert_eq!(error_type, "NotFound");
    let result_b = env.aggregate(&b, "aggregator B").await;
    env.assert_equals_the_cli(&result_b, &shards_b, "agg2023");
    let mut failure = a.clone();
    failure["failed_step"] = json!("mini-tree");
    failure["failure"] = json!({ "Error": "States.ExceedToleratedFailureThreshold", "Cause": "" });
    let record = env.invoke("aggregator", &failure).ok("failure mode A");
    assert_eq!(record["shard"], 0);
    assert_eq!(record["run"], "run-a");
    let published: Value =
        serde_json::from_slice(&env.get("rounds/two/result.json").await.unwrap()).unwrap();
    assert_eq!(published, result_b);
    assert!(env.get("rounds/two/runs/run-a/result.json").await.is_none());
}

/// `csv` with `prefix` before each username (the header line kept).
fn renamed_users(csv: &[u8], prefix: &str) -> Vec<u8> {
    let text = std::str::from_utf8(csv).unwrap();
    let mut lines = text.lines();
    let mut out = format!("{}\n", lines.next().unwrap());
    for line in lines.filter(|l| !l.is_empty()) {
        out.push_str(prefix);
        out.push_str(line);
        out.push('\n');
    }
    out.into_bytes()
}
