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
//! - [`host`]: what a mini-tree was built on (CPU, backend, threads, time);
//! - [`text`]: the one escape of what a file or the custodian wrote, before a
//!   terminal, a log or a page.

#![deny(missing_docs)]

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
pub mod text;
pub mod threads;
pub mod tree;

pub use error::{Error, ErrorKind, Result};
pub use halo2curves::bn256::Fr;
pub use layout::{Layout, Params};
