//! The zero-knowledge commands: `zk-keys` (and `--check`), `proof`, `verify`.

use super::*;

#[test]
fn zero_knowledge_keys_proof_and_verify() {
    let (out, merkle) = round_and_proof("entry_64.csv", "MBlfbBGI");
    let round = out.path().to_str().unwrap();
    let keys = out.path().join("keys");
    let keys = keys.to_str().unwrap();
    // Keys need an SRS: none given is refused.
    let o = summa(&["zk-keys", "--round", round, "--out", keys]);
    assert!(!o.status.success());
    let o = summa(&[
        "zk-keys",
        "--round",
        round,
        "--unsafe-test-srs",
        "--out",
        keys,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_stderr_has(&o, "UNSAFE TEST SRS");
    let meta: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(meta["shape"]["depth"], 6);
    assert_eq!(meta["srs"]["kind"], "unsafe-test-srs");
    assert!(meta["warning"]
        .as_str()
        .unwrap()
        .contains("UNSAFE TEST SRS"));

    // A user's proof is zero-knowledge: without keys, only --merkle gives a proof.
    let o = summa(&["proof", "--round", round, "--user", "MBlfbBGI"]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "--keys");
    let o = summa(&[
        "proof", "--round", round, "--user", "MBlfbBGI", "--keys", keys,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_stderr_has(&o, "UNSAFE TEST SRS");
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    let zk: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(zk["warning"].as_str().unwrap().contains("UNSAFE TEST SRS"));
    assert_eq!(zk["entry"], merkle["entry"]);
    assert_eq!(zk["public_inputs"]["leaf_hash"], merkle["leaf"]["hash"]);
    assert_eq!(zk["public_inputs"]["root_hash"], V1_ROOT_64);
    assert_eq!(
        zk["public_inputs"]["totals"],
        serde_json::json!(["2227448", "2227448"])
    );
    // None of the Merkle path: no sibling's preimage, no sibling's balance.
    assert!(!text.contains("sibling"));
    let sibling = &merkle["sibling_leaf_node_hash_preimage"];
    for v in sibling.as_array().unwrap() {
        assert!(!text.contains(v.as_str().unwrap().trim_start_matches("0x")));
    }
    let pf = write_json(out.path(), "zk.json", &zk);
    let result = out.path().join("result.json");
    let result = result.to_str().unwrap();
    let srs = format!("{keys}/srs.bin");
    let balances = merkle["entry"]["balances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(",");

    // Accepted: the user's record shown with the published labels and totals.
    let o = summa(&[
        "verify",
        &pf,
        "--result",
        result,
        "--srs",
        &srs,
        "--unsafe-test-srs",
        "--user",
        "MBlfbBGI",
        "--balances",
        &balances,
    ]);
    assert!(o.status.success(), "{}", said(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("UNSAFE TEST SRS: this proves nothing"),
        "{shown}"
    );
    assert!(shown.contains("user      MBlfbBGI"), "{shown}");
    let b: Vec<&str> = balances.split(',').collect();
    assert!(
        shown.contains(&format!(
            "balances  ETH (ETH) {}, USDT (ETH) {}",
            b[0], b[1]
        )),
        "{shown}"
    );
    assert!(
        shown.contains("totals    ETH (ETH) 2227448, USDT (ETH) 2227448"),
        "{shown}"
    );
    // --keys: its srs.bin, and its vk.bin must be the derived key.
    let with_keys = [
        "verify",
        pf.as_str(),
        "--result",
        result,
        "--keys",
        keys,
        "--unsafe-test-srs",
    ];
    let o = summa(&with_keys);
    assert!(o.status.success(), "{}", said(&o));
    let o = summa(&["zk-keys", "--check", keys, "--unsafe-test-srs"]);
    assert!(o.status.success(), "{}", said(&o));
    assert!(said(&o).contains("are this circuit's for shape v1-d6-c2-b14"));

    let base = ["verify", pf.as_str(), "--srs", srs.as_str()];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter()
            .map(|s| s.to_string())
            .chain(extra.iter().map(|s| s.to_string()))
            .collect()
    };
    let run = |args: Vec<String>, want: &str| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        refused(&args, want);
    };
    let result_s: &'static str = Box::leak(result.to_string().into_boxed_str());
    // The root and totals given by hand.
    let by_hand = |root: &'static str, totals: &'static str| {
        with(&["--root", root, "--totals", totals, "--unsafe-test-srs"])
    };
    // The published result, with `extra`.
    let with_result = |extra: &[&'static str]| {
        with(&[&["--result", result_s, "--unsafe-test-srs"], extra].concat())
    };
    // The test SRS without the flag, whatever keys.json says.
    run(with(&["--result", result_s]), "UNSAFE TEST SRS");
    // No totals: --root alone is not enough for a ZK proof.
    run(
        with(&["--root", V1_ROOT_64, "--unsafe-test-srs"]),
        "--totals",
    );
    // The published totals, given by hand, one understated.
    run(
        by_hand(V1_ROOT_64, "2227448,2227447"),
        "total of USDT differs from the published result",
    );
    let o = summa(&[
        "verify",
        &pf,
        "--root",
        V1_ROOT_64,
        "--totals",
        "2227448,2227448",
        "--srs",
        &srs,
        "--unsafe-test-srs",
    ]);
    assert!(o.status.success(), "{}", said(&o));
    // A result.json with a changed total.
    let mut published: serde_json::Value =
        serde_json::from_slice(&std::fs::read(result).unwrap()).unwrap();
    published["root"]["balances"][0] = serde_json::json!("2000000");
    let forged: &'static str =
        Box::leak(write_json(out.path(), "forged.json", &published).into_boxed_str());
    run(
        with(&["--result", forged, "--unsafe-test-srs"]),
        "total of ETH differs from the published result",
    );
    // A total above the shape's range, given by hand: 2227448 + r is refused, not
    // reduced modulo r (it would verify and print as a 77-digit total).
    run(
        by_hand(
            V1_ROOT_64,
            "21888242871839275222246405745257275088548364400416034343698204186575810723065,2227448",
        ),
        "--totals 21888242871839275222246405745257275088548364400416034343698204186575810723065 is not below 2^112",
    );
    // Conflicting flags: totals by hand beside result.json.
    run(
        with_result(&["--root", V1_ROOT_64, "--totals", "2227448,2227448"]),
        "cannot be used with",
    );
    // An empty expected username.
    run(
        with_result(&["--user", ""]),
        "the expected username is empty",
    );
    // Another root.
    run(
        by_hand(
            "0x177bf452ad139f067a64fe09fdc30aae46144d60abfa2ad9f0c70928e29a26d1",
            "2227448,2227448",
        ),
        "not the published root",
    );
    // The user's expectations: another name, other balances.
    run(
        with_result(&["--user", "alice"]),
        "proof is for user \"MBlfbBGI\", not \"alice\"",
    );
    run(
        with_result(&["--balances", "100,5"]),
        &format!("proof is for balances {}, {}, not 100, 5", b[0], b[1]),
    );
    // A tampered balance of the entry.
    let mut bad = zk.clone();
    bad["entry"]["balances"][0] = serde_json::json!("67824");
    let bad_path: &'static str =
        Box::leak(write_json(out.path(), "bad.json", &bad).into_boxed_str());
    refused(
        &[
            "verify",
            bad_path,
            "--result",
            result,
            "--srs",
            &srs,
            "--unsafe-test-srs",
        ],
        "not to the leaf",
    );
    // No SRS given: the key pinned for the shape, in milliseconds; the test
    // setup's key only with --unsafe-test-srs.
    let o = summa(&["verify", &pf, "--result", result, "--unsafe-test-srs"]);
    assert!(o.status.success(), "{}", said(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(
        shown.contains("UNSAFE TEST SRS (the verifying key pinned in this program for the shape)"),
        "{shown}"
    );
    assert!(
        said(&o).contains("pinned verifying key read in"),
        "{}",
        said(&o)
    );
    refused(
        &["verify", &pf, "--result", result],
        "only the UNSAFE TEST SRS's",
    );
    // Keys of another shape: their vk.bin is not the derived key.
    let other = out.path().join("keys7");
    let other = other.to_str().unwrap();
    let o = summa(&[
        "zk-keys",
        "--depth",
        "7",
        "--currencies",
        "2",
        "--unsafe-test-srs",
        "--out",
        other,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::copy(format!("{other}/vk.bin"), format!("{keys}/vk.bin")).unwrap();
    refused(
        &with_keys,
        "keys are not this circuit's for shape v1-d6-c2-b14",
    );
    refused(
        &["zk-keys", "--check", keys, "--unsafe-test-srs"],
        "keys are not this circuit's for shape v1-d6-c2-b14",
    );
    let o = summa(&[
        "proof", "--round", round, "--user", "MBlfbBGI", "--keys", other,
    ]);
    assert!(!o.status.success());
    // An unknown user.
    let o = summa(&[
        "proof", "--round", round, "--user", "nobody", "--keys", other,
    ]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "\"nobody\" is not in this round");
    // A corrupt SRS file.
    let mut bytes = std::fs::read(&srs).unwrap();
    bytes[40] ^= 0x40;
    std::fs::write(&srs, bytes).unwrap();
    run(with_result(&[]), "srs.bin: SRS");
}
