//! The run's artifacts that several handlers read or write: the plan and the
//! error records (their types are in `model`).

use bytes::Bytes;

use crate::error::FnError;
use crate::model::{AggregatorInput, ErrorRecord, MiniTreeInput, PlanFile, PlanOutput, RunKeys};
use crate::storage::{Put, PutCondition, Storage, StorageRead, StoreErrorKind};

/// Writes run-owned `key` once (a conditional write): if it exists, it must hold
/// `body` already, and is not written again, so that nothing a published result
/// names changes after it (the fault campaign: a task run twice, an execution
/// run again with the same input). Other contents are an error: the run was
/// built twice from different inputs.
pub async fn write_once(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    key: &str,
    body: &Bytes,
    content_type: &'static str,
) -> Result<(), FnError> {
    let put = Put::new(body.clone(), content_type).when(PutCondition::Absent);
    match storage.write(bucket, key, put).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind == StoreErrorKind::Changed => {
            if storage.get(bucket, key).await?[..] != body[..] {
                return Err(FnError::internal(format!(
                    "{key} exists with other contents: run {} was built twice from different inputs",
                    keys.id()
                )));
            }
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

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
    let items: Vec<MiniTreeInput> =
        read_map_items(storage, &plan.bucket, &plan.items_key, plan.shard_count).await?;
    if items.iter().enumerate().any(|(i, it)| it.shard != i) {
        return Err(FnError::internal(format!(
            "{}: the items are not in shard order",
            plan.items_key
        )));
    }
    Ok(items)
}

/// Reads the `UserIndex` Map's items that `plan` wrote (`plan.index_items_key`):
/// one index-mode aggregator input per partition, in partition order.
pub async fn read_index_items(
    storage: &impl StorageRead,
    plan: &PlanOutput,
) -> Result<Vec<AggregatorInput>, FnError> {
    let key = &plan.index_items_key;
    let items: Vec<AggregatorInput> =
        read_map_items(storage, &plan.bucket, key, 1 << plan.index_bits).await?;
    if items
        .iter()
        .enumerate()
        .any(|(p, it)| it.index.as_ref().map(|i| i.partition) != Some(p as u64))
    {
        return Err(FnError::internal(format!(
            "{key}: the items are not the index partitions in order"
        )));
    }
    Ok(items)
}

/// A Map's items file: a JSON array of `count` items.
async fn read_map_items<T: serde::de::DeserializeOwned>(
    storage: &impl StorageRead,
    bucket: &str,
    key: &str,
    count: usize,
) -> Result<Vec<T>, FnError> {
    let bytes = storage.get(bucket, key).await?;
    let items: Vec<T> = serde_json::from_slice(&bytes)
        .map_err(|e| FnError::internal(format!("{key}: not a Map's items: {e}")))?;
    if items.len() != count {
        return Err(FnError::internal(format!(
            "{key}: {} items, not {count}",
            items.len()
        )));
    }
    Ok(items)
}

/// Writes `value` as JSON (`pretty` for the files people read; the Maps' items
/// compact), with a final newline.
pub async fn put_json(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
    value: &impl serde::Serialize,
    pretty: bool,
) -> Result<(), FnError> {
    let mut body = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .map_err(|e| FnError::internal(format!("{key}: {e}")))?;
    body.push(b'\n');
    storage
        .put(bucket, key, bytes::Bytes::from(body), crate::storage::JSON)
        .await?;
    Ok(())
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
            crate::storage::JSON,
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
            crate::storage::BINARY,
        )
        .await?;
    Ok(())
}
