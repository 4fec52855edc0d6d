//! The fast path: a proof checked with the verifying key pinned in code, no SRS
//! file, under the same trust rules as with a key derived from an SRS file.

mod common;

use common::{Round, SHARDS};
use summa_agg::round::RESULT_FILE;
use summa_agg::Layout;
use summa_agg_zk::verifier::{verify, verify_with_vk_file, Options, Published};
use summa_agg_zk::{prove, ZkProof};

fn options(unsafe_test_srs: bool) -> Options<'static> {
    Options {
        expected_user: None,
        expected_balances: None,
        unsafe_test_srs,
        clock: None,
    }
}

/// Why `verify` with no SRS file refuses `proof` against `published`.
fn refusal(proof: &ZkProof, published: &Published, unsafe_test_srs: bool) -> String {
    verify(proof, published, &[], &options(unsafe_test_srs))
        .unwrap_err()
        .to_string()
}

struct Fixture {
    published: Published,
    srs: Vec<u8>,
    vk_bin: Vec<u8>,
    proof: ZkProof,
}

fn fixture(layout: Layout) -> Fixture {
    let round = Round::run(&SHARDS, layout);
    let result_json = std::fs::read(round.dir.path().join(RESULT_FILE)).unwrap();
    let published = Published::from_result_json(&result_json).unwrap();
    let (dir, keys) = common::test_keys(published.shape);
    let user = &Round::users(&SHARDS)[0];
    Fixture {
        proof: prove(&keys, &round.merkle_proof(user)).unwrap(),
        srs: std::fs::read(dir.path().join("srs.bin")).unwrap(),
        vk_bin: std::fs::read(dir.path().join("vk.bin")).unwrap(),
        published,
    }
}

#[test]
fn a_pinned_shape_verifies_without_an_srs_file_under_the_same_rules() {
    let f = fixture(Layout::V1);
    let fast = verify(&f.proof, &f.published, &[], &options(true)).unwrap();
    assert!(fast.pinned_key && fast.unsafe_test_srs, "{fast:?}");
    assert_eq!(fast.setup, "UNSAFE TEST SRS");
    let slow = verify(&f.proof, &f.published, &f.srs, &options(true)).unwrap();
    assert!(!slow.pinned_key);
    assert_eq!(
        (fast.username, fast.balances, fast.root, fast.totals),
        (slow.username, slow.balances, slow.root, slow.totals)
    );
    // The published vk.bin is the pinned key; another shape's is refused.
    verify_with_vk_file(&f.proof, &f.published, &[], &f.vk_bin, &options(true)).unwrap();
    let mut other = f.vk_bin.clone();
    let last = other.len() - 1;
    other[last] ^= 1;
    let e = verify_with_vk_file(&f.proof, &f.published, &[], &other, &options(true))
        .unwrap_err()
        .to_string();
    assert!(e.contains("vk.bin differs"), "{e}");

    // The test setup's key is refused without the flag, and says why.
    let e = refusal(&f.proof, &f.published, false);
    assert!(
        e.contains("only the UNSAFE TEST SRS's") && e.contains("give the ceremony's SRS file"),
        "{e}"
    );

    // A changed proof byte, or another total, fails as it does with an SRS file.
    let mut tampered = f.proof.clone();
    let flip = if tampered.proof.ends_with('0') {
        "1"
    } else {
        "0"
    };
    tampered
        .proof
        .replace_range(tampered.proof.len() - 1.., flip);
    let e = refusal(&tampered, &f.published, true);
    assert!(e.contains("does not verify"), "{e}");
    // Another total, claimed by the proof file too (so that only the cryptography can
    // refuse it): the pinned key binds the totals.
    let mut published = f.published.clone();
    published.totals[0] += summa_agg::field::U256::from(1u64);
    let mut claims = f.proof.clone();
    claims.public_inputs.totals[0] = published.totals[0].to_string();
    let e = refusal(&claims, &published, true);
    assert!(e.contains("does not verify"), "{e}");
}

#[test]
fn a_shape_with_no_pinned_key_needs_an_srs_file_and_says_it_takes_seconds() {
    let f = fixture(Layout::Legacy);
    let e = refusal(&f.proof, &f.published, true);
    assert!(
        e.contains("no verifying key is pinned") && e.contains("takes seconds"),
        "{e}"
    );
    assert!(
        !verify(&f.proof, &f.published, &f.srs, &options(true))
            .unwrap()
            .pinned_key
    );
}
