//! `mini-tree`: streams one shard (the version the plan pinned), builds its
//! mini-tree, writes `P/runs/R/mini-trees/NNNNNN.mst`, its hashed usernames
//! (`.names`) and then its summary (`.json`).

use std::io::BufReader;
use std::time::{Duration, Instant};

use summa_agg::format::{mini_tree_len, write_mini_tree};
use summa_agg::host::BuildRecord;
use summa_agg::json::{InputRecord, SummaryJson};
use summa_agg::round::{build_mini_tree, sha256, DigestReader};
use tokio_util::io::SyncIoBridge;

use super::artifacts::{put_binary, put_json, read_plan, write_error_record};
use crate::error::{join_error, FnError, InStep};
use crate::index::user_key;
use crate::model::{
    ErrorRecord, MiniTreeInput, MiniTreeOutput, PlanFile, RunKeys, ShardSummary, ShardTask,
};
use crate::storage::{Storage, StoreErrorKind};

/// The step's name in error messages and `error.json`.
pub const STEP: &str = crate::model::steps::MINI_TREE;

/// Builds shard `input.shard`'s mini-tree. Idempotent: the same shard gives the
/// same bytes, and a shard whose summary this run already has (a redriven or
/// retried child, after its artifacts were written) is not built again: its
/// summary is checked against the plan and returned, nothing is written.
///
/// The shard is read with `If-Match` on the ETag the plan recorded: a shard
/// replaced since the plan fails the run (`InvalidInput`, naming the shard).
/// A shard that fails also gets an error record,
/// `P/runs/R/mini-trees/NNNNNN.error.json`: in AWS a failed Distributed Map
/// reports only `States.ExceedToleratedFailureThreshold`, and the record is how
/// the failure handler names the shard and the cause. A shard that succeeds
/// deletes its record (left by an earlier attempt), so after a redrive only the
/// shards that failed last have one. Best effort: the function's own result is
/// what the state machine sees.
pub async fn mini_tree(
    storage: &impl Storage,
    input: MiniTreeInput,
) -> Result<MiniTreeOutput, FnError> {
    let result = run(storage, &input).await.in_step(STEP);
    if let Ok(keys) = RunKeys::new(&input.prefix, &input.run) {
        let record_key = keys.mini_tree_error(input.shard);
        match &result {
            Ok(_) => {
                let _ = storage.delete(&input.bucket, &record_key).await;
            }
            Err(e) => {
                let record = ErrorRecord::of(e, Some(keys.id()));
                let _ = write_error_record(storage, &input.bucket, &record_key, &record).await;
            }
        }
    }
    result
}

/// [`mini_tree`], which also writes the shard's error record (error
/// `States.Timeout`) if it is still running after `record_after`: the Lambda
/// binary passes its deadline less a margin, so that a shard killed by the
/// Lambda timeout is named although the function cannot record its own death.
/// The work goes on after the record is written; if it still succeeds, it
/// deletes the record. In one-thread mode (a current-thread runtime) the build
/// holds the only thread, so the record can only be written before or after it.
pub async fn mini_tree_with_deadline(
    storage: &impl Storage,
    input: MiniTreeInput,
    record_after: Option<Duration>,
) -> Result<MiniTreeOutput, FnError> {
    let Some(after) = record_after else {
        return mini_tree(storage, input).await;
    };
    let work = mini_tree(storage, input.clone());
    tokio::pin!(work);
    tokio::select! {
        r = &mut work => r,
        _ = tokio::time::sleep(after) => {
            record_timeout(storage, &input, after).await;
            work.await
        }
    }
}

/// Writes the error record of a shard that is about to time out.
async fn record_timeout(storage: &impl Storage, input: &MiniTreeInput, after: Duration) {
    let Ok(keys) = RunKeys::new(&input.prefix, &input.run) else {
        return;
    };
    let i = input.shard;
    let shard_key = match &input.task {
        Some(task) => Some(task.planned.key.clone()),
        None => read_plan(storage, &input.bucket, &keys)
            .await
            .ok()
            .and_then(|p| p.shards.get(i).map(|s| s.key.clone())),
    };
    let record = ErrorRecord {
        run: Some(keys.id().to_string()),
        step: Some(STEP.to_string()),
        shard: Some(i as u64),
        shard_key: shard_key.clone(),
        error: TIMEOUT_ERROR.to_string(),
        cause: format!(
            "the mini-tree of shard {i} ({}) was still running {} s after it started, close to the function's timeout: it timed out (Step Functions retries a timeout once)",
            shard_key.as_deref().unwrap_or("not in the plan"),
            after.as_secs()
        ),
    };
    let _ = write_error_record(storage, &input.bucket, &keys.mini_tree_error(i), &record).await;
}

