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
//! Two groups of columns, each with its own row cursor in one region (the regions of
//! `halo2-axiom` place cells at absolute rows):
//! - Poseidon (`s0`, `s1`, `x`; fixed `rc[0..4]`): one row per full round and one per
//!   *two* partial rounds, the state in `s0, s1` (the rate word first, as
//!   `halo2_poseidon`'s sponge: state `[rate, capacity]`), `x` holding the absorbed
//!   input on a permutation's first row and the state's first word between the two
//!   partial rounds of a row. A hash of `L` inputs takes `36 L + 1` rows.
//! - arithmetic (`a`, `b`, `c`): sums, the conditional swap of the path, and range
//!   checks: a running sum of bytes down column `a`, `z_{i+1} = (z_i - byte_i) / 256`,
//!   each `byte_i` looked up in a table of 0..=255, and `z_{n_bytes} = 0`. (The
//!   Poseidon rows are 5x the others: sharing column `a` costs no rows, and one
//!   advice column less makes the proof 256 bytes smaller.)

use halo2_proofs::circuit::{Cell, Layouter, Region, SimpleFloorPlanner, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Constraints, Error as PlonkError, Expression, Fixed,
    Instance, Selector, TableColumn,
};
use halo2_proofs::poly::Rotation;
use summa_agg::{poseidon, Layout};

use crate::convert::to_circuit;
use crate::shape::Shape;
use crate::witness::Witness;

/// The Poseidon constants in the circuit's field.
struct Constants {
    rc: Vec<[Fr; 2]>,
    mds: [[Fr; 2]; 2],
}

impl Constants {
    fn get() -> Constants {
        let mds = poseidon::mds_matrix();
        Constants {
            rc: poseidon::round_constants()
                .iter()
                .map(|r| [to_circuit(&r[0]), to_circuit(&r[1])])
                .collect(),
            mds: [
                [to_circuit(&mds[0][0]), to_circuit(&mds[0][1])],
                [to_circuit(&mds[1][0]), to_circuit(&mds[1][1])],
            ],
        }
    }

    fn mix(&self, a: Fr, b: Fr) -> [Fr; 2] {
        let m = &self.mds;
        [m[0][0] * a + m[0][1] * b, m[1][0] * a + m[1][1] * b]
    }

    /// A full round: both words through the S-box.
    fn full(&self, s: [Fr; 2], r: usize) -> [Fr; 2] {
        self.mix(pow5(s[0] + self.rc[r][0]), pow5(s[1] + self.rc[r][1]))
    }

    /// A partial round: the first word through the S-box.
    fn partial(&self, s: [Fr; 2], r: usize) -> [Fr; 2] {
        self.mix(pow5(s[0] + self.rc[r][0]), s[1] + self.rc[r][1])
    }
}

fn pow5(x: Fr) -> Fr {
    x.square().square() * x
}

/// The rounds: 4 full, 56 partial, 4 full (Poseidon paper, section 2.3).
const HALF_FULL: usize = poseidon::FULL_ROUNDS / 2;
const PARTIAL_PAIRS: usize = poseidon::PARTIAL_ROUNDS / 2;
const ROWS_PER_PERMUTATION: usize = poseidon::FULL_ROUNDS + PARTIAL_PAIRS;

/// The circuit's columns, selectors and table.
#[derive(Clone, Debug)]
pub struct Config {
    s0: Column<Advice>,
    s1: Column<Advice>,
    x: Column<Advice>,
    p: [Column<Advice>; 2],
    rc: [Column<Fixed>; 4],
    q_full: Selector,
    q_full_in: Selector,
    q_partial: Selector,
    q_init: Selector,
    a: Column<Advice>,
    b: Column<Advice>,
    c: Column<Advice>,
    q_add: Selector,
    q_swap: Selector,
    q_range: Selector,
    q_zero: Selector,
    bytes: TableColumn,
    instance: Column<Instance>,
}

