//! The binary tree files: mini-trees (`SUMMA-MT`) and the aggregation tree
//! (`SUMMA-AG`), version 1. Everything is little-endian.
//!
//! ```text
//! offset size  field
//!  0     8     magic: "SUMMA-MT" (mini-tree) or "SUMMA-AG" (aggregation tree)
//!  8     2     version = 1
//! 10     1     layout: 1 = v1, 2 = agg2023, 3 = legacy
//! 11     1     n_bytes
//! 12     2     n_currencies
//! 14     1     depth: the file holds levels 0..=depth
//! 15     1     base: height of level 0 (0 for a mini-tree, the round's mini-tree
//!              depth for the aggregation tree)
//! 16     8     count: nodes at level 0 (users, or mini-trees)
//! 24     8     levels_offset
//! 32     8     a_offset: mini-tree: username offsets, (count + 1) x u64;
//!                        aggregation: the mini-tree table
//! 40     8     b_offset: mini-tree: username bytes; aggregation: = c_offset
//! 48     8     c_offset: mini-tree: name-sorted index, count x u32;
//!                        aggregation: = end of file
//! 56     8     file length
//! 64     ...   currencies: per currency u8 length + name, u8 length + chain
//! levels_offset (8-aligned): level k = 0..=depth holds ceil(count / 2^k) nodes,
//!              each a 32-byte hash (canonical, little-endian) then n_currencies
//!              balances of n_bytes bytes. Nodes past them are all-zero subtrees.
//! mini-tree table (aggregation): per mini-tree u32 name length + name, u64
//!              entries, u8 own depth, u16 preimage length, preimage (32 bytes each)
//! ```
//!
//! Readers need only the header and the ranges they touch: the aggregator reads
//! roots, proof generation reads a path.

mod ranges;

pub use ranges::PathRanges;

use std::io::{self, Write};

use ff::PrimeField;

use crate::field::{fr_from_le_bytes, read_balance, write_balance};
use crate::shard::Currency;
use crate::tree::{Aggregation, Level, MiniTree, Node, ShardInfo, Zeros};
use crate::{Error, Params, Result};

/// Magic of a mini-tree file.
pub const MINI_TREE_MAGIC: &[u8; 8] = b"SUMMA-MT";
/// Magic of an aggregation-tree file.
pub const AGGREGATION_MAGIC: &[u8; 8] = b"SUMMA-AG";
/// The format version this library writes and reads.
pub const VERSION: u16 = 1;
const FIXED: usize = 64;

/// Random access to the bytes of a file or object.
pub trait ReadAt {
    /// Fills `buf` from `offset`; an error if the range is not all there.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Total size in bytes.
    fn size(&self) -> io::Result<u64>;
}

