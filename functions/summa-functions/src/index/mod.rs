//! The run's username index, `P/runs/R/user-index/pNNNNN.bin`: which shard
//! holds a user, and where in it, found with two ranged reads whatever the
//! number of shards or users. The index is cut into `2^bits` partitions by the
//! keys' first bits (`plan` chooses `bits` from the round's size); each is built
//! by its own invocation from every shard's names file ([`names`]), so that no
//! invocation holds the round's users. A user in two shards fails the round.
//!
//! A user's key is the first 16 bytes of SHA-256(username). A partition file
//! (little endian):
//!
//! | bytes | what |
//! | --- | --- |
//! | 0..8 | magic `SUMMA-IX` |
//! | 8..12 | version, 2 |
//! | 12..16 | `bits`: the file is partition `partition` of `2^bits` |
//! | 16..24 | `partition` |
//! | 24..32 | number of records `n` |
//! | 32.. | [`BUCKETS`] + 1 u64: bucket `b`'s records are `table[b]..table[b + 1]` |
//! | then | `n` records of 24 bytes, sorted: key (16 bytes), shard (u32), the user's entry in the shard's mini-tree (u32) |
//!
//! A key's bucket is its [`BUCKET_BITS`] bits after the partition's. Lookup:
//! the header with the whole table (16 KiB), then the bucket's records: about
//! `n / 2048` of them (a partition holds about 64 MiB of CSV: some 20 KiB).

pub mod names;

use crate::error::FnError;
use crate::storage::StorageRead;

/// A partition file's magic and version.
const FORMAT: Format = Format {
    magic: *b"SUMMA-IX",
    version: 2,
};
const HEADER: u64 = 32;
const RECORD: u64 = 24;
/// A partition file's buckets are its keys' next `BUCKET_BITS` bits.
pub const BUCKET_BITS: u32 = 11;
/// The number of buckets of a partition file.
pub const BUCKETS: u64 = 1 << BUCKET_BITS;
/// The header and the bucket table: a lookup's first read.
const HEAD: u64 = HEADER + 8 * (BUCKETS + 1);
/// At most this many partitions (the names files' ranges).
const MAX_BITS: u32 = names::NAME_BITS;

/// A user's key in the index: the first 16 bytes of SHA-256(username), the key
/// by which the local round refuses a user in two shards too.
pub use summa_agg::round::unique::user_key;

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

/// A shard's keys, each with the user's entry in its mini-tree.
pub type Keyed = Vec<([u8; 16], u32)>;

/// The index of one partition holding every key (`names[i]`: shard `i`'s keys
/// and entries): a round's index in one file.
pub fn build(names: &[Keyed]) -> Result<Vec<u8>, FnError> {
    build_partition(names, 0, 0).map(|(file, _)| file)
}

/// Index partition `partition` of `2^bits` from each shard's keys of that
/// partition (`parts[i]`: shard `i`'s): the file and its number of records. A
/// key in two shards (a username in both) is refused, naming them.
pub fn build_partition(
    parts: &[Keyed],
    bits: u32,
    partition: u64,
) -> Result<(Vec<u8>, u64), FnError> {
    if bits > MAX_BITS || partition >> bits != 0 {
        return Err(FnError::internal(format!(
            "index partition {partition} of 2^{bits}: at most 2^{MAX_BITS} partitions"
        )));
    }
    let mut records: Vec<([u8; 16], u32, u32)> =
        Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for (i, keys) in parts.iter().enumerate() {
        let shard = u32::try_from(i).map_err(|_| FnError::internal("too many shards"))?;
        if let Some((k, _)) = keys.iter().find(|(k, _)| bucket_of(k, bits) != partition) {
            return Err(FnError::internal(format!(
                "shard {i}: key {} is not in index partition {partition}",
                hex::encode(k)
            )));
        }
        records.extend(keys.iter().map(|(k, e)| (*k, shard, *e)));
    }
    records.sort_unstable();
    if let Some(w) = records.windows(2).find(|w| w[0].0 == w[1].0) {
        let (a, b) = (w[0].1, w[1].1);
        return Err(FnError::invalid(if a == b {
            format!(
                "shard {a} holds the hashed username {} twice",
                hex::encode(w[0].0)
            )
        } else {
            format!(
                "a username is in shards {a} and {b} (hashed username {}): each user must be in one shard only",
                hex::encode(w[0].0)
            )
        }));
    }
    let n = records.len() as u64;
    let table = bucket_table(BUCKETS, records.iter().map(|(k, _, _)| sub_bucket(k, bits)));
    let mut out = FORMAT.start((HEAD + RECORD * n) as usize);
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&partition.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    for t in &table {
        out.extend_from_slice(&t.to_le_bytes());
    }
    for (k, s, e) in &records {
        out.extend_from_slice(k);
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
    }
    Ok((out, n))
}

