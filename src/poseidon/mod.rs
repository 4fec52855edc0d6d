//! Poseidon over the BN254 scalar field, exactly as summa-solvency instantiates it:
//! width 2, rate 1, 8 full and 56 partial rounds, S-box x^5, Grain-generated
//! constants (Poseidon paper, ePrint 2019/458, sections 2.3 and 4.2), and the
//! `ConstantLength<L>` domain of `halo2_poseidon`: the capacity element starts at
//! `L * 2^64`, the `L` inputs are absorbed one per permutation (rate 1) into
//! `state[0]`, and the output is `state[0]` after the last permutation.
//!
//! This is the hot path of the whole system. Compared with the generic primitive it
//! computes x^5 with two squarings and one multiplication (the generic code's
//! `pow_vartime([5])` scans 64 exponent bits), keeps its constants in a `const`
//! table, and never allocates. [`hash_batch`] hashes many equal-length messages at
//! once so that a vectorised kernel can run several permutations in lanes.

mod constants;

use ff::Field;
use halo2curves::bn256::Fr;

pub(crate) use constants::{MDS, ROUND_CONSTANTS};

/// State width `t`.
pub const WIDTH: usize = 2;
/// Number of full rounds `R_F` (half before, half after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Number of partial rounds `R_P`.
pub const PARTIAL_ROUNDS: usize = 56;

/// x^5 with two squarings and one multiplication.
#[inline(always)]
fn sbox(x: Fr) -> Fr {
    let x2 = x.square();
    x2.square() * x
}

#[inline(always)]
fn mds(state: &mut [Fr; WIDTH]) {
    let [a, b] = *state;
    state[0] = MDS[0][0] * a + MDS[0][1] * b;
    state[1] = MDS[1][0] * a + MDS[1][1] * b;
}

/// The Poseidon permutation on one state.
#[inline]
pub fn permute(state: &mut [Fr; WIDTH]) {
    let half = FULL_ROUNDS / 2;
    for rc in &ROUND_CONSTANTS[..half] {
        state[0] = sbox(state[0] + rc[0]);
        state[1] = sbox(state[1] + rc[1]);
        mds(state);
    }
    for rc in &ROUND_CONSTANTS[half..half + PARTIAL_ROUNDS] {
        state[0] = sbox(state[0] + rc[0]);
        state[1] += rc[1];
        mds(state);
    }
    for rc in &ROUND_CONSTANTS[half + PARTIAL_ROUNDS..] {
        state[0] = sbox(state[0] + rc[0]);
        state[1] = sbox(state[1] + rc[1]);
        mds(state);
    }
}

/// The initial capacity element of the `ConstantLength<L>` domain: `L * 2^64`.
#[inline]
pub fn capacity(len: usize) -> Fr {
    Fr::from_raw([0, len as u64, 0, 0])
}

/// Poseidon hash of a message of any length `L >= 1` in the `ConstantLength<L>`
/// domain: the same value as `halo2_poseidon::Hash::<_, _, ConstantLength<L>, 2, 1>`.
pub fn hash(message: &[Fr]) -> Fr {
    debug_assert!(!message.is_empty(), "Poseidon over an empty message");
    let mut state = [Fr::ZERO, capacity(message.len())];
    for m in message {
        state[0] += m;
        permute(&mut state);
    }
    state[0]
}

/// Poseidon hash of a fixed-length message: the length is part of the type, as in
/// `halo2_poseidon`'s `ConstantLength<L>`.
#[inline]
pub fn hash_const<const L: usize>(message: [Fr; L]) -> Fr {
    hash(&message)
}

/// Hashes `out.len()` messages of `len` elements each, stored back to back in
/// `messages`. Equal to calling [`hash`] on each, but lets the kernel interleave
/// independent permutations.
pub fn hash_batch(messages: &[Fr], len: usize, out: &mut [Fr]) {
    assert_eq!(messages.len(), len * out.len(), "hash_batch: bad lengths");
    for (o, m) in out.iter_mut().zip(messages.chunks_exact(len)) {
        *o = hash(m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use ff::PrimeField;
    use proptest::prelude::*;

    #[test]
    fn constants_match_halo2_poseidon_generation() {
        let (rc, mds, _) = reference::generated_constants();
        assert_eq!(rc.len(), FULL_ROUNDS + PARTIAL_ROUNDS);
        assert_eq!(&rc[..], &ROUND_CONSTANTS[..]);
        assert_eq!(mds, &MDS);
        assert_eq!(&constants::MDS_INV, &reference::generated_constants().2);
    }

    #[test]
    fn constants_match_known_answers() {
        // shared/vectors/known-answers.json, hash_parameters.
        let hex = |f: &Fr| crate::field::to_hex(f);
        assert_eq!(
            hex(&ROUND_CONSTANTS[0][0]),
            "0x09c46e9ec68e9bd4fe1faaba294cba38a71aa177534cdd1b6c7dc0dbd0abd7a7"
        );
        assert_eq!(
            hex(&ROUND_CONSTANTS[0][1]),
            "0x0c0356530896eec42a97ed937f3135cfc5142b3ae405b8343c1d83ffa604cb81"
        );
        assert_eq!(
            hex(&MDS[0][0]),
            "0x066f6f85d6f68a85ec10345351a23a3aaf07f38af8c952a7bceca70bd2af7ad5"
        );
        assert_eq!(
            hex(&MDS[1][1]),
            "0x1274e649a32ed355a31a6ed69724e1adade857e86eb5c3a121bcd147943203c8"
        );
    }

    fn fr() -> impl Strategy<Value = Fr> {
        any::<[u8; 32]>().prop_map(|b| {
            let mut wide = [0u8; 64];
            wide[..32].copy_from_slice(&b);
            <Fr as ff::FromUniformBytes<64>>::from_uniform_bytes(&wide)
        })
    }

    proptest! {
        #[test]
        fn hash_equals_generic_primitive(a in fr(), b in fr(), c in fr(), d in fr()) {
            prop_assert_eq!(hash(&[a, b]), reference::poseidon([a, b]));
            prop_assert_eq!(hash(&[a, b, c]), reference::poseidon([a, b, c]));
            prop_assert_eq!(hash_const([a, b, c, d]), reference::poseidon([a, b, c, d]));
        }

        #[test]
        fn batch_equals_single(msgs in proptest::collection::vec(fr(), 0..40)) {
            let n = msgs.len() / 4;
            let mut out = vec![Fr::ZERO; n];
            hash_batch(&msgs[..n * 4], 4, &mut out);
            for (i, o) in out.iter().enumerate() {
                prop_assert_eq!(*o, hash(&msgs[i * 4..i * 4 + 4]));
            }
        }
    }

    #[test]
    fn capacity_is_length_shifted_by_64() {
        assert_eq!(capacity(3), Fr::from_u128(3u128 << 64));
    }
}
