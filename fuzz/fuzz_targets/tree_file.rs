//! The binary tree files (`.mst` mini-trees, `aggregation.mst`), read as the
//! library and the functions read them: whole (`TreeFile` over bytes), through the
//! ranged reads of the functions (`remote::FetchedRanges`), the username index, the
//! aggregation paths file, and the `proof` function's whole path (over an object
//! store, in ranged reads).
//!
//! Modes (first byte): one raw file; a raw aggregation + mini-tree pair and a
//! username; a round built by the library whose files may be changed by a few
//! byte flips; a raw username index.
//!
//! Contract: whatever the bytes, errors and no panic; what is read satisfies the
//! format's invariants (level sizes, zero nodes past the real ones, a mini-tree's
//! summary hashes to its root by the reference Poseidon); the three readers give
//! the same answers; the untouched files of a round give back every node, name
//! and summary the engine built, and proofs that reach the reference root; proofs
//! from changed files never verify for another entry than the user's.

#![no_main]

use libfuzzer_sys::fuzz_target;
use summa_agg::format::{summary_of, ReadAt, TreeFile};
use summa_agg::proof;
use summa_agg_fuzz::rounds::{self, Round};
use summa_agg_fuzz::{oracle, runtime, Input};
use summa_functions::index;
use summa_functions::model::{LookupFile, ProofInput, RunKeys};
use summa_functions::remote::FetchedRanges;
use summa_functions::storage::MemoryStorage as Memory;

const MAX_ROUNDS: usize = 64;

/// Reads through `FetchedRanges` as `FetchedRanges::read_with` does, fetching each missing
/// range (at least `block` bytes) and reading again; `None` if still reading after
/// `MAX_ROUNDS`. (`read` may swallow a failed read: any miss means again.)
fn with_sparse<T>(
    bytes: &[u8],
    block: u64,
    mut read: impl FnMut(&FetchedRanges) -> summa_agg::Result<T>,
) -> Option<summa_agg::Result<T>> {
    let size = bytes.len() as u64;
    let mut s = FetchedRanges::new(size);
    for _ in 0..MAX_ROUNDS {
        let r = read(&s);
        match s.take_missing() {
            Some((off, len)) => {
                let start = off.min(size);
                let end = off.saturating_add((len as u64).max(block)).min(size);
                s.add(off, bytes[start as usize..end as usize].to_vec());
            }
            None => return Some(r),
        }
    }
    None
}

/// A file of the in-memory store.
fn stored(mem: &Memory, key: &str) -> Vec<u8> {
    runtime()
        .block_on(summa_functions::StorageRead::get(mem, "b", key))
        .expect("the object is there")
}

fn levels_in(f: &TreeFile<impl ReadAt>, l: usize) -> u64 {
    f.count.div_ceil(1u64 << l)
}

/// Everything a reader of a tree file can ask, with the format's invariants.
fn exercise<R: ReadAt>(f: &TreeFile<R>, inp: &mut Input<'_>) {
    let n_currencies = f.currencies.len();
    assert!(f.count >= 1);
    assert_eq!(f.depth, oracle::depth_of(f.count));
    assert!(f.base + f.depth <= 63);
    let root = f.root();
    if let Ok(r) = &root {
        assert_eq!(r.balances.len(), n_currencies);
    }
    for l in 0..=f.depth as usize {
        if let Ok(level) = f.level(l) {
            assert_eq!(level.len() as u64, levels_in(f, l));
            if let (true, Ok(r)) = (l == f.depth as usize, &root) {
                assert_eq!(&level[0], r);
            }
        }
    }
    assert!(f.nodes(f.depth as usize + 1, 0, 1).is_err());
    for _ in 0..3 {
        let l = inp.u8() as usize % (f.depth as usize + 1);
        let first = inp.u32() as u64;
        let n = (inp.u8() % 4) as u64;
        if let Ok(nodes) = f.nodes(l, first, n) {
            assert_eq!(nodes.len() as u64, n);
            for (k, node) in nodes.iter().enumerate() {
                if first + k as u64 >= levels_in(f, l) {
                    assert_eq!(*node, f.zeros().node(f.base + l as u32));
                }
            }
        }
    }
    if f.is_aggregation() {
        assert!(f.username(0).is_err() && f.find(b"x").is_err());
        assert!(summary_of(f, "x").is_err());
        if let Ok(shards) = f.shards() {
            assert_eq!(shards.len() as u64, f.count);
        }
    } else {
        assert!(f.shards().is_err());
        assert!(f.username(f.count).is_err());
        for _ in 0..2 {
            let i = inp.u32() as u64 % f.count;
            if let Ok(name) = f.username(i) {
                if let Ok(Some(j)) = f.find(&name) {
                    assert_eq!(f.username(j).unwrap(), name);
                }
            }
        }
        let probe = inp.part();
        if let Ok(Some(j)) = f.find(probe) {
            assert_eq!(f.username(j).unwrap(), probe);
        }
        if let Ok(s) = summary_of(f, "x") {
            if n_currencies <= oracle::MAX_ORACLE_CURRENCIES {
                assert_eq!(oracle::summary_ok(&f.params, n_currencies, &s), Some(true));
            }
        }
    }
}

