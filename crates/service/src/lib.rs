//! Plumbing shared by sealroom's HTTP services (key broker, host): problem
//! documents, listeners that announce their address, and SQLite set-up.
//! It holds no policy; each service decides what to answer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::net::SocketAddr;

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sealroom_core::clock::Timestamp;
use sealroom_core::party::SigningPublicKey;
use sealroom_core::request_auth::{RequestAuth, RequestAuthError};
use sealroom_core::wire::{PROBLEM_JSON, Problem};

mod database;

pub use database::{Database, Schema, open_database};

/// A problem document as an HTTP response (`application/problem+json`).
#[derive(Debug, Clone)]
pub struct ProblemResponse(pub Problem);

impl ProblemResponse {
    /// A problem of type `urn:sealroom:{namespace}:{code}`.
    pub fn new(
        namespace: &str,
        code: &str,
        status: StatusCode,
        title: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self(Problem {
            kind: format!("urn:sealroom:{namespace}:{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
        })
    }
}

impl IntoResponse for ProblemResponse {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self.0)).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

/// Makes every error answer of `router` a problem document: handlers already answer with
/// [`ProblemResponse`]; this turns the rest (axum's extractor rejections, body limits, unknown
/// routes and methods) into `urn:sealroom:{namespace}:{code}` documents that keep the reason.
/// HTML error pages (for browsers) are left as they are.
pub fn with_problem_details<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
    namespace: &'static str,
) -> axum::Router<S> {
    router.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| problem_details(namespace, request, next),
    ))
}

async fn problem_details(namespace: &'static str, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // Problem documents pass as they are, and so do error pages meant for a browser (the
    // portal's and the public log's).
    if !(status.is_client_error() || status.is_server_error())
        || response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|t| {
                t.as_bytes() == PROBLEM_JSON.as_bytes() || t.as_bytes().starts_with(b"text/html")
            })
    {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let reason = status.canonical_reason().unwrap_or("error");
    let detail = match String::from_utf8_lossy(&body).trim() {
        "" => reason.to_string(),
        text => text.to_string(),
    };
    ProblemResponse::new(
        namespace,
        &generic_code(status),
        status,
        &reason.to_lowercase(),
        detail,
    )
    .into_response()
}

/// The stable code of an HTTP error without a more specific one.
fn generic_code(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => reason
            .to_ascii_lowercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        None => format!("http-{}", status.as_u16()),
    }
}

/// What a handler needs of a request to check which party signed it
/// (`Authorization: Sealroom …`, see `sealroom_core::request_auth`).
#[derive(Debug, Clone)]
pub struct SignedRequest {
    headers: HeaderMap,
    method: Method,
    uri: Uri,
}

impl SignedRequest {
    /// The `Content-Length` the request declares, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.headers
            .get(header::CONTENT_LENGTH)?
            .to_str()
            .ok()?
            .parse()
            .ok()
    }

    /// The party key that signed this request, checked against its method and path and the
    /// server's time `now`.
    pub fn signer(&self, now: Timestamp) -> Result<SigningPublicKey, RequestAuthError> {
        let value = self
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(RequestAuthError::Missing)?
            .to_str()
            .map_err(|_| RequestAuthError::Malformed("not ASCII".into()))?;
        let auth = RequestAuth::parse(value)?;
        let path = self.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        auth.verify(self.method.as_str(), path, now)?;
        Ok(auth.key)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SignedRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            headers: parts.headers.clone(),
            method: parts.method.clone(),
            uri: parts.uri.clone(),
        })
    }
}

/// A service could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("database {path}: {source}")]
    Database {
        /// The file.
        path: String,
        /// The underlying error.
        source: rusqlite::Error,
    },
    /// The database was written by a build with another schema.
    #[error(
        "database {path} has schema version {found}, this build uses {expected}: it was written by another version of sealroom. Keep the file (it holds state others rely on: the log, spent budgets, replay protection) and run the version that wrote it"
    )]
    SchemaVersion {
        /// The file.
        path: String,
        /// The version found in the file.
        found: u32,
        /// The version this build writes.
        expected: u32,
    },
    /// Serving failed.
    #[error("server error: {0}")]
    Serve(std::io::Error),
}

/// Binds `addr` (port 0 picks a free port) and returns the listener with its actual address.
pub async fn bind(addr: &str) -> Result<(tokio::net::TcpListener, SocketAddr), ServiceError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServiceError::Bind {
            addr: addr.into(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| ServiceError::Bind {
        addr: addr.into(),
        source,
    })?;
    Ok((listener, local))
}

/// Serves `router` until ctrl-c or SIGTERM.
pub async fn serve_until_stopped(
    listener: tokio::net::TcpListener,
    router: axum::Router,
) -> Result<(), ServiceError> {
    // Handlers may ask who connected (the owner's portal answers loopback only).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(stop_signal())
    .await
    .map_err(ServiceError::Serve)
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stopping");
}
