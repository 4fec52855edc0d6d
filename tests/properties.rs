//! Property tests of the tree invariants: root totals are the column sums, every
//! proof verifies, any change to an entry changes the root, a round over full
//! shards equals one tree over their concatenation, and the fast engine equals
//! summa-solvency's algorithm.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};

use num_bigint::BigUint;
use proptest::prelude::*;
use summa_agg::field::{to_hex, U256};
use summa_agg::format::TreeFile;
use summa_agg::json::RoundResult;
use summa_agg::round::{mini_tree_path, run_local, AGGREGATION_FILE};
use summa_agg::{proof, reference, Layout, Params};

#[derive(Clone, Debug)]
struct Users {
    currencies: usize,
    rows: Vec<(String, Vec<u64>)>,
}

fn users(max: usize) -> impl Strategy<Value = Users> {
    (1usize..=3, 1..=max).prop_flat_map(|(n_currencies, n)| {
        proptest::collection::vec(
            (
                "[a-zA-Z0-9]{1,12}",
                proptest::collection::vec(0u64..1 << 40, n_currencies),
            ),
            n,
        )
        .prop_map(move |rows| {
            // Make names unique by suffixing the row number.
            let rows = rows
                .into_iter()
                .enumerate()
                .map(|(i, (u, b))| (format!("{u}{i}"), b))
                .collect();
            Users {
                currencies: n_currencies,
                rows,
            }
        })
    })
}

fn layout() -> impl Strategy<Value = Layout> {
    prop_oneof![
        Just(Layout::V1),
        Just(Layout::Agg2023),
        Just(Layout::Legacy)
    ]
}

fn csv(n_currencies: usize, rows: &[(String, Vec<u64>)]) -> String {
    let mut s = String::from("username");
    for c in 0..n_currencies {
        s.push_str(&format!(",balance_C{c}_CHAIN"));
    }
    s.push('\n');
    for (u, b) in rows {
        s.push_str(u);
        for v in b {
            s.push_str(&format!(",{v}"));
        }
        s.push('\n');
    }
    s
}

/// Writes the rows as shards of the given sizes and runs a round.
fn round(dir: &Path, u: &Users, sizes: &[usize], layout: Layout) -> (RoundResult, PathBuf) {
    let shards = dir.join("shards");
    std::fs::create_dir_all(&shards).unwrap();
    let mut files = Vec::new();
    let mut at = 0;
    for (i, s) in sizes.iter().enumerate() {
        let p = shards.join(format!("s{i:03}.csv"));
        std::fs::write(&p, csv(u.currencies, &u.rows[at..at + s])).unwrap();
        files.push(p);
        at += s;
    }
    let out = dir.join("out");
    let params = Params {
        layout,
        n_bytes: 14,
    };
    (run_local(&files, &out, &params, &|_| {}).unwrap().0, out)
}

fn cut(n: usize, seeds: &[usize]) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut left = n;
    let mut i = 0;
    while left > 0 {
        let s = 1 + seeds[i % seeds.len()] % left;
        sizes.push(s);
        left -= s;
        i += 1;
    }
    sizes
}

fn open(p: &Path) -> TreeFile<File> {
    TreeFile::open(File::open(p).unwrap(), p.display().to_string()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn totals_are_column_sums_and_every_proof_verifies(
        u in users(40), seeds in proptest::collection::vec(0usize..64, 1..6), layout in layout()
    ) {
        let dir = tempfile::tempdir().unwrap();
        let sizes = cut(u.rows.len(), &seeds);
        let (r, out) = round(dir.path(), &u, &sizes, layout);
        let sums: Vec<String> = (0..u.currencies)
            .map(|c| u.rows.iter().map(|(_, b)| b[c] as u128).sum::<u128>().to_string())
            .collect();
        prop_assert_eq!(&r.root.balances, &sums);
        prop_assert_eq!(r.entries, u.rows.len() as u64);
        let agg = open(&out.join(AGGREGATION_FILE));
        for (user, balances) in &u.rows {
            let p = proof::generate(&agg, |i| Ok(open(&out.join(mini_tree_path(i)))), user).unwrap();
            prop_assert_eq!(&p.entry.balances, &balances.iter().map(|b| b.to_string()).collect::<Vec<_>>());
            let root = summa_agg::json::parse_fr(&r.root.hash, "root").unwrap();
            let reached = proof::verify(&p, Some(&root)).unwrap();
            prop_assert_eq!(to_hex(&reached.hash), r.root.hash.clone());
            // A proof for another balance does not verify.
            let mut forged = p.clone();
            forged.entry.balances[0] = (balances[0] + 1).to_string();
            prop_assert!(proof::verify(&forged, Some(&root)).is_err());
        }
    }

    #[test]
    fn changing_any_entry_changes_the_root(u in users(24), which in any::<prop::sample::Index>(), layout in layout()) {
        let i = which.index(u.rows.len());
        let base = common::tree_of(csv(u.currencies, &u.rows).as_bytes(), layout).root();
        let mut more = u.rows.clone();
        more[i].1[0] += 1;
        prop_assert_ne!(common::tree_of(csv(u.currencies, &more).as_bytes(), layout).root().hash, base.hash);
        let mut renamed = u.rows.clone();
        renamed[i].0.push('x');
        prop_assert_ne!(common::tree_of(csv(u.currencies, &renamed).as_bytes(), layout).root().hash, base.hash);
    }

    #[test]
    fn full_shards_equal_one_tree_over_the_concatenation(u in users(48), k in 0u32..4, layout in layout()) {
        let size = 1usize << k;
        let n = u.rows.len();
        let sizes: Vec<usize> = (0..n.div_ceil(size)).map(|i| size.min(n - i * size)).collect();
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = round(dir.path(), &u, &sizes, layout);
        let whole = common::tree_of(csv(u.currencies, &u.rows).as_bytes(), layout);
        prop_assert_eq!(r.root.hash, to_hex(&whole.root().hash));
        prop_assert_eq!(r.depth, whole.depth());
    }

    #[test]
    fn equals_summa_solvency_algorithm(u in users(12), layout in layout()) {
        let entries: Vec<(String, Vec<BigUint>)> =
            u.rows.iter().map(|(n, b)| (n.clone(), b.iter().map(|v| BigUint::from(*v)).collect())).collect();
        let (root, depth) = reference::root(layout, &entries);
        let tree = common::tree_of(csv(u.currencies, &u.rows).as_bytes(), layout);
        prop_assert_eq!(root.hash, tree.root().hash);
        prop_assert_eq!(depth as u32, tree.depth());
        let sums: Vec<U256> = tree.root().balances;
        prop_assert_eq!(root.balances, sums.iter().map(summa_agg::field::u256_to_fr).collect::<Vec<_>>());
    }
}
