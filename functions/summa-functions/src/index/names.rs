//! A mini-tree's hashed usernames, `P/runs/R/mini-trees/NNNNNN.names`: the input
//! of the username index, cut into [`NAME_PARTITIONS`] ranges so that each index
//! partition reads only its range of every shard (two ranged reads a shard).
//!
//! The file (little endian):
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..8 | magic `SUMMA-NM` |
//! | 8..12 | version, 3 |
//! | 12..16 | `bits` = [`NAME_BITS`]: a key's range is its first `bits` bits |
//! | 16.. | `2^bits + 1` u64: range `r`'s keys are `table[r]..table[r + 1]` |
//! | then | 20-byte records sorted by key: the key (16 bytes), the user's entry in the mini-tree (u32) |

use super::{bucket_of, bucket_table, Format, Keyed};
use crate::error::FnError;
use crate::storage::StorageRead;

/// A names file's magic and version.
const FORMAT: Format = Format {
    magic: *b"SUMMA-NM",
    version: 3,
};
const RECORD: usize = 20;
const HEADER: u64 = 16;
/// A names file's ranges are its keys' first `NAME_BITS` bits: an index of up to
/// `2^NAME_BITS` partitions reads one contiguous slice of every shard.
pub const NAME_BITS: u32 = 10;
/// The number of ranges of a names file.
pub const NAME_PARTITIONS: u64 = 1 << NAME_BITS;
const TABLE: u64 = 8 * (NAME_PARTITIONS + 1);

/// The names file of `keys`, each with the user's entry (any order; sorted here).
pub fn encode(mut keys: Keyed) -> Vec<u8> {
    keys.sort_unstable();
    let table = bucket_table(
        NAME_PARTITIONS,
        keys.iter().map(|(k, _)| bucket_of(k, NAME_BITS)),
    );
    let mut out = FORMAT.start((HEADER + TABLE) as usize + keys.len() * RECORD);
    out.extend_from_slice(&NAME_BITS.to_le_bytes());
    for t in &table {
        out.extend_from_slice(&t.to_le_bytes());
    }
    for (k, e) in &keys {
        out.extend_from_slice(k);
        out.extend_from_slice(&e.to_le_bytes());
    }
    out
}

/// Whether the object `key` starts like a names file of this version (a
/// previous round's mini-tree of an older version is rebuilt, not re-used).
pub async fn is_current(storage: &impl StorageRead, bucket: &str, key: &str) -> bool {
    match storage.get_range(bucket, key, 0, HEADER).await {
        Ok(h) => h.len() == HEADER as usize && header_ok(&h),
        Err(_) => false,
    }
}

fn header_ok(h: &[u8]) -> bool {
    FORMAT.starts(h) && h[12..16] == NAME_BITS.to_le_bytes()
}

/// The keys of index partition `partition` of `2^bits` (`bits` at most
/// [`NAME_BITS`]) in names file `key`: two ranged reads (the header with the
/// partition's slice of the table, then its keys). The keys read must be all
/// there and all of the partition; that every user is in some partition is the
/// aggregator's check (the partitions' counts add up to the mini-trees' users).
pub async fn read_partition(
    storage: &impl StorageRead,
    bucket: &str,
    key: &str,
    bits: u32,
    partition: u64,
) -> Result<Keyed, FnError> {
    let corrupt = |what: String| FnError::internal(format!("{key}: not a names file: {what}"));
    if bits > NAME_BITS || partition >> bits != 0 {
        return Err(FnError::internal(format!(
            "index partition {partition} of 2^{bits}: at most 2^{NAME_BITS} partitions"
        )));
    }
    let first = partition << (NAME_BITS - bits);
    let last = (partition + 1) << (NAME_BITS - bits);
    // The header and the partition's table entries: one read.
    let head = storage
        .get_range(bucket, key, 0, HEADER + 8 * (last + 1))
        .await?;
    if head.len() as u64 != HEADER + 8 * (last + 1) || !header_ok(&head) {
        return Err(corrupt(
            "bad header (a mini-tree of another version: run the round again)".into(),
        ));
    }
    let at = |r: u64| {
        let o = (HEADER + 8 * r) as usize;
        u64::from_le_bytes(head[o..o + 8].try_into().expect("8 bytes"))
    };
    let (start, end) = (at(first), at(last));
    if start > end || end > u64::MAX / RECORD as u64 - HEADER - TABLE {
        return Err(corrupt(format!("key range {start}..{end}")));
    }
    if start == end {
        return Ok(Vec::new());
    }
    let len = (end - start) * RECORD as u64;
    let bytes = storage
        .get_range(bucket, key, HEADER + TABLE + start * RECORD as u64, len)
        .await?;
    if bytes.len() as u64 != len {
        return Err(corrupt("truncated keys".into()));
    }
    let keys: Keyed = bytes
        .chunks_exact(RECORD)
        .map(|c| {
            (
                c[..16].try_into().expect("16 bytes"),
                u32::from_le_bytes(c[16..].try_into().expect("4 bytes")),
            )
        })
        .collect();
    if keys.iter().any(|(k, _)| bucket_of(k, bits) != partition) {
        return Err(corrupt(format!("a key outside partition {partition}")));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::user_key;
    use crate::storage::{MemoryStorage, Storage};

    #[tokio::test]
    async fn each_partition_reads_its_keys_and_only_them() {
        let keys: Keyed = (0..5000u32)
            .map(|i| (user_key(format!("user{i}").as_bytes()), i))
            .collect();
        let file = encode(keys.clone());
        let s = MemoryStorage::default();
        s.put("b", "n", bytes::Bytes::from(file), crate::storage::BINARY)
            .await
            .unwrap();
        assert!(is_current(&s, "b", "n").await);
        for bits in [0, 3, NAME_BITS] {
            let mut all = Vec::new();
            for p in 0..1u64 << bits {
                let part = read_partition(&s, "b", "n", bits, p).await.unwrap();
                assert!(part.iter().all(|(k, _)| bucket_of(k, bits) == p));
                all.extend(part);
            }
            let mut want = keys.clone();
            want.sort_unstable();
            assert_eq!(all, want, "bits {bits}");
        }
        // Out of range, a truncated file, a file of another kind.
        assert!(read_partition(&s, "b", "n", 3, 8).await.is_err());
        let mut cut = encode(keys.clone());
        cut.truncate(cut.len() - 1);
        s.put("b", "cut", bytes::Bytes::from(cut), "x")
            .await
            .unwrap();
        let e = read_partition(&s, "b", "cut", 0, 0).await.unwrap_err();
        assert!(e.to_string().contains("truncated"), "{e}");
        s.put("b", "old", bytes::Bytes::from(vec![7u8; 4096]), "x")
            .await
            .unwrap();
        assert!(!is_current(&s, "b", "old").await);
        let e = read_partition(&s, "b", "old", 0, 0).await.unwrap_err();
        assert!(e.to_string().contains("not a names file"), "{e}");
    }
}
