//! The run's artifacts that several handlers read or write: the plan and the
//! error records (their types are in `model`).

use crate::error::FnError;
use crate::model::{ErrorRecord, PlanFile, RunKeys};
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
