//! Helpers shared by the integration tests.
#![allow(dead_code)]

use summa_agg::round::build_mini_tree;
use summa_agg::tree::MiniTree;
use summa_agg::{Layout, Params};

mod shared;
pub mod trickle;

pub use shared::*;

/// Where the repository's fixtures lie from this crate's manifest directory.
const FIXTURES: &str = "tests/fixtures";

/// One tree over a CSV text.
pub fn tree_of(csv: &[u8], layout: Layout) -> MiniTree {
    let params = Params {
        layout,
        n_bytes: 14,
    };
    build_mini_tree(csv, "test.csv", &params, None).unwrap()
}

/// Concatenates CSV files that share a header.
pub fn concat(files: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        let mut lines = text.lines();
        let header = lines.next().unwrap();
        if i == 0 {
            out.extend_from_slice(header.as_bytes());
            out.push(b'\n');
        }
        for l in lines {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
    }
    out
}
