//! The executions port over Step Functions (`StartExecution`).

use aws_config::SdkConfig;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use super::{Executions, StartOutcome};
use crate::error::FnError;

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
