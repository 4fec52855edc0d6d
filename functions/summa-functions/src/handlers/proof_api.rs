//! The proof API: who may ask the `proof` function for a proof through the
//! optional HTTP API front door (infra/template.yaml, parameter `ProofApi`).
//!
//! A direct invocation (the custodian's own backend, with `lambda:InvokeFunction`)
//! names any bucket, prefix and user: whoever may invoke the function may read any
//! user's balances (docs/security.md). A request through the HTTP API has passed
//! its JWT authorizer, and proves only for the user that the token's claim
//! ([`USERNAME_CLAIM_ENV`], default `sub`) names, in the bucket and round of the
//! function's configuration ([`ProofApi`]); a request for another user, or
//! without an identity, is refused. Every outcome is an HTTP response
//! ([`HttpApiResponse`], payload format 2.0): API Gateway turns a function error
//! into a bare 500, so a refusal is a 401 or 403 with the stable error type.

use std::future::Future;

use crate::error::{ErrorKind, FnError, InStep};
use crate::model::{
    ApiErrorBody, ApiProofQuery, HttpApiRequest, HttpApiResponse, JwtAuthorization, ProofInput,
};

/// The step's name in error messages.
pub const STEP: &str = crate::model::steps::PROOF;
/// The bucket that API requests are proven in (the template: the round bucket).
pub const BUCKET_ENV: &str = "SUMMA_PROOF_API_BUCKET";
/// The round prefix that API requests are proven in (the template's
/// `ProofApiRoundPrefix`).
pub const PREFIX_ENV: &str = "SUMMA_PROOF_API_PREFIX";
/// The JWT claim that holds the caller's username (the template's
/// `ProofApiUsernameClaim`, default `sub`). Unset: the function answers no API
/// request.
pub const USERNAME_CLAIM_ENV: &str = "SUMMA_PROOF_API_USERNAME_CLAIM";

/// Where and for whom API requests are proven: the function's configuration,
/// never the caller's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofApi {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The claim that holds the username.
    pub username_claim: String,
}

impl ProofApi {
    /// The configuration in the function's environment: `None` where the API is
    /// off (none of the variables set); an error where it is set in part.
    pub fn from_env() -> Result<Option<ProofApi>, FnError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`ProofApi::from_env`] over `var` (a variable's value, if set).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<ProofApi>, FnError> {
        let get = |name| var(name).filter(|v| !v.is_empty());
        match (get(BUCKET_ENV), get(PREFIX_ENV), get(USERNAME_CLAIM_ENV)) {
            (None, None, None) => Ok(None),
            (Some(bucket), Some(prefix), Some(username_claim)) => {
                let round = crate::model::RoundKeys::new(&prefix)
                    .map_err(|e| e.context(format_args!("{PREFIX_ENV}")).in_step(STEP))?;
                Ok(Some(ProofApi {
                    bucket,
                    prefix: round.prefix().to_string(),
                    username_claim,
                }))
            }
            _ => Err(FnError::internal(format!(
                "the proof API needs {BUCKET_ENV}, {PREFIX_ENV} and {USERNAME_CLAIM_ENV} set together"
            ))
            .in_step(STEP)),
        }
    }
}

/// The proof that `request` may ask for: the identity's own, in `api`'s bucket
/// and round. Refused: any request where the function has no API configuration
/// (`Forbidden`), a request without a JWT authorizer's claims (`Unauthorized`),
/// an identity whose token lacks the username claim, or a request naming
/// another username (`Forbidden`), a bucket, a prefix or any field but
/// `username` and `run` (`InvalidInput`).
pub fn authorize(api: Option<&ProofApi>, request: &HttpApiRequest) -> Result<ProofInput, FnError> {
    let api = api.ok_or_else(|| {
        FnError::forbidden(format!(
            "this function answers no API request ({USERNAME_CLAIM_ENV} is not set: the template's ProofApi is none)"
        ))
    })?;
    let jwt = request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|a| a.jwt.as_ref())
        .ok_or_else(|| {
            FnError::unauthorized("no identity: the request carries no JWT authorizer's claims")
        })?;
    let username = claimed_username(jwt, &api.username_claim)?;
    let asked = asked(request)?;
    if asked.username.as_ref().is_some_and(|u| u != username) {
        return Err(FnError::forbidden(format!(
            "an identity may ask only for its own proof: the request names another username than the token's {:?} claim",
            api.username_claim
        )));
    }
    Ok(ProofInput {
        bucket: api.bucket.clone(),
        prefix: api.prefix.clone(),
        username: username.to_string(),
        run: asked.run,
    })
}

/// The username in the token's `claim`: a non-empty string, or `Forbidden`. An
/// `email` claim counts only with `email_verified` true: a user may set their
/// own address (docs/security.md: the claim must be one the custodian assigns).
fn claimed_username<'a>(jwt: &'a JwtAuthorization, claim: &str) -> Result<&'a str, FnError> {
    if claim == "email" {
        let verified = matches!(
            jwt.claims.get("email_verified"),
            Some(serde_json::Value::Bool(true))
        ) || matches!(jwt.claims.get("email_verified"), Some(serde_json::Value::String(s)) if s == "true");
        if !verified {
            return Err(FnError::forbidden(
                "the token's \"email\" claim is not verified (email_verified is not true)",
            ));
        }
    }
    match jwt.claims.get(claim) {
        Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(FnError::forbidden(format!(
            "the token's {claim:?} claim is not a username (empty, or not a string)"
        ))),
        None => Err(FnError::forbidden(format!(
            "the token has no {claim:?} claim, which names its user"
        ))),
    }
}

