//! A user's zero-knowledge inclusion proof: what the user receives, and its check.
//!
//! The file carries the public inputs, the proof bytes, the shape and the user's own
//! entry (so that the user can recompute the leaf hash), and nothing about any other
//! user: the Merkle path stays in the prover as the circuit's private witness.

use halo2_proofs::halo2curves::bn256::{Bn256, Fr as CircuitFr, G1Affine};
use halo2_proofs::plonk::{create_proof, verify_proof};
use halo2_proofs::poly::kzg::commitment::KZGCommitmentScheme;
use halo2_proofs::poly::kzg::multiopen::{ProverSHPLONK, VerifierSHPLONK};
use halo2_proofs::poly::kzg::strategy::SingleStrategy;
use halo2_proofs::transcript::{
    Blake2bRead, Blake2bWrite, Challenge255, TranscriptReadBuffer, TranscriptWriterBuffer,
};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};
use summa_agg::field::{bound, parse_decimal, to_hex, u256_to_fr, U256};
use summa_agg::json::parse_fr;
use summa_agg::proof::{EntryJson, Proof as MerkleProof};
use summa_agg::shard::Currency;
use summa_agg::{poseidon, Fr};

use crate::circuit::InclusionCircuit;
use crate::convert::to_circuit;
use crate::keys::{Keys, UNSAFE_TEST_SRS_WARNING};
use crate::shape::Shape;
use crate::witness::Witness;
use crate::{Error, Result};

/// The `kind` of a ZK proof file.
pub const ZK_PROOF_KIND: &str = "summa-agg zk inclusion proof";

/// The longest proof accepted (a real one is under 2 KiB).
const MAX_PROOF_BYTES: usize = 64 * 1024;

/// The public inputs, in the circuit's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicInputs {
    /// The user's leaf hash (`0x` + 64 hex digits).
    pub leaf_hash: String,
    /// The round's root hash.
    pub root_hash: String,
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
    /// The user's own entry.
    pub entry: EntryJson,
    /// `[leaf_hash, root_hash]`.
    pub public_inputs: PublicInputs,
    /// The halo2 proof (SHPLONK over KZG, BN254; Blake2b transcript), `0x` + hex.
    pub proof: String,
}

impl ZkProof {
    /// Whether this is a ZK proof file (rather than a Merkle proof) by its `kind`.
    pub fn looks_like(json: &serde_json::Value) -> bool {
        json.get("kind").and_then(|k| k.as_str()) == Some(ZK_PROOF_KIND)
    }
}

/// Proves the inclusion of the user of `merkle` (the custodian's own Merkle proof,
/// from `summa_agg::proof::generate`) with keys loaded for proving.
pub fn prove(keys: &Keys, merkle: &MerkleProof) -> Result<ZkProof> {
    let (shape, witness) = Witness::from_merkle_proof(merkle)?;
    let (bytes, [leaf, root]) = prove_raw(keys, shape, witness)?;
    Ok(ZkProof {
        kind: ZK_PROOF_KIND.into(),
        warning: keys
            .is_unsafe_test()
            .then(|| UNSAFE_TEST_SRS_WARNING.to_string()),
        shape,
        currencies: merkle.currencies.clone(),
        entry: merkle.entry.clone(),
        public_inputs: PublicInputs {
            leaf_hash: to_hex(&leaf),
            root_hash: to_hex(&root),
        },
        proof: format!("0x{}", hex::encode(bytes)),
    })
}

/// Proves a witness of `shape`: the proof bytes and the public inputs
/// `[leaf_hash, root_hash]`.
pub fn prove_raw(keys: &Keys, shape: Shape, witness: Witness) -> Result<(Vec<u8>, [Fr; 2])> {
    let (params, pk) = keys
        .prover
        .as_ref()
        .ok_or_else(|| Error::Keys("the keys were loaded for verifying only (no pk.bin)".into()))?;
    if shape != keys.meta.shape {
        return Err(Error::Shape(format!(
            "the keys are for shape {}, this round has shape {}",
            keys.meta.shape.id(),
            shape.id()
        )));
    }
    let public = witness.public_inputs(shape.layout);
    let instance = public.map(|f| to_circuit(&f));
    let circuit = InclusionCircuit::new(shape, witness)?;
    let mut transcript = Blake2bWrite::<_, G1Affine, Challenge255<_>>::init(vec![]);
    create_proof::<KZGCommitmentScheme<Bn256>, ProverSHPLONK<'_, Bn256>, _, _, _, _>(
        params,
        pk,
        &[circuit],
        &[&[&instance[..]]],
        OsRng,
        &mut transcript,
    )?;
    Ok((transcript.finalize(), public))
}

