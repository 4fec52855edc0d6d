//! `summa-agg round`: a round on this machine (`summa_agg::round`), or over S3
//! with the Lambda functions' handlers in-process (`--bucket`, feature `s3`).

use std::path::PathBuf;

use summa_agg::round;
use summa_agg::{Error, Result};

use crate::args::RoundArgs;
use crate::output::{print_json, progress_bar};

/// `round`.
pub fn run(a: RoundArgs) -> Result<()> {
    let RoundArgs {
        inputs,
        out,
        params,
        bucket,
        prefix,
        previous,
    } = a;
    if let (Some(bucket), Some(prefix)) = (bucket, prefix) {
        if params.any() {
            return Err(Error::Invalid(
                "over S3 the layout and n_bytes come from the manifest, P/round.json".into(),
            ));
        }
        return round_s3(bucket, prefix);
    }
    let out = out.expect("clap requires --out without --bucket");
    round::clear_result(&out)?;
    let params = params.params();
    params.validate()?;
    let files = round::collect_inputs(&inputs)?;
    let bar = progress_bar(files.len() as u64);
    let outcome =
        round::run_local_with(&files, &out, &params, previous.as_deref(), &|_| bar.inc(1));
    bar.finish_and_clear();
    let (result, t, reuse) = outcome?;
    if previous.is_some() {
        report_reuse(&reuse, &files);
    }
    tell!(
        "summa-agg: round of {} users in {} mini-trees (depth {} = {} + {}), layout {}, n_bytes {}: {:.3} s (plan {:.3} s, mini-trees {:.3} s, aggregation {:.3} s); artifacts in {}",
        result.entries,
        result.mini_trees,
        result.depth,
        result.mini_tree_depth,
        result.depth - result.mini_tree_depth,
        result.layout,
        result.n_bytes,
        t.total.as_secs_f64(),
        t.plan.as_secs_f64(),
        t.mini_trees.as_secs_f64(),
        t.aggregation.as_secs_f64(),
        out.display()
    );
    print_json(&result, false)
}

/// `round --bucket B --prefix P`: plan, every mini-tree (as many at once as there
/// are cores) and the aggregation, with the Lambda handlers over S3, as run
/// `cli-<unix ms>-<pid>` (artifacts under `P/runs/<run>/`). A failure is recorded
/// in the run's `error.json` and `P/error.json` as the state machine's
/// RecordFailure does.
#[cfg(feature = "s3")]
fn round_s3(bucket: String, prefix: String) -> Result<()> {
    use summa_functions::model::RoundInput;
    use summa_functions::round::Progress;

    let run = format!(
        "cli-{}-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        std::process::id()
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the async runtime: {e}")))?;
    let outcome = rt.block_on(async {
        let storage = summa_functions::aws::s3_storage().await;
        let start = std::time::Instant::now();
        let input = RoundInput {
            bucket: bucket.clone(),
            prefix: prefix.clone(),
            run: run.clone(),
        };
        // The bar's length is the plan's shard count.
        let bar = progress_bar(0);
        let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
        let done =
            summa_functions::round::run(&storage, input.clone(), parallel, &|step| match step {
                Progress::Planned(plan) => bar.set_length(plan.shard_count as u64),
                Progress::Built(_) => bar.inc(1),
            })
            .await;
        bar.finish_and_clear();
        match done {
            Ok(done) => Ok((done.result, start.elapsed(), done.times)),
            Err(e) => {
                // The error's step and shard are fields: the record is made from
                // them directly.
                summa_functions::round::record_failure(&storage, &input, &e).await;
                Err(Error::Invalid(format!("{e} ({})", e.error_type())))
            }
        }
    });
    let (result, took, times) = outcome?;
    tell!(
        "summa-agg: round of {} users in {} mini-trees over s3://{bucket}/{prefix} (run {run}) in {:.3} s (plan {:.3} s, mini-trees {:.3} s, aggregation {:.3} s)",
        result.entries,
        result.mini_trees,
        took.as_secs_f64(),
        times.plan.as_secs_f64(),
        times.mini_trees.as_secs_f64(),
        times.aggregation.as_secs_f64(),
    );
    print_json(&result, false)
}

#[cfg(not(feature = "s3"))]
fn round_s3(_bucket: String, _prefix: String) -> Result<()> {
    Err(Error::Invalid(
        "this summa-agg was built without S3 support (cargo feature \"s3\")".into(),
    ))
}

/// The stderr summary of an incremental round: what was re-used, what rebuilt.
fn report_reuse(reuse: &round::Reuse, files: &[PathBuf]) {
    if let Some(why) = &reuse.untrusted {
        tell!("summa-agg: previous round not trusted, every shard rebuilt: {why}");
    }
    if let Some((from, to)) = reuse.depth_change {
        tell!(
            "summa-agg: the mini-tree depth changed from {from} to {to}: re-used mini-trees are lifted to it"
        );
    }
    tell!(
        "summa-agg: {} mini-trees re-used from the previous round, {} rebuilt",
        reuse.reused.len(),
        reuse.rebuilt.len()
    );
    for (i, why) in &reuse.rebuilt {
        match why {
            Some(why) => tell!(
                "summa-agg:   rebuilt {i} ({}): unchanged, but the previous mini-tree is not trusted: {why}",
                files[*i].display()
            ),
            None => tell!("summa-agg:   rebuilt {i} ({})", files[*i].display()),
        }
    }
}
