//! A round's on-chain record: what the round registry (`contracts/src/RoundRegistry.sol`)
//! stores of a round, and how a verifier reads a round from it instead of from the
//! custodian's `result.json`.
//!
//! The registry is append-only and chains every round to the one before, so every
//! user reads the same root and totals (no split view) and no round is rewritten.
//! A record holds:
//! - the root hash and the per-currency totals (the proof's public inputs);
//! - the digest of the currency labels ([`labels_digest`]), so that a label
//!   swapped or renamed in a proof file or a `result.json` is refused;
//! - the circuit's shape (registered with its verifier) and the SHA-256 of its
//!   verifying key ([`crate::evm::vk_digest`] computes it from a key);
//! - the SHA-256 of `result.json`, and the hash of the previous record.
//!
//! Nothing here talks to a chain: the command line reads the record with alloy and
//! hands it over as a [`Record`].

use sha2::{Digest, Sha256};
use summa_agg::field::{fr_to_u256, to_hex, U256};
use summa_agg::json::RoundResult;
use summa_agg::shard::Currency;
use summa_agg::{Fr, Layout};

use crate::proof::ZkProof;
use crate::shape::Shape;
use crate::verifier::{Options, Prepared, Published, Report};
use crate::{Error, Result};

pub use summa_agg::json::labels_digest;

/// The registry's code of a layout (`Shape.layout`): v1 0, agg2023 1, legacy 2.
pub fn layout_code(layout: Layout) -> u8 {
    match layout {
        Layout::V1 => 0,
        Layout::Agg2023 => 1,
        Layout::Legacy => 2,
    }
}

/// The layout of a registry code.
pub fn layout_of(code: u8) -> Result<Layout> {
    match code {
        0 => Ok(Layout::V1),
        1 => Ok(Layout::Agg2023),
        2 => Ok(Layout::Legacy),
        c => Err(Error::Input(format!(
            "the record names layout code {c}, which is none"
        ))),
    }
}

/// One round as the registry records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The circuit shape registered with the record's verifying key.
    pub shape: Shape,
    /// The root hash.
    pub root: Fr,
    /// The per-currency totals.
    pub totals: Vec<U256>,
    /// [`labels_digest`] of the round's currencies.
    pub labels: [u8; 32],
    /// The SHA-256 of the verifying key of the round's proofs.
    pub vk_digest: [u8; 32],
    /// The SHA-256 of the round's `result.json`.
    pub result_sha256: [u8; 32],
}

fn hex32(b: &[u8; 32]) -> String {
    format!("0x{}", hex::encode(b))
}

impl Record {
    /// The record of a round from its `result.json` bytes (checked as a verifier
    /// reads it) and the digest of its verifying key.
    pub fn of_result(result_json: &[u8], vk_digest: [u8; 32]) -> Result<Record> {
        let r: RoundResult = summa_agg::json::from_slice_strict(result_json)
            .map_err(|e| Error::Input(format!("not a round's result.json: {e}")))?;
        Record::of_parsed(result_json, &r, vk_digest)
    }

    /// [`Record::of_result`] of bytes already parsed as `r`.
    pub fn of_parsed(result_json: &[u8], r: &RoundResult, vk_digest: [u8; 32]) -> Result<Record> {
        let p = Published::from_result(r)?;
        Ok(Record {
            shape: p.shape,
            root: p.root,
            totals: p.totals,
            labels: labels_digest(&r.currencies),
            vk_digest,
            result_sha256: Sha256::digest(result_json).into(),
        })
    }

    /// What a proof is checked against: the record's root, totals and shape, with
    /// `currencies` as labels once their digest is the record's.
    pub fn published(&self, currencies: &[Currency], whose: &str) -> Result<Published> {
        self.check_labels(currencies, whose)?;
        if self.totals.len() != self.shape.currencies {
            return Err(Error::Input(format!(
                "the record has {} totals for {} currencies",
                self.totals.len(),
                self.shape.currencies
            )));
        }
        Ok(Published {
            shape: self.shape,
            root: self.root,
            totals: self.totals.clone(),
            currencies: currencies.to_vec(),
        })
    }

