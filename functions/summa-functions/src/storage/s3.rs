//! Amazon S3 (or an S3-compatible endpoint such as moto_server) as storage.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{
    ObjectInfo, ObjectReader, Put, PutCondition, Storage, StorageRead, StoreError, StoreErrorKind,
    StoreResult,
};

/// Objects at least this large are uploaded in parts.
pub const DEFAULT_MULTIPART_THRESHOLD: usize = 64 << 20;
/// Part size of multipart uploads (S3's minimum is 5 MiB; at most 10,000 parts).
pub const DEFAULT_PART_SIZE: usize = 16 << 20;
const PART_CONCURRENCY: usize = 4;

/// S3 storage.
#[derive(Clone, Debug)]
pub struct S3Storage {
    client: Client,
    multipart_threshold: usize,
    part_size: usize,
}

/// The error of a GetObject's body that could not be read.
fn body_err(bucket: &str, key: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        location(bucket, key),
        format!("reading the body: {e}"),
    )
}

/// What `CopySource` escapes: everything but unreserved characters and `/`.
const COPY_SOURCE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn location(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

/// The class of an SDK error: missing object, throttling, or anything else.
fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> (StoreErrorKind, u16) {
    let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = match err {
        SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    };
    let kind = match (status, code) {
        (_, Some("PreconditionFailed" | "ConditionalRequestConflict")) | (412, _) => {
            StoreErrorKind::Changed
        }
        (_, Some("NoSuchKey" | "NoSuchBucket" | "NotFound")) | (404, _) => StoreErrorKind::NotFound,
        (
            _,
            Some(
                "SlowDown"
                | "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException",
            ),
        )
        | (503 | 429, _) => StoreErrorKind::Throttled,
        _ => StoreErrorKind::Other,
    };
    (kind, status)
}

fn store_err<E>(location: String, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (kind, status) = classify(&err);
    // A service error says what S3 said ("NoSuchBucket: The specified bucket does
    // not exist (HTTP 404)"); anything else (dispatch, timeout) keeps the SDK's
    // chain of causes, which is where the reason is.
    let message = match &err {
        SdkError::ServiceError(e) => match (e.err().code(), e.err().message()) {
            (Some(code), Some(msg)) => format!("{code}: {msg} (HTTP {status})"),
            (Some(code), None) => format!("{code} (HTTP {status})"),
            _ => format!("HTTP {status}: {}", DisplayErrorContext(&err)),
        },
        _ => DisplayErrorContext(&err).to_string(),
    };
    StoreError::new(kind, location, message)
}

impl S3Storage {
    /// Storage over an S3 client.
    pub fn new(client: Client) -> Self {
        S3Storage {
            client,
            multipart_threshold: DEFAULT_MULTIPART_THRESHOLD,
            part_size: DEFAULT_PART_SIZE,
        }
    }

    /// A client from the shared AWS configuration. When an endpoint URL is
    /// configured (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`, e.g. moto_server),
    /// path-style addressing is forced: local endpoints have no per-bucket host
    /// names.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        let custom_endpoint = config.endpoint_url().is_some()
            || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some_and(|v| !v.is_empty())
            || std::env::var_os("AWS_ENDPOINT_URL").is_some_and(|v| !v.is_empty());
        let conf = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(custom_endpoint)
            .build();
        Self::new(Client::from_conf(conf))
    }

    /// Uploads objects of at least `threshold` bytes in parts of `part_size`
    /// bytes (at least 5 MiB for S3).
    pub fn with_multipart(mut self, threshold: usize, part_size: usize) -> Self {
        self.multipart_threshold = threshold.max(1);
        self.part_size = part_size.max(1);
        self
    }

    /// The S3 client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A GetObject of `bucket`/`key`, not sent yet.
    fn get_object(&self, bucket: &str, key: &str) -> GetObjectFluentBuilder {
        self.client.get_object().bucket(bucket).key(key)
    }

    /// A PutObject of `body` at `bucket`/`key`, not sent yet.
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Bytes,
        content_type: &str,
    ) -> PutObjectFluentBuilder {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
    }

    async fn put_multipart(&self, bucket: &str, key: &str, put: Put<'_>) -> StoreResult<()> {
        let loc = || location(bucket, key);
        let body = put.body;
        let created = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(put.content_type)
            .send()
            .await
            .map_err(|e| store_err(loc(), e))?;
        let upload_id = created.upload_id().unwrap_or_default().to_string();
        let n_parts = body.len().div_ceil(self.part_size);
        let parts: StoreResult<Vec<CompletedPart>> = futures::stream::iter(0..n_parts)
            .map(|i| {
                let chunk =
                    body.slice(i * self.part_size..((i + 1) * self.part_size).min(body.len()));
                let number = i as i32 + 1;
                let upload_id = &upload_id;
                async move {
                    let out = self
                        .client
                        .upload_part()
                        .bucket(bucket)
                        .key(key)
                        .upload_id(upload_id)
                        .part_number(number)
                        .body(ByteStream::from(chunk))
                        .send()
                        .await
                        .map_err(|e| store_err(loc(), e))?;
                    Ok(CompletedPart::builder()
                        .set_e_tag(out.e_tag().map(str::to_owned))
                        .part_number(number)
                        .build())
                }
            })
            .buffered(PART_CONCURRENCY)
            .try_collect()
            .await;
        let completed = match parts {
            Ok(parts) => self
                .client
                .complete_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| store_err(loc(), e)),
            Err(e) => Err(e),
        };
        if let Err(e) = completed {
            // Best effort: do not leave the parts billed.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
            return Err(e);
        }
        Ok(())
    }
}

