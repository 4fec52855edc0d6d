//! The campaign's state-machine part: schedules through the real functions and
//! the real state machine in the local emulators. `infra/local/stack.sh` starts
//! moto_server, cargo lambda watch and the five function binaries, each reaching
//! S3 through its port of `infra/local/fault-proxy.py` and running under a
//! supervisor that starts a new process when one is killed (as Lambda starts a
//! new sandbox). Each schedule:
//! - kills a function process in the middle of a step, at one of its S3 requests
//!   (before the request reaches S3, or after S3 answered and before the
//!   function sees the answer), and sometimes adds an S3 fault (500, 503
//!   SlowDown, a reset connection, a body cut mid-stream) at another request;
//! - runs the round with `infra/local/run-round.sh` (the upload, the S3 event to
//!   `trigger`, the execution moto records, `state-machine/round.asl.json` in
//!   aws-local-stepfunctions, every Task a `cargo lambda invoke` of the real
//!   function; a killed function is `Lambda.Unknown`, as Step Functions reports
//!   Lambda's Runtime.ExitError);
//! - while the execution stands failed, checks that nothing of it is published;
//!   then redrives it (`run-round.sh --redrive`: the same input, the same run)
//!   until it publishes;
//! - checks the published round in moto's S3 as the in-process part does
//!   (`check::published_in`: the root, every file `P/result.json` names and its
//!   hash, `P/result.json` written after the rest of its run, in the order S3 answered
//!   the writes, and users' proofs from the real proof handler).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use summa_agg::json::RoundResult;
use summa_functions::S3Storage;

use crate::cargo_env::{repo, without_cargo_vars};
use crate::check::{get_opt, published_in, Published, BUCKET, FIRST_ROOT};

/// The kinds of fault of this part, as the report counts them.
pub const KINDS: &[&str] = &[
    "killed_before_a_request_reaches_s3",
    "killed_after_s3_answered",
    "s3_500",
    "s3_503_slow_down",
    "connection_reset",
    "body_cut_mid_stream",
];
/// The functions whose processes are killed (trigger runs before the state
/// machine; the proof function is not part of a round).
const FUNCTIONS: [&str; 3] = ["plan", "mini-tree", "aggregator"];
/// Redrives after which a failed round counts as not recovered.
const MAX_REDRIVES: u64 = 3;
/// The longest one run of the state machine may take here (its retries wait
/// `SUMMA_LOCAL_RETRY_MS`, not the definition's intervals): past it, a hang.
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// Waits between retries (ms): the definition's intervals are the in-process
/// part's business (virtual time); here they would only slow the campaign.
const RETRY_MS: &str = "50";

/// `program` in the repository's root, without the variables cargo set for this
/// test (stack.sh builds the functions with a nested cargo).
fn command(program: &str) -> Command {
    let mut c = without_cargo_vars(Command::new(program));
    c.current_dir(repo());
    c
}

/// The running stack (`infra/local/stack.sh`), stopped on drop.
struct Stack {
    child: Child,
    moto_url: String,
    lambda_port: String,
    faults: PathBuf,
    log: PathBuf,
    /// The process groups stack.sh started (`WORKDIR/pids`).
    pids: PathBuf,
}

