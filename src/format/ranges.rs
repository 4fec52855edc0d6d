//! One entry's path from a mini-tree file in a few ranged reads, whatever the
//! file's size: for a remote file, where each read is a request.
//!
//! A path needs, at each level `k`, the children of the sibling at level `k`.
//! Below level `m` (about half the depth) they all lie in the entry's subtree of
//! `2^m` leaves: one read of those leaves, and the levels between are hashed
//! again here ([`TreeFile::derived_levels`]) instead of read level by level.
//! From level `m - 1` up, the levels are small (about `2^(depth - m + 2)` nodes
//! in all): one read to the end of the levels. Then the entry's and its
//! sibling's username offsets, then their usernames: five reads with the
//! header, each of `O(2^(depth / 2))` bytes at most.

use super::{node_bytes, node_size, ReadAt, TreeFile};
use crate::tree::middle;
use crate::{Error, Result};

/// The byte ranges (offset, length) of a mini-tree file that entry `j`'s path
/// reads besides the header and the usernames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathRanges {
    /// Level 0's nodes of the entry's subtree of `2^bits` leaves.
    pub block: (u64, u64),
    /// Levels `bits - 1` (at least 0) to the top.
    pub top: (u64, u64),
    /// The username offsets of the entry and its sibling.
    pub offsets: (u64, u64),
    /// The subtree's height.
    pub bits: u32,
}

impl<R: ReadAt> TreeFile<R> {
    fn check_entry(&self, j: u64) -> Result<()> {
        self.mini_only()?;
        if j >= self.count {
            return Err(Error::Invalid(format!("{}: no entry {j}", self.path)));
        }
        Ok(())
    }

    /// The entry and its sibling, when there is one: their lowest and highest index.
    fn pair(&self, j: u64) -> (u64, u64) {
        let s = (j ^ 1).min(self.count - 1);
        (j.min(s), j.max(s))
    }

    /// What entry `j`'s path reads, from the header alone.
    pub fn path_ranges(&self, j: u64) -> Result<PathRanges> {
        self.check_entry(j)?;
        let d = self.depth;
        let bits = d.min(d / 2 + 1);
        let ns = node_size(&self.params, self.currencies.len());
        let first = (j >> bits) << bits;
        let n = (1u64 << bits).min(self.count - first);
        let top_from = self.level_offsets[bits.saturating_sub(1) as usize];
        let (lo, hi) = self.pair(j);
        Ok(PathRanges {
            block: (self.level_offsets[0] + first * ns, n * ns),
            top: (top_from, self.a - top_from),
            offsets: (self.a + 8 * lo, 8 * (hi - lo + 2)),
            bits,
        })
    }

