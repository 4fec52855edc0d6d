//! `summa-agg`: runs a Summa Merkle sum tree round on one machine.
//!
//! This file parses the command line ([`args`]) and hands each command's
//! arguments to its module in `commands/`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;

#[macro_use]
mod output;
mod args;
mod commands;

use args::{Cli, Command};
use commands::{bench, files, proof, round};

fn run(cli: Cli) -> summa_agg::Result<()> {
    // Over S3 the engine runs on tokio's blocking threads: its pool must have
    // threads of its own.
    #[cfg(feature = "s3")]
    let pooled = matches!(&cli.command, Command::Step(_));
    #[cfg(not(feature = "s3"))]
    let pooled = false;
    if pooled || matches!(&cli.command, Command::Round(a) if a.bucket.is_some()) {
        summa_agg::threads::configure_pool(cli.threads)?;
    } else {
        summa_agg::threads::configure(cli.threads)?;
    }
    match cli.command {
        Command::Round(a) => round::run(a),
        Command::Proof(a) => proof::prove(a),
        Command::Verify(a) => proof::verify(a),
        #[cfg(feature = "zk")]
        Command::ZkKeys(a) => commands::zk::keys_command(a),
        Command::BenchIncremental(a) => bench::incremental(a),
        #[cfg(feature = "zk")]
        Command::BenchZk(a) => commands::zk::bench_command(a),
        Command::Split(a) => files::split(a),
        Command::Bench(a) => bench::engine(a),
        Command::ExportJson(a) => files::export_json(a),
        Command::SelfTest(a) => bench::self_test(a),
        #[cfg(feature = "s3")]
        Command::Step(a) => commands::step::run(a),
        #[cfg(feature = "chain")]
        Command::Chain(c) => match c {
            args::ChainCommand::GenVerifier(a) => commands::chain::gen_verifier(a),
            args::ChainCommand::Deploy(a) => commands::chain::deploy(a),
            args::ChainCommand::Publish(a) => commands::chain::publish(a),
        },
    }
}

fn main() -> ExitCode {
    // A panic's message may quote what a file held: escaped like every line.
    std::panic::set_hook(Box::new(|info| {
        tell!("summa-agg: internal error (a bug; please report it): {info}");
    }));
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tell!("summa-agg: error: {e}");
            ExitCode::FAILURE
        }
    }
}
