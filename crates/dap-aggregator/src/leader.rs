//! The leader's HTTP resources (DAP-18 §4.4.2, §4.6.1): report upload, and collection jobs
//! created by POST (draft 18) or by PUT at a collector-chosen id (earlier tips of draft 18),
//! polled with GET and deleted with DELETE. Aggregation and collection run in the [`driver`].
//!
//! [`driver`]: crate::driver

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::{OptionalExtension, params};
use sealroom_dap::messages::{
    Batch, BatchMode, CollectionJobReq, CollectionJobResp, Report, ReportError, ReportUploadStatus,
    Role, TaskId, UploadErrors, UploadRequest,
};
use sealroom_dap::problem::DapProblem;

use crate::error::DapError;
use crate::helper::check_collection_request;
use crate::http::{
    Aggregator, blocking, bytes_response, check_token, decode_body, hpke_config, message_response,
    now, parse_task_id, request_hash, with_location,
};
use crate::prepare::check_report_time;
use crate::store::{CollectionState, ReportState, interval_bounds, interval_collected, sql_time};
use crate::task::AggregatorTask;

/// The leader's routes.
pub fn router(aggregator: Aggregator) -> axum::Router {
    axum::Router::new()
        .route("/hpke_config", get(hpke_config))
        .route("/tasks/{task}/reports", post(upload))
        .route("/tasks/{task}/collection_jobs", post(create_collection))
        .route(
            "/tasks/{task}/collection_jobs/{job}",
            get(get_collection)
                .put(put_collection)
                .delete(delete_collection),
        )
        .with_state(aggregator)
}

async fn upload(
    State(aggregator): State<Aggregator>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DapError> {
    then_wake(aggregator, move |aggregator| {
        let task_id = parse_task_id(&task)?;
        let request: UploadRequest = decode_body(&headers, &body, Some(task_id))?;
        let task = aggregator.task(&task_id, Role::Leader)?;
        let errors = store_reports(aggregator, &task, request.reports)?;
        if errors.is_empty() {
            Ok(StatusCode::OK.into_response())
        } else {
            message_response(StatusCode::OK, &UploadErrors { status: errors })
        }
    })
    .await
}

/// Runs `work` off the async threads, then wakes the driver: there may be work for it.
async fn then_wake(
    aggregator: Aggregator,
    work: impl FnOnce(&Aggregator) -> Result<Response, DapError> + Send + 'static,
) -> Result<Response, DapError> {
    let response = blocking({
        let aggregator = aggregator.clone();
        move || work(&aggregator)
    })
    .await?;
    aggregator.wake.notify_one();
    Ok(response)
}

/// Checks each report and stores the acceptable ones; returns the others with why.
fn store_reports(
    aggregator: &Aggregator,
    task: &AggregatorTask,
    reports: Vec<Report>,
) -> Result<Vec<ReportUploadStatus>, DapError> {
    let now = now();
    let mut errors = Vec::new();
    // In transactions of a thousand reports, so that a large upload does not hold the store
    // (and the driver) for long.
    for chunk in reports.chunks(1000) {
        let mut conn = aggregator.store.lock();
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO reports (task_id, report_id, time, report, state)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for report in chunk {
                let metadata = &report.report_metadata;
                let verdict = (|| {
                    if !aggregator
                        .keys
                        .iter()
                        .any(|k| k.config.id == report.leader_encrypted_input_share.config_id)
                    {
                        return Err(ReportError::OutdatedConfig);
                    }
                    // Outside the task's interval: dropped, as §4.4.2 asks of the leader at upload.
                    check_report_time(task, metadata.time.0, now).map_err(|e| match e {
                        ReportError::TaskExpired | ReportError::TaskNotStarted => {
                            ReportError::ReportDropped
                        }
                        other => other,
                    })?;
                    if !metadata.public_extensions.0.is_empty() {
                        return Err(ReportError::InvalidMessage);
                    }
                    let time =
                        sql_time(metadata.time.0).map_err(|_| ReportError::InvalidMessage)?;
                    if task.configuration.batch_mode == BatchMode::TimeInterval
                        && interval_collected(&tx, &task.task_id, time, time + 1)
                            .map_err(|_| ReportError::ReportDropped)?
                    {
                        return Err(ReportError::BatchCollected);
                    }
                    let encoded = sealroom_dap::messages::encode(report, "Report")
                        .map_err(|_| ReportError::InvalidMessage)?;
                    let added = insert
                        .execute(params![
                            task.task_id.0,
                            metadata.report_id.0,
                            time,
                            encoded,
                            ReportState::Waiting as i64
                        ])
                        .map_err(|_| ReportError::ReportDropped)?;
                    if added == 0 {
                        return Err(ReportError::ReportReplayed);
                    }
                    Ok(())
                })();
                if let Err(error) = verdict {
                    errors.push(ReportUploadStatus {
                        id: metadata.report_id,
                        error,
                    });
                }
            }
        }
        tx.commit()?;
    }
    Ok(errors)
}

