//! The JSON shapes the project publishes: nodes, mini-tree summaries and the
//! round's result. Hashes are `0x` + 64 hex digits (big-endian); balances are
//! decimal strings.

use std::collections::BTreeMap;

use halo2curves::bn256::Fr;
use serde::{Deserialize, Serialize};

use crate::field::{from_hex, parse_decimal, to_hex};
use crate::host::BuildRecord;
use crate::shard::Currency;
use crate::tree::{Aggregation, Node, TreeSummary};
use crate::{Error, Layout, Result};

/// A node: hash and balances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeJson {
    /// `0x` + 64 hex digits.
    pub hash: String,
    /// Decimal balances, one per currency.
    pub balances: Vec<String>,
}

impl From<&Node> for NodeJson {
    fn from(n: &Node) -> Self {
        NodeJson {
            hash: to_hex(&n.hash),
            balances: n.balances.iter().map(|b| b.to_string()).collect(),
        }
    }
}

/// Parses a hex field element, naming `what` on failure.
pub fn parse_fr(s: &str, what: &str) -> Result<Fr> {
    from_hex(s).ok_or_else(|| {
        Error::Invalid(format!(
            "{what}: {s:?} is not a 0x-prefixed canonical field element"
        ))
    })
}

impl NodeJson {
    /// Back to a [`Node`].
    pub fn to_node(&self, what: &str) -> Result<Node> {
        let balances = self
            .balances
            .iter()
            .map(|b| {
                parse_decimal(b.as_bytes()).map_err(|p| Error::Invalid(format!("{what}: {p}")))
            })
            .collect::<Result<_>>()?;
        Ok(Node {
            hash: parse_fr(&self.hash, what)?,
            balances,
        })
    }
}

/// A mini-tree's summary: what the mini-tree function returns and the aggregator
/// reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryJson {
    /// The shard's name (file name or key).
    pub name: String,
    /// Number of users.
    pub entries: u64,
    /// The mini-tree's own depth.
    pub depth: u32,
    /// Its root.
    pub root: NodeJson,
    /// The root's preimage, hex.
    pub root_preimage: Vec<String>,
}

impl From<&TreeSummary> for SummaryJson {
    fn from(s: &TreeSummary) -> Self {
        SummaryJson {
            name: s.name.clone(),
            entries: s.entries,
            depth: s.depth,
            root: (&s.root).into(),
            root_preimage: s.root_preimage.iter().map(to_hex).collect(),
        }
    }
}

impl SummaryJson {
    /// Back to a [`TreeSummary`].
    pub fn to_summary(&self) -> Result<TreeSummary> {
        let what = format!("summary of {}", self.name);
        Ok(TreeSummary {
            name: self.name.clone(),
            entries: self.entries,
            depth: self.depth,
            root: self.root.to_node(&what)?,
            root_preimage: self
                .root_preimage
                .iter()
                .map(|h| parse_fr(h, &what))
                .collect::<Result<_>>()?,
        })
    }
}

/// The round's result, `result.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundResult {
    /// The round's root.
    pub root: NodeJson,
    /// Depth of the round's tree.
    pub depth: u32,
    /// The common depth of the mini-trees.
    pub mini_tree_depth: u32,
    /// Number of mini-trees (shards).
    pub mini_trees: u64,
    /// Number of users.
    pub entries: u64,
    /// The hash layout.
    pub layout: Layout,
    /// The balance range, in bytes.
    pub n_bytes: u8,
    /// The currencies, in column order.
    pub currencies: Vec<Currency>,
    /// The run that built it (`P/runs/<run>/`), when built over S3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// What the round was built from, in shard order: each shard's key, size,
    /// ETag and SHA-256 of the bytes read, and its mini-tree's content hash.
    #[serde(default)]
    pub inputs: Vec<InputRecord>,
    /// The previous round this one re-used mini-trees from, when it was given one
    /// (`summa-agg round --previous`, or the manifest's `previous`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    /// How many mini-trees were re-used from the previous round (not rebuilt).
    #[serde(default)]
    pub reused_mini_trees: u64,
    /// Where the artifacts are (S3 keys), when published to a bucket.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub artifacts: BTreeMap<String, String>,
    /// [`labels_digest`] of `currencies`, `0x` + hex: what a user's proof file
    /// carries too and the verifier compares, so that a label swapped or renamed
    /// after the proofs were made is refused (absent in files of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_digest: Option<String>,
    /// What built the mini-trees of this round (backend, CPU, threads, time),
    /// when any was built (re-used ones are not). Public like the rest of
    /// `result.json`: host facts only, no user's data; no proof carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildSummary>,
}

