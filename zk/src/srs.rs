//! Reading an SRS file as a verifier must: every point read checked (canonical
//! coordinates, on the curve), the setup recognised by its `[τ]_2`
//! ([`crate::ceremony`]), and the G1 powers checked to be powers of that τ.
//!
//! Accepted files, both halo2's `ParamsKZG` layout (`k` as a little-endian `u32`,
//! `2^k` G1 powers `[τ^i]_1`, `2^k` Lagrange-basis G1 points, `[1]_2`, `[τ]_2`):
//! - `RawBytes`: uncompressed points, coordinates as their Montgomery limbs, as the
//!   ceremony conversions are published (e.g. `perpetual-powers-of-tau-raw-<k>`,
//!   `hermez-raw-<k>`);
//! - `Processed`: compressed points, as `summa-agg zk-keys` writes `srs.bin`.
//!
//! The file may hold more points than the circuit needs: only the first `2^k`
//! powers are read. For the prover, [`read`] takes the file's Lagrange points when
//! it holds exactly `2^k` (checked against the powers) and otherwise computes them
//! from the powers (an inverse FFT in the group); [`read_for_verifier`] neither
//! reads nor computes any (key derivation commits with the powers).
//!
//! The power check: with `g_i` the file's powers, `g_0` must be G1's generator,
//! `[1]_2` G2's, and for a challenge ρ (a hash of everything read, so fixed after
//! the file is) `e(Σ ρ^i g_i, [τ]_2) = e(Σ ρ^i g_{i+1}, [1]_2)`, `i < 2^k - 1`. If
//! some `g_{i+1} ≠ τ g_i`, the two sides differ except for a ρ that is a root of a
//! nonzero polynomial of degree `< 2^k`: probability `< 2^k / r`, about `2^-240`.

use halo2_proofs::arithmetic::{best_multiexp, parallelize};
use halo2_proofs::halo2curves::bn256::{
    multi_miller_loop, Bn256, Fr, G1Affine, G2Affine, G2Prepared, Gt,
};
use halo2_proofs::halo2curves::ff::{Field, FromUniformBytes};
use halo2_proofs::halo2curves::group::{Curve, GroupEncoding};
use halo2_proofs::halo2curves::pairing::MillerLoopResult;
use halo2_proofs::halo2curves::serde::SerdeObject;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_proofs::SerdeFormat;
use sha2::{Digest, Sha512};

use crate::ceremony::{self, Setup};
use crate::{Error, Result};

/// The largest `k` a file may claim (2^28 points, far above any shape's need).
pub const MAX_SRS_K: u32 = 28;

/// An SRS whose points were checked, cut to `2^k` powers, with its setup.
pub struct CheckedSrs {
    /// halo2's parameters: the checked powers and the Lagrange points computed
    /// from them.
    pub params: ParamsKZG<Bn256>,
    /// The ceremony (or the unsafe test setup) its `[τ]_2` is.
    pub setup: Setup,
}

/// The point encodings of the two accepted layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    Raw,
    Compressed,
}

impl Encoding {
    fn g1_len(self) -> usize {
        match self {
            Encoding::Raw => 64,
            Encoding::Compressed => 32,
        }
    }

    fn g2_len(self) -> usize {
        2 * self.g1_len()
    }

    /// The G1 point of `bytes`, if they are a point's one encoding: a parse that
    /// writes back other bytes (an infinity flag beside a nonzero `x`, a sign flag
    /// on the identity, any other non-canonical form) is refused.
    fn g1(self, bytes: &[u8]) -> Option<G1Affine> {
        let p = match self {
            Encoding::Raw => G1Affine::from_raw_bytes(bytes)?,
            Encoding::Compressed => {
                let mut repr = <G1Affine as GroupEncoding>::Repr::default();
                repr.as_mut().copy_from_slice(bytes);
                Option::from(G1Affine::from_bytes(&repr))?
            }
        };
        (self.encode(&p) == bytes).then_some(p)
    }

    /// The G2 point of `bytes`, if they are its one encoding (as [`Self::g1`]).
    fn g2(self, bytes: &[u8]) -> Option<G2Affine> {
        let p = self.g2_parsed(bytes)?;
        (self.encode(&p) == bytes).then_some(p)
    }

    /// A point's bytes in this encoding.
    fn encode<C: SerdeObject + GroupEncoding>(self, p: &C) -> Vec<u8> {
        match self {
            Encoding::Raw => p.to_raw_bytes(),
            Encoding::Compressed => p.to_bytes().as_ref().to_vec(),
        }
    }

