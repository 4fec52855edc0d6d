//! `summa-agg proof --merkle` and `verify` of Merkle proofs: tampering, malformed proofs, the published round pinned.

use super::*;

#[test]
fn proof_verify_and_tampering() {
    let (out, proof) = round_and_proof("entry_64.csv", "MBlfbBGI");
    let round = out.path().to_str().unwrap();
    assert_eq!(
        proof["entry"]["balances"],
        serde_json::json!(["67823", "18651"])
    );
    assert_eq!(proof["path_indices"].as_array().unwrap().len(), 6);
    assert_eq!(
        proof["sibling_middle_node_hash_preimages"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let pf = out.path().join("proof.json");
    std::fs::write(&pf, proof.to_string()).unwrap();
    let pf = pf.to_str().unwrap();
    // Neither --root nor --result: refused (a self-made proof has its own root).
    let o = summa(&["verify", pf]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "--root");
    let result = out.path().join("result.json");
    let result = result.to_str().unwrap();
    assert!(summa(&["verify", pf, "--result", result]).status.success());
    assert!(summa(&["verify", pf, "--root", V1_ROOT_64])
        .status
        .success());
    let wrong = summa(&[
        "verify",
        pf,
        "--root",
        "0x177bf452ad139f067a64fe09fdc30aae46144d60abfa2ad9f0c70928e29a26d1",
    ]);
    assert!(!wrong.status.success());
    assert_stderr_has(&wrong, "not the expected root");
    let mut forged = proof.clone();
    forged["sibling_middle_node_hash_preimages"][2][0] = serde_json::json!(format!("0x{:064x}", 1));
    std::fs::write(out.path().join("forged.json"), forged.to_string()).unwrap();
    assert!(!summa(&[
        "verify",
        out.path().join("forged.json").to_str().unwrap(),
        "--result",
        result
    ])
    .status
    .success());
    let o = merkle_proof(round, "nobody");
    assert!(!o.status.success());
    assert_stderr_has(&o, "\"nobody\" is not in this round");
}

#[test]
fn verify_rejects_malformed_proofs_without_panicking() {
    let (out, proof) = round_and_proof("entry_16.csv", "dxGaEAii");
    let cases = [
        ("depth", serde_json::json!(200)),
        ("path_indices", serde_json::json!([0, 0, 0, 2])),
        ("index", serde_json::json!(99)),
        (
            "sibling_leaf_node_hash_preimage",
            serde_json::json!(["0x01"]),
        ),
        (
            "root",
            serde_json::json!({"hash": "nothex", "balances": ["1", "2"]}),
        ),
    ];
    for (field, value) in cases {
        let mut bad = proof.clone();
        bad[field] = value;
        let p = out.path().join(format!("{field}.json"));
        std::fs::write(&p, bad.to_string()).unwrap();
        let result = out.path().join("result.json");
        let o = verify_with_result(&p, &result);
        assert_eq!(o.status.code(), Some(1), "{field}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{field}: {}", stderr(&o));
    }
}

#[test]
fn verify_result_pins_the_published_round() {
    let (out, proof) = round_and_proof("entry_64.csv", "MBlfbBGI");
    let result = out.path().join("result.json");
    let result = result.to_str().unwrap();
    let check = |name: &str, p: &serde_json::Value| {
        let f = out.path().join(name);
        std::fs::write(&f, p.to_string()).unwrap();
        summa(&["verify", f.to_str().unwrap(), "--result", result])
    };
    let o = check("good.json", &proof);
    assert!(o.status.success(), "{}", stderr(&o));

    // Swapped currency labels: the path is the same, the labels are not the round's.
    let mut swapped = proof.clone();
    let c = proof["currencies"].as_array().unwrap().clone();
    swapped["currencies"] = serde_json::json!([c[1], c[0]]);
    let o = check("swapped.json", &swapped);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(
        &o,
        "currencies [USDT_ETH, ETH_ETH] are not the published round's [ETH_ETH, USDT_ETH]",
    );
    // The same labels pass with --root alone: only --result pins them.
    let f = out.path().join("swapped.json");
    assert!(
        summa(&["verify", f.to_str().unwrap(), "--root", V1_ROOT_64])
            .status
            .success()
    );

    // Another round's root (the same users in the legacy layout): rejected.
    let other = tempfile::tempdir().unwrap();
    let o = run_round(
        &fixture("entry_64.csv"),
        other.path(),
        &["--layout", "agg2023"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = merkle_proof(other.path(), "MBlfbBGI");
    assert!(o.status.success(), "{}", stderr(&o));
    let f = out.path().join("other.json");
    std::fs::write(&f, &o.stdout).unwrap();
    let o = summa(&["verify", f.to_str().unwrap(), "--result", result]);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "layout agg2023");
    // Relabelled as v1, the agg2023 proof reaches another root.
    let mut relabelled: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
    relabelled["layout"] = serde_json::json!("v1");
    let o = check("relabelled.json", &relabelled);
    assert_eq!(o.status.code(), Some(1));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
    // A result whose root was changed rejects the honest proof.
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(result).unwrap()).unwrap();
    r["root"]["hash"] =
        serde_json::json!("0x177bf452ad139f067a64fe09fdc30aae46144d60abfa2ad9f0c70928e29a26d1");
    let rf = out.path().join("other-result.json");
    std::fs::write(&rf, r.to_string()).unwrap();
    let f = out.path().join("good.json");
    let o = verify_with_result(&f, &rf);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "not the expected root");
    // Labels renamed in result.json, its digest left as it was: refused, as the
    // zero-knowledge verifier refuses it.
    let mut r: serde_json::Value = serde_json::from_slice(&std::fs::read(result).unwrap()).unwrap();
    r["currencies"][0]["name"] = serde_json::json!("BTC");
    std::fs::write(&rf, r.to_string()).unwrap();
    let o = verify_with_result(&f, &rf);
    assert_eq!(o.status.code(), Some(1));
    assert_stderr_has(&o, "is not the digest of its currencies");
    // The chain's flags check zero-knowledge proofs: on a Merkle proof they are
    // refused, never dropped (before any request: the endpoint is not there).
    #[cfg(feature = "chain")]
    {
        let o = summa(&[
            "verify",
            f.to_str().unwrap(),
            "--result",
            result,
            "--rpc",
            "http://127.0.0.1:9",
            "--registry",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
            "--round-id",
            "0",
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert_stderr_has(
            &o,
            "--rpc (the round registry's record) checks zero-knowledge proofs only",
        );
    }
}
