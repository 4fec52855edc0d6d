//! `proof`: a user's inclusion proof, read from `P/aggregation.mst` and the
//! mini-tree that holds the user through ranged GETs.

use summa_agg::format::TreeFile;
use summa_agg::proof::{self, Proof};

use crate::error::{join_error, FnError};
use crate::model::{ProofInput, RoundKeys};
use crate::remote::RemoteFile;
use crate::storage::Storage;

/// The step's name in error messages.
pub const STEP: &str = "proof";

/// The user's proof. With a `shard` hint only that mini-tree is read (if the user
/// is not there, every mini-tree is searched in order). The proof is verified
/// before it is returned. An unknown user is `NotFound`.
pub async fn proof<S: Storage + Clone + 'static>(
    storage: &S,
    input: ProofInput,
) -> Result<Proof, FnError> {
    run(storage, &input).await.map_err(|e| e.in_step(STEP))
}

async fn run<S: Storage + Clone + 'static>(
    storage: &S,
    input: &ProofInput,
) -> Result<Proof, FnError> {
    let keys = RoundKeys::new(&input.prefix)?;
    if input.username.is_empty() {
        return Err(FnError::InvalidInput("the username is empty".into()));
    }
    let bucket = input.bucket.clone();
    let agg_key = keys.aggregation();
    let agg = RemoteFile::open(storage.clone(), &bucket, &agg_key)
        .await
        .map_err(|e| {
            FnError::from(e).context(format_args!(
                "the round has no aggregation tree ({agg_key}): has it finished?"
            ))
        })?;
    let agg = tokio::task::spawn_blocking(move || TreeFile::open(agg, agg_key))
        .await
        .map_err(join_error)??;
    let agg = std::sync::Arc::new(agg);
    let n = agg.count as usize;
    if let Some(h) = input.shard {
        if h >= n as u64 {
            return Err(FnError::InvalidInput(format!(
                "shard {h} is out of range: the round has {n} mini-tree{}",
                if n == 1 { "" } else { "s" }
            )));
        }
        let h = h as usize;
        let key = keys.mini_tree(h);
        let mt = RemoteFile::open(storage.clone(), &bucket, &key).await?;
        let (agg2, username) = (agg.clone(), input.username.clone());
        let found = tokio::task::spawn_blocking(move || {
            proof::generate_in(&agg2, h, &TreeFile::open(mt, key)?, &username)
        })
        .await
        .map_err(join_error)??;
        if let Some(p) = found {
            return verified(p);
        }
        // A wrong hint: search every mini-tree.
    }
    // Search every mini-tree in order, opening each only when it is reached.
    let username = input.username.clone();
    let storage = storage.clone();
    let handle = tokio::runtime::Handle::current();
    let p = tokio::task::spawn_blocking(move || {
        proof::generate(
            &agg,
            |i| {
                let key = keys.mini_tree(i);
                let f = handle
                    .block_on(RemoteFile::open(storage.clone(), &bucket, &key))
                    .map_err(|e| summa_agg::Error::io(key.clone(), e.into_io()))?;
                TreeFile::open(f, key)
            },
            &username,
        )
    })
    .await
    .map_err(join_error)??;
    verified(p)
}

fn verified(p: Proof) -> Result<Proof, FnError> {
    proof::verify(&p, None)
        .map_err(|e| FnError::Internal(format!("the generated proof does not verify: {e}")))?;
    Ok(p)
}
