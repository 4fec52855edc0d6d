//! A round's commitment read from the round registry through an Ethereum JSON-RPC
//! endpoint. The module has no network: it makes the call's data (`latest()`, or
//! `getRound(id)`) with alloy's ABI types over the compiled contract's ABI (the one
//! the command line's bindings are made from), the page sends it (`eth_call`, the
//! page's one request), and the answer comes back here to be decoded into the
//! verifier's [`Record`].
//!
//! The record's shape is the one its verifying key's digest pins
//! ([`summa_agg_zk::pinned::shape_of_digest`]); for a key not pinned, the proof
//! file's shape, which the key derived from an SRS file must then match by digest
//! ([`summa_agg_zk::record::verify_record`]). Either way the key binds the depth, the
//! currencies, `n_bytes` and whether the layout is legacy. The v1 and agg2023
//! layouts share one circuit, hence one key: they differ only in how a username
//! becomes a field element, which the verifier computes from the user's own
//! username outside the circuit. So between those two the proof file's layout is
//! taken (the command line takes the one the registry registered with the key).

use alloy_sol_types::{sol, SolCall};
use serde::Deserialize;
use summa_agg::field::U256;
use summa_agg::Layout;
use summa_agg_zk::record::{Record, RecordWords};
use summa_agg_zk::Shape;

sol!(RoundRegistry, "../contracts/out/RoundRegistry.json");

/// Which round to read, and the endpoint's answer (the JavaScript `chain` option).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChainRead {
    /// The round's id; none: the latest round.
    #[serde(default)]
    pub round: Option<u64>,
    /// The `eth_call` answer, `0x` + hex.
    #[serde(default)]
    pub returned: Option<String>,
}

/// The `eth_call` data reading `round` (none: the latest).
pub fn call_data(round: Option<u64>) -> Vec<u8> {
    match round {
        None => RoundRegistry::latestCall {}.abi_encode(),
        Some(id) => RoundRegistry::getRoundCall { roundId: id }.abi_encode(),
    }
}

fn words(c: &RoundRegistry::Commitment) -> RecordWords {
    RecordWords {
        root: c.root.0,
        totals: c
            .totals
            .iter()
            .map(|t| U256::from_be_bytes(t.to_be_bytes::<32>()))
            .collect(),
        labels: c.labelsHash.0,
        vk_digest: c.vkDigest.0,
        result_sha256: c.resultSha256.0,
    }
}

/// The round's id and record from the endpoint's answer; `proof_shape` serves only
/// for a verifying key that is not pinned (see the module's documentation).
pub fn record(read: &ChainRead, proof_shape: Shape) -> Result<(u64, Record), String> {
    let hex_text = read
        .returned
        .as_deref()
        .ok_or("the round's commitment was not read from the chain")?;
    let bytes = hex_text
        .strip_prefix("0x")
        .and_then(|h| hex::decode(h).ok())
        .ok_or("the endpoint's answer is not 0x-prefixed hex")?;
    if bytes.is_empty() {
        return Err(
            "the registry answered nothing: no registry at that address, or no such round".into(),
        );
    }
    let bad = |e: alloy_sol_types::Error| {
        format!("the registry's answer is not a round's commitment ({e})")
    };
    let (id, w) = match read.round {
        None => {
            let r = RoundRegistry::latestCall::abi_decode_returns_validate(&bytes).map_err(bad)?;
            (r.roundId, words(&r.c))
        }
        Some(id) => {
            let c =
                RoundRegistry::getRoundCall::abi_decode_returns_validate(&bytes).map_err(bad)?;
            (id, words(&c))
        }
    };
    let shape = match summa_agg_zk::pinned::shape_of_digest(&w.vk_digest) {
        Some(pinned)
            if pinned.layout == Layout::V1
                && proof_shape.layout == Layout::Agg2023
                && Shape {
                    layout: Layout::V1,
                    ..proof_shape
                } == pinned =>
        {
            proof_shape
        }
        Some(pinned) => pinned,
        None => proof_shape,
    };
    let record = Record::recorded(id, shape, w).map_err(|e| e.to_string())?;
    Ok((id, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_sol_types::SolValue;

    #[test]
    fn the_calls_are_the_registrys_selectors_and_an_answer_decodes_to_its_record() {
        // keccak256("latest()")[..4] and keccak256("getRound(uint64)")[..4].
        assert_eq!(hex::encode(call_data(None)), "52bfe789");
        let get = call_data(Some(7));
        assert_eq!(get.len(), 4 + 32);
        assert_eq!(get[35], 7);
        let c = RoundRegistry::Commitment {
            root: [1; 32].into(),
            totals: vec![alloy_sol_types::private::U256::from(5u8)],
            labelsHash: [2; 32].into(),
            vkDigest: [3; 32].into(),
            resultSha256: [4; 32].into(),
            previous: [0; 32].into(),
        };
        let shape = summa_agg_zk::pinned::supported()[0];
        let answer = |bytes: Vec<u8>, round| ChainRead {
            round,
            returned: Some(format!("0x{}", hex::encode(bytes))),
        };
        let (id, r) = record(&answer(c.abi_encode(), Some(7)), shape).unwrap();
        assert_eq!(
            (id, r.totals, r.labels, r.shape),
            (7, vec![U256::from(5u8)], [2; 32], shape)
        );
        let latest = (9u64, [8u8; 32], c.clone()).abi_encode_params();
        assert_eq!(record(&answer(latest, None), shape).unwrap().0, 9);
        for (bytes, want) in [
            (vec![], "answered nothing"),
            (vec![0; 31], "not a round's commitment"),
        ] {
            assert!(record(&answer(bytes, None), shape)
                .unwrap_err()
                .contains(want));
        }
        // A root that is no field element, or a total out of range, is refused.
        let mut big = c.clone();
        big.root = [0xff; 32].into();
        assert!(record(&answer(big.abi_encode(), Some(1)), shape)
            .unwrap_err()
            .contains("field element"));
        let mut over = c.clone();
        over.totals = vec![alloy_sol_types::private::U256::from(1u8) << 112];
        assert!(record(&answer(over.abi_encode(), Some(1)), shape)
            .unwrap_err()
            .contains("is not below 2^112"));
    }
}
