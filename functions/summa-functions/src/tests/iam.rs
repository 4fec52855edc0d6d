//! IAM proven against behaviour: every S3 request that a function makes in
//! representative rounds is allowed by that function's policy in
//! infra/template.yaml, and every grant of those policies is used or has a
//! reason not to be (docs/security.md, "IAM proven against behaviour").
//!
//! Each function (and the state machine's ItemReader) gets its own recording
//! storage ([`Counting`]) over one in-memory bucket; its requests are mapped to
//! the S3 actions that they need ([`needs`]) and checked against the statements
//! of its role, read from the template with its intrinsic functions evaluated
//! (`cfn.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::cfn::{action_matches, allows, arn_matches, template, Stack, Statement};
use super::trigger::FakeExecutions;
use super::*;
use crate::storage::{Call, Op};
use crate::MemoryStorage;

const TRIGGER: &str = "TriggerFunction";
const PLAN: &str = "PlanFunction";
const MINI_TREE: &str = "MiniTreeFunction";
const AGGREGATOR: &str = "AggregatorFunction";
const PROOF: &str = "ProofFunction";
/// The state machine's role: its Maps' ItemReaders read the items Plan wrote.
const STATE_MACHINE: &str = "RoundStateMachine";
const ROLES: [&str; 6] = [TRIGGER, PLAN, MINI_TREE, AGGREGATOR, PROOF, STATE_MACHINE];

/// The grants that no run here uses, each with why it is there (the same list
/// as docs/security.md's). A grant that becomes unused, or one of these that
/// becomes used, fails the test until this list (and the doc) says so.
const UNUSED: [(&str, &str, &str, &str); 2] = [
    (
        MINI_TREE,
        "s3:AbortMultipartUpload",
        "arn:aws:s3:::summa-rounds/*/runs/*/mini-trees/*",
        "the S3 adapter aborts a multipart upload (a mini-tree over 64 MiB) whose part failed; the in-memory rounds upload none",
    ),
    (
        PROOF,
        "s3:GetObject",
        "arn:aws:s3:::summa-rounds/zk-keys/*",
        "the zero-knowledge keys, read by the function's prover (functions/proof, KeysCache), which this crate does not link",
    ),
];

/// The grants that the runs use but that another grant of the same statement
/// list covers as well (IAM's `*` crosses `/`), each with why it is written out.
const SUBSUMED: [(&str, &str, &str, &str); 1] = [(
    PROOF,
    "s3:GetObject",
    "arn:aws:s3:::summa-rounds/*/runs/*/lookup.json",
    "covered by */lookup.json (the published run's), written out to name the run's own file",
)];

/// The round's functions, each with its own recording storage over one bucket.
struct Deployment {
    bucket: MemoryStorage,
    roles: BTreeMap<&'static str, Counting<MemoryStorage>>,
}

impl Deployment {
    fn new() -> Deployment {
        let bucket = MemoryStorage::default();
        let roles = ROLES
            .iter()
            .map(|r| (*r, Counting::new(bucket.clone())))
            .collect();
        Deployment { bucket, roles }
    }

    /// The storage of `role`'s function.
    fn of(&self, role: &str) -> &Counting<MemoryStorage> {
        &self.roles[role]
    }

    /// An upload of the custodian's (not a function's).
    fn upload(&self, key: &str, bytes: impl Into<Vec<u8>>) {
        self.bucket.insert(BUCKET, key, bytes.into());
    }

    fn shards(&self, shards: &[(&str, Vec<u8>)], manifest: serde_json::Value) {
        for (name, csv) in shards {
            self.upload(&format!("{PREFIX}/shards/{name}"), csv.clone());
        }
        self.upload(&format!("{PREFIX}/round.json"), manifest.to_string());
    }

    /// Run `run`'s plan and its items, as the state machine gets them.
    async fn plan(&self, run: &str) -> (PlanOutput, Vec<MiniTreeInput>) {
        let plan = handlers::plan(self.of(PLAN), round_input(run))
            .await
            .unwrap();
        let items = handlers::read_items(self.of(STATE_MACHINE), &plan)
            .await
            .unwrap();
        (plan, items)
    }

    /// The username index's partitions, then the aggregation.
    async fn aggregate(&self, plan: &PlanOutput) -> RoundResult {
        let index = handlers::read_index_items(self.of(STATE_MACHINE), plan).await;
        for item in index.unwrap() {
            handlers::aggregator(self.of(AGGREGATOR), item)
                .await
                .unwrap();
        }
        aggregate_run(self.of(AGGREGATOR), &plan.run).await
    }

