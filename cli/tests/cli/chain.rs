//! The on-chain record, as a custodian and a user run it: `chain deploy`,
//! `chain publish` and `verify --rpc` against anvil (npm's
//! `@foundry-rs/anvil-linux-amd64`, installed by `infra/setup-tools.sh`), with the
//! example round, its unsafe-test keys and the committed verifier artifact.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use alloy::node_bindings::{Anvil, AnvilInstance};

use super::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn anvil() -> AnvilInstance {
    let path = std::env::var_os("ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools/node/node_modules/.bin/anvil"));
    assert!(
        path.exists(),
        "no anvil at {}: run `make tools`",
        path.display()
    );
    Anvil::at(path).spawn()
}

/// `summa-agg` with the custodian's key in the environment (or none).
fn summa_key(args: &[&str], key: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_summa-agg"));
    c.args(args).env_remove("SUMMA_CHAIN_KEY");
    if let Some(k) = key {
        c.env("SUMMA_CHAIN_KEY", k);
    }
    c.output().unwrap()
}

fn ok(o: Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", said(&o));
    last_json_line(&o)
}

const ARTIFACT: &str = "contracts/out/Halo2Verifier_v1_d6_c2_b14_UNSAFE_TEST_SRS.json";

/// A round of the example shards into `dir/name`, with `change` applied to the
/// text of the first shard.
fn example_round(dir: &Path, name: &str, change: impl Fn(String) -> String) -> PathBuf {
    let shards = dir.join(format!("{name}-shards"));
    std::fs::create_dir_all(&shards).unwrap();
    for i in 1..=4 {
        let file = format!("entry_16_{i}.csv");
        let text = std::fs::read_to_string(repo().join("examples/shards").join(&file)).unwrap();
        let text = if i == 1 { change(text) } else { text };
        std::fs::write(shards.join(file), text).unwrap();
    }
    let out = dir.join(name);
    let o = run_round(&shards, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// The example round in `dir/round` (`change` applied to its first shard) and its
/// keys on the unsafe test SRS in `dir/keys`.
fn round_and_keys(dir: &Path, change: impl Fn(String) -> String) -> (PathBuf, PathBuf) {
    let round = example_round(dir, "round", change);
    let keys = dir.join("keys");
    let o = summa(&[
        "zk-keys",
        "--round",
        round.to_str().unwrap(),
        "--unsafe-test-srs",
        "--out",
        keys.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    (round, keys)
}

#[test]
fn a_round_is_published_once_and_a_user_verifies_it_from_the_chain() {
    let node = anvil();
    let rpc = node.endpoint();
    let key = format!("0x{}", hex::encode(node.keys()[0].to_bytes()));
    let tmp = tempfile::tempdir().unwrap();
    let (round, keys) = round_and_keys(tmp.path(), |t| t);
    let (round_s, keys_s) = (round.to_str().unwrap(), keys.to_str().unwrap());
    let artifact = repo().join(ARTIFACT);
    let artifact = artifact.to_str().unwrap();

    // No key, no deployment: a key is never an argument.
    let deploy = [
        "chain",
        "deploy",
        "--rpc",
        &rpc,
        "--keys",
        keys_s,
        "--verifier-artifact",
        artifact,
    ];
    let o = summa_key(&deploy, None);
    assert!(!o.status.success());
    assert_stderr_has(&o, "SUMMA_CHAIN_KEY");
    let d = ok(summa_key(&deploy, Some(&key)));
    assert_eq!(d["shape"], "v1-d6-c2-b14");
    assert!(d["registry_bytes"].as_u64().unwrap() <= 24_576);
    assert!(d["verifier_bytes"].as_u64().unwrap() <= 24_576);
    let registry = d["registry"].as_str().unwrap().to_string();

    // Published once: the same round again sends nothing.
    let publish = |dir: &str, extra: &[&str]| {
        let args = [
            &[
                "chain",
                "publish",
                "--rpc",
                &rpc,
                "--registry",
                &registry,
                "--keys",
                keys_s,
                "--round",
                dir,
            ][..],
            extra,
        ]
        .concat();
        summa_key(&args, Some(&key))
    };
    let p = ok(publish(round_s, &[]));
    assert_eq!(p["round_id"], 0);
    assert!(p["gas_used"].as_u64().unwrap() > 21_000);
    assert!(p["block"].as_u64().unwrap() > 0);
    assert!(p["transaction"].as_str().unwrap().starts_with("0x"));
    let again = ok(publish(round_s, &[]));
    assert_eq!(again["already_published"], true);
    assert_eq!(again["commitment"], p["commitment"]);

    // A second round (one balance changed) chains to the first; overwriting
    // round 0 with it is refused by name.
    let round2 = example_round(tmp.path(), "round2", |t| {
        t.replacen("dxGaEAii,11888,", "dxGaEAii,11889,", 1)
    });
    let o = publish(round2.to_str().unwrap(), &["--round-id", "0"]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "RoundAlreadyCommitted(0)");
    assert_eq!(ok(publish(round2.to_str().unwrap(), &[]))["round_id"], 1);
    // A round whose files do not match its result.json is not published.
    let round3 = example_round(tmp.path(), "round3", |t| {
        t.replacen("dxGaEAii,11888,", "dxGaEAii,11890,", 1)
    });
    std::fs::copy(
        round.join("mini-trees/000000.mst"),
        round3.join("mini-trees/000000.mst"),
    )
    .unwrap();
    let o = publish(round3.to_str().unwrap(), &[]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "SHA-256");

    // The user's proof, verified from the chain alone, and by the EVM.
    let proof = |user: &str| {
        let o = summa(&[
            "proof", "--round", round_s, "--user", user, "--keys", keys_s,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let zk = proof("dxGaEAii");
    let file = write_json(tmp.path(), "zk.json", &zk);
    let srs = format!("{keys_s}/srs.bin");
    let verify = |file: &str, id: &str, extra: &[&str]| {
        let args = [
            &[
                "verify",
                file,
                "--rpc",
                &rpc,
                "--registry",
                &registry,
                "--round-id",
                id,
                "--srs",
                &srs,
                "--unsafe-test-srs",
                "--evm",
            ][..],
            extra,
        ]
        .concat();
        summa(&args)
    };
    let o = verify(&file, "0", &[]);
    assert!(o.status.success(), "{}", said(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("VERIFIED ONLY AGAINST THE UNSAFE TEST SRS"),
        "{out}"
    );
    assert!(out.contains("accepts it"), "{out}");
    assert!(out.contains("2227448"), "{out}");
    // Round 1 was committed after it: the report says round 0 is not the latest.
    assert!(
        out.contains("NOT the latest round: the registry holds 2 rounds, the latest is round 1"),
        "{out}"
    );
    // The gas of the verifier on an accepted proof (two pairings and the MSM).
    let gas: u64 = out
        .split("eth_estimateGas ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(gas > 250_000, "{gas}");
    // Another contract at the registry's address (here the verifier) is refused.
    let verifier = d["verifier"].as_str().unwrap();
    let o = summa(&[
        "verify",
        &file,
        "--rpc",
        &rpc,
        "--registry",
        verifier,
        "--round-id",
        "0",
        "--srs",
        &srs,
        "--unsafe-test-srs",
    ]);
    assert!(!o.status.success());
    assert_stderr_has(&o, "is not this project's RoundRegistry");
    let result = round.join("result.json");
    assert!(verify(&file, "0", &["--result", result.to_str().unwrap()])
        .status
        .success());

    let chain_refused = |file: &str, id: &str, extra: &[&str], want: &str| {
        let o = verify(file, id, extra);
        assert!(!o.status.success(), "accepted: {}", said(&o));
        assert!(said(&o).contains(want), "{}\n  expected: {want}", said(&o));
        assert!(!said(&o).contains("VERIFIED"), "{}", said(&o));
    };
    // A tampered proof: both verifiers refuse.
    let mut bad = zk.clone();
    let bytes = bad["proof"].as_str().unwrap().to_string();
    let flip = if &bytes[300..301] == "0" { "1" } else { "0" };
    bad["proof"] = format!("{}{flip}{}", &bytes[..300], &bytes[301..]).into();
    chain_refused(
        &write_json(tmp.path(), "bad.json", &bad),
        "0",
        &[],
        "returned false",
    );
    // Another user's leaf (their entry with this proof): both refuse.
    let (mut other, theirs) = (zk.clone(), proof("MBlfbBGI"));
    other["entry"] = theirs["entry"].clone();
    chain_refused(
        &write_json(tmp.path(), "other.json", &other),
        "0",
        &[],
        "hashes to",
    );
    other["public_inputs"] = theirs["public_inputs"].clone();
    chain_refused(
        &write_json(tmp.path(), "other.json", &other),
        "0",
        &[],
        "returned false",
    );
    // Another round's id: its root is not this proof's.
    chain_refused(&file, "1", &[], "returned false");
    chain_refused(&file, "7", &[], "UnknownRound(7)");
    // A result.json whose total differs from the chain's.
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();
    r["root"]["balances"][0] = "2227449".into();
    let forged = write_json(tmp.path(), "result.json", &r);
    chain_refused(
        &file,
        "0",
        &["--result", &forged],
        "its total 1 (2227449) is not the recorded total (2227448)",
    );
    // Labels swapped in the proof file: not the recorded labels.
    let mut swapped = zk.clone();
    let c = swapped["currencies"].as_array().unwrap().clone();
    swapped["currencies"] = serde_json::json!([c[1], c[0]]);
    chain_refused(
        &write_json(tmp.path(), "swapped.json", &swapped),
        "0",
        &[],
        "currency labels",
    );
}

/// The custodian's key from a keystore file, its password in the environment;
/// a wrong password is refused, naming the file.
#[test]
fn the_signing_key_comes_from_a_keystore() {
    use alloy::signers::local::PrivateKeySigner;
    let node = anvil();
    let rpc = node.endpoint();
    let tmp = tempfile::tempdir().unwrap();
    let key = node.keys()[0].to_bytes();
    PrivateKeySigner::encrypt_keystore(
        tmp.path(),
        &mut rand::thread_rng(),
        key,
        "correct horse",
        Some("custodian.json"),
    )
    .unwrap();
    let keystore = tmp.path().join("custodian.json");
    let (_, keys) = round_and_keys(tmp.path(), |t| t);
    let keys_s = keys.to_str().unwrap();
    let artifact = repo().join(ARTIFACT);
    let deploy = |password: &str| {
        Command::new(env!("CARGO_BIN_EXE_summa-agg"))
            .args([
                "chain",
                "deploy",
                "--rpc",
                &rpc,
                "--keys",
                keys_s,
                "--verifier-artifact",
                artifact.to_str().unwrap(),
                "--keystore",
                keystore.to_str().unwrap(),
            ])
            .env_remove("SUMMA_CHAIN_KEY")
            .env("SUMMA_KEYSTORE_PASSWORD", password)
            .output()
            .unwrap()
    };
    let o = deploy("wrong");
    assert!(!o.status.success());
    assert_stderr_has(&o, "custodian.json");
    let d = ok(deploy("correct horse"));
    assert_eq!(
        d["custodian"].as_str().unwrap().to_lowercase(),
        node.addresses()[0].to_string().to_lowercase()
    );
}

/// A username with an escape sequence (the custodian writes the proof file) is
/// shown escaped: no escape byte reaches the terminal.
#[test]
fn a_hostile_username_is_escaped_in_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "dx\u{1b}[8mGa\u{202e}";
    let (round, keys) = round_and_keys(tmp.path(), |t| t.replacen("dxGaEAii", name, 1));
    let (round_s, keys_s) = (round.to_str().unwrap(), keys.to_str().unwrap());
    let o = summa(&[
        "proof", "--round", round_s, "--user", name, "--keys", keys_s,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = tmp.path().join("zk.json");
    std::fs::write(&file, &o.stdout).unwrap();
    let result = round.join("result.json");
    let srs = keys.join("srs.bin");
    let o = summa(&[
        "verify",
        file.to_str().unwrap(),
        "--result",
        result.to_str().unwrap(),
        "--srs",
        srs.to_str().unwrap(),
        "--unsafe-test-srs",
    ]);
    assert!(o.status.success(), "{}", said(&o));
    assert!(
        !o.stdout.contains(&0x1b) && !o.stderr.contains(&0x1b),
        "{}",
        said(&o)
    );
    assert!(!said(&o).contains('\u{202e}'), "{}", said(&o));
    assert!(said(&o).contains("dx\\u{1b}[8mGa\\u{202e}"), "{}", said(&o));
}
