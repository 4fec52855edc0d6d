//! `make pinned-keys`: derives the verifying key of every supported shape
//! ([`summa_agg_zk::pinned::supported`]) from the circuit, over the unsafe test setup
//! and over each ceremony file given, and writes `zk/src/pinned/table.rs` and
//! `zk/src/pinned/keys.bin`. With `--check` it writes nothing and fails on any
//! difference from the files (`make pinned-keys-check`).
//!
//!   cargo run --release -p summa-agg-zk --example pin-keys -- [--check] [CEREMONY_FILE..]
//!
//! A ceremony file (halo2's format, at least `2^k` points) must be a pinned
//! ceremony's; its keys are made for the shapes whose `k` it reaches.

use std::path::Path;
use std::process::ExitCode;

use summa_agg_zk::ceremony::Setup;
use summa_agg_zk::keys::{load_srs, SrsSource};
use summa_agg_zk::{pinned, srs};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pin-keys: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let check = args.first().is_some_and(|a| a == "--check");
    if check {
        args.remove(0);
    }
    let max_k = pinned::supported().iter().map(|s| s.k()).max().unwrap_or(0);
    let mut setups = Vec::new();
    let (test, _) = load_srs(&SrsSource::UnsafeTest, max_k).map_err(|e| e.to_string())?;
    setups.push((Setup::UnsafeTest, test));
    for file in &args {
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        let k = srs::points_k(&bytes).map_err(|e| format!("{file}: {e}"))?;
        let checked = srs::read_for_verifier(&bytes, k.min(max_k), false)
            .map_err(|e| format!("{file}: {e}"))?;
        eprintln!("pin-keys: {file}: {} (2^{k} points)", checked.setup.name());
        setups.push((checked.setup, checked.params));
    }
    let refs: Vec<_> = setups.iter().map(|(s, p)| (*s, p)).collect();
    let mut made = 0;
    let generated = pinned::generate(&refs, |_| made += 1).map_err(|e| e.to_string())?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/pinned");
    let files = [
        ("table.rs", generated.table_rs.into_bytes()),
        ("keys.bin", generated.keys_bin),
    ];
    let mut drift = Vec::new();
    for (name, bytes) in &files {
        let path = dir.join(name);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
                drift.push(path.display().to_string());
            }
        } else {
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if !drift.is_empty() {
        return Err(format!(
            "{} differ from the keys derived from the circuit: run make pinned-keys (with the same ceremony files)",
            drift.join(" and ")
        ));
    }
    println!(
        "pin-keys: {made} keys {} ({} setups, {} bytes)",
        if check { "checked" } else { "written" },
        setups.len(),
        files[1].1.len()
    );
    Ok(())
}
