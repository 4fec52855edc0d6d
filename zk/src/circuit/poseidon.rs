//! The Poseidon chip: `summa_agg::poseidon::hash` (width 2, rate 1, x^5, 8 full and
//! 56 partial rounds, Grain constants, `ConstantLength<L>` domain: summa-solvency's
//! `PoseidonSpec`) as constraints, bit for bit.
//!
//! A row holds [`FULL_PER_ROW`] full rounds or [`PARTIAL_PER_ROW`] partial rounds:
//! [`ROWS_PER_PERMUTATION`] rows a permutation (Poseidon paper, section 2.3: 4 full,
//! 56 partial, 4 full). The state at the start of a row lives in `state[0],
//! state[1]` (the rate word first, as `halo2_poseidon`'s sponge: state `[rate,
//! capacity]`); the state between the rounds of a row in `mid` (the rate word after
//! each partial round but the row's last; both words after each full round but the
//! row's last); the absorbed input on a permutation's first row in `mid`'s last
//! column (`input`). halo2-axiom's quotient grows with a gate's degree (5, selector
//! included, keeps it at 4 pieces), so the S-boxes keep their squares in
//! `sbox_square` and every gate has degree at most 4: a capacity word that stays
//! linear through a row's partial rounds is of degree 3 in its cells.
//!
//! Why this many rounds a row: a proof's cost follows the domain, `2^k` rows, more
//! than the number of cells (the commitments' scalars are the cells, but the FFTs,
//! the quotient and the opening run over the whole domain). Two full or four partial
//! rounds a row halve the rows that one or two did, in 9 columns instead of 5.
//!
//! A hash of `L` inputs takes `ROWS_PER_PERMUTATION * L` rows, and its output row is
//! the next hash's first row: a hash starts from the `ConstantLength<L>` state `[0,
//! L * 2^64]`, a constant, so its first row's gate reads no state cell (the capacity
//! word is in that row's round constant) and the row's state cells hold the previous
//! hash's output. The last hash's output takes one row more. At depth 28 with 2
//! currencies this is 4,069 rows, under 2^12.

use halo2_proofs::circuit::Value;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::{Field, PrimeField};
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error as PlonkError, Expression, Fixed, Selector,
};
use halo2_proofs::poly::Rotation;
use summa_agg::poseidon;

use super::assign::{Assigner, Var};
use super::query_advice;
use crate::convert::to_circuit;

/// The Poseidon constants in the circuit's field.
pub(crate) struct Constants {
    rc: Vec<[Fr; 2]>,
    mds: [[Fr; 2]; 2],
}