impl Config {
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Config {
        let consts = Constants::get();
        let [s0, s1, x, p0, p1, a, b, c] = [(); 8].map(|_| meta.advice_column());
        let rc = [(); 4].map(|_| meta.fixed_column());
        let instance = meta.instance_column();
        for col in [s0, x, a, b, c] {
            meta.enable_equality(col);
        }
        meta.enable_equality(instance);
        let cfg = Config {
            s0,
            s1,
            x,
            p: [p0, p1],
            rc,
            q_full: meta.selector(),
            q_full_in: meta.selector(),
            q_partial: meta.selector(),
            q_init: meta.selector(),
            a,
            b,
            c,
            q_add: meta.selector(),
            q_swap: meta.selector(),
            q_range: meta.complex_selector(),
            q_zero: meta.selector(),
            bytes: meta.lookup_table_column(),
            instance,
        };
        let m = consts.mds;
        let mix = move |u: Expression<Fr>, v: Expression<Fr>, i: usize| {
            u * Expression::Constant(m[i][0]) + v * Expression::Constant(m[i][1])
        };

        // halo2-axiom caps a gate's degree at 5 (selector included): the S-boxes
        // keep their squares in `p0`, `p1`, so that every gate has degree at most 4.
        //
        // A full round, with (q_full_in) or without (q_full) the absorbed input `x`
        // added to the rate word first.
        for (name, sel, absorb) in [
            ("full round", cfg.q_full, false),
            ("full round absorbing x", cfg.q_full_in, true),
        ] {
            meta.create_gate(name, |meta| {
                let q = meta.query_selector(sel);
                let mut w0 = meta.query_advice(s0, Rotation::cur());
                if absorb {
                    w0 = w0 + meta.query_advice(x, Rotation::cur());
                }
                let w1 = meta.query_advice(s1, Rotation::cur());
                let e0 = w0 + meta.query_fixed(rc[0], Rotation::cur());
                let e1 = w1 + meta.query_fixed(rc[1], Rotation::cur());
                let sq0 = meta.query_advice(p0, Rotation::cur());
                let sq1 = meta.query_advice(p1, Rotation::cur());
                let u = sq0.clone() * sq0.clone() * e0.clone();
                let v = sq1.clone() * sq1.clone() * e1.clone();
                let n0 = meta.query_advice(s0, Rotation::next());
                let n1 = meta.query_advice(s1, Rotation::next());
                Constraints::with_selector(
                    q,
                    [
                        sq0 - e0.clone() * e0,
                        sq1 - e1.clone() * e1,
                        n0 - mix(u.clone(), v.clone(), 0),
                        n1 - mix(u, v, 1),
                    ],
                )
            });
        }

        // Two partial rounds: `x` is the rate word after the first one.
        meta.create_gate("two partial rounds", |meta| {
            let q = meta.query_selector(cfg.q_partial);
            let w0 = meta.query_advice(s0, Rotation::cur());
            let w1 = meta.query_advice(s1, Rotation::cur());
            let mid = meta.query_advice(x, Rotation::cur());
            let sq0 = meta.query_advice(p0, Rotation::cur());
            let sq1 = meta.query_advice(p1, Rotation::cur());
            let [c0, c1, c2, c3] = rc.map(|col| meta.query_fixed(col, Rotation::cur()));
            let e0 = w0 + c0;
            let u = sq0.clone() * sq0.clone() * e0.clone();
            let v = w1 + c1;
            let mid_word1 = mix(u.clone(), v.clone(), 1);
            let f0 = mid.clone() + c2;
            let u2 = sq1.clone() * sq1.clone() * f0.clone();
            let v2 = mid_word1 + c3;
            let n0 = meta.query_advice(s0, Rotation::next());
            let n1 = meta.query_advice(s1, Rotation::next());
            Constraints::with_selector(
                q,
                [
                    sq0 - e0.clone() * e0,
                    mid - mix(u, v, 0),
                    sq1 - f0.clone() * f0,
                    n0 - mix(u2.clone(), v2.clone(), 0),
                    n1 - mix(u2, v2, 1),
                ],
            )
        });

        // The `ConstantLength<L>` domain: state `[0, L * 2^64]` (the capacity element
        // in rc[2], a column the first row of a permutation does not otherwise use).
        meta.create_gate("sponge initial state", |meta| {
            let q = meta.query_selector(cfg.q_init);
            let w0 = meta.query_advice(s0, Rotation::cur());
            let w1 = meta.query_advice(s1, Rotation::cur());
            let cap = meta.query_fixed(rc[2], Rotation::cur());
            Constraints::with_selector(q, [w0, w1 - cap])
        });

        meta.create_gate("c = a + b", |meta| {
            let q = meta.query_selector(cfg.q_add);
            let [a, b, c] = [a, b, c].map(|col| meta.query_advice(col, Rotation::cur()));
            Constraints::with_selector(q, [a + b - c])
        });

        // Row r: a = u, b = v, c = bit; row r + 1: a = left, b = right, where
        // (left, right) = (u, v) if bit = 0 and (v, u) if bit = 1.
        meta.create_gate("conditional swap", |meta| {
            let q = meta.query_selector(cfg.q_swap);
            let u = meta.query_advice(a, Rotation::cur());
            let v = meta.query_advice(b, Rotation::cur());
            let bit = meta.query_advice(c, Rotation::cur());
            let left = meta.query_advice(a, Rotation::next());
            let right = meta.query_advice(b, Rotation::next());
            let one = Expression::Constant(Fr::ONE);
            Constraints::with_selector(
                q,
                [
                    bit.clone() * (one - bit.clone()),
                    left - (u.clone() + bit.clone() * (v.clone() - u.clone())),
                    right - (v.clone() + bit * (u - v)),
                ],
            )
        });

        meta.lookup("byte of a running sum", |meta| {
            let q = meta.query_selector(cfg.q_range);
            let cur = meta.query_advice(a, Rotation::cur());
            let next = meta.query_advice(a, Rotation::next());
            vec![(
                q * (cur - next * Expression::Constant(Fr::from(256))),
                cfg.bytes,
            )]
        });

        meta.create_gate("running sum ends at zero", |meta| {
            let q = meta.query_selector(cfg.q_zero);
            let z = meta.query_advice(a, Rotation::cur());
            Constraints::with_selector(q, [z])
        });

        cfg
    }
}

