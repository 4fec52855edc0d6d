//! The reference path: summa-solvency's Poseidon (`summa_agg::reference::poseidon`,
//! the generic `halo2_poseidon` primitive), integers as `BigUint`, and the rules of
//! each format read again from their specification (README, `src/format.rs`) rather
//! than through the library's code. Every oracle answers `None` where it does not
//! apply (a hash length the generic primitive is not instantiated for here).

use std::cell::RefCell;
use std::collections::HashMap;

use ff::{Field, PrimeField};
use num_bigint::BigUint;
use num_traits::{One, Zero};
use summa_agg::proof::Proof;
use summa_agg::shard::Currency;
use summa_agg::tree::TreeSummary;
use summa_agg::{reference, Fr, Layout, Params};

/// p, the BN254 scalar field modulus.
pub fn modulus() -> BigUint {
    BigUint::from_bytes_be(&summa_agg::field::MODULUS_BE)
}

/// The integer of a field element.
pub fn fr_to_big(f: &Fr) -> BigUint {
    BigUint::from_bytes_le(f.to_repr().as_ref())
}

/// The field element of an integer, reduced mod p.
pub fn big_to_fr(b: &BigUint) -> Fr {
    reference::big_uint_to_fp(&(b % modulus()))
}

/// `2^(8 * n_bytes)`.
pub fn bound(n_bytes: u8) -> BigUint {
    BigUint::one() << (8 * n_bytes as usize)
}

/// summa-solvency's Poseidon of `pre` through the generic primitive, for the
/// lengths instantiated here (1 to 24: up to 11 currencies in every layout).
pub fn ref_hash(pre: &[Fr]) -> Option<Fr> {
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match pre.len() {
                $($n => Some(reference::poseidon::<$n>(pre.try_into().unwrap())),)*
                _ => None,
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24)
}

/// The largest number of currencies every oracle handles.
pub const MAX_ORACLE_CURRENCIES: usize = 11;

/// `ceil(log2 n)`, 0 for n <= 1, computed the slow way.
pub fn depth_of(n: u64) -> u32 {
    let mut d = 0;
    while (1u128 << d) < n as u128 {
        d += 1;
    }
    d
}

/// The username's integer in a layout, as summa-solvency's `Entry` makes it.
pub fn username_big(layout: Layout, name: &[u8]) -> BigUint {
    use sha3::Digest;
    match layout {
        Layout::V1 => BigUint::from_bytes_be(&sha3::Keccak256::digest(name)),
        Layout::Agg2023 | Layout::Legacy => BigUint::from_bytes_be(name),
    }
}

/// Whether a layout accepts a username: not empty (in agg2023 and legacy `("", 0..)`
/// is the padding leaf), no leading NUL byte (in those layouts it would name the
/// same integer as the name without it), and in agg2023 and legacy its bytes, as
/// one big-endian integer, below p.
pub fn username_ok(layout: Layout, name: &[u8]) -> bool {
    !name.is_empty()
        && name[0] != 0
        && (layout == Layout::V1 || BigUint::from_bytes_be(name) < modulus())
}

/// A node of the reference: hash and integer balances.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RNode {
    /// Its hash.
    pub hash: Fr,
    /// Its balances, as integers.
    pub balances: Vec<BigUint>,
}

/// A leaf: H(username integer mod p, balances...).
pub fn leaf(layout: Layout, name: &[u8], balances: &[BigUint]) -> Option<RNode> {
    let mut pre = vec![big_to_fr(&username_big(layout, name))];
    pre.extend(balances.iter().map(big_to_fr));
    Some(RNode {
        hash: ref_hash(&pre)?,
        balances: balances.to_vec(),
    })
}

/// The middle preimage over two children (sums as integers, not range-checked).
pub fn middle_preimage(layout: Layout, l: &RNode, r: &RNode) -> (Vec<Fr>, Vec<BigUint>) {
    let sums: Vec<BigUint> = l
        .balances
        .iter()
        .zip(&r.balances)
        .map(|(a, b)| a + b)
        .collect();
    let pre = match layout {
        Layout::V1 | Layout::Agg2023 => {
            let mut p: Vec<Fr> = sums.iter().map(big_to_fr).collect();
            p.push(l.hash);
            p.push(r.hash);
            p
        }
        Layout::Legacy => {
            let mut p = vec![l.hash];
            p.extend(l.balances.iter().map(big_to_fr));
            p.push(r.hash);
            p.extend(r.balances.iter().map(big_to_fr));
            p
        }
    };
    (pre, sums)
}

