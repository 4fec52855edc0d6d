//! AVX-512 IFMA kernel: Poseidon permutations on 8 states at once, one per 64-bit
//! lane of `__m512i` (and `N` such vectors interleaved, to hide latency).
//!
//! # Representation
//!
//! A field element is 5 limbs of 52 bits (radix 2^52, 260 bits), limb `i` of the 8
//! lanes in one `__m512i`. Multiplication is Montgomery with `R' = 2^260` (five
//! word-by-word reduction steps of 52 bits), so the kernel holds `x R' mod p` where
//! `Fr` holds `x 2^256 mod p`. The boundary conversions are cheap and exact:
//!
//! - in: `x 2^260 = 16 (x 2^256)`: the limbs of `Fr.0 << 4`, not reduced (`< 2^258`);
//! - out: `Y / 16 mod p = (Y >> 4) + (Y mod 16) 16^-1 mod p` (one `Fr` addition).
//!
//! Products use `vpmadd52luq`/`vpmadd52huq`, which multiply the low 52 bits of two
//! lanes and add the low/high 52 bits of the 104-bit product to a 64-bit
//! accumulator.
//!
//! # Lazy reduction: the bounds
//!
//! `p < 2^253.6`, so there is ample room under `R' = 2^260`, and nothing is ever
//! fully reduced inside the kernel. Montgomery reduction [`redc`] of `T` returns
//! `(T + m p) / 2^260 < T / 2^260 + p`. The invariants:
//!
//! 1. Every multiplication operand has *normalised* limbs (each `< 2^52`, as
//!    IFMA reads only 52 bits) and value `< 2^258.4`. Operands are [`redc`] outputs
//!    (normalised by its final carry pass) or the permutation input after
//!    [`normalize`].
//! 2. Every state element between rounds is a [`redc`] output `< 2^256` (so its
//!    top limb is `< 2^48`).
//! 3. The permutation input, after adding the first round's constants, is `< 2^258.4`:
//!    `A + m + ca[0] < 2^256 + 2^258 + 2^254` in [`hash_batch`] (`A` a previous
//!    output, `m` converted without reduction, `< 16 p < 2^258`), `B + cb[0] < 2^256.3`
//!    there, and `16 x + c < 2^258 + 2^254` for both elements in [`permute_batch`].
//!    Constants in the kernel domain are canonical (`< p`).
//!
//! They hold because, with `x < 2^258.4`: `x^2 < 2^516.8` so `x2 = redc(x^2) <
//! 2^256.8 + p < 2^257`; `x4 = redc(x2^2) < 2^254 + p < 2^255`; in a full round `v =
//! redc(y4 y) < 2^253.4 + p < 2^254.5`; the linear layer reduces `x4 x + beta X + ca
//! 2^260 < 2^513.4 + 2^509.6 + 2^513.6 < 2^514.6` (`X` is `v` or `B < 2^256`; the next
//! round's constant is added as `ca 2^260`, i.e. to the high columns, so that `redc`
//! returns `A + ca`), giving `< 2^254.6 + p < 2^255.2 < 2^256`. Later rounds only
//! have smaller inputs. The last round reduces `l u + l' v < 2^508.6` (`u = redc(x4
//! x) < 2^254`, same for `v`, constants `< p`): `< 2^254`.
//!
//! Accumulator columns never overflow 64 bits: a column of one product gets at most
//! 9 terms `< 2^52` (5 low halves + 4 high halves, or 4 + 5); [`redc`] of a sum of
//! two products plus a constant adds at most 9 + 9 + 1 + 9 (reduction) terms and
//! small carries: `< 29 * 2^52 < 2^57`. In squarings the off-diagonal columns are
//! doubled (`<= 8` terms) before the 2 diagonal terms are added.
//!
//! # Rounds
//!
//! The kernel runs the optimised rounds of [`super::derive_optimized`] (the constants
//! are converted to the kernel's domain once, [`KERNEL`]). A partial round, per
//! vector of 8 lanes: two squarings (30 + 30 multiply-adds) and their reductions
//! (2 x 50), then `P = x4 x` (50) and the two outputs `A' = redc(P + beta B + ca 2^260)`
//! and `B' = redc(P + delta B)`: 2 x 50 products and 2 x 50 reductions, 410
//! multiply-adds. `U = x4 x` itself is never reduced: Montgomery reduction is linear,
//! so reducing the sums saves one reduction and the carry pass of the additions.
//! A full round takes 670 (both S-boxes, `v = redc(y4 y)`, `beta v`, `delta v`), the
//! last round 820 (general matrix): 56 x 410 + 7 x 670 + 820 = **28 470
//! multiply-adds per 8 permutations, 3 559 per permutation**, which bounds the
//! kernel: on Zen 4 a 512-bit `vpmadd52luq` issues once per cycle. The other
//! instructions (carries, masks, additions: about a third as many) run on the other
//! vector pipes.
//!
//! [`hash_batch`] interleaves [`INTERLEAVE`] vectors (16 states) so that the long
//! dependency chains of one (each reduction is 5 sequential steps) overlap with the
//! other's work; more vectors spill registers and are slower.
//!
//! # Safety
//!
//! Every `unsafe fn` here needs a CPU with AVX-512 F and IFMA ([`enabled`]); the
//! helpers are `#[inline(always)]` and only called from the `#[target_feature]`
//! functions, into which they are inlined (`#[inline(always)]` cannot be combined
//! with `#[target_feature]`, and plain `#[inline]` ones were left out of line).
#![allow(clippy::needless_range_loop)]
// The AVX-512 intrinsics and target features are stable since Rust 1.89, the
// workspace's `rust-version`.

