//! The broker's HTTP API.
//!
//! | method and path | does |
//! |---|---|
//! | `GET /v1/card` | the owner's party card |
//! | `POST /v1/challenges` | a fresh single-use nonce, for a fresh run request of an agreement the owner is a party to |
//! | `POST /v1/releases` | the release check; the key sealed to the isolate, or a refusal |
//! | `POST /v1/decisions` | store an owner-signed approval or revocation |
//! | `POST /v1/envelopes` | register an owner-signed envelope (header and whole-file digest) as its dataset's current one |
//! | `GET /v1/budgets` | budgets kept (owner only: a request signed by the owner's key) |
//! | `GET /v1/releases` | releases granted (owner only) |
//! | `GET /v1/refusals` | refusals given (owner only) |
//!
//! Every error is an RFC 9457 problem document.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sealroom_attest::EvidenceVerifier;
use sealroom_core::clock::{Clock, Timestamp};
use sealroom_core::envelope::SignedRegistration;
use sealroom_core::party::{PartyCard, SigningPublicKey};
use sealroom_core::statement::SignedDecision;
use sealroom_core::wire::{Challenge, ChallengeRequest, SignedReleaseRequest};
use sealroom_crypto::{Identity, KeyFileError};
use sealroom_service::{ProblemResponse, ServiceError, SignedRequest};

use crate::refusal::Refusal;
use sealroom_ledger::{LogClient, LogEntry, LogVerifierKey, Statement};

use crate::release::{
    ReleaseContext, ReleaseError, authorized_run, decide_release, flush_log_outbox,
};
use crate::store::{BrokerStore, StoreError};

/// How long the broker waits for one call to the transparency log. A release makes at most a
/// few such calls (more only while decisions wait to be logged), so it answers well within the
/// isolate's `BROKER_CALL_TIMEOUT` (30 s).
pub const LOG_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// How a broker is set up.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// The owner's key file.
    pub key_file: PathBuf,
    /// Where the broker keeps its database.
    pub data_dir: PathBuf,
    /// Accept simulator evidence signed by this platform key (insecure; development only).
    pub accept_simulator_evidence: Option<SigningPublicKey>,
    /// How long a challenge stays valid, in seconds.
    pub challenge_ttl_seconds: i64,
    /// Base URL of the transparency log (the host's `/v1/log/...`).
    pub log_url: String,
    /// The log's verifier key, pinned: checkpoints not signed by it are refused.
    pub log_key: LogVerifierKey,
    /// Verify hardware evidence as of this time instead of the current time. For testing with
    /// recorded evidence only: an old time accepts certificates and collateral that have since
    /// expired or been revoked.
    pub evidence_time: Option<Timestamp>,
}

/// A broker could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The key file is unusable.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The service could not start.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The data directory could not be created.
    #[error("cannot create {}: {source}", path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// A running broker's state.
pub struct Broker {
    identity: Identity,
    verifier: EvidenceVerifier,
    store: BrokerStore,
    clock: Arc<dyn Clock>,
    challenge_ttl_seconds: i64,
    log: LogClient,
    log_key: LogVerifierKey,
    evidence_time: Option<Timestamp>,
    host_url: String,
    accepts_simulator: bool,
}

/// What recording an owner's decision did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DecisionRecorded {
    /// It is now the current decision (an older or replayed one is not).
    pub stored: bool,
    /// It and every decision before it is in the transparency log.
    pub logged: bool,
    /// Why it is not logged yet (it will be before any release).
    pub log_error: Option<String>,
}