    fn g2_parsed(self, bytes: &[u8]) -> Option<G2Affine> {
        match self {
            Encoding::Raw => G2Affine::from_raw_bytes(bytes),
            Encoding::Compressed => {
                // halo2curves-axiom panics on a compressed x whose halves are not
                // below q (found by this project's fuzzer): checked first.
                if !g2_x_canonical(bytes) {
                    return None;
                }
                let mut repr = <G2Affine as GroupEncoding>::Repr::default();
                repr.as_mut().copy_from_slice(bytes);
                Option::from(G2Affine::from_bytes(&repr))
            }
        }
    }
}

/// Whether a compressed G2 point (halo2curves' encoding: `x = c0 + c1·u`, each
/// 32 bytes little-endian, the two flag bits on top of the last byte) has both
/// halves of `x` below q. halo2curves-axiom 0.7's `G2Affine::from_bytes` unwraps
/// them and panics otherwise (found by the fuzzer, target `zk_keys`).
fn g2_x_canonical(bytes: &[u8]) -> bool {
    use halo2_proofs::halo2curves::bn256::Fq;
    let Ok(mut x) = <[u8; 64]>::try_from(bytes) else {
        return false;
    };
    x[63] &= 0b0011_1111;
    x.chunks_exact(32).all(|c| {
        let c: &[u8; 32] = c.try_into().expect("32 bytes");
        bool::from(Fq::from_bytes(c).is_some())
    })
}

fn bad(m: impl Into<String>) -> Error {
    Error::Srs(m.into())
}

/// The layout of an SRS file of `bytes`: its `k` and encoding, from its length.
fn layout(bytes: &[u8]) -> Result<(u32, Encoding)> {
    if bytes.is_empty() {
        return Err(bad("the SRS file is empty"));
    }
    let k = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
        .ok_or_else(|| bad("not an SRS file (shorter than its header)"))?;
    if k > MAX_SRS_K {
        return Err(bad(format!(
            "the file claims 2^{k} points: not a plausible SRS"
        )));
    }
    let n = 1usize << k;
    for enc in [Encoding::Raw, Encoding::Compressed] {
        if bytes.len() == 4 + 2 * n * enc.g1_len() + 2 * enc.g2_len() {
            return Ok((k, enc));
        }
    }
    Err(bad(format!(
        "{} bytes is the length of no SRS of 2^{k} points in halo2's format",
        bytes.len()
    )))
}

/// The `k` of an SRS file (it holds `2^k` G1 powers), from its header and length.
pub fn points_k(bytes: &[u8]) -> Result<u32> {
    Ok(layout(bytes)?.0)
}

/// `[τ]_2` of an SRS file, read and checked to be a G2 point: enough to tell which
/// setup it is before reading its `2^k` powers.
pub fn s_g2_of(bytes: &[u8]) -> Result<G2Affine> {
    let (_, enc) = layout(bytes)?;
    let at = bytes.len() - enc.g2_len();
    enc.g2(&bytes[at..])
        .ok_or_else(|| bad("its [τ]_2 is not a point of the curve"))
}

/// Reads and checks an SRS file for a circuit of `2^k` rows. The unsafe test
/// setup is accepted only with `allow_unsafe_test`.
pub fn read(bytes: &[u8], k: u32, allow_unsafe_test: bool) -> Result<CheckedSrs> {
    read_checked(bytes, k, allow_unsafe_test, true)
}

/// [`read`] for a verifier: the same checks, but the Lagrange points are not
/// computed (left empty). Enough for [`crate::verifier::derive_vk`] and for
/// verifying a proof, which use the powers, `[1]_2` and `[τ]_2` only; never for
/// proving.
pub fn read_for_verifier(bytes: &[u8], k: u32, allow_unsafe_test: bool) -> Result<CheckedSrs> {
    read_checked(bytes, k, allow_unsafe_test, false)
}

