//! What both aggregators' HTTP services share: their state, the `hpke_config` resource, bearer
//! tokens, DAP bodies with their media types, and running store work off the async threads.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sealroom_dap::hpke::HpkeKeypair;
use sealroom_dap::messages::{DapMessage, HpkeConfigList, TaskId, decode_all, encode};
use sealroom_dap::problem::DapProblem;
use sha2::{Digest, Sha256};

use crate::error::DapError;
use crate::store::Store;
use crate::task::AggregatorTask;

/// The largest upload request the leader reads (tens of thousands of reports); an upload is
/// not authenticated, so this bounds what anyone can make it buffer.
pub const MAX_UPLOAD_BODY: usize = 32 << 20;

/// The largest request the helper reads: an aggregation job of up to 2,000 reports, whose
/// verifier messages grow with the VDAF's length.
pub const MAX_HELPER_BODY: usize = 64 << 20;

/// An aggregator's shared state.
#[derive(Clone)]
pub struct Aggregator {
    /// Its store.
    pub store: Arc<Store>,
    /// Its HPKE keys, in order of preference.
    pub keys: Arc<Vec<HpkeKeypair>>,
    /// Wakes the leader's driver when there is new work.
    pub wake: Arc<Wake>,
}

impl Aggregator {
    /// The aggregator over `store`, with its keys (generated on first start).
    pub fn new(store: Store) -> Result<Self, DapError> {
        let keys = store.hpke_keys()?;
        Ok(Self {
            store: Arc::new(store),
            keys: Arc::new(keys),
            wake: Arc::new(Wake::default()),
        })
    }

    /// The task `task_id` in `role`, or `unrecognizedTask`.
    pub fn task(
        &self,
        task_id: &TaskId,
        role: sealroom_dap::messages::Role,
    ) -> Result<AggregatorTask, DapError> {
        match self.store.task(task_id)? {
            Some(task) if task.role == role => Ok(task),
            _ => Err(DapError::dap(
                DapProblem::UnrecognizedTask,
                Some(*task_id),
                format!("this aggregator has no task {task_id} in this role"),
            )),
        }
    }
}

/// A signal from the HTTP handlers to the leader's driver thread that work arrived.
#[derive(Debug, Default)]
pub struct Wake {
    pending: std::sync::Mutex<bool>,
    signal: std::sync::Condvar,
}

impl Wake {
    /// Signals the driver.
    pub fn notify_one(&self) {
        *self.pending.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.signal.notify_one();
    }

    /// Waits for a signal, at most `timeout`.
    pub fn wait(&self, timeout: std::time::Duration) {
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let (mut pending, _) = self
            .signal
            .wait_timeout_while(pending, timeout, |pending| !*pending)
            .unwrap_or_else(|p| p.into_inner());
        *pending = false;
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `GET /hpke_config`: the aggregator's HPKE configurations (DAP-18 §4.4.1).
pub async fn hpke_config(State(aggregator): State<Aggregator>) -> Result<Response, DapError> {
    let list = HpkeConfigList(aggregator.keys.iter().map(|k| k.config.clone()).collect());
    let mut response = message_response(StatusCode::OK, &list)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400"),
    );
    Ok(response)
}

/// A response carrying `message` with its media type.
pub fn message_response<T: DapMessage>(
    status: StatusCode,
    message: &T,
) -> Result<Response, DapError> {
    let body = encode(message, T::NAME).map_err(DapError::internal)?;
    Ok(bytes_response::<T>(status, body))
}

/// A response carrying an already encoded `T`.
pub fn bytes_response<T: DapMessage>(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(T::MEDIA_TYPE),
    );
    response
}

