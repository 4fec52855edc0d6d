//! The zero-knowledge inclusion verifier for browsers and Node.
//!
//! [`summa_agg_zk::verifier::verify`] is the one implementation of the trust rules
//! (the keys derived from the circuit and a pinned ceremony, the totals bound, the
//! user's own record shown); the command line's `summa-agg verify` calls it too. This
//! crate adds nothing to those rules: it turns a JSON request into a call and the
//! [`Report`] (or the error's sentence) into JSON, and [`wasm`] exposes that as plain
//! `extern "C"` functions of a WebAssembly module (its one import a clock), which
//! `verifier/js/` wraps as the ES module `summa_verifier.js` (`make verifier`).

#![deny(missing_docs)]

use serde::{Deserialize, Serialize};
use summa_agg_zk::verifier::{self as api, Amount, Options as Expectations, Report};

pub mod chain;
#[cfg(target_arch = "wasm32")]
mod wasm;

/// What the caller expects of the proof (the JavaScript `options`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// The user's username, when the caller wants it checked.
    #[serde(default)]
    pub username: Option<String>,
    /// The user's balances (decimal strings, in the published currency order).
    #[serde(default)]
    pub balances: Option<Vec<String>>,
    /// Accept keys on the unsafe test SRS (tests and examples only).
    #[serde(default)]
    pub unsafe_test_srs: bool,
    /// The round's commitment as read from the round registry: the root, totals,
    /// labels and verifying key then come from it, and a `result.json` given too
    /// must be the recorded one.
    #[serde(default)]
    pub chain: Option<chain::ChainRead>,
}

/// One amount of the outcome.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct AmountJson {
    /// The currency's name.
    pub currency: String,
    /// Its chain.
    pub chain: String,
    /// The amount, a decimal string.
    pub amount: String,
}

/// Names and labels come from files the custodian writes: escaped
/// ([`summa_agg::text::shown`]) before a page shows them, as the CLI escapes them
/// before a terminal (a right-to-left override would reorder a number).
fn shown(text: &str) -> String {
    summa_agg::text::shown(text).into_owned()
}

impl From<Amount> for AmountJson {
    fn from(a: Amount) -> Self {
        AmountJson {
            currency: shown(&a.currency),
            chain: shown(&a.chain),
            amount: a.amount,
        }
    }
}

/// The outcome, as the JavaScript `verify` returns it.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Whether the proof verified under every rule.
    pub ok: bool,
    /// Why not, as a sentence for a person (when `ok` is false).
    pub error: Option<String>,
    /// The user's username.
    pub username: Option<String>,
    /// The user's balances, in the published currency order.
    pub balances: Vec<AmountJson>,
    /// The root hash the proof was checked against (the published one).
    pub root: Option<String>,
    /// The root's per-currency totals (the published ones, bound by the proof).
    pub totals: Vec<AmountJson>,
    /// The round's shape, e.g. `v1-d28-c2-b14`.
    pub shape: Option<String>,
    /// Whether the unsafe test SRS was accepted (the proof then proves nothing).
    pub unsafe_test_srs: bool,
    /// The setup of the SRS: a ceremony's name, or `UNSAFE TEST SRS`.
    pub setup: Option<String>,
    /// Whether the verifying key was the one pinned in the module for the shape
    /// (no SRS file given), rather than derived from an SRS file.
    pub pinned_key: bool,
    /// Milliseconds spent in each step, where the platform has a clock.
    pub timings_ms: Option<serde_json::Value>,
    /// The registry's round the proof was checked against, when read from a chain.
    pub round: Option<u64>,
    /// Whether a `result.json` given with a chain read is the recorded one (none:
    /// no chain read, or no `result.json`).
    pub result_matches_chain: Option<bool>,
}

impl Outcome {
    /// A refusal with its reason.
    pub fn refused(error: impl AsRef<str>) -> Self {
        Outcome {
            error: Some(shown(error.as_ref())),
            ..Outcome::default()
        }
    }

    fn accepted(r: Report) -> Self {
        Outcome {
            ok: true,
            error: None,
            username: Some(shown(&r.username)),
            balances: r.balances.into_iter().map(Into::into).collect(),
            root: Some(r.root),
            totals: r.totals.into_iter().map(Into::into).collect(),
            shape: Some(r.shape),
            unsafe_test_srs: r.unsafe_test_srs,
            setup: Some(r.setup),
            pinned_key: r.pinned_key,
            timings_ms: r.timings_ms.and_then(|t| serde_json::to_value(t).ok()),
            round: None,
            result_matches_chain: None,
        }
    }
}

/// A clock in milliseconds, for the report's timings.
pub type Clock<'a> = Option<&'a dyn Fn() -> f64>;