/// What the three readers must agree on: the header, the root, the summary.
fn digest<R: ReadAt>(f: &TreeFile<R>) -> String {
    let root = f.root().map(|r| format!("{r:?}")).unwrap_or_default();
    let summary = summary_of(f, "x")
        .map(|s| format!("{s:?}"))
        .unwrap_or_default();
    format!("{f:?} {:?} {root} {summary}", f.currencies)
}

fn raw_file(inp: &mut Input<'_>) {
    let block = 1 + inp.u16() as u64;
    let bytes = inp.part();
    let whole = TreeFile::open(bytes.to_vec(), "f.mst");
    if let Ok(f) = &whole {
        exercise(f, &mut inp.clone());
    }
    let want = whole.as_ref().map(digest).ok();
    let sparse = with_sparse(bytes, block, |s| {
        TreeFile::open(s, "f.mst").map(|f| digest(&f))
    });
    if let Some(got) = sparse {
        assert_eq!(
            got.ok(),
            want,
            "FetchedRanges reads differ from whole reads"
        );
    }
    // A proof's ranged reads (the `proof` function's): planned from the header,
    // then a path read through only those ranges and the levels derived from
    // them. Whatever the bytes, no panic.
    if let Ok(f) = &whole {
        if !f.is_aggregation() {
            let j = inp.u16() as u64 % f.count;
            let planned = (f.path_ranges(j), f.names_range(j), f.derived_levels(j));
            if let (Ok(r), Ok(names), Ok(derived)) = planned {
                let mut s = FetchedRanges::new(bytes.len() as u64);
                for (o, l) in [(0, 1 << 16), r.block, r.top, r.offsets, names] {
                    let start = o.min(bytes.len() as u64) as usize;
                    let end = o.saturating_add(l).min(bytes.len() as u64) as usize;
                    s.add(o, bytes[start..end].to_vec());
                }
                for (o, b) in derived {
                    s.add(o, b);
                }
                if let Ok(t) = TreeFile::open(&s, "f.mst") {
                    let _ = proof::mini_tree_siblings(&t, j);
                }
            }
        }
    }
}

fn raw_pair(inp: &mut Input<'_>) {
    let agg_bytes = inp.part();
    let mini_bytes = inp.part();
    let i = inp.u8() as usize;
    let username = String::from_utf8_lossy(inp.part()).into_owned();
    let (Ok(agg), Ok(mt)) = (
        TreeFile::open(agg_bytes.to_vec(), "aggregation.mst"),
        TreeFile::open(mini_bytes.to_vec(), "000000.mst"),
    ) else {
        return;
    };
    if let Ok(Some(p)) = proof::generate_in(&agg, i, &mt, &username) {
        assert_eq!(p.entry.username, username);
        assert_eq!(p.root, (&agg.root().unwrap()).into());
        // A proof from corrupt files may not verify, but must not panic.
        let _ = proof::verify(&p, None);
    }
}

/// The objects of a published run of `round` under prefix `P`, run `r1`.
fn publish(round: &Round, mem: &Memory) -> RunKeys {
    let keys = RunKeys::new("P", "r1").unwrap();
    let agg = TreeFile::open(round.agg_file.clone(), "a").unwrap();
    let (paths, stride) =
        summa_agg::proof::paths::write_paths(&agg, &agg.shards().unwrap()).unwrap();
    // One partition of the username index.
    let lookup = LookupFile {
        run: "r1".into(),
        root: summa_agg::field::to_hex(&round.agg.root().hash),
        mini_trees: round.trees.len() as u64,
        user_index_bits: 0,
        paths_stride: stride,
    };
    mem.insert(
        "b",
        &keys.round().lookup(),
        serde_json::to_vec(&lookup).unwrap(),
    );
    mem.insert("b", &keys.aggregation_paths(), paths);
    let mut names = Vec::new();
    for (i, t) in round.trees.iter().enumerate() {
        mem.insert("b", &keys.mini_tree(i), round.mini_files[i].clone());
        names.push(
            (0..t.entries() as usize)
                .map(|u| (index::user_key(t.username(u)), u as u32))
                .collect(),
        );
    }
    mem.insert(
        "b",
        &keys.user_index_partition(0),
        index::build(&names).unwrap(),
    );
    keys
}