/// The middle node over two children; `Err` if a sum is not below `limit`.
pub fn middle(layout: Layout, l: &RNode, r: &RNode, limit: &BigUint) -> Option<Result<RNode, ()>> {
    let (pre, sums) = middle_preimage(layout, l, r);
    if sums.iter().any(|s| s >= limit) {
        return Some(Err(()));
    }
    Some(Ok(RNode {
        hash: ref_hash(&pre)?,
        balances: sums,
    }))
}

thread_local! {
    static ZEROS: RefCell<HashMap<(u8, usize), Vec<Fr>>> = RefCell::new(HashMap::new());
}

/// The all-zero subtree of height `h` (cached per layout and currency count).
pub fn zero(layout: Layout, n_currencies: usize, h: u32) -> Option<RNode> {
    let hash = ZEROS.with(|z| {
        let mut z = z.borrow_mut();
        let hashes = z.entry((layout.code(), n_currencies)).or_default();
        if hashes.is_empty() {
            hashes.push(ref_hash(&vec![Fr::ZERO; n_currencies + 1])?);
        }
        while hashes.len() <= h as usize {
            let below = RNode {
                hash: *hashes.last().unwrap(),
                balances: vec![BigUint::zero(); n_currencies],
            };
            let (pre, _) = middle_preimage(layout, &below, &below);
            hashes.push(ref_hash(&pre)?);
        }
        Some(hashes[h as usize])
    })?;
    Some(RNode {
        hash,
        balances: vec![BigUint::zero(); n_currencies],
    })
}

/// A tree over `leaves` (already hashed) padded with zero subtrees: nodes at
/// height `base`, folded up `levels` times.
pub fn fold(
    layout: Layout,
    n_currencies: usize,
    mut level: Vec<RNode>,
    base: u32,
    levels: u32,
    limit: &BigUint,
) -> Option<Result<RNode, ()>> {
    for h in base..base + levels {
        if level.len() % 2 == 1 {
            level.push(zero(layout, n_currencies, h)?);
        }
        let mut up = Vec::with_capacity(level.len() / 2);
        for pair in level.chunks(2) {
            match middle(layout, &pair[0], &pair[1], limit)? {
                Ok(n) => up.push(n),
                Err(()) => return Some(Err(())),
            }
        }
        level = up;
    }
    assert_eq!(level.len(), 1, "fold: not a power of two");
    Some(Ok(level.pop().unwrap()))
}

// --- text -------------------------------------------------------------------

/// A decimal balance as the README specifies it: ASCII spaces around it allowed,
/// then only digits, below 2^256.
pub fn decimal(text: &[u8]) -> Option<BigUint> {
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    let start = text.iter().position(|c| !ws(c))?;
    let end = text.iter().rposition(|c| !ws(c))? + 1;
    let t = &text[start..end];
    if !t.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = BigUint::parse_bytes(t, 10)?;
    (v.bits() <= 256).then_some(v)
}

/// Every text of `list` as a [`decimal`], or `None` if one is not.
fn decimals(list: &[String]) -> Option<Vec<BigUint>> {
    list.iter().map(|b| decimal(b.as_bytes())).collect()
}

/// A field element as `0x` + 1 to 64 hex digits, canonical.
pub fn hex_fr(s: &str) -> Option<Fr> {
    let d = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    if d.is_empty() || d.len() > 64 || !d.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let v = BigUint::parse_bytes(d.as_bytes(), 16)?;
    (v < modulus()).then(|| big_to_fr(&v))
}

// --- CSV --------------------------------------------------------------------

/// What a CSV shard must give, by the README's rules, for inputs in a simple
/// subset of CSV (no quotes, CR, spaces or byte-order mark).
#[derive(Debug, PartialEq, Eq)]
pub enum CsvVerdict {
    /// Outside the subset: no verdict.
    NotSimple,
    /// The shard must be refused by the reader.
    Bad,
    /// The reader must accept these rows, and the mini-tree must be refused
    /// (a duplicate username, or a total out of range).
    BadTree(Vec<(Vec<u8>, Vec<BigUint>)>),
    /// The rows, and a tree must be built over them.
    Good(Vec<Currency>, Vec<(Vec<u8>, Vec<BigUint>)>),
}

