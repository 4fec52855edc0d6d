//! Whole rounds as a user runs them: `infra/local/run-round.sh` on this test's
//! stack (moto_server and cargo lambda watch, named by `SUMMA_LOCAL_MOTO_URL` and
//! `SUMMA_LOCAL_LAMBDA_PORT`), so the trigger starts an execution in moto's Step
//! Functions and `state-machine/round.asl.json` runs in aws-local-stepfunctions
//! (`infra/local-sfn.mjs`: the ItemReader shim, AWS's payload limits). Each
//! round is compared with the `summa-agg` CLI's on the same files:
//!
//! - (a) four equal shards, v1: the known root of entry_64.csv;
//! - (a') the same shards with `--previous` (a): every mini-tree re-used;
//! - (b) three shards (not a power of two), agg2023 and legacy;
//! - (c) a bad shard: exit 2, nothing on stdout, `P/error.json`, no result;
//! - (d) 1,100 shards of 4 users: every state under 256 KiB although
//!   `result.json` is not.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::data::*;
use super::stack::*;

/// What `run-round.sh` did: its exit code, stdout and stderr.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    /// The result it printed as its last stdout line, after exit 0.
    fn result(&self, what: &str) -> Value {
        assert_eq!(
            self.code, 0,
            "{what}: run-round.sh failed:\n{}",
            self.stderr
        );
        let last = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("{what}: the last stdout line is not JSON ({e}): {last}"))
    }
}

/// `run-round.sh DIR --prefix rounds/sm-NAME ARGS...` on the test's stack.
fn run_round(env: &Env, name: &str, dir: &Path, args: &[&str]) -> Ran {
    let t = Instant::now();
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("infra/local/run-round.sh"))
        .arg(dir)
        .args(["--prefix", &format!("rounds/sm-{name}")])
        .args(args)
        .current_dir(repo())
        .env("PATH", &env.path)
        .env("SUMMA_LOCAL_MOTO_URL", &env.moto_url)
        .env("SUMMA_LOCAL_LAMBDA_PORT", env.lambda_port.to_string());
    let out = output_within(cmd, Duration::from_secs(600));
    eprintln!("run-round.sh ({name}): {:?}", t.elapsed());
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A directory of the test's work area holding `shards` as files.
fn shard_dir(env: &Env, name: &str, shards: &[(String, Vec<u8>)]) -> PathBuf {
    let dir = env.work.path().join("state-machine").join(name);
    fs::create_dir_all(&dir).unwrap();
    for (file, csv) in shards {
        fs::write(dir.join(file), csv).unwrap();
    }
    dir
}

/// The published `P/result.json`, if any.
async fn published(env: &Env, prefix: &str) -> Option<Value> {
    let bytes = env.get(&format!("{prefix}/result.json")).await?;
    Some(serde_json::from_slice(&bytes).unwrap())
}

