//! Each user in one shard only, across a round's shards.
//!
//! A username in two shards would be two leaves of the round's tree for one user
//! (a tree build refuses a username twice in one shard). The serverless round's
//! username index finds a user by [`user_key`] and refuses a key found in two
//! shards; the local round refuses the same rounds by the same keys, here, so
//! that both accept the same files.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sha2::{Digest, Sha256};

use crate::format::{ReadAt, TreeFile};
use crate::Result;

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

/// The first key (in key order) that two shards share, with the two shards
/// (the lower first): a merge of the shards' sorted keys, holding one key a
/// shard beyond them.
pub fn shared_key(shards: &[Vec<[u8; 16]>]) -> Option<([u8; 16], usize, usize)> {
    let mut heap: BinaryHeap<Reverse<([u8; 16], usize, usize)>> = shards
        .iter()
        .enumerate()
        .filter_map(|(s, keys)| keys.first().map(|k| Reverse((*k, s, 0))))
        .collect();
    let mut last: Option<([u8; 16], usize)> = None;
    while let Some(Reverse((key, s, i))) = heap.pop() {
        if let Some((k, t)) = last {
            if k == key && t != s {
                return Some((key, t, s));
            }
        }
        last = Some((key, s));
        if let Some(next) = shards[s].get(i + 1) {
            heap.push(Reverse((*next, s, i + 1)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(names: &[&str]) -> Vec<[u8; 16]> {
        sorted_keys(names.iter())
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
        assert_eq!(shared_key(&shards), None);
        assert_eq!(shared_key(&[]), None);
    }

    #[test]
    fn a_user_in_two_shards_names_both_lower_first() {
        let shards = [shard(&["a", "b"]), shard(&["c", "x"]), shard(&["d", "x"])];
        assert_eq!(shared_key(&shards), Some((user_key(b"x"), 1, 2)));
        // The first and the last shard.
        let shards = [shard(&["q", "b"]), shard(&["c"]), shard(&["d", "q"])];
        assert_eq!(shared_key(&shards), Some((user_key(b"q"), 0, 2)));
    }
}
