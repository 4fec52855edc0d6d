//! Zero-knowledge inclusion proofs for `summa-agg`'s Merkle sum trees.
//!
//! A raw Merkle path shows the sibling leaf's balances and every sibling subtree's
//! sums: it is for the custodian's own checks. What a user receives is a halo2 proof
//! (PLONK with KZG commitments over BN254, SHPLONK openings; `halo2-axiom`, the
//! maintained fork of the `halo2_proofs` summa-solvency uses) whose public inputs are
//! the user's leaf hash, the round's root hash and its per-currency totals; the path
//! is the circuit's private witness.
//!
//! - [`circuit`]: the inclusion circuit, all three layouts, Poseidon equal to
//!   `summa_agg::poseidon` bit for bit, Summa's range rule;
//! - [`shape`]: what keys depend on (layout, depth, currencies, `n_bytes`);
//! - [`ceremony`] and [`srs`]: the setups a verifier trusts, and SRS files checked
//!   against them;
//! - [`verifier`]: a user's verification, trusting nothing the custodian chooses
//!   (shared by the command line and the WebAssembly verifier);
//! - [`proof`]: a user's proof file, and (feature `prover`) [`proof::prove`];
//! - [`keys`] (feature `prover`): the custodian's keys;
//! - [`witness`]: the private witness, from a Merkle proof.
//!
//! This crate is linked only by what proves or verifies: the round, plan, mini-tree
//! and aggregator never depend on it. Without its default feature `prover` it holds
//! no prover.

#![deny(missing_docs)]

pub mod ceremony;
pub mod circuit;
mod convert;
mod error;
#[cfg(feature = "evm")]
pub mod evm;
#[cfg(feature = "prover")]
pub mod keys;
pub mod pinned;
pub mod proof;
pub mod record;
pub mod shape;
pub mod srs;
pub mod transcript;
pub mod verifier;
pub mod witness;

#[cfg(test)]
mod soundness_tests;

pub use convert::{to_circuit, to_core, to_decimal};
pub use error::{Error, Result};
#[cfg(feature = "prover")]
pub use keys::{Keys, SrsSource, UNSAFE_TEST_SRS_WARNING};
#[cfg(feature = "prover")]
pub use proof::prove;
pub use proof::ZkProof;
pub use shape::Shape;
pub use witness::Witness;
