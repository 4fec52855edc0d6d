//! One schedule, run and checked: the round uploaded, its event delivered, its
//! executions run under the schedule's faults and redriven until published; the
//! store checked at each failure and at the end (the invariant, `main.rs`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::Digest;
use summa_agg::json::RoundResult;
use summa_functions::executions::{Executions, StartOutcome};
use summa_functions::handlers;
use summa_functions::model::{LookupFile, ProofInput, RoundInput};
use summa_functions::storage::{Counting, MemoryStorage, BINARY};
use summa_functions::{FnError, S3Event, Storage, StorageRead, StoreErrorKind};
use tokio::time::Instant;

use crate::schedule::{Injector, Schedule};
use crate::sim::{Definition, Ended, Progress, Sim};

pub const BUCKET: &str = "summa-rounds";
const PREFIX: &str = "rounds/faults";
/// The root of `tests/fixtures/entry_16_{1..4}.csv` (v1, n_bytes 14), as the
/// command line computes it (the handlers' tests check the same).
pub const FIRST_ROOT: &str = "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da";
/// The trigger function's timeout (`infra/template.yaml`).
const TRIGGER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Redrives after which a failed round counts as not recovered.
const MAX_REDRIVES: u64 = 8;
/// The longest an execution may run, in (virtual) seconds: each task's timeout
/// through all its retries is far below it.
const ROUND_LIMIT_S: f64 = 6.0 * 3600.0;

/// What a fault-free round gives: the roots and how many requests and task
/// invocations it makes (where the schedules place their faults).
pub struct Baseline {
    pub first_root: String,
    pub second_root: String,
    pub requests: u64,
    pub tasks: u64,
    shards: Vec<(String, Vec<u8>)>,
    changed: (String, Vec<u8>),
    users: Vec<String>,
    def: Definition,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A fake Step Functions: names are unique, like StartExecution's.
#[derive(Default)]
struct Executed {
    names: Mutex<Vec<String>>,
    seen: Mutex<HashSet<String>>,
}

impl Executions for Executed {
    async fn start(&self, name: &str, _input: &str) -> Result<StartOutcome, FnError> {
        if !self.seen.lock().unwrap().insert(name.to_string()) {
            return Ok(StartOutcome::AlreadyExists);
        }
        self.names.lock().unwrap().push(name.to_string());
        Ok(StartOutcome::Started {
            execution_arn: format!("arn:aws:states:::execution:round:{name}"),
        })
    }
}

/// The S3 event of an upload of the manifest (`version` tells uploads apart): the
/// trigger's committed event fixture, for this bucket and round.
fn upload_event(version: &str) -> S3Event {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../trigger/events/round-uploaded.json"
    );
    let mut e: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("the trigger's event")).unwrap();
    let s3 = &mut e["Records"][0]["s3"];
    s3["bucket"]["name"] = BUCKET.into();
    s3["object"]["key"] = format!("{PREFIX}/round.json").into();
    s3["object"]["versionId"] = version.into();
    serde_json::from_value(e).expect("an S3 event")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

