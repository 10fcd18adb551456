//! JSON over HTTP, with RFC 9457 problem documents read as typed refusals.
//!
//! Used by the isolate (to reach key brokers) and by the key broker (to reach
//! the transparency log). It holds no policy and trusts nothing it reads: callers
//! check every answer.
#![forbid(unsafe_code)]

use std::time::Duration;

use sealroom_core::wire::Problem;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An HTTP call did not produce the expected answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The service could not be reached.
    #[error("{url} is unreachable: {reason}")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The service refused with a problem document.
    #[error("{} ({})", .0.detail, .0.kind)]
    Refused(Problem),
    /// The service answered with an unexpected status and no problem document.
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// HTTP status.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// The answer could not be read.
    #[error("{url} sent an unreadable answer: {reason}")]
    BadAnswer {
        /// The URL called.
        url: String,
        /// What went wrong, in words.
        reason: String,
    },
}

/// The longest any client waits for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest JSON answer accepted.
const MAX_ANSWER: u64 = 256 << 20;

/// A blocking JSON client.
#[derive(Debug, Clone)]
pub struct JsonClient {
    agent: ureq::Agent,
}

impl Default for JsonClient {
    fn default() -> Self {
        Self::new(Duration::from_secs(60))
    }
}

impl JsonClient {
    /// A client whose calls give up after `timeout` (connecting gives up after at most
    /// [`CONNECT_TIMEOUT`]). Redirects are never followed: a 3xx answer is an error.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(timeout.min(CONNECT_TIMEOUT)))
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self { agent }
    }

    /// `GET url` with an `Authorization` header (a signed request, see
    /// `sealroom_core::request_auth`).
    pub fn get_authorized<T: DeserializeOwned>(
        &self,
        url: &str,
        authorization: &str,
    ) -> Result<T, HttpError> {
        let answer = self
            .agent
            .get(url)
            .header("authorization", authorization)
            .call();
        Self::read(url, answer)
    }

    /// `POST url` with a JSON body and an `Authorization` header.
    pub fn post_authorized<T: DeserializeOwned>(
        &self,
        url: &str,
        authorization: &str,
        body: &impl Serialize,
    ) -> Result<T, HttpError> {
        let answer = self
            .agent
            .post(url)
            .header("authorization", authorization)
            .send_json(body);
        Self::read(url, answer)
    }

    /// `POST url` with a JSON body.
    pub fn post<T: DeserializeOwned>(
        &self,
        url: &str,
        body: &impl Serialize,
    ) -> Result<T, HttpError> {
        let answer = self.agent.post(url).send_json(body);
        Self::read(url, answer)
    }

    /// `PUT url` with a raw body streamed from `reader`.
    pub fn put_stream<T: DeserializeOwned>(
        &self,
        url: &str,
        reader: impl std::io::Read + Send + Sync + 'static,
    ) -> Result<T, HttpError> {
        let answer = self
            .agent
            .put(url)
            .header("content-type", "application/octet-stream")
            .send(ureq::SendBody::from_owned_reader(reader));
        Self::read(url, answer)
    }

    /// `POST url` with a raw body.
    pub fn post_bytes<T: DeserializeOwned>(&self, url: &str, body: &[u8]) -> Result<T, HttpError> {
        let answer = self
            .agent
            .post(url)
            .header("content-type", "application/octet-stream")
            .send(body);
        Self::read(url, answer)
    }

    /// `GET url`.
    pub fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, HttpError> {
        let answer = self.agent.get(url).call();
        Self::read(url, answer)
    }

    /// `GET url`, answered with raw bytes (at most `limit`), e.g. a stored module.
    pub fn get_bytes(&self, url: &str, limit: u64) -> Result<Vec<u8>, HttpError> {
        let answer = self.agent.get(url).call();
        // ureq refuses a body as long as its limit: allow exactly `limit` bytes.
        let (status, body) = Self::read_body(url, answer, limit.saturating_add(1))?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        Err(Self::refusal(url, status, &body))
    }

    fn read<T: DeserializeOwned>(
        url: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, HttpError> {
        let (status, body) = Self::read_body(url, answer, MAX_ANSWER)?;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&body).map_err(|e| HttpError::BadAnswer {
                url: url.into(),
                reason: e.to_string(),
            });
        }
        Err(Self::refusal(url, status, &body))
    }

    fn read_body(
        url: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
        limit: u64,
    ) -> Result<(u16, Vec<u8>), HttpError> {
        let mut response = answer.map_err(|e| HttpError::Unreachable {
            url: url.into(),
            reason: e.to_string(),
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(limit)
            .read_to_vec()
            .map_err(|e| HttpError::BadAnswer {
                url: url.into(),
                reason: e.to_string(),
            })?;
        Ok((status, body))
    }

    /// The error for a non-2xx answer: its problem document, or its status and start.
    fn refusal(url: &str, status: u16, body: &[u8]) -> HttpError {
        match serde_json::from_slice::<Problem>(body) {
            Ok(problem) => HttpError::Refused(problem),
            Err(_) => HttpError::Status {
                url: url.into(),
                status,
                body: String::from_utf8_lossy(body).chars().take(300).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests;