impl ReadAt for [u8] {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = self
            .get(
                start
                    ..start
                        .checked_add(buf.len())
                        .ok_or(io::ErrorKind::UnexpectedEof)?,
            )
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_at(offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.as_slice().read_at(offset, buf)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

impl ReadAt for std::fs::File {
    #[cfg(unix)]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
    /// Elsewhere (the WebAssembly verifier, verifier/, which reads no files) a seek
    /// and a read.
    #[cfg(not(unix))]
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::io::{Read, Seek};
        let mut file = self;
        file.seek(io::SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
}

fn currency_table(currencies: &[Currency]) -> Vec<u8> {
    let mut t = Vec::new();
    for c in currencies {
        for s in [&c.name, &c.chain] {
            let b = s.as_bytes();
            let len = b.len().min(255);
            t.push(len as u8);
            t.extend_from_slice(&b[..len]);
        }
    }
    while !(FIXED + t.len()).is_multiple_of(8) {
        t.push(0);
    }
    t
}

fn level_counts(count: u64, depth: u32) -> Vec<u64> {
    (0..=depth).map(|k| count.div_ceil(1u64 << k)).collect()
}

struct Header {
    magic: &'static [u8; 8],
    params: Params,
    n_currencies: usize,
    depth: u32,
    base: u32,
    count: u64,
    a: u64,
    b: u64,
    c: u64,
    end: u64,
}

fn header_bytes(h: &Header, levels_offset: u64) -> [u8; FIXED] {
    let mut out = [0u8; FIXED];
    out[..8].copy_from_slice(h.magic);
    out[8..10].copy_from_slice(&VERSION.to_le_bytes());
    out[10] = h.params.layout.code();
    out[11] = h.params.n_bytes;
    out[12..14].copy_from_slice(&(h.n_currencies as u16).to_le_bytes());
    out[14] = h.depth as u8;
    out[15] = h.base as u8;
    out[16..24].copy_from_slice(&h.count.to_le_bytes());
    for (i, v) in [levels_offset, h.a, h.b, h.c, h.end].iter().enumerate() {
        out[24 + 8 * i..32 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn write_levels<W: Write>(w: &mut W, levels: &[Level]) -> io::Result<()> {
    for level in levels {
        let stride = level.balances.len().checked_div(level.len()).unwrap_or(0);
        for (i, h) in level.hashes.iter().enumerate() {
            w.write_all(h.to_repr().as_ref())?;
            w.write_all(&level.balances[i * stride..(i + 1) * stride])?;
        }
    }
    Ok(())
}

/// A node as a file holds it: its hash, then its balances of `n_bytes` bytes.
pub(crate) fn node_bytes(node: &Node, n_bytes: u8) -> Vec<u8> {
    let width = n_bytes as usize;
    let mut out = vec![0u8; 32 + width * node.balances.len()];
    out[..32].copy_from_slice(node.hash.to_repr().as_ref());
    for (b, chunk) in node.balances.iter().zip(out[32..].chunks_mut(width)) {
        write_balance(b, chunk);
    }
    out
}

fn node_size(params: &Params, n_currencies: usize) -> u64 {
    32 + (n_currencies * params.n_bytes as usize) as u64
}

/// The header of a mini-tree's file: every section's offset.
fn mini_tree_header(tree: &MiniTree) -> (Header, Vec<u8>, u64) {
    let n_currencies = tree.currencies.len();
    let table = currency_table(&tree.currencies);
    let levels_offset = (FIXED + table.len()) as u64;
    let count = tree.entries();
    let nodes: u64 = level_counts(count, tree.depth()).iter().sum();
    let a = levels_offset + nodes * node_size(&tree.params, n_currencies);
    let b = a + 8 * (count + 1);
    let c = b + tree.usernames.names.len() as u64;
    let end = c + 4 * count;
    let h = Header {
        magic: MINI_TREE_MAGIC,
        params: tree.params,
        n_currencies,
        depth: tree.depth(),
        base: 0,
        count,
        a,
        b,
        c,
        end,
    };
    (h, table, levels_offset)
}

/// The size in bytes of a mini-tree's file (to size a buffer before encoding).
pub fn mini_tree_len(tree: &MiniTree) -> u64 {
    mini_tree_header(tree).0.end
}

/// Writes a mini-tree file.
pub fn write_mini_tree<W: Write>(tree: &MiniTree, w: &mut W) -> io::Result<()> {
    let (h, table, levels_offset) = mini_tree_header(tree);
    w.write_all(&header_bytes(&h, levels_offset))?;
    w.write_all(&table)?;
    write_levels(w, &tree.levels)?;
    let names = &tree.usernames;
    for o in &names.offsets {
        w.write_all(&o.to_le_bytes())?;
    }
    w.write_all(&names.names)?;
    for s in &names.sorted {
        w.write_all(&s.to_le_bytes())?;
    }
    Ok(())
}

/// Writes an aggregation-tree file.
pub fn write_aggregation<W: Write>(agg: &Aggregation, w: &mut W) -> io::Result<()> {
    let n_currencies = agg.currencies.len();
    let table = currency_table(&agg.currencies);
    let levels_offset = (FIXED + table.len()) as u64;
    let count = agg.shards.len() as u64;
    let nodes: u64 = level_counts(count, agg.agg_depth()).iter().sum();
    let a = levels_offset + nodes * node_size(&agg.params, n_currencies);
    let mut shards = Vec::new();
    for s in &agg.shards {
        shards.extend_from_slice(&(s.name.len() as u32).to_le_bytes());
        shards.extend_from_slice(s.name.as_bytes());
        shards.extend_from_slice(&s.entries.to_le_bytes());
        shards.push(s.depth as u8);
        shards.extend_from_slice(&(s.root_preimage.len() as u16).to_le_bytes());
        for f in &s.root_preimage {
            shards.extend_from_slice(f.to_repr().as_ref());
        }
    }
    let end = a + shards.len() as u64;
    let h = Header {
        magic: AGGREGATION_MAGIC,
        params: agg.params,
        n_currencies,
        depth: agg.agg_depth(),
        base: agg.mini_depth,
        count,
        a,
        b: end,
        c: end,
        end,
    };
    w.write_all(&header_bytes(&h, levels_offset))?;
    w.write_all(&table)?;
    write_levels(w, &agg.levels)?;
    w.write_all(&shards)
}

/// The file length a tree file's first bytes declare (`None` if they are not
/// a tree file's header): how much to expect before the rest is read.
pub fn declared_len(first: &[u8]) -> Option<u64> {
    let magic = first.get(..8)?;
    if magic != MINI_TREE_MAGIC && magic != AGGREGATION_MAGIC {
        return None;
    }
    Some(u64::from_le_bytes(first.get(56..64)?.try_into().ok()?))
}

/// A tree file opened for random access.
pub struct TreeFile<R: ReadAt> {
    src: R,
    path: String,
    /// Round parameters.
    pub params: Params,
    /// The currencies.
    pub currencies: Vec<Currency>,
    /// Levels `0..=depth` are stored.
    pub depth: u32,
    /// Height of level 0.
    pub base: u32,
    /// Nodes at level 0.
    pub count: u64,
    aggregation: bool,
    level_offsets: Vec<u64>,
    a: u64,
    b: u64,
    c: u64,
    zeros: Zeros,
}

impl<R: ReadAt> std::fmt::Debug for TreeFile<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeFile")
            .field("path", &self.path)
            .field("params", &self.params)
            .field("aggregation", &self.aggregation)
            .field("depth", &self.depth)
            .field("base", &self.base)
            .field("count", &self.count)
            .finish_non_exhaustive()
    }
}

impl<R: ReadAt> TreeFile<R> {
    fn bad(&self, problem: impl Into<String>) -> Error {
        Error::Format {
            path: self.path.clone(),
            what: "tree file",
            problem: problem.into(),
        }
    }

    fn read(&self, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.src.read_at(offset, &mut buf).map_err(|e| {
            if e.kind() == io::ErrorKind::UnexpectedEof {
                self.bad("truncated")
            } else {
                Error::io(self.path.clone(), e)
            }
        })?;
        Ok(buf)
    }

    /// Opens a file, reading and checking its header only.
    pub fn open(src: R, path: impl Into<String>) -> Result<TreeFile<R>> {
        let path = path.into();
        let bad = |p: &str| Error::Format {
            path: path.clone(),
            what: "tree file",
            problem: p.into(),
        };
        let size = src.size().map_err(|e| Error::io(path.clone(), e))?;
        let mut fixed = [0u8; FIXED];
        if size < FIXED as u64 {
            return Err(bad("too short for a header"));
        }
        src.read_at(0, &mut fixed)
            .map_err(|e| Error::io(path.clone(), e))?;
        let aggregation = match &fixed[..8] {
            m if m == MINI_TREE_MAGIC => false,
            m if m == AGGREGATION_MAGIC => true,
            _ => return Err(bad("bad magic")),
        };
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version != VERSION {
            return Err(bad(&format!("unsupported version {version}")));
        }
        let params = Params::from_header(fixed[10], fixed[11]).map_err(bad)?;
        let n_currencies = u16::from_le_bytes([fixed[12], fixed[13]]) as usize;
        let (depth, base) = (fixed[14] as u32, fixed[15] as u32);
        let u64_at = |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().unwrap());
        let (count, levels_offset, a, b, c, end) = (
            u64_at(16),
            u64_at(24),
            u64_at(32),
            u64_at(40),
            u64_at(48),
            u64_at(56),
        );
        if end != size
            || count == 0
            || crate::tree::depth_for(count) != depth
            || base.checked_add(depth).is_none_or(|top| top > 63)
            || (!aggregation && base != 0)
        {
            return Err(bad("inconsistent header"));
        }
        if !(levels_offset <= a && a <= b && b <= c && c <= end) || levels_offset < FIXED as u64 {
            return Err(bad("inconsistent section offsets"));
        }
        // The sections' sizes follow from the count (checked arithmetic: the count
        // is read from the file).
        let sections_ok = if aggregation {
            b == end && c == end
        } else {
            count.checked_add(1).and_then(|n| n.checked_mul(8)) == Some(b - a)
                && count.checked_mul(4) == Some(end - c)
        };
        if !sections_ok {
            return Err(bad("section sizes do not match the entry count"));
        }
        let mut table = vec![0u8; (levels_offset - FIXED as u64) as usize];
        src.read_at(FIXED as u64, &mut table)
            .map_err(|e| Error::io(path.clone(), e))?;
        let mut currencies = Vec::with_capacity(n_currencies);
        let mut pos = 0usize;
        let mut take = |table: &[u8]| -> Option<String> {
            let len = *table.get(pos)? as usize;
            let s = table.get(pos + 1..pos + 1 + len)?;
            pos += 1 + len;
            String::from_utf8(s.to_vec()).ok()
        };
        for _ in 0..n_currencies {
            let name = take(&table).ok_or_else(|| bad("bad currency table"))?;
            let chain = take(&table).ok_or_else(|| bad("bad currency table"))?;
            currencies.push(Currency { name, chain });
        }
        let ns = node_size(&params, n_currencies);
        let mut level_offsets = Vec::with_capacity(depth as usize + 2);
        let mut off = Some(levels_offset);
        for n in level_counts(count, depth) {
            level_offsets.push(off.unwrap_or(0));
            off = off.and_then(|o| n.checked_mul(ns).and_then(|len| o.checked_add(len)));
        }
        if off != Some(a) {
            return Err(bad("level sizes do not match the header"));
        }
        level_offsets.push(a);
        let zeros = Zeros::new(params.layout, n_currencies, base + depth);
        Ok(TreeFile {
            src,
            path,
            params,
            currencies,
            depth,
            base,
            count,
            aggregation,
            level_offsets,
            a,
            b,
            c,
            zeros,
        })
    }

    /// Whether this is an aggregation-tree file.
    pub fn is_aggregation(&self) -> bool {
        self.aggregation
    }

    /// The zero subtrees up to the file's top.
    pub fn zeros(&self) -> &Zeros {
        &self.zeros
    }

    fn nodes_in(&self, level: usize) -> u64 {
        (self.level_offsets[level + 1] - self.level_offsets[level])
            / node_size(&self.params, self.currencies.len())
    }

    /// Reads nodes `first..first + n` of a level (past the real ones: zero nodes).
    pub fn nodes(&self, level: usize, first: u64, n: u64) -> Result<Vec<Node>> {
        if level > self.depth as usize {
            return Err(Error::Invalid(format!("{}: no level {level}", self.path)));
        }
        let real = self.nodes_in(level);
        let have = real.saturating_sub(first).min(n);
        let ns = node_size(&self.params, self.currencies.len());
        let mut out = Vec::with_capacity(n as usize);
        if have > 0 {
            let bytes = self.read(self.level_offsets[level] + first * ns, (have * ns) as usize)?;
            for chunk in bytes.chunks(ns as usize) {
                let hash = fr_from_le_bytes(chunk[..32].try_into().unwrap())
                    .ok_or_else(|| self.bad("non-canonical hash"))?;
                let balances = chunk[32..]
                    .chunks(self.params.n_bytes as usize)
                    .map(read_balance)
                    .collect();
                out.push(Node { hash, balances });
            }
        }
        while (out.len() as u64) < n {
            out.push(self.zeros.node(self.base + level as u32));
        }
        Ok(out)
    }

    /// Reads one node.
    pub fn node(&self, level: usize, index: u64) -> Result<Node> {
        Ok(self.nodes(level, index, 1)?.pop().unwrap())
    }

    /// The top node.
    pub fn root(&self) -> Result<Node> {
        self.node(self.depth as usize, 0)
    }

    /// The whole level, real nodes only.
    pub fn level(&self, level: usize) -> Result<Vec<Node>> {
        self.nodes(level, 0, self.nodes_in(level))
    }

    fn mini_only(&self) -> Result<()> {
        if self.aggregation {
            Err(self.bad("an aggregation tree has no usernames"))
        } else {
            Ok(())
        }
    }

    /// Username of entry `i` (mini-trees).
    pub fn username(&self, i: u64) -> Result<Vec<u8>> {
        self.mini_only()?;
        if i >= self.count {
            return Err(Error::Invalid(format!("{}: no entry {i}", self.path)));
        }
        let o = self.read(self.a + 8 * i, 16)?;
        let (s, e) = (
            u64::from_le_bytes(o[..8].try_into().unwrap()),
            u64::from_le_bytes(o[8..].try_into().unwrap()),
        );
        if s > e || e > self.c - self.b {
            return Err(self.bad("bad username offsets"));
        }
        self.read(self.b + s, (e - s) as usize)
    }

    /// The entry index of `username`, by binary search in the sorted index.
    pub fn find(&self, username: &[u8]) -> Result<Option<u64>> {
        self.mini_only()?;
        let (mut lo, mut hi) = (0u64, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let idx =
                u32::from_le_bytes(self.read(self.c + 4 * mid, 4)?.try_into().unwrap()) as u64;
            let name = self.username(idx)?;
            match name.as_slice().cmp(username) {
                std::cmp::Ordering::Equal => return Ok(Some(idx)),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        Ok(None)
    }

    /// The mini-tree table of an aggregation file.
    pub fn shards(&self) -> Result<Vec<ShardInfo>> {
        if !self.aggregation {
            return Err(self.bad("a mini-tree has no mini-tree table"));
        }
        let bytes = self.read(self.a, (self.b - self.a) as usize)?;
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8]> {
            let s = bytes
                .get(pos..pos + n)
                .ok_or_else(|| self.bad("truncated mini-tree table"))?;
            pos += n;
            Ok(s)
        };
        // Each entry takes at least 15 bytes: a forged count cannot allocate more
        // than the table's size.
        let mut out = Vec::with_capacity((self.count as usize).min(bytes.len() / 15));
        for _ in 0..self.count {
            let len = u32::from_le_bytes(take(4)?.try_into().unwrap()) as usize;
            let name =
                String::from_utf8(take(len)?.to_vec()).map_err(|_| self.bad("bad shard name"))?;
            let entries = u64::from_le_bytes(take(8)?.try_into().unwrap());
            let depth = take(1)?[0] as u32;
            let plen = u16::from_le_bytes(take(2)?.try_into().unwrap()) as usize;
            let mut root_preimage = Vec::with_capacity(plen);
            for _ in 0..plen {
                let f = fr_from_le_bytes(take(32)?.try_into().unwrap())
                    .ok_or_else(|| self.bad("non-canonical preimage"))?;
                root_preimage.push(f);
            }
            out.push(ShardInfo {
                name,
                entries,
                depth,
                root_preimage,
            });
        }
        Ok(out)
    }
}

/// The summary of a mini-tree file (its root and the root's preimage), as
/// [`MiniTree::summary`] gives it when the tree is built, under the shard name
/// `name`. Checked: the root must be the hash of its preimage.
pub fn summary_of<R: ReadAt>(f: &TreeFile<R>, name: &str) -> Result<crate::tree::TreeSummary> {
    if f.is_aggregation() {
        return Err(f.bad("an aggregation tree is not a mini-tree"));
    }
    let root = f.root()?;
    let root_preimage = if f.depth == 0 {
        let mut p = vec![f.params.layout.username_fe(&f.username(0)?)];
        p.extend(root.balances_fr());
        p
    } else {
        let kids = f.nodes(f.depth as usize - 1, 0, 2)?;
        crate::tree::middle(&f.params, &kids[0], &kids[1])
            .map_err(|_| f.bad("the root's sums are out of range"))?
            .1
    };
    let summary = crate::tree::TreeSummary {
        name: name.to_string(),
        entries: f.count,
        depth: f.depth,
        root,
        root_preimage,
    };
    crate::tree::check_summary(&f.params, f.currencies.len(), &summary)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard::read_entries;

    fn tree() -> MiniTree {
        let csv = b"username,balance_ETH_ETH,balance_USDT_ETH\nzed,1,2\nal,3,4\nbo,5,6\n";
        let p = Params::default();
        MiniTree::build(
            read_entries(&csv[..], "t.csv", &p, None).unwrap(),
            &p,
            "t.csv",
        )
        .unwrap()
    }

    #[test]
    fn mini_tree_round_trips() {
        let t = tree();
        let mut bytes = Vec::new();
        write_mini_tree(&t, &mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, mini_tree_len(&t));
        let f = TreeFile::open(bytes, "t.mst").unwrap();
        assert_eq!((f.count, f.depth, f.base), (3, 2, 0));
        assert_eq!(f.currencies, t.currencies);
        assert_eq!(f.root().unwrap(), t.root());
        for l in 0..=2 {
            for i in 0..4 {
                assert_eq!(f.node(l, i).unwrap(), t.node(l, i as usize), "node {l},{i}");
            }
        }
        assert_eq!(f.find(b"bo").unwrap(), Some(2));
        assert_eq!(f.find(b"zed").unwrap(), Some(0));
        assert_eq!(f.find(b"nobody").unwrap(), None);
        assert_eq!(f.username(1).unwrap(), b"al");
    }

    #[test]
    fn corrupt_files_are_rejected() {
        let t = tree();
        let mut bytes = Vec::new();
        write_mini_tree(&t, &mut bytes).unwrap();
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(TreeFile::open(bad, "x")
            .unwrap_err()
            .to_string()
            .contains("bad magic"));
        let short = bytes[..bytes.len() - 1].to_vec();
        assert!(TreeFile::open(short, "x").is_err());
        let mut v2 = bytes.clone();
        v2[8] = 2;
        assert!(TreeFile::open(v2, "x")
            .unwrap_err()
            .to_string()
            .contains("version"));
    }
}
