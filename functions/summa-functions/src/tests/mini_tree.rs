//! `mini-tree`: a bad shard, a timed-out one, idempotence, summaries that must match the plan, a shard replaced after the plan, the deadline record, re-using a previous round's mini-trees.

use super::*;

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
    for i in 0..plan.shard_count {
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
    // Neither does the username index's partition.
    let index = round.aggregate().await.unwrap_err();
    assert_eq!(index.error_type(), "NotFound");
    assert!(
        index
            .to_string()
            .starts_with("user-index: shard 2 has no hashed usernames"),
        "{index}"
    );
    let agg = handlers::aggregator(&round.storage, aggregate_input(&round.run_id()))
        .await
        .unwrap_err();
    assert_eq!(agg.error_type(), "NotFound");
    assert!(agg.to_string().starts_with("aggregator: "), "{agg}");
    assert!(round.get(&round.key("result.json")).await.is_none());
    let published: RoundResult =
        serde_json::from_slice(&round.get("rounds/r1/result.json").await.unwrap()).unwrap();
    assert_eq!(published, good);

    // In AWS the Distributed Map fails with its own error, which names no shard:
    // the shard's error record does (this run's; written from the error's fields).
    let shard_record: ErrorRecord = round.run_json("mini-trees/000002.error.json").await;
    assert_eq!(shard_record, ErrorRecord::of(&e, Some(&run)));
    let record = round.map_failed().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_out_shard_is_recorded_by_name() {
    let round = Round::with_shards(&four_shards()).await;
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
    assert_shard_record(
        &shard,
        1,
        "rounds/r1/shards/entry_16_2.csv",
        "Sandbox.Timedout",
    );
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
    let record = round.map_failed().await;
    assert_eq!(record, shard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mini_tree_is_idempotent() {
    let round = Round::with_shards(&four_shards()).await;
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
async fn summaries_must_match_the_plan_in_every_field() {
    let round = Round::with_shards(&four_shards()).await;
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
    // The run aggregated, its own result is published as it is: forget it, so
    // that each aggregation below checks the summaries again.
    round
        .storage
        .delete(BUCKET, &round.key("result.json"))
        .await
        .unwrap();
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
    let round = Round::with_shards(&four_shards()).await;
    let run = round.next_run();
    round.plan().await.unwrap();
    round.mini_tree(0).await.unwrap();
    // Shard 1 is replaced (same header, other users) between plan and mini-tree.
    let text = String::from_utf8(fixture("entry_16_4.csv")).unwrap();
    let mut lines = text.lines();
    let mut other = format!("{}\n", lines.next().unwrap());
    for line in lines {
        other += &format!("z{line}\n");
    }
    round
        .put("rounds/r1/shards/entry_16_2.csv", other.clone())
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
    let record = round.map_failed().await;
    assert_eq!(record.shard, Some(1));
    assert_eq!(record.run.as_deref(), Some(run.as_str()));
    assert!(record.cause.contains("changed since the round was planned"));
    assert!(round.get("rounds/r1/result.json").await.is_none());
    // A new run plans the new version and succeeds.
    let r = round.run().await.unwrap();
    assert_ne!(r.root.hash, ENTRY_64_V1_ROOT);
    assert_eq!(
        r.inputs[1].sha256,
        hex::encode(summa_agg::round::sha256(other.as_bytes()))
    );
}

/// A mini-tree still running close to its Lambda deadline records itself as
/// timed out, naming the shard; the failure handler then names it. One that
/// still finishes deletes the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mini_tree_near_its_deadline_records_its_shard() {
    let round = Round::with_shards(&four_shards()).await;
    let s = Recording::new(round.storage.clone());
    handlers::plan(&s, event("plan", "plan.json"))
        .await
        .unwrap();
    for i in [0, 1, 3] {
        handlers::mini_tree(&s, mini_tree_input(RUN, i))
            .await
            .unwrap();
    }
    // Shard 2's read never ends: Lambda would kill it at the deadline.
    s.on_open(&format!("{PREFIX}/shards/entry_16_3.csv"), Fault::Hang);
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
    assert_shard_record(
        &shard,
        2,
        "rounds/r1/shards/entry_16_3.csv",
        "States.Timeout",
    );
    // The Map fails; the failure handler names the shard.
    let r = failure_of_payload(&s, event("aggregator", "execution-failed.json")).await;
    assert_eq!(r, shard);

    // The retry (or a redrive) finishes in time: the record goes away.
    s.clear_on_open();
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
    index_run(&s, RUN).await;
    let result = aggregate_run(&s, RUN).await;
    assert_eq!(result.root.hash, ENTRY_64_V1_ROOT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_previous_round_reuses_unchanged_mini_trees() {
    let round = Round::with_shards(&four_shards()).await;
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
        .manifest(serde_json::json!({ "previous": PREFIX }))
        .await;
    let run = round.next_run();
    let plan = round.plan().await.unwrap();
    let reused: Vec<bool> = {
        let mut v = Vec::new();
        for i in 0..plan.shard_count {
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
    let round = Round::with_shards(&four_shards()).await;
    round.run().await.unwrap();
    let first_run = round.run_id();

    // Another layout: nothing re-used, and the plan says why.
    round
        .manifest(serde_json::json!({ "previous": PREFIX, "layout": "legacy" }))
        .await;
    let result = round.run().await.unwrap();
    assert_eq!(result.reused_mini_trees, 0);
    assert_eq!(result.previous, None);
    let plan: PlanFile = round.run_json("plan.json").await;
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
        .manifest(serde_json::json!({ "previous": PREFIX }))
        .await;
    let result = round.run().await.unwrap();
    assert_eq!(result.reused_mini_trees, 3);
    assert_eq!(result.root.hash, ENTRY_64_V1_ROOT);
    let s: ShardSummary = round.run_json("mini-trees/000001.json").await;
    assert_eq!(s.reused_from, None);
}

#[test]
fn a_manifest_previous_must_be_a_prefix() {
    let e = Manifest::parse(br#"{"previous": ""}"#, "P/round.json").unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(Manifest::parse(br#"{"previous": "rounds/r0"}"#, "P/round.json").is_ok());
}