/// A value and its cell.
#[derive(Clone, Copy, Debug)]
struct Var {
    cell: Cell,
    value: Value<Fr>,
}

/// Lays the circuit out in one region, one row cursor per column group.
struct Synth<'a, 'r> {
    region: &'a mut Region<'r, Fr>,
    cfg: &'a Config,
    consts: &'a Constants,
    n_bytes: usize,
    poseidon_row: usize,
    arith_row: usize,
    /// Advice cells assigned so far (for the mutation test's hook).
    assigned: usize,
    hooks: Hooks,
}

impl Synth<'_, '_> {
    fn put(&mut self, col: Column<Advice>, row: usize, value: Value<Fr>) -> Var {
        // The mutation test re-assigns one cell: only the cell changes, the value
        // the layout goes on with (copies included) stays the honest one.
        let assigned = if self.hooks.tamper == Some(self.assigned) {
            value.map(|v| v + Fr::ONE)
        } else {
            value
        };
        self.assigned += 1;
        let cell = self.region.assign_advice(col, row, assigned).cell();
        Var { cell, value }
    }

    fn copy(&mut self, col: Column<Advice>, row: usize, from: &Var) -> Var {
        let to = self.put(col, row, from.value);
        self.region.constrain_equal(to.cell, from.cell);
        to
    }

    fn enable(&mut self, sel: Selector, row: usize) -> Result<(), PlonkError> {
        sel.enable(self.region, row)
    }

    /// Private values, three a row in the arithmetic columns (no gate reads them).
    fn witness(&mut self, values: &[Value<Fr>]) -> Vec<Var> {
        let cols = [self.cfg.a, self.cfg.b, self.cfg.c];
        let mut out = Vec::with_capacity(values.len());
        for chunk in values.chunks(3) {
            for (col, v) in cols.iter().zip(chunk) {
                out.push(self.put(*col, self.arith_row, *v));
            }
            self.arith_row += 1;
        }
        out
    }

    fn add(&mut self, u: &Var, v: &Var) -> Result<Var, PlonkError> {
        let row = self.arith_row;
        self.arith_row += 1;
        self.enable(self.cfg.q_add, row)?;
        self.copy(self.cfg.a, row, u);
        self.copy(self.cfg.b, row, v);
        Ok(self.put(self.cfg.c, row, u.value + v.value))
    }

