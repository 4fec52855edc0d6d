//! A storage over another that counts what is asked of it: requests, bytes read
//! and written, the reads (key and range), the keys written, and every request
//! with its bucket and key ([`Call`]), in order (`summa-agg step --stats` and the
//! scale probe; the handlers' tests check what each step reads and writes with
//! it, the IAM test each request against the function's policy, and they make
//! chosen streams fail or hang with [`Counting::on_open`], any request with
//! [`Counting::on_call`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::faults::{body_with, Fault, FaultHook};
use super::{ObjectInfo, ObjectReader, Put, Storage, StorageRead, StoreErrorKind, StoreResult};

/// `inner`, counting each request and its bytes. Clones share the counts.
#[derive(Clone)]
pub struct Counting<S> {
    inner: S,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    requests: AtomicU64,
    read: AtomicU64,
    written: AtomicU64,
    reads: Mutex<Vec<ReadRequest>>,
    puts: Mutex<Vec<String>>,
    calls: Mutex<Vec<Call>>,
    on_open: Mutex<HashMap<String, Fault>>,
    faults: Mutex<Option<FaultHook>>,
}

/// One read asked of a [`Counting`] storage: the object and the range asked
/// (`len` 0 for a head, `u64::MAX` for the whole object or a stream).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadRequest {
    /// The object's key.
    pub key: String,
    /// The first byte asked.
    pub offset: u64,
    /// How many bytes were asked.
    pub len: u64,
}

impl ReadRequest {
    fn of(key: &str, offset: u64, len: u64) -> Option<ReadRequest> {
        Some(ReadRequest {
            key: key.to_string(),
            offset,
            len,
        })
    }
}

/// A request's kind: each method of the storage port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// [`StorageRead::get`].
    Get,
    /// [`StorageRead::get_range`].
    GetRange,
    /// [`StorageRead::head`].
    Head,
    /// [`StorageRead::get_with_etag`].
    GetWithEtag,
    /// [`StorageRead::open`].
    Open,
    /// [`StorageRead::open_if_match`].
    OpenIfMatch,
    /// [`StorageRead::list`] (`key` is the prefix listed).
    List,
    /// [`Storage::write`] (and `put`).
    Write,
    /// [`Storage::copy`] (`key` is the target, `from` the source).
    Copy,
    /// [`Storage::delete`].
    Delete,
}

/// One request asked of a [`Counting`] storage, whatever its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Call {
    /// What was asked.
    pub op: Op,
    /// The bucket.
    pub bucket: String,
    /// The object's key (a listing's prefix, a copy's target).
    pub key: String,
    /// A copy's source.
    pub from: Option<String>,
    /// Whether the store answered that the object is not there (S3 answers a
    /// read of a missing key 404 only to a caller that may list the bucket, 403
    /// AccessDenied to another).
    pub not_found: bool,
    /// Whether the store refused the request on its condition (a conditional
    /// write of an object that is there: nothing written).
    pub refused: bool,
}

/// What a [`Counting`] storage was asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StorageStats {
    /// Requests of every kind (a listing is one).
    pub requests: u64,
    /// Bytes of the objects read (a stream's as they are streamed).
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
}

