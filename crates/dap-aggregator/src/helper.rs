//! The helper (DAP-18 §4.5.2, §4.6.3): answers the leader's aggregation jobs synchronously and
//! hands over its aggregate share of a batch, sealed to the collector, exactly once.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rusqlite::{OptionalExtension, params};
use sealroom_dap::messages::{
    AggregateShare, AggregateShareReq, AggregationJobContinueReq, AggregationJobInitReq,
    AggregationJobResp, Batch, BatchId, BatchMode, DapMessage, LEADER_SELECTED_BATCH_ID,
    ReportError, Role, TaskId, VerifyResp, VerifyResult, decode_all, encode,
};
use sealroom_dap::problem::DapProblem;
use sealroom_dap::vdaf::DapVdaf;
use sealroom_dap::with_prio3;

use crate::error::DapError;
use crate::http::{
    Aggregator, blocking, bytes_response, check_token, decode_body, hpke_config, now,
    parse_task_id, request_hash, with_location,
};
use crate::prepare::{
    BucketDeltas, helper_step, newly_aggregated, open_input_share, parallel_map, read_bucket,
    read_interval,
};
use crate::store::{interval_bounds, interval_collected, sql_time, time_bucket};
use crate::task::AggregatorTask;

/// The helper's routes.
pub fn router(aggregator: Aggregator) -> axum::Router {
    axum::Router::new()
        .route("/hpke_config", get(hpke_config))
        .route("/tasks/{task}/aggregation_jobs", post(init_job))
        .route(
            "/tasks/{task}/aggregation_jobs/{job}",
            get(get_job).post(continue_job).delete(delete_job),
        )
        .route("/tasks/{task}/aggregate_shares", post(create_share))
        .route(
            "/tasks/{task}/aggregate_shares/{share}",
            get(get_share).delete(delete_share),
        )
        .with_state(aggregator)
}

/// A resource id derived from the request: a repeated request names the same resource.
fn derived_id(task_id: &TaskId, body: &[u8]) -> [u8; 16] {
    let mut input = task_id.0.to_vec();
    input.extend_from_slice(body);
    let hash = crate::http::request_hash(&input);
    hash[..16].try_into().expect("16 of 32 bytes")
}

fn id_text(id: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn parse_id(text: &str) -> Result<Vec<u8>, DapError> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| DapError::NotFound(format!("{text:?} is not a resource id")))
}

fn helper_task(
    aggregator: &Aggregator,
    task: &str,
    headers: &HeaderMap,
) -> Result<AggregatorTask, DapError> {
    let task_id = parse_task_id(task)?;
    let task = aggregator.task(&task_id, Role::Helper)?;
    check_token(headers, &task.aggregator_auth_token)?;
    Ok(task)
}

async fn init_job(
    State(aggregator): State<Aggregator>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        let request: AggregationJobInitReq = decode_body(&headers, &body, Some(task.task_id))?;
        create_once::<AggregationJobResp>(
            &task,
            &body,
            "aggregation_jobs",
            |id| stored(&aggregator, Answers::Jobs, &task.task_id, id),
            |id| {
                let bucket = check_init(&task, &request)?;
                let vdaf = task.vdaf().map_err(DapError::internal)?;
                with_prio3!(&vdaf, v => run_job(v, &aggregator, &task, &request, &body, id, bucket))
            },
        )
    })
    .await
}

/// Creates a resource whose id derives from its request, or, for a repeated request, answers
/// with what the first one created (DAP-18 §3.2): `stored` finds an answer by id, `create`
/// makes one.
fn create_once<T: DapMessage>(
    task: &AggregatorTask,
    body: &[u8],
    collection: &str,
    stored: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, DapError>,
    create: impl FnOnce(&[u8]) -> Result<Vec<u8>, DapError>,
) -> Result<Response, DapError> {
    let id = derived_id(&task.task_id, body);
    let response = match stored(&id)? {
        Some(response) => response,
        None => create(&id)?,
    };
    Ok(with_location(
        bytes_response::<T>(StatusCode::CREATED, response),
        &format!("/tasks/{}/{collection}/{}", task.task_id, id_text(&id)),
    ))
}

