//! Inclusion proofs: the fields of summa-solvency's `MerkleProof` (the entry, the
//! sibling leaf preimage, the sibling middle-node preimages and the path indices)
//! from the user's leaf up to the round's root, across the mini-tree, the levels
//! that lift it to the round's mini-tree depth, and the aggregation tree.

pub mod paths;

use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use crate::field::{bound, fr_to_u256, parse_decimal, to_hex, u256_to_fr, U256};
use crate::format::{ReadAt, TreeFile};
use crate::json::{parse_fr, NodeJson};
use crate::shard::Currency;
use crate::tree::{middle, middle_preimage, Node, ShardInfo, Zeros};
use crate::{poseidon, Error, Layout, Params, Result};

/// A user's entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryJson {
    /// The username.
    pub username: String,
    /// Decimal balances, one per currency.
    pub balances: Vec<String>,
}

/// An inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proof {
    /// The hash layout.
    pub layout: Layout,
    /// The balance range, in bytes.
    pub n_bytes: u8,
    /// The currencies.
    pub currencies: Vec<Currency>,
    /// The user's entry.
    pub entry: EntryJson,
    /// The user's leaf.
    pub leaf: NodeJson,
    /// The leaf's index in the round's tree.
    pub index: u64,
    /// The mini-tree (shard) that holds the user, and the user's index in it.
    pub mini_tree: u64,
    /// The user's index within the mini-tree.
    pub mini_tree_index: u64,
    /// Depth of the round's tree: the number of siblings.
    pub depth: u32,
    /// Preimage of the leaf's sibling: username and balances (none at depth 0).
    pub sibling_leaf_node_hash_preimage: Option<Vec<String>>,
    /// Preimages of the middle-node siblings, from level 1 up.
    pub sibling_middle_node_hash_preimages: Vec<Vec<String>>,
    /// 0 where the path's node is a left child, 1 where it is a right child.
    pub path_indices: Vec<u8>,
    /// The round's root.
    pub root: NodeJson,
}

fn hexes(v: &[Fr]) -> Vec<String> {
    v.iter().map(to_hex).collect()
}

/// The preimage of node `(level, index)` of a tree file: a leaf preimage at level 0
/// of a mini-tree, else the middle preimage over its children.
fn preimage_in<R: ReadAt>(f: &TreeFile<R>, level: usize, index: u64) -> Result<Vec<Fr>> {
    if level == 0 {
        if index >= f.count {
            return Ok(f.zeros().preimage(f.base));
        }
        let node = f.node(0, index)?;
        let mut p = vec![f.params.layout.username_fe(&f.username(index)?)];
        p.extend(node.balances_fr());
        return Ok(p);
    }
    let kids = f.nodes(level - 1, 2 * index, 2)?;
    middle_preimage(&f.params, &kids[0], &kids[1]).map_err(|_| Error::Format {
        path: "tree file".into(),
        what: "tree file",
        problem: "sums out of range".into(),
    })
}

/// Builds `username`'s proof from the round's aggregation file and its mini-trees
/// (`open(i)` opens mini-tree `i`; they are searched in order).
pub fn generate<A: ReadAt, M: ReadAt>(
    agg: &TreeFile<A>,
    mut open: impl FnMut(usize) -> Result<TreeFile<M>>,
    username: &str,
) -> Result<Proof> {
    let shards = aggregation_shards(agg)?;
    for i in 0..shards.len() {
        if let Some(p) = prove_in(agg, &shards, i, &open(i)?, username)? {
            return Ok(p);
        }
    }
    Err(Error::UnknownUser(username.into()))
}

/// Builds `username`'s proof if the user is in mini-tree `i` (`mini_tree`), reading
/// nothing of the other mini-trees; `Ok(None)` if the user is not in it.
pub fn generate_in<A: ReadAt, M: ReadAt>(
    agg: &TreeFile<A>,
    i: usize,
    mini_tree: &TreeFile<M>,
    username: &str,
) -> Result<Option<Proof>> {
    let shards = aggregation_shards(agg)?;
    if i >= shards.len() {
        return Err(Error::Invalid(format!(
            "the round has no mini-tree {i} ({} in all)",
            shards.len()
        )));
    }
    prove_in(agg, &shards, i, mini_tree, username)
}

fn aggregation_shards<A: ReadAt>(agg: &TreeFile<A>) -> Result<Vec<crate::tree::ShardInfo>> {
    if !agg.is_aggregation() {
        return Err(Error::Invalid(
            "the first file must be the aggregation tree".into(),
        ));
    }
    agg.shards()
}

