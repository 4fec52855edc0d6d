//! Helpers of the ZK tests: rounds over the repository's fixtures, Merkle proofs.
#![allow(dead_code)]

use std::fs::File;
use std::path::PathBuf;

use summa_agg::format::TreeFile;
use summa_agg::proof::{self, Proof};
use summa_agg::round::{self, AGGREGATION_FILE};
use summa_agg::{Layout, Params};
use tempfile::TempDir;

#[path = "../../../tests/common/shared.rs"]
mod shared;

pub use shared::*;

/// Where the repository's fixtures lie from this crate's manifest directory.
const FIXTURES: &str = "../tests/fixtures";

/// A round over fixture shards in a temporary directory.
pub struct Round {
    pub dir: TempDir,
    pub layout: Layout,
}

impl Round {
    pub fn run(shards: &[&str], layout: Layout) -> Round {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = shards.iter().map(|s| fixture(s)).collect();
        let params = Params {
            layout,
            n_bytes: 14,
        };
        round::run_local(&files, dir.path(), &params, &|_| {}).unwrap();
        Round { dir, layout }
    }

    /// The custodian's Merkle proof of `user`.
    pub fn merkle_proof(&self, user: &str) -> Proof {
        let open = |p: PathBuf| {
            let f = File::open(&p).unwrap();
            TreeFile::open(f, p.display().to_string()).unwrap()
        };
        let agg = open(self.dir.path().join(AGGREGATION_FILE));
        proof::generate(
            &agg,
            |i| Ok(open(self.dir.path().join(round::mini_tree_path(i)))),
            user,
        )
        .unwrap()
    }

    /// Every username of the round, in shard order.
    pub fn users(shards: &[&str]) -> Vec<String> {
        shards
            .iter()
            .flat_map(|s| {
                std::fs::read_to_string(fixture(s))
                    .unwrap()
                    .lines()
                    .skip(1)
                    .map(|l| l.split(',').next().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Keys of `shape` on the unsafe test SRS, written to a temporary directory (which
/// holds `srs.bin`, `vk.bin`..) and loaded back from it.
pub fn test_keys(shape: summa_agg_zk::Shape) -> (TempDir, summa_agg_zk::Keys) {
    use summa_agg_zk::keys::{Keys, SrsSource};
    let dir = tempfile::tempdir().unwrap();
    Keys::generate(shape, &SrsSource::UnsafeTest)
        .unwrap()
        .write(dir.path())
        .unwrap();
    let keys = Keys::load(dir.path()).unwrap();
    (dir, keys)
}

/// The four shards of entry_64.csv.
pub const SHARDS: [&str; 4] = [
    "entry_16_1.csv",
    "entry_16_2.csv",
    "entry_16_3.csv",
    "entry_16_4.csv",
];
