//! Summa-exact Merkle sum trees, built over shards.
//!
//! A custodian commits to its liabilities with a Merkle sum tree over every user's
//! balances (Poseidon over BN254's scalar field, as in summa-solvency). This crate
//! builds that tree bit-exactly, fast, and in pieces: each CSV shard becomes a
//! *mini-tree*, and the mini-tree roots are combined into the round's tree. It has
//! no AWS or async dependency: the `summa-agg` CLI and the Lambda functions are thin
//! shells over it.
//!
//! - [`poseidon`]: the hash; [`layout`]: the three node layouts;
//! - [`shard`]: streaming CSV; [`tree`]: mini-trees and the aggregation tree;
//! - [`format`]: the binary tree files; [`json`]: published JSON;
//! - [`round`]: a whole round; [`proof`]: inclusion proofs; [`split`], [`export`];
//! - `reference` (feature `reference`): summa-solvency's algorithm over the generic
//!   primitive (the oracle); `synthetic` (same feature): generated users for
//!   benchmarks; [`threads`]: how many threads;
//! - [`host`]: what a mini-tree was built on (CPU, backend, threads, time).

#![deny(missing_docs)]

/// `len` and `is_empty` of a type whose length is that of one of its vectors
/// (`$what` names what it counts, for the documentation).
macro_rules! len_of_field {
    ($ty:ident, $field:ident, $what:literal) => {
        impl $ty {
            #[doc = concat!("Number of ", $what, ".")]
            pub fn len(&self) -> usize {
                self.$field.len()
            }

            #[doc = concat!("Whether there are no ", $what, ".")]
            pub fn is_empty(&self) -> bool {
                self.$field.is_empty()
            }
        }
    };
}

pub mod error;
pub mod export;
pub mod field;
pub mod format;
pub mod host;
pub mod json;
pub mod layout;
pub mod poseidon;
pub mod proof;
#[cfg(feature = "reference")]
pub mod reference;
pub mod round;
pub mod shard;
pub mod split;
#[cfg(feature = "reference")]
pub mod synthetic;
pub mod threads;
pub mod tree;

pub use error::{Error, ErrorKind, Result};
pub use halo2curves::bn256::Fr;
pub use layout::{Layout, Params};
