//! The functions run for real: `moto_server` (S3 and Step Functions) and
//! `cargo lambda watch` on free local ports, each function invoked with
//! `cargo lambda invoke`, results checked against the `summa-agg` CLI.
//!
//! Needs the tools of `infra/setup-tools.sh` (`.tools/`, or the directory in
//! `SUMMA_TOOLS_DIR`). Without them the test is skipped with a message, unless
//! `SUMMA_REQUIRE_TOOLS` is set (CI): then it fails.
//! Everything it starts is stopped at the end, also on failure.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_s3::config::Credentials;
use bytes::Bytes;
use serde_json::{json, Value};
use summa_functions::aws::http_client;
use summa_functions::{S3Storage, Storage};

const BUCKET: &str = "summa-rounds";
const ENTRY_64_V1_ROOT: &str = "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";
const STATE_MACHINE: &str = "summa-round";
const ACCOUNT: &str = "123456789012";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// A nested `cargo` command. The variables that cargo sets for this test
/// (CARGO_PKG_NAME, CARGO_MANIFEST_DIR...) are removed: build scripts that
/// declare `rerun-if-env-changed` on them (ring's) would otherwise be rebuilt,
/// here and again in the next `cargo test`.
fn cargo_command() -> Command {
    let mut c = Command::new(cargo());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_MANIFEST_")
            || k.starts_with("CARGO_BIN_")
            || matches!(
                k.as_ref(),
                "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
                    | "CARGO_RUSTC_CURRENT_DIR"
            )
        {
            c.env_remove(k.as_ref());
        }
    }
    c
}

