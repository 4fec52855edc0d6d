//! `trigger`: one execution per manifest version, execution names, S3 event keys.

use super::*;

/// A fake Step Functions: names are unique, like StartExecution's.
#[derive(Default)]
pub(super) struct FakeExecutions {
    started: Mutex<Vec<(String, String)>>,
    names: Mutex<HashSet<String>>,
}

impl Executions for FakeExecutions {
    async fn start(&self, name: &str, input: &str) -> Result<StartOutcome, FnError> {
        if !self.names.lock().unwrap().insert(name.to_string()) {
            return Ok(StartOutcome::AlreadyExists);
        }
        self.started
            .lock()
            .unwrap()
            .push((name.to_string(), input.to_string()));
        Ok(StartOutcome::Started {
            execution_arn: format!("arn:aws:states:us-east-1:123456789012:execution:round:{name}"),
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trigger_starts_one_execution_per_manifest_version() {
    let round = Round::with_shards(&four_shards()).await;
    let sfn = FakeExecutions::default();
    let ev: crate::S3Event = event("trigger", "round-uploaded.json");
    let out = handlers::trigger(&round.storage, &sfn, ev.clone())
        .await
        .unwrap();
    assert_eq!(out.started.len(), 1);
    assert!(out.ignored.is_empty());
    let s = &out.started[0];
    assert_eq!((s.bucket.as_str(), s.prefix.as_str()), (BUCKET, PREFIX));
    assert!(!s.already_started);
    assert!(
        s.execution_name.starts_with("rounds-r1-"),
        "{}",
        s.execution_name
    );
    let input: serde_json::Value = serde_json::from_str(&sfn.started.lock().unwrap()[0].1).unwrap();
    assert_eq!(
        input,
        serde_json::json!({ "bucket": BUCKET, "prefix": PREFIX, "run": s.execution_name })
    );

    // The same event again (S3 delivers at least once): nothing new.
    let again = handlers::trigger(&round.storage, &sfn, ev.clone())
        .await
        .unwrap();
    assert!(again.started[0].already_started);
    assert_eq!(again.started[0].execution_name, s.execution_name);
    assert_eq!(sfn.started.lock().unwrap().len(), 1);

    // The same manifest uploaded again (after fixing a shard, say): the same
    // ETag, a new sequencer: a new run.
    let updated_ev: crate::S3Event = event("trigger", "round-updated.json");
    assert_eq!(
        updated_ev.records[0].s3.object.e_tag,
        ev.records[0].s3.object.e_tag
    );
    let updated = handlers::trigger(&round.storage, &sfn, updated_ev.clone())
        .await
        .unwrap();
    assert!(!updated.started[0].already_started);
    assert_ne!(updated.started[0].execution_name, s.execution_name);
    assert_eq!(sfn.started.lock().unwrap().len(), 2);
    // A version id, where the bucket has versioning, names the upload instead.
    let mut versioned = updated_ev.clone();
    versioned.records[0].s3.object.version_id = Some("3HL4kqtJlcpXroDTDmJ".into());
    let v = handlers::trigger(&round.storage, &sfn, versioned.clone())
        .await
        .unwrap();
    assert!(!v.started[0].already_started);
    versioned.records[0].s3.object.sequencer = Some("FFFF".into());
    let v2 = handlers::trigger(&round.storage, &sfn, versioned)
        .await
        .unwrap();
    assert!(v2.started[0].already_started, "same version, same run");
    assert_eq!(sfn.started.lock().unwrap().len(), 3);

    // Shards, plan.json, a root round.json and a removal are ignored.
    let other = handlers::trigger(&round.storage, &sfn, event("trigger", "other-keys.json"))
        .await
        .unwrap();
    assert!(other.started.is_empty());
    assert_eq!(other.ignored.len(), 4);
    assert_eq!(
        other.ignored[0],
        "s3://summa-rounds/rounds/r1/shards/entry_16_1.csv"
    );
    assert_eq!(sfn.started.lock().unwrap().len(), 3);

    // An invalid manifest is InvalidInput, starts nothing, and is recorded in
    // P/error.json for the operator.
    round
        .put("rounds/r1/round.json", r#"{"layout": "v2"}"#)
        .await;
    let e = handlers::trigger(&round.storage, &sfn, event("trigger", "round-updated.json"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert_eq!(e.step.as_deref(), Some("trigger"));
    assert!(e.to_string().contains("unknown variant `v2`"), "{e}");
    assert_eq!(sfn.started.lock().unwrap().len(), 3);
    let record: ErrorRecord =
        serde_json::from_slice(&round.get("rounds/r1/error.json").await.unwrap()).unwrap();
    assert_record(&record, "trigger", "InvalidInput", "unknown variant `v2`");
    assert_eq!(record.run, None);
}

#[test]
fn execution_names_follow_step_functions_rules() {
    let ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 80
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let a = handlers::execution_name("rounds/r1", "\"abc\"");
    assert_eq!(a, handlers::execution_name("rounds/r1", "abc"));
    assert!(a.starts_with("rounds-r1-") && ok(&a), "{a}");
    assert_eq!(a.len(), "rounds-r1-".len() + 16);
    assert_ne!(a, handlers::execution_name("rounds/r1", "abd"));
    assert_ne!(a, handlers::execution_name("rounds/r2", "abc"));
    // Prefixes that sanitize alike still differ.
    assert_ne!(
        handlers::execution_name("a b", "e"),
        handlers::execution_name("a/b", "e")
    );
    let long = format!("{}/{}", "x".repeat(200), "2024 Q2 [final]");
    let n = handlers::execution_name(&long, "e");
    assert!(ok(&n) && n.len() == 80, "{n}");
    assert!(n.contains("2024-Q2-final"), "{n}");
    let n = handlers::execution_name("///ü€", "e");
    assert!(ok(&n) && n.starts_with("round-"), "{n}");
    // Stable across builds (a hash, not std's randomized hasher).
    assert_eq!(
        handlers::execution_name("rounds/r1", "0123456789abcdef0123456789abcdef"),
        handlers::execution_name("rounds/r1", "0123456789abcdef0123456789abcdef")
    );
}

#[test]
fn s3_event_keys_are_decoded() {
    use crate::handlers::trigger::{decode_key, round_prefix};
    assert_eq!(
        decode_key("rounds/2024+Q2%2Fa/round.json"),
        "rounds/2024 Q2/a/round.json"
    );
    assert_eq!(decode_key("a%2"), "a%2");
    assert_eq!(decode_key("a%zz%41"), "a%zzA");
    assert_eq!(decode_key("%E2%82%AC"), "€");
    assert_eq!(round_prefix("rounds/r1/round.json"), Some("rounds/r1"));
    assert_eq!(round_prefix("round.json"), None);
    assert_eq!(round_prefix("/round.json"), None);
    assert_eq!(round_prefix("rounds/r1/myround.json"), None);
}
