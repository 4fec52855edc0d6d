//! Inputs that are legal but extreme, and artifacts that are corrupt or forged:
//! the library answers with errors, never a panic or a broken round.

mod common;

use std::fs::File;
use std::path::Path;

use common::error_of;
use common::trickle::Trickle;
use summa_agg::format::{write_mini_tree, TreeFile};
use summa_agg::round::{build_mini_tree, mini_tree_path, run_local, AGGREGATION_FILE};
use summa_agg::split::split;
use summa_agg::tree::Aggregation;
use summa_agg::{proof, Layout, Params};

fn csv_with_currencies(n: usize, users: &[&str]) -> String {
    let mut s = String::from("username");
    for c in 0..n {
        s.push_str(&format!(",balance_C{c}_ETH"));
    }
    s.push('\n');
    for (i, u) in users.iter().enumerate() {
        s.push_str(u);
        for c in 0..n {
            s.push_str(&format!(",{}", i * 1000 + c));
        }
        s.push('\n');
    }
    s
}

fn open(p: &Path) -> TreeFile<File> {
    TreeFile::open(File::open(p).unwrap(), p.display().to_string()).unwrap()
}

#[test]
fn many_currencies_round_trip_through_the_files() {
    // 300 currencies: a legacy middle preimage has 602 elements (more than a byte
    // can count), a v1 one 302.
    for layout in [Layout::V1, Layout::Legacy] {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        let b = dir.path().join("b.csv");
        std::fs::write(&a, csv_with_currencies(300, &["ann", "bob"])).unwrap();
        std::fs::write(&b, csv_with_currencies(300, &["cat", "dan", "eve"])).unwrap();
        let out = dir.path().join("out");
        let params = Params {
            layout,
            n_bytes: 14,
        };
        let r = run_local(&[a, b], &out, &params, &|_| {}).unwrap().0;
        let agg = open(&out.join(AGGREGATION_FILE));
        assert_eq!(
            agg.shards().unwrap()[0].root_preimage.len(),
            layout.middle_len(300)
        );
        let p = proof::generate(&agg, |i| Ok(open(&out.join(mini_tree_path(i)))), "eve").unwrap();
        let root = summa_agg::json::parse_fr(&r.root.hash, "root").unwrap();
        proof::verify(&p, Some(&root)).unwrap();
    }
}

