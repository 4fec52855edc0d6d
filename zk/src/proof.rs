//! A user's zero-knowledge inclusion proof: the file the user receives, and how the
//! custodian makes it.
//!
//! The file carries the proof bytes, the shape, the user's own entry (so that the
//! user can recompute the leaf hash) and, for people to read, the public inputs it
//! was made for; nothing about any other user: the Merkle path stays in the prover
//! as the circuit's private witness. A verifier takes nothing from it but the entry
//! and the proof bytes (see [`crate::verifier`]).

use serde::{Deserialize, Serialize};
use summa_agg::proof::EntryJson;
use summa_agg::shard::Currency;

use crate::shape::Shape;

/// The `kind` of a ZK proof file (version 2: the totals are public inputs; version 3:
/// the Keccak transcript, one proof for the command line, the WebAssembly module and
/// the EVM; version 4: the labels' digest, `labels_digest`; version 5: the circuit
/// with shared output rows, base-4 range checks and compressed selectors, whose keys
/// differ from version 4's).
pub const ZK_PROOF_KIND: &str = "summa-agg zk inclusion proof/5";

/// The public inputs, in the circuit's order, as the prover used them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicInputs {
    /// The user's leaf hash (`0x` + 64 hex digits).
    pub leaf_hash: String,
    /// The round's root hash.
    pub root_hash: String,
    /// The round's per-currency totals (the root's balances), decimal.
    pub totals: Vec<String>,
}

/// A ZK inclusion proof file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZkProof {
    /// [`ZK_PROOF_KIND`].
    pub kind: String,
    /// Present, and first, when the proof was made with the unsafe test SRS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The circuit's shape.
    pub shape: Shape,
    /// The round's currencies (labels of the entry's balances).
    pub currencies: Vec<Currency>,
    /// The digest of those labels (`summa_agg::json::labels_digest_hex`), as the
    /// round's `result.json` and on-chain record carry it: the verifier refuses a
    /// published round whose labels are not the ones this proof was made for.
    pub labels_digest: String,
    /// The user's own entry.
    pub entry: EntryJson,
    /// The public inputs the proof was made for.
    pub public_inputs: PublicInputs,
    /// The halo2 proof (SHPLONK over KZG, BN254; the Keccak transcript that the EVM
    /// verifier reads, [`crate::transcript`]), `0x` + hex.
    pub proof: String,
}

#[cfg(feature = "prover")]
pub use prover::{prove, prove_raw};

#[cfg(feature = "prover")]
mod prover {
    use halo2_proofs::halo2curves::bn256::Bn256;
    use halo2_proofs::plonk::create_proof;
    use halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
    use halo2_proofs::poly::kzg::multiopen::ProverSHPLONK;
    use halo2_proofs::transcript::TranscriptWriterBuffer;
    use rand_core::OsRng;
    use summa_agg::field::to_hex;
    use summa_agg::proof::Proof as MerkleProof;
    use summa_agg::Fr;

    use super::{PublicInputs, ZkProof, ZK_PROOF_KIND};
    use crate::circuit::InclusionCircuit;
    use crate::convert::{to_circuit, to_decimal};
    use crate::keys::{Keys, UNSAFE_TEST_SRS_WARNING};
    use crate::shape::Shape;
    use crate::transcript::KeccakTranscript;
    use crate::witness::Witness;
    use crate::{Error, Result};

    /// Proves the inclusion of the user of `merkle` (the custodian's own Merkle
    /// proof, from `summa_agg::proof::generate`) with the keys of its shape.
    pub fn prove(keys: &Keys, merkle: &MerkleProof) -> Result<ZkProof> {
        let (shape, witness) = Witness::from_merkle_proof(merkle)?;
        let (bytes, public) = prove_raw(keys, shape, witness)?;
        Ok(ZkProof {
            kind: ZK_PROOF_KIND.into(),
            warning: keys
                .is_unsafe_test()
                .then(|| UNSAFE_TEST_SRS_WARNING.to_string()),
            shape,
            currencies: merkle.currencies.clone(),
            labels_digest: summa_agg::json::labels_digest_hex(&merkle.currencies),
            entry: merkle.entry.clone(),
            public_inputs: PublicInputs {
                leaf_hash: to_hex(&public[0]),
                root_hash: to_hex(&public[1]),
                totals: public[2..].iter().map(to_decimal).collect(),
            },
            proof: format!("0x{}", hex::encode(bytes)),
        })
    }

    /// Proves a witness of `shape`: the proof bytes and the public inputs
    /// (`[leaf_hash, root_hash, totals..]`).
    pub fn prove_raw(keys: &Keys, shape: Shape, witness: Witness) -> Result<(Vec<u8>, Vec<Fr>)> {
        if shape != keys.meta.shape {
            return Err(Error::Shape(format!(
                "the keys are for shape {}, this round has shape {}",
                keys.meta.shape.id(),
                shape.id()
            )));
        }
        let public = witness.public_inputs(shape.layout);
        let instance: Vec<_> = public.iter().map(to_circuit).collect();
        let circuit = InclusionCircuit::new(shape, witness)?;
        let mut transcript = KeccakTranscript::init(Vec::new());
        create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
            &keys.params,
            &keys.pk,
            &[circuit],
            &[&[&instance[..]]],
            OsRng,
            &mut transcript,
        )?;
        Ok((transcript.finalize(), public))
    }
}
