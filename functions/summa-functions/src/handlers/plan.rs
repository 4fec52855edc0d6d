//! `plan`: reads the manifest and the head of every shard, pins each shard's
//! version (ETag and size), writes `P/runs/R/plan.json`.

use futures::{StreamExt, TryStreamExt};
use summa_agg::shard::{check_header, read_header, Currency};

use super::artifacts::{put_json, read_plan};
use crate::error::{ErrorKind, FnError, InStep};
use crate::model::{
    AggregatorInput, IndexPartition, Manifest, MiniTreeInput, PlanFile, PlanOutput, PlannedShard,
    PreviousRound, ReuseFrom, RoundInput, RoundKeys, RunKeys, ShardTask,
};
use crate::storage::Storage;

/// Bytes of a shard read to check it: enough for the header and a row.
pub const HEAD_BYTES: u64 = 64 << 10;
/// A header longer than this is refused.
const MAX_HEADER_BYTES: u64 = 16 << 20;
/// The largest shard a round accepts: 256 MiB of CSV, about 7 million users of
/// two currencies. A mini-tree needs about 340 bytes of memory per user
/// (measured at 2^20 users, see the README) and ~70 us of CPU per user on
/// Graviton (modelled from instruction counts): 7 million users are ~2.4 GB and
/// ~500 vCPU-s, within a Lambda's 15 minutes on one vCPU. Cut bigger exports with
/// `summa-agg split`. [`Limits::from_env`] lowers it to what the mini-tree
/// function's memory holds.
pub const MAX_SHARD_BYTES: u64 = 256 << 20;
/// The most shards a round accepts. What grows with the shards: the plan's and
/// the aggregator's memory (`make scale-probe` fits at most ~9.6 and ~8.2 KB
/// a shard, between 8 and 128 shards: 40,000 keep the plan under 80 % of its
/// 512 MB), the aggregator's summary reads and each index partition's two
/// ranged reads a shard; the Map's items file, about 500 bytes a shard. Every
/// state's payload stays under 1 KB whatever the count (keys, not lists).
pub const MAX_SHARDS: usize = 40_000;
/// Memory a mini-tree needs per byte of its CSV shard: about 394 bytes per user
/// (the tree's levels, the usernames, the encoded file and the hashed names;
/// `make scale-probe`'s fit at 2^10 to 2^14 users a shard, 340 measured at 2^20) over
/// about 34 bytes of CSV per user of two currencies, rounded up to 12.
pub const MINI_TREE_BYTES_PER_CSV_BYTE: u64 = 12;
/// The environment variable that gives the plan the mini-tree function's memory
/// in MB (the template sets it from `MiniTreeMemorySize`).
pub const MINI_TREE_MEMORY_ENV: &str = "SUMMA_MINI_TREE_MEMORY_MB";
/// Bytes of CSV per partition of the username index aimed at: 64 MiB, about 1.8
/// million users of two currencies (at most 6.7 million at the shortest rows,
/// 10 bytes), whose records (20 bytes) and sort fit the aggregator function's
/// memory many times over. Rounds up to this size have one partition.
pub const INDEX_PARTITION_CSV_BYTES: u64 = 64 << 20;

/// The username index's partitions for a round of `csv_bytes`: `2^bits`, the
/// least power of two that gives each at most `per_partition` bytes
/// ([`INDEX_PARTITION_CSV_BYTES`] by default), at most
/// [`crate::index::names::NAME_PARTITIONS`].
pub fn index_bits(csv_bytes: u64, per_partition: u64) -> u32 {
    let parts = csv_bytes.div_ceil(per_partition.max(1)).max(1);
    parts
        .next_power_of_two()
        .trailing_zeros()
        .min(crate::index::names::NAME_BITS)
}

/// The environment variable that lowers [`MAX_SHARDS`].
pub const MAX_SHARDS_ENV: &str = "SUMMA_MAX_SHARDS";

/// The limits a round must fit, checked by `plan` before any shard is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most shards.
    pub max_shards: usize,
    /// The largest shard, in bytes of CSV.
    pub max_shard_bytes: u64,
    /// Where `max_shard_bytes` comes from, for the error message.
    pub shard_bytes_reason: &'static str,
    /// Bytes of CSV per partition of the username index aimed at.
    pub index_partition_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_shards: MAX_SHARDS,
            max_shard_bytes: MAX_SHARD_BYTES,
            shard_bytes_reason: "MAX_SHARD_BYTES",
            index_partition_bytes: INDEX_PARTITION_CSV_BYTES,
        }
    }
}