    /// The bytes of the usernames of entry `j` and its sibling, once their offsets
    /// ([`PathRanges::offsets`]) can be read.
    pub fn names_range(&self, j: u64) -> Result<(u64, u64)> {
        self.check_entry(j)?;
        let (lo, hi) = self.pair(j);
        let o = self.read(self.a + 8 * lo, 8 * (hi - lo + 2) as usize)?;
        let at = |i: usize| u64::from_le_bytes(o[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        let (s, e) = (at(0), at((hi - lo + 1) as usize));
        if s > e || e > self.c - self.b {
            return Err(self.bad("bad username offsets"));
        }
        Ok((self.b + s, e - s))
    }

    /// Levels `1..=bits - 2` of entry `j`'s subtree, hashed from its leaves (once
    /// [`PathRanges::block`] can be read): each level's real nodes as the bytes the
    /// file holds at that offset. A path reads them from here, not the file.
    pub fn derived_levels(&self, j: u64) -> Result<Vec<(u64, Vec<u8>)>> {
        let bits = self.path_ranges(j)?.bits;
        let ns = node_size(&self.params, self.currencies.len());
        let first = (j >> bits) << bits;
        let mut nodes = self.nodes(0, first, 1 << bits)?;
        let mut out = Vec::new();
        for k in 1..bits.saturating_sub(1) as usize {
            nodes = nodes
                .chunks(2)
                .map(|pair| {
                    middle(&self.params, &pair[0], &pair[1])
                        .map(|(node, _)| node)
                        .map_err(|_| self.bad("sums out of range"))
                })
                .collect::<Result<_>>()?;
            let start = first >> k;
            let real = self
                .nodes_in(k)
                .saturating_sub(start)
                .min(nodes.len() as u64);
            let mut bytes = Vec::with_capacity((real * ns) as usize);
            for node in &nodes[..real as usize] {
                bytes.extend_from_slice(&node_bytes(node, self.params.n_bytes));
            }
            if real > 0 {
                out.push((self.level_offsets[k] + start * ns, bytes));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::write_mini_tree;
    use crate::shard::read_entries;
    use crate::tree::MiniTree;
    use crate::Params;

    /// A file that answers only reads inside the ranges given, and the derived
    /// levels: reading a path through it shows the ranges are all it needs.
    struct Only {
        bytes: Vec<u8>,
        ranges: Vec<(u64, u64)>,
        derived: Vec<(u64, Vec<u8>)>,
    }

    impl ReadAt for Only {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
            let end = offset + buf.len() as u64;
            for (o, b) in &self.derived {
                if *o <= offset && end <= o + b.len() as u64 {
                    buf.copy_from_slice(&b[(offset - o) as usize..(end - o) as usize]);
                    return Ok(());
                }
            }
            if self
                .ranges
                .iter()
                .any(|&(o, l)| o <= offset && end <= o + l)
            {
                return self.bytes.read_at(offset, buf);
            }
            Err(std::io::ErrorKind::UnexpectedEof.into())
        }
        fn size(&self) -> std::io::Result<u64> {
            Ok(self.bytes.len() as u64)
        }
    }

    #[test]
    fn a_path_reads_only_its_ranges_and_the_derived_levels_are_the_files() {
        let p = Params::default();
        for n in [1usize, 2, 3, 5, 8, 13, 100, 1000] {
            let mut csv = String::from("username,balance_ETH_ETH,balance_USDT_ETH\n");
            for u in 0..n {
                csv += &format!("user{u},{u},{}\n", n - u);
            }
            let t = MiniTree::build(
                read_entries(csv.as_bytes(), "t", &p, None).unwrap(),
                &p,
                "t",
            )
            .unwrap();
            let mut bytes = Vec::new();
            write_mini_tree(&t, &mut bytes).unwrap();
            let whole = TreeFile::open(bytes.clone(), "t.mst").unwrap();
            for j in [0, n as u64 / 2, n as u64 - 1] {
                let r = whole.path_ranges(j).unwrap();
                let header = (0, whole.level_offsets[0]);
                let names = whole.names_range(j).unwrap();
                let derived = whole.derived_levels(j).unwrap();
                for (o, b) in &derived {
                    assert_eq!(
                        &bytes[*o as usize..*o as usize + b.len()],
                        &b[..],
                        "n {n} j {j}"
                    );
                }
                let only = Only {
                    bytes: bytes.clone(),
                    ranges: vec![header, r.block, r.top, r.offsets, names],
                    derived,
                };
                let f = TreeFile::open(only, "t.mst").unwrap();
                // What a path reads: the leaf, then each sibling's children
                // (the leaf sibling's name and node).
                assert_eq!(f.node(0, j).unwrap(), whole.node(0, j).unwrap());
                assert_eq!(f.username(j).unwrap(), format!("user{j}").into_bytes());
                for k in 0..whole.depth as usize {
                    let sib = (j >> k) ^ 1;
                    if k == 0 {
                        assert_eq!(f.node(0, sib).unwrap(), whole.node(0, sib).unwrap());
                        if sib < whole.count {
                            assert_eq!(f.username(sib).unwrap(), whole.username(sib).unwrap());
                        }
                    } else {
                        let want = whole.nodes(k - 1, 2 * sib, 2).unwrap();
                        assert_eq!(
                            f.nodes(k - 1, 2 * sib, 2).unwrap(),
                            want,
                            "n {n} j {j} k {k}"
                        );
                    }
                }
                // Every range is at most a few subtrees of about 2^(depth/2) nodes.
                let ns = node_size(&p, 2);
                let bound = 8 * (1u64 << (whole.depth / 2 + 1)) * ns + 64;
                assert!(r.block.1 <= bound && r.top.1 <= bound, "n {n}: {r:?}");
            }
        }
    }
}
