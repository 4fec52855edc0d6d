//! A ZK keys directory (`keys.json`, `vk.bin`, `srs-verifier.bin`, `pk.bin`,
//! `srs.bin`) through `Keys::load_with`, every file from the fuzzer's bytes.
//!
//! Input: a mode byte, then `keys.json`, `vk.bin`, `srs-verifier.bin` and
//! `pk.bin` as parts, and `srs.bin` as the rest. Mode bit 0 writes the files'
//! true SHA-256 into `keys.json` (a JSON object), so that the fuzzer gets past the
//! hash check to the parsers behind it (the hashes protect against corruption, not
//! against whoever publishes the keys); bit 1 loads for proving.
//!
//! Contract: no input panics or allocates beyond what its length justifies; what
//! loads is consistent (format, shape, `k`, hashes, the verifying key writes back
//! to the bytes read); the fixture's own files load; and keys that accept the
//! fixture's proof are the fixture's keys.

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
    let srs_verifier = inp.part();
    let pk = inp.part();
    let srs = inp.rest();
    if mode & 1 != 0 {
        if let Ok(serde_json::Value::Object(mut m)) = serde_json::from_slice(&meta) {
            m.insert(
                "sha256".into(),
                serde_json::json!({
                    "vk": sha(vk),
                    "srs_verifier": sha(srs_verifier),
                    "pk": sha(pk),
                    "srs": sha(srs),
                }),
            );
            meta = serde_json::to_vec(&m).unwrap();
        }
    }
    let for_proving = mode & 2 != 0;
    let files = [
        ("keys.json", &meta[..]),
        ("vk.bin", vk),
        ("srs-verifier.bin", srs_verifier),
        ("pk.bin", pk),
        ("srs.bin", srs),
    ];
    let loaded = Keys::load_with(
        |name| {
            let (_, b) = files.iter().find(|(n, _)| *n == name).unwrap();
            Ok(b.to_vec())
        },
        for_proving,
    );
    let f = fixture();
    let is_fixture = ["keys.json", "vk.bin", "srs-verifier.bin"]
        .iter()
        .zip([&meta[..], vk, srs_verifier])
        .all(|(n, b)| f.file(n) == b);
    let keys = match loaded {
        Ok(k) => k,
        Err(e) => {
            assert!(
                !(is_fixture && !for_proving),
                "the fixture's keys do not load: {e}"
            );
            return;
        }
    };
    assert_eq!(keys.meta.format, KEYS_FORMAT);
    keys.meta.shape.validate().unwrap();
    assert_eq!(keys.meta.k, keys.meta.shape.k());
    assert_eq!(keys.meta.sha256.vk, sha(vk));
    assert_eq!(keys.meta.sha256.srs_verifier, sha(srs_verifier));
    assert_eq!(keys.prover.is_some(), for_proving);
    let mut written = Vec::new();
    keys.vk
        .write(&mut written, halo2_proofs::SerdeFormat::RawBytes)
        .unwrap();
    assert_eq!(
        written, vk,
        "the verifying key read is not the bytes of vk.bin"
    );
    if keys.meta.shape == f.proof.shape {
        if summa_agg_zk::verify(&keys, &f.proof, &f.root).is_ok() {
            assert_eq!(
                (vk, srs_verifier),
                (f.file("vk.bin"), f.file("srs-verifier.bin")),
                "other keys accept the fixture's proof"
            );
        }
    }
});
