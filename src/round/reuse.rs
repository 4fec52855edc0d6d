//! Re-using a previous round's mini-trees (an incremental round). One trust
//! check, [`check_reused`], serves both the local round (against the previous
//! round's aggregation tree) and the serverless one (against the previous run's
//! summary, in the `mini-tree` handler): a re-used mini-tree must have been built
//! with this round's parameters and currencies, and its root must be the one the
//! previous round recorded.

use std::fs;
use std::path::{Path, PathBuf};

use super::{mini_tree_path, sha256, AGGREGATION_FILE, RESULT_FILE};
use crate::format::{ReadAt, TreeFile};
use crate::json::{InputRecord, RoundResult};
use crate::shard::Currency;
use crate::tree::{Node, TreeSummary};
use crate::{Fr, Params};

/// A previous round's mini-tree that may be re-used: its file's bytes, checked,
/// its summary and its users' sorted keys ([`super::unique`]).
pub(super) struct Reused {
    pub(super) bytes: Vec<u8>,
    pub(super) summary: TreeSummary,
    pub(super) keys: Vec<[u8; 16]>,
}

/// What a previous round recorded of one of its mini-trees.
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    /// Who recorded it, for the error: e.g. `the previous aggregation tree`.
    pub by: &'a str,
    /// Its number of entries.
    pub entries: u64,
    /// Its own depth.
    pub depth: u32,
    /// Its root, where recorded as is (a summary); `None` where only the lifted
    /// preimage is (an aggregation tree).
    pub root: Option<&'a Node>,
    /// Its root's preimage, lifted to `at_depth`.
    pub root_preimage: &'a [Fr],
    /// The depth the recorded preimage is lifted to (its own depth: not lifted).
    pub at_depth: u32,
}

/// The one trust check of a re-used mini-tree `f` (at `location`, named `name`
/// in its summary): it was built with `params` and `currencies`, and its root,
/// lifted to `recorded.at_depth`, is the recorded one. Returns its summary;
/// `Err` says why it is not trusted.
pub fn check_reused<R: ReadAt>(
    f: &TreeFile<R>,
    location: &str,
    name: &str,
    params: &Params,
    currencies: &[Currency],
    recorded: &Recorded<'_>,
) -> Result<TreeSummary, String> {
    if f.params != *params || f.currencies != currencies {
        return Err(format!("{location}: built with other parameters"));
    }
    let summary = crate::format::summary_of(f, name).map_err(|e| e.to_string())?;
    let zeros = crate::tree::Zeros::new(
        params.layout,
        currencies.len(),
        recorded.at_depth.max(summary.depth),
    );
    let (_, lifted) = crate::tree::lift(
        params,
        &zeros,
        summary.root.clone(),
        summary.root_preimage.clone(),
        summary.depth,
        recorded.at_depth,
    );
    if recorded.entries != summary.entries
        || recorded.depth != summary.depth
        || recorded.root_preimage != lifted
        || recorded.root.is_some_and(|r| *r != summary.root)
    {
        return Err(format!(
            "{location}: its root is not the one {} holds",
            recorded.by
        ));
    }
    Ok(summary)
}

/// The previous round, checked: its result, its aggregation tree's mini-tree
/// table, and its inputs by the SHA-256 of their bytes.
pub(super) struct Previous {
    pub(super) dir: PathBuf,
    pub(super) aggregation: Vec<crate::tree::ShardInfo>,
    pub(super) base: u32,
    pub(super) by_sha: std::collections::HashMap<String, usize>,
    pub(super) inputs: Vec<InputRecord>,
    /// The aggregation tree's root.
    root: Node,
}