use std::arch::x86_64::*;
use std::sync::LazyLock;

use ff::PrimeField;
use halo2curves::bn256::Fr;

use super::{
    full_index, is_full, Optimized, FULL_ROUNDS, MODULUS, MODULUS_INV_NEG, OPTIMIZED, ROUNDS, WIDTH,
};

/// Limbs per field element.
const LIMBS: usize = 5;
/// `2^52 - 1`.
const MASK52: u64 = (1 << 52) - 1;
/// The modulus in radix 2^52.
const P52: [u64; LIMBS] = radix52(MODULUS, 0);
/// `-p^-1 mod 2^52`.
const PINV52: u64 = MODULUS_INV_NEG & MASK52;

/// The 52-bit limbs of the 260-bit integer `x << shift` (`shift < 64`, `x < 2^(260 -
/// shift)`).
const fn radix52(x: [u64; 4], shift: u32) -> [u64; LIMBS] {
    let mut w = [0u64; 5];
    let mut i = 0;
    while i < 4 {
        w[i] |= x[i] << shift;
        if shift > 0 {
            w[i + 1] = x[i] >> (64 - shift);
        }
        i += 1;
    }
    let mut out = [0u64; LIMBS];
    let mut l = 0;
    while l < LIMBS {
        let bit = 52 * l;
        let (word, off) = (bit / 64, bit % 64);
        let lo = w[word] as u128;
        let hi = if word + 1 < 5 { w[word + 1] as u128 } else { 0 };
        out[l] = (((hi << 64) | lo) >> off) as u64 & MASK52;
        l += 1;
    }
    out
}

/// A field element in the kernel's domain (`x 2^260 mod p`, radix 2^52), as constant.
type K = [u64; LIMBS];

/// The kernel domain representative of an `Fr`, not reduced: `16 Fr.0 < 2^258`.
#[inline]
fn to_kernel(x: &Fr) -> K {
    radix52(x.0, 4)
}

/// A constant in the kernel's domain, canonical (`< p`): `16 Fr.0 mod p`.
fn const_to_kernel(x: &Fr) -> K {
    // `double` doubles the Montgomery representation modulo p.
    radix52(x.double().double().double().double().0, 0)
}

/// `r 16^-1 mod p`, as `Fr` whose Montgomery representation is that integer.
static INV16: LazyLock<[Fr; 16]> = LazyLock::new(|| {
    let inv16 = Fr::TWO_INV.square().square();
    // The representation is linear: repr(z c) = repr(z) c mod p.
    std::array::from_fn(|r| Fr([r as u64, 0, 0, 0]) * inv16)
});

