//! A round: shards to mini-trees to the aggregation tree to `result.json`.
//!
//! The steps are plain functions over readers and bytes (`steps.rs`, re-exported
//! here), so the same code serves the CLI on a directory and the Lambda functions
//! on S3. [`run_local`] is the embedded round: a directory (or files) in,
//! artifacts in an output directory. Re-using a previous round's mini-trees has
//! one trust check for both rounds, [`check_reused`] (`reuse.rs`).

mod reuse;
mod steps;
pub mod unique;

use reuse::Previous;
pub use reuse::{check_completed, check_reused, Recorded};
pub use steps::*;

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::format::{write_aggregation, write_mini_tree};
use crate::host::BuildRecord;
use crate::json::{local_etag, BuildSummary, InputRecord, RoundResult};
use crate::shard::{check_header, read_header};
use crate::tree::{Aggregation, TreeSummary};
use crate::{Error, Params, Result};

/// Times of a local round.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// Reading the headers.
    pub plan: Duration,
    /// Building and writing the mini-trees (wall time).
    pub mini_trees: Duration,
    /// Building and writing the aggregation tree.
    pub aggregation: Duration,
    /// The whole round.
    pub total: Duration,
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let err = |e| Error::io(path.display().to_string(), e);
    let file = File::create(&tmp).map_err(err)?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    write(&mut w).and_then(|_| w.flush()).map_err(err)?;
    drop(w);
    fs::rename(&tmp, path).map_err(err)
}

/// Removes `out/result.json` if it is there, so that a round that fails from here
/// on publishes nothing (not even a previous round's result). Returns its path.
pub fn clear_result(out: &Path) -> Result<PathBuf> {
    let path = out.join(RESULT_FILE);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(Error::io(path.display().to_string(), e))
        }
        _ => Ok(path),
    }
}

/// Runs a round on local shard files, writing the artifacts into `out`:
/// `mini-trees/NNNNNN.mst`, `aggregation.mst` and, last, `result.json`. A failed
/// round leaves no `result.json` (an old one is removed first). `on_tree` is called
/// as each mini-tree is done.
pub fn run_local(
    inputs: &[PathBuf],
    out: &Path,
    params: &Params,
    on_tree: &(dyn Fn(&TreeSummary) + Sync),
) -> Result<(RoundResult, Timings)> {
    run_local_with(inputs, out, params, None, on_tree).map(|(r, t, _)| (r, t))
}

/// What an incremental round re-used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reuse {
    /// The shards whose mini-trees were copied from the previous round.
    pub reused: Vec<usize>,
    /// The shards that were built, with the reason when one was expected to be
    /// re-usable (its bytes were in the previous round) but was not.
    pub rebuilt: Vec<(usize, Option<String>)>,
    /// Why nothing of the previous round was trusted, if so.
    pub untrusted: Option<String>,
    /// The previous round's mini-tree depth, when it differs from this round's:
    /// re-used mini-trees are lifted to the new depth by the aggregation.
    pub depth_change: Option<(u32, u32)>,
}

/// One shard of a local round, built or re-used.
struct LocalShard {
    /// Its mini-tree's summary.
    summary: TreeSummary,
    /// Its input record.
    input: InputRecord,
    /// What built it (`None`: re-used from the previous round).
    build: Option<BuildRecord>,
    /// Why a shard whose bytes the previous round had was rebuilt.
    rebuilt_because: Option<String>,
}

/// The input record of local shard `i`: its path, size, SHA-256 (and the ETag
/// made of it) and its mini-tree's path and content hash.
fn local_input(
    key: String,
    size: u64,
    sha: &[u8; 32],
    i: usize,
    mini_tree_sha256: String,
) -> InputRecord {
    InputRecord {
        key,
        size,
        etag: local_etag(sha),
        sha256: hex::encode(sha),
        mini_tree: mini_tree_path(i),
        mini_tree_sha256,
    }
}