fn mini_tree_bytes() -> Vec<u8> {
    let csv = csv_with_currencies(2, &["ann", "bob", "cat"]);
    let t = common::tree_of(csv.as_bytes(), Layout::V1);
    let mut bytes = Vec::new();
    write_mini_tree(&t, &mut bytes).unwrap();
    bytes
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn corrupt_mini_trees_are_errors_not_panics() {
    let good = mini_tree_bytes();
    let a = u64_at(&good, 32) as usize;
    let b = u64_at(&good, 40);
    // A username offset that would overflow: the reader must not trust it.
    let mut bad = good.clone();
    bad[a + 16..a + 24].copy_from_slice(&(u64::MAX - b + 1).to_le_bytes());
    let f = TreeFile::open(bad, "bad-offset.mst").unwrap();
    assert!(f.username(1).is_err());
    // The search for a name after every user's reads user 1's name first (the
    // middle of three): that read fails.
    assert!(f.find(b"zzz").is_err());
    // A forged entry count, with the depth that goes with it.
    for count in [1u64 << 40, 0x0f83_e0f8_3e0f_83d3, u64::MAX] {
        let mut bad = good.clone();
        bad[16..24].copy_from_slice(&count.to_le_bytes());
        bad[14] = summa_agg::tree::depth_for(count).min(255) as u8;
        let err = error_of(TreeFile::open(bad, "forged.mst"));
        assert!(err.contains("forged.mst: not a valid tree file"), "{err}");
    }
    // A mini-tree claiming a base height.
    let mut bad = good.clone();
    bad[15] = 70;
    assert!(TreeFile::open(bad, "base.mst").is_err());
    // Every truncation: the file's length is checked against its sections, so no
    // prefix of a valid file opens.
    assert!(TreeFile::open(good.clone(), "whole.mst").is_ok());
    for len in 0..good.len() {
        let cut = good[..len].to_vec();
        let err = TreeFile::open(cut, "cut.mst")
            .err()
            .unwrap_or_else(|| panic!("a file cut to {len} of {} bytes opened", good.len()))
            .to_string();
        assert!(err.starts_with("cut.mst: "), "{len}: {err}");
    }
}

#[test]
fn forged_summaries_are_rejected_by_the_aggregation() {
    let csv = csv_with_currencies(2, &["ann", "bob", "cat"]);
    let t = common::tree_of(csv.as_bytes(), Layout::V1);
    let params = Params::default();
    let good = t.summary();
    Aggregation::build(&params, &t.currencies, vec![good.clone()]).unwrap();
    let mut deep = good.clone();
    deep.depth = 4_000_000_000;
    let mut other_root = good.clone();
    other_root.root.hash = other_root.root_preimage[0];
    let mut other_balance = good.clone();
    other_balance.root.balances[0] += summa_agg::field::U256::from(1u8);
    let mut short = good.clone();
    short.root_preimage.pop();
    for (what, forged) in [
        ("depth", deep),
        ("hash", other_root),
        ("balance", other_balance),
        ("length", short),
    ] {
        let err = error_of(Aggregation::build(&params, &t.currencies, vec![forged]));
        assert!(
            err.contains("not a valid mini-tree summary"),
            "{what}: {err}"
        );
    }
}

#[test]
fn overlong_currency_names_are_rejected() {
    let name = "\u{c9}".repeat(128); // 256 bytes
    let csv = format!("username,balance_{name}_ETH\nann,1\n");
    let params = Params::default();
    let err = error_of(build_mini_tree(csv.as_bytes(), "long.csv", &params, None));
    assert!(
        err.starts_with("long.csv:1: invalid header") && err.contains("255 bytes"),
        "{err}"
    );
}

#[test]
fn split_refuses_a_directory_that_holds_shards() {
    let dir = tempfile::tempdir().unwrap();
    let csv = csv_with_currencies(1, &["a", "b", "c", "d"]);
    split(csv.as_bytes(), "big.csv", 1, dir.path()).unwrap();
    let err = error_of(split(csv.as_bytes(), "big.csv", 2, dir.path()));
    assert!(err.contains("already holds shards"), "{err}");
}

// --- Found by the fuzzer (fuzz/, `make fuzz`) --------------------------------
// Each test below reproduces an input that a fuzz target found; the README's
// reliability section lists them.

/// csv_shard: a shard that starts with a UTF-8 byte-order mark read from a stream
/// whose first read returns exactly the mark (or less of it) was an "empty file"
/// or had another header: the csv crate strips a BOM only when its first buffer
/// holds all of it, and takes a first buffer of only the BOM for the end of input.
#[test]
fn fuzz_a_shard_with_a_bom_reads_the_same_in_any_pieces() {
    let params = Params::default();
    let texts: [&[u8]; 4] = [
        b"\xef\xbb\xbfusername,balance_ETH_ETH\nann,1\nbob,2\n",
        b"\xef\xbb\xbf\xef\xbb\xbfusername,balance_ETH_ETH\nann,1\n",
        b"\xef\xbb\xbf,",
        b"\xef\xbb\xbfYs\n",
    ];
    for text in texts {
        let whole = summa_agg::shard::read_entries(text, "s.csv", &params, None)
            .map(|e| (e.currencies, e.names, e.balances, e.lines))
            .map_err(|e| e.to_string());
        for step in 1..8 {
            let pieces =
                summa_agg::shard::read_entries(Trickle::new(text, step), "s.csv", &params, None)
                    .map(|e| (e.currencies, e.names, e.balances, e.lines))
                    .map_err(|e| e.to_string());
            assert_eq!(pieces, whole, "{text:?} in pieces of {step}");
        }
    }
    let e =
        summa_agg::shard::read_entries(Trickle::new(texts[0], 3), "s.csv", &params, None).unwrap();
    assert_eq!(e.len(), 2);
}

/// summary_json: `0x` hex with `_` between the digits was read as a field element
/// (ruint's `from_str_radix` skips underscores), so two different strings named
/// the same hash.
#[test]
fn fuzz_hex_with_underscores_is_not_a_field_element() {
    use summa_agg::field::from_hex;
    assert_eq!(from_hex("0x12"), Some(summa_agg::Fr::from(0x12u64)));
    for bad in ["0x1_2", "0x_12", "0x12_", "0x1__2", "0x+12", "0x 12"] {
        assert_eq!(from_hex(bad), None, "{bad}");
    }
    let csv = csv_with_currencies(1, &["ann", "bob"]);
    let t = common::tree_of(csv.as_bytes(), Layout::V1);
    let mut json = summa_agg::json::SummaryJson::from(&t.summary());
    json.root.hash.insert(10, '_');
    assert!(json.to_summary().is_err());
}
