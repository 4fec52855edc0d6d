//! A local directory as object storage: bucket `b`, key `k` is the file
//! `ROOT/b/k`. For unit tests, `cargo lambda` runs without S3, and debugging.

use std::io::{self, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{
    ObjectInfo, ObjectReader, Put, Storage, StorageRead, StoreError, StoreErrorKind, StoreResult,
};

/// Conditional writes of every `LocalStorage` in the process, one at a time (check
/// and write are then atomic for readers and writers of this process).
static CONDITIONAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Object storage in a local directory (a bucket is a sub-directory).
#[derive(Clone, Debug)]
pub struct LocalStorage {
    root: Arc<PathBuf>,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl LocalStorage {
    /// Storage rooted at `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalStorage {
            root: Arc::new(root.into()),
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn location(bucket: &str, key: &str) -> String {
        format!("local://{bucket}/{key}")
    }

    /// The file of `bucket`/`key`; rejects keys that would leave the bucket.
    pub fn path(&self, bucket: &str, key: &str) -> StoreResult<PathBuf> {
        let bad = |what: &str| {
            StoreError::new(
                StoreErrorKind::Other,
                Self::location(bucket, key),
                format!("not usable with local storage: {what}"),
            )
        };
        if bucket.is_empty() || bucket.starts_with('.') || bucket.contains(['/', '\\', '\0']) {
            return Err(bad("bad bucket name"));
        }
        if key.is_empty()
            || key.contains('\0')
            || key
                .split('/')
                .any(|s| s.is_empty() || s == "." || s == "..")
            || !Path::new(key)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(bad("bad key"));
        }
        Ok(self.root.join(bucket).join(key))
    }

    fn err(bucket: &str, key: &str, e: io::Error) -> StoreError {
        let kind = if e.kind() == io::ErrorKind::NotFound {
            StoreErrorKind::NotFound
        } else {
            StoreErrorKind::Other
        };
        StoreError::new(kind, Self::location(bucket, key), e.to_string())
    }
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let key = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), &key, out)?;
        } else {
            out.push(key);
        }
    }
    Ok(())
}

impl StorageRead for LocalStorage {
    async fn get(&self, bucket: &str, key: &str) -> StoreResult<Vec<u8>> {
        let path = self.path(bucket, key)?;
        tokio::fs::read(&path)
            .await
            .map_err(|e| Self::err(bucket, key, e))
    }

    async fn get_range(&self, bucket: &str, key: &str, at: u64, len: u64) -> StoreResult<Vec<u8>> {
        let path = self.path(bucket, key)?;
        let err = |e| Self::err(bucket, key, e);
        let mut f = tokio::fs::File::open(&path).await.map_err(err)?;
        let size = f.metadata().await.map_err(err)?.len();
        if at >= size {
            return Ok(Vec::new());
        }
        f.seek(SeekFrom::Start(at)).await.map_err(err)?;
        let n = len.min(size - at);
        let mut buf = Vec::with_capacity(n as usize);
        f.take(n).read_to_end(&mut buf).await.map_err(err)?;
        Ok(buf)
    }

    async fn head(&self, bucket: &str, key: &str) -> StoreResult<ObjectInfo> {
        let path = self.path(bucket, key)?;
        let meta = tokio::fs::metadata(&path)
            .await
            .map_err(|e| Self::err(bucket, key, e))?;
        if meta.is_dir() {
            return Err(Self::err(bucket, key, io::ErrorKind::NotFound.into()));
        }
        Ok(ObjectInfo {
            size: meta.len(),
            etag: local_etag(&meta),
        })
    }

