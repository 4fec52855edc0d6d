//! Merkle sum trees: mini-trees over one shard, and the aggregation tree over the
//! mini-tree roots.
//!
//! A tree over `n` entries has depth `ceil(log2 n)` and is padded with zero entries
//! to `2^depth` leaves. Only the real nodes are stored: at level `k` there are
//! `ceil(n / 2^k)` of them, and any node to their right is the root of an all-zero
//! subtree of height `k` (see [`Zeros`]). Balances are kept packed, `n_bytes`
//! little-endian bytes per currency, the same encoding as the files.
//!
//! The round's mini-trees all get the depth of the largest shard. A mini-tree is
//! built at its own depth and *lifted*: hashing its root with zero subtrees of the
//! heights in between gives exactly the root it would have had at the larger depth
//! (its padding entries are all on the right). The aggregation tree's leaves are the
//! lifted roots, padded to a power of two with zero subtrees of the mini-tree depth,
//! so a round over full shards has the same root as one tree over their
//! concatenation.

use ff::Field;
use halo2curves::bn256::Fr;
use rayon::prelude::*;

use crate::field::{bound, read_balance, u256_to_fr, write_balance, U256};
use crate::poseidon;
use crate::shard::{Currency, Entries};
use crate::{Error, Layout, Params, Result};

/// Nodes hashed per parallel task.
const CHUNK: usize = 1024;

/// `ceil(log2 n)`, and 0 for `n <= 1`.
pub fn depth_for(n: u64) -> u32 {
    if n <= 1 {
        0
    } else {
        64 - (n - 1).leading_zeros()
    }
}

/// A node: its hash and its per-currency balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The node's hash.
    pub hash: Fr,
    /// The node's balances (per-currency sums below it).
    pub balances: Vec<U256>,
}

impl Node {
    /// The balances as field elements.
    pub fn balances_fr(&self) -> Vec<Fr> {
        self.balances.iter().map(u256_to_fr).collect()
    }
}

/// One level of a tree: the real nodes, hashes and packed balances.
#[derive(Clone, Debug, Default)]
pub struct Level {
    /// Node hashes.
    pub hashes: Vec<Fr>,
    /// `n_currencies * n_bytes` bytes per node.
    pub balances: Vec<u8>,
}

impl Level {
    /// Number of real nodes.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether the level has no nodes.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// The hashes of all-zero subtrees by height: `zero[0]` is the leaf of the zero
/// entry, `zero[h + 1]` the middle node over two `zero[h]`. Their balances are 0.
#[derive(Clone, Debug)]
pub struct Zeros {
    hashes: Vec<Fr>,
    layout: Layout,
    n_currencies: usize,
}

impl Zeros {
    /// Zero subtrees up to height `max_height`.
    pub fn new(layout: Layout, n_currencies: usize, max_height: u32) -> Zeros {
        let mut hashes = vec![poseidon::hash(&vec![
            Fr::ZERO;
            layout.leaf_len(n_currencies)
        ])];
        let zeros = vec![Fr::ZERO; n_currencies];
        let mut pre = vec![Fr::ZERO; layout.middle_len(n_currencies)];
        for h in 0..max_height as usize {
            layout.middle_preimage((hashes[h], &zeros), (hashes[h], &zeros), &zeros, &mut pre);
            hashes.push(poseidon::hash(&pre));
        }
        Zeros {
            hashes,
            layout,
            n_currencies,
        }
    }

    /// The hash of the all-zero subtree of height `h`.
    pub fn hash(&self, h: u32) -> Fr {
        self.hashes[h as usize]
    }

    /// The all-zero node of height `h`.
    pub fn node(&self, h: u32) -> Node {
        Node {
            hash: self.hash(h),
            balances: vec![U256::ZERO; self.n_currencies],
        }
    }

