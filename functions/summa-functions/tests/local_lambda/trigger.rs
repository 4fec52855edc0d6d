//! `trigger`: one execution per upload of the manifest, other keys ignored, an invalid manifest reported.

use serde_json::{json, Value};

use super::data::*;
use super::stack::*;

pub async fn trigger(env: &Env) {
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
    assert_eq!(
        env.execution_input(&name).await,
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
}
