//! The public view of the transparency log, served by the host under `/log` to anyone,
//! without signing in.
//!
//! | page | shows |
//! |---|---|
//! | `GET /log` | the latest checkpoint (as `sealroom log checkpoint` prints it), the verifier key, and the entries, newest first, with their kinds decoded |
//! | `GET /log/entries/{index}` | one entry in full, with its inclusion proof in the latest checkpoint |
//! | `GET /log/entries/{index}/proof.json` | the same as a logged-entry file, for `sealroom log verify --entry` |
//! | `GET /log/consistency?from=&to=[&root=]` | a consistency proof between two tree sizes, checked against the root a reader saw at `from` (or the log's own) |
//!
//! Nothing here trusts the page: the proofs shown are the log's own, and the commands shown
//! check them against the key a reader pinned.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, Query, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sealroom_core::log::{LoggedEntry, ProofHash};
use sealroom_host::Host;
use sealroom_ledger::{LogEntry, Statement, leaf_hash, verify_consistency, verify_inclusion};
use serde::Deserialize;

use crate::page::{self, Chrome, Fact, NavLink, PageError, render, short, time};

/// Entries per page.
pub const PAGE_SIZE: u64 = 50;

/// The public log's routes, over `host`'s log.
pub fn router(host: Arc<Host>) -> Router {
    Router::new()
        .route("/log", get(entries))
        .route("/log/style.css", get(|| async { page::stylesheet() }))
        .route("/log/entries/{index}", get(entry))
        .route("/log/entries/{index}/proof.json", get(entry_file))
        .route("/log/consistency", get(consistency))
        .layer(axum::middleware::from_fn(protect))
        .with_state(host)
}

type Shared = State<Arc<Host>>;

async fn protect(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    page::protect(&mut response);
    response
}

fn chrome(title: impl Into<String>, current: &'static str) -> Chrome {
    Chrome {
        title: title.into(),
        stylesheet: "/log/style.css",
        home: "/log",
        who: "public transparency log".into(),
        nav: [("/log", "Entries"), ("/log/consistency", "Consistency")]
            .into_iter()
            .map(|(href, label)| NavLink {
                href,
                label,
                current: href == current,
            })
            .collect(),
        sign_out: None,
        banners: Vec::new(),
    }
}

async fn blocking(
    current: &'static str,
    f: impl FnOnce() -> Result<Response, PageError> + Send + 'static,
) -> Response {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => page::error_page(chrome("", current), error),
        Err(e) => page::error_page(chrome("", current), PageError::internal(e)),
    }
}

/// One entry as a list shows it.
pub struct EntryRow {
    /// Its index.
    pub index: u64,
    /// Its kind.
    pub kind: &'static str,
    /// What it says, in a line.
    pub summary: String,
}

/// The first 16 characters of a hex digest (all of it if shorter or not ASCII).
fn prefix(digest: &str) -> &str {
    digest.get(..16).unwrap_or(digest)
}

