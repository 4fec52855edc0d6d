//! The aggregation paths file (`SUMMA-AP`, version 1): for every mini-tree, the
//! part of its users' proofs above it ([`AggregationPath`]), in records of one
//! size, so that a proof reads its mini-tree's with one ranged read at a known
//! offset instead of walking the aggregation tree (whose table and levels grow
//! with the round's shards). Little-endian.
//!
//! ```text
//! offset      size  field
//!  0          8     magic "SUMMA-AP"
//!  8          2     version = 1
//! 10          6     zero
//! 16          8     count: records (mini-trees)
//! 24          8     stride: bytes per record
//! 32          32    zero
//! 64 + i * stride   record i, zero-padded to stride:
//!             8     i
//!             8     the mini-tree's entries
//!             1     its own depth
//!             1     the round's mini-tree depth (height of the aggregation's level 0)
//!             1     layout code
//!             1     n_bytes
//!             2     n_currencies
//!             1     number of siblings (the aggregation tree's depth)
//!             per sibling: u16 length, then that many field elements (32 bytes)
//!             the round's root: hash (32 bytes), n_currencies balances of n_bytes
//! ```

use ff::PrimeField;

use super::AggregationPath;
use crate::field::{fr_from_le_bytes, read_balance};
use crate::format::{node_bytes, ReadAt, TreeFile};
use crate::tree::{Node, ShardInfo};
use crate::{Error, Params, Result};

/// Magic of an aggregation paths file.
pub const PATHS_MAGIC: &[u8; 8] = b"SUMMA-AP";
/// The version this library writes and reads.
pub const PATHS_VERSION: u16 = 1;
/// Bytes before record 0.
pub const PATHS_HEADER: u64 = 64;

/// Where record `i` of a paths file of `stride`-byte records starts.
pub fn record_offset(i: u64, stride: u64) -> u64 {
    PATHS_HEADER + i * stride
}

/// The paths file of an aggregation tree (`shards`: its mini-tree table) and its
/// stride, the size of each record.
pub fn write_paths<A: ReadAt>(agg: &TreeFile<A>, shards: &[ShardInfo]) -> Result<(Vec<u8>, u64)> {
    let root = agg.root()?;
    let records = (0..shards.len())
        .map(|i| {
            let path = super::aggregation_path_with_root(agg, shards, i, root.clone())?;
            Ok(encode_record(&path, agg.params))
        })
        .collect::<Result<Vec<Vec<u8>>>>()?;
    let stride = records.iter().map(Vec::len).max().unwrap_or(0) as u64;
    let mut out = Vec::with_capacity((PATHS_HEADER + stride * records.len() as u64) as usize);
    out.extend_from_slice(PATHS_MAGIC);
    out.extend_from_slice(&PATHS_VERSION.to_le_bytes());
    out.extend_from_slice(&[0u8; 6]);
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    out.extend_from_slice(&stride.to_le_bytes());
    out.resize(PATHS_HEADER as usize, 0);
    for r in records {
        let end = out.len() + stride as usize;
        out.extend_from_slice(&r);
        out.resize(end, 0);
    }
    Ok((out, stride))
}

fn encode_record(p: &AggregationPath, params: Params) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&p.shard.to_le_bytes());
    out.extend_from_slice(&p.entries.to_le_bytes());
    out.push(p.depth as u8);
    out.push(p.mini_depth as u8);
    out.push(params.layout.code());
    out.push(params.n_bytes);
    out.extend_from_slice(&(p.root.balances.len() as u16).to_le_bytes());
    out.push(p.siblings.len() as u8);
    for s in &p.siblings {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        for f in s {
            out.extend_from_slice(f.to_repr().as_ref());
        }
    }
    out.extend_from_slice(&node_bytes(&p.root, params.n_bytes));
    out
}

