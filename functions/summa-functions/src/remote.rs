//! Random access to the ranges of a stored object fetched so far
//! ([`summa_agg::format::ReadAt`]): a tree file is read a header and a path at
//! a time, never whole.

use summa_agg::format::ReadAt;

use crate::error::FnError;
use crate::storage::StorageRead;

/// The smallest ranged GET of [`FetchedRanges::read_with`].
pub const BLOCK_SIZE: u64 = 64 << 10;

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

impl ReadAt for FetchedRanges {
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
