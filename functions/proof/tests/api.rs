//! The `proof` function's two doors ([`summa_fn_proof::invoke`]): the direct
//! invocation, unchanged, and the HTTP API, which answers the caller's own
//! zero-knowledge proof only, as an HTTP response, and never a Merkle proof.

mod common;

use common::{event, round, upload_keys, verify_as_a_user, BUCKET, PREFIX, ROOT_64};
use serde_json::json;
use summa_agg_zk::ZkProof;
use summa_fn_proof::{invoke, KeysCache};
use summa_functions::handlers::proof_api::ProofApi;
use summa_functions::model::{ApiErrorBody, HttpApiResponse};
use summa_functions::LocalStorage;

/// The committed API event's caller (its `sub` claim).
const CALLER: &str = "MBlfbBGI";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_the_callers_own_zero_knowledge_proof_only() {
    let dir = tempfile::tempdir().unwrap();
    let storage = LocalStorage::new(dir.path());
    round(&storage).await;
    let srs = upload_keys(&storage).await;
    let cache = KeysCache::default();
    let api = ProofApi {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username_claim: "sub".into(),
    };
    // Even where the deployment answers Merkle proofs to direct invocations.
    let allow_merkle = true;
    let call = |payload: serde_json::Value, api: Option<ProofApi>| {
        let (storage, cache) = (&storage, &cache);
        async move {
            let out = invoke(storage, cache, allow_merkle, api.as_ref(), payload).await;
            serde_json::from_value::<HttpApiResponse>(out.unwrap()).unwrap()
        }
    };
    let refused = |r: &HttpApiResponse, status: u16| {
        assert_eq!(r.status_code, status, "{r:?}");
        serde_json::from_str::<ApiErrorBody>(&r.body)
            .unwrap()
            .error_type
    };

    // The caller's own: a zero-knowledge proof, which verifies.
    let r = call(event("api-proof.json"), Some(api.clone())).await;
    assert_eq!(r.status_code, 200, "{r:?}");
    assert!(!r.body.contains("sibling"), "{}", r.body);
    let zk: ZkProof = serde_json::from_str(&r.body).unwrap();
    assert_eq!(zk.entry.username, CALLER);
    let report = verify_as_a_user(&storage, &r.body, &srs).await;
    assert_eq!(report.root, ROOT_64);

    // Another user's: 403. A Merkle proof or another keys prefix: 400.
    let with_body = |body: serde_json::Value| {
        let mut e = event("api-proof.json");
        e["body"] = json!(body.to_string());
        e
    };
    let r = call(
        with_body(json!({ "username": "dxGaEAii" })),
        Some(api.clone()),
    )
    .await;
    assert_eq!(refused(&r, 403), "Forbidden");
    for body in [json!({ "merkle": true }), json!({ "keys": "zk-keys/x" })] {
        let r = call(with_body(body), Some(api.clone())).await;
        assert_eq!(refused(&r, 400), "InvalidInput");
    }
    // A function without the API's configuration: 403.
    let r = call(event("api-proof.json"), None).await;
    assert_eq!(refused(&r, 403), "Forbidden");

    // The direct invocation through the same entry: as before, any user.
    let direct = json!({ "bucket": BUCKET, "prefix": PREFIX, "username": "dxGaEAii" });
    let out = invoke(&storage, &cache, false, Some(&api), direct)
        .await
        .unwrap();
    let zk: ZkProof = serde_json::from_value(out).unwrap();
    assert_eq!(zk.entry.username, "dxGaEAii");
    let merkle = json!({ "bucket": BUCKET, "prefix": PREFIX, "username": CALLER, "merkle": true });
    let out = invoke(&storage, &cache, allow_merkle, Some(&api), merkle)
        .await
        .unwrap();
    assert!(out.get("sibling_leaf_node_hash_preimage").is_some());
}
