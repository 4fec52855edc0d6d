//! An in-memory [`Storage`]: the functions' ranged readers (`RemoteFile`, the
//! username index) run over it as over S3, on objects the fuzzer wrote.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use summa_functions::storage::ObjectReader;
use summa_functions::{ObjectInfo, PutCondition, Storage, StoreError, StoreErrorKind};

/// Objects by key (one bucket).
#[derive(Clone, Default)]
pub struct Memory {
    objects: Arc<Mutex<HashMap<String, Vec<u8>>>>,
}

impl Memory {
    /// Stores `bytes` at `key`.
    pub fn insert(&self, key: &str, bytes: Vec<u8>) {
        self.objects.lock().unwrap().insert(key.into(), bytes);
    }

    fn object(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or_else(|| StoreError::new(StoreErrorKind::NotFound, key, "no such key"))
    }
}

fn etag(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("\"{}\"", hex::encode(&sha2::Sha256::digest(bytes)[..16]))
}

impl Storage for Memory {
    async fn get(&self, _bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        self.object(key)
    }

    async fn get_range(
        &self,
        _bucket: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let o = self.object(key)?;
        let size = o.len() as u64;
        let start = offset.min(size);
        let end = offset.saturating_add(len).min(size);
        Ok(o[start as usize..end as usize].to_vec())
    }

    async fn size(&self, _bucket: &str, key: &str) -> Result<u64, StoreError> {
        Ok(self.object(key)?.len() as u64)
    }

    async fn head(&self, _bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        let o = self.object(key)?;
        Ok(ObjectInfo {
            size: o.len() as u64,
            etag: etag(&o),
        })
    }

    async fn get_with_etag(
        &self,
        _bucket: &str,
        key: &str,
    ) -> Result<(Vec<u8>, String), StoreError> {
        let o = self.object(key)?;
        let e = etag(&o);
        Ok((o, e))
    }

    async fn open_if_match(
        &self,
        _bucket: &str,
        key: &str,
        want: &str,
    ) -> Result<ObjectReader, StoreError> {
        let o = self.object(key)?;
        if etag(&o) != want {
            return Err(StoreError::new(
                StoreErrorKind::Changed,
                key,
                "ETag differs",
            ));
        }
        Ok(Box::pin(std::io::Cursor::new(o)))
    }

    async fn put_if(
        &self,
        _bucket: &str,
        key: &str,
        body: Bytes,
        _content_type: &str,
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        let mut objects = self.objects.lock().unwrap();
        let ok = match (&condition, objects.get(key)) {
            (PutCondition::Absent, None) => true,
            (PutCondition::Matches(e), Some(o)) => etag(o) == *e,
            _ => false,
        };
        if !ok {
            return Err(StoreError::new(
                StoreErrorKind::Changed,
                key,
                "condition failed",
            ));
        }
        objects.insert(key.into(), body.to_vec());
        Ok(())
    }

    async fn open(&self, _bucket: &str, key: &str) -> Result<ObjectReader, StoreError> {
        Ok(Box::pin(std::io::Cursor::new(self.object(key)?)))
    }

    async fn put(
        &self,
        _bucket: &str,
        key: &str,
        body: Bytes,
        _content_type: &str,
    ) -> Result<(), StoreError> {
        self.insert(key, body.to_vec());
        Ok(())
    }

    async fn delete(&self, _bucket: &str, key: &str) -> Result<(), StoreError> {
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }

    async fn list(&self, _bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect();
        keys.sort();
        Ok(keys)
    }
}
