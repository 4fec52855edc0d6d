//! The fault campaign (issue 30): seeded fault schedules over whole serverless
//! rounds, in process: the real handlers, over the in-memory store behind the
//! counting adapter's fault hook (`Counting::on_call`), driven as the state
//! machine drives them (`sim.rs`: the definition's retries and timeouts, redrive).
//!
//! Each schedule (`schedule.rs`) uploads a round (sometimes after a previous round
//! whose mini-trees it re-uses), delivers the upload's S3 event to `trigger`
//! (sometimes twice, sometimes with a second upload at once), runs every execution
//! it started with the schedule's faults, records a failed one as EventBridge
//! would, checks the store, and redrives until the round publishes (at most
//! `MAX_REDRIVES`). The invariant (`check.rs`), after each schedule:
//! - published: the fault-free root in `P/result.json`, which names only files
//!   that are there and match, was written after them, and against which users'
//!   proofs verify;
//! - or, while an execution stands failed: `P/result.json` absent, or the previous
//!   round's, byte for byte; then a redrive publishes as above;
//! - no execution runs past the round's time limit (virtual time).
//!
//! Then the state-machine part (`stack.rs`): schedules through the real functions
//! and the real state machine in the local emulators, each killing a function
//! process in the middle of a step, checked against the same invariant.
//!
//! `cargo test -p summa-functions --test fault_campaign` runs a fixed-seed smoke
//! (in `make test`: 1,000 schedules in process, 2 through the state machine);
//! `make fault-campaign` the whole campaign with a random seed. Environment:
//! `FAULT_SCHEDULES` (how many in process), `FAULT_STATE_MACHINE_SCHEDULES` (how
//! many through the state machine), `SUMMA_SKIP_LOCAL_LAMBDA` (no state-machine
//! part, said so), `FAULT_SEED` (the campaign's seed), and to replay
//! one schedule: `FAULT_SCHEDULE` (in process) or `FAULT_STATE_MACHINE_SCHEDULE`
//! (through the state machine). The last line of the output is a JSON object of
//! the figures.

#[path = "../shared/cargo_env.rs"]
mod cargo_env;
mod check;
mod schedule;
mod sim;
mod stack;

use std::collections::BTreeMap;
use std::time::Instant;

use schedule::{Injector, Schedule, KINDS};

/// Kinds that are not injected into a request or a task: always "hit".
const ROUND_LEVEL: &[&str] = &[
    "upload_event_twice",
    "two_rounds_at_once",
    "second_round_reusing",
];

/// Schedules of the smoke in `make test`, and its seed.
const SMOKE_SCHEDULES: u64 = 1000;
const SMOKE_SEED: u64 = 30;
/// State-machine schedules of the smoke (each about 7 s on the local stack).
const SMOKE_STATE_MACHINE_SCHEDULES: u64 = 2;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| {
        v.trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
    })
}

/// The seed of schedule `i` of a campaign of seed `seed`.
fn schedule_seed(seed: u64, i: u64) -> u64 {
    // SplitMix64's mixer: distinct, well-spread seeds.
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15u64.wrapping_mul(i + 1));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[derive(Default)]
struct Tally {
    schedules: u64,
    published: u64,
    recovered: u64,
    violations: Vec<String>,
    by_kind: BTreeMap<&'static str, [u64; 4]>,
    max_redrives: u64,
    failed_after_publishing: u64,
    longest_recovery_s: f64,
}