/// The helper's stored answers, by resource kind.
#[derive(Clone, Copy)]
enum Answers {
    /// Aggregation jobs (`helper_jobs`).
    Jobs,
    /// Aggregate shares (`aggregate_shares`).
    Shares,
}

/// The stored answer to the resource `id`, if there is one.
fn stored(
    aggregator: &Aggregator,
    kind: Answers,
    task_id: &TaskId,
    id: &[u8],
) -> Result<Option<Vec<u8>>, DapError> {
    let sql = match kind {
        Answers::Jobs => "SELECT response FROM helper_jobs WHERE task_id = ?1 AND job_id = ?2",
        Answers::Shares => {
            "SELECT response FROM aggregate_shares WHERE task_id = ?1 AND share_id = ?2"
        }
    };
    Ok(aggregator
        .store
        .lock()
        .query_row(sql, params![task_id.0, id], |r| r.get(0))
        .optional()?)
}

/// Checks the job as a whole (§4.5.2.2); returns the leader-selected batch id, if any.
fn check_init(
    task: &AggregatorTask,
    request: &AggregationJobInitReq,
) -> Result<Option<BatchId>, DapError> {
    let id = Some(task.task_id);
    let invalid = |detail: &str| DapError::dap(DapProblem::InvalidMessage, id, detail);
    if request.verification_key_id != 0 {
        return Err(invalid("this task has one verification key, id 0"));
    }
    if !request.agg_param.is_empty() {
        return Err(DapError::dap(
            DapProblem::InvalidAggregationParameter,
            id,
            "Prio3's aggregation parameter is empty",
        ));
    }
    request
        .extensions
        .check_order()
        .map_err(|e| DapError::message(id, e))?;
    let known: &[u16] = match task.configuration.batch_mode {
        BatchMode::LeaderSelected => &[LEADER_SELECTED_BATCH_ID],
        _ => &[],
    };
    let unknown = request.extensions.unknown(known);
    if !unknown.is_empty() {
        return Err(DapError::dap(
            DapProblem::UnsupportedExtension,
            id,
            format!("unsupported aggregation job extensions {unknown:?}"),
        ));
    }
    let mut ids: Vec<_> = request
        .verify_inits
        .iter()
        .map(|v| v.report_share.report_metadata.report_id)
        .collect();
    ids.sort_unstable();
    if ids.windows(2).any(|w| w[0] == w[1]) {
        return Err(invalid("a report id appears twice in the job"));
    }
    match task.configuration.batch_mode {
        BatchMode::LeaderSelected => {
            let data = request
                .extensions
                .get(LEADER_SELECTED_BATCH_ID)
                .ok_or_else(|| invalid("a leader-selected job names its batch id"))?;
            Ok(Some(
                decode_all::<BatchId>(data, "BatchID").map_err(|e| DapError::message(id, e))?,
            ))
        }
        _ => Ok(None),
    }
}

