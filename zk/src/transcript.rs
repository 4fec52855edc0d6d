//! The proof's Fiat-Shamir transcript: Keccak-256 in the layout the EVM verifier
//! reads, so that one proof file is accepted by the command line, the WebAssembly
//! module and the Solidity verifier generated from the circuit
//! (`contracts/generated/`, by snark-verifier's EVM loader).
//!
//! The layout (snark-verifier's `EvmTranscript`, which the generated contract
//! implements in assembly):
//! - a scalar is 32 bytes, big-endian; a point is its affine `x` then `y`, each 32
//!   bytes big-endian. What the prover writes to the proof is also absorbed.
//! - a challenge is `keccak256(absorbed)` read big-endian and reduced modulo the
//!   scalar field's order; the hash then becomes the whole absorbed state. When
//!   nothing was absorbed since the last challenge (the state is only that hash),
//!   a byte `0x01` is appended first, so that two challenges in a row differ.
//!
//! Reading is strict: a coordinate or scalar that is not the canonical encoding
//! (not below the modulus), a point not on the curve and the point at infinity
//! (which has no affine coordinates, and which the EVM verifier refuses too) are
//! errors. Tests check this transcript against snark-verifier's, byte for byte
//! (`zk/src/evm.rs`, feature `evm`).

use std::io::{self, Read, Write};
use std::marker::PhantomData;

use ff::{FromUniformBytes, PrimeField};
use halo2_proofs::halo2curves::bn256::{Fq, Fr, G1Affine};
use halo2_proofs::halo2curves::group::prime::PrimeCurveAffine;
use halo2_proofs::halo2curves::{Coordinates, CurveAffine};
use halo2_proofs::transcript::{
    EncodedChallenge, Transcript, TranscriptRead, TranscriptReadBuffer, TranscriptWrite,
    TranscriptWriterBuffer,
};
use sha3::{Digest, Keccak256};

/// A challenge: the Keccak-256 hash, big-endian, reduced modulo the scalar field.
#[derive(Debug)]
pub struct ChallengeKeccak(Fr);

impl EncodedChallenge<G1Affine> for ChallengeKeccak {
    type Input = [u8; 32];

    fn new(hash: &[u8; 32]) -> Self {
        // from_uniform_bytes reduces a 512-bit little-endian integer: the hash,
        // reversed, in its low half.
        let mut wide = [0u8; 64];
        for (w, h) in wide.iter_mut().zip(hash.iter().rev()) {
            *w = *h;
        }
        ChallengeKeccak(Fr::from_uniform_bytes(&wide))
    }

    fn get_scalar(&self) -> Fr {
        self.0
    }
}

/// The Keccak transcript over a reader (verifying) or a writer (proving).
pub struct KeccakTranscript<S> {
    stream: S,
    absorbed: Vec<u8>,
    _curve: PhantomData<G1Affine>,
}

impl<S> KeccakTranscript<S> {
    /// A transcript with nothing absorbed.
    pub fn new(stream: S) -> Self {
        KeccakTranscript {
            stream,
            absorbed: Vec::new(),
            _curve: PhantomData,
        }
    }
}

fn be32(repr: impl AsRef<[u8]>) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(repr.as_ref());
    out.reverse();
    out
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// The big-endian bytes of a point's affine coordinates. The point at infinity is
/// an error: halo2curves would write it as `(0, 0)`, which the EVM verifier refuses
/// (it is not on the curve `y^2 = x^3 + 3`).
fn point_bytes(point: &G1Affine) -> io::Result<[u8; 64]> {
    let c: Option<Coordinates<G1Affine>> = point.coordinates().into();
    let c = c
        .filter(|_| !bool::from(point.is_identity()))
        .ok_or_else(|| invalid("the point at infinity is not allowed in a proof"))?;
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&be32(c.x().to_repr()));
    out[32..].copy_from_slice(&be32(c.y().to_repr()));
    Ok(out)
}

impl<S> Transcript<G1Affine, ChallengeKeccak> for KeccakTranscript<S> {
    fn squeeze_challenge(&mut self) -> ChallengeKeccak {
        if self.absorbed.len() == 32 {
            self.absorbed.push(1);
        }
        let hash: [u8; 32] = Keccak256::digest(&self.absorbed).into();
        self.absorbed = hash.to_vec();
        ChallengeKeccak::new(&hash)
    }

    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.absorbed.extend_from_slice(&point_bytes(&point)?);
        Ok(())
    }

    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.absorbed.extend_from_slice(&be32(scalar.to_repr()));
        Ok(())
    }
}

