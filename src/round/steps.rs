//! The steps' primitives, plain functions over readers and bytes that the CLI
//! and the Lambda functions share: the artifacts' names, hashing readers and
//! writers, building one shard's mini-tree, and the local round's inputs.

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use crate::shard::{read_entries, Currency};
use crate::tree::MiniTree;
use crate::{Error, Params, Result};

/// File name of the round's result.
pub const RESULT_FILE: &str = "result.json";
/// File name of the aggregation tree.
pub const AGGREGATION_FILE: &str = "aggregation.mst";
/// Folder of the mini-trees.
pub const MINI_TREE_DIR: &str = "mini-trees";
/// Where the local round keeps its shards' user keys until its one-shard check
/// (under the output directory; removed when the round ends).
pub const KEYS_DIR: &str = ".keys";

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
