//! Keys on the unsafe test SRS, real proofs of users of a multi-shard round, and a
//! user's verification: what it accepts, and each way a custodian could cheat.

mod common;

use std::collections::HashSet;

use common::{error_of, Round, SHARDS};
use summa_agg::round::RESULT_FILE;
use summa_agg::Layout;
use summa_agg_zk::keys::{check_published, Keys, PublishedKeys, SrsSource};
use summa_agg_zk::verifier::{verify, verify_files, Options, Published, Report};
use summa_agg_zk::{prove, Shape, ZkProof, UNSAFE_TEST_SRS_WARNING};

/// A round of fixture shards, its users, its keys (unsafe test SRS) and what it
/// published.
struct Fixture {
    round: Round,
    users: Vec<String>,
    keys: Keys,
    keys_dir: tempfile::TempDir,
    result_json: Vec<u8>,
    published: Published,
    srs: Vec<u8>,
}

fn fixture(layout: Layout, shards: &[&str]) -> Fixture {
    let round = Round::run(shards, layout);
    let result_json = std::fs::read(round.dir.path().join(RESULT_FILE)).unwrap();
    let published = Published::from_result_json(&result_json).unwrap();
    let (keys_dir, keys) = common::test_keys(published.shape);
    let srs = std::fs::read(keys_dir.path().join("srs.bin")).unwrap();
    Fixture {
        round,
        users: Round::users(shards),
        keys,
        keys_dir,
        result_json,
        published,
        srs,
    }
}

const TEST_SRS: Options<'static> = Options {
    expected_user: None,
    expected_balances: None,
    unsafe_test_srs: true,
    clock: None,
};

impl Fixture {
    fn proof(&self, user: &str) -> ZkProof {
        prove(&self.keys, &self.round.merkle_proof(user)).unwrap()
    }

    fn check(&self, p: &ZkProof) -> Result<Report, String> {
        verify(p, &self.published, &self.srs, &TEST_SRS).map_err(|e| e.to_string())
    }

