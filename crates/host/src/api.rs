//! The host's HTTP API.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /v1/platform` | the simulator platform key and the measurement of the isolate this host runs |
//! | `PUT /v1/datasets/{owner}/{dataset}` | upload an envelope (streamed; stored only when complete and valid) |
//! | `GET /v1/datasets/{owner}/{dataset}` | size and digest of the stored envelope |
//! | `POST /v1/agreements` | store a signed agreement that is in force |
//! | `GET /v1/agreements/{id}` | a stored agreement |
//! | `POST /v1/jobs` | run an agreement's program in a fresh isolate; answers when it ends |
//! | `GET /v1/jobs/{id}` | a job's record |
//! | `GET /v1/jobs/{id}/outputs/{reader}` | the receipt and the outputs sealed to `reader` |
//! | `/v1/log/...` | the transparency log (see [`crate::log_api`]) |
//!
//! The host logs what it does: the runtime it runs (at start), every agreement it
//! stores, and every finished job.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use sealroom_attest::SimPlatformKey;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::Clock;
use sealroom_core::ids::{JobId, Measurement};
use sealroom_core::output::OutputBundle;
use sealroom_core::party::{SigningPublicKey, is_valid_name};
use sealroom_core::wire::{JobInput, JobOutcome, JobSpec};
use sealroom_service::{ProblemResponse, ServiceError};
use serde::{Deserialize, Serialize};

use sealroom_ledger::{
    AppendError, Appended, CheckedEntry, Log, LogEntry, LogSigningKey, Statement,
};
use sealroom_programs::BuiltinCatalog;

use crate::blobs::{BlobStore, UploadError};
use crate::jobs::{IsolateLauncher, JobRecord, RunJob};
use crate::store::HostStore;

/// How a host is set up.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Database, blobs and the simulator platform key live here.
    pub data_dir: PathBuf,
    /// The `sealroom-isolate` executable to run jobs in.
    pub isolate: PathBuf,
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: u64,
    /// A job running longer is killed.
    pub job_timeout: Duration,
    /// The log's origin line, used only when the log key is first created
    /// (default `localhost/sealroom-log/<random>`).
    pub log_origin: Option<String>,
}

/// A host could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The service could not start.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A file could not be used.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The simulator platform key is unusable.
    #[error(transparent)]
    PlatformKey(#[from] sealroom_attest::AttestError),
    /// The log key is unusable.
    #[error(transparent)]
    LogKey(#[from] sealroom_ledger::CheckpointError),
    /// The log could not be opened or written.
    #[error("transparency log: {0}")]
    Log(String),
}

/// What the host tells parties about its platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformInfo {
    /// The simulator platform key brokers pin to accept simulator evidence (the operator holds it: insecure).
    pub simulator_platform_key: SigningPublicKey,
    /// The measurement of the isolate executable this host runs.
    pub isolate_measurement: Measurement,
    /// The transparency log's verifier key (parties should pin it out of band).
    pub log_key: String,
}

/// A running host's state.
pub struct Host {
    store: HostStore,
    log: Arc<Log>,
    blobs: BlobStore,
    launcher: IsolateLauncher,
    clock: Arc<dyn Clock>,
    platform: PlatformInfo,
    max_upload_bytes: u64,
}