    /// A whole run, each step through its own function's storage.
    async fn run(&self, run: &str) -> RoundResult {
        let (plan, items) = self.plan(run).await;
        for item in items {
            handlers::mini_tree(self.of(MINI_TREE), item).await.unwrap();
        }
        self.aggregate(&plan).await
    }
}

/// The rounds: a first round, a second re-using its mini-trees, a failed round
/// recorded by the aggregator's failure mode then redriven, proofs, the trigger.
async fn exercise(d: &Deployment) {
    // A first round.
    d.shards(&four_shards(), serde_json::json!({}));
    let first = d.run("run-1").await;
    assert_eq!(first.root.hash, ENTRY_64_V1_ROOT);
    // Each step again, as the state machine retries it (or a redrive re-runs it).
    let (plan, items) = d.plan("run-1").await;
    handlers::mini_tree(d.of(MINI_TREE), items[0].clone())
        .await
        .unwrap();
    // A mini-tree invoked by hand with only its shard's index reads the plan.
    handlers::mini_tree(d.of(MINI_TREE), mini_tree_input("run-1", 1))
        .await
        .unwrap();
    assert_eq!(d.aggregate(&plan).await, first);

    // A second round re-using the first's mini-trees (one shard changed).
    let changed = four_shards_one_changed();
    d.shards(&changed, serde_json::json!({ "previous": PREFIX }));
    let second = d.run("run-2").await;
    assert_eq!(second.reused_mini_trees, 3);

    // A failed round (the fixture's run): shard 2's read throttled to the end of
    // its retries, shard 3 timed out without a record; the aggregator's failure
    // mode records both (the EventBridge event, then by hand for the shard);
    // then the redrive: both shards again (shard 3 near its deadline), the
    // index, the aggregation.
    d.shards(&changed, serde_json::json!({}));
    let (plan, items) = d.plan(RUN).await;
    let throttled = format!("{PREFIX}/shards/{}", changed[2].0);
    d.of(MINI_TREE).on_open(&throttled, Fault::SLOW_DOWN);
    for (i, item) in items[..3].iter().enumerate() {
        let built = handlers::mini_tree(d.of(MINI_TREE), item.clone()).await;
        assert_eq!(built.is_ok(), i != 2, "shard {i}");
    }
    d.of(MINI_TREE).clear_on_open();
    let cause = "The specified tolerated failure threshold was exceeded";
    let failed = execution_event(
        "FAILED",
        Some("States.ExceedToleratedFailureThreshold"),
        Some(cause),
    );
    let record = failure_of_payload(d.of(AGGREGATOR), failed).await;
    assert_eq!(record.shard, Some(2), "{record:?}");
    let timed_out = AggregatorInput {
        failure: Some(Failure {
            error: Some("States.Timeout".into()),
            cause: Some("Task timed out".into()),
        }),
        shard: Some(3),
        ..aggregate_input(RUN)
    };
    failure_of(d.of(AGGREGATOR), timed_out).await;
    handlers::mini_tree(d.of(MINI_TREE), items[2].clone())
        .await
        .unwrap();
    let deadline = Some(Duration::ZERO);
    handlers::mini_tree::mini_tree_with_deadline(d.of(MINI_TREE), items[3].clone(), deadline)
        .await
        .unwrap();
    let redriven = d.aggregate(&plan).await;
    assert_eq!(redriven.root, second.root);

    // Proofs: the published run's, a named run's, an unknown user's, and a
    // round with nothing published.
    let proof = |prefix: &str, username: &str, run: Option<&str>| ProofInput {
        bucket: BUCKET.into(),
        prefix: prefix.into(),
        username: username.into(),
        run: run.map(str::to_owned),
    };
    handlers::proof(d.of(PROOF), proof(PREFIX, "MBlfbBGI", None))
        .await
        .unwrap();
    handlers::proof(d.of(PROOF), proof(PREFIX, "dxGaEAii", Some("run-1")))
        .await
        .unwrap();
    let e = handlers::proof(d.of(PROOF), proof(PREFIX, "nobody", None)).await;
    assert_eq!(e.unwrap_err().error_type(), "NotFound");
    let e = handlers::proof(d.of(PROOF), proof("rounds/none", "MBlfbBGI", None)).await;
    assert_eq!(e.unwrap_err().error_type(), "NotFound");

    // The trigger: the committed upload event, and an invalid manifest, which
    // it records in that round's error.json.
    let sfn = FakeExecutions::default();
    let uploaded: crate::S3Event = event("trigger", "round-uploaded.json");
    handlers::trigger(d.of(TRIGGER), &sfn, uploaded.clone())
        .await
        .unwrap();
    let mut invalid = uploaded;
    invalid.records[0].s3.object.key = Some("rounds/bad/round.json".into());
    d.upload("rounds/bad/round.json", "not a manifest");
    assert!(handlers::trigger(d.of(TRIGGER), &sfn, invalid)
        .await
        .is_err());
    assert!(d.bucket.get(BUCKET, "rounds/bad/error.json").await.is_ok());
}

