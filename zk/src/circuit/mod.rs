//! The inclusion circuit: a leaf lies in a Merkle sum tree with a given root.
//!
//! Public inputs: `[leaf_hash, root_hash, total_0, .., total_{n-1}]`: summa-solvency's
//! `MstInclusionCircuit` has the first two; the root's per-currency sums are public
//! too, so that a verifier checks the proof against the totals the custodian
//! published (with only the root hash public, understated totals beside an honest
//! root would go unnoticed). Private witness: the user's entry (username field element and balances), the
//! sibling preimages of summa-solvency's `MerkleProof` (the sibling leaf's, then one
//! middle-node preimage a level) and the path bits.
//!
//! What it proves, level by level from the leaf (the rules of Summa's circuit):
//! - the leaf hash is `H(username, balances..)` and every balance is below
//!   `2^(8 n_bytes)`;
//! - each sibling's hash is the hash of its preimage, and the sibling's balances
//!   (taken from the preimage, or in the legacy layout added from its children's) are
//!   below `2^(8 n_bytes)`;
//! - the parent's balances are the children's sums, each below `2^(8 n_bytes)`: since
//!   both addends are range checked too, no sum wraps modulo p;
//! - the parent's hash is the layout's middle hash of the two children, ordered by a
//!   path bit that is constrained to be 0 or 1.
//!
//! Three chips, each with its configuration, its assignment and its own MockProver
//! tests:
//! - [`poseidon`]: the hashes, in columns of their own (`state`, `mid`,
//!   `sbox_square`; fixed `round_constants`);
//! - [`path`]: sums and the conditional swap of a level, in the arithmetic columns
//!   `left`, `right`, `out`;
//! - [`range`]: Summa's range rule, running sums of base-4 digits down the same
//!   three arithmetic columns, three values side by side after the path's arithmetic
//!   (no lookup argument; with up to 17 bytes a balance the Poseidon rows outnumber
//!   them, so they cost no rows; with more bytes, many currencies and a shallow tree
//!   they can set k).
//!
//! The two column groups each have their own row cursor in one region
//! ([`assign::Assigner`]); this module lays out the path from the leaf to the root.

use halo2_proofs::circuit::{Cell, Layouter, SimpleFloorPlanner, Value};
use halo2_proofs::halo2curves::bn256::{Fr, G1Affine};
use halo2_proofs::plonk::{
    keygen_vk_custom, Advice, Circuit, Column, ConstraintSystem, Error as PlonkError, Expression,
    Instance, VerifyingKey, VirtualCells,
};
use halo2_proofs::poly::commitment::Params;
use halo2_proofs::poly::Rotation;
use summa_agg::Layout;

use crate::convert::to_circuit;
use crate::shape::Shape;
use crate::witness::Witness;

pub(crate) mod assign;
#[cfg(test)]
mod chip_test;
pub mod path;
pub mod poseidon;
pub mod range;

use assign::{Assigner, Var};
use path::PathConfig;
use poseidon::{Constants, PoseidonConfig};
use range::RangeConfig;

/// The cells of `cols` at rotation `at`, for a gate: queried in the order given
/// (the order of first queries is part of the verifying key).
pub(crate) fn query_advice<const N: usize>(
    meta: &mut VirtualCells<'_, Fr>,
    cols: [Column<Advice>; N],
    at: Rotation,
) -> [Expression<Fr>; N] {
    cols.map(|col| meta.query_advice(col, at))
}

/// The circuit's chips and its instance column.
#[derive(Clone, Debug)]
pub struct Config {
    poseidon: PoseidonConfig,
    path: PathConfig,
    range: RangeConfig,
    instance: Column<Instance>,
}

impl Config {
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        // Column order (and so the verifying key): the Poseidon chip's state, the
        // state between a row's rounds (the last column also the absorbed input) and
        // the S-box squares, then the arithmetic columns; fixed round constants; the
        // instance.
        let state = [(); 2].map(|_| meta.advice_column());
        let mid = [(); poseidon::MIDS].map(|_| meta.advice_column());
        let squares = [(); poseidon::SQUARES].map(|_| meta.advice_column());
        let [left, right, out] = [(); 3].map(|_| meta.advice_column());
        let round_constants = [(); poseidon::ROUND_CONSTANTS].map(|_| meta.fixed_column());
        let instance = meta.instance_column();
        // The Poseidon chip's inputs are copied into `mid`'s last column.
        for col in [state[0], mid[poseidon::MIDS - 1], left, right, out] {
            meta.enable_equality(col);
        }
        meta.enable_equality(instance);
        let poseidon = PoseidonConfig::configure(meta, state, mid, squares, round_constants);
        let path = PathConfig::configure(meta, [left, right, out]);
        let range = RangeConfig::configure(meta, [left, right, out]);
        Config {
            poseidon,
            path,
            range,
            instance,
        }
    }
}