impl Host {
    /// Opens the host's store, creating the data directory and simulator platform key if needed.
    pub fn open(config: &HostConfig, clock: Arc<dyn Clock>) -> Result<Arc<Self>, HostError> {
        let io = |path: &std::path::Path| {
            let path = path.to_path_buf();
            move |source| HostError::Io { path, source }
        };
        std::fs::create_dir_all(&config.data_dir).map_err(io(&config.data_dir))?;
        let key_path = config.data_dir.join("sim-platform.key");
        if !key_path.exists() {
            SimPlatformKey::generate()
                .write(&key_path)
                .map_err(io(&key_path))?;
        }
        let key = SimPlatformKey::read(&key_path)?;
        let isolate_measurement =
            sealroom_attest::measure_file(&config.isolate).map_err(io(&config.isolate))?;
        let blobs_dir = config.data_dir.join("blobs");
        let log_key_path = config.data_dir.join("log.key");
        if !log_key_path.exists() {
            let origin = config.log_origin.clone().unwrap_or_else(|| {
                let tag: [u8; 4] = sealroom_crypto::random::array();
                format!("localhost/sealroom-log/{}", hex::encode(tag))
            });
            LogSigningKey::generate(&origin)?.write(&log_key_path)?;
        }
        let log = Log::open(
            &config.data_dir.join("log.sqlite"),
            LogSigningKey::read(&log_key_path)?,
        )
        .map_err(|e| HostError::Log(e.to_string()))?;
        let log_key = log.verifier_key().to_string();
        let host = Arc::new(Self {
            store: HostStore::open(&config.data_dir.join("host.sqlite"))?,
            log: Arc::new(log),
            blobs: BlobStore::new(&blobs_dir).map_err(io(&blobs_dir))?,
            launcher: IsolateLauncher {
                executable: config.isolate.clone(),
                sim_platform_key: key_path,
                timeout: config.job_timeout,
            },
            clock,
            platform: PlatformInfo {
                simulator_platform_key: key.public(),
                isolate_measurement,
                log_key,
            },
            max_upload_bytes: config.max_upload_bytes,
        });
        let programs = BuiltinCatalog
            .list()
            .iter()
            .map(|p| format!("{}@{}", p.id, p.version))
            .collect();
        host.log_statement(Statement::RuntimePublished {
            platform: sealroom_core::attestation::Platform::Sim,
            measurement: isolate_measurement,
            programs,
        })
        .map_err(|e| HostError::Log(e.to_string()))?;
        Ok(host)
    }

    /// The transparency log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    pub(crate) fn store(&self) -> &HostStore {
        &self.store
    }

    /// Signs `statement` with the log key and appends it; blocks until it is durable.
    pub fn log_statement(&self, statement: Statement) -> Result<Appended, AppendError> {
        let key = self.log.signing_key();
        let entry = LogEntry::sign(statement, key.public(), |label, bytes| {
            key.sign(label, bytes)
        })
        .map_err(|e| {
            AppendError::Entry(sealroom_ledger::entry::EntryError::Malformed(e.to_string()))
        })?;
        self.log.append(CheckedEntry::parse(entry.to_bytes())?)
    }

    async fn log_statement_async(
        self: &Arc<Self>,
        statement: Statement,
    ) -> Result<Appended, ProblemResponse> {
        let host = self.clone();
        tokio::task::spawn_blocking(move || host.log_statement(statement))
            .await
            .map_err(internal)?
            .map_err(internal)
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        Router::new()
            .route("/v1/platform", get(platform))
            .route("/v1/datasets/{owner}/{dataset}", get(dataset).put(upload))
            .route("/v1/agreements", post(put_agreement))
            .route("/v1/agreements/{id}", get(agreement))
            .route("/v1/jobs", post(run_job))
            .route("/v1/jobs/{id}", get(job))
            .route("/v1/jobs/{id}/outputs/{reader}", get(outputs))
            .merge(crate::log_api::router())
            .with_state(self)
    }

    /// Runs a job to its end: checks, a fresh isolate, and storage of what it returns.
    pub async fn run_job(self: &Arc<Self>, request: &RunJob) -> Result<JobRecord, ProblemResponse> {
        let agreement = self
            .store
            .agreement(&request.agreement_id)
            .map_err(internal)?
            .ok_or_else(|| {
                problem(
                    "agreement-unknown",
                    StatusCode::NOT_FOUND,
                    format!(
                        "no agreement {} is stored; POST it to /v1/agreements first",
                        request.agreement_id
                    ),
                )
            })?;
        let now = self.clock.now();
        agreement.check_in_force(now).map_err(|e| {
            problem(
                "agreement-not-in-force",
                StatusCode::UNPROCESSABLE_ENTITY,
                e.to_string(),
            )
        })?;
        let mut inputs = Vec::new();
        for d in &agreement.agreement.datasets {
            let blob = self
                .store
                .dataset(&d.owner, &d.name)
                .map_err(internal)?
                .ok_or_else(|| {
                    problem(
                        "dataset-missing",
                        StatusCode::CONFLICT,
                        format!("dataset {} has not been uploaded", d.qualified_name()),
                    )
                })?;
            inputs.push(JobInput {
                owner: d.owner.clone(),
                dataset: d.name.clone(),
                path: blob.path.to_string_lossy().into(),
            });
        }
        let job_id = JobId(sealroom_crypto::random::array());
        self.store
            .start_job(&job_id, &agreement.id, now)
            .map_err(internal)?;
        let spec = JobSpec {
            job_id,
            agreement,
            inputs,
        };
        tracing::info!(job = %job_id, "starting isolate");
        let outcome = self.launcher.run(&spec).await;
        let finished_at = self.clock.now();
        match outcome {
            JobOutcome::Finished { receipt, outputs }
                if receipt.receipt.job_id == job_id
                    && outputs.iter().all(|o| o.job_id == job_id) =>
            {
                self.store
                    .finish_job(&job_id, &receipt, &outputs, finished_at)
                    .map_err(internal)?;
                let receipt_digest = sealroom_core::canonical::canonical_digest(
                    sealroom_core::labels::RECEIPT,
                    receipt.as_ref(),
                )
                .map_err(internal)?;
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
                let failure = sealroom_core::wire::JobFailure {
                    code: "isolate-misbehaved".into(),
                    dataset: None,
                    refusal: None,
                    message: "the isolate returned outputs for another job".into(),
                };
                self.store
                    .fail_job(&job_id, &failure, finished_at)
                    .map_err(internal)?;
            }
            JobOutcome::Failed { error } => {
                tracing::warn!(job = %job_id, code = error.code, "job failed: {}", error.message);
                self.store
                    .fail_job(&job_id, &error, finished_at)
                    .map_err(internal)?;
            }
        }
        self.store
            .job(&job_id)
            .map_err(internal)?
            .ok_or_else(|| internal("job vanished"))
    }
}

