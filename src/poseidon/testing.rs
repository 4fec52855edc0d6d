//! The field's edge values, shared by the engine's unit tests and its self-test
//! (`self_test`): 0, 1, p - 1, p - 2, the largest elements below p
//! (the ones "near 2^254"), powers of two around 2^252 and 2^253, as values and as
//! Montgomery representations.

use ff::Field;
use halo2curves::bn256::Fr;

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