/// A binary file's first 12 bytes: its magic and its version (little-endian).
struct Format {
    magic: [u8; 8],
    version: u32,
}

impl Format {
    /// A file of this format, its magic and version written, `capacity` bytes
    /// reserved.
    fn start(&self, capacity: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        out
    }

    /// Whether `h` starts with this format's magic and version.
    fn starts(&self, h: &[u8]) -> bool {
        h.len() >= 12 && h[..8] == self.magic && h[8..12] == self.version.to_le_bytes()
    }
}

/// Where each of `buckets` buckets starts among sorted records, and where the
/// last ends (`buckets + 1` counts), given each record's bucket.
fn bucket_table(buckets: u64, of: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut table = vec![0u64; buckets as usize + 1];
    for b in of {
        table[b as usize + 1] += 1;
    }
    for b in 0..buckets as usize {
        table[b + 1] += table[b];
    }
    table
}

/// A key's bucket in a partition file of `2^bits` partitions: its
/// [`BUCKET_BITS`] bits after the partition's.
fn sub_bucket(key: &[u8; 16], bits: u32) -> u64 {
    (u64::from_be_bytes(key[..8].try_into().expect("8 bytes")) << bits) >> (64 - BUCKET_BITS)
}

/// The number of records of the index partition file `key` (one ranged read of
/// its header).
pub async fn records_in(
    storage: &impl StorageRead,
    bucket: &str,
    key: &str,
) -> Result<u64, FnError> {
    let header = storage.get_range(bucket, key, 0, HEADER).await?;
    Ok(Header::parse(&header, key)?.n)
}

struct Header {
    bits: u32,
    partition: u64,
    n: u64,
}

impl Header {
    fn parse(h: &[u8], key: &str) -> Result<Header, FnError> {
        let corrupt =
            |what: &str| FnError::internal(format!("{key}: not a valid username index: {what}"));
        if h.len() < HEADER as usize || h[..8] != FORMAT.magic {
            return Err(corrupt("bad header"));
        }
        if h[8..12] != FORMAT.version.to_le_bytes() {
            return Err(corrupt("unknown version"));
        }
        let bits = u32::from_le_bytes(h[12..16].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().expect("8 bytes"));
        let (partition, n) = (u64_at(16), u64_at(24));
        // So that no offset below overflows (found by the fuzzer, target `tree_file`).
        if bits > MAX_BITS || partition >> bits != 0 || n > (u64::MAX - HEAD) / RECORD {
            return Err(corrupt("implausible header"));
        }
        Ok(Header { bits, partition, n })
    }
}

/// Where `username` is according to the index partition at `key`: each
/// (shard, entry) that holds it (at most one in an index this crate built;
/// empty if none), in two ranged reads.
pub async fn lookup(
    storage: &impl StorageRead,
    bucket: &str,
    key: &str,
    username: &str,
) -> Result<Vec<(u64, u64)>, FnError> {
    let corrupt =
        |what: &str| FnError::internal(format!("{key}: not a valid username index: {what}"));
    let head = storage.get_range(bucket, key, 0, HEAD).await?;
    let h = Header::parse(&head, key)?;
    if head.len() as u64 != HEAD {
        return Err(corrupt("truncated table"));
    }
    let k = user_key(username.as_bytes());
    if bucket_of(&k, h.bits) != h.partition {
        return Err(corrupt("the user's partition is another"));
    }
    let b = sub_bucket(&k, h.bits) as usize;
    let at = |i: usize| {
        let o = HEADER as usize + 8 * i;
        u64::from_le_bytes(head[o..o + 8].try_into().expect("8 bytes"))
    };
    let (start, end) = (at(b), at(b + 1));
    if start > end || end > h.n {
        return Err(corrupt("bad bucket bounds"));
    }
    if start == end {
        return Ok(Vec::new());
    }
    let len = (end - start) * RECORD;
    let recs = storage
        .get_range(bucket, key, HEAD + start * RECORD, len)
        .await?;
    if recs.len() as u64 != len {
        return Err(corrupt("truncated records"));
    }
    let u32_at = |r: &[u8], o: usize| u32::from_le_bytes(r[o..o + 4].try_into().expect("4 bytes"));
    Ok(recs
        .chunks_exact(RECORD as usize)
        .filter(|r| r[..16] == k)
        .map(|r| (u32_at(r, 16) as u64, u32_at(r, 20) as u64))
        .collect())
}