    /// Refuses labels whose digest is not the record's (a swapped or renamed label).
    pub fn check_labels(&self, currencies: &[Currency], whose: &str) -> Result<()> {
        if labels_digest(currencies) != self.labels {
            return Err(Error::Proof(format!(
                "the currency labels of {whose} are not the ones the round's on-chain record commits to (labels digest {}, recorded {})",
                hex32(&labels_digest(currencies)),
                hex32(&self.labels)
            )));
        }
        Ok(())
    }

    /// Refuses a `result.json` that is not the one the record commits to, saying
    /// which field differs where one does.
    pub fn check_result(&self, result_json: &[u8], name: &str) -> Result<()> {
        let sha: [u8; 32] = Sha256::digest(result_json).into();
        if sha == self.result_sha256 {
            return Ok(());
        }
        let why = match Record::of_result(result_json, self.vk_digest) {
            Err(e) => format!("it is not a round's result ({e})"),
            Ok(r) if r.root != self.root => format!(
                "its root {} is not the recorded root {}",
                to_hex(&r.root),
                to_hex(&self.root)
            ),
            Ok(r) if r.totals != self.totals => {
                let i = r
                    .totals
                    .iter()
                    .zip(&self.totals)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                format!(
                    "its total {} ({}) is not the recorded total ({})",
                    i + 1,
                    r.totals.get(i).map(U256::to_string).unwrap_or_default(),
                    self.totals.get(i).map(U256::to_string).unwrap_or_default()
                )
            }
            Ok(r) if r.labels != self.labels => {
                "its currency labels are not the recorded ones".to_string()
            }
            Ok(r) if r.shape != self.shape => format!(
                "its shape {} is not the recorded shape {}",
                r.shape.id(),
                self.shape.id()
            ),
            Ok(_) => "its bytes differ".to_string(),
        };
        Err(Error::Proof(format!(
            "{name} differs from the round's on-chain record: {why} (SHA-256 {}, recorded {})",
            hex32(&sha),
            hex32(&self.result_sha256)
        )))
    }

    /// The root as 32 big-endian bytes.
    pub fn root_bytes(&self) -> [u8; 32] {
        fr_to_u256(&self.root).to_be_bytes::<32>()
    }

    /// A record from the registry's words for round `id` (whoever read them: the
    /// command line with alloy, the WebAssembly verifier from a JSON-RPC answer):
    /// the root must be a field element and each total below the shape's range,
    /// as a `result.json`'s (the registry refuses others; checked here too).
    pub fn recorded(id: u64, shape: Shape, words: RecordWords) -> Result<Record> {
        let bad = |m: String| Error::Input(format!("round {id}: {m}"));
        if !summa_agg::field::be_bytes_below_modulus(&words.root) {
            return Err(bad(format!(
                "the recorded root 0x{} is not a field element",
                hex::encode(words.root)
            )));
        }
        let limit = summa_agg::field::bound(shape.n_bytes);
        if let Some(t) = words.totals.iter().find(|t| **t >= limit) {
            return Err(bad(format!(
                "a recorded total ({t}) is not below 2^{}",
                8 * u32::from(shape.n_bytes)
            )));
        }
        Ok(Record {
            shape,
            root: summa_agg::field::be_bytes_to_fr(&words.root),
            totals: words.totals,
            labels: words.labels,
            vk_digest: words.vk_digest,
            result_sha256: words.result_sha256,
        })
    }
}

