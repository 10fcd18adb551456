//! The host's HTTP API.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /v1/platform` | the simulator platform key and the measurement of the isolate this host runs |
//! | `POST /v1/agreements` | store a signed agreement in force whose parties are all onboarded |
//! | `GET /v1/agreements/{id}` | a stored agreement (parties only) |
//! | `PUT /v1/agreements/{id}/datasets/{owner}/{dataset}` | upload an envelope: its owner-signed header is checked before the rest is read; stored only when complete |
//! | `GET /v1/agreements/{id}/datasets/{owner}/{dataset}` | size and digests of the stored envelope (parties only) |
//! | `GET /v1/agreements/{id}/jobs` | the agreement's jobs, newest first (parties only) |
//! | `POST /v1/jobs` | a party's signed run request: queue a job (202); it runs in a fresh isolate when one is free |
//! | `GET /v1/jobs/{id}?wait=SECONDS` | a job's record, waiting up to 60 s for it to end (parties only) |
//! | `GET /v1/jobs/{id}/outputs/{reader}` | the receipt and the outputs sealed to `reader` (that reader only) |
//! | `/v1/programs/...` | publish and read Wasm programs (see [`crate::programs`]) |
//! | `/v1/log/...` | the transparency log (see [`crate::log_api`]) |
//!
//! "Parties only" means a request signed by a party of the agreement
//! (`Authorization: Sealroom …`, see `sealroom_core::request_auth`). The host serves only
//! parties its operator onboarded (`sealroom host party add`). Every error is an RFC 9457
//! problem document. The host logs what it does: the runtime it runs (at start), every
//! agreement it stores, and every finished job.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use sealroom_attest::SimPlatformKey;
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::Clock;
use sealroom_core::ids::{AgreementId, Measurement};
use sealroom_core::party::{PartyCard, SigningPublicKey};
use sealroom_service::{ServiceError, SignedRequest};
use serde::{Deserialize, Serialize};

use sealroom_ledger::{CheckedEntry, LogEntry, LogSigningKey, Statement};
use sealroom_ledger_store::{AppendError, Appended, Log, StoreError};
use sealroom_programs::BuiltinCatalog;

use crate::blobs::BlobStore;
use crate::jobs::IsolateLauncher;
use crate::refusal::HostRefusal;
use crate::runner::JobLimits;
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
    /// How many jobs run and wait at once.
    pub limits: JobLimits,
    /// The log's origin line, used only when the log key is first created
    /// (default `localhost/sealroom-log/<random>`).
    pub log_origin: Option<String>,
    /// On TDX or SGX hardware: the DCAP collateral the operator fetched from a PCCS (on SEV-SNP
    /// without a host certificate table: the VCEK), attached to the isolate's evidence.
    pub tee_collateral: Option<PathBuf>,
}