    /// The preimage of the all-zero node of height `h`.
    pub fn preimage(&self, h: u32) -> Vec<Fr> {
        let n = self.n_currencies;
        if h == 0 {
            return vec![Fr::ZERO; self.layout.leaf_len(n)];
        }
        let zeros = vec![Fr::ZERO; n];
        let child = self.hash(h - 1);
        let mut pre = vec![Fr::ZERO; self.layout.middle_len(n)];
        self.layout
            .middle_preimage((child, &zeros), (child, &zeros), &zeros, &mut pre);
        pre
    }
}

/// The middle node over `left` and `right` with its preimage, checking the sums.
pub fn middle(
    params: &Params,
    left: &Node,
    right: &Node,
) -> std::result::Result<(Node, Vec<Fr>), usize> {
    let (balances, pre) = sums_and_preimage(params, left, right)?;
    Ok((
        Node {
            hash: poseidon::hash(&pre),
            balances,
        },
        pre,
    ))
}

/// The preimage of the middle node over `left` and `right`, without hashing it
/// (a proof's siblings); `Err(c)` if currency `c`'s sum is out of range.
pub fn middle_preimage(
    params: &Params,
    left: &Node,
    right: &Node,
) -> std::result::Result<Vec<Fr>, usize> {
    sums_and_preimage(params, left, right).map(|(_, pre)| pre)
}

fn sums_and_preimage(
    params: &Params,
    left: &Node,
    right: &Node,
) -> std::result::Result<(Vec<U256>, Vec<Fr>), usize> {
    let limit = bound(params.n_bytes);
    let mut sums = Vec::with_capacity(left.balances.len());
    for (c, (l, r)) in left.balances.iter().zip(&right.balances).enumerate() {
        let s = *l + *r;
        if s >= limit {
            return Err(c);
        }
        sums.push(s);
    }
    let (lf, rf) = (left.balances_fr(), right.balances_fr());
    let sums_fr: Vec<Fr> = sums.iter().map(u256_to_fr).collect();
    let mut pre = vec![Fr::ZERO; params.layout.middle_len(sums.len())];
    params
        .layout
        .middle_preimage((left.hash, &lf), (right.hash, &rf), &sums_fr, &mut pre);
    Ok((sums, pre))
}

/// The node at `(level, index)` of `levels`, or the zero node of that height when
/// `index` is past the real nodes. `base` is the height of level 0; a node holds
/// `zeros`' number of currencies, `n_bytes` bytes each.
pub fn node_at(
    levels: &[Level],
    zeros: &Zeros,
    base: u32,
    n_bytes: u8,
    level: usize,
    index: usize,
) -> Node {
    let l = &levels[level];
    if index >= l.len() {
        return zeros.node(base + level as u32);
    }
    let n_bytes = n_bytes as usize;
    let stride = zeros.n_currencies * n_bytes;
    let bytes = &l.balances[index * stride..(index + 1) * stride];
    Node {
        hash: l.hashes[index],
        balances: bytes.chunks(n_bytes).map(read_balance).collect(),
    }
}

/// Builds levels `1..=depth` above `levels[0]`, whose nodes have height `base`.
/// Fails with the index of the currency whose total leaves the range.
fn build_upper(
    levels: &mut Vec<Level>,
    params: &Params,
    n_currencies: usize,
    base: u32,
    depth: u32,
    zeros: &Zeros,
) -> std::result::Result<(), usize> {
    let layout = params.layout;
    let n_bytes = params.n_bytes as usize;
    let stride = n_currencies * n_bytes;
    let limit = bound(params.n_bytes);
    let plen = layout.middle_len(n_currencies);
    for k in 1..=depth as usize {
        let prev = &levels[k - 1];
        let count = prev.len().div_ceil(2);
        let zero = zeros.hash(base + k as u32 - 1);
        let mut hashes = vec![Fr::ZERO; count];
        let mut balances = vec![0u8; count * stride];
        hashes
            .par_chunks_mut(CHUNK)
            .zip(balances.par_chunks_mut(CHUNK * stride))
            .enumerate()
            .try_for_each(|(chunk, (out_h, out_b))| {
                let first = chunk * CHUNK;
                let mut pre = vec![Fr::ZERO; plen * out_h.len()];
                let mut lf = vec![Fr::ZERO; n_currencies];
                let mut rf = vec![Fr::ZERO; n_currencies];
                let mut sf = vec![Fr::ZERO; n_currencies];
                for j in 0..out_h.len() {
                    let (li, ri) = (2 * (first + j), 2 * (first + j) + 1);
                    let right_real = ri < prev.len();
                    for c in 0..n_currencies {
                        let l =
                            read_balance(&prev.balances[li * stride + c * n_bytes..][..n_bytes]);
                        let r = if right_real {
                            read_balance(&prev.balances[ri * stride + c * n_bytes..][..n_bytes])
                        } else {
                            U256::ZERO
                        };
                        let s = l + r;
                        if s >= limit {
                            return Err(c);
                        }
                        write_balance(&s, &mut out_b[j * stride + c * n_bytes..][..n_bytes]);
                        sf[c] = u256_to_fr(&s);
                        if layout == Layout::Legacy {
                            lf[c] = u256_to_fr(&l);
                            rf[c] = u256_to_fr(&r);
                        }
                    }
                    let rh = if right_real { prev.hashes[ri] } else { zero };
                    layout.middle_preimage(
                        (prev.hashes[li], &lf),
                        (rh, &rf),
                        &sf,
                        &mut pre[j * plen..(j + 1) * plen],
                    );
                }
                poseidon::hash_batch(&pre, plen, out_h);
                Ok(())
            })?;
        levels.push(Level { hashes, balances });
    }
    Ok(())
}

/// A summary of a built tree: what the aggregation needs of a mini-tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeSummary {
    /// The shard's name.
    pub name: String,
    /// Number of entries (users).
    pub entries: u64,
    /// The tree's own depth.
    pub depth: u32,
    /// The root.
    pub root: Node,
    /// The root's preimage: a leaf preimage at depth 0, else a middle preimage.
    pub root_preimage: Vec<Fr>,
}