/// Adds a `Location` header.
pub fn with_location(mut response: Response, location: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Decodes a request body as `T`: the content type must be `T`'s media type, and the whole body
/// must be one `T` (`invalidMessage` otherwise).
pub fn decode_body<T: DapMessage>(
    headers: &HeaderMap,
    body: &Bytes,
    task_id: Option<TaskId>,
) -> Result<T, DapError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !same_media_type(content_type, T::MEDIA_TYPE) {
        return Err(DapError::dap(
            DapProblem::InvalidMessage,
            task_id,
            format!(
                "the content type is {content_type:?}; a {} is sent as {}",
                T::NAME,
                T::MEDIA_TYPE
            ),
        ));
    }
    decode_all::<T>(body, T::NAME).map_err(|e| DapError::message(task_id, e))
}

/// Whether two media types are the same (RFC 9110 §8.3.1): type, subtype and parameter names
/// compare without case, white space around `;` and `=` is allowed, and a parameter value may
/// be quoted. Other parameters (e.g. a charset) are not allowed: a DAP body has none.
fn same_media_type(given: &str, expected: &str) -> bool {
    fn parts(text: &str) -> Option<(String, Vec<(String, String)>)> {
        let mut pieces = text.split(';');
        let essence = pieces.next()?.trim().to_ascii_lowercase();
        let mut parameters = Vec::new();
        for piece in pieces {
            let (name, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            parameters.push((name.trim().to_ascii_lowercase(), value.to_string()));
        }
        parameters.sort();
        Some((essence, parameters))
    }
    matches!((parts(given), parts(expected)), (Some(a), Some(b)) if a == b)
}

/// Checks the request's bearer token (`Authorization: Bearer …`, or the `DAP-Auth-Token` header
/// of earlier drafts) against `expected`.
pub fn check_token(headers: &HeaderMap, expected: &str) -> Result<(), DapError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("dap-auth-token").and_then(|v| v.to_str().ok()))
        .ok_or(DapError::Unauthorized("no bearer token"))?;
    // Compare digests, so the time taken says nothing about how much of the token matched.
    // Tasks never hold an empty token; an empty one presented matches nothing.
    if !presented.is_empty() && Sha256::digest(presented) == Sha256::digest(expected) {
        Ok(())
    } else {
        Err(DapError::Unauthorized("wrong bearer token"))
    }
}

/// Runs store and VDAF work on a blocking thread.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DapError> + Send + 'static,
) -> Result<T, DapError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DapError::internal(format!("a worker failed: {e}")))?
}

/// A task id from a URL segment (`invalidMessage` if it is not one).
pub fn parse_task_id(text: &str) -> Result<TaskId, DapError> {
    text.parse().map_err(|e| DapError::message(None, e))
}

/// SHA-256 of a request body, to recognise a repeated request.
pub fn request_hash(body: &[u8]) -> Vec<u8> {
    Sha256::digest(body).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_compare_as_rfc_9110_says() {
        let upload = "application/ppm-dap;message=upload-req";
        for same in [
            upload,
            "application/ppm-dap; message=upload-req",
            "Application/PPM-DAP ; Message = \"upload-req\"",
        ] {
            assert!(same_media_type(same, upload), "{same}");
        }
        for other in [
            "",
            "application/ppm-dap",
            "application/ppm-dap;message=upload-errors",
            "application/ppm-dap;message=Upload-Req",
            "application/ppm-dap;message=upload-req;charset=utf-8",
            "application/octet-stream",
        ] {
            assert!(!same_media_type(other, upload), "{other}");
        }
    }

    #[test]
    fn bearer_tokens_must_match_exactly() {
        let headers = |name: &'static str, value: &str| {
            let mut h = HeaderMap::new();
            h.insert(name, HeaderValue::from_str(value).unwrap());
            h
        };
        assert!(check_token(&headers("authorization", "Bearer s3cret"), "s3cret").is_ok());
        assert!(check_token(&headers("dap-auth-token", "s3cret"), "s3cret").is_ok());
        for (name, value) in [
            ("authorization", "Bearer s3cre"),
            ("authorization", "Bearer  s3cret"),
            ("authorization", "Basic s3cret"),
            ("dap-auth-token", ""),
        ] {
            assert!(
                check_token(&headers(name, value), "s3cret").is_err(),
                "{value:?}"
            );
        }
        assert!(check_token(&HeaderMap::new(), "s3cret").is_err());
    }
}
