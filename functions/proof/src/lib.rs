//! The `proof` function's handler: a user's zero-knowledge proof, or, where the
//! deployment allows it, the custodian's Merkle proof (`"merkle": true`).
//!
//! What a user receives is the zero-knowledge proof: its public inputs are the
//! user's leaf hash, the round's root and totals, and the file carries the user's own
//! entry and nothing else of the tree. A Merkle proof shows a sibling's balances: it
//! is the custodian's own tool, refused unless the function's environment sets
//! [`MERKLE_ENV`] to `allow` (the template's public-facing function never does). The
//! prover lives in this crate (over `summa-agg-zk`) so that no other function links
//! it.
//!
//! The function answers two kinds of invocation ([`invoke`]): the custodian's own
//! backend's direct request (any user: see docs/security.md, "Who may ask for a
//! proof"), and, where the template's `ProofApi` is `jwt`, a user's request
//! through the HTTP API, which proves only for the user that the caller's token
//! names ([`summa_functions::handlers::proof_api`]) and is never a Merkle proof.
//!
//! Keys are made once per circuit shape (`summa-agg zk-keys`) and uploaded to
//! `zk-keys/<shape>/` of the bucket (e.g. `zk-keys/v1-d20-c2-b14/`), or to the
//! prefix under `zk-keys/` that `"keys"` names. A warm container keeps them: each
//! request reads only `keys.json` (to notice new keys) before proving.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;
use summa_agg_zk::keys::Keys;
use summa_agg_zk::Shape;
use summa_functions::handlers::proof_api::{self, ProofApi};
use summa_functions::model::{ProofCall, ProofInput};
use summa_functions::storage::StorageRead;
use summa_functions::{handlers, parse_input, FnError, Payload};
use tokio::sync::Mutex;

/// The step's name in error messages.
pub const STEP: &str = handlers::proof::STEP;

/// Where the keys of every shape live in the bucket.
pub const KEYS_ROOT: &str = "zk-keys/";

/// The environment variable that allows Merkle proofs (`allow`): for a
/// custodian-only deployment of the function; unset, they are refused.
pub const MERKLE_ENV: &str = "SUMMA_MERKLE_PROOFS";

/// Whether this deployment answers Merkle proof requests ([`MERKLE_ENV`]).
pub fn merkle_allowed_by_env() -> bool {
    std::env::var(MERKLE_ENV).is_ok_and(|v| v == "allow")
}

/// The request's proof fields (the rest is a [`ProofInput`]).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ProofRequest {
    /// Return the custodian's Merkle proof instead of the zero-knowledge one (only
    /// where [`MERKLE_ENV`] allows it).
    #[serde(default)]
    pub merkle: bool,
    /// Accepted for compatibility: `true` is the default; `false` is refused
    /// (a Merkle proof is asked for with `"merkle": true`).
    pub zk: Option<bool>,
    /// The keys' prefix in the bucket, under `zk-keys/` (default
    /// `zk-keys/<shape>`).
    pub keys: Option<String>,
}

/// The keys a warm container has loaded, by `bucket/prefix`, with their
/// `keys.json` bytes.
#[derive(Default)]
pub struct KeysCache {
    loaded: Mutex<HashMap<String, Loaded>>,
}

/// Keys as loaded, with the `keys.json` they were loaded from.
type Loaded = (Vec<u8>, Arc<Keys>);

fn zk_error(e: summa_agg_zk::Error) -> FnError {
    match e {
        summa_agg_zk::Error::Core(e) => e.into(),
        summa_agg_zk::Error::Shape(m) => FnError::invalid(m),
        summa_agg_zk::Error::Keys(m) => FnError::invalid(format!("keys: {m}")),
        e => FnError::internal(e.to_string()),
    }
}

impl KeysCache {
    /// The keys under `prefix` (ending in `/`), loaded for proving.
    pub async fn get<S: StorageRead>(
        &self,
        storage: &S,
        bucket: &str,
        prefix: &str,
    ) -> Result<Arc<Keys>, FnError> {
        let meta = storage
            .get(bucket, &format!("{prefix}keys.json"))
            .await
            .map_err(|e| {
                FnError::from(e).context(format_args!(
                    "no zero-knowledge keys at {prefix} (make them with `summa-agg zk-keys` and upload the directory)"
                ))
            })?;
        let id = format!("{bucket}/{prefix}");
        let mut loaded = self.loaded.lock().await;
        if let Some((m, keys)) = loaded.get(&id) {
            if *m == meta {
                return Ok(keys.clone());
            }
        }
        let mut files = HashMap::new();
        files.insert("keys.json".to_string(), meta.clone());
        for name in ["vk.bin", "pk.bin", "srs.bin"] {
            let bytes = storage.get(bucket, &format!("{prefix}{name}")).await?;
            files.insert(name.to_string(), bytes);
        }
        let keys = tokio::task::spawn_blocking(move || {
            Keys::load_with(|name| {
                files
                    .remove(name)
                    .ok_or_else(|| summa_agg_zk::Error::Keys(format!("no {name}")))
            })
        })
        .await
        .map_err(summa_functions::error::join_error)?
        .map_err(zk_error)?;
        let keys = Arc::new(keys);
        loaded.insert(id, (meta, keys.clone()));
        Ok(keys)
    }
}

