//! The run's artifacts that several handlers read or write: the plan and the
//! error records (their types are in `model`).

use crate::error::FnError;
use crate::model::{ErrorRecord, MiniTreeInput, PlanFile, PlanOutput, RunKeys};
use crate::storage::{Storage, StorageRead};

/// Reads run R's plan, `P/runs/R/plan.json` (which `plan` wrote) and checks that
/// it is that run's.
pub async fn read_plan(
    storage: &impl StorageRead,
    bucket: &str,
    keys: &RunKeys,
) -> Result<PlanFile, FnError> {
    let key = keys.plan();
    let bytes = storage.get(bucket, &key).await.map_err(|e| {
        FnError::from(e).context(format_args!("the run has no plan ({key}); run plan first"))
    })?;
    let plan = PlanFile::parse(&bytes, &key)?;
    if plan.run != keys.id() {
        return Err(FnError::internal(format!(
            "{key} is the plan of run {:?}, not of {:?}",
            plan.run,
            keys.id()
        )));
    }
    Ok(plan)
}

/// Reads the Map's items that `plan` wrote (`plan.items_key`): what the state
/// machine's `ItemReader` reads, one mini-tree input per shard, in shard order.
pub async fn read_items(
    storage: &impl StorageRead,
    plan: &PlanOutput,
) -> Result<Vec<MiniTreeInput>, FnError> {
    let key = &plan.items_key;
    let bytes = storage.get(&plan.bucket, key).await?;
    let items: Vec<MiniTreeInput> = serde_json::from_slice(&bytes)
        .map_err(|e| FnError::internal(format!("{key}: not the Map's items: {e}")))?;
    if items.len() != plan.shard_count || items.iter().enumerate().any(|(i, it)| it.shard != i) {
        return Err(FnError::internal(format!(
            "{key}: not {} items in shard order",
            plan.shard_count
        )));
    }
    Ok(items)
}

/// Reads the `UserIndex` Map's items that `plan` wrote (`plan.index_items_key`).
pub async fn read_index_items(
    storage: &impl StorageRead,
    plan: &PlanOutput,
) -> Result<Vec<crate::model::AggregatorInput>, FnError> {
    let key = &plan.index_items_key;
    let bytes = storage.get(&plan.bucket, key).await?;
    serde_json::from_slice(&bytes)
        .map_err(|e| FnError::internal(format!("{key}: not the index Map's items: {e}")))
}

/// Writes an error record (best effort is the caller's choice).
pub async fn write_error_record(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
    record: &ErrorRecord,
) -> Result<(), FnError> {
    storage
        .put(
            bucket,
            key,
            bytes::Bytes::from(record.to_json()),
            "application/json",
        )
        .await?;
    Ok(())
}

/// Writes a binary artifact (a tree file, the names, the username index).
pub async fn put_binary(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(), FnError> {
    storage
        .put(
            bucket,
            key,
            bytes::Bytes::from(bytes),
            "application/octet-stream",
        )
        .await?;
    Ok(())
}
