//! The Poseidon chip: `summa_agg::poseidon::hash` (width 2, rate 1, x^5, 8 full and
//! 56 partial rounds, Grain constants, `ConstantLength<L>` domain: summa-solvency's
//! `PoseidonSpec`) as constraints, bit for bit.
//!
//! One row per full round and one per *two* partial rounds: 36 rows a permutation
//! (Poseidon paper, section 2.3: 4 full, 56 partial, 4 full). The state lives in
//! `state[0], state[1]` (the rate word first, as `halo2_poseidon`'s sponge: state
//! `[rate, capacity]`); `input` holds the absorbed input on a permutation's first row
//! and, between the two partial rounds of a row, the state's first word. halo2-axiom
//! caps a gate's degree at 5 (selector included), so the S-boxes keep their squares
//! in `sbox_square` and every gate has degree at most 4.
//!
//! A hash of `L` inputs takes `36 L` rows, and its output row is the next hash's
//! first row: a hash starts from the `ConstantLength<L>` state `[0, L * 2^64]`, a
//! constant, so its first row's gate reads no state cell (the capacity word is in that
//! row's round constant) and the row's state cells hold the previous hash's output.
//! The last hash's output takes one row more. At depth 28 with 2 currencies this is
//! 8,137 rows, under 2^13: a row a hash more (8,193) made it k = 14.

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

const HALF_FULL: usize = poseidon::FULL_ROUNDS / 2;
const PARTIAL_PAIRS: usize = poseidon::PARTIAL_ROUNDS / 2;
const ROWS_PER_PERMUTATION: usize = poseidon::FULL_ROUNDS + PARTIAL_PAIRS;

/// The chip's columns and selectors.
#[derive(Clone, Debug)]
pub struct PoseidonConfig {
    state: [Column<Advice>; 2],
    input: Column<Advice>,
    sbox_square: [Column<Advice>; 2],
    round_constants: [Column<Fixed>; 4],
    q_fresh: Selector,
    q_full: Selector,
    q_full_absorb: Selector,
    q_partial: Selector,
}