/// The `Fr` of a kernel value `Y` (normalised limbs, `Y < 2^256`): Montgomery
/// representation `Y / 16 mod p = (Y >> 4) + (Y mod 16) 16^-1 mod p`.
#[inline]
fn from_kernel(y: K, inv16: &[Fr; 16]) -> Fr {
    debug_assert!(y[..4].iter().all(|&l| l <= MASK52) && y[4] < 1 << 48);
    let mut w = [0u64; 4];
    for (l, &limb) in y.iter().enumerate() {
        let bit = 52 * l;
        let (word, off) = (bit / 64, bit % 64);
        w[word] |= limb << off;
        if off > 12 && word + 1 < 4 {
            w[word + 1] |= limb >> (64 - off);
        }
    }
    let r = (w[0] & 15) as usize;
    let q = [
        (w[0] >> 4) | (w[1] << 60),
        (w[1] >> 4) | (w[2] << 60),
        (w[2] >> 4) | (w[3] << 60),
        w[3] >> 4,
    ];
    // q < 2^252 < p is a valid representation, and `+` adds representations mod p.
    Fr(q) + inv16[r]
}

/// The optimised permutation's constants in the kernel's domain.
struct Kernel {
    ca: [K; ROUNDS],
    cb: [K; FULL_ROUNDS],
    beta: [K; ROUNDS - 1],
    delta: [K; ROUNDS - 1],
    last: [[K; 2]; 2],
}

static KERNEL: LazyLock<Kernel> = LazyLock::new(|| {
    let o: &Optimized = &OPTIMIZED;
    let c = |v: &[Fr]| -> Vec<K> { v.iter().map(const_to_kernel).collect() };
    Kernel {
        ca: c(&o.ca).try_into().unwrap(),
        cb: c(&o.cb).try_into().unwrap(),
        beta: c(&o.beta).try_into().unwrap(),
        delta: c(&o.delta).try_into().unwrap(),
        last: o.last.map(|row| row.map(|x| const_to_kernel(&x))),
    }
});

/// Whether the CPU has AVX-512 F and IFMA, detected once: what the kernel needs.
pub(super) fn detected() -> bool {
    static DETECTED: LazyLock<bool> = LazyLock::new(|| {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512ifma")
    });
    *DETECTED
}

/// Whether [`super::hash_batch`] uses the kernel: [`detected`], and not disabled by
/// `SUMMA_AGG_NO_SIMD` (read once).
pub(super) fn enabled() -> bool {
    static ENABLED: LazyLock<bool> = LazyLock::new(|| detected() && !super::simd_disabled_by_env());
    *ENABLED
}

/// 8 field elements, limb-major: `self.0[i]` holds limb `i` of the 8 lanes.
#[derive(Clone, Copy)]
struct Fe([__m512i; LIMBS]);

/// An unreduced double-width value: 10 columns of 52-bit weight, each a 64-bit
/// accumulator.
type Wide = [__m512i; 2 * LIMBS];

#[inline(always)]
unsafe fn splat(x: u64) -> __m512i {
    _mm512_set1_epi64(x as i64)
}

#[inline(always)]
unsafe fn splat_k(c: &K) -> Fe {
    Fe(c.map(|x| splat(x)))
}

#[inline(always)]
unsafe fn zero_wide() -> Wide {
    [_mm512_setzero_si512(); 2 * LIMBS]
}

/// Carry pass: limbs `< 2^52` except the top one, which holds the rest. Needs the
/// value `< 2^260` and each limb `< 2^63`.
#[inline(always)]
unsafe fn normalize(mut x: Fe) -> Fe {
    let m = splat(MASK52);
    for i in 0..LIMBS - 1 {
        x.0[i + 1] = _mm512_add_epi64(x.0[i + 1], _mm512_srli_epi64::<52>(x.0[i]));
        x.0[i] = _mm512_and_si512(x.0[i], m);
    }
    x
}

/// `x + y`, limb by limb, without carries.
#[inline(always)]
unsafe fn add_limbs(x: Fe, y: Fe) -> Fe {
    Fe(std::array::from_fn(|i| _mm512_add_epi64(x.0[i], y.0[i])))
}