/// [`run_local`] with a previous round: a shard whose bytes (SHA-256) are those of
/// a shard of the previous round in `previous` (same layout, `n_bytes` and
/// currencies) gets a copy of that round's mini-tree instead of a new build, once
/// the copy's hash and root are checked against the previous round's records;
/// every other shard is built. The result is the same as a full round's, with
/// `previous` and `reused_mini_trees` set, and `build` listing only the shards
/// built. A previous round that cannot be trusted
/// (missing, corrupt, other parameters) re-uses nothing, and [`Reuse`] says why.
pub fn run_local_with(
    inputs: &[PathBuf],
    out: &Path,
    params: &Params,
    previous: Option<&Path>,
    on_tree: &(dyn Fn(&TreeSummary) + Sync),
) -> Result<(RoundResult, Timings, Reuse)> {
    let start = Instant::now();
    if let Some(prev) = previous {
        let same = match (fs::canonicalize(prev), fs::canonicalize(out)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same {
            return Err(Error::Invalid(format!(
                "--previous {} is the output directory: write the new round elsewhere",
                prev.display()
            )));
        }
    }
    params.validate()?;
    let outs = out.display().to_string();
    fs::create_dir_all(out).map_err(|e| Error::io(outs.clone(), e))?;
    let result_path = out.join(RESULT_FILE);
    match fs::remove_file(&result_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(result_path.display().to_string(), e))
        }
        _ => {}
    }
    let mt_dir = out.join(MINI_TREE_DIR);
    if mt_dir.is_dir() {
        for e in fs::read_dir(&mt_dir).map_err(|e| Error::io(mt_dir.display().to_string(), e))? {
            let p = e
                .map_err(|e| Error::io(mt_dir.display().to_string(), e))?
                .path();
            if p.extension().is_some_and(|x| x == "mst" || x == "tmp") {
                fs::remove_file(&p).map_err(|e| Error::io(p.display().to_string(), e))?;
            }
        }
    }
    fs::create_dir_all(&mt_dir).map_err(|e| Error::io(mt_dir.display().to_string(), e))?;
    let key_files = unique::KeyFiles::new(out.join(KEYS_DIR))?;

    // Plan: every header must equal the first shard's.
    let open = |p: &PathBuf| File::open(p).map_err(|e| Error::io(p.display().to_string(), e));
    let name = |p: &PathBuf| p.display().to_string();
    let currencies = read_header(BufReader::new(open(&inputs[0])?), &name(&inputs[0]))?;
    for p in &inputs[1..] {
        // read_entries checks the header again; reading it here fails fast before
        // any tree is built.
        let c = read_header(BufReader::new(open(p)?), &name(p))?;
        check_header(&currencies, &name(&inputs[0]), &c, &name(p))?;
    }
    let mut reuse = Reuse::default();
    let prev = match previous.map(|d| Previous::open(d, params, &currencies)) {
        Some(Ok(p)) => Some(p),
        Some(Err(why)) => {
            reuse.untrusted = Some(why);
            None
        }
        None => None,
    };
    let plan = start.elapsed();

    let t = Instant::now();
    let built: Vec<Result<LocalShard>> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut why = None;
            if let Some(prev) = &prev {
                let mut digest = DigestReader::new(open(p)?);
                std::io::copy(&mut digest, &mut std::io::sink())
                    .map_err(|e| Error::io(name(p), e))?;
                let (size, sha) = digest.finish();
                if let Some(&j) = prev.by_sha.get(&hex::encode(sha)) {
                    match prev.mini_tree(j, &name(p), params, &currencies) {
                        Ok(reuse::Reused {
                            bytes,
                            summary: s,
                            keys,
                        }) => {
                            key_files.write(i, &keys)?;
                            // A hard link where the file system allows it (every
                            // write here replaces a file by renaming a new one over
                            // it, so two rounds never change each other's files),
                            // else a copy.
                            let to = out.join(mini_tree_path(i));
                            if fs::hard_link(prev.dir.join(mini_tree_path(j)), &to).is_err() {
                                write_atomically(&to, |w| w.write_all(&bytes))?;
                            }
                            on_tree(&s);
                            let input = local_input(
                                name(p),
                                size,
                                &sha,
                                i,
                                prev.inputs[j].mini_tree_sha256.clone(),
                            );
                            return Ok(LocalShard {
                                summary: s,
                                input,
                                build: None,
                                rebuilt_because: None,
                            });
                        }
                        Err(e) => why = Some(e),
                    }
                }
            }
            let built_at = Instant::now();
            let mut digest = DigestReader::new(open(p)?);
            let tree = build_mini_tree(
                BufReader::with_capacity(1 << 16, &mut digest),
                &name(p),
                params,
                Some(&currencies),
            )?;
            let record = BuildRecord::here(built_at.elapsed());
            let keys = unique::sorted_keys((0..tree.entries() as usize).map(|e| tree.username(e)));
            key_files.write(i, &keys)?;
            drop(keys);
            let (size, sha) = digest.finish();
            let mut tree_sha = [0u8; 32];
            write_atomically(&out.join(mini_tree_path(i)), |w| {
                let mut w = DigestWriter::new(w);
                write_mini_tree(&tree, &mut w)?;
                tree_sha = w.finish();
                Ok(())
            })?;
            let s = tree.summary();
            on_tree(&s);
            let input = local_input(name(p), size, &sha, i, hex::encode(tree_sha));
            Ok(LocalShard {
                summary: s,
                input,
                build: Some(record),
                rebuilt_because: why,
            })
        })
        .collect();
    let mut summaries = Vec::with_capacity(inputs.len());
    let mut records = Vec::with_capacity(inputs.len());
    let mut builds = Vec::new();
    for (i, b) in built.into_iter().enumerate() {
        let LocalShard {
            summary: s,
            input,
            build,
            rebuilt_because: why,
        } = b?;
        match build {
            None => reuse.reused.push(i),
            Some(record) => {
                reuse.rebuilt.push((i, why));
                builds.push((i, record));
            }
        }
        summaries.push(s);
        records.push(input);
    }
    if let Some((key, a, b)) = key_files.shared_key(inputs.len())? {
        return Err(in_two_shards(
            &inputs[a],
            &inputs[b],
            key,
            params,
            &currencies,
        ));
    }
    drop(key_files);
    let mini_trees = t.elapsed();

    let t = Instant::now();
    let agg = Aggregation::build(params, &currencies, summaries)?;
    write_atomically(&out.join(AGGREGATION_FILE), |w| write_aggregation(&agg, w))?;
    let mut result = RoundResult::of(&agg);
    result.inputs = records;
    result.build = BuildSummary::of(builds);
    if let Some(p) = &prev {
        result.previous = Some(p.dir.display().to_string());
        result.reused_mini_trees = reuse.reused.len() as u64;
        if p.base != agg.mini_depth {
            reuse.depth_change = Some((p.base, agg.mini_depth));
        }
    }
    let aggregation = t.elapsed();
    write_atomically(&result_path, |w| {
        serde_json::to_writer_pretty(&mut *w, &result)?;
        w.write_all(b"\n")
    })?;
    Ok((
        result,
        Timings {
            plan,
            mini_trees,
            aggregation,
            total: start.elapsed(),
        },
        reuse,
    ))
}

/// The error for a user (by key) in the shards `a` and `b`: the username and its
/// line in each (the shards are read again, on this error only).
fn in_two_shards(
    a: &Path,
    b: &Path,
    key: [u8; 16],
    params: &Params,
    currencies: &[crate::shard::Currency],
) -> Error {
    let find = |p: &Path| -> Result<(String, u64)> {
        let file = p.display().to_string();
        let f = File::open(p).map_err(|e| Error::io(file.clone(), e))?;
        let entries =
            crate::shard::read_entries(BufReader::new(f), &file, params, Some(currencies))?;
        (0..entries.len())
            .find(|&e| unique::user_key(entries.name(e)) == key)
            .map(|e| {
                (
                    String::from_utf8_lossy(entries.name(e)).into_owned(),
                    entries.lines[e],
                )
            })
            .ok_or_else(|| Error::Invalid(format!("{file}: changed during the round")))
    };
    match (find(a), find(b)) {
        (Ok((user, line_a)), Ok((_, line_b))) => Error::Row {
            file: b.display().to_string(),
            line: line_b,
            problem: format!(
                "username {user:?} is also in {} (line {line_a}): each user must be in one shard only",
                a.display()
            ),
        },
        (Err(e), _) | (_, Err(e)) => e,
    }
}
