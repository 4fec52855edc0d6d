//! Where rounds live: the storage port, split by capability ([`StorageRead`];
//! [`Storage`] reads and writes), and its adapters, one file each: S3
//! (`s3.rs`, `S3Storage`, cargo feature `aws`), a local directory (`local.rs`,
//! [`LocalStorage`], a bucket is a directory: local runs and tests) and memory
//! (`memory.rs`, `MemoryStorage`, cargo feature `memory`: tests and fuzzing).

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use tokio::io::AsyncRead;

mod counting;
mod faults;
mod local;
#[cfg(feature = "memory")]
mod memory;
#[cfg(feature = "aws")]
mod s3;

pub use counting::{Call, Counting, Op, ReadRequest, StorageStats};
pub use faults::{Fault, FaultHook};
pub use local::LocalStorage;
#[cfg(feature = "memory")]
pub use memory::MemoryStorage;
#[cfg(feature = "aws")]
pub use s3::{S3Storage, DEFAULT_MULTIPART_THRESHOLD, DEFAULT_PART_SIZE};

/// The class of a [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// No such object (or bucket).
    NotFound,
    /// The store asked to slow down (S3 SlowDown, 503, 429).
    Throttled,
    /// A condition failed: the object is not the version asked for (If-Match),
    /// or it exists already (If-None-Match), HTTP 412 (or 409 for a conflicting
    /// conditional write).
    Changed,
    /// Any other failure (network, permissions, server error).
    Other,
}

/// A storage failure, naming the object.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct StoreError {
    /// Its class.
    pub kind: StoreErrorKind,
    /// The object, e.g. `s3://bucket/key`.
    pub location: String,
    /// What went wrong.
    pub message: String,
}

impl StoreError {
    /// A new error.
    pub fn new(
        kind: StoreErrorKind,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        StoreError {
            kind,
            location: location.into(),
            message: message.into(),
        }
    }

    /// The `If-Match` check of an adapter that computes ETags itself: a
    /// [`StoreErrorKind::Changed`] error at `location` unless the object's ETag,
    /// `found`, is `wanted`.
    pub fn if_match(location: impl Into<String>, found: &str, wanted: &str) -> StoreResult<()> {
        if found == wanted {
            return Ok(());
        }
        let message = format!("PreconditionFailed: the ETag is {found}, not {wanted} (If-Match)");
        Err(StoreError::new(StoreErrorKind::Changed, location, message))
    }

    /// Wrapped in an `io::Error` (for `ReadAt` and streams), keeping the class in
    /// the io kind and the whole error as the source.
    pub fn into_io(self) -> std::io::Error {
        let kind = match self.kind {
            StoreErrorKind::NotFound => std::io::ErrorKind::NotFound,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, self)
    }
}

/// A streamed object body.
pub type ObjectReader = Pin<Box<dyn AsyncRead + Send>>;

/// An object's size and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The ETag, as the store gives it (with its quotes).
    pub etag: String,
}

/// The condition of a conditional write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutCondition {
    /// Only if no object has the key (`If-None-Match: *`).
    Absent,
    /// Only if the object's ETag is this one (`If-Match`).
    Matches(String),
}

impl PutCondition {
    /// Whether the condition holds for an object whose ETag is `current` (`None`:
    /// there is no object).
    pub fn holds(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (PutCondition::Absent, None) => true,
            (PutCondition::Matches(want), Some(found)) => want == found,
            _ => false,
        }
    }

    /// The write's check in an adapter that keeps its own ETags: a
    /// [`StoreErrorKind::Changed`] error at `location` unless the condition holds
    /// for the object's ETag, `current` (`None`: there is no object).
    pub fn check(&self, location: impl Into<String>, current: Option<&str>) -> StoreResult<()> {
        if self.holds(current) {
            return Ok(());
        }
        let object = current.unwrap_or("absent");
        let message =
            format!("PreconditionFailed: {self:?} does not hold (the object is {object})");
        Err(StoreError::new(StoreErrorKind::Changed, location, message))
    }
}

