//! The setups a verifier trusts: public powers-of-tau ceremonies, pinned here by
//! their `[τ]_2`, and the unsafe test setup, recognised by its `[τ]_2` (never by a
//! label in a file).
//!
//! Why `[τ]_2` is enough: a KZG verifier checks openings with the pairing
//! `e(π, [τ]_2) = e(C - [v]_1 + z π, [1]_2)`; given the generators, `[τ]_2` fixes τ,
//! and [`crate::srs`] checks that the G1 powers of an SRS file are the powers of that
//! same τ (a batched pairing check). So an SRS file accepted here is the ceremony's,
//! whoever hands it over, and nobody who does not know τ can forge a proof against
//! keys derived from it. Every file of one ceremony (any number of points, any
//! conversion to halo2's format) shares one τ, hence one `[τ]_2`.

use halo2_proofs::halo2curves::bn256::{Fq, Fq2, G2Affine};
use halo2_proofs::halo2curves::ff::PrimeField;
use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_proofs::halo2curves::CurveAffine;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

/// The seed of the unsafe test setup (public: that is what makes it unsafe).
pub(crate) const UNSAFE_TEST_SEED: [u8; 32] = *b"summa-agg UNSAFE TEST SRS seed!!";

/// A public ceremony whose setup the verifier accepts.
#[derive(Debug, PartialEq, Eq)]
pub struct Ceremony {
    /// A short name, shown to users (e.g. in `verify`'s report).
    pub name: &'static str,
    /// Where the pinned value was read (repository, file, commit).
    pub source: &'static str,
    /// `[τ]_2` as `[x.c0, x.c1, y.c0, y.c1]`: big-endian hex of the base-field
    /// coordinates, `x = x.c0 + x.c1·u` over `Fq2 = Fq[u]/(u^2 + 1)`.
    pub s_g2: [&'static str; 4],
}

/// The pinned ceremonies. Each value was decoded from a ceremony file (halo2's raw
/// `ParamsKZG` layout: `[τ]_2` is its last 128 bytes, coordinates as Montgomery
/// limbs) or read from generated verifier code, in at least two independent
/// sources; Solidity verifiers embed `-[τ]_2` in EIP-197 order `(x.c1, x.c0, y.c1,
/// y.c0)`, here turned back into `[τ]_2` itself.
pub const CEREMONIES: &[Ceremony] = &[
    Ceremony {
        name: "Hermez powers of tau (powersOfTau28_hez_final)",
        source: "halo2-kzg-srs `hermez-raw-<k>`: summa-dev/summa-solvency@23587adc backend/ptau/hermez-raw-11 (decoded) and contracts/src/InclusionVerifier.sol:230-237 (-[τ]_2); 0xPolygonHermez/zkevm-contracts@98118c56 contracts/verifiers/FflonkVerifier.sol (X2, snarkjs)",
        s_g2: [
            "30441fd1b5d3370482c42152a8899027716989a6996c2535bc9f7fee8aaef79e",
            "26186a2d65ee4d2f9c9a5b91f86597d35f192cd120caf7e935d8443d1938e23d",
            "054793348f12c0cf5622c340573cb277586319de359ab9389778f689786b1e48",
            "1970ea81dd6992adfbc571effb03503adbbb6a857f578403c6c40e22d65b3c02",
        ],
    },
    Ceremony {
        name: "Perpetual Powers of Tau, response 0071",
        source: "halo2-kzg-srs `perpetual-powers-of-tau-raw-<k>` (han0110/halo2-kzg-srs@d6929c74 README.md:79-81); zkonduit/ezkl@5da444ee tests/assets/kzg1.srs (decoded); axiom-crypto/axiom-v1-contracts@eb9a561c snark-verifiers/v0/mainnet_17_7.v0.yul:1662-1665 (-[τ]_2)",
        s_g2: [
            "17944351223333f260ddc3b4af45191b856689eda9eab5cbcddbbe570ce860d2",
            "186282957db913abd99f91db59fe69922e95040603ef44c0bd7aa3adeef8f5ac",
            "297772d34bc9aa8ae56162486363ffe417b02dc7e8c207fc2cc20203e67a02ad",
            "298adc7396bd3865cbf6d6df91bae406694e6d2215baa893bdeadb63052895f4",
        ],
    },
    Ceremony {
        name: "Perpetual Powers of Tau, challenge 0085",
        source: "Axiom `kzg_bn254_<k>.srs` (axiom-crypto/axiom-docs@17a21de9 docs/docs/transparency-and-security/kzg-trusted-setup.md:11-13); Layr-Labs/rust-kzg-bn254@7699464d primitives/src/consts.rs:54-63 (G2_TAU); openvm-org/openvm-solidity-sdk@7449accf src/v2.0-base/Halo2Verifier.sol:2116-2119 and axiom-crypto/axiom-v2-contracts@5514752e AxiomV2QueryVerifier.v0.14.sol:1553-1556 (-[τ]_2)",
        s_g2: [
            "2ae0c8c3a090f7200ff398ee9845bbae8f8c1445ae7b632212775f60a0e21600",
            "172aa93c41f16e1e04d62ac976a5d945f4be0acab990c6dc19ac4a7cf68bf77b",
            "1459fe6cc8a1222fd4290864ff9e47d4b8cf7a403593c7107c39538ddefd857e",
            "1754a9fc3b7e4da9197c283c7401773208190c5555caf254e644e99c29366704",
        ],
    },
    Ceremony {
        name: "Perpetual Powers of Tau, challenge 0078",
        source: "Axiom's earlier `kzg_bn254_<k>.srs`: zkmove/halo2-verifier.move@76d44b77 crates/vk-gen-examples/params/kzg_bn254_12.srs (decoded); axiom-crypto/axiom-v1-contracts@eb9a561c snark-verifiers/mainnet_17_7.v1.yul:1656-1659 and axiom-v2-contracts AxiomV2QueryVerifier.v0.11.sol:1553-1556 (-[τ]_2)",
        s_g2: [
            "0a3bb881671ee4e9238366e87f6598f0de356372ed3dc870766ec8ac005211e4",
            "138d5863615c12d3bd7d3fd007776d281a337f9d7f6dce23532100bb4bb5839d",
            "16d9732ec918dc029687b96352b01dfff595b305e31a7d81c8f9b32fe3bb1aed",
            "169a76991a49f2fc1e42ed6e95a431d5d118d6f7484c76ae69aa7ed81fa107ee",
        ],
    },
];

/// What an SRS's `[τ]_2` was recognised as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    /// A pinned public ceremony.
    Ceremony(&'static Ceremony),
    /// The unsafe test setup: its τ is derived from a public seed, so anyone can
    /// forge proofs against it.
    UnsafeTest,
}

impl Setup {
    /// A name for people: the ceremony's, or `UNSAFE TEST SRS`.
    pub fn name(&self) -> &'static str {
        match self {
            Setup::Ceremony(c) => c.name,
            Setup::UnsafeTest => "UNSAFE TEST SRS",
        }
    }