/// The host's database file in its data directory.
pub const HOST_DATABASE: &str = "host.sqlite";

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
        /// The underlying error.
        source: std::io::Error,
    },
    /// The simulator platform key is unusable.
    #[error(transparent)]
    PlatformKey(#[from] sealroom_attest::AttestError),
    /// The log key is unusable.
    #[error(transparent)]
    LogKey(#[from] sealroom_ledger::CheckpointError),
    /// The log could not be opened.
    #[error("transparency log: {0}")]
    LogStore(#[from] StoreError),
    /// The log could not be written.
    #[error("transparency log: {0}")]
    LogAppend(#[from] AppendError),
    /// The host's database failed.
    #[error(transparent)]
    Store(#[from] crate::store::HostStoreError),
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
    pub(crate) store: HostStore,
    log: Arc<Log>,
    pub(crate) blobs: BlobStore,
    pub(crate) launcher: IsolateLauncher,
    pub(crate) clock: Arc<dyn Clock>,
    platform: PlatformInfo,
    pub(crate) max_upload_bytes: u64,
    pub(crate) queue: crate::runner::JobQueue,
    /// Held while a publication is checked against the stored ones, logged and stored, so two
    /// publications of one module cannot both be logged.
    pub(crate) publishing: tokio::sync::Mutex<()>,
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
        )?;
        let log_key = log.verifier_key().to_string();
        let host = Arc::new(Self {
            store: HostStore::open(&config.data_dir.join(HOST_DATABASE))?,
            log: Arc::new(log),
            blobs: BlobStore::new(&blobs_dir).map_err(io(&blobs_dir))?,
            launcher: IsolateLauncher {
                executable: config.isolate.clone(),
                sim_platform_key: key_path,
                tee_collateral: config.tee_collateral.clone(),
                timeout: config.job_timeout,
            },
            clock,
            platform: PlatformInfo {
                simulator_platform_key: key.public(),
                isolate_measurement,
                log_key,
            },
            max_upload_bytes: config.max_upload_bytes,
            queue: crate::runner::JobQueue::new(&config.limits),
            publishing: tokio::sync::Mutex::new(()),
        });
        let interrupted = host.store.fail_interrupted_jobs(host.clock.now())?;
        if interrupted > 0 {
            tracing::warn!(
                interrupted,
                "jobs left unfinished by the last run were marked failed"
            );
        }
        let programs = BuiltinCatalog
            .list()
            .iter()
            .map(|p| format!("{}@{}", p.id, p.version))
            .collect();
        host.log_statement(Statement::RuntimePublished {
            platform: sealroom_core::attestation::Platform::Sim,
            measurement: isolate_measurement,
            programs,
        })?;
        Ok(host)
    }

    /// The transparency log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    pub(crate) fn store(&self) -> &HostStore {
        &self.store
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub(crate) fn clock(&self) -> &dyn Clock {
        &*self.clock
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

    pub(crate) async fn log_statement_async(
        self: &Arc<Self>,
        statement: Statement,
    ) -> Result<Appended, HostRefusal> {
        let host = self.clone();
        tokio::task::spawn_blocking(move || host.log_statement(statement))
            .await
            .map_err(HostRefusal::internal)?
            .map_err(HostRefusal::internal)
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        let router = Router::new()
            .route("/v1/platform", get(platform))
            .route("/v1/agreements", post(put_agreement))
            .route("/v1/agreements/{id}", get(agreement))
            .route(
                "/v1/agreements/{id}/datasets/{owner}/{dataset}",
                get(crate::upload::dataset).put(crate::upload::upload),
            )
            .route("/v1/agreements/{id}/jobs", get(crate::runner::jobs_of))
            .route("/v1/jobs", post(crate::runner::request_job))
            .route("/v1/jobs/{id}", get(crate::runner::job))
            .route(
                "/v1/jobs/{id}/outputs/{reader}",
                get(crate::runner::outputs),
            )
            .route(
                "/v1/programs",
                // The handler reads the body itself, after the sender is checked, up to
                // MAX_PUBLISH_BODY.
                post(crate::programs::publish),
            )
            .route("/v1/programs/{digest}", get(crate::programs::program))
            .route("/v1/programs/{digest}/module", get(crate::programs::module))
            .merge(crate::log_api::router())
            .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
            .with_state(self);
        sealroom_service::with_problem_details(router, "host")
    }

    /// A stored agreement, or `agreement-unknown`.
    pub(crate) fn stored_agreement(
        &self,
        id: &AgreementId,
    ) -> Result<SignedAgreement, HostRefusal> {
        self.store
            .agreement(id)
            .map_err(HostRefusal::internal)?
            .ok_or(HostRefusal::AgreementUnknown(*id))
    }

    /// The party of `agreement` that signed this request, or `unauthenticated` / `not-a-party`.
    pub(crate) fn signing_party<'a>(
        &self,
        request: &SignedRequest,
        agreement: &'a SignedAgreement,
    ) -> Result<&'a PartyCard, HostRefusal> {
        let key = request
            .signer(self.clock.now())
            .map_err(HostRefusal::Unauthenticated)?;
        let party = agreement
            .agreement
            .parties
            .iter()
            .find(|p| p.signing_key == key)
            .ok_or_else(|| HostRefusal::NotAParty(agreement.id.short()))?;
        self.check_served(party)?;
        Ok(party)
    }

    /// The host still serves `card` (its operator has not removed or replaced it).
    pub(crate) fn check_served(&self, card: &PartyCard) -> Result<(), HostRefusal> {
        if self
            .store
            .party(&card.name)
            .map_err(HostRefusal::internal)?
            .as_ref()
            == Some(card)
        {
            Ok(())
        } else {
            Err(HostRefusal::PartyNotOnboarded(card.name.clone()))
        }
    }
}

/// Largest JSON request body, in bytes (agreements and run requests are far smaller).
const MAX_JSON_BODY: usize = 1 << 20;

pub(crate) type Shared = State<Arc<Host>>;

/// An id from a request path.
pub(crate) fn parse_id<T: std::str::FromStr<Err = sealroom_core::ids::IdParseError>>(
    id: &str,
) -> Result<T, HostRefusal> {
    id.parse()
        .map_err(|e: sealroom_core::ids::IdParseError| HostRefusal::BadId(e.to_string()))
}

async fn platform(State(h): Shared) -> Json<PlatformInfo> {
    Json(h.platform.clone())
}

/// Every party of `signed` must be onboarded with exactly the card the agreement lists, and
/// every broker URL must be a plain base.
fn check_parties(h: &Host, signed: &SignedAgreement) -> Result<(), HostRefusal> {
    for card in &signed.agreement.parties {
        h.check_served(card)?;
        if let Some(Err(e)) = card.broker_base() {
            return Err(HostRefusal::BadBrokerUrl(e.to_string()));
        }
    }
    Ok(())
}

async fn put_agreement(
    State(h): Shared,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, HostRefusal> {
    let signed: SignedAgreement =
        serde_json::from_slice(&body).map_err(|e| HostRefusal::InvalidAgreement(e.to_string()))?;
    signed
        .agreement
        .check_program(&BuiltinCatalog)
        .map_err(|e| HostRefusal::InvalidAgreement(e.to_string()))?;
    signed
        .check_in_force(h.clock.now())
        .map_err(HostRefusal::AgreementNotInForce)?;
    check_parties(&h, &signed)?;
    h.store
        .put_agreement(&signed, h.clock.now())
        .map_err(HostRefusal::internal)?;
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
    request: SignedRequest,
) -> Result<Json<SignedAgreement>, HostRefusal> {
    let id = parse_id(&id)?;
    let signed = h.stored_agreement(&id)?;
    h.signing_party(&request, &signed)?;
    Ok(Json(signed))
}