impl<S> Counting<S> {
    /// Counts the requests made of `inner`.
    pub fn new(inner: S) -> Counting<S> {
        Counting {
            inner,
            counts: Arc::default(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> StorageStats {
        StorageStats {
            requests: self.counts.requests.load(Relaxed),
            bytes_read: self.counts.read.load(Relaxed),
            bytes_written: self.counts.written.load(Relaxed),
        }
    }

    /// The reads asked (of objects or their heads), in order, repeats
    /// included; listings are not in it.
    pub fn reads(&self) -> Vec<ReadRequest> {
        self.counts.reads.lock().expect("not poisoned").clone()
    }

    /// The keys of the objects read (or their heads), in the order asked,
    /// repeats included; listings are not in it.
    pub fn keys_read(&self) -> Vec<String> {
        self.reads().into_iter().map(|r| r.key).collect()
    }

    /// The keys written (`put`, `write`), in order, repeats included.
    pub fn keys_put(&self) -> Vec<String> {
        self.counts.puts.lock().expect("not poisoned").clone()
    }

    /// The keys of the writes (in the order asked) and copies (answered), repeats
    /// included, but the writes the store refused on their condition (which wrote
    /// nothing). A write that failed otherwise is kept: it may have landed.
    pub fn keys_written(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| !c.refused && matches!(c.op, Op::Write | Op::Copy))
            .map(|c| c.key)
            .collect()
    }

    /// Every request asked, in order, repeats included.
    pub fn calls(&self) -> Vec<Call> {
        self.counts.calls.lock().expect("not poisoned").clone()
    }

    /// Records a request and its outcome, `r`.
    fn called<T>(
        &self,
        op: Op,
        bucket: &str,
        (key, from): (&str, Option<&str>),
        r: &StoreResult<T>,
    ) {
        let not_found = matches!(r, Err(e) if e.kind == StoreErrorKind::NotFound);
        self.record(op, bucket, (key, from), not_found);
    }

    /// Records a request; its index in [`Counting::calls`].
    fn record(
        &self,
        op: Op,
        bucket: &str,
        (key, from): (&str, Option<&str>),
        not_found: bool,
    ) -> usize {
        let mut calls = self.counts.calls.lock().expect("not poisoned");
        calls.push(Call {
            op,
            bucket: bucket.to_string(),
            key: key.to_string(),
            from: from.map(str::to_string),
            not_found,
            refused: false,
        });
        calls.len() - 1
    }

    /// From now on, opening a stream of `key` meets `what` (until
    /// [`Counting::clear_on_open`]; before [`Counting::on_call`]'s hook is asked).
    pub fn on_open(&self, key: &str, what: Fault) {
        let mut on_open = self.counts.on_open.lock().expect("not poisoned");
        on_open.insert(key.to_string(), what);
    }

    /// From now on, every request asks `hook` for its fault ([`Fault`]; `None`: the
    /// request goes as asked), until [`Counting::clear_faults`].
    pub fn on_call(&self, hook: FaultHook) {
        *self.counts.faults.lock().expect("not poisoned") = Some(hook);
    }

    /// Requests go as asked again.
    pub fn clear_faults(&self) {
        *self.counts.faults.lock().expect("not poisoned") = None;
    }

    /// The fault of a request, if any: [`Counting::on_open`]'s for a stream of
    /// its key, else the one [`Counting::on_call`]'s hook chose; a whole-object
    /// read cannot be cut part-way: a cut is a reset.
    fn fault(&self, op: Op, key: &str) -> Option<Fault> {
        let stream = matches!(op, Op::Open | Op::OpenIfMatch);
        if stream {
            let on_open = self.counts.on_open.lock().expect("not poisoned");
            if let Some(f) = on_open.get(key) {
                return Some(*f);
            }
        }
        let hook = self.counts.faults.lock().expect("not poisoned").clone();
        hook.and_then(|h| h(op, key)).map(|f| match f {
            Fault::Cut(_) | Fault::Trickle if !stream => Fault::RESET,
            f => f,
        })
    }

    /// `request` under `fault`: failed or hung before it is made, its answer lost
    /// or never given after.
    async fn under<T>(
        &self,
        fault: Option<Fault>,
        (bucket, key): (&str, &str),
        request: impl std::future::Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        match fault {
            Some(Fault::Fail(kind, m)) => return Err(Fault::error(kind, m, bucket, key)),
            Some(Fault::Hang) => std::future::pending().await,
            _ => {}
        }
        let r = request.await;
        match fault {
            Some(Fault::LostAnswer(kind, m)) if r.is_ok() => {
                Err(Fault::error(kind, m, bucket, key))
            }
            Some(Fault::HangAfter) => std::future::pending().await,
            _ => r,
        }
    }

    /// Streams open normally again.
    pub fn clear_on_open(&self) {
        self.counts.on_open.lock().expect("not poisoned").clear();
    }

    /// Starts the counts again from zero.
    pub fn reset(&self) {
        self.counts.requests.store(0, Relaxed);
        self.counts.read.store(0, Relaxed);
        self.counts.written.store(0, Relaxed);
        self.counts.reads.lock().expect("not poisoned").clear();
        self.counts.puts.lock().expect("not poisoned").clear();
        self.counts.calls.lock().expect("not poisoned").clear();
    }

    fn count<T>(&self, asked: Option<ReadRequest>, r: &StoreResult<T>, read: impl Fn(&T) -> u64) {
        self.counts.requests.fetch_add(1, Relaxed);
        if let Some(asked) = asked {
            self.counts.reads.lock().expect("not poisoned").push(asked);
        }
        if let Ok(v) = r {
            self.counts.read.fetch_add(read(v), Relaxed);
        }
    }

    /// `body`, whose bytes count as read as they are streamed.
    fn counted(&self, body: ObjectReader) -> ObjectReader {
        Box::pin(CountedReader {
            body,
            counts: self.counts.clone(),
        })
    }

    fn wrote(&self, put: Option<&str>, bytes: usize) {
        self.counts.requests.fetch_add(1, Relaxed);
        self.counts.written.fetch_add(bytes as u64, Relaxed);
        if let Some(key) = put {
            let mut puts = self.counts.puts.lock().expect("not poisoned");
            puts.push(key.to_string());
        }
    }
}

/// A streamed body that adds the bytes it yields to the counts.
struct CountedReader {
    body: ObjectReader,
    counts: Arc<Counts>,
}

impl AsyncRead for CountedReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = self.body.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let n = (buf.filled().len() - before) as u64;
            self.counts.read.fetch_add(n, Relaxed);
        }
        r
    }
}