/// A mini-tree: the Merkle sum tree over one shard, with its users' names and a
/// name-sorted index for look-ups.
#[derive(Debug)]
pub struct MiniTree {
    /// Round parameters.
    pub params: Params,
    /// The shard's name.
    pub name: String,
    /// The currencies.
    pub currencies: Vec<Currency>,
    /// `levels[0]` are the leaves, `levels[depth]` the root.
    pub levels: Vec<Level>,
    /// The usernames, with their index sorted by name.
    pub usernames: Usernames,
    zeros: Zeros,
}

/// A mini-tree's usernames, in entry order and sorted.
#[derive(Debug)]
pub struct Usernames {
    /// All usernames back to back.
    pub names: Vec<u8>,
    /// Offsets of each username in `names` (one more than the users).
    pub offsets: Vec<u64>,
    /// Entry indices sorted by username bytes.
    pub sorted: Vec<u32>,
}

impl Usernames {
    /// Username `i`.
    pub fn get(&self, i: usize) -> &[u8] {
        crate::shard::name_at(&self.names, &self.offsets, i)
    }
}

impl MiniTree {
    /// Builds the mini-tree of a parsed shard: leaves in parallel, then the levels.
    /// Fails on a duplicate username or a total out of range.
    pub fn build(entries: Entries, params: &Params, name: &str) -> Result<MiniTree> {
        params.validate()?;
        let n = entries.len();
        if n == 0 {
            return Err(Error::Shard {
                file: name.into(),
                problem: "no users".into(),
            });
        }
        if n > u32::MAX as usize {
            return Err(Error::Shard {
                file: name.into(),
                problem: "more than 2^32 - 1 users in one shard".into(),
            });
        }
        let sorted = sort_and_check_duplicates(&entries, name)?;
        let Entries {
            currencies,
            names,
            offsets,
            balances,
            ..
        } = entries;
        let usernames = Usernames {
            names,
            offsets,
            sorted,
        };
        let n_currencies = currencies.len();
        let n_bytes = params.n_bytes as usize;
        let stride = n_currencies * n_bytes;
        let layout = params.layout;
        let llen = layout.leaf_len(n_currencies);

        let mut hashes = vec![Fr::ZERO; n];
        hashes
            .par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(chunk, out)| {
                let first = chunk * CHUNK;
                let mut pre = vec![Fr::ZERO; llen * out.len()];
                for j in 0..out.len() {
                    let i = first + j;
                    let p = &mut pre[j * llen..(j + 1) * llen];
                    p[0] = layout.username_fe(usernames.get(i));
                    for c in 0..n_currencies {
                        p[1 + c] = u256_to_fr(&read_balance(
                            &balances[i * stride + c * n_bytes..][..n_bytes],
                        ));
                    }
                }
                poseidon::hash_batch(&pre, llen, out);
            });

