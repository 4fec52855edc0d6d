//! A round: shards to mini-trees to the aggregation tree to `result.json`.
//!
//! The steps are plain functions over readers and bytes, so the same code serves
//! the CLI on a directory and the Lambda functions on S3. [`run_local`] is the
//! embedded round: a directory (or files) in, artifacts in an output directory.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::format::{write_aggregation, write_mini_tree};
use crate::json::{local_etag, InputRecord, RoundResult};
use crate::shard::{check_header, read_entries, read_header, Currency};
use crate::tree::{Aggregation, MiniTree, TreeSummary};
use crate::{Error, Params, Result};

/// File name of the round's result.
pub const RESULT_FILE: &str = "result.json";
/// File name of the aggregation tree.
pub const AGGREGATION_FILE: &str = "aggregation.mst";
/// Folder of the mini-trees.
pub const MINI_TREE_DIR: &str = "mini-trees";

/// Relative path of mini-tree `i`: zero-padded so that name order is round order.
pub fn mini_tree_path(i: usize) -> String {
    format!("{MINI_TREE_DIR}/{i:06}.mst")
}

/// Relative path of mini-tree `i`'s JSON summary.
pub fn mini_tree_summary_path(i: usize) -> String {
    format!("{MINI_TREE_DIR}/{i:06}.json")
}

/// A reader that hashes (SHA-256) and counts the bytes read through it.
#[derive(Debug)]
pub struct DigestReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> DigestReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        DigestReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The bytes read so far and their SHA-256.
    pub fn finish(self) -> (u64, [u8; 32]) {
        (self.bytes, self.hasher.finalize().into())
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A writer that hashes (SHA-256) the bytes written through it.
#[derive(Debug)]
pub struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W> DigestWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        DigestWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The SHA-256 of what was written.
    pub fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Builds one shard's mini-tree from a CSV stream.
pub fn build_mini_tree<R: Read>(
    reader: R,
    name: &str,
    params: &Params,
    expected: Option<&[Currency]>,
) -> Result<MiniTree> {
    params.validate()?;
    let entries = read_entries(reader, name, params, expected)?;
    MiniTree::build(entries, params, name)
}

/// The shard files of a round: every `*.csv` of the directories given, and the
/// files given, in lexicographic order of their file names.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|e| Error::io(p.display().to_string(), e))?;
        if meta.is_dir() {
            let mut found = false;
            for entry in fs::read_dir(p).map_err(|e| Error::io(p.display().to_string(), e))? {
                let path = entry
                    .map_err(|e| Error::io(p.display().to_string(), e))?
                    .path();
                if path.is_file()
                    && path
                        .extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                {
                    files.push(path);
                    found = true;
                }
            }
            if !found {
                return Err(Error::Invalid(format!(
                    "{}: no CSV shard (*.csv) in this directory",
                    p.display()
                )));
            }
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(Error::Invalid("no CSV shard given".into()));
    }
    files.sort_by(|a, b| a.file_name().cmp(&b.file_name()).then_with(|| a.cmp(b)));
    files.dedup();
    Ok(files)
}

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
    let start = Instant::now();
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
    let plan = start.elapsed();

    let t = Instant::now();
    let built: Vec<Result<(TreeSummary, InputRecord)>> = inputs
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let mut digest = DigestReader::new(open(p)?);
            let tree = build_mini_tree(
                BufReader::with_capacity(1 << 16, &mut digest),
                &name(p),
                params,
                Some(&currencies),
            )?;
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
            let input = InputRecord {
                key: name(p),
                size,
                etag: local_etag(&sha),
                sha256: hex::encode(sha),
                mini_tree: mini_tree_path(i),
                mini_tree_sha256: hex::encode(tree_sha),
            };
            Ok((s, input))
        })
        .collect();
    let (summaries, records): (Vec<TreeSummary>, Vec<InputRecord>) = built
        .into_iter()
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .unzip();
    let mini_trees = t.elapsed();

    let t = Instant::now();
    let agg = Aggregation::build(params, &currencies, summaries)?;
    write_atomically(&out.join(AGGREGATION_FILE), |w| write_aggregation(&agg, w))?;
    let mut result = RoundResult::of(&agg);
    result.inputs = records;
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
    ))
}
