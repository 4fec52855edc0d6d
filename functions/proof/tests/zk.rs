//! The `proof` function's zero-knowledge mode over local storage: a whole round
//! with the functions' handlers, keys uploaded to `zk-keys/<shape>/`, and proofs
//! checked with the verifier.

mod common;

use common::{event, put, round, upload_keys, verify_as_a_user, BUCKET, PREFIX, ROOT_64};
use summa_agg_zk::keys::{Keys, SrsSource};
use summa_agg_zk::Shape;
use summa_agg_zk::ZkProof;
use summa_fn_proof::{proof, KeysCache};
use summa_functions::LocalStorage;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_a_zero_knowledge_proof_that_verifies_and_reveals_no_path() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalStorage::new(dir.path());
    round(&storage).await;
    let cache = KeysCache::default();
    let request = || {
        serde_json::json!({
            "bucket": BUCKET, "prefix": PREFIX, "username": "MBlfbBGI"
        })
    };

    // No keys uploaded yet: a clear NotFound naming where they go.
    let e = proof(&storage, &cache, false, request()).await.unwrap_err();
    assert_eq!(e.error_type(), "NotFound", "{e}");
    assert!(e.to_string().contains("zk-keys/v1-d6-c2-b14/"), "{e}");

    let srs = upload_keys(&storage).await;

    // The Merkle proof: refused unless the deployment allows it.
    let mut merkle_request = request();
    merkle_request["merkle"] = true.into();
    let e = proof(&storage, &cache, false, merkle_request.clone())
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput", "{e}");
    assert!(e.to_string().contains("SUMMA_MERKLE_PROOFS"), "{e}");
    let merkle = proof(&storage, &cache, true, merkle_request).await.unwrap();
    assert!(merkle.get("sibling_leaf_node_hash_preimage").is_some());
    let mut old = request();
    old["zk"] = false.into();
    let e = proof(&storage, &cache, true, old).await.unwrap_err();
    assert!(e.to_string().contains("\"merkle\": true"), "{e}");

    // The committed event fixture: the default, a zero-knowledge proof.
    let fixture = event("proof-zk.json");
    assert_eq!(fixture, request());
    let out = proof(&storage, &cache, false, fixture).await.unwrap();
    let text = out.to_string();
    assert!(!text.contains("sibling"), "{text}");
    let zk: ZkProof = serde_json::from_value(out).unwrap();
    assert!(zk.warning.is_some(), "made with the unsafe test SRS");
    assert_eq!(zk.entry.username, "MBlfbBGI");
    // A user verifies it with the published result and the published srs.bin.
    let report = verify_as_a_user(&storage, &text, &srs).await;
    assert_eq!(report.root, ROOT_64);

    // Keys prefixes outside zk-keys/ are refused.
    let mut bad = request();
    bad["keys"] = serde_json::json!("rounds/r1/runs");
    let e = proof(&storage, &cache, false, bad).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput", "{e}");

    // Keys of another shape under this shape's name: refused, naming both.
    let other = Shape {
        depth: 7,
        ..common::SHAPE
    };
    let mut keys7 = Keys::generate(other, &SrsSource::UnsafeTest).unwrap();
    for (name, bytes) in keys7.to_files().unwrap() {
        let key = format!("zk-keys/{}/{name}", common::SHAPE.id());
        put(&storage, &key, bytes).await;
    }
    let e = proof(&storage, &cache, false, request()).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput", "{e}");
    assert!(e.to_string().contains("v1-d7-c2-b14"), "{e}");
}
