//! A mini-tree in the JSON shape of summa-aggregation's mini-tree-generator
//! response: `root`, `nodes` (every level from the leaves up, padded to
//! `2^(depth - k)` nodes), `depth`, `entries` and `is_sorted`, with hashes and
//! balances as `0x` + 64 hex digits.

use serde::Serialize;

use crate::field::{to_hex, u256_to_fr};
use crate::format::{ReadAt, TreeFile};
use crate::tree::Node;
use crate::Result;

/// A node as summa-aggregation prints it.
#[derive(Serialize)]
pub struct HexNode {
    /// The hash.
    pub hash: String,
    /// The balances, as field elements in hex.
    pub balances: Vec<String>,
}

/// An entry as summa-aggregation prints it.
#[derive(Serialize)]
pub struct HexEntry {
    /// Balances in hex.
    pub balances: Vec<String>,
    /// The username.
    pub username: String,
}

/// The mini-tree-generator response.
#[derive(Serialize)]
pub struct MiniTreeJson {
    /// The root.
    pub root: HexNode,
    /// All levels, leaves first.
    pub nodes: Vec<Vec<HexNode>>,
    /// The depth.
    pub depth: u32,
    /// The entries, in order.
    pub entries: Vec<HexEntry>,
    /// Always false: entries keep their CSV order.
    pub is_sorted: bool,
}

fn hex_node(n: &Node) -> HexNode {
    HexNode {
        hash: to_hex(&n.hash),
        balances: n.balances.iter().map(|b| to_hex(&u256_to_fr(b))).collect(),
    }
}

/// Exports a mini-tree file.
pub fn mini_tree_json<R: ReadAt>(f: &TreeFile<R>) -> Result<MiniTreeJson> {
    let mut nodes = Vec::with_capacity(f.depth as usize + 1);
    for k in 0..=f.depth as usize {
        let width = 1u64 << (f.depth as usize - k);
        nodes.push(
            f.nodes(k, 0, width)?
                .iter()
                .map(hex_node)
                .collect::<Vec<_>>(),
        );
    }
    let leaves = f.level(0)?;
    let mut entries = Vec::with_capacity(leaves.len());
    for (i, leaf) in leaves.iter().enumerate() {
        entries.push(HexEntry {
            balances: leaf
                .balances
                .iter()
                .map(|b| to_hex(&u256_to_fr(b)))
                .collect(),
            username: String::from_utf8_lossy(&f.username(i as u64)?).into_owned(),
        });
    }
    Ok(MiniTreeJson {
        root: hex_node(&f.root()?),
        nodes,
        depth: f.depth,
        entries,
        is_sorted: false,
    })
}
