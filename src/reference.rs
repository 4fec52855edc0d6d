//! The reference algorithm: summa-solvency v1's `MerkleSumTree`, written the way it
//! is written there, over the generic `halo2_poseidon` primitive.
//!
//! It is the oracle for the fast engine (tests compare both on random inputs) and the
//! baseline of `summa-agg bench`. It is deliberately *not* optimised: the S-box is
//! `pow_vartime([5])` (square-and-multiply over 64 bits), every balance and username
//! goes through a decimal string into the field, and every hash allocates. The only
//! liberty taken is to generate the Poseidon constants once rather than per hash, so
//! the baseline is not slower than summa-solvency's.

use std::sync::OnceLock;

use ff::{Field, PrimeField};
use halo2_poseidon::{generate_constants, ConstantLength, Hash, Mds, Spec};
use halo2curves::bn256::Fr;
use num_bigint::BigUint;
use sha3::{Digest, Keccak256};

use crate::Layout;

/// summa-solvency's `PoseidonSpec`: width 2, rate 1, 8 full and 56 partial rounds,
/// x^5 S-box, constants from the Grain LFSR with the first secure MDS matrix.
#[derive(Debug, Clone, Copy)]
pub struct SummaSpec;

type Constants = (Vec<[Fr; 2]>, Mds<Fr, 2>, Mds<Fr, 2>);

fn constants() -> &'static Constants {
    static CONSTANTS: OnceLock<Constants> = OnceLock::new();
    CONSTANTS.get_or_init(generate_constants::<Fr, SummaSpec, 2, 1>)
}

impl Spec<Fr, 2, 1> for SummaSpec {
    fn full_rounds() -> usize {
        8
    }
    fn partial_rounds() -> usize {
        56
    }
    fn sbox(val: Fr) -> Fr {
        val.pow_vartime([5])
    }
    fn secure_mds() -> usize {
        0
    }
    fn constants() -> Constants {
        // Called by every `Hash::init`: a clone, as a per-hash allocation.
        constants().clone()
    }
}

/// `Hash::<Fr, SummaSpec, ConstantLength<L>, 2, 1>::init().hash(input)`.
pub fn poseidon<const L: usize>(input: [Fr; L]) -> Fr {
    Hash::<Fr, SummaSpec, ConstantLength<L>, 2, 1>::init().hash(input)
}

/// The round constants and MDS matrix as `halo2_poseidon::generate_constants` makes them.
pub fn generated_constants() -> &'static Constants {
    constants()
}

/// summa-solvency's `big_uint_to_fp`: through a decimal string.
pub fn big_uint_to_fp(value: &BigUint) -> Fr {
    Fr::from_str_vartime(&value.to_str_radix(10)).expect("decimal string")
}

/// The username as summa-solvency's `Entry` turns it into an integer, per layout.
pub fn username_as_big_uint(layout: Layout, username: &str) -> BigUint {
    match layout {
        Layout::V1 => BigUint::from_bytes_be(&Keccak256::digest(username.as_bytes())),
        Layout::Agg2023 | Layout::Legacy => BigUint::from_bytes_be(username.as_bytes()),
    }
}

/// A node of the reference tree: hash and balances as field elements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefNode {
    /// The node's hash.
    pub hash: Fr,
    /// The node's per-currency balances.
    pub balances: Vec<Fr>,
}

/// Hashes a slice through the generic primitive, dispatching on its length as
/// summa-solvency's const-generic code does at compile time.
fn poseidon_slice(input: &[Fr]) -> Fr {
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match input.len() {
                $($n => poseidon::<$n>(input.try_into().unwrap()),)*
                n => panic!("reference Poseidon: unsupported input length {n}"),
            }
        };
    }
    dispatch!(2 3 4 5 6 7 8 9 10 11 12 14 16 18 20 22)
}

/// `Node::leaf`: H(username, balances...).
pub fn leaf(layout: Layout, username: &str, balances: &[BigUint]) -> RefNode {
    let mut preimage = vec![big_uint_to_fp(&username_as_big_uint(layout, username))];
    let balances: Vec<Fr> = balances.iter().map(big_uint_to_fp).collect();
    preimage.extend(balances.iter().copied());
    RefNode {
        hash: poseidon_slice(&preimage),
        balances,
    }
}

/// `Node::middle`: v1 and agg2023 hash (sums..., left, right); legacy hashes
/// (left, left balances..., right, right balances...).
pub fn middle(layout: Layout, left: &RefNode, right: &RefNode) -> RefNode {
    let balances: Vec<Fr> = left
        .balances
        .iter()
        .zip(&right.balances)
        .map(|(l, r)| *l + r)
        .collect();
    let mut preimage = Vec::new();
    match layout {
        Layout::V1 | Layout::Agg2023 => {
            preimage.extend(balances.iter().copied());
            preimage.push(left.hash);
            preimage.push(right.hash);
        }
        Layout::Legacy => {
            preimage.push(left.hash);
            preimage.extend(left.balances.iter().copied());
            preimage.push(right.hash);
            preimage.extend(right.balances.iter().copied());
        }
    }
    RefNode {
        hash: poseidon_slice(&preimage),
        balances,
    }
}

/// summa-solvency's `parse_csv_to_entries`, simplified to what the reference needs:
/// the rows of a CSV shard (header skipped) as usernames and integer balances.
/// `None` if a balance is not a non-negative decimal integer.
pub fn entries_from_csv(text: &str) -> Option<Vec<(String, Vec<BigUint>)>> {
    text.lines()
        .skip(1)
        .map(|l| {
            let mut cells = l.split(',');
            let user = cells.next()?.to_string();
            let balances = cells
                .map(|c| c.parse().ok())
                .collect::<Option<Vec<BigUint>>>()?;
            Some((user, balances))
        })
        .collect()
}

/// The zero entry's leaf: username integer 0, all balances 0.
pub fn zero_leaf(n_currencies: usize) -> RefNode {
    let preimage = vec![Fr::ZERO; n_currencies + 1];
    RefNode {
        hash: poseidon_slice(&preimage),
        balances: vec![Fr::ZERO; n_currencies],
    }
}

/// summa-solvency's `MerkleSumTree::from_entries`: the root over `entries`, padded
/// with zero entries to `2^ceil(log2 n)` leaves. Returns (root, depth).
pub fn root(layout: Layout, entries: &[(String, Vec<BigUint>)]) -> (RefNode, usize) {
    assert!(
        !entries.is_empty(),
        "the reference tree needs at least one entry"
    );
    let n_currencies = entries[0].1.len();
    let depth = crate::tree::depth_for(entries.len() as u64) as usize;
    let mut level: Vec<RefNode> = entries
        .iter()
        .map(|(user, balances)| leaf(layout, user, balances))
        .collect();
    level.resize(1 << depth, zero_leaf(n_currencies));
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| middle(layout, &pair[0], &pair[1]))
            .collect();
    }
    (level.pop().unwrap(), depth)
}
