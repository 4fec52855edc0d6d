//! Poseidon over the BN254 scalar field, exactly as summa-solvency instantiates it:
//! width 2, rate 1, 8 full and 56 partial rounds, S-box x^5, Grain-generated
//! constants (Poseidon paper, ePrint 2019/458, sections 2.3 and 4.2), and the
//! `ConstantLength<L>` domain of `halo2_poseidon`: the capacity element starts at
//! `L * 2^64`, the `L` inputs are absorbed one per permutation (rate 1) into
//! `state[0]`, and the output is `state[0]` after the last permutation.
//!
//! This is the hot path of the whole system. Compared with the generic primitive
//! (about 5 000 field multiplications per permutation: its S-box is
//! `pow_vartime([5])`, which scans 64 exponent bits) it computes x^5 with two
//! squarings and one multiplication, keeps its constants in tables, never
//! allocates, and runs the optimised rounds of the paper's appendix B, pushed
//! further for `t = 2` (see `derive_optimized` in the source): **346 multiplications** per
//! permutation. [`hash_batch`] hashes many equal-length messages at once: on x86_64
//! CPUs with AVX-512 IFMA it runs 8 permutations per 512-bit vector (`ifma.rs`),
//! elsewhere it interleaves permutations on the scalar path, whose field arithmetic
//! on aarch64 (Graviton) is the inline assembly of `aarch64.rs` (chosen at compile
//! time; halo2curves has assembly for x86_64 only).
//!
//! Set `SUMMA_AGG_NO_SIMD=1` to force the portable path; [`backend`] tells which
//! one runs.

/// The BN254 scalar field modulus `p`, little-endian 64-bit words: what the
/// assembly and SIMD kernels reduce by.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
const MODULUS: [u64; 4] = [
    0x43e1f593f0000001,
    0x2833e84879b97091,
    0xb85045b68181585d,
    0x30644e72e131a029,
];

/// `-p^-1 mod 2^64` (Newton's iteration doubles the correct low bits: 1 -> 64); its
/// low 52 bits are `-p^-1 mod 2^52`.
#[cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]
const MODULUS_INV_NEG: u64 = {
    let mut inv: u64 = 1;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(MODULUS[0].wrapping_mul(inv)));
        i += 1;
    }
    inv.wrapping_neg()
};

#[cfg(target_arch = "aarch64")]
mod aarch64;
mod constants;
#[cfg(target_arch = "x86_64")]
mod ifma;
// The NEON prototype is exercised by the self-test only (not used by the engine).
#[cfg(all(target_arch = "aarch64", feature = "reference"))]
mod neon_fp52;
#[cfg(any(test, feature = "reference"))]
mod testing;
// The self-test compares with the generic primitive (`reference`): only builds
// with that feature (the CLI) carry it; no Lambda links it.
#[cfg(feature = "reference")]
mod selftest;

#[cfg(feature = "reference")]
#[doc(hidden)]
pub use selftest::{self_test, SelfTest};

use std::sync::LazyLock;

use ff::Field;
use halo2curves::bn256::Fr;

pub(crate) use constants::{MDS, ROUND_CONSTANTS};

/// State width `t`.
pub const WIDTH: usize = 2;
/// Number of full rounds `R_F` (half before, half after the partial rounds).
pub const FULL_ROUNDS: usize = 8;
/// Number of partial rounds `R_P`.
pub const PARTIAL_ROUNDS: usize = 56;

/// The round constants of the plain permutation ([`permute_plain`]), one pair per
/// round (4 full, 56 partial, 4 full): what an arithmetic circuit of the permutation
/// (the `summa-agg-zk` crate) must use to equal this hash bit for bit.
pub fn round_constants() -> &'static [[Fr; WIDTH]; FULL_ROUNDS + PARTIAL_ROUNDS] {
    &ROUND_CONSTANTS
}

/// The MDS matrix of the plain permutation ([`permute_plain`]).
pub fn mds_matrix() -> &'static [[Fr; WIDTH]; WIDTH] {
    &MDS
}