/// Reads a shard of the simple subset with `str::split`, by the README's rules.
pub fn csv_verdict(text: &[u8], params: &Params, expected: Option<&[Currency]>) -> CsvVerdict {
    let simple = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b',' | b'\n');
    if !text.iter().all(simple) {
        return CsvVerdict::NotSimple;
    }
    let text = std::str::from_utf8(text).unwrap();
    let mut lines = text.split('\n').filter(|l| !l.is_empty());
    let Some(header) = lines.next() else {
        return CsvVerdict::Bad;
    };
    let cols: Vec<&str> = header.split(',').collect();
    if cols[0] != "username" || cols.len() < 2 || cols.len() - 1 > u16::MAX as usize {
        return CsvVerdict::Bad;
    }
    let mut currencies = Vec::new();
    for c in &cols[1..] {
        let parts: Vec<&str> = c.split('_').collect();
        if parts.len() != 3
            || parts[0] != "balance"
            || parts[1].is_empty()
            || parts[2].is_empty()
            || parts[1].len() > 255
            || parts[2].len() > 255
        {
            return CsvVerdict::Bad;
        }
        currencies.push(Currency {
            name: parts[1].into(),
            chain: parts[2].into(),
        });
    }
    if expected.is_some_and(|e| e != currencies) {
        return CsvVerdict::Bad;
    }
    let n_currencies = currencies.len();
    let limit = bound(params.n_bytes);
    let mut rows = Vec::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != n_currencies + 1 || cells[0].is_empty() {
            return CsvVerdict::Bad;
        }
        let name = cells[0].as_bytes();
        if !username_ok(params.layout, name) {
            return CsvVerdict::Bad;
        }
        let mut balances = Vec::with_capacity(n_currencies);
        for cell in &cells[1..] {
            match decimal(cell.as_bytes()) {
                Some(v) if v < limit => balances.push(v),
                _ => return CsvVerdict::Bad,
            }
        }
        rows.push((name.to_vec(), balances));
    }
    if rows.is_empty() {
        return CsvVerdict::Bad;
    }
    let mut names: Vec<&[u8]> = rows.iter().map(|r| r.0.as_slice()).collect();
    names.sort();
    let duplicate = names.windows(2).any(|w| w[0] == w[1]);
    let total_out =
        (0..n_currencies).any(|c| rows.iter().map(|r| &r.1[c]).sum::<BigUint>() >= limit);
    if duplicate || total_out {
        CsvVerdict::BadTree(rows)
    } else {
        CsvVerdict::Good(currencies, rows)
    }
}

/// The root of one tree over `rows` (padded to a power of two), by the reference.
pub fn tree_root(
    layout: Layout,
    n_currencies: usize,
    rows: &[(Vec<u8>, Vec<BigUint>)],
    limit: &BigUint,
) -> Option<Result<RNode, ()>> {
    let leaves = rows
        .iter()
        .map(|(n, b)| leaf(layout, n, b))
        .collect::<Option<Vec<_>>>()?;
    fold(
        layout,
        n_currencies,
        leaves,
        0,
        depth_of(rows.len() as u64),
        limit,
    )
}

// --- summaries and the aggregation ----------------------------------------------

/// Whether a mini-tree summary is one a mini-tree could have produced: depth fits
/// the entries, the preimage has the layout's length, commits to the root's
/// balances (mod p) and hashes to the root.
pub fn summary_ok(params: &Params, n_currencies: usize, t: &TreeSummary) -> Option<bool> {
    if t.entries == 0 || t.entries > u32::MAX as u64 || t.depth != depth_of(t.entries) {
        return Some(false);
    }
    let p = modulus();
    let pre: Vec<BigUint> = t.root_preimage.iter().map(fr_to_big).collect();
    let (want, committed): (usize, Option<Vec<BigUint>>) = if t.depth == 0 {
        (n_currencies + 1, pre.get(1..).map(|b| b.to_vec()))
    } else {
        match params.layout {
            Layout::V1 | Layout::Agg2023 => (
                n_currencies + 2,
                pre.get(..n_currencies).map(|b| b.to_vec()),
            ),
            Layout::Legacy => (
                2 * n_currencies + 2,
                (pre.len() == 2 * n_currencies + 2).then(|| {
                    (0..n_currencies)
                        .map(|i| (&pre[1 + i] + &pre[n_currencies + 2 + i]) % &p)
                        .collect()
                }),
            ),
        }
    };
    if pre.len() != want {
        return Some(false);
    }
    let root: Vec<BigUint> = t
        .root
        .balances
        .iter()
        .map(|b| BigUint::from_bytes_le(&b.to_le_bytes::<32>()) % &p)
        .collect();
    if committed != Some(root) {
        return Some(false);
    }
    Some(ref_hash(&t.root_preimage)? == t.root.hash)
}