impl<S: StorageRead> StorageRead for Counting<S> {
    async fn get(&self, bucket: &str, key: &str) -> StoreResult<Vec<u8>> {
        let fault = self.fault(Op::Get, key);
        let r = self
            .under(fault, (bucket, key), self.inner.get(bucket, key))
            .await;
        self.called(Op::Get, bucket, (key, None), &r);
        self.count(ReadRequest::of(key, 0, u64::MAX), &r, |v| v.len() as u64);
        r
    }
    async fn get_range(&self, bucket: &str, key: &str, at: u64, len: u64) -> StoreResult<Vec<u8>> {
        let fault = self.fault(Op::GetRange, key);
        let r = self
            .under(
                fault,
                (bucket, key),
                self.inner.get_range(bucket, key, at, len),
            )
            .await;
        self.called(Op::GetRange, bucket, (key, None), &r);
        self.count(ReadRequest::of(key, at, len), &r, |v| v.len() as u64);
        r
    }
    async fn head(&self, bucket: &str, key: &str) -> StoreResult<ObjectInfo> {
        let fault = self.fault(Op::Head, key);
        let r = self
            .under(fault, (bucket, key), self.inner.head(bucket, key))
            .await;
        self.called(Op::Head, bucket, (key, None), &r);
        self.count(ReadRequest::of(key, 0, 0), &r, |_| 0);
        r
    }
    async fn get_with_etag(&self, bucket: &str, key: &str) -> StoreResult<(Vec<u8>, String)> {
        let fault = self.fault(Op::GetWithEtag, key);
        let r = self
            .under(fault, (bucket, key), self.inner.get_with_etag(bucket, key))
            .await;
        self.called(Op::GetWithEtag, bucket, (key, None), &r);
        self.count(ReadRequest::of(key, 0, u64::MAX), &r, |(v, _)| {
            v.len() as u64
        });
        r
    }
    async fn open(&self, bucket: &str, key: &str) -> StoreResult<ObjectReader> {
        let fault = self.fault(Op::Open, key);
        let r = self
            .under(fault, (bucket, key), self.inner.open(bucket, key))
            .await;
        self.called(Op::Open, bucket, (key, None), &r);
        self.count(ReadRequest::of(key, 0, u64::MAX), &r, |_| 0);
        r.map(|body| self.counted(body_with(body, fault)))
    }
    async fn open_if_match(&self, bucket: &str, key: &str, tag: &str) -> StoreResult<ObjectReader> {
        let fault = self.fault(Op::OpenIfMatch, key);
        let r = self
            .under(
                fault,
                (bucket, key),
                self.inner.open_if_match(bucket, key, tag),
            )
            .await;
        self.called(Op::OpenIfMatch, bucket, (key, None), &r);
        self.count(ReadRequest::of(key, 0, u64::MAX), &r, |_| 0);
        r.map(|body| self.counted(body_with(body, fault)))
    }
    async fn list(&self, bucket: &str, prefix: &str) -> StoreResult<Vec<String>> {
        let fault = self.fault(Op::List, prefix);
        let r = self
            .under(fault, (bucket, prefix), self.inner.list(bucket, prefix))
            .await;
        self.called(Op::List, bucket, (prefix, None), &r);
        self.count(None, &r, |_| 0);
        r
    }
}

impl<S: Storage> Storage for Counting<S> {
    async fn write(&self, bucket: &str, key: &str, put: Put<'_>) -> StoreResult<()> {
        self.wrote(Some(key), put.body.len());
        let fault = self.fault(Op::Write, key);
        // A write is recorded when asked (one whose answer never comes, cut off by
        // a deadline, may have landed), and marked refused when its condition
        // refuses it.
        let at = self.record(Op::Write, bucket, (key, None), false);
        let r = self
            .under(fault, (bucket, key), self.inner.write(bucket, key, put))
            .await;
        if matches!(&r, Err(e) if e.kind == StoreErrorKind::Changed) {
            // (Unless `reset` cleared the record meanwhile.)
            let mut calls = self.counts.calls.lock().expect("not poisoned");
            if let Some(c) = calls.get_mut(at).filter(|c| c.key == key) {
                c.refused = true;
            }
        }
        r
    }
    async fn copy(&self, bucket: &str, from: &str, to: &str) -> StoreResult<()> {
        self.wrote(None, 0);
        let fault = self.fault(Op::Copy, to);
        let r = self
            .under(fault, (bucket, to), self.inner.copy(bucket, from, to))
            .await;
        self.called(Op::Copy, bucket, (to, Some(from)), &r);
        r
    }
    async fn delete(&self, bucket: &str, key: &str) -> StoreResult<()> {
        self.wrote(None, 0);
        let fault = self.fault(Op::Delete, key);
        let r = self
            .under(fault, (bucket, key), self.inner.delete(bucket, key))
            .await;
        self.called(Op::Delete, bucket, (key, None), &r);
        r
    }
}
