//! The chips' MockProver tests share one circuit: a chip's columns, an instance
//! column for its public outputs, and its layout in one region with the default
//! hooks.

use halo2_proofs::circuit::{Cell, Layouter, SimpleFloorPlanner};
use halo2_proofs::dev::MockProver;
use halo2_proofs::halo2curves::bn256::Fr;
use halo2_proofs::plonk::{
    Advice, Circuit, Column, ConstraintSystem, Error as PlonkError, Instance,
};

use super::assign::Assigner;
use super::Hooks;

/// A chip under test: its columns, and what it lays out from its witness.
pub(crate) trait ChipTest: Clone {
    /// The chip's configuration (and any column of the test's own).
    type Config: Clone;

    /// The chip's columns and gates.
    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config;

    /// The soundness hooks the layout runs with (none by default).
    fn hooks(&self) -> Hooks {
        Hooks::default()
    }

    /// The layout; the cells returned are the public outputs, in instance order.
    fn lay_out(&self, cfg: &Self::Config, asg: &mut Assigner) -> Result<Vec<Cell>, PlonkError>;
}

/// `N` advice columns, each with equality.
pub(crate) fn equal_advice<const N: usize>(meta: &mut ConstraintSystem<Fr>) -> [Column<Advice>; N] {
    let cols = [(); N].map(|_| meta.advice_column());
    cols.iter().for_each(|c| meta.enable_equality(*c));
    cols
}

/// The circuit around a chip's test.
#[derive(Clone)]
struct ChipCircuit<T>(T);

impl<T: ChipTest> Circuit<Fr> for ChipCircuit<T> {
    type Config = (T::Config, Column<Instance>);
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> Self::Config {
        let cfg = T::configure(meta);
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        (cfg, instance)
    }

    fn synthesize(
        &self,
        (cfg, instance): Self::Config,
        mut layouter: impl Layouter<Fr>,
    ) -> Result<(), PlonkError> {
        let hooks = self.0.hooks();
        let cells = layouter.assign_region(
            || "chip",
            |mut region| {
                self.0
                    .lay_out(&cfg, &mut Assigner::new(&mut region, &hooks))
            },
        )?;
        for (i, c) in cells.into_iter().enumerate() {
            layouter.constrain_instance(c, instance, i);
        }
        Ok(())
    }
}

/// Whether the chip's test, on `2^k` rows, is satisfied with the public outputs
/// `public`.
pub(crate) fn holds<T: ChipTest>(k: u32, test: T, public: Vec<Fr>) -> bool {
    MockProver::run(k, &ChipCircuit(test), vec![public])
        .unwrap()
        .verify()
        .is_ok()
}