impl Tally {
    /// Counts a schedule that had `kinds` (those that `hit` says reached a
    /// request or a task) and ended after `redrives` redrives, with
    /// `failed_after_publishing` such executions, `recovery_s` after its first
    /// failure.
    fn add(
        &mut self,
        kinds: &[&'static str],
        hit: impl Fn(&'static str) -> bool,
        (redrives, failed_after_publishing, recovery_s): (u64, u64, f64),
    ) {
        self.schedules += 1;
        for &k in kinds {
            let e = self.by_kind.entry(k).or_default();
            e[0] += 1;
            e[3] += u64::from(hit(k));
            e[if redrives == 0 { 1 } else { 2 }] += 1;
        }
        if redrives == 0 {
            self.published += 1;
        } else {
            self.recovered += 1;
        }
        self.max_redrives = self.max_redrives.max(redrives);
        self.failed_after_publishing += failed_after_publishing;
        self.longest_recovery_s = self.longest_recovery_s.max(recovery_s);
    }
}

fn main() {
    let replay = env_u64("FAULT_SCHEDULE");
    let replay_sm = env_u64("FAULT_STATE_MACHINE_SCHEDULE");
    let smoke = std::env::var("FAULT_SCHEDULES").is_err() && std::env::var("FAULT_SEED").is_err();
    let count = if replay_sm.is_some() {
        0
    } else {
        env_u64("FAULT_SCHEDULES").unwrap_or(SMOKE_SCHEDULES)
    };
    let sm_count = env_u64("FAULT_STATE_MACHINE_SCHEDULES").unwrap_or(if smoke {
        SMOKE_STATE_MACHINE_SCHEDULES
    } else {
        0
    });
    // The state-machine part needs the local stack's tools, like the end-to-end
    // harness (tests/local_lambda/): skipped only when asked, and saying so.
    let sm_count = if std::env::var_os("SUMMA_SKIP_LOCAL_LAMBDA").is_some() && replay_sm.is_none() {
        eprintln!("SKIPPED the state-machine part (SUMMA_SKIP_LOCAL_LAMBDA is set)");
        0
    } else {
        sm_count
    };
    let seed = env_u64("FAULT_SEED").unwrap_or(if smoke {
        SMOKE_SEED
    } else {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    eprintln!(
        "fault campaign: {} schedule(s) in process and {} through the state machine, seed {seed}{}",
        if replay.is_some() { 1 } else { count },
        if replay_sm.is_some() { 1 } else { sm_count },
        if smoke { " (the smoke)" } else { "" }
    );
    let start = Instant::now();
    let base = check::Baseline::measure();
    eprintln!(
        "fault campaign: a fault-free round: {} storage requests, {} task invocations; roots {} and {}",
        base.requests, base.tasks, base.first_root, base.second_root
    );
    let seeds: Vec<u64> = match replay {
        Some(s) => vec![s],
        None => (0..count).map(|i| schedule_seed(seed, i)).collect(),
    };
    let mut t = Tally::default();
    // The regressions first (every campaign runs them, unless it replays a
    // state-machine schedule), then the seeded schedules.
    let regressions = if replay_sm.is_some() {
        Vec::new()
    } else {
        Schedule::regressions()
    };
    let named = regressions
        .into_iter()
        .map(|(name, s)| (name.to_string(), s));
    let seeded = seeds
        .into_iter()
        .map(|s| (s.to_string(), Schedule::of(s, base.requests, base.tasks)));
    for (s, schedule) in named.chain(seeded) {
        let kinds = schedule.kinds();
        let injector = Injector::new(schedule.clone());
        let out = check::run_schedule(&base, &schedule, &injector);
        let hit = injector.hit.lock().unwrap().clone();
        t.add(
            &kinds,
            |k| hit.contains(&k) || ROUND_LEVEL.contains(&k),
            (out.redrives, out.failed_after_publishing, out.recovery_s),
        );
        for v in out.violations {
            let replay =
                format!("FAULT_SCHEDULE={s} cargo test -p summa-functions --test fault_campaign");
            eprintln!("VIOLATION (schedule {s}, kinds {kinds:?}): {v}\n  replay: {replay}");
            t.violations.push(format!("{s}: {v}"));
        }
    }
    // The state-machine part: its own seeds (a different stream from the same
    // campaign seed).
    let sm_seeds: Vec<u64> = match replay_sm {
        Some(s) => vec![s],
        None => (0..sm_count)
            .map(|i| schedule_seed(seed ^ 0x5354_4154_454d_4143, i))
            .collect(),
    };
    let mut sm = Tally::default();
    if !sm_seeds.is_empty() {
        stack::campaign(&sm_seeds, replay_sm.is_none(), |out| {
            sm.add(
                &out.kinds,
                |k| out.hit.contains(k),
                (out.redrives, out.failed_after_publishing, out.recovery_s),
            );
            eprintln!(
                "fault campaign: state machine: schedule {} {:?}: {} redrive(s){}",
                out.seed,
                out.kinds,
                out.redrives,
                if out.violations.is_empty() {
                    ""
                } else {
                    ", VIOLATED"
                }
            );
            for v in out.violations {
                let replay = if out.seed.starts_with("regression-") {
                    "FAULT_SCHEDULES=0 FAULT_STATE_MACHINE_SCHEDULES=1 cargo test -p summa-functions --test fault_campaign (the regressions run first)".to_string()
                } else {
                    format!(
                        "FAULT_STATE_MACHINE_SCHEDULE={} cargo test -p summa-functions --test fault_campaign",
                        out.seed
                    )
                };
                eprintln!(
                    "VIOLATION (state-machine schedule {}, kinds {:?}): {v}\n  replay: {replay}",
                    out.seed, out.kinds
                );
                sm.violations.push(format!("{}: {v}", out.seed));
            }
        });
    }
    report(&t, &sm, seed, start.elapsed().as_secs_f64());
    if !t.violations.is_empty() || !sm.violations.is_empty() {
        std::process::exit(1);
    }
}

fn table(t: &Tally, kinds: &[&str]) {
    eprintln!(
        "| fault | schedules | hit | published at once | failed, then recovered by redrive |"
    );
    eprintln!("| --- | ---: | ---: | ---: | ---: |");
    for k in kinds {
        let [n, a, b, hit] = t.by_kind.get(k).copied().unwrap_or_default();
        eprintln!("| {k} | {n} | {hit} | {a} | {b} |");
    }
}

fn figures(t: &Tally) -> serde_json::Value {
    let by_kind: serde_json::Map<String, serde_json::Value> = t
        .by_kind
        .iter()
        .map(|(k, [n, a, b, hit])| {
            (
                k.to_string(),
                serde_json::json!({"schedules": n, "hit": hit, "published": a, "failed_then_recovered": b}),
            )
        })
        .collect();
    serde_json::json!({
        "schedules": t.schedules,
        "published": t.published,
        "failed_then_recovered": t.recovered,
        "violations": t.violations.len(),
        "max_redrives": t.max_redrives,
        "failed_after_publishing": t.failed_after_publishing,
        "longest_recovery_s": (t.longest_recovery_s * 10.0).round() / 10.0,
        "by_kind": by_kind,
    })
}

/// The tables, then the JSON line: `schedules` counts the in-process part,
/// `state_machine_schedules` the state-machine part; `published`,
/// `failed_then_recovered` and `violations` are over both, and each part's own
/// figures are under `in_process` and `state_machine` (its recovery times are
/// virtual seconds in process, wall seconds through the state machine).
fn report(t: &Tally, sm: &Tally, seed: u64, seconds: f64) {
    eprintln!("fault campaign: {seconds:.1} s");
    table(t, KINDS);
    if sm.schedules > 0 {
        eprintln!("fault campaign: through the real state machine and functions:");
        table(sm, stack::KINDS);
    }
    println!(
        "{}",
        serde_json::json!({
            "schedules": t.schedules,
            "state_machine_schedules": sm.schedules,
            "published": t.published + sm.published,
            "failed_then_recovered": t.recovered + sm.recovered,
            "violations": t.violations.len() + sm.violations.len(),
            "seed": seed,
            "seconds": (seconds * 10.0).round() / 10.0,
            "in_process": figures(t),
            "state_machine": figures(sm),
        })
    );
}