impl StorageRead for S3Storage {
    async fn get(&self, bucket: &str, key: &str) -> StoreResult<Vec<u8>> {
        let out = self
            .get_object(bucket, key)
            .send()
            .await
            .map_err(|e| store_err(location(bucket, key), e))?;
        let data = out.body.collect().await;
        Ok(data.map_err(|e| body_err(bucket, key, e))?.to_vec())
    }

    async fn get_range(&self, bucket: &str, key: &str, at: u64, len: u64) -> StoreResult<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let range = format!("bytes={}-{}", at, at.saturating_add(len - 1));
        let out = match self.get_object(bucket, key).range(range).send().await {
            Ok(out) => out,
            // 416: the range starts at or past the end (or the object is empty).
            Err(e) if classify(&e).1 == 416 => return Ok(Vec::new()),
            Err(e) => return Err(store_err(location(bucket, key), e)),
        };
        let data = out.body.collect().await;
        let mut data = data.map_err(|e| body_err(bucket, key, e))?.to_vec();
        // A server that ignores Range sends the whole object.
        if out.content_range.is_none() && at > 0 {
            data = data
                .get(at as usize..)
                .map(<[u8]>::to_vec)
                .unwrap_or_default();
        }
        data.truncate(len as usize);
        Ok(data)
    }

    async fn head(&self, bucket: &str, key: &str) -> StoreResult<ObjectInfo> {
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| store_err(location(bucket, key), e))?;
        Ok(ObjectInfo {
            size: out.content_length().unwrap_or(0).max(0) as u64,
            etag: out.e_tag().unwrap_or_default().to_string(),
        })
    }

    async fn get_with_etag(&self, bucket: &str, key: &str) -> StoreResult<(Vec<u8>, String)> {
        let out = self
            .get_object(bucket, key)
            .send()
            .await
            .map_err(|e| store_err(location(bucket, key), e))?;
        let etag = out.e_tag().unwrap_or_default().to_string();
        let data = out.body.collect().await;
        Ok((data.map_err(|e| body_err(bucket, key, e))?.to_vec(), etag))
    }

    async fn open_if_match(&self, bucket: &str, key: &str, tag: &str) -> StoreResult<ObjectReader> {
        let out = self
            .get_object(bucket, key)
            .if_match(tag)
            .send()
            .await
            .map_err(|e| store_err(location(bucket, key), e))?;
        Ok(Box::pin(out.body.into_async_read()))
    }

    async fn open(&self, bucket: &str, key: &str) -> StoreResult<ObjectReader> {
        let out = self
            .get_object(bucket, key)
            .send()
            .await
            .map_err(|e| store_err(location(bucket, key), e))?;
        Ok(Box::pin(out.body.into_async_read()))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> StoreResult<Vec<String>> {
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| store_err(location(bucket, prefix), e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        keys.sort();
        Ok(keys)
    }
}

impl Storage for S3Storage {
    async fn write(&self, bucket: &str, key: &str, put: Put<'_>) -> StoreResult<()> {
        let big = put.body.len() >= self.multipart_threshold && put.body.len() > self.part_size;
        if big && put.condition.is_none() {
            return self.put_multipart(bucket, key, put).await;
        }
        let req = self.put_object(bucket, key, put.body, put.content_type);
        let req = match &put.condition {
            None => req,
            Some(PutCondition::Absent) => req.if_none_match("*"),
            Some(PutCondition::Matches(etag)) => req.if_match(etag),
        };
        req.send()
            .await
            .map_err(|e| store_err(location(bucket, key), e))?;
        Ok(())
    }

    async fn copy(&self, bucket: &str, from: &str, to: &str) -> StoreResult<()> {
        // CopySource is `bucket/key`, URL-encoded (the key's slashes may stay).
        let source = format!(
            "{bucket}/{}",
            percent_encoding::utf8_percent_encode(from, COPY_SOURCE)
        );
        self.client
            .copy_object()
            .bucket(bucket)
            .key(to)
            .copy_source(source)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| store_err(location(bucket, from), e))
    }

    async fn delete(&self, bucket: &str, key: &str) -> StoreResult<()> {
        match self
            .client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if classify(&e).0 == StoreErrorKind::NotFound && classify(&e).1 == 404 => {
                // S3 answers 204 for a missing key; some emulators 404.
                let missing_bucket = matches!(&e, SdkError::ServiceError(s) if s.err().code() == Some("NoSuchBucket"));
                if missing_bucket {
                    Err(store_err(location(bucket, key), e))
                } else {
                    Ok(())
                }
            }
            Err(e) => Err(store_err(location(bucket, key), e)),
        }
    }
}