/// An entry's kind and a one-line summary of what it states.
pub fn describe(bytes: &[u8]) -> (&'static str, String) {
    let Ok(entry) = LogEntry::from_bytes(bytes) else {
        return ("unreadable", "an entry this version cannot read".into());
    };
    let kind = entry.statement.kind();
    let summary = match &entry.statement {
        Statement::AgreementSigned {
            agreement,
            signatures,
        } => format!(
            "agreement {} signed by {}",
            short(agreement),
            signatures
                .iter()
                .map(|s| s.party.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Statement::RuntimePublished {
            platform,
            measurement,
            programs,
        } => format!(
            "the host runs {platform} runtime {} with {}",
            short(measurement),
            programs.join(", ")
        ),
        Statement::Decision { decision } => {
            let s = &decision.statement;
            format!(
                "owner {} {} {} runtime {} for agreement {}",
                short(&s.owner),
                match s.decision {
                    sealroom_core::statement::Decision::Approve => "approved",
                    sealroom_core::statement::Decision::Revoke => "revoked",
                },
                s.platform,
                short(&s.measurement),
                short(&s.agreement)
            )
        }
        Statement::ProgramPublished { publication } => {
            let p = &publication.publication;
            format!(
                "provider {} published Wasm program {} (module {}, {} bytes, documentation {}{})",
                short(&p.provider),
                p.name,
                prefix(&p.module),
                p.size,
                prefix(&p.documentation),
                p.source
                    .as_deref()
                    .map(|s| format!(", source {}", prefix(s)))
                    .unwrap_or_default()
            )
        }
        Statement::KeyRelease(r) => format!(
            "{} released the key of {} for job {} of agreement {} (started by {}) to {} runtime {}",
            r.owner,
            r.dataset,
            short(&r.job),
            short(&r.agreement),
            r.requested_by,
            r.platform,
            short(&r.measurement)
        ),
        Statement::JobFinished {
            job,
            agreement,
            outputs,
            at,
            ..
        } => format!(
            "job {} of agreement {} stored {} output(s) at {}",
            short(job),
            short(agreement),
            outputs.len(),
            time(*at)
        ),
    };
    (kind, summary)
}

#[derive(Template)]
#[template(path = "log_entries.html")]
struct EntriesPage {
    chrome: Chrome,
    checkpoint: String,
    size: u64,
    root: String,
    key: String,
    rows: Vec<EntryRow>,
    page: u64,
    pages: u64,
    previous: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    page: u64,
}

async fn entries(State(host): Shared, Query(query): Query<PageQuery>) -> Response {
    blocking("/log", move || {
        let log = host.log();
        let (size, checkpoint) = log.checkpoint();
        let pages = size.div_ceil(PAGE_SIZE).max(1);
        let page = query.page.min(pages - 1);
        // Newest first: page 0 ends at the last entry.
        let end = size.saturating_sub(page * PAGE_SIZE);
        let start = end.saturating_sub(PAGE_SIZE);
        let mut rows: Vec<EntryRow> = log
            .entries(start, end - start)?
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let (kind, summary) = describe(bytes);
                EntryRow {
                    index: start + i as u64,
                    kind,
                    summary,
                }
            })
            .collect();
        rows.reverse();
        let (previous, next) = page::pager("/log?", "page", page, pages);
        let key = log.verifier_key();
        let root = key.verify_checkpoint(&checkpoint)?.root;
        Ok(render(
            StatusCode::OK,
            &EntriesPage {
                chrome: chrome("Transparency log", "/log"),
                root: hex::encode(root),
                checkpoint,
                size,
                key: key.to_string(),
                rows,
                page: page + 1,
                pages,
                previous,
                next,
            },
        ))
    })
    .await
}

#[derive(Template)]
#[template(path = "log_entry.html")]
struct EntryPage {
    chrome: Chrome,
    index: u64,
    kind: &'static str,
    summary: String,
    facts: Vec<Fact>,
    statement: String,
    size: u64,
    proof: Vec<String>,
    verified: Result<(), String>,
    key: String,
}

/// Entry `index` with its inclusion proof in the latest checkpoint.
fn logged_entry(host: &Host, index: u64) -> Result<LoggedEntry, PageError> {
    let log = host.log();
    let (size, checkpoint) = log.checkpoint();
    let entry = log.entry(index)?.filter(|_| index < size).ok_or_else(|| {
        PageError::not_found(format!("the log has no entry {index}: it holds {size}"))
    })?;
    let proof = log.inclusion_proof(index, size)?;
    Ok(LoggedEntry {
        index,
        entry,
        checkpoint,
        inclusion_proof: proof.into_iter().map(ProofHash).collect(),
    })
}