/// `w += a b` (schoolbook, 25 + 25 multiply-adds per vector).
#[inline(always)]
unsafe fn mul_acc<const N: usize>(w: &mut [Wide; N], a: &[Fe; N], b: &[Fe; N]) {
    for v in 0..N {
        for i in 0..LIMBS {
            for j in 0..LIMBS {
                w[v][i + j] = _mm512_madd52lo_epu64(w[v][i + j], a[v].0[i], b[v].0[j]);
                w[v][i + j + 1] = _mm512_madd52hi_epu64(w[v][i + j + 1], a[v].0[i], b[v].0[j]);
            }
        }
    }
}

/// `w += c a` for a constant `c` broadcast to every lane.
#[inline(always)]
unsafe fn mul_acc_const<const N: usize>(w: &mut [Wide; N], a: &[Fe; N], c: &K) {
    let c = splat_k(c);
    for v in 0..N {
        for i in 0..LIMBS {
            for j in 0..LIMBS {
                w[v][i + j] = _mm512_madd52lo_epu64(w[v][i + j], c.0[i], a[v].0[j]);
                w[v][i + j + 1] = _mm512_madd52hi_epu64(w[v][i + j + 1], c.0[i], a[v].0[j]);
            }
        }
    }
}

/// `a b` unreduced.
#[inline(always)]
unsafe fn mul<const N: usize>(a: &[Fe; N], b: &[Fe; N]) -> [Wide; N] {
    let mut w = [zero_wide(); N];
    mul_acc(&mut w, a, b);
    w
}

/// `a^2` unreduced: 10 + 10 off-diagonal multiply-adds, doubled, plus 5 + 5 diagonal.
#[inline(always)]
unsafe fn sqr<const N: usize>(a: &[Fe; N]) -> [Wide; N] {
    let mut w = [zero_wide(); N];
    for v in 0..N {
        for i in 0..LIMBS {
            for j in i + 1..LIMBS {
                w[v][i + j] = _mm512_madd52lo_epu64(w[v][i + j], a[v].0[i], a[v].0[j]);
                w[v][i + j + 1] = _mm512_madd52hi_epu64(w[v][i + j + 1], a[v].0[i], a[v].0[j]);
            }
        }
        for k in 1..2 * LIMBS - 1 {
            w[v][k] = _mm512_add_epi64(w[v][k], w[v][k]);
        }
        for i in 0..LIMBS {
            w[v][2 * i] = _mm512_madd52lo_epu64(w[v][2 * i], a[v].0[i], a[v].0[i]);
            w[v][2 * i + 1] = _mm512_madd52hi_epu64(w[v][2 * i + 1], a[v].0[i], a[v].0[i]);
        }
    }
    w
}

/// `w += c 2^260` for a constant `c`, so that `redc(w)` comes out with `c` added.
#[inline(always)]
unsafe fn add_high<const N: usize>(w: &mut [Wide; N], c: &K) {
    let c = splat_k(c);
    for v in 0..N {
        for i in 0..LIMBS {
            w[v][LIMBS + i] = _mm512_add_epi64(w[v][LIMBS + i], c.0[i]);
        }
    }
}