/// Number of rounds `R_F + R_P`.
const ROUNDS: usize = FULL_ROUNDS + PARTIAL_ROUNDS;
/// The first partial round: rounds `0..FIRST_PARTIAL` are full.
const FIRST_PARTIAL: usize = FULL_ROUNDS / 2;
/// The first full round after the partial rounds.
const LAST_PARTIALS_END: usize = FIRST_PARTIAL + PARTIAL_ROUNDS;

/// Whether round `r` is a full round.
#[inline(always)]
const fn is_full(r: usize) -> bool {
    r < FIRST_PARTIAL || r >= LAST_PARTIALS_END
}

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

/// The Poseidon permutation exactly as specified: add the round constants, S-box
/// (both elements in full rounds, the first in partial rounds), multiply by the MDS
/// matrix. 8 x (6 + 4) + 56 x (3 + 4) = **472 multiplications**. Kept as the
/// specification the optimised [`permute`] is tested against (and benchmarked with).
#[doc(hidden)]
pub fn permute_plain(state: &mut [Fr; WIDTH]) {
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

/// The constants of the optimised permutation, derived once from [`ROUND_CONSTANTS`]
/// and [`MDS`] (see [`derive_optimized`]).
///
/// Round `r` of the optimised permutation, on the stored state `(A, B)`:
///
/// - full round: `U = (A + ca[r])^5`, `X = (B + cb[f])^5` (`f` = index among full rounds);
/// - partial round: `U = (A + ca[r])^5`, `X = B`;
/// - then, for `r < 63`: `A = U + beta[r] X`, `B = U + delta[r] X`;
///   for `r = 63`: `A = last[0][0] U + last[0][1] X`, `B = last[1][0] U + last[1][1] X`.
pub(crate) struct Optimized {
    /// Constant added to `A` before the S-box, every round.
    pub(crate) ca: [Fr; ROUNDS],
    /// Constant added to `B` before the S-box, full rounds only.
    pub(crate) cb: [Fr; FULL_ROUNDS],
    /// Linear layer of rounds `0..63`: coefficient of `X` in the new `A`.
    pub(crate) beta: [Fr; ROUNDS - 1],
    /// Linear layer of rounds `0..63`: coefficient of `X` in the new `B`.
    pub(crate) delta: [Fr; ROUNDS - 1],
    /// Linear layer of the last round (a general 2x2 matrix).
    pub(crate) last: [[Fr; 2]; 2],
}

/// The optimised permutation's constants, computed once.
pub(crate) static OPTIMIZED: LazyLock<Optimized> = LazyLock::new(derive_optimized);

/// Index of full round `r` among the full rounds (`0..8`).
#[inline(always)]
const fn full_index(r: usize) -> usize {
    if r < FIRST_PARTIAL {
        r
    } else {
        r - PARTIAL_ROUNDS
    }
}

/// Derives [`Optimized`] from the round constants and the MDS matrix.
///
/// This is the "optimized partial rounds" idea of the Poseidon paper (ePrint
/// 2019/458, appendix B) pushed to its end for `t = 2`:
///
/// 1. *Moving round constants through the linear layer* (B.1): in a partial round
///    the constant added to the second element commutes with the S-box (which only
///    touches the first), so it can be carried forward through the MDS matrix into
///    later rounds. Here it is carried as an affine offset of the stored second
///    element (`E` below) and lands in the first element's constant of the next
///    round and, eventually, in the next full round's constants: each partial round
///    adds one constant.
/// 2. *Sparse linear layers* (B.2): the paper factors `M = M' M''` with `M'` acting
///    only on the non-S-box elements (so it commutes with a partial round and is
///    pushed into the previous round) and `M''` sparse: `[[m00, m01], [m10/m11, 1]]`
///    for `t = 2`, 3 multiplications instead of 4. We use the same commutation with
///    diagonal matrices instead, which has one more degree of freedom per round:
///    scaling the first element by `s` before an S-box scales its output by `s^5`
///    (x^5 is homogeneous), and scaling the second element commutes with a partial
///    round. So the state is stored as `(A, B) = (s a - F, t b - E)` for per-round
///    scalars `s, t` and offsets `F, E`, chosen so that both outputs of each linear
///    layer have coefficient 1 on `U`: `A' = U + beta X`, `B' = U + delta X`,
///    **2 multiplications** per linear layer. (`gcd(5, p - 1) = 1`, so nothing is
///    lost; `m00` and `m10` are non-zero since `M` is MDS.) The last round must
///    return the true state (`s = t = 1`), so its matrix stays general.
///
/// Cost: S-boxes 8 x 6 + 56 x 3 = 216, linear layers 63 x 2 + 4 = 130, total
/// **346 multiplications** per permutation (plain: 472; the paper's B.2 for t = 2:
/// 416).
///
/// Derivation, with `(a, b)` the true state before round `r`, `(A, B)` the stored one
/// with `A = s a - F`, `B = t b - E` (initially `s = t = 1`, `F = E = 0`), round
/// constants `(c_a, c_b)`:
///
/// - S-box input: `A + ca = s (a + c_a)` gives `ca = F + s c_a`, so `U = s^5 u` with
///   `u = (a + c_a)^5` the true S-box output.
/// - Full round: likewise `cb = E + t c_b`, `X = t^5 x` with `x = (b + c_b)^5`: put
///   `tau = t^5`, `E~ = 0`. Partial round: `X = B = t (b + c_b) - (E + t c_b)`: put
///   `tau = t`, `E~ = E + t c_b`, `x = b + c_b`. Either way `X = tau x - E~`.
/// - True outputs `a' = m00 u + m01 x`, `b' = m10 u + m11 x`. With `s' = s^5 / m00`,
///   `beta = s' m01 / tau`: `U + beta X = s' a' - beta E~`, so `F' = beta E~`. With
///   `t' = s^5 / m10`, `delta = t' m11 / tau`: `U + delta X = t' b' - delta E~`, so
///   `E' = delta E~`.
/// - Last round (full, so `E~ = 0`): `last = [[m00 / s^5, m01 / tau], [m10 / s^5,
///   m11 / tau]]`.
fn derive_optimized() -> Optimized {
    let inv = |x: Fr| -> Fr { Option::from(x.invert()).expect("invertible") };
    let m = &MDS;
    let (mut s, mut t) = (Fr::ONE, Fr::ONE);
    let (mut f, mut e) = (Fr::ZERO, Fr::ZERO);
    let mut out = Optimized {
        ca: [Fr::ZERO; ROUNDS],
        cb: [Fr::ZERO; FULL_ROUNDS],
        beta: [Fr::ZERO; ROUNDS - 1],
        delta: [Fr::ZERO; ROUNDS - 1],
        last: [[Fr::ZERO; 2]; 2],
    };
    for (r, &[c_a, c_b]) in ROUND_CONSTANTS.iter().enumerate() {
        out.ca[r] = f + s * c_a;
        let (tau, e_tilde) = if is_full(r) {
            out.cb[full_index(r)] = e + t * c_b;
            (sbox(t), Fr::ZERO)
        } else {
            (t, e + t * c_b)
        };
        let s5 = sbox(s);
        if r + 1 < ROUNDS {
            let s_next = s5 * inv(m[0][0]);
            let t_next = s5 * inv(m[1][0]);
            let beta = s_next * m[0][1] * inv(tau);
            let delta = t_next * m[1][1] * inv(tau);
            out.beta[r] = beta;
            out.delta[r] = delta;
            f = beta * e_tilde;
            e = delta * e_tilde;
            s = s_next;
            t = t_next;
        } else {
            debug_assert!(is_full(r));
            out.last = [
                [m[0][0] * inv(s5), m[0][1] * inv(tau)],
                [m[1][0] * inv(s5), m[1][1] * inv(tau)],
            ];
        }
    }
    out
}

/// The engine's field operations, chosen at compile time: on aarch64 the Montgomery
/// multiplication, squaring and addition in assembly of `aarch64.rs` (halo2curves
/// has no aarch64 assembly), which the aarch64 [`permute_lanes`] uses; elsewhere
/// halo2curves' `Fr` operators themselves (on x86_64 its `asm` feature's code),
/// which the other [`permute_lanes`] calls directly, so that nothing changes there
/// (these wrappers serve the self-test and the benchmark). Both return the
/// canonical `Fr`, bit for bit the same.
#[cfg(not(target_arch = "aarch64"))]
// Without the self-test (feature `reference`) only `mul` and `NAME` are used here.
#[cfg_attr(not(feature = "reference"), allow(dead_code))]
mod ops {
    use halo2curves::bn256::Fr;

    /// Name of this implementation, for [`super::field_ops`].
    pub(super) const NAME: &str = "halo2curves";

    #[inline(always)]
    pub(super) fn mul(a: Fr, b: Fr) -> Fr {
        a * b
    }

    #[inline(always)]
    pub(super) fn add(a: Fr, b: Fr) -> Fr {
        a + b
    }

    #[inline(always)]
    pub(super) fn square(a: Fr) -> Fr {
        a.square()
    }

    /// x^5: the engine's [`super::sbox`].
    #[inline(always)]
    pub(super) fn sbox(x: Fr) -> Fr {
        super::sbox(x)
    }
}

#[cfg(target_arch = "aarch64")]
// Without the self-test (feature `reference`) the permutation uses the assembly
// directly and only `NAME` is read here.
#[cfg_attr(not(feature = "reference"), allow(dead_code, unused_imports))]
mod ops {
    pub(super) use super::aarch64::{add, mul, square, NAME};
    use halo2curves::bn256::Fr;

    /// x^5 with two squarings and one multiplication, as [`super::sbox`].
    #[inline(always)]
    pub(super) fn sbox(x: Fr) -> Fr {
        mul(square(square(x)), x)
    }
}

/// Which field arithmetic the engine's permutation uses on this target:
/// `"aarch64-asm"` (aarch64, chosen at compile time) or `"halo2curves"`.
pub fn field_ops() -> &'static str {
    ops::NAME
}

