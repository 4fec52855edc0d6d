//! `aggregator`: failure mode (the event fixtures, the EventBridge event) and a redriven round.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failure_mode_from_the_event_fixtures() {
    let round = Round::new();
    let input: AggregatorInput = event("aggregator", "failure.json");
    assert_eq!(input.run, RUN);
    let record = failure_of(&round.storage, input).await;
    // No shard record in this run: the step comes from the state machine, the
    // cause from the Lambda error payload; the shard is not parsed out of it.
    assert_record(&record, "mini-tree", "InvalidInput", "mini-tree: shard 2 ");
    assert!(record.cause.starts_with("mini-tree: "), "{record:?}");
    assert_eq!(record.shard, None);
    assert!(round.get(&in_run(RUN, "error.json")).await.is_some());
    assert!(round.get("rounds/r1/error.json").await.is_some());
    assert!(round.get("rounds/r1/result.json").await.is_none());

    let input: AggregatorInput = event("aggregator", "failure-map.json");
    let record = failure_of(&round.storage, input).await;
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
        index: None,
    };
    let r = failure_of(&round.storage, input).await;
    // The step, not given, comes from the run's artifacts: it has no plan.
    assert_eq!(
        (r.error.as_str(), r.cause.as_str(), r.step.as_deref()),
        ("Unknown", "", Some("plan"))
    );
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
    let s = Recording::new(round.storage.clone());
    let plan = handlers::plan(&s, event("plan", "plan.json"))
        .await
        .unwrap();
    assert_eq!(plan.run, RUN);
    let shard_key = |i: usize| format!("{PREFIX}/shards/entry_16_{}.csv", i + 1);
    for i in [1, 3] {
        s.on_open(&shard_key(i), Fault::SLOW_DOWN);
    }
    let mut failed = Vec::new();
    for i in 0..plan.shard_count {
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
    let record = failure_of_payload(&s, event("aggregator", "execution-failed.json")).await;
    assert_eq!(record.run.as_deref(), Some(RUN));
    assert_shard_record(&record, 1, &shard_key(1), "Throttled");
    assert!(record.cause.contains("SlowDown"), "{}", record.cause);
    for key in [in_run(RUN, "error.json"), format!("{PREFIX}/error.json")] {
        let stored: ErrorRecord = serde_json::from_slice(&round.get(&key).await.unwrap()).unwrap();
        assert_eq!(stored, record, "{key}");
    }
    assert!(round.get(&in_run(RUN, "result.json")).await.is_none());
    assert_eq!(published(&round).await, uninterrupted, "nothing published");

    // The throttling is over; the operator redrives. The Map re-runs its
    // failed child executions only, then Aggregate runs.
    s.clear_on_open();
    let before = s.keys_put().len();
    for &i in &failed {
        handlers::mini_tree(&s, mini_tree_input(RUN, i))
            .await
            .unwrap();
    }
    index_run(&s, RUN).await;
    let redriven = aggregate_run(&s, RUN).await;
    assert_eq!(redriven.run.as_deref(), Some(RUN));
    assert_eq!(runless(redriven.clone()), runless(uninterrupted.clone()));
    assert_eq!(published(&round).await, redriven);
    // Every shard's artifacts were written exactly once in this run; the
    // redrive wrote only the failed shards' (3 objects each) and the
    // aggregator's (tree, paths, index, result, lookup, P/result.json,
    // P/lookup.json).
    for i in 0..4 {
        for ext in ["mst", "names", "json"] {
            assert_eq!(
                puts_of(&s, &in_run(RUN, &format!("mini-trees/{i:06}.{ext}"))),
                1,
                "shard {i} .{ext}"
            );
        }
    }
    assert_eq!(s.keys_put().len() - before, 2 * 3 + 7);
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
    let before = s.keys_put().len();
    for i in 0..plan.shard_count {
        let out = handlers::mini_tree(&s, mini_tree_input(RUN, i))
            .await
            .unwrap();
        assert_eq!(
            out.mini_tree_key,
            in_run(RUN, &format!("mini-trees/{i:06}.mst"))
        );
        assert_eq!(out.entries, 16);
    }
    assert_eq!(s.keys_put().len(), before, "a successful shard was rebuilt");
}

