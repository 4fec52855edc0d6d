//! PLACEHOLDER for `summa_agg_zk::verifier` (issue 21): it verifies NOTHING; it only
//! reads the proof's entry so that the JavaScript and the page can be built. Deleted
//! when the real module lands.
#![allow(missing_docs)]
use serde::Serialize;
pub struct Request<'a> {
    pub proof_json: &'a [u8],
    pub result_json: &'a [u8],
    pub srs: &'a [u8],
    pub expected_user: Option<&'a str>,
    pub expected_balances: Option<&'a [String]>,
    pub unsafe_test_srs: bool,
}
pub struct Amount {
    pub currency: String,
    pub chain: String,
    pub amount: String,
}
#[derive(Serialize)]
pub struct Timings {
    pub vk_ms: f64,
}
pub struct Report {
    pub username: String,
    pub balances: Vec<Amount>,
    pub root: String,
    pub totals: Vec<Amount>,
    pub shape: String,
    pub unsafe_test_srs: bool,
    pub ceremony: String,
    pub timings_ms: Timings,
}
pub fn verify(req: &Request) -> Result<Report, summa_agg_zk::Error> {
    let p: summa_agg_zk::ZkProof = serde_json::from_slice(req.proof_json)
        .map_err(|e| summa_agg_zk::Error::Proof(format!("placeholder: {e}")))?;
    let _ = (
        req.result_json,
        req.srs,
        req.expected_user,
        req.expected_balances,
    );
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
        unsafe_test_srs: req.unsafe_test_srs,
        ceremony: "placeholder".into(),
        timings_ms: Timings { vk_ms: 0.0 },
    })
}
