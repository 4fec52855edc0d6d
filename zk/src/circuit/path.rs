//! The path chip: the arithmetic of one level of a Merkle sum path, over three
//! columns `left`, `right`, `out`:
//! - `add`: `out = left + right` (a parent's balance);
//! - `swap`: on row `r` `left = u`, `right = v`, `out = bit`; on row `r + 1` the
//!   pair ordered by the bit, `(u, v)` if it is 0 and `(v, u)` if it is 1, with the
//!   bit constrained to 0 or 1 (which child the path's node is).

use halo2_proofs::circuit::Value;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::{
    Advice, Column, ConstraintSystem, Constraints, Error as PlonkError, Expression, Selector,
};
use halo2_proofs::poly::Rotation;

use super::assign::{Assigner, Var};
use super::query_advice;

/// The chip's columns and selectors.
#[derive(Clone, Debug)]
pub struct PathConfig {
    /// `left`, `right`, `out` (all with equality).
    pub(crate) cols: [Column<Advice>; 3],
    q_add: Selector,
    q_swap: Selector,
}

/// A swapped pair and the bit that ordered it.
pub(crate) struct Swapped {
    pub(crate) left: Var,
    pub(crate) right: Var,
    pub(crate) bit: Var,
}

impl PathConfig {
    /// The gates over `[left, right, out]`.
    pub fn configure(meta: &mut ConstraintSystem<Fr>, cols: [Column<Advice>; 3]) -> PathConfig {
        let cfg = PathConfig {
            cols,
            q_add: meta.selector(),
            q_swap: meta.selector(),
        };
        let [left, right, _] = cols;
        meta.create_gate("c = a + b", |meta| {
            let q = meta.query_selector(cfg.q_add);
            let [a, b, c] = query_advice(meta, cols, Rotation::cur());
            Constraints::with_selector(q, [a + b - c])
        });
        meta.create_gate("conditional swap", |meta| {
            let q = meta.query_selector(cfg.q_swap);
            let [u, v, bit] = query_advice(meta, cols, Rotation::cur());
            let [l, r] = query_advice(meta, [left, right], Rotation::next());
            let one = Expression::Constant(Fr::ONE);
            Constraints::with_selector(
                q,
                [
                    bit.clone() * (one - bit.clone()),
                    l - (u.clone() + bit.clone() * (v.clone() - u.clone())),
                    r - (v.clone() + bit * (u - v)),
                ],
            )
        });
        cfg
    }

    /// `u + v`, from the arithmetic cursor.
    pub(crate) fn add(
        &self,
        asg: &mut Assigner<'_, '_>,
        u: &Var,
        v: &Var,
    ) -> Result<Var, PlonkError> {
        let [left, right, out] = self.cols;
        let row = asg.arith_row;
        asg.arith_row += 1;
        asg.enable(self.q_add, row)?;
        asg.copy(left, row, u);
        asg.copy(right, row, v);
        Ok(asg.put(out, row, u.value + v.value))
    }

    /// `(u, v)` if `bit` is 0, `(v, u)` if it is 1. `bit` is a fresh value the gate
    /// constrains to 0 or 1, or a copy of an earlier swap's bit.
    pub(crate) fn swap(
        &self,
        asg: &mut Assigner<'_, '_>,
        u: &Var,
        v: &Var,
        bit: Result<Value<Fr>, &Var>,
    ) -> Result<Swapped, PlonkError> {
        let [left, right, out] = self.cols;
        let row = asg.arith_row;
        asg.arith_row += 2;
        asg.enable(self.q_swap, row)?;
        let bit = match bit {
            Ok(value) => asg.put(out, row, value),
            Err(var) => asg.copy(out, row, var),
        };
        asg.copy(left, row, u);
        asg.copy(right, row, v);
        let is_one = bit.value.map(|b| b == Fr::ONE);
        let pick = |x: Value<Fr>, y: Value<Fr>| {
            is_one
                .zip(x.zip(y))
                .map(|(one, (x, y))| if one { y } else { x })
        };
        let l = asg.put(left, row + 1, pick(u.value, v.value));
        let r = asg.put(right, row + 1, pick(v.value, u.value));
        Ok(Swapped {
            left: l,
            right: r,
            bit,
        })
    }
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Cell;

    use super::*;
    use crate::circuit::chip_test::{equal_advice, holds, ChipTest};

    /// Swaps `(u, v)` by `bit` and adds the pair; public: left, right, sum.
    #[derive(Clone)]
    struct PathTest {
        u: Fr,
        v: Fr,
        bit: Fr,
    }

    impl ChipTest for PathTest {
        type Config = PathConfig;

        fn configure(meta: &mut ConstraintSystem<Fr>) -> PathConfig {
            let cols = equal_advice(meta);
            PathConfig::configure(meta, cols)
        }

        fn lay_out(&self, cfg: &PathConfig, asg: &mut Assigner) -> Result<Vec<Cell>, PlonkError> {
            let [u, v] = [self.u, self.v].map(|x| asg.witness(cfg.cols, &[Value::known(x)])[0]);
            let s = cfg.swap(asg, &u, &v, Ok(Value::known(self.bit)))?;
            let sum = cfg.add(asg, &s.left, &s.right)?;
            Ok(vec![s.left.cell, s.right.cell, sum.cell])
        }
    }

    fn swaps(u: u64, v: u64, bit: Fr, public: [u64; 3]) -> bool {
        let test = PathTest {
            u: Fr::from(u),
            v: Fr::from(v),
            bit,
        };
        holds(5, test, public.map(Fr::from).to_vec())
    }

    #[test]
    fn the_bit_orders_the_pair_and_must_be_boolean() {
        assert!(swaps(3, 5, Fr::ZERO, [3, 5, 8]));
        assert!(swaps(3, 5, Fr::ONE, [5, 3, 8]));
        assert!(!swaps(3, 5, Fr::ZERO, [5, 3, 8]));
        assert!(!swaps(3, 5, Fr::ONE, [3, 5, 8]));
        assert!(!swaps(3, 5, Fr::ONE, [5, 3, 9]));
        // A bit of 2 would mix the children: refused even where it "fits".
        assert!(!swaps(3, 3, Fr::from(2), [3, 3, 6]));
    }
}
