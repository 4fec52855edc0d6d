//! What ties the handlers to the deployment: the stable error types, the
//! retryable ones against the definition's Retry lists, the functions' timeouts
//! against the definition, no Catch in a redrivable round.

use super::*;

#[test]
fn error_types_are_stable() {
    let cases = [
        (FnError::invalid("a"), "InvalidInput"),
        (FnError::not_found("a"), "NotFound"),
        (FnError::storage("a"), "StorageError"),
        (FnError::throttled("a"), "Throttled"),
        (FnError::internal("a"), "Internal"),
        (FnError::unauthorized("a"), "Unauthorized"),
        (FnError::forbidden("a"), "Forbidden"),
    ];
    for (e, t) in cases {
        let d = lambda_runtime::Diagnostic::from(e.clone().in_step("plan"));
        assert_eq!(d.error_type, t);
        assert_eq!(d.error_message, "plan: a");
        assert_eq!(e.kind.name(), t);
        let in_shard = e.clone().in_shard(3, "P/shards/c.csv").in_step("mini-tree");
        assert_eq!(
            in_shard.to_string(),
            "mini-tree: shard 3 (P/shards/c.csv): a"
        );
        assert_eq!(in_shard.message(), "a");
        // The innermost step and shard stay.
        let outer = in_shard.clone().in_step("aggregator").in_shard(4, "x");
        assert_eq!(outer, in_shard);
    }
    // A throttled read through ReadAt stays Throttled.
    let store = crate::StoreError::new(crate::StoreErrorKind::Throttled, "s3://b/k", "SlowDown");
    let e = FnError::from(summa_agg::Error::io("k", store.into_io()));
    assert_eq!(e.error_type(), "Throttled");
    let e = FnError::from(summa_agg::Error::UnknownUser("u".into()));
    assert_eq!(e.error_type(), "NotFound");
    // A failed condition (If-Match) is not retried.
    let e = FnError::from(crate::StoreError::new(
        crate::StoreErrorKind::Changed,
        "s3://b/k",
        "PreconditionFailed",
    ));
    assert_eq!(e.error_type(), "InvalidInput");
}

/// `Timeout:` of a function in infra/template.yaml.
fn template_timeout(template: &str, function: &str) -> u64 {
    let mut lines = template
        .lines()
        .skip_while(|l| *l != format!("  {function}:"))
        .skip(1);
    // The resource's lines: indented by more than two spaces (or blank).
    lines
        .by_ref()
        .take_while(|l| l.is_empty() || l.starts_with("   "))
        .find_map(|l| l.trim().strip_prefix("Timeout: "))
        .unwrap_or_else(|| panic!("{function} has no Timeout in the template"))
        .parse()
        .unwrap()
}

#[test]
fn function_timeouts_agree_with_the_definition() {
    let template = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let asl: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("state-machine/round.asl.json")).unwrap(),
    )
    .unwrap();
    let states = &asl["States"];
    let map = &states["MiniTrees"]["ItemProcessor"]["States"];
    let index = &states["UserIndex"]["ItemProcessor"]["States"];
    let tasks = [
        (&states["Plan"], "PlanFunction"),
        (&map["MiniTree"], "MiniTreeFunction"),
        (&index["IndexPartition"], "AggregatorFunction"),
        (&states["Aggregate"], "AggregatorFunction"),
    ];
    for (state, function) in tasks {
        let lambda = template_timeout(&template, function);
        let task = state["TimeoutSeconds"]
            .as_u64()
            .unwrap_or_else(|| panic!("{state}"));
        assert_eq!(
            task, lambda,
            "{function}: the task's TimeoutSeconds and the function's Timeout"
        );
    }
    // The mini-tree's timeout is retried once, then recorded naming the shard.
    let retry = map["MiniTree"]["Retry"].as_array().unwrap();
    let timeout_retry = retry
        .iter()
        .find(|r| {
            r["ErrorEquals"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == "States.Timeout")
        })
        .expect("a Retry for timeouts");
    assert_eq!(timeout_retry["MaxAttempts"], 1);
    assert!(timeout_retry["ErrorEquals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "Sandbox.Timedout"));
    // No Catch records it (that would make MiniTree exit, see
    // no_catch_exits_a_redrivable_state): the function does, before its deadline.
    assert!(map["MiniTree"].get("Catch").is_none());
}

/// Every state of an ASL definition, with its path (`MiniTrees/MiniTree` for
/// a state inside a Map's ItemProcessor or a Parallel's branches).
fn asl_states(states: &serde_json::Value, path: &str, out: &mut Vec<(String, serde_json::Value)>) {
    for (name, state) in states.as_object().expect("States is an object") {
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}/{name}")
        };
        out.push((here.clone(), state.clone()));
        for inner in ["ItemProcessor", "Iterator"] {
            if let Some(p) = state.get(inner) {
                asl_states(&p["States"], &here, out);
            }
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            asl_states(&branch["States"], &here, out);
        }
    }
}

