//! The transparency log service, served by the host.
//!
//! | method and path | does |
//! |---|---|
//! | `POST /v1/log/entries` | append an entry (raw bytes); only the host and the parties it serves may write |
//! | `GET /v1/log/entries?start=&count=` | entries in order (at most 1000) |
//! | `GET /v1/log/entries/{index}` | one entry |
//! | `GET /v1/log/checkpoint` | the latest signed checkpoint |
//! | `GET /v1/log/proofs/inclusion?index=&size=` | inclusion proof of an entry in a tree size |
//! | `GET /v1/log/proofs/consistency?from=&to=` | consistency proof between two tree sizes |
//! | `GET /v1/log/key` | the log's verifier key (pin it out of band) |
//!
//! Writers are authenticated by the signature every entry carries: the writer's
//! key must be the log's own or that of a party the host serves, which may log only its own
//! key releases and decisions.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use sealroom_core::log::ProofHash;
use sealroom_ledger::entry::{EntryError, MAX_ENTRY_BYTES};
use sealroom_ledger::wire::{
    AppendAnswer, CheckpointAnswer, EntriesAnswer, EntryBytes, KeyAnswer, MAX_ENTRIES_PER_PAGE,
    ProofAnswer,
};
use sealroom_ledger::{CheckedEntry, LogEntry, Statement};
use sealroom_ledger_store::{AppendError, StoreError};
use sealroom_service::ProblemResponse;
use serde::Deserialize;

use crate::api::Host;

type Shared = State<Arc<Host>>;

fn problem(code: &str, status: StatusCode, detail: impl Into<String>) -> ProblemResponse {
    let title = if status == StatusCode::NOT_FOUND {
        "not found"
    } else {
        "refused"
    };
    ProblemResponse::new("log", code, status, title, detail)
}

fn store_problem(e: StoreError) -> ProblemResponse {
    match e {
        StoreError::BeyondTree { .. } => {
            problem("beyond-tree", StatusCode::BAD_REQUEST, e.to_string())
        }
        StoreError::NoConsistencyProof { .. } => problem(
            "no-consistency-proof",
            StatusCode::BAD_REQUEST,
            e.to_string(),
        ),
        other => internal(other),
    }
}

/// An internal failure of the log: logged with its cause, answered without it.
fn internal(e: impl std::fmt::Display) -> ProblemResponse {
    tracing::error!("log: {e}");
    problem(
        "internal",
        StatusCode::INTERNAL_SERVER_ERROR,
        "the log failed; its operator's log says why",
    )
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProblemResponse> + Send + 'static,
) -> Result<T, ProblemResponse> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// The log's routes.
pub(crate) fn router() -> Router<Arc<Host>> {
    Router::new()
        .route("/v1/log/entries", post(append).get(entries))
        .route("/v1/log/entries/{index}", get(entry))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/proofs/inclusion", get(inclusion))
        .route("/v1/log/proofs/consistency", get(consistency))
        .route("/v1/log/key", get(key))
}

async fn append(State(h): Shared, body: Bytes) -> Result<Json<AppendAnswer>, ProblemResponse> {
    if body.len() > MAX_ENTRY_BYTES {
        return Err(problem(
            "entry-too-large",
            StatusCode::PAYLOAD_TOO_LARGE,
            EntryError::TooLarge(body.len()).to_string(),
        ));
    }
    blocking(move || {
        let checked = CheckedEntry::parse(body.to_vec())
            .map_err(|e| problem("bad-entry", StatusCode::BAD_REQUEST, e.to_string()))?;
        h.check_log_writer(checked.entry())?;
        let kind = checked.entry().statement.kind();
        let appended = h.log().append(checked).map_err(|e| match e {
            AppendError::Entry(e) => problem("bad-entry", StatusCode::BAD_REQUEST, e.to_string()),
            AppendError::Store(e) => store_problem(e),
            other => problem(
                "log-stopped",
                StatusCode::SERVICE_UNAVAILABLE,
                other.to_string(),
            ),
        })?;
        if appended.new {
            tracing::info!(index = appended.index, kind, "log entry appended");
        }
        Ok(Json(AppendAnswer {
            index: appended.index,
            new: appended.new,
            checkpoint: appended.checkpoint,
        }))
    })
    .await
}

