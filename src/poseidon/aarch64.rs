//! BN254 scalar-field Montgomery arithmetic for aarch64 (Graviton), in inline
//! assembly: the field operations of the engine's Poseidon on that target, chosen at
//! compile time (`super::ops`).
//!
//! On aarch64 halo2curves has no assembly: its generic Rust forms each `a + b c +
//! carry` as a 128-bit sum (`mul`, `umulh`, then two add-with-carry pairs), so a
//! multiplication executes about twice the instructions of x86_64's `mulx`/`adcx`/
//! `adox` code. Here a 64x64-bit product is split into its low row (`mul`) and high
//! row (`umulh`), and each row is added into the accumulator with one flag-carrying
//! chain (`adds`/`adcs`): one instruction per word added (operand scanning, as
//! in Koc, Acar, Kaliski, "Analyzing and comparing Montgomery multiplication
//! algorithms", IEEE Micro 1996, section 3 for CIOS and SOS).
//!
//! # Representation
//!
//! Exactly halo2curves' `Fr`: four little-endian 64-bit words holding `x 2^256 mod p`,
//! fully reduced (`< p`). [`mul`], [`square`], [`add`] and [`redc_wide`] return
//! canonical values, so the results are bit-identical to `Fr`'s own `*`, `square`
//! and `+`, and an `Fr` from either can be mixed freely; only [`square_lazy`]'s
//! output (for [`square`]) and the 8-word values are not canonical.
//!
//! # Algorithms and bounds
//!
//! `p < 2^254` (its top word is `0x3064...`, two spare bits), `R = 2^256`.
//!
//! - [`mul`]: CIOS (coarsely integrated operand scanning, Koc et al. section 3.4),
//!   4 iterations of "add the row `a b_i`, then one word of Montgomery reduction".
//!   The reduction's low word `t_0 + lo(m p_0)` is always `0 mod 2^64` (that is
//!   what `m = t_0 (-p^-1) mod 2^64` is for): its carry is `t_0 != 0`, set by `cmp
//!   t0, #1` instead of computing `lo(m p_0)`. With `a, b < p` the running value `t`
//!   stays `< 2p` (`(2p + 2 (2^64 - 1) p) / 2^64 < 2p`), so it fits 4 words between
//!   iterations and 5 after adding a row; one conditional subtraction of `p` at the
//!   end. 16 + 16 products for `a b`, 4 + 12 + 4 for the reduction (one `mul` per
//!   word saved by the carry trick): 142 instructions in all, 3 of them loads.
//! - [`square`]: SOS (separated operand scanning, section 3.1): the 8-word square
//!   from its 6 off-diagonal products (doubled with one carry chain) and 4 diagonal
//!   ones, 20 products instead of 32; then the low 4 words are reduced alone (4 steps
//!   as above, on a 4-word value: `(T_lo + M p) / 2^256 <= p`) and the high 4 words
//!   added (`T_hi <= a^2 / 2^256 < p / 4`): the sum is `< 2p`, one conditional
//!   subtraction. 126 instructions (118 for [`square_lazy`]).
//! - [`add`]: `a + b < 2p < 2^256` needs no fifth word; subtract `p` if no borrow.
//! - Lazy forms for the permutation's linear layer (the IFMA kernel's idea, as
//!   Montgomery reduction is linear): [`mul_wide`] (the 8-word product, 63
//!   instructions), [`add_wide`] and [`redc_wide`] (the reduction of an 8-word
//!   `T < p 2^256`: low half reduced as in [`square`], high half added, one
//!   conditional subtraction): `U + beta X` then costs one reduction where `mul`,
//!   `mul` and `add` cost two and a subtraction more. [`square_lazy`] leaves `x^2 <
//!   2p` unreduced for the next [`square`] (`T_hi < 4p^2 / 2^256 < p`).
//!
//! The constants are read from [`P_INV`] inside each block (3 loads from L1) rather
//! than pinned in 5 registers across the whole permutation: a block needs at most 24
//! of the 28 general registers inline assembly may use, and the rest stay free for
//! the interleaved lanes' states.

