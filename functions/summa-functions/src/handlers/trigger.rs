//! `trigger`: an S3 event for `P/round.json` starts the round's state machine.
//!
//! Each upload of the manifest is a new run (a new execution, named from the
//! upload), which builds every shard; a duplicated event starts nothing. The
//! trigger never resumes a run: a failed execution is resumed by redriving it
//! (`aws stepfunctions redrive-execution`, or Redrive in the console), which
//! re-runs only what failed, on the shard versions its plan pinned. When the
//! input itself was wrong, fix it and upload `P/round.json` again: a new run.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use sha3::{Digest, Sha3_256};

use super::artifacts::write_error_record;
use crate::error::FnError;
use crate::executions::{Executions, StartOutcome};
use crate::model::{ErrorRecord, Manifest, RoundKeys, Started, TriggerOutput, MANIFEST_FILE};
use crate::storage::Storage;

/// The step's name in error messages.
pub const STEP: &str = crate::model::steps::TRIGGER;

/// Step Functions' limit on execution names.
pub const MAX_NAME_LEN: usize = 80;

/// The execution name of a round, which is also its run id: readable (the prefix,
/// sanitized) and unique per upload of the manifest (a hash of the prefix and
/// `upload`, the S3 event's version id or sequencer: a new upload of the same
/// bytes is a new run, a duplicated event is not). Step Functions names allow
/// 1..=80 characters; this uses only `A-Za-z0-9-_`, which also keeps CloudWatch
/// logging happy.
pub fn execution_name(prefix: &str, upload: &str) -> String {
    let upload = upload.trim().trim_matches('"');
    let mut h = Sha3_256::new();
    h.update(prefix.as_bytes());
    h.update([0]);
    h.update(upload.as_bytes());
    let digest = h.finalize();
    let hash = hex::encode(&digest[..8]);
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
    let spaced = key.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

/// The round prefix of a manifest key (`P/round.json` -> `P`), if it is one.
pub fn round_prefix(key: &str) -> Option<&str> {
    key.strip_suffix(MANIFEST_FILE)
        .and_then(|p| p.strip_suffix('/'))
        .filter(|p| !p.trim_end_matches('/').is_empty())
}

/// Starts one execution per `P/round.json` record: validates the manifest, then
/// starts `{bucket, prefix}` under a name derived from the prefix and the upload
/// (the event's version id, else its sequencer), so a duplicated event starts
/// nothing new and every new upload starts a new run. Other keys (and removals)
/// are ignored. An invalid manifest is recorded in `P/error.json` (step
/// `trigger`) and fails the call after the valid ones were started, so that the
/// function's failure destination gets the event.
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
        let mut e = first.clone();
        if errors.len() > 1 {
            e.message = errors
                .iter()
                .map(FnError::message)
                .collect::<Vec<_>>()
                .join("; ");
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
    if let Err(e) = Manifest::parse(&bytes, &format!("s3://{bucket}/{key}")) {
        // Where an operator looks: P/error.json (best effort; the error is also
        // the function's, which goes to its failure destination).
        if let Ok(round) = RoundKeys::new(&prefix) {
            let record = ErrorRecord::of(&e.clone().in_step(STEP), None);
            let _ = write_error_record(storage, bucket, &round.error(), &record).await;
        }
        return Err(e);
    }
    let object = &record.s3.object;
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty() && v != "null");
    let upload = match (
        nonempty(&object.version_id),
        nonempty(&object.sequencer),
        nonempty(&object.e_tag),
    ) {
        (Some(v), _, _) => format!("version-{v}"),
        (None, Some(seq), _) => format!("sequencer-{seq}"),
        // Neither (a hand-made event): the ETag, else the manifest's content.
        (None, None, Some(e)) => format!("etag-{e}"),
        (None, None, None) => format!("sha3-{}", hex::encode(Sha3_256::digest(&bytes))),
    };
    let name = execution_name(&prefix, &upload);
    let input = serde_json::json!({ "bucket": bucket, "prefix": prefix, "run": name }).to_string();
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
