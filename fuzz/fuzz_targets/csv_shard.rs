//! CSV shards: `read_header` and `read_entries` over arbitrary bytes, in every
//! layout and every `n_bytes` (and invalid ones, which must be refused), with and
//! without an expected header, read whole and in small pieces.
//!
//! Contract: the two readings agree; a header error is the entries' error; what
//! is read satisfies the format's invariants; on the simple subset of CSV the
//! verdict is the README's (`oracle::csv_verdict`); a shard that reads builds a
//! mini-tree that round-trips through its file and, on small inputs, has the root
//! of summa-solvency's algorithm (`summa_agg::reference`).

#![no_main]

use libfuzzer_sys::fuzz_target;
use num_bigint::BigUint;
use summa_agg::field::read_balance;
use summa_agg::format::{summary_of, write_mini_tree, TreeFile};
use summa_agg::shard::{read_entries, read_header, Currency, Entries};
use summa_agg::tree::MiniTree;
use summa_agg::{Layout, Params};
use summa_agg_fuzz::input::Trickle;
use summa_agg_fuzz::oracle::{self, CsvVerdict};
use summa_agg_fuzz::rounds::{currencies, Row};
use summa_agg_fuzz::Input;

const FILE: &str = "shard.csv";

fn rows_of(e: &Entries, n_bytes: u8) -> Vec<Row> {
    let n_currencies = e.currencies.len();
    let n_bytes = n_bytes as usize;
    (0..e.len())
        .map(|i| {
            let b = &e.balances[i * n_currencies * n_bytes..(i + 1) * n_currencies * n_bytes];
            let balances = b
                .chunks(n_bytes)
                .map(|c| BigUint::from_bytes_le(&read_balance(c).to_le_bytes::<32>()))
                .collect();
            (e.name(i).to_vec(), balances)
        })
        .collect()
}

fn check_invariants(e: &Entries, params: &Params) {
    let n_currencies = e.currencies.len();
    assert!(n_currencies >= 1 && !e.is_empty());
    assert_eq!(e.offsets.len(), e.len() + 1);
    assert_eq!(e.offsets[0], 0);
    assert_eq!(*e.offsets.last().unwrap(), e.names.len() as u64);
    assert_eq!(
        e.balances.len(),
        e.len() * n_currencies * params.n_bytes as usize
    );
    for i in 0..e.len() {
        assert!(e.offsets[i] < e.offsets[i + 1], "empty username accepted");
        let name = e.name(i);
        assert!(std::str::from_utf8(name).is_ok() && !name.contains(&0));
        assert!(oracle::username_ok(params.layout, name));
        if i > 0 {
            assert!(e.lines[i] > e.lines[i - 1], "lines not increasing");
        } else {
            assert!(e.lines[0] >= 2, "a user on the header's line");
        }
    }
}

/// Builds the mini-tree; where it builds, it must round-trip through its file and
/// (small inputs) match the reference root; where it does not, the reference must
/// say why (a duplicate name or a total out of range).
fn check_tree(e: Entries, params: &Params, rows: &[Row]) -> Option<MiniTree> {
    let n_currencies = e.currencies.len();
    let built = MiniTree::build(e, params, FILE);
    let limit = oracle::bound(params.n_bytes);
    let mut names: Vec<&[u8]> = rows.iter().map(|r| r.0.as_slice()).collect();
    names.sort();
    let dup = names.windows(2).any(|w| w[0] == w[1]);
    let over = (0..n_currencies).any(|c| rows.iter().map(|r| &r.1[c]).sum::<BigUint>() >= limit);
    let tree = match built {
        Ok(t) => {
            assert!(
                !dup && !over,
                "a tree was built over a duplicate or a total out of range"
            );
            t
        }
        Err(err) => {
            assert!(dup || over, "a valid shard did not build: {err}");
            return None;
        }
    };
    let mut bytes = Vec::new();
    write_mini_tree(&tree, &mut bytes).unwrap();
    let f = TreeFile::open(bytes, "t.mst").expect("a written mini-tree opens");
    assert_eq!(f.root().unwrap(), tree.root());
    assert_eq!(summary_of(&f, FILE).unwrap(), tree.summary());
    if rows.len() <= 8 && n_currencies <= 3 {
        let r = oracle::tree_root(params.layout, n_currencies, rows, &limit)
            .expect("small shapes are instantiated")
            .expect("the reference builds it too");
        assert_eq!(r.hash, tree.root().hash, "root differs from the reference");
    }
    Some(tree)
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let sel = inp.u8();
    let n_bytes_byte = inp.u8();
    let step = 1 + inp.u8() as usize;
    let text = inp.rest();
    let params = Params {
        layout: Layout::ALL[(sel % 3) as usize],
        // Mostly valid n_bytes; with the high bit, any byte (0 and 32.. must fail).
        n_bytes: if sel & 0x80 != 0 {
            n_bytes_byte
        } else {
            1 + n_bytes_byte % 31
        },
    };
    let header = read_header(text, FILE);
    let expected: Option<Vec<Currency>> = match (sel >> 2) % 4 {
        1 => Some(currencies(1 + (n_bytes_byte % 3) as usize)),
        2 => header.as_ref().ok().cloned(),
        _ => None,
    };
    let whole = read_entries(text, FILE, &params, expected.as_deref());
    let pieces = read_entries(Trickle::new(text, step), FILE, &params, expected.as_deref());
    match (&whole, &pieces) {
        (Ok(a), Ok(b)) => {
            assert_eq!(
                (&a.currencies, &a.names, &a.offsets, &a.balances, &a.lines),
                (&b.currencies, &b.names, &b.offsets, &b.balances, &b.lines)
            );
        }
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        _ => panic!("reading in pieces of {step} bytes changed the outcome"),
    }
    if params.validate().is_err() {
        assert!(whole.is_err(), "n_bytes = {} accepted", params.n_bytes);
        return;
    }
    if let Err(h) = &header {
        let e = whole.as_ref().expect_err("a shard read with a bad header");
        assert_eq!(e.to_string(), h.to_string());
    }
    let verdict = oracle::csv_verdict(text, &params, expected.as_deref());
    let entries = match whole {
        Ok(e) => e,
        Err(err) => {
            assert!(
                matches!(verdict, CsvVerdict::NotSimple | CsvVerdict::Bad),
                "a valid shard was refused: {err}"
            );
            return;
        }
    };
    check_invariants(&entries, &params);
    assert_eq!(&entries.currencies, header.as_ref().unwrap());
    let rows = rows_of(&entries, params.n_bytes);
    match &verdict {
        CsvVerdict::NotSimple => {}
        CsvVerdict::Bad => panic!("an invalid shard was read"),
        CsvVerdict::BadTree(want) => assert_eq!(&rows, want),
        CsvVerdict::Good(cur, want) => {
            assert_eq!(&rows, want);
            assert_eq!(&entries.currencies, cur);
        }
    }
    if rows.len() <= 64 {
        let tree = check_tree(entries, &params, &rows);
        match verdict {
            CsvVerdict::Good(..) => assert!(tree.is_some()),
            CsvVerdict::BadTree(_) => assert!(tree.is_none()),
            _ => {}
        }
    }
});