fn run_job<V: DapVdaf>(
    vdaf: &V,
    aggregator: &Aggregator,
    task: &AggregatorTask,
    request: &AggregationJobInitReq,
    body: &[u8],
    job_id: &[u8],
    batch: Option<BatchId>,
) -> Result<Vec<u8>, DapError> {
    let now = now();
    let prepared: Vec<_> = parallel_map(&request.verify_inits, |init| {
        let share = &init.report_share;
        let (public, input) = open_input_share(
            vdaf,
            task,
            &aggregator.keys,
            &share.report_metadata,
            &share.public_share,
            &share.encrypted_input_share,
            now,
        )?;
        helper_step(
            vdaf,
            task,
            &share.report_metadata.report_id,
            &public,
            &input,
            &init.payload,
        )
    });

    let mut conn = aggregator.store.lock();
    let tx = conn.transaction()?;
    // A concurrent identical request may have answered while this one computed.
    if let Some(response) = tx
        .query_row(
            "SELECT response FROM helper_jobs WHERE task_id = ?1 AND job_id = ?2",
            params![task.task_id.0, job_id],
            |r| r.get(0),
        )
        .optional()?
    {
        return Ok(response);
    }
    let mut deltas = BucketDeltas::default();
    let mut verify_resps = Vec::with_capacity(prepared.len());
    for (init, outcome) in request.verify_inits.iter().zip(prepared) {
        let metadata = &init.report_share.report_metadata;
        let time = metadata.time.0;
        let result = outcome.and_then(|(output, message)| {
            let (bucket, bucket_time) = match batch {
                Some(id) => (id.0.to_vec(), None),
                None => (time_bucket(time), Some(time)),
            };
            let collected = match batch {
                Some(_) => bucket_collected(&tx, &task.task_id, &bucket)
                    .map_err(|_| ReportError::ReportDropped)?,
                None => {
                    let t = sql_time(time).map_err(|_| ReportError::InvalidMessage)?;
                    interval_collected(&tx, &task.task_id, t, t + 1)
                        .map_err(|_| ReportError::ReportDropped)?
                }
            };
            if collected {
                return Err(ReportError::BatchCollected);
            }
            if !newly_aggregated(&tx, &task.task_id, &metadata.report_id)
                .map_err(|_| ReportError::ReportDropped)?
            {
                return Err(ReportError::ReportReplayed);
            }
            deltas
                .add(
                    vdaf,
                    &bucket,
                    bucket_time,
                    &metadata.report_id,
                    time,
                    &output,
                )
                .map_err(|_| ReportError::ReportDropped)?;
            Ok(message)
        });
        verify_resps.push(VerifyResp {
            report_id: metadata.report_id,
            result: match result {
                Ok(message) => VerifyResult::Continue(message),
                Err(error) => VerifyResult::Reject(error),
            },
        });
    }
    deltas.commit(&tx, vdaf, &task.task_id)?;
    let response = encode(&AggregationJobResp { verify_resps }, "AggregationJobResp")
        .map_err(DapError::internal)?;
    tx.execute(
        "INSERT INTO helper_jobs (task_id, job_id, request_hash, response) VALUES (?1, ?2, ?3, ?4)",
        params![task.task_id.0, job_id, request_hash(body), response],
    )?;
    tx.commit()?;
    Ok(response)
}

fn bucket_collected(
    conn: &rusqlite::Connection,
    task_id: &TaskId,
    bucket: &[u8],
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM buckets WHERE task_id = ?1 AND bucket = ?2 AND collected = 1)",
    )?
    .query_row(params![task_id.0, bucket], |r| r.get(0))
}

async fn get_job(
    State(aggregator): State<Aggregator>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        let job_id = parse_id(&job)?;
        match stored(&aggregator, Answers::Jobs, &task.task_id, &job_id)? {
            Some(response) => Ok(bytes_response::<AggregationJobResp>(
                StatusCode::OK,
                response,
            )),
            None => Err(unknown_job(&task, &job)),
        }
    })
    .await
}

fn unknown_job(task: &AggregatorTask, job: &str) -> DapError {
    DapError::dap(
        DapProblem::UnrecognizedAggregationJob,
        Some(task.task_id),
        format!("no aggregation job {job}"),
    )
}

/// Prio3 verifies in one round trip: every job is finished once initialized, so a continuation
/// is at a step the job never reaches.
async fn continue_job(
    State(aggregator): State<Aggregator>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        let request: AggregationJobContinueReq = decode_body(&headers, &body, Some(task.task_id))?;
        let job_id = parse_id(&job)?;
        if stored(&aggregator, Answers::Jobs, &task.task_id, &job_id)?.is_none() {
            return Err(unknown_job(&task, &job));
        }
        Err(DapError::dap(
            DapProblem::StepMismatch,
            Some(task.task_id),
            format!(
                "the job finished at step 0 (Prio3 takes one round trip); step {} is past it",
                request.step
            ),
        ))
    })
    .await
}

