//! The run's username index, `P/runs/R/user-index/pNNNNN.bin`: which shard holds
//! a user, found with three ranged reads whatever the number of shards or users.
//! The index is cut into `2^bits` partitions by the keys' first bits (`plan`
//! chooses `bits` from the round's size); each is built by its own invocation
//! from every shard's names file ([`names`]), so that no invocation holds the
//! round's users. A partition file:
//!
//! A user's key is the first 16 bytes of SHA-256(username). The file (little
//! endian):
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..8 | magic `SUMMA-IX` |
//! | 8..12 | version, 1 |
//! | 12..16 | `bits`: the buckets are the keys' first `bits` bits |
//! | 16..24 | number of records `n` |
//! | 24.. | `2^bits + 1` u64: bucket `b`'s records are `table[b]..table[b + 1]` |
//! | then | `n` records of 20 bytes, sorted: key (16 bytes), shard (u32) |
//!
//! `bits` is chosen so that a bucket holds about 64 records (1.3 KB). Lookup:
//! the header, the bucket's two table entries, the bucket's records.

pub mod names;

use sha2::{Digest, Sha256};

use crate::error::FnError;
use crate::storage::StorageRead;

const MAGIC: &[u8; 8] = b"SUMMA-IX";
const VERSION: u32 = 1;
const HEADER: u64 = 24;
const RECORD: u64 = 20;
/// Records per bucket aimed at.
const PER_BUCKET: u64 = 64;
const MAX_BITS: u32 = 24;
/// Bytes of a key.
const KEY: usize = 16;

/// A user's key in the index: the first 16 bytes of SHA-256(username).
pub fn user_key(username: &[u8]) -> [u8; 16] {
    let d = Sha256::digest(username);
    let mut k = [0u8; 16];
    k.copy_from_slice(&d[..16]);
    k
}

/// The partition (of `2^bits`) of `username`'s key.
pub fn partition_of(username: &[u8], bits: u32) -> u64 {
    bucket_of(&user_key(username), bits)
}

fn bucket_of(key: &[u8; 16], bits: u32) -> u64 {
    if bits == 0 {
        return 0;
    }
    u64::from_be_bytes(key[..8].try_into().expect("8 bytes")) >> (64 - bits)
}

/// Builds the index file from every shard's sorted keys (`names[i]` is shard
/// `i`'s `.names` object: 16-byte keys back to back).
pub fn build(names: &[Vec<u8>]) -> Result<Vec<u8>, FnError> {
    let mut records: Vec<([u8; 16], u32)> = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if n.len() % 16 != 0 {
            return Err(FnError::internal(format!(
                "the hashed usernames of shard {i} are {} bytes, not a multiple of 16",
                n.len()
            )));
        }
        let shard = u32::try_from(i).map_err(|_| FnError::internal("too many shards"))?;
        records.extend(
            n.chunks_exact(16)
                .map(|c| (c.try_into().expect("16 bytes"), shard)),
        );
    }
    Ok(encode(records))
}

/// Index partition `partition` of `2^bits` from each shard's keys of that
/// partition (`parts[i]`: shard `i`'s): the file and its number of records.
pub fn build_partition(
    parts: &[Vec<[u8; 16]>],
    bits: u32,
    partition: u64,
) -> Result<(Vec<u8>, u64), FnError> {
    let mut records: Vec<([u8; 16], u32)> = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for (i, keys) in parts.iter().enumerate() {
        let shard = u32::try_from(i).map_err(|_| FnError::internal("too many shards"))?;
        if let Some(k) = keys.iter().find(|k| bucket_of(k, bits) != partition) {
            return Err(FnError::internal(format!(
                "shard {i}: key {} is not in index partition {partition}",
                hex::encode(k)
            )));
        }
        records.extend(keys.iter().map(|k| (*k, shard)));
    }
    let n = records.len() as u64;
    Ok((encode(records), n))
}

/// The index file of `records` (any order; sorted here).
fn encode(mut records: Vec<([u8; 16], u32)>) -> Vec<u8> {
    records.sort_unstable();
    let n = records.len() as u64;
    let mut bits = 0;
    while bits < MAX_BITS && (n >> bits) > PER_BUCKET {
        bits += 1;
    }
    let buckets = 1usize << bits;
    let mut table = vec![0u64; buckets + 1];
    for (k, _) in &records {
        table[bucket_of(k, bits) as usize + 1] += 1;
    }
    for b in 0..buckets {
        table[b + 1] += table[b];
    }
    let mut out =
        Vec::with_capacity(HEADER as usize + 8 * (buckets + 1) + RECORD as usize * records.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    for t in &table {
        out.extend_from_slice(&t.to_le_bytes());
    }
    for (k, s) in &records {
        out.extend_from_slice(k);
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// The number of records of the index partition file `key` (one ranged read of
/// its header).
pub async fn records_in(
    storage: &impl StorageRead,
    bucket: &str,
    key: &str,
) -> Result<u64, FnError> {
    let header = storage.get_range(bucket, key, 0, HEADER).await?;
    if header.len() != HEADER as usize || &header[..8] != MAGIC {
        return Err(FnError::internal(format!(
            "{key}: not a valid username index: bad header"
        )));
    }
    Ok(u64::from_le_bytes(
        header[16..24].try_into().expect("8 bytes"),
    ))
}

/// The shards that hold `username` according to the index at `key` (ascending;
/// usually one; empty if none), in three ranged reads.
pub async fn lookup(
    storage: &impl StorageRead,
    bucket: &str,
    key: &str,
    username: &str,
) -> Result<Vec<u64>, FnError> {
    let corrupt =
        |what: &str| FnError::internal(format!("{key}: not a valid username index: {what}"));
    let header = storage.get_range(bucket, key, 0, HEADER).await?;
    if header.len() != HEADER as usize || &header[..8] != MAGIC {
        return Err(corrupt("bad header"));
    }
    let u32_at = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    if u32_at(8) != VERSION {
        return Err(corrupt("unknown version"));
    }
    let bits = u32_at(12);
    if bits > MAX_BITS {
        return Err(corrupt("too many buckets"));
    }
    let n = u64::from_le_bytes(header[16..24].try_into().expect("8 bytes"));
    let records_at = HEADER + 8 * ((1u64 << bits) + 1);
    // So that no offset below overflows (found by the fuzzer, target `tree_file`).
    if n > (u64::MAX - records_at) / RECORD {
        return Err(corrupt("implausible record count"));
    }
    let k = user_key(username.as_bytes());
    let b = bucket_of(&k, bits);
    let t = storage.get_range(bucket, key, HEADER + 8 * b, 16).await?;
    if t.len() != 16 {
        return Err(corrupt("truncated table"));
    }
    let start = u64::from_le_bytes(t[..8].try_into().expect("8 bytes"));
    let end = u64::from_le_bytes(t[8..].try_into().expect("8 bytes"));
    if start > end || end > n {
        return Err(corrupt("bad bucket bounds"));
    }
    if start == end {
        return Ok(Vec::new());
    }
    let len = (end - start) * RECORD;
    let recs = storage
        .get_range(bucket, key, records_at + start * RECORD, len)
        .await?;
    if recs.len() as u64 != len {
        return Err(corrupt("truncated records"));
    }
    Ok(recs
        .chunks_exact(RECORD as usize)
        .filter(|r| r[..16] == k)
        .map(|r| u32::from_le_bytes(r[16..20].try_into().expect("4 bytes")) as u64)
        .collect())
}