/// What the request asks, from its query string and its JSON body (which must
/// agree where both say).
fn asked(request: &HttpApiRequest) -> Result<ApiProofQuery, FnError> {
    let from_query = match &request.query_string_parameters {
        Some(q) => serde_json::to_value(q)
            .and_then(serde_json::from_value)
            .map_err(|e| FnError::invalid(format!("the query string: {e}")))?,
        None => ApiProofQuery::default(),
    };
    let from_body = match request.body.as_deref().filter(|b| !b.trim().is_empty()) {
        None => ApiProofQuery::default(),
        Some(_) if request.is_base64_encoded => {
            return Err(FnError::invalid(
                "the body must be JSON text (content-type application/json)",
            ))
        }
        Some(body) => {
            serde_json::from_str(body).map_err(|e| FnError::invalid(format!("the body: {e}")))?
        }
    };
    let one = |what: &str, a: Option<String>, b: Option<String>| match (a, b) {
        (Some(a), Some(b)) if a != b => Err(FnError::invalid(format!(
            "the query string and the body name different {what}s"
        ))),
        (a, b) => Ok(a.or(b)),
    };
    Ok(ApiProofQuery {
        username: one("username", from_query.username, from_body.username)?,
        run: one("run", from_query.run, from_body.run)?,
    })
}

/// The HTTP status of an error of `kind`.
pub fn status_of(kind: ErrorKind) -> u16 {
    match kind {
        ErrorKind::InvalidInput => 400,
        ErrorKind::Unauthorized => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::Throttled => 503,
        ErrorKind::Storage | ErrorKind::Internal => 500,
    }
}

/// The HTTP response of `result`: 200 and the proof, or the error's status
/// ([`status_of`]) and `{"errorType", "errorMessage"}`. A server-side error's
/// message stays in the function's log (it names keys of the bucket); the
/// caller gets its type and the request's id.
pub fn respond(
    result: Result<serde_json::Value, FnError>,
    request_id: Option<&str>,
) -> HttpApiResponse {
    let (status_code, body) = match result {
        Ok(proof) => (200, proof.to_string()),
        Err(e) => {
            let status = status_of(e.kind);
            let message = if status >= 500 {
                lambda_runtime::tracing::error!(
                    request_id,
                    error = %summa_agg::text::shown(&e.to_string()),
                    "proof API request failed"
                );
                format!(
                    "the proof could not be made; the function's log has the cause (request {})",
                    request_id.unwrap_or("without an id")
                )
            } else {
                summa_agg::text::shown(&e.to_string()).into_owned()
            };
            let body = ApiErrorBody {
                error_type: e.error_type().to_string(),
                error_message: message,
            };
            (status, serde_json::to_string(&body).expect("JSON"))
        }
    };
    HttpApiResponse {
        status_code,
        headers: [("content-type".to_string(), "application/json".to_string())].into(),
        body,
        is_base64_encoded: false,
    }
}

/// Answers an HTTP API request: [`authorize`], then `prove` the identity's own
/// input (the `proof` function passes its zero-knowledge handler, never a
/// Merkle proof); every outcome is an HTTP response.
pub async fn answer<F, Fut>(
    api: Option<&ProofApi>,
    request: &HttpApiRequest,
    prove: F,
) -> HttpApiResponse
where
    F: FnOnce(ProofInput) -> Fut,
    Fut: Future<Output = Result<serde_json::Value, FnError>>,
{
    let id = request.request_context.request_id.as_deref();
    let result = match authorize(api, request).in_step(STEP) {
        Ok(input) => prove(input).await.in_step(STEP).map_err(|e| opaque(e, id)),
        Err(e) => Err(e),
    };
    respond(result, id)
}

/// An error of proving, as the caller sees it: its class and a fixed sentence;
/// the message (which names keys of the bucket, the keys' shape) goes to the log
/// only. A request the authorizer accepted cannot be wrong but for its user or
/// run, so any other refusal is the deployment's: a server error.
fn opaque(e: FnError, request_id: Option<&str>) -> FnError {
    let (kind, said) = match e.kind {
        ErrorKind::NotFound => (
            ErrorKind::NotFound,
            "no proof: this user, or this run, is not in the published round",
        ),
        ErrorKind::Throttled => (ErrorKind::Throttled, "busy: ask again in a moment"),
        ErrorKind::Unauthorized | ErrorKind::Forbidden => (e.kind, "refused"),
        ErrorKind::InvalidInput | ErrorKind::Storage | ErrorKind::Internal => {
            (ErrorKind::Internal, "")
        }
    };
    if kind != ErrorKind::Internal {
        lambda_runtime::tracing::warn!(
            request_id,
            error = %summa_agg::text::shown(&e.to_string()),
            "proof API request refused"
        );
        return FnError {
            kind,
            message: said.to_string(),
            ..e
        };
    }
    FnError { kind, ..e }
}