fn read_checked(
    bytes: &[u8],
    k: u32,
    allow_unsafe_test: bool,
    with_lagrange: bool,
) -> Result<CheckedSrs> {
    let (file_k, enc) = layout(bytes)?;
    if file_k < k {
        return Err(bad(format!(
            "the file has 2^{file_k} points, the circuit needs 2^{k}"
        )));
    }
    let g2_at = bytes.len() - 2 * enc.g2_len();
    let g2 = enc
        .g2(&bytes[g2_at..g2_at + enc.g2_len()])
        .ok_or_else(|| bad("its [1]_2 is not a point of the curve"))?;
    let s_g2 = s_g2_of(bytes)?;
    if g2 != ceremony::g2_generator() {
        return Err(bad("its [1]_2 is not the generator of G2"));
    }
    let setup = ceremony::identify(&s_g2).ok_or_else(|| {
        bad("SRS [τ]_2 is not a known ceremony's: keys from it could be forged by whoever made it")
    })?;
    if setup.is_unsafe_test() && !allow_unsafe_test {
        return Err(bad(
            "this is the UNSAFE TEST SRS (its τ comes from a public seed: anyone can forge proofs); refused without --unsafe-test-srs",
        ));
    }
    let n = 1usize << k;
    let len = enc.g1_len();
    let points = &bytes[4..4 + n * len];
    let g = parse_g1(enc, points, n, "G1 power")?;
    if g[0] != G1Affine::generator() {
        return Err(bad("its first G1 point is not the generator"));
    }
    if !powers_of_tau(&g, &g2, &s_g2, points) {
        return Err(bad(format!(
            "its G1 points are not the powers of its [τ]_2 ({}): the file was altered",
            setup.name()
        )));
    }
    // The Lagrange points: a file of exactly 2^k points holds those of the circuit's
    // domain, checked against the powers (cheap); otherwise they are computed from
    // the powers (an inverse FFT in the group: seconds at k = 14).
    // A verifier needs none (`read_for_verifier`): left empty.
    let lagrange = if !with_lagrange {
        Some(Vec::new())
    } else if file_k == k {
        let at = 4 + n * len;
        let lagrange_bytes = &bytes[at..at + n * len];
        let lagrange = parse_g1(enc, lagrange_bytes, n, "Lagrange point")?;
        if !lagrange_of(&g, &lagrange, k, lagrange_bytes) {
            return Err(bad(
                "its Lagrange points are not those of its powers: the file was altered",
            ));
        }
        Some(lagrange)
    } else {
        None
    };
    let params = params_from_parts(k, g, lagrange, g2, s_g2);
    Ok(CheckedSrs { params, setup })
}

/// `n` G1 points, each checked.
fn parse_g1(enc: Encoding, bytes: &[u8], n: usize, what: &str) -> Result<Vec<G1Affine>> {
    let len = enc.g1_len();
    let mut parsed: Vec<Option<G1Affine>> = vec![None; n];
    parallelize(&mut parsed, |chunk, start| {
        for (i, p) in chunk.iter_mut().enumerate() {
            let at = (start + i) * len;
            *p = enc.g1(&bytes[at..at + len]);
        }
    });
    parsed
        .into_iter()
        .enumerate()
        .map(|(i, p)| p.ok_or_else(|| bad(format!("{what} {i} is not a point of the curve"))))
        .collect()
}

/// A challenge from everything read (Fiat-Shamir: fixed once the file is).
fn challenge(tag: &[u8], n: usize, transcript: &[u8], extra: &[u8]) -> Fr {
    let mut h = Sha512::new();
    h.update(tag);
    h.update((n as u64).to_le_bytes());
    h.update(transcript);
    h.update(extra);
    Fr::from_uniform_bytes(&h.finalize().into())
}

/// `1, ρ, ρ^2, ..` (`n` of them).
fn powers(rho: Fr, n: usize) -> Vec<Fr> {
    let mut out = Vec::with_capacity(n);
    let mut c = Fr::ONE;
    for _ in 0..n {
        out.push(c);
        c *= rho;
    }
    out
}

/// Whether `lagrange` is the Lagrange basis of the powers `g` over halo2's domain
/// of `2^k` points: `L_i = (1/n) Σ_j ω^{-ij} g_j`. Batched: for a challenge ρ,
/// `Σ_i ρ^i L_i = Σ_j c_j g_j` with `c_j = (1/n) Σ_i (ρ ω^{-j})^i = (ρ^n - 1) / (n
/// (ρ ω^{-j} - 1))`; a wrong `L_i` passes only for ρ a root of a nonzero
/// polynomial of degree `< n`.
fn lagrange_of(g: &[G1Affine], lagrange: &[G1Affine], k: u32, transcript: &[u8]) -> bool {
    use halo2_proofs::halo2curves::ff::PrimeField;
    let n = g.len();
    let rho = challenge(b"summa-agg SRS Lagrange check v1", n, transcript, &[]);
    // halo2's ω^{-1} for 2^k points (as `g_to_lagrange` takes it).
    let mut omega_inv = Fr::ROOT_OF_UNITY_INV;
    for _ in k..Fr::S {
        omega_inv = omega_inv.square();
    }
    let r = powers(rho, n);
    let rho_n_minus_1 = rho.pow_vartime([n as u64]) - Fr::ONE;
    let n_fr = Fr::from(n as u64);
    let mut denominators: Vec<Fr> = powers(omega_inv, n)
        .into_iter()
        .map(|w| n_fr * (rho * w - Fr::ONE))
        .collect();
    if denominators.iter().any(|d| bool::from(d.is_zero())) {
        return false;
    }
    ff::BatchInvert::batch_invert(denominators.iter_mut());
    let c: Vec<Fr> = denominators.iter().map(|d| rho_n_minus_1 * d).collect();
    best_multiexp(&r, lagrange) == best_multiexp(&c, g)
}

