//! `plan`: reads the manifest and the head of every shard, writes `P/plan.json`.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use summa_agg::shard::{check_header, read_header, Currency};

use crate::error::FnError;
use crate::model::{Manifest, PlanFile, PlanOutput, RoundInput, RoundKeys};
use crate::storage::Storage;

/// Bytes of a shard read to check it: enough for the header and a row.
pub const HEAD_BYTES: u64 = 64 << 10;
/// A header longer than this is refused.
const MAX_HEADER_BYTES: u64 = 16 << 20;
/// Shards checked at once.
const CONCURRENCY: usize = 32;

/// The step's name in error messages and `error.json`.
pub const STEP: &str = "plan";

/// Reads the head of shard `key` and returns its currencies; fails if the header
/// is invalid or no user row follows it.
async fn shard_head(
    storage: &impl Storage,
    bucket: &str,
    key: &str,
) -> Result<Vec<Currency>, FnError> {
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
        return Ok(currencies);
    }
}

/// Plans a round: reads `P/round.json`, lists or takes the shards, checks that
/// every shard's header is valid and the same and that it has a user row, removes
/// a previous `P/result.json` and `P/error.json`, writes `P/plan.json`.
pub async fn plan(storage: &impl Storage, input: RoundInput) -> Result<PlanOutput, FnError> {
    run(storage, &input).await.map_err(|e| e.in_step(STEP))
}

async fn run(storage: &impl Storage, input: &RoundInput) -> Result<PlanOutput, FnError> {
    let keys = RoundKeys::new(&input.prefix)?;
    let bucket = input.bucket.as_str();
    // A re-run starts by withdrawing the previous outcome.
    storage.delete(bucket, &keys.result()).await?;
    storage.delete(bucket, &keys.error()).await?;

    let manifest_key = keys.manifest();
    let manifest = Manifest::parse(&storage.get(bucket, &manifest_key).await?, &manifest_key)?;
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
                return Err(FnError::InvalidInput(format!(
                    "no shard: nothing matches s3://{bucket}/{dir}*.csv and {manifest_key} lists none"
                )));
            }
            shards
        }
    };

    let heads: Vec<Vec<Currency>> = futures::stream::iter(shards.iter().enumerate())
        .map(|(i, key)| async move {
            shard_head(storage, bucket, key)
                .await
                .map_err(|e| e.in_shard(i, key))
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    let currencies = heads[0].clone();
    for (i, c) in heads.iter().enumerate().skip(1) {
        check_header(&currencies, &shards[0], c, &shards[i])
            .map_err(|e| FnError::from(e).in_shard(i, &shards[i]))?;
    }

    let plan = PlanFile {
        layout: params.layout,
        n_bytes: params.n_bytes,
        currencies,
        shards,
    };
    let mut body = serde_json::to_vec_pretty(&plan).expect("a plan serializes");
    body.push(b'\n');
    storage
        .put(bucket, &keys.plan(), Bytes::from(body), "application/json")
        .await?;
    let n = plan.shards.len();
    Ok(PlanOutput {
        bucket: bucket.to_string(),
        prefix: keys.prefix().to_string(),
        layout: plan.layout,
        n_bytes: plan.n_bytes,
        shard_count: n,
        items: (0..n).collect(),
    })
}