fn collector_task(
    aggregator: &Aggregator,
    task: &str,
    headers: &HeaderMap,
) -> Result<AggregatorTask, DapError> {
    let task_id = parse_task_id(task)?;
    let task = aggregator.task(&task_id, Role::Leader)?;
    check_token(
        headers,
        task.collector_auth_token.as_deref().unwrap_or_default(),
    )?;
    Ok(task)
}

fn job_location(task_id: &TaskId, job_id: &[u8]) -> String {
    format!(
        "/tasks/{task_id}/collection_jobs/{}",
        URL_SAFE_NO_PAD.encode(job_id)
    )
}

fn created(task_id: &TaskId, job_id: &[u8]) -> Response {
    let mut response = with_location(
        StatusCode::CREATED.into_response(),
        &job_location(task_id, job_id),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Validates a collection job request as the leader must before accepting it (§4.6.1).
fn check_new_collection(
    conn: &rusqlite::Connection,
    task: &AggregatorTask,
    request: &CollectionJobReq,
) -> Result<(), DapError> {
    check_collection_request(task, request, Role::Leader)?;
    if let Batch::TimeInterval(interval) = request.query.0 {
        let (start, end) = interval_bounds(&interval).expect("checked");
        if interval_collected(conn, &task.task_id, start, end)? {
            return Err(DapError::dap(
                DapProblem::BatchOverlap,
                Some(task.task_id),
                "part of this interval was already collected",
            ));
        }
    }
    Ok(())
}

fn insert_job(
    conn: &rusqlite::Connection,
    task: &AggregatorTask,
    job_id: &[u8],
    body: &[u8],
) -> Result<(), DapError> {
    conn.execute(
        "INSERT INTO collection_jobs (task_id, job_id, request, request_hash, state, created,
                                      last_report)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, (SELECT COALESCE(MAX(rowid), 0) FROM reports))",
        params![
            task.task_id.0,
            job_id,
            body,
            request_hash(body),
            CollectionState::Waiting as i64,
            sql_time(now())?
        ],
    )?;
    Ok(())
}