fn prove_in<A: ReadAt, M: ReadAt>(
    agg: &TreeFile<A>,
    shards: &[ShardInfo],
    i: usize,
    mt: &TreeFile<M>,
    username: &str,
) -> Result<Option<Proof>> {
    let shard = &shards[i];
    if mt.is_aggregation()
        || mt.depth > agg.base
        || mt.depth != shard.depth
        || mt.count != shard.entries
        || mt.params != agg.params
        || mt.currencies != agg.currencies
    {
        return Err(Error::Format {
            path: shard.name.clone(),
            what: "mini-tree",
            problem: "it does not match the aggregation tree".into(),
        });
    }
    match mt.find(username.as_bytes())? {
        Some(j) => prove_with(mt, j, username, &aggregation_path(agg, shards, i)?).map(Some),
        None => Ok(None),
    }
}

/// The part of a user's path above their mini-tree: the same for every user of
/// that mini-tree. From the aggregation tree ([`aggregation_path`]), or from a
/// round's aggregation paths file ([`paths`]), one read for a proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AggregationPath {
    /// The mini-tree's index in the round.
    pub shard: u64,
    /// Its entries.
    pub entries: u64,
    /// Its own depth (before it is lifted).
    pub depth: u32,
    /// The round's mini-tree depth: the height of the aggregation tree's leaves.
    pub mini_depth: u32,
    /// The siblings' preimages from height `mini_depth` up, one per level of the
    /// aggregation tree.
    pub siblings: Vec<Vec<Fr>>,
    /// The round's root.
    pub root: Node,
}

/// Mini-tree `i`'s [`AggregationPath`] in the aggregation tree `agg`, whose
/// mini-tree table is `shards`.
pub fn aggregation_path<A: ReadAt>(
    agg: &TreeFile<A>,
    shards: &[ShardInfo],
    i: usize,
) -> Result<AggregationPath> {
    aggregation_path_with_root(agg, shards, i, agg.root()?)
}

/// [`aggregation_path`] with the tree's root already read.
pub fn aggregation_path_with_root<A: ReadAt>(
    agg: &TreeFile<A>,
    shards: &[ShardInfo],
    i: usize,
    root: Node,
) -> Result<AggregationPath> {
    let shard = shards.get(i).ok_or_else(|| {
        Error::Invalid(format!(
            "the round has no mini-tree {i} ({} in all)",
            shards.len()
        ))
    })?;
    let mini_depth = agg.base;
    let mut siblings = Vec::with_capacity(agg.depth as usize);
    for a in 0..agg.depth as usize {
        let sib = ((i as u64) >> a) ^ 1;
        siblings.push(if a == 0 {
            match shards.get(sib as usize) {
                Some(s) => s.root_preimage.clone(),
                None => agg.zeros().preimage(mini_depth),
            }
        } else {
            preimage_in(agg, a, sib)?
        });
    }
    Ok(AggregationPath {
        shard: i as u64,
        entries: shard.entries,
        depth: shard.depth,
        mini_depth,
        siblings,
        root,
    })
}

/// The siblings' preimages of entry `j`'s path in mini-tree file `mt`, from
/// the leaf's sibling up, each with the path's bit at that level.
pub fn mini_tree_siblings<M: ReadAt>(mt: &TreeFile<M>, j: u64) -> Result<Vec<(Vec<Fr>, u8)>> {
    (0..mt.depth as usize)
        .map(|k| {
            let idx = j >> k;
            Ok((preimage_in(mt, k, idx ^ 1)?, (idx & 1) as u8))
        })
        .collect()
}

