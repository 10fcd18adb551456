//! DAP over HTTP, the client side: requests carry one message with its media type and, where the
//! draft asks for it, a bearer token; answers are a message, "not ready yet" (an empty 2xx body,
//! to be polled), or a problem document read back into the draft's error types (DAP-18 §3).

use std::time::Duration;

use crate::messages::{DapMessage, MessageError, decode_all};
use crate::problem::DapProblem;

/// The longest answer accepted (a large aggregation job's response).
const MAX_ANSWER: u64 = 512 << 20;

/// A DAP request did not get the answer it needed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The server could not be reached or the exchange broke off; worth retrying.
    #[error("{url} is unreachable: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server refused with a problem document.
    #[error("{url} refused (HTTP {status}, {kind}): {detail}")]
    Problem {
        /// The URL called.
        url: String,
        /// HTTP status.
        status: u16,
        /// The problem's `type` URI.
        kind: String,
        /// The draft's error type, when `kind` is one of them.
        problem: Option<DapProblem>,
        /// The problem's `detail`.
        detail: String,
    },
    /// The server answered with an error status and no problem document.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The answer was not the message expected.
    #[error("{url} sent an unreadable answer: {reason}")]
    BadAnswer {
        /// The URL called.
        url: String,
        /// What was wrong.
        reason: String,
    },
}

impl TransportError {
    /// The draft's error type, if the server sent one.
    pub fn problem(&self) -> Option<DapProblem> {
        match self {
            Self::Problem { problem, .. } => *problem,
            _ => None,
        }
    }
}

/// A successful answer: either the resource's message, or an empty body meaning "not ready".
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status (2xx).
    pub status: u16,
    /// The `Location` header, if any.
    pub location: Option<String>,
    /// The `Retry-After` header in seconds, if any.
    pub retry_after: Option<Duration>,
    /// The body (empty while a resource is not ready).
    pub body: Vec<u8>,
}

impl Answer {
    /// The body decoded as `T`, or `None` if it is empty (not ready).
    pub fn message<T: DapMessage>(&self, url: &str) -> Result<Option<T>, TransportError> {
        if self.body.is_empty() {
            return Ok(None);
        }
        decode_all::<T>(&self.body, T::NAME)
            .map(Some)
            .map_err(|e: MessageError| TransportError::BadAnswer {
                url: url.into(),
                reason: e.to_string(),
            })
    }

    /// The last path segment of `Location` (the id of a created resource), without its query.
    pub fn location_id(&self) -> Option<&str> {
        let location = self.location.as_deref()?;
        let path = location.split(['?', '#']).next()?;
        path.trim_end_matches('/').rsplit('/').next()
    }
}

/// An HTTP client for DAP messages. Redirects are not followed.
#[derive(Debug, Clone)]
pub struct DapClient {
    agent: ureq::Agent,
}

impl Default for DapClient {
    fn default() -> Self {
        Self::new(Duration::from_secs(120))
    }
}

/// `base` joined with `path`, with exactly one `/` between them.
pub fn resource_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

impl DapClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self { agent }
    }

    /// `GET url`, with a bearer token if given.
    pub fn get(&self, url: &str, token: Option<&str>) -> Result<Answer, TransportError> {
        let mut request = self.agent.get(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        read(url, request.call())
    }

    /// `DELETE url` with a bearer token.
    pub fn delete(&self, url: &str, token: Option<&str>) -> Result<Answer, TransportError> {
        let mut request = self.agent.delete(url);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        read(url, request.call())
    }

    /// `POST url` with `message` as its body, with a bearer token if given.
    pub fn post<T: DapMessage>(
        &self,
        url: &str,
        message: &[u8],
        token: Option<&str>,
    ) -> Result<Answer, TransportError> {
        let mut request = self.agent.post(url).header("content-type", T::MEDIA_TYPE);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        read(url, request.send(message))
    }

    /// `PUT url` with `message` as its body, with a bearer token if given (the creation form of
    /// earlier draft-18 tips).
    pub fn put<T: DapMessage>(
        &self,
        url: &str,
        message: &[u8],
        token: Option<&str>,
    ) -> Result<Answer, TransportError> {
        let mut request = self.agent.put(url).header("content-type", T::MEDIA_TYPE);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        read(url, request.send(message))
    }
}

fn read(
    url: &str,
    answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Answer, TransportError> {
    let mut response = answer.map_err(|e| TransportError::Unreachable {
        url: url.into(),
        reason: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let location = header("location");
    let retry_after = header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response
        .body_mut()
        .with_config()
        .limit(MAX_ANSWER)
        .read_to_vec()
        .map_err(|e| TransportError::Unreachable {
            url: url.into(),
            reason: format!("reading the answer: {e}"),
        })?;
    if (200..300).contains(&status) {
        return Ok(Answer {
            status,
            location,
            retry_after,
            body,
        });
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(document) if document.get("type").is_some_and(|t| t.is_string()) => {
            let text = |key: &str| {
                document
                    .get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let kind = text("type");
            Err(TransportError::Problem {
                url: url.into(),
                status,
                problem: DapProblem::from_urn(&kind),
                detail: text("detail"),
                kind,
            })
        }
        _ => Err(TransportError::Status {
            url: url.into(),
            status,
            body: String::from_utf8_lossy(&body).chars().take(300).collect(),
        }),
    }
}