async fn create_collection(
    State(aggregator): State<Aggregator>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DapError> {
    then_wake(aggregator, move |aggregator| {
        let task = collector_task(aggregator, &task, &headers)?;
        let request: CollectionJobReq = decode_body(&headers, &body, Some(task.task_id))?;
        // An identical request names the job it created, unless that job failed. A
        // leader-selected query ("the next batch") is the same bytes every time: it names an
        // earlier job while that job is waiting or its result has not been fetched yet, else
        // it asks for the next batch. Looked up and created in one transaction.
        let states = match task.configuration.batch_mode {
            BatchMode::LeaderSelected => "state = 0 OR (state = 1 AND fetched = 0)",
            _ => "state IN (0, 1)",
        };
        let mut conn = aggregator.store.lock();
        let tx = conn.transaction()?;
        let existing: Option<Vec<u8>> = tx
            .query_row(
                &format!(
                    "SELECT job_id FROM collection_jobs
                     WHERE task_id = ?1 AND request_hash = ?2 AND ({states})
                     ORDER BY created DESC LIMIT 1"
                ),
                params![task.task_id.0, request_hash(&body)],
                |r| r.get(0),
            )
            .optional()?;
        let job_id = match existing {
            Some(job_id) => job_id,
            None => {
                check_new_collection(&tx, &task, &request)?;
                let mut job_id = [0u8; 16];
                getrandom::fill(&mut job_id).map_err(DapError::internal)?;
                insert_job(&tx, &task, &job_id, &body)?;
                job_id.to_vec()
            }
        };
        tx.commit()?;
        Ok(created(&task.task_id, &job_id))
    })
    .await
}

async fn put_collection(
    State(aggregator): State<Aggregator>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DapError> {
    then_wake(aggregator, move |aggregator| {
        let task = collector_task(aggregator, &task, &headers)?;
        let job_id = URL_SAFE_NO_PAD
            .decode(&job)
            .ok()
            .filter(|id| id.len() == 16)
            .ok_or_else(|| {
                DapError::dap(
                    DapProblem::InvalidMessage,
                    Some(task.task_id),
                    format!("{job:?} is not a collection job id (16 bytes, URL-safe base64)"),
                )
            })?;
        let request: CollectionJobReq = decode_body(&headers, &body, Some(task.task_id))?;
        let mut conn = aggregator.store.lock();
        let tx = conn.transaction()?;
        let existing: Option<Vec<u8>> = tx
            .query_row(
                "SELECT request_hash FROM collection_jobs WHERE task_id = ?1 AND job_id = ?2",
                params![task.task_id.0, job_id],
                |r| r.get(0),
            )
            .optional()?;
        match existing {
            Some(hash) if hash == request_hash(&body) => {}
            Some(_) => {
                return Err(DapError::Conflict(format!(
                    "collection job {job} exists with another request"
                )));
            }
            None => {
                check_new_collection(&tx, &task, &request)?;
                insert_job(&tx, &task, &job_id, &body)?;
            }
        }
        tx.commit()?;
        Ok(created(&task.task_id, &job_id))
    })
    .await
}

/// A collection job id from a URL segment; one that does not decode names no job.
fn collection_job_id(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).unwrap_or_default()
}

/// A collection job's state, result, and problem type and detail.
type StoredJob = (i64, Option<Vec<u8>>, Option<String>, Option<String>);

async fn get_collection(
    State(aggregator): State<Aggregator>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = collector_task(&aggregator, &task, &headers)?;
        let job_id = collection_job_id(&job);
        let row: Option<StoredJob> = aggregator
            .store
            .lock()
            .query_row(
                "SELECT state, response, problem, detail FROM collection_jobs
                 WHERE task_id = ?1 AND job_id = ?2",
                params![task.task_id.0, job_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let not_found = || DapError::NotFound(format!("no collection job {job}"));
        let (state, response, problem, detail) = row.ok_or_else(not_found)?;
        match state {
            s if s == CollectionState::Waiting as i64 => {
                let mut response = StatusCode::ACCEPTED.into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                Ok(response)
            }
            s if s == CollectionState::Ready as i64 => {
                // A repeated "next batch" request then asks for a new batch.
                aggregator.store.lock().execute(
                    "UPDATE collection_jobs SET fetched = 1 WHERE task_id = ?1 AND job_id = ?2",
                    params![task.task_id.0, job_id],
                )?;
                Ok(bytes_response::<CollectionJobResp>(
                    StatusCode::OK,
                    response.unwrap_or_default(),
                ))
            }
            s if s == CollectionState::Failed as i64 => {
                let detail = detail.unwrap_or_default();
                Err(match problem.as_deref().and_then(DapProblem::from_urn) {
                    Some(problem) => DapError::dap(problem, Some(task.task_id), detail),
                    None => DapError::Internal(detail),
                })
            }
            _ => Err(not_found()),
        }
    })
    .await
}

async fn delete_collection(
    State(aggregator): State<Aggregator>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = collector_task(&aggregator, &task, &headers)?;
        let job_id = collection_job_id(&job);
        // What was collected stays collected: only the job is marked.
        let changed = aggregator.store.lock().execute(
            "UPDATE collection_jobs SET state = ?3, response = NULL WHERE task_id = ?1 AND job_id = ?2",
            params![task.task_id.0, job_id, CollectionState::Deleted as i64],
        )?;
        if changed == 0 {
            return Err(DapError::NotFound(format!("no collection job {job}")));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
