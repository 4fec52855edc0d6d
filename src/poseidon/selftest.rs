//! A property test of the engine's field operations and permutation that needs no
//! test harness: `summa-agg self-test` runs it, so that the aarch64 build can be
//! checked under qemu-user, where a program that starts a thread hangs (libtest
//! starts one per test). `infra/arm64-test.sh` runs it on the aarch64 binary and
//! requires `field_ops` to be `"aarch64-asm"` there.
//!
//! Each check compares the engine's [`super::ops`] (on aarch64: the assembly of
//! `aarch64.rs`) with halo2curves' `Fr` operators, and the engine's permutation and
//! batch hashing with the plain specification ([`super::permute_plain`], on `Fr`
//! operators) and the generic `halo2_poseidon` primitive, on edge values (0, 1,
//! p - 1, p - 2, the largest elements below p, which are the ones "near 2^254",
//! powers of two around 2^252 and 2^253, as values and as Montgomery
//! representations) and on pseudo-random ones (splitmix64, fixed seed).

use halo2curves::bn256::Fr;

use super::testing::{batch_and_reference, edge_values, P_MINUS_1};
use super::{ops, permute, permute_plain};

/// What [`self_test`] found.
#[derive(Debug)]
pub struct SelfTest {
    /// [`super::field_ops`]: the implementation that was tested.
    pub field_ops: &'static str,
    /// Comparisons made.
    pub checks: u64,
    /// The first failures (at most 20), in words.
    pub failures: Vec<String>,
}

/// splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014): deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    /// A uniform-looking element: half the time a random value reduced by `from_raw`,
    /// half the time a random canonical representation (top word below p's).
    fn fr(&mut self) -> Fr {
        let w = [self.next(), self.next(), self.next(), self.next()];
        if self.next() & 1 == 0 {
            Fr::from_raw(w)
        } else {
            Fr([w[0], w[1], w[2], w[3] % P_MINUS_1[3]])
        }
    }
}

struct Checker {
    checks: u64,
    failures: Vec<String>,
}

impl Checker {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.checks += 1;
        if !ok && self.failures.len() < 20 {
            self.failures.push(what());
        }
    }

    fn field(&mut self, a: Fr, b: Fr) {
        self.check(ops::mul(a, b) == a * b, || format!("mul {a:?} {b:?}"));
        self.check(ops::add(a, b) == a + b, || format!("add {a:?} {b:?}"));
        self.check(ops::square(a) == a.square(), || format!("square {a:?}"));
        let x5 = a.square().square() * a;
        self.check(ops::sbox(a) == x5, || format!("sbox {a:?}"));
        #[cfg(target_arch = "aarch64")]
        self.lazy(a, b);
    }

    /// The aarch64 lazy operations of the linear layer: `x^4` through an unreduced
    /// square, and one reduction of a sum of two unreduced products (the largest
    /// sums: both products of values near p).
    #[cfg(target_arch = "aarch64")]
    fn lazy(&mut self, a: Fr, b: Fr) {
        use super::aarch64::{add_wide, mul_wide, redc_wide, square, square_lazy};
        use ff::Field;
        let a4 = a.square().square();
        self.check(square(square_lazy(a)) == a4, || format!("x^4 {a:?}"));
        let (c, d) = (-Fr::ONE - b, a + b);
        let sum = redc_wide(add_wide(mul_wide(a, b), mul_wide(c, d)));
        self.check(sum == a * b + c * d, || format!("redc_wide {a:?} {b:?}"));
    }

    /// The NEON double-precision prototype (`neon_fp52.rs`, not used by the engine)
    /// on two lanes at once.
    #[cfg(target_arch = "aarch64")]
    fn neon_fp52(&mut self, a: [Fr; 2], b: [Fr; 2]) {
        use super::neon_fp52::{mul2, pack, unpack};
        let y = unpack(&mul2(&pack([a[0].0, a[1].0]), &pack([b[0].0, b[1].0])));
        for l in 0..2 {
            let got = from_times_16(y[l]);
            self.check(got == a[l] * b[l], || {
                format!("neon_fp52 lane {l}: {:?} {:?}", a[l], b[l])
            });
        }
    }

    fn permutation(&mut self, a: Fr, b: Fr) {
        let mut s = [a, b];
        let mut t = s;
        permute(&mut s);
        permute_plain(&mut t);
        self.check(s == t, || format!("permute [{a:?}, {b:?}]"));
    }
}

