//! The range chip: `v < 2^(8 n_bytes)` (Summa's range rule, for every balance and
//! every parent sum on the path, so that no sum wraps modulo p).
//!
//! A running sum of bytes down one column: `z_0 = v`, `z_{i+1} = (z_i - byte_i) /
//! 256`, each `byte_i = z_i - 256 z_{i+1}` looked up in a table of 0..=255, and
//! `z_{n_bytes} = 0`. `n_bytes + 1` rows a value.

use halo2_proofs::circuit::{Layouter, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error as PlonkError, Expression, Selector,
    TableColumn,
};
use halo2_proofs::poly::Rotation;

use super::assign::{Assigner, Var};

/// The chip's column, selectors and byte table.
#[derive(Clone, Debug)]
pub struct RangeConfig {
    running_sum: Column<Advice>,
    q_byte: Selector,
    q_end: Selector,
    bytes: TableColumn,
}

impl RangeConfig {
    /// The lookup and gate over `running_sum` (which needs equality: values are
    /// copied in).
    pub fn configure(meta: &mut ConstraintSystem<Fr>, running_sum: Column<Advice>) -> RangeConfig {
        let cfg = RangeConfig {
            running_sum,
            q_byte: meta.complex_selector(),
            q_end: meta.selector(),
            bytes: meta.lookup_table_column(),
        };
        meta.lookup("byte of a running sum", |meta| {
            let q = meta.query_selector(cfg.q_byte);
            let cur = meta.query_advice(running_sum, Rotation::cur());
            let next = meta.query_advice(running_sum, Rotation::next());
            vec![(
                q * (cur - next * Expression::Constant(Fr::from(256))),
                cfg.bytes,
            )]
        });
        meta.create_gate("running sum ends at zero", |meta| {
            let q = meta.query_selector(cfg.q_end);
            let z = meta.query_advice(running_sum, Rotation::cur());
            Constraints::with_selector(q, [z])
        });
        cfg
    }

    /// Fills the byte table.
    pub fn load_table(&self, layouter: &mut impl Layouter<Fr>) -> Result<(), PlonkError> {
        layouter.assign_table(
            || "bytes",
            |mut table| {
                for i in 0..256 {
                    table.assign_cell(
                        || "byte",
                        self.bytes,
                        i,
                        || Value::known(Fr::from(i as u64)),
                    )?;
                }
                Ok(())
            },
        )
    }

    /// Constrains `v < 2^(8 n_bytes)`, from the arithmetic cursor.
    pub(crate) fn check(
        &self,
        asg: &mut Assigner<'_, '_>,
        v: &Var,
        n_bytes: usize,
    ) -> Result<(), PlonkError> {
        let row = asg.arith_row;
        asg.arith_row += n_bytes + 1;
        let z = self.running_sum;
        asg.copy(z, row, v);
        for i in 0..n_bytes {
            asg.enable(self.q_byte, row + i)?;
            let shifted = v.value.map(|f| shift_bytes(&f, i + 1));
            asg.put(z, row + i + 1, shifted);
        }
        asg.enable(self.q_end, row + n_bytes)
    }
}

/// `f >> (8 * bytes)` on the canonical integer.
fn shift_bytes(f: &Fr, bytes: usize) -> Fr {
    let le = f.to_repr();
    let mut out = [0u8; 32];
    out[..32 - bytes].copy_from_slice(&le[bytes..]);
    Fr::from_repr(out).expect("a smaller integer is canonical")
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Cell;
    use halo2_proofs::halo2curves::ff::Field;

    use super::*;
    use crate::circuit::chip_test::{equal_advice, holds, ChipTest};

    /// Range-checks one value of `N` bytes (from a cell of a second column).
    #[derive(Clone)]
    struct RangeTest<const N: usize>(Fr);

    impl<const N: usize> ChipTest for RangeTest<N> {
        type Config = (RangeConfig, Column<Advice>);

        fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
            let [z, w] = equal_advice(meta);
            (RangeConfig::configure(meta, z), w)
        }

        fn load(cfg: &Self::Config, layouter: &mut impl Layouter<Fr>) -> Result<(), PlonkError> {
            cfg.0.load_table(layouter)
        }

        fn lay_out(
            &self,
            (cfg, w): &Self::Config,
            asg: &mut Assigner,
        ) -> Result<Vec<Cell>, PlonkError> {
            let v = asg.put(*w, 0, Value::known(self.0));
            cfg.check(asg, &v, N)?;
            Ok(vec![])
        }
    }

    fn in_range<const N: usize>(v: Fr) -> bool {
        holds(9, RangeTest::<N>(v), vec![])
    }

    #[test]
    fn values_below_the_bound_pass_and_the_bound_and_beyond_fail() {
        let two_pow = |bits: u32| (0..bits).fold(Fr::ONE, |a, _| a.double());
        assert!(in_range::<2>(Fr::ZERO));
        assert!(in_range::<2>(Fr::from(0xffff)));
        assert!(!in_range::<2>(Fr::from(0x1_0000)));
        assert!(in_range::<14>(two_pow(112) - Fr::ONE));
        assert!(!in_range::<14>(two_pow(112)));
        // A "negative" value (p - 1) is far out of range.
        assert!(!in_range::<14>(-Fr::ONE));
    }
}
