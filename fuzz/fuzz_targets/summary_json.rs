//! Mini-tree summaries as JSON: the core's `SummaryJson` (what `mini-tree`
//! returns), the functions' `ShardSummary` (`P/runs/R/mini-trees/NNNNNN.json`,
//! which the aggregator reads back from the bucket), lists of them aggregated, and
//! the round's `result.json` (`RoundResult`).
//!
//! Contract: a summary converts exactly when its hashes are canonical `0x` hex and
//! its balances decimal (`oracle::hex_fr`, `oracle::decimal`); the aggregation
//! accepts summaries exactly when the reference does (`oracle::aggregation`: depth
//! fits the entries, the preimage commits to the root's balances and hashes to the
//! root by summa-solvency's Poseidon, totals in range) and then has the reference
//! root, and its file gives the same root and mini-tree table back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use num_bigint::BigUint;
use summa_agg::format::{write_aggregation, TreeFile};
use summa_agg::json::{NodeJson, RoundResult, SummaryJson};
use summa_agg::shard::Currency;
use summa_agg::tree::{Aggregation, TreeSummary};
use summa_agg::Params;
use summa_agg_fuzz::rounds::currencies;
use summa_agg_fuzz::{oracle, params_of, Input};
use summa_functions::model::ShardSummary;

/// Whether a summary's text fields parse, by the oracle's reading.
fn converts(s: &SummaryJson) -> bool {
    oracle::hex_fr(&s.root.hash).is_some()
        && s.root
            .balances
            .iter()
            .all(|b| oracle::decimal(b.as_bytes()).is_some())
        && s.root_preimage.iter().all(|h| oracle::hex_fr(h).is_some())
}

fn convert(jsons: &[SummaryJson]) -> Option<Vec<TreeSummary>> {
    let mut out = Vec::new();
    for s in jsons {
        let t = s.to_summary();
        assert_eq!(
            t.is_ok(),
            converts(s),
            "to_summary disagrees with the oracle: {t:?}"
        );
        let t = t.ok()?;
        // What converts writes back to the same summary.
        assert_eq!(SummaryJson::from(&t).to_summary().unwrap(), t);
        out.push(t);
    }
    Some(out)
}

fn aggregate(params: &Params, currencies: &[Currency], trees: Vec<TreeSummary>) {
    if params.validate().is_err() {
        assert!(Aggregation::build(params, currencies, trees).is_err());
        return;
    }
    let n_currencies = currencies.len();
    let reference = oracle::aggregation(params, n_currencies, &trees);
    let built = Aggregation::build(params, currencies, trees);
    match (&built, reference) {
        (Ok(agg), Some(Ok(r))) => {
            let root = agg.root();
            assert_eq!(
                root.hash, r.hash,
                "the aggregation's root differs from the reference"
            );
            let balances: Vec<BigUint> = root
                .balances
                .iter()
                .map(|v| BigUint::from_bytes_le(&v.to_le_bytes::<32>()))
                .collect();
            assert_eq!(balances, r.balances);
        }
        (Err(_), Some(Err(()))) | (_, None) => {}
        (Ok(_), Some(Err(()))) => panic!("the aggregation accepts summaries the reference refuses"),
        (Err(e), Some(Ok(_))) => panic!("the aggregation refuses valid summaries: {e}"),
    }
    if let Ok(agg) = built {
        let mut bytes = Vec::new();
        write_aggregation(&agg, &mut bytes).unwrap();
        let f = TreeFile::open(bytes, "aggregation.mst").expect("a written aggregation opens");
        assert_eq!(f.root().unwrap(), agg.root());
        assert_eq!(f.shards().unwrap(), agg.shards);
    }
}

fn node_round_trip(n: &NodeJson) {
    if let Ok(node) = n.to_node("node") {
        let canonical = NodeJson::from(&node);
        assert_eq!(canonical.to_node("again").unwrap(), node);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let mode = inp.u8();
    let params = params_of(inp.u8());
    let json = inp.rest();
    match mode % 4 {
        0 => {
            let Ok(s) = serde_json::from_slice::<SummaryJson>(json) else {
                return;
            };
            node_round_trip(&s.root);
            if let Some(trees) = convert(std::slice::from_ref(&s)) {
                aggregate(&params, &currencies(s.root.balances.len()), trees);
            }
        }
        1 => {
            let Ok(list) = serde_json::from_slice::<Vec<SummaryJson>>(json) else {
                return;
            };
            if list.len() > 16 {
                return;
            }
            let n_currencies = list.first().map_or(1, |s| s.root.balances.len());
            if let Some(trees) = convert(&list) {
                aggregate(&params, &currencies(n_currencies), trees);
            }
        }
        2 => {
            let Ok(s) = serde_json::from_slice::<ShardSummary>(json) else {
                return;
            };
            let params = Params {
                layout: s.layout,
                n_bytes: s.n_bytes,
            };
            if let Some(trees) = convert(std::slice::from_ref(&s.summary)) {
                aggregate(&params, &s.currencies, trees);
            }
        }
        _ => {
            let Ok(r) = serde_json::from_slice::<RoundResult>(json) else {
                return;
            };
            node_round_trip(&r.root);
            let again: RoundResult =
                serde_json::from_slice(&serde_json::to_vec(&r).unwrap()).unwrap();
            assert_eq!(again, r);
        }
    }
});
