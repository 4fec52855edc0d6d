//! Where the chips write: one region, a row cursor per column group, and the
//! soundness tests' hooks.
//!
//! The regions of `halo2-axiom` place cells at absolute rows, so the circuit lays
//! itself out in one region with two cursors: the Poseidon columns advance
//! [`super::poseidon::ROWS_PER_PERMUTATION`] rows a permutation, the arithmetic
//! columns (sums, swaps, range checks) a few rows a step; the longer of the two
//! sets the circuit's size ([`crate::Shape::k`]).

use halo2_proofs::circuit::{Cell, Region, Value};
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::halo2curves::ff::Field;
use halo2_proofs::plonk::{Advice, Column, Error as PlonkError, Fixed, Selector};

use super::Hooks;

/// A value and its cell.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Var {
    pub(crate) cell: Cell,
    pub(crate) value: Value<Fr>,
}

/// The region being laid out, with its cursors.
pub(crate) struct Assigner<'a, 'r> {
    region: &'a mut Region<'r, Fr>,
    /// The next free row of the Poseidon columns.
    pub(crate) poseidon_row: usize,
    /// The next free row of the arithmetic columns.
    pub(crate) arith_row: usize,
    /// Advice cells assigned so far (for the mutation test's hook).
    pub(crate) assigned: usize,
    /// Poseidon steps (rows) laid out so far (for the perturbation hook).
    poseidon_steps: usize,
    hooks: &'a Hooks,
}

impl<'a, 'r> Assigner<'a, 'r> {
    pub(crate) fn new(region: &'a mut Region<'r, Fr>, hooks: &'a Hooks) -> Assigner<'a, 'r> {
        Assigner {
            region,
            poseidon_row: 0,
            arith_row: 0,
            assigned: 0,
            poseidon_steps: 0,
            hooks,
        }
    }

    /// Assigns an advice cell.
    pub(crate) fn put(&mut self, col: Column<Advice>, row: usize, value: Value<Fr>) -> Var {
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

    /// Counts a Poseidon step; whether the soundness tests perturb the state after
    /// this one ([`Hooks::perturb_step`]).
    pub(crate) fn perturb_after_step(&mut self) -> bool {
        let step = self.poseidon_steps;
        self.poseidon_steps += 1;
        self.hooks.perturb_step == Some(step)
    }

    /// Assigns a copy of `from`, constrained equal to it.
    pub(crate) fn copy(&mut self, col: Column<Advice>, row: usize, from: &Var) -> Var {
        let to = self.put(col, row, from.value);
        self.region.constrain_equal(to.cell, from.cell);
        to
    }

    /// Assigns a fixed cell.
    pub(crate) fn fixed(&mut self, col: Column<Fixed>, row: usize, value: Fr) {
        self.region.assign_fixed(col, row, value);
    }

    /// Turns a selector on at `row`.
    pub(crate) fn enable(&mut self, sel: Selector, row: usize) -> Result<(), PlonkError> {
        sel.enable(self.region, row)
    }

    /// Private values, one row of `cols` at a time from the arithmetic cursor (no
    /// gate reads them: they are copied to where they are used).
    pub(crate) fn witness(&mut self, cols: [Column<Advice>; 3], values: &[Value<Fr>]) -> Vec<Var> {
        let mut out = Vec::with_capacity(values.len());
        for chunk in values.chunks(3) {
            for (col, v) in cols.iter().zip(chunk) {
                out.push(self.put(*col, self.arith_row, *v));
            }
            self.arith_row += 1;
        }
        out
    }
}