/// The states of a definition that have a Catch.
fn states_with_a_catch(asl: &serde_json::Value) -> Vec<String> {
    let mut all = Vec::new();
    asl_states(&asl["States"], "", &mut all);
    all.into_iter()
        .filter(|(_, s)| s.get("Catch").is_some())
        .map(|(name, _)| name)
        .collect()
}

/// The round must be redrivable. The Step Functions Developer Guide
/// ("Redriving Map Runs in Step Functions executions") says a redriven execution
/// re-runs a state only if the history has its `<stateType>Entered` event and no
/// matching `<stateType>Exited`: a state whose error a Catch handles *exits*
/// (the Catch moves on to its Next), so a redrive would skip it and re-run only
/// what the Catch led to. Every state of this definition either succeeds or
/// fails the execution, so none may have a Catch: Plan, MiniTrees (whose failed
/// child executions a redrive re-runs), the MiniTree task inside each child
/// (which a redriven child re-runs) and Aggregate. The failure is recorded by the
/// functions and by the failure handler outside the definition.
#[test]
fn no_catch_exits_a_redrivable_state() {
    let asl: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("state-machine/round.asl.json")).unwrap(),
    )
    .unwrap();
    let mut all = Vec::new();
    asl_states(&asl["States"], "", &mut all);
    let names: HashSet<String> = all.iter().map(|(n, _)| n.clone()).collect();
    for must in [
        "Plan",
        "MiniTrees",
        "MiniTrees/MiniTree",
        "UserIndex",
        "UserIndex/IndexPartition",
        "Aggregate",
    ] {
        assert!(names.contains(must), "{must} is not in the definition");
    }
    assert_eq!(
        states_with_a_catch(&asl),
        Vec::<String>::new(),
        "a Catch makes its state exit: a redrive would not re-run it"
    );
    // No Fail state either: with no Catch nothing could reach one, and a Fail
    // state reached after a handled error is what made the round unredrivable.
    assert!(all.iter().all(|(_, s)| s["Type"] != "Fail"));

    // The check finds a Catch wherever it is (here, as the definition had them).
    let catch = serde_json::json!([{"ErrorEquals": ["States.ALL"], "Next": "X"}]);
    let mut outer = asl.clone();
    outer["States"]["MiniTrees"]["Catch"] = catch.clone();
    assert_eq!(states_with_a_catch(&outer), vec!["MiniTrees".to_string()]);
    let mut inner = asl.clone();
    inner["States"]["MiniTrees"]["ItemProcessor"]["States"]["MiniTree"]["Catch"] = catch;
    assert_eq!(
        states_with_a_catch(&inner),
        vec!["MiniTrees/MiniTree".to_string()]
    );
}

/// `FnError::is_retryable` is what the state machine does: every Task state that
/// invokes a function retries exactly the retryable error types among this
/// crate's (beside the Lambda service's own `Lambda.*`, `Sandbox.*` and
/// `States.*` errors), so a kind made retryable in the code and not in the
/// definition (or the reverse) fails here.
#[test]
fn retryable_error_kinds_are_the_definitions_retry_lists() {
    let asl: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo().join("state-machine/round.asl.json")).unwrap(),
    )
    .unwrap();
    let kinds = [
        FnError::invalid("a"),
        FnError::not_found("a"),
        FnError::storage("a"),
        FnError::throttled("a"),
        FnError::internal("a"),
        FnError::unauthorized("a"),
        FnError::forbidden("a"),
    ];
    let ours: HashSet<&str> = kinds.iter().map(|e| e.error_type()).collect();
    let retryable: HashSet<&str> = kinds
        .iter()
        .filter(|e| e.is_retryable())
        .map(|e| e.error_type())
        .collect();
    assert!(!retryable.is_empty());
    let mut all = Vec::new();
    asl_states(&asl["States"], "", &mut all);
    let tasks: Vec<_> = all.iter().filter(|(_, s)| s["Type"] == "Task").collect();
    assert!(tasks.len() >= 3, "Plan, MiniTree and Aggregate are tasks");
    for (name, state) in tasks {
        let retried: HashSet<&str> = state["Retry"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Retry"))
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .filter(|e| {
                !["Lambda.", "Sandbox.", "States."]
                    .iter()
                    .any(|p| e.starts_with(p))
            })
            .collect();
        assert!(
            retried.is_subset(&ours),
            "{name} retries error types no function reports: {:?}",
            retried.difference(&ours).collect::<Vec<_>>()
        );
        assert_eq!(
            retried, retryable,
            "{name}'s Retry against FnError::is_retryable"
        );
    }
}