/// The `Fr` whose Montgomery representation is `Y / 16 mod p`: the prototype's
/// output domain (`x 2^260`) back to `Fr`'s (`x 2^256`).
#[cfg(target_arch = "aarch64")]
fn from_times_16(y: [u64; 5]) -> Fr {
    use num_bigint::BigUint;
    let p = BigUint::from_bytes_be(&crate::field::MODULUS_BE);
    let inv16 = BigUint::from(16u8).modpow(&(&p - 2u8), &p);
    let bytes: Vec<u8> = y.iter().flat_map(|w| w.to_le_bytes()).collect();
    let r = BigUint::from_bytes_le(&bytes) * inv16 % &p;
    let mut words = [0u64; 4];
    for (i, d) in r.iter_u64_digits().enumerate() {
        words[i] = d;
    }
    Fr(words)
}

/// Checks the engine's field operations, permutation and batch hashing against
/// halo2curves and the generic primitive: every pair of [`edge_values`], then
/// `cases` pseudo-random pairs and states, and batches of every length 1..=8.
pub fn self_test(cases: usize) -> SelfTest {
    let mut c = Checker {
        checks: 0,
        failures: Vec::new(),
    };
    let edges = edge_values();
    for &a in &edges {
        for &b in &edges {
            c.field(a, b);
            c.permutation(a, b);
        }
    }
    #[cfg(target_arch = "aarch64")]
    for (i, &a) in edges.iter().enumerate() {
        for &b in &edges {
            c.neon_fp52([a, b], [b, edges[(i + 1) % edges.len()]]);
        }
    }
    let mut rng = Rng(0x5eed_0019);
    for _ in 0..cases {
        let (a, b) = (rng.fr(), rng.fr());
        c.field(a, b);
        let e = edges[(rng.next() % edges.len() as u64) as usize];
        c.field(a, e);
        c.field(e, a);
    }
    for _ in 0..cases / 16 + 1 {
        let (a, b) = (rng.fr(), rng.fr());
        c.permutation(a, b);
        #[cfg(target_arch = "aarch64")]
        c.neon_fp52([a, rng.fr()], [b, rng.fr()]);
    }
    // Batches: the interleaved lanes of the portable path and the single-message tail.
    for len in 1..=8 {
        for n in [1, 2, 3, 5] {
            let msgs: Vec<Fr> = (0..n * len)
                .map(|i| {
                    if i % 3 == 2 {
                        edges[(rng.next() % edges.len() as u64) as usize]
                    } else {
                        rng.fr()
                    }
                })
                .collect();
            for (i, [batch, scalar, r]) in batch_and_reference(&msgs, len).into_iter().enumerate() {
                c.check(batch == r && scalar == r, || {
                    format!("hash_batch len {len} batch {n} message {i}")
                });
            }
        }
    }
    SelfTest {
        field_ops: ops::NAME,
        checks: c.checks,
        failures: c.failures,
    }
}

#[cfg(test)]
mod tests {
    use ff::Field;

    use super::*;

    #[test]
    fn self_test_passes_and_counts() {
        let r = self_test(64);
        assert!(r.failures.is_empty(), "{:?}", r.failures);
        let e = edge_values().len() as u64;
        // 4 field checks and 1 permutation per edge pair, 12 per random case, one
        // permutation per 16 cases (+1), 8 lengths x (1 + 2 + 3 + 5) messages.
        // (On aarch64 also 2 lazy-operation checks per field check, and 2
        // prototype checks per edge pair and per 16 cases.)
        #[cfg(not(target_arch = "aarch64"))]
        assert_eq!(r.checks, e * e * 5 + 64 * 12 + (64 / 16 + 1) + 8 * 11);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(r.checks, e * e * 9 + 64 * 18 + (64 / 16 + 1) * 3 + 8 * 11);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(r.field_ops, "aarch64-asm");
        #[cfg(not(target_arch = "aarch64"))]
        assert_eq!(r.field_ops, "halo2curves");
    }

    #[test]
    fn edge_values_are_canonical_and_include_the_top() {
        let e = edge_values();
        for v in &e {
            // A representation is canonical when it is at most p - 1 (compared from
            // the top word down).
            assert!(v.0.iter().rev().le(P_MINUS_1.iter().rev()), "{v:?}");
        }
        assert!(e.contains(&Fr(P_MINUS_1)));
        assert!(e.contains(&-Fr::ONE));
    }
}