impl PoseidonConfig {
    /// The gates over the given columns (`state[0]` and `input` need equality:
    /// inputs are copied in, the output copied out).
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        state: [Column<Advice>; 2],
        input: Column<Advice>,
        sbox_square: [Column<Advice>; 2],
        round_constants: [Column<Fixed>; 4],
    ) -> PoseidonConfig {
        let cfg = PoseidonConfig {
            state,
            input,
            sbox_square,
            round_constants,
            q_fresh: meta.selector(),
            q_full: meta.selector(),
            q_full_absorb: meta.selector(),
            q_partial: meta.selector(),
        };
        let m = Constants::get().mds;
        let mix = move |u: Expression<Fr>, v: Expression<Fr>, i: usize| {
            u * Expression::Constant(m[i][0]) + v * Expression::Constant(m[i][1])
        };
        // The next row's state is the MDS mix of `(u, v)`.
        let next_is_mix = |[n0, n1]: [Expression<Fr>; 2], u: Expression<Fr>, v: Expression<Fr>| {
            [n0 - mix(u.clone(), v.clone(), 0), n1 - mix(u, v, 1)]
        };
        let [s0, s1] = state;
        let [p0, p1] = sbox_square;
        let rc = round_constants;

        // A full round: the first of a hash (q_fresh: from the constant state
        // `[0, L * 2^64]`, with the input absorbed; the state cells of the row are not
        // read), one absorbing the next input into the state (q_full_absorb), or
        // another (q_full).
        #[derive(Clone, Copy, PartialEq)]
        enum Start {
            Fresh,
            Absorb,
            Plain,
        }
        for (name, sel, start) in [
            ("first full round of a hash", cfg.q_fresh, Start::Fresh),
            ("full round absorbing x", cfg.q_full_absorb, Start::Absorb),
            ("full round", cfg.q_full, Start::Plain),
        ] {
            meta.create_gate(name, |meta| {
                let q = meta.query_selector(sel);
                let x = meta.query_advice(input, Rotation::cur());
                let [w0, w1] = match start {
                    // State `[0, cap]`: the capacity word is in this row's round
                    // constant (`rc + cap`).
                    Start::Fresh => [x, Expression::Constant(Fr::ZERO)],
                    Start::Absorb => {
                        let [w0, w1] = query_advice(meta, state, Rotation::cur());
                        [w0 + x, w1]
                    }
                    Start::Plain => query_advice(meta, state, Rotation::cur()),
                };
                let e0 = w0 + meta.query_fixed(rc[0], Rotation::cur());
                let e1 = w1 + meta.query_fixed(rc[1], Rotation::cur());
                let [sq0, sq1] = query_advice(meta, sbox_square, Rotation::cur());
                let (square0, u) = sbox(sq0, e0);
                let (square1, v) = sbox(sq1, e1);
                let next = query_advice(meta, state, Rotation::next());
                let [mixed0, mixed1] = next_is_mix(next, u, v);
                Constraints::with_selector(q, [square0, square1, mixed0, mixed1])
            });
        }

        // Two partial rounds: `input` is the rate word after the first one.
        meta.create_gate("two partial rounds", |meta| {
            let q = meta.query_selector(cfg.q_partial);
            let cur = query_advice(meta, [s0, s1, input, p0, p1], Rotation::cur());
            let [w0, w1, mid, sq0, sq1] = cur;
            let [c0, c1, c2, c3] = rc.map(|col| meta.query_fixed(col, Rotation::cur()));
            let (square0, u) = sbox(sq0, w0 + c0);
            let v = w1 + c1;
            let mid_word1 = mix(u.clone(), v.clone(), 1);
            let (square1, u2) = sbox(sq1, mid.clone() + c2);
            let mid_word0 = mid - mix(u, v, 0);
            let v2 = mid_word1 + c3;
            let next = query_advice(meta, state, Rotation::next());
            let [mixed0, mixed1] = next_is_mix(next, u2, v2);
            Constraints::with_selector(q, [square0, mid_word0, square1, mixed0, mixed1])
        });

        cfg
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
            asg.copy(self.input, row, input);
            state = state.zip(input.value).map(|(mut s, v)| {
                s[0] += v;
                s
            });
            let mut round = 0;
            // Rows of full rounds 0..4, partial pairs, full rounds 60..64.
            for step in 0..ROWS_PER_PERMUTATION {
                let r = row + step;
                let full = !(HALF_FULL..HALF_FULL + PARTIAL_PAIRS).contains(&step);
                asg.fixed(rc[0], r, c.rc[round][0]);
                let fresh = r == start;
                // The first row's state is `[0, cap]`: its capacity word is added here.
                let c1 = if fresh { cap } else { Fr::ZERO };
                asg.fixed(rc[1], r, c.rc[round][1] + c1);
                let sq = |v: Fr| v.square();
                if full {
                    let sel = match step {
                        _ if fresh => self.q_fresh,
                        0 => self.q_full_absorb,
                        _ => self.q_full,
                    };
                    asg.enable(sel, r)?;
                    let e = state.map(|s| [s[0] + c.rc[round][0], s[1] + c.rc[round][1]]);
                    asg.put(self.sbox_square[0], r, e.map(|e| sq(e[0])));
                    asg.put(self.sbox_square[1], r, e.map(|e| sq(e[1])));
                    state = state.map(|s| c.full(s, round));
                    round += 1;
                } else {
                    asg.enable(self.q_partial, r)?;
                    asg.fixed(rc[2], r, c.rc[round + 1][0]);
                    asg.fixed(rc[3], r, c.rc[round + 1][1]);
                    asg.put(
                        self.sbox_square[0],
                        r,
                        state.map(|s| sq(s[0] + c.rc[round][0])),
                    );
                    let mid = state.map(|s| c.partial(s, round));
                    asg.put(self.input, r, mid.map(|s| s[0]));
                    asg.put(
                        self.sbox_square[1],
                        r,
                        mid.map(|s| sq(s[0] + c.rc[round + 1][0])),
                    );
                    state = mid.map(|s| c.partial(s, round + 1));
                    round += 2;
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
            let [s0, s1, x, p0, p1] = [(); 5].map(|_| meta.advice_column());
            let rc = [(); 4].map(|_| meta.fixed_column());
            for col in [s0, x] {
                meta.enable_equality(col);
            }
            PoseidonConfig::configure(meta, [s0, s1], x, [p0, p1], rc)
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
            let mut base = 40 * self.hashes.iter().map(Vec::len).sum::<usize>() + 2;
            let mut outputs = Vec::new();
            for inputs in &self.hashes {
                let vars: Vec<Var> = inputs
                    .iter()
                    .map(|v| {
                        base += 1;
                        asg.put(cfg.input, base, Value::known(*v))
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
    /// an input, full rounds, partial pairs, the last before an output row shared
    /// with the next hash) is held by its gate.
    #[test]
    fn a_state_changed_after_any_step_fails_its_gate() {
        let (honest, _) = hashes_of(&[&[1, 2], &[3]]);
        let private = HashTest {
            private: true,
            ..honest
        };
        assert!(holds(9, private.clone(), Vec::new()));
        // Steps of the first hash: 0 (fresh), 1-3 and 32-35 (full), 4-31 (partial
        // pairs), 36 (absorbing its second input), 71 (its last, onto the shared
        // row); of the second: 72 (fresh, on that row), 107 (its output).
        for step in [0, 1, 3, 4, 17, 31, 32, 35, 36, 40, 70, 71, 72, 90, 107] {
            let perturbed = HashTest {
                perturb_step: Some(step),
                ..private.clone()
            };
            assert!(!holds(9, perturbed, Vec::new()), "step {step}");
        }
    }
}
