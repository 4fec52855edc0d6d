//! A ZK keys directory (`keys.json`, `vk.bin`, `pk.bin`, `srs.bin`) through
//! `Keys::load_with`, every file from the fuzzer's bytes.
//!
//! Input: a mode byte, then `keys.json`, `vk.bin` and `pk.bin` as parts, and
//! `srs.bin` as the rest. Mode bit 0 writes the files' true SHA-256 into
//! `keys.json` (a JSON object), so that the fuzzer gets past the hash check to the
//! parsers behind it (the hashes protect against corruption, not against whoever
//! publishes the keys).
//!
//! Contract: no input panics or allocates beyond what its length justifies; what
//! loads is consistent (format, shape, `k`, hashes, the proving key's verifying
//! key writes back to the bytes of `vk.bin`, `srs.bin` is a recognised setup); the
//! fixture's own files load.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use summa_agg_fuzz::zk::fixture;
use summa_agg_fuzz::Input;
use summa_agg_zk::keys::KEYS_FORMAT;
use summa_agg_zk::Keys;

fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let mode = inp.u8();
    let mut meta = inp.part().to_vec();
    let vk = inp.part();
    let pk = inp.part();
    let srs = inp.rest();
    if mode & 1 != 0 {
        if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_slice(&meta) {
            m.insert(
                "sha256".into(),
                serde_json::json!({ "vk": sha(vk), "pk": sha(pk), "srs": sha(srs) }),
            );
            meta = serde_json::to_vec(&m).unwrap();
        }
    }
    let files = [
        ("keys.json", &meta[..]),
        ("vk.bin", vk),
        ("pk.bin", pk),
        ("srs.bin", srs),
    ];
    let loaded = Keys::load_with(|name| {
        let (_, b) = files.iter().find(|(n, _)| *n == name).unwrap();
        Ok(b.to_vec())
    });
    let f = fixture();
    let is_fixture = files.iter().all(|(n, b)| f.file(n) == *b);
    let keys = match loaded {
        Ok(k) => k,
        Err(e) => {
            assert!(!is_fixture, "the fixture's keys do not load: {e}");
            return;
        }
    };
    assert_eq!(keys.meta.format, KEYS_FORMAT);
    keys.meta.shape.validate().unwrap();
    assert_eq!(keys.meta.k, keys.meta.shape.k());
    assert_eq!(keys.meta.sha256.vk, sha(vk));
    assert_eq!(keys.meta.sha256.pk, sha(pk));
    assert_eq!(keys.meta.sha256.srs, sha(srs));
    assert_eq!(keys.is_unsafe_test(), keys.meta.srs.is_unsafe_test());
    let mut written = Vec::new();
    keys.pk
        .get_vk()
        .write(&mut written, halo2_proofs::SerdeFormat::RawBytes)
        .unwrap();
    assert_eq!(
        written, vk,
        "the proving key's verifying key is not the bytes of vk.bin"
    );
});