/// Montgomery reduction: `w 2^-260 mod p`, with normalised limbs, `< w / 2^260 + p`.
///
/// Word by word: `m = w_i (-p^-1) mod 2^52`, `w += m p 2^(52 i)`, which clears the
/// low 52 bits of column `i`; its carry is added to column `i + 1`. The low half of
/// `m p_0` is not computed: it is `-w_i mod 2^52`, so the carry out of column `i` is
/// `(w_i + 2^52 - 1) >> 52` (`w_i >> 52`, plus one unless the low bits are zero).
/// 1 + 9 multiply-adds per step, 50 per reduction, then a carry pass.
#[inline(always)]
unsafe fn redc<const N: usize>(w: &mut [Wide; N]) -> [Fe; N] {
    let mask = splat(MASK52);
    let pinv = splat(PINV52);
    let p = P52.map(|x| splat(x));
    let zero = _mm512_setzero_si512();
    for v in 0..N {
        for i in 0..LIMBS {
            let w = &mut w[v];
            let m = _mm512_madd52lo_epu64(zero, w[i], pinv);
            let carry = _mm512_srli_epi64::<52>(_mm512_add_epi64(w[i], mask));
            w[i + 1] = _mm512_add_epi64(_mm512_madd52hi_epu64(w[i + 1], m, p[0]), carry);
            for j in 1..LIMBS {
                w[i + j] = _mm512_madd52lo_epu64(w[i + j], m, p[j]);
                w[i + j + 1] = _mm512_madd52hi_epu64(w[i + j + 1], m, p[j]);
            }
        }
    }
    std::array::from_fn(|v| {
        let w = &w[v];
        normalize(Fe([w[5], w[6], w[7], w[8], w[9]]))
    })
}

/// `(x^2)^2`, reduced, and `x` unchanged.
#[inline(always)]
unsafe fn pow4<const N: usize>(x: &[Fe; N]) -> [Fe; N] {
    let x2 = redc(&mut sqr(x));
    redc(&mut sqr(&x2))
}

/// The permutation on `8 N` states. On entry `a`, `b` hold the state in the
/// kernel's domain, limbs possibly unnormalised (each `< 2^62`, values as in
/// invariant 3 of the module doc before the round constants are added); on exit
/// they hold the permuted state, normalised, `< 2^256`.
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn permute<const N: usize>(a: &mut [Fe; N], b: &mut [Fe; N], k: &Kernel) {
    let (ca0, cb0) = (splat_k(&k.ca[0]), splat_k(&k.cb[0]));
    let mut x: [Fe; N] = std::array::from_fn(|v| normalize(add_limbs(a[v], ca0)));
    let mut y: [Fe; N] = std::array::from_fn(|v| normalize(add_limbs(b[v], cb0)));
    // Invariant at the top of round r: x = A + ca[r], and y = B + cb[r] if r is full
    // (y = B otherwise), normalised.
    for r in 0..ROUNDS - 1 {
        let x4 = pow4(&x);
        let mut w1 = mul(&x4, &x);
        let mut w2 = w1;
        if is_full(r) {
            let y4 = pow4(&y);
            let v = redc(&mut mul(&y4, &y));
            mul_acc_const(&mut w1, &v, &k.beta[r]);
            mul_acc_const(&mut w2, &v, &k.delta[r]);
        } else {
            mul_acc_const(&mut w1, &y, &k.beta[r]);
            mul_acc_const(&mut w2, &y, &k.delta[r]);
        }
        add_high(&mut w1, &k.ca[r + 1]);
        if is_full(r + 1) {
            add_high(&mut w2, &k.cb[full_index(r + 1)]);
        }
        x = redc(&mut w1);
        y = redc(&mut w2);
    }
    let m = &k.last;
    let u = redc(&mut mul(&pow4(&x), &x));
    let v = redc(&mut mul(&pow4(&y), &y));
    let mut w1 = [zero_wide(); N];
    mul_acc_const(&mut w1, &u, &m[0][0]);
    mul_acc_const(&mut w1, &v, &m[0][1]);
    let mut w2 = [zero_wide(); N];
    mul_acc_const(&mut w2, &u, &m[1][0]);
    mul_acc_const(&mut w2, &v, &m[1][1]);
    *a = redc(&mut w1);
    *b = redc(&mut w2);
}

/// Loads lane `l` of limb `i` from `f(l)`, for `8 N` lanes.
#[inline(always)]
unsafe fn gather<const N: usize>(f: impl Fn(usize) -> K) -> [Fe; N] {
    let mut limbs = [[[0u64; 8]; LIMBS]; N];
    for v in 0..N {
        for l in 0..8 {
            let k = f(8 * v + l);
            for i in 0..LIMBS {
                limbs[v][i][l] = k[i];
            }
        }
    }
    // SAFETY: each `[u64; 8]` is 64 readable bytes; `loadu` has no alignment needs.
    limbs.map(|v| Fe(v.map(|l| unsafe { _mm512_loadu_si512(l.as_ptr().cast()) })))
}