/// `username`'s proof as entry `j` of mini-tree file `mt`, whose path above it
/// is `upper`. Fails if the entry is not that user's or the mini-tree is not
/// the one `upper` is for.
pub fn prove_with<M: ReadAt>(
    mt: &TreeFile<M>,
    j: u64,
    username: &str,
    upper: &AggregationPath,
) -> Result<Proof> {
    if mt.is_aggregation()
        || mt.depth > upper.mini_depth
        || mt.depth != upper.depth
        || mt.count != upper.entries
        || upper.root.balances.len() != mt.currencies.len()
    {
        return Err(Error::Format {
            path: format!("mini-tree {}", upper.shard),
            what: "mini-tree",
            problem: "it does not match the aggregation tree".into(),
        });
    }
    if j >= mt.count || mt.username(j)? != username.as_bytes() {
        return Err(Error::Invalid(format!(
            "entry {j} of mini-tree {} is not {username:?}",
            upper.shard
        )));
    }
    let mini_depth = upper.mini_depth;
    let mut preimages: Vec<Vec<Fr>> =
        Vec::with_capacity((mini_depth as usize) + upper.siblings.len());
    let mut path = Vec::with_capacity(preimages.capacity());
    for (pre, bit) in mini_tree_siblings(mt, j)? {
        preimages.push(pre);
        path.push(bit);
    }
    // Lifting the mini-tree to the round's mini-tree depth: zero siblings on the right.
    let zeros = Zeros::new(mt.params.layout, mt.currencies.len(), mini_depth);
    for h in mt.depth..mini_depth {
        preimages.push(zeros.preimage(h));
        path.push(0);
    }
    // In the aggregation tree.
    for (a, pre) in upper.siblings.iter().enumerate() {
        preimages.push(pre.clone());
        path.push(((upper.shard >> a) & 1) as u8);
    }
    let leaf = mt.node(0, j)?;
    let mut preimages = preimages.into_iter();
    let sibling_leaf = preimages.next().map(|p| hexes(&p));
    Ok(Proof {
        layout: mt.params.layout,
        n_bytes: mt.params.n_bytes,
        currencies: mt.currencies.clone(),
        entry: EntryJson {
            username: username.into(),
            balances: leaf.balances.iter().map(|b| b.to_string()).collect(),
        },
        leaf: (&leaf).into(),
        index: (upper.shard << mini_depth) | j,
        mini_tree: upper.shard,
        mini_tree_index: j,
        depth: mini_depth + upper.siblings.len() as u32,
        sibling_leaf_node_hash_preimage: sibling_leaf,
        sibling_middle_node_hash_preimages: preimages.map(|p| hexes(&p)).collect(),
        path_indices: path,
        root: (&upper.root).into(),
    })
}

/// Recomputes the proof's path. `Ok` with the root only if the path reaches the
/// proof's root (and `expected_root`, when given), every balance on it is below
/// `2^(8 * n_bytes)` and the root's totals are the path's sums.
pub fn verify(proof: &Proof, expected_root: Option<&Fr>) -> Result<Node> {
    let fail = |m: String| Error::Proof(m);
    let params = Params {
        layout: proof.layout,
        n_bytes: proof.n_bytes,
    };
    params.validate()?;
    let layout = proof.layout;
    let n_currencies = proof.currencies.len();
    let limit = bound(proof.n_bytes);
    let in_range = |v: &U256, what: &str| {
        if *v >= limit {
            Err(fail(format!(
                "{what} is out of range for n_bytes = {}",
                proof.n_bytes
            )))
        } else {
            Ok(())
        }
    };
    if proof.entry.balances.len() != n_currencies {
        return Err(fail(format!(
            "the entry has {} balances for {n_currencies} currencies",
            proof.entry.balances.len()
        )));
    }
    let balances = proof
        .entry
        .balances
        .iter()
        .map(|b| parse_decimal(b.as_bytes()).map_err(|p| fail(format!("entry: {p}"))))
        .collect::<Result<Vec<U256>>>()?;
    for b in &balances {
        in_range(b, "an entry balance")?;
    }
    layout
        .check_username(proof.entry.username.as_bytes())
        .map_err(|p| fail(format!("entry: {p}")))?;
    let mut pre = vec![layout.username_fe(proof.entry.username.as_bytes())];
    pre.extend(balances.iter().map(u256_to_fr));
    let mut cur = Node {
        hash: poseidon::hash(&pre),
        balances,
    };
    if proof.leaf.to_node("leaf")? != cur {
        return Err(fail("the leaf is not the hash of the entry".into()));
    }
    let depth = proof.depth as usize;
    if depth > 63 {
        // Leaf indices are u64: no tree of this format is deeper.
        return Err(fail(format!("a depth of {depth} is not possible")));
    }
    let expected_middles = depth.saturating_sub(1);
    if proof.path_indices.len() != depth
        || proof.sibling_leaf_node_hash_preimage.is_some() != (depth > 0)
        || proof.sibling_middle_node_hash_preimages.len() != expected_middles
    {
        return Err(fail(format!(
            "a proof of depth {depth} needs {depth} path indices and siblings"
        )));
    }
    if proof.index >> depth != 0 {
        return Err(fail("the index does not fit the depth".into()));
    }
    let siblings = proof
        .sibling_leaf_node_hash_preimage
        .iter()
        .chain(&proof.sibling_middle_node_hash_preimages);
    for (k, (sib, &bit)) in siblings.zip(&proof.path_indices).enumerate() {
        let sib = sib
            .iter()
            .map(|h| parse_fr(h, &format!("sibling at level {k}")))
            .collect::<Result<Vec<Fr>>>()?;
        let (want, balances) = if k == 0 {
            (
                layout.leaf_len(n_currencies),
                sib.get(1..).map(|b| b.to_vec()),
            )
        } else {
            (layout.middle_len(n_currencies), Some(sib.clone()))
        };
        if sib.len() != want {
            return Err(fail(format!(
                "sibling preimage at level {k} has {} elements, expected {want}",
                sib.len()
            )));
        }
        let balances = if k == 0 {
            balances.unwrap()
        } else {
            if layout == Layout::Legacy {
                for i in 0..n_currencies {
                    in_range(
                        &fr_to_u256(&sib[1 + i]),
                        &format!("a balance in the sibling at level {k}"),
                    )?;
                    in_range(
                        &fr_to_u256(&sib[n_currencies + 2 + i]),
                        &format!("a balance in the sibling at level {k}"),
                    )?;
                }
            }
            layout.balances_of_middle_preimage(&sib, n_currencies)
        };
        let sib_balances: Vec<U256> = balances.iter().map(fr_to_u256).collect();
        for b in &sib_balances {
            in_range(b, &format!("a balance of the sibling at level {k}"))?;
        }
        let sib_node = Node {
            hash: poseidon::hash(&sib),
            balances: sib_balances,
        };
        if bit > 1 {
            return Err(fail(format!("path index {bit} at level {k} is not 0 or 1")));
        }
        if u64::from(bit) != (proof.index >> k) & 1 {
            return Err(fail(format!(
                "path index at level {k} does not match the index"
            )));
        }
        let (l, r) = if bit == 0 {
            (&cur, &sib_node)
        } else {
            (&sib_node, &cur)
        };
        cur = middle(&params, l, r)
            .map_err(|c| {
                fail(format!(
                    "the total of currency {c} at level {} is out of range for n_bytes = {}",
                    k + 1,
                    proof.n_bytes
                ))
            })?
            .0;
    }
    let root = proof.root.to_node("root")?;
    if root.hash != cur.hash {
        return Err(fail(format!(
            "the path reaches {}, not the proof's root {}",
            to_hex(&cur.hash),
            proof.root.hash
        )));
    }
    if root.balances != cur.balances {
        return Err(fail("the root's totals are not the path's sums".into()));
    }
    if let Some(r) = expected_root {
        if *r != cur.hash {
            return Err(fail(format!(
                "the proof's root {} is not the expected root {}",
                proof.root.hash,
                to_hex(r)
            )));
        }
    }
    Ok(cur)
}