async fn delete_job(
    State(aggregator): State<Aggregator>,
    Path((task, job)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        let job_id = parse_id(&job)?;
        // Replay and collection state stay: only the job's record is marked.
        let changed = aggregator.store.lock().execute(
            "UPDATE helper_jobs SET deleted = 1 WHERE task_id = ?1 AND job_id = ?2",
            params![task.task_id.0, job_id],
        )?;
        if changed == 0 {
            return Err(unknown_job(&task, &job));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}

async fn create_share(
    State(aggregator): State<Aggregator>,
    Path(task): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        let request: AggregateShareReq = decode_body(&headers, &body, Some(task.task_id))?;
        create_once::<AggregateShare>(
            &task,
            &body,
            "aggregate_shares",
            |id| stored(&aggregator, Answers::Shares, &task.task_id, id),
            |id| {
                let vdaf = task.vdaf().map_err(DapError::internal)?;
                with_prio3!(&vdaf, v => aggregate_share(v, &aggregator, &task, &request, &body, id))
            },
        )
    })
    .await
}

/// Checks a collection job request's mode, aggregation parameter and extensions, as both
/// aggregators do (§4.6.1, §4.6.3).
pub(crate) fn check_collection_request(
    task: &AggregatorTask,
    request: &sealroom_dap::messages::CollectionJobReq,
    role: Role,
) -> Result<(), DapError> {
    let id = Some(task.task_id);
    let mode = match request.query.0 {
        Batch::TimeInterval(_) => BatchMode::TimeInterval,
        Batch::LeaderSelected(_) => BatchMode::LeaderSelected,
    };
    if mode != task.configuration.batch_mode {
        return Err(DapError::dap(
            DapProblem::InvalidMessage,
            id,
            format!(
                "the query's batch mode is {mode:?}, the task's {:?}",
                task.configuration.batch_mode
            ),
        ));
    }
    if !request.agg_param.is_empty() {
        // The leader validates the collector's parameter; the helper checks it matches the one
        // its aggregation jobs used (§4.6.1, §4.6.3).
        let problem = match role {
            Role::Leader => DapProblem::InvalidAggregationParameter,
            _ => DapProblem::InvalidMessage,
        };
        return Err(DapError::dap(
            problem,
            id,
            "Prio3's aggregation parameter is empty",
        ));
    }
    if let Err(e) = request.extensions.check_order() {
        return Err(DapError::dap(
            DapProblem::InvalidExtension,
            id,
            e.to_string(),
        ));
    }
    if !request.extensions.0.is_empty() {
        return Err(DapError::dap(
            DapProblem::UnsupportedExtension,
            id,
            format!(
                "unsupported collection job extensions {:?}",
                request.extensions.unknown(&[])
            ),
        ));
    }
    if let Batch::TimeInterval(interval) = request.query.0
        && (interval.duration.0 == 0 || interval_bounds(&interval).is_none())
    {
        return Err(DapError::dap(
            DapProblem::BatchInvalid,
            id,
            "a batch interval lasts at least one time unit and ends before 2^63",
        ));
    }
    Ok(())
}