/// `result.json`'s `build`: each built mini-tree's [`BuildRecord`], and the
/// distinct backends and CPUs among them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildSummary {
    /// The distinct Poseidon backends, sorted.
    pub backends: Vec<String>,
    /// The distinct CPU models, sorted.
    pub cpus: Vec<String>,
    /// The sum of the shards' `build_ms`.
    pub total_build_ms: u64,
    /// The largest `build_ms` (the slowest shard).
    pub max_build_ms: u64,
    /// One record per built mini-tree, in shard order.
    pub shards: Vec<ShardBuild>,
}

/// One mini-tree's [`BuildRecord`] in [`BuildSummary`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardBuild {
    /// The shard's index (its mini-tree's number).
    pub shard: u64,
    /// What built it.
    #[serde(flatten)]
    pub record: BuildRecord,
}

impl BuildSummary {
    /// The summary of `(shard, record)` pairs, sorted by shard; `None` if there
    /// are none.
    pub fn of(records: impl IntoIterator<Item = (usize, BuildRecord)>) -> Option<BuildSummary> {
        let mut shards: Vec<ShardBuild> = records
            .into_iter()
            .map(|(i, record)| ShardBuild {
                shard: i as u64,
                record,
            })
            .collect();
        if shards.is_empty() {
            return None;
        }
        shards.sort_by_key(|s| s.shard);
        let distinct = |f: fn(&BuildRecord) -> &String| {
            let set: std::collections::BTreeSet<&String> =
                shards.iter().map(|s| f(&s.record)).collect();
            set.into_iter().cloned().collect::<Vec<_>>()
        };
        Some(BuildSummary {
            backends: distinct(|r| &r.backend),
            cpus: distinct(|r| &r.cpu),
            // Saturating: the records come from summaries in the bucket, and one
            // build's time is capped at u64::MAX (`BuildRecord::here`).
            total_build_ms: shards
                .iter()
                .fold(0u64, |t, s| t.saturating_add(s.record.build_ms)),
            max_build_ms: shards.iter().map(|s| s.record.build_ms).max().unwrap_or(0),
            shards,
        })
    }
}

/// The digest of a round's currency labels: the SHA-256 of their JSON array as
/// `result.json` and the proof file write it, compact
/// (`[{"name":"ETH","chain":"ETH"},..]`, in column order). Any swap or rename
/// changes it. The round registry records it beside the root; `result.json` and
/// every zero-knowledge proof file carry it ([`labels_digest_hex`]).
pub fn labels_digest(currencies: &[Currency]) -> [u8; 32] {
    use sha2::Digest;
    let json = serde_json::to_vec(currencies).expect("currencies serialize");
    sha2::Sha256::digest(json).into()
}

/// [`labels_digest`] as `0x` + 64 hex digits.
pub fn labels_digest_hex(currencies: &[Currency]) -> String {
    labels_digest(currencies)
        .iter()
        .fold(String::from("0x"), |mut s, b| {
            s.push_str(&format!("{b:02x}"));
            s
        })
}

impl RoundResult {
    /// Refuses a result whose `labels_digest` is absent (a round of an earlier
    /// version) or is not the digest of its currencies: what every verifier checks
    /// before it shows a label.
    pub fn check_labels_digest(&self) -> std::result::Result<(), String> {
        match &self.labels_digest {
            None => Err("result.json has no labels_digest (a round of an earlier version): its currency labels are bound to nothing".into()),
            Some(d) if *d != labels_digest_hex(&self.currencies) => Err(format!(
                "result.json's labels_digest {} is not the digest of its currencies",
                crate::text::shown(d)
            )),
            Some(_) => Ok(()),
        }
    }

    /// The result of an aggregation.
    pub fn of(agg: &Aggregation) -> RoundResult {
        RoundResult {
            root: (&agg.root()).into(),
            depth: agg.depth(),
            mini_tree_depth: agg.mini_depth,
            mini_trees: agg.shards.len() as u64,
            entries: agg.entries(),
            layout: agg.params.layout,
            n_bytes: agg.params.n_bytes,
            currencies: agg.currencies.clone(),
            labels_digest: Some(labels_digest_hex(&agg.currencies)),
            run: None,
            previous: None,
            reused_mini_trees: 0,
            inputs: Vec::new(),
            artifacts: BTreeMap::new(),
            build: None,
        }
    }
}

