//! Jobs: admitting a party's signed run request, the queue of isolates, and reading results.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_core::output::OutputBundle;
use sealroom_core::run::SignedRunRequest;
use sealroom_core::wire::{JobFailure, JobInput, JobOutcome, JobSpec};
use sealroom_ledger::Statement;
use serde::Deserialize;
use tokio::sync::{Semaphore, watch};

use crate::api::{Host, Shared, parse_id};
use crate::jobs::JobRecord;
use crate::refusal::HostRefusal;
use sealroom_service::SignedRequest;

/// The longest a `GET /v1/jobs/{id}?wait=` waits, in seconds.
pub const MAX_WAIT_SECONDS: u64 = 60;

/// How many jobs a host runs and keeps waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// Isolates that run at once; further jobs wait in the queue.
    pub max_isolates: usize,
    /// Jobs that wait or run at once over all agreements; more run requests are refused.
    pub max_queued_jobs: usize,
    /// Jobs of one agreement that wait or run at once; more are refused.
    pub max_jobs_per_agreement: usize,
}

impl JobLimits {
    /// One isolate per core, 64 jobs in all, 8 per agreement.
    pub fn for_this_machine() -> Self {
        Self {
            max_isolates: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queued_jobs: 64,
            max_jobs_per_agreement: 8,
        }
    }
}

/// Isolate slots, the admission lock and the signal that a job ended.
pub(crate) struct JobQueue {
    isolates: Arc<Semaphore>,
    max_queued: u64,
    max_per_agreement: u64,
    /// Held while a run request is checked against the caps and queued, so that concurrent
    /// requests cannot both take the last place.
    admission: Mutex<()>,
    ended: watch::Sender<u64>,
}

impl JobQueue {
    pub(crate) fn new(limits: &JobLimits) -> Self {
        Self {
            isolates: Arc::new(Semaphore::new(limits.max_isolates.max(1))),
            max_queued: limits.max_queued_jobs.max(1) as u64,
            max_per_agreement: limits.max_jobs_per_agreement.max(1) as u64,
            admission: Mutex::new(()),
            ended: watch::channel(0).0,
        }
    }
}

/// Ends a job when its task ends: if its outcome was not stored, it is marked failed; either way
/// waiting readers are woken.
struct EndsTheJob {
    host: Arc<Host>,
    job_id: JobId,
    stored: bool,
}

impl Drop for EndsTheJob {
    fn drop(&mut self) {
        if !self.stored {
            let failure = JobFailure {
                code: "host-failed".into(),
                dataset: None,
                refusal: None,
                message: "the host could not store this job's outcome; its operator's log says why"
                    .into(),
            };
            if let Err(e) = self
                .host
                .store
                .fail_job(&self.job_id, &failure, self.host.clock.now())
            {
                tracing::error!(job = %self.job_id, "cannot mark the job failed: {e}");
            }
        }
        self.host.queue.ended.send_modify(|n| *n += 1);
    }
}

impl Host {
    /// Checks a party's run request and queues its job; the job runs when an isolate is free.
    pub async fn request_job(
        self: &Arc<Self>,
        request: &SignedRunRequest,
    ) -> Result<JobRecord, HostRefusal> {
        let agreement = self.stored_agreement(&request.request.agreement)?;
        let now = self.clock.now();
        agreement
            .check_in_force(now)
            .map_err(HostRefusal::AgreementNotInForce)?;
        request
            .check(&agreement, now)
            .map_err(HostRefusal::RunRequest)?;
        if let Some(requester) = agreement.agreement.party(&request.request.requested_by) {
            self.check_served(requester)?;
        }
        let job_id = request.job_id().map_err(HostRefusal::internal)?;
        let mut inputs = Vec::new();
        for d in &agreement.agreement.datasets {
            let blob = self
                .store
                .dataset(&agreement.id, &d.owner, &d.name)
                .map_err(HostRefusal::internal)?
                .ok_or_else(|| HostRefusal::DatasetMissing(d.qualified_name()))?;
            inputs.push(JobInput {
                owner: d.owner.clone(),
                dataset: d.name.clone(),
                path: blob.path.to_string_lossy().into(),
            });
        }
        let module = match &agreement.agreement.program {
            p if p.id == sealroom_programs::wasm::ID => {
                let params =
                    <sealroom_programs::wasm::WasmParams as sealroom_programs::Params>::check(
                        &p.params,
                        &agreement.agreement.datasets,
                    )
                    .map_err(HostRefusal::InvalidAgreement)?;
                Some(self.module_for_job(&params.module)?)
            }
            _ => None,
        };
        self.admit(&agreement, &job_id, request)?;
        tracing::info!(job = %job_id, by = request.request.requested_by, "job queued");
        let spec = JobSpec {
            job_id,
            agreement,
            run_request: request.clone(),
            inputs,
            module,
        };
        let host = self.clone();
        tokio::spawn(async move { host.run_queued(spec).await });
        self.store
            .job(&job_id)
            .map_err(HostRefusal::internal)?
            .ok_or_else(|| HostRefusal::internal("a queued job vanished"))
    }

