//! Refusals as RFC 9457 problem documents: the draft's error types where one applies (with the
//! `taskid` member), sealroom's own `urn:sealroom:dap:*` types for the rest (DAP-18 §3.6 forbids
//! inventing types in the DAP namespace).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sealroom_dap::messages::{MessageError, TaskId};
use sealroom_dap::problem::DapProblem;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum DapError {
    /// One of the draft's errors.
    #[error("{problem:?}: {detail}")]
    Dap {
        /// The error type.
        problem: DapProblem,
        /// What was wrong.
        detail: String,
        /// The task, when known.
        task_id: Option<TaskId>,
    },
    /// No or a wrong bearer token.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// No such resource.
    #[error("not found: {0}")]
    NotFound(String),
    /// The request conflicts with an existing resource.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The aggregator failed.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DapError {
    /// The draft's error `problem` about `task_id`.
    pub fn dap(problem: DapProblem, task_id: Option<TaskId>, detail: impl Into<String>) -> Self {
        Self::Dap {
            problem,
            detail: detail.into(),
            task_id,
        }
    }

    /// A malformed message: `invalidMessage`.
    pub fn message(task_id: Option<TaskId>, error: MessageError) -> Self {
        Self::dap(DapProblem::InvalidMessage, task_id, error.to_string())
    }

    /// An internal failure (a store error).
    pub fn internal(error: impl std::fmt::Display) -> Self {
        Self::Internal(error.to_string())
    }
}

impl From<rusqlite::Error> for DapError {
    fn from(error: rusqlite::Error) -> Self {
        Self::internal(format!("store: {error}"))
    }
}

/// The HTTP status for a draft error type.
pub fn status_of(problem: DapProblem) -> StatusCode {
    match problem {
        DapProblem::UnrecognizedTask | DapProblem::UnrecognizedAggregationJob => {
            StatusCode::NOT_FOUND
        }
        DapProblem::BatchOverlap | DapProblem::StepMismatch | DapProblem::BatchMismatch => {
            StatusCode::CONFLICT
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

impl IntoResponse for DapError {
    fn into_response(self) -> Response {
        let (status, kind, title, task_id) = match &self {
            Self::Dap {
                problem, task_id, ..
            } => (status_of(*problem), problem.urn(), problem.name(), *task_id),
            Self::Unauthorized(_) => (
                StatusCode::FORBIDDEN,
                "urn:sealroom:dap:unauthorized".into(),
                "unauthorized",
                None,
            ),
            Self::NotFound(_) => (
                StatusCode::NOT_FOUND,
                "urn:sealroom:dap:not-found".into(),
                "not found",
                None,
            ),
            Self::Conflict(_) => (
                StatusCode::CONFLICT,
                "urn:sealroom:dap:conflict".into(),
                "conflict",
                None,
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "urn:sealroom:dap:internal".into(),
                "internal error",
                None,
            ),
        };
        let detail = match &self {
            Self::Dap { detail, .. } => detail.clone(),
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::error!("{detail}");
        }
        let mut document = serde_json::json!({
            "type": kind,
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Some(task_id) = task_id {
            document["taskid"] = serde_json::Value::String(task_id.to_string());
        }
        let mut response = (status, document.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