/// The keys' prefix for `shape`: the request's (which must lie under
/// [`KEYS_ROOT`]) or `zk-keys/<shape id>/`.
pub fn keys_prefix(request: &ProofRequest, shape: &Shape) -> Result<String, FnError> {
    let p = match &request.keys {
        Some(p) => p.trim_end_matches('/').to_string(),
        None => format!("{KEYS_ROOT}{}", shape.id()),
    };
    if !p.starts_with(KEYS_ROOT) || p.split('/').any(|s| s.is_empty() || s == "..") {
        return Err(FnError::invalid(format!(
            "keys must name a prefix under {KEYS_ROOT}, got {p:?}"
        )));
    }
    Ok(format!("{p}/"))
}

/// The handler: the user's zero-knowledge proof, or with `"merkle": true` (where
/// `allow_merkle`) the custodian's Merkle proof.
pub async fn proof<S: StorageRead + Clone + 'static>(
    storage: &S,
    cache: &KeysCache,
    allow_merkle: bool,
    payload: serde_json::Value,
) -> Result<serde_json::Value, FnError> {
    let request: ProofRequest = parse_input(STEP, payload.clone())?;
    let refuse = |m: &str| Err(FnError::invalid(m).in_step(STEP));
    if request.zk == Some(false) {
        return refuse("\"zk\": false is not a request: proofs are zero-knowledge; the custodian's Merkle proof is asked for with \"merkle\": true");
    }
    if request.merkle && !allow_merkle {
        return refuse("Merkle proofs show other users' balances and are not served here (SUMMA_MERKLE_PROOFS is not \"allow\"): ask for the zero-knowledge proof");
    }
    let input: ProofInput = parse_input(STEP, payload)?;
    let bucket = input.bucket.clone();
    let merkle = handlers::proof(storage, input).await?;
    if request.merkle {
        return Ok(serde_json::to_value(&merkle).expect("a proof serializes"));
    }
    let run = async {
        let shape = Shape {
            layout: merkle.layout,
            depth: merkle.depth,
            currencies: merkle.currencies.len(),
            n_bytes: merkle.n_bytes,
        };
        let prefix = keys_prefix(&request, &shape)?;
        let keys = cache.get(storage, &bucket, &prefix).await?;
        let zk = tokio::task::spawn_blocking(move || summa_agg_zk::prove(&keys, &merkle))
            .await
            .map_err(summa_functions::error::join_error)?
            .map_err(zk_error)?;
        Ok(serde_json::to_value(&zk).expect("a proof serializes"))
    };
    run.await.map_err(|e: FnError| e.in_step(STEP))
}

/// The function's invocation: a direct request ([`proof`], as it was), or an
/// HTTP API request (payload format 2.0), answered with an HTTP response: the
/// zero-knowledge proof of the caller's own username in `api`'s bucket and
/// round, or a refusal (401, 403, ...). `api` is the function's configuration
/// ([`ProofApi::from_env`]); without one, every API request is refused.
pub async fn invoke<S: StorageRead + Clone + 'static>(
    storage: &S,
    cache: &KeysCache,
    allow_merkle: bool,
    api: Option<&ProofApi>,
    payload: serde_json::Value,
) -> Result<serde_json::Value, FnError> {
    match <ProofCall as Payload>::from_payload(STEP, payload)? {
        ProofCall::Direct(payload) => proof(storage, cache, allow_merkle, payload).await,
        ProofCall::Api(request) => {
            let prove = |input: ProofInput| async move {
                let payload = serde_json::to_value(input).expect("an input serializes");
                // Never a Merkle proof through the API, whatever the environment.
                proof(storage, cache, false, payload).await
            };
            let response = proof_api::answer(api, &request, prove).await;
            Ok(serde_json::to_value(response).expect("a response serializes"))
        }
    }
}
