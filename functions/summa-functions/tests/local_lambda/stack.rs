//! The local stack: the tools, the processes (moto_server, cargo lambda watch,
//! the five functions) and [`Env`], through which the phases invoke and read.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use bytes::Bytes;
use serde_json::{json, Value};
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use summa_functions::aws::http_client;
use summa_functions::{S3Storage, Storage, StorageRead};

use super::data::without_artifacts;

pub const BUCKET: &str = "summa-rounds";
pub const ENTRY_64_V1_ROOT: &str =
    "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";
pub const STATE_MACHINE: &str = "summa-round";
pub const ACCOUNT: &str = "123456789012";

pub use crate::cargo_env::repo;

pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// A nested `cargo` command, without the variables cargo set for this test.
pub fn cargo_command() -> Command {
    crate::cargo_env::without_cargo_vars(Command::new(cargo()))
}

/// Cargo's target directory (CARGO_TARGET_DIR, config, or the default).
pub fn target_dir() -> PathBuf {
    let out = cargo_command()
        .current_dir(repo())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo metadata failed");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    PathBuf::from(v["target_directory"].as_str().unwrap())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `command(port)` on a free port and waits (up to `timeout`) until it
/// listens. The port is free when picked but not held, so another process (an
/// outgoing connection's ephemeral port, another test's server) can take it
/// before the command binds it: a command that exits before listening is started
/// again on another port, 5 times in all. Panics if one of `others` exits.
pub fn spawn_listening(
    name: &str,
    log: PathBuf,
    command: impl Fn(u16) -> Command,
    others: &mut [&mut Proc],
    timeout: Duration,
) -> (Proc, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut proc = Proc::spawn(name, command(port), log.clone());
        let start = Instant::now();
        let listening = loop {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break true;
            }
            if let Ok(Some(status)) = proc.child.try_wait() {
                eprintln!("{name} exited ({status}) before listening on {port}; starting it again");
                break false;
            }
            for p in others.iter_mut() {
                if let Ok(Some(status)) = p.child.try_wait() {
                    panic!("{} exited ({status}) before {name} listened", p.name);
                }
            }
            assert!(start.elapsed() < timeout, "{name} did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        };
        if listening {
            return (proc, port);
        }
    }
    panic!(
        "{name} exited before listening, 5 times (log: {})",
        log.display()
    );
}

/// A process's number of threads, from /proc.
pub fn threads_of(pid: u32) -> usize {
    summa_agg::host::threads_of(&pid.to_string()).expect("/proc/<pid>/status")
}

/// A process started in its own process group, killed (group and all) on drop.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc {
            name: name.into(),
            child,
            log,
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-TERM", "--", &group])
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (function processes of cargo lambda).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "---- last lines of {} ({}) ----",
                self.name,
                self.log.display()
            );
            for l in tail.into_iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// The tools this test runs, under the tools directory.
pub const TOOLS: [&str; 3] = [
    "venv/bin/moto_server",
    "venv/bin/cargo-lambda",
    "venv/bin/python3",
];

/// The tools (`.tools/`, or `SUMMA_TOOLS_DIR`): `None` means skip (only with
/// `SUMMA_SKIP_LOCAL_LAMBDA`); missing tools are a failure.
pub fn tools() -> Option<PathBuf> {
    let tools = std::env::var_os("SUMMA_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools"));
    // Every tool the test runs, not just the directory: a half-installed
    // `.tools/` must not pass as "present".
    let missing: Vec<String> = TOOLS
        .iter()
        .map(|t| tools.join(t))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if missing.is_empty() {
        return Some(tools);
    }
    // Missing tools fail the test (`make test` installs them first); skipping is
    // an explicit choice, and says so.
    if std::env::var_os("SUMMA_SKIP_LOCAL_LAMBDA").is_some() {
        eprintln!(
            "SKIPPED local_lambda (SUMMA_SKIP_LOCAL_LAMBDA is set): missing {}",
            missing.join(", ")
        );
        return None;
    }
    panic!(
        "missing: {} (run infra/setup-tools.sh, or set SUMMA_SKIP_LOCAL_LAMBDA=1 to skip this test)",
        missing.join(", ")
    );
}

pub struct Env {
    pub moto_url: String,
    pub lambda_port: u16,
    pub path: String,
    pub config: SdkConfig,
    pub s3: S3Storage,
    pub sfn: aws_sdk_sfn::Client,
    pub work: tempfile::TempDir,
    // Dropped last: the processes, functions first.
    pub _functions: Vec<Proc>,
    pub _watch: Proc,
    pub _moto: Proc,
}