impl Limits {
    /// The limits from the environment: [`MAX_SHARDS_ENV`] (at most
    /// [`MAX_SHARDS`]) and [`MINI_TREE_MEMORY_ENV`], which caps a shard at
    /// 80% of the mini-tree function's memory over
    /// [`MINI_TREE_BYTES_PER_CSV_BYTE`]. Unset: the defaults.
    pub fn from_env() -> Result<Limits, FnError> {
        Limits::from_vars(|name| std::env::var(name).ok())
    }

    /// [`Limits::from_env`] over `var` (a variable's value, if set).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Limits, FnError> {
        let mut limits = Limits::default();
        let read =
            |name: &str| -> Result<Option<u64>, FnError> {
                match var(name) {
                    Some(v) => v.trim().parse::<u64>().map(Some).map_err(|_| {
                        FnError::internal(format!("{name}={v:?} is not a whole number"))
                    }),
                    None => Ok(None),
                }
            };
        if let Some(n) = read(MAX_SHARDS_ENV)? {
            limits.max_shards = limits.max_shards.min(n as usize);
        }
        if let Some(mb) = read(MINI_TREE_MEMORY_ENV)? {
            let fits = mb * (1 << 20) * 8 / 10 / MINI_TREE_BYTES_PER_CSV_BYTE;
            if fits < limits.max_shard_bytes {
                limits.max_shard_bytes = fits;
                limits.shard_bytes_reason = "80% of the mini-tree function's memory (SUMMA_MINI_TREE_MEMORY_MB, MiniTreeMemorySize)";
            }
        }
        Ok(limits)
    }
}

/// Shards checked at once.
const CONCURRENCY: usize = 32;

/// The step's name in error messages and `error.json`.
pub const STEP: &str = crate::model::steps::PLAN;

/// Reads the version and head of shard `key` and returns its currencies; fails if
/// the shard is too big, the header is invalid or no user row follows it.
async fn shard_head(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
    limits: &Limits,
) -> Result<(PlannedShard, Vec<Currency>), FnError> {
    let info = storage.head(bucket, key).await?;
    if info.size > limits.max_shard_bytes {
        return Err(FnError::invalid(format!(
            "{key}: {} bytes, more than the {} bytes ({} MiB) a shard may have ({}): cut it with `summa-agg split {key} --shard-size K --out DIR`",
            info.size,
            limits.max_shard_bytes,
            limits.max_shard_bytes >> 20,
            limits.shard_bytes_reason
        )));
    }
    let planned = PlannedShard {
        reuse: None,
        key: key.to_string(),
        size: info.size,
        etag: info.etag,
    };
    let mut len = HEAD_BYTES;
    loop {
        let head = storage.get_range(bucket, key, 0, len).await?;
        let whole = (head.len() as u64) < len;
        let (header, rest) = match head.iter().position(|&b| b == b'\n') {
            Some(nl) => (&head[..=nl], &head[nl + 1..]),
            None if whole => (&head[..], &[][..]),
            None if len >= MAX_HEADER_BYTES => {
                return Err(summa_agg::Error::Row {
                    file: key.into(),
                    line: 1,
                    problem: format!(
                    "the header line is longer than {MAX_HEADER_BYTES} bytes (is this a CSV file?)"
                ),
                }
                .into())
            }
            None => {
                len *= 4;
                continue;
            }
        };
        let currencies = read_header(header, key)?;
        if rest.iter().all(u8::is_ascii_whitespace) {
            if whole {
                return Err(summa_agg::Error::Shard {
                    file: key.into(),
                    problem: "no users: the shard has only a header".into(),
                }
                .into());
            }
            if len < MAX_HEADER_BYTES {
                // Blank lines so far: look further.
                len *= 4;
                continue;
            }
        }
        return Ok((planned, currencies));
    }
}

/// Plans run R of a round: reads `P/round.json`, lists or takes the shards, checks
/// them against the round's [`Limits`] (from the environment: at most
/// `max_shards` shards, each at most `max_shard_bytes`), that each header is
/// valid and the same and that each shard has a user row, and writes
/// `P/runs/R/items.json` (the Map's items) then `P/runs/R/plan.json` with each
/// shard's ETag and size. Nothing outside `P/runs/R/` is touched: the published
/// `P/result.json` stays until this run completes.
pub async fn plan(storage: &impl Storage, input: RoundInput) -> Result<PlanOutput, FnError> {
    let limits = Limits::from_env().in_step(STEP)?;
    plan_within(storage, input, &limits).await
}