impl Host {
    /// Refuses entries by writers the host does not know, and host-only statements by anyone else.
    fn check_log_writer(&self, entry: &LogEntry) -> Result<(), ProblemResponse> {
        let log_key = self.log().signing_key().public();
        if entry.writer == log_key {
            return Ok(());
        }
        let host_only = matches!(
            entry.statement,
            Statement::AgreementSigned { .. }
                | Statement::RuntimePublished { .. }
                | Statement::ProgramPublished { .. }
                | Statement::JobFinished { .. }
        );
        let writer = self.store().party_by_key(&entry.writer).map_err(internal)?;
        let refuse = |why: String| {
            Err(problem(
                "writer-not-allowed",
                StatusCode::FORBIDDEN,
                format!(
                    "a {} entry signed by this key may not be written: {why}",
                    entry.statement.kind()
                ),
            ))
        };
        let Some(writer) = writer.filter(|_| !host_only) else {
            return refuse(
                "only the host and the parties it serves write to the log, and only the host writes agreement, runtime and job entries".into(),
            );
        };
        let fingerprint = writer.fingerprint().map_err(internal)?;
        let about_self = match &entry.statement {
            Statement::KeyRelease(r) => {
                r.owner_fingerprint == fingerprint && r.owner == writer.name
            }
            Statement::Decision { decision } => {
                decision.statement.owner == fingerprint && decision.verify(&writer).is_ok()
            }
            _ => false,
        };
        if !about_self {
            return refuse(format!(
                "{} may log only its own releases and decisions",
                writer.name
            ));
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct Range {
    start: u64,
    #[serde(default = "default_count")]
    count: u64,
}

fn default_count() -> u64 {
    MAX_ENTRIES_PER_PAGE
}

async fn entries(
    State(h): Shared,
    Query(range): Query<Range>,
) -> Result<Json<EntriesAnswer>, ProblemResponse> {
    blocking(move || {
        let list = h
            .log()
            .entries(range.start, range.count.min(MAX_ENTRIES_PER_PAGE))
            .map_err(store_problem)?;
        Ok(Json(EntriesAnswer {
            start: range.start,
            entries: list.into_iter().map(EntryBytes).collect(),
        }))
    })
    .await
}

async fn entry(
    State(h): Shared,
    Path(index): Path<u64>,
) -> Result<Json<EntryBytes>, ProblemResponse> {
    blocking(move || {
        h.log()
            .entry(index)
            .map_err(store_problem)?
            .map(|e| Json(EntryBytes(e)))
            .ok_or_else(|| {
                problem(
                    "no-such-entry",
                    StatusCode::NOT_FOUND,
                    format!("the log has no entry {index}"),
                )
            })
    })
    .await
}

async fn checkpoint(State(h): Shared) -> Json<CheckpointAnswer> {
    Json(CheckpointAnswer {
        checkpoint: h.log().checkpoint().1,
    })
}

async fn key(State(h): Shared) -> Json<KeyAnswer> {
    Json(KeyAnswer {
        verifier_key: h.log().verifier_key().to_string(),
    })
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: u64,
}

fn proof_answer(proof: Vec<[u8; 32]>) -> Json<ProofAnswer> {
    Json(ProofAnswer {
        proof: proof.into_iter().map(ProofHash).collect(),
    })
}

async fn inclusion(
    State(h): Shared,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<ProofAnswer>, ProblemResponse> {
    blocking(move || {
        h.log()
            .inclusion_proof(q.index, q.size)
            .map(proof_answer)
            .map_err(store_problem)
    })
    .await
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

async fn consistency(
    State(h): Shared,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<ProofAnswer>, ProblemResponse> {
    blocking(move || {
        h.log()
            .consistency_proof(q.from, q.to)
            .map(proof_answer)
            .map_err(store_problem)
    })
    .await
}
