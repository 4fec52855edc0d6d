//! Incremental rounds: `run_local_with` and a previous round re-use unchanged shards'
//! mini-trees, and the result is the full round's, bit for bit.

use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use summa_agg::json::RoundResult;
use summa_agg::round::{
    run_local, run_local_with, Reuse, Timings, AGGREGATION_FILE, KEYS_DIR, RESULT_FILE,
};
use summa_agg::{Layout, Params};
use tempfile::TempDir;

const HEADER: &str = "username,balance_ETH_ETH,balance_USDT_ETH\n";

/// Shards as CSV texts: shard `s` has `sizes[s]` users.
fn shards(sizes: &[usize], seed: u64) -> Vec<String> {
    let mut x = seed;
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    sizes
        .iter()
        .enumerate()
        .map(|(s, &n)| {
            let mut t = HEADER.to_string();
            for u in 0..n {
                t += &format!("user{s}x{u},{},{}\n", next() % 100_000, next() % 100_000);
            }
            t
        })
        .collect()
}

fn write_shards(dir: &Path, texts: &[String]) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let p = dir.join(format!("s{i:02}.csv"));
            fs::write(&p, t).unwrap();
            p
        })
        .collect()
}

fn params(layout: Layout) -> Params {
    Params {
        layout,
        n_bytes: 14,
    }
}

/// What [`outputs`] compares: result.json, the aggregation file, the mini-tree files.
type Outputs = (serde_json::Value, Vec<u8>, Vec<Vec<u8>>);

