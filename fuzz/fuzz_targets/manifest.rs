//! The round's JSON model (functions/summa-functions/src/model/files.rs): the custodian's
//! manifest `P/round.json` (`Manifest::parse`), the run's `plan.json`
//! (`PlanFile::parse`) and the aggregator's payload (`AggregatorInput::from_payload`,
//! which also takes EventBridge events).
//!
//! Contract: a manifest is accepted exactly when the README's rules hold, read here
//! from the JSON value (an object of `layout`, `n_bytes`, `shards`, `previous`, no
//! other and no repeated key; a known layout; `n_bytes` 1 to 31; a non-empty list of
//! distinct object keys; a non-empty previous prefix); what is accepted writes back
//! to JSON that parses to the same value; refusals carry the stable error type.

#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use summa_agg_fuzz::Input;
use summa_functions::model::{AggregatorInput, Manifest, PlanFile, FAILED_STATUSES};
use summa_functions::ErrorKind;

const KEY: &str = "rounds/r1/round.json";

/// The keys of a top-level JSON object in order, repeats included; `None` if the
/// text is not one JSON object.
fn object_keys(bytes: &[u8]) -> Option<Vec<String>> {
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let keys = (&mut de).deserialize_map(Keys).ok()?;
    de.end().ok()?;
    Some(keys)
}

/// The README's verdict on a manifest.
fn manifest_ok(bytes: &[u8]) -> bool {
    let (Some(keys), Ok(Value::Object(m))) = (object_keys(bytes), serde_json::from_slice(bytes))
    else {
        return false;
    };
    let allowed = ["layout", "n_bytes", "shards", "previous"];
    let distinct: HashSet<&String> = keys.iter().collect();
    if distinct.len() != keys.len() || !keys.iter().all(|k| allowed.contains(&k.as_str())) {
        return false;
    }
    let layout_ok = match m.get("layout") {
        None => true,
        Some(Value::String(s)) => ["v1", "agg2023", "legacy"].contains(&s.as_str()),
        _ => false,
    };
    let n_bytes_ok = match m.get("n_bytes") {
        None => true,
        Some(v) => v.as_u64().is_some_and(|n| (1..=31).contains(&n)),
    };
    let shards_ok = match m.get("shards") {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => {
            let mut seen = HashSet::new();
            !a.is_empty()
                && a.iter().all(|s| {
                    s.as_str()
                        .is_some_and(|s| !s.is_empty() && !s.ends_with('/') && seen.insert(s))
                })
        }
        _ => false,
    };
    let previous_ok = match m.get("previous") {
        None | Some(Value::Null) => true,
        Some(Value::String(p)) => !p.trim_end_matches('/').is_empty(),
        _ => false,
    };
    layout_ok && n_bytes_ok && shards_ok && previous_ok
}

fn manifest(bytes: &[u8]) {
    let parsed = Manifest::parse(bytes, KEY);
    let want = manifest_ok(bytes);
    match parsed {
        Ok(m) => {
            assert!(want, "accepted a manifest the rules refuse: {m:?}");
            m.params().validate().unwrap();
            let again = Manifest::parse(&serde_json::to_vec(&m).unwrap(), KEY).unwrap();
            assert_eq!(again, m);
            let v: Value = serde_json::from_slice(bytes).unwrap();
            assert_eq!(
                v.get("n_bytes").and_then(Value::as_u64).unwrap_or(14),
                m.n_bytes as u64
            );
            assert_eq!(
                v.get("layout").and_then(Value::as_str).unwrap_or("v1"),
                m.layout.name()
            );
        }
        Err(e) => {
            assert!(!want, "refused a valid manifest: {e}");
            assert_eq!(e.kind, ErrorKind::InvalidInput);
        }
    }
}

fn plan(bytes: &[u8]) {
    match PlanFile::parse(bytes, "rounds/r1/runs/x/plan.json") {
        Ok(p) => {
            p.params().validate().unwrap();
            let again = PlanFile::parse(&serde_json::to_vec(&p).unwrap(), "again").unwrap();
            assert_eq!(again, p);
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::Internal),
    }
}

fn aggregator_input(bytes: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    let event = value.get("detail-type").is_some();
    match AggregatorInput::from_payload(value.clone()) {
        Ok(input) => {
            if event {
                let status = value["detail"]["status"].as_str().unwrap();
                assert!(FAILED_STATUSES.contains(&status));
                assert!(input.failure.is_some());
            } else {
                let again: AggregatorInput =
                    serde_json::from_value(serde_json::to_value(&input).unwrap()).unwrap();
                assert_eq!(again, input);
            }
        }
        Err(e) => assert_eq!(e.kind, ErrorKind::InvalidInput),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input::new(data);
    let which = inp.u8();
    let bytes = inp.rest();
    match which % 3 {
        0 => manifest(bytes),
        1 => plan(bytes),
        _ => aggregator_input(bytes),
    }
});
