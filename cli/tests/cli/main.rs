//! The `summa-agg` command line, run as a user runs it: the helpers here, the
//! tests in one file per command family (`round.rs`, `proof.rs`, `step.rs`, `zk.rs`).

#[cfg(feature = "chain")]
mod chain;
mod hostile;
mod proof;
mod round;
mod step;
mod zk;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Copies the fixtures `entry_16_1..4.csv` into `dir` (created).
fn four_shards_in(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=4 {
        std::fs::copy(
            fixture(&format!("entry_16_{i}.csv")),
            dir.join(format!("entry_16_{i}.csv")),
        )
        .unwrap();
    }
}

/// A fixture of the core's tests.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name)
}

fn summa(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_summa-agg"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs `round` over `input` (a file or a directory of shards) into `out`, with
/// `extra` arguments.
fn run_round(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let (input, out) = (input.to_str().unwrap(), out.to_str().unwrap());
    summa(&[&["round", input, "--out", out], extra].concat())
}

/// Runs `proof --merkle` of `user` in the round output directory `round`.
fn merkle_proof(round: impl AsRef<Path>, user: &str) -> Output {
    let round = round.as_ref().to_str().unwrap();
    summa(&["proof", "--round", round, "--user", user, "--merkle"])
}

/// Runs `verify` of the proof file `proof` against the result file `result`.
fn verify_with_result(proof: &Path, result: &Path) -> Output {
    summa(&[
        "verify",
        proof.to_str().unwrap(),
        "--result",
        result.to_str().unwrap(),
    ])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts that `o`'s stderr says `want` (printing the stderr if not).
fn assert_stderr_has(o: &Output, want: &str) {
    assert!(stderr(o).contains(want), "{}", stderr(o));
}

fn last_json_line(o: &Output) -> serde_json::Value {
    let out = String::from_utf8(o.stdout.clone()).unwrap();
    serde_json::from_str(out.lines().last().unwrap()).unwrap()
}

const V1_ROOT_64: &str = "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";

fn hex_sha256(b: &[u8]) -> String {
    summa_agg::round::sha256(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// Writes a JSON value to `dir/name` and returns the path.
fn write_json(dir: &Path, name: &str, v: &serde_json::Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.to_str().unwrap().to_string()
}

/// Stdout and stderr together.
fn said(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), stderr(o))
}

/// Runs `verify` and expects a refusal whose output names `want`, with nothing
/// on stdout that could read as success.
fn refused(args: &[&str], want: &str) {
    let o = summa(args);
    assert!(!o.status.success(), "accepted: {args:?}\n{}", said(&o));
    assert!(
        said(&o).contains(want),
        "{args:?}: {}\n  expected: {want}",
        said(&o)
    );
    assert!(!said(&o).contains("VERIFIED"), "{}", said(&o));
    assert!(!said(&o).contains("panicked"), "{}", said(&o));
}

/// Runs a round over a fixture and prints `user`'s proof: (the round's directory,
/// the proof).
fn round_and_proof(csv: &str, user: &str) -> (tempfile::TempDir, serde_json::Value) {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_str().unwrap();
    let o = summa(&["round", fixture(csv).to_str().unwrap(), "--out", dir]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = merkle_proof(dir, user);
    assert!(o.status.success(), "{}", stderr(&o));
    (out, serde_json::from_slice(&o.stdout).unwrap())
}

/// A round with keys on the unsafe test SRS and one user's zero-knowledge proof.
struct ZkRound {
    dir: tempfile::TempDir,
    /// The zero-knowledge proof file's JSON.
    zk: serde_json::Value,
    /// The keys directory.
    keys: String,
}

impl ZkRound {
    fn new(csv: &str, user: &str) -> ZkRound {
        let (dir, _) = round_and_proof(csv, user);
        let round = dir.path().to_str().unwrap().to_string();
        let keys = dir.path().join("keys").to_str().unwrap().to_string();
        let o = summa(&[
            "zk-keys",
            "--round",
            &round,
            "--unsafe-test-srs",
            "--out",
            &keys,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = summa(&["proof", "--round", &round, "--user", user, "--keys", &keys]);
        assert!(o.status.success(), "{}", stderr(&o));
        let zk = serde_json::from_slice(&o.stdout).unwrap();
        ZkRound { dir, zk, keys }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn result(&self) -> String {
        self.path("result.json")
    }

    fn srs(&self) -> String {
        format!("{}/srs.bin", self.keys)
    }
}