impl Constants {
    pub(crate) fn get() -> Constants {
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

/// An S-box in a gate, from the cell `sq` that holds the square of `e`: the
/// constraint `sq = e^2` and the expression `e^5` (as `sq * sq * e`, degree 3).
fn sbox(sq: Expression<Fr>, e: Expression<Fr>) -> (Expression<Fr>, Expression<Fr>) {
    let fifth = sq.clone() * sq.clone() * e.clone();
    (sq - e.clone() * e, fifth)
}

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// Full rounds a row (a divisor of the 4 full rounds at each end).
pub const FULL_PER_ROW: usize = 2;
/// Partial rounds a row (a divisor of the 56 partial rounds).
pub const PARTIAL_PER_ROW: usize = 4;
const HALF_FULL_ROWS: usize = poseidon::FULL_ROUNDS / 2 / FULL_PER_ROW;
const PARTIAL_ROWS: usize = poseidon::PARTIAL_ROUNDS / PARTIAL_PER_ROW;
/// Rows of one permutation.
pub const ROWS_PER_PERMUTATION: usize = 2 * HALF_FULL_ROWS + PARTIAL_ROWS;
const _: () = assert!(HALF_FULL_ROWS * FULL_PER_ROW * 2 == poseidon::FULL_ROUNDS);
const _: () = assert!(PARTIAL_ROWS * PARTIAL_PER_ROW == poseidon::PARTIAL_ROUNDS);
/// Columns of the state between a row's rounds; the last holds the absorbed input
/// on a permutation's first (full) row, where the rounds leave it free.
pub const MIDS: usize = max(PARTIAL_PER_ROW - 1, 2 * FULL_PER_ROW - 1);
/// Columns of S-box squares: one a partial round, two a full round.
pub const SQUARES: usize = max(PARTIAL_PER_ROW, 2 * FULL_PER_ROW);
/// Fixed columns of round constants: two a round.
pub const ROUND_CONSTANTS: usize = 2 * max(PARTIAL_PER_ROW, FULL_PER_ROW);

/// The chip's columns and selectors.
#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    state: [Column<Advice>; 2],
    mid: [Column<Advice>; MIDS],
    sbox_square: [Column<Advice>; SQUARES],
    round_constants: [Column<Fixed>; ROUND_CONSTANTS],
    q_fresh: Selector,
    q_full: Selector,
    q_full_absorb: Selector,
    q_partial: Selector,
}

impl PoseidonConfig {
    /// The gates over the given columns (`state[0]` and `mid`'s last need equality:
    /// inputs are copied in, the output copied out).
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        state: [Column<Advice>; 2],
        mid: [Column<Advice>; MIDS],
        sbox_square: [Column<Advice>; SQUARES],
        round_constants: [Column<Fixed>; ROUND_CONSTANTS],
    ) -> PoseidonConfig {
        let cfg = PoseidonConfig {
            state,
            mid,
            sbox_square,
            round_constants,
            q_fresh: meta.selector(),
            q_full: meta.selector(),
            q_full_absorb: meta.selector(),
            q_partial: meta.selector(),
        };
        let input = cfg.input();
        let m = Constants::get().mds;
        let mix = move |u: Expression<Fr>, v: Expression<Fr>, i: usize| {
            u * Expression::Constant(m[i][0]) + v * Expression::Constant(m[i][1])
        };
        // `out` is the MDS mix of `(u, v)`.
        let is_mix = |[o0, o1]: [Expression<Fr>; 2], u: Expression<Fr>, v: Expression<Fr>| {
            [o0 - mix(u.clone(), v.clone(), 0), o1 - mix(u, v, 1)]
        };

        // A row of full rounds: the first of a hash (q_fresh: from the constant state
        // `[0, L * 2^64]`, with the input absorbed; the state cells of the row are not
        // read), one absorbing the next input into the state (q_full_absorb), or
        // another (q_full). Each round but the row's last leaves both words in `mid`.
        #[derive(Clone, Copy, PartialEq)]
        enum Start {
            Fresh,
            Absorb,
            Plain,
        }
        for (name, sel, start) in [
            ("first full rounds of a hash", cfg.q_fresh, Start::Fresh),
            ("full rounds absorbing x", cfg.q_full_absorb, Start::Absorb),
            ("full rounds", cfg.q_full, Start::Plain),
        ] {
            meta.create_gate(name, |meta| {
                let q = meta.query_selector(sel);
                let x = meta.query_advice(input, Rotation::cur());
                let [mut w0, mut w1] = match start {
                    // State `[0, cap]`: the capacity word is in this row's first round
                    // constant (`rc + cap`).
                    Start::Fresh => [x, Expression::Constant(Fr::ZERO)],
                    Start::Absorb => {
                        let [w0, w1] = query_advice(meta, state, Rotation::cur());
                        [w0 + x, w1]
                    }
                    Start::Plain => query_advice(meta, state, Rotation::cur()),
                };
                let mids = query_advice(meta, mid, Rotation::cur());
                let sqs = query_advice(meta, sbox_square, Rotation::cur());
                let rcs = round_constants.map(|col| meta.query_fixed(col, Rotation::cur()));
                let next = query_advice(meta, state, Rotation::next());
                let mut constraints = Vec::with_capacity(4 * FULL_PER_ROW);
                for f in 0..FULL_PER_ROW {
                    let (square0, u) = sbox(sqs[2 * f].clone(), w0 + rcs[2 * f].clone());
                    let (square1, v) = sbox(sqs[2 * f + 1].clone(), w1 + rcs[2 * f + 1].clone());
                    let out = if f + 1 < FULL_PER_ROW {
                        [mids[2 * f].clone(), mids[2 * f + 1].clone()]
                    } else {
                        next.clone()
                    };
                    constraints.extend([square0, square1]);
                    constraints.extend(is_mix(out.clone(), u, v));
                    [w0, w1] = out;
                }
                Constraints::with_selector(q, constraints)
            });
        }

        // A row of partial rounds: each but the last leaves the rate word in `mid`;
        // the capacity word stays an expression (linear in the S-boxes' outputs).
        meta.create_gate("partial rounds", |meta| {
            let q = meta.query_selector(cfg.q_partial);
            let [mut w0, mut w1] = query_advice(meta, state, Rotation::cur());
            let mids = query_advice(meta, mid, Rotation::cur());
            let sqs = query_advice(meta, sbox_square, Rotation::cur());
            let rcs = round_constants.map(|col| meta.query_fixed(col, Rotation::cur()));
            let next = query_advice(meta, state, Rotation::next());
            let mut constraints = Vec::with_capacity(2 * PARTIAL_PER_ROW + 1);
            for j in 0..PARTIAL_PER_ROW {
                let (square, u) = sbox(sqs[j].clone(), w0 + rcs[2 * j].clone());
                let v = w1 + rcs[2 * j + 1].clone();
                constraints.push(square);
                if j + 1 < PARTIAL_PER_ROW {
                    constraints.push(mids[j].clone() - mix(u.clone(), v.clone(), 0));
                    w1 = mix(u, v, 1);
                    w0 = mids[j].clone();
                } else {
                    constraints.extend(is_mix(next.clone(), u, v));
                    break;
                }
            }
            Constraints::with_selector(q, constraints)
        });

        cfg
    }

