//! Keys on the unsafe test SRS, real proofs of users of a multi-shard round, and the
//! verifier's checks.

mod common;

use std::collections::HashSet;

use common::{Round, SHARDS};
use summa_agg::field::from_hex;
use summa_agg::Layout;
use summa_agg_zk::keys::{Keys, SrsSource};
use summa_agg_zk::{prove, verify, Error, Shape, ZkProof, UNSAFE_TEST_SRS_WARNING};

fn keys_for(shape: Shape) -> (tempfile::TempDir, Keys) {
    let dir = tempfile::tempdir().unwrap();
    let mut keys = Keys::generate(shape, &SrsSource::UnsafeTest).unwrap();
    keys.write(dir.path()).unwrap();
    (dir, keys)
}

/// Every string in a JSON value except the proof bytes.
fn strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        serde_json::Value::Object(o) => o
            .iter()
            .filter(|(k, _)| k.as_str() != "proof")
            .for_each(|(_, x)| strings(x, out)),
        _ => {}
    }
}

#[test]
fn real_proofs_verify_and_tampering_is_rejected() {
    let round = Round::run(&SHARDS, Layout::V1);
    let users = Round::users(&SHARDS);
    let merkle = round.merkle_proof(&users[5]);
    let shape = Shape {
        layout: Layout::V1,
        depth: merkle.depth,
        currencies: 2,
        n_bytes: 14,
    };
    let (dir, _) = keys_for(shape);
    let prover = Keys::load(dir.path(), true).unwrap();
    let verifier = Keys::load(dir.path(), false).unwrap();
    assert!(verifier.prover.is_none());
    let root = from_hex(&merkle.root.hash).unwrap();

    let mut proofs = Vec::new();
    for user in [&users[5], &users[40]] {
        let p = prove(&prover, &round.merkle_proof(user)).unwrap();
        assert_eq!(p.warning.as_deref(), Some(UNSAFE_TEST_SRS_WARNING));
        let ok = verify(&verifier, &p, &root).unwrap();
        assert!(ok.unsafe_test_srs);
        assert_eq!(
            ok.leaf_hash,
            from_hex(&round.merkle_proof(user).leaf.hash).unwrap()
        );
        // Through JSON, as a user receives it.
        let text = serde_json::to_string(&p).unwrap();
        let back: ZkProof = serde_json::from_str(&text).unwrap();
        verify(&verifier, &back, &root).unwrap();
        proofs.push((user.clone(), p, text));
    }
    let (_, p, text) = &proofs[0];

    // Nothing about another user: no other username, no balance of theirs, no hash
    // of a sibling (the Merkle path stays with the prover).
    let mut said = Vec::new();
    strings(&serde_json::from_str(text).unwrap(), &mut said);
    let own: HashSet<&String> = p.entry.balances.iter().collect();
    for other in &users {
        if *other == users[5] {
            continue;
        }
        let theirs = round.merkle_proof(other).entry;
        assert!(!said.contains(&theirs.username), "{other}'s name");
        for b in theirs.balances.iter().filter(|b| !own.contains(b)) {
            assert!(!said.contains(b), "{other}'s balance {b}");
        }
    }
    let merkle = round.merkle_proof(&users[5]);
    let path: Vec<&String> = merkle
        .sibling_leaf_node_hash_preimage
        .iter()
        .chain(&merkle.sibling_middle_node_hash_preimages)
        .flatten()
        .collect();
    for h in path {
        assert!(
            !text.contains(h.trim_start_matches("0x")),
            "a sibling's {h}"
        );
    }

    // A tampered balance of the entry.
    let mut bad = p.clone();
    bad.entry.balances[0] = (bad.entry.balances[0].parse::<u64>().unwrap() + 1).to_string();
    assert!(matches!(
        verify(&verifier, &bad, &root),
        Err(Error::Proof(_))
    ));
    // Another user's entry put into this proof.
    let mut bad = p.clone();
    bad.entry = proofs[1].1.entry.clone();
    assert!(verify(&verifier, &bad, &root).is_err());
    // Another user's entry with its leaf hash: the halo2 proof is for the first leaf.
    let mut bad = p.clone();
    bad.entry = proofs[1].1.entry.clone();
    bad.public_inputs.leaf_hash = proofs[1].1.public_inputs.leaf_hash.clone();
    let e = verify(&verifier, &bad, &root).unwrap_err().to_string();
    assert!(e.contains("zero-knowledge proof does not verify"), "{e}");
    // A wrong root.
    let other_root = root + summa_agg::Fr::from(1u64);
    let e = verify(&verifier, p, &other_root).unwrap_err().to_string();
    assert!(e.contains("not the expected root"), "{e}");
    // The proof claims another root and the verifier is given it: halo2 rejects.
    let mut bad = p.clone();
    bad.public_inputs.root_hash = summa_agg::field::to_hex(&other_root);
    let e = verify(&verifier, &bad, &other_root)
        .unwrap_err()
        .to_string();
    assert!(e.contains("zero-knowledge proof does not verify"), "{e}");
    // Flipped proof bytes.
    let mut bad = p.clone();
    let mut bytes: Vec<char> = bad.proof.chars().collect();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == '0' { '1' } else { '0' };
    bad.proof = bytes.into_iter().collect();
    assert!(verify(&verifier, &bad, &root).is_err());
}