    /// Applies the daily cap and the queue limits, then queues the job.
    fn admit(
        &self,
        agreement: &SignedAgreement,
        job_id: &JobId,
        request: &SignedRunRequest,
    ) -> Result<(), HostRefusal> {
        let _admission = self
            .queue
            .admission
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now();
        if let Some(max) = agreement.agreement.runs.max_runs_per_day {
            let today = self
                .store
                .jobs_since(&agreement.id, now.plus_seconds(-86_400))
                .map_err(HostRefusal::internal)?;
            if today >= u64::from(max) {
                return Err(HostRefusal::RunCapReached(today));
            }
        }
        let (mine, all) = self
            .store
            .pending_jobs(&agreement.id)
            .map_err(HostRefusal::internal)?;
        if mine >= self.queue.max_per_agreement {
            return Err(HostRefusal::TooManyJobs(mine));
        }
        if all >= self.queue.max_queued {
            return Err(HostRefusal::QueueFull(all));
        }
        if !self
            .store
            .queue_job(job_id, request, now)
            .map_err(HostRefusal::internal)?
        {
            return Err(HostRefusal::RunRequestReplayed(*job_id));
        }
        Ok(())
    }

    /// Waits for a free isolate, runs the job in it and stores what it returns. Whatever
    /// happens (a store error, a panic), the job ends: [`EndsTheJob`] marks it failed otherwise.
    async fn run_queued(self: Arc<Self>, spec: JobSpec) {
        let mut guard = EndsTheJob {
            host: self.clone(),
            job_id: spec.job_id,
            stored: false,
        };
        let Ok(_slot) = self.queue.isolates.clone().acquire_owned().await else {
            return;
        };
        if let Err(e) = self.store.start_job(&spec.job_id) {
            tracing::error!(job = %spec.job_id, "cannot mark the job running: {e}");
        }
        tracing::info!(job = %spec.job_id, "starting isolate");
        let outcome = self.launcher.run(&spec).await;
        match self.store_outcome(spec.job_id, outcome).await {
            Ok(()) => guard.stored = true,
            Err(e) => tracing::error!(job = %spec.job_id, "cannot store the job's outcome: {e}"),
        }
    }

    async fn store_outcome(
        self: &Arc<Self>,
        job_id: JobId,
        outcome: JobOutcome,
    ) -> Result<(), HostRefusal> {
        let finished_at = self.clock.now();
        match outcome {
            JobOutcome::Finished { receipt, outputs }
                if receipt.receipt.job_id == job_id
                    && outputs.iter().all(|o| o.job_id == job_id) =>
            {
                self.store
                    .finish_job(&job_id, &receipt, &outputs, finished_at)
                    .map_err(HostRefusal::internal)?;
                let receipt_digest = sealroom_core::canonical::canonical_digest(
                    sealroom_core::labels::RECEIPT,
                    receipt.as_ref(),
                )
                .map_err(HostRefusal::internal)?;
                self.log_statement_async(Statement::JobFinished {
                    job: job_id,
                    agreement: receipt.receipt.agreement_id,
                    receipt: receipt_digest,
                    outputs: receipt.receipt.outputs.clone(),
                    at: finished_at,
                })
                .await?;
            }
            JobOutcome::Finished { .. } => {
                let failure = JobFailure {
                    code: "isolate-misbehaved".into(),
                    dataset: None,
                    refusal: None,
                    message: "the isolate returned outputs for another job".into(),
                };
                self.store
                    .fail_job(&job_id, &failure, finished_at)
                    .map_err(HostRefusal::internal)?;
            }
            JobOutcome::Failed { error } => {
                tracing::warn!(job = %job_id, code = error.code, "job failed: {}", error.message);
                self.store
                    .fail_job(&job_id, &error, finished_at)
                    .map_err(HostRefusal::internal)?;
            }
        }
        Ok(())
    }

