//! The executions port: starting the round's state machine, which `trigger`
//! does ([`Executions`]), and its Step Functions adapter (`sfn.rs`,
//! `SfnExecutions`, cargo feature `aws`).

use std::future::Future;

use crate::error::FnError;

#[cfg(feature = "aws")]
mod sfn;
#[cfg(feature = "aws")]
pub use sfn::SfnExecutions;

/// What starting an execution did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StartOutcome {
    /// A new execution.
    Started {
        /// Its ARN.
        execution_arn: String,
    },
    /// An execution of that name exists already (this event was seen before).
    AlreadyExists,
}

/// Starts executions of the round state machine (the Step Functions port).
pub trait Executions: Send + Sync {
    /// Starts an execution named `name` with JSON `input`.
    fn start(
        &self,
        name: &str,
        input: &str,
    ) -> impl Future<Output = Result<StartOutcome, FnError>> + Send;
}