#[test]
fn keys_of_another_shape_and_corrupt_keys_are_refused() {
    let round = Round::run(&SHARDS, Layout::V1);
    let merkle = round.merkle_proof(&Round::users(&SHARDS)[9]);
    let shape = Shape {
        layout: Layout::V1,
        depth: merkle.depth,
        currencies: 2,
        n_bytes: 14,
    };
    let (dir, _) = keys_for(shape);
    let keys = Keys::load(dir.path(), true).unwrap();
    let proof = prove(&keys, &merkle).unwrap();
    let root = from_hex(&merkle.root.hash).unwrap();

    // Keys of another depth: refused by shape, and by halo2 if the label is forged.
    let other = Shape { depth: 7, ..shape };
    let (other_dir, _) = keys_for(other);
    let other_keys = Keys::load(other_dir.path(), true).unwrap();
    let e = verify(&other_keys, &proof, &root).unwrap_err().to_string();
    assert!(e.contains("the keys are for shape v1-d7-c2-b14"), "{e}");
    let mut relabeled = proof.clone();
    relabeled.shape = other;
    assert!(verify(&other_keys, &relabeled, &root).is_err());
    let e = prove(&other_keys, &merkle).err().unwrap().to_string();
    assert!(e.contains("keys are for shape v1-d7-c2-b14"), "{e}");

    // A corrupt file of the keys directory.
    for name in ["vk.bin", "srs-verifier.bin", "pk.bin", "srs.bin"] {
        let copy = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(dir.path()).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, copy.path().join(f.file_name().unwrap())).unwrap();
        }
        let path = copy.path().join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let e = Keys::load(copy.path(), true).err().unwrap().to_string();
        assert!(e.contains(name) && e.contains("SHA-256"), "{e}");
    }
    let empty = tempfile::tempdir().unwrap();
    let e = Keys::load(empty.path(), false).err().unwrap().to_string();
    assert!(e.contains("keys.json"), "{e}");
}

#[test]
fn agg2023_and_legacy_proofs_verify() {
    for layout in [Layout::Agg2023, Layout::Legacy] {
        let round = Round::run(&["entry_16.csv"], layout);
        let merkle = round.merkle_proof("dxGaEAii");
        let shape = Shape {
            layout,
            depth: merkle.depth,
            currencies: 2,
            n_bytes: 14,
        };
        let (dir, _) = keys_for(shape);
        let keys = Keys::load(dir.path(), true).unwrap();
        let p = prove(&keys, &merkle).unwrap();
        verify(&keys, &p, &from_hex(&merkle.root.hash).unwrap()).unwrap();
    }
}