#[derive(Debug)]
pub struct Invoked {
    pub ok: Option<Value>,
    /// (errorType, errorMessage) of a failed invocation.
    pub err: Option<(String, String)>,
}

impl Invoked {
    pub fn ok(self, what: &str) -> Value {
        match (self.ok, self.err) {
            (Some(v), _) => v,
            (_, Some(e)) => panic!("{what} failed: {e:?}"),
            _ => unreachable!(),
        }
    }
    pub fn err(self, what: &str) -> (String, String) {
        match (self.ok, self.err) {
            (_, Some(e)) => e,
            (Some(v), _) => panic!("{what} should fail, returned {v}"),
            _ => unreachable!(),
        }
    }
}

/// The function error that `cargo lambda invoke` reports on stderr:
///
/// ```text
/// Error: InvalidInput
///
///   × plan: the round prefix is empty: rounds live under a non-empty prefix P
///   │ (P/round.json)
/// ```
///
/// The message is wrapped at 80 columns, at a space or after a `/` or `-`.
pub fn find_error(text: &str) -> Option<(String, String)> {
    let mut lines = text.lines();
    let error_type = lines
        .by_ref()
        .find_map(|l| l.strip_prefix("Error: "))?
        .trim()
        .to_string();
    let mut message = String::new();
    for l in lines {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix('×') {
            message.push_str(rest.trim());
        } else if let Some(rest) = t.strip_prefix('│').filter(|_| !message.is_empty()) {
            // Wrapped at a space (dropped), or after a '/' or '-' (kept).
            if !message.ends_with(['/', '-']) {
                message.push(' ');
            }
            message.push_str(rest.trim());
        } else if !message.is_empty() {
            break;
        }
    }
    Some((error_type, message))
}