/// The lanes of `x` as kernel values.
#[inline(always)]
unsafe fn scatter<const N: usize>(x: &[Fe; N]) -> [[K; 8]; N] {
    let mut out = [[[0u64; LIMBS]; 8]; N];
    for v in 0..N {
        for i in 0..LIMBS {
            let mut lanes = [0u64; 8];
            // SAFETY: `lanes` is 64 writable bytes; `storeu` has no alignment needs.
            unsafe { _mm512_storeu_si512(lanes.as_mut_ptr().cast(), x[v].0[i]) };
            for l in 0..8 {
                out[v][l][i] = lanes[l];
            }
        }
    }
    out
}

/// Hashes `8 N` messages of `len >= 1` elements (message `j` at `msgs[j len..]`).
#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn hash_group<const N: usize>(
    msgs: &[Fr],
    len: usize,
    out: &mut [Fr],
    k: &Kernel,
    inv16: &[Fr; 16],
) {
    debug_assert!(msgs.len() == 8 * N * len && out.len() == 8 * N);
    let mut a = [Fe([_mm512_setzero_si512(); LIMBS]); N];
    let mut b = [splat_k(&to_kernel(&super::capacity(len))); N];
    for i in 0..len {
        let m = gather::<N>(|j| to_kernel(&msgs[j * len + i]));
        for v in 0..N {
            a[v] = add_limbs(a[v], m[v]);
        }
        permute(&mut a, &mut b, k);
    }
    for (v, lanes) in scatter(&a).iter().enumerate() {
        for (l, y) in lanes.iter().enumerate() {
            out[8 * v + l] = from_kernel(*y, inv16);
        }
    }
}

/// How many vectors of 8 lanes [`hash_batch`] interleaves.
const INTERLEAVE: usize = 2;

/// [`super::hash_batch`] on the largest multiple of 8 messages; returns how many
/// messages it hashed. Requires `len >= 1`; panics unless [`detected`].
pub(super) fn hash_batch(messages: &[Fr], len: usize, out: &mut [Fr]) -> usize {
    assert!(detected() && len >= 1);
    assert_eq!(messages.len(), len * out.len());
    let (k, inv16) = (&*KERNEL, &*INV16);
    let mut done = 0;
    // SAFETY: `detected()` checked that the CPU has AVX-512 F and IFMA.
    unsafe {
        const G: usize = 8 * INTERLEAVE;
        while out.len() - done >= G {
            let msgs = &messages[done * len..(done + G) * len];
            hash_group::<INTERLEAVE>(msgs, len, &mut out[done..done + G], k, inv16);
            done += G;
        }
        while out.len() - done >= 8 {
            let msgs = &messages[done * len..(done + 8) * len];
            hash_group::<1>(msgs, len, &mut out[done..done + 8], k, inv16);
            done += 8;
        }
    }
    done
}

/// Permutes the largest multiple of 8 states of `states` in the kernel; returns how
/// many. Panics unless [`detected`].
pub(super) fn permute_batch(states: &mut [[Fr; WIDTH]]) -> usize {
    assert!(detected());
    let (k, inv16) = (&*KERNEL, &*INV16);
    let mut done = 0;
    // SAFETY: `detected()` checked that the CPU has AVX-512 F and IFMA.
    unsafe {
        while states.len() - done >= 8 * INTERLEAVE {
            permute_group::<INTERLEAVE>(&mut states[done..done + 8 * INTERLEAVE], k, inv16);
            done += 8 * INTERLEAVE;
        }
        while states.len() - done >= 8 {
            permute_group::<1>(&mut states[done..done + 8], k, inv16);
            done += 8;
        }
    }
    done
}