/// Verifies proof bytes for the public inputs `[leaf, root]` with the keys'
/// verifying key.
pub fn verify_raw(keys: &Keys, bytes: &[u8], leaf: &Fr, root: &Fr) -> Result<()> {
    if bytes.len() > MAX_PROOF_BYTES {
        return Err(Error::Proof(format!(
            "a proof of {} bytes is too long",
            bytes.len()
        )));
    }
    let instance: [CircuitFr; 2] = [to_circuit(leaf), to_circuit(root)];
    let mut transcript = Blake2bRead::<_, G1Affine, Challenge255<_>>::init(bytes);
    let strategy = SingleStrategy::new(&keys.verifier_params);
    verify_proof::<KZGCommitmentScheme<Bn256>, VerifierSHPLONK<'_, Bn256>, _, _, _>(
        &keys.verifier_params,
        &keys.vk,
        strategy,
        &[&[&instance[..]]],
        &mut transcript,
    )
    .map_err(|e| Error::Proof(format!("the zero-knowledge proof does not verify ({e:?})")))
}

/// What a verified proof established.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The user's leaf hash.
    pub leaf_hash: Fr,
    /// The root it is included in.
    pub root_hash: Fr,
    /// Whether the keys sit on the unsafe test SRS (the proof then proves nothing).
    pub unsafe_test_srs: bool,
}

/// Checks a ZK proof against the custodian's published keys and root: the entry
/// hashes to the public leaf, the public root is `expected_root`, the shape is the
/// keys' and the halo2 proof verifies with the verifying key.
pub fn verify(keys: &Keys, proof: &ZkProof, expected_root: &Fr) -> Result<Verified> {
    let fail = |m: String| Error::Proof(m);
    if proof.kind != ZK_PROOF_KIND {
        return Err(fail(format!("not a ZK proof (kind {:?})", proof.kind)));
    }
    if proof.shape != keys.meta.shape {
        return Err(fail(format!(
            "the proof has shape {}, the keys are for shape {}",
            proof.shape.id(),
            keys.meta.shape.id()
        )));
    }
    let shape = proof.shape;
    if proof.currencies.len() != shape.currencies || proof.entry.balances.len() != shape.currencies
    {
        return Err(fail(format!(
            "the entry must have {} balances, one per currency",
            shape.currencies
        )));
    }
    let limit = bound(shape.n_bytes);
    let balances = proof
        .entry
        .balances
        .iter()
        .map(|b| {
            let v = parse_decimal(b.as_bytes()).map_err(|p| fail(format!("entry: {p}")))?;
            if v >= limit {
                return Err(fail(format!(
                    "entry: balance {b} is out of range for n_bytes = {}",
                    shape.n_bytes
                )));
            }
            Ok(v)
        })
        .collect::<Result<Vec<U256>>>()?;
    let mut pre = vec![shape.layout.username_fe(proof.entry.username.as_bytes())];
    pre.extend(balances.iter().map(u256_to_fr));
    let leaf = poseidon::hash(&pre);
    let public_leaf = parse_fr(&proof.public_inputs.leaf_hash, "public leaf hash")?;
    let public_root = parse_fr(&proof.public_inputs.root_hash, "public root hash")?;
    if leaf != public_leaf {
        return Err(fail(format!(
            "the entry hashes to {}, not to the proof's leaf {}",
            to_hex(&leaf),
            proof.public_inputs.leaf_hash
        )));
    }
    if public_root != *expected_root {
        return Err(fail(format!(
            "the proof is for root {}, not the expected root {}",
            proof.public_inputs.root_hash,
            to_hex(expected_root)
        )));
    }
    let bytes = proof
        .proof
        .strip_prefix("0x")
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| fail("the proof bytes are not 0x-prefixed hex".into()))?;
    verify_raw(keys, &bytes, &leaf, expected_root)?;
    Ok(Verified {
        leaf_hash: leaf,
        root_hash: *expected_root,
        unsafe_test_srs: keys.is_unsafe_test(),
    })
}