/// The error name of a timed-out shard's record (Step Functions' own).
pub const TIMEOUT_ERROR: &str = "States.Timeout";

/// This run's summary of shard `i`, if it has one that matches the plan (the
/// shard's key, version and size, the run's layout, `n_bytes` and
/// currencies). Written last, after the `.mst` and `.names`, so its presence
/// means the shard's artifacts are complete.
async fn existing_summary(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    plan: &ShardTask,
    i: usize,
) -> Result<Option<ShardSummary>, FnError> {
    let bytes = match storage.get(bucket, &keys.mini_tree_summary(i)).await {
        Ok(b) => b,
        Err(e) if e.kind == StoreErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Ok(s) = serde_json::from_slice::<ShardSummary>(&bytes) else {
        return Ok(None);
    };
    let planned = &plan.planned;
    let matches = s.run == keys.id()
        && s.layout == plan.layout
        && s.n_bytes == plan.n_bytes
        && s.currencies == plan.currencies
        && s.input.key == planned.key
        && s.summary.name == planned.key
        && s.input.etag == planned.etag
        && s.input.size == planned.size
        && s.input.mini_tree == keys.mini_tree(i);
    Ok(matches.then_some(s))
}

async fn run(storage: &impl Storage, input: &MiniTreeInput) -> Result<MiniTreeOutput, FnError> {
    let keys = RunKeys::new(&input.prefix, &input.run)?;
    let bucket = input.bucket.as_str();
    let i = input.shard;
    let plan = match &input.task {
        Some(task) => task.clone(),
        None => task_of(storage, bucket, &keys, i).await?,
    };
    let planned = plan.planned.clone();
    let key = planned.key.clone();
    let in_shard = |e: FnError| e.in_shard(i, &key);
    if let Some(s) = existing_summary(storage, bucket, &keys, &plan, i)
        .await
        .map_err(in_shard)?
    {
        return Ok(MiniTreeOutput {
            shard: i,
            key,
            mini_tree_key: s.input.mini_tree,
            entries: s.summary.entries,
            depth: s.summary.depth,
            root: s.summary.root,
            reused: s.reused_from.is_some(),
        });
    }
    if let Some(from) = &planned.reuse {
        match reuse(storage, bucket, &keys, &plan, i, from).await {
            Ok(out) => return Ok(out),
            // Never trusted: build it as any other shard.
            Err(e) => lambda_runtime::tracing::warn!(
                "{}",
                summa_agg::text::shown(&format!(
                    "shard {i} ({key}): the previous round's mini-tree is not re-used, rebuilding: {e}"
                ))
            ),
        }
    }
    let changed = |what: String| {
        FnError::invalid(format!(
            "{key} changed since the round was planned ({what}); the round is built from the version planned: upload the shards, then the manifest again to start a new run"
        ))
    };

    let body = storage
        .open_if_match(bucket, &key, &planned.etag)
        .await
        .map_err(|e| {
            if e.kind == StoreErrorKind::Changed {
                changed(format!("its ETag is no longer {}", planned.etag))
            } else {
                FnError::from(e)
            }
        })
        .map_err(in_shard)?;
    let params = plan.params();
    let currencies = plan.currencies.clone();
    let started = Instant::now();
    let built = if super::inline_engine() {
        // One-thread mode (a current-thread runtime, see crate::runtime): no
        // thread may be started, so the shard is read into memory here and built
        // on this thread.
        let mut body = body;
        let mut csv = Vec::with_capacity(usize::try_from(planned.size).unwrap_or(0));
        tokio::io::AsyncReadExt::read_to_end(&mut body, &mut csv)
            .await
            .map_err(|e| in_shard(summa_agg::Error::io(key.clone(), e).into()))?;
        build_shard(&csv[..], &key, &params, &currencies, started)
    } else {
        // The CSV parser is synchronous: bridge the stream into a blocking task,
        // which also keeps the CPU work off the async workers.
        let bridge = SyncIoBridge::new(body);
        let name = key.clone();
        tokio::task::spawn_blocking(move || {
            build_shard(bridge, &name, &params, &currencies, started)
        })
        .await
        .map_err(join_error)?
    };
    let BuiltShard {
        bytes,
        summary,
        names,
        size,
        sha,
        build,
    } = built.map_err(|e| in_shard(e.into()))?;
    if size != planned.size {
        return Err(in_shard(changed(format!(
            "{size} bytes read, {} planned",
            planned.size
        ))));
    }

    let mini_tree_key = keys.mini_tree(i);
    let record = InputRecord {
        key: key.clone(),
        size,
        etag: planned.etag.clone(),
        sha256: hex::encode(sha),
        mini_tree: mini_tree_key.clone(),
        mini_tree_sha256: hex::encode(sha256(&bytes)),
    };
    put_binary(storage, bucket, &mini_tree_key, bytes).await?;
    put_binary(storage, bucket, &keys.mini_tree_names(i), names).await?;
    let json = ShardSummary {
        run: keys.id().to_string(),
        layout: plan.layout,
        n_bytes: plan.n_bytes,
        currencies: plan.currencies.clone(),
        input: record,
        summary: SummaryJson::from(&summary),
        reused_from: None,
        build: Some(build),
    };
    write_summary(storage, bucket, &keys, i, &json).await?;
    Ok(MiniTreeOutput {
        shard: i,
        key,
        mini_tree_key,
        entries: json.summary.entries,
        depth: json.summary.depth,
        root: json.summary.root,
        reused: false,
    })
}

/// Shard `i`'s task from the run's plan, for an input without one (given by
/// hand): reads `plan.json`, whose size grows with the round's shards (the
/// state machine's items carry their task).
async fn task_of(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    i: usize,
) -> Result<ShardTask, FnError> {
    let plan: PlanFile = read_plan(storage, bucket, keys).await?;
    let Some(planned) = plan.shards.get(i).cloned() else {
        return Err(FnError::invalid(format!(
            "shard {i} is out of range: the plan has {} shard{}",
            plan.shards.len(),
            if plan.shards.len() == 1 { "" } else { "s" }
        )));
    };
    Ok(ShardTask {
        layout: plan.layout,
        n_bytes: plan.n_bytes,
        currencies: plan.currencies,
        planned,
    })
}

/// A shard's mini-tree as [`build_shard`] makes it.
struct BuiltShard {
    /// The encoded mini-tree (`.mst`).
    bytes: Vec<u8>,
    /// Its summary.
    summary: summa_agg::tree::TreeSummary,
    /// The sorted hashed usernames (`.names`).
    names: Vec<u8>,
    /// The shard's bytes read.
    size: u64,
    /// Their SHA-256.
    sha: [u8; 32],
    /// What built it.
    build: BuildRecord,
}

/// Builds a shard's mini-tree from its CSV bytes (synchronous: on a blocking
/// thread, or inline in one-thread mode); `started` is when reading it began.
fn build_shard(
    csv: impl std::io::Read,
    name: &str,
    params: &summa_agg::Params,
    currencies: &[summa_agg::shard::Currency],
    started: Instant,
) -> Result<BuiltShard, summa_agg::Error> {
    let mut digest = DigestReader::new(csv);
    let tree = build_mini_tree(
        BufReader::with_capacity(1 << 20, &mut digest),
        name,
        params,
        Some(currencies),
    )?;
    let build = BuildRecord::here(started.elapsed());
    let (size, sha) = digest.finish();
    // The header holds section offsets: the file is encoded in full, then
    // uploaded.
    let mut bytes = Vec::with_capacity(mini_tree_len(&tree) as usize);
    write_mini_tree(&tree, &mut bytes).map_err(|e| summa_agg::Error::io(name, e))?;
    // Entries are u32 in the file format (its name-sorted index).
    let names: crate::index::Keyed = (0..tree.entries() as usize)
        .map(|u| (user_key(tree.username(u)), u as u32))
        .collect();
    Ok(BuiltShard {
        bytes,
        summary: tree.summary(),
        names: crate::index::names::encode(names),
        size,
        sha,
        build,
    })
}

/// Shard `i` from the previous round's mini-tree `from` (same size and ETag): its
/// summary must be that round's record of the same bytes, built with this round's
/// parameters; its `.mst` and `.names` are copied server-side into this run, and
/// the copy's root (read with a few ranged GETs, nothing downloaded) must be the
/// summary's. Then this run's summary is written, last, as for a built shard.
async fn reuse(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    plan: &ShardTask,
    i: usize,
    from: &crate::model::ReuseFrom,
) -> Result<MiniTreeOutput, FnError> {
    let planned = &plan.planned;
    let prev = RunKeys::new(&from.prefix, &from.run)?;
    let j = from.index;
    let prev_summary_key = prev.mini_tree_summary(j);
    let bytes = storage.get(bucket, &prev_summary_key).await?;
    let prev_summary: ShardSummary = serde_json::from_slice(&bytes)
        .map_err(|e| FnError::invalid(format!("{prev_summary_key}: {e}")))?;
    if prev_summary.run != from.run
        || prev_summary.layout != plan.layout
        || prev_summary.n_bytes != plan.n_bytes
        || prev_summary.currencies != plan.currencies
        || prev_summary.input != from.input
        || from.input.size != planned.size
        || from.input.etag != planned.etag
    {
        return Err(FnError::invalid(format!(
            "{prev_summary_key} is not the previous round's record of these bytes"
        )));
    }
    // A previous run's names file of another version cannot feed this run's
    // index: rebuild.
    if !crate::index::names::is_current(storage, bucket, &prev.mini_tree_names(j)).await {
        return Err(FnError::invalid(format!(
            "{}: not a names file of this version",
            prev.mini_tree_names(j)
        )));
    }
    let mini_tree_key = keys.mini_tree(i);
    storage
        .copy(bucket, &prev.mini_tree(j), &mini_tree_key)
        .await?;
    storage
        .copy(bucket, &prev.mini_tree_names(j), &keys.mini_tree_names(i))
        .await?;
    // The one trust check (summa_agg::round::check_reused): this round's
    // parameters, and the root the previous run's summary records.
    let recorded_summary = prev_summary.summary.to_summary()?;
    let recorded = summa_agg::round::Recorded {
        by: "its summary",
        entries: recorded_summary.entries,
        depth: recorded_summary.depth,
        root: Some(&recorded_summary.root),
        root_preimage: &recorded_summary.root_preimage,
        at_depth: recorded_summary.depth,
    };
    let size = storage.size(bucket, &mini_tree_key).await?;
    let mut sparse = crate::remote::FetchedRanges::new(size);
    let name = planned.key.clone();
    let summary = sparse
        .read_with(storage, bucket, &mini_tree_key, 8, |s| {
            let f = summa_agg::format::TreeFile::open(s, mini_tree_key.clone())?;
            summa_agg::round::check_reused(
                &f,
                &mini_tree_key,
                &name,
                &plan.params(),
                &plan.currencies,
                &recorded,
            )
            .map_err(summa_agg::Error::Invalid)
        })
        .await?;
    let summary = SummaryJson::from(&summary);
    let json = ShardSummary {
        run: keys.id().to_string(),
        layout: plan.layout,
        n_bytes: plan.n_bytes,
        currencies: plan.currencies.clone(),
        input: InputRecord {
            key: planned.key.clone(),
            size: planned.size,
            etag: planned.etag.clone(),
            sha256: from.input.sha256.clone(),
            mini_tree: mini_tree_key.clone(),
            mini_tree_sha256: from.input.mini_tree_sha256.clone(),
        },
        summary,
        reused_from: Some(prev.mini_tree(j)),
        build: None,
    };
    write_summary(storage, bucket, keys, i, &json).await?;
    Ok(MiniTreeOutput {
        shard: i,
        key: planned.key.clone(),
        mini_tree_key,
        entries: json.summary.entries,
        depth: json.summary.depth,
        root: json.summary.root,
        reused: true,
    })
}

/// Writes shard `i`'s summary: last, so that its presence means the shard's
/// artifacts are complete.
async fn write_summary(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    i: usize,
    json: &ShardSummary,
) -> Result<(), FnError> {
    put_json(storage, bucket, &keys.mini_tree_summary(i), json, true).await
}
