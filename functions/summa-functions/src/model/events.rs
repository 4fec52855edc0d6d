//! The EventBridge event of a failed execution, which the aggregator records in
//! failure mode.

use serde::{Deserialize, Serialize};

/// The event EventBridge delivers when an execution of the round state machine
/// changes status (`"detail-type": "Step Functions Execution Status Change"`,
/// `"source": "aws.states"`); the template's rule sends the `FAILED` and
/// `TIMED_OUT` ones to the aggregator, which records the failure. Only the
/// fields used are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionStatusEvent {
    /// `Step Functions Execution Status Change`.
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// `aws.states`.
    pub source: String,
    /// The execution.
    pub detail: ExecutionStatusDetail,
}

/// The `detail` of an [`ExecutionStatusEvent`] (the fields of DescribeExecution).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionStatusDetail {
    /// The execution's ARN.
    pub execution_arn: String,
    /// The execution's name (the run, unless the input names one).
    pub name: String,
    /// `FAILED`, `TIMED_OUT`, `ABORTED`, `SUCCEEDED`, `RUNNING`, ...
    pub status: String,
    /// The execution's input, as JSON text (`{"bucket", "prefix", "run"?}`).
    pub input: Option<String>,
    /// The execution's error, when it failed.
    pub error: Option<String>,
    /// The execution's cause, when it failed.
    pub cause: Option<String>,
    /// How many times the execution was redriven.
    pub redrive_count: Option<u64>,
}

/// The execution input that the failure handler needs (`run` defaults to the
/// execution's name, as in the state machine).
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionInput {
    /// The bucket.
    pub bucket: String,
    /// The round prefix.
    pub prefix: String,
    /// The run.
    pub run: Option<String>,
}

/// The `detail-type` of a Step Functions execution status change event.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";
/// The execution statuses the failure handler records.
pub const FAILED_STATUSES: [&str; 3] = ["FAILED", "TIMED_OUT", "ABORTED"];
