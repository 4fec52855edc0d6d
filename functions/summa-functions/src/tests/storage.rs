//! The storage adapters: the local directory's listing and key checks, and what each step reads.

use super::*;

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