/// The aggregation of mini-tree summaries by the README's rules: each lifted with
/// zero subtrees to the largest depth, then one tree over them padded with zero
/// subtrees. `Err` where the library must refuse them.
pub fn aggregation(
    params: &Params,
    n_currencies: usize,
    trees: &[TreeSummary],
) -> Option<Result<RNode, ()>> {
    if trees.is_empty() || n_currencies > MAX_ORACLE_CURRENCIES {
        return if trees.is_empty() {
            Some(Err(()))
        } else {
            None
        };
    }
    let limit = bound(params.n_bytes);
    for t in trees {
        if t.root.balances.len() != n_currencies || !summary_ok(params, n_currencies, t)? {
            return Some(Err(()));
        }
    }
    let md = trees.iter().map(|t| t.depth).max().unwrap();
    let mut level = Vec::new();
    for t in trees {
        let balances: Vec<BigUint> = t
            .root
            .balances
            .iter()
            .map(|b| BigUint::from_bytes_le(&b.to_le_bytes::<32>()))
            .collect();
        if balances.iter().any(|b| b >= &limit) {
            return Some(Err(()));
        }
        let mut node = RNode {
            hash: t.root.hash,
            balances,
        };
        for h in t.depth..md {
            node = middle(
                params.layout,
                &node,
                &zero(params.layout, n_currencies, h)?,
                &limit,
            )?
            .ok()?;
        }
        level.push(node);
    }
    let ad = depth_of(trees.len() as u64);
    fold(params.layout, n_currencies, level, md, ad, &limit)
}

// --- Merkle proofs -------------------------------------------------------------