/// What the soundness tests change in an honest circuit (nothing, otherwise).
#[derive(Clone, Debug, Default)]
pub(crate) struct Hooks {
    /// Adds 1 to the value of the advice cell assigned in this position.
    pub(crate) tamper: Option<usize>,
    /// Where to record how many advice cells the layout assigns.
    pub(crate) count: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
    /// Leaves out the `constrain_instance` calls: a "hollow" circuit whose public
    /// inputs bind nothing.
    pub(crate) hollow: bool,
    /// Adds 1 to the Poseidon state's first word after this step (a row, counted
    /// over every hash of the layout) and goes on hashing from there: a witness that
    /// is consistent everywhere but at one step's gate.
    pub(crate) perturb_step: Option<usize>,
}

/// The inclusion circuit of one shape; with a witness it proves one user's inclusion,
/// without one it is what keys are made from.
#[derive(Clone, Debug)]
pub struct InclusionCircuit {
    shape: Shape,
    witness: Option<Witness>,
    hooks: Hooks,
}

/// Row of the leaf hash in the instance column.
pub const LEAF_ROW: usize = 0;
/// Row of the root hash in the instance column.
pub const ROOT_ROW: usize = 1;
/// Row of the first currency's total in the instance column (the others follow).
pub const TOTALS_ROW: usize = 2;

impl InclusionCircuit {
    /// The circuit of `shape` with no witness (for key generation).
    pub fn keygen(shape: Shape) -> InclusionCircuit {
        InclusionCircuit {
            shape,
            witness: None,
            hooks: Hooks::default(),
        }
    }

    /// The circuit proving `witness`. The witness must have the shape's lengths.
    pub fn new(shape: Shape, witness: Witness) -> crate::Result<InclusionCircuit> {
        witness.check_shape(&shape)?;
        Ok(InclusionCircuit {
            shape,
            witness: Some(witness),
            hooks: Hooks::default(),
        })
    }

    /// The same circuit with the soundness tests' hooks.
    #[cfg(test)]
    pub(crate) fn with_hooks(mut self, hooks: Hooks) -> InclusionCircuit {
        self.hooks = hooks;
        self
    }

    /// The circuit's shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The circuit's verifying key over `params`: every key of this crate is made
    /// here. The simple selectors are compressed into fewer fixed columns (halo2's
    /// selector combining: mutually exclusive selectors share a column, within the
    /// gates' degree), each fixed column being one more polynomial that every proof
    /// carries to the quotient's domain; the key records that it was made so.
    pub fn keygen_vk<'p, P>(&self, params: &P) -> Result<VerifyingKey<G1Affine>, PlonkError>
    where
        P: Params<'p, G1Affine> + Sync,
    {
        keygen_vk_custom(params, self, true)
    }
}

/// The witness as circuit values (unknown when there is none).
struct Values {
    username: Value<Fr>,
    balances: Vec<Value<Fr>>,
    siblings: Vec<Vec<Value<Fr>>>,
    path: Vec<Value<Fr>>,
}

impl Values {
    fn of(shape: &Shape, w: Option<&Witness>) -> Values {
        let known = |f: &summa_agg::Fr| Value::known(to_circuit(f));
        match w {
            Some(w) => Values {
                username: known(&w.username),
                balances: w.balances.iter().map(known).collect(),
                siblings: w
                    .siblings
                    .iter()
                    .map(|s| s.iter().map(known).collect())
                    .collect(),
                path: w
                    .path
                    .iter()
                    .map(|&b| Value::known(Fr::from(u64::from(b))))
                    .collect(),
            },
            None => Values {
                username: Value::unknown(),
                balances: vec![Value::unknown(); shape.currencies],
                siblings: (0..shape.depth as usize)
                    .map(|k| vec![Value::unknown(); shape.sibling_len(k)])
                    .collect(),
                path: vec![Value::unknown(); shape.depth as usize],
            },
        }
    }
}