impl Baseline {
    pub fn measure() -> Baseline {
        let shards: Vec<(String, Vec<u8>)> = (1..=4)
            .map(|i| {
                (
                    format!("entry_16_{i}.csv"),
                    fixture(&format!("entry_16_{i}.csv")),
                )
            })
            .collect();
        // The second round: shard 3 with one balance raised, the others re-used.
        let text = String::from_utf8(shards[2].1.clone()).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let mut row: Vec<String> = lines[1].split(',').map(str::to_string).collect();
        row[1] = (row[1].parse::<u64>().unwrap() + 1).to_string();
        lines[1] = row.join(",");
        let changed = (
            shards[2].0.clone(),
            format!("{}\n", lines.join("\n")).into_bytes(),
        );
        let users = shards
            .iter()
            .flat_map(|(_, csv)| {
                String::from_utf8(csv.clone())
                    .unwrap()
                    .lines()
                    .skip(1)
                    .map(|l| l.split(',').next().unwrap().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut base = Baseline {
            first_root: FIRST_ROOT.into(),
            second_root: String::new(),
            requests: 0,
            tasks: 0,
            shards,
            changed,
            users,
            def: Definition::load(),
        };
        let injector = Injector::new(Schedule::none());
        let world = World::new(&injector);
        let rt = runtime();
        rt.block_on(async {
            world.upload_first(&base).await;
            let first = world.round_without_faults(&base, "v-first").await;
            assert_eq!(first.root.hash, FIRST_ROOT, "the fault-free round's root");
            world.upload_second(&base).await;
            let second = world.round_without_faults(&base, "v-second").await;
            base.second_root = second.root.hash;
        });
        assert_ne!(base.second_root, base.first_root);
        // Where faults go: the requests and tasks of a first round with its event.
        let counter = Injector::new(Schedule::none());
        let world = World::new(&counter);
        rt.block_on(async {
            world.upload_first(&base).await;
            *counter.on.lock().unwrap() = true;
            world.round_without_faults(&base, "v-count").await;
        });
        (base.requests, base.tasks) = counter.counts();
        base
    }
}

/// One store, its fault hook, and the fake Step Functions.
struct World {
    storage: Counting<MemoryStorage>,
    injector: Arc<Injector>,
}

impl World {
    fn new(injector: &Arc<Injector>) -> World {
        let storage = Counting::new(MemoryStorage::default());
        storage.on_call(injector.hook());
        World {
            storage,
            injector: injector.clone(),
        }
    }

    fn faults(&self, on: bool) {
        *self.injector.on.lock().unwrap() = on;
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.storage
            .put(BUCKET, key, Bytes::from(body), BINARY)
            .await
            .expect("an upload");
    }

    async fn upload_first(&self, base: &Baseline) {
        for (name, csv) in &base.shards {
            self.put(&format!("{PREFIX}/shards/{name}"), csv.clone())
                .await;
        }
        self.put(&format!("{PREFIX}/round.json"), b"{}".to_vec())
            .await;
    }

    async fn upload_second(&self, base: &Baseline) {
        let (name, csv) = &base.changed;
        self.put(&format!("{PREFIX}/shards/{name}"), csv.clone())
            .await;
        let manifest = serde_json::json!({ "previous": PREFIX }).to_string();
        self.put(&format!("{PREFIX}/round.json"), manifest.into_bytes())
            .await;
    }

    fn sim<'a>(
        &'a self,
        def: &'a Definition,
        twice: &'a (dyn Fn() -> crate::sim::Twice + Sync),
    ) -> Sim<'a> {
        Sim {
            storage: &self.storage,
            def,
            twice,
            concurrency: 2,
        }
    }

    /// The runs that delivering `events` to `trigger` started: each delivery
    /// tried up to three times, as Lambda retries an asynchronous invocation, and
    /// an event whose three tries failed delivered again (an operator re-uploads
    /// the manifest's event), up to `MAX_REDRIVES` times.
    async fn trigger(&self, sfn: &Executed, events: &[S3Event]) -> Vec<String> {
        for e in events {
            'delivered: for _ in 0..=MAX_REDRIVES {
                for _ in 0..3 {
                    let t = handlers::trigger(&self.storage, sfn, e.clone());
                    if let Ok(Ok(_)) = tokio::time::timeout(TRIGGER_TIMEOUT, t).await {
                        break 'delivered;
                    }
                }
            }
        }
        sfn.names.lock().unwrap().clone()
    }

    async fn round_without_faults(&self, base: &Baseline, version: &str) -> RoundResult {
        let sfn = Executed::default();
        let twice = || self.injector.twice();
        let sim = self.sim(&base.def, &twice);
        let runs = self.trigger(&sfn, &[upload_event(version)]).await;
        assert_eq!(runs.len(), 1);
        match sim.execute(&input(&runs[0]), Progress::default()).await {
            Ended::Succeeded(r) => *r,
            Ended::Failed(e, _) => panic!("a fault-free round failed: {e:?}"),
        }
    }
}

fn input(run: &str) -> RoundInput {
    RoundInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        run: run.into(),
    }
}

/// How a schedule ended.
#[derive(Default)]
pub struct Outcome {
    pub redrives: u64,
    /// Executions that failed after their last write, `P/result.json`, with the
    /// round published whole.
    pub failed_after_publishing: u64,
    pub recovery_s: f64,
    pub violations: Vec<String>,
}

