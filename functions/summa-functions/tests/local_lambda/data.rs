//! The harness's inputs (fixture shards, S3 and EventBridge events) and the
//! comparison of a result with the CLI's.

use serde_json::{json, Value};
use std::fs;

use super::stack::{repo, BUCKET};

pub fn fixture(name: &str) -> Vec<u8> {
    fs::read(repo().join("tests/fixtures").join(name)).unwrap()
}

/// The event EventBridge delivers when the round's execution `run` on `prefix`
/// fails (functions/aggregator/events/execution-failed.json, adapted).
pub fn failed_execution(prefix: &str, run: &str, error: &str, cause: &str) -> Value {
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

pub fn four_shards() -> Vec<(String, Vec<u8>)> {
    (1..=4)
        .map(|i| {
            let name = format!("entry_16_{i}.csv");
            let csv = fixture(&name);
            (name, csv)
        })
        .collect()
}

/// entry_64.csv cut into shards of 1, 5, 26 and 32 users.
pub fn unequal_shards() -> Vec<(String, Vec<u8>)> {
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
pub fn without_artifacts(mut v: Value) -> Value {
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

pub fn s3_event(key: &str, etag: &str, sequencer: &str) -> Value {
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