/// [`plan`] with the given limits.
pub async fn plan_within(
    storage: &impl Storage,
    input: RoundInput,
    limits: &Limits,
) -> Result<PlanOutput, FnError> {
    run(storage, &input, limits).await.in_step(STEP)
}

async fn run(
    storage: &impl Storage,
    input: &RoundInput,
    limits: &Limits,
) -> Result<PlanOutput, FnError> {
    let run = RunKeys::new(&input.prefix, &input.run)?;
    let keys = run.round();
    let bucket = input.bucket.as_str();
    // A run is planned once: plan.json, its last write, names a complete plan.
    // Planned again (the execution started again with the same input, where a
    // redrive does not apply), it keeps that plan and writes nothing, so that
    // nothing of a run that may be published already changes after it (found by
    // the fault campaign's state-machine part: a re-run rewrote items.json and
    // plan.json after P/result.json).
    match read_plan(storage, bucket, &run).await {
        Ok(plan) => return Ok(output(bucket, &run, &plan)),
        Err(e) if e.kind == ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let manifest_key = keys.manifest();
    let (manifest_bytes, manifest_etag) = storage.get_with_etag(bucket, &manifest_key).await?;
    let manifest = Manifest::parse(&manifest_bytes, &manifest_key)?;
    let params = manifest.params();
    let shards = match &manifest.shards {
        Some(s) => s.clone(),
        None => {
            let dir = keys.shards_dir();
            let shards: Vec<String> = storage
                .list(bucket, &dir)
                .await?
                .into_iter()
                .filter(|k| {
                    let rest = &k.as_bytes()[dir.len()..];
                    !rest.contains(&b'/')
                        && rest.len() > 4
                        && rest[rest.len() - 4..].eq_ignore_ascii_case(b".csv")
                })
                .collect();
            if shards.is_empty() {
                return Err(FnError::invalid(format!(
                    "no shard: nothing matches s3://{bucket}/{dir}*.csv and {manifest_key} lists none"
                )));
            }
            shards
        }
    };

    if shards.len() > limits.max_shards {
        return Err(FnError::invalid(format!(
            "{manifest_key}: {} shards, more than the {} a round may have (max_shards: MAX_SHARDS, or {MAX_SHARDS_ENV}): merge shards (up to {} bytes each) or split the round",
            shards.len(),
            limits.max_shards,
            limits.max_shard_bytes
        )));
    }
    let heads: Vec<(PlannedShard, Vec<Currency>)> =
        futures::stream::iter(shards.iter().enumerate())
            .map(|(i, key)| async move {
                shard_head(storage, bucket, key, limits)
                    .await
                    .map_err(|e| e.in_shard(i, key))
            })
            .buffered(CONCURRENCY)
            .try_collect()
            .await?;
    let currencies = heads[0].1.clone();
    for (i, (_, c)) in heads.iter().enumerate().skip(1) {
        check_header(&currencies, &shards[0], c, &shards[i])
            .map_err(|e| FnError::from(e).in_shard(i, &shards[i]))?;
    }

    let mut shards: Vec<PlannedShard> = heads.into_iter().map(|(s, _)| s).collect();
    let previous = match &manifest.previous {
        None => None,
        Some(prefix) => {
            Some(previous_round(storage, bucket, prefix, &params, &currencies, &mut shards).await?)
        }
    };
    let plan = PlanFile {
        previous,
        run: run.id().to_string(),
        planned_at_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        manifest_etag,
        layout: params.layout,
        n_bytes: params.n_bytes,
        currencies,
        index_bits: index_bits(
            shards.iter().map(|s| s.size).sum(),
            limits.index_partition_bytes,
        ),
        shards,
    };
    // The items first: a plan.json names a complete run.
    let items: Vec<MiniTreeInput> = plan
        .shards
        .iter()
        .enumerate()
        .map(|(i, planned)| MiniTreeInput {
            bucket: bucket.to_string(),
            prefix: keys.prefix().to_string(),
            run: run.id().to_string(),
            shard: i,
            task: Some(ShardTask {
                layout: plan.layout,
                n_bytes: plan.n_bytes,
                currencies: plan.currencies.clone(),
                planned: planned.clone(),
            }),
        })
        .collect();
    put_json(storage, bucket, &run.items(), &items, false).await?;
    drop(items);
    let index_bits = plan.index_bits;
    let index_items: Vec<AggregatorInput> = (0..1u64 << index_bits)
        .map(|p| AggregatorInput {
            bucket: bucket.to_string(),
            prefix: keys.prefix().to_string(),
            run: run.id().to_string(),
            failure: None,
            failed_step: None,
            shard: None,
            index: Some(IndexPartition {
                partition: p,
                bits: index_bits,
                shard_count: plan.shards.len(),
            }),
        })
        .collect();
    put_json(storage, bucket, &run.index_items(), &index_items, false).await?;
    put_json(storage, bucket, &run.plan(), &plan, true).await?;
    Ok(output(bucket, &run, &plan))
}

/// The state's output for a run's plan.
fn output(bucket: &str, run: &RunKeys, plan: &PlanFile) -> PlanOutput {
    PlanOutput {
        bucket: bucket.to_string(),
        prefix: run.round().prefix().to_string(),
        run: run.id().to_string(),
        layout: plan.layout,
        n_bytes: plan.n_bytes,
        shard_count: plan.shards.len(),
        items_key: run.items(),
        index_bits: plan.index_bits,
        index_items_key: run.index_items(),
    }
}

/// Looks at the previous round `prefix` names: its published result, if it was
/// built with the same layout, `n_bytes` and currencies, lends its mini-tree to
/// every shard of the same size and ETag (S3's content hash: an unchanged
/// object keeps it). A previous round that cannot be read or differs lends
/// nothing, and the plan says why. Only a storage failure other than a missing
/// result fails the plan.
async fn previous_round(
    storage: &impl Storage,
    bucket: &str,
    prefix: &str,
    params: &summa_agg::Params,
    currencies: &[Currency],
    shards: &mut [PlannedShard],
) -> Result<PreviousRound, FnError> {
    let keys = RoundKeys::new(prefix)?;
    let mut previous = PreviousRound {
        prefix: prefix.to_string(),
        run: None,
        untrusted: None,
    };
    let bytes = match storage.get(bucket, &keys.result()).await {
        Ok(b) => b,
        Err(e) if e.kind == crate::storage::StoreErrorKind::NotFound => {
            previous.untrusted = Some(format!("{} does not exist", keys.result()));
            return Ok(previous);
        }
        Err(e) => return Err(e.into()),
    };
    let result: summa_agg::json::RoundResult = match serde_json::from_slice(&bytes) {
        Ok(r) => r,
        Err(e) => {
            previous.untrusted = Some(format!("{}: not a round result: {e}", keys.result()));
            return Ok(previous);
        }
    };
    previous.run = result.run.clone();
    let why = if result.layout != params.layout || result.n_bytes != params.n_bytes {
        Some(format!(
            "it was built with layout {} and n_bytes {}, this round uses {} and {}",
            result.layout, result.n_bytes, params.layout, params.n_bytes
        ))
    } else if result.currencies != currencies {
        Some("its currencies (the shards' header) differ from this round's".to_string())
    } else if result.run.is_none() || result.inputs.len() as u64 != result.mini_trees {
        Some("its result names no run, or not one input per mini-tree".to_string())
    } else {
        None
    };
    if why.is_some() {
        previous.untrusted = why;
        return Ok(previous);
    }
    let run = result.run.clone().expect("checked");
    let run_keys = keys.run(&run)?;
    let mut by_content = std::collections::HashMap::new();
    for (j, input) in result.inputs.iter().enumerate() {
        if input.mini_tree != run_keys.mini_tree(j) {
            previous.untrusted = Some(format!(
                "input {j} names mini-tree {:?}, not {:?}",
                input.mini_tree,
                run_keys.mini_tree(j)
            ));
            return Ok(previous);
        }
        by_content
            .entry((input.etag.clone(), input.size))
            .or_insert(j);
    }
    for shard in shards.iter_mut() {
        if let Some(&j) = by_content.get(&(shard.etag.clone(), shard.size)) {
            shard.reuse = Some(ReuseFrom {
                prefix: prefix.to_string(),
                run: run.clone(),
                index: j,
                input: result.inputs[j].clone(),
            });
        }
    }
    Ok(previous)
}
