//! Known answers: shared/vectors/known-answers.json (copied into tests/fixtures).

mod common;

use std::path::PathBuf;

use common::{concat, fixture, known_answers, tree_of};
use summa_agg::field::{to_hex, u256_to_fr, U256};
use summa_agg::round::run_local;
use summa_agg::{poseidon, reference, Layout, Params};

#[test]
fn roots_and_depths_match_for_every_layout() {
    let ka = known_answers();
    let roots = ka["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 3);
    for r in roots {
        let layout: Layout = r["layout"].as_str().unwrap().parse().unwrap();
        let csv = std::fs::read(fixture(r["csv"].as_str().unwrap())).unwrap();
        let tree = tree_of(&csv, layout);
        let root = tree.root();
        assert_eq!(to_hex(&root.hash), r["hash"].as_str().unwrap(), "{layout}");
        assert_eq!(tree.depth() as u64, r["depth"].as_u64().unwrap());
        let balances: Vec<String> = root.balances.iter().map(|b| b.to_string()).collect();
        let expected: Vec<String> = r["balances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b.as_str().unwrap().to_string())
            .collect();
        assert_eq!(balances, expected);
    }
}

#[test]
fn leaves_match_for_every_layout() {
    let ka = known_answers();
    for l in ka["leaves"].as_array().unwrap() {
        let layout: Layout = l["layout"].as_str().unwrap().parse().unwrap();
        let user = l["username"].as_str().unwrap();
        let mut pre = vec![layout.username_fe(user.as_bytes())];
        for b in l["balances"].as_array().unwrap() {
            pre.push(u256_to_fr(&b.as_str().unwrap().parse::<U256>().unwrap()));
        }
        assert_eq!(
            to_hex(&poseidon::hash(&pre)),
            l["hash"].as_str().unwrap(),
            "{layout} {user}"
        );
        // The same leaf in the tree built from the CSV.
        let csv = std::fs::read(fixture("entry_16.csv")).unwrap();
        let tree = tree_of(&csv, layout);
        let i = (0..16)
            .find(|&i| tree.username(i) == user.as_bytes())
            .unwrap();
        assert_eq!(to_hex(&tree.node(0, i).hash), l["hash"].as_str().unwrap());
    }
}

#[test]
fn reference_algorithm_agrees_on_entry_16() {
    let csv = std::fs::read_to_string(fixture("entry_16.csv")).unwrap();
    let entries = reference::entries_from_csv(&csv).unwrap();
    for layout in Layout::ALL {
        let (root, depth) = reference::root(layout, &entries);
        let tree = tree_of(csv.as_bytes(), layout);
        assert_eq!(root.hash, tree.root().hash, "{layout}");
        assert_eq!(depth as u32, tree.depth());
    }
}

fn round_root(files: &[PathBuf], layout: Layout) -> summa_agg::json::RoundResult {
    let out = tempfile::tempdir().unwrap();
    let params = Params {
        layout,
        n_bytes: 14,
    };
    run_local(files, out.path(), &params, &|_| {}).unwrap().0
}

#[test]
fn four_shard_round_equals_one_tree_over_entry_64() {
    let shards: Vec<PathBuf> = (1..=4)
        .map(|i| fixture(&format!("entry_16_{i}.csv")))
        .collect();
    // The property the vectors state: entry_64 is the four shards concatenated.
    assert_eq!(
        concat(&[
            "entry_16_1.csv",
            "entry_16_2.csv",
            "entry_16_3.csv",
            "entry_16_4.csv"
        ]),
        std::fs::read(fixture("entry_64.csv")).unwrap()
    );
    for layout in Layout::ALL {
        let r = round_root(&shards, layout);
        let whole = round_root(&[fixture("entry_64.csv")], layout);
        let tree = tree_of(&std::fs::read(fixture("entry_64.csv")).unwrap(), layout);
        assert_eq!(r.root, whole.root, "{layout}");
        assert_eq!(r.root.hash, to_hex(&tree.root().hash));
        assert_eq!(
            (r.depth, r.mini_tree_depth, r.mini_trees, r.entries),
            (6, 4, 4, 64)
        );
        assert_eq!(whole.depth, 6);
    }
}

#[test]
fn three_shard_round_equals_one_tree_over_their_concatenation() {
    let names = ["entry_16_1.csv", "entry_16_2.csv", "entry_16_3.csv"];
    let shards: Vec<PathBuf> = names.iter().map(|n| fixture(n)).collect();
    for layout in Layout::ALL {
        let r = round_root(&shards, layout);
        let tree = tree_of(&concat(&names), layout);
        assert_eq!(r.root.hash, to_hex(&tree.root().hash), "{layout}");
        assert_eq!(r.depth, tree.depth());
        assert_eq!(
            r.depth, 6,
            "48 users: depth 6, the fourth mini-tree slot is zero"
        );
    }
}

#[test]
fn overflow_vector_is_rejected_with_n_bytes_14() {
    let out = tempfile::tempdir().unwrap();
    let err = run_local(
        &[fixture("entry_16_overflow.csv")],
        out.path(),
        &Params::default(),
        &|_| {},
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("entry_16_overflow.csv:2"), "{msg}");
    assert!(
        msg.contains("balance_ETH_ETH") && msg.contains("dxGaEAii") && msg.contains("n_bytes = 14"),
        "{msg}"
    );
    assert!(!out.path().join("result.json").exists());
    // With a wider range the same file is fine.
    let wide = Params {
        layout: Layout::V1,
        n_bytes: 15,
    };
    run_local(
        &[fixture("entry_16_overflow.csv")],
        out.path(),
        &wide,
        &|_| {},
    )
    .unwrap();
}