type Shared = State<Arc<Host>>;

fn problem(code: &str, status: StatusCode, detail: impl Into<String>) -> ProblemResponse {
    let title = match status {
        StatusCode::NOT_FOUND => "not found",
        StatusCode::BAD_REQUEST => "bad request",
        StatusCode::PAYLOAD_TOO_LARGE => "too large",
        _ => "refused",
    };
    ProblemResponse::new("host", code, status, title, detail)
}

fn internal(e: impl std::fmt::Display) -> ProblemResponse {
    tracing::error!("{e}");
    problem("internal", StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn check_names(owner: &str, dataset: &str) -> Result<(), ProblemResponse> {
    if is_valid_name(owner) && is_valid_name(dataset) {
        Ok(())
    } else {
        Err(problem(
            "bad-name",
            StatusCode::BAD_REQUEST,
            "owner and dataset names are 1 to 64 of a-z, 0-9, '-' and '_'",
        ))
    }
}

fn parse_job(id: &str) -> Result<JobId, ProblemResponse> {
    id.parse().map_err(|e: sealroom_core::ids::IdParseError| {
        problem("bad-job-id", StatusCode::BAD_REQUEST, e.to_string())
    })
}

async fn platform(State(h): Shared) -> Json<PlatformInfo> {
    Json(h.platform.clone())
}

async fn upload(
    State(h): Shared,
    Path((owner, dataset)): Path<(String, String)>,
    body: Body,
) -> Result<Json<crate::blobs::StoredBlob>, ProblemResponse> {
    check_names(&owner, &dataset)?;
    let mut upload = h
        .blobs
        .begin(&owner, &dataset, h.max_upload_bytes)
        .map_err(internal)?;
    let mut body = body;
    let refused = |e: UploadError| match e {
        UploadError::TooLarge { .. } => problem(
            "upload-too-large",
            StatusCode::PAYLOAD_TOO_LARGE,
            e.to_string(),
        ),
        UploadError::NotTheDataset(_) => problem(
            "not-the-dataset",
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        ),
        UploadError::Interrupted(_) => {
            problem("upload-interrupted", StatusCode::BAD_REQUEST, e.to_string())
        }
        UploadError::Io(_) => internal(e),
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| refused(UploadError::Interrupted(e.to_string())))?;
        if let Some(bytes) = frame.data_ref() {
            upload.write(bytes).map_err(refused)?;
        }
    }
    let blobs = h.blobs.clone();
    let stored = tokio::task::spawn_blocking(move || blobs.commit(upload))
        .await
        .map_err(internal)?
        .map_err(refused)?;
    h.store
        .put_dataset(&stored, h.clock.now())
        .map_err(internal)?;
    tracing::info!(owner, dataset, size = stored.size, "dataset stored");
    Ok(Json(stored))
}

async fn dataset(
    State(h): Shared,
    Path((owner, dataset)): Path<(String, String)>,
) -> Result<Json<crate::blobs::StoredBlob>, ProblemResponse> {
    check_names(&owner, &dataset)?;
    h.store
        .dataset(&owner, &dataset)
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| {
            problem(
                "dataset-missing",
                StatusCode::NOT_FOUND,
                format!("dataset {owner}/{dataset} has not been uploaded"),
            )
        })
}

