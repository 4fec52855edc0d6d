//! The proof API's messages: what the `proof` function reads of an API Gateway
//! HTTP API request (payload format 2.0), what a caller may ask in it, and the
//! response that API Gateway returns to the caller as it is.
//!
//! Only the documented fields of payload format 2.0 that the function needs are
//! read: the version, the query string's parameters, the body, and the JWT
//! authorizer's claims (`requestContext.authorizer.jwt.claims`), which API
//! Gateway fills after it has checked the token's signature, issuer, audience
//! and expiry.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::FnError;

/// The payload format version of the HTTP API integration.
pub const PAYLOAD_FORMAT: &str = "2.0";

/// An HTTP API request (payload format 2.0), as far as the proof function reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiRequest {
    /// The payload format version, `"2.0"`.
    pub version: String,
    /// The route, e.g. `GET /proof`.
    #[serde(default)]
    pub route_key: Option<String>,
    /// The query string's parameters (API Gateway joins a repeated one with commas).
    #[serde(default)]
    pub query_string_parameters: Option<BTreeMap<String, String>>,
    /// The body, as text unless `is_base64_encoded`.
    #[serde(default)]
    pub body: Option<String>,
    /// Whether API Gateway base64-encoded the body (it does for non-text types).
    #[serde(default)]
    pub is_base64_encoded: bool,
    /// Who asks, as API Gateway established it.
    pub request_context: HttpApiContext,
}

/// The request's context.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiContext {
    /// API Gateway's id of the request (also in the function's log).
    #[serde(default)]
    pub request_id: Option<String>,
    /// What the route's authorizer established; absent on a route without one.
    #[serde(default)]
    pub authorizer: Option<HttpApiAuthorizer>,
}

/// The authorizer's output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpApiAuthorizer {
    /// A JWT authorizer's: the token's claims and scopes.
    #[serde(default)]
    pub jwt: Option<JwtAuthorization>,
}

/// A JWT authorizer's output: the verified token's claims (API Gateway gives
/// each as a string) and scopes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwtAuthorization {
    /// The token's claims, by name (`sub`, `cognito:username`, ...).
    #[serde(default)]
    pub claims: BTreeMap<String, serde_json::Value>,
    /// The token's scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// What a caller of the proof API may ask, in the query string or a JSON body:
/// a run (default: the published one) and, optionally, its own username. The
/// bucket and the round prefix are the deployment's, never the caller's; any
/// other field is refused.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiProofQuery {
    /// The caller's own username, if it names one: any other is refused.
    pub username: Option<String>,
    /// The run to prove against (default: the published one).
    pub run: Option<String>,
}

/// The function's answer to an HTTP API request (payload format 2.0): API
/// Gateway returns its status, headers and body to the caller. A function
/// *error* would reach the caller as a bare 500, so every refusal is a response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpApiResponse {
    /// The HTTP status.
    pub status_code: u16,
    /// The headers (`content-type`).
    pub headers: BTreeMap<String, String>,
    /// The body: the proof, or `{"errorType", "errorMessage"}`.
    pub body: String,
    /// Always false: the body is JSON text.
    pub is_base64_encoded: bool,
}

/// The body of a refused or failed API request: the stable error type and a
/// message, as a direct invocation's error gives them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiErrorBody {
    /// The [`crate::ErrorKind`]'s name (`Forbidden`, `NotFound`, ...).
    pub error_type: String,
    /// What went wrong.
    pub error_message: String,
}

/// An invocation of the `proof` function: the custodian's own backend's
/// (direct: `{bucket, prefix, username, run?, ...}`, unchanged), or a user's
/// through the HTTP API.
#[derive(Clone, Debug, PartialEq)]
pub enum ProofCall {
    /// A direct invocation's payload, as it came.
    Direct(serde_json::Value),
    /// An HTTP API request.
    Api(Box<HttpApiRequest>),
}

impl ProofCall {
    /// The call in `payload`: an HTTP API event (it has a `requestContext`; it
    /// must be payload format 2.0), or else a direct invocation.
    pub fn from_payload(payload: serde_json::Value) -> Result<ProofCall, FnError> {
        if payload.get("requestContext").is_none() {
            return Ok(ProofCall::Direct(payload));
        }
        let request: HttpApiRequest = serde_json::from_value(payload)
            .map_err(|e| FnError::invalid(format!("invalid input: an HTTP API request: {e}")))?;
        if request.version != PAYLOAD_FORMAT {
            return Err(FnError::invalid(format!(
                "invalid input: an HTTP API request of payload format {:?}: the proof API's integration must use {PAYLOAD_FORMAT}",
                request.version
            )));
        }
        Ok(ProofCall::Api(Box::new(request)))
    }
}