#[target_feature(enable = "avx512f,avx512ifma")]
unsafe fn permute_group<const N: usize>(states: &mut [[Fr; WIDTH]], k: &Kernel, inv16: &[Fr; 16]) {
    let mut a = gather::<N>(|j| to_kernel(&states[j][0]));
    let mut b = gather::<N>(|j| to_kernel(&states[j][1]));
    permute(&mut a, &mut b, k);
    let (a, b) = (scatter(&a), scatter(&b));
    for v in 0..N {
        for l in 0..8 {
            states[8 * v + l] = [from_kernel(a[v][l], inv16), from_kernel(b[v][l], inv16)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{edge_values, fr_edge, reference_hash};
    use super::*;
    use proptest::prelude::*;
    use ruint::aliases::U256;

    #[test]
    fn pinv_and_radix() {
        assert_eq!(P52[0].wrapping_mul(PINV52) & MASK52, MASK52); // p0 * -p^-1 = -1
        let mut back = [0u128; 3];
        for (i, l) in P52.iter().enumerate() {
            assert!(*l <= MASK52);
            let bit = 52 * i;
            back[bit / 128] |= (*l as u128) << (bit % 128);
            if bit % 128 > 76 {
                back[bit / 128 + 1] |= (*l as u128) >> (128 - bit % 128);
            }
        }
        assert_eq!(back[0], (MODULUS[1] as u128) << 64 | MODULUS[0] as u128);
        assert_eq!(back[1], (MODULUS[3] as u128) << 64 | MODULUS[2] as u128);
    }

    /// `from_kernel` accepts any normalised `Y < 2^256` congruent to `16 x`.
    #[test]
    fn conversions_round_trip() {
        let inv16 = &*INV16;
        let p = U256::from_limbs(MODULUS);
        for x in edge_values() {
            assert_eq!(from_kernel(const_to_kernel(&x), inv16), x);
            if x.0[3] >> 60 != 0 {
                continue; // 16 x >= 2^256: never a kernel output.
            }
            assert_eq!(from_kernel(to_kernel(&x), inv16), x);
            let sixteen_x: U256 = U256::from_limbs(x.0) << 4usize;
            for k in 0..32u64 {
                let Some(y) = p
                    .checked_mul(U256::from(k))
                    .and_then(|kp| sixteen_x.checked_add(kp))
                else {
                    continue;
                };
                assert_eq!(from_kernel(radix52(y.into_limbs(), 0), inv16), x);
            }
        }
    }

    fn kernel_permute(states: &mut [[Fr; WIDTH]]) -> usize {
        if !detected() {
            eprintln!("no AVX-512 IFMA here: kernel tests skipped");
            return 0;
        }
        permute_batch(states)
    }

    #[test]
    fn kernel_equals_plain_on_edge_states() {
        let e = edge_values();
        let mut states: Vec<[Fr; 2]> = e.iter().flat_map(|a| e.iter().map(|b| [*a, *b])).collect();
        states.truncate(states.len() / 8 * 8);
        let mut expect = states.clone();
        for s in &mut expect {
            super::super::permute_plain(s);
        }
        let done = kernel_permute(&mut states);
        assert_eq!(states[..done], expect[..done]);
    }

    proptest! {
        #[test]
        fn kernel_permutation_equals_plain(
            states in proptest::collection::vec((fr_edge(), fr_edge()), 8..=40),
        ) {
            let mut states: Vec<[Fr; 2]> = states.into_iter().map(|(a, b)| [a, b]).collect();
            let mut expect = states.clone();
            for s in &mut expect {
                super::super::permute_plain(s);
            }
            let done = kernel_permute(&mut states);
            prop_assert_eq!(done, if detected() { states.len() / 8 * 8 } else { 0 });
            prop_assert_eq!(&states[..done], &expect[..done]);
        }

        #[test]
        fn kernel_hash_equals_reference(
            len in 1usize..=8,
            msgs in proptest::collection::vec(fr_edge(), 8..8 * 40),
        ) {
            if !detected() {
                return Ok(());
            }
            let n = msgs.len() / len;
            let msgs = &msgs[..n * len];
            let mut out = vec![Fr::from(7); n];
            let done = hash_batch(msgs, len, &mut out);
            prop_assert_eq!(done, n / 8 * 8);
            for (i, m) in msgs.chunks_exact(len).take(done).enumerate() {
                prop_assert_eq!(out[i], reference_hash(m));
            }
        }
    }
}
