//! The proof API (issue 29, "who may ask for a proof"): through the HTTP API a
//! caller gets its own proof only; another user's, or a request without an
//! identity, is refused before anything is read; the direct invocation is
//! unchanged; the template's front door is conditional and its authorizer JWT.

use serde_json::{json, Value};

use super::cfn::{template, Stack};
use super::*;
use crate::handlers::proof_api::{
    answer, respond, status_of, ProofApi, BUCKET_ENV, PREFIX_ENV, USERNAME_CLAIM_ENV,
};
use crate::{ErrorKind, Payload};

/// The committed API event's caller: its `sub` claim.
const CALLER: &str = "MBlfbBGI";

fn api(claim: &str) -> ProofApi {
    ProofApi {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username_claim: claim.into(),
    }
}

/// The committed HTTP API event (payload format 2.0) of `CALLER`'s request.
fn api_event() -> Value {
    event("proof", "api-proof.json")
}

/// The event with `query` as its query string's parameters.
fn with_query(query: Value) -> Value {
    let mut e = api_event();
    e["queryStringParameters"] = query;
    e
}

/// A round of the four shards, published.
async fn published_round() -> (Round, Counting<LocalStorage>) {
    let round = Round::with_shards(&four_shards()).await;
    round.run().await.unwrap();
    let storage = Counting::new(round.storage.clone());
    (round, storage)
}

/// The function's answer to `payload` through the API (the Merkle handler as
/// the prover: the zero-knowledge one is functions/proof's).
async fn through_api(
    storage: &Counting<LocalStorage>,
    api: Option<&ProofApi>,
    payload: Value,
) -> HttpApiResponse {
    let ProofCall::Api(request) = ProofCall::from_payload(payload).unwrap() else {
        panic!("not an API request");
    };
    let prove = |input: ProofInput| async move {
        let p = handlers::proof(storage, input).await?;
        Ok(serde_json::to_value(p).unwrap())
    };
    answer(api, &request, prove).await
}

