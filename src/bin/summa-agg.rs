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

#[derive(Parser)]
#[command(
    name = "summa-agg",
    version,
    about = "Summa-exact Merkle sum trees over CSV shards"
)]
struct Cli {
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
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Where to write the mini-trees, the aggregation tree and result.json.
        #[arg(long)]
        out: PathBuf,
        /// Hash layout: v1, agg2023 or legacy.
        #[arg(long, default_value = "v1")]
        layout: Layout,
        /// Every balance and total must be below 2^(8 * n_bytes).
        #[arg(long, default_value_t = DEFAULT_N_BYTES)]
        n_bytes: u8,
    },
    /// Prints a user's inclusion proof as JSON.
    Proof {
        /// The round's output directory.
        #[arg(long)]
        round: PathBuf,
        /// The username.
        #[arg(long)]
        user: String,
    },
    /// Verifies a proof: exit 0 only if its path reaches its root (and --root).
    Verify {
        /// The proof, as printed by `summa-agg proof`.
        proof: PathBuf,
        /// The published root hash the proof must reach.
        #[arg(long)]
        root: Option<String>,
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
    /// Prints a mini-tree in summa-aggregation's mini-tree-generator JSON shape.
    ExportJson {
        /// The round's output directory.
        #[arg(long)]
        round: PathBuf,
        /// The mini-tree's index (0-based, in shard order).
        #[arg(long)]
        mini_tree: usize,
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
    match cli.command {
        Command::Round {
            inputs,
            out,
            layout,
            n_bytes,
        } => {
            round::clear_result(&out)?;
            let params = Params { layout, n_bytes };
            params.validate()?;
            let files = round::collect_inputs(&inputs)?;
            let bar = if std::io::stderr().is_terminal() {
                let b = ProgressBar::new(files.len() as u64);
                b.set_style(
                    ProgressStyle::with_template(
                        "{spinner} mini-trees {bar:40} {pos}/{len} [{elapsed_precise}, eta {eta}]",
                    )
                    .expect("template"),
                );
                b
            } else {
                ProgressBar::hidden()
            };
            let outcome = round::run_local(&files, &out, &params, &|_| bar.inc(1));
            bar.finish_and_clear();
            let (result, t) = outcome?;
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
        Command::Proof { round: dir, user } => {
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
            print_json(&p, true)
        }
        Command::Verify { proof: path, root } => {
            let f = File::open(&path).map_err(|e| Error::io(path.display().to_string(), e))?;
            let p: proof::Proof =
                serde_json::from_reader(BufReader::new(f)).map_err(|e| Error::Format {
                    path: path.display().to_string(),
                    what: "proof",
                    problem: e.to_string(),
                })?;
            let expected = root.map(|r| json::parse_fr(&r, "--root")).transpose()?;
            let reached = proof::verify(&p, expected.as_ref())?;
            eprintln!(
                "summa-agg: proof of {:?} verifies: root {} with totals [{}]",
                p.entry.username,
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
        Command::ExportJson {
            round: dir,
            mini_tree,
        } => {
            let f = open_tree(&dir.join(round::mini_tree_path(mini_tree)))?;
            print_json(&export::mini_tree_json(&f)?, true)
        }
    }
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