/// Decodes record `i` (`bytes` from its start, at least the record), checking
/// that it is record `i` and well formed.
pub fn read_record(bytes: &[u8], i: u64, path: &str) -> Result<(AggregationPath, Params)> {
    let bad = |problem: &str| Error::Format {
        path: path.to_string(),
        what: "aggregation paths file",
        problem: format!("record {i}: {problem}"),
    };
    let mut pos = 0usize;
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = bytes.get(pos..pos + n).ok_or_else(|| bad("truncated"))?;
        pos += n;
        Ok(s)
    };
    let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
    if u64_of(take(8)?) != i {
        return Err(bad("it is another mini-tree's"));
    }
    let entries = u64_of(take(8)?);
    let fixed = take(7)?;
    let (depth, mini_depth) = (fixed[0] as u32, fixed[1] as u32);
    let params = Params::from_header(fixed[2], fixed[3]).map_err(bad)?;
    let n_currencies = u16::from_le_bytes([fixed[4], fixed[5]]) as usize;
    let levels = fixed[6] as usize;
    if depth > mini_depth || mini_depth as usize + levels > 63 {
        return Err(bad("inconsistent depths"));
    }
    let mut siblings = Vec::with_capacity(levels);
    for _ in 0..levels {
        let len = u16::from_le_bytes(take(2)?.try_into().expect("2 bytes")) as usize;
        let mut pre = Vec::with_capacity(len.min(bytes.len() / 32));
        for _ in 0..len {
            pre.push(
                fr_from_le_bytes(take(32)?.try_into().expect("32 bytes"))
                    .ok_or_else(|| bad("non-canonical field element"))?,
            );
        }
        siblings.push(pre);
    }
    let hash = fr_from_le_bytes(take(32)?.try_into().expect("32 bytes"))
        .ok_or_else(|| bad("non-canonical root hash"))?;
    let width = params.n_bytes as usize;
    let balances = take(n_currencies * width)?
        .chunks(width)
        .map(read_balance)
        .collect();
    Ok((
        AggregationPath {
            shard: i,
            entries,
            depth,
            mini_depth,
            siblings,
            root: Node { hash, balances },
        },
        params,
    ))
}

/// The count and stride in a paths file's header.
pub fn read_header(bytes: &[u8], path: &str) -> Result<(u64, u64)> {
    let bad = |problem: &str| Error::Format {
        path: path.to_string(),
        what: "aggregation paths file",
        problem: problem.into(),
    };
    if bytes.len() < PATHS_HEADER as usize || &bytes[..8] != PATHS_MAGIC {
        return Err(bad("bad magic"));
    }
    if bytes[8..10] != PATHS_VERSION.to_le_bytes() {
        return Err(bad("unsupported version"));
    }
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().expect("8 bytes"));
    Ok((u64_at(16), u64_at(24)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::write_aggregation;
    use crate::tree::{Aggregation, MiniTree};

    #[test]
    fn every_record_is_its_mini_trees_path() {
        let p = Params::default();
        // Five mini-trees of unequal depth: the aggregation pads to 8 and lifts.
        let trees: Vec<_> = (1..=5usize)
            .map(|n| {
                let mut csv = String::from("username,balance_ETH_ETH,balance_USDT_ETH\n");
                for u in 0..n * 3 {
                    csv += &format!("u{n}x{u},{u},{n}\n");
                }
                let e = crate::shard::read_entries(csv.as_bytes(), "t.csv", &p, None).unwrap();
                MiniTree::build(e, &p, &format!("s{n}.csv"))
                    .unwrap()
                    .summary()
            })
            .collect();
        let currencies = crate::shard::read_entries(
            &b"username,balance_ETH_ETH,balance_USDT_ETH\na,1,1\n"[..],
            "t.csv",
            &p,
            None,
        )
        .unwrap()
        .currencies;
        let agg = Aggregation::build(&p, &currencies, trees).unwrap();
        let mut bytes = Vec::new();
        write_aggregation(&agg, &mut bytes).unwrap();
        let file = TreeFile::open(bytes, "aggregation.mst").unwrap();
        let shards = file.shards().unwrap();
        let (paths, stride) = write_paths(&file, &shards).unwrap();
        assert_eq!(read_header(&paths, "p").unwrap(), (5, stride));
        assert_eq!(paths.len() as u64, record_offset(5, stride));
        for i in 0..5u64 {
            let at = record_offset(i, stride) as usize;
            let (rec, params) = read_record(&paths[at..at + stride as usize], i, "p").unwrap();
            assert_eq!(params, p);
            let want = super::super::aggregation_path(&file, &shards, i as usize).unwrap();
            assert_eq!(rec, want, "record {i}");
            assert_eq!(rec.root, file.root().unwrap());
            // Another record's bytes, or a cut one, are refused.
            assert!(read_record(&paths[at..at + stride as usize], i + 1, "p").is_err());
            assert!(read_record(&paths[at..at + 20], i, "p").is_err());
        }
        assert!(read_header(&paths[..10], "p").is_err());
    }
}
