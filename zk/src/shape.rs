//! The shape of an inclusion circuit: everything its keys depend on.

use serde::{Deserialize, Serialize};
use summa_agg::layout::MAX_N_BYTES;
use summa_agg::Layout;

use crate::{Error, Result};

/// The deepest tree a circuit is made for (2^32 users).
pub const MAX_DEPTH: u32 = 32;
/// The most currencies a circuit is made for.
pub const MAX_CURRENCIES: usize = 16;

/// Rows of one Poseidon hash of `len` inputs: 18 rows per permutation (8 full rounds
/// two per row, 56 partial rounds four per row). Its output row is the next hash's
/// first row (the Poseidon chip's layout), so only the last hash's takes a row more.
pub(crate) const fn hash_rows(len: usize) -> usize {
    crate::circuit::poseidon::ROWS_PER_PERMUTATION * len
}

/// Rows that halo2 keeps for blinding and its own use at the end of the domain
/// (`blinding_factors + 3` for this circuit's 2 queries per advice column), with room.
const RESERVED_ROWS: usize = 16;
/// The smallest circuit (halo2 needs a few rows beside the reserved ones).
const MIN_K: u32 = 6;

/// The shape of an inclusion circuit: the layout, the depth of the round's tree, the
/// number of currencies and the balance range. Keys are made once per shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// The hash layout.
    pub layout: Layout,
    /// The depth of the round's tree (the number of siblings on a path).
    pub depth: u32,
    /// The number of currencies.
    pub currencies: usize,
    /// Every balance and total is below `2^(8 * n_bytes)`.
    pub n_bytes: u8,
}

impl Shape {
    /// Checks that a circuit can be made for this shape.
    pub fn validate(&self) -> Result<()> {
        if self.depth > MAX_DEPTH {
            return Err(Error::Shape(format!(
                "a depth of {} is over the circuit's limit of {MAX_DEPTH}",
                self.depth
            )));
        }
        if self.currencies == 0 || self.currencies > MAX_CURRENCIES {
            return Err(Error::Shape(format!(
                "{} currencies: circuits are made for 1 to {MAX_CURRENCIES}",
                self.currencies
            )));
        }
        if self.n_bytes == 0 || self.n_bytes > MAX_N_BYTES {
            return Err(Error::Shape(format!(
                "n_bytes must be between 1 and {MAX_N_BYTES}, got {}",
                self.n_bytes
            )));
        }
        Ok(())
    }

    /// A short name of the shape, e.g. `v1-d20-c2-b14` (used for key directories).
    pub fn id(&self) -> String {
        format!(
            "{}-d{}-c{}-b{}",
            self.layout, self.depth, self.currencies, self.n_bytes
        )
    }

    /// Length of a middle-node preimage.
    pub(crate) fn middle_len(&self) -> usize {
        self.layout.middle_len(self.currencies)
    }

    /// Length of a leaf preimage.
    pub(crate) fn leaf_len(&self) -> usize {
        self.layout.leaf_len(self.currencies)
    }

    /// Length of the sibling preimage at `level`.
    pub(crate) fn sibling_len(&self, level: usize) -> usize {
        if level == 0 {
            self.leaf_len()
        } else {
            self.middle_len()
        }
    }

    /// The rows each of the circuit's two column groups uses (Poseidon; arithmetic
    /// and range checks), exactly as `synthesize` lays them out.
    pub(crate) fn rows(&self) -> [usize; 2] {
        let n = self.currencies;
        let legacy = self.layout == Layout::Legacy;
        // The leaf's hash, and the last hash's output row.
        let mut poseidon = hash_rows(self.leaf_len()) + 1;
        let mut arith = self.leaf_len().div_ceil(3);
        let mut ranges = n;
        for level in 0..self.depth as usize {
            let sib = self.sibling_len(level);
            poseidon += hash_rows(sib) + hash_rows(self.middle_len());
            // Sibling preimage, path swap, the parent's sums.
            arith += sib.div_ceil(3) + 2 + n;
            ranges += 2 * n;
            if legacy {
                // The balances swap with the hashes.
                arith += 2 * n;
                if level > 0 {
                    // A middle sibling's balances are its children's, added.
                    arith += n;
                    ranges += 2 * n;
                }
            }
        }
        // Three range checks side by side.
        let range_rows = crate::circuit::range::rows(self.n_bytes as usize);
        [poseidon, arith + ranges.div_ceil(3) * range_rows]
    }

    /// log2 of the circuit's rows.
    pub fn k(&self) -> u32 {
        let rows = self.rows().into_iter().max().unwrap_or(0) + RESERVED_ROWS;
        let mut k = MIN_K;
        while (1usize << k) < rows {
            k += 1;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_grows_with_depth_and_currencies() {
        let s = |layout, depth, currencies| Shape {
            layout,
            depth,
            currencies,
            n_bytes: 14,
        };
        // A leaf alone: 2 permutations (37 rows), a range check (58 rows) and 16
        // reserved.
        assert_eq!(s(Layout::V1, 0, 1).rows(), [37, 58]);
        assert_eq!(s(Layout::V1, 0, 1).k(), 7);
        assert!(s(Layout::V1, 20, 2).k() <= s(Layout::V1, 28, 2).k());
        assert!(s(Layout::V1, 28, 2).k() < s(Layout::Legacy, 32, 8).k());
        assert_eq!(s(Layout::V1, 20, 2).id(), "v1-d20-c2-b14");
        // 2^28 users, 2 currencies: 4,069 Poseidon rows and 16 reserved fit 2^12.
        assert_eq!(s(Layout::V1, 28, 2).rows()[0], 4_069);
        assert_eq!(s(Layout::V1, 28, 2).k(), 12);
    }

    #[test]
    fn shapes_out_of_bounds_are_refused() {
        let ok = Shape {
            layout: Layout::V1,
            depth: 32,
            currencies: 8,
            n_bytes: 14,
        };
        assert!(ok.validate().is_ok());
        for bad in [
            Shape { depth: 33, ..ok },
            Shape {
                currencies: 0,
                ..ok
            },
            Shape {
                currencies: MAX_CURRENCIES + 1,
                ..ok
            },
            Shape { n_bytes: 0, ..ok },
            Shape { n_bytes: 32, ..ok },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
