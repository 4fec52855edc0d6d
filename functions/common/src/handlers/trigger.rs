//! `trigger`: an S3 event for `P/round.json` starts the round's state machine.

use std::future::Future;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use sha3::{Digest, Sha3_256};

use crate::error::FnError;
use crate::model::{Manifest, Started, TriggerOutput, MANIFEST_FILE};
use crate::storage::Storage;

/// The step's name in error messages.
pub const STEP: &str = "trigger";

/// Step Functions' limit on execution names.
pub const MAX_NAME_LEN: usize = 80;

/// What starting an execution did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution.
    Started {
        /// Its ARN.
        execution_arn: String,
    },
    /// An execution of that name exists already (this event was seen before).
    AlreadyExists,
}

/// Starts executions of the round state machine (the Step Functions port).
pub trait Executions: Send + Sync {
    /// Starts an execution named `name` with JSON `input`.
    fn start(
        &self,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<StartOutcome, FnError>> + Send;
}

/// The execution name of a round: readable (the prefix, sanitized) and unique per
/// manifest version (a hash of the prefix and the manifest's ETag). Step Functions
/// names allow 1..=80 characters; this uses only `A-Za-z0-9-_`, which also keeps
/// CloudWatch logging happy.
pub fn execution_name(prefix: &str, etag: &str) -> String {
    let etag = etag.trim().trim_matches('"');
    let mut h = Sha3_256::new();
    h.update(prefix.as_bytes());
    h.update([0]);
    h.update(etag.as_bytes());
    let digest = h.finalize();
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let mut readable = String::new();
    for c in prefix.chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            c
        } else {
            '-'
        };
        if !(c == '-' && readable.ends_with('-')) {
            readable.push(c);
        }
    }
    let readable = readable.trim_matches('-');
    // Keep the end of the prefix: it is the most specific part.
    let room = MAX_NAME_LEN - hash.len() - 1;
    let start = readable.len().saturating_sub(room);
    let readable = readable[start..].trim_start_matches('-');
    if readable.is_empty() {
        format!("round-{hash}")
    } else {
        format!("{readable}-{hash}")
    }
}

/// Decodes an S3 event key (URL-encoded, `+` for a space).
pub fn decode_key(key: &str) -> String {
    let b = key.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The round prefix of a manifest key (`P/round.json` -> `P`), if it is one.
pub fn round_prefix(key: &str) -> Option<&str> {
    key.strip_suffix(MANIFEST_FILE)
        .and_then(|p| p.strip_suffix('/'))
        .filter(|p| !p.trim_end_matches('/').is_empty())
}

/// Starts one execution per `P/round.json` record: validates the manifest, then
/// starts `{bucket, prefix}` under a name derived from the prefix and the
/// manifest's ETag, so a duplicated event starts nothing new and a changed
/// manifest starts a new round. Other keys (and removals) are ignored. Invalid
/// manifests fail the call after the valid ones were started.
pub async fn trigger(
    storage: &impl Storage,
    executions: &impl Executions,
    event: S3Event,
) -> Result<TriggerOutput, FnError> {
    let mut out = TriggerOutput::default();
    let mut errors: Vec<FnError> = Vec::new();
    for record in &event.records {
        match handle_record(storage, executions, record).await {
            Ok(Some(started)) => out.started.push(started),
            Ok(None) => out.ignored.push(format!(
                "s3://{}/{}",
                record.s3.bucket.name.as_deref().unwrap_or(""),
                record
                    .s3
                    .object
                    .key
                    .as_deref()
                    .map(decode_key)
                    .unwrap_or_default()
            )),
            Err(e) => errors.push(e),
        }
    }
    if let Some(first) = errors.first() {
        let message = errors
            .iter()
            .map(FnError::message)
            .collect::<Vec<_>>()
            .join("; ");
        let mut e = first.clone();
        if errors.len() > 1 {
            e = match e {
                FnError::InvalidInput(_) => FnError::InvalidInput(message),
                FnError::NotFound(_) => FnError::NotFound(message),
                FnError::Storage(_) => FnError::Storage(message),
                FnError::Throttled(_) => FnError::Throttled(message),
                FnError::Internal(_) => FnError::Internal(message),
            };
        }
        if !out.started.is_empty() {
            e = e.context(format_args!("started {} round(s), but", out.started.len()));
        }
        return Err(e.in_step(STEP));
    }
    Ok(out)
}

async fn handle_record(
    storage: &impl Storage,
    executions: &impl Executions,
    record: &S3EventRecord,
) -> Result<Option<Started>, FnError> {
    if record
        .event_name
        .as_deref()
        .is_some_and(|n| !n.starts_with("ObjectCreated"))
    {
        return Ok(None);
    }
    let (Some(bucket), Some(raw_key)) = (
        record.s3.bucket.name.as_deref(),
        record.s3.object.key.as_deref(),
    ) else {
        return Ok(None);
    };
    let key = decode_key(raw_key);
    let Some(prefix) = round_prefix(&key) else {
        return Ok(None);
    };
    let prefix = prefix.trim_end_matches('/').to_string();
    let bytes = storage.get(bucket, &key).await?;
    Manifest::parse(&bytes, &format!("s3://{bucket}/{key}"))?;
    let etag = match record.s3.object.e_tag.as_deref().filter(|e| !e.is_empty()) {
        Some(e) => e.to_string(),
        // No ETag in the event: the manifest's content stands in for it.
        None => {
            let d = Sha3_256::digest(&bytes);
            format!(
                "sha3-{}",
                d.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        }
    };
    let name = execution_name(&prefix, &etag);
    let input = serde_json::json!({ "bucket": bucket, "prefix": prefix }).to_string();
    let outcome = executions.start(&name, &input).await?;
    let (execution_arn, already_started) = match outcome {
        StartOutcome::Started { execution_arn } => (Some(execution_arn), false),
        StartOutcome::AlreadyExists => (None, true),
    };
    Ok(Some(Started {
        bucket: bucket.to_string(),
        prefix,
        execution_name: name,
        execution_arn,
        already_started,
    }))
}