use std::arch::asm;

use halo2curves::bn256::Fr;

use super::{MODULUS, MODULUS_INV_NEG as INV};

// p_0 (-p_0^-1) = -1 mod 2^64.
const _: () = assert!(MODULUS[0].wrapping_mul(INV) == u64::MAX);

/// `p` then `-p^-1 mod 2^64`: what the assembly loads (`ldp`, `ldp`, `ldr`).
static P_INV: [u64; 5] = [MODULUS[0], MODULUS[1], MODULUS[2], MODULUS[3], INV];

/// Adds row `a b_i` (low words, then high words) into `$w0..$w3`, the carry and
/// the top into the new word `$w4` (which it sets). Scratch: `s0..s3`.
macro_rules! wide_row {
    ($b:literal, $w0:literal, $w1:literal, $w2:literal, $w3:literal, $w4:literal) => {
        concat!(
            "mul {s0}, {a0}, {",
            $b,
            "}\n",
            "mul {s1}, {a1}, {",
            $b,
            "}\n",
            "mul {s2}, {a2}, {",
            $b,
            "}\n",
            "mul {s3}, {a3}, {",
            $b,
            "}\n",
            "adds {",
            $w0,
            "}, {",
            $w0,
            "}, {s0}\n",
            "adcs {",
            $w1,
            "}, {",
            $w1,
            "}, {s1}\n",
            "adcs {",
            $w2,
            "}, {",
            $w2,
            "}, {s2}\n",
            "adcs {",
            $w3,
            "}, {",
            $w3,
            "}, {s3}\n",
            "cset {",
            $w4,
            "}, hs\n",
            "umulh {s0}, {a0}, {",
            $b,
            "}\n",
            "umulh {s1}, {a1}, {",
            $b,
            "}\n",
            "umulh {s2}, {a2}, {",
            $b,
            "}\n",
            "umulh {s3}, {a3}, {",
            $b,
            "}\n",
            "adds {",
            $w1,
            "}, {",
            $w1,
            "}, {s0}\n",
            "adcs {",
            $w2,
            "}, {",
            $w2,
            "}, {s1}\n",
            "adcs {",
            $w3,
            "}, {",
            $w3,
            "}, {s2}\n",
            "adc {",
            $w4,
            "}, {",
            $w4,
            "}, {s3}\n",
        )
    };
}

/// Adds the row `a b_i` (its low words, then its high words shifted by one) into
/// `t0..t3`, the carry out of the top into `t4`: [`wide_row`] on `t0..t4`. Scratch:
/// `s0..s3`.
macro_rules! row {
    ($b:literal) => {
        wide_row!($b, "t0", "t1", "t2", "t3", "t4")
    };
}

/// One word of Montgomery reduction: `t = (t + m p) / 2^64` with `m = t0 (-p^-1) mod
/// 2^64`; `$top` is the fifth word of `t` (`{t4}`, or `xzr` when `t` has 4 words).
/// The low word of `t + m p` is 0; its carry, `t0 != 0`, is the `cmp`'s. Scratch:
/// `s0..s4` (`s4` = m).
macro_rules! reduce {
    ($top:literal) => {
        concat!(
            "mul {s4}, {t0}, {inv}\n",
            "mul {s1}, {s4}, {p1}\n",
            "mul {s2}, {s4}, {p2}\n",
            "mul {s3}, {s4}, {p3}\n",
            "umulh {s0}, {s4}, {p0}\n",
            "cmp {t0}, #1\n",
            "adcs {t0}, {t1}, {s1}\n",
            "adcs {t1}, {t2}, {s2}\n",
            "adcs {t2}, {t3}, {s3}\n",
            "adc {t3}, ",
            $top,
            ", xzr\n",
            "umulh {s1}, {s4}, {p1}\n",
            "umulh {s2}, {s4}, {p2}\n",
            "umulh {s3}, {s4}, {p3}\n",
            "adds {t0}, {t0}, {s0}\n",
            "adcs {t1}, {t1}, {s1}\n",
            "adcs {t2}, {t2}, {s2}\n",
            "adc {t3}, {t3}, {s3}\n",
        )
    };
}