impl Previous {
    /// Opens `dir` as the previous round of a round with `params` and
    /// `currencies`; `Err` says why it is not trusted.
    pub(super) fn open(
        dir: &Path,
        params: &Params,
        currencies: &[Currency],
    ) -> std::result::Result<Previous, String> {
        let read = |name: &str| {
            fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()))
        };
        let result: RoundResult =
            crate::json::from_slice_strict(&read(RESULT_FILE)?).map_err(|e| {
                format!(
                    "{}: not a round result: {e}",
                    dir.join(RESULT_FILE).display()
                )
            })?;
        if result.layout != params.layout || result.n_bytes != params.n_bytes {
            return Err(format!(
                "it was built with layout {} and n_bytes {}, this round uses {} and {}",
                result.layout, result.n_bytes, params.layout, params.n_bytes
            ));
        }
        if result.currencies != currencies {
            return Err("its currencies (the shards' header) differ from this round's".into());
        }
        let agg_bytes = read(AGGREGATION_FILE)?;
        let agg = crate::format::TreeFile::open(
            agg_bytes,
            dir.join(AGGREGATION_FILE).display().to_string(),
        )
        .map_err(|e| e.to_string())?;
        let aggregation = agg.shards().map_err(|e| e.to_string())?;
        if !agg.is_aggregation()
            || agg.params != *params
            || agg.currencies != currencies
            || aggregation.len() != result.inputs.len()
            || result.mini_trees != result.inputs.len() as u64
        {
            return Err("its aggregation tree does not match its result.json".into());
        }
        let mut by_sha = std::collections::HashMap::new();
        for (j, input) in result.inputs.iter().enumerate() {
            if input.mini_tree != mini_tree_path(j) {
                return Err(format!("input {j} names mini-tree {:?}", input.mini_tree));
            }
            by_sha.entry(input.sha256.clone()).or_insert(j);
        }
        Ok(Previous {
            dir: dir.to_path_buf(),
            aggregation,
            base: agg.base,
            by_sha,
            inputs: result.inputs,
            root: agg.root().map_err(|e| e.to_string())?,
        })
    }

    /// Mini-tree `j`'s bytes and summary (named `name`), if its file has the
    /// recorded hash and its root is the one the aggregation tree holds.
    fn checked(
        &self,
        j: usize,
        name: &str,
        params: &Params,
        currencies: &[Currency],
    ) -> std::result::Result<(Vec<u8>, TreeSummary), String> {
        let rel = mini_tree_path(j);
        let path = self.dir.join(&rel);
        let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if hex::encode(sha256(&bytes)) != self.inputs[j].mini_tree_sha256 {
            return Err(format!(
                "{}: its SHA-256 is not the one {} records",
                path.display(),
                self.dir.join(RESULT_FILE).display()
            ));
        }
        // The bytes whose SHA-256 was checked are the file checked.
        let f =
            TreeFile::open(&bytes[..], path.display().to_string()).map_err(|e| e.to_string())?;
        let info = &self.aggregation[j];
        let recorded = Recorded {
            by: "the aggregation tree",
            entries: info.entries,
            depth: info.depth,
            root: None,
            root_preimage: &info.root_preimage,
            at_depth: self.base,
        };
        let summary = check_reused(
            &f,
            &path.display().to_string(),
            name,
            params,
            currencies,
            &recorded,
        )?;
        Ok((bytes, summary))
    }

    /// Previous mini-tree `j`'s bytes and summary (named `name`), with its users'
    /// keys, if [`Previous::checked`] trusts it.
    pub(super) fn mini_tree(
        &self,
        j: usize,
        name: &str,
        params: &Params,
        currencies: &[Currency],
    ) -> std::result::Result<Reused, String> {
        let (bytes, summary) = self.checked(j, name, params, currencies)?;
        let f = TreeFile::open(&bytes[..], mini_tree_path(j)).map_err(|e| e.to_string())?;
        let keys = super::unique::file_keys(&f).map_err(|e| e.to_string())?;
        Ok(Reused {
            bytes,
            summary,
            keys,
        })
    }
}

/// A completed round's directory, checked before it is published as a previous
/// round is before it is re-used: its `result.json` against its aggregation tree
/// (parameters, currencies, mini-tree table, and the root and totals), and each
/// mini-tree against both (its file's SHA-256, its root). Returns the result's
/// bytes and the result; `Err` says what does not match.
pub fn check_completed(dir: &Path) -> std::result::Result<(Vec<u8>, RoundResult), String> {
    let path = dir.join(RESULT_FILE);
    let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let result: RoundResult = crate::json::from_slice_strict(&bytes)
        .map_err(|e| format!("{}: not a round result: {e}", path.display()))?;
    let params = Params {
        layout: result.layout,
        n_bytes: result.n_bytes,
    };
    let round = Previous::open(dir, &params, &result.currencies)?;
    if crate::json::NodeJson::from(&round.root) != result.root {
        return Err(format!(
            "{}: its root is not the root of {AGGREGATION_FILE}",
            path.display()
        ));
    }
    for (j, input) in result.inputs.iter().enumerate() {
        round.checked(j, &input.key, &params, &result.currencies)?;
    }
    Ok((bytes, result))
}
