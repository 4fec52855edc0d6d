//! An in-memory adapter of the storage port (cargo feature `memory`): objects in
//! a map, an ETag from their bytes' SHA-256. For tests and fuzzing: the
//! functions' ranged readers (`RemoteFile`, the username index) and handlers run
//! over it as over S3.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::{
    ObjectInfo, ObjectReader, Put, Storage, StorageRead, StoreError, StoreErrorKind, StoreResult,
};

/// The objects, by (bucket, key).
type Objects = BTreeMap<(String, String), Vec<u8>>;

/// Objects by bucket and key; clones share them.
#[derive(Clone, Debug, Default)]
pub struct MemoryStorage {
    objects: Arc<Mutex<Objects>>,
}

impl MemoryStorage {
    /// Stores `bytes` at `bucket`/`key`.
    pub fn insert(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.lock().insert((bucket.into(), key.into()), bytes);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Objects> {
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn object(&self, bucket: &str, key: &str) -> StoreResult<Vec<u8>> {
        self.lock()
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
            .ok_or_else(|| {
                StoreError::new(
                    StoreErrorKind::NotFound,
                    location(bucket, key),
                    "no such key",
                )
            })
    }
}

fn location(bucket: &str, key: &str) -> String {
    format!("memory://{bucket}/{key}")
}

fn etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(bytes)[..16]))
}

impl StorageRead for MemoryStorage {
    async fn get(&self, bucket: &str, key: &str) -> StoreResult<Vec<u8>> {
        self.object(bucket, key)
    }

    async fn get_range(&self, bucket: &str, key: &str, at: u64, len: u64) -> StoreResult<Vec<u8>> {
        let o = self.object(bucket, key)?;
        let size = o.len() as u64;
        let start = at.min(size);
        let end = at.saturating_add(len).min(size);
        Ok(o[start as usize..end as usize].to_vec())
    }

    async fn head(&self, bucket: &str, key: &str) -> StoreResult<ObjectInfo> {
        let o = self.object(bucket, key)?;
        Ok(ObjectInfo {
            size: o.len() as u64,
            etag: etag(&o),
        })
    }

    async fn get_with_etag(&self, bucket: &str, key: &str) -> StoreResult<(Vec<u8>, String)> {
        let o = self.object(bucket, key)?;
        let e = etag(&o);
        Ok((o, e))
    }

    async fn open_if_match(&self, bucket: &str, key: &str, tag: &str) -> StoreResult<ObjectReader> {
        let o = self.object(bucket, key)?;
        StoreError::if_match(location(bucket, key), &etag(&o), tag)?;
        Ok(Box::pin(std::io::Cursor::new(o)))
    }

    async fn open(&self, bucket: &str, key: &str) -> StoreResult<ObjectReader> {
        Ok(Box::pin(std::io::Cursor::new(self.object(bucket, key)?)))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> StoreResult<Vec<String>> {
        // The map is ordered by (bucket, key): the keys come out in byte order.
        Ok(self
            .lock()
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect())
    }
}

impl Storage for MemoryStorage {
    async fn write(&self, bucket: &str, key: &str, put: Put<'_>) -> StoreResult<()> {
        let mut objects = self.lock();
        let id = (bucket.to_string(), key.to_string());
        if let Some(condition) = &put.condition {
            let current = objects.get(&id).map(|o| etag(o));
            condition.check(location(bucket, key), current.as_deref())?;
        }
        objects.insert(id, put.body.to_vec());
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> StoreResult<()> {
        self.lock().remove(&(bucket.to_string(), key.to_string()));
        Ok(())
    }
}
