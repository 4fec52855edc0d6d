//! Failures: a bad shard (error records, failure mode) and a redrive.

use std::time::Duration;

use serde_json::{json, Value};
use summa_functions::Storage;

use super::data::*;
use super::stack::*;

pub async fn bad_shard(env: &Env) {
    // 4. A bad shard: InvalidInput naming it; error.json in failure mode; no result.
    let mut bad = four_shards();
    bad[2].1 = fixture("entry_16_overflow.csv");
    env.upload("rounds/bad", &bad, json!({})).await;
    let input = json!({ "bucket": BUCKET, "prefix": "rounds/bad", "run": "run-1" });
    env.invoke("plan", &input).ok("plan");
    let (error_type, message) = env
        .invoke(
            "mini-tree",
            &json!({ "bucket": BUCKET, "prefix": "rounds/bad", "run": "run-1", "shard": 2 }),
        )
        .err("the overflow shard");
    assert_eq!(error_type, "InvalidInput");
    assert!(
        message.starts_with("mini-tree: shard 2 (rounds/bad/shards/entry_16_3.csv): rounds/bad/shards/entry_16_3.csv:2: "),
        "{message}"
    );
    assert!(
        message.contains("out of range for n_bytes = 14"),
        "{message}"
    );
    let (error_type, _) = env
        .invoke("aggregator", &input)
        .err("aggregator without mini-tree 2");
    assert_eq!(error_type, "NotFound");
    // What EventBridge delivers for the failed execution (the definition has no
    // Catch): its status, input, Error and Cause (the error payload).
    let cause = json!({ "errorType": "InvalidInput", "errorMessage": message }).to_string();
    let record = env
        .invoke(
            "aggregator",
            &failed_execution("rounds/bad", "run-1", "InvalidInput", &cause),
        )
        .ok("failure mode");
    assert_eq!(record["step"], "mini-tree");
    assert_eq!(record["shard"], 2);
    assert_eq!(record["shard_key"], "rounds/bad/shards/entry_16_3.csv");
    assert_eq!(record["error"], "InvalidInput");
    for key in ["rounds/bad/error.json", "rounds/bad/runs/run-1/error.json"] {
        let stored: Value = serde_json::from_slice(&env.get(key).await.unwrap()).unwrap();
        assert_eq!(stored, record, "{key}");
    }
    assert!(env.get("rounds/bad/result.json").await.is_none());
}

pub async fn redrive(env: &Env) {
    // 4b. A redrive. Shard 1 is missing when its mini-tree runs (NotFound), so the
    // execution fails and EventBridge's event gets error.json naming it. The
    // same bytes are uploaded again (moto's ETag is the MD5: the planned version),
    // the Map's failed item and the aggregator run again: the result is the
    // uninterrupted run's, and no successful shard's objects were written again.
    env.upload("rounds/redrive", &four_shards(), json!({}))
        .await;
    let uninterrupted = env.round("rounds/redrive", "run-u").await;
    let input = json!({ "bucket": BUCKET, "prefix": "rounds/redrive", "run": "run-r" });
    env.invoke("plan", &input).ok("plan");
    let shard1 = "rounds/redrive/shards/entry_16_2.csv";
    let planned_etag = env.etag(shard1).await;
    env.s3.delete(BUCKET, shard1).await.unwrap();
    let mini_tree = |i: u64| json!({ "bucket": BUCKET, "prefix": "rounds/redrive", "run": "run-r", "shard": i });
    for i in [0, 2, 3] {
        env.invoke("mini-tree", &mini_tree(i)).ok("mini-tree");
    }
    let (error_type, _) = env
        .invoke("mini-tree", &mini_tree(1))
        .err("missing shard 1");
    assert_eq!(error_type, "NotFound");
    let record = env
        .invoke(
            "aggregator",
            &failed_execution(
                "rounds/redrive",
                "run-r",
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            ),
        )
        .ok("failure handler");
    assert_eq!(
        (
            &record["step"],
            &record["shard"],
            &record["shard_key"],
            &record["error"]
        ),
        (
            &json!("mini-tree"),
            &json!(1),
            &json!(shard1),
            &json!("NotFound")
        )
    );
    let written = |i: u64| format!("rounds/redrive/runs/run-r/mini-trees/{i:06}.mst");
    let mut stamps = Vec::new();
    for i in [0, 2, 3] {
        stamps.push(env.last_modified(&written(i)).await);
    }
    // Object times have one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.put(shard1, four_shards()[1].1.clone()).await;
    assert_eq!(env.etag(shard1).await, planned_etag);
    env.invoke("mini-tree", &mini_tree(1))
        .ok("redriven mini-tree 1");
    let redriven = env.aggregate(&input, "redriven aggregator").await;
    let runless = |mut v: Value| {
        v["run"] = Value::Null;
        v["artifacts"] = Value::Null;
        // Build times differ; which shards were built does not.
        for s in v["build"]["shards"].as_array_mut().unwrap() {
            s["build_ms"] = Value::Null;
        }
        v["build"]["total_build_ms"] = Value::Null;
        v["build"]["max_build_ms"] = Value::Null;
        for i in v["inputs"].as_array_mut().unwrap() {
            i["mini_tree"] = Value::Null;
        }
        v
    };
    assert_eq!(runless(redriven.clone()), runless(uninterrupted.clone()));
    assert_eq!(redriven["run"], "run-r");
    assert!(env
        .get("rounds/redrive/runs/run-r/error.json")
        .await
        .is_none());
    assert!(env
        .get("rounds/redrive/runs/run-r/mini-trees/000001.error.json")
        .await
        .is_none());
    // A child run again although it had succeeded writes nothing.
    for i in 0..4 {
        env.invoke("mini-tree", &mini_tree(i)).ok("mini-tree again");
    }
    for (n, i) in [0, 2, 3].into_iter().enumerate() {
        assert_eq!(
            env.last_modified(&written(i)).await,
            stamps[n],
            "shard {i}'s mini-tree was written again"
        );
    }
}
