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
    let round = Round::with_shards(&unequal_shards()).await;
    round.run().await.unwrap();
    let storage = Recording::new(round.storage.clone());
    let run = round.run_id();
    let set = |keys: &[&str]| -> std::collections::BTreeSet<String> {
        keys.iter()
            .map(|k| match k.strip_prefix('/') {
                Some(top) => format!("{PREFIX}/{top}"),
                None => in_run(&run, k),
            })
            .collect()
    };

    // A proof: the published lookup file, the user's index partition, the
    // mini-tree's aggregation path and that mini-tree only.
    let text = String::from_utf8(unequal_shards()[2].1.clone()).unwrap();
    let user = text.lines().nth(3).unwrap().split(',').next().unwrap();
    let input = ProofInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username: user.into(),
        run: None,
    };
    let p = handlers::proof(&storage, input).await.unwrap();
    assert_eq!(p.mini_tree, 2);
    assert_eq!(
        keys_read(&storage),
        set(&[
            "/lookup.json",
            "aggregation-paths.bin",
            "user-index/p00000.bin",
            "mini-trees/000002.mst"
        ])
    );

    // A second aggregation of the run publishes what the first wrote: it reads
    // the plan, the run's result and lookup files, and the published ones (to
    // publish over them); no summary, no index, no tree file.
    storage.reset();
    let input = AggregatorInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.clone(),
        failure: None,
        failed_step: None,
        shard: None,
        index: None,
    };
    handlers::aggregator(&storage, input.clone()).await.unwrap();
    let published = [
        "plan.json",
        "result.json",
        "/result.json",
        "lookup.json",
        "/lookup.json",
    ];
    assert_eq!(keys_read(&storage), set(&published));

    // Its result lost (not both of its files there), the aggregator builds again:
    // the plan, the summaries and hashed usernames, the run's result (written
    // once: it must find the same bytes) and the published files, not the .mst
    // files.
    let result_key = format!("{PREFIX}/runs/{run}/result.json");
    storage.delete(BUCKET, &result_key).await.unwrap();
    storage.reset();
    handlers::aggregator(&storage, input).await.unwrap();
    let mut expected: Vec<String> = published.iter().map(|k| k.to_string()).collect();
    // The summaries and the username index's partition headers (the names
    // are the index partitions' to read).
    for i in 0..4 {
        expected.push(format!("mini-trees/{i:06}.json"));
    }
    expected.push("user-index/p00000.bin".to_string());
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    assert_eq!(keys_read(&storage), set(&expected));
}

/// The storage contract every adapter keeps (S3's is checked against moto in
/// `tests/local_lambda/`): missing objects, ranged reads past the end,
/// conditional writes, If-Match reads, copies, idempotent deletes, listing in key
/// order.
async fn storage_contract(s: &impl Storage) {
    use tokio::io::AsyncReadExt;
    let missing = s.get(BUCKET, "c/none").await.unwrap_err();
    assert_eq!(missing.kind, crate::StoreErrorKind::NotFound, "{missing}");
    s.put(BUCKET, "c/b", Bytes::from_static(b"hello"), "text/plain")
        .await
        .unwrap();
    assert_eq!(s.get(BUCKET, "c/b").await.unwrap(), b"hello");
    assert_eq!(s.get_range(BUCKET, "c/b", 1, 3).await.unwrap(), b"ell");
    assert_eq!(s.get_range(BUCKET, "c/b", 3, 10).await.unwrap(), b"lo");
    assert!(s.get_range(BUCKET, "c/b", 5, 1).await.unwrap().is_empty());
    assert_eq!(s.size(BUCKET, "c/b").await.unwrap(), 5);
    let info = s.head(BUCKET, "c/b").await.unwrap();
    let (bytes, etag) = s.get_with_etag(BUCKET, "c/b").await.unwrap();
    assert_eq!((bytes.as_slice(), &etag), (&b"hello"[..], &info.etag));
    let mut body = Vec::new();
    s.open_if_match(BUCKET, "c/b", &etag)
        .await
        .unwrap()
        .read_to_end(&mut body)
        .await
        .unwrap();
    assert_eq!(body, b"hello");
    let absent = crate::PutCondition::Absent;
    let text =
        |body: &'static [u8]| crate::storage::Put::new(Bytes::from_static(body), "text/plain");
    let e = s
        .write(BUCKET, "c/b", text(b"x").when(absent.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, crate::StoreErrorKind::Changed, "{e}");
    s.write(BUCKET, "c/a", text(b"a").when(absent))
        .await
        .unwrap();
    let stale = crate::PutCondition::Matches("\"not-the-etag\"".into());
    let e = s
        .write(BUCKET, "c/b", text(b"x").when(stale))
        .await
        .unwrap_err();
    assert_eq!(e.kind, crate::StoreErrorKind::Changed, "{e}");
    let current = crate::PutCondition::Matches(etag.clone());
    s.write(BUCKET, "c/b", text(b"bye").when(current))
        .await
        .unwrap();
    let e = s.open_if_match(BUCKET, "c/b", &etag).await.err().unwrap();
    assert_eq!(e.kind, crate::StoreErrorKind::Changed, "{e}");
    s.copy(BUCKET, "c/b", "c/c").await.unwrap();
    assert_eq!(s.get(BUCKET, "c/c").await.unwrap(), b"bye");
    assert_eq!(s.list(BUCKET, "c/").await.unwrap(), ["c/a", "c/b", "c/c"]);
    s.delete(BUCKET, "c/a").await.unwrap();
    s.delete(BUCKET, "c/a").await.unwrap();
    assert_eq!(s.list(BUCKET, "c/").await.unwrap(), ["c/b", "c/c"]);
}

#[tokio::test]
async fn local_and_memory_storage_keep_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    storage_contract(&LocalStorage::new(dir.path())).await;
    storage_contract(&crate::MemoryStorage::default()).await;
}

/// The round driver over the in-memory adapter gives the local directory's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_in_memory_equals_one_on_a_directory() {
    let round = Round::with_shards(&unequal_shards()).await;
    let on_disk = round.run().await.unwrap();
    let memory = crate::MemoryStorage::default();
    for (name, csv) in unequal_shards() {
        memory.insert(BUCKET, &format!("{PREFIX}/shards/{name}"), csv);
    }
    memory.insert(BUCKET, &format!("{PREFIX}/round.json"), b"{}".to_vec());
    let input = RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: on_disk.run.clone().unwrap(),
    };
    let in_memory = crate::round::run(&memory, input, 4, &|_| {})
        .await
        .unwrap()
        .result;
    assert_eq!(in_memory.root, on_disk.root);
    assert_eq!(without_artifacts(in_memory), without_artifacts(on_disk));
}
