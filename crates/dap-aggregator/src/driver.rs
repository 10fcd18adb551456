//! The leader's driver: one thread that turns waiting reports into aggregation jobs with the
//! helper (DAP-18 §4.5.2) and waiting collection jobs into results (§4.6), one step at a time.
//!
//! Being the only writer of jobs, it needs no locks beyond the store's transactions: a job's
//! reports are claimed, and its request stored, in one transaction before anything is sent;
//! the helper's answer is committed in one transaction with the reports marked done. A leader
//! killed in between re-sends the stored request byte for byte on restart, and the helper
//! answers a repeated request with its stored answer, so nothing is counted twice or lost.
//! Collections wait until their task has no report left to aggregate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{OptionalExtension, params};
use sealroom_dap::messages::{
    AggregateShare, AggregateShareReq, AggregationJobInitReq, AggregationJobResp, Batch, BatchId,
    BatchMode, BatchSelector, CollectionJobReq, CollectionJobResp, Duration as DapDuration,
    Extension, Extensions, Interval, LEADER_SELECTED_BATCH_ID, Report, ReportId, ReportShare, Role,
    Time, VerifyInit, VerifyResult, decode_all, encode,
};
use sealroom_dap::problem::DapProblem;
use sealroom_dap::transport::{Answer, DapClient, TransportError, resource_url};
use sealroom_dap::vdaf::DapVdaf;
use sealroom_dap::with_prio3;

use crate::error::DapError;
use crate::http::{Aggregator, now};
use crate::prepare::{
    BatchTotal, BucketDeltas, leader_finish, leader_start, open_input_share, parallel_map,
    read_bucket, read_interval,
};
use crate::store::{
    CollectionState, ReportState, interval_bounds, interval_collected, sql_time, time_bucket,
};
use crate::task::AggregatorTask;

/// The most reports in one aggregation job.
pub const MAX_JOB_SIZE: usize = 2000;

/// How long the driver sleeps when there is nothing to do and nobody wakes it.
const IDLE: Duration = Duration::from_millis(500);

