//! `summa-agg`: runs a Summa Merkle sum tree round on one machine.

use std::fs::File;
use std::io::{BufReader, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use summa_agg::format::TreeFile;
use summa_agg::layout::DEFAULT_N_BYTES;
use summa_agg::round::{self, AGGREGATION_FILE, RESULT_FILE};
use summa_agg::{export, json, proof, split, Error, Layout, Params, Result};

#[cfg(feature = "zk")]
mod zk;

#[derive(Parser)]
#[command(
    name = "summa-agg",
    version,
    about = "Summa-exact Merkle sum trees over CSV shards"
)]
struct Cli {
    /// The engine's threads (default: one per CPU the process may use, affinity
    /// and cgroup aware). With 1 the work runs on the calling thread and no
    /// thread is started.
    #[arg(long, global = true, value_name = "N")]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Builds a round: a mini-tree per shard, then the aggregation tree. The last
    /// line on stdout is the result as one JSON object.
    Round {
        /// Shard files, or directories whose *.csv files are the shards (ordered
        /// by file name).
        #[arg(required_unless_present = "bucket")]
        inputs: Vec<PathBuf>,
        /// Where to write the mini-trees, the aggregation tree and result.json.
        #[arg(long, required_unless_present = "bucket")]
        out: Option<PathBuf>,
        /// Hash layout: v1, agg2023 or legacy (default v1; over S3, the manifest's).
        #[arg(long)]
        layout: Option<Layout>,
        /// Every balance and total must be below 2^(8 * n_bytes) (default 14; over
        /// S3, the manifest's).
        #[arg(long)]
        n_bytes: Option<u8>,
        /// Runs the round over S3 instead: the shards and manifest under
        /// s3://BUCKET/PREFIX (any endpoint set with AWS_ENDPOINT_URL), with the
        /// Lambda functions' handlers in-process.
        #[arg(long, requires = "prefix", conflicts_with_all = ["inputs", "out"])]
        bucket: Option<String>,
        /// The round's prefix in the bucket (`P`, holding `P/round.json`).
        #[arg(long, requires = "bucket")]
        prefix: Option<String>,
        /// A previous round's output directory: shards whose bytes are unchanged
        /// since it re-use its mini-trees (checked) instead of being rebuilt.
        #[arg(long, conflicts_with = "bucket")]
        previous: Option<PathBuf>,
    },
    /// Prints a user's inclusion proof as JSON: the zero-knowledge proof (the only
    /// proof to hand a user), or with --merkle the custodian's own Merkle proof.
    Proof {
        /// The round's output directory.
        #[arg(long)]
        round: PathBuf,
        /// The username.
        #[arg(long)]
        user: String,
        /// The keys of the round's shape (from `summa-agg zk-keys`).
        #[arg(
            long,
            value_name = "KEYS",
            alias = "zk",
            required_unless_present = "merkle"
        )]
        keys: Option<PathBuf>,
        /// The Merkle proof instead: it shows the sibling leaf's balances and every
        /// sibling subtree's sums. The custodian's own tool; never for a user.
        #[arg(long, conflicts_with = "keys")]
        merkle: bool,
    },
    /// Verifies a proof against what the custodian published: exit 0 only if it
    /// holds. A zero-knowledge proof needs the root and totals (--result, or --root
    /// with --totals) and a ceremony's SRS file (--srs, or --keys); the verifying key
    /// is derived from the circuit.
    Verify {
        /// The proof, as printed by `summa-agg proof`.
        proof: PathBuf,
        /// The custodian's published result.json: the root hash, totals,
        /// currencies, layout, depth and n_bytes are taken from it, not from the
        /// proof.
        #[arg(long)]
        result: Option<PathBuf>,
        /// The published root hash the proof must reach.
        #[arg(long)]
        root: Option<String>,
        /// With --root, for a zero-knowledge proof: the published per-currency
        /// totals, in the round's currency order.
        #[arg(long, value_delimiter = ',', requires = "root")]
        totals: Option<Vec<String>>,
        /// An SRS file of a public ceremony in halo2's format with at least 2^k
        /// points (a ceremony's raw file, or the custodian's srs.bin): checked
        /// against the ceremonies pinned in this program.
        #[arg(long, value_name = "FILE")]
        srs: Option<PathBuf>,
        /// A keys directory: its srs.bin is the SRS (unless --srs), and its vk.bin
        /// must be the verifying key derived from the circuit.
        #[arg(long, value_name = "KEYS")]
        keys: Option<PathBuf>,
        /// Accepts the unsafe test setup: the result then proves nothing.
        #[arg(long)]
        unsafe_test_srs: bool,
        /// The username the proof must be for.
        #[arg(long)]
        user: Option<String>,
        /// The balances the proof must be for, in the published currency order.
        #[arg(long, value_delimiter = ',')]
        balances: Option<Vec<String>>,
    },
    /// Makes the zero-knowledge proving and verifying keys of a round's shape (or of
    /// an explicit one) and writes them into --out; prints keys.json. With --check,
    /// confirms that published keys are this circuit's on a ceremony's SRS.
    ZkKeys {
        /// The round's output directory: the shape comes from its result.json.
        #[arg(long, required_unless_present_any = ["depth", "check"], conflicts_with_all = ["depth", "currencies", "layout", "n_bytes"])]
        round: Option<PathBuf>,
        /// Explicit shape: the tree's depth.
        #[arg(long, requires = "currencies")]
        depth: Option<u32>,
        /// Explicit shape: the number of currencies.
        #[arg(long, requires = "depth")]
        currencies: Option<usize>,
        /// Explicit shape: the hash layout (default v1).
        #[arg(long)]
        layout: Option<Layout>,
        /// Explicit shape: n_bytes (default 14).
        #[arg(long)]
        n_bytes: Option<u8>,
        /// The structured reference string: a pinned public ceremony's file in
        /// halo2's `ParamsKZG` format (e.g. perpetual-powers-of-tau-raw-<k>,
        /// hermez-raw-<k>) with >= 2^k points.
        #[arg(long, value_name = "FILE", required_unless_present_any = ["unsafe_test_srs", "check"])]
        srs: Option<PathBuf>,
        /// Uses a deterministic SRS from a public seed: anyone can forge proofs
        /// against such keys. For tests and examples only.
        #[arg(long)]
        unsafe_test_srs: bool,
        /// Where to write the keys.
        #[arg(long, required_unless_present = "check")]
        out: Option<PathBuf>,
        /// Checks the keys directory KEYS instead: its vk.bin must be the key
        /// derived from the circuit of its shape over --srs (default KEYS/srs.bin).
        #[arg(long, value_name = "KEYS", conflicts_with_all = ["round", "depth", "out"])]
        check: Option<PathBuf>,
    },
    /// Benchmarks an incremental round: SHARDS shards of USERS generated users, a
    /// full round, then CHANGED shards changed and the round built again both in
    /// full and with --previous; checks both roots are equal, prints CPU and wall.
    BenchIncremental {
        /// Shards in the round.
        #[arg(long, default_value_t = 16)]
        shards: usize,
        /// Users per shard.
        #[arg(long, default_value_t = 1 << 16)]
        users: u64,
        /// Shards changed between the two rounds.
        #[arg(long, default_value_t = 1)]
        changed: usize,
    },
    /// Benchmarks zero-knowledge proofs of a shape (unsafe test SRS, synthetic path):
    /// key generation, proving (wall and CPU), verifying, sizes, peak memory.
    BenchZk {
        /// The tree's depth.
        #[arg(long, default_value_t = 20)]
        depth: u32,
        /// The number of currencies.
        #[arg(long, default_value_t = 2)]
        currencies: usize,
        /// The hash layout.
        #[arg(long, default_value = "v1")]
        layout: Layout,
        /// n_bytes.
        #[arg(long, default_value_t = DEFAULT_N_BYTES)]
        n_bytes: u8,
        /// Proofs to make and verify (times are averaged).
        #[arg(long, default_value_t = 3)]
        proofs: usize,
    },
    /// Cuts one big CSV into shards of K users.
    Split {
        /// The CSV file.
        input: PathBuf,
        /// Users per shard.
        #[arg(long)]
        shard_size: u64,
        /// The output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Benchmarks the engine against summa-solvency's algorithm on generated users:
    /// checks both roots are equal, prints CPU times, the ratio and peak memory.
    Bench {
        /// Number of users (one mini-tree).
        #[arg(long, default_value_t = 1 << 16)]
        users: u64,
        /// Number of currencies.
        #[arg(long, default_value_t = 2)]
        currencies: usize,
        /// Hash layout.
        #[arg(long, default_value = "v1")]
        layout: Layout,
        /// Skip the (slow) reference algorithm.
        #[arg(long)]
        no_reference: bool,
        /// Skip the single-thread run of the engine.
        #[arg(long)]
        no_single_thread: bool,
    },
    /// Prints a mini-tree in summa-aggregation's mini-tree-generator JSON shape.
    ExportJson {
        /// The round's output directory.
        #[arg(long)]
        round: PathBuf,
        /// The mini-tree's index (0-based, in shard order).
        #[arg(long)]
        mini_tree: usize,
    },
    /// Checks this build's field arithmetic and Poseidon against halo2curves and
    /// the generic primitive (edge and pseudo-random values; starts no thread, so
    /// it runs under qemu-user: infra/arm64-test.sh). Prints one JSON line.
    #[command(hide = true)]
    SelfTest {
        /// Pseudo-random cases (each: 12 field checks).
        #[arg(long, default_value_t = 20_000)]
        cases: usize,
    },
}