/// halo2's parameters of `2^k` rows from their parts: the powers `g` (any number
/// of the first ones), the Lagrange points (`None`: computed from `g`; empty: none),
/// `[1]_2` and `[τ]_2`. halo2's `from_parts` builds a new value but borrows an
/// instance for its type: one read once from the generators' bytes (no scalar
/// multiplication, as a user's first check runs it).
pub(crate) fn params_from_parts(
    k: u32,
    g: Vec<G1Affine>,
    lagrange: Option<Vec<G1Affine>>,
    g2: G2Affine,
    s_g2: G2Affine,
) -> ParamsKZG<Bn256> {
    static TEMPLATE: std::sync::OnceLock<ParamsKZG<Bn256>> = std::sync::OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let mut bytes = 0u32.to_le_bytes().to_vec();
        for _ in 0..2 {
            G1Affine::generator()
                .write_raw(&mut bytes)
                .expect("to memory");
        }
        for _ in 0..2 {
            ceremony::g2_generator()
                .write_raw(&mut bytes)
                .expect("to memory");
        }
        ParamsKZG::read_custom(&mut &bytes[..], SerdeFormat::RawBytesUnchecked)
            .expect("the generators' bytes")
    });
    template.from_parts(k, g, lagrange, g2, s_g2)
}

