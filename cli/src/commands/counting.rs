//! A storage that counts what a step asks of it: requests, bytes read and
//! written (`step --stats`; the scale probe reads them).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use bytes::Bytes;
use summa_functions::storage::ObjectReader;
use summa_functions::{ObjectInfo, PutCondition, Storage, StorageRead, StoreError};

/// `inner`, counting each request and its bytes.
pub struct Counting<S> {
    inner: S,
    requests: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
}

impl<S> Counting<S> {
    /// Counts the requests made of `inner`.
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            requests: AtomicU64::new(0),
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
        }
    }

    /// `{"requests", "bytes_read", "bytes_written"}`.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::json!({
            "requests": self.requests.load(Relaxed),
            "bytes_read": self.read.load(Relaxed),
            "bytes_written": self.written.load(Relaxed),
        })
    }

    fn count<T>(&self, r: &Result<T, StoreError>, read: impl Fn(&T) -> u64) {
        self.requests.fetch_add(1, Relaxed);
        if let Ok(v) = r {
            self.read.fetch_add(read(v), Relaxed);
        }
    }
}

impl<S: StorageRead> StorageRead for Counting<S> {
    async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StoreError> {
        let r = self.inner.get(bucket, key).await;
        self.count(&r, |v| v.len() as u64);
        r
    }
    async fn get_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let r = self.inner.get_range(bucket, key, offset, len).await;
        self.count(&r, |v| v.len() as u64);
        r
    }
    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectInfo, StoreError> {
        let r = self.inner.head(bucket, key).await;
        self.count(&r, |_| 0);
        r
    }
    async fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<u8>, String), StoreError> {
        let r = self.inner.get_with_etag(bucket, key).await;
        self.count(&r, |(v, _)| v.len() as u64);
        r
    }
    async fn open(&self, bucket: &str, key: &str) -> Result<ObjectReader, StoreError> {
        // A stream is read whole: its size (not a request of the step's).
        let size = self.inner.size(bucket, key).await.unwrap_or(0);
        let r = self.inner.open(bucket, key).await;
        self.count(&r, |_| size);
        r
    }
    async fn open_if_match(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> Result<ObjectReader, StoreError> {
        let size = self.inner.size(bucket, key).await.unwrap_or(0);
        let r = self.inner.open_if_match(bucket, key, etag).await;
        self.count(&r, |_| size);
        r
    }
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, StoreError> {
        let r = self.inner.list(bucket, prefix).await;
        self.count(&r, |_| 0);
        r
    }
}

impl<S: Storage> Storage for Counting<S> {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.requests.fetch_add(1, Relaxed);
        self.written.fetch_add(body.len() as u64, Relaxed);
        self.inner.put(bucket, key, body, content_type).await
    }
    async fn put_if(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<(), StoreError> {
        self.requests.fetch_add(1, Relaxed);
        self.written.fetch_add(body.len() as u64, Relaxed);
        self.inner
            .put_if(bucket, key, body, content_type, condition)
            .await
    }
    async fn copy(&self, bucket: &str, from: &str, to: &str) -> Result<(), StoreError> {
        self.requests.fetch_add(1, Relaxed);
        self.inner.copy(bucket, from, to).await
    }
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), StoreError> {
        self.requests.fetch_add(1, Relaxed);
        self.inner.delete(bucket, key).await
    }
}
