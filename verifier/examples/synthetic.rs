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
use summa_agg::poseidon;
use summa_agg::Layout;
use summa_agg_zk::keys::{Keys, SrsSource};
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
    let labels: Vec<_> = (0..currencies)
        .map(|i| serde_json::json!({"name": format!("C{i}"), "chain": "ETH"}))
        .collect();
    let totals: Vec<String> = public[2..].iter().map(decimal).collect();
    let proof = serde_json::json!({
        "kind": summa_agg_zk::proof::ZK_PROOF_KIND,
        "warning": summa_agg_zk::UNSAFE_TEST_SRS_WARNING,
        "shape": shape,
        "currencies": labels,
        "entry": {"username": username, "balances": witness.balances.iter().map(decimal).collect::<Vec<_>>()},
        "public_inputs": {"leaf_hash": to_hex(&public[0]), "root_hash": to_hex(&public[1]), "totals": totals},
        "proof": format!("0x{}", hex::encode(&bytes)),
    });
    let result = serde_json::json!({
        "root": {"hash": to_hex(&public[1]), "balances": totals},
        "depth": depth, "mini_tree_depth": depth, "mini_trees": 1, "entries": 1,
        "layout": shape.layout, "n_bytes": shape.n_bytes, "currencies": labels,
    });
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
