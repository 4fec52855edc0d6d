//! Merkle proof JSON (`summa-agg proof`'s output) through `proof::verify`, alone or
//! with a published `result.json` (`proof::verify_with_result`, what `summa-agg
//! verify --result` runs).
//!
//! Contract: the library accepts a proof exactly when the reference verifier does
//! (`oracle::verify_proof`: the README's rules, summa-solvency's Poseidon over the
//! generic primitive, integers as `BigUint`), and then reaches the same root.

#![no_main]

use libfuzzer_sys::fuzz_target;
use num_bigint::BigUint;
use summa_agg::json::RoundResult;
use summa_agg::proof::{self, Proof};
use summa_agg::tree::Node;
use summa_agg_fuzz::oracle::{self, RNode};
use summa_agg_fuzz::Input;

fn same(lib: &summa_agg::Result<Node>, reference: Option<Result<RNode, ()>>) {
    let Some(reference) = reference else {
        return;
    };
    match (lib, reference) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.hash, b.hash, "the reached roots differ");
            let balances: Vec<BigUint> = a
                .balances
                .iter()
                .map(|v| BigUint::from_bytes_le(&v.to_le_bytes::<32>()))
                .collect();
            assert_eq!(balances, b.balances, "the reached totals differ");
        }
        (Err(_), Err(())) => {}
        (Ok(_), Err(())) => panic!("the library accepts a proof the reference refuses"),
        (Err(e), Ok(_)) => panic!("the library refuses a proof the reference accepts: {e}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let mode = inp.u8();
    let proof_json = inp.part();
    let Ok(p) = serde_json::from_slice::<Proof>(proof_json) else {
        return;
    };
    match mode % 3 {
        0 => same(&proof::verify(&p, None), oracle::verify_proof(&p, None)),
        1 => {
            // Pinned to the proof's own root, or to another.
            let root = oracle::hex_fr(&p.root.hash).unwrap_or_default();
            let root = if mode & 0x80 != 0 {
                root + <summa_agg::Fr as ff::Field>::ONE
            } else {
                root
            };
            same(
                &proof::verify(&p, Some(&root)),
                oracle::verify_proof(&p, Some(&root)),
            );
        }
        _ => {
            let Ok(result) = serde_json::from_slice::<RoundResult>(inp.rest()) else {
                return;
            };
            same(
                &proof::verify_with_result(&p, &result),
                oracle::verify_with_result(&p, &result),
            );
        }
    }
});
