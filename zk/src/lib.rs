//! Zero-knowledge inclusion proofs for `summa-agg`'s Merkle sum trees.
//!
//! A raw Merkle path shows the sibling leaf's balances and every sibling subtree's
//! sums: it is for the custodian's own checks. What a user receives is a halo2 proof
//! (PLONK with KZG commitments over BN254, SHPLONK openings; `halo2-axiom`, the
//! maintained fork of the `halo2_proofs` summa-solvency uses) whose public inputs are
//! `[leaf_hash, root_hash]`, as summa-solvency's `MstInclusionCircuit`; the path is the
//! circuit's private witness.
//!
//! - [`circuit`]: the inclusion circuit, all three layouts, Poseidon equal to
//!   `summa_agg::poseidon` bit for bit, Summa's range rule;
//! - [`shape`]: what keys depend on (layout, depth, currencies, `n_bytes`);
//! - [`keys`]: the SRS (a ceremony file, or the unsafe test one) and the keys;
//! - [`proof`]: a user's proof file, [`proof::prove`] and [`proof::verify`];
//! - [`witness`]: the private witness, from a Merkle proof.
//!
//! This crate is linked only by what proves or verifies: the round, plan, mini-tree
//! and aggregator never depend on it.

#![deny(missing_docs)]

pub mod circuit;
mod convert;
pub mod keys;
pub mod proof;
pub mod shape;
pub mod witness;

pub use convert::{to_circuit, to_core};
pub use keys::{Keys, SrsSource, UNSAFE_TEST_SRS_WARNING};
pub use proof::{prove, verify, Verified, ZkProof};
pub use shape::Shape;
pub use witness::Witness;

/// What went wrong while making or checking keys and proofs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A shape no circuit is made for, or keys and proof of different shapes.
    #[error("{0}")]
    Shape(String),
    /// A keys or SRS file is missing, corrupt or of another shape.
    #[error("keys: {0}")]
    Keys(String),
    /// A proof does not verify.
    #[error("proof does not verify: {0}")]
    Proof(String),
    /// The proving system failed.
    #[error("halo2: {0}")]
    Halo2(#[from] halo2_proofs::plonk::Error),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An error of the core library (a Merkle proof, a round).
    #[error(transparent)]
    Core(#[from] summa_agg::Error),
}

/// A result of this crate.
pub type Result<T> = std::result::Result<T, Error>;
