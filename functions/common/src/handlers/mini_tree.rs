//! `mini-tree`: streams one shard, builds its mini-tree, writes
//! `P/mini-trees/NNNNNN.mst` and then its summary `P/mini-trees/NNNNNN.json`.

use std::io::BufReader;

use bytes::Bytes;
use summa_agg::format::{mini_tree_len, write_mini_tree};
use summa_agg::json::SummaryJson;
use summa_agg::round::build_mini_tree;
use tokio_util::io::SyncIoBridge;

use crate::error::{join_error, FnError};
use crate::model::{Failure, MiniTreeInput, MiniTreeOutput, PlanFile, RoundKeys};
use crate::storage::Storage;

/// The step's name in error messages and `error.json`.
pub const STEP: &str = "mini-tree";

/// Reads `P/plan.json` (which `plan` wrote).
pub(crate) async fn read_plan(
    storage: &impl Storage,
    bucket: &str,
    keys: &RoundKeys,
) -> Result<PlanFile, FnError> {
    let key = keys.plan();
    let bytes = storage.get(bucket, &key).await.map_err(|e| {
        FnError::from(e).context(format_args!(
            "the round has no plan ({key}); run plan first"
        ))
    })?;
    PlanFile::parse(&bytes, &key)
}

/// Builds shard `input.shard`'s mini-tree. Idempotent: the same shard gives the
/// same bytes.
///
/// A shard rejected as invalid input also gets an error record,
/// `P/mini-trees/NNNNNN.error.json`: in AWS a failed Distributed Map reports only
/// `States.ExceedToleratedFailureThreshold`, and the record is how the failure
/// recorder names the shard and the cause. A shard that succeeds removes its record.
/// Both are best effort: the function's own result is what the state machine sees.
pub async fn mini_tree(
    storage: &impl Storage,
    input: MiniTreeInput,
) -> Result<MiniTreeOutput, FnError> {
    let result = run(storage, &input).await.map_err(|e| e.in_step(STEP));
    let Ok(keys) = RoundKeys::new(&input.prefix) else {
        return result;
    };
    let record_key = keys.mini_tree_error(input.shard);
    match &result {
        Ok(_) => {
            let _ = storage.delete(&input.bucket, &record_key).await;
        }
        Err(e) if !e.is_retryable() => {
            let record = crate::handlers::aggregator::error_record(&Failure {
                error: Some(e.error_type().to_string()),
                cause: Some(e.message().to_string()),
            });
            let mut body = serde_json::to_vec_pretty(&record).expect("a record serializes");
            body.push(b'\n');
            let _ = storage
                .put(
                    &input.bucket,
                    &record_key,
                    Bytes::from(body),
                    "application/json",
                )
                .await;
        }
        Err(_) => {}
    }
    result
}

async fn run(storage: &impl Storage, input: &MiniTreeInput) -> Result<MiniTreeOutput, FnError> {
    let keys = RoundKeys::new(&input.prefix)?;
    let bucket = input.bucket.as_str();
    let plan = read_plan(storage, bucket, &keys).await?;
    let i = input.shard;
    let Some(key) = plan.shards.get(i).cloned() else {
        return Err(FnError::InvalidInput(format!(
            "shard {i} is out of range: the plan has {} shard{}",
            plan.shards.len(),
            if plan.shards.len() == 1 { "" } else { "s" }
        )));
    };
    let in_shard = |e: FnError| e.in_shard(i, &key);

    let body = storage
        .open(bucket, &key)
        .await
        .map_err(|e| in_shard(e.into()))?;
    // The CSV parser is synchronous: bridge the stream into a blocking task, which
    // also keeps the CPU work off the async workers.
    let bridge = SyncIoBridge::new(body);
    let params = plan.params();
    let name = key.clone();
    let currencies = plan.currencies.clone();
    let (bytes, summary) = tokio::task::spawn_blocking(move || {
        let tree = build_mini_tree(
            BufReader::with_capacity(1 << 20, bridge),
            &name,
            &params,
            Some(&currencies),
        )?;
        // The header holds section offsets: the file is encoded in full, then
        // uploaded.
        let mut bytes = Vec::with_capacity(mini_tree_len(&tree) as usize);
        write_mini_tree(&tree, &mut bytes).map_err(|e| summa_agg::Error::io(name.clone(), e))?;
        Ok::<_, summa_agg::Error>((bytes, tree.summary()))
    })
    .await
    .map_err(join_error)?
    .map_err(|e| in_shard(e.into()))?;

    let mini_tree_key = keys.mini_tree(i);
    storage
        .put(
            bucket,
            &mini_tree_key,
            Bytes::from(bytes),
            "application/octet-stream",
        )
        .await?;
    let json = SummaryJson::from(&summary);
    let mut body = serde_json::to_vec_pretty(&json).expect("a summary serializes");
    body.push(b'\n');
    storage
        .put(
            bucket,
            &keys.mini_tree_summary(i),
            Bytes::from(body),
            "application/json",
        )
        .await?;
    Ok(MiniTreeOutput {
        shard: i,
        key,
        mini_tree_key,
        entries: json.entries,
        depth: json.depth,
        root: json.root,
    })
}