/// The engine's field multiplication (that of [`field_ops`]), for benchmarks.
#[doc(hidden)]
#[inline]
pub fn field_mul(a: Fr, b: Fr) -> Fr {
    ops::mul(a, b)
}

/// The Poseidon permutation on `N` independent states at once (interleaved so that
/// their multiplications overlap in the pipeline), with the optimised rounds of
/// [`derive_optimized`]: **346 multiplications** per permutation. Kept verbatim
/// off aarch64 (halo2curves' `Fr` operators; on x86_64 its assembly), so that those
/// builds do not change; the aarch64 twin below uses [`ops`].
#[cfg(not(target_arch = "aarch64"))]
#[inline(always)]
fn permute_lanes<const N: usize>(a: &mut [Fr; N], b: &mut [Fr; N]) {
    let k = &*OPTIMIZED;
    let full = |r: usize, a: &mut [Fr; N], b: &mut [Fr; N]| {
        let (ca, cb) = (k.ca[r], k.cb[full_index(r)]);
        for l in 0..N {
            let u = sbox(a[l] + ca);
            let x = sbox(b[l] + cb);
            (a[l], b[l]) = (u + k.beta[r] * x, u + k.delta[r] * x);
        }
    };
    for r in 0..FIRST_PARTIAL {
        full(r, a, b);
    }
    for r in FIRST_PARTIAL..LAST_PARTIALS_END {
        let (ca, beta, delta) = (k.ca[r], k.beta[r], k.delta[r]);
        for l in 0..N {
            let u = sbox(a[l] + ca);
            let x = b[l];
            (a[l], b[l]) = (u + beta * x, u + delta * x);
        }
    }
    for r in LAST_PARTIALS_END..ROUNDS - 1 {
        full(r, a, b);
    }
    let r = ROUNDS - 1;
    let (ca, cb, m) = (k.ca[r], k.cb[full_index(r)], &k.last);
    for l in 0..N {
        let u = sbox(a[l] + ca);
        let x = sbox(b[l] + cb);
        (a[l], b[l]) = (m[0][0] * u + m[0][1] * x, m[1][0] * u + m[1][1] * x);
    }
}

