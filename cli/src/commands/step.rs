//! `summa-agg step NAME --event FILE --dir DIR`: one handler of the state machine
//! (`plan`, `mini-tree`, or `aggregator`, whose input picks its mode: the round,
//! a partition of the username index, or a failed execution's event) over a
//! local directory as the storage (bucket `b` is `DIR/b`), in this process. It
//! prints the handler's output as one JSON line: what the function would answer.
//! Operators re-run one failed step with it; the scale probe measures one step
//! per process with it (`--stats`: the storage requests and bytes and the
//! process's peak resident memory, VmHWM, one JSON line on stderr).

use std::path::PathBuf;

use summa_agg::{Error, Result};
use summa_functions::model::{AggregatorInput, MiniTreeInput, RoundInput};
use summa_functions::storage::Counting;
use summa_functions::{handlers, FnError, LocalStorage, Payload};

use crate::args::StepArgs;

/// The steps `step` runs, by the names the state machine's functions have.
pub const STEPS: [&str; 3] = ["plan", "mini-tree", "aggregator"];

/// `step`.
pub fn run(a: StepArgs) -> Result<()> {
    let StepArgs {
        name,
        event,
        dir,
        stats,
    } = a;
    let text = read_event(&event)?;
    let payload: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Invalid(format!("{}: not JSON: {e}", event.display())))?;
    if !dir.is_dir() {
        return Err(Error::Invalid(format!(
            "{}: not a directory (the storage: one sub-directory per bucket)",
            dir.display()
        )));
    }
    let storage = Counting::new(LocalStorage::new(dir));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Invalid(format!("cannot start the async runtime: {e}")))?;
    let output = rt.block_on(async {
        match name.as_str() {
            "plan" => {
                let input = RoundInput::from_payload("plan", payload)?;
                to_json(handlers::plan(&storage, input).await?)
            }
            "mini-tree" => {
                let input = MiniTreeInput::from_payload("mini-tree", payload)?;
                to_json(handlers::mini_tree(&storage, input).await?)
            }
            "aggregator" => {
                let input = <AggregatorInput as Payload>::from_payload("aggregator", payload)?;
                to_json(handlers::aggregator(&storage, input).await?)
            }
            other => Err(FnError::invalid(format!(
                "no step {other:?}: the steps are {}",
                STEPS.join(", ")
            ))),
        }
    });
    if stats {
        // VmHWM is this process's own peak (its address space's, from exec on),
        // where a parent's wait4 ru_maxrss would include the parent's at fork.
        tell!(
            "{}",
            serde_json::json!({
                "step": name,
                "storage": storage.stats(),
                "vm_hwm_kib": super::bench::proc_status_bytes("VmHWM:") >> 10,
            })
        );
    }
    match output {
        Ok(json) => {
            crate::output::say_json(&json.to_string());
            Ok(())
        }
        Err(e) => Err(Error::Invalid(format!("{e} ({})", e.error_type()))),
    }
}

fn read_event(event: &PathBuf) -> Result<String> {
    if event.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| Error::io("stdin", e))?;
        return Ok(s);
    }
    std::fs::read_to_string(event).map_err(|e| Error::io(event.display().to_string(), e))
}

fn to_json(v: impl serde::Serialize) -> std::result::Result<String, FnError> {
    serde_json::to_string(&v).map_err(|e| FnError::internal(format!("the output: {e}")))
}
