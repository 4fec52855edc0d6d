//! A synthetic round of any shape, for measuring the verifier (`make verifier-bench`):
//! a proof of a made-up user on a synthetic path (`Witness::synthetic`, the one
//! `summa-agg bench-zk` proves), a `result.json` whose root and totals are that
//! path's, and the unsafe test SRS. Not a real round: a depth-28 round has 2^28
//! leaves; the verifier's cost depends on the shape only.
//!
//!   cargo run --release -p summa-agg-verifier --example synthetic -- OUT [DEPTH] [CURRENCIES]

use std::fs;
use std::path::PathBuf;

use summa_agg::field::{fr_to_u256, to_hex};
use summa_agg::json::{labels_digest_hex, NodeJson, RoundResult};
use summa_agg::poseidon;
use summa_agg::proof::EntryJson;
use summa_agg::shard::Currency;
use summa_agg::Layout;
use summa_agg_zk::keys::{Keys, SrsSource};
use summa_agg_zk::proof::{PublicInputs, ZkProof, ZK_PROOF_KIND};
use summa_agg_zk::{Shape, Witness};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: synthetic OUT [DEPTH] [CURRENCIES]")?,
    );
    let depth: u32 = args.next().map_or(Ok(28), |a| a.parse())?;
    let currencies: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let shape = Shape {
        layout: Layout::V1,
        depth,
        currencies,
        n_bytes: 14,
    };
    let username = "dxGaEAii";
    let mut witness = Witness::synthetic(&shape, 1);
    witness.username = shape.layout.username_fe(username.as_bytes());
    let mut keys = Keys::generate(shape, &SrsSource::UnsafeTest)?;
    let (bytes, public) = summa_agg_zk::proof::prove_raw(&keys, shape, witness.clone())?;
    let mut pre = vec![witness.username];
    pre.extend(witness.balances.iter().copied());
    assert_eq!(public[0], poseidon::hash(&pre), "the leaf is the entry's");
    let decimal = |f| fr_to_u256(f).to_string();
    let labels: Vec<Currency> = (0..currencies)
        .map(|i| Currency {
            name: format!("C{i}"),
            chain: "ETH".into(),
        })
        .collect();
    let labels_digest = labels_digest_hex(&labels);
    let totals: Vec<String> = public[2..].iter().map(decimal).collect();
    // The files as the prover and the aggregator write them (typed, so that a new
    // field of either is not left out here).
    let proof = ZkProof {
        kind: ZK_PROOF_KIND.into(),
        warning: Some(summa_agg_zk::UNSAFE_TEST_SRS_WARNING.into()),
        shape,
        currencies: labels.clone(),
        labels_digest: labels_digest.clone(),
        entry: EntryJson {
            username: username.into(),
            balances: witness.balances.iter().map(decimal).collect(),
        },
        public_inputs: PublicInputs {
            leaf_hash: to_hex(&public[0]),
            root_hash: to_hex(&public[1]),
            totals: totals.clone(),
        },
        proof: format!("0x{}", hex::encode(&bytes)),
    };
    let result = RoundResult {
        root: NodeJson {
            hash: to_hex(&public[1]),
            balances: totals,
        },
        depth,
        mini_tree_depth: depth,
        mini_trees: 1,
        entries: 1,
        layout: shape.layout,
        n_bytes: shape.n_bytes,
        currencies: labels,
        run: None,
        inputs: Vec::new(),
        previous: None,
        reused_mini_trees: 0,
        artifacts: Default::default(),
        labels_digest: Some(labels_digest),
        build: None,
    };
    fs::create_dir_all(&out)?;
    fs::write(out.join("proof.json"), serde_json::to_vec_pretty(&proof)?)?;
    fs::write(out.join("result.json"), serde_json::to_vec_pretty(&result)?)?;
    let files = keys.to_files()?;
    let srs = &files
        .iter()
        .find(|(n, _)| *n == "srs.bin")
        .ok_or("no srs.bin")?
        .1;
    fs::write(out.join("srs.bin"), srs)?;
    eprintln!("synthetic: shape {} in {}", shape.id(), out.display());
    Ok(())
}
