//! Prototype, not used by the engine: a 2-lane BN254 Montgomery multiplication on
//! aarch64 NEON with double-precision FMA, 52-bit limbs (the shape of the IFMA
//! kernel, `ifma.rs`, with 2 lanes per 128-bit register instead of 8 per 512-bit
//! one). Kept to measure it against the scalar assembly (`aarch64.rs`) and checked
//! by the self-test; docs/performance.md, "A 2^28-user round on AWS", has the numbers and why it
//! loses.
//!
//! # The 104-bit product from two FMAs
//!
//! For limbs `a, b < 2^52` held exactly as `f64`: `hi = fma(a, b, 2^104)` lies in
//! `[2^104, 2^105]`, where the unit in the last place is `2^52`, so `hi = 2^104 + H
//! 2^52` with `H = round(a b / 2^52)`, and the bit pattern of `hi` is that of
//! `2^104` plus `H` (also at `H = 2^52`, where the exponent steps up by one).
//! `hs = hi - 2^104` is exact (Sterbenz), and `fms(hs, a, b) = hs - a b = -r` is
//! exact too (`|r| <= 2^51`), so `a b = H 2^52 + r` with `r` signed. Column sums are
//! kept in 64-bit integer lanes: `+ bits(hi)` (the `2^104` patterns are taken off
//! once per column, [`HI_COUNT`]) and `- fcvtzs(-r)`. This is the technique of
//! Emmart, Zheng, Weems, "Faster modular exponentiation using double precision
//! floating point arithmetic on the GPU" (ARITH 2018), adapted to round-to-nearest
//! (their split relies on round-towards-zero, which NEON cannot select per
//! instruction): 6 instructions per 2 limb products.
//!
//! # Montgomery
//!
//! `R' = 2^260`, 5 word-by-word reduction steps of 52 bits, operands `< 2^258`
//! (normalised limbs), result `(a b + M p) / 2^260 < 2^256 + p < 2^258`, as in
//! `ifma.rs`. Signed carries (`sshr`) because `r` may be negative.
#![allow(clippy::needless_range_loop)]

use std::arch::aarch64::*;

use super::{MODULUS, MODULUS_INV_NEG};

/// Limbs per element.
const LIMBS: usize = 5;
/// `2^52 - 1`.
const MASK52: u64 = (1 << 52) - 1;
/// The modulus in radix 2^52.
const P52: [u64; LIMBS] = {
    let mut out = [0u64; LIMBS];
    let mut l = 0;
    while l < LIMBS {
        let (word, off) = ((52 * l) / 64, (52 * l) % 64);
        let lo = (MODULUS[word] as u128) >> off;
        let hi = if word + 1 < 4 {
            (MODULUS[word + 1] as u128) << (64 - off)
        } else {
            0
        };
        out[l] = (lo | hi) as u64 & MASK52;
        l += 1;
    }
    out
};
/// `-p^-1 mod 2^52`.
const PINV52: u64 = MODULUS_INV_NEG & MASK52;
/// `2^104` and its bit pattern.
const C104: f64 = 20282409603651670423947251286016.0;
const C104_BITS: u64 = 0x4670_0000_0000_0000;
/// How many `hi` patterns land in each column (products at `i + j + 1`, reduction
/// steps `k` at `k + j + 1`): their `2^104` offsets are taken off at the start.
const HI_COUNT: [u64; 2 * LIMBS] = {
    let mut c = [0u64; 2 * LIMBS];
    let mut i = 0;
    while i < LIMBS {
        let mut j = 0;
        while j < LIMBS {
            c[i + j + 1] += 2; // one from a b, one from m p
            j += 1;
        }
        i += 1;
    }
    c
};

/// Two elements, one per lane: limb `i` of both in `v[i]`.
pub(crate) type Lanes = [uint64x2_t; LIMBS];

/// Adds `a b` (52-bit limbs as `f64`) to the columns `lo` and `hi = lo + 1`.
#[inline(always)]
unsafe fn mul_add(
    a: float64x2_t,
    b: float64x2_t,
    c: float64x2_t,
    lo: &mut uint64x2_t,
    hi: &mut uint64x2_t,
) {
    let h = vfmaq_f64(c, a, b);
    let hs = vsubq_f64(h, c);
    let neg_r = vfmsq_f64(hs, a, b);
    *lo = vsubq_u64(*lo, vreinterpretq_u64_s64(vcvtq_s64_f64(neg_r)));
    *hi = vaddq_u64(*hi, vreinterpretq_u64_f64(h));
}