/// Everything of a round's output that must not depend on re-use (`build` lists
/// the shards built, with their times).
fn outputs(dir: &Path) -> Outputs {
    let mut result: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(RESULT_FILE)).unwrap()).unwrap();
    let o = result.as_object_mut().unwrap();
    o.remove("previous");
    o.remove("reused_mini_trees");
    o.remove("build");
    let mut trees: Vec<_> = fs::read_dir(dir.join("mini-trees"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    trees.sort();
    (
        result,
        fs::read(dir.join(AGGREGATION_FILE)).unwrap(),
        trees.iter().map(|p| fs::read(p).unwrap()).collect(),
    )
}

struct Rounds {
    tmp: TempDir,
}

impl Rounds {
    fn new() -> Rounds {
        Rounds {
            tmp: tempfile::tempdir().unwrap(),
        }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }
    /// A v1 round of `files` into `out`, given the round in `prev` as the previous one.
    fn v1_after_prev(
        &self,
        files: &[PathBuf],
        out: &str,
    ) -> summa_agg::Result<(RoundResult, Timings, Reuse)> {
        run_local_with(
            files,
            &self.path(out),
            &params(Layout::V1),
            Some(&self.path("prev")),
            &|_| {},
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn incremental_equals_full(
        sizes in prop::collection::vec(1usize..40, 2..6),
        changed in prop::collection::vec(any::<bool>(), 6),
        grow in any::<bool>(),
        seed in any::<u64>(),
        layout in prop::sample::select(Layout::ALL.to_vec()),
    ) {
        let r = Rounds::new();
        let before = shards(&sizes, seed);
        let files = write_shards(&r.path("in1"), &before);
        run_local(&files, &r.path("prev"), &params(layout), &|_| {}).unwrap();

        // Change some shards: a balance, or (grow) 70 more users in the first
        // changed one, which can deepen the round's mini-trees.
        let mut after = before.clone();
        let mut expect_reused = 0;
        let mut grew = false;
        for (i, text) in after.iter_mut().enumerate() {
            if changed[i] {
                if grow && !grew {
                    for u in 0..70 {
                        text.push_str(&format!("new{i}x{u},1,2\n"));
                    }
                    grew = true;
                } else {
                    text.push_str(&format!("extra{i},{},0\n", seed % 1000));
                }
            } else {
                expect_reused += 1;
            }
        }
        let files = write_shards(&r.path("in2"), &after);
        let (inc, _, reuse) =
            run_local_with(&files, &r.path("inc"), &params(layout), Some(&r.path("prev")), &|_| {})
                .unwrap();
        run_local(&files, &r.path("full"), &params(layout), &|_| {}).unwrap();
        prop_assert_eq!(outputs(&r.path("inc")), outputs(&r.path("full")));
        prop_assert_eq!(inc.reused_mini_trees, expect_reused);
        prop_assert_eq!(reuse.reused.len() as u64, expect_reused);
        // `build` lists exactly the shards built, the changed ones.
        let built: Vec<u64> = (0..sizes.len()).filter(|&i| changed[i]).map(|i| i as u64).collect();
        let listed: Vec<u64> = inc.build.iter().flat_map(|b| b.shards.iter().map(|s| s.shard)).collect();
        prop_assert_eq!(listed, built);
        prop_assert!(reuse.untrusted.is_none());
        let prev = r.path("prev").display().to_string();
        prop_assert_eq!(inc.previous, Some(prev));
    }
}

/// A previous round of 4 shards and the same shards again.
fn setup(layout: Layout) -> (Rounds, Vec<PathBuf>) {
    let r = Rounds::new();
    let files = write_shards(&r.path("in"), &shards(&[9, 16, 5, 12], 7));
    run_local(&files, &r.path("prev"), &params(layout), &|_| {}).unwrap();
    (r, files)
}

#[test]
fn unchanged_shards_are_all_reused() {
    let (r, files) = setup(Layout::V1);
    let (res, _, reuse) = r.v1_after_prev(&files, "inc").unwrap();
    assert_eq!(res.reused_mini_trees, 4);
    assert_eq!(reuse.rebuilt, vec![]);
    // Nothing built: no build records.
    assert_eq!(res.build, None);
    assert_eq!(outputs(&r.path("inc")), outputs(&r.path("prev")));
    // The keys of the one-shard check are gone with the round.
    assert!(!r.path("inc").join(KEYS_DIR).exists());
}

#[test]
fn a_reused_mini_trees_users_count_in_the_one_shard_check() {
    // Shard 0 is re-used; the changed shard 3 takes shard 0's first user.
    let (r, _) = setup(Layout::V1);
    let mut texts = shards(&[9, 16, 5, 12], 7);
    texts[3].push_str("user0x0,1,2\n");
    let files = write_shards(&r.path("in2"), &texts);
    let e = r.v1_after_prev(&files, "inc").unwrap_err().to_string();
    assert!(
        e.contains("s03.csv:14: username \"user0x0\" is also in "),
        "{e}"
    );
    assert!(e.contains("s00.csv (line 2)"), "{e}");
    assert!(!r.path("inc").join(RESULT_FILE).exists());
    assert!(!r.path("inc").join(KEYS_DIR).exists());
}

#[test]
fn another_layout_n_bytes_or_header_disables_reuse() {
    let (r, files) = setup(Layout::V1);
    for (p, what) in [
        (params(Layout::Agg2023), "layout"),
        (
            Params {
                layout: Layout::V1,
                n_bytes: 16,
            },
            "n_bytes",
        ),
    ] {
        let out = r.path(&format!("out-{what}"));
        let (res, _, reuse) =
            run_local_with(&files, &out, &p, Some(&r.path("prev")), &|_| {}).unwrap();
        assert_eq!(res.reused_mini_trees, 0, "{what}");
        assert!(reuse.untrusted.unwrap().contains("layout"), "{what}");
    }
    // Same users, another currency label in the header.
    let texts: Vec<String> = shards(&[9, 16, 5, 12], 7)
        .into_iter()
        .map(|t| t.replace("balance_USDT_ETH", "balance_USDC_ETH"))
        .collect();
    let files = write_shards(&r.path("in-usdc"), &texts);
    let (res, _, reuse) = r.v1_after_prev(&files, "out-usdc").unwrap();
    assert_eq!(res.reused_mini_trees, 0);
    assert!(reuse.untrusted.unwrap().contains("currencies"));
    // A previous round that is not there, or has no result: nothing trusted.
    fs::remove_file(r.path("prev").join(RESULT_FILE)).unwrap();
    let files: Vec<PathBuf> = (0..4)
        .map(|i| r.path("in").join(format!("s{i:02}.csv")))
        .collect();
    let (res, _, reuse) = r.v1_after_prev(&files, "out-none").unwrap();
    assert_eq!(res.reused_mini_trees, 0);
    assert!(reuse.untrusted.is_some());
}

#[test]
fn a_tampered_previous_mini_tree_is_rebuilt() {
    let (r, files) = setup(Layout::V1);
    let full = outputs(&r.path("prev"));
    // 1. A flipped byte: its SHA-256 is no longer the recorded one.
    let mt = r.path("prev").join("mini-trees/000001.mst");
    let mut bytes = fs::read(&mt).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&mt, &bytes).unwrap();
    only_tree_1_rebuilt(&r, &files, "inc1", "SHA-256", &full);

    // 2. Another tree's file put in its place, with result.json's hash updated to
    // match: the previous aggregation tree holds another root.
    let other = fs::read(r.path("prev").join("mini-trees/000003.mst")).unwrap();
    fs::write(&mt, &other).unwrap();
    let rp = r.path("prev").join(RESULT_FILE);
    let mut result: serde_json::Value = serde_json::from_slice(&fs::read(&rp).unwrap()).unwrap();
    result["inputs"][1]["mini_tree_sha256"] = serde_json::json!(hex_sha256(&other));
    fs::write(&rp, result.to_string()).unwrap();
    only_tree_1_rebuilt(&r, &files, "inc2", "root", &full);
}

/// A v1 round into `out` over the previous one re-uses 3 mini-trees and rebuilds
/// mini-tree 1, for a reason that names `reason`, and its output is `full`.
fn only_tree_1_rebuilt(r: &Rounds, files: &[PathBuf], out: &str, reason: &str, full: &Outputs) {
    let (res, _, reuse) = r.v1_after_prev(files, out).unwrap();
    assert_eq!(res.reused_mini_trees, 3);
    let (i, why) = &reuse.rebuilt[0];
    assert_eq!(*i, 1);
    assert!(why.as_deref().unwrap().contains(reason), "{why:?}");
    assert_eq!(&outputs(&r.path(out)), full);
}

fn hex_sha256(b: &[u8]) -> String {
    summa_agg::round::sha256(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn the_previous_round_cannot_be_the_output() {
    let (r, files) = setup(Layout::V1);
    let e = r.v1_after_prev(&files, "prev").unwrap_err().to_string();
    assert!(e.contains("--previous"), "{e}");
}