impl Stack {
    fn start(work: &Path) -> Stack {
        let faults = work.join("faults");
        let out = work.join("stack.out");
        let log = work.join("stack.log");
        let pids = work.join("stack").join("pids");
        let mut child = command("bash")
            .arg(repo().join("infra/local/stack.sh"))
            .arg(work.join("stack"))
            .env("SUMMA_LOCAL_FAULT_DIR", &faults)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .expect("infra/local/stack.sh");
        // A clean clone builds the functions first.
        let start = Instant::now();
        let ready = loop {
            let text = fs::read_to_string(&out).unwrap_or_default();
            if let Some(l) = text.lines().find(|l| l.starts_with("ready ")) {
                break l.to_string();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "infra/local/stack.sh exited ({status}):\n{}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if start.elapsed() > Duration::from_secs(1800) {
                kill_stack(&mut child, &pids);
                panic!("the local stack did not start in 30 min: {}", log.display());
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let var = |name: &str| {
            ready
                .split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("{name} missing from {ready:?}"))
                .to_string()
        };
        Stack {
            moto_url: var("SUMMA_LOCAL_MOTO_URL"),
            lambda_port: var("SUMMA_LOCAL_LAMBDA_PORT"),
            child,
            faults,
            log,
            pids,
        }
    }

    /// `infra/local/run-round.sh ARGS` on this stack: its exit status (`None`
    /// past [`RUN_LIMIT`], the run killed) and its stderr.
    fn run_round(&self, args: &[&str]) -> (Option<i32>, String) {
        let err = self.faults.join("run-round.err");
        let mut child = command("bash")
            .arg(repo().join("infra/local/run-round.sh"))
            .args(args)
            .env("SUMMA_LOCAL_MOTO_URL", &self.moto_url)
            .env("SUMMA_LOCAL_LAMBDA_PORT", &self.lambda_port)
            .env("SUMMA_LOCAL_FAULT_DIR", &self.faults)
            // One invocation per function at a time: a killed process is the one
            // serving the invocation that invoke.sh waits for.
            .env("SUMMA_LOCAL_MAP_CONCURRENCY", "1")
            .env("SUMMA_LOCAL_RETRY_MS", RETRY_MS)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&err).unwrap())
            .process_group(0)
            .spawn()
            .expect("infra/local/run-round.sh");
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s.code();
            }
            if start.elapsed() > RUN_LIMIT {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, fs::read_to_string(&err).unwrap_or_default())
    }

    /// Installs a schedule's rules (a new file restarts the proxy's counts) and
    /// empties the request log.
    fn set_faults(&self, rules: &Value) {
        fs::write(self.faults.join("requests.jsonl"), b"").unwrap();
        let tmp = self.faults.join("faults.json.tmp");
        fs::write(&tmp, rules.to_string()).unwrap();
        fs::rename(&tmp, self.faults.join("faults.json")).unwrap();
    }

    /// The proxy's log since the last `set_faults`: every S3 request, in order.
    fn requests(&self) -> Vec<Value> {
        fs::read_to_string(self.faults.join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a request log line"))
            .collect()
    }
}