/// `t - p` if it does not borrow (`t >= p`), else `t`. Scratch: `s0..s3`.
macro_rules! csub {
    () => {
        concat!(
            "subs {s0}, {t0}, {p0}\n",
            "sbcs {s1}, {t1}, {p1}\n",
            "sbcs {s2}, {t2}, {p2}\n",
            "sbcs {s3}, {t3}, {p3}\n",
            "csel {t0}, {s0}, {t0}, hs\n",
            "csel {t1}, {s1}, {t1}, hs\n",
            "csel {t2}, {s2}, {t2}, hs\n",
            "csel {t3}, {s3}, {t3}, hs\n",
        )
    };
}

/// Loads `p` and `-p^-1` from [`P_INV`].
macro_rules! load_p {
    () => {
        concat!(
            "ldp {p0}, {p1}, [{k}]\n",
            "ldp {p2}, {p3}, [{k}, #16]\n",
            "ldr {inv}, [{k}, #32]\n",
        )
    };
}

/// The SOS reduction of the 8-word `t0..t3, w4..w7`: the low half reduced word by
/// word (4 steps of [`reduce`] on a 4-word value, `<= p`), then the high half
/// added. Loads the constants ([`load_p`]).
macro_rules! reduce_low_add_high {
    () => {
        concat!(
            load_p!(),
            reduce!("xzr"),
            reduce!("xzr"),
            reduce!("xzr"),
            reduce!("xzr"),
            "adds {t0}, {t0}, {w4}\n",
            "adcs {t1}, {t1}, {w5}\n",
            "adcs {t2}, {t2}, {w6}\n",
            "adc {t3}, {t3}, {w7}\n",
        )
    };
}

/// `asm!` of a Montgomery routine: the templates in braces, then the routine's own
/// operands (each followed by a comma); `{k}` ([`P_INV`]) comes first and the
/// scratch registers of [`load_p`], [`reduce`] and [`csub`] (`p0..p3`, `inv`,
/// `s0..s4`) last, with the options every routine here has.
macro_rules! montgomery_asm {
    ({ $($template:tt)* } $($operand:tt)*) => {
        asm!(
            $($template)*
            k = in(reg) P_INV.as_ptr(),
            $($operand)*
            p0 = out(reg) _, p1 = out(reg) _, p2 = out(reg) _, p3 = out(reg) _,
            inv = out(reg) _,
            s0 = out(reg) _, s1 = out(reg) _, s2 = out(reg) _, s3 = out(reg) _,
            s4 = out(reg) _,
            options(pure, readonly, nostack),
        )
    };
}

/// Montgomery product `a b / 2^256 mod p` of canonical `a`, `b` (CIOS, see the
/// module documentation): `a * b` for `Fr`.
#[inline(always)]
pub(super) fn mul(a: Fr, b: Fr) -> Fr {
    let [a0, a1, a2, a3] = a.0;
    let [b0, b1, b2, b3] = b.0;
    let (t0, t1, t2, t3): (u64, u64, u64, u64);
    // SAFETY: register-only arithmetic and loads from a static; no stack use.
    unsafe {
        montgomery_asm!(
            {
                load_p!(),
                // Row 0 into the empty accumulator.
                "mul {t0}, {a0}, {b0}",
                "mul {t1}, {a1}, {b0}",
                "mul {t2}, {a2}, {b0}",
                "mul {t3}, {a3}, {b0}",
                "umulh {s0}, {a0}, {b0}",
                "umulh {s1}, {a1}, {b0}",
                "umulh {s2}, {a2}, {b0}",
                "umulh {t4}, {a3}, {b0}",
                "adds {t1}, {t1}, {s0}",
                "adcs {t2}, {t2}, {s1}",
                "adcs {t3}, {t3}, {s2}",
                "adc {t4}, {t4}, xzr",
                reduce!("{t4}"),
                row!("b1"),
                reduce!("{t4}"),
                row!("b2"),
                reduce!("{t4}"),
                row!("b3"),
                reduce!("{t4}"),
                csub!(),
            }
            a0 = in(reg) a0, a1 = in(reg) a1, a2 = in(reg) a2, a3 = in(reg) a3,
            b0 = in(reg) b0, b1 = in(reg) b1, b2 = in(reg) b2, b3 = in(reg) b3,
            t0 = out(reg) t0, t1 = out(reg) t1, t2 = out(reg) t2, t3 = out(reg) t3,
            t4 = out(reg) _,
        );
    }
    Fr([t0, t1, t2, t3])
}