        let depth = depth_for(n as u64);
        let zeros = Zeros::new(layout, n_currencies, depth);
        let mut levels = vec![Level { hashes, balances }];
        build_upper(&mut levels, params, n_currencies, 0, depth, &zeros).map_err(|c| {
            Error::TotalOutOfRange {
                context: name.into(),
                currency: currencies[c].label(),
                n_bytes: params.n_bytes,
            }
        })?;
        Ok(MiniTree {
            params: *params,
            name: name.into(),
            currencies,
            levels,
            usernames,
            zeros,
        })
    }

    /// Number of entries.
    pub fn entries(&self) -> u64 {
        self.levels[0].len() as u64
    }

    /// The tree's depth.
    pub fn depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    /// Username `i`.
    pub fn username(&self, i: usize) -> &[u8] {
        self.usernames.get(i)
    }

    /// The node at `(level, index)`, zero past the real nodes.
    pub fn node(&self, level: usize, index: usize) -> Node {
        node_at(
            &self.levels,
            &self.zeros,
            0,
            self.params.n_bytes,
            level,
            index,
        )
    }

    /// The root.
    pub fn root(&self) -> Node {
        self.node(self.levels.len() - 1, 0)
    }

    /// The summary the aggregation needs.
    pub fn summary(&self) -> TreeSummary {
        let depth = self.depth();
        let root_preimage = if depth == 0 {
            let mut p = vec![self.params.layout.username_fe(self.username(0))];
            p.extend(self.root().balances_fr());
            p
        } else {
            let (l, r) = (
                self.node(depth as usize - 1, 0),
                self.node(depth as usize - 1, 1),
            );
            middle(&self.params, &l, &r)
                .expect("sums were checked when built")
                .1
        };
        TreeSummary {
            name: self.name.clone(),
            entries: self.entries(),
            depth,
            root: self.root(),
            root_preimage,
        }
    }
}

/// Sorts entry indices by username and rejects duplicates, naming both lines.
fn sort_and_check_duplicates(entries: &Entries, file: &str) -> Result<Vec<u32>> {
    let mut sorted: Vec<u32> = (0..entries.len() as u32).collect();
    sorted.par_sort_unstable_by(|a, b| {
        entries
            .name(*a as usize)
            .cmp(entries.name(*b as usize))
            .then(a.cmp(b))
    });
    for w in sorted.windows(2) {
        let (a, b) = (w[0] as usize, w[1] as usize);
        if entries.name(a) == entries.name(b) {
            return Err(Error::Row {
                file: file.into(),
                line: entries.lines[b],
                problem: format!(
                    "duplicate username {:?} (first at line {})",
                    String::from_utf8_lossy(entries.name(a)),
                    entries.lines[a]
                ),
            });
        }
    }
    Ok(sorted)
}

/// Checks that a summary (which may come from storage) is one a mini-tree could
/// have produced: its depth fits its entries, and its root preimage hashes to its
/// root and commits to its balances.
/// A mini-tree root of height `from` lifted to height `to` by hashing it with
/// all-zero right siblings (`zeros` must reach `to`): the root and its preimage it
/// would have had if built at height `to`.
pub fn lift(
    params: &Params,
    zeros: &Zeros,
    mut root: Node,
    mut preimage: Vec<Fr>,
    from: u32,
    to: u32,
) -> (Node, Vec<Fr>) {
    for h in from..to {
        let (up, p) = middle(params, &root, &zeros.node(h)).expect("a zero sibling keeps the sums");
        root = up;
        preimage = p;
    }
    (root, preimage)
}

/// Checks that a summary's root is the hash of its preimage and carries its sums
/// (a summary read from storage, or from a re-used mini-tree file).
pub fn check_summary(params: &Params, n_currencies: usize, t: &TreeSummary) -> Result<()> {
    let bad = |problem: &str| Error::Format {
        path: t.name.clone(),
        what: "mini-tree summary",
        problem: problem.into(),
    };
    if t.entries == 0 || t.entries > u32::MAX as u64 || t.depth != depth_for(t.entries) {
        return Err(bad("its depth does not fit its number of entries"));
    }
    let layout = params.layout;
    let (want, balances) = if t.depth == 0 {
        (
            layout.leaf_len(n_currencies),
            t.root_preimage.get(1..).map(<[Fr]>::to_vec),
        )
    } else {
        (
            layout.middle_len(n_currencies),
            (t.root_preimage.len() == layout.middle_len(n_currencies))
                .then(|| layout.balances_of_middle_preimage(&t.root_preimage, n_currencies)),
        )
    };
    if t.root_preimage.len() != want
        || balances != Some(t.root.balances_fr())
        || poseidon::hash(&t.root_preimage) != t.root.hash
    {
        return Err(bad("its root preimage does not match its root"));
    }
    Ok(())
}

/// A mini-tree as the aggregation sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardInfo {
    /// The shard's name.
    pub name: String,
    /// Number of entries.
    pub entries: u64,
    /// The mini-tree's own depth (before lifting).
    pub depth: u32,
    /// The preimage of the lifted root (at the round's mini-tree depth).
    pub root_preimage: Vec<Fr>,
}