/// What S3 must allow for `call`: (action, resource ARN) pairs. A read of a
/// missing object also needs `s3:ListBucket`, for S3 to answer 404 rather than
/// 403 (the functions tell a missing object from a failure).
fn needs(call: &Call) -> Vec<(&'static str, String)> {
    let bucket = format!("arn:aws:s3:::{}", call.bucket);
    let object = |key: &str| format!("{bucket}/{key}");
    let mut out = match call.op {
        // HeadObject needs GetObject too.
        Op::Get | Op::GetRange | Op::Head | Op::GetWithEtag | Op::Open | Op::OpenIfMatch => {
            vec![("s3:GetObject", object(&call.key))]
        }
        Op::List => vec![("s3:ListBucket", bucket.clone())],
        // Conditional writes and multipart uploads need PutObject only.
        Op::Write => vec![("s3:PutObject", object(&call.key))],
        // CopyObject reads its source and writes its target.
        Op::Copy => vec![
            (
                "s3:GetObject",
                object(call.from.as_deref().expect("a source")),
            ),
            ("s3:PutObject", object(&call.key)),
        ],
        // Deleting a missing object succeeds: no listing needed.
        Op::Delete => vec![("s3:DeleteObject", object(&call.key))],
    };
    if call.not_found && call.op != Op::Delete {
        out.push(("s3:ListBucket", bucket));
    }
    out
}

/// The S3 (action, resource) pairs that `calls` need, without repeats.
fn accesses(calls: &[Call]) -> BTreeSet<(&'static str, String)> {
    calls.iter().flat_map(needs).collect()
}

/// Each access that `statements` do not allow, named with `role`.
fn denied(
    role: &str,
    statements: &[Statement],
    accesses: &BTreeSet<(&str, String)>,
) -> Vec<String> {
    accesses
        .iter()
        .filter(|(action, arn)| !allows(statements, action, arn))
        .map(|(action, arn)| format!("{role}: {action} on {arn} is not granted"))
        .collect()
}

/// The S3 grants of `statements`, one (action, resource) pair each, with the
/// index of their statement.
fn grants(statements: &[Statement]) -> Vec<(usize, String, String)> {
    let mut out = Vec::new();
    for (i, s) in statements.iter().enumerate().filter(|(_, s)| s.allow) {
        for a in s.actions.iter().filter(|a| a.starts_with("s3:")) {
            for r in &s.resources {
                out.push((i, a.clone(), r.clone()));
            }
        }
    }
    out
}

/// `statements` without the grant of `action` on `resource` in statement `i`
/// (the statement's other pairs of action and resource kept).
fn without(
    statements: &[Statement],
    (i, action, resource): &(usize, String, String),
) -> Vec<Statement> {
    let mut out = statements.to_vec();
    let s = out.remove(*i);
    for a in &s.actions {
        for r in &s.resources {
            if (a, r) != (action, resource) {
                out.push(Statement {
                    allow: s.allow,
                    actions: vec![a.clone()],
                    resources: vec![r.clone()],
                });
            }
        }
    }
    out
}

/// How each role's grants fared: (role, action, resource) of the unused ones,
/// and of the used ones whose removal denies nothing (another grant covers it).
type Report = (
    BTreeSet<(String, String, String)>,
    BTreeSet<(String, String, String)>,
);

