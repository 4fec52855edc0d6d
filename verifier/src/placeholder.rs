//! PLACEHOLDER for `summa_agg_zk::verifier` (issue 21): it verifies NOTHING; it only
//! reads the proof's entry so that the JavaScript and the page can be built. Deleted
//! when the real module lands.
#![allow(missing_docs)]
use serde::Serialize;
#[derive(Default)]
pub struct Options<'a> {
    pub expected_user: Option<&'a str>,
    pub expected_balances: Option<&'a [String]>,
    pub unsafe_test_srs: bool,
    pub clock: Option<&'a dyn Fn() -> f64>,
}
pub struct Amount {
    pub currency: String,
    pub chain: String,
    pub amount: String,
}
#[derive(Serialize)]
pub struct Timings {
    pub srs: f64,
    pub vk: f64,
    pub proof: f64,
}
pub struct Report {
    pub username: String,
    pub balances: Vec<Amount>,
    pub root: String,
    pub totals: Vec<Amount>,
    pub shape: String,
    pub setup: String,
    pub unsafe_test_srs: bool,
    pub timings_ms: Option<Timings>,
}
pub fn verify_files(
    proof_json: &[u8],
    _result_json: &[u8],
    _srs: &[u8],
    opts: &Options,
) -> Result<Report, summa_agg_zk::Error> {
    let p: summa_agg_zk::ZkProof = serde_json::from_slice(proof_json)
        .map_err(|e| summa_agg_zk::Error::Proof(format!("placeholder: {e}")))?;
    let t = opts.clock.map(|c| c());
    Ok(Report {
        username: p.entry.username.clone(),
        balances: p
            .currencies
            .iter()
            .zip(&p.entry.balances)
            .map(|(c, b)| Amount {
                currency: c.name.clone(),
                chain: c.chain.clone(),
                amount: b.clone(),
            })
            .collect(),
        root: p.public_inputs.root_hash.clone(),
        totals: vec![],
        shape: p.shape.id(),
        setup: "placeholder".into(),
        unsafe_test_srs: opts.unsafe_test_srs,
        timings_ms: t.map(|t| Timings {
            srs: t,
            vk: 0.0,
            proof: 0.0,
        }),
    })
}