/// The aggregation tree: its leaves are the mini-tree roots lifted to the common
/// mini-tree depth; it is padded with zero subtrees of that height.
#[derive(Debug)]
pub struct Aggregation {
    /// Round parameters.
    pub params: Params,
    /// The currencies.
    pub currencies: Vec<Currency>,
    /// The common mini-tree depth (height of the aggregation tree's leaves).
    pub mini_depth: u32,
    /// The mini-trees, in round order.
    pub shards: Vec<ShardInfo>,
    /// `levels[0]` are the lifted mini-tree roots.
    pub levels: Vec<Level>,
    zeros: Zeros,
}

impl Aggregation {
    /// Aggregates the mini-tree summaries, in round order.
    pub fn build(
        params: &Params,
        currencies: &[Currency],
        trees: Vec<TreeSummary>,
    ) -> Result<Aggregation> {
        params.validate()?;
        if trees.is_empty() {
            return Err(Error::Invalid(
                "a round needs at least one mini-tree".into(),
            ));
        }
        let n_currencies = currencies.len();
        // Summaries may come from storage: check them all before their depths size
        // anything.
        for t in &trees {
            if t.root.balances.len() != n_currencies {
                return Err(Error::Invalid(format!(
                    "mini-tree {:?} has {} currencies, the round {n_currencies}",
                    t.name,
                    t.root.balances.len()
                )));
            }
            check_summary(params, n_currencies, t)?;
        }
        let mini_depth = trees.iter().map(|t| t.depth).max().unwrap_or(0);
        let agg_depth = depth_for(trees.len() as u64);
        let zeros = Zeros::new(params.layout, n_currencies, mini_depth + agg_depth);
        let n_bytes = params.n_bytes as usize;
        let stride = n_currencies * n_bytes;
        let mut level0 = Level {
            hashes: Vec::with_capacity(trees.len()),
            balances: vec![0; trees.len() * stride],
        };
        let mut shards = Vec::with_capacity(trees.len());
        let limit = bound(params.n_bytes);
        for (i, t) in trees.into_iter().enumerate() {
            if let Some(c) = t.root.balances.iter().position(|b| *b >= limit) {
                return Err(Error::TotalOutOfRange {
                    context: t.name.clone(),
                    currency: currencies[c].label(),
                    n_bytes: params.n_bytes,
                });
            }
            let (root, pre) = lift(params, &zeros, t.root, t.root_preimage, t.depth, mini_depth);
            level0.hashes.push(root.hash);
            for (c, b) in root.balances.iter().enumerate() {
                write_balance(
                    b,
                    &mut level0.balances[i * stride + c * n_bytes..][..n_bytes],
                );
            }
            shards.push(ShardInfo {
                name: t.name,
                entries: t.entries,
                depth: t.depth,
                root_preimage: pre,
            });
        }
        let mut levels = vec![level0];
        build_upper(
            &mut levels,
            params,
            n_currencies,
            mini_depth,
            agg_depth,
            &zeros,
        )
        .map_err(|c| Error::TotalOutOfRange {
            context: "aggregation tree".into(),
            currency: currencies[c].label(),
            n_bytes: params.n_bytes,
        })?;
        Ok(Aggregation {
            params: *params,
            currencies: currencies.to_vec(),
            mini_depth,
            shards,
            levels,
            zeros,
        })
    }

    /// Depth of the aggregation tree itself.
    pub fn agg_depth(&self) -> u32 {
        (self.levels.len() - 1) as u32
    }

    /// Depth of the round's tree: mini-tree depth plus aggregation depth.
    pub fn depth(&self) -> u32 {
        self.mini_depth + self.agg_depth()
    }

    /// Zero subtrees up to the round's depth.
    pub fn zeros(&self) -> &Zeros {
        &self.zeros
    }

    /// The node at `(level, index)` of the aggregation tree.
    pub fn node(&self, level: usize, index: usize) -> Node {
        node_at(
            &self.levels,
            &self.zeros,
            self.mini_depth,
            self.params.n_bytes,
            level,
            index,
        )
    }

    /// The round's root.
    pub fn root(&self) -> Node {
        self.node(self.levels.len() - 1, 0)
    }

    /// Total number of users.
    pub fn entries(&self) -> u64 {
        self.shards.iter().map(|s| s.entries).sum()
    }
}