async fn entry(State(host): Shared, Path(index): Path<u64>) -> Response {
    blocking("/log", move || {
        let logged = logged_entry(&host, index)?;
        let log = host.log();
        let key = log.verifier_key();
        let checkpoint = key.verify_checkpoint(&logged.checkpoint)?;
        let verified = verify_inclusion(
            &leaf_hash(&logged.entry).0,
            index,
            checkpoint.size,
            &checkpoint.root,
            &logged
                .inclusion_proof
                .iter()
                .map(|h| h.0)
                .collect::<Vec<_>>(),
        )
        .map_err(|e| e.to_string());
        let (kind, summary) = describe(&logged.entry);
        let parsed = LogEntry::from_bytes(&logged.entry).ok();
        let facts = vec![
            Fact::new("leaf hash", hex::encode(leaf_hash(&logged.entry).0)),
            Fact::new(
                "written by (key)",
                parsed
                    .as_ref()
                    .map(|e| sealroom_core::bytes::encode(&e.writer.0))
                    .unwrap_or_default(),
            ),
            Fact::new("bytes", logged.entry.len().to_string()),
        ];
        let statement = parsed
            .and_then(|e| serde_json::to_string_pretty(&e.statement).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&logged.entry).into_owned());
        Ok(render(
            StatusCode::OK,
            &EntryPage {
                chrome: chrome(format!("Entry {index}"), "/log"),
                index,
                kind,
                summary,
                facts,
                statement,
                size: checkpoint.size,
                proof: logged
                    .inclusion_proof
                    .iter()
                    .map(|h| hex::encode(h.0))
                    .collect(),
                verified,
                key: key.to_string(),
            },
        ))
    })
    .await
}

async fn entry_file(State(host): Shared, Path(index): Path<u64>) -> Response {
    match tokio::task::spawn_blocking(move || logged_entry(&host, index)).await {
        Ok(Ok(logged)) => {
            let mut response = Json(logged).into_response();
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"entry-{index}.json\""))
            {
                response.headers_mut().insert(CONTENT_DISPOSITION, v);
            }
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Ok(Err(error)) => page::error_page(chrome("", "/log"), error),
        Err(e) => page::error_page(chrome("", "/log"), PageError::internal(e)),
    }
}

#[derive(Template)]
#[template(path = "log_consistency.html")]
struct ConsistencyPage {
    chrome: Chrome,
    size: u64,
    from: u64,
    to: u64,
    checked: Option<Checked>,
}

/// A consistency proof between two sizes, and whether it verified.
struct Checked {
    yours: bool,
    old_root: String,
    new_root: String,
    proof: Vec<String>,
    verified: Result<(), String>,
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: Option<u64>,
    to: Option<u64>,
    /// The root of the tree of `from` entries as the reader saw it (hex), to check the log
    /// against the reader's own view rather than its own.
    root: Option<String>,
}

async fn consistency(State(host): Shared, Query(query): Query<ConsistencyQuery>) -> Response {
    blocking("/log/consistency", move || {
        let log = host.log();
        let (size, _) = log.checkpoint();
        let to = query.to.unwrap_or(size);
        let from = query.from.unwrap_or(1.min(size));
        let checked = match (query.from, query.to) {
            (None, None) => None,
            _ => {
                if from == 0 || from > to || to > size {
                    return Err(PageError::bad_request(format!(
                        "sizes must satisfy 1 ≤ from ≤ to ≤ {size} (the log's size); got from {from}, to {to}"
                    )));
                }
                let old_root = match query.root.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                    Some(hex_root) => {
                        let mut root = [0u8; 32];
                        hex::decode_to_slice(hex_root, &mut root).map_err(|_| {
                            PageError::bad_request(format!(
                                "{hex_root:?} is not a root hash (64 hex digits)"
                            ))
                        })?;
                        root
                    }
                    None => log.root(from)?,
                };
                let new_root = log.root(to)?;
                let proof = if from == to {
                    Vec::new()
                } else {
                    log.consistency_proof(from, to)?
                };
                let verified = verify_consistency(from, to, &old_root, &new_root, &proof)
                    .map_err(|e| e.to_string());
                Some(Checked {
                    yours: query.root.as_deref().is_some_and(|r| !r.trim().is_empty()),
                    old_root: hex::encode(old_root),
                    new_root: hex::encode(new_root),
                    proof: proof.iter().map(hex::encode).collect(),
                    verified,
                })
            }
        };
        Ok(render(
            StatusCode::OK,
            &ConsistencyPage {
                chrome: chrome("Consistency", "/log/consistency"),
                size,
                from,
                to,
                checked,
            },
        ))
    })
    .await
}
