//! `proof`: proofs verify, a bounded number of reads among 1,000 shards, the username index, ranged reads of remote files.

use super::*;

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
    let storage = Recording::new(round.storage.clone());
    for user in ["user0a", "user517b", "user999b"] {
        storage.reset();
        let p = handlers::proof(&storage, published_input(user))
            .await
            .unwrap();
        summa_agg::proof::verify_with_result(&p, &result).unwrap();
        summa_agg::proof::verify(&p, Some(&root)).unwrap();
        let reads = storage.keys_read();
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
            reads.iter().filter(|k| k.contains("/user-index/p")).count(),
            3
        );
    }
    // Unknown users cost the same bounded reads.
    storage.reset();
    let e = handlers::proof(&storage, published_input("nobody"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
    assert!(storage.keys_read().len() <= 8);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_with_many_index_partitions_finds_every_user() {
    use crate::handlers::plan::{plan_within, Limits};
    let round = Round::new();
    let shards = four_shards();
    round.upload(&shards, serde_json::json!({})).await;
    let run = round.next_run();
    // About 40 bytes of CSV per partition: the most partitions there can be for
    // these shards' bytes.
    let limits = Limits {
        index_partition_bytes: 40,
        ..Limits::default()
    };
    let plan = plan_within(&round.storage, round_input(&run), &limits)
        .await
        .unwrap();
    assert!(plan.index_bits >= 6, "{}", plan.index_bits);
    for i in 0..plan.shard_count {
        handlers::mini_tree(&round.storage, mini_tree_input(&run, i))
            .await
            .unwrap();
    }
    let result = round.aggregate().await.unwrap();
    assert_eq!(
        result.artifacts["user_index_bits"],
        plan.index_bits.to_string()
    );
    // Every partition was written; together they hold every user once.
    let mut users = 0;
    for p in 0..1u64 << plan.index_bits {
        let key = in_run(&run, &format!("user-index/p{p:05}.bin"));
        users += crate::index::records_in(&round.storage, BUCKET, &key)
            .await
            .unwrap();
    }
    assert_eq!(users, 64);
    // Each user's proof: found through its partition, verified against the root.
    for (i, (_, csv)) in shards.iter().enumerate() {
        let text = String::from_utf8(csv.clone()).unwrap();
        for line in text.lines().skip(1) {
            let user = line.split(',').next().unwrap();
            let p = handlers::proof(&round.storage, published_input(user))
                .await
                .unwrap();
            assert_eq!(p.mini_tree, i as u64, "{user}");
            summa_agg::proof::verify_with_result(&p, &result).unwrap();
        }
    }
}

/// A proof request for `user` against the published run, without a hint.
fn published_input(user: &str) -> ProofInput {
    ProofInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username: user.into(),
        run: None,
        shard: None,
    }
}
