//! The username index's partitions, `P/runs/R/user-index/pNNNNN.bin`: one
//! invocation (the aggregator function in index mode, an item of the
//! `UserIndex` Map) merges partition `p` of every shard's hashed usernames. Its
//! memory and output grow with the partition (about the round's users over the
//! number of partitions, which `plan` chooses), its requests with the shards.

use futures::{StreamExt, TryStreamExt};

use super::artifacts::write_once;
use crate::error::{join_error, FnError, InStep};
use crate::model::{IndexOutput, IndexPartition, RunKeys};
use crate::storage::{Storage, BINARY};

/// The step's name in error messages.
pub const STEP: &str = crate::model::steps::USER_INDEX;
/// Shards read at once.
const CONCURRENCY: usize = 64;

/// Builds index partition `task.partition`: reads its slice of each shard's
/// names (two ranged reads a shard), and writes the partition's file.
/// Idempotent: the same shards give the same bytes.
pub async fn user_index(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    task: &IndexPartition,
) -> Result<IndexOutput, FnError> {
    run(storage, bucket, keys, task).await.in_step(STEP)
}

async fn run(
    storage: &impl Storage,
    bucket: &str,
    keys: &RunKeys,
    task: &IndexPartition,
) -> Result<IndexOutput, FnError> {
    let (p, bits) = (task.partition, task.bits);
    let parts: Vec<crate::index::Keyed> = futures::stream::iter(0..task.shard_count)
        .map(|i| async move {
            let key = keys.mini_tree_names(i);
            crate::index::names::read_partition(storage, bucket, &key, bits, p)
                .await
                .map_err(|e| {
                    if e.kind == crate::ErrorKind::NotFound {
                        e.context(format_args!(
                            "shard {i} has no hashed usernames ({key}): has its mini-tree finished?"
                        ))
                    } else {
                        e.context(format_args!("shard {i}'s hashed usernames"))
                    }
                })
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let work = move || crate::index::build_partition(&parts, bits, p);
    let (file, users) = if super::inline_engine() {
        work()?
    } else {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(join_error)??
    };
    let key = keys.user_index_partition(p);
    // Written once: a partition already there (the same shards give the same
    // bytes) is not written again, so that nothing of a run that may be published
    // changes after it (a re-run of the execution; the fault campaign).
    write_once(storage, bucket, keys, &key, &file.into(), BINARY).await?;
    Ok(IndexOutput {
        partition: p,
        users,
        key,
    })
}
