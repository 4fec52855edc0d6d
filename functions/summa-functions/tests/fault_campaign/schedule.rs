//! A fault schedule: from one seed, the faults that a run of the campaign injects
//! (which storage requests fail, hang or lose their answer, which bodies break,
//! which task invocations run twice) and what happens around the round (the
//! upload event delivered twice, two rounds at once, a previous round).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use summa_functions::storage::{Fault, FaultHook, Op};
use summa_functions::StoreErrorKind;

use crate::sim::Twice;

/// The kinds of fault, as the report counts them.
pub const KINDS: &[&str] = &[
    "s3_500",
    "s3_503_slow_down",
    "connection_reset",
    "answer_lost_after_write",
    "body_cut_mid_stream",
    "short_reads",
    "request_hangs",
    "killed_after_writing",
    "task_run_twice_in_turn",
    "task_run_twice_at_once",
    "upload_event_twice",
    "two_rounds_at_once",
    "second_round_reusing",
];

/// What one schedule does.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Storage faults by the index of the request they hit (counted over the
    /// whole schedule, from the first execution on).
    pub faults: BTreeMap<u64, (&'static str, Fault)>,
    /// Task invocations that run twice, by their index.
    pub twice: BTreeMap<u64, (&'static str, Twice)>,
    /// Storage faults on the first request of this kind to this key.
    pub at_key: BTreeMap<(Op, &'static str), (&'static str, Fault)>,
    pub event_twice: bool,
    pub two_rounds: bool,
    pub second_round: bool,
}

impl Schedule {
    /// No fault at all.
    pub fn none() -> Schedule {
        Schedule {
            faults: BTreeMap::new(),
            twice: BTreeMap::new(),
            at_key: BTreeMap::new(),
            event_twice: false,
            two_rounds: false,
            second_round: false,
        }
    }

    /// The schedule of `seed`, for a round of about `requests` storage requests
    /// and `tasks` task invocations when nothing fails.
    pub fn of(seed: u64, requests: u64, tasks: u64) -> Schedule {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut s = Schedule {
            faults: BTreeMap::new(),
            twice: BTreeMap::new(),
            at_key: BTreeMap::new(),
            event_twice: rng.gen_bool(0.15),
            two_rounds: rng.gen_bool(0.15),
            second_round: rng.gen_bool(0.3),
        };
        // One to four faults, most of them storage faults.
        let n = rng.gen_range(1..=4);
        for _ in 0..n {
            if rng.gen_bool(0.2) {
                let at = rng.gen_range(0..tasks.max(1));
                let t = if rng.gen_bool(0.5) {
                    ("task_run_twice_in_turn", Twice::Sequential)
                } else {
                    ("task_run_twice_at_once", Twice::Concurrent)
                };
                s.twice.insert(at, t);
                continue;
            }
            let at = rng.gen_range(0..requests.max(1));
            let fault = match rng.gen_range(0..8) {
                0 => ("s3_500", Fault::INTERNAL),
                1 => ("s3_503_slow_down", Fault::SLOW_DOWN),
                2 => ("connection_reset", Fault::RESET),
                3 => (
                    "answer_lost_after_write",
                    Fault::LostAnswer(
                        StoreErrorKind::Other,
                        "connection reset after the request was sent",
                    ),
                ),
                4 => ("body_cut_mid_stream", Fault::Cut(rng.gen_range(0..4096))),
                5 => ("short_reads", Fault::Trickle),
                6 => ("request_hangs", Fault::Hang),
                _ => ("killed_after_writing", Fault::HangAfter),
            };
            s.faults.insert(at, fault);
        }
        s
    }

    /// The schedules that found a bug, by name, run first by every campaign
    /// (their seeds' schedules depend on the round's request count, which fixes
    /// change: these are written out):
    /// - `regression-aggregator-twice` (schedule 17779660883778219103 of seed 30):
    ///   the aggregator run twice in turn rewrote the files `P/result.json` names
    ///   after publishing it; an aggregated run is now published as it is
    ///   (also the unit test
    ///   `an_aggregated_run_is_published_again_without_writing_its_files`);
    /// - `regression-killed-after-result` (schedules 9596184077186722454 and
    ///   5459006081344750445 of seed 1): an aggregator killed after writing
    ///   `P/result.json`, before `P/lookup.json`, failed the execution with its
    ///   result published; `P/result.json` is now the run's last write, and the
    ///   `Aggregate` task retries a timeout once;
    /// - `regression-killed-after-lookup`: the same, one write earlier.
    pub fn regressions() -> Vec<(&'static str, Schedule)> {
        let mut twice = Schedule::none();
        // The fault-free round's task invocations: Plan, four MiniTrees, one
        // IndexPartition, then Aggregate (the seventh).
        twice
            .twice
            .insert(6, ("task_run_twice_in_turn", Twice::Sequential));
        let killed_after = |key: &'static str| {
            let mut s = Schedule::none();
            s.at_key
                .insert((Op::Write, key), ("killed_after_writing", Fault::HangAfter));
            s
        };
        vec![
            ("regression-aggregator-twice", twice),
            (
                "regression-killed-after-result",
                killed_after("rounds/faults/result.json"),
            ),
            (
                "regression-killed-after-lookup",
                killed_after("rounds/faults/lookup.json"),
            ),
        ]
    }

    /// The kinds of fault this schedule injects.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut k: Vec<&'static str> = self
            .faults
            .values()
            .map(|f| f.0)
            .chain(self.at_key.values().map(|f| f.0))
            .chain(self.twice.values().map(|t| t.0))
            .collect();
        if self.event_twice {
            k.push("upload_event_twice");
        }
        if self.two_rounds {
            k.push("two_rounds_at_once");
        }
        if self.second_round {
            k.push("second_round_reusing");
        }
        k.sort_unstable();
        k.dedup();
        k
    }
}