    fn refused(&self, p: &ZkProof, published: &Published, want: &str) {
        let e = verify(p, published, &self.srs, &TEST_SRS)
            .err()
            .unwrap_or_else(|| panic!("accepted; expected {want:?}"))
            .to_string();
        assert!(e.contains(want), "{e}\n  expected: {want}");
    }
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
fn a_genuine_proof_verifies_and_shows_the_users_record_and_the_published_totals() {
    let f = fixture(Layout::V1, &SHARDS);
    for user in [&f.users[5], &f.users[40]] {
        let p = f.proof(user);
        assert_eq!(p.warning.as_deref(), Some(UNSAFE_TEST_SRS_WARNING));
        // Through JSON, as a user receives the files.
        let text = serde_json::to_vec(&p).unwrap();
        let r = verify_files(&text, &f.result_json, &f.srs, &TEST_SRS).unwrap();
        let merkle = f.round.merkle_proof(user);
        assert_eq!(r.username, *user);
        let shown: Vec<(&str, &str, &str)> = r
            .balances
            .iter()
            .map(|a| (a.currency.as_str(), a.chain.as_str(), a.amount.as_str()))
            .collect();
        assert_eq!(
            shown,
            vec![
                ("ETH", "ETH", merkle.entry.balances[0].as_str()),
                ("USDT", "ETH", merkle.entry.balances[1].as_str())
            ]
        );
        let totals: Vec<&str> = r.totals.iter().map(|a| a.amount.as_str()).collect();
        assert_eq!(totals, ["2227448", "2227448"]);
        assert_eq!(r.root, merkle.root.hash);
        assert_eq!(r.shape, "v1-d6-c2-b14");
        assert!(r.unsafe_test_srs);
        assert_eq!(r.setup, "UNSAFE TEST SRS");
        // The user's own expectations, met.
        let balances = merkle.entry.balances.clone();
        let opts = Options {
            expected_user: Some(user),
            expected_balances: Some(&balances),
            ..TEST_SRS
        };
        verify(&p, &f.published, &f.srs, &opts).unwrap();
    }
    // The same files without saying the test setup is acceptable: refused.
    let p = f.proof(&f.users[5]);
    let e = error_of(verify(&p, &f.published, &f.srs, &Options::default()));
    assert!(
        e.contains("UNSAFE TEST SRS") && e.contains("refused"),
        "{e}"
    );
}

#[test]
fn a_proof_file_carries_nothing_of_another_user() {
    let f = fixture(Layout::V1, &SHARDS);
    let user = &f.users[5];
    let p = f.proof(user);
    let text = serde_json::to_string(&p).unwrap();
    let mut said = Vec::new();
    strings(&serde_json::from_str(&text).unwrap(), &mut said);
    let own: HashSet<&String> = p.entry.balances.iter().collect();
    for other in f.users.iter().filter(|u| *u != user) {
        let theirs = f.round.merkle_proof(other).entry;
        assert!(!said.contains(&theirs.username), "{other}'s name");
        for b in theirs.balances.iter().filter(|b| !own.contains(b)) {
            assert!(!said.contains(b), "{other}'s balance {b}");
        }
    }
    let merkle = f.round.merkle_proof(user);
    for h in merkle
        .sibling_leaf_node_hash_preimage
        .iter()
        .chain(&merkle.sibling_middle_node_hash_preimages)
        .flatten()
    {
        assert!(
            !text.contains(h.trim_start_matches("0x")),
            "a sibling's {h}"
        );
    }
}

#[test]
fn each_way_to_cheat_is_refused_with_its_reason() {
    let f = fixture(Layout::V1, &SHARDS);
    let p = f.proof(&f.users[5]);
    let q = f.proof(&f.users[40]);
    f.check(&p).unwrap();
    let published = &f.published;

    // The entry's balance changed: it no longer hashes to the proven leaf.
    let mut bad = p.clone();
    bad.entry.balances[0] = (bad.entry.balances[0].parse::<u64>().unwrap() + 1).to_string();
    f.refused(&bad, published, "not to the leaf");
    // Another user's record with its leaf: the halo2 proof is for the first leaf.
    let mut bad = p.clone();
    bad.entry = q.entry.clone();
    bad.public_inputs.leaf_hash = q.public_inputs.leaf_hash.clone();
    f.refused(&bad, published, "zero-knowledge proof does not verify");
    // A wrong published root.
    let mut other = published.clone();
    other.root += summa_agg::Fr::from(1u64);
    f.refused(&p, &other, "not the published root");
    // The file claims that root too: halo2 rejects.
    let mut bad = p.clone();
    bad.public_inputs.root_hash = summa_agg::field::to_hex(&other.root);
    f.refused(&bad, &other, "zero-knowledge proof does not verify");
    // An understated total in result.json.
    let mut under = published.clone();
    under.totals[1] -= summa_agg::field::U256::from(1000u64);
    f.refused(
        &p,
        &under,
        "total of USDT differs from the published result",
    );
    // ... and a file that claims the understated total too: halo2 rejects.
    let mut bad = p.clone();
    bad.public_inputs.totals[1] = under.totals[1].to_string();
    f.refused(&bad, &under, "zero-knowledge proof does not verify");
    // Flipped proof bytes; bytes appended after the transcript.
    let mut bad = p.clone();
    let mut chars: Vec<char> = bad.proof.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == '0' { '1' } else { '0' };
    bad.proof = chars.into_iter().collect();
    f.refused(&bad, published, "does not verify");
    let mut bad = p.clone();
    bad.proof.push_str("00");
    f.refused(
        &bad,
        published,
        "1 bytes follow the end of the proof's transcript",
    );
    // A proof relabelled with another shape.
    let mut bad = p.clone();
    bad.shape.depth = 7;
    f.refused(&bad, published, "shape v1-d7-c2-b14");

    // The user's own record: another name, other balances.
    let opts = Options {
        expected_user: Some("alice"),
        ..TEST_SRS
    };
    let e = error_of(verify(&p, published, &f.srs, &opts));
    let said = format!("proof is for user {:?}, not \"alice\"", f.users[5]);
    assert!(e.contains(&said), "{e}");
    let mut want = p.entry.balances.clone();
    want[0] = "100".into();
    let opts = Options {
        expected_balances: Some(&want),
        ..TEST_SRS
    };
    let e = error_of(verify(&p, published, &f.srs, &opts));
    let said = format!(
        "proof is for balances {}, {}, not 100, {}",
        p.entry.balances[0], p.entry.balances[1], p.entry.balances[1]
    );
    assert!(e.contains(&said), "{e}");

    // Malformed and empty files.
    let good = serde_json::to_vec(&p).unwrap();
    let cases: [(&[u8], &[u8], &str); 5] = [
        (b"", &f.result_json, "the proof file is empty"),
        (b"{not json", &f.result_json, "not a zero-knowledge proof"),
        (&good, b"", "result.json) is empty"),
        (&good, b"[1, 2]", "not a round's result.json"),
        (
            &good,
            &f.result_json[..f.result_json.len() / 2],
            "not a round's result.json",
        ),
    ];
    for (proof, result, want) in cases {
        let e = error_of(verify_files(proof, result, &f.srs, &TEST_SRS));
        assert!(e.contains(want), "{e}\n  expected: {want}");
    }
    // No SRS file: the key pinned for the shape (zk/tests/pinned.rs); a file that
    // is there but empty of points is still refused.
    assert!(
        verify_files(&good, &f.result_json, &[], &TEST_SRS)
            .unwrap()
            .pinned_key
    );
    let e = error_of(verify_files(&good, &f.result_json, &[0; 4], &TEST_SRS));
    assert!(e.contains("SRS"), "{e}");
}

#[test]
fn a_username_that_is_not_canonical_is_refused() {
    let f = fixture(Layout::Agg2023, &["entry_16.csv"]);
    let p = f.proof("dxGaEAii");
    f.check(&p).unwrap();
    // "\0dxGaEAii" reads as the same integer, hence the same leaf.
    let mut bad = p.clone();
    bad.entry.username = "\0dxGaEAii".into();
    f.refused(&bad, &f.published, "starts with a NUL byte");
}

#[test]
fn published_keys_are_checked_against_the_circuit() {
    let f = fixture(Layout::V1, &SHARDS);
    let dir = f.keys_dir.path();
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let (keys_json, vk, pk) = (read("keys.json"), read("vk.bin"), read("pk.bin"));
    let published = |keys_json: &'static [u8], vk: &'static [u8]| PublishedKeys {
        keys_json,
        vk_bin: vk,
        pk_bin: None,
        srs_bin: None,
    };
    let leak = |b: Vec<u8>| -> &'static [u8] { Box::leak(b.into_boxed_slice()) };
    let (keys_json, vk, pk) = (leak(keys_json), leak(vk), leak(pk));
    let all = PublishedKeys {
        pk_bin: Some(pk),
        srs_bin: Some(&f.srs),
        ..published(keys_json, vk)
    };
    let checked = check_published(&all, &f.srs, true).unwrap();
    assert_eq!(checked.shape, f.published.shape);
    assert!(checked.setup.is_unsafe_test());
    assert!(checked.unchecked.is_empty());
    let checked = check_published(&published(keys_json, vk), &f.srs, true).unwrap();
    assert_eq!(checked.unchecked, ["pk.bin", "srs.bin"]);
    // The test setup is refused unless allowed.
    let e = error_of(check_published(&all, &f.srs, false));
    assert!(e.contains("UNSAFE TEST SRS"), "{e}");
    // The verifying key of another shape, relabelled as this one.
    let other = Shape {
        depth: 7,
        ..f.published.shape
    };
    let other_dir = tempfile::tempdir().unwrap();
    Keys::generate(other, &SrsSource::UnsafeTest)
        .unwrap()
        .write(other_dir.path())
        .unwrap();
    let other_vk = leak(std::fs::read(other_dir.path().join("vk.bin")).unwrap());
    let e = error_of(check_published(
        &published(keys_json, other_vk),
        &f.srs,
        true,
    ));
    assert!(
        e.contains("keys are not this circuit's for shape v1-d6-c2-b14"),
        "{e}"
    );
    // keys.json's claims: each changed claim is refused, naming it.
    let meta: serde_json::Value = serde_json::from_slice(keys_json).unwrap();
    let claims: [(&[&str], serde_json::Value, &str); 8] = [
        // Keys of the circuit before shared output rows: another circuit's.
        (
            &["format"],
            "summa-agg-zk-keys/2".into(),
            "make them again with summa-agg zk-keys",
        ),
        (&["srs", "kind"], "ceremony".into(), "the SRS kind"),
        (
            &["srs", "setup"],
            "Hermez (Polygon zkEVM) powers of tau".into(),
            "the setup",
        ),
        (&["srs", "s_g2"], "00".into(), "[τ]_2"),
        (&["warning"], serde_json::Value::Null, "warning"),
        (&["sha256", "vk"], "00".into(), "vk.bin's SHA-256"),
        (&["sha256", "pk"], "00".into(), "pk.bin's SHA-256"),
        (&["sha256", "srs"], "00".into(), "srs.bin's SHA-256"),
    ];
    for (path, value, want) in claims {
        let mut m = meta.clone();
        let mut at = &mut m;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        if value.is_null() {
            at.as_object_mut().unwrap().remove(path[path.len() - 1]);
        } else {
            at[path[path.len() - 1]] = value;
        }
        let changed = leak(serde_json::to_vec(&m).unwrap());
        let e = error_of(check_published(
            &PublishedKeys {
                keys_json: changed,
                ..all
            },
            &f.srs,
            true,
        ));
        assert!(e.contains(want), "{path:?}: {e}\n  expected: {want}");
    }
}

#[test]
fn agg2023_and_legacy_proofs_verify() {
    for layout in [Layout::Agg2023, Layout::Legacy] {
        let f = fixture(layout, &["entry_16.csv"]);
        let r = f.check(&f.proof("dxGaEAii")).unwrap();
        assert_eq!(r.username, "dxGaEAii");
    }
}

/// The currency labels are bound: the proof file carries their digest, which must
/// be that of its own labels and of the published ones (issue 29: labels swapped or
/// renamed in result.json used to verify, and the user read USDT as ETH).
#[test]
fn labels_swapped_or_renamed_after_the_proof_are_refused() {
    use summa_agg::json::{labels_digest_hex, RoundResult};
    let f = fixture(Layout::V1, &SHARDS);
    let p = f.proof(&f.users[3]);
    assert_eq!(p.labels_digest, labels_digest_hex(&f.published.currencies));
    // Published labels swapped or renamed, whatever digest result.json claims.
    let mut swapped = f.published.clone();
    swapped.currencies.reverse();
    f.refused(&p, &swapped, "are not the ones this proof was made for");
    let mut renamed = f.published.clone();
    renamed.currencies[0].name = "BTC".into();
    f.refused(&p, &renamed, "are not the ones this proof was made for");
    // The proof file's labels changed, with or without its digest.
    let mut bad = p.clone();
    bad.currencies.reverse();
    f.refused(&bad, &f.published, "commits to");
    bad.labels_digest = labels_digest_hex(&bad.currencies);
    f.refused(
        &bad,
        &f.published,
        "are not the ones this proof was made for",
    );
    // result.json: the digest must be there, and be its currencies'.
    let mut r: RoundResult = serde_json::from_slice(&f.result_json).unwrap();
    r.currencies.reverse();
    let e = error_of(Published::from_result(&r));
    assert!(e.contains("is not the digest of its currencies"), "{e}");
    r.labels_digest = None;
    let e = error_of(Published::from_result(&r));
    assert!(e.contains("has no labels_digest"), "{e}");
    // A file of the previous version says so.
    let mut v: serde_json::Value = serde_json::to_value(&p).unwrap();
    v["kind"] = "summa-agg zk inclusion proof/3".into();
    v.as_object_mut().unwrap().remove("labels_digest");
    let e = error_of(verify_files(
        &serde_json::to_vec(&v).unwrap(),
        &f.result_json,
        &f.srs,
        &TEST_SRS,
    ));
    assert!(
        e.contains("not a zero-knowledge proof of this version"),
        "{e}"
    );
}