fn aggregate_share<V: DapVdaf>(
    vdaf: &V,
    aggregator: &Aggregator,
    task: &AggregatorTask,
    request: &AggregateShareReq,
    body: &[u8],
    share_id: &[u8],
) -> Result<Vec<u8>, DapError> {
    let id = Some(task.task_id);
    check_collection_request(task, &request.collection_job_req, Role::Helper)?;
    let mut conn = aggregator.store.lock();
    let tx = conn.transaction()?;
    let total = match (request.collection_job_req.query.0, request.batch_selector.0) {
        (Batch::TimeInterval(query), Batch::TimeInterval(selected)) => {
            let (query_start, query_end) = interval_bounds(&query).expect("checked above");
            let Some((start, end)) = interval_bounds(&selected) else {
                return Err(DapError::dap(
                    DapProblem::BatchInvalid,
                    id,
                    "the batch interval overflows",
                ));
            };
            if selected.duration.0 == 0 {
                return Err(DapError::dap(
                    DapProblem::BatchInvalid,
                    id,
                    "an empty batch interval",
                ));
            }
            if start < query_start || end > query_end {
                return Err(DapError::dap(
                    DapProblem::InvalidMessage,
                    id,
                    "the batch selector's interval lies outside the query's",
                ));
            }
            if interval_collected(&tx, &task.task_id, start, end)? {
                return Err(DapError::dap(
                    DapProblem::BatchOverlap,
                    id,
                    "part of this interval was already collected",
                ));
            }
            tx.execute(
                "INSERT INTO collected_intervals (task_id, start, end) VALUES (?1, ?2, ?3)",
                params![task.task_id.0, start, end],
            )?;
            read_interval(&tx, vdaf, &task.task_id, start, end)?
        }
        (Batch::LeaderSelected(None), Batch::LeaderSelected(Some(batch_id))) => {
            if bucket_collected(&tx, &task.task_id, &batch_id.0)? {
                return Err(DapError::dap(
                    DapProblem::BatchOverlap,
                    id,
                    format!("batch {batch_id} was already collected"),
                ));
            }
            let total = read_bucket(&tx, vdaf, &task.task_id, &batch_id.0)?.ok_or_else(|| {
                DapError::dap(
                    DapProblem::BatchInvalid,
                    id,
                    format!("no batch {batch_id} was aggregated"),
                )
            })?;
            tx.execute(
                "UPDATE buckets SET collected = 1 WHERE task_id = ?1 AND bucket = ?2",
                params![task.task_id.0, batch_id.0],
            )?;
            total
        }
        _ => {
            return Err(DapError::dap(
                DapProblem::InvalidMessage,
                id,
                "the batch selector is not of the query's batch mode",
            ));
        }
    };
    total.check_min_size(task)?;
    if total.count != request.report_count || total.checksum != request.checksum {
        return Err(DapError::dap(
            DapProblem::BatchMismatch,
            id,
            "the leader's report count or checksum for this batch differs from the helper's",
        ));
    }
    let sealed = total.seal_share(task, &request.collection_job_req, Role::Helper)?;
    let response = encode(
        &AggregateShare {
            encrypted_aggregate_share: sealed,
        },
        "AggregateShare",
    )
    .map_err(DapError::internal)?;
    tx.execute(
        "INSERT INTO aggregate_shares (task_id, share_id, request_hash, response)
         VALUES (?1, ?2, ?3, ?4)",
        params![task.task_id.0, share_id, request_hash(body), response],
    )?;
    tx.commit()?;
    Ok(response)
}

async fn get_share(
    State(aggregator): State<Aggregator>,
    Path((task, share)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        match stored(
            &aggregator,
            Answers::Shares,
            &task.task_id,
            &parse_id(&share)?,
        )? {
            Some(response) => Ok(bytes_response::<AggregateShare>(StatusCode::OK, response)),
            None => Err(DapError::NotFound(format!("no aggregate share {share}"))),
        }
    })
    .await
}

async fn delete_share(
    State(aggregator): State<Aggregator>,
    Path((task, share)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, DapError> {
    blocking(move || {
        let task = helper_task(&aggregator, &task, &headers)?;
        // The batch stays collected; the sealed share is only the leader's to fetch again.
        let changed = aggregator.store.lock().execute(
            "DELETE FROM aggregate_shares WHERE task_id = ?1 AND share_id = ?2",
            params![task.task_id.0, parse_id(&share)?],
        )?;
        if changed == 0 {
            return Err(DapError::NotFound(format!("no aggregate share {share}")));
        }
        Ok(StatusCode::NO_CONTENT.into_response())
    })
    .await
}