pub fn run_schedule(base: &Baseline, s: &Schedule, injector: &Arc<Injector>) -> Outcome {
    let world = World::new(injector);
    runtime().block_on(async {
        world.faults(false);
        let (expected, previous) = if s.second_round {
            world.upload_first(base).await;
            world.round_without_faults(base, "v-previous").await;
            world.upload_second(base).await;
            let previous = get_opt(&world.storage, &format!("{PREFIX}/result.json")).await;
            (base.second_root.clone(), previous)
        } else {
            world.upload_first(base).await;
            (base.first_root.clone(), None)
        };
        world.faults(true);
        let mut events = vec![upload_event("v-1")];
        if s.event_twice {
            events.push(upload_event("v-1"));
        }
        if s.two_rounds {
            events.push(upload_event("v-2"));
        }
        let sfn = Executed::default();
        let runs = world.trigger(&sfn, &events).await;
        let mut out = Outcome::default();
        let want_runs = 1 + usize::from(s.two_rounds);
        if runs.len() != want_runs {
            out.violations.push(format!(
                "{} execution(s) started for {} upload(s): {runs:?}",
                runs.len(),
                want_runs
            ));
        }
        let twice = || injector.twice();
        let sim = world.sim(&base.def, &twice);
        let ends = futures::future::join_all(
            runs.iter()
                .map(|run| drive((&world, base, &sim), run, &expected, previous.as_deref())),
        )
        .await;
        for (redrives, recovery, violations, failed_after) in ends {
            out.failed_after_publishing += failed_after;
            out.redrives = out.redrives.max(redrives);
            out.recovery_s = out.recovery_s.max(recovery);
            out.violations.extend(violations);
        }
        world.faults(false);
        out.violations
            .extend(published(&world, base, &expected, &runs).await);
        out
    })
}

/// Runs one execution and redrives it until it succeeds: (redrives, virtual
/// seconds from its first failure to its success, violations).
async fn drive(
    (world, base, sim): (&World, &Baseline, &Sim<'_>),
    run: &str,
    expected: &str,
    previous: Option<&[u8]>,
) -> (u64, f64, Vec<String>, u64) {
    let mut violations = Vec::new();
    let mut failed_after = 0;
    let failed_after_publishing = &mut failed_after;
    let mut progress = Progress::default();
    let mut first_failure: Option<Instant> = None;
    for redrive in 0..=MAX_REDRIVES {
        let started = Instant::now();
        let ended = sim.execute(&input(run), progress).await;
        let took = started.elapsed().as_secs_f64();
        if took > ROUND_LIMIT_S {
            violations.push(format!(
                "run {run} ran {took:.0} s (virtual), past the round's limit"
            ));
        }
        match ended {
            Ended::Succeeded(r) => {
                if r.root.hash != expected {
                    violations.push(format!(
                        "run {run} succeeded with root {}, not {expected}",
                        r.root.hash
                    ));
                }
                let recovery = first_failure.map_or(0.0, |t| t.elapsed().as_secs_f64());
                return (redrive, recovery, violations, failed_after);
            }
            Ended::Failed(e, p) => {
                first_failure.get_or_insert(started);
                sim.record_failure(&input(run), &e).await;
                // While it stands failed: nothing of this run published.
                world.faults(false);
                let now = get_opt(&world.storage, &format!("{PREFIX}/result.json")).await;
                world.faults(true);
                // (The previous round's, another run's or none: not this one's.)
                if let Some(now) = now.filter(|now| previous != Some(&now[..])) {
                    match serde_json::from_slice::<RoundResult>(&now) {
                        Err(why) => violations.push(format!(
                            "run {run} failed ({}) and P/result.json does not parse: {why}",
                            e.error
                        )),
                        // Killed after its last write (P/result.json): published
                        // whole, or a violation.
                        Ok(r) if r.run.as_deref() == Some(run) => {
                            world.faults(false);
                            let wrong = published(world, base, expected, &[run.to_string()]).await;
                            world.faults(true);
                            if wrong.is_empty() {
                                *failed_after_publishing += 1;
                            }
                            violations.extend(wrong.into_iter().map(|w| {
                                format!("run {run} failed ({}) after publishing, and {w}", e.error)
                            }));
                        }
                        Ok(_) => {}
                    }
                }
                progress = *p;
            }
        }
    }
    violations.push(format!(
        "run {run} not published after {MAX_REDRIVES} redrives"
    ));
    (MAX_REDRIVES, 0.0, violations, failed_after)
}

/// The published round of the world's store, checked ([`published_in`]).
async fn published(world: &World, base: &Baseline, expected: &str, runs: &[String]) -> Vec<String> {
    let writes = world.storage.keys_written();
    let store = Published {
        storage: &world.storage,
        prefix: PREFIX,
        writes: &writes,
    };
    published_in(&store, &base.users, expected, runs).await
}

/// A store to check, with the keys written to it in order.
pub struct Published<'a, S> {
    pub storage: &'a S,
    pub prefix: &'a str,
    pub writes: &'a [String],
}