fn built_round(inp: &mut Input<'_>) {
    let (params, n_currencies, shards) = rounds::shape_of(inp);
    let users: usize = shards.iter().map(Vec::len).sum();
    let reference = if users <= 8 {
        rounds::reference_root(&params, n_currencies, &shards)
    } else {
        None
    };
    let round = match rounds::build(params, n_currencies, shards) {
        Ok(r) => r,
        Err(e) => {
            assert!(
                matches!(e, summa_agg::Error::TotalOutOfRange { .. }),
                "a small round failed: {e}"
            );
            assert!(!matches!(reference, Some(Ok(_))), "the reference builds it");
            return;
        }
    };
    let root = round.agg.root();
    if let Some(r) = reference {
        assert_eq!(
            r.expect("the library built it").hash,
            root.hash,
            "root differs from the reference"
        );
    }
    let mem = Memory::default();
    let keys = publish(&round, &mem);
    // The user asked for, and a few byte flips in the run's objects.
    let s = inp.u8() as usize % round.shards.len();
    let u = inp.u8() as usize % round.shards[s].len();
    let user = String::from_utf8(round.shards[s][u].0.clone()).unwrap();
    let mut objects = vec![
        keys.aggregation_paths(),
        keys.user_index_partition(0),
        keys.round().lookup(),
    ];
    objects.extend((0..round.trees.len()).map(|i| keys.mini_tree(i)));
    let mut changed = false;
    for _ in 0..inp.u8() % 4 {
        let key = &objects[inp.u8() as usize % objects.len()];
        let mut o = runtime()
            .block_on(summa_functions::StorageRead::get(&mem, "b", key))
            .unwrap();
        let at = inp.u16() as usize;
        let x = inp.u8();
        if !o.is_empty() && x != 0 {
            let at = at % o.len();
            o[at] ^= x;
            changed = true;
        }
        mem.insert("b", key, o);
    }
    let input = ProofInput {
        bucket: "b".into(),
        prefix: "P".into(),
        username: user.clone(),
        run: None,
    };
    let got = runtime().block_on(summa_functions::handlers::proof(&mem, input));
    if !changed {
        let p = got.expect("a proof from the published run");
        proof::verify(&p, Some(&root.hash)).expect("the proof reaches the round's root");
        assert_eq!(p.entry.username, user);
        check_files(&round, &mem, &keys);
        let whole = proof::generate(
            &TreeFile::open(round.agg_file.clone(), "a").unwrap(),
            |i| TreeFile::open(round.mini_files[i].clone(), "m"),
            &user,
        )
        .unwrap();
        assert_eq!(
            whole, p,
            "ranged reads and whole files give different proofs"
        );
    } else if let Ok(p) = got {
        if proof::verify(&p, Some(&root.hash)).is_ok() {
            let balances: Vec<String> =
                round.shards[s][u].1.iter().map(|b| b.to_string()).collect();
            assert_eq!(
                (&p.entry.username, &p.entry.balances),
                (&user, &balances),
                "a forged entry verifies"
            );
        }
    }
}

/// The untouched files give back what the engine built.
fn check_files(round: &Round, mem: &Memory, keys: &RunKeys) {
    for (i, t) in round.trees.iter().enumerate() {
        let f = TreeFile::open(stored(mem, &keys.mini_tree(i)), "m").unwrap();
        assert_eq!(summary_of(&f, &t.name).unwrap(), t.summary());
        for l in 0..=t.depth() as usize {
            for k in 0..=levels_in(&f, l) {
                assert_eq!(f.node(l, k).unwrap(), t.node(l, k as usize));
            }
        }
        for u in 0..t.entries() {
            assert_eq!(f.username(u).unwrap(), t.username(u as usize));
            assert_eq!(f.find(t.username(u as usize)).unwrap(), Some(u));
        }
    }
    let f = TreeFile::open(round.agg_file.clone(), "a").unwrap();
    assert_eq!(f.shards().unwrap(), round.agg.shards);
    for l in 0..=f.depth as usize {
        for k in 0..=levels_in(&f, l) {
            assert_eq!(f.node(l, k).unwrap(), round.agg.node(l, k as usize));
        }
    }
}

fn raw_index(inp: &mut Input<'_>) {
    let bytes = inp.part();
    let username = String::from_utf8_lossy(inp.rest()).into_owned();
    let mem = Memory::default();
    mem.insert("b", "user-index.bin", bytes.to_vec());
    let got = runtime().block_on(index::lookup(&mem, "b", "user-index.bin", &username));
    if let Ok(found) = got {
        // Every record found is 24 bytes of the file.
        assert!(found.len() * 24 <= bytes.len());
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    match inp.u8() % 4 {
        0 => raw_file(&mut inp),
        1 => raw_pair(&mut inp),
        2 => built_round(&mut inp),
        _ => raw_index(&mut inp),
    }
});
