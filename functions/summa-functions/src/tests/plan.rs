//! `plan`: refused rounds, the size limit, what it reads of the shards, its output for 10,000 shards.

use super::*;

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
    let a = || vec![("a.csv", good.clone())];
    let other_header = b"username,balance_BTC_BTC\nalice,1\n".to_vec();
    let no_users = b"username,balance_ETH_ETH,balance_USDT_ETH\r\n\r\n".to_vec();
    let bad_header = b"name,balance_ETH_ETH\na,1\n".to_vec();
    let twice = ["rounds/r1/shards/a.csv", "rounds/r1/shards/a.csv"];
    // (shards, manifest, error type, what the message says)
    let cases = [
        (
            vec![("a.csv", good.clone()), ("b.csv", other_header)],
            serde_json::json!({}),
            "InvalidInput",
            "shard 1 (rounds/r1/shards/b.csv): rounds/r1/shards/b.csv:1: header differs from rounds/r1/shards/a.csv",
        ),
        (
            vec![("a.csv", good.clone()), ("b.csv", no_users)],
            serde_json::json!({}),
            "InvalidInput",
            "rounds/r1/shards/b.csv: no users",
        ),
        (
            vec![("a.csv", Vec::new())],
            serde_json::json!({}),
            "InvalidInput",
            "shard 0 (rounds/r1/shards/a.csv): rounds/r1/shards/a.csv: empty file",
        ),
        (
            vec![("a.csv", bad_header)],
            serde_json::json!({}),
            "InvalidInput",
            "rounds/r1/shards/a.csv:1: invalid header",
        ),
        (
            vec![("a.txt", good.clone())],
            serde_json::json!({}),
            "InvalidInput",
            "no shard",
        ),
        (
            a(),
            serde_json::json!({ "layot": "v1" }),
            "InvalidInput",
            "rounds/r1/round.json: invalid JSON: unknown field `layot`",
        ),
        (
            a(),
            serde_json::json!({ "n_bytes": 40 }),
            "InvalidInput",
            "n_bytes must be between 1 and 31",
        ),
        (
            a(),
            serde_json::json!({ "shards": [] }),
            "InvalidInput",
            "\"shards\" is empty",
        ),
        (
            a(),
            serde_json::json!({ "shards": twice }),
            "InvalidInput",
            "listed twice",
        ),
        (
            a(),
            serde_json::json!({ "shards": ["rounds/r1/shards/missing.csv"] }),
            "NotFound",
            "shard 0 (rounds/r1/shards/missing.csv): local://summa-rounds/rounds/r1/shards/missing.csv",
        ),
    ];
    for (shards, manifest, error_type, text) in cases {
        check(plan_err(&shards, manifest).await, error_type, text);
    }
    // No manifest at all.
    let round = Round::new();
    let e = round.plan().await.unwrap_err();
    check(e, "NotFound", "rounds/r1/round.json");
    let input = |prefix: &str, run: &str| RoundInput {
        bucket: BUCKET.into(),
        prefix: prefix.into(),
        run: run.into(),
    };
    // An empty prefix.
    let e = handlers::plan(&round.storage, input("/", RUN)).await;
    check(e.unwrap_err(), "InvalidInput", "prefix is empty");
    // A run id that is not one plain key segment.
    for bad in ["", "../x", "a/b", &"x".repeat(81)] {
        let e = handlers::plan(&round.storage, input(PREFIX, bad)).await;
        check(e.unwrap_err(), "InvalidInput", "is not a run id");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_only_the_head_of_big_shards() {
    // A long shard: the plan must still accept it (it reads 64 KiB), and a header
    // longer than the first read is read further.
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
    let round = Round::with_shards(&[("big.csv", long_shard(20_000))]).await;
    assert_eq!(round.plan().await.unwrap().shard_count, 1);
    let round = Round::with_shards(&[("wide.csv", wide)]).await;
    round.plan().await.unwrap();
    let plan: PlanFile = round.run_json("plan.json").await;
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
    let n = serde_json::to_vec(&out).unwrap().len();
    // The Map's input is this plus the execution input: it does not grow with
    // the shards (the items are in S3, read by the Map's ItemReader).
    assert!(n < 1024, "{n} bytes");
    let items = crate::handlers::read_items(&round.storage, &out)
        .await
        .unwrap();
    assert_eq!(items.len(), 10_000);
    for (i, item) in items.iter().enumerate() {
        let task = item.task.as_ref().expect("every item carries its task");
        assert_eq!(task.planned.key, format!("{PREFIX}/shards/s{i:05}.csv"));
        // One child's input: far below 256 KiB, whatever the round's size.
        let n = serde_json::to_vec(item).unwrap().len();
        assert!(n < 1024, "item {i}: {n} bytes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_reads_only_the_first_64_kib_of_a_shard() {
    let round = Round::with_shards(&[("big.csv", long_shard(50_000))]).await;
    let storage = Recording::new(round.storage.clone());
    handlers::plan(&storage, event("plan", "plan.json"))
        .await
        .unwrap();
    let reads: Vec<(String, u64, u64)> = storage
        .reads()
        .into_iter()
        .map(|r| (r.key, r.offset, r.len))
        .collect();
    assert_eq!(
        reads,
        [
            // Whether the run is planned already (it is not).
            (
                "rounds/r1/runs/r1-manual/plan.json".to_string(),
                0,
                u64::MAX
            ),
            ("rounds/r1/round.json".to_string(), 0, u64::MAX),
            ("rounds/r1/shards/big.csv".to_string(), 0, 0),
            ("rounds/r1/shards/big.csv".to_string(), 0, 64 << 10)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_rejects_a_shard_over_the_size_limit() {
    let round = Round::with_shards(&[("a.csv", fixture("entry_16_1.csv"))]).await;
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
        m.starts_with("plan: shard 1 (rounds/r1/shards/b.csv): rounds/r1/shards/b.csv: 268435457 bytes, more than the 268435456 bytes (256 MiB) a shard may have (MAX_SHARD_BYTES)"),
        "{m}"
    );
    assert!(m.contains("summa-agg split"), "{m}");
    assert!(round.get(&round.key("plan.json")).await.is_none());
    assert!(round.get(&round.key("items.json")).await.is_none());
}

#[test]
fn limits_follow_the_mini_tree_memory() {
    use crate::handlers::plan::{Limits, MAX_SHARD_BYTES, MINI_TREE_BYTES_PER_CSV_BYTE};
    let limits = |memory_mb: Option<&str>, max_shards: Option<&str>| {
        Limits::from_vars(|name| match name {
            "SUMMA_MINI_TREE_MEMORY_MB" => memory_mb.map(str::to_owned),
            "SUMMA_MAX_SHARDS" => max_shards.map(str::to_owned),
            _ => None,
        })
    };
    assert_eq!(limits(None, None).unwrap(), Limits::default());
    // 2,048 MB: 80% of it over the bytes a mini-tree needs per CSV byte.
    let l = limits(Some("2048"), Some("500")).unwrap();
    assert_eq!(
        l.max_shard_bytes,
        (2048 << 20) * 8 / 10 / MINI_TREE_BYTES_PER_CSV_BYTE
    );
    assert!(l.shard_bytes_reason.contains("MiniTreeMemorySize"));
    assert_eq!(l.max_shards, 500);
    // A memory that holds more than the code's ceiling keeps the ceiling.
    assert_eq!(
        limits(Some("10240"), None).unwrap().max_shard_bytes,
        MAX_SHARD_BYTES
    );
    let e = limits(Some("lots"), None).unwrap_err();
    assert!(
        e.to_string().contains("SUMMA_MINI_TREE_MEMORY_MB=\"lots\""),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_fails_a_round_over_its_limits_before_any_shard_is_built() {
    use crate::handlers::plan::{plan_within, Limits};
    let shards = [
        ("a.csv", fixture("entry_16_1.csv")),
        ("b.csv", fixture("entry_16_2.csv")),
        ("c.csv", fixture("entry_16_3.csv")),
    ];
    let round = Round::with_shards(&shards).await;
    let input = || crate::model::RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: round.run_id(),
    };
    // Too many shards: named, with the limit.
    let two = Limits {
        max_shards: 2,
        ..Limits::default()
    };
    let e = plan_within(&round.storage, input(), &two)
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(
        e.to_string().starts_with(
            "plan: rounds/r1/round.json: 3 shards, more than the 2 a round may have (max_shards"
        ),
        "{e}"
    );
    // A shard bigger than the mini-tree's memory holds.
    let small = Limits {
        max_shard_bytes: 100,
        shard_bytes_reason: "80% of the mini-tree function's memory",
        ..Limits::default()
    };
    let e = plan_within(&round.storage, input(), &small)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("more than the 100 bytes (0 MiB) a shard may have (80% of the mini-tree function's memory)"),
        "{e}"
    );
    // Nothing of the run was written.
    assert!(round.get(&round.key("plan.json")).await.is_none());
    assert!(round.get(&round.key("items.json")).await.is_none());
    // Within the limits, the same round plans.
    let fits = Limits {
        max_shards: 3,
        ..Limits::default()
    };
    assert_eq!(
        plan_within(&round.storage, input(), &fits)
            .await
            .unwrap()
            .shard_count,
        3
    );
}

/// A one-currency shard of `users` users, `user0,0` on.
fn long_shard(users: usize) -> Vec<u8> {
    let mut csv = b"username,balance_ETH_ETH\n".to_vec();
    for i in 0..users {
        csv.extend_from_slice(format!("user{i},{i}\n").as_bytes());
    }
    csv
}

/// A run is planned once: planned again, even after a shard changed, it keeps
/// its plan (the shards' pinned ETags) and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_planned_again_keeps_its_plan_and_writes_nothing() {
    let round = Round::with_shards(&[("a.csv", long_shard(10)), ("b.csv", long_shard(20))]).await;
    let first = round.plan().await.unwrap();
    let plan_json = round.get(&in_run(&round.run_id(), "plan.json")).await;
    round.put("rounds/r1/shards/b.csv", long_shard(30)).await;
    let recording = Recording::new(round.storage.clone());
    let input = RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: round.run_id(),
    };
    let again = handlers::plan(&recording, input).await.unwrap();
    assert_eq!(
        serde_json::to_value(&again).unwrap(),
        serde_json::to_value(&first).unwrap()
    );
    assert_eq!(recording.keys_put(), Vec::<String>::new(), "not even tried");
    assert_eq!(
        round.get(&in_run(&round.run_id(), "plan.json")).await,
        plan_json
    );
}