/// Montgomery product `a b / 2^260 mod p` (not reduced, `< 2^258`) of two pairs of
/// elements in radix 2^52. Out of line so that its instructions can be counted in
/// the disassembly (it has no branch: the static count is the executed one).
#[inline(never)]
pub(crate) fn mul2(a: &Lanes, b: &Lanes) -> Lanes {
    // SAFETY: NEON (ASIMD) is part of the aarch64 baseline.
    unsafe {
        let c = vdupq_n_f64(C104);
        let mask = vdupq_n_u64(MASK52);
        let af: [float64x2_t; LIMBS] = std::array::from_fn(|i| vcvtq_f64_u64(a[i]));
        let bf: [float64x2_t; LIMBS] = std::array::from_fn(|i| vcvtq_f64_u64(b[i]));
        let pf: [float64x2_t; LIMBS] = std::array::from_fn(|i| vdupq_n_f64(P52[i] as f64));
        let pinv = vdupq_n_f64(PINV52 as f64);
        let mut col: [uint64x2_t; 2 * LIMBS] = std::array::from_fn(|k| {
            vdupq_n_u64(HI_COUNT[k].wrapping_mul(C104_BITS).wrapping_neg())
        });
        for i in 0..LIMBS {
            for j in 0..LIMBS {
                let (lo, hi) = col.split_at_mut(i + j + 1);
                mul_add(af[i], bf[j], c, &mut lo[i + j], &mut hi[0]);
            }
        }
        for k in 0..LIMBS {
            // m = (col[k] mod 2^52) (-p^-1) mod 2^52, from the low half of a split.
            let x = vcvtq_f64_u64(vandq_u64(col[k], mask));
            let h = vfmaq_f64(c, x, pinv);
            let hs = vsubq_f64(h, c);
            let neg_r = vcvtq_s64_f64(vfmsq_f64(hs, x, pinv));
            let m = vandq_u64(vreinterpretq_u64_s64(vnegq_s64(neg_r)), mask);
            let mf = vcvtq_f64_u64(m);
            for j in 0..LIMBS {
                let (lo, hi) = col.split_at_mut(k + j + 1);
                mul_add(mf, pf[j], c, &mut lo[k + j], &mut hi[0]);
            }
            // col[k] is now 0 mod 2^52: carry it (signed) into the next column.
            let carry = vshrq_n_s64::<52>(vreinterpretq_s64_u64(col[k]));
            col[k + 1] = vaddq_u64(col[k + 1], vreinterpretq_u64_s64(carry));
        }
        let mut out = [col[LIMBS]; LIMBS];
        for i in 0..LIMBS {
            out[i] = col[LIMBS + i];
            if i + 1 < LIMBS {
                let carry = vshrq_n_s64::<52>(vreinterpretq_s64_u64(out[i]));
                col[LIMBS + i + 1] = vaddq_u64(col[LIMBS + i + 1], vreinterpretq_u64_s64(carry));
                out[i] = vandq_u64(out[i], mask);
            }
        }
        out
    }
}

/// Packs two elements' Montgomery representations `x 2^256` as `x 2^260` (times 16,
/// not reduced: `< 16 p < 2^258`), radix 2^52, one per lane.
pub(crate) fn pack(x: [[u64; 4]; 2]) -> Lanes {
    let limbs = |w: [u64; 4]| -> [u64; LIMBS] {
        let w5 = [
            w[0] << 4,
            (w[1] << 4) | (w[0] >> 60),
            (w[2] << 4) | (w[1] >> 60),
            (w[3] << 4) | (w[2] >> 60),
            w[3] >> 60,
        ];
        std::array::from_fn(|l| {
            let (word, off) = ((52 * l) / 64, (52 * l) % 64);
            let lo = w5[word] as u128;
            let hi = if word + 1 < 5 {
                w5[word + 1] as u128
            } else {
                0
            };
            (((hi << 64) | lo) >> off) as u64 & MASK52
        })
    };
    let (l0, l1) = (limbs(x[0]), limbs(x[1]));
    // SAFETY: NEON is part of the aarch64 baseline.
    std::array::from_fn(|i| unsafe { vcombine_u64(vcreate_u64(l0[i]), vcreate_u64(l1[i])) })
}

/// The two lanes' values `Y = sum limb_i 2^(52 i)` (below 2^260), as 5 words.
pub(crate) fn unpack(v: &Lanes) -> [[u64; 5]; 2] {
    let mut out = [[0u64; 5]; 2];
    for (lane, o) in out.iter_mut().enumerate() {
        let mut acc = 0u128;
        let mut bits = 0;
        let mut w = 0;
        for l in 0..LIMBS {
            // SAFETY: NEON is part of the aarch64 baseline.
            let limb = unsafe {
                if lane == 0 {
                    vgetq_lane_u64::<0>(v[l])
                } else {
                    vgetq_lane_u64::<1>(v[l])
                }
            };
            acc |= (limb as u128) << bits;
            bits += 52;
            while bits >= 64 {
                o[w] = acc as u64;
                acc >>= 64;
                bits -= 64;
                w += 1;
            }
        }
        o[w] = acc as u64;
    }
    out
}
