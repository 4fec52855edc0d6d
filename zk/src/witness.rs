//! The circuit's private witness, taken from a Merkle proof of the core library.

use summa_agg::field::{parse_decimal, u256_to_fr};
use summa_agg::json::parse_fr;
use summa_agg::proof::Proof;
use summa_agg::{poseidon, Fr, Layout};

use crate::shape::Shape;
use crate::{Error, Result};

/// One user's path, as field elements of the core library. Private: it is never
/// written anywhere a user can see it; only the proof leaves the prover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    /// The username's field element (`Layout::username_fe`).
    pub username: Fr,
    /// The user's balances.
    pub balances: Vec<Fr>,
    /// The sibling preimages: the sibling leaf's, then one middle node's a level.
    pub siblings: Vec<Vec<Fr>>,
    /// `false` where the path's node is a left child.
    pub path: Vec<bool>,
}

impl Witness {
    /// The witness of a Merkle proof made by `summa_agg::proof::generate` (the
    /// custodian's own, trusted). The proof is checked first.
    pub fn from_merkle_proof(proof: &Proof) -> Result<(Shape, Witness)> {
        summa_agg::proof::verify(proof, None)?;
        let shape = Shape {
            layout: proof.layout,
            depth: proof.depth,
            currencies: proof.currencies.len(),
            n_bytes: proof.n_bytes,
        };
        shape.validate()?;
        let balances = proof
            .entry
            .balances
            .iter()
            .map(|b| {
                parse_decimal(b.as_bytes())
                    .map(|v| u256_to_fr(&v))
                    .map_err(|p| Error::Proof(format!("entry: {p}")))
            })
            .collect::<Result<Vec<Fr>>>()?;
        let siblings = proof
            .sibling_leaf_node_hash_preimage
            .iter()
            .chain(&proof.sibling_middle_node_hash_preimages)
            .enumerate()
            .map(|(k, pre)| {
                pre.iter()
                    .map(|h| parse_fr(h, &format!("sibling at level {k}")).map_err(Error::from))
                    .collect::<Result<Vec<Fr>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        let witness = Witness {
            username: proof.layout.username_fe(proof.entry.username.as_bytes()),
            balances,
            siblings,
            path: proof.path_indices.iter().map(|&b| b == 1).collect(),
        };
        witness.check_shape(&shape)?;
        Ok((shape, witness))
    }

    /// A valid witness of `shape` made from `seed`, for benchmarks: balances below
    /// 2^40, hashes random field elements, path bits from the seed. Its public inputs
    /// are [`Witness::public_inputs`]; it belongs to no real tree.
    pub fn synthetic(shape: &Shape, seed: u64) -> Witness {
        // SplitMix64: deterministic and dependency-free.
        let mut x = seed;
        let mut next = move || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut balance = || Fr::from(next() >> 24);
        let n_currencies = shape.currencies;
        let balances = (0..n_currencies).map(|_| balance()).collect();
        let mut next_hash = {
            let mut y = seed ^ 0x5eed;
            move || {
                y = y.wrapping_mul(6364136223846793005).wrapping_add(1);
                poseidon::hash(&[Fr::from(y)])
            }
        };
        let siblings = (0..shape.depth as usize)
            .map(|k| {
                if k == 0 {
                    let mut p = vec![next_hash()];
                    p.extend((0..n_currencies).map(|_| balance()));
                    return p;
                }
                match shape.layout {
                    Layout::Legacy => {
                        let mut p = vec![next_hash()];
                        p.extend((0..n_currencies).map(|_| balance()));
                        p.push(next_hash());
                        p.extend((0..n_currencies).map(|_| balance()));
                        p
                    }
                    Layout::V1 | Layout::Agg2023 => {
                        let mut p: Vec<Fr> = (0..n_currencies).map(|_| balance()).collect();
                        p.push(next_hash());
                        p.push(next_hash());
                        p
                    }
                }
            })
            .collect();
        let path = (0..shape.depth)
            .map(|k| (seed >> (k % 64)) & 1 == 1)
            .collect();
        Witness {
            username: next_hash(),
            balances,
            siblings,
            path,
        }
    }

    /// Checks the lengths against `shape`.
    pub fn check_shape(&self, shape: &Shape) -> Result<()> {
        shape.validate()?;
        let depth = shape.depth as usize;
        let ok = self.balances.len() == shape.currencies
            && self.siblings.len() == depth
            && self.path.len() == depth
            && self
                .siblings
                .iter()
                .enumerate()
                .all(|(k, s)| s.len() == shape.sibling_len(k));
        if ok {
            Ok(())
        } else {
            Err(Error::Shape(format!(
                "the witness does not have the shape {}",
                shape.id()
            )))
        }
    }

    /// The public inputs this witness leads to, in the instance column's order
    /// (`[leaf_hash, root_hash, total_0, ..]`), computed natively with field
    /// arithmetic only (no range checks: the circuit's job). Tests use it to make
    /// witnesses that break one rule at a time.
    pub fn public_inputs(&self, layout: Layout) -> Vec<Fr> {
        let n_currencies = self.balances.len();
        let mut pre = vec![self.username];
        pre.extend(&self.balances);
        let leaf = poseidon::hash(&pre);
        let (mut hash, mut balances) = (leaf, self.balances.clone());
        for (k, (sib, &bit)) in self.siblings.iter().zip(&self.path).enumerate() {
            let sib_hash = poseidon::hash(sib);
            let sib_balances: Vec<Fr> = if k == 0 {
                sib[1..].to_vec()
            } else {
                layout.balances_of_middle_preimage(sib, n_currencies)
            };
            let sums: Vec<Fr> = balances
                .iter()
                .zip(&sib_balances)
                .map(|(a, b)| a + b)
                .collect();
            let (l, r) = if bit {
                ((sib_hash, &sib_balances), (hash, &balances))
            } else {
                ((hash, &balances), (sib_hash, &sib_balances))
            };
            let mut out = vec![Fr::default(); layout.middle_len(n_currencies)];
            layout.middle_preimage((l.0, l.1), (r.0, r.1), &sums, &mut out);
            hash = poseidon::hash(&out);
            balances = sums;
        }
        let mut public = vec![leaf, hash];
        public.extend(balances);
        public
    }
}
