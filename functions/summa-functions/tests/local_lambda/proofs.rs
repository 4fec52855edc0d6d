//! Proofs from the `proof` function, Merkle and zero-knowledge, verified by the CLI.

use std::fs;
use std::io::Write;

use serde_json::{json, Value};

use super::data::*;
use super::stack::*;

pub async fn proofs(env: &Env) {
    let parts = unequal_shards();
    // 5. Proofs: with a hint, without (the username index), verified by the CLI
    // against the published result; unknown users.
    let result: Value =
        serde_json::from_slice(&env.get("rounds/unequal-v1/result.json").await.unwrap()).unwrap();
    let result_file = env.work.path().join("result-unequal-v1.json");
    fs::write(&result_file, result.to_string()).unwrap();
    let root = result["root"]["hash"].as_str().unwrap().to_string();
    let text = String::from_utf8(parts[3].1.clone()).unwrap();
    let user = text
        .lines()
        .nth(7)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let mut proofs = Vec::new();
    for hint in [json!(3), Value::Null] {
        let mut req = json!({ "bucket": BUCKET, "prefix": "rounds/unequal-v1", "username": user, "merkle": true });
        if !hint.is_null() {
            req["shard"] = hint;
        }
        let proof = env.invoke("proof", &req).ok("proof");
        assert_eq!(proof["mini_tree"], 3);
        assert_eq!(proof["root"]["hash"], json!(root));
        let file = env.work.path().join(format!("proof-{}.json", proofs.len()));
        fs::File::create(&file)
            .unwrap()
            .write_all(proof.to_string().as_bytes())
            .unwrap();
        let v = env.cli(&[
            "verify",
            file.to_str().unwrap(),
            "--result",
            result_file.to_str().unwrap(),
        ]);
        assert!(
            v.status.success(),
            "summa-agg verify: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        proofs.push(proof);
    }
    assert_eq!(proofs[0], proofs[1]);
    let (error_type, message) = env
        .invoke(
            "proof",
            &json!({ "bucket": BUCKET, "prefix": "rounds/unequal-v1", "username": "nobody" }),
        )
        .err("unknown user");
    assert_eq!(error_type, "NotFound");
    assert!(message.contains("nobody"), "{message}");

    // 5b. A zero-knowledge proof from the real `proof` binary: keys made by the CLI
    // (on the UNSAFE test SRS, as every test does), uploaded to zk-keys/<shape>/,
    // the proof (the default) checked by `summa-agg verify` against the published
    // result, with the verifying key derived from the circuit.
    let depth = result["depth"].to_string();
    let keys_dir = env.work.path().join("zk-keys");
    let k = env.cli(&[
        "zk-keys",
        "--depth",
        &depth,
        "--currencies",
        "2",
        "--unsafe-test-srs",
        "--out",
        keys_dir.to_str().unwrap(),
    ]);
    assert!(k.status.success(), "{}", String::from_utf8_lossy(&k.stderr));
    for f in fs::read_dir(&keys_dir).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        env.put(
            &format!("zk-keys/v1-d{depth}-c2-b14/{name}"),
            fs::read(&f).unwrap(),
        )
        .await;
    }
    let req = json!({ "bucket": BUCKET, "prefix": "rounds/unequal-v1", "username": user });
    let zk = env.invoke("proof", &req).ok("zk proof");
    assert!(!zk.to_string().contains("sibling"), "{zk}");
    assert_eq!(zk["public_inputs"]["root_hash"], json!(root));
    let file = env.work.path().join("zk-proof.json");
    fs::write(&file, zk.to_string()).unwrap();
    let v = env.cli(&[
        "verify",
        file.to_str().unwrap(),
        "--keys",
        keys_dir.to_str().unwrap(),
        "--result",
        result_file.to_str().unwrap(),
        "--unsafe-test-srs",
    ]);
    assert!(
        v.status.success(),
        "summa-agg verify (zk): {}",
        String::from_utf8_lossy(&v.stderr)
    );
}
