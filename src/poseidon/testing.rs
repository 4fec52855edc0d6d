//! What the engine's unit tests and its self-test (`self_test`) share: the field's
//! edge values (0, 1, p - 1, p - 2, the largest elements below p, the ones "near
//! 2^254", powers of two around 2^252 and 2^253, as values and as Montgomery
//! representations) and the comparison of batch hashing with the generic primitive.

use ff::Field;
use halo2curves::bn256::Fr;

use super::{hash_batch, hash_batch_scalar};
use crate::reference;

/// `p - 1`, little-endian words.
pub(super) const P_MINUS_1: [u64; 4] = [
    0x43e1f593f0000000,
    0x2833e84879b97091,
    0xb85045b68181585d,
    0x30644e72e131a029,
];

/// Edge values, as values (through `from_raw`) and as Montgomery representations
/// (`Fr(..)`, which the assembly reads directly).
pub(super) fn edge_values() -> Vec<Fr> {
    let mut v = vec![Fr::ZERO, Fr::ONE, Fr::from(2), Fr::from(u64::MAX), -Fr::ONE];
    v.push(-Fr::from(2));
    v.push(Fr::from_raw([0, 0, 0, 1 << 61])); // 2^253
    v.push(Fr::from_raw([u64::MAX, u64::MAX, u64::MAX, (1 << 61) - 1])); // 2^253 - 1
    v.push(Fr::from_raw([0, 0, 0, 3 << 60])); // 2^253 + 2^252
    v.push(Fr::from_raw([u64::MAX, u64::MAX, u64::MAX, (1 << 60) - 1])); // 2^252 - 1
    let mut pm = P_MINUS_1;
    pm[0] -= 1000;
    v.push(Fr::from_raw(pm)); // p - 1001
                              // Representations: p - 1 and p - 2 (the largest), small, 2^253 and around it,
                              // all-ones words below p.
    v.push(Fr(P_MINUS_1));
    let mut pm2 = P_MINUS_1;
    pm2[0] -= 1;
    v.push(Fr(pm2));
    v.push(Fr([1, 0, 0, 0]));
    v.push(Fr([15, 0, 0, 0]));
    v.push(Fr([0, 0, 0, 1 << 61]));
    v.push(Fr([u64::MAX, u64::MAX, u64::MAX, (1 << 61) - 1]));
    v.push(Fr([u64::MAX, u64::MAX, u64::MAX, 0x30644e72e1319fff]));
    v.push(Fr([u64::MAX, 0, u64::MAX, 0]));
    v.push(Fr([0, u64::MAX, 0, 0x30644e72e131a028]));
    v
}

/// The generic primitive on a message of length 1..=8.
pub(super) fn reference_hash(m: &[Fr]) -> Fr {
    macro_rules! dispatch {
        ($($n:literal)*) => {
            match m.len() {
                $($n => reference::poseidon::<$n>(m.try_into().expect("length")),)*
                n => panic!("length {n}"),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8)
}

/// For each message of `msgs` (`len` elements each): its hash by [`hash_batch`],
/// by [`hash_batch_scalar`] and by the generic primitive.
pub(super) fn batch_and_reference(msgs: &[Fr], len: usize) -> Vec<[Fr; 3]> {
    let n = msgs.len() / len;
    let mut out = vec![Fr::ZERO; n];
    hash_batch(msgs, len, &mut out);
    let mut scalar = vec![Fr::ZERO; n];
    hash_batch_scalar(msgs, len, &mut scalar);
    msgs.chunks_exact(len)
        .zip(out.into_iter().zip(scalar))
        .map(|(m, (batch, scalar))| [batch, scalar, reference_hash(m)])
        .collect()
}