/// A running driver; stops (and waits for its thread) when dropped.
pub struct Driver {
    stop: Arc<AtomicBool>,
    aggregator: Aggregator,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.aggregator.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the leader's driver on its own thread.
pub fn start(aggregator: Aggregator) -> Driver {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = std::thread::Builder::new()
        .name("dap-leader-driver".into())
        .spawn({
            let (aggregator, stop) = (aggregator.clone(), stop.clone());
            move || run(&aggregator, &stop)
        })
        .expect("a thread starts");
    Driver {
        stop,
        aggregator,
        thread: Some(thread),
    }
}

fn run(aggregator: &Aggregator, stop: &AtomicBool) {
    let http = DapClient::new(Duration::from_secs(300));
    let mut backoff = Duration::from_millis(100);
    while !stop.load(Ordering::SeqCst) {
        // A panic (a bug) must not leave the service up with nobody aggregating.
        let stepped =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(aggregator, &http)))
                .unwrap_or_else(|_| Err(DapError::internal("the driver panicked").into()));
        match stepped {
            Ok(true) => backoff = Duration::from_millis(100),
            Ok(false) => aggregator.wake.wait(IDLE),
            Err(error) => {
                tracing::warn!("leader driver: {error}; retrying in {backoff:?}");
                aggregator.wake.wait(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Why a step stopped.
#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Store(#[from] DapError),
    #[error("the helper is unreachable or failing: {0}")]
    Transient(TransportError),
}

impl From<rusqlite::Error> for StepError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Does one unit of work; `Ok(false)` when there was none.
/// Every task gets one aggregation step, then one collection job runs if its batch is ready:
/// uploads, however many, never hold collections back beyond their own batch.
fn step(aggregator: &Aggregator, http: &DapClient) -> Result<bool, StepError> {
    let tasks = aggregator.store.tasks()?;
    let mut worked = false;
    for task in tasks.iter().filter(|t| t.role == Role::Leader) {
        let vdaf = task.vdaf().map_err(DapError::internal)?;
        worked |= with_prio3!(&vdaf, v => aggregate_step(v, aggregator, http, task))?;
    }
    Ok(collect_step(aggregator, http, &tasks)? || worked)
}

/// Drives the task's running aggregation job, or starts one from waiting reports.
fn aggregate_step<V: DapVdaf>(
    vdaf: &V,
    aggregator: &Aggregator,
    http: &DapClient,
    task: &AggregatorTask,
) -> Result<bool, StepError> {
    let running: Option<Vec<u8>> = aggregator
        .store
        .lock()
        .query_row(
            "SELECT job_id FROM leader_jobs WHERE task_id = ?1 AND state = 0 ORDER BY rowid LIMIT 1",
            [task.task_id.0],
            |r| r.get(0),
        )
        .optional()?;
    let job_id = match running {
        Some(job_id) => job_id,
        None => match start_job(vdaf, aggregator, task)? {
            Some(Claimed::Job(job_id)) => job_id,
            Some(Claimed::OnlyRejected) => return Ok(true),
            None => return Ok(false),
        },
    };
    // While the helper verifies this job, claim and prepare the next one, so that both
    // aggregators work at once. A leader-selected batch is chosen from committed counts, so
    // there the next job waits for this one.
    let pipelined = task.configuration.batch_mode == BatchMode::TimeInterval;
    std::thread::scope(|scope| {
        let finishing = scope.spawn(|| finish_job(vdaf, aggregator, http, task, &job_id));
        let next = if pipelined {
            start_job(vdaf, aggregator, task).map(|_| ())
        } else {
            Ok(())
        };
        let finished = finishing.join().unwrap_or_else(|_| {
            Err(DapError::internal("an aggregation job's thread panicked").into())
        });
        finished.and(next.map_err(StepError::from))
    })?;
    Ok(true)
}

/// The leader-selected batch a new job fills, and how many more reports it takes.
fn current_batch(
    conn: &rusqlite::Connection,
    task: &AggregatorTask,
) -> Result<(BatchId, usize), DapError> {
    let target = task.configuration.min_batch_size;
    let open: Option<(Vec<u8>, i64)> = conn
        .query_row(
            "SELECT bucket, report_count FROM buckets
             WHERE task_id = ?1 AND bucket_time IS NULL AND collected = 0 AND report_count < ?2
             ORDER BY rowid DESC LIMIT 1",
            params![task.task_id.0, sql_time(target)?],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (id, count) = match open {
        Some((bucket, count)) => (
            BatchId(
                bucket
                    .try_into()
                    .map_err(|_| DapError::internal("a batch id of the wrong size"))?,
            ),
            count as u64,
        ),
        None => {
            let mut id = [0u8; 32];
            getrandom::fill(&mut id).map_err(DapError::internal)?;
            (BatchId(id), 0)
        }
    };
    let room = usize::try_from(target - count).unwrap_or(MAX_JOB_SIZE);
    Ok((id, room.clamp(1, MAX_JOB_SIZE)))
}

/// Claims waiting reports into a new job, storing its request; `None` if none are waiting.
fn start_job<V: DapVdaf>(
    vdaf: &V,
    aggregator: &Aggregator,
    task: &AggregatorTask,
) -> Result<Option<Claimed>, DapError> {
    let (batch, limit) = match task.configuration.batch_mode {
        BatchMode::LeaderSelected => {
            let (id, room) = current_batch(&aggregator.store.lock(), task)?;
            (Some(id), room)
        }
        _ => (None, MAX_JOB_SIZE),
    };
    let waiting: Vec<(Vec<u8>, Vec<u8>)> = {
        let conn = aggregator.store.lock();
        let mut statement = conn.prepare(
            "SELECT report_id, report FROM reports WHERE task_id = ?1 AND state = ?2
             ORDER BY time LIMIT ?3",
        )?;
        let rows = statement.query_map(
            params![task.task_id.0, ReportState::Waiting as i64, limit as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        rows.collect::<Result<_, _>>()?
    };
    if waiting.is_empty() {
        return Ok(None);
    }
    let now = now();
    let mut inits = Vec::new();
    let mut states = Vec::new();
    let mut rejected = Vec::new();
    // Decoding and the collected-batch check need the store; the cryptography runs on every core.
    let mut candidates = Vec::new();
    for (report_id, bytes) in &waiting {
        let report: Report = match decode_all(bytes, "Report") {
            Ok(report) => report,
            Err(_) => {
                rejected.push(report_id.clone());
                continue;
            }
        };
        let collected = batch.is_none() && {
            let t = sql_time(report.report_metadata.time.0)?;
            interval_collected(&aggregator.store.lock(), &task.task_id, t, t + 1)?
        };
        if collected {
            rejected.push(report_id.clone());
        } else {
            candidates.push(report);
        }
    }
    let started = parallel_map(&candidates, |report| {
        let metadata = &report.report_metadata;
        open_input_share(
            vdaf,
            task,
            &aggregator.keys,
            metadata,
            &report.public_share,
            &report.leader_encrypted_input_share,
            now,
        )
        .and_then(|(public, input)| leader_start(vdaf, task, &metadata.report_id, &public, &input))
        .ok()
    });
    for (report, started) in candidates.into_iter().zip(started) {
        let metadata = report.report_metadata;
        match started {
            Some((state, message)) => {
                states.push((metadata.report_id, metadata.time.0, state));
                inits.push(VerifyInit {
                    report_share: ReportShare {
                        report_metadata: metadata,
                        public_share: report.public_share,
                        encrypted_input_share: report.helper_encrypted_input_share,
                    },
                    payload: message,
                });
            }
            None => rejected.push(metadata.report_id.0.to_vec()),
        }
    }
    let extensions = Extensions(
        batch
            .iter()
            .map(|id| Extension {
                extension_type: LEADER_SELECTED_BATCH_ID,
                extension_data: id.0.to_vec(),
            })
            .collect(),
    );
    let request = encode(
        &AggregationJobInitReq {
            verification_key_id: 0,
            agg_param: Vec::new(),
            extensions,
            verify_inits: inits,
        },
        "AggregationJobInitReq",
    )
    .map_err(DapError::internal)?;
    let mut job_id = [0u8; 16];
    getrandom::fill(&mut job_id).map_err(DapError::internal)?;

    let mut conn = aggregator.store.lock();
    let tx = conn.transaction()?;
    for report_id in &rejected {
        mark_done(&tx, &task.task_id, report_id)?;
    }
    if !states.is_empty() {
        tx.execute(
            "INSERT INTO leader_jobs (task_id, job_id, bucket, request, state) VALUES (?1, ?2, ?3, ?4, 0)",
            params![task.task_id.0, job_id, batch.map(|b| b.0.to_vec()), request],
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO leader_job_reports (task_id, job_id, ord, report_id, time, verify_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        let mut claim = tx.prepare_cached(
            "UPDATE reports SET state = ?3 WHERE task_id = ?1 AND report_id = ?2 AND state = 0",
        )?;
        for (ord, (report_id, time, state)) in states.iter().enumerate() {
            insert.execute(params![
                task.task_id.0,
                job_id,
                ord as i64,
                report_id.0,
                sql_time(*time)?,
                state
            ])?;
            let claimed = claim.execute(params![
                task.task_id.0,
                report_id.0,
                ReportState::InJob as i64
            ])?;
            if claimed != 1 {
                // Another driver on this store claimed it: give up this job (nothing is kept).
                return Err(DapError::internal(
                    "a report was claimed by another aggregation job; is a second leader running on this store?",
                ));
            }
        }
    }
    tx.commit()?;
    if !rejected.is_empty() {
        tracing::info!(
            "task {}: {} reports rejected before aggregation",
            task.task_id,
            rejected.len()
        );
    }
    // A job whose every report was rejected is not sent; the reports are done.
    Ok(Some(if states.is_empty() {
        Claimed::OnlyRejected
    } else {
        Claimed::Job(job_id.to_vec())
    }))
}

/// What claiming waiting reports produced.
enum Claimed {
    /// Every claimed report was rejected before aggregation.
    OnlyRejected,
    /// A job to send.
    Job(Vec<u8>),
}

/// Whether the helper refused a request for good (one of the draft's errors about the request,
/// or an answer that cannot be read). Anything else (unreachable, a 5xx, a proxy's or an
/// authentication error, a task the helper does not have yet) may pass: the stored request is
/// sent again later, byte for byte, and no report is dropped for it.
fn refused_for_good(error: &TransportError) -> bool {
    match error {
        TransportError::Problem {
            problem: Some(problem),
            status,
            ..
        } => *problem != DapProblem::UnrecognizedTask && (400..500).contains(status),
        TransportError::BadAnswer { .. } => true,
        TransportError::Problem { .. }
        | TransportError::Status { .. }
        | TransportError::Unreachable { .. } => false,
    }
}

/// Marks a report done and erases its shares, keeping its id against replays.
fn mark_done(
    conn: &rusqlite::Connection,
    task_id: &sealroom_dap::messages::TaskId,
    report_id: &[u8],
) -> rusqlite::Result<usize> {
    conn.prepare_cached(
        "UPDATE reports SET state = ?3, report = x'' WHERE task_id = ?1 AND report_id = ?2",
    )?
    .execute(params![task_id.0, report_id, ReportState::Done as i64])
}

/// Sends a polled request until the helper's answer carries a body.
fn until_ready(
    http: &DapClient,
    first: Answer,
    poll_url: impl Fn(&Answer) -> Option<String>,
    token: &str,
) -> Result<Answer, TransportError> {
    let mut answer = first;
    let mut polls = 0u32;
    while answer.body.is_empty() {
        let Some(url) = poll_url(&answer) else {
            return Err(TransportError::BadAnswer {
                url: String::new(),
                reason: "an empty answer without a Location to poll".into(),
            });
        };
        let wait = answer
            .retry_after
            .unwrap_or(Duration::from_millis(200))
            .min(Duration::from_secs(5));
        std::thread::sleep(wait);
        polls += 1;
        if polls > 10_000 {
            return Err(TransportError::BadAnswer {
                url,
                reason: "still not ready after 10,000 polls".into(),
            });
        }
        answer = http.get(&url, Some(token))?;
    }
    Ok(answer)
}

/// Sends a job's stored request to the helper and commits the outcome.
fn finish_job<V: DapVdaf>(
    vdaf: &V,
    aggregator: &Aggregator,
    http: &DapClient,
    task: &AggregatorTask,
    job_id: &[u8],
) -> Result<(), StepError> {
    let (bucket, request): (Option<Vec<u8>>, Vec<u8>) = aggregator.store.lock().query_row(
        "SELECT bucket, request FROM leader_jobs WHERE task_id = ?1 AND job_id = ?2",
        params![task.task_id.0, job_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let reports: Vec<(Vec<u8>, i64, Vec<u8>)> = {
        let conn = aggregator.store.lock();
        let mut statement = conn.prepare(
            "SELECT report_id, time, verify_state FROM leader_job_reports
             WHERE task_id = ?1 AND job_id = ?2 ORDER BY ord",
        )?;
        let rows = statement.query_map(params![task.task_id.0, job_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let endpoint = &task.configuration.helper_aggregator_endpoint;
    let jobs_url = resource_url(
        endpoint,
        &format!("tasks/{}/aggregation_jobs", task.task_id),
    );
    let token = &task.aggregator_auth_token;
    let sent = http
        .post::<AggregationJobInitReq>(&jobs_url, &request, Some(token))
        .and_then(|answer| {
            until_ready(
                http,
                answer,
                |a| a.location_id().map(|id| format!("{jobs_url}/{id}?step=0")),
                token,
            )
        });
    let answer = match sent {
        Ok(answer) => answer,
        Err(error) if !refused_for_good(&error) => return Err(StepError::Transient(error)),
        Err(error) => {
            abandon(aggregator, task, job_id, &reports, &error.to_string())?;
            return Ok(());
        }
    };
    let response: AggregationJobResp = match decode_all(&answer.body, "AggregationJobResp") {
        Ok(response) => response,
        Err(error) => {
            abandon(aggregator, task, job_id, &reports, &error.to_string())?;
            return Ok(());
        }
    };
    let ids_match = response.verify_resps.len() == reports.len()
        && response
            .verify_resps
            .iter()
            .zip(&reports)
            .all(|(resp, (id, _, _))| resp.report_id.0.as_slice() == id.as_slice());
    if !ids_match {
        abandon(
            aggregator,
            task,
            job_id,
            &reports,
            "the helper answered for other reports",
        )?;
        return Ok(());
    }
    // Prio3 takes one round trip: "finish" at this step is a message the leader's state
    // cannot take, and the draft has the leader abandon the job (§4.5.2.1).
    if response
        .verify_resps
        .iter()
        .any(|r| r.result == VerifyResult::Finish)
    {
        abandon(
            aggregator,
            task,
            job_id,
            &reports,
            "the helper answered \"finish\" where Prio3 continues",
        )?;
        return Ok(());
    }
    let pairs: Vec<_> = response.verify_resps.iter().zip(&reports).collect();
    let outputs = parallel_map(&pairs, |(resp, (_, _, state))| match &resp.result {
        VerifyResult::Continue(message) => leader_finish(vdaf, task, state, message).ok(),
        VerifyResult::Finish | VerifyResult::Reject(_) => None,
    });
    let mut deltas = BucketDeltas::default();
    let mut rejected = 0usize;
    for (output, (id, time, _)) in outputs.into_iter().zip(&reports) {
        let time = *time as u64;
        let report_id = ReportId(
            id.as_slice()
                .try_into()
                .map_err(|_| DapError::internal("a report id of the wrong size"))?,
        );
        match output {
            Some(output) => {
                let (key, bucket_time) = match &bucket {
                    Some(batch) => (batch.clone(), None),
                    None => (time_bucket(time), Some(time)),
                };
                deltas.add(vdaf, &key, bucket_time, &report_id, time, &output)?;
            }
            None => rejected += 1,
        }
    }
    let mut conn = aggregator.store.lock();
    let tx = conn.transaction()?;
    deltas.commit(&tx, vdaf, &task.task_id)?;
    for (id, _, _) in &reports {
        mark_done(&tx, &task.task_id, id)?;
    }
    tx.execute(
        "UPDATE leader_jobs SET state = 1, request = x'' WHERE task_id = ?1 AND job_id = ?2",
        params![task.task_id.0, job_id],
    )?;
    tx.execute(
        "DELETE FROM leader_job_reports WHERE task_id = ?1 AND job_id = ?2",
        params![task.task_id.0, job_id],
    )?;
    tx.commit()?;
    if rejected > 0 {
        tracing::info!(
            "task {}: {rejected} of {} reports failed verification",
            task.task_id,
            reports.len()
        );
    }
    Ok(())
}

/// Gives up a job the helper refused: its reports are dropped (never counted).
fn abandon(
    aggregator: &Aggregator,
    task: &AggregatorTask,
    job_id: &[u8],
    reports: &[(Vec<u8>, i64, Vec<u8>)],
    why: &str,
) -> Result<(), DapError> {
    tracing::warn!(
        "task {}: abandoning an aggregation job of {} reports: {why}",
        task.task_id,
        reports.len()
    );
    let mut conn = aggregator.store.lock();
    let tx = conn.transaction()?;
    for (id, _, _) in reports {
        mark_done(&tx, &task.task_id, id)?;
    }
    tx.execute(
        "UPDATE leader_jobs SET state = 2 WHERE task_id = ?1 AND job_id = ?2",
        params![task.task_id.0, job_id],
    )?;
    tx.commit()?;
    Ok(())
}

/// A waiting collection job: task id, job id, request, and the newest report when it came.
type WaitingCollection = (Vec<u8>, Vec<u8>, Vec<u8>, i64);

/// Runs the oldest waiting collection job whose task has nothing left to aggregate.
fn collect_step(
    aggregator: &Aggregator,
    http: &DapClient,
    tasks: &[AggregatorTask],
) -> Result<bool, StepError> {
    let waiting: Vec<WaitingCollection> = {
        let conn = aggregator.store.lock();
        let mut statement = conn.prepare(
            "SELECT task_id, job_id, request, last_report FROM collection_jobs WHERE state = ?1
             ORDER BY created",
        )?;
        let rows = statement.query_map([CollectionState::Waiting as i64], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    for (task_id, job_id, request, last_report) in waiting {
        let Some(task) = tasks
            .iter()
            .find(|t| t.task_id.0.as_slice() == task_id.as_slice())
        else {
            continue;
        };
        let request: CollectionJobReq =
            decode_all(&request, "CollectionJobReq").map_err(DapError::internal)?;
        if batch_still_aggregating(aggregator, task, &request, last_report)? {
            continue;
        }
        let vdaf = task.vdaf().map_err(DapError::internal)?;
        let outcome =
            with_prio3!(&vdaf, v => collect(v, aggregator, http, task, &job_id, &request));
        match outcome {
            Ok(()) => {}
            Err(StepError::Store(DapError::Dap {
                problem, detail, ..
            })) => fail_collection(aggregator, task, &job_id, problem, &detail)?,
            Err(other) => return Err(other),
        }
        return Ok(true);
    }
    Ok(false)
}

/// Whether reports that may belong to the collection's batch, uploaded before the collector
/// asked (up to the report `last_report`), are still waiting or in a job (§4.6.1: the leader
/// completes overlapping aggregation first). For time_interval, reports in the queried
/// interval; for leader_selected, any such report while no batch is full. Reports uploaded
/// later never hold a collection back, however many arrive.
fn batch_still_aggregating(
    aggregator: &Aggregator,
    task: &AggregatorTask,
    request: &CollectionJobReq,
    last_report: i64,
) -> Result<bool, DapError> {
    let conn = aggregator.store.lock();
    Ok(match request.query.0 {
        Batch::TimeInterval(interval) => {
            let Some((start, end)) = interval_bounds(&interval) else {
                return Ok(false);
            };
            conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM reports WHERE task_id = ?1 AND state IN (0, 1)
                                AND time >= ?2 AND time < ?3 AND rowid <= ?4)",
                params![task.task_id.0, start, end, last_report],
                |r| r.get(0),
            )?
        }
        Batch::LeaderSelected(_) => {
            let full: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM buckets WHERE task_id = ?1 AND bucket_time IS NULL
                                AND collected = 0 AND report_count >= ?2)",
                params![task.task_id.0, sql_time(task.configuration.min_batch_size)?],
                |r| r.get(0),
            )?;
            !full
                && conn.query_row(
                    "SELECT EXISTS (SELECT 1 FROM reports WHERE task_id = ?1 AND state IN (0, 1)
                                    AND rowid <= ?2)",
                    params![task.task_id.0, last_report],
                    |r| r.get(0),
                )?
        }
    })
}

fn fail_collection(
    aggregator: &Aggregator,
    task: &AggregatorTask,
    job_id: &[u8],
    problem: DapProblem,
    detail: &str,
) -> Result<(), DapError> {
    aggregator.store.lock().execute(
        "UPDATE collection_jobs SET state = ?3, problem = ?4, detail = ?5
         WHERE task_id = ?1 AND job_id = ?2",
        params![
            task.task_id.0,
            job_id,
            CollectionState::Failed as i64,
            problem.urn(),
            detail
        ],
    )?;
    Ok(())
}

/// The batch a collection job selects: its selector, total and how to mark it collected.
struct SelectedBatch<V: DapVdaf> {
    selector: BatchSelector,
    total: BatchTotal<V>,
}

fn select_batch<V: DapVdaf>(
    vdaf: &V,
    conn: &rusqlite::Connection,
    task: &AggregatorTask,
    request: &CollectionJobReq,
) -> Result<SelectedBatch<V>, DapError> {
    let id = Some(task.task_id);
    match request.query.0 {
        Batch::TimeInterval(interval) => {
            let (start, end) = interval_bounds(&interval).ok_or_else(|| {
                DapError::dap(DapProblem::BatchInvalid, id, "the interval overflows")
            })?;
            if interval_collected(conn, &task.task_id, start, end)? {
                return Err(DapError::dap(
                    DapProblem::BatchOverlap,
                    id,
                    "part of this interval was already collected",
                ));
            }
            Ok(SelectedBatch {
                selector: BatchSelector(Batch::TimeInterval(interval)),
                total: read_interval(conn, vdaf, &task.task_id, start, end)?,
            })
        }
        Batch::LeaderSelected(_) => {
            let ready: Option<Vec<u8>> = conn
                .query_row(
                    "SELECT bucket FROM buckets WHERE task_id = ?1 AND bucket_time IS NULL
                     AND collected = 0 AND report_count >= ?2 ORDER BY rowid LIMIT 1",
                    params![task.task_id.0, sql_time(task.configuration.min_batch_size)?],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(bucket) = ready else {
                return Err(DapError::dap(
                    DapProblem::InvalidBatchSize,
                    id,
                    format!(
                        "no uncollected batch holds the task's minimum of {} reports",
                        task.configuration.min_batch_size
                    ),
                ));
            };
            let total = read_bucket(conn, vdaf, &task.task_id, &bucket)?
                .ok_or_else(|| DapError::internal("a selected batch vanished"))?;
            let batch_id = BatchId(
                bucket
                    .try_into()
                    .map_err(|_| DapError::internal("a batch id of the wrong size"))?,
            );
            Ok(SelectedBatch {
                selector: BatchSelector(Batch::LeaderSelected(Some(batch_id))),
                total,
            })
        }
    }
}

fn collect<V: DapVdaf>(
    vdaf: &V,
    aggregator: &Aggregator,
    http: &DapClient,
    task: &AggregatorTask,
    job_id: &[u8],
    request: &CollectionJobReq,
) -> Result<(), StepError> {
    let id = Some(task.task_id);
    let batch = select_batch(vdaf, &aggregator.store.lock(), task, request)?;
    let total = &batch.total;
    total.check_min_size(task)?;
    let share_request = encode(
        &AggregateShareReq {
            collection_job_req: request.clone(),
            batch_selector: batch.selector,
            report_count: total.count,
            checksum: total.checksum,
        },
        "AggregateShareReq",
    )
    .map_err(DapError::internal)?;
    let endpoint = &task.configuration.helper_aggregator_endpoint;
    let shares_url = resource_url(
        endpoint,
        &format!("tasks/{}/aggregate_shares", task.task_id),
    );
    let token = &task.aggregator_auth_token;
    let sent = http
        .post::<AggregateShareReq>(&shares_url, &share_request, Some(token))
        .and_then(|answer| {
            until_ready(
                http,
                answer,
                |a| a.location_id().map(|share| format!("{shares_url}/{share}")),
                token,
            )
        });
    let answer = match sent {
        Ok(answer) => answer,
        Err(error) if !refused_for_good(&error) => return Err(StepError::Transient(error)),
        Err(error) => {
            let problem = error.problem().unwrap_or(DapProblem::BatchMismatch);
            return Err(DapError::dap(problem, id, format!("the helper refused: {error}")).into());
        }
    };
    let helper_share: AggregateShare = decode_all(&answer.body, "AggregateShare").map_err(|e| {
        DapError::dap(
            DapProblem::BatchMismatch,
            id,
            format!("the helper's aggregate share is unreadable: {e}"),
        )
    })?;
    let leader_sealed = total.seal_share(task, request, Role::Leader)?;
    let (min, max) = total.times.unwrap_or((0, 0));
    let response = encode(
        &CollectionJobResp {
            report_count: total.count,
            interval: Interval {
                start: Time(min),
                duration: DapDuration(max - min + 1),
            },
            leader_encrypted_agg_share: leader_sealed,
            helper_encrypted_agg_share: helper_share.encrypted_aggregate_share,
        },
        "CollectionJobResp",
    )
    .map_err(DapError::internal)?;

    let mut conn = aggregator.store.lock();
    let tx = conn.transaction()?;
    match batch.selector.0 {
        Batch::TimeInterval(interval) => {
            let (start, end) = interval_bounds(&interval).expect("checked");
            tx.execute(
                "INSERT INTO collected_intervals (task_id, start, end) VALUES (?1, ?2, ?3)",
                params![task.task_id.0, start, end],
            )?;
        }
        Batch::LeaderSelected(batch_id) => {
            tx.execute(
                "UPDATE buckets SET collected = 1 WHERE task_id = ?1 AND bucket = ?2",
                params![task.task_id.0, batch_id.map(|b| b.0.to_vec())],
            )?;
        }
    }
    // A job the collector deleted meanwhile stays deleted (its batch is collected all the same).
    tx.execute(
        "UPDATE collection_jobs SET state = ?3, response = ?4
         WHERE task_id = ?1 AND job_id = ?2 AND state = 0",
        params![
            task.task_id.0,
            job_id,
            CollectionState::Ready as i64,
            response
        ],
    )?;
    tx.commit()?;
    Ok(())
}
