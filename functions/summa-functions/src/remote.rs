//! Random access to a stored object ([`summa_agg::format::ReadAt`]) through ranged
//! GETs, with a small block cache: a tree file is read a header and a path at a
//! time, never whole.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};

use summa_agg::format::ReadAt;
use tokio::runtime::Handle;

use crate::error::FnError;
use crate::storage::{StorageRead, StoreError};

/// Block size of the cache (and the smallest GET).
pub const BLOCK_SIZE: u64 = 64 << 10;
/// Blocks kept per object (16 MiB).
const MAX_BLOCKS: usize = 256;

/// An object read through ranged GETs. The `ReadAt` calls block on the Tokio
/// runtime whose handle it holds: use it from `spawn_blocking` (or another
/// thread), never from async code.
pub struct RemoteFile<S> {
    storage: S,
    bucket: String,
    key: String,
    size: u64,
    handle: Handle,
    cache: Mutex<HashMap<u64, Arc<Vec<u8>>>>,
    gets: std::sync::atomic::AtomicU64,
}

impl<S: StorageRead> RemoteFile<S> {
    /// Opens `bucket`/`key`, reading its size (a HEAD). Call it from async code.
    pub async fn open(storage: S, bucket: &str, key: &str) -> Result<Self, StoreError> {
        let size = storage.size(bucket, key).await?;
        Ok(RemoteFile {
            storage,
            bucket: bucket.into(),
            key: key.into(),
            size,
            handle: Handle::current(),
            cache: Mutex::new(HashMap::new()),
            gets: Default::default(),
        })
    }

    /// The object's key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How many ranged GETs were made.
    pub fn gets(&self) -> u64 {
        self.gets.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn fetch(&self, first: u64, last: u64) -> io::Result<()> {
        let offset = first * BLOCK_SIZE;
        let len = ((last + 1) * BLOCK_SIZE).min(self.size) - offset;
        self.gets.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data = self
            .handle
            .block_on(self.storage.get_range(&self.bucket, &self.key, offset, len))
            .map_err(StoreError::into_io)?;
        if data.len() as u64 != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: expected {len} bytes at {offset}, got {} (did the object change?)",
                    self.key,
                    data.len()
                ),
            ));
        }
        let mut cache = self.cache.lock().unwrap();
        if cache.len() + (last - first + 1) as usize > MAX_BLOCKS {
            cache.clear();
        }
        for (i, b) in (first..=last).enumerate() {
            let s = i * BLOCK_SIZE as usize;
            let e = (s + BLOCK_SIZE as usize).min(data.len());
            cache.insert(b, Arc::new(data[s..e].to_vec()));
        }
        Ok(())
    }

    fn block(&self, b: u64) -> Option<Arc<Vec<u8>>> {
        self.cache.lock().unwrap().get(&b).cloned()
    }
}

impl<S: StorageRead> ReadAt for RemoteFile<S> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let end = offset
            .checked_add(buf.len() as u64)
            .filter(|&e| e <= self.size)
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let (first, last) = (offset / BLOCK_SIZE, (end - 1) / BLOCK_SIZE);
        // Fetch each run of missing blocks with one GET.
        let mut b = first;
        while b <= last {
            if self.block(b).is_some() {
                b += 1;
                continue;
            }
            let mut e = b;
            while e < last && self.block(e + 1).is_none() {
                e += 1;
            }
            self.fetch(b, e)?;
            b = e + 1;
        }
        let mut pos = offset;
        let mut out = 0usize;
        while pos < end {
            let b = pos / BLOCK_SIZE;
            let block = match self.block(b) {
                Some(block) => block,
                // Evicted by a concurrent reader: fetch it again.
                None => {
                    self.fetch(b, b)?;
                    self.block(b).ok_or(io::ErrorKind::UnexpectedEof)?
                }
            };
            let s = (pos - b * BLOCK_SIZE) as usize;
            let n = (block.len() - s).min((end - pos) as usize);
            buf[out..out + n].copy_from_slice(&block[s..s + n]);
            out += n;
            pos += n as u64;
        }
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.size)
    }
}

/// The ranges of an object fetched so far, as a [`ReadAt`]: a read outside them
/// fails and records which range was missing, so that a synchronous reader (the
/// core's `TreeFile`) can be run again once the range is fetched. For the few
/// reads of a small part of an object (a mini-tree's header and root) from async
/// code, without a blocking bridge.
#[derive(Debug, Default)]
pub struct FetchedRanges {
    size: u64,
    chunks: Vec<(u64, Vec<u8>)>,
    missing: std::sync::Mutex<Option<(u64, usize)>>,
}

impl FetchedRanges {
    /// An object of `size` bytes with nothing fetched yet.
    pub fn new(size: u64) -> FetchedRanges {
        FetchedRanges {
            size,
            ..FetchedRanges::default()
        }
    }

    /// The range a failed read needed, forgotten once taken.
    pub fn take_missing(&self) -> Option<(u64, usize)> {
        self.missing.lock().map(|mut m| m.take()).unwrap_or(None)
    }

    /// Adds fetched bytes at `offset`.
    pub fn add(&mut self, offset: u64, bytes: Vec<u8>) {
        self.chunks.push((offset, bytes));
    }

    /// Runs `read` over the object, fetching each missing range (at least
    /// `BLOCK_SIZE` bytes) from `key` and running it again, at most `rounds` times.
    pub async fn read_with<S: StorageRead, T>(
        &mut self,
        storage: &S,
        bucket: &str,
        key: &str,
        rounds: usize,
        mut read: impl FnMut(&FetchedRanges) -> summa_agg::Result<T>,
    ) -> Result<T, FnError> {
        for _ in 0..rounds {
            match read(self) {
                Ok(v) => return Ok(v),
                Err(e) => match self.take_missing() {
                    Some((offset, len)) => {
                        let len = (len as u64).max(BLOCK_SIZE);
                        let bytes = storage.get_range(bucket, key, offset, len).await?;
                        self.add(offset, bytes);
                    }
                    None => return Err(e.into()),
                },
            }
        }
        Err(FnError::internal(format!(
            "{key}: still reading after {rounds} ranged reads"
        )))
    }
}

impl ReadAt for &FetchedRanges {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let end = offset + buf.len() as u64;
        for (start, bytes) in &self.chunks {
            if *start <= offset && end <= start + bytes.len() as u64 {
                let from = (offset - start) as usize;
                buf.copy_from_slice(&bytes[from..from + buf.len()]);
                return Ok(());
            }
        }
        if let Ok(mut m) = self.missing.lock() {
            *m = Some((offset, buf.len()));
        }
        Err(std::io::ErrorKind::UnexpectedEof.into())
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.size)
    }
}