/// [`permute_lanes`] on aarch64: the same rounds with the assembly of `aarch64.rs`
/// (the same values, bit for bit), and the IFMA kernel's lazy linear layer: the
/// S-box output `U = x^4 x` stays a 512-bit product, and each output `A' = U +
/// beta X` is one Montgomery reduction of a sum of two products (`< 2p^2 < p
/// 2^256`, see `redc_wide`) instead of two reductions and an addition; `x^2` is
/// left unreduced (`< 2p`, see `square_lazy`). Per round this saves about 90 of
/// 720 instructions.
#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn permute_lanes<const N: usize>(a: &mut [Fr; N], b: &mut [Fr; N]) {
    use aarch64::{add, add_wide, mul, mul_wide, redc_wide, square, square_lazy};
    let k = &*OPTIMIZED;
    // x^4 of a canonical x, canonical.
    let x4 = |x: Fr| square(square_lazy(x));
    // (U + beta X, U + delta X), reduced, for U = u^5 unreduced and a canonical X.
    let linear = |u: [u64; 8], x: Fr, beta: Fr, delta: Fr| {
        (
            redc_wide(add_wide(u, mul_wide(beta, x))),
            redc_wide(add_wide(u, mul_wide(delta, x))),
        )
    };
    let full = |r: usize, a: &mut [Fr; N], b: &mut [Fr; N]| {
        let (ca, cb) = (k.ca[r], k.cb[full_index(r)]);
        for l in 0..N {
            let y = add(a[l], ca);
            let u = mul_wide(x4(y), y);
            let z = add(b[l], cb);
            let x = mul(x4(z), z);
            (a[l], b[l]) = linear(u, x, k.beta[r], k.delta[r]);
        }
    };
    for r in 0..FIRST_PARTIAL {
        full(r, a, b);
    }
    for r in FIRST_PARTIAL..LAST_PARTIALS_END {
        let (ca, beta, delta) = (k.ca[r], k.beta[r], k.delta[r]);
        for l in 0..N {
            let y = add(a[l], ca);
            let u = mul_wide(x4(y), y);
            (a[l], b[l]) = linear(u, b[l], beta, delta);
        }
    }
    for r in LAST_PARTIALS_END..ROUNDS - 1 {
        full(r, a, b);
    }
    let r = ROUNDS - 1;
    let (ca, cb, m) = (k.ca[r], k.cb[full_index(r)], &k.last);
    for l in 0..N {
        let y = add(a[l], ca);
        let u = mul(x4(y), y);
        let z = add(b[l], cb);
        let x = mul(x4(z), z);
        (a[l], b[l]) = (
            redc_wide(add_wide(mul_wide(m[0][0], u), mul_wide(m[0][1], x))),
            redc_wide(add_wide(mul_wide(m[1][0], u), mul_wide(m[1][1], x))),
        );
    }
}