async fn put_agreement(
    State(h): Shared,
    Json(signed): Json<SignedAgreement>,
) -> Result<Json<serde_json::Value>, ProblemResponse> {
    signed.check_in_force(h.clock.now()).map_err(|e| {
        problem(
            "agreement-not-in-force",
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        )
    })?;
    h.store
        .put_agreement(&signed, h.clock.now())
        .map_err(internal)?;
    let logged = h
        .log_statement_async(Statement::AgreementSigned {
            agreement: signed.id,
            signatures: signed.signatures.clone(),
        })
        .await?;
    Ok(Json(
        serde_json::json!({ "agreement_id": signed.id, "log_index": logged.index }),
    ))
}

async fn agreement(
    State(h): Shared,
    Path(id): Path<String>,
) -> Result<Json<SignedAgreement>, ProblemResponse> {
    let id = id.parse().map_err(|e: sealroom_core::ids::IdParseError| {
        problem("bad-agreement-id", StatusCode::BAD_REQUEST, e.to_string())
    })?;
    h.store
        .agreement(&id)
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| {
            problem(
                "agreement-unknown",
                StatusCode::NOT_FOUND,
                format!("no agreement {id} is stored"),
            )
        })
}

async fn run_job(
    State(h): Shared,
    Json(request): Json<RunJob>,
) -> Result<Json<JobRecord>, ProblemResponse> {
    h.run_job(&request).await.map(Json)
}

async fn job(State(h): Shared, Path(id): Path<String>) -> Result<Json<JobRecord>, ProblemResponse> {
    let id = parse_job(&id)?;
    h.store
        .job(&id)
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| problem("job-unknown", StatusCode::NOT_FOUND, format!("no job {id}")))
}

async fn outputs(
    State(h): Shared,
    Path((id, reader)): Path<(String, String)>,
) -> Result<Json<OutputBundle>, ProblemResponse> {
    let id = parse_job(&id)?;
    let record = h
        .store
        .job(&id)
        .map_err(internal)?
        .ok_or_else(|| problem("job-unknown", StatusCode::NOT_FOUND, format!("no job {id}")))?;
    let receipt = record.receipt.ok_or_else(|| {
        problem(
            "job-not-finished",
            StatusCode::CONFLICT,
            format!("job {id} has no outputs: it is {:?}", record.status),
        )
    })?;
    let sealed = h.store.outputs_for(&id, &reader).map_err(internal)?;
    if sealed.is_empty() {
        return Err(problem(
            "no-output-for-reader",
            StatusCode::NOT_FOUND,
            format!("job {id} sealed no output to {reader:?}"),
        ));
    }
    Ok(Json(OutputBundle { receipt, sealed }))
}