/// A decision could not be recorded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError {
    /// It is not signed by this broker's owner.
    #[error("the decision is not signed by this broker's owner {owner}")]
    NotTheOwner {
        /// The owner's name.
        owner: String,
    },
    /// Its log entry cannot be encoded.
    #[error("the decision cannot be encoded: {0}")]
    Encoding(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Broker {
    /// Opens the broker's key and store.
    pub fn open(config: &BrokerConfig, clock: Arc<dyn Clock>) -> Result<Arc<Self>, BrokerError> {
        let identity = Identity::read_key_file(&config.key_file)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| BrokerError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let store = BrokerStore::open(&config.data_dir.join("broker.sqlite"))?;
        let mut verifier = EvidenceVerifier::new();
        if let Some(key) = config.accept_simulator_evidence {
            tracing::warn!(
                "accepting SIMULATOR evidence: the simulator protects nothing from the operator"
            );
            verifier = verifier.accept_simulator_evidence(key);
        }
        if let Some(at) = config.evidence_time {
            tracing::warn!(
                "verifying hardware evidence as of {at}, not now: for testing with recorded evidence only"
            );
        }
        Ok(Arc::new(Self {
            identity,
            verifier,
            store,
            clock,
            challenge_ttl_seconds: config.challenge_ttl_seconds,
            log: LogClient::new(&config.log_url, LOG_CALL_TIMEOUT),
            log_key: config.log_key.clone(),
            evidence_time: config.evidence_time,
            host_url: config.log_url.clone(),
            accepts_simulator: config.accept_simulator_evidence.is_some(),
        }))
    }

    /// The owner's identity (its keys never leave this process).
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The broker's store.
    pub fn store(&self) -> &BrokerStore {
        &self.store
    }

    /// The broker's clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// A client of the transparency log, and the pinned key its checkpoints must verify with.
    pub fn log(&self) -> (&LogClient, &LogVerifierKey) {
        (&self.log, &self.log_key)
    }

    /// The host's base URL (`--log`): it serves the transparency log and the agreements.
    pub fn host_url(&self) -> &str {
        &self.host_url
    }

    /// Whether the broker accepts simulator evidence, which protects nothing from the operator.
    pub fn accepts_simulator(&self) -> bool {
        self.accepts_simulator
    }

    /// Stores an owner-signed approval or revocation, newest wins, queues its log entry in the
    /// same transaction and tries to log it now. Blocks on the store and the log: call it off
    /// the async runtime.
    pub fn record_decision(
        &self,
        signed: &SignedDecision,
    ) -> Result<DecisionRecorded, DecisionError> {
        // The owner's key is what counts: the broker knows it, and its card's other fields (its
        // own address, for one) may be learned only after it started.
        let me = self.card();
        if signed.verify(&me).is_err() {
            return Err(DecisionError::NotTheOwner { owner: me.name });
        }
        let entry = LogEntry::sign(
            Statement::Decision {
                decision: signed.clone(),
            },
            me.signing_key,
            |label, bytes| self.identity.sign(label, bytes),
        )
        .map_err(|e| DecisionError::Encoding(e.to_string()))?
        .to_bytes();
        let stored = self.store.put_decision(signed, &entry)?;
        let logged = flush_log_outbox(&self.store, &self.log, &self.log_key)?;
        if let Err(refusal) = &logged {
            tracing::warn!(
                "decision stored but not yet logged (it will be before any release): {refusal}"
            );
        }
        Ok(DecisionRecorded {
            stored,
            logged: logged.is_ok(),
            log_error: logged.err().map(|r| r.to_string()),
        })
    }

    /// The owner's card.
    pub fn card(&self) -> PartyCard {
        self.identity.card()
    }

    /// The HTTP routes.
    pub fn router(self: Arc<Self>) -> Router {
        let router = Router::new()
            .route("/v1/card", get(card))
            .route("/v1/challenges", post(challenge))
            .route("/v1/releases", post(release).get(releases))
            .route("/v1/decisions", post(decision))
            .route("/v1/envelopes", post(register_envelope))
            .route("/v1/budgets", get(budgets))
            .route("/v1/refusals", get(refusals))
            .with_state(self);
        sealroom_service::with_problem_details(router, "broker")
    }
}

type Shared = State<Arc<Broker>>;

/// An internal failure: logged with its cause, answered without it.
fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("{e}");
    ProblemResponse::new(
        "broker",
        "internal",
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error",
        "the broker failed; its owner's log says why",
    )
    .into_response()
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response> {
    tokio::task::spawn_blocking(f).await.map_err(internal)
}

/// A JSON body; one that does not parse (an agreement breaking a rule, for instance) is refused
/// as `malformed-request`, saying exactly what is wrong.
struct Parsed<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Parsed<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        serde_json::from_slice(&bytes).map(Parsed).map_err(|e| {
            Refusal::Malformed(e.to_string())
                .to_problem()
                .into_response()
        })
    }
}

async fn card(State(b): Shared) -> Json<PartyCard> {
    Json(b.card())
}

async fn challenge(State(b): Shared, Parsed(asked): Parsed<ChallengeRequest>) -> Response {
    let now = b.clock.now();
    let job =
        match authorized_run(&b.card(), &asked.agreement, &asked.run_request, now).and_then(|_| {
            asked
                .run_request
                .job_id()
                .map_err(|e| Refusal::BadStatement(e.to_string()))
        }) {
            Ok(job) => job,
            Err(refusal) => return refusal.to_problem().into_response(),
        };
    let nonce: [u8; 32] = sealroom_crypto::random::array();
    let expires_at = now.plus_seconds(b.challenge_ttl_seconds);
    let stored = blocking(move || b.store.add_challenge(&nonce, &job, expires_at, now)).await;
    match stored {
        Ok(Ok(Ok(()))) => Json(Challenge { nonce, expires_at }).into_response(),
        Ok(Ok(Err(refusal))) => refusal.to_problem().into_response(),
        Ok(Err(e)) => internal(e),
        Err(r) => r,
    }
}

