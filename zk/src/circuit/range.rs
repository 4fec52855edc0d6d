//! The range chip: `v < 2^(8 n_bytes)` (Summa's range rule, for every balance and
//! every parent sum on the path, so that no sum wraps modulo p).
//!
//! A running sum of base-4 digits down a column: `z_0 = v`, `z_{i+1} = (z_i -
//! d_i) / 4`, each digit `d_i = z_i - 4 z_{i+1}` constrained by a gate to be 0, 1, 2
//! or 3 (`d (d - 1) (d - 2) (d - 3) = 0`: degree 4, 5 with its selector, the
//! circuit's highest, as the byte lookup's was), and `z_{4 n_bytes} = 0`. Then `v =
//! sum d_i 4^i < 4^(4 n_bytes)`, with no wrap modulo p. `4 n_bytes + 1` rows for
//! three values side by side, one a column.
//!
//! No lookup: a byte table's lookup argument cost a proof three more commitments
//! and four more polynomials on the quotient's domain (about a tenth of proving at
//! depth 28). At 14 bytes a block of three values takes 57 rows (19 a value, where
//! the byte table took 15) in columns that, at depth 28, have rows to spare.

use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error as PlonkError, Expression, Selector,
};
use halo2_proofs::poly::Rotation;

use summa_agg::field::{fr_to_u256, u256_to_fr};

use super::assign::{Assigner, Var};
use super::query_advice;
use crate::convert::{to_circuit, to_core};

/// Digits a byte: base 4.
const DIGITS_PER_BYTE: usize = 4;

/// Rows of one range check of `n_bytes` (three values side by side).
pub(crate) const fn rows(n_bytes: usize) -> usize {
    DIGITS_PER_BYTE * n_bytes + 1
}

/// The chip's columns and selectors.
#[derive(Clone, Debug)]
pub struct RangeConfig {
    running_sums: [Column<Advice>; 3],
    q_digit: Selector,
    q_end: Selector,
}

impl RangeConfig {
    /// The gates over `running_sums` (which need equality: values are copied in).
    pub fn configure(
        meta: &mut ConstraintSystem<Fr>,
        running_sums: [Column<Advice>; 3],
    ) -> RangeConfig {
        let cfg = RangeConfig {
            running_sums,
            q_digit: meta.selector(),
            q_end: meta.selector(),
        };
        meta.create_gate("base-4 digit of a running sum", |meta| {
            let q = meta.query_selector(cfg.q_digit);
            let cur = query_advice(meta, running_sums, Rotation::cur());
            let next = query_advice(meta, running_sums, Rotation::next());
            let digits = cur.into_iter().zip(next).map(|(z, z_next)| {
                let d = z - z_next * Expression::Constant(Fr::from(4));
                (1..4).fold(d.clone(), |acc, j| {
                    acc * (d.clone() - Expression::Constant(Fr::from(j)))
                })
            });
            Constraints::with_selector(q, digits.collect::<Vec<_>>())
        });
        meta.create_gate("running sums end at zero", |meta| {
            let q = meta.query_selector(cfg.q_end);
            let z = query_advice(meta, running_sums, Rotation::cur());
            Constraints::with_selector(q, z)
        });
        cfg
    }

    /// Constrains every one of `values` below `2^(8 n_bytes)`, three at a time from
    /// the arithmetic cursor. The columns of a last block of one or two values stay
    /// unassigned: zeros, which the gates hold.
    pub(crate) fn check_all(
        &self,
        asg: &mut Assigner<'_, '_>,
        values: &[Var],
        n_bytes: usize,
    ) -> Result<(), PlonkError> {
        let digits = DIGITS_PER_BYTE * n_bytes;
        for block in values.chunks(3) {
            let row = asg.arith_row;
            asg.arith_row += rows(n_bytes);
            for i in 0..digits {
                asg.enable(self.q_digit, row + i)?;
            }
            asg.enable(self.q_end, row + digits)?;
            for (&z, v) in self.running_sums.iter().zip(block) {
                asg.copy(z, row, v);
                for i in 0..digits {
                    let shifted = v.value.map(|f| shift_digits(&f, i + 1));
                    asg.put(z, row + i + 1, shifted);
                }
            }
        }
        Ok(())
    }
}