/// A user's proof checked against round `id`'s record: the record's root, totals
/// and shape, the proof file's labels once their digest is the record's, and the
/// verifying key whose SHA-256 the record names: the one pinned for the shape
/// (`srs_file` empty) or the one derived from the SRS file. What the command line's
/// and the WebAssembly module's reads of a chain share; the prepared key is
/// returned for a further check (a published `vk.bin`).
pub fn verify_record(
    proof: &ZkProof,
    record: &Record,
    id: u64,
    srs_file: &[u8],
    opts: &Options,
) -> Result<(Prepared, Report)> {
    if proof.shape != record.shape {
        return Err(Error::Proof(format!(
            "the proof is for shape {}; round {id} has shape {}",
            proof.shape.id(),
            record.shape.id()
        )));
    }
    let published = record.published(&proof.currencies, "the proof file")?;
    let recorded = hex::encode(record.vk_digest);
    let prepared = if srs_file.is_empty() {
        // The recorded key among the pinned ones of any setup, so that a key that
        // is not pinned asks for the SRS file rather than for the test setup.
        let found = crate::pinned::entries(&published.shape, true)
            .into_iter()
            .find(|(_, e)| e.sha256 == recorded);
        match found {
            None => {
                return Err(Error::Srs(format!(
                    "round {id}'s recorded verifying key (SHA-256 0x{recorded}) is not pinned in this verifier for shape {}: give the ceremony's SRS file, from which the key is derived (this takes seconds)",
                    published.shape.id()
                )))
            }
            Some((setup, _)) if setup.is_unsafe_test() && !opts.unsafe_test_srs => {
                return Err(Error::Srs(format!(
                    "round {id}'s recorded verifying key is the one pinned on the UNSAFE TEST SRS for shape {}, refused unless accepted (anyone can forge proofs against it)",
                    published.shape.id()
                )))
            }
            Some((setup, entry)) => Prepared::from_pinned(&published.shape, setup, entry, opts)?,
        }
    } else {
        Prepared::new(srs_file, &published.shape, opts)?
    };
    if prepared.vk_digest() != record.vk_digest {
        return Err(Error::Keys(format!(
            "round {id}'s recorded verifying key (SHA-256 0x{recorded}) is not this circuit's for shape {} on the {} SRS (0x{})",
            published.shape.id(),
            prepared.setup().name(),
            hex::encode(prepared.vk_digest())
        )));
    }
    let report = prepared.verify(proof, &published, opts)?;
    Ok((prepared, report))
}

/// A round's commitment as the registry stores it (`RoundRegistry.Commitment`
/// without `previous`), before [`Record::recorded`] checks it.
#[derive(Clone, Debug)]
pub struct RecordWords {
    /// `root`, 32 bytes big-endian.
    pub root: [u8; 32],
    /// `totals`.
    pub totals: Vec<U256>,
    /// `labelsHash`.
    pub labels: [u8; 32],
    /// `vkDigest`.
    pub vk_digest: [u8; 32],
    /// `resultSha256`.
    pub result_sha256: [u8; 32],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn currencies(names: &[(&str, &str)]) -> Vec<Currency> {
        names
            .iter()
            .map(|(n, c)| Currency {
                name: n.to_string(),
                chain: c.to_string(),
            })
            .collect()
    }

    #[test]
    fn a_swapped_or_renamed_label_changes_the_digest() {
        let a = labels_digest(&currencies(&[("ETH", "ETH"), ("USDT", "ETH")]));
        assert_ne!(
            a,
            labels_digest(&currencies(&[("USDT", "ETH"), ("ETH", "ETH")]))
        );
        assert_ne!(
            a,
            labels_digest(&currencies(&[("BTC", "ETH"), ("USDT", "ETH")]))
        );
        assert_ne!(
            a,
            labels_digest(&currencies(&[("ETH", "ETH"), ("USDT", "TRX")]))
        );
        // The digest of the compact JSON, as result.json writes the labels.
        let json = br#"[{"name":"ETH","chain":"ETH"},{"name":"USDT","chain":"ETH"}]"#;
        assert_eq!(a, <[u8; 32]>::from(Sha256::digest(json)));
    }

    #[test]
    fn layout_codes_round_trip() {
        for l in Layout::ALL {
            assert_eq!(layout_of(layout_code(l)).unwrap(), l);
        }
        assert!(layout_of(3).is_err());
    }
}