/// The object at `key`, or `None` if there is none.
pub async fn get_opt<S: StorageRead>(storage: &S, key: &str) -> Option<Vec<u8>> {
    match storage.get(BUCKET, key).await {
        Ok(b) => Some(b),
        Err(e) if e.kind == StoreErrorKind::NotFound => None,
        Err(e) => panic!("{e}"),
    }
}

/// The published round, checked: what `P/result.json` says and names, that it
/// was written after everything of its run, and `users`' proofs against it.
pub async fn published_in<S: StorageRead>(
    store: &Published<'_, S>,
    users: &[String],
    expected: &str,
    runs: &[String],
) -> Vec<String> {
    let (storage, prefix) = (store.storage, store.prefix);
    let mut v = Vec::new();
    let Some(bytes) = get_opt(storage, &format!("{prefix}/result.json")).await else {
        return vec!["no P/result.json after the round".into()];
    };
    let r: RoundResult = match summa_agg::json::from_slice_strict(&bytes) {
        Ok(r) => r,
        Err(e) => return vec![format!("P/result.json does not parse: {e}")],
    };
    if r.root.hash != expected {
        v.push(format!(
            "the published root is {}, not {expected}",
            r.root.hash
        ));
    }
    let Some(run) = r.run.clone().filter(|run| runs.contains(run)) else {
        return vec![format!(
            "P/result.json is of run {:?}, none of {runs:?}",
            r.run
        )];
    };
    let run_dir = format!("{prefix}/runs/{run}/");
    if get_opt(storage, &format!("{run_dir}result.json"))
        .await
        .as_deref()
        != Some(&bytes[..])
    {
        v.push(format!("P/result.json is not {run_dir}result.json"));
    }
    for (name, key) in &r.artifacts {
        if ["mini_trees", "user_index", "user_index_bits"].contains(&name.as_str()) {
            continue;
        }
        if get_opt(storage, key).await.is_none() {
            v.push(format!(
                "P/result.json names {key} ({name}), which is not there"
            ));
        }
    }
    for input in &r.inputs {
        match get_opt(storage, &input.mini_tree).await {
            None => v.push(format!(
                "P/result.json names {}, which is not there",
                input.mini_tree
            )),
            Some(b) if hex::encode(sha2::Sha256::digest(&b)) != input.mini_tree_sha256 => {
                v.push(format!(
                    "{} is not the mini-tree P/result.json names",
                    input.mini_tree
                ))
            }
            Some(_) => {}
        }
    }
    // Written last: nothing of the run's written after P/result.json.
    let writes = store.writes;
    let last = writes
        .iter()
        .rposition(|k| *k == format!("{prefix}/result.json"));
    if last.is_none() {
        v.push("P/result.json is there, but not among the writes seen".into());
    }
    if let Some(at) = last {
        let later: Vec<&str> = writes[at + 1..]
            .iter()
            .filter(|k| k.starts_with(&run_dir) && !k.ends_with(".error.json"))
            .map(|k| k.as_str())
            .collect();
        if !later.is_empty() {
            v.push(format!("written after P/result.json: {later:?}"));
        }
    }
    match get_opt(storage, &format!("{prefix}/lookup.json")).await {
        Some(l) => match serde_json::from_slice::<LookupFile>(&l) {
            Ok(l) if l.run == run => {}
            Ok(l) => v.push(format!(
                "P/lookup.json names run {}, P/result.json run {run}",
                l.run
            )),
            Err(e) => v.push(format!("P/lookup.json does not parse: {e}")),
        },
        None => v.push("no P/lookup.json".into()),
    }
    // Users' proofs, from the published run, against the published result.
    let n = users.len();
    for user in [&users[0], &users[n / 2], &users[n - 1]] {
        let asked = ProofInput {
            bucket: BUCKET.into(),
            prefix: prefix.into(),
            username: user.clone(),
            run: None,
        };
        match handlers::proof(storage, asked).await {
            Ok(p) => {
                if let Err(e) = summa_agg::proof::verify_with_result(&p, &r) {
                    v.push(format!(
                        "{user}'s proof does not verify against P/result.json: {e}"
                    ));
                }
            }
            Err(e) => v.push(format!("no proof for {user}: {e}")),
        }
    }
    v
}
