//! Small rounds built in memory with the library's engine and writers, and their
//! root by the reference: the valid inputs of the file and proof targets, and the
//! seed generator's material.

use num_bigint::BigUint;
use summa_agg::format::{write_aggregation, write_mini_tree};
use summa_agg::shard::{read_entries, Currency};
use summa_agg::tree::{Aggregation, MiniTree};
use summa_agg::Params;

use crate::oracle::{self, RNode};
use crate::Input;

/// One user's row: name and balances.
pub type Row = (Vec<u8>, Vec<BigUint>);

/// A round built by the library, with its files.
pub struct Round {
    /// Its parameters.
    pub params: Params,
    /// Its currencies.
    pub currencies: Vec<Currency>,
    /// Each shard's rows.
    pub shards: Vec<Vec<Row>>,
    /// The mini-trees.
    pub trees: Vec<MiniTree>,
    /// The aggregation.
    pub agg: Aggregation,
    /// Each mini-tree's file.
    pub mini_files: Vec<Vec<u8>>,
    /// The aggregation file.
    pub agg_file: Vec<u8>,
}

/// `n` currencies `C0_ETH`, `C1_ETH`, ... (the core's generator's).
pub use summa_agg::synthetic::currencies;

/// A shard's CSV text.
pub fn csv_text(currencies: &[Currency], rows: &[Row]) -> Vec<u8> {
    let mut s = summa_agg::shard::header_line(currencies).into_bytes();
    s.push(b'\n');
    for (name, balances) in rows {
        s.extend_from_slice(name);
        for b in balances {
            s.push(b',');
            s.extend_from_slice(b.to_string().as_bytes());
        }
        s.push(b'\n');
    }
    s
}

/// Builds a round over `shards` with the library: CSV text, reader, mini-trees,
/// aggregation, files.
pub fn build(
    params: Params,
    n_currencies: usize,
    shards: Vec<Vec<Row>>,
) -> summa_agg::Result<Round> {
    let currencies = currencies(n_currencies);
    let mut trees = Vec::new();
    let mut mini_files = Vec::new();
    for (i, rows) in shards.iter().enumerate() {
        let name = format!("shard-{i}.csv");
        let text = csv_text(&currencies, rows);
        let entries = read_entries(&text[..], &name, &params, Some(&currencies))?;
        let tree = MiniTree::build(entries, &params, &name)?;
        let mut bytes = Vec::new();
        write_mini_tree(&tree, &mut bytes).expect("writing to memory");
        mini_files.push(bytes);
        trees.push(tree);
    }
    let agg = Aggregation::build(
        &params,
        &currencies,
        trees.iter().map(MiniTree::summary).collect(),
    )?;
    let mut agg_file = Vec::new();
    write_aggregation(&agg, &mut agg_file).expect("writing to memory");
    Ok(Round {
        params,
        currencies,
        shards,
        trees,
        agg,
        mini_files,
        agg_file,
    })
}

/// A small round's shape from the fuzzer's bytes: parameters, 1 to 3 currencies,
/// 1 to 4 shards of 1 to 5 users with distinct names and small balances.
pub fn shape_of(inp: &mut Input<'_>) -> (Params, usize, Vec<Vec<Row>>) {
    let params = crate::params_of(inp.u8());
    let n_currencies = 1 + (inp.u8() % 3) as usize;
    let n_shards = 1 + (inp.u8() % 4) as usize;
    let mut shards = Vec::new();
    for s in 0..n_shards {
        let users = 1 + (inp.u8() % 5) as usize;
        let rows = (0..users)
            .map(|u| {
                let name = format!("s{s}u{u}x{:02x}", inp.u8()).into_bytes();
                let balances = (0..n_currencies)
                    .map(|_| BigUint::from(inp.u8() >> 3))
                    .collect();
                (name, balances)
            })
            .collect();
        shards.push(rows);
    }
    (params, n_currencies, shards)
}

/// The root of the round over `shards` by the reference: each shard's tree padded
/// to the largest shard's depth, then one tree over their roots padded with zero
/// subtrees. `Err` if a total leaves the range.
pub fn reference_root(
    params: &Params,
    n_currencies: usize,
    shards: &[Vec<Row>],
) -> Option<Result<RNode, ()>> {
    let limit = oracle::bound(params.n_bytes);
    let md = shards
        .iter()
        .map(|s| oracle::depth_of(s.len() as u64))
        .max()?;
    let mut roots = Vec::new();
    for rows in shards {
        let leaves = rows
            .iter()
            .map(|(n, b)| oracle::leaf(params.layout, n, b))
            .collect::<Option<Vec<_>>>()?;
        match oracle::fold(params.layout, n_currencies, leaves, 0, md, &limit)? {
            Ok(r) => roots.push(r),
            Err(()) => return Some(Err(())),
        }
    }
    let ad = oracle::depth_of(shards.len() as u64);
    oracle::fold(params.layout, n_currencies, roots, md, ad, &limit)
}