impl<R: Read> TranscriptRead<G1Affine, ChallengeKeccak> for KeccakTranscript<R> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let mut xy = [[0u8; 32]; 2];
        for half in &mut xy {
            self.stream.read_exact(half)?;
            half.reverse();
        }
        let x: Option<Fq> = Fq::from_repr(xy[0]).into();
        let y: Option<Fq> = Fq::from_repr(xy[1]).into();
        let (x, y) = x
            .zip(y)
            .ok_or_else(|| invalid("a point's coordinate is not below the field modulus"))?;
        let point: G1Affine = Option::from(G1Affine::from_xy(x, y))
            .ok_or_else(|| invalid("a point of the proof is not on the curve"))?;
        self.common_point(point)?;
        Ok(point)
    }

    fn read_scalar(&mut self) -> io::Result<Fr> {
        let mut bytes = [0u8; 32];
        self.stream.read_exact(&mut bytes)?;
        bytes.reverse();
        let scalar: Fr = Option::from(Fr::from_repr(bytes))
            .ok_or_else(|| invalid("a scalar of the proof is not below the field order"))?;
        self.common_scalar(scalar)?;
        Ok(scalar)
    }
}

impl<R: Read> TranscriptReadBuffer<R, G1Affine, ChallengeKeccak> for KeccakTranscript<R> {
    fn init(reader: R) -> Self {
        KeccakTranscript::new(reader)
    }
}

impl<W: Write> TranscriptWrite<G1Affine, ChallengeKeccak> for KeccakTranscript<W> {
    fn write_point(&mut self, point: G1Affine) -> io::Result<()> {
        let bytes = point_bytes(&point)?;
        self.common_point(point)?;
        self.stream.write_all(&bytes)
    }

    fn write_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.common_scalar(scalar)?;
        self.stream.write_all(&be32(scalar.to_repr()))
    }
}

impl<W: Write> TranscriptWriterBuffer<W, G1Affine, ChallengeKeccak> for KeccakTranscript<W> {
    fn init(writer: W) -> Self {
        KeccakTranscript::new(writer)
    }

    fn finalize(self) -> W {
        self.stream
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_challenges_in_a_row_differ_and_a_challenge_is_the_hash_mod_r() {
        let mut t = KeccakTranscript::new(Vec::<u8>::new());
        let a = t.squeeze_challenge().get_scalar();
        let b = t.squeeze_challenge().get_scalar();
        assert_ne!(a, b);
        // The first challenge hashes nothing; keccak256("") is
        // c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470.
        let expected = ChallengeKeccak::new(
            &hex::decode("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
                .unwrap()
                .try_into()
                .unwrap(),
        );
        assert_eq!(a, expected.get_scalar());
    }

    #[test]
    fn points_and_scalars_round_trip_and_bad_encodings_are_refused() {
        let g = G1Affine::generator();
        let s = Fr::from(12345u64);
        let mut w = KeccakTranscript::new(Vec::new());
        w.write_point(g).unwrap();
        w.write_scalar(s).unwrap();
        let c1 = w.squeeze_challenge().get_scalar();
        let bytes = w.finalize();
        assert_eq!(bytes.len(), 96);
        // G1's generator is (1, 2).
        assert_eq!(bytes[31], 1);
        assert_eq!(bytes[63], 2);
        let mut r = KeccakTranscript::new(&bytes[..]);
        assert_eq!(r.read_point().unwrap(), g);
        assert_eq!(r.read_scalar().unwrap(), s);
        assert_eq!(r.squeeze_challenge().get_scalar(), c1);

        // The point at infinity, as (0, 0), and a point off the curve.
        for (x, y) in [(0u8, 0u8), (1, 3)] {
            let mut p = [0u8; 64];
            p[31] = x;
            p[63] = y;
            assert!(KeccakTranscript::new(&p[..]).read_point().is_err());
        }
        assert!(KeccakTranscript::new(Vec::new())
            .write_point(G1Affine::identity())
            .is_err());
        // A scalar at the field's order is not canonical.
        let order = hex::decode("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")
            .unwrap();
        assert!(KeccakTranscript::new(&order[..]).read_scalar().is_err());
        // A coordinate at the base field's modulus.
        let mut p = hex::decode("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47")
            .unwrap();
        p.extend_from_slice(&[0u8; 32]);
        assert!(KeccakTranscript::new(&p[..]).read_point().is_err());
    }
}
