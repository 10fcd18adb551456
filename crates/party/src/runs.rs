//! What a party allowed to start runs does: sign a run request, send it, and wait for the job.

use std::time::{Duration, Instant};

use sealroom_core::clock::Clock;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_crypto::Identity;
use sealroom_host::client::{HostClient, JOB_WAIT_SECONDS};
use sealroom_host::{JobRecord, JobStatus};

use crate::error::PartyError;

/// How long [`wait_for_job`] waits for a job in all (queue and run).
pub const JOB_DEADLINE: Duration = Duration::from_secs(2 * 3600);

/// As `identity`, signs a run request for `agreement` at `clock`'s time and sends it; the host
/// answers as soon as the job is queued.
pub fn request_run(
    host: &HostClient,
    identity: &Identity,
    agreement: AgreementId,
    clock: &dyn Clock,
) -> Result<JobRecord, PartyError> {
    Ok(host.request_run(&identity.sign_run_request(agreement, clock.now()))?)
}

/// Waits until the job has ended and returns its record; gives up after [`JOB_DEADLINE`].
pub fn wait_for_job(
    host: &HostClient,
    identity: &Identity,
    job: &JobId,
) -> Result<JobRecord, PartyError> {
    let deadline = Instant::now() + JOB_DEADLINE;
    loop {
        let record = host.job_waiting(identity, job, JOB_WAIT_SECONDS)?;
        if record.status.has_ended() {
            return Ok(record);
        }
        if Instant::now() > deadline {
            return Err(PartyError::JobStillRunning {
                job: *job,
                status: format!("{:?}", record.status).to_lowercase(),
                minutes: JOB_DEADLINE.as_secs() / 60,
            });
        }
    }
}

/// As `identity`, requests one run of `agreement` and waits for its end.
pub fn run(
    host: &HostClient,
    identity: &Identity,
    agreement: AgreementId,
    clock: &dyn Clock,
) -> Result<JobRecord, PartyError> {
    let queued = request_run(host, identity, agreement, clock)?;
    wait_for_job(host, identity, &queued.job_id)
}

/// A job that ended without outputs, as an error: its failure code and message.
pub fn failed(record: &JobRecord) -> Option<PartyError> {
    (record.status == JobStatus::Failed).then(|| {
        let e = record.error.as_ref();
        PartyError::JobFailed {
            job: record.job_id,
            code: e.map_or("unknown", |e| e.code.as_str()).into(),
            message: e.map_or("no detail", |e| e.message.as_str()).into(),
        }
    })
}