/// Verifies a proof: `options` is the JSON of [`Options`] (empty means none);
/// `srs` empty: the verifying key pinned for the shape ([`summa_agg_zk::pinned`]).
pub fn verify(
    proof_json: &[u8],
    result_json: &[u8],
    srs: &[u8],
    options: &[u8],
    clock: Clock,
) -> Outcome {
    let options: Options = if options.iter().all(u8::is_ascii_whitespace) {
        Options::default()
    } else {
        match summa_agg::json::from_slice_strict(options) {
            Ok(o) => o,
            Err(e) => return Outcome::refused(format!("The options are not valid: {e}.")),
        }
    };
    let expect = Expectations {
        expected_user: options.username.as_deref(),
        expected_balances: options.balances.as_deref(),
        unsafe_test_srs: options.unsafe_test_srs,
        clock,
    };
    match &options.chain {
        None => match api::verify_files(proof_json, result_json, srs, &expect) {
            Ok(report) => Outcome::accepted(report),
            Err(e) => Outcome::refused(e.to_string()),
        },
        Some(read) => on_chain(read, proof_json, result_json, srs, &expect),
    }
}

/// [`verify`] against the round's record read from a chain.
fn on_chain(
    read: &chain::ChainRead,
    proof_json: &[u8],
    result_json: &[u8],
    srs: &[u8],
    expect: &Expectations,
) -> Outcome {
    let proof = match api::parse_proof(proof_json) {
        Ok(p) => p,
        Err(e) => return Outcome::refused(e.to_string()),
    };
    let (id, record) = match chain::record(read, proof.shape) {
        Ok(r) => r,
        Err(e) => return Outcome::refused(e),
    };
    let given = !result_json.iter().all(u8::is_ascii_whitespace);
    if given {
        if let Err(e) = record.check_result(result_json, "the result.json given") {
            return Outcome::refused(e.to_string());
        }
    }
    match summa_agg_zk::record::verify_record(&proof, &record, id, srs, expect) {
        Ok((_, report)) => Outcome {
            round: Some(id),
            result_matches_chain: given.then_some(true),
            ..Outcome::accepted(report)
        },
        Err(e) => Outcome::refused(e.to_string()),
    }
}

/// `{"round": N}` (or `{}`: the latest round) → `{"data": "0x.."}`: the `eth_call`
/// data that reads the round's commitment ([`chain::call_data`]), or `{"error": ..}`.
pub fn chain_call_json(request: &[u8]) -> String {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Request {
        #[serde(default)]
        round: Option<u64>,
    }
    let answer = match summa_agg::json::from_slice_strict::<Request>(request) {
        Ok(r) => {
            serde_json::json!({ "data": format!("0x{}", hex::encode(chain::call_data(r.round))) })
        }
        Err(e) => serde_json::json!({ "error": shown(&format!("The round is not valid: {e}.")) }),
    };
    answer.to_string()
}

/// [`verify`], as the JSON the JavaScript module returns.
pub fn verify_to_json(
    proof_json: &[u8],
    result_json: &[u8],
    srs: &[u8],
    options: &[u8],
    clock: Clock,
) -> String {
    let outcome = verify(proof_json, result_json, srs, options, clock);
    serde_json::to_string(&outcome).unwrap_or_else(|e| {
        format!(r#"{{"ok":false,"error":"the outcome could not be written: {e}"}}"#)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(json: &str) -> serde_json::Value {
        serde_json::from_str(json).expect("the outcome is JSON")
    }

    #[test]
    fn empty_and_malformed_inputs_are_refused_with_a_reason() {
        for (proof, result, srs) in [
            (&b""[..], &b""[..], &b""[..]),
            (b"{", b"{}", b"\x00"),
            (b"[]", b"[]", b"[]"),
        ] {
            let o = outcome(&verify_to_json(proof, result, srs, b"", None));
            assert_eq!(o["ok"], false);
            assert!(o["error"].as_str().is_some_and(|e| e.len() > 10), "{o}");
            assert_eq!(o["balances"], serde_json::json!([]));
            assert!(o["username"].is_null());
        }
    }

    #[test]
    fn options_are_parsed_strictly() {
        let o = outcome(&verify_to_json(b"", b"", b"", b"{\"unsafe\": true}", None));
        assert_eq!(o["ok"], false);
        assert!(o["error"].as_str().unwrap().contains("options"), "{o}");
        let parsed: Options =
            serde_json::from_str(r#"{"username":"a","balances":["1","2"],"unsafeTestSrs":true}"#)
                .unwrap();
        assert_eq!(parsed.username.as_deref(), Some("a"));
        assert_eq!(
            parsed.balances.as_deref(),
            Some(&["1".to_string(), "2".to_string()][..])
        );
        assert!(parsed.unsafe_test_srs);
    }
}
