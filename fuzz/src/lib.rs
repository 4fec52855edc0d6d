//! What the fuzz targets share: a cursor over the fuzzer's bytes, the reference
//! oracles (summa-solvency's algorithm from `summa_agg::reference`, and readings of
//! the formats written here independently of the library), and small rounds built
//! in memory.
//!
//! Every target asserts a contract, not only "no panic": bad input is an `Err`,
//! and valid input gives the same answer as the reference path.

pub mod input;
pub mod oracle;
pub mod rounds;

pub use input::Input;

use summa_agg::{Layout, Params};

/// Round parameters from one byte: every layout, and `n_bytes` over its whole
/// valid range 1..=31.
pub fn params_of(b: u8) -> Params {
    Params {
        layout: Layout::ALL[(b % 3) as usize],
        n_bytes: 1 + (b / 3) % 31,
    }
}

/// One Tokio runtime per fuzzing process, for the functions' async readers.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a Tokio runtime")
    })
}
pub mod zk;