/// Verifies a Merkle proof by the README's rules ("Proofs"): `Ok` with the root
/// reached, `Err` where the library must refuse it.
pub fn verify_proof(proof: &Proof, expected_root: Option<&Fr>) -> Option<Result<RNode, ()>> {
    let n_currencies = proof.currencies.len();
    if n_currencies > MAX_ORACLE_CURRENCIES {
        return None;
    }
    let layout = proof.layout;
    if proof.n_bytes == 0 || proof.n_bytes > 31 {
        return Some(Err(()));
    }
    let limit = bound(proof.n_bytes);
    let p = modulus();
    macro_rules! ensure {
        ($c:expr) => {
            if !$c {
                return Some(Err(()));
            }
        };
    }
    ensure!(proof.entry.balances.len() == n_currencies);
    let mut balances = Vec::new();
    for b in &proof.entry.balances {
        match decimal(b.as_bytes()) {
            Some(v) if v < limit => balances.push(v),
            _ => return Some(Err(())),
        }
    }
    let name = proof.entry.username.as_bytes();
    ensure!(username_ok(layout, name));
    let mut cur = leaf(layout, name, &balances)?;
    // The proof's leaf must be that node.
    let given_leaf = hex_fr(&proof.leaf.hash);
    let given_balances = decimals(&proof.leaf.balances);
    ensure!(given_leaf == Some(cur.hash) && given_balances.as_ref() == Some(&cur.balances));
    let depth = proof.depth as usize;
    ensure!(depth <= 63);
    ensure!(proof.path_indices.len() == depth);
    ensure!(proof.sibling_leaf_node_hash_preimage.is_some() == (depth > 0));
    ensure!(proof.sibling_middle_node_hash_preimages.len() == depth.saturating_sub(1));
    ensure!((proof.index as u128) < (1u128 << depth));
    let siblings: Vec<&Vec<String>> = proof
        .sibling_leaf_node_hash_preimage
        .iter()
        .chain(&proof.sibling_middle_node_hash_preimages)
        .collect();
    for (k, sib) in siblings.into_iter().enumerate() {
        let pre: Option<Vec<Fr>> = sib.iter().map(|h| hex_fr(h)).collect();
        let Some(pre) = pre else {
            return Some(Err(()));
        };
        let ints: Vec<BigUint> = pre.iter().map(fr_to_big).collect();
        let sib_balances: Vec<BigUint> = if k == 0 {
            ensure!(pre.len() == n_currencies + 1);
            ints[1..].to_vec()
        } else {
            match layout {
                Layout::V1 | Layout::Agg2023 => {
                    ensure!(pre.len() == n_currencies + 2);
                    ints[..n_currencies].to_vec()
                }
                Layout::Legacy => {
                    ensure!(pre.len() == 2 * n_currencies + 2);
                    let (l, r) = (&ints[1..=n_currencies], &ints[n_currencies + 2..]);
                    ensure!(l.iter().chain(r).all(|b| b < &limit));
                    l.iter().zip(r).map(|(a, b)| (a + b) % &p).collect()
                }
            }
        };
        ensure!(sib_balances.iter().all(|b| b < &limit));
        let sib_node = RNode {
            hash: ref_hash(&pre)?,
            balances: sib_balances,
        };
        let bit = proof.path_indices[k];
        ensure!(bit <= 1 && u64::from(bit) == (proof.index >> k) & 1);
        let (l, r) = if bit == 0 {
            (&cur, &sib_node)
        } else {
            (&sib_node, &cur)
        };
        match middle(layout, l, r, &limit)? {
            Ok(n) => cur = n,
            Err(()) => return Some(Err(())),
        }
    }
    let root_hash = hex_fr(&proof.root.hash);
    let root_balances = decimals(&proof.root.balances);
    ensure!(root_hash.is_some() && root_balances.is_some());
    ensure!(root_hash == Some(cur.hash) && root_balances.as_ref() == Some(&cur.balances));
    if let Some(r) = expected_root {
        ensure!(*r == cur.hash);
    }
    Some(Ok(cur))
}

/// [`verify_proof`] against a published `result.json`: its layout, `n_bytes`,
/// currencies, depths, number of mini-trees, root hash and totals.
pub fn verify_with_result(
    proof: &Proof,
    result: &summa_agg::json::RoundResult,
) -> Option<Result<RNode, ()>> {
    let bad = Some(Err(()));
    // The labels' digest: SHA-256 of the currencies' compact JSON, written here
    // from the format's words (`[{"name":..,"chain":..},..]`), not with the core's.
    let labels: Vec<String> = result
        .currencies
        .iter()
        .map(|c| {
            format!(
                "{{\"name\":{},\"chain\":{}}}",
                serde_json::Value::from(c.name.as_str()),
                serde_json::Value::from(c.chain.as_str())
            )
        })
        .collect();
    let digest = {
        use sha2::Digest;
        let d = sha2::Sha256::digest(format!("[{}]", labels.join(",")));
        format!("0x{}", hex::encode(d))
    };
    if result.labels_digest.as_deref() != Some(digest.as_str()) {
        return bad;
    }
    if proof.layout != result.layout
        || proof.n_bytes != result.n_bytes
        || proof.currencies != result.currencies
        || proof.depth != result.depth
        || result.mini_tree_depth > result.depth
        || result.depth > 63
    {
        return bad;
    }
    let md = result.mini_tree_depth;
    let index = proof.index as u128;
    if proof.mini_tree >= result.mini_trees
        || index >> md != proof.mini_tree as u128
        || index % (1u128 << md) != proof.mini_tree_index as u128
    {
        return bad;
    }
    let root_hash = hex_fr(&result.root.hash);
    let root_balances: Option<Vec<BigUint>> = result
        .root
        .balances
        .iter()
        .map(|b| decimal(b.as_bytes()))
        .collect();
    let (Some(root_hash), Some(root_balances)) = (root_hash, root_balances) else {
        return bad;
    };
    match verify_proof(proof, Some(&root_hash))? {
        Ok(n) if n.balances == root_balances => Some(Ok(n)),
        _ => bad,
    }
}