/// The 8-word square `a^2` into `t0..t3, w4..w7`: the off-diagonal products
/// `a_i a_j` (`i < j`) once, doubled with one carry chain, plus the diagonal.
/// Scratch: `s0..s3`.
macro_rules! square_product {
    () => {
        concat!(
            // Off-diagonal products a_i a_j (i < j) into w1..w6.
            "mul {t1}, {a0}, {a1}\n",
            "umulh {s0}, {a0}, {a1}\n",
            "mul {t2}, {a0}, {a2}\n",
            "umulh {s1}, {a0}, {a2}\n",
            "mul {t3}, {a0}, {a3}\n",
            "umulh {w4}, {a0}, {a3}\n",
            "adds {t2}, {t2}, {s0}\n",
            "adcs {t3}, {t3}, {s1}\n",
            "adc {w4}, {w4}, xzr\n",
            "mul {s0}, {a1}, {a2}\n",
            "umulh {s1}, {a1}, {a2}\n",
            "mul {s2}, {a1}, {a3}\n",
            "umulh {w5}, {a1}, {a3}\n",
            "adds {t3}, {t3}, {s0}\n",
            "adcs {w4}, {w4}, {s2}\n",
            "adc {w5}, {w5}, xzr\n",
            "mul {s0}, {a2}, {a3}\n",
            "umulh {w6}, {a2}, {a3}\n",
            "adds {w4}, {w4}, {s1}\n",
            "adcs {w5}, {w5}, {s0}\n",
            "adc {w6}, {w6}, xzr\n",
            // Doubled: the sum of a_i a_j 2^(64 (i + j)) over i < j is < a^2 / 2.
            "adds {t1}, {t1}, {t1}\n",
            "adcs {t2}, {t2}, {t2}\n",
            "adcs {t3}, {t3}, {t3}\n",
            "adcs {w4}, {w4}, {w4}\n",
            "adcs {w5}, {w5}, {w5}\n",
            "adcs {w6}, {w6}, {w6}\n",
            "cset {w7}, hs\n",
            // Plus the diagonal a_i^2 at word 2i (mul/umulh leave the flags alone).
            "mul {t0}, {a0}, {a0}\n",
            "umulh {s0}, {a0}, {a0}\n",
            "mul {s1}, {a1}, {a1}\n",
            "umulh {s2}, {a1}, {a1}\n",
            "adds {t1}, {t1}, {s0}\n",
            "adcs {t2}, {t2}, {s1}\n",
            "adcs {t3}, {t3}, {s2}\n",
            "mul {s0}, {a2}, {a2}\n",
            "umulh {s1}, {a2}, {a2}\n",
            "mul {s2}, {a3}, {a3}\n",
            "umulh {s3}, {a3}, {a3}\n",
            "adcs {w4}, {w4}, {s0}\n",
            "adcs {w5}, {w5}, {s1}\n",
            "adcs {w6}, {w6}, {s2}\n",
            "adc {w7}, {w7}, {s3}\n",
        )
    };
}

