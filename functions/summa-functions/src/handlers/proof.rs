//! `proof`: a user's inclusion proof from a completed run, in nine ranged reads
//! whatever the round's size, none of a file that is read whole and grows with
//! the round:
//!
//! 1. the run's lookup file (`P/lookup.json`, the published run's, or
//!    `P/runs/R/lookup.json`): which run, its username index's partitions, the
//!    size of an aggregation path record;
//! 2. the head (header and bucket table) of the user's index partition;
//! 3. the user's bucket: which mini-tree, and which entry of it;
//! 4. that mini-tree's record of `aggregation-paths.bin` (its path above the
//!    mini-tree) and, at the same time,
//! 5. the mini-tree file's header;
//! 6. the entry's subtree of leaves,
//! 7. the mini-tree's top levels and
//! 8. the username offsets of the entry and its sibling, at the same time;
//! 9. their usernames (`summa_agg::format::PathRanges`).
//!
//! The proof is verified before it is returned; an unknown user is `NotFound`.

use summa_agg::format::{declared_len, TreeFile};
use summa_agg::proof::paths::{read_record, record_offset};
use summa_agg::proof::{self, AggregationPath, Proof};

use crate::error::{FnError, InStep};
use crate::model::{LookupFile, ProofInput, RoundKeys};
use crate::remote::FetchedRanges;
use crate::storage::StorageRead;
use crate::storage::StoreErrorKind;

/// The step's name in error messages.
pub const STEP: &str = crate::model::steps::PROOF;
/// The first read of a mini-tree file: its header and currency table (a longer
/// table is read on demand).
const HEAD_READ: u64 = 4096;

/// The user's proof, from the published run or the run the request names.
pub async fn proof<S: StorageRead>(storage: &S, input: ProofInput) -> Result<Proof, FnError> {
    run(storage, &input).await.in_step(STEP)
}

async fn run<S: StorageRead>(storage: &S, input: &ProofInput) -> Result<Proof, FnError> {
    let round = RoundKeys::new(&input.prefix)?;
    if input.username.is_empty() {
        return Err(FnError::invalid("the username is empty"));
    }
    let (bucket, username) = (input.bucket.as_str(), input.username.as_str());
    let (key, missing) = match &input.run {
        Some(r) => (
            round.run(r)?.lookup(),
            format!("run {r} has no lookup file: has it finished?"),
        ),
        None => (
            round.lookup(),
            "no completed round is published under this prefix yet".to_string(),
        ),
    };
    let bytes = storage.get(bucket, &key).await.map_err(|e| {
        if e.kind == StoreErrorKind::NotFound {
            FnError::not_found(format!("{key}: {missing}"))
        } else {
            e.into()
        }
    })?;
    let lookup = LookupFile::parse(&bytes, &key).map_err(|e| FnError::internal(e.message))?;
    if input.run.as_ref().is_some_and(|r| *r != lookup.run) {
        return Err(FnError::internal(format!(
            "{key} is the lookup file of run {}",
            lookup.run
        )));
    }
    let keys = round.run(&lookup.run)?;

    let partition = crate::index::partition_of(username.as_bytes(), lookup.user_index_bits);
    let index_key = keys.user_index_partition(partition);
    let found = crate::index::lookup(storage, bucket, &index_key, username).await?;
    let (shard, entry) = match found[..] {
        [] => return Err(summa_agg::Error::UnknownUser(username.into()).into()),
        [one] => one,
        _ => {
            return Err(FnError::internal(format!(
                "{index_key} gives {username:?} more than one place"
            )))
        }
    };
    if shard >= lookup.mini_trees {
        return Err(FnError::internal(format!(
            "{index_key}: shard {shard} is out of range ({} mini-trees)",
            lookup.mini_trees
        )));
    }

    let paths_key = keys.aggregation_paths();
    let mini_tree_key = keys.mini_tree(shard as usize);
    let stride = lookup.paths_stride;
    let (record, head) = futures::try_join!(
        exact_range(
            storage,
            bucket,
            &paths_key,
            (record_offset(shard, stride), stride)
        ),
        async {
            Ok(storage
                .get_range(bucket, &mini_tree_key, 0, HEAD_READ)
                .await?)
        },
    )?;
    let (upper, params) = read_record(&record, shard, &paths_key)?;
    let p = prove_in(
        storage,
        bucket,
        &mini_tree_key,
        head,
        entry,
        username,
        &upper,
        params,
    )
    .await?;
    if p.root.hash != lookup.root {
        return Err(FnError::internal(format!(
            "{paths_key} gives another root than {key}"
        )));
    }
    proof::verify(&p, None)
        .map_err(|e| FnError::internal(format!("the generated proof does not verify: {e}")))?;
    Ok(p)
}

/// Entry `j`'s proof in the mini-tree at `key`, whose first bytes are `head`.
#[allow(clippy::too_many_arguments)]
async fn prove_in<S: StorageRead>(
    storage: &S,
    bucket: &str,
    key: &str,
    head: Vec<u8>,
    j: u64,
    username: &str,
    upper: &AggregationPath,
    params: summa_agg::Params,
) -> Result<Proof, FnError> {
    let size = declared_len(&head)
        .ok_or_else(|| FnError::internal(format!("{key}: not a mini-tree file")))?;
    let mut file = FetchedRanges::new(size);
    file.add(0, head);
    let ranges = file
        .read_with(storage, bucket, key, 2, |f| {
            TreeFile::open(f, key)?.path_ranges(j)
        })
        .await?;
    let (block, top, offsets) = futures::try_join!(
        exact_range(storage, bucket, key, ranges.block),
        exact_range(storage, bucket, key, ranges.top),
        exact_range(storage, bucket, key, ranges.offsets),
    )?;
    file.add(ranges.block.0, block);
    file.add(ranges.top.0, top);
    file.add(ranges.offsets.0, offsets);
    let names = TreeFile::open(&file, key)?.names_range(j)?;
    let names_bytes = exact_range(storage, bucket, key, names).await?;
    file.add(names.0, names_bytes);
    for (offset, bytes) in TreeFile::open(&file, key)?.derived_levels(j)? {
        file.add(offset, bytes);
    }
    // Everything is here: a read outside it would be one more request.
    file.read_with(storage, bucket, key, 2, |f| {
        let mt = TreeFile::open(f, key)?;
        if mt.params != params {
            return Err(summa_agg::Error::Invalid(format!(
                "{key}: its parameters are not the round's"
            )));
        }
        proof::prove_with(&mt, j, username, upper)
    })
    .await
}

/// Bytes `range` (offset, length) of `key`, all of them.
async fn exact_range<S: StorageRead>(
    storage: &S,
    bucket: &str,
    key: &str,
    (offset, len): (u64, u64),
) -> Result<Vec<u8>, FnError> {
    let bytes = storage.get_range(bucket, key, offset, len).await?;
    if bytes.len() as u64 != len {
        return Err(FnError::internal(format!(
            "{key}: {} bytes at {offset}, {len} expected (is it truncated?)",
            bytes.len()
        )));
    }
    Ok(bytes)
}
