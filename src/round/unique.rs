//! Each user in one shard only, across a round's shards.
//!
//! A username in two shards would be two leaves of the round's tree for one user
//! (a tree build refuses a username twice in one shard). The serverless round's
//! username index finds a user by [`user_key`] and refuses a key found in two
//! shards; the local round refuses the same rounds by the same keys, here, so
//! that both accept the same files.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::format::{ReadAt, TreeFile};
use crate::{Error, Result};

/// A user's key: the first 16 bytes of SHA-256(username). Two usernames with one
/// key count as one user: among 2^30 users, the odds of any such pair are about
/// 2^-69.
pub fn user_key(username: &[u8]) -> [u8; 16] {
    let d = Sha256::digest(username);
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// A shard's keys, sorted: 16 bytes a user.
pub fn sorted_keys<N: AsRef<[u8]>>(names: impl Iterator<Item = N>) -> Vec<[u8; 16]> {
    let mut keys: Vec<[u8; 16]> = names.map(|n| user_key(n.as_ref())).collect();
    keys.sort_unstable();
    keys
}

/// A mini-tree file's keys, sorted.
pub fn file_keys<R: ReadAt>(file: &TreeFile<R>) -> Result<Vec<[u8; 16]>> {
    let mut keys = (0..file.count)
        .map(|e| Ok(user_key(&file.username(e)?)))
        .collect::<Result<Vec<_>>>()?;
    keys.sort_unstable();
    Ok(keys)
}

/// A round's sorted keys, a file a shard in a directory of their own, removed
/// when this is dropped (the round done or failed). The local round keeps the keys
/// on disk until the check, so that its memory is bounded by the shards in flight,
/// not by the round's users (16 bytes a user would be 4 GiB at 2^28).
pub struct KeyFiles(PathBuf);

impl KeyFiles {
    /// An empty directory `dir` for the keys (any left by a round that was
    /// killed is removed).
    pub fn new(dir: PathBuf) -> Result<KeyFiles> {
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).map_err(|e| Error::io(dir.display().to_string(), e))?;
        Ok(KeyFiles(dir))
    }

    fn path(&self, shard: usize) -> PathBuf {
        self.0.join(format!("{shard:06}"))
    }

    /// Writes shard `shard`'s sorted keys.
    pub fn write(&self, shard: usize, keys: &[[u8; 16]]) -> Result<()> {
        write_keys(&self.path(shard), keys)
    }

    /// [`shared_key`] over the keys of shards `0..shards`, streamed from their
    /// files.
    pub fn shared_key(&self, shards: usize) -> Result<Option<([u8; 16], usize, usize)>> {
        let streams = (0..shards)
            .map(|i| read_keys(&self.path(i)))
            .collect::<Result<Vec<_>>>()?;
        shared_key(streams)
    }
}

impl Drop for KeyFiles {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes sorted keys to `path`, 16 bytes each.
fn write_keys(path: &Path, keys: &[[u8; 16]]) -> Result<()> {
    let err = |e| Error::io(path.display().to_string(), e);
    let mut w = BufWriter::new(File::create(path).map_err(err)?);
    for k in keys {
        w.write_all(k).map_err(err)?;
    }
    w.flush().map_err(err)
}

/// The keys of a file that [`write_keys`] wrote, streamed.
fn read_keys(path: &Path) -> Result<impl Iterator<Item = Result<[u8; 16]>>> {
    let name = path.display().to_string();
    let mut r = BufReader::new(File::open(path).map_err(|e| Error::io(name.clone(), e))?);
    Ok(std::iter::from_fn(move || {
        let mut k = [0u8; 16];
        match r.read_exact(&mut k) {
            Ok(()) => Some(Ok(k)),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => None,
            Err(e) => Some(Err(Error::io(name.clone(), e))),
        }
    }))
}

/// The first key (in key order) that two shards share, with the two shards
/// (the lower first): a merge of the shards' sorted keys, holding one key a
/// shard at a time.
pub fn shared_key<I>(mut shards: Vec<I>) -> Result<Option<([u8; 16], usize, usize)>>
where
    I: Iterator<Item = Result<[u8; 16]>>,
{
    let mut heap = BinaryHeap::new();
    for (s, keys) in shards.iter_mut().enumerate() {
        if let Some(k) = keys.next() {
            heap.push(Reverse((k?, s)));
        }
    }
    let mut last: Option<([u8; 16], usize)> = None;
    // Equal keys come out in shard order: `t` is the lower shard.
    while let Some(Reverse((key, s))) = heap.pop() {
        if let Some((k, t)) = last {
            if k == key && t != s {
                return Ok(Some((key, t, s)));
            }
        }
        last = Some((key, s));
        if let Some(next) = shards[s].next() {
            heap.push(Reverse((next?, s)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(names: &[&str]) -> Vec<[u8; 16]> {
        sorted_keys(names.iter())
    }

    /// [`shared_key`] over shards in memory.
    fn shared(shards: &[Vec<[u8; 16]>]) -> Option<([u8; 16], usize, usize)> {
        let streams = shards.iter().map(|k| k.iter().copied().map(Ok)).collect();
        shared_key(streams).unwrap()
    }

    #[test]
    fn the_key_is_sha256s_first_16_bytes() {
        // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223 b00361a3...
        assert_eq!(
            hex::encode(user_key(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223"
        );
    }

    #[test]
    fn disjoint_shards_share_no_key() {
        let shards = [
            shard(&["a", "b"]),
            shard(&["c"]),
            shard(&[]),
            shard(&["d", "e", "f"]),
        ];
        assert_eq!(shared(&shards), None);
        assert_eq!(shared(&[]), None);
    }

    #[test]
    fn a_user_in_two_shards_names_both_lower_first() {
        let shards = [shard(&["a", "b"]), shard(&["c", "x"]), shard(&["d", "x"])];
        assert_eq!(shared(&shards), Some((user_key(b"x"), 1, 2)));
        // The first and the last shard.
        let shards = [shard(&["q", "b"]), shard(&["c"]), shard(&["d", "q"])];
        assert_eq!(shared(&shards), Some((user_key(b"q"), 0, 2)));
    }

    #[test]
    fn key_files_are_read_back_in_order_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let keys_dir = dir.path().join(".keys");
        let files = KeyFiles::new(keys_dir.clone()).unwrap();
        files.write(0, &shard(&["a", "b", "x"])).unwrap();
        files.write(1, &shard(&["c", "d"])).unwrap();
        let back: Vec<_> = read_keys(&files.path(0))
            .unwrap()
            .map(|k| k.unwrap())
            .collect();
        assert_eq!(back, shard(&["a", "b", "x"]));
        assert_eq!(files.shared_key(2).unwrap(), None);
        files.write(2, &shard(&["x"])).unwrap();
        assert_eq!(files.shared_key(3).unwrap(), Some((user_key(b"x"), 0, 2)));
        // A shard without its file is an error naming the file.
        let e = files.shared_key(4).err().unwrap();
        assert!(e.to_string().contains("000003"), "{e}");
        drop(files);
        assert!(!keys_dir.exists());
    }
}