    /// Whether this is the unsafe test setup.
    pub fn is_unsafe_test(&self) -> bool {
        matches!(self, Setup::UnsafeTest)
    }
}

fn fq(hex_be: &str) -> Option<Fq> {
    let digits = hex_be.trim_start_matches("0x");
    let mut be = hex::decode(format!("{digits:0>64}")).ok()?;
    if be.len() != 32 {
        return None;
    }
    be.reverse();
    let mut repr = <Fq as PrimeField>::Repr::default();
    repr.as_mut().copy_from_slice(&be);
    Option::from(Fq::from_repr(repr))
}

impl Ceremony {
    /// The pinned `[τ]_2` as a point, if it is a point of G2's prime-order subgroup.
    pub fn s_g2(&self) -> Option<G2Affine> {
        let [a, b, c, d] = self.s_g2.map(fq);
        let p = G2Affine {
            x: Fq2 { c0: a?, c1: b? },
            y: Fq2 { c0: c?, c1: d? },
        };
        (bool::from(p.is_on_curve()) && in_g2_subgroup(&p)).then_some(p)
    }
}

/// Whether a G2 point lies in the prime-order subgroup: `[r] P = O`.
fn in_g2_subgroup(p: &G2Affine) -> bool {
    use halo2_proofs::halo2curves::bn256::Fr;
    use halo2_proofs::halo2curves::group::Group;
    // r - 1 is a scalar; [r] P = [r - 1] P + P.
    let r_minus_1 = -Fr::one();
    bool::from((p.to_curve() * r_minus_1 + p.to_curve()).is_identity())
}

/// `[τ]_2` of the unsafe test setup (what `ParamsKZG::setup` draws from the seed:
/// τ is its first draw, so it is the same for every `k`).
pub fn unsafe_test_s_g2() -> G2Affine {
    use halo2_proofs::halo2curves::bn256::Fr;
    use halo2_proofs::halo2curves::ff::Field;
    // τ is the seeded generator's first draw, as `ParamsKZG::setup` draws it (tested
    // against it below): one multiplication instead of a whole setup.
    let tau = Fr::random(ChaCha20Rng::from_seed(UNSAFE_TEST_SEED));
    (G2Affine::generator() * tau).into()
}

/// The setup whose `[τ]_2` this is, if any.
pub fn identify(s_g2: &G2Affine) -> Option<Setup> {
    if let Some(c) = CEREMONIES.iter().find(|c| c.s_g2().as_ref() == Some(s_g2)) {
        return Some(Setup::Ceremony(c));
    }
    (*s_g2 == unsafe_test_s_g2()).then_some(Setup::UnsafeTest)
}

/// The G2 generator, as every ceremony and halo2 use it.
pub fn g2_generator() -> G2Affine {
    G2Affine::generator()
}

#[cfg(test)]
mod tests {
    use super::*;
    use halo2_proofs::halo2curves::bn256::Bn256;
    use halo2_proofs::poly::kzg::commitment::ParamsKZG;

    #[test]
    fn every_pinned_value_is_a_g2_point_of_the_subgroup_and_none_is_the_generator() {
        for c in CEREMONIES {
            let p = c
                .s_g2()
                .unwrap_or_else(|| panic!("{}: not a G2 point", c.name));
            assert_ne!(p, g2_generator(), "{}", c.name);
            assert_eq!(identify(&p), Some(Setup::Ceremony(c)));
        }
    }

    #[test]
    fn the_test_setup_is_recognised_by_its_tau_and_is_no_ceremony() {
        let s = unsafe_test_s_g2();
        assert_eq!(
            s,
            ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::from_seed(UNSAFE_TEST_SEED)).s_g2()
        );
        assert_eq!(identify(&s), Some(Setup::UnsafeTest));
        assert!(CEREMONIES.iter().all(|c| c.s_g2() != Some(s)));
        // Any other τ is unknown.
        let other = ParamsKZG::<Bn256>::setup(1, ChaCha20Rng::from_seed([7; 32])).s_g2();
        assert_eq!(identify(&other), None);
        assert_eq!(identify(&g2_generator()), None);
    }

    #[test]
    fn the_generator_passes_the_subgroup_check_and_an_off_curve_value_is_refused() {
        assert!(in_g2_subgroup(&g2_generator()));
        let bad = Ceremony {
            name: "bad",
            source: "",
            s_g2: ["1", "2", "3", "4"],
        };
        assert_eq!(bad.s_g2(), None);
    }
}