/// One input of a round, as `result.json` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The shard's key (S3) or path (local).
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag as the store reported it when the round was planned (locally:
    /// [`local_etag`] of its SHA-256).
    pub etag: String,
    /// SHA-256 of the bytes the mini-tree read, hex.
    pub sha256: String,
    /// The mini-tree built from it (key or relative path).
    pub mini_tree: String,
    /// SHA-256 of the mini-tree file, hex.
    pub mini_tree_sha256: String,
}

/// The ETag given to a local file or object: the first 16 bytes of its SHA-256,
/// hex, in quotes (the shape of an S3 ETag).
pub fn local_etag(sha256: &[u8; 32]) -> String {
    format!("\"{}\"", hex::encode(&sha256[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(build_ms: u64, backend: &str) -> BuildRecord {
        BuildRecord {
            backend: backend.into(),
            cpu: "cpu".into(),
            arch: "x86_64".into(),
            threads: 1,
            build_ms,
        }
    }

    #[test]
    fn build_summary_sorts_by_shard_and_names_distinct_backends() {
        let s = BuildSummary::of([
            (2, record(5, "b")),
            (0, record(7, "a")),
            (1, record(1, "b")),
        ])
        .unwrap();
        assert_eq!(
            s.shards.iter().map(|s| s.shard).collect::<Vec<_>>(),
            [0, 1, 2]
        );
        assert_eq!(s.backends, ["a", "b"]);
        assert_eq!(s.cpus, ["cpu"]);
        assert_eq!((s.total_build_ms, s.max_build_ms), (13, 7));
        assert!(BuildSummary::of([]).is_none());
    }

    /// Two summaries in the bucket with the largest time: the total saturates
    /// (a plain sum overflowed: a panic in debug builds, a wrap in release).
    #[test]
    fn build_summary_total_saturates() {
        let s = BuildSummary::of([(0, record(u64::MAX, "a")), (1, record(u64::MAX, "a"))]).unwrap();
        assert_eq!((s.total_build_ms, s.max_build_ms), (u64::MAX, u64::MAX));
    }
}

/// Parses JSON as `T`, refusing what serde's own parse lets through: a key given
/// twice in any object, at any depth (serde_json keeps the last of duplicate keys
/// in a map, and a `Value`; a second reader that kept the first would see another
/// file). Every reader of a file a user verifies (the proof, `result.json`)
/// goes through here, so the command line and the WebAssembly module read the same
/// bytes the same way. A byte-order mark, like any byte before the value, is not
/// JSON and is refused.
pub fn from_slice_strict<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> std::result::Result<T, serde_json::Error> {
    serde_json::from_slice::<Unique>(bytes)?;
    serde_json::from_slice(bytes)
}

/// A JSON value whose objects have no duplicate key (checked while reading; the
/// value itself is not kept).
struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Unique, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<Unique>()?;
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "duplicate key {}",
                    crate::text::quoted(&key)
                )));
            }
        }
        Ok(Unique)
    }
}

#[cfg(test)]
mod strict_tests {
    use super::*;

    #[test]
    fn duplicate_keys_at_any_depth_and_a_byte_order_mark_are_refused() {
        let ok: serde_json::Value =
            from_slice_strict(br#"{"a": [{"b": 1, "c": 2}, {"b": 3}], "d": {"b": 1}}"#).unwrap();
        assert_eq!(ok["a"][1]["b"], 3);
        for (bad, want) in [
            (&br#"{"a": 1, "a": 2}"#[..], "duplicate key \"a\""),
            (br#"{"x": [{"b": 1, "b": 1}]}"#, "duplicate key \"b\""),
            (
                br#"{"x": {"y": {"\u001b": 1, "\u001b": 2}}}"#,
                r#"duplicate key "\u{1b}""#,
            ),
            ("\u{feff}{}".as_bytes(), "expected value"),
        ] {
            let e = from_slice_strict::<serde_json::Value>(bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
        // serde_json alone keeps the last of duplicate keys.
        let last: serde_json::Value = serde_json::from_slice(br#"{"a": 1, "a": 2}"#).unwrap();
        assert_eq!(last["a"], 2);
    }
}