    /// The column of the absorbed inputs (copied in on a permutation's first row).
    fn input(&self) -> Column<Advice> {
        self.mid[MIDS - 1]
    }

    /// Poseidon of `inputs` in the `ConstantLength<L>` domain, from the Poseidon
    /// cursor (the previous hash's output row): the circuit form of
    /// `summa_agg::poseidon::hash`. The cursor is left on this hash's output row.
    pub(crate) fn hash(
        &self,
        asg: &mut Assigner<'_, '_>,
        c: &Constants,
        inputs: &[Var],
    ) -> Result<Var, PlonkError> {
        let [s0, s1] = self.state;
        let rc = self.round_constants;
        let start = asg.poseidon_row;
        let cap = Fr::from_u128((inputs.len() as u128) << 64);
        let mut state = Value::known([Fr::ZERO, cap]);
        let mut out = None;
        let mut row = start;
        for input in inputs {
            asg.copy(self.input(), row, input);
            state = state.zip(input.value).map(|(mut s, v)| {
                s[0] += v;
                s
            });
            let mut round = 0;
            // Rows of full rounds 0..4, partial rounds, full rounds 60..64.
            for step in 0..ROWS_PER_PERMUTATION {
                let r = row + step;
                let full = !(HALF_FULL_ROWS..HALF_FULL_ROWS + PARTIAL_ROWS).contains(&step);
                let fresh = r == start;
                let rounds = if full { FULL_PER_ROW } else { PARTIAL_PER_ROW };
                for j in 0..rounds {
                    asg.fixed(rc[2 * j], r, c.rc[round + j][0]);
                    // The first row's state is `[0, cap]`: its capacity word is added
                    // to the row's first round constant.
                    let c1 = if fresh && j == 0 { cap } else { Fr::ZERO };
                    asg.fixed(rc[2 * j + 1], r, c.rc[round + j][1] + c1);
                }
                let sq = |v: Fr| v.square();
                if full {
                    let sel = match step {
                        _ if fresh => self.q_fresh,
                        0 => self.q_full_absorb,
                        _ => self.q_full,
                    };
                    asg.enable(sel, r)?;
                    for f in 0..FULL_PER_ROW {
                        let e = state.map(|s| [s[0] + c.rc[round][0], s[1] + c.rc[round][1]]);
                        asg.put(self.sbox_square[2 * f], r, e.map(|e| sq(e[0])));
                        asg.put(self.sbox_square[2 * f + 1], r, e.map(|e| sq(e[1])));
                        state = state.map(|s| c.full(s, round));
                        round += 1;
                        if f + 1 < FULL_PER_ROW {
                            asg.put(self.mid[2 * f], r, state.map(|s| s[0]));
                            asg.put(self.mid[2 * f + 1], r, state.map(|s| s[1]));
                        }
                    }
                } else {
                    asg.enable(self.q_partial, r)?;
                    for j in 0..PARTIAL_PER_ROW {
                        let e = state.map(|s| s[0] + c.rc[round][0]);
                        asg.put(self.sbox_square[j], r, e.map(sq));
                        state = state.map(|s| c.partial(s, round));
                        round += 1;
                        if j + 1 < PARTIAL_PER_ROW {
                            asg.put(self.mid[j], r, state.map(|s| s[0]));
                        }
                    }
                }
                if asg.perturb_after_step() {
                    state = state.map(|[s0, s1]| [s0 + Fr::ONE, s1]);
                }
                out = Some(asg.put(s0, r + 1, state.map(|s| s[0])));
                asg.put(s1, r + 1, state.map(|s| s[1]));
            }
            row += ROWS_PER_PERMUTATION;
        }
        asg.poseidon_row = row;
        out.ok_or(PlonkError::Synthesis)
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Cell;

    use super::*;
    use crate::circuit::chip_test::{holds, ChipTest};
    use crate::circuit::Hooks;

    /// Hashes each of its input lists in turn with the chip, back to back (each
    /// output row the next hash's first row); the outputs are the public inputs,
    /// unless `private`.
    #[derive(Clone, Default)]
    struct HashTest {
        hashes: Vec<Vec<Fr>>,
        perturb_step: Option<usize>,
        private: bool,
    }

    impl ChipTest for HashTest {
        type Config = PoseidonConfig;

        fn configure(meta: &mut ConstraintSystem<Fr>) -> PoseidonConfig {
            let state = [(); 2].map(|_| meta.advice_column());
            let mid = [(); MIDS].map(|_| meta.advice_column());
            let squares = [(); SQUARES].map(|_| meta.advice_column());
            let rc = [(); ROUND_CONSTANTS].map(|_| meta.fixed_column());
            for col in [state[0], mid[MIDS - 1]] {
                meta.enable_equality(col);
            }
            PoseidonConfig::configure(meta, state, mid, squares, rc)
        }

        fn hooks(&self) -> Hooks {
            Hooks {
                perturb_step: self.perturb_step,
                ..Hooks::default()
            }
        }

        fn lay_out(
            &self,
            cfg: &PoseidonConfig,
            asg: &mut Assigner,
        ) -> Result<Vec<Cell>, PlonkError> {
            // The inputs, as copies of cells of the input column past the
            // permutation rows.
            let inputs = self.hashes.iter().map(Vec::len).sum::<usize>();
            let mut base = ROWS_PER_PERMUTATION * inputs + 2;
            let mut outputs = Vec::new();
            for inputs in &self.hashes {
                let vars: Vec<Var> = inputs
                    .iter()
                    .map(|v| {
                        base += 1;
                        asg.put(cfg.input(), base, Value::known(*v))
                    })
                    .collect();
                outputs.push(cfg.hash(asg, &Constants::get(), &vars)?.cell);
            }
            Ok(if self.private { Vec::new() } else { outputs })
        }
    }

    fn core(inputs: &[u64]) -> Vec<summa_agg::Fr> {
        inputs.iter().map(|&v| summa_agg::Fr::from(v)).collect()
    }

    /// The chip's test of `hashes`, and the core's hashes of them.
    fn hashes_of(hashes: &[&[u64]]) -> (HashTest, Vec<Fr>) {
        let test = HashTest {
            hashes: hashes
                .iter()
                .map(|h| core(h).iter().map(to_circuit).collect())
                .collect(),
            ..HashTest::default()
        };
        let want = hashes
            .iter()
            .map(|h| to_circuit(&poseidon::hash(&core(h))))
            .collect();
        (test, want)
    }

    #[test]
    fn the_chip_hashes_as_the_core_does_and_nothing_else_satisfies_it() {
        for inputs in [&[7u64][..], &[1, 2], &[3, 4, 5]] {
            let (test, want) = hashes_of(&[inputs]);
            assert!(holds(9, test.clone(), want.clone()), "{inputs:?}");
            assert!(!holds(9, test, vec![want[0] + Fr::ONE]), "{inputs:?}");
        }
        // The domain separates lengths: [1, 2] is not [1, 2, 0].
        let (short, _) = hashes_of(&[&[1, 2]]);
        let (_, long) = hashes_of(&[&[1, 2, 0]]);
        assert!(!holds(9, short, long));
    }

    #[test]
    fn hashes_back_to_back_share_a_row_and_each_is_the_cores() {
        // A 2-input hash, then a 3-input one from the first's output row, then a
        // 1-input one: each starts from its own length's state, whatever the row
        // holds.
        let (test, want) = hashes_of(&[&[1, 2], &[3, 4, 5], &[6]]);
        assert!(holds(10, test.clone(), want.clone()));
        let mut swapped = want.clone();
        swapped.swap(0, 1);
        assert!(!holds(10, test, swapped));
    }

    /// A witness consistent everywhere but at one step (its state plus 1 on the next
    /// row, and honest hashing from there) fails at that step's gate, with no public
    /// output to catch it: so every kind of row (the first of a hash, one absorbing
    /// an input, full rounds, partial rounds, the last before an output row shared
    /// with the next hash) is held by its gate. (Only the rate word is perturbed; the
    /// mutation test of `soundness_tests` changes every cell, the capacity's too.)
    #[test]
    fn a_state_changed_after_any_step_fails_its_gate() {
        let (honest, _) = hashes_of(&[&[1, 2], &[3]]);
        let private = HashTest {
            private: true,
            ..honest
        };
        assert!(holds(9, private.clone(), Vec::new()));
        // Steps (rows) of the first hash: 0 (fresh), the other full rows of its
        // first permutation, its partial rows, `R` (absorbing its second input), its
        // last (onto the shared row); of the second: the first (fresh, on that row)
        // and its output.
        const R: usize = ROWS_PER_PERMUTATION;
        const H: usize = HALF_FULL_ROWS;
        const P: usize = PARTIAL_ROWS;
        let steps = [
            0,
            H - 1,
            H,
            H + P / 2,
            H + P - 1,
            H + P,
            R - 1,
            R,
            R + H,
            2 * R - 2,
            2 * R - 1,
            2 * R,
            2 * R + H + P / 2,
            3 * R - 1,
        ];
        for step in steps {
            let perturbed = HashTest {
                perturb_step: Some(step),
                ..private.clone()
            };
            assert!(!holds(9, perturbed, Vec::new()), "step {step}");
        }
    }
}