/// The schedule's injections, counted as they happen.
pub struct Injector {
    schedule: Schedule,
    requests: AtomicU64,
    tasks: AtomicU64,
    /// Whether faults are injected (off for the checks).
    pub on: Mutex<bool>,
    /// The keyed faults that have hit already (each hits once).
    keyed_hit: Mutex<std::collections::BTreeSet<(Op, &'static str)>>,
    /// A stream's fault whose request was not a stream: for the next one.
    pending_stream: Mutex<Option<(&'static str, Fault)>>,
    /// The faults that hit a request (a fault past the last request hits none).
    pub hit: Mutex<Vec<&'static str>>,
}

impl Injector {
    pub fn new(schedule: Schedule) -> Arc<Injector> {
        Arc::new(Injector {
            schedule,
            requests: AtomicU64::new(0),
            tasks: AtomicU64::new(0),
            on: Mutex::new(true),
            pending_stream: Mutex::new(None),
            keyed_hit: Mutex::new(Default::default()),
            hit: Mutex::new(Vec::new()),
        })
    }

    /// The storage hook: the fault of the request of this index, if any.
    pub fn hook(self: &Arc<Self>) -> FaultHook {
        let me = self.clone();
        Arc::new(move |op: Op, key: &str| {
            if !*me.on.lock().unwrap() {
                return None;
            }
            if let Some((&at, &(kind, fault))) = me
                .schedule
                .at_key
                .iter()
                .find(|((o, k), _)| *o == op && *k == key)
            {
                if me.keyed_hit.lock().unwrap().insert(at) {
                    me.hit.lock().unwrap().push(kind);
                    return Some(fault);
                }
            }
            let i = me.requests.fetch_add(1, Relaxed);
            let stream = matches!(op, Op::Open | Op::OpenIfMatch);
            let mut pending = me.pending_stream.lock().unwrap();
            let (kind, fault) = match me.schedule.faults.get(&i) {
                // A stream's fault waits for the next stream opened.
                Some(&(kind, f @ (Fault::Cut(_) | Fault::Trickle))) if !stream => {
                    *pending = Some((kind, f));
                    return None;
                }
                Some(&f) => f,
                None if stream => pending.take()?,
                None => return None,
            };
            me.hit.lock().unwrap().push(kind);
            Some(fault)
        })
    }

    /// Whether the next task invocation runs twice.
    pub fn twice(&self) -> Twice {
        if !*self.on.lock().unwrap() {
            return Twice::No;
        }
        let i = self.tasks.fetch_add(1, Relaxed);
        match self.schedule.twice.get(&i) {
            Some((kind, t)) => {
                self.hit.lock().unwrap().push(kind);
                *t
            }
            None => Twice::No,
        }
    }

    /// The requests and task invocations made so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.requests.load(Relaxed), self.tasks.load(Relaxed))
    }
}