/// `f >> (2 * digits)` on the canonical integer (the core's 256-bit integers).
fn shift_digits(f: &Fr, digits: usize) -> Fr {
    let v = fr_to_u256(&to_core(f));
    to_circuit(&u256_to_fr(&(v >> (2 * digits))))
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::{Cell, Value};
    use halo2_proofs::halo2curves::ff::Field;

    use super::*;
    use crate::circuit::chip_test::{equal_advice, holds, ChipTest};

    /// Range-checks values of `N` bytes (from cells of a fourth column).
    #[derive(Clone)]
    struct RangeTest<const N: usize>(Vec<Fr>);

    impl<const N: usize> ChipTest for RangeTest<N> {
        type Config = (RangeConfig, Column<Advice>);

        fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
            let [a, b, c, w] = equal_advice(meta);
            (RangeConfig::configure(meta, [a, b, c]), w)
        }

        fn lay_out(
            &self,
            (cfg, w): &Self::Config,
            asg: &mut Assigner,
        ) -> Result<Vec<Cell>, PlonkError> {
            let values: Vec<Var> = (self.0.iter().enumerate())
                .map(|(i, v)| asg.put(*w, i, Value::known(*v)))
                .collect();
            cfg.check_all(asg, &values, N)?;
            Ok(vec![])
        }
    }

    fn in_range<const N: usize>(values: &[Fr]) -> bool {
        holds(9, RangeTest::<N>(values.to_vec()), vec![])
    }

    fn two_pow(bits: u32) -> Fr {
        (0..bits).fold(Fr::ONE, |a, _| a.double())
    }

    #[test]
    fn values_below_the_bound_pass_and_the_bound_and_beyond_fail() {
        assert!(in_range::<2>(&[Fr::ZERO]));
        assert!(in_range::<2>(&[Fr::from(0xffff)]));
        assert!(!in_range::<2>(&[Fr::from(0x1_0000)]));
        assert!(in_range::<14>(&[two_pow(112) - Fr::ONE]));
        assert!(!in_range::<14>(&[two_pow(112)]));
        // A "negative" value (p - 1) is far out of range.
        assert!(!in_range::<14>(&[-Fr::ONE]));
    }

    #[test]
    fn each_of_three_side_by_side_and_a_short_last_block_is_checked() {
        let ok = [0x1234, 0xffff, 7, 0xfffe, 1].map(Fr::from);
        assert!(in_range::<2>(&ok));
        // One value out of range, in any position, fails the whole.
        for i in 0..ok.len() {
            let mut bad = ok;
            bad[i] = Fr::from(0x1_0000 + i as u64);
            assert!(!in_range::<2>(&bad), "position {i}");
        }
    }

    /// A running sum written by hand down the first column (not `shift_digits`'s),
    /// under the chip's selectors: `z_0` is the public input.
    #[derive(Clone)]
    struct ChainTest(Vec<Fr>);

    impl ChipTest for ChainTest {
        type Config = RangeConfig;

        fn configure(meta: &mut ConstraintSystem<Fr>) -> RangeConfig {
            let cols = equal_advice(meta);
            RangeConfig::configure(meta, cols)
        }

        fn lay_out(&self, cfg: &RangeConfig, asg: &mut Assigner) -> Result<Vec<Cell>, PlonkError> {
            let digits = self.0.len() - 1;
            for i in 0..digits {
                asg.enable(cfg.q_digit, i)?;
            }
            asg.enable(cfg.q_end, digits)?;
            let z: Vec<Var> = (self.0.iter().enumerate())
                .map(|(i, v)| asg.put(cfg.running_sums[0], i, Value::known(*v)))
                .collect();
            Ok(vec![z[0].cell])
        }
    }

    /// Whether the chain `z` (ending at 0) passes for its first value.
    fn chain_holds(z: &[Fr]) -> bool {
        holds(9, ChainTest(z.to_vec()), vec![z[0]])
    }

    #[test]
    fn each_digit_must_be_0_to_3_whatever_the_chain() {
        let f = |v: &[i64]| -> Vec<Fr> {
            v.iter()
                .map(|&x| {
                    if x < 0 {
                        -Fr::from(-x as u64)
                    } else {
                        Fr::from(x as u64)
                    }
                })
                .collect()
        };
        // One byte (4 digits): 0xe4 is 0, 1, 2, 3 from the lowest digit.
        assert!(chain_holds(&f(&[0xe4, 0x39, 0x0e, 0x3, 0])));
        // 2^8 with a top digit of 4: z_3 = 4, z_4 = 0, every lower digit 0.
        assert!(!chain_holds(&f(&[256, 64, 16, 4, 0])));
        // A "negative" digit: 5 = -3 + 4 * 2, then 2 = 2 + 4 * 0.
        assert!(!chain_holds(&f(&[5, 2, 0, 0, 0])));
    }

    #[test]
    fn the_widest_bound_and_the_narrowest() {
        assert!(in_range::<31>(&[two_pow(248) - Fr::ONE]));
        assert!(!in_range::<31>(&[two_pow(248)]));
        assert!(in_range::<1>(&[Fr::from(255)]));
        assert!(!in_range::<1>(&[Fr::from(256)]));
    }

    #[test]
    fn shifting_by_digits_is_integer_division_by_powers_of_four() {
        let top = two_pow(247) + Fr::from(3);
        assert_eq!(shift_digits(&top, 123), Fr::from(2));
        assert_eq!(shift_digits(&top, 124), Fr::ZERO);
        let v = two_pow(111) + Fr::from(0b1101_1011);
        assert_eq!(shift_digits(&v, 1), two_pow(109) + Fr::from(0b11_0110));
        assert_eq!(shift_digits(&v, 4), two_pow(103));
        assert_eq!(shift_digits(&v, 56), Fr::ZERO);
        assert_eq!(shift_digits(&-Fr::ONE, 0), -Fr::ONE);
    }
}
