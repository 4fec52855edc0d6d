//! The three hash layouts of Summa's Merkle sum tree (see
//! `tests/fixtures/known-answers.json`):
//!
//! - `v1`: summa-solvency v1 as released. leaf = H(keccak256(username) mod p,
//!   balances...); middle = H(l.bal_0 + r.bal_0, .., l.hash, r.hash).
//! - `agg2023`: what summa-aggregation pinned (Dec 2023). leaf = H(username bytes as
//!   one big-endian integer mod p, balances...); middle as v1.
//! - `legacy`: before Dec 2023. leaf as agg2023; middle = H(l.hash, l.balances..,
//!   r.hash, r.balances..).
//!
//! In every layout a padding entry has username integer 0 and zero balances.

use std::fmt;
use std::str::FromStr;

use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};
use sha3::{Digest, Keccak256};

use crate::field::be_bytes_to_fr;

/// A hash layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// summa-solvency v1 as released (the default).
    #[default]
    V1,
    /// summa-solvency v1 as summa-aggregation pinned it.
    Agg2023,
    /// summa-solvency v1 before Dec 2023.
    Legacy,
}

impl Layout {
    /// All layouts.
    pub const ALL: [Layout; 3] = [Layout::V1, Layout::Agg2023, Layout::Legacy];

    /// The layout's name as the CLI and JSON spell it.
    pub fn name(self) -> &'static str {
        match self {
            Layout::V1 => "v1",
            Layout::Agg2023 => "agg2023",
            Layout::Legacy => "legacy",
        }
    }

    /// The code stored in binary files.
    pub fn code(self) -> u8 {
        match self {
            Layout::V1 => 1,
            Layout::Agg2023 => 2,
            Layout::Legacy => 3,
        }
    }

    /// The layout of a binary-file code.
    pub fn from_code(code: u8) -> Option<Layout> {
        Layout::ALL.into_iter().find(|l| l.code() == code)
    }

    /// The username's field element.
    pub fn username_fe(self, username: &[u8]) -> Fr {
        match self {
            Layout::V1 => be_bytes_to_fr(&Keccak256::digest(username)),
            Layout::Agg2023 | Layout::Legacy => be_bytes_to_fr(username),
        }
    }

    /// Checks that `username` is canonical: no other name has its field element in
    /// this layout. In `agg2023` and `legacy` the username's bytes are read as one
    /// big-endian integer and reduced mod p: a name whose integer is `>= p` would
    /// share its leaf with a shorter name, and so would a name with a leading NUL
    /// byte (`"\0alice"` is the integer of `"alice"`): two users, one leaf. Both are
    /// refused. `v1` hashes the name with keccak256 first; a leading NUL byte is
    /// refused there too, so that a name means the same in every layout (and no
    /// user is shown a name that prints like another's).
    pub fn check_username(self, username: &[u8]) -> Result<(), String> {
        if username.is_empty() {
            // In agg2023 and legacy ("", 0, ..) hashes to the padding leaf: a path to
            // padding would read as the inclusion of user "".
            return Err("the username is empty: refused in every layout (in agg2023 and legacy an empty name with zero balances is the padding leaf)".into());
        }
        if username.first() == Some(&0) {
            return Err(format!(
                "username {:?} starts with a NUL byte: in layouts agg2023 and legacy it would share its leaf with the name without it, so it is refused in every layout",
                String::from_utf8_lossy(username)
            ));
        }
        match self {
            Layout::V1 => Ok(()),
            Layout::Agg2023 | Layout::Legacy => {
                if crate::field::be_bytes_below_modulus(username) {
                    Ok(())
                } else {
                    Err(format!(
                        "username {:?} ({} bytes) is, as a big-endian integer, not below the BN254 scalar field modulus p: in layout {} it would collide with another name mod p (use names under 32 bytes, or layout v1)",
                        String::from_utf8_lossy(username),
                        username.len(),
                        self.name()
                    ))
                }
            }
        }
    }

    /// Length of a leaf preimage: username and one balance per currency.
    pub fn leaf_len(self, n_currencies: usize) -> usize {
        n_currencies + 1
    }

    /// Length of a middle-node preimage.
    pub fn middle_len(self, n_currencies: usize) -> usize {
        match self {
            Layout::V1 | Layout::Agg2023 => n_currencies + 2,
            Layout::Legacy => 2 * n_currencies + 2,
        }
    }

    /// Writes a middle node's preimage into `out` (of length [`Layout::middle_len`]).
    /// `sums` are the parent's balances, `left`/`right` the children.
    #[inline]
    pub fn middle_preimage(
        self,
        left: (Fr, &[Fr]),
        right: (Fr, &[Fr]),
        sums: &[Fr],
        out: &mut [Fr],
    ) {
        let n = sums.len();
        match self {
            Layout::V1 | Layout::Agg2023 => {
                out[..n].copy_from_slice(sums);
                out[n] = left.0;
                out[n + 1] = right.0;
            }
            Layout::Legacy => {
                out[0] = left.0;
                out[1..=n].copy_from_slice(left.1);
                out[n + 1] = right.0;
                out[n + 2..].copy_from_slice(right.1);
            }
        }
    }

    /// The node balances that a middle preimage commits to (the sums), as field
    /// elements; in the legacy layout they are the children's balances added.
    pub fn balances_of_middle_preimage(self, preimage: &[Fr], n_currencies: usize) -> Vec<Fr> {
        let n = n_currencies;
        match self {
            Layout::V1 | Layout::Agg2023 => preimage[..n].to_vec(),
            Layout::Legacy => (0..n)
                .map(|i| preimage[1 + i] + preimage[n + 2 + i])
                .collect(),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Layout::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| format!("unknown layout {s:?} (expected v1, agg2023 or legacy)"))
    }
}

/// The parameters every tree of a round shares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// The hash layout.
    pub layout: Layout,
    /// Every balance and total must be below `2^(8 * n_bytes)`.
    pub n_bytes: u8,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            layout: Layout::V1,
            n_bytes: DEFAULT_N_BYTES,
        }
    }
}

/// Summa's `N_BYTES`.
pub const DEFAULT_N_BYTES: u8 = 14;
/// The largest `n_bytes`: the sum of two balances below `2^248` stays below p, so
/// field additions never wrap.
pub const MAX_N_BYTES: u8 = 31;

impl Params {
    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.n_bytes == 0 || self.n_bytes > MAX_N_BYTES {
            return Err(crate::Error::Invalid(format!(
                "n_bytes must be between 1 and {MAX_N_BYTES}, got {}",
                self.n_bytes
            )));
        }
        Ok(())
    }

    /// The parameters a file's header stores: the layout's code and `n_bytes`,
    /// checked; the error is the problem with them, for the file's error.
    pub fn from_header(layout_code: u8, n_bytes: u8) -> Result<Params, &'static str> {
        let layout = Layout::from_code(layout_code).ok_or("unknown layout")?;
        let params = Params { layout, n_bytes };
        params.validate().map_err(|_| "bad n_bytes")?;
        Ok(params)
    }
}