    /// `(u, v)` if `bit` is 0, `(v, u)` if it is 1. `bit` is a fresh value the gate
    /// constrains to 0 or 1, or a copy of an earlier swap's bit. Returns the pair and
    /// the bit's cell.
    fn swap(
        &mut self,
        u: &Var,
        v: &Var,
        bit: Result<Value<Fr>, &Var>,
    ) -> Result<SwapOut, PlonkError> {
        let row = self.arith_row;
        self.arith_row += 2;
        let cfg = self.cfg;
        self.enable(cfg.q_swap, row)?;
        let bit = match bit {
            Ok(value) => self.put(cfg.c, row, value),
            Err(var) => self.copy(cfg.c, row, var),
        };
        self.copy(cfg.a, row, u);
        self.copy(cfg.b, row, v);
        let is_one = bit.value.map(|b| b == Fr::ONE);
        let pick = |x: Value<Fr>, y: Value<Fr>| {
            is_one
                .zip(x.zip(y))
                .map(|(one, (x, y))| if one { y } else { x })
        };
        let left = self.put(cfg.a, row + 1, pick(u.value, v.value));
        let right = self.put(cfg.b, row + 1, pick(v.value, u.value));
        Ok(SwapOut { left, right, bit })
    }

    /// Constrains `v < 2^(8 n_bytes)`.
    fn range(&mut self, v: &Var) -> Result<(), PlonkError> {
        let n = self.n_bytes;
        let row = self.arith_row;
        self.arith_row += n + 1;
        let z = self.cfg.a;
        self.copy(z, row, v);
        for i in 0..n {
            self.enable(self.cfg.q_range, row + i)?;
            let shifted = v.value.map(|f| shift_bytes(&f, i + 1));
            self.put(z, row + i + 1, shifted);
        }
        self.enable(self.cfg.q_zero, row + n)
    }

    /// Poseidon of `inputs` in the `ConstantLength<L>` domain, width 2, rate 1: the
    /// circuit form of `summa_agg::poseidon::hash`.
    fn hash(&mut self, inputs: &[Var]) -> Result<Var, PlonkError> {
        let cfg = self.cfg;
        let c = self.consts;
        let start = self.poseidon_row;
        let cap = Fr::from_u128((inputs.len() as u128) << 64);
        self.enable(cfg.q_init, start)?;
        self.region.assign_fixed(cfg.rc[2], start, cap);
        let mut state = Value::known([Fr::ZERO, cap]);
        let mut out = self.put(cfg.s0, start, Value::known(Fr::ZERO));
        self.put(cfg.s1, start, Value::known(cap));
        let mut row = start;
        for input in inputs {
            self.copy(cfg.x, row, input);
            state = state.zip(input.value).map(|(mut s, v)| {
                s[0] += v;
                s
            });
            let mut round = 0;
            // Rows of full rounds 0..4, partial pairs, full rounds 60..64.
            for step in 0..ROWS_PER_PERMUTATION {
                let r = row + step;
                let full = !(HALF_FULL..HALF_FULL + PARTIAL_PAIRS).contains(&step);
                self.region.assign_fixed(cfg.rc[0], r, c.rc[round][0]);
                self.region.assign_fixed(cfg.rc[1], r, c.rc[round][1]);
                let sq = |v: Fr| v.square();
                if full {
                    let sel = if step == 0 { cfg.q_full_in } else { cfg.q_full };
                    self.enable(sel, r)?;
                    let e = state.map(|s| [s[0] + c.rc[round][0], s[1] + c.rc[round][1]]);
                    self.put(cfg.p[0], r, e.map(|e| sq(e[0])));
                    self.put(cfg.p[1], r, e.map(|e| sq(e[1])));
                    state = state.map(|s| c.full(s, round));
                    round += 1;
                } else {
                    self.enable(cfg.q_partial, r)?;
                    self.region.assign_fixed(cfg.rc[2], r, c.rc[round + 1][0]);
                    self.region.assign_fixed(cfg.rc[3], r, c.rc[round + 1][1]);
                    self.put(cfg.p[0], r, state.map(|s| sq(s[0] + c.rc[round][0])));
                    let mid = state.map(|s| c.partial(s, round));
                    self.put(cfg.x, r, mid.map(|s| s[0]));
                    self.put(cfg.p[1], r, mid.map(|s| sq(s[0] + c.rc[round + 1][0])));
                    state = mid.map(|s| c.partial(s, round + 1));
                    round += 2;
                }
                out = self.put(cfg.s0, r + 1, state.map(|s| s[0]));
                self.put(cfg.s1, r + 1, state.map(|s| s[1]));
            }
            row += ROWS_PER_PERMUTATION;
        }
        self.poseidon_row = row + 1;
        Ok(out)
    }
}