    /// A job's record once it has ended, or as it stands after `wait`.
    pub async fn wait_for_job(
        &self,
        job_id: &JobId,
        wait: Duration,
    ) -> Result<Option<JobRecord>, HostRefusal> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut ended = self.queue.ended.subscribe();
        loop {
            let record = self.store.job(job_id).map_err(HostRefusal::internal)?;
            match &record {
                Some(r) if !r.status.has_ended() => {}
                _ => return Ok(record),
            }
            match tokio::time::timeout_at(deadline, ended.changed()).await {
                Ok(Ok(())) => {}
                _ => return Ok(record),
            }
        }
    }

    /// A job's record and its agreement, for a request signed by one of the agreement's parties.
    async fn job_for_party(
        &self,
        id: &str,
        request: &SignedRequest,
        wait: Duration,
    ) -> Result<(JobRecord, SignedAgreement, String), HostRefusal> {
        let job_id: JobId = parse_id(id)?;
        let unknown = || HostRefusal::JobUnknown(job_id);
        // Check who asks before waiting, so that outsiders cannot hold connections open.
        let record = self
            .store
            .job(&job_id)
            .map_err(HostRefusal::internal)?
            .ok_or_else(unknown)?;
        let agreement = self.stored_agreement(&record.agreement_id)?;
        let party = self.signing_party(request, &agreement)?.name.clone();
        let record = self
            .wait_for_job(&job_id, wait)
            .await?
            .ok_or_else(unknown)?;
        Ok((record, agreement, party))
    }
}

pub(crate) async fn request_job(
    State(h): Shared,
    Json(request): Json<SignedRunRequest>,
) -> Result<(StatusCode, Json<JobRecord>), HostRefusal> {
    h.request_job(&request)
        .await
        .map(|record| (StatusCode::ACCEPTED, Json(record)))
}

#[derive(Deserialize)]
pub(crate) struct WaitQuery {
    #[serde(default)]
    wait: u64,
}

pub(crate) async fn job(
    State(h): Shared,
    Path(id): Path<String>,
    Query(query): Query<WaitQuery>,
    request: SignedRequest,
) -> Result<Json<JobRecord>, HostRefusal> {
    let wait = Duration::from_secs(query.wait.min(MAX_WAIT_SECONDS));
    h.job_for_party(&id, &request, wait)
        .await
        .map(|(record, _, _)| Json(record))
}

pub(crate) async fn jobs_of(
    State(h): Shared,
    Path(id): Path<String>,
    request: SignedRequest,
) -> Result<Json<Vec<JobRecord>>, HostRefusal> {
    let id: AgreementId = parse_id(&id)?;
    let agreement = h.stored_agreement(&id)?;
    h.signing_party(&request, &agreement)?;
    let mut records = Vec::new();
    for job in h.store.jobs_of(&id, 100).map_err(HostRefusal::internal)? {
        records.extend(h.store.job(&job).map_err(HostRefusal::internal)?);
    }
    Ok(Json(records))
}

pub(crate) async fn outputs(
    State(h): Shared,
    Path((id, reader)): Path<(String, String)>,
    request: SignedRequest,
) -> Result<Json<OutputBundle>, HostRefusal> {
    let (record, _, party) = h.job_for_party(&id, &request, Duration::ZERO).await?;
    if party != reader {
        return Err(HostRefusal::NotTheReader(reader));
    }
    let job_id = record.job_id;
    let receipt = record.receipt.ok_or_else(|| HostRefusal::JobNotFinished {
        job: job_id,
        status: format!("{:?}", record.status).to_lowercase(),
    })?;
    let sealed = h
        .store
        .outputs_for(&job_id, &reader)
        .map_err(HostRefusal::internal)?;
    if sealed.is_empty() {
        return Err(HostRefusal::NoOutputForReader {
            job: job_id,
            reader,
        });
    }
    Ok(Json(OutputBundle { receipt, sealed }))
}