/// The batched pairing check that `g_{i+1} = τ g_i` for every `i`.
fn powers_of_tau(g: &[G1Affine], g2: &G2Affine, s_g2: &G2Affine, transcript: &[u8]) -> bool {
    if g.len() < 2 {
        return true;
    }
    let rho = challenge(
        b"summa-agg SRS powers check v1",
        g.len(),
        transcript,
        s_g2.to_bytes().as_ref(),
    );
    let coeffs = powers(rho, g.len() - 1);
    let a = best_multiexp(&coeffs, &g[..g.len() - 1]).to_affine();
    let b = best_multiexp(&coeffs, &g[1..]).to_affine();
    let (s_g2, g2, minus_b) = (G2Prepared::from(*s_g2), G2Prepared::from(*g2), -b);
    multi_miller_loop(&[(&a, &s_g2), (&minus_b, &g2)]).final_exponentiation() == Gt::identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::poly::commitment::{Params, ParamsProver};
    use halo2_proofs::SerdeFormat;

    fn file(params: &ParamsKZG<Bn256>, format: SerdeFormat) -> Vec<u8> {
        let mut out = Vec::new();
        params.write_custom(&mut out, format).unwrap();
        out
    }

    fn test_params(k: u32) -> ParamsKZG<Bn256> {
        use rand_chacha::rand_core::SeedableRng;
        ParamsKZG::<Bn256>::setup(
            k,
            rand_chacha::ChaCha20Rng::from_seed(ceremony::UNSAFE_TEST_SEED),
        )
    }

    #[test]
    fn the_test_setup_reads_in_both_encodings_only_when_allowed_and_is_cut_to_k() {
        let params = test_params(5);
        for format in [SerdeFormat::RawBytes, SerdeFormat::Processed] {
            let bytes = file(&params, format);
            let e = read(&bytes, 4, false).err().unwrap().to_string();
            assert!(e.contains("UNSAFE TEST SRS"), "{e}");
            let srs = read(&bytes, 4, true).unwrap();
            assert_eq!(srs.setup, Setup::UnsafeTest);
            assert_eq!(srs.params.k(), 4);
            assert_eq!(srs.params.get_g(), &params.get_g()[..16]);
            // The Lagrange points are computed, and equal to a k = 4 setup's.
            let mut small = test_params(5);
            small.downsize(4);
            assert_eq!(
                file(&srs.params, SerdeFormat::Processed),
                file(&small, SerdeFormat::Processed)
            );
            let e = read(&bytes, 6, true).err().unwrap().to_string();
            assert!(e.contains("needs 2^6"), "{e}");
        }
    }

    #[test]
    fn an_unknown_tau_is_refused() {
        use rand_chacha::rand_core::SeedableRng;
        let other = ParamsKZG::<Bn256>::setup(4, rand_chacha::ChaCha20Rng::from_seed([9; 32]));
        let e = read(&file(&other, SerdeFormat::RawBytes), 4, true)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("SRS [τ]_2 is not a known ceremony's"), "{e}");
    }

    #[test]
    fn g1_powers_of_another_tau_under_the_test_tau_are_refused() {
        use rand_chacha::rand_core::SeedableRng;
        // The forger keeps the recognised [τ]_2 and swaps in G1 powers of a τ it knows.
        let honest = test_params(4);
        let forged = ParamsKZG::<Bn256>::setup(4, rand_chacha::ChaCha20Rng::from_seed([9; 32]));
        let mut bytes = file(&forged, SerdeFormat::Processed);
        let tail = file(&honest, SerdeFormat::Processed);
        let n = bytes.len();
        bytes[n - 128..].copy_from_slice(&tail[n - 128..]);
        let e = read(&bytes, 4, true).err().unwrap().to_string();
        assert!(e.contains("not the powers of its [τ]_2"), "{e}");
        // One power changed is enough.
        let mut bytes = file(&honest, SerdeFormat::Processed);
        let p7 = forged.get_g()[7].to_bytes();
        bytes[4 + 7 * 32..4 + 8 * 32].copy_from_slice(p7.as_ref());
        assert!(read(&bytes, 4, true).is_err());
        // A Lagrange point changed: refused where the file's are used (2^k points),
        // ignored where they are computed (a larger file).
        let mut bytes = file(&honest, SerdeFormat::Processed);
        bytes[4 + 17 * 32..4 + 18 * 32].copy_from_slice(p7.as_ref());
        let e = read(&bytes, 4, true).err().unwrap().to_string();
        assert!(
            e.contains("Lagrange points are not those of its powers"),
            "{e}"
        );
        assert!(read(&bytes, 3, true).is_ok());
    }

    #[test]
    fn malformed_files_are_errors() {
        let good = file(&test_params(4), SerdeFormat::RawBytes);
        assert!(read(&[], 4, true)
            .err()
            .unwrap()
            .to_string()
            .contains("empty"));
        assert!(read(&good[..good.len() - 1], 4, true).is_err());
        let mut huge = good.clone();
        huge[..4].copy_from_slice(&40u32.to_le_bytes());
        assert!(read(&huge, 4, true).is_err());
        // A coordinate not below q.
        let mut off = good.clone();
        off[4..36].fill(0xff);
        let e = read(&off, 4, true).err().unwrap().to_string();
        assert!(e.contains("G1 power 0"), "{e}");
    }

    /// Every point has one encoding: the identity's infinity flag beside a nonzero
    /// `x`, or a flag set on a point that is not the identity, is refused
    /// wherever the point is read, in both encodings.
    #[test]
    fn non_canonical_encodings_are_refused() {
        use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
        let p = G1Affine::generator();
        for enc in [Encoding::Raw, Encoding::Compressed] {
            let canonical = enc.encode(&p);
            assert_eq!(enc.g1(&canonical), Some(p));
            let identity = enc.encode(&G1Affine::identity());
            assert_eq!(enc.g1(&identity), Some(G1Affine::identity()));
            // Each of the top two bits of the last byte (halo2curves' flags: the
            // sign of y and infinity), on the generator and on the identity with
            // x = 1. On G the sign flag gives -G, whose encoding it is; the
            // infinity flag beside G's x is refused.
            let mut refused = 0;
            for flag in [0x40u8, 0x80] {
                let mut b = canonical.clone();
                *b.last_mut().unwrap() |= flag;
                match enc.g1(&b) {
                    None => refused += 1,
                    Some(q) => assert_eq!(q, -p, "{enc:?} flag {flag:#x} on G"),
                }
                let mut b = identity.clone();
                b[0] = 1;
                *b.last_mut().unwrap() |= flag;
                assert_eq!(enc.g1(&b), None, "{enc:?} flag {flag:#x}, x = 1");
            }
            assert!(refused >= 1, "{enc:?}: no flag refused on G");
        }
        let g2 = ceremony::g2_generator();
        for enc in [Encoding::Raw, Encoding::Compressed] {
            let canonical = enc.encode(&g2);
            assert_eq!(enc.g2(&canonical), Some(g2));
            let mut refused = 0;
            for flag in [0x40u8, 0x80] {
                let mut b = canonical.clone();
                *b.last_mut().unwrap() |= flag;
                match enc.g2(&b) {
                    None => refused += 1,
                    Some(q) => assert_eq!(q, -g2, "{enc:?} G2 flag {flag:#x}"),
                }
            }
            assert!(refused >= 1, "{enc:?}: no flag refused on G2");
        }
    }
}
