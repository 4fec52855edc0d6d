//! The functions run for real: `moto_server` (S3 and Step Functions) and
//! `cargo lambda watch` on free local ports, each function invoked with
//! `cargo lambda invoke`, results checked against the `summa-agg` CLI.
//!
//! Needs the tools of `infra/setup-tools.sh` (`.tools/`, or the directory in
//! `SUMMA_TOOLS_DIR`). Without them the test fails, naming them; with
//! `SUMMA_SKIP_LOCAL_LAMBDA=1` it is skipped instead, saying so.
//! Everything it starts is stopped at the end, also on failure.
//!
//! The test starts the stack once (`stack.rs`; its inputs in `data.rs`) and runs the phases in order, one
//! file each: `rounds.rs`, `failures.rs`, `proofs.rs`, `trigger.rs`, `adapter.rs`
//! (each function invoked by the test), then `state_machine.rs` (whole rounds
//! through `infra/local/run-round.sh`: the trigger, moto's Step Functions and the
//! real state machine in aws-local-stepfunctions). This is the project's one
//! end-to-end harness of the local serverless run.

mod adapter;
#[path = "../shared/cargo_env.rs"]
mod cargo_env;
mod data;
mod failures;
mod proofs;
mod rounds;
mod stack;
mod state_machine;
mod trigger;

use std::time::Instant;

use stack::{setup, tools};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_on_moto_and_cargo_lambda() {
    let Some(tools) = tools() else { return };
    let t0 = Instant::now();
    let env = setup(&tools).await;
    eprintln!(
        "setup (moto, state machine, build, cargo lambda watch): {:?}",
        t0.elapsed()
    );

    rounds::equal_shards(&env).await;
    rounds::unequal_shards_every_layout(&env).await;
    rounds::reinvoked_and_interleaved(&env).await;
    failures::bad_shard(&env).await;
    failures::redrive(&env).await;
    proofs::proofs(&env).await;
    trigger::trigger(&env).await;
    adapter::s3_adapter(&env).await;
    state_machine::state_machine(&env).await;
    eprintln!("local_lambda: all checks passed in {:?}", t0.elapsed());
}