/// Refuses an empty expected username: "the proof must be for no one" is no
/// check (every verifier asks this of the user's `--user`, `username`).
pub fn check_expected_user(want: &str) -> std::result::Result<(), String> {
    if want.is_empty() {
        return Err(
            "the expected username is empty: give the username the proof must be for, or none"
                .into(),
        );
    }
    Ok(())
}

/// Verifies `proof` against the custodian's published `result.json`: the root
/// hash and totals, the currencies (names and order), the layout, `n_bytes`, the
/// depths and the mini-tree position all come from `result`, not from the proof,
/// and must match it; then the path must reach that root ([`verify`]).
pub fn verify_with_result(proof: &Proof, result: &crate::json::RoundResult) -> Result<Node> {
    let fail = |m: String| Error::Proof(m);
    if proof.layout != result.layout {
        return Err(fail(format!(
            "the proof is for layout {}, the published round uses {}",
            proof.layout, result.layout
        )));
    }
    if proof.n_bytes != result.n_bytes {
        return Err(fail(format!(
            "the proof is for n_bytes = {}, the published round uses {}",
            proof.n_bytes, result.n_bytes
        )));
    }
    result.check_labels_digest().map_err(fail)?;
    if proof.currencies != result.currencies {
        let labels = |c: &[crate::shard::Currency]| {
            c.iter().map(|c| c.label()).collect::<Vec<_>>().join(", ")
        };
        return Err(fail(format!(
            "the proof's currencies [{}] are not the published round's [{}]",
            labels(&proof.currencies),
            labels(&result.currencies)
        )));
    }
    if proof.depth != result.depth || result.mini_tree_depth > result.depth {
        return Err(fail(format!(
            "the proof has depth {}, the published round's tree has depth {}",
            proof.depth, result.depth
        )));
    }
    let mini_depth = result.mini_tree_depth;
    if proof.mini_tree >= result.mini_trees
        || proof.index >> mini_depth != proof.mini_tree
        || proof.index & ((1u64 << mini_depth) - 1) != proof.mini_tree_index
    {
        return Err(fail(format!(
            "the proof's position (index {}, mini-tree {} at {}) is not a leaf of the published round's {} mini-trees of depth {mini_depth}",
            proof.index, proof.mini_tree, proof.mini_tree_index, result.mini_trees
        )));
    }
    let root = result.root.to_node("result.json root")?;
    let reached = verify(proof, Some(&root.hash))?;
    if reached.balances != root.balances {
        return Err(fail(
            "the path's totals are not the published round's totals".into(),
        ));
    }
    Ok(reached)
}
