//! The faults that a [`super::Counting`] storage can inject into any request
//! ([`Counting::on_call`](super::Counting::on_call)): what a cloud's object store
//! does to a function (the fault campaign, `functions/summa-functions/tests/fault_campaign/`,
//! and the handlers' failure tests).
//!
//! - a request that fails: S3's `500 InternalError`, `503 SlowDown`, a connection
//!   reset ([`Fault::Fail`]);
//! - a request that was done, but whose answer was lost: a write that is written
//!   although the caller sees an error ([`Fault::LostAnswer`]);
//! - a request that never answers, as when the function's deadline kills it
//!   ([`Fault::Hang`]), or that is done and then never returns, as a function
//!   killed right after writing ([`Fault::HangAfter`]);
//! - a body cut by a reset after some bytes ([`Fault::Cut`]), or one that comes a
//!   few bytes at a time ([`Fault::Trickle`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{ObjectReader, Op, StoreError, StoreErrorKind};

/// What a request does instead of, or besides, what it was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Fails with this class and message; nothing is done.
    Fail(StoreErrorKind, &'static str),
    /// Is done (a write is written), then fails with this class and message: the
    /// answer was lost.
    LostAnswer(StoreErrorKind, &'static str),
    /// Never answers; nothing is done.
    Hang,
    /// Is done, then never answers: the caller is killed after the request.
    HangAfter,
    /// A body (a stream, a whole object) that breaks with a reset after this many
    /// bytes (a whole-object read fails).
    Cut(u64),
    /// A stream whose bytes come at most three at a time.
    Trickle,
}

impl Fault {
    /// S3's answer to a request it failed.
    pub const INTERNAL: Fault = Fault::Fail(
        StoreErrorKind::Other,
        "InternalError: We encountered an internal error. Please try again.",
    );
    /// S3 asking to slow down.
    pub const SLOW_DOWN: Fault = Fault::Fail(
        StoreErrorKind::Throttled,
        "SlowDown: Please reduce your request rate.",
    );
    /// A connection reset by the peer.
    pub const RESET: Fault = Fault::Fail(StoreErrorKind::Other, "connection reset by peer");

    /// The error of a failed request at `s3://bucket/key`.
    pub(crate) fn error(
        kind: StoreErrorKind,
        message: &str,
        bucket: &str,
        key: &str,
    ) -> StoreError {
        StoreError::new(kind, format!("s3://{bucket}/{key}"), message)
    }
}

/// Chooses a request's fault: `(operation, key)` to `Some(fault)`, or `None` for a
/// request that goes as asked.
pub type FaultHook = Arc<dyn Fn(Op, &str) -> Option<Fault> + Send + Sync>;

/// `body` with `fault` applied (a stream's faults: [`Fault::Cut`], [`Fault::Trickle`]).
pub(crate) fn body_with(body: ObjectReader, fault: Option<Fault>) -> ObjectReader {
    match fault {
        Some(Fault::Cut(after)) => Box::pin(Faulty {
            body,
            left: Some(after),
            most: usize::MAX,
        }),
        Some(Fault::Trickle) => Box::pin(Faulty {
            body,
            left: None,
            most: 3,
        }),
        _ => body,
    }
}

/// A stream with a fault: cut after `left` bytes, or at most `most` bytes a read.
struct Faulty {
    body: ObjectReader,
    left: Option<u64>,
    most: usize,
}

impl AsyncRead for Faulty {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let room = match self.left {
            Some(0) => {
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection reset by peer in the middle of the body",
                )))
            }
            Some(left) => (left as usize).min(self.most),
            None => self.most,
        };
        let room = room.min(buf.remaining());
        let mut part = ReadBuf::new(buf.initialize_unfilled_to(room));
        let r = self.body.as_mut().poll_read(cx, &mut part);
        let n = part.filled().len();
        if let Poll::Ready(Ok(())) = r {
            buf.advance(n);
            if let Some(left) = &mut self.left {
                // A body that ends before the cut ends as it is.
                *left -= n as u64;
                if n == 0 {
                    self.left = None;
                }
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn reader(bytes: &'static [u8]) -> ObjectReader {
        Box::pin(bytes)
    }

    #[tokio::test]
    async fn a_cut_body_breaks_after_its_bytes_and_a_trickle_keeps_them_all() {
        let mut out = Vec::new();
        let e = body_with(reader(b"0123456789"), Some(Fault::Cut(4)))
            .read_to_end(&mut out)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
        assert_eq!(out, b"0123");
        // A cut beyond the end: the body as it is.
        let mut out = Vec::new();
        body_with(reader(b"0123"), Some(Fault::Cut(40)))
            .read_to_end(&mut out)
            .await
            .unwrap();
        assert_eq!(out, b"0123");
        let mut trickle = body_with(reader(b"0123456789"), Some(Fault::Trickle));
        let mut buf = [0u8; 10];
        assert_eq!(trickle.read(&mut buf).await.unwrap(), 3);
        let mut rest = Vec::new();
        trickle.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"3456789");
    }
}