/// Cargo's target directory (CARGO_TARGET_DIR, config, or the default).
fn target_dir() -> PathBuf {
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

fn wait_for_port(port: u16, what: &str, procs: &mut [&mut Proc], timeout: Duration) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        for p in procs.iter_mut() {
            if let Ok(Some(status)) = p.child.try_wait() {
                panic!("{} exited ({status}) before {what} listened", p.name);
            }
        }
        assert!(start.elapsed() < timeout, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process's number of threads, from /proc.
fn threads_of(pid: u32) -> usize {
    summa_agg::host::threads_of(&pid.to_string()).expect("/proc/<pid>/status")
}

/// A process started in its own process group, killed (group and all) on drop.
struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
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
const TOOLS: [&str; 3] = [
    "venv/bin/moto_server",
    "venv/bin/cargo-lambda",
    "venv/bin/python3",
];

/// The tools (`.tools/`, or `SUMMA_TOOLS_DIR`): `None` means skip.
fn tools() -> Option<PathBuf> {
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
    if std::env::var_os("SUMMA_REQUIRE_TOOLS").is_some() {
        panic!(
            "missing and SUMMA_REQUIRE_TOOLS is set: {} (run infra/setup-tools.sh)",
            missing.join(", ")
        );
    }
    eprintln!(
        "SKIPPED local_lambda: missing {} (run infra/setup-tools.sh; set SUMMA_REQUIRE_TOOLS to make this a failure)",
        missing.join(", ")
    );
    None
}

struct Env {
    moto_url: String,
    lambda_port: u16,
    path: String,
    config: SdkConfig,
    s3: S3Storage,
    sfn: aws_sdk_sfn::Client,
    work: tempfile::TempDir,
    // Dropped last: the processes, functions first.
    _functions: Vec<Proc>,
    _watch: Proc,
    _moto: Proc,
}

#[derive(Debug)]
struct Invoked {
    ok: Option<Value>,
    /// (errorType, errorMessage) of a failed invocation.
    err: Option<(String, String)>,
}

impl Invoked {
    fn ok(self, what: &str) -> Value {
        match (self.ok, self.err) {
            (Some(v), _) => v,
            (_, Some(e)) => panic!("{what} failed: {e:?}"),
            _ => unreachable!(),
        }
    }
    fn err(self, what: &str) -> (String, String) {
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
fn find_error(text: &str) -> Option<(String, String)> {
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

/// Runs a command, killing it after `timeout`.
fn output_within(mut cmd: Command, timeout: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "timed out after {timeout:?}: {cmd:?}\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Env {
    fn command_cargo(&self) -> Command {
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

    fn invoke(&self, function: &str, payload: &Value) -> Invoked {
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

    async fn put(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.s3
            .put(
                BUCKET,
                key,
                Bytes::from(body.into()),
                "application/octet-stream",
            )
            .await
            .unwrap();
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self.s3.get(BUCKET, key).await {
            Ok(b) => Some(b),
            Err(e) if e.kind == summa_functions::StoreErrorKind::NotFound => None,
            Err(e) => panic!("{e}"),
        }
    }

    async fn etag(&self, key: &str) -> String {
        self.s3
            .client()
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .unwrap()
            .e_tag()
            .unwrap()
            .to_string()
    }

    /// An object's Last-Modified (seconds).
    async fn last_modified(&self, key: &str) -> i64 {
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
    async fn upload(&self, prefix: &str, shards: &[(String, Vec<u8>)], manifest: Value) {
        for (name, csv) in shards {
            self.put(&format!("{prefix}/shards/{name}"), csv.clone())
                .await;
        }
        self.put(&format!("{prefix}/round.json"), manifest.to_string())
            .await;
    }

    /// Run `run` of a round: plan, mini-tree per shard, aggregator: the result.
    async fn round(&self, prefix: &str, run: &str) -> Value {
        let input = json!({ "bucket": BUCKET, "prefix": prefix, "run": run });
        let plan = self.invoke("plan", &input).ok("plan");
        let n = plan["shard_count"].as_u64().unwrap();
        assert_eq!(plan["items"], json!((0..n).collect::<Vec<_>>()));
        for i in 0..n {
            let out = self
                .invoke(
                    "mini-tree",
                    &json!({ "bucket": BUCKET, "prefix": prefix, "run": run, "shard": i }),
                )
                .ok("mini-tree");
            assert_eq!(out["shard"], json!(i));
        }
        let result = self.invoke("aggregator", &input).ok("aggregator");
        let stored: Value = serde_json::from_slice(
            &self
                .get(&format!("{prefix}/runs/{run}/result.json"))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(stored, result);
        result
    }

    /// The CLI's result.json for the shards (written as files, in name order).
    fn cli_round(&self, shards: &[(String, Vec<u8>)], layout: &str) -> Value {
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

    /// The `summa-agg` binary that `setup` built, with the moto environment.
    fn summa_agg(&self) -> Command {
        let mut c = Command::new(target_dir().join("debug").join("summa-agg"));
        c.current_dir(repo())
            .env("AWS_ENDPOINT_URL", &self.moto_url)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE");
        c
    }

    fn cli(&self, args: &[&str]) -> Output {
        self.summa_agg().args(args).output().unwrap()
    }

    async fn executions(&self) -> Vec<String> {
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

fn state_machine_arn() -> String {
    format!("arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{STATE_MACHINE}")
}

fn fixture(name: &str) -> Vec<u8> {
    fs::read(repo().join("tests/fixtures").join(name)).unwrap()
}

/// The event EventBridge delivers when the round's execution `run` on `prefix`
/// fails (functions/aggregator/events/execution-failed.json, adapted).
fn failed_execution(prefix: &str, run: &str, error: &str, cause: &str) -> Value {
    let mut v: Value = serde_json::from_slice(
        &fs::read(repo().join("functions/aggregator/events/execution-failed.json")).unwrap(),
    )
    .unwrap();
    let arn = format!("arn:aws:states:us-east-1:123456789012:execution:summa-round:{run}");
    v["resources"] = json!([arn]);
    let d = &mut v["detail"];
    d["executionArn"] = json!(arn);
    d["name"] = json!(run);
    d["input"] = json!(json!({ "bucket": BUCKET, "prefix": prefix, "run": run }).to_string());
    d["error"] = json!(error);
    d["cause"] = json!(cause);
    v
}

fn four_shards() -> Vec<(String, Vec<u8>)> {
    (1..=4)
        .map(|i| {
            let name = format!("entry_16_{i}.csv");
            let csv = fixture(&name);
            (name, csv)
        })
        .collect()
}

/// entry_64.csv cut into shards of 1, 5, 26 and 32 users.
fn unequal_shards() -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8(fixture("entry_64.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let mut at = 0;
    [1usize, 5, 26, 32]
        .into_iter()
        .enumerate()
        .map(|(i, n)| {
            let mut csv = format!("{header}\n");
            for r in &rows[at..at + n] {
                csv.push_str(r);
                csv.push('\n');
            }
            at += n;
            (format!("part-{i}.csv"), csv.into_bytes())
        })
        .collect()
}

/// The result without what differs between S3 and local files: the artifacts,
/// the run, the build records (times) and the inputs' keys and ETags (sizes and
/// hashes stay).
fn without_artifacts(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("artifacts");
    o.remove("run");
    o.remove("build");
    for i in o["inputs"].as_array_mut().unwrap() {
        let i = i.as_object_mut().unwrap();
        for k in ["key", "mini_tree"] {
            let base = i[k]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            i.insert(k.into(), json!(base));
        }
        i.remove("etag");
    }
    v
}

fn s3_event(key: &str, etag: &str, sequencer: &str) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-01-15T12:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:TEST"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "RoundUploaded",
               "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
               "object": {"key": key, "size": 10, "eTag": etag.trim_matches('"'),
                          "sequencer": sequencer}}
    }]})
}

async fn setup(tools: &Path) -> Env {
    let work = tempfile::tempdir().unwrap();
    let path = format!(
        "{}:{}:{}",
        tools.join("venv/bin").display(),
        tools.join("node/node_modules/.bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // moto_server: S3 and Step Functions.
    let moto_port = free_port();
    let moto_url = format!("http://127.0.0.1:{moto_port}");
    let mut moto_cmd = Command::new(tools.join("venv/bin/moto_server"));
    moto_cmd
        .args(["-H", "127.0.0.1", "-p", &moto_port.to_string()])
        .env("PATH", &path);
    let mut moto = Proc::spawn("moto_server", moto_cmd, work.path().join("moto.log"));
    wait_for_port(
        moto_port,
        "moto_server",
        &mut [&mut moto],
        Duration::from_secs(60),
    );

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
    let lambda_port = free_port();
    let mut watch_cmd = cargo_command();
    watch_cmd
        .current_dir(repo())
        .env("PATH", &path)
        .args(["lambda", "watch", "--only-lambda-apis"])
        .args(["--invoke-address", "127.0.0.1"])
        .args(["--invoke-port", &lambda_port.to_string()])
        .args(["--timeout", "120"]);
    let mut watch = Proc::spawn(
        "cargo lambda watch",
        watch_cmd,
        work.path().join("watch.log"),
    );
    wait_for_port(
        lambda_port,
        "cargo lambda watch",
        &mut [&mut watch, &mut moto],
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_on_moto_and_cargo_lambda() {
    let Some(tools) = tools() else { return };
    let t0 = Instant::now();
    let env = setup(&tools).await;
    eprintln!(
        "setup (moto, state machine, build, cargo lambda watch): {:?}",
        t0.elapsed()
    );

    // 1. Four equal shards: the root of entry_64.csv, and the CLI's result.
    let shards = four_shards();
    env.upload("rounds/equal", &shards, json!({})).await;
    let t = Instant::now();
    let result = env.round("rounds/equal", "run-1").await;
    eprintln!(
        "round of 4 shards (6 invocations, first ones start the functions): {:?}",
        t.elapsed()
    );
    assert_eq!(result["root"]["hash"], ENTRY_64_V1_ROOT);
    assert_eq!(result["root"]["balances"], json!(["2227448", "2227448"]));
    assert_eq!(result["run"], "run-1");
    assert_eq!(
        result["artifacts"],
        json!({
            "aggregation": "rounds/equal/runs/run-1/aggregation.mst",
            "mini_trees": "rounds/equal/runs/run-1/mini-trees/",
            "plan": "rounds/equal/runs/run-1/plan.json",
            "result": "rounds/equal/runs/run-1/result.json",
            "user_index": "rounds/equal/runs/run-1/user-index.bin"
        })
    );
    // Each shard's build record: this machine's backend and CPU, built by the
    // mini-tree function in one-thread mode; plan, mini-tree and aggregator
    // (SUMMA_AGG_THREADS=1) started no thread.
    let build = &result["build"];
    assert_eq!(build["backends"], json!([summa_agg::poseidon::backend()]));
    assert_eq!(build["cpus"], json!([summa_agg::host::cpu_model()]));
    for (i, s) in build["shards"].as_array().unwrap().iter().enumerate() {
        assert_eq!(s["shard"], json!(i), "{build}");
        assert_eq!(s["threads"], 1, "{build}");
        assert_eq!(s["arch"], std::env::consts::ARCH, "{build}");
        assert!(s["build_ms"].is_u64(), "{build}");
    }
    assert_eq!(build["shards"].as_array().unwrap().len(), 4, "{build}");
    for name in ["plan", "mini-tree", "aggregator"] {
        let f = env._functions.iter().find(|p| p.name == name).unwrap();
        assert_eq!(threads_of(f.child.id()), 1, "the {name} function's threads");
    }
    // The inputs carry S3's ETags.
    for (i, input) in result["inputs"].as_array().unwrap().iter().enumerate() {
        let key = format!("rounds/equal/shards/entry_16_{}.csv", i + 1);
        assert_eq!(input["key"], json!(key));
        assert_eq!(input["etag"], json!(env.etag(&key).await));
    }

    // 1b. An incremental round on another prefix, built on rounds/equal: the same
    // shards but the third (S3's ETag is the content's MD5, so unchanged uploads
    // keep it). Three mini-trees are server-side copies of run-1's; the result is
    // the full round's.
    let mut changed = four_shards();
    let text = String::from_utf8(changed[2].1.clone()).unwrap();
    // The last user's last balance gets one more digit.
    changed[2].1 = format!("{}1\n", text.trim_end()).into_bytes();
    env.upload(
        "rounds/inc",
        &changed,
        json!({ "previous": "rounds/equal" }),
    )
    .await;
    let inc = env.round("rounds/inc", "run-i").await;
    assert_eq!(inc["reused_mini_trees"], 3, "{inc}");
    // Only the shard built has a build record.
    let built: Vec<&Value> = inc["build"]["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["shard"])
        .collect();
    assert_eq!(built, [&json!(2)], "{inc}");
    assert_eq!(inc["previous"], "rounds/equal (run run-1)");
    let mut full = env.cli_round(&changed, "v1");
    let o = full.as_object_mut().unwrap();
    o.remove("reused_mini_trees");
    let mut inc_cmp = without_artifacts(inc.clone());
    let o = inc_cmp.as_object_mut().unwrap();
    o.remove("reused_mini_trees");
    o.remove("previous");
    assert_eq!(inc_cmp, without_artifacts(full));
    for i in [0, 1, 3] {
        let copy = format!("rounds/inc/runs/run-i/mini-trees/{i:06}.mst");
        let source = format!("rounds/equal/runs/run-1/mini-trees/{i:06}.mst");
        assert_eq!(env.etag(&copy).await, env.etag(&source).await);
        let summary: Value = serde_json::from_slice(
            &env.get(&format!("rounds/inc/runs/run-i/mini-trees/{i:06}.json"))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(summary["reused_from"], json!(source));
    }
    assert_eq!(
        without_artifacts(result.clone()),
        without_artifacts(env.cli_round(&shards, "v1"))
    );
    let published: Value =
        serde_json::from_slice(&env.get("rounds/equal/result.json").await.unwrap()).unwrap();
    assert_eq!(published, result);
    let t = Instant::now();
    let again = env.round("rounds/equal", "run-2").await;
    eprintln!("the same round again (warm functions): {:?}", t.elapsed());
    assert_eq!(
        without_artifacts(again.clone()),
        without_artifacts(result.clone())
    );
    assert_eq!(again["run"], "run-2");

    // 1b. The CLI runs the same handlers in-process over S3: same result.
    env.upload("rounds/cli", &shards, json!({})).await;
    let out = env.cli(&["round", "--bucket", BUCKET, "--prefix", "rounds/cli"]);
    assert!(
        out.status.success(),
        "summa-agg round --bucket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = String::from_utf8(out.stdout).unwrap();
    let cli_s3: Value = serde_json::from_str(last.lines().last().unwrap()).unwrap();
    assert_eq!(without_artifacts(cli_s3), without_artifacts(result.clone()));
    assert!(env.get("rounds/cli/result.json").await.is_some());
    let mut bad = four_shards();
    bad[1].1 = fixture("entry_16_overflow.csv");
    env.upload("rounds/cli-bad", &bad, json!({})).await;
    let out = env.cli(&["round", "--bucket", BUCKET, "--prefix", "rounds/cli-bad"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("shard 1 (rounds/cli-bad/shards/") && err.contains("out of range"),
        "{err}"
    );
    assert!(env.get("rounds/cli-bad/result.json").await.is_none());
    let record: Value =
        serde_json::from_slice(&env.get("rounds/cli-bad/error.json").await.unwrap()).unwrap();
    assert_eq!(record["shard"], 1);
    assert_eq!(record["step"], "mini-tree");

    // 2. Unequal shards, every layout.
    let parts = unequal_shards();
    for layout in ["v1", "agg2023", "legacy"] {
        let prefix = format!("rounds/unequal-{layout}");
        env.upload(&prefix, &parts, json!({ "layout": layout, "n_bytes": 14 }))
            .await;
        let result = env.round(&prefix, "run-1").await;
        assert_eq!(result["mini_trees"], 4);
        assert_eq!(result["layout"], layout);
        assert_eq!(
            without_artifacts(result),
            without_artifacts(env.cli_round(&parts, layout)),
            "{layout}"
        );
    }

    // 3. Re-invoking a mini-tree gives identical objects.
    let mt = |name: &str| format!("rounds/equal/runs/run-1/mini-trees/{name}");
    let mst = env.get(&mt("000001.mst")).await.unwrap();
    let summary = env.get(&mt("000001.json")).await.unwrap();
    env.invoke(
        "mini-tree",
        &json!({ "bucket": BUCKET, "prefix": "rounds/equal", "run": "run-1", "shard": 1 }),
    )
    .ok("mini-tree again");
    assert_eq!(env.get(&mt("000001.mst")).await.unwrap(), mst);
    assert_eq!(env.get(&mt("000001.json")).await.unwrap(), summary);

    // 3b. Two executions on one prefix, interleaved: run A (v1) is planned and
    // half built; the manifest changes (agg2023) and run B is planned; shard 0
    // is replaced. A fails naming the shard; B publishes its own root; the
    // published result is never a mix.
    env.upload("rounds/two", &shards, json!({ "layout": "v1" }))
        .await;
    let a = json!({ "bucket": BUCKET, "prefix": "rounds/two", "run": "run-a" });
    let b = json!({ "bucket": BUCKET, "prefix": "rounds/two", "run": "run-b" });
    let shard = |run: &Value, i: u64| {
        let mut v = run.clone();
        v["shard"] = json!(i);
        v
    };
    env.invoke("plan", &a).ok("plan A");
    env.invoke("mini-tree", &shard(&a, 1)).ok("A 1");
    env.put(
        "rounds/two/round.json",
        json!({ "layout": "agg2023" }).to_string(),
    )
    .await;
    // Shard 0 replaced by other users (re-uploading the same bytes would keep
    // S3's ETag, and the same content is no change).
    env.put(
        "rounds/two/shards/entry_16_1.csv",
        fixture("entry_16_4.csv"),
    )
    .await;
    let mut shards_b = shards.clone();
    shards_b[0].1 = fixture("entry_16_4.csv");
    std::thread::sleep(Duration::from_millis(5));
    env.invoke("plan", &b).ok("plan B");
    for i in 0..4 {
        env.invoke("mini-tree", &shard(&b, i)).ok("B");
        if i >= 2 {
            env.invoke("mini-tree", &shard(&a, i)).ok("A");
        }
    }
    let (error_type, message) = env.invoke("mini-tree", &shard(&a, 0)).err("A 0");
    assert_eq!(error_type, "InvalidInput");
    assert!(
        message.starts_with("mini-tree: shard 0 (rounds/two/shards/entry_16_1.csv): rounds/two/shards/entry_16_1.csv changed since the round was planned"),
        "{message}"
    );
    let (error_type, _) = env.invoke("aggregator", &a).err("aggregator A");
    assert_eq!(error_type, "NotFound");
    let result_b = env.invoke("aggregator", &b).ok("aggregator B");
    assert_eq!(
        without_artifacts(result_b.clone()),
        without_artifacts(env.cli_round(&shards_b, "agg2023"))
    );
    let mut failure = a.clone();
    failure["failed_step"] = json!("mini-tree");
    failure["failure"] = json!({ "Error": "States.ExceedToleratedFailureThreshold", "Cause": "" });
    let record = env.invoke("aggregator", &failure).ok("failure mode A");
    assert_eq!(record["shard"], 0);
    assert_eq!(record["run"], "run-a");
    let published: Value =
        serde_json::from_slice(&env.get("rounds/two/result.json").await.unwrap()).unwrap();
    assert_eq!(published, result_b);
    assert!(env.get("rounds/two/runs/run-a/result.json").await.is_none());

    // 4. A bad shard: InvalidInput naming it; error.json in failure mode; no result.
    let mut bad = four_shards();
    bad[2].1 = fixture("entry_16_overflow.csv");
    env.upload("rounds/bad", &bad, json!({})).await;
    let input = json!({ "bucket": BUCKET, "prefix": "rounds/bad", "run": "run-1" });
    env.invoke("plan", &input).ok("plan");
    let (error_type, message) = env
        .invoke(
            "mini-tree",
            &json!({ "bucket": BUCKET, "prefix": "rounds/bad", "run": "run-1", "shard": 2 }),
        )
        .err("the overflow shard");
    assert_eq!(error_type, "InvalidInput");
    assert!(
        message.starts_with("mini-tree: shard 2 (rounds/bad/shards/entry_16_3.csv): rounds/bad/shards/entry_16_3.csv:2: "),
        "{message}"
    );
    assert!(
        message.contains("out of range for n_bytes = 14"),
        "{message}"
    );
    let (error_type, _) = env
        .invoke("aggregator", &input)
        .err("aggregator without mini-tree 2");
    assert_eq!(error_type, "NotFound");
    // What EventBridge delivers for the failed execution (the definition has no
    // Catch): its status, input, Error and Cause (the error payload).
    let cause = json!({ "errorType": "InvalidInput", "errorMessage": message }).to_string();
    let record = env
        .invoke(
            "aggregator",
            &failed_execution("rounds/bad", "run-1", "InvalidInput", &cause),
        )
        .ok("failure mode");
    assert_eq!(record["step"], "mini-tree");
    assert_eq!(record["shard"], 2);
    assert_eq!(record["shard_key"], "rounds/bad/shards/entry_16_3.csv");
    assert_eq!(record["error"], "InvalidInput");
    for key in ["rounds/bad/error.json", "rounds/bad/runs/run-1/error.json"] {
        let stored: Value = serde_json::from_slice(&env.get(key).await.unwrap()).unwrap();
        assert_eq!(stored, record, "{key}");
    }
    assert!(env.get("rounds/bad/result.json").await.is_none());

    // 4b. A redrive. Shard 1 is missing when its mini-tree runs (NotFound), so the
    // execution fails and EventBridge's event gets error.json naming it. The
    // same bytes are uploaded again (moto's ETag is the MD5: the planned version),
    // the Map's failed item and the aggregator run again: the result is the
    // uninterrupted run's, and no successful shard's objects were written again.
    env.upload("rounds/redrive", &four_shards(), json!({}))
        .await;
    let uninterrupted = env.round("rounds/redrive", "run-u").await;
    let input = json!({ "bucket": BUCKET, "prefix": "rounds/redrive", "run": "run-r" });
    env.invoke("plan", &input).ok("plan");
    let shard1 = "rounds/redrive/shards/entry_16_2.csv";
    let planned_etag = env.etag(shard1).await;
    env.s3.delete(BUCKET, shard1).await.unwrap();
    let mini_tree = |i: u64| json!({ "bucket": BUCKET, "prefix": "rounds/redrive", "run": "run-r", "shard": i });
    for i in [0, 2, 3] {
        env.invoke("mini-tree", &mini_tree(i)).ok("mini-tree");
    }
    let (error_type, _) = env
        .invoke("mini-tree", &mini_tree(1))
        .err("missing shard 1");
    assert_eq!(error_type, "NotFound");
    let record = env
        .invoke(
            "aggregator",
            &failed_execution(
                "rounds/redrive",
                "run-r",
                "States.ExceedToleratedFailureThreshold",
                "The specified tolerated failure threshold was exceeded",
            ),
        )
        .ok("failure handler");
    assert_eq!(
        (
            &record["step"],
            &record["shard"],
            &record["shard_key"],
            &record["error"]
        ),
        (
            &json!("mini-tree"),
            &json!(1),
            &json!(shard1),
            &json!("NotFound")
        )
    );
    let written = |i: u64| format!("rounds/redrive/runs/run-r/mini-trees/{i:06}.mst");
    let mut stamps = Vec::new();
    for i in [0, 2, 3] {
        stamps.push(env.last_modified(&written(i)).await);
    }
    // Object times have one-second resolution.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.put(shard1, four_shards()[1].1.clone()).await;
    assert_eq!(env.etag(shard1).await, planned_etag);
    env.invoke("mini-tree", &mini_tree(1))
        .ok("redriven mini-tree 1");
    let redriven = env.invoke("aggregator", &input).ok("redriven aggregator");
    let runless = |mut v: Value| {
        v["run"] = Value::Null;
        v["artifacts"] = Value::Null;
        // Build times differ; which shards were built does not.
        for s in v["build"]["shards"].as_array_mut().unwrap() {
            s["build_ms"] = Value::Null;
        }
        v["build"]["total_build_ms"] = Value::Null;
        v["build"]["max_build_ms"] = Value::Null;
        for i in v["inputs"].as_array_mut().unwrap() {
            i["mini_tree"] = Value::Null;
        }
        v
    };
    assert_eq!(runless(redriven.clone()), runless(uninterrupted.clone()));
    assert_eq!(redriven["run"], "run-r");
    assert!(env
        .get("rounds/redrive/runs/run-r/error.json")
        .await
        .is_none());
    assert!(env
        .get("rounds/redrive/runs/run-r/mini-trees/000001.error.json")
        .await
        .is_none());
    // A child run again although it had succeeded writes nothing.
    for i in 0..4 {
        env.invoke("mini-tree", &mini_tree(i)).ok("mini-tree again");
    }
    for (n, i) in [0, 2, 3].into_iter().enumerate() {
        assert_eq!(
            env.last_modified(&written(i)).await,
            stamps[n],
            "shard {i}'s mini-tree was written again"
        );
    }

    // 5. Proofs: with a hint, without (the username index), verified by the CLI
    // against the published result; unknown users.
    let result: Value =
        serde_json::from_slice(&env.get("rounds/unequal-v1/result.json").await.unwrap()).unwrap();
    let result_file = env.work.path().join("result-unequal-v1.json");
    fs::write(&result_file, result.to_string()).unwrap();
    let root = result["root"]["hash"].as_str().unwrap().to_string();
    let text = String::from_utf8(parts[3].1.clone()).unwrap();
    let user = text
        .lines()
        .nth(7)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let mut proofs = Vec::new();
    for hint in [json!(3), Value::Null] {
        let mut req = json!({ "bucket": BUCKET, "prefix": "rounds/unequal-v1", "username": user, "merkle": true });
        if !hint.is_null() {
            req["shard"] = hint;
        }
        let proof = env.invoke("proof", &req).ok("proof");
        assert_eq!(proof["mini_tree"], 3);
        assert_eq!(proof["root"]["hash"], json!(root));
        let file = env.work.path().join(format!("proof-{}.json", proofs.len()));
        fs::File::create(&file)
            .unwrap()
            .write_all(proof.to_string().as_bytes())
            .unwrap();
        let v = env.cli(&[
            "verify",
            file.to_str().unwrap(),
            "--result",
            result_file.to_str().unwrap(),
        ]);
        assert!(
            v.status.success(),
            "summa-agg verify: {}{}",
            String::from_utf8_lossy(&v.stdout),
            String::from_utf8_lossy(&v.stderr)
        );
        proofs.push(proof);
    }
    assert_eq!(proofs[0], proofs[1]);
    let (error_type, message) = env
        .invoke(
            "proof",
            &json!({ "bucket": BUCKET, "prefix": "rounds/unequal-v1", "username": "nobody" }),
        )
        .err("unknown user");
    assert_eq!(error_type, "NotFound");
    assert!(message.contains("nobody"), "{message}");

    // 5b. A zero-knowledge proof from the real `proof` binary: keys made by the CLI
    // (on the UNSAFE test SRS, as every test does), uploaded to zk-keys/<shape>/,
    // the proof (the default) checked by `summa-agg verify` against the published
    // result, with the verifying key derived from the circuit.
    let depth = result["depth"].to_string();
    let keys_dir = env.work.path().join("zk-keys");
    let k = env.cli(&[
        "zk-keys",
        "--depth",
        &depth,
        "--currencies",
        "2",
        "--unsafe-test-srs",
        "--out",
        keys_dir.to_str().unwrap(),
    ]);
    assert!(k.status.success(), "{}", String::from_utf8_lossy(&k.stderr));
    for f in fs::read_dir(&keys_dir).unwrap() {
        let f = f.unwrap().path();
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        env.put(
            &format!("zk-keys/v1-d{depth}-c2-b14/{name}"),
            fs::read(&f).unwrap(),
        )
        .await;
    }
    let req = json!({ "bucket": BUCKET, "prefix": "rounds/unequal-v1", "username": user });
    let zk = env.invoke("proof", &req).ok("zk proof");
    assert!(!zk.to_string().contains("sibling"), "{zk}");
    assert_eq!(zk["public_inputs"]["root_hash"], json!(root));
    let file = env.work.path().join("zk-proof.json");
    fs::write(&file, zk.to_string()).unwrap();
    let v = env.cli(&[
        "verify",
        file.to_str().unwrap(),
        "--keys",
        keys_dir.to_str().unwrap(),
        "--result",
        result_file.to_str().unwrap(),
        "--unsafe-test-srs",
    ]);
    assert!(
        v.status.success(),
        "summa-agg verify (zk): {}",
        String::from_utf8_lossy(&v.stderr)
    );

    // 6. trigger: one execution per upload of the manifest; other keys ignored.
    assert!(env.executions().await.is_empty());
    let manifest_key = "rounds/equal/round.json";
    let etag = env.etag(manifest_key).await;
    let event = s3_event(manifest_key, &etag, "0065A1B2C3D4E5F601");
    let out = env.invoke("trigger", &event).ok("trigger");
    assert_eq!(out["started"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out["started"][0]["already_started"], false);
    let name = out["started"][0]["execution_name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(name.starts_with("rounds-equal-"), "{name}");
    assert_eq!(env.executions().await, std::slice::from_ref(&name));
    // The same event again (S3 delivers at least once). StartExecution with the
    // same name and input answers with the running execution (as AWS does), or
    // ExecutionAlreadyExists once it has finished: either way no second round.
    let first_arn = out["started"][0]["execution_arn"].clone();
    let out = env.invoke("trigger", &event).ok("trigger, duplicate event");
    assert_eq!(out["started"][0]["execution_name"], json!(name));
    if out["started"][0]["already_started"] == false {
        assert_eq!(out["started"][0]["execution_arn"], first_arn);
    }
    assert_eq!(env.executions().await.len(), 1);
    let out = env
        .invoke(
            "trigger",
            &s3_event(
                "rounds/equal/shards/entry_16_1.csv",
                "abc",
                "0065A1B2C3D4E5F602",
            ),
        )
        .ok("trigger, a shard");
    assert_eq!(out["started"], json!([]));
    assert_eq!(
        out["ignored"],
        json!(["s3://summa-rounds/rounds/equal/shards/entry_16_1.csv"])
    );
    assert_eq!(env.executions().await.len(), 1);
    let execution = env
        .sfn
        .describe_execution()
        .execution_arn(format!(
            "arn:aws:states:us-east-1:{ACCOUNT}:execution:{STATE_MACHINE}:{name}"
        ))
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(execution.input().unwrap()).unwrap();
    assert_eq!(
        input,
        json!({ "bucket": BUCKET, "prefix": "rounds/equal", "run": name })
    );
    // The same manifest uploaded again (same bytes, same ETag, a new sequencer):
    // a new run.
    env.put(manifest_key, env.get(manifest_key).await.unwrap())
        .await;
    assert_eq!(env.etag(manifest_key).await, etag);
    let out = env
        .invoke(
            "trigger",
            &s3_event(manifest_key, &etag, "0065A1B2C3D4E5F7AA"),
        )
        .ok("trigger, re-upload");
    assert_eq!(out["started"][0]["already_started"], false);
    assert_ne!(out["started"][0]["execution_name"], json!(name));
    assert_eq!(env.executions().await.len(), 2);
    // An invalid manifest starts nothing and is reported in P/error.json.
    env.put(manifest_key, r#"{"layout": "v9"}"#).await;
    let (error_type, message) = env
        .invoke(
            "trigger",
            &s3_event(
                manifest_key,
                &env.etag(manifest_key).await,
                "0065A1B2C3D4E5F7BB",
            ),
        )
        .err("trigger, invalid manifest");
    assert_eq!(error_type, "InvalidInput");
    assert!(message.contains("v9"), "{message}");
    assert_eq!(env.executions().await.len(), 2);
    let record: Value =
        serde_json::from_slice(&env.get("rounds/equal/error.json").await.unwrap()).unwrap();
    assert_eq!(record["step"], "trigger");
    assert!(record["cause"].as_str().unwrap().contains("v9"), "{record}");

    // 7. The S3 adapter itself: multipart upload, pagination, empty objects.
    let multipart = S3Storage::from_config(&env.config).with_multipart(5 << 20, 5 << 20);
    let big: Vec<u8> = (0..(11u32 << 20)).map(|i| (i % 253) as u8).collect();
    multipart
        .put(
            BUCKET,
            "adapter/big",
            Bytes::from(big.clone()),
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_eq!(env.s3.get(BUCKET, "adapter/big").await.unwrap(), big);
    assert!(
        env.etag("adapter/big").await.contains("-3"),
        "a 3-part upload"
    );
    assert_eq!(
        env.s3
            .get_range(BUCKET, "adapter/big", (11 << 20) - 3, 10)
            .await
            .unwrap(),
        &big[big.len() - 3..]
    );
    env.put("adapter/empty", Vec::new()).await;
    assert!(env
        .s3
        .get_range(BUCKET, "adapter/empty", 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(env.s3.size(BUCKET, "adapter/empty").await.unwrap(), 0);
    use futures::StreamExt;
    let e = &env;
    futures::stream::iter(0..1005)
        .map(|i| async move { e.put(&format!("adapter/many/{i:05}"), "x").await })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let keys = env.s3.list(BUCKET, "adapter/many/").await.unwrap();
    assert_eq!(keys.len(), 1005);
    assert_eq!(keys[1004], "adapter/many/01004");
    env.s3.delete(BUCKET, "adapter/many/00000").await.unwrap();
    env.s3.delete(BUCKET, "adapter/many/00000").await.unwrap();
    assert_eq!(
        env.s3
            .get(BUCKET, "adapter/nothing")
            .await
            .unwrap_err()
            .kind,
        summa_functions::StoreErrorKind::NotFound
    );
    eprintln!("local_lambda: all checks passed in {:?}", t0.elapsed());
}