/// The Montgomery square of `$a` (SOS: [`square_product`], then
/// [`reduce_low_add_high`]), then the templates `$finish` (a conditional
/// subtraction, or none).
macro_rules! square_then {
    ($a:expr, { $($finish:tt)* }) => {{
        let [a0, a1, a2, a3] = $a.0;
        let (t0, t1, t2, t3): (u64, u64, u64, u64);
        // SAFETY: register-only arithmetic and loads from a static; no stack use.
        unsafe {
            montgomery_asm!(
                {
                    square_product!(),
                    // Reduce the low half, add the high half.
                    reduce_low_add_high!(),
                    $($finish)*
                }
                a0 = in(reg) a0, a1 = in(reg) a1, a2 = in(reg) a2, a3 = in(reg) a3,
                t0 = out(reg) t0, t1 = out(reg) t1, t2 = out(reg) t2, t3 = out(reg) t3,
                w4 = out(reg) _, w5 = out(reg) _, w6 = out(reg) _, w7 = out(reg) _,
            );
        }
        Fr([t0, t1, t2, t3])
    }};
}

/// Montgomery square `a^2 / 2^256 mod p` of `a < 2p` (SOS, see the module
/// documentation): `a.square()` for `Fr`, canonical. (With `a < 2p`, `T_hi < 4p^2 /
/// 2^256 < p` since `4p < 2^256`: still one conditional subtraction.)
#[inline(always)]
pub(super) fn square(a: Fr) -> Fr {
    square_then!(a, { csub!(), })
}

/// [`square`] without its conditional subtraction: `a^2 / 2^256 mod p` for a
/// canonical `a`, as a value `< 2p` (congruent, not reduced), only for [`square`]'s
/// input (`x^4 = square(square_lazy(x))` in the S-box).
#[inline(always)]
pub(super) fn square_lazy(a: Fr) -> Fr {
    square_then!(a, {})
}

/// The 512-bit product `a b`, not reduced (for [`redc_wide`] of a sum of
/// products: Montgomery reduction is linear, so `A' = U + beta X` costs one
/// reduction instead of two, as in the IFMA kernel). Operand scanning, row by row:
/// 32 products and 31 additions.
#[inline(always)]
pub(super) fn mul_wide(a: Fr, b: Fr) -> [u64; 8] {
    let [a0, a1, a2, a3] = a.0;
    let [b0, b1, b2, b3] = b.0;
    let (w0, w1, w2, w3, w4, w5, w6, w7): (u64, u64, u64, u64, u64, u64, u64, u64);
    // SAFETY: register-only arithmetic; no memory, no stack.
    unsafe {
        asm!(
            "mul {w0}, {a0}, {b0}",
            "mul {w1}, {a1}, {b0}",
            "mul {w2}, {a2}, {b0}",
            "mul {w3}, {a3}, {b0}",
            "umulh {s0}, {a0}, {b0}",
            "umulh {s1}, {a1}, {b0}",
            "umulh {s2}, {a2}, {b0}",
            "umulh {w4}, {a3}, {b0}",
            "adds {w1}, {w1}, {s0}",
            "adcs {w2}, {w2}, {s1}",
            "adcs {w3}, {w3}, {s2}",
            "adc {w4}, {w4}, xzr",
            wide_row!("b1", "w1", "w2", "w3", "w4", "w5"),
            wide_row!("b2", "w2", "w3", "w4", "w5", "w6"),
            wide_row!("b3", "w3", "w4", "w5", "w6", "w7"),
            a0 = in(reg) a0, a1 = in(reg) a1, a2 = in(reg) a2, a3 = in(reg) a3,
            b0 = in(reg) b0, b1 = in(reg) b1, b2 = in(reg) b2, b3 = in(reg) b3,
            w0 = out(reg) w0, w1 = out(reg) w1, w2 = out(reg) w2, w3 = out(reg) w3,
            w4 = out(reg) w4, w5 = out(reg) w5, w6 = out(reg) w6, w7 = out(reg) w7,
            s0 = out(reg) _, s1 = out(reg) _, s2 = out(reg) _, s3 = out(reg) _,
            options(pure, nomem, nostack),
        );
    }
    [w0, w1, w2, w3, w4, w5, w6, w7]
}

