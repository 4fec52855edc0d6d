//! One module per command (or family of commands): each takes its arguments'
//! struct from `crate::args`.

pub mod bench;
#[cfg(feature = "chain")]
pub mod chain;
pub mod files;
pub mod proof;
pub mod round;
#[cfg(feature = "s3")]
pub mod step;
#[cfg(feature = "zk")]
pub mod zk;