/// Checks every role's accesses against its policy (panicking on a denial) and
/// reports its grants.
fn check(stack: &Stack, d: &Deployment) -> Report {
    let (mut unused, mut subsumed) = (BTreeSet::new(), BTreeSet::new());
    let mut failures = Vec::new();
    for role in ROLES {
        let statements = stack.statements(role);
        let used = accesses(&d.of(role).calls());
        assert!(!used.is_empty(), "{role} made no request");
        failures.extend(denied(role, &statements, &used));
        for grant in grants(&statements) {
            let (_, action, resource) = &grant;
            let key = (role.to_string(), action.clone(), resource.clone());
            let uses = used
                .iter()
                .filter(|(a, r)| action_matches(action, a) && arn_matches(resource, r))
                .count();
            eprintln!("{role}: {action} on {resource}: {uses} access(es)");
            if uses == 0 {
                unused.insert(key);
            } else if denied(role, &without(&statements, &grant), &used).is_empty() {
                subsumed.insert(key);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    (unused, subsumed)
}

fn listed(list: &[(&str, &str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    list.iter()
        .map(|(r, a, res, _)| (r.to_string(), a.to_string(), res.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_s3_request_of_every_function_is_granted_by_its_policy() {
    let d = Deployment::new();
    exercise(&d).await;
    let stack = Stack::new(template(), &[("BucketName", BUCKET)]);
    assert_eq!(stack.bucket(), BUCKET);
    let (unused, subsumed) = check(&stack, &d);
    for (role, action, resource, why) in UNUSED.iter().chain(&SUBSUMED) {
        eprintln!("not needed by these runs: {role}: {action} on {resource}: {why}");
    }
    assert_eq!(unused, listed(&UNUSED), "the grants no run used");
    assert_eq!(subsumed, listed(&SUBSUMED), "the grants another covers");

    // The check can fail: the proof function's policy without its grant of the
    // aggregation paths (as it was before issue 29) denies the reads of them.
    let proof = stack.statements(PROOF);
    let paths = "arn:aws:s3:::summa-rounds/*/runs/*/aggregation-paths.bin";
    let grant = grants(&proof)
        .into_iter()
        .find(|(_, _, r)| r == paths)
        .expect("the grant");
    let used = accesses(&d.of(PROOF).calls());
    let refused = denied(PROOF, &without(&proof, &grant), &used);
    let run_paths = "arn:aws:s3:::summa-rounds/rounds/r1/runs/run-1/aggregation-paths.bin";
    assert!(
        refused.contains(&format!(
            "{PROOF}: s3:GetObject on {run_paths} is not granted"
        )),
        "{refused:?}"
    );
    assert!(
        refused.iter().all(|r| r.contains("aggregation-paths.bin")),
        "{refused:?}"
    );
}

/// Each storage request maps to the S3 actions that it needs, and a policy
/// without one of them refuses it, naming the function, the action and the key.
#[test]
fn each_request_needs_its_s3_actions() {
    let call = |op, key: &str, from: Option<&str>, not_found| Call {
        op,
        bucket: BUCKET.into(),
        key: key.into(),
        from: from.map(str::to_owned),
        not_found,
        refused: false,
    };
    let arn = |key: &str| format!("arn:aws:s3:::{BUCKET}/{key}");
    let bucket = format!("arn:aws:s3:::{BUCKET}");
    let calls = [
        call(Op::Head, "p/shards/a.csv", None, false),
        call(Op::Copy, "p/runs/b/x.mst", Some("p/runs/a/x.mst"), false),
        call(Op::Get, "p/result.json", None, true),
        call(Op::Delete, "p/runs/a/error.json", None, false),
    ];
    let got = accesses(&calls);
    let want: BTreeSet<(&str, String)> = [
        ("s3:GetObject", arn("p/shards/a.csv")),
        ("s3:GetObject", arn("p/runs/a/x.mst")),
        ("s3:PutObject", arn("p/runs/b/x.mst")),
        ("s3:GetObject", arn("p/result.json")),
        ("s3:ListBucket", bucket.clone()),
        ("s3:DeleteObject", arn("p/runs/a/error.json")),
    ]
    .into();
    assert_eq!(got, want);
    let policy = vec![
        Statement {
            allow: true,
            actions: vec!["s3:GetObject".into()],
            resources: vec![format!("{bucket}/*")],
        },
        Statement {
            allow: true,
            actions: vec!["s3:PutObject".into(), "s3:DeleteObject".into()],
            resources: vec![format!("{bucket}/*/runs/*")],
        },
        Statement {
            allow: true,
            actions: vec!["s3:ListBucket".into()],
            resources: vec![bucket.clone()],
        },
    ];
    assert_eq!(denied("F", &policy, &got), Vec::<String>::new());
    let no_list = without(&policy, &(2, "s3:ListBucket".into(), bucket.clone()));
    assert_eq!(
        denied("F", &no_list, &got),
        [format!("F: s3:ListBucket on {bucket} is not granted")]
    );
}