    async fn get_with_etag(&self, bucket: &str, key: &str) -> StoreResult<(Vec<u8>, String)> {
        let path = self.path(bucket, key)?;
        let err = |e| Self::err(bucket, key, e);
        let mut f = tokio::fs::File::open(&path).await.map_err(err)?;
        let etag = local_etag(&f.metadata().await.map_err(err)?);
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).await.map_err(err)?;
        Ok((bytes, etag))
    }

    async fn open_if_match(&self, bucket: &str, key: &str, tag: &str) -> StoreResult<ObjectReader> {
        // The open file is the version checked: a replacement is a new file.
        let path = self.path(bucket, key)?;
        let err = |e| Self::err(bucket, key, e);
        let f = tokio::fs::File::open(&path).await.map_err(err)?;
        let found = local_etag(&f.metadata().await.map_err(err)?);
        StoreError::if_match(Self::location(bucket, key), &found, tag)?;
        Ok(Box::pin(f))
    }

    async fn open(&self, bucket: &str, key: &str) -> StoreResult<ObjectReader> {
        let path = self.path(bucket, key)?;
        let f = tokio::fs::File::open(&path)
            .await
            .map_err(|e| Self::err(bucket, key, e))?;
        Ok(Box::pin(f))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> StoreResult<Vec<String>> {
        // Validate the bucket name through `path` with a harmless key.
        self.path(bucket, "x")?;
        let dir = self.root.join(bucket);
        let prefix = prefix.to_string();
        let location = Self::location(bucket, &prefix);
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            walk(&dir, "", &mut keys)
                .map_err(|e| StoreError::new(StoreErrorKind::Other, &location, e.to_string()))?;
            keys.retain(|k| k.starts_with(&prefix));
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(|e| StoreError::new(StoreErrorKind::Other, "local storage", e.to_string()))?
    }
}

impl Storage for LocalStorage {
    async fn write(&self, bucket: &str, key: &str, put: Put<'_>) -> StoreResult<()> {
        // A condition is checked and the object written under one lock, as S3
        // does for one object.
        let _one_at_a_time = match &put.condition {
            None => None,
            Some(condition) => {
                let guard = CONDITIONAL.lock().await;
                let current = match self.head(bucket, key).await {
                    Ok(info) => Some(info.etag),
                    Err(e) if e.kind == StoreErrorKind::NotFound => None,
                    Err(e) => return Err(e),
                };
                condition.check(Self::location(bucket, key), current.as_deref())?;
                Some(guard)
            }
        };
        let path = self.path(bucket, key)?;
        let err = |e| Self::err(bucket, key, e);
        let tmp_dir = self.root.join(".tmp");
        tokio::fs::create_dir_all(&tmp_dir).await.map_err(err)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(err)?;
        }
        // Write then rename: readers never see a partial object.
        let tmp = tmp_dir.join(format!(
            "{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut f = tokio::fs::File::create(&tmp).await.map_err(err)?;
        f.write_all(&put.body).await.map_err(err)?;
        f.flush().await.map_err(err)?;
        drop(f);
        tokio::fs::rename(&tmp, &path).await.map_err(err)
    }

    async fn copy(&self, bucket: &str, from: &str, to: &str) -> StoreResult<()> {
        let (src, dst) = (self.path(bucket, from)?, self.path(bucket, to)?);
        if let Some(dir) = dst.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| Self::err(bucket, to, e))?;
        }
        // Into a temporary file renamed over the target, as every write here.
        let tmp = dst.with_extension("copy.tmp");
        tokio::fs::copy(&src, &tmp)
            .await
            .map_err(|e| Self::err(bucket, from, e))?;
        tokio::fs::rename(&tmp, &dst)
            .await
            .map_err(|e| Self::err(bucket, to, e))
    }

    async fn delete(&self, bucket: &str, key: &str) -> StoreResult<()> {
        let path = self.path(bucket, key)?;
        match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Self::err(bucket, key, e)),
            _ => Ok(()),
        }
    }
}

/// The ETag of a local object: its size, modification time and inode, in quotes.
/// Every write replaces the file (write, then rename), so every write gets a new
/// ETag; reading an open file keeps the version it opened.
fn local_etag(meta: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "\"{:x}-{:x}.{:09}-{:x}\"",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino()
    )
}
