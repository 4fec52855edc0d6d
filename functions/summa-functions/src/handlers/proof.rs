//! `proof`: a user's inclusion proof, read through ranged GETs from a completed
//! run: its username index (which shard), `P/runs/R/aggregation.mst` and the
//! mini-tree that holds the user. The run is the published one (`P/result.json`)
//! unless the request names one.

use summa_agg::format::TreeFile;
use summa_agg::proof::{self, Proof};

use crate::error::{join_error, FnError};
use crate::model::{ProofInput, RoundKeys};
use crate::remote::RemoteFile;
use crate::storage::StorageRead;
use crate::storage::StoreErrorKind;

/// The step's name in error messages.
pub const STEP: &str = crate::model::steps::PROOF;

/// The user's proof. With a `shard` hint only that mini-tree is read; otherwise
/// (or if the user is not there) the run's username index names the shard, in
/// three ranged reads whatever the number of shards. The proof is verified before
/// it is returned. An unknown user is `NotFound`.
pub async fn proof<S: StorageRead + Clone + 'static>(
    storage: &S,
    input: ProofInput,
) -> Result<Proof, FnError> {
    run(storage, &input).await.map_err(|e| e.in_step(STEP))
}

async fn run<S: StorageRead + Clone + 'static>(
    storage: &S,
    input: &ProofInput,
) -> Result<Proof, FnError> {
    let round = RoundKeys::new(&input.prefix)?;
    if input.username.is_empty() {
        return Err(FnError::invalid("the username is empty"));
    }
    let bucket = input.bucket.clone();
    let result = match &input.run {
        Some(r) => {
            let key = round.run(r)?.result();
            read_result(storage, &bucket, &key, || {
                format!("run {r} has no result: has it finished?")
            })
            .await?
        }
        None => {
            read_result(storage, &bucket, &round.result(), || {
                "no completed round is published under this prefix yet".into()
            })
            .await?
        }
    };
    let run = result
        .run
        .clone()
        .ok_or_else(|| FnError::internal(format!("{} names no run", round.result())))?;
    let keys = round.run(&run)?;
    let index_bits: u32 = result
        .artifacts
        .get(super::aggregator::USER_INDEX_BITS)
        .and_then(|b| b.parse().ok())
        .ok_or_else(|| {
            FnError::internal(format!(
                "the result of run {run} does not give its username index's partitions"
            ))
        })?;
    let agg_key = keys.aggregation();
    let agg = RemoteFile::open(storage.clone(), &bucket, &agg_key)
        .await
        .map_err(|e| {
            FnError::from(e).context(format_args!(
                "run {run} has no aggregation tree ({agg_key}): has it finished?"
            ))
        })?;
    let agg = tokio::task::spawn_blocking(move || TreeFile::open(agg, agg_key))
        .await
        .map_err(join_error)??;
    let agg = std::sync::Arc::new(agg);
    let n = agg.count as usize;
    let mut tried = None;
    if let Some(h) = input.shard {
        if h >= n as u64 {
            return Err(FnError::invalid(format!(
                "shard {h} is out of range: the round has {n} mini-tree{}",
                if n == 1 { "" } else { "s" }
            )));
        }
        if let Some(p) =
            prove_in(storage, &bucket, &keys, &agg, h as usize, &input.username).await?
        {
            return verified(p);
        }
        // A wrong hint: ask the index.
        tried = Some(h);
    }
    let partition = crate::index::partition_of(input.username.as_bytes(), index_bits);
    let shards = crate::index::lookup(
        storage,
        &bucket,
        &keys.user_index_partition(partition),
        &input.username,
    )
    .await?;
    for h in shards.into_iter().filter(|&h| Some(h) != tried) {
        if h >= n as u64 {
            return Err(FnError::internal(format!(
                "{}: shard {h} is out of range ({n} mini-trees)",
                keys.user_index()
            )));
        }
        if let Some(p) =
            prove_in(storage, &bucket, &keys, &agg, h as usize, &input.username).await?
        {
            return verified(p);
        }
    }
    Err(summa_agg::Error::UnknownUser(input.username.clone()).into())
}

/// The round result at `key` (`P/result.json`, or a run's own); `missing` says
/// why there is none.
async fn read_result<S: StorageRead>(
    storage: &S,
    bucket: &str,
    key: &str,
    missing: impl FnOnce() -> String,
) -> Result<summa_agg::json::RoundResult, FnError> {
    let bytes = storage.get(bucket, key).await.map_err(|e| {
        if e.kind == StoreErrorKind::NotFound {
            FnError::not_found(format!("{key}: {}", missing()))
        } else {
            e.into()
        }
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| FnError::internal(format!("{key}: not a round result: {e}")))
}

/// The user's proof from mini-tree `h`, if the user is in it.
async fn prove_in<S: StorageRead + Clone + 'static>(
    storage: &S,
    bucket: &str,
    keys: &crate::model::RunKeys,
    agg: &std::sync::Arc<TreeFile<RemoteFile<S>>>,
    h: usize,
    username: &str,
) -> Result<Option<Proof>, FnError> {
    let key = keys.mini_tree(h);
    let mt = RemoteFile::open(storage.clone(), bucket, &key).await?;
    let (agg, username) = (agg.clone(), username.to_string());
    Ok(tokio::task::spawn_blocking(move || {
        proof::generate_in(&agg, h, &TreeFile::open(mt, key)?, &username)
    })
    .await
    .map_err(join_error)??)
}

fn verified(p: Proof) -> Result<Proof, FnError> {
    proof::verify(&p, None)
        .map_err(|e| FnError::internal(format!("the generated proof does not verify: {e}")))?;
    Ok(p)
}