/// The failure handler's input is the event EventBridge delivers; the step
/// comes from the run's artifacts, the shard from the functions' records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_failure_handler_takes_the_eventbridge_event() {
    let round = Round::with_shards(&four_shards()).await;
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
    let r = failure_of_payload(
        &round.storage,
        execution_event("FAILED", Some("InvalidInput"), Some(cause)),
    )
    .await;
    assert_eq!(r.step.as_deref(), Some("plan"));
    assert_eq!(r.error, "InvalidInput");
    assert_eq!(
        r.cause,
        "plan: rounds/r1/shards/entry_16_2.csv: header differs"
    );
    // Every mini-tree built, the index not: step user-index.
    handlers::plan(&round.storage, event("plan", "plan.json"))
        .await
        .unwrap();
    for i in 0..4 {
        handlers::mini_tree(&round.storage, mini_tree_input(RUN, i))
            .await
            .unwrap();
    }
    let storage_failure = || async {
        let r = failure_of_payload(
            &round.storage,
            execution_event("FAILED", Some("StorageError"), Some("put failed")),
        )
        .await;
        (r.step, r.shard, r.error)
    };
    assert_eq!(
        storage_failure().await,
        (
            Some("user-index".to_string()),
            None,
            "StorageError".to_string()
        )
    );
    // The index built too, the aggregator failed: step aggregator.
    index_run(&round.storage, RUN).await;
    assert_eq!(
        storage_failure().await,
        (
            Some("aggregator".to_string()),
            None,
            "StorageError".to_string()
        )
    );
    // A timed-out execution without an error name.
    let r = failure_of_payload(&round.storage, execution_event("TIMED_OUT", None, None)).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aggregator_response_does_not_grow_with_the_shards() {
    // 1,100 shards: their RoundResult is about 500 KB, over the 256 KiB a state
    // may carry; the function's response is the result without its per-shard
    // lists, and the key of the whole one.
    let shards: Vec<(String, Vec<u8>)> = (0..1100)
        .map(|i| {
            (
                format!("s{i:05}.csv"),
                format!("username,balance_ETH_ETH\nu{i},{i}\n").into_bytes(),
            )
        })
        .collect();
    let round = Round::with_shards(&shards).await;
    let result = round.run().await.unwrap();
    assert_eq!(result.inputs.len(), 1100);
    let whole = serde_json::to_vec(&result).unwrap().len();
    assert!(whole > 256 * 1024, "{whole} bytes");
    // The aggregator again on the same run (a retry): the same result, answered
    // in brief.
    let out = handlers::aggregator(&round.storage, aggregate_input(&round.run_id()))
        .await
        .unwrap();
    let brief = serde_json::to_vec(&out).unwrap();
    assert!(brief.len() < 2048, "{} bytes", brief.len());
    let brief: crate::model::Aggregated = serde_json::from_slice(&brief).unwrap();
    assert_eq!(brief.result_key, in_run(&round.run_id(), "result.json"));
    assert_eq!(brief.result.root, result.root);
    assert_eq!(brief.result.entries, 1100);
    assert!(brief.result.inputs.is_empty());
    let stored: RoundResult =
        serde_json::from_slice(&round.get(&brief.result_key).await.unwrap()).unwrap();
    assert_eq!(stored, result);
}

/// The fault campaign's schedule 17779660883778219103 (seed 30, an aggregator run
/// twice in turn; `FAULT_SCHEDULE=17779660883778219103 cargo test -p
/// summa-functions --test fault_campaign`): the second aggregator rewrote
/// `aggregation.mst`, `aggregation-paths.bin` and the run's `result.json` and
/// `lookup.json` after the first had published `P/result.json`, which names them.
/// Now an aggregated run is published as it is: nothing is written but the two
/// published files (which `publish` leaves as they are when they hold the run),
/// and `P/result.json` is the last write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregated_run_is_published_again_without_writing_its_files() {
    let round = Round::with_shards(&four_shards()).await;
    let counted = Counting::new(round.storage.clone());
    let first = round.run().await.unwrap();
    let run = round.run_id();
    let again = result_of(
        handlers::aggregator(&counted, aggregate_input(&run))
            .await
            .unwrap(),
    );
    assert_eq!(again, first);
    let run_dir = in_run(&run, "");
    let written: Vec<String> = counted
        .keys_put()
        .into_iter()
        .filter(|k| k.starts_with(&run_dir))
        .collect();
    assert_eq!(written, Vec::<String>::new());
    // Published last: P/lookup.json, then P/result.json, when they are written.
    round
        .storage
        .delete(BUCKET, &format!("{PREFIX}/result.json"))
        .await
        .unwrap();
    round
        .storage
        .delete(BUCKET, &format!("{PREFIX}/lookup.json"))
        .await
        .unwrap();
    counted.reset();
    handlers::aggregator(&counted, aggregate_input(&run))
        .await
        .unwrap();
    assert_eq!(
        counted.keys_put(),
        [
            format!("{PREFIX}/lookup.json"),
            format!("{PREFIX}/result.json")
        ]
    );
}