impl Circuit<Fr> for InclusionCircuit {
    type Config = Config;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        InclusionCircuit {
            shape: self.shape,
            witness: None,
            hooks: self.hooks.clone(),
        }
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        Config::configure(meta)
    }

    fn synthesize(&self, cfg: Config, mut layouter: impl Layouter<Fr>) -> Result<(), PlonkError> {
        let consts = Constants::get();
        let shape = self.shape;
        let values = Values::of(&shape, self.witness.as_ref());
        let (leaf, root, totals) = layouter.assign_region(
            || "inclusion",
            |mut region| {
                let mut asg = Assigner::new(&mut region, &self.hooks);
                let out = synthesize_path(&mut asg, &cfg, &consts, &shape, &values);
                // The shape's row count, which sets k, is this layout's.
                if out.is_ok() {
                    debug_assert_eq!(
                        [asg.poseidon_row + 1, asg.arith_row],
                        shape.rows(),
                        "{}",
                        shape.id()
                    );
                }
                if let Some(count) = &self.hooks.count {
                    count.store(asg.assigned, std::sync::atomic::Ordering::Relaxed);
                }
                out
            },
        )?;
        if !self.hooks.hollow {
            layouter.constrain_instance(leaf, cfg.instance, LEAF_ROW);
            layouter.constrain_instance(root, cfg.instance, ROOT_ROW);
            for (i, total) in totals.into_iter().enumerate() {
                layouter.constrain_instance(total, cfg.instance, TOTALS_ROW + i);
            }
        }
        Ok(())
    }
}

/// The path from the leaf to the root; returns the leaf's and the root's hash
/// cells and the root's balance cells (the round's totals).
fn synthesize_path(
    asg: &mut Assigner<'_, '_>,
    cfg: &Config,
    consts: &Constants,
    shape: &Shape,
    values: &Values,
) -> Result<(Cell, Cell, Vec<Cell>), PlonkError> {
    let n_currencies = shape.currencies;
    let n_bytes = shape.n_bytes as usize;
    let legacy = shape.layout == Layout::Legacy;
    let (hash, path, range) = (&cfg.poseidon, &cfg.path, &cfg.range);
    let mut leaf_values = vec![values.username];
    leaf_values.extend(&values.balances);
    let leaf_pre = asg.witness(path.cols, &leaf_values);
    let mut balances = leaf_pre[1..].to_vec();
    // Every value that must be below 2^(8 n_bytes), range checked after the path.
    let mut ranged = balances.clone();
    let leaf = hash.hash(asg, consts, &leaf_pre)?;
    let mut node = leaf;
    for (level, (sib_values, bit)) in values.siblings.iter().zip(&values.path).enumerate() {
        let pre = asg.witness(path.cols, sib_values);
        let sib_hash = hash.hash(asg, consts, &pre)?;
        let sib_balances: Vec<Var> = if level == 0 {
            pre[1..].to_vec()
        } else if legacy {
            // (l.hash, l.balances.., r.hash, r.balances..)
            let mut sums = Vec::with_capacity(n_currencies);
            for i in 0..n_currencies {
                let (l, r) = (&pre[1 + i], &pre[n_currencies + 2 + i]);
                ranged.extend([*l, *r]);
                sums.push(path.add(asg, l, r)?);
            }
            sums
        } else {
            pre[..n_currencies].to_vec()
        };
        ranged.extend(&sib_balances);
        let swapped = path.swap(asg, &node, &sib_hash, Ok(*bit))?;
        let mut sums = Vec::with_capacity(n_currencies);
        for (own, sib) in balances.iter().zip(&sib_balances) {
            let sum = path.add(asg, own, sib)?;
            ranged.push(sum);
            sums.push(sum);
        }
        let preimage = if legacy {
            let mut left = vec![swapped.left];
            let mut right = vec![swapped.right];
            for (own, sib) in balances.iter().zip(&sib_balances) {
                let pair = path.swap(asg, own, sib, Err(&swapped.bit))?;
                left.push(pair.left);
                right.push(pair.right);
            }
            left.extend(right);
            left
        } else {
            let mut p = sums.clone();
            p.push(swapped.left);
            p.push(swapped.right);
            p
        };
        node = hash.hash(asg, consts, &preimage)?;
        balances = sums;
    }
    range.check_all(asg, &ranged, n_bytes)?;
    Ok((
        leaf.cell,
        node.cell,
        balances.iter().map(|b| b.cell).collect(),
    ))
}
