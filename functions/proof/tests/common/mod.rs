//! What the `proof` function's tests share: a round of the four 16-user
//! fixtures over local storage, published as run `RUN`.

// Each test crate uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use summa_functions::model::RoundInput;
use summa_functions::{LocalStorage, Storage};

pub const BUCKET: &str = "summa-rounds";
pub const PREFIX: &str = "rounds/r1";
pub const RUN: &str = "r1-zk";
pub const ROOT_64: &str = "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A file of the function's committed events (`events/`), as JSON.
pub fn event(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

pub async fn put(s: &LocalStorage, key: &str, body: Vec<u8>) {
    s.put(BUCKET, key, body.into(), summa_functions::storage::BINARY)
        .await
        .unwrap();
}

/// The round's shape.
pub const SHAPE: summa_agg_zk::Shape = summa_agg_zk::Shape {
    layout: summa_agg::Layout::V1,
    depth: 6,
    currencies: 2,
    n_bytes: 14,
};

/// Keys of the round's shape (v1, depth 6, 2 currencies; the unsafe test SRS),
/// uploaded to `zk-keys/<shape>/`; returns their `srs.bin`.
pub async fn upload_keys(storage: &LocalStorage) -> Vec<u8> {
    use summa_agg_zk::keys::{Keys, SrsSource};
    let shape = SHAPE;
    let mut keys = Keys::generate(shape, &SrsSource::UnsafeTest).unwrap();
    let files = keys.to_files().unwrap();
    for (name, bytes) in &files {
        put(
            storage,
            &format!("zk-keys/{}/{name}", shape.id()),
            bytes.clone(),
        )
        .await;
    }
    files.into_iter().find(|(n, _)| *n == "srs.bin").unwrap().1
}

/// What a user sees verifying `proof` (JSON) with the published result and
/// `srs` (the test setup, allowed).
pub async fn verify_as_a_user(
    storage: &LocalStorage,
    proof: &str,
    srs: &[u8],
) -> summa_agg_zk::verifier::Report {
    use summa_functions::StorageRead;
    let result = storage
        .get(BUCKET, &format!("{PREFIX}/result.json"))
        .await
        .unwrap();
    let opts = summa_agg_zk::verifier::Options {
        unsafe_test_srs: true,
        ..Default::default()
    };
    summa_agg_zk::verifier::verify_files(proof.as_bytes(), &result, srs, &opts).unwrap()
}

/// The round, published.
pub async fn round(storage: &LocalStorage) {
    for i in 1..=4 {
        let csv = std::fs::read(fixture(&format!("entry_16_{i}.csv"))).unwrap();
        put(storage, &format!("{PREFIX}/shards/s{i}.csv"), csv).await;
    }
    put(storage, &format!("{PREFIX}/round.json"), b"{}".to_vec()).await;
    let input = RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: RUN.into(),
    };
    let done = summa_functions::round::run(storage, input, 1, &|_| {})
        .await
        .unwrap();
    assert_eq!(done.result.root.hash, ROOT_64);
}