/// `x + y` of two 512-bit values whose sum is below `2^512` (here: sums of two
/// products of values `< p`, `< 2p^2`).
#[inline(always)]
pub(super) fn add_wide(x: [u64; 8], y: [u64; 8]) -> [u64; 8] {
    let [mut x0, mut x1, mut x2, mut x3, mut x4, mut x5, mut x6, mut x7] = x;
    // SAFETY: register-only arithmetic; no memory, no stack.
    unsafe {
        asm!(
            "adds {x0}, {x0}, {y0}",
            "adcs {x1}, {x1}, {y1}",
            "adcs {x2}, {x2}, {y2}",
            "adcs {x3}, {x3}, {y3}",
            "adcs {x4}, {x4}, {y4}",
            "adcs {x5}, {x5}, {y5}",
            "adcs {x6}, {x6}, {y6}",
            "adc {x7}, {x7}, {y7}",
            x0 = inout(reg) x0, x1 = inout(reg) x1, x2 = inout(reg) x2, x3 = inout(reg) x3,
            x4 = inout(reg) x4, x5 = inout(reg) x5, x6 = inout(reg) x6, x7 = inout(reg) x7,
            y0 = in(reg) y[0], y1 = in(reg) y[1], y2 = in(reg) y[2], y3 = in(reg) y[3],
            y4 = in(reg) y[4], y5 = in(reg) y[5], y6 = in(reg) y[6], y7 = in(reg) y[7],
            options(pure, nomem, nostack),
        );
    }
    [x0, x1, x2, x3, x4, x5, x6, x7]
}

/// Montgomery reduction `T / 2^256 mod p`, canonical, of a 512-bit `T < p 2^256`
/// (SOS as in [`square`]: the low half reduced, `<= p`, plus the high half, `< p`;
/// one conditional subtraction).
#[inline(always)]
pub(super) fn redc_wide(t: [u64; 8]) -> Fr {
    let [mut t0, mut t1, mut t2, mut t3, w4, w5, w6, w7] = t;
    // SAFETY: register-only arithmetic and loads from a static; no stack use.
    unsafe {
        montgomery_asm!(
            {
                reduce_low_add_high!(),
                csub!(),
            }
            t0 = inout(reg) t0, t1 = inout(reg) t1, t2 = inout(reg) t2, t3 = inout(reg) t3,
            w4 = in(reg) w4, w5 = in(reg) w5, w6 = in(reg) w6, w7 = in(reg) w7,
        );
    }
    Fr([t0, t1, t2, t3])
}

/// `a + b mod p` of canonical `a`, `b`: `a + b` for `Fr`.
#[inline(always)]
pub(super) fn add(a: Fr, b: Fr) -> Fr {
    let [a0, a1, a2, a3] = a.0;
    let [b0, b1, b2, b3] = b.0;
    let (t0, t1, t2, t3): (u64, u64, u64, u64);
    // SAFETY: register-only arithmetic and loads from a static; no stack use.
    unsafe {
        asm!(
            "ldp {p0}, {p1}, [{k}]",
            "ldp {p2}, {p3}, [{k}, #16]",
            "adds {t0}, {a0}, {b0}",
            "adcs {t1}, {a1}, {b1}",
            "adcs {t2}, {a2}, {b2}",
            "adc {t3}, {a3}, {b3}",
            csub!(),
            k = in(reg) P_INV.as_ptr(),
            a0 = in(reg) a0, a1 = in(reg) a1, a2 = in(reg) a2, a3 = in(reg) a3,
            b0 = in(reg) b0, b1 = in(reg) b1, b2 = in(reg) b2, b3 = in(reg) b3,
            t0 = out(reg) t0, t1 = out(reg) t1, t2 = out(reg) t2, t3 = out(reg) t3,
            p0 = out(reg) _, p1 = out(reg) _, p2 = out(reg) _, p3 = out(reg) _,
            s0 = out(reg) _, s1 = out(reg) _, s2 = out(reg) _, s3 = out(reg) _,
            options(pure, readonly, nostack),
        );
    }
    Fr([t0, t1, t2, t3])
}

/// Name of this implementation, for [`super::field_ops`].
pub(super) const NAME: &str = "aarch64-asm";