/// The content type of binary objects (tree files, names, index partitions).
pub const BINARY: &str = "application/octet-stream";
/// The content type of JSON objects (plans, summaries, results, records).
pub const JSON: &str = "application/json";

/// What a storage request gives: `T`, or a [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;

/// Reading object storage: what a handler that only reads (`proof`) is given, so
/// that it cannot write. Keys are full object keys; `bucket` is an S3 bucket or,
/// for [`LocalStorage`], a directory under its root.
pub trait StorageRead: Send + Sync {
    /// The whole object.
    fn get(&self, bucket: &str, key: &str) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    /// Up to `len` bytes from `offset`: fewer at the end of the object, none from
    /// its end on.
    fn get_range(
        &self,
        bucket: &str,
        key: &str,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    /// The object's size and ETag.
    fn head(&self, bucket: &str, key: &str)
        -> impl Future<Output = StoreResult<ObjectInfo>> + Send;

    /// The whole object and its ETag.
    fn get_with_etag(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = StoreResult<(Vec<u8>, String)>> + Send;

    /// The object's body as a stream.
    fn open(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = StoreResult<ObjectReader>> + Send;

    /// The object's body as a stream, only if its ETag is `etag` (`If-Match`);
    /// otherwise a [`StoreErrorKind::Changed`] error.
    fn open_if_match(
        &self,
        bucket: &str,
        key: &str,
        etag: &str,
    ) -> impl Future<Output = StoreResult<ObjectReader>> + Send;

    /// The keys that start with `prefix`, in key (byte) order.
    fn list(
        &self,
        bucket: &str,
        prefix: &str,
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;

    /// The object's size in bytes ([`StorageRead::head`] without the ETag).
    fn size(&self, bucket: &str, key: &str) -> impl Future<Output = StoreResult<u64>> + Send {
        async move { Ok(self.head(bucket, key).await?.size) }
    }
}

/// An object to write: its body, its content type ([`BINARY`], [`JSON`]) and the
/// condition it is written under (`None`: always).
#[derive(Clone, Debug)]
pub struct Put<'a> {
    /// The bytes.
    pub body: Bytes,
    /// Its content type.
    pub content_type: &'a str,
    /// Written only if this holds.
    pub condition: Option<PutCondition>,
}

impl<'a> Put<'a> {
    /// An unconditional write of `body`.
    pub fn new(body: Bytes, content_type: &'a str) -> Self {
        let condition = None;
        Put {
            body,
            content_type,
            condition,
        }
    }

    /// The same write, made only if `condition` holds; otherwise
    /// [`Storage::write`] gives a [`StoreErrorKind::Changed`] error and writes
    /// nothing.
    pub fn when(self, condition: PutCondition) -> Self {
        let condition = Some(condition);
        Put { condition, ..self }
    }
}

/// Object storage as the functions use it: reading ([`StorageRead`]) and writing.
/// An adapter implements [`Storage::write`] and [`Storage::delete`] (and
/// [`Storage::copy`] where it can copy without a download).
pub trait Storage: StorageRead {
    /// Writes `put.body` as the object, replacing any; under a condition, only if
    /// it holds: otherwise a [`StoreErrorKind::Changed`] error and nothing is
    /// written.
    fn write(
        &self,
        bucket: &str,
        key: &str,
        put: Put<'_>,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Writes (replaces) an object.
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.write(bucket, key, Put::new(body, content_type))
    }

    /// Copies an object within the bucket (S3: a server-side `CopyObject`, nothing
    /// is downloaded). The default reads and writes it.
    fn copy(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        async move {
            let body = self.get(bucket, from).await?;
            self.put(bucket, to, Bytes::from(body), BINARY).await
        }
    }

    /// Deletes an object; deleting a missing object succeeds.
    fn delete(&self, bucket: &str, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
}