/// The Poseidon permutation on one state: the optimised rounds of the Poseidon
/// paper's appendix B (see `derive_optimized` in the source), **346 field multiplications**
/// (the plain specification, [`permute_plain`], takes 472).
#[inline]
pub fn permute(state: &mut [Fr; WIDTH]) {
    let (mut a, mut b) = ([state[0]], [state[1]]);
    permute_lanes::<1>(&mut a, &mut b);
    *state = [a[0], b[0]];
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
/// `messages`. Equal to calling [`hash`] on each.
///
/// On x86_64 CPUs with AVX-512 IFMA (detected at run time, see [`backend`]) groups
/// of 16, then 8, messages go through a vectorised kernel that runs 8 permutations
/// per 512-bit register (all lanes absorb in step, the lengths being equal); the
/// remaining messages, and every message on other CPUs, go through the portable
/// path, which interleaves 2 permutations.
///
/// Panics if `len == 0` or `messages.len() != len * out.len()`.
pub fn hash_batch(messages: &[Fr], len: usize, out: &mut [Fr]) {
    assert!(len > 0, "hash_batch: empty messages");
    assert_eq!(messages.len(), len * out.len(), "hash_batch: bad lengths");
    #[cfg(target_arch = "x86_64")]
    let done = if ifma::enabled() {
        ifma::hash_batch(messages, len, out)
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    hash_batch_scalar(&messages[done * len..], len, &mut out[done..]);
}

/// How many permutations the portable path interleaves.
const SCALAR_LANES: usize = 2;

/// The portable [`hash_batch`]: [`SCALAR_LANES`] messages at a time, then one by one.
/// Public for benchmarks (the kernel's baseline on the same machine).
#[doc(hidden)]
pub fn hash_batch_scalar(messages: &[Fr], len: usize, out: &mut [Fr]) {
    const N: usize = SCALAR_LANES;
    let groups = out.len() / N;
    let cap = capacity(len);
    for (g, o) in out[..groups * N].chunks_exact_mut(N).enumerate() {
        let base = &messages[g * N * len..(g + 1) * N * len];
        let (mut a, mut b) = ([Fr::ZERO; N], [cap; N]);
        for i in 0..len {
            for l in 0..N {
                a[l] += base[l * len + i];
            }
            permute_lanes::<N>(&mut a, &mut b);
        }
        o.copy_from_slice(&a);
    }
    for (o, m) in out[groups * N..]
        .iter_mut()
        .zip(messages[groups * N * len..].chunks_exact(len))
    {
        *o = hash(m);
    }
}

/// Which implementation [`hash_batch`] uses on this machine: `"avx512ifma"` (the
/// x86_64 kernel, chosen at run time when the CPU has AVX-512 F and IFMA) or
/// `"scalar"` (the portable path). Setting the environment variable
/// `SUMMA_AGG_NO_SIMD=1` (any value but empty or `0`) before the first hash forces
/// `"scalar"`; the choice is made once per process.
pub fn backend() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if ifma::enabled() {
        return "avx512ifma";
    }
    "scalar"
}

/// Whether `SUMMA_AGG_NO_SIMD` asks for the portable path.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
fn simd_disabled_by_env() -> bool {
    std::env::var_os("SUMMA_AGG_NO_SIMD").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Permutes every state in `states`: through the vectorised kernel, 8 at a time, when
/// [`backend`] is `"avx512ifma"`, the rest with [`permute`]. For benchmarks and tests.
#[doc(hidden)]
pub fn permute_batch(states: &mut [[Fr; WIDTH]]) {
    #[cfg(target_arch = "x86_64")]
    let done = if ifma::enabled() {
        ifma::permute_batch(states)
    } else {
        0
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for s in &mut states[done..] {
        permute(s);
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
        for (constant, want) in [
            (
                ROUND_CONSTANTS[0][0],
                "0x09c46e9ec68e9bd4fe1faaba294cba38a71aa177534cdd1b6c7dc0dbd0abd7a7",
            ),
            (
                ROUND_CONSTANTS[0][1],
                "0x0c0356530896eec42a97ed937f3135cfc5142b3ae405b8343c1d83ffa604cb81",
            ),
            (
                MDS[0][0],
                "0x066f6f85d6f68a85ec10345351a23a3aaf07f38af8c952a7bceca70bd2af7ad5",
            ),
            (
                MDS[1][1],
                "0x1274e649a32ed355a31a6ed69724e1adade857e86eb5c3a121bcd147943203c8",
            ),
        ] {
            assert_eq!(crate::field::to_hex(&constant), want);
        }
    }

    fn fr() -> impl Strategy<Value = Fr> {
        any::<[u8; 32]>().prop_map(|b| {
            let mut wide = [0u8; 64];
            wide[..32].copy_from_slice(&b);
            <Fr as ff::FromUniformBytes<64>>::from_uniform_bytes(&wide)
        })
    }

    use super::testing::batch_and_reference;
    pub(super) use super::testing::{edge_values, reference_hash};

    /// Uniform elements mixed with [`edge_values`].
    pub(super) fn fr_edge() -> impl Strategy<Value = Fr> {
        prop_oneof![
            3 => fr(),
            2 => prop::sample::select(edge_values()),
            1 => any::<u64>().prop_map(Fr::from),
        ]
    }

    #[test]
    fn optimized_equals_plain_on_edge_states() {
        let e = edge_values();
        for a in &e {
            for b in &e {
                let mut s = [*a, *b];
                let mut t = s;
                permute(&mut s);
                permute_plain(&mut t);
                assert_eq!(s, t);
            }
        }
    }

    #[test]
    fn mults_per_permutation_as_documented() {
        // S-boxes 8 x 3 x 2 + 56 x 3, linear layers 63 x 2 + 4 (see derive_optimized).
        assert_eq!(8 * 6 + 56 * 3 + 63 * 2 + 4, 346);
        // Plain: 8 x (6 + 4) + 56 x (3 + 4).
        assert_eq!(8 * 10 + 56 * 7, 472);
        assert_eq!(OPTIMIZED.beta.len() + 1, ROUNDS);
    }

    #[test]
    fn every_length_every_batch_size_matches_reference() {
        let e = edge_values();
        let mut next = 0usize;
        let mut elem = || {
            next += 1;
            if next.is_multiple_of(3) {
                e[next % e.len()]
            } else {
                Fr::from(next as u64).square().square() + Fr::from_raw([0, 0, 0, next as u64])
            }
        };
        for len in 1..=8 {
            for n in [0, 1, 7, 8, 9, 15, 16, 17, 31, 33] {
                let msgs: Vec<Fr> = (0..n * len).map(|_| elem()).collect();
                let hashes = batch_and_reference(&msgs, len);
                for (i, (m, [batch, scalar, r])) in msgs.chunks_exact(len).zip(hashes).enumerate() {
                    assert_eq!(batch, r, "len {len} batch {n} message {i}");
                    assert_eq!(scalar, r, "scalar: len {len} batch {n} message {i}");
                    assert_eq!(hash(m), r);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn hash_equals_generic_primitive(a in fr(), b in fr(), c in fr(), d in fr()) {
            prop_assert_eq!(hash(&[a, b]), reference::poseidon([a, b]));
            prop_assert_eq!(hash(&[a, b, c]), reference::poseidon([a, b, c]));
            prop_assert_eq!(hash_const([a, b, c, d]), reference::poseidon([a, b, c, d]));
        }

        #[test]
        fn optimized_equals_plain(a in fr_edge(), b in fr_edge()) {
            let mut s = [a, b];
            let mut t = s;
            permute(&mut s);
            permute_plain(&mut t);
            prop_assert_eq!(s, t);
            let (mut x, mut y) = ([a, b, b], [b, a, b]);
            permute_lanes::<3>(&mut x, &mut y);
            for l in 0..3 {
                let mut t = [[a, b], [b, a], [b, b]][l];
                permute_plain(&mut t);
                prop_assert_eq!([x[l], y[l]], t);
            }
        }

        #[test]
        fn batch_equals_reference(
            len in 1usize..=8,
            msgs in proptest::collection::vec(fr_edge(), 0..8 * 40),
        ) {
            let n = msgs.len() / len;
            let msgs = &msgs[..n * len];
            let mut out = vec![Fr::ZERO; n];
            hash_batch(msgs, len, &mut out);
            let mut scalar = vec![Fr::ZERO; n];
            hash_batch_scalar(msgs, len, &mut scalar);
            for (i, m) in msgs.chunks_exact(len).enumerate() {
                let r = reference_hash(m);
                prop_assert_eq!(out[i], r);
                prop_assert_eq!(scalar[i], r);
            }
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
    fn backend_is_the_one_this_machine_should_use() {
        // Computed here from the CPU's features (not through the module's own
        // detection) and the environment.
        #[cfg(target_arch = "x86_64")]
        let cpu_has_ifma = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512ifma");
        #[cfg(not(target_arch = "x86_64"))]
        let cpu_has_ifma = false;
        let no_simd = std::env::var("SUMMA_AGG_NO_SIMD").is_ok_and(|v| !v.is_empty() && v != "0");
        let expected = if cpu_has_ifma && !no_simd {
            "avx512ifma"
        } else {
            "scalar"
        };
        assert_eq!(backend(), expected);
    }

    #[test]
    fn capacity_is_length_shifted_by_64() {
        assert_eq!(capacity(3), Fr::from_u128(3u128 << 64));
    }
}
