//! ZK proof JSON (what a user receives) through the user's verifier
//! (`summa_agg_zk::verifier`), prepared once for a small shape over the unsafe test
//! SRS of the fixture's keys (`zk::fixture`).
//!
//! Modes: the JSON as the fuzzer wrote it, checked against the fixture's published
//! round or against a round with the root and totals it names itself (so that
//! arbitrary proofs reach the halo2 verifier); or the fixture's proof with its
//! proof bytes replaced by the fuzzer's.
//!
//! Contract: a parsed proof verifies only if it is the fixture's statement (its
//! entry, leaf and root) with a proof of the circuit's length: nothing the fuzzer
//! writes is accepted for anything else, and no input panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use summa_agg_fuzz::zk::{fixture, OPTIONS};
use summa_agg_fuzz::{oracle, Input};
use summa_agg_zk::verifier::Published;
use summa_agg_zk::ZkProof;

fn check(p: &ZkProof, published: &Published) {
    let f = fixture();
    if let Ok(v) = f.verifier.verify(p, published, &OPTIONS) {
        assert_eq!(published, &f.published, "a proof of another round verifies");
        assert!(v.unsafe_test_srs);
        assert_eq!(
            (&p.entry, &p.public_inputs, p.shape),
            (&f.proof.entry, &f.proof.public_inputs, f.proof.shape),
            "a proof of another statement verifies"
        );
        // Proofs are randomised, but their length is the circuit's: nothing
        // before or after the proof is ignored.
        assert_eq!(
            p.proof.len(),
            f.proof.proof.len(),
            "a proof with extra bytes verifies"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let mut inp = Input::new(data);
    match inp.u8() % 3 {
        0 | 1 => {
            let Ok(p) = serde_json::from_slice::<ZkProof>(inp.rest()) else {
                return;
            };
            check(&p, &f.published);
            if let Some(own) = oracle::hex_fr(&p.public_inputs.root_hash) {
                let mut claimed = f.published.clone();
                claimed.root = own;
                let totals: Option<Vec<_>> = p
                    .public_inputs
                    .totals
                    .iter()
                    .map(|t| summa_agg::field::parse_decimal(t.as_bytes()).ok())
                    .collect();
                if let Some(totals) = totals.filter(|t| t.len() == claimed.totals.len()) {
                    claimed.totals = totals;
                }
                check(&p, &claimed);
            }
        }
        _ => {
            let mut p = f.proof.clone();
            p.proof = format!("0x{}", hex::encode(inp.rest()));
            check(&p, &f.published);
        }
    }
});
