//! `proof`: proofs verify; at most 10 requests and 1 MB among 1,000 shards and in 2^14-user shards; the username index and its partitions.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_with_and_without_a_hint() {
    let shards = unequal_shards();
    let round = Round::with_shards(&shards).await;
    let result = round.run().await.unwrap();
    let root = summa_agg::json::parse_fr(&result.root.hash, "root").unwrap();

    // The committed events: user dxGaEAii is in shard 0.
    for file in ["proof.json"] {
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
    // The published run, and the same run named.
    for run in [None, Some(round.run_id())] {
        let p = handlers::proof(
            &round.storage,
            ProofInput {
                run: run.clone(),
                ..published_input(user)
            },
        )
        .await
        .unwrap();
        assert_eq!(p, cli, "run {run:?}");
    }

    let e = handlers::proof(
        &round.storage,
        ProofInput {
            bucket: BUCKET.into(),
            prefix: PREFIX.into(),
            username: "nobody".into(),
            run: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
    assert!(
        e.to_string().contains("\"nobody\" is not in this round"),
        "{e}"
    );
    // A run that never ran.
    let e = handlers::proof(
        &round.storage,
        ProofInput {
            run: Some("no-such-run".into()),
            ..published_input(user)
        },
    )
    .await
    .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
    assert!(e.to_string().contains("has it finished?"), "{e}");
    let e = handlers::proof(
        &round.storage,
        ProofInput {
            bucket: BUCKET.into(),
            prefix: "rounds/none".into(),
            username: user.into(),
            run: None,
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
        assert_bounded_proof_reads(&storage, user);
    }
    // Unknown users cost the same bounded reads.
    storage.reset();
    let e = handlers::proof(&storage, published_input("nobody"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "NotFound");
    assert!(storage.keys_read().len() <= 3, "{:?}", storage.keys_read());
}

/// What a proof read, as the issue of proofs at scale bounds it: at most 10
/// requests and 1 MB, of the lookup file (the only whole read, of a file that
/// does not grow with the round), the user's index partition, the mini-tree's
/// aggregation path record and one mini-tree.
fn assert_bounded_proof_reads(storage: &Recording, user: &str) {
    let reads = storage.keys_read();
    let stats = storage.stats();
    eprintln!("proof of {user}: {stats:?}");
    assert!(stats.requests <= 10, "{user}: {stats:?} {reads:?}");
    assert!(stats.bytes_read <= 1_000_000, "{user}: {stats:?}");
    assert_eq!(stats.requests, reads.len() as u64, "{user}: only reads");
    let count = |f: &dyn Fn(&String) -> bool| reads.iter().filter(|k| f(k)).count();
    assert_eq!(count(&|k| k.ends_with("/lookup.json")), 1, "{reads:?}");
    assert_eq!(count(&|k| k.contains("/user-index/p")), 2, "{reads:?}");
    assert_eq!(
        count(&|k| k.ends_with("/aggregation-paths.bin")),
        1,
        "{reads:?}"
    );
    let mini_trees: HashSet<&String> = reads
        .iter()
        .filter(|k| k.ends_with(".mst") && k.contains("/mini-trees/"))
        .collect();
    assert_eq!(mini_trees.len(), 1, "{user}: {reads:?}");
    assert_eq!(count(&|k| k.ends_with(".mst")), 5, "{reads:?}");
    assert!(!reads
        .iter()
        .any(|k| k.ends_with("result.json") || k.ends_with("aggregation.mst")));
}

/// 2^14-user shards: a proof's reads do not grow with the shards' users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proof_among_2_14_user_shards_takes_at_most_10_requests_and_1_mb() {
    let n = 1usize << 14;
    let mut shards = Vec::new();
    for s in 0..3 {
        let mut csv = String::from("username,balance_ETH_ETH,balance_USDT_ETH\n");
        for u in 0..n - s {
            csv += &format!("s{s}u{u},{},{}\n", u % 1000, s + 1);
        }
        shards.push((format!("s{s}.csv"), csv.into_bytes()));
    }
    let round = Round::with_shards(&shards).await;
    let result = round.run().await.unwrap();
    let storage = Recording::new(round.storage.clone());
    for user in ["s0u0", "s1u8191", "s2u16380", "s0u16383", "s1u1"] {
        storage.reset();
        let p = handlers::proof(&storage, published_input(user))
            .await
            .unwrap();
        summa_agg::proof::verify_with_result(&p, &result).unwrap();
        assert_eq!(p.entry.username, user);
        assert_bounded_proof_reads(&storage, user);
    }
}

#[test]
fn username_index_finds_every_user_and_only_them() {
    // 3 shards: each user is found at its shard and entry.
    let keys = |names: &[&str]| -> crate::index::Keyed {
        names
            .iter()
            .enumerate()
            .map(|(e, n)| (crate::index::user_key(n.as_bytes()), e as u32))
            .collect()
    };
    let many: Vec<String> = (0..5000).map(|i| format!("u{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let file = crate::index::build(&[keys(&["ann", "bob"]), keys(&many), keys(&["cat"])]).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let round = Round::new();
    rt.block_on(async {
        round.put("ix", file).await;
        let find = |u: &'static str| {
            let s = round.storage.clone();
            async move { crate::index::lookup(&s, BUCKET, "ix", u).await.unwrap() }
        };
        assert_eq!(find("ann").await, [(0, 0)]);
        assert_eq!(find("bob").await, [(0, 1)]);
        assert_eq!(find("cat").await, [(2, 0)]);
        assert_eq!(find("u4321").await, [(1, 4321)]);
        assert!(find("dan").await.is_empty());
        // Not an index.
        round.put("ix", "not an index at all, no").await;
        let e = crate::index::lookup(&round.storage, BUCKET, "ix", "ann")
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), "Internal");
    });
    // A user in two shards: refused, naming both.
    let e = crate::index::build(&[keys(&["ann", "bob"]), keys(&many), keys(&["bob", "cat"])])
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(e.message.contains("in shards 0 and 2"), "{e}");
}

/// Index partitions: each holds only its keys, an empty one is a valid file,
/// and a user of the last partition is found there.
#[test]
fn index_partitions_hold_their_keys_only() {
    use crate::index::{build_partition, partition_of, user_key};
    let bits = 3;
    let names: Vec<String> = (0..400).map(|i| format!("user{i}")).collect();
    let part_of = |p: u64, shard: usize| -> crate::index::Keyed {
        names
            .iter()
            .enumerate()
            .filter(|(i, n)| i % 2 == shard && partition_of(n.as_bytes(), bits) == p)
            .map(|(i, n)| (user_key(n.as_bytes()), i as u32))
            .collect()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let round = Round::new();
    let mut total = 0;
    for p in 0..1u64 << bits {
        let (file, n) = build_partition(&[part_of(p, 0), part_of(p, 1)], bits, p).unwrap();
        total += n;
        rt.block_on(round.put(&format!("p{p}"), file));
    }
    assert_eq!(total, 400);
    let last = names
        .iter()
        .position(|n| partition_of(n.as_bytes(), bits) == 7)
        .unwrap();
    rt.block_on(async {
        let found = crate::index::lookup(&round.storage, BUCKET, "p7", &names[last])
            .await
            .unwrap();
        assert_eq!(found, [((last % 2) as u64, last as u64)]);
        // Asked of another partition: that file is not the user's.
        let e = crate::index::lookup(&round.storage, BUCKET, "p0", &names[last])
            .await
            .unwrap_err();
        assert!(e.message.contains("partition is another"), "{e}");
    });
    // An empty partition.
    let (file, n) = build_partition(&[Vec::new(), Vec::new()], bits, 5).unwrap();
    assert_eq!(n, 0);
    rt.block_on(async {
        round.put("empty", file).await;
        // A name of partition 5, not there.
        let absent = (0..)
            .map(|i| format!("x{i}"))
            .find(|n| partition_of(n.as_bytes(), bits) == 5)
            .unwrap();
        assert!(
            crate::index::lookup(&round.storage, BUCKET, "empty", &absent)
                .await
                .unwrap()
                .is_empty()
        );
    });
    // A key of another partition is refused.
    assert!(build_partition(&[part_of(1, 0)], bits, 2).is_err());
}

/// An index whose header claims 2^64 - 1 records and whose bucket spans them:
/// the offsets of the ranged reads overflowed (a panic in debug builds, a read
/// at a wrapped offset in release). Found by the fuzzer (target `tree_file`).
#[test]
fn fuzz_an_index_claiming_too_many_records_is_an_error() {
    let mut file = b"SUMMA-IX".to_vec();
    file.extend_from_slice(&2u32.to_le_bytes()); // version
    file.extend_from_slice(&0u32.to_le_bytes()); // bits: one partition
    file.extend_from_slice(&0u64.to_le_bytes()); // partition
    file.extend_from_slice(&u64::MAX.to_le_bytes()); // n
    file.extend_from_slice(&0u64.to_le_bytes()); // table[0]
    file.resize(file.len() + 8 * crate::index::BUCKETS as usize, 0xff); // the rest
    let rt = tokio::runtime::Runtime::new().unwrap();
    let round = Round::new();
    rt.block_on(async {
        round.put("ix", file).await;
        let e = crate::index::lookup(&round.storage, BUCKET, "ix", "ann")
            .await
            .unwrap_err();
        assert_eq!(e.error_type(), "Internal");
        assert!(e.message.contains("implausible header"), "{e}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_with_many_index_partitions_finds_every_user() {
    use crate::handlers::plan::{plan_within, Limits};
    let shards = four_shards();
    let round = Round::with_shards(&shards).await;
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

/// A proof request for `user` against the published run.
fn published_input(user: &str) -> ProofInput {
    ProofInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username: user.into(),
        run: None,
    }
}
