//! The draft's problem types (DAP-18 §3.6), sent in RFC 9457 problem documents.

/// A DAP error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DapProblem {
    /// A message could not be parsed or was otherwise invalid.
    InvalidMessage,
    /// The task id is unknown.
    UnrecognizedTask,
    /// The aggregation job id is unknown.
    UnrecognizedAggregationJob,
    /// The batch boundary check for the collector's query failed.
    BatchInvalid,
    /// The batch holds an invalid number of reports.
    InvalidBatchSize,
    /// The aggregation parameter assigned to a batch is invalid.
    InvalidAggregationParameter,
    /// The aggregators disagree on the report shares aggregated in a batch.
    BatchMismatch,
    /// The aggregators disagree on the current step of aggregation.
    StepMismatch,
    /// A query includes reports previously collected in a different batch.
    BatchOverlap,
    /// An extension list includes an unknown extension.
    UnsupportedExtension,
    /// An extension list is out of order or holds an invalid extension.
    InvalidExtension,
}

impl DapProblem {
    /// Every type, in the order of the draft's registry.
    pub const ALL: [DapProblem; 11] = [
        Self::InvalidMessage,
        Self::UnrecognizedTask,
        Self::UnrecognizedAggregationJob,
        Self::BatchInvalid,
        Self::InvalidBatchSize,
        Self::InvalidAggregationParameter,
        Self::BatchMismatch,
        Self::StepMismatch,
        Self::BatchOverlap,
        Self::UnsupportedExtension,
        Self::InvalidExtension,
    ];

    /// The type's last URN segment.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvalidMessage => "invalidMessage",
            Self::UnrecognizedTask => "unrecognizedTask",
            Self::UnrecognizedAggregationJob => "unrecognizedAggregationJob",
            Self::BatchInvalid => "batchInvalid",
            Self::InvalidBatchSize => "invalidBatchSize",
            Self::InvalidAggregationParameter => "invalidAggregationParameter",
            Self::BatchMismatch => "batchMismatch",
            Self::StepMismatch => "stepMismatch",
            Self::BatchOverlap => "batchOverlap",
            Self::UnsupportedExtension => "unsupportedExtension",
            Self::InvalidExtension => "invalidExtension",
        }
    }

    /// The full type URI, `urn:ietf:params:ppm:dap:error:<name>`.
    pub fn urn(self) -> String {
        format!("urn:ietf:params:ppm:dap:error:{}", self.name())
    }

    /// The type named by `urn`, if it is one of the draft's.
    pub fn from_urn(urn: &str) -> Option<Self> {
        let name = urn.strip_prefix("urn:ietf:params:ppm:dap:error:")?;
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}