/// Runs a command, killing it after `timeout`. Its output is read while it runs
/// (a command that writes more than a pipe holds would otherwise wait forever).
pub fn output_within(mut cmd: Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let start = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status, false);
        }
        if start.elapsed() > timeout {
            // The whole group: a script's children hold its pipes too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            break (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    };
    assert!(
        !timed_out,
        "timed out after {timeout:?}: {cmd:?}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Env {
    pub fn command_cargo(&self) -> Command {
        let mut c = cargo_command();
        c.current_dir(repo())
            .env("PATH", &self.path)
            .env("AWS_ENDPOINT_URL", &self.moto_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE");
        c
    }

    pub fn invoke(&self, function: &str, payload: &Value) -> Invoked {
        let mut cmd = self.command_cargo();
        cmd.args(["lambda", "invoke", function])
            .args(["--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.lambda_port.to_string()])
            .args(["--output-format", "json"])
            .args(["--data-ascii", &payload.to_string()]);
        let out = output_within(cmd, Duration::from_secs(180));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
                panic!("{function}: output is not JSON ({e}): {stdout}\nstderr: {stderr}")
            });
            return Invoked {
                ok: Some(v),
                err: None,
            };
        }
        let err = find_error(&stderr).unwrap_or_else(|| {
            panic!(
                "{function} failed without an error report ({}):\nstdout: {stdout}\nstderr: {stderr}",
                out.status
            )
        });
        Invoked {
            ok: None,
            err: Some(err),
        }
    }

    pub async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.s3
            .put(
                BUCKET,
                key,
                Bytes::from(body.into()),
                summa_functions::storage::BINARY,
            )
            .await
            .unwrap();
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.s3.get(BUCKET, key).await {
            Ok(b) => Some(b),
            Err(e) if e.kind == summa_functions::StoreErrorKind::NotFound => None,
            Err(e) => panic!("{e}"),
        }
    }

    pub async fn etag(&self, key: &str) -> String {
        let etag = self.s3.head(BUCKET, key).await.unwrap().etag;
        assert!(!etag.is_empty(), "{key} has no ETag");
        etag
    }

    /// An object's Last-Modified (seconds).
    pub async fn last_modified(&self, key: &str) -> i64 {
        self.s3
            .client()
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap()
            .last_modified()
            .unwrap()
            .secs()
    }

    /// Uploads shards and a manifest under `prefix`.
    pub async fn upload(&self, prefix: &str, shards: &[(String, Vec<u8>)], manifest: Value) {
        for (name, csv) in shards {
            self.put(&format!("{prefix}/shards/{name}"), csv.clone())
                .await;
        }
        self.put(&format!("{prefix}/round.json"), manifest.to_string())
            .await;
    }

    /// Run `run` of a round: plan, mini-tree per shard, aggregator: the result.
    pub async fn round(&self, prefix: &str, run: &str) -> Value {
        let input = json!({ "bucket": BUCKET, "prefix": prefix, "run": run });
        let plan = self.invoke("plan", &input).ok("plan");
        let n = plan["shard_count"].as_u64().unwrap();
        let items_key = format!("{prefix}/runs/{run}/items.json");
        assert_eq!(plan["items_key"], json!(items_key));
        // Each mini-tree gets its item, as the Map's ItemReader gives it.
        let items: Vec<Value> =
            serde_json::from_slice(&self.get(&items_key).await.unwrap()).unwrap();
        assert_eq!(items.len() as u64, n);
        for (i, item) in items.iter().enumerate() {
            let out = self.invoke("mini-tree", item).ok("mini-tree");
            assert_eq!(out["shard"], json!(i));
        }
        let stored = self.aggregate(&input, "aggregator").await;
        assert_eq!(stored["inputs"].as_array().unwrap().len() as u64, n);
        stored
    }

    /// Invokes `aggregator` (normal mode) on `input`: its response is the result
    /// without its per-shard lists and the run's result key; returns the whole
    /// result, read from there.
    pub async fn aggregate(&self, input: &Value, what: &str) -> Value {
        let run_dir = format!(
            "{}/runs/{}",
            input["prefix"].as_str().unwrap(),
            input["run"].as_str().unwrap()
        );
        // First the username index's partitions, each item of the plan's
        // index-items.json as the UserIndex Map's ItemReader gives it.
        let items: Vec<Value> = serde_json::from_slice(
            &self
                .get(&format!("{run_dir}/index-items.json"))
                .await
                .unwrap(),
        )
        .unwrap();
        assert!(!items.is_empty());
        for item in &items {
            let out = self.invoke("aggregator", item).ok(what);
            assert_eq!(out["partition"], item["index"]["partition"]);
        }
        let brief = self.invoke("aggregator", input).ok(what);
        let result_key = format!("{run_dir}/result.json");
        let stored: Value = serde_json::from_slice(&self.get(&result_key).await.unwrap()).unwrap();
        assert_eq!(brief["result_key"], json!(result_key));
        assert_eq!(brief["root"], stored["root"]);
        assert_eq!(brief["inputs"], json!([]));
        stored
    }

    /// The CLI's result.json for the shards (written as files, in name order).
    pub fn cli_round(&self, shards: &[(String, Vec<u8>)], layout: &str) -> Value {
        let dir = tempfile::tempdir_in(self.work.path()).unwrap();
        let mut args = vec!["round".to_string()];
        for (name, csv) in shards {
            let p = dir.path().join(name);
            fs::write(&p, csv).unwrap();
            args.push(p.display().to_string());
        }
        let out = dir.path().join("out");
        args.extend([
            "--out".into(),
            out.display().to_string(),
            "--layout".into(),
            layout.into(),
        ]);
        let o = self.summa_agg().args(&args).output().unwrap();
        assert!(
            o.status.success(),
            "summa-agg round: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&fs::read(out.join("result.json")).unwrap()).unwrap()
    }

    /// Checks that `result` is the CLI's over the same shards in `layout`, but for
    /// the artifacts' keys.
    pub fn assert_equals_the_cli(
        &self,
        result: &Value,
        shards: &[(String, Vec<u8>)],
        layout: &str,
    ) {
        let cli = self.cli_round(shards, layout);
        assert_eq!(
            without_artifacts(result.clone()),
            without_artifacts(cli),
            "{layout}"
        );
    }

    /// The `summa-agg` binary that `setup` built, with the moto environment.
    pub fn summa_agg(&self) -> Command {
        let mut c = Command::new(target_dir().join("debug").join("summa-agg"));
        c.current_dir(repo())
            .env("AWS_ENDPOINT_URL", &self.moto_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE");
        c
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        self.summa_agg().args(args).output().unwrap()
    }

    /// The input moto's Step Functions recorded for execution `name` of the
    /// round state machine.
    pub async fn execution_input(&self, name: &str) -> Value {
        let execution = self
            .sfn
            .describe_execution()
            .execution_arn(format!(
                "arn:aws:states:us-east-1:{ACCOUNT}:execution:{STATE_MACHINE}:{name}"
            ))
            .send()
            .await
            .unwrap();
        serde_json::from_str(execution.input().unwrap()).unwrap()
    }

    pub async fn executions(&self) -> Vec<String> {
        let out = self
            .sfn
            .list_executions()
            .state_machine_arn(state_machine_arn())
            .send()
            .await
            .unwrap();
        let mut names: Vec<String> = out
            .executions()
            .iter()
            .map(|e| e.name().to_string())
            .collect();
        names.sort();
        names
    }
}

pub fn state_machine_arn() -> String {
    format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{STATE_MACHINE}")
}

pub async fn setup(tools: &Path) -> Env {
    let work = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}:{}",
        tools.join("venv/bin").display(),
        tools.join("node/node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // moto_server: S3 and Step Functions.
    let (mut moto, moto_port) = spawn_listening(
        "moto_server",
        work.path().join("moto.log"),
        |port| {
            let mut cmd = Command::new(tools.join("venv/bin/moto_server"));
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("PATH", &path);
            cmd
        },
        &mut [],
        Duration::from_secs(60),
    );
    let moto_url = format!("http://127.0.0.1:{moto_port}");

    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .endpoint_url(&moto_url)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let s3 = S3Storage::from_config(&config);
    s3.client()
        .create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();

    // The round state machine, as infra/render-asl.py renders it for local runs.
    let rendered = Command::new("python3")
        .arg(repo().join("infra/render-asl.py"))
        .arg(repo().join("state-machine/round.asl.json"))
        .output()
        .unwrap();
    assert!(rendered.status.success(), "render-asl.py failed");
    let sfn = aws_sdk_sfn::Client::new(&config);
    let created = sfn
        .create_state_machine()
        .name(STATE_MACHINE)
        .definition(String::from_utf8(rendered.stdout).unwrap())
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/summa-round"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.state_machine_arn(), state_machine_arn());

    // The functions' binaries (and the CLI, the reference).
    let build = cargo_command()
        .current_dir(repo())
        .args([
            "build",
            "-q",
            "-p",
            "summa-fn-trigger",
            "-p",
            "summa-fn-plan",
        ])
        .args([
            "-p",
            "summa-fn-mini-tree",
            "-p",
            "summa-fn-aggregator",
            "-p",
            "summa-fn-proof",
        ])
        .args(["-p", "summa-agg-cli", "--bins"])
        .status()
        .unwrap();
    assert!(build.success(), "cargo build of the functions failed");
    let bin_dir = target_dir().join("debug");

    // cargo lambda watch emulates the Lambda control plane: invocations go to
    // it, the functions poll it through the runtime API (/.rt/<name>) exactly as
    // on AWS. It cannot start them itself here: it runs `cargo run --bin NAME`
    // at the root, whose package (summa-agg) has no such binary, so it runs with
    // --only-lambda-apis and the test starts each function's binary.
    let (watch, lambda_port) = spawn_listening(
        "cargo lambda watch",
        work.path().join("watch.log"),
        |port| {
            let mut cmd = cargo_command();
            cmd.current_dir(repo())
                .env("PATH", &path)
                .args(["lambda", "watch", "--only-lambda-apis"])
                .args(["--invoke-address", "127.0.0.1"])
                .args(["--invoke-port", &port.to_string()])
                .args(["--timeout", "300"]);
            cmd
        },
        &mut [&mut moto],
        Duration::from_secs(120),
    );
    let mut functions = Vec::new();
    for name in ["trigger", "plan", "mini-tree", "aggregator", "proof"] {
        let mut cmd = Command::new(bin_dir.join(name));
        cmd.current_dir(work.path())
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{lambda_port}/.rt/{name}"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("AWS_ENDPOINT_URL", &moto_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env("STATE_MACHINE_ARN", state_machine_arn())
            .env("RUST_LOG", "info");
        if ["plan", "mini-tree", "aggregator"].contains(&name) {
            // One-thread mode: a current-thread runtime, the engine inline, no
            // thread started (what the aarch64 bootstraps run under qemu).
            cmd.env("SUMMA_AGG_THREADS", "1");
        }
        if name == "proof" {
            // A custodian's own deployment, which also answers Merkle proofs (the
            // template's public-facing function does not set it).
            cmd.env("SUMMA_MERKLE_PROOFS", "allow");
        }
        functions.push(Proc::spawn(
            name,
            cmd,
            work.path().join(format!("{name}.log")),
        ));
    }
    Env {
        moto_url,
        lambda_port,
        path,
        config,
        s3,
        sfn,
        work,
        _functions: functions,
        _watch: watch,
        _moto: moto,
    }
}