fn open_tree(path: &Path) -> Result<TreeFile<File>> {
    let f = File::open(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    TreeFile::open(f, path.display().to_string())
}

fn print_json<T: serde::Serialize>(v: &T, pretty: bool) -> Result<()> {
    let s = if pretty {
        serde_json::to_string_pretty(v)
    } else {
        serde_json::to_string(v)
    };
    println!("{}", s.map_err(|e| Error::Invalid(e.to_string()))?);
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    // Over S3 the engine runs on tokio's blocking threads: its pool must have
    // threads of its own.
    if matches!(
        cli.command,
        Command::Round {
            bucket: Some(_),
            ..
        }
    ) {
        summa_agg::threads::configure_pool(cli.threads)?;
    } else {
        summa_agg::threads::configure(cli.threads)?;
    }
    match cli.command {
        Command::Round {
            inputs,
            out,
            layout,
            n_bytes,
            bucket,
            prefix,
            previous,
        } => {
            if let (Some(bucket), Some(prefix)) = (bucket, prefix) {
                if layout.is_some() || n_bytes.is_some() {
                    return Err(Error::Invalid(
                        "over S3 the layout and n_bytes come from the manifest, P/round.json"
                            .into(),
                    ));
                }
                return round_s3(bucket, prefix);
            }
            let out = out.expect("clap requires --out without --bucket");
            round::clear_result(&out)?;
            let params = Params {
                layout: layout.unwrap_or_default(),
                n_bytes: n_bytes.unwrap_or(DEFAULT_N_BYTES),
            };
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
            eprintln!(
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
        Command::Proof {
            round: dir,
            user,
            keys,
            merkle,
        } => {
            let agg = open_tree(&dir.join(AGGREGATION_FILE))?;
            if !dir.join(RESULT_FILE).is_file() {
                return Err(Error::Invalid(format!(
                    "{}: no {RESULT_FILE}: the round did not complete",
                    dir.display()
                )));
            }
            let p = proof::generate(
                &agg,
                |i| open_tree(&dir.join(round::mini_tree_path(i))),
                &user,
            )?;
            match (keys, merkle) {
                (Some(keys), false) => zk_proof(&p, &keys),
                _ => {
                    eprintln!("summa-agg: a Merkle proof shows other users' balances: the custodian's own tool, never for a user");
                    print_json(&p, true)
                }
            }
        }
        Command::Verify {
            proof: path,
            result,
            root,
            totals,
            srs,
            keys,
            unsafe_test_srs,
            user,
            balances,
        } => {
            let f = File::open(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
            let bad = |e: serde_json::Error| Error::Format {
                path: path.display().to_string(),
                what: "proof",
                problem: e.to_string(),
            };
            let value: serde_json::Value =
                serde_json::from_reader(BufReader::new(f)).map_err(bad)?;
            if value.get("kind").is_some() {
                return zk_verify(
                    &path,
                    value,
                    &VerifyArgs {
                        result: result.as_deref(),
                        root: root.as_deref(),
                        totals: totals.as_deref(),
                        srs: srs.as_deref(),
                        keys: keys.as_deref(),
                        unsafe_test_srs,
                        user: user.as_deref(),
                        balances: balances.as_deref(),
                    },
                );
            }
            if keys.is_some() || srs.is_some() || unsafe_test_srs || totals.is_some() {
                return Err(Error::Invalid(format!(
                    "{}: not a zero-knowledge proof (--keys, --srs, --unsafe-test-srs and --totals are for those)",
                    path.display()
                )));
            }
            let p: proof::Proof = serde_json::from_value(value).map_err(bad)?;
            let expected = root.map(|r| json::parse_fr(&r, "--root")).transpose()?;
            let reached = match result {
                Some(rpath) => {
                    let published = read_result(&rpath)?;
                    let reached = proof::verify_with_result(&p, &published)?;
                    if let Some(r) = expected {
                        if r != reached.hash {
                            return Err(Error::Proof(format!(
                                "--root {} is not the root of {}",
                                summa_agg::field::to_hex(&r),
                                rpath.display()
                            )));
                        }
                    }
                    reached
                }
                None if expected.is_some() => proof::verify(&p, expected.as_ref())?,
                None => {
                    return Err(Error::Invalid(
                        "give --root or --result: the root the custodian published".into(),
                    ))
                }
            };
            check_record(&p.entry, user.as_deref(), balances.as_deref())?;
            eprintln!(
                "summa-agg: proof of {:?} (balances {}) verifies: root {} with totals [{}]",
                p.entry.username,
                p.entry.balances.join(", "),
                summa_agg::field::to_hex(&reached.hash),
                reached
                    .balances
                    .iter()
                    .map(|b| b.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(())
        }
        Command::Split {
            input,
            shard_size,
            out,
        } => {
            let f = File::open(&input).map_err(|e| Error::io(input.display().to_string(), e))?;
            let paths = split::split(
                BufReader::with_capacity(1 << 16, f),
                &input.display().to_string(),
                shard_size,
                &out,
            )?;
            eprintln!(
                "summa-agg: {} shards of up to {shard_size} users in {}",
                paths.len(),
                out.display()
            );
            Ok(())
        }
        Command::Bench {
            users,
            currencies,
            layout,
            no_reference,
            no_single_thread,
        } => bench(users, currencies, layout, !no_reference, !no_single_thread),
        Command::BenchIncremental {
            shards,
            users,
            changed,
        } => bench_incremental(shards, users, changed),
        Command::ZkKeys {
            round: dir,
            depth,
            currencies,
            layout,
            n_bytes,
            srs,
            unsafe_test_srs,
            out,
            check,
        } => match check {
            Some(keys) => zk_check_keys(&keys, srs.as_deref(), unsafe_test_srs),
            None => zk_keys(
                dir,
                (layout, depth, currencies, n_bytes),
                srs,
                unsafe_test_srs,
                &out.expect("clap requires --out without --check"),
            ),
        },
        Command::BenchZk {
            depth,
            currencies,
            layout,
            n_bytes,
            proofs,
        } => zk_bench(
            (Some(layout), Some(depth), Some(currencies), Some(n_bytes)),
            proofs,
        ),
        Command::ExportJson {
            round: dir,
            mini_tree,
        } => {
            let f = open_tree(&dir.join(round::mini_tree_path(mini_tree)))?;
            print_json(&export::mini_tree_json(&f)?, true)
        }
        Command::SelfTest { cases } => {
            let r = summa_agg::poseidon::self_test(cases);
            let report = serde_json::json!({"field_ops": r.field_ops,
                "checks": r.checks, "failures": r.failures});
            println!("{report}");
            if r.failures.is_empty() {
                Ok(())
            } else {
                Err(Error::Invalid(format!(
                    "self-test: {} failures",
                    r.failures.len()
                )))
            }
        }
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template(
            "{spinner} mini-trees {bar:40} {pos}/{len} [{elapsed_precise}, eta {eta}]",
        )
        .expect("template"),
    );
    b
}

/// `round --bucket B --prefix P`: plan, every mini-tree (as many at once as there
/// are cores) and the aggregation, with the Lambda handlers over S3, as run
/// `cli-<unix ms>-<pid>` (artifacts under `P/runs/<run>/`). A failure is recorded
/// in the run's `error.json` and `P/error.json` as the state machine's
/// RecordFailure does.
#[cfg(feature = "s3")]
fn round_s3(bucket: String, prefix: String) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    use summa_functions::handlers;
    use summa_functions::model::{
        AggregatorInput, AggregatorOutput, ErrorRecord, MiniTreeInput, RoundInput, RunKeys,
    };

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
        let steps = async {
            let input = RoundInput {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                run: run.clone(),
            };
            let plan = handlers::plan(&storage, input).await?;
            let planned = start.elapsed();
            let bar = progress_bar(plan.shard_count as u64);
            let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
            futures::stream::iter(plan.items)
                .map(|shard| {
                    handlers::mini_tree(
                        &storage,
                        MiniTreeInput {
                            bucket: bucket.clone(),
                            prefix: prefix.clone(),
                            run: run.clone(),
                            shard,
                        },
                    )
                })
                .buffer_unordered(parallel)
                .try_for_each(|_| async {
                    bar.inc(1);
                    Ok(())
                })
                .await?;
            bar.finish_and_clear();
            let built = start.elapsed();
            let input = AggregatorInput {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                run: run.clone(),
                failure: None,
                failed_step: None,
                shard: None,
            };
            match handlers::aggregator(&storage, input).await? {
                AggregatorOutput::Result(r) => {
                    Ok((*r, [planned, built - planned, start.elapsed() - built]))
                }
                AggregatorOutput::Failure(f) => Err(summa_functions::FnError::internal(f.cause)),
            }
        };
        match steps.await {
            Ok((r, steps)) => Ok((r, start.elapsed(), steps)),
            Err(e) => {
                // The error's step and shard are fields: the record is made from
                // them directly.
                if let Ok(keys) = RunKeys::new(&prefix, &run) {
                    let record = ErrorRecord::of(&e, Some(&run));
                    let _ = handlers::publish_error(&storage, &bucket, &keys, &record).await;
                }
                Err(Error::Invalid(format!("{e} ({})", e.error_type())))
            }
        }
    });
    let (result, took, [plan, mini_trees, aggregation]) = outcome?;
    eprintln!(
        "summa-agg: round of {} users in {} mini-trees over s3://{bucket}/{prefix} (run {run}) in {:.3} s (plan {:.3} s, mini-trees {:.3} s, aggregation {:.3} s)",
        result.entries,
        result.mini_trees,
        took.as_secs_f64(),
        plan.as_secs_f64(),
        mini_trees.as_secs_f64(),
        aggregation.as_secs_f64(),
    );
    print_json(&result, false)
}

#[cfg(not(feature = "s3"))]
fn round_s3(_bucket: String, _prefix: String) -> Result<()> {
    Err(Error::Invalid(
        "this summa-agg was built without S3 support (cargo feature \"s3\")".into(),
    ))
}

/// `bench-incremental`.
fn bench_incremental(shards: usize, users: u64, changed: usize) -> Result<()> {
    use std::io::Write;
    if shards == 0 || users == 0 || changed > shards {
        return Err(Error::Invalid(
            "--shards and --users must be at least 1 and --changed at most --shards".into(),
        ));
    }
    let dir = std::env::temp_dir().join(format!("summa-agg-bench-inc-{}", std::process::id()));
    let io = |e| Error::io(dir.display().to_string(), e);
    let write = |sub: &str, seed_of: &dyn Fn(usize) -> u64| -> Result<Vec<PathBuf>> {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(io)?;
        (0..shards)
            .map(|i| {
                let p = d.join(format!("shard-{i:04}.csv"));
                let mut w = std::io::BufWriter::new(File::create(&p).map_err(io)?);
                summa_agg::bench::write_csv(&mut w, users, 2, seed_of(i)).map_err(io)?;
                w.flush().map_err(io)?;
                Ok(p)
            })
            .collect()
    };
    let params = Params::default();
    let before = write("in1", &|i| i as u64 + 1)?;
    let after = write("in2", &|i| {
        if i < changed {
            1_000_000 + i as u64
        } else {
            i as u64 + 1
        }
    })?;
    let run = |files: &[PathBuf], out: &str, prev: Option<&Path>| {
        measure(|| round::run_local_with(files, &dir.join(out), &params, prev, &|_| {}))
    };
    let (first, _, _) = run(&before, "round1", None);
    first?;
    let (full, full_wall, full_cpu) = run(&after, "full", None);
    let (full, _, _) = full?;
    let (inc, inc_wall, inc_cpu) = run(&after, "incremental", Some(&dir.join("round1")));
    let (inc, inc_t, reuse) = inc?;
    let _ = std::fs::remove_dir_all(&dir);
    if inc.root != full.root {
        return Err(Error::Invalid(
            "the incremental root differs from the full one".into(),
        ));
    }
    let share = changed as f64 / shards as f64;
    let report = serde_json::json!({
        "shards": shards,
        "users_per_shard": users,
        "changed": changed,
        "reused": reuse.reused.len(),
        "full_wall_s": full_wall,
        "full_cpu_s": full_cpu,
        "incremental_wall_s": inc_wall,
        "incremental_cpu_s": inc_cpu,
        "incremental_cpu_vs_changed_share_of_full": inc_cpu / (full_cpu * share),
        "roots_equal": true,
        "incremental_plan_s": inc_t.plan.as_secs_f64(),
        "incremental_mini_trees_s": inc_t.mini_trees.as_secs_f64(),
        "incremental_aggregation_s": inc_t.aggregation.as_secs_f64(),
    });
    eprintln!(
        "bench-incremental: {shards} shards x {users} users, {changed} changed: full {full_wall:.3} s wall / {full_cpu:.3} s CPU; incremental {inc_wall:.3} s wall / {inc_cpu:.3} s CPU ({} re-used) = {:.2}x the changed shards' share of the full round's CPU; roots equal",
        reuse.reused.len(),
        inc_cpu / (full_cpu * share)
    );
    print_json(&report, false)
}

/// A published `result.json`.
fn read_result(path: &Path) -> Result<json::RoundResult> {
    let text = std::fs::read(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    serde_json::from_slice(&text).map_err(|e| Error::Format {
        path: path.display().to_string(),
        what: "round result",
        problem: e.to_string(),
    })
}

/// The stderr summary of an incremental round: what was re-used, what rebuilt.
fn report_reuse(reuse: &round::Reuse, files: &[PathBuf]) {
    if let Some(why) = &reuse.untrusted {
        eprintln!("summa-agg: previous round not trusted, every shard rebuilt: {why}");
    }
    if let Some((from, to)) = reuse.depth_change {
        eprintln!(
            "summa-agg: the mini-tree depth changed from {from} to {to}: re-used mini-trees are lifted to it"
        );
    }
    eprintln!(
        "summa-agg: {} mini-trees re-used from the previous round, {} rebuilt",
        reuse.reused.len(),
        reuse.rebuilt.len()
    );
    for (i, why) in &reuse.rebuilt {
        match why {
            Some(why) => eprintln!(
                "summa-agg:   rebuilt {i} ({}): unchanged, but the previous mini-tree is not trusted: {why}",
                files[*i].display()
            ),
            None => eprintln!("summa-agg:   rebuilt {i} ({})", files[*i].display()),
        }
    }
}

/// An explicit circuit shape: layout, depth, currencies, n_bytes.
type ShapeArgs = (Option<Layout>, Option<u32>, Option<usize>, Option<u8>);

/// What `verify` was given besides the proof file.
pub struct VerifyArgs<'a> {
    /// `--result`.
    pub result: Option<&'a Path>,
    /// `--root`.
    pub root: Option<&'a str>,
    /// `--totals`.
    pub totals: Option<&'a [String]>,
    /// `--srs`.
    pub srs: Option<&'a Path>,
    /// `--keys`.
    pub keys: Option<&'a Path>,
    /// `--unsafe-test-srs`.
    pub unsafe_test_srs: bool,
    /// `--user`.
    pub user: Option<&'a str>,
    /// `--balances`.
    pub balances: Option<&'a [String]>,
}

/// `verify --user/--balances` of a Merkle proof: the entry must be that record.
fn check_record(
    entry: &proof::EntryJson,
    user: Option<&str>,
    balances: Option<&[String]>,
) -> Result<()> {
    if let Some(u) = user {
        if entry.username != u {
            return Err(Error::Proof(format!(
                "proof is for user {:?}, not {u:?}",
                entry.username
            )));
        }
    }
    if let Some(want) = balances {
        let parse = |b: &String| summa_agg::field::parse_decimal(b.as_bytes()).ok();
        let same = want.len() == entry.balances.len()
            && want
                .iter()
                .zip(&entry.balances)
                .all(|(w, e)| parse(w).is_some() && parse(w) == parse(e));
        if !same {
            return Err(Error::Proof(format!(
                "proof is for balances {}, not {}",
                entry.balances.join(", "),
                want.join(", ")
            )));
        }
    }
    Ok(())
}

#[cfg(feature = "zk")]
fn zk_proof(p: &proof::Proof, keys: &Path) -> Result<()> {
    zk::prove(p, keys)
}

#[cfg(feature = "zk")]
fn zk_verify(path: &Path, value: serde_json::Value, args: &VerifyArgs) -> Result<()> {
    zk::verify(path, value, args)
}

#[cfg(feature = "zk")]
fn zk_check_keys(keys: &Path, srs: Option<&Path>, unsafe_test_srs: bool) -> Result<()> {
    zk::check_keys(keys, srs, unsafe_test_srs)
}

#[cfg(feature = "zk")]
fn zk_keys(
    round: Option<PathBuf>,
    (layout, depth, currencies, n_bytes): ShapeArgs,
    srs: Option<PathBuf>,
    unsafe_test_srs: bool,
    out: &Path,
) -> Result<()> {
    let shape = match round {
        Some(dir) => zk::round_shape(&dir)?,
        None => zk::explicit_shape(
            layout.unwrap_or_default(),
            depth.expect("clap requires --depth"),
            currencies.expect("clap requires --currencies"),
            n_bytes.unwrap_or(DEFAULT_N_BYTES),
        ),
    };
    zk::keys(shape, srs, unsafe_test_srs, out)
}

#[cfg(feature = "zk")]
fn zk_bench((layout, depth, currencies, n_bytes): ShapeArgs, proofs: usize) -> Result<()> {
    let shape = zk::explicit_shape(
        layout.unwrap_or_default(),
        depth.unwrap_or(20),
        currencies.unwrap_or(2),
        n_bytes.unwrap_or(DEFAULT_N_BYTES),
    );
    zk::bench(shape, proofs)
}

#[cfg(not(feature = "zk"))]
fn no_zk() -> Result<()> {
    Err(Error::Invalid(
        "this summa-agg was built without zero-knowledge proofs (cargo feature \"zk\")".into(),
    ))
}

#[cfg(not(feature = "zk"))]
fn zk_proof(_: &proof::Proof, _: &Path) -> Result<()> {
    no_zk()
}

#[cfg(not(feature = "zk"))]
fn zk_verify(_: &Path, _: serde_json::Value, _: &VerifyArgs) -> Result<()> {
    no_zk()
}

#[cfg(not(feature = "zk"))]
fn zk_check_keys(_: &Path, _: Option<&Path>, _: bool) -> Result<()> {
    no_zk()
}

#[cfg(not(feature = "zk"))]
fn zk_keys(_: Option<PathBuf>, _: ShapeArgs, _: Option<PathBuf>, _: bool, _: &Path) -> Result<()> {
    no_zk()
}

#[cfg(not(feature = "zk"))]
fn zk_bench(_: ShapeArgs, _: usize) -> Result<()> {
    no_zk()
}

/// CPU time of the whole process (all threads), user + system.
fn cpu_time() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// A `/proc/self/status` field in bytes (VmRSS, VmHWM); 0 where there is none.
fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib * 1024)
}

/// Runs `f`, returning its value, wall time and process CPU time.
fn measure<T>(f: impl FnOnce() -> T) -> (T, f64, f64) {
    let (w, c) = (std::time::Instant::now(), cpu_time());
    let v = f();
    (v, w.elapsed().as_secs_f64(), cpu_time() - c)
}

fn bench(
    users: u64,
    n_currencies: usize,
    layout: Layout,
    reference: bool,
    single: bool,
) -> Result<()> {
    use std::io::Write;
    if users == 0 || n_currencies == 0 {
        return Err(Error::Invalid(
            "--users and --currencies must be at least 1".into(),
        ));
    }
    let params = Params {
        layout,
        n_bytes: DEFAULT_N_BYTES,
    };
    let path = std::env::temp_dir().join(format!("summa-agg-bench-{}.csv", std::process::id()));
    let io = |e| Error::io(path.display().to_string(), e);
    {
        let mut w = std::io::BufWriter::new(File::create(&path).map_err(io)?);
        summa_agg::bench::write_csv(&mut w, users, n_currencies, 42).map_err(io)?;
        w.flush().map_err(io)?;
    }
    let threads = rayon::current_num_threads();
    let name = path.display().to_string();
    let build = || -> Result<summa_agg::tree::Node> {
        let f = File::open(&path).map_err(io)?;
        Ok(
            round::build_mini_tree(BufReader::with_capacity(1 << 16, f), &name, &params, None)?
                .root(),
        )
    };
    println!(
        "bench: {users} users, {n_currencies} currencies, layout {layout}, Poseidon backend {}, {threads} threads",
        summa_agg::poseidon::backend()
    );
    let baseline = proc_status_bytes("VmRSS:");
    let (root, wall, cpu) = measure(build);
    let root = root?;
    let peak = proc_status_bytes("VmHWM:");
    let per_user = |t: f64| t / users as f64 * 1e6;
    println!(
        "  engine, {threads} threads:   wall {wall:8.3} s, cpu {cpu:8.3} s ({:.2} us cpu/user)",
        per_user(cpu)
    );
    let mut report = serde_json::json!({
        "users": users, "currencies": n_currencies, "layout": layout, "threads": threads,
        "backend": summa_agg::poseidon::backend(),
        "root": summa_agg::field::to_hex(&root.hash),
        "engine": {"wall_s": wall, "cpu_s": cpu},
        "peak_rss_bytes": peak, "baseline_rss_bytes": baseline,
        "bytes_per_user": (peak.saturating_sub(baseline)) as f64 / users as f64,
    });
    if single {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| Error::Invalid(e.to_string()))?;
        let (r1, wall1, cpu1) = measure(|| pool.install(build));
        if r1?.hash != root.hash {
            return Err(Error::Invalid("the single-thread root differs".into()));
        }
        println!(
            "  engine, 1 thread:    wall {wall1:8.3} s, cpu {cpu1:8.3} s; {threads} threads are {:.2}x faster",
            wall1 / wall
        );
        report["engine_1_thread"] =
            serde_json::json!({"wall_s": wall1, "cpu_s": cpu1, "speedup": wall1 / wall});
    }
    if reference {
        let (entries, _, _) = measure(|| -> Result<_> {
            let text = std::fs::read_to_string(&path).map_err(io)?;
            summa_agg::reference::entries_from_csv(&text).ok_or_else(|| {
                Error::Invalid(format!("{}: not a CSV of decimal balances", path.display()))
            })
        });
        let entries = entries?;
        let ((ref_root, _), rwall, rcpu) = measure(|| summa_agg::reference::root(layout, &entries));
        if ref_root.hash != root.hash {
            return Err(Error::Invalid(format!(
                "roots differ: engine {}, reference {}",
                summa_agg::field::to_hex(&root.hash),
                summa_agg::field::to_hex(&ref_root.hash)
            )));
        }
        println!(
            "  reference, 1 thread: wall {rwall:8.3} s, cpu {rcpu:8.3} s ({:.2} us cpu/user); roots equal",
            per_user(rcpu)
        );
        println!("  cpu ratio reference / engine: {:.1}x", rcpu / cpu);
        report["reference"] =
            serde_json::json!({"wall_s": rwall, "cpu_s": rcpu, "cpu_ratio": rcpu / cpu});
    }
    println!(
        "  peak RSS {:.1} MiB (baseline {:.1} MiB): {:.0} bytes/user",
        peak as f64 / 1048576.0,
        baseline as f64 / 1048576.0,
        peak.saturating_sub(baseline) as f64 / users as f64
    );
    println!("  root {}", summa_agg::field::to_hex(&root.hash));
    let _ = std::fs::remove_file(&path);
    print_json(&report, false)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("summa-agg: error: {e}");
            ExitCode::FAILURE
        }
    }
}