async fn release(State(b): Shared, Parsed(signed): Parsed<SignedReleaseRequest>) -> Response {
    let answer = blocking(move || {
        let now = b.clock.now();
        let ctx = ReleaseContext {
            identity: &b.identity,
            verifier: &b.verifier,
            store: &b.store,
            now,
            evidence_at: b.evidence_time.unwrap_or(now),
            log: &b.log,
            log_key: &b.log_key,
        };
        let result = decide_release(&ctx, &signed);
        let req = &signed.request;
        let job = req.job_id().ok();
        if let Err(ReleaseError::Unauthenticated(refusal)) = &result {
            tracing::warn!(
                code = refusal.code(),
                "refused a request for no authorized run: {refusal}"
            );
        } else if let Err(ReleaseError::Refused(refusal)) = &result {
            tracing::warn!(
                code = refusal.code(),
                dataset = req.dataset,
                dry_run = req.dry_run,
                "refused: {refusal}"
            );
            if let Err(e) = b.store.add_refusal(
                now,
                Some(&req.agreement.id),
                Some(&req.dataset),
                job.as_ref(),
                refusal,
            ) {
                tracing::error!("could not record refusal: {e}");
            }
        } else if result.is_ok() && !req.dry_run {
            tracing::info!(dataset = req.dataset, "key released");
        }
        result
    })
    .await;
    match answer {
        Ok(Ok(answer)) => Json(answer).into_response(),
        Ok(Err(ReleaseError::Refused(refusal) | ReleaseError::Unauthenticated(refusal))) => {
            refusal.to_problem().into_response()
        }
        Ok(Err(ReleaseError::Store(e))) => internal(e),
        Err(r) => r,
    }
}

/// How far in the future an envelope's sealing time may lie (clock skew), in milliseconds.
const MAX_SEALING_SKEW_MS: u64 = 10 * 60 * 1000;

async fn register_envelope(State(b): Shared, Json(signed): Json<SignedRegistration>) -> Response {
    let me = b.card();
    let header = &signed.registration.header;
    if signed.verify_signed_by(&me.name, &me.signing_key).is_err() {
        return Refusal::EnvelopeForged {
            dataset: header.dataset.chars().take(64).collect(),
            owner: me.name,
        }
        .to_problem()
        .into_response();
    }
    if header.sealed_at_ms > b.clock.now_millis().saturating_add(MAX_SEALING_SKEW_MS) {
        return Refusal::EnvelopeFromTheFuture {
            dataset: header.dataset.clone(),
        }
        .to_problem()
        .into_response();
    }
    let digest = match header.digest() {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let now = b.clock.now();
    let outcome = blocking(move || {
        let r = &signed.registration;
        b.store.register_envelope(
            &r.header.agreement,
            &r.header.dataset,
            &digest,
            &r.envelope_digest,
            r.header.sealed_at_ms,
            now,
        )
    })
    .await;
    match outcome {
        Ok(Ok(Ok(registration))) => Json(serde_json::json!({
            "registration": registration,
            "header_digest": digest,
        }))
        .into_response(),
        Ok(Ok(Err(refusal))) => refusal.to_problem().into_response(),
        Ok(Err(e)) => internal(e),
        Err(r) => r,
    }
}

async fn decision(State(b): Shared, Json(signed): Json<SignedDecision>) -> Response {
    match blocking(move || b.record_decision(&signed)).await {
        Ok(Ok(recorded)) => Json(recorded).into_response(),
        Ok(Err(DecisionError::NotTheOwner { owner })) => Refusal::BadStatement(format!(
            "the decision is not signed by this broker's owner {owner}"
        ))
        .to_problem()
        .into_response(),
        Ok(Err(e)) => internal(e),
        Err(r) => r,
    }
}

/// Answers with `f` over the store, for requests signed by this broker's owner only.
async fn owner_list<T: serde::Serialize + Send + 'static>(
    b: Arc<Broker>,
    request: SignedRequest,
    f: fn(&BrokerStore) -> Result<T, StoreError>,
) -> Response {
    let me = b.card();
    match request.signer(b.clock.now()) {
        Err(e) => return Refusal::Unauthenticated(e).to_problem().into_response(),
        Ok(key) if key != me.signing_key => {
            return Refusal::NotTheOwner { owner: me.name }
                .to_problem()
                .into_response();
        }
        Ok(_) => {}
    }
    match blocking(move || f(&b.store)).await {
        Ok(Ok(v)) => Json(v).into_response(),
        Ok(Err(e)) => internal(e),
        Err(r) => r,
    }
}

async fn budgets(State(b): Shared, request: SignedRequest) -> Response {
    owner_list(b, request, BrokerStore::budgets).await
}

async fn releases(State(b): Shared, request: SignedRequest) -> Response {
    owner_list(b, request, BrokerStore::releases).await
}

async fn refusals(State(b): Shared, request: SignedRequest) -> Response {
    owner_list(b, request, BrokerStore::refusals).await
}
