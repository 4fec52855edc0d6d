//! `summa-agg step`: the state machine's steps one process each over a local
//! directory, as an operator (or the scale probe) runs them.

use super::*;

/// Runs `step NAME` on `event` over `dir`: its output JSON and its `--stats`.
fn step(
    dir: &Path,
    name: &str,
    event: &serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    let work = tempfile::tempdir().unwrap();
    let e = write_json(work.path(), "event.json", event);
    let o = summa(&[
        "step",
        name,
        "--event",
        &e,
        "--dir",
        dir.to_str().unwrap(),
        "--stats",
    ]);
    assert!(o.status.success(), "step {name}: {}", said(&o));
    let stats: serde_json::Value =
        serde_json::from_str(stderr(&o).lines().last().unwrap()).unwrap();
    (last_json_line(&o), stats["storage"].clone())
}

#[test]
fn a_round_one_step_per_process_gives_the_clis_root() {
    let dir = tempfile::tempdir().unwrap();
    four_shards_in(&dir.path().join("b/rounds/r1/shards"));
    std::fs::write(dir.path().join("b/rounds/r1/round.json"), "{}").unwrap();
    let round = serde_json::json!({ "bucket": "b", "prefix": "rounds/r1", "run": "run-1" });
    let (plan, stats) = step(dir.path(), "plan", &round);
    assert_eq!(plan["shard_count"], 4);
    assert!(stats["requests"].as_u64().unwrap() >= 5, "{stats}");
    let read = |key: &serde_json::Value| -> Vec<serde_json::Value> {
        let path = dir.path().join("b").join(key.as_str().unwrap());
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    for item in read(&plan["items_key"]) {
        let (out, stats) = step(dir.path(), "mini-tree", &item);
        assert_eq!(out["shard"], item["shard"]);
        assert!(stats["bytes_written"].as_u64().unwrap() > 0, "{stats}");
        // The shard streamed in full is counted as read.
        let size = item["task"]["planned"]["size"].as_u64().unwrap();
        assert!(stats["bytes_read"].as_u64().unwrap() >= size, "{stats}");
    }
    for item in read(&plan["index_items_key"]) {
        let (out, _) = step(dir.path(), "aggregator", &item);
        assert_eq!(out["users"], 64);
    }
    let (brief, _) = step(dir.path(), "aggregator", &round);
    assert_eq!(brief["root"]["hash"], V1_ROOT_64);
    assert_eq!(brief["result_key"], "rounds/r1/runs/run-1/result.json");
    assert_eq!(brief["inputs"], serde_json::json!([]));
    assert!(dir.path().join("b/rounds/r1/result.json").is_file());
}

#[test]
fn a_failed_step_says_why_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let work = tempfile::tempdir().unwrap();
    let e = write_json(
        work.path(),
        "event.json",
        &serde_json::json!({ "bucket": "b", "prefix": "rounds/none", "run": "run-1" }),
    );
    let o = summa(&[
        "step",
        "plan",
        "--event",
        &e,
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "{}", said(&o));
    assert_stderr_has(&o, "rounds/none/round.json");
    let o = summa(&[
        "step",
        "plan",
        "--event",
        "/nonexistent.json",
        "--dir",
        dir.path().to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "/nonexistent.json");
}