pub async fn state_machine(env: &Env) {
    // (a) Four equal shards, v1.
    let four = four_shards();
    let dir = shard_dir(env, "four", &four);
    let a = run_round(env, "four", &dir, &[]).result("(a)");
    assert_eq!(
        a["root"],
        json!({ "hash": ENTRY_64_V1_ROOT, "balances": ["2227448", "2227448"] })
    );
    assert_eq!(a["mini_trees"], 4);
    env.assert_equals_the_cli(&a, &four, "v1");
    assert_eq!(published(env, "rounds/sm-four").await.as_ref(), Some(&a));
    // The trigger started the execution with input {bucket, prefix, run}.
    let run = a["run"].as_str().unwrap().to_string();
    assert!(run.starts_with("rounds-sm-four-"), "{run}");
    assert!(env.executions().await.contains(&run), "{run}");
    assert_eq!(
        env.execution_input(&run).await,
        json!({ "bucket": BUCKET, "prefix": "rounds/sm-four", "run": run })
    );
    assert_eq!(
        a["artifacts"]["result"],
        json!(format!("rounds/sm-four/runs/{run}/result.json"))
    );
    let shards = a["build"]["shards"].as_array().unwrap();
    assert_eq!(shards.len(), 4);
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s["shard"], json!(i));
        assert_eq!(s["backend"], json!(summa_agg::poseidon::backend()));
        assert_eq!(s["arch"], std::env::consts::ARCH);
    }

    // (a') The same shards built on (a): every mini-tree a server-side copy.
    let again = run_round(env, "again", &dir, &["--previous", "rounds/sm-four"]).result("(a')");
    assert_eq!(again["reused_mini_trees"], 4);
    assert!(again.get("build").is_none(), "{again}");
    assert_eq!(
        again["previous"],
        json!(format!("rounds/sm-four (run {run})"))
    );
    assert_eq!(again["root"], a["root"]);
    let sha = |v: &Value| -> Vec<Value> {
        v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["mini_tree_sha256"].clone())
            .collect()
    };
    assert_eq!(sha(&again), sha(&a));

    // (b) Three shards, agg2023 and legacy.
    let three = four[..3].to_vec();
    let dir = shard_dir(env, "three", &three);
    for layout in ["agg2023", "legacy"] {
        let name = format!("three-{layout}");
        let b = run_round(env, &name, &dir, &["--layout", layout]).result(&name);
        assert_eq!(b["mini_trees"], 3);
        assert_eq!(b["layout"], layout);
        env.assert_equals_the_cli(&b, &three, layout);
    }

    // (c) A bad shard: the round fails, naming the shard and the cause.
    let bad = vec![
        four[0].clone(),
        (
            "entry_16_overflow.csv".to_string(),
            fixture("entry_16_overflow.csv"),
        ),
    ];
    let dir = shard_dir(env, "bad", &bad);
    let c = run_round(env, "bad", &dir, &[]);
    assert_eq!(c.code, 2, "{}", c.stderr);
    assert!(c.stdout.is_empty(), "{}", c.stdout);
    let bad_key = "rounds/sm-bad/shards/entry_16_overflow.csv";
    let cause = format!(
        "FAILED: InvalidInput: mini-tree: shard 1 ({bad_key}): {bad_key}:2: balance_ETH_ETH of user \"dxGaEAii\""
    );
    assert!(c.stderr.contains(&cause), "{}", c.stderr);
    let error: Value =
        serde_json::from_slice(&env.get("rounds/sm-bad/error.json").await.unwrap()).unwrap();
    assert!(error["run"].as_str().unwrap().starts_with("rounds-sm-bad-"));
    assert_eq!(error["step"], "mini-tree");
    assert_eq!(error["shard"], 1);
    assert_eq!(error["shard_key"], bad_key);
    assert_eq!(error["error"], "InvalidInput");
    assert!(
        error["cause"]
            .as_str()
            .unwrap()
            .contains("out of range for n_bytes = 14"),
        "{error}"
    );
    assert!(published(env, "rounds/sm-bad").await.is_none());

    // (d) 1,100 shards of 4 users: the Maps read their items from S3 and every
    // state stays under 256 KiB (local-sfn.mjs fails the run otherwise), while
    // result.json is over 256 KiB.
    let many: Vec<(String, Vec<u8>)> = (0..1100u64)
        .map(|s| {
            let mut csv = String::from("username,balance_ETH_ETH,balance_USDT_ETH\n");
            for i in 0..4u64 {
                let b = (s * 7919 + i * 104_729) % 1_000_000;
                csv.push_str(&format!("u{s}_{i},{b},{}\n", (b * 31) % 1_000_000));
            }
            (format!("s{s:05}.csv"), csv.into_bytes())
        })
        .collect();
    let dir = shard_dir(env, "many", &many);
    let d = run_round(env, "many", &dir, &[]).result("(d)");
    assert_eq!(d["mini_trees"], 1100);
    assert!(d.to_string().len() > 256 * 1024);
    env.assert_equals_the_cli(&d, &many, "v1");
}