/// Kills `child` (stack.sh) and the process groups listed in `pids`.
fn kill_stack(child: &mut Child, pids: &Path) {
    for pid in fs::read_to_string(pids)
        .unwrap_or_default()
        .split_whitespace()
    {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for Stack {
    fn drop(&mut self) {
        // stack.sh stops the stack on TERM (each process in its own group).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        kill_stack(&mut self.child, &self.pids);
        eprintln!(
            "infra/local/stack.sh did not stop; killed it and its processes; its log: {}",
            self.log.display()
        );
    }
}

/// One request of a fault-free round: where a fault can go.
#[derive(Clone)]
struct Request {
    function: String,
    method: String,
    nth: u64,
}

/// The rules of schedule `seed`: a kill at one request of a round function, and
/// half the time an S3 fault at another.
fn rules(seed: u64, requests: &[Request]) -> (Value, Vec<&'static str>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let kill = &requests[rng.gen_range(0..requests.len())];
    let (fault, kind) = if rng.gen_bool(0.5) {
        ("kill_before", KINDS[0])
    } else {
        ("kill_after", KINDS[1])
    };
    let rule = |r: &Request, fault: &str| json!({"function": r.function, "op": r.method, "nth": r.nth, "fault": fault});
    let mut rules = vec![rule(kill, fault)];
    let mut kinds = vec![kind];
    if rng.gen_bool(0.5) {
        let other = &requests[rng.gen_range(0..requests.len())];
        // A body is cut only where there is one: a GET's answer.
        let faults: &[(&str, &str)] = if other.method == "GET" {
            &[
                ("s3_500", KINDS[2]),
                ("s3_503", KINDS[3]),
                ("reset", KINDS[4]),
                ("cut", KINDS[5]),
            ]
        } else {
            &[
                ("s3_500", KINDS[2]),
                ("s3_503", KINDS[3]),
                ("reset", KINDS[4]),
            ]
        };
        let (fault, kind) = faults[rng.gen_range(0..faults.len())];
        rules.push(rule(other, fault));
        kinds.push(kind);
    }
    (json!(rules), kinds)
}

/// The named schedules every state-machine campaign runs first (but a replay):
/// - `regression-killed-after-result`: the aggregator killed right after
///   `P/result.json` landed (the execution fails with the round published); the
///   redrive runs the aggregator again, which must publish the run as it is
///   (functions/summa-functions/src/handlers/aggregator: an aggregated run is
///   published again without writing its files; in process, the schedule
///   `regression-aggregator-twice`).
/// - `regression-killed-after-lookup`: the same, one write earlier.
const REGRESSIONS: [(&str, &str); 2] = [
    ("regression-killed-after-result", "result.json"),
    ("regression-killed-after-lookup", "lookup.json"),
];

/// The rule that kills the aggregator right after `P/<file>` landed.
fn kill_aggregator_after(prefix: &str, file: &str) -> Value {
    json!([{
        "function": "aggregator",
        "op": "PUT",
        "key": format!("{BUCKET}/{prefix}/{file}"),
        "fault": "kill_after",
    }])
}

/// How one state-machine schedule ended.
pub struct Ended {
    /// Its seed, or its name (a regression).
    pub seed: String,
    pub kinds: Vec<&'static str>,
    /// The kinds whose rule fired.
    pub hit: BTreeSet<&'static str>,
    pub redrives: u64,
    pub failed_after_publishing: u64,
    pub recovery_s: f64,
    pub violations: Vec<String>,
}

/// The shards of every schedule (the in-process part's first round), in a
/// directory for run-round.sh.
fn shards(dir: &Path) -> Vec<String> {
    fs::create_dir_all(dir).unwrap();
    let mut users = Vec::new();
    for i in 1..=4 {
        let name = format!("entry_16_{i}.csv");
        let csv = fs::read(repo().join("tests/fixtures").join(&name)).unwrap();
        fs::write(dir.join(&name), &csv).unwrap();
        let text = String::from_utf8(csv).unwrap();
        users.extend(
            text.lines()
                .skip(1)
                .map(|l| l.split(',').next().unwrap().to_string()),
        );
    }
    users
}

/// Runs the regressions (if asked) and `seeds` as state-machine schedules on one
/// local stack; `on_end` gets each as it ends.
pub fn campaign(seeds: &[u64], with_regressions: bool, mut on_end: impl FnMut(Ended)) {
    let work = tempfile::tempdir().unwrap();
    if std::env::var_os("SUMMA_LOCAL_KEEP").is_some() {
        eprintln!("fault campaign: keeping {}", work.path().display());
    }
    let t0 = Instant::now();
    let stack = Stack::start(work.path());
    eprintln!(
        "fault campaign: the local stack is up ({:.0} s): moto {}, cargo lambda watch on {}",
        t0.elapsed().as_secs_f64(),
        stack.moto_url,
        stack.lambda_port
    );
    let shards_dir = work.path().join("shards");
    let users = shards(&shards_dir);
    let shards_dir = shards_dir.to_str().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s3 = rt.block_on(async {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(summa_functions::aws::http_client())
            .endpoint_url(&stack.moto_url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .load()
            .await;
        S3Storage::from_config(&config)
    });

    // A fault-free round: the root, and the requests where faults can go.
    stack.set_faults(&json!([]));
    let (status, err) = stack.run_round(&[shards_dir, "--prefix", "rounds/sm-baseline"]);
    assert_eq!(status, Some(0), "a fault-free round failed:\n{err}");
    let mut seen: BTreeMap<(String, String), u64> = BTreeMap::new();
    let requests: Vec<Request> = stack
        .requests()
        .into_iter()
        .filter_map(|r| {
            let function = r["function"].as_str()?.to_string();
            let method = r["method"].as_str()?.to_string();
            let nth = seen.entry((function.clone(), method.clone())).or_default();
            *nth += 1;
            FUNCTIONS.contains(&function.as_str()).then_some(Request {
                function,
                method,
                nth: *nth,
            })
        })
        .collect();
    eprintln!(
        "fault campaign: a fault-free round through the state machine: {} S3 requests of {}",
        requests.len(),
        FUNCTIONS.join(", ")
    );

    let named = REGRESSIONS.iter().enumerate().map(|(i, (name, file))| {
        let prefix = format!("rounds/sm-r{i}");
        let rules = kill_aggregator_after(&prefix, file);
        (name.to_string(), prefix, rules, vec![KINDS[1]])
    });
    let seeded = seeds.iter().enumerate().map(|(i, &seed)| {
        let (rules, kinds) = rules(seed, &requests);
        (
            seed.to_string(),
            format!("rounds/sm-{i}-{seed}"),
            rules,
            kinds,
        )
    });
    let schedules: Vec<_> = if with_regressions {
        named.chain(seeded).collect()
    } else {
        seeded.collect()
    };
    for (seed, prefix, rules, kinds) in schedules {
        stack.set_faults(&rules);
        let mut out = Ended {
            seed,
            kinds,
            hit: BTreeSet::new(),
            redrives: 0,
            failed_after_publishing: 0,
            recovery_s: 0.0,
            violations: Vec::new(),
        };
        let mut writes = Vec::new();
        let mut first_failure: Option<Instant> = None;
        let mut args = vec![shards_dir, "--prefix", &prefix];
        let run = loop {
            let started = Instant::now();
            let (status, err) = stack.run_round(&args);
            writes.extend(written(&stack.requests(), &mut out.hit));
            // The log restarts with each run; the rules' counts go on.
            fs::write(stack.faults.join("requests.jsonl"), b"").unwrap();
            let exec = execution_run(&err);
            match status {
                Some(0) => break exec,
                Some(2) => {
                    first_failure.get_or_insert(started);
                    // While it stands failed: nothing of it published, or all of
                    // it (killed after its last write, P/result.json).
                    let key = format!("{prefix}/result.json");
                    if let Some(now) = rt.block_on(get_opt(&s3, &key)) {
                        let store = Published {
                            storage: &s3,
                            prefix: &prefix,
                            writes: &writes,
                        };
                        let whole = match summa_agg::json::from_slice_strict::<RoundResult>(&now) {
                            Ok(_) => rt.block_on(published_in(
                                &store,
                                &users,
                                FIRST_ROOT,
                                std::slice::from_ref(&exec),
                            )),
                            Err(e) => vec![format!("P/result.json does not parse: {e}")],
                        };
                        if whole.is_empty() {
                            out.failed_after_publishing += 1;
                        }
                        out.violations.extend(
                            whole
                                .into_iter()
                                .map(|w| format!("the execution failed after publishing, and {w}")),
                        );
                    }
                    if out.redrives == MAX_REDRIVES {
                        out.violations
                            .push(format!("not published after {MAX_REDRIVES} redrives"));
                        break exec;
                    }
                    out.redrives += 1;
                    args = vec!["--redrive", "--prefix", &prefix];
                }
                Some(code) => {
                    out.violations
                        .push(format!("run-round.sh exited {code}:\n{}", tail(&err)));
                    break exec;
                }
                None => {
                    out.violations
                        .push(format!("the run hung past {RUN_LIMIT:?}:\n{}", tail(&err)));
                    break exec;
                }
            }
        };
        // The schedule did what it says: its kill fired (a harness that stopped
        // injecting would otherwise pass), and a regression failed its execution
        // as intended.
        if !out.hit.contains(&out.kinds[0]) {
            out.violations
                .push(format!("its kill ({}) never fired", out.kinds[0]));
        }
        if out.seed.starts_with("regression-") && out.redrives == 0 {
            out.violations
                .push("the execution did not fail: the regression tested nothing".into());
        }
        if out.seed == REGRESSIONS[0].0 && out.failed_after_publishing != 1 {
            out.violations.push(format!(
                "{} execution(s) failed after publishing, not 1",
                out.failed_after_publishing
            ));
        }
        if out.violations.is_empty() {
            let store = Published {
                storage: &s3,
                prefix: &prefix,
                writes: &writes,
            };
            out.violations
                .extend(rt.block_on(published_in(&store, &users, FIRST_ROOT, &[run])));
        }
        out.recovery_s = first_failure.map_or(0.0, |t| t.elapsed().as_secs_f64());
        on_end(out);
    }
    drop(stack);
    if std::env::var_os("SUMMA_LOCAL_KEEP").is_some() {
        let _ = work.keep();
    }
    let _ = std::io::stderr().flush();
}

/// The keys the round's functions wrote, in the order S3 answered them, and the
/// kinds of fault that fired.
fn written(requests: &[Value], hit: &mut BTreeSet<&'static str>) -> Vec<String> {
    let mut keys = Vec::new();
    for r in requests {
        let kind = match r["fault"].as_str() {
            Some("kill_before") => Some(KINDS[0]),
            Some("kill_after") => Some(KINDS[1]),
            Some("s3_500") => Some(KINDS[2]),
            Some("s3_503") => Some(KINDS[3]),
            Some("reset") => Some(KINDS[4]),
            Some("cut") => Some(KINDS[5]),
            _ => None,
        };
        hit.extend(kind);
        let landed = r["status"]
            .as_u64()
            .is_some_and(|s| (200..300).contains(&s));
        if r["method"] == "PUT" && landed {
            // Path-style: BUCKET/KEY.
            if let Some(k) = r["key"]
                .as_str()
                .and_then(|k| k.strip_prefix(&format!("{BUCKET}/")))
            {
                keys.push(k.to_string());
            }
        }
    }
    keys
}

/// The run of the execution, from run-round.sh's log line `input (from moto)
/// {...}`.
fn execution_run(err: &str) -> String {
    err.lines()
        .find_map(|l| l.split_once("input (from moto) ").map(|(_, j)| j))
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .and_then(|v| v["run"].as_str().map(str::to_string))
        .unwrap_or_default()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