/// The error type and message of a refusal with `status`.
fn refusal(response: &HttpApiResponse, status: u16) -> (String, String) {
    assert_eq!(response.status_code, status, "{response:?}");
    assert_eq!(response.headers["content-type"], "application/json");
    let body: ApiErrorBody = serde_json::from_str(&response.body).unwrap();
    (body.error_type, body.error_message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_gets_its_own_proof_through_the_api() {
    let (round, storage) = published_round().await;
    let published = ProofInput {
        bucket: BUCKET.into(),
        prefix: PREFIX.into(),
        username: CALLER.into(),
        run: None,
    };
    let direct = handlers::proof(&round.storage, published).await.unwrap();
    let sub = api("sub");
    for payload in [
        api_event(),
        // Naming itself is allowed.
        with_query(json!({ "username": CALLER })),
    ] {
        let r = through_api(&storage, Some(&sub), payload).await;
        assert_eq!(r.status_code, 200, "{r:?}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(!r.is_base64_encoded);
        let p: summa_agg::proof::Proof = serde_json::from_str(&r.body).unwrap();
        summa_agg::proof::verify(&p, None).unwrap();
        assert_eq!(p, direct);
    }
    // A run named in the query string or the body.
    let run = round.run_id();
    let mut in_body = api_event();
    in_body["body"] = json!(json!({ "run": run, "username": CALLER }).to_string());
    for payload in [with_query(json!({ "run": run })), in_body] {
        let r = through_api(&storage, Some(&sub), payload).await;
        assert_eq!(r.status_code, 200, "{r:?}");
    }
    // Another claim names the user: Cognito's username.
    let mut e = api_event();
    e["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("5f1c0a3e-uuid");
    e["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:username"] = json!(CALLER);
    let r = through_api(&storage, Some(&api("cognito:username")), e.clone()).await;
    assert_eq!(r.status_code, 200, "{r:?}");
    // The same token under `sub`: a user that is not in the round.
    let r = through_api(&storage, Some(&sub), e).await;
    let (kind, message) = refusal(&r, 404);
    assert_eq!(kind, "NotFound");
    // A fixed sentence: the full error (keys of the bucket) stays in the log.
    assert!(
        message.contains("this user, or this run, is not in the published round"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_proof_is_forbidden_and_nothing_is_read() {
    let (_round, storage) = published_round().await;
    let sub = Some(api("sub"));
    let mut in_body = api_event();
    in_body["body"] = json!(r#"{"username": "dxGaEAii"}"#);
    for payload in [with_query(json!({ "username": "dxGaEAii" })), in_body] {
        let r = through_api(&storage, sub.as_ref(), payload).await;
        let (kind, message) = refusal(&r, 403);
        assert_eq!(kind, "Forbidden");
        assert!(message.contains("only for its own proof"), "{message}");
    }
    assert_eq!(
        storage.stats().requests,
        0,
        "a refused request reads nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_an_identity_is_refused() {
    let (_round, storage) = published_round().await;
    let sub = Some(api("sub"));
    let claims = |c: Value| {
        let mut e = api_event();
        e["requestContext"]["authorizer"]["jwt"]["claims"] = c;
        e
    };
    let mut no_authorizer = api_event();
    no_authorizer["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authorizer");
    let mut not_jwt = api_event();
    not_jwt["requestContext"]["authorizer"] = json!({ "lambda": { "user": CALLER } });
    for payload in [no_authorizer, not_jwt] {
        let r = through_api(&storage, sub.as_ref(), payload).await;
        assert_eq!(refusal(&r, 401).0, "Unauthorized");
    }
    for payload in [
        claims(json!({ "email": "a@example.com" })),
        claims(json!({ "sub": "" })),
        claims(json!({ "sub": 7 })),
    ] {
        let r = through_api(&storage, sub.as_ref(), payload).await;
        let (kind, message) = refusal(&r, 403);
        assert_eq!(kind, "Forbidden");
        assert!(message.contains("\"sub\" claim"), "{message}");
    }
    // An email names its user only once verified: a user may set their own.
    let email = Some(api("email"));
    for verified in [json!(false), json!("false"), Value::Null] {
        let mut c = json!({ "email": CALLER });
        if !verified.is_null() {
            c["email_verified"] = verified;
        }
        let r = through_api(&storage, email.as_ref(), claims(c)).await;
        let (kind, message) = refusal(&r, 403);
        assert_eq!(kind, "Forbidden");
        assert!(message.contains("not verified"), "{message}");
    }
    // A function without the API's configuration answers no API request.
    let r = through_api(&storage, None, api_event()).await;
    let (kind, message) = refusal(&r, 403);
    assert_eq!(kind, "Forbidden");
    assert!(message.contains(USERNAME_CLAIM_ENV), "{message}");
    assert_eq!(
        storage.stats().requests,
        0,
        "a refused request reads nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bucket_and_round_are_the_deployments() {
    let (_round, storage) = published_round().await;
    let sub = Some(api("sub"));
    let mut base64 = api_event();
    base64["body"] = json!("eyJydW4iOiAiciJ9");
    base64["isBase64Encoded"] = json!(true);
    let mut disagree = with_query(json!({ "run": "a" }));
    disagree["body"] = json!(r#"{"run": "b"}"#);
    let mut merkle = api_event();
    merkle["body"] = json!(r#"{"merkle": true}"#);
    for payload in [
        with_query(json!({ "bucket": "other" })),
        with_query(json!({ "prefix": "rounds/other" })),
        with_query(json!({ "keys": "zk-keys/x" })),
        merkle,
        base64,
        disagree,
    ] {
        let r = through_api(&storage, sub.as_ref(), payload.clone()).await;
        assert_eq!(refusal(&r, 400).0, "InvalidInput", "{payload}");
    }
    assert_eq!(
        storage.stats().requests,
        0,
        "a refused request reads nothing"
    );
    // The deployment's round, whatever the caller: here one with no round.
    let elsewhere = ProofApi {
        prefix: "rounds/none".into(),
        ..api("sub")
    };
    let r = through_api(&storage, Some(&elsewhere), api_event()).await;
    let (kind, message) = refusal(&r, 404);
    assert_eq!(kind, "NotFound");
    assert!(message.contains("not in the published round"), "{message}");
    assert!(
        !message.contains("rounds/none"),
        "the bucket's keys: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_direct_invocation_is_unchanged() {
    let (round, _) = published_round().await;
    let payload: Value = event("proof", "proof.json");
    let call = <ProofCall as Payload>::from_payload("proof", payload.clone()).unwrap();
    assert_eq!(call, ProofCall::Direct(payload.clone()));
    let input: ProofInput = crate::parse_input("proof", payload).unwrap();
    let p = handlers::proof(&round.storage, input).await.unwrap();
    assert_eq!(p.entry.username, "dxGaEAii");
    // An API Gateway event of another payload format is refused.
    let mut v1 = api_event();
    v1["version"] = json!("1.0");
    let e = <ProofCall as Payload>::from_payload("proof", v1).unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(e.to_string().starts_with("proof: "), "{e}");
    assert!(matches!(
        ProofCall::from_payload(api_event()).unwrap(),
        ProofCall::Api(_)
    ));
}

#[test]
fn errors_are_http_statuses_and_server_errors_stay_in_the_log() {
    let cases = [
        (ErrorKind::InvalidInput, 400),
        (ErrorKind::Unauthorized, 401),
        (ErrorKind::Forbidden, 403),
        (ErrorKind::NotFound, 404),
        (ErrorKind::Internal, 500),
        (ErrorKind::Storage, 500),
        (ErrorKind::Throttled, 503),
    ];
    for (kind, status) in cases {
        assert_eq!(status_of(kind), status, "{kind:?}");
        let e = FnError::new(kind, "s3://summa-rounds/rounds/r1/runs/x/lookup.json: boom");
        let r = respond(Err(e), Some("req-7"));
        let (t, message) = refusal(&r, status);
        assert_eq!(t, kind.name());
        assert_eq!(message.contains("lookup.json"), status < 500, "{message}");
        if status >= 500 {
            assert!(message.contains("req-7"), "{message}");
        }
    }
    let ok = respond(Ok(json!({ "a": 1 })), None);
    assert_eq!((ok.status_code, ok.body.as_str()), (200, r#"{"a":1}"#));
    // The response in payload format 2.0's names.
    let v = serde_json::to_value(&ok).unwrap();
    for field in ["statusCode", "headers", "body", "isBase64Encoded"] {
        assert!(v.get(field).is_some(), "{v}");
    }
}

#[test]
fn the_api_configuration_comes_from_the_environment_whole() {
    fn vars<'a>(set: &'a [(&str, &str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            set.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }
    assert_eq!(ProofApi::from_vars(vars(&[])).unwrap(), None);
    let all = [
        (BUCKET_ENV, BUCKET),
        (PREFIX_ENV, PREFIX),
        (USERNAME_CLAIM_ENV, "sub"),
    ];
    assert_eq!(ProofApi::from_vars(vars(&all)).unwrap(), Some(api("sub")));
    let e = ProofApi::from_vars(vars(&all[1..])).unwrap_err();
    assert_eq!(e.error_type(), "Internal");
    let trailing = [
        (BUCKET_ENV, BUCKET),
        (PREFIX_ENV, "rounds/r1/"),
        (USERNAME_CLAIM_ENV, "sub"),
    ];
    assert_eq!(
        ProofApi::from_vars(vars(&trailing)).unwrap(),
        Some(api("sub"))
    );
    let root = [
        (BUCKET_ENV, BUCKET),
        (PREFIX_ENV, "/"),
        (USERNAME_CLAIM_ENV, "sub"),
    ];
    let e = ProofApi::from_vars(vars(&root)).unwrap_err();
    assert!(e.to_string().contains(PREFIX_ENV), "{e}");
}

/// infra/template.yaml: the front door is off by default and entirely
/// conditional; its authorizer is JWT with the issuer and audience parameters;
/// its route reaches the proof function in payload format 2.0; the function
/// gets the API's configuration only where the API is on.
#[test]
fn the_templates_front_door_is_conditional_and_jwt() {
    let t = template();
    let p = &t["Parameters"];
    assert_eq!(p["ProofApi"]["Default"], "none");
    assert_eq!(p["ProofApi"]["AllowedValues"], json!(["none", "jwt"]));
    assert_eq!(p["ProofApiUsernameClaim"]["Default"], "sub");
    assert_eq!(
        t["Conditions"]["HasProofApi"],
        json!({ "Fn::Equals": [{ "Ref": "ProofApi" }, "jwt"] })
    );
    assert!(t["Rules"]["ProofApiConfigured"]["Assertions"].is_array());
    let resources = t["Resources"].as_object().unwrap();
    let front = &resources["ProofHttpApi"];
    assert_eq!(front["Type"], "AWS::Serverless::HttpApi");
    assert_eq!(front["Condition"], "HasProofApi");
    let auth = &front["Properties"]["Auth"];
    let name = auth["DefaultAuthorizer"].as_str().unwrap();
    let jwt = &auth["Authorizers"][name]["JwtConfiguration"];
    assert_eq!(jwt["issuer"], json!({ "Ref": "ProofApiJwtIssuer" }));
    assert_eq!(jwt["audience"], json!({ "Ref": "ProofApiJwtAudience" }));
    let paths = front["Properties"]["DefinitionBody"]["paths"]
        .as_object()
        .unwrap();
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["/proof"]);
    for (path, methods) in paths {
        for (method, op) in methods.as_object().unwrap() {
            // No route opts out of the default authorizer (`security: []`).
            assert!(op.get("security").is_none(), "{path} {method}");
            let integration = &op["x-amazon-apigateway-integration"];
            assert_eq!(integration["payloadFormatVersion"], PAYLOAD_FORMAT);
            assert!(integration["uri"]
                .to_string()
                .contains("${ProofFunction.Arn}"));
        }
    }
    // Whatever refers to the API exists only with it.
    let outputs = t["Outputs"].as_object().unwrap();
    for (name, r) in resources.iter().chain(outputs) {
        if name != "ProofHttpApi" && r.to_string().contains("ProofHttpApi") {
            assert_eq!(r["Condition"], "HasProofApi", "{name}");
        }
    }
    // The function's environment, off and on.
    let env = |stack: &Stack| {
        let v = &stack.template()["Resources"]["ProofFunction"]["Properties"]["Environment"];
        stack.eval(&v["Variables"]).unwrap()
    };
    let off = Stack::new(t.clone(), &[("BucketName", BUCKET)]);
    assert!(!off.condition("HasProofApi"));
    let vars = env(&off);
    assert!(
        vars.as_object()
            .unwrap()
            .keys()
            .all(|k| !k.starts_with("SUMMA_PROOF_API")),
        "{vars}"
    );
    let on = Stack::new(
        t,
        &[
            ("BucketName", BUCKET),
            ("ProofApi", "jwt"),
            ("ProofApiRoundPrefix", PREFIX),
            ("ProofApiJwtIssuer", "https://issuer.example"),
            ("ProofApiJwtAudience", "client-a,client-b"),
        ],
    );
    assert!(on.condition("HasProofApi"));
    let vars = env(&on);
    let read = ProofApi::from_vars(|k| vars.get(k).and_then(Value::as_str).map(str::to_owned));
    assert_eq!(read.unwrap(), Some(api("sub")));
    let audience = on.eval(&json!({ "Ref": "ProofApiJwtAudience" })).unwrap();
    assert_eq!(audience, json!(["client-a", "client-b"]));
}