struct SwapOut {
    left: Var,
    right: Var,
    bit: Var,
}

/// `f >> (8 * bytes)` on the canonical integer.
fn shift_bytes(f: &Fr, bytes: usize) -> Fr {
    let le = f.to_repr();
    let mut out = [0u8; 32];
    out[..32 - bytes].copy_from_slice(&le[bytes..]);
    Fr::from_repr(out).expect("a smaller integer is canonical")
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
        layouter.assign_table(
            || "bytes",
            |mut table| {
                for i in 0..256 {
                    table.assign_cell(
                        || "byte",
                        cfg.bytes,
                        i,
                        || Value::known(Fr::from(i as u64)),
                    )?;
                }
                Ok(())
            },
        )?;
        let consts = Constants::get();
        let shape = self.shape;
        let values = Values::of(&shape, self.witness.as_ref());
        let (leaf, root, totals) = layouter.assign_region(
            || "inclusion",
            |mut region| {
                let mut s = Synth {
                    region: &mut region,
                    cfg: &cfg,
                    consts: &consts,
                    n_bytes: shape.n_bytes as usize,
                    poseidon_row: 0,
                    arith_row: 0,
                    assigned: 0,
                    hooks: self.hooks.clone(),
                };
                let out = synthesize_path(&mut s, &shape, &values);
                if let Some(count) = &s.hooks.count {
                    count.store(s.assigned, std::sync::atomic::Ordering::Relaxed);
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
    s: &mut Synth<'_, '_>,
    shape: &Shape,
    values: &Values,
) -> Result<(Cell, Cell, Vec<Cell>), PlonkError> {
    let nc = shape.currencies;
    let legacy = shape.layout == Layout::Legacy;
    let mut leaf_values = vec![values.username];
    leaf_values.extend(&values.balances);
    let leaf_pre = s.witness(&leaf_values);
    let mut balances = leaf_pre[1..].to_vec();
    for b in &balances {
        s.range(b)?;
    }
    let leaf = s.hash(&leaf_pre)?;
    let mut hash = leaf;
    for (level, (sib_values, bit)) in values.siblings.iter().zip(&values.path).enumerate() {
        let pre = s.witness(sib_values);
        let sib_hash = s.hash(&pre)?;
        let sib_balances: Vec<Var> = if level == 0 {
            pre[1..].to_vec()
        } else if legacy {
            // (l.hash, l.balances.., r.hash, r.balances..)
            let mut sums = Vec::with_capacity(nc);
            for i in 0..nc {
                let (l, r) = (&pre[1 + i], &pre[nc + 2 + i]);
                s.range(l)?;
                s.range(r)?;
                sums.push(s.add(l, r)?);
            }
            sums
        } else {
            pre[..nc].to_vec()
        };
        for b in &sib_balances {
            s.range(b)?;
        }
        let swapped = s.swap(&hash, &sib_hash, Ok(*bit))?;
        let mut sums = Vec::with_capacity(nc);
        for (own, sib) in balances.iter().zip(&sib_balances) {
            let sum = s.add(own, sib)?;
            s.range(&sum)?;
            sums.push(sum);
        }
        let preimage = if legacy {
            let mut left = vec![swapped.left];
            let mut right = vec![swapped.right];
            for (own, sib) in balances.iter().zip(&sib_balances) {
                let pair = s.swap(own, sib, Err(&swapped.bit))?;
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
        hash = s.hash(&preimage)?;
        balances = sums;
    }
    Ok((
        leaf.cell,
        hash.cell,
        balances.iter().map(|b| b.cell).collect(),
    ))
}
