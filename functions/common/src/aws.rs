//! AWS clients from the environment (the functions' `main`s).

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sfn::config::SharedHttpClient;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

use crate::error::FnError;
use crate::handlers::{Executions, StartOutcome};
use crate::storage::S3Storage;

/// The HTTP(S) client of the SDK clients: hyper with rustls on ring (no
/// aws-lc-sys to build, cross-compiles to arm64 with zig).
pub fn http_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The shared AWS configuration from the environment (region, credentials,
/// `AWS_ENDPOINT_URL`...), with [`http_client`].
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .load()
        .await
}

/// S3 storage from the environment.
pub async fn s3_storage() -> S3Storage {
    S3Storage::from_config(&load_config().await)
}

/// Starts executions of one state machine with Step Functions.
#[derive(Clone, Debug)]
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl SfnExecutions {
    /// Executions of `state_machine_arn`.
    pub fn new(config: &SdkConfig, state_machine_arn: impl Into<String>) -> Self {
        SfnExecutions {
            client: aws_sdk_sfn::Client::new(config),
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// From the environment: `STATE_MACHINE_ARN`.
    pub fn from_env(config: &SdkConfig) -> Result<Self, FnError> {
        let arn = std::env::var("STATE_MACHINE_ARN")
            .ok()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| FnError::internal("STATE_MACHINE_ARN is not set"))?;
        Ok(Self::new(config, arn))
    }
}

impl Executions for SfnExecutions {
    async fn start(&self, name: &str, input: &str) -> Result<StartOutcome, FnError> {
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(out) => Ok(StartOutcome::Started {
                execution_arn: out.execution_arn().to_string(),
            }),
            Err(SdkError::ServiceError(e)) if e.err().is_execution_already_exists() => {
                Ok(StartOutcome::AlreadyExists)
            }
            Err(e) => {
                let code = e.code().map(str::to_owned);
                let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
                let m = format!(
                    "starting {name} on {}: {}",
                    self.state_machine_arn,
                    DisplayErrorContext(&e)
                );
                Err(match (code.as_deref(), status) {
                    (
                        Some("ThrottlingException" | "Throttling" | "TooManyRequestsException"),
                        _,
                    )
                    | (_, 429 | 503) => FnError::throttled(m),
                    (_, 400..=499) => FnError::internal(m),
                    // Network failures and server errors: retryable.
                    _ => FnError::storage(m),
                })
            }
        }
    }
}
