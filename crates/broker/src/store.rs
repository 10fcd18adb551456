//! The broker's SQLite store: challenges, decisions, budgets, releases and refusals.

use std::path::Path;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sealroom_core::Epsilon;
use sealroom_core::attestation::Platform;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::{AgreementId, Digest, JobId, Measurement};
use sealroom_core::log::LoggedEntry;
use sealroom_core::statement::{Decision, SignedDecision};
use sealroom_core::wire::BudgetStatus;
use sealroom_service::{Database, Schema, ServiceError};
use serde::{Deserialize, Serialize};

use sealroom_ledger::{LogEntry, LoggedRelease, Statement};

use crate::refusal::Refusal;

const SQL: &str = "
CREATE TABLE IF NOT EXISTS challenges (
    nonce BLOB PRIMARY KEY,
    job TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);
CREATE INDEX IF NOT EXISTS challenges_by_job ON challenges (job);
CREATE INDEX IF NOT EXISTS challenges_by_expiry ON challenges (expires_at);
CREATE TABLE IF NOT EXISTS decisions (
    agreement TEXT NOT NULL,
    platform TEXT NOT NULL,
    measurement TEXT NOT NULL,
    decision TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    sequence INTEGER NOT NULL,
    statement TEXT NOT NULL,
    PRIMARY KEY (agreement, platform, measurement)
);
CREATE TABLE IF NOT EXISTS budgets (
    agreement TEXT NOT NULL,
    dataset TEXT NOT NULL,
    total_micros INTEGER NOT NULL,
    spent_micros INTEGER NOT NULL,
    releases INTEGER NOT NULL,
    PRIMARY KEY (agreement, dataset)
);
CREATE TABLE IF NOT EXISTS releases (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    agreement TEXT NOT NULL,
    dataset TEXT NOT NULL,
    job TEXT NOT NULL,
    platform TEXT NOT NULL,
    measurement TEXT NOT NULL,
    epsilon_micros INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    entry BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS releases_once_per_job ON releases (agreement, dataset, job);
CREATE INDEX IF NOT EXISTS releases_by_time ON releases (agreement, dataset, at);
CREATE TABLE IF NOT EXISTS envelopes (
    agreement TEXT NOT NULL,
    dataset TEXT NOT NULL,
    digest TEXT NOT NULL,
    envelope_digest TEXT NOT NULL,
    sealed_at_ms INTEGER NOT NULL,
    registered_at INTEGER NOT NULL,
    PRIMARY KEY (agreement, dataset, digest)
);
CREATE TABLE IF NOT EXISTS log_outbox (
    id INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS log_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checkpoint TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agreements (
    id TEXT PRIMARY KEY,
    signed TEXT NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    agreement TEXT,
    dataset TEXT,
    job TEXT,
    code TEXT NOT NULL,
    detail TEXT NOT NULL
);
";

/// The tables and their version (files written before versions were kept predate signed envelopes and are refused).
const SCHEMA: Schema = Schema {
    sql: SQL,
    version: 1,
    unversioned_is_current: false,
};

/// Characters of a refusal's message kept in the owner's records.
const MAX_REFUSAL_DETAIL: usize = 1000;

/// At most this many unexpired, unused challenges are outstanding at once.
pub const MAX_OPEN_CHALLENGES: i64 = 10_000;

/// At most this many unexpired, unused challenges are outstanding for one job (an isolate needs
/// one per dataset of this owner).
pub const MAX_CHALLENGES_PER_JOB: i64 = 16;

/// A database operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("broker database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A release kept in the database is not a key release log entry.
    #[error("broker database: release {index} does not hold a key release entry: {reason}")]
    CorruptRelease {
        /// Its log index.
        index: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// The current decision about a measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentDecision {
    /// Approve or revoke.
    pub decision: Decision,
    /// When it was issued.
    pub issued_at: Timestamp,
}

/// What registering an envelope did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Registration {
    /// It is now the current envelope of its dataset.
    Registered,
    /// It already was.
    AlreadyCurrent,
}

/// One refusal, for the owner's audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalRecord {
    /// When it happened.
    pub at: Timestamp,
    /// The agreement, if known.
    pub agreement: Option<String>,
    /// The dataset, if known.
    pub dataset: Option<String>,
    /// The job, if known.
    pub job: Option<String>,
    /// Reason code.
    pub code: String,
    /// The refusal's message, as the requester was told.
    pub detail: String,
}

/// What a release debits, all inside one transaction.
#[derive(Debug, Clone)]
pub struct Debit<'a> {
    /// The challenge being answered.
    pub nonce: &'a [u8; 32],
    /// The agreement.
    pub agreement: AgreementId,
    /// The dataset.
    pub dataset: &'a str,
    /// The job.
    pub job: JobId,
    /// The platform.
    pub platform: Platform,
    /// The runtime.
    pub measurement: Measurement,
    /// ε per run.
    pub epsilon: Epsilon,
    /// Total ε for the dataset under the agreement.
    pub total: Epsilon,
    /// Digest of the envelope header whose key is released.
    pub envelope: Digest,
    /// Digest of the whole envelope file the isolate holds.
    pub envelope_file: Digest,
    /// The party whose run request started the job.
    pub requested_by: &'a str,
    /// The agreement's cap on runs per day.
    pub max_runs_per_day: Option<u32>,
    /// The owner's name, for refusals.
    pub owner: &'a str,
}

/// The broker's store. One connection, serialized by a mutex; every debit is one immediate transaction.
#[derive(Debug)]
pub struct BrokerStore {
    pub(crate) db: Database,
}

fn platform_text(p: Platform) -> &'static str {
    p.name()
}

impl BrokerStore {
    /// Opens or creates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, ServiceError> {
        Ok(Self {
            db: Database::open(path, &SCHEMA)?,
        })
    }

    /// Records a newly issued challenge for `job`, forgetting those that expired over an hour
    /// before `now` (a replay of a forgotten nonce is refused as unknown, so nothing is lost).
    /// Refuses while [`MAX_CHALLENGES_PER_JOB`] unexpired, unused challenges are outstanding for
    /// the job, or [`MAX_OPEN_CHALLENGES`] in all, so that a flood of requests can neither fill
    /// the owner's disk nor, with one run request, lock others out.
    pub fn add_challenge(
        &self,
        nonce: &[u8; 32],
        job: &JobId,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let conn = self.db.lock();
        conn.execute(
            "DELETE FROM challenges WHERE expires_at < ?1",
            params![now.0 - 3600],
        )?;
        let (for_job, open): (i64, i64) = conn.query_row(
            "SELECT COALESCE(SUM(job = ?2), 0), COUNT(*) FROM challenges WHERE expires_at > ?1 AND used_at IS NULL",
            params![now.0, job.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if for_job >= MAX_CHALLENGES_PER_JOB || open >= MAX_OPEN_CHALLENGES {
            return Ok(Err(Refusal::TooManyChallenges));
        }
        conn.execute(
            "INSERT INTO challenges (nonce, job, expires_at) VALUES (?1, ?2, ?3)",
            params![&nonce[..], job.to_string(), expires_at.0],
        )?;
        Ok(Ok(()))
    }

    /// Checks a challenge without using it.
    pub fn check_challenge(
        &self,
        nonce: &[u8; 32],
        now: Timestamp,
    ) -> Result<Result<(), Refusal>, StoreError> {
        Ok(challenge_state(challenge_row(&self.db.lock(), nonce)?, now))
    }

    /// Stores an owner's decision if its sequence is larger than the current one's; returns
    /// whether it was stored. A replayed older decision is never stored, however quickly the
    /// owner decided again.
    /// A stored decision's log entry (`log_entry`) is queued in the same transaction, to be
    /// appended to the transparency log before any later release.
    pub fn put_decision(
        &self,
        signed: &SignedDecision,
        log_entry: &[u8],
    ) -> Result<bool, StoreError> {
        let s = &signed.statement;
        let decision = match s.decision {
            Decision::Approve => "approve",
            Decision::Revoke => "revoke",
        };
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "INSERT INTO decisions (agreement, platform, measurement, decision, issued_at, sequence, statement)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (agreement, platform, measurement) DO UPDATE SET
               decision = excluded.decision, issued_at = excluded.issued_at,
               sequence = excluded.sequence, statement = excluded.statement
             WHERE excluded.sequence > decisions.sequence",
            params![
                s.agreement.to_string(),
                platform_text(s.platform),
                s.measurement.to_string(),
                decision,
                s.issued_at.0,
                i64::try_from(s.sequence).unwrap_or(i64::MAX),
                serde_json::to_string(signed).expect("serializes")
            ],
        )?;
        if changed > 0 {
            tx.execute("INSERT INTO log_outbox (entry) VALUES (?1)", [log_entry])?;
        }
        tx.commit()?;
        Ok(changed > 0)
    }

    /// Entries waiting to be logged, oldest first, with their queue ids.
    pub fn log_outbox(&self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare("SELECT id, entry FROM log_outbox ORDER BY id")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a logged entry from the queue and remembers the checkpoint that proved it.
    pub fn logged(&self, outbox_id: i64, checkpoint: &str) -> Result<(), StoreError> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM log_outbox WHERE id = ?1", [outbox_id])?;
        save_checkpoint(&tx, checkpoint)?;
        Ok(tx.commit()?)
    }

    /// The last log checkpoint this broker verified, if any.
    pub fn last_checkpoint(&self) -> Result<Option<String>, StoreError> {
        last_checkpoint(&self.db.lock())
    }

    /// The current decision for a measurement, if any.
    pub fn decision(
        &self,
        agreement: &AgreementId,
        platform: Platform,
        measurement: &Measurement,
    ) -> Result<Option<CurrentDecision>, StoreError> {
        decision_of(&self.db.lock(), agreement, platform, measurement)
    }

    /// Makes the envelope with header `digest` and whole-file `envelope_digest` (sealed at
    /// `sealed_at_ms`) the current envelope of `dataset` under `agreement`, unless a newer one is
    /// registered: an older version can never come back.
    pub fn register_envelope(
        &self,
        agreement: &AgreementId,
        dataset: &str,
        digest: &Digest,
        envelope_digest: &Digest,
        sealed_at_ms: u64,
        now: Timestamp,
    ) -> Result<Result<Registration, Refusal>, StoreError> {
        let sealed_at = i64::try_from(sealed_at_ms).map_err(|_| {
            StoreError::Sqlite(rusqlite::Error::IntegralValueOutOfRange(0, i64::MAX))
        })?;
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        match envelope_state(&tx, agreement, dataset, digest)? {
            EnvelopeState::Current(file) if &file == envelope_digest => {
                return Ok(Ok(Registration::AlreadyCurrent));
            }
            EnvelopeState::Current(_) => {
                return Ok(Err(Refusal::EnvelopeMismatch {
                    dataset: dataset.into(),
                    reason: "this header is registered with another file".into(),
                }));
            }
            EnvelopeState::Superseded(current) => {
                return Ok(Err(superseded(dataset, digest, current)));
            }
            EnvelopeState::Unregistered(Some(current)) if current >= sealed_at_ms => {
                return Ok(Err(superseded(dataset, digest, current)));
            }
            EnvelopeState::Unregistered(_) => {}
        }
        tx.execute(
            "INSERT INTO envelopes (agreement, dataset, digest, envelope_digest, sealed_at_ms, registered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                agreement.to_string(),
                dataset,
                digest.to_string(),
                envelope_digest.to_string(),
                sealed_at,
                now.0
            ],
        )?;
        tx.commit()?;
        Ok(Ok(Registration::Registered))
    }

    /// Runs every check a release makes against the store, changing nothing: the challenge, the
    /// envelope, one release per job, the daily cap and the budget.
    pub fn check_release(
        &self,
        debit: &Debit<'_>,
        now: Timestamp,
    ) -> Result<Result<(), Refusal>, StoreError> {
        let conn = self.db.lock();
        if let Err(refusal) = challenge_state(challenge_row(&conn, debit.nonce)?, now) {
            return Ok(Err(refusal));
        }
        Ok(release_state(&conn, debit, now)?.map(|_| ()))
    }

    /// In one transaction: uses the nonce, repeats [`Self::check_release`] (so a revocation
    /// stored since the first check is seen), has `log_release` append and prove the owner's
    /// decisions still waiting to be logged and then the release entry (given the last
    /// checkpoint this broker verified and the waiting entries, returning the release's logged
    /// entry and the new checkpoint), then debits the budget, records the release and empties the
    /// queue. Returns the ε left, in millionths. If the nonce is good but another check is not,
    /// the nonce is still used up; if the log fails, nothing changes.
    pub fn debit(
        &self,
        debit: &Debit<'_>,
        now: Timestamp,
        log_release: impl FnOnce(Option<String>, Vec<Vec<u8>>) -> Result<(LoggedEntry, String), Refusal>,
    ) -> Result<Result<(u64, LoggedEntry), Refusal>, StoreError> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Err(refusal) = challenge_state(challenge_row(&tx, debit.nonce)?, now) {
            return Ok(Err(refusal));
        }
        tx.execute(
            "UPDATE challenges SET used_at = ?2 WHERE nonce = ?1",
            params![&debit.nonce[..], now.0],
        )?;
        let spent = match release_state(&tx, debit, now)? {
            Ok(spent) => spent,
            Err(refusal) => {
                tx.commit()?;
                return Ok(Err(refusal));
            }
        };
        let waiting: Vec<(i64, Vec<u8>)> = {
            let mut select = tx.prepare("SELECT id, entry FROM log_outbox ORDER BY id")?;
            let rows = select.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let entries = waiting.iter().map(|(_, e)| e.clone()).collect();
        let (logged, checkpoint) = match log_release(last_checkpoint(&tx)?, entries) {
            Ok(done) => done,
            Err(refusal) => return Ok(Err(refusal)),
        };
        for (id, _) in &waiting {
            tx.execute("DELETE FROM log_outbox WHERE id = ?1", [id])?;
        }
        let agreement = debit.agreement.to_string();
        save_checkpoint(&tx, &checkpoint)?;
        tx.execute(
            "INSERT INTO budgets (agreement, dataset, total_micros, spent_micros, releases) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT (agreement, dataset) DO UPDATE SET spent_micros = spent_micros + ?4, releases = releases + 1",
            params![agreement, debit.dataset, debit.total.micros() as i64, debit.epsilon.micros() as i64],
        )?;
        tx.execute(
            "INSERT INTO releases (at, agreement, dataset, job, platform, measurement, epsilon_micros, log_index, envelope, requested_by, entry)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                now.0,
                agreement,
                debit.dataset,
                debit.job.to_string(),
                platform_text(debit.platform),
                debit.measurement.to_string(),
                debit.epsilon.micros() as i64,
                logged.index as i64,
                debit.envelope.to_string(),
                debit.requested_by,
                &logged.entry,
            ],
        )?;
        tx.commit()?;
        Ok(Ok((
            debit.total.micros() - spent - debit.epsilon.micros(),
            logged,
        )))
    }

    /// Records a refusal for the owner's audit.
    pub fn add_refusal(
        &self,
        at: Timestamp,
        agreement: Option<&AgreementId>,
        dataset: Option<&str>,
        job: Option<&JobId>,
        refusal: &Refusal,
    ) -> Result<(), StoreError> {
        self.db.lock().execute(
            "INSERT INTO refusals (at, agreement, dataset, job, code, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                at.0,
                agreement.map(|a| a.to_string()),
                dataset,
                job.map(|j| j.to_string()),
                refusal.code(),
                refusal.to_string().chars().take(MAX_REFUSAL_DETAIL).collect::<String>()
            ],
        )?;
        Ok(())
    }

    /// Every budget this broker keeps.
    pub fn budgets(&self) -> Result<Vec<BudgetStatus>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare("SELECT agreement, dataset, total_micros, spent_micros, releases FROM budgets ORDER BY agreement, dataset")?;
        let rows = stmt.query_map([], |r| {
            let agreement: String = r.get(0)?;
            Ok(BudgetStatus {
                agreement: agreement.parse().map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
                dataset: r.get(1)?,
                total_micros: r.get::<_, i64>(2)? as u64,
                spent_micros: r.get::<_, i64>(3)? as u64,
                releases: r.get::<_, i64>(4)? as u64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every release granted, oldest first.
    pub fn releases(&self) -> Result<Vec<LoggedRelease>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare("SELECT log_index, entry FROM releases ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (index, entry) = row?;
            let corrupt = |reason: String| StoreError::CorruptRelease { index, reason };
            match LogEntry::from_bytes(&entry)
                .map_err(|e| corrupt(e.to_string()))?
                .statement
            {
                Statement::KeyRelease(release) => Ok(LoggedRelease { index, release }),
                other => Err(corrupt(format!("it is a {} entry", other.kind()))),
            }
        })
        .collect()
    }

    /// Every refusal, oldest first.
    pub fn refusals(&self) -> Result<Vec<RefusalRecord>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT at, agreement, dataset, job, code, detail FROM refusals ORDER BY id",
        )?;
        let rows = stmt.query_map([], refusal_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// A refusal from a row of `SELECT at, agreement, dataset, job, code, detail FROM refusals`.
pub(crate) fn refusal_record(r: &rusqlite::Row<'_>) -> rusqlite::Result<RefusalRecord> {
    Ok(RefusalRecord {
        at: Timestamp(r.get(0)?),
        agreement: r.get(1)?,
        dataset: r.get(2)?,
        job: r.get(3)?,
        code: r.get(4)?,
        detail: r.get(5)?,
    })
}

pub(crate) fn last_checkpoint(conn: &rusqlite::Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT checkpoint FROM log_state WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()?)
}

pub(crate) fn save_checkpoint(
    conn: &rusqlite::Connection,
    checkpoint: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO log_state (id, checkpoint) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET checkpoint = excluded.checkpoint",
        [checkpoint],
    )?;
    Ok(())
}

fn decision_of(
    conn: &rusqlite::Connection,
    agreement: &AgreementId,
    platform: Platform,
    measurement: &Measurement,
) -> Result<Option<CurrentDecision>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT decision, issued_at FROM decisions WHERE agreement = ?1 AND platform = ?2 AND measurement = ?3",
            params![agreement.to_string(), platform_text(platform), measurement.to_string()],
            |r| {
                let d: String = r.get(0)?;
                Ok(CurrentDecision {
                    decision: if d == "approve" { Decision::Approve } else { Decision::Revoke },
                    issued_at: Timestamp(r.get(1)?),
                })
            },
        )
        .optional()?)
}

/// Where an envelope stands with its owner's broker.
enum EnvelopeState {
    /// It is the newest registered envelope of its dataset, registered with this file digest.
    Current(Digest),
    /// It was registered, but a newer one (sealed at this time) is current.
    Superseded(u64),
    /// It was never registered; the current one, if any, was sealed at this time.
    Unregistered(Option<u64>),
}

fn envelope_state(
    conn: &rusqlite::Connection,
    agreement: &AgreementId,
    dataset: &str,
    digest: &Digest,
) -> Result<EnvelopeState, StoreError> {
    let current: Option<(String, String, i64)> = conn
        .query_row(
            "SELECT digest, envelope_digest, sealed_at_ms FROM envelopes WHERE agreement = ?1 AND dataset = ?2
             ORDER BY sealed_at_ms DESC LIMIT 1",
            params![agreement.to_string(), dataset],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let digest = digest.to_string();
    let Some((current, file, sealed_at)) = current else {
        return Ok(EnvelopeState::Unregistered(None));
    };
    if current == digest {
        let file = file.parse().map_err(|_| {
            StoreError::Sqlite(rusqlite::Error::InvalidColumnType(
                1,
                "envelope_digest".into(),
                rusqlite::types::Type::Text,
            ))
        })?;
        return Ok(EnvelopeState::Current(file));
    }
    let known: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM envelopes WHERE agreement = ?1 AND dataset = ?2 AND digest = ?3)",
        params![agreement.to_string(), dataset, digest],
        |r| r.get(0),
    )?;
    Ok(if known {
        EnvelopeState::Superseded(sealed_at as u64)
    } else {
        EnvelopeState::Unregistered(Some(sealed_at as u64))
    })
}

fn superseded(dataset: &str, digest: &Digest, current_sealed_at_ms: u64) -> Refusal {
    Refusal::EnvelopeSuperseded {
        dataset: dataset.into(),
        digest: digest.short(),
        current_sealed_at: Timestamp((current_sealed_at_ms / 1000) as i64).to_string(),
    }
}

fn challenge_row(
    conn: &rusqlite::Connection,
    nonce: &[u8; 32],
) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT expires_at, used_at FROM challenges WHERE nonce = ?1",
            params![&nonce[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// The checks of a release that read the store (all but the challenge); returns ε spent so far.
fn release_state(
    conn: &rusqlite::Connection,
    debit: &Debit<'_>,
    now: Timestamp,
) -> Result<Result<u64, Refusal>, StoreError> {
    let agreement = debit.agreement.to_string();
    match decision_of(conn, &debit.agreement, debit.platform, &debit.measurement)? {
        None => {
            return Ok(Err(Refusal::MeasurementNotApproved {
                measurement: debit.measurement,
                owner: debit.owner.into(),
            }));
        }
        Some(d) if d.decision == Decision::Revoke => {
            return Ok(Err(Refusal::MeasurementRevoked {
                measurement: debit.measurement,
                owner: debit.owner.into(),
                at: d.issued_at,
            }));
        }
        Some(_) => {}
    }
    match envelope_state(conn, &debit.agreement, debit.dataset, &debit.envelope)? {
        EnvelopeState::Current(file) if file == debit.envelope_file => {}
        EnvelopeState::Current(_) => {
            return Ok(Err(Refusal::EnvelopeAltered {
                dataset: debit.dataset.into(),
            }));
        }
        EnvelopeState::Superseded(current) => {
            return Ok(Err(superseded(debit.dataset, &debit.envelope, current)));
        }
        EnvelopeState::Unregistered(_) => {
            return Ok(Err(Refusal::EnvelopeNotRegistered {
                dataset: debit.dataset.into(),
                digest: debit.envelope.short(),
            }));
        }
    }
    let replayed: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM releases WHERE agreement = ?1 AND dataset = ?2 AND job = ?3)",
        params![agreement, debit.dataset, debit.job.to_string()],
        |r| r.get(0),
    )?;
    if replayed {
        return Ok(Err(Refusal::RunRequestReplayed {
            job: debit.job.to_string(),
            dataset: debit.dataset.into(),
        }));
    }
    if let Some(max) = debit.max_runs_per_day {
        let today: i64 = conn.query_row(
            "SELECT COUNT(*) FROM releases WHERE agreement = ?1 AND dataset = ?2 AND at > ?3",
            params![agreement, debit.dataset, now.0 - 86_400],
            |r| r.get(0),
        )?;
        if today >= i64::from(max) {
            return Ok(Err(Refusal::RunCapReached {
                dataset: debit.dataset.into(),
                max,
            }));
        }
    }
    let spent: Option<i64> = conn
        .query_row(
            "SELECT spent_micros FROM budgets WHERE agreement = ?1 AND dataset = ?2",
            params![agreement, debit.dataset],
            |r| r.get(0),
        )
        .optional()?;
    let spent = spent.unwrap_or(0) as u64;
    Ok(budget_state(debit.dataset, spent, debit.epsilon, debit.total).map(|()| spent))
}

fn challenge_state(row: Option<(i64, Option<i64>)>, now: Timestamp) -> Result<(), Refusal> {
    match row {
        None => Err(Refusal::NonceUnknown),
        Some((_, Some(_))) => Err(Refusal::NonceReplayed),
        Some((expires, None)) if now.0 >= expires => Err(Refusal::NonceExpired(Timestamp(expires))),
        Some(_) => Ok(()),
    }
}

fn budget_state(
    dataset: &str,
    spent: u64,
    epsilon: Epsilon,
    total: Epsilon,
) -> Result<(), Refusal> {
    if spent + epsilon.micros() > total.micros() {
        let show = |m: u64| {
            Epsilon::from_micros(m)
                .map(|e| e.to_string())
                .unwrap_or_else(|_| "0".into())
        };
        return Err(Refusal::BudgetExhausted {
            dataset: dataset.into(),
            spent: show(spent),
            total: total.to_string(),
            needed: epsilon.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_ledger::KeyRelease;

    #[test]
    fn old_challenges_are_forgotten_and_then_refused_as_unknown() {
        let dir = tempfile::tempdir().unwrap();
        let store = BrokerStore::open(&dir.path().join("b.sqlite")).unwrap();
        store
            .add_challenge(&[1; 32], &JobId([0; 16]), Timestamp(100), Timestamp(40))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.check_challenge(&[1; 32], Timestamp(50)).unwrap(),
            Ok(())
        );
        assert_eq!(
            store.check_challenge(&[1; 32], Timestamp(100)).unwrap(),
            Err(Refusal::NonceExpired(Timestamp(100)))
        );
        store
            .add_challenge(&[2; 32], &JobId([0; 16]), Timestamp(5000), Timestamp(4000))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.check_challenge(&[1; 32], Timestamp(4000)).unwrap(),
            Err(Refusal::NonceUnknown)
        );
        assert_eq!(
            store.check_challenge(&[2; 32], Timestamp(4000)).unwrap(),
            Ok(())
        );
    }

    #[test]
    fn a_flood_of_challenges_is_refused_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = BrokerStore::open(&dir.path().join("b.sqlite")).unwrap();
        let job = JobId([7; 16]);
        for i in 0..MAX_CHALLENGES_PER_JOB {
            let nonce = [i as u8; 32];
            assert_eq!(
                store
                    .add_challenge(&nonce, &job, Timestamp(160), Timestamp(100))
                    .unwrap(),
                Ok(())
            );
        }
        let add = |nonce: u8, job: &JobId, now: i64| {
            store
                .add_challenge(&[nonce; 32], job, Timestamp(now + 60), Timestamp(now))
                .unwrap()
        };
        assert_eq!(add(200, &job, 100), Err(Refusal::TooManyChallenges));
        // Another job still gets challenges, up to the cap over all jobs.
        assert_eq!(add(201, &JobId([8; 16]), 100), Ok(()));
        {
            let mut conn = store.db.lock();
            let tx = conn.transaction().unwrap();
            for i in 0..MAX_OPEN_CHALLENGES {
                tx.execute(
                    "INSERT INTO challenges (nonce, job, expires_at) VALUES (?1, ?2, 160)",
                    params![i.to_be_bytes().to_vec(), format!("flood{i}")],
                )
                .unwrap();
            }
            tx.commit().unwrap();
        }
        assert_eq!(
            add(202, &JobId([9; 16]), 100),
            Err(Refusal::TooManyChallenges)
        );
        // Once they have expired, challenges are issued again.
        assert_eq!(add(203, &job, 200), Ok(()));
    }

    #[test]
    fn a_revocation_stored_after_the_first_check_stops_the_debit_and_waiting_decisions_go_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = BrokerStore::open(&dir.path().join("b.sqlite")).unwrap();
        let (agreement, measurement) = (AgreementId([1; 32]), Measurement([2; 32]));
        let (header, file) = (Digest([3; 32]), Digest([4; 32]));
        let job = JobId([5; 16]);
        let epsilon = Epsilon::from_micros(1_000).unwrap();
        let debit = |nonce: &'static [u8; 32]| Debit {
            nonce,
            agreement,
            dataset: "visits",
            job,
            platform: Platform::Sim,
            measurement,
            epsilon,
            total: Epsilon::from_micros(10_000).unwrap(),
            envelope: header,
            envelope_file: file,
            requested_by: "bob",
            max_runs_per_day: None,
            owner: "alice",
        };
        store
            .register_envelope(&agreement, "visits", &header, &file, 1, Timestamp(10))
            .unwrap()
            .unwrap();
        let decide = |decision: &str, at: i64, entry: &[u8]| {
            let mut conn = store.db.lock();
            let tx = conn.transaction().unwrap();
            tx.execute(
                "INSERT INTO decisions (agreement, platform, measurement, decision, issued_at, sequence, statement)
                 VALUES (?1, 'sim', ?2, ?3, ?4, ?4, '{}')
                 ON CONFLICT (agreement, platform, measurement) DO UPDATE SET decision = excluded.decision",
                params![agreement.to_string(), measurement.to_string(), decision, at],
            )
            .unwrap();
            tx.execute("INSERT INTO log_outbox (entry) VALUES (?1)", [entry])
                .unwrap();
            tx.commit().unwrap();
        };
        let alice = sealroom_crypto::Identity::generate("alice", None).unwrap();
        let card = alice.card();
        let release = KeyRelease {
            owner: "alice".into(),
            owner_fingerprint: card.fingerprint().unwrap(),
            dataset: "visits".into(),
            envelope: header,
            agreement,
            job,
            requested_by: "bob".into(),
            platform: Platform::Sim,
            measurement,
            epsilon,
            nonce: [1; 32],
            at: Timestamp(30),
        };
        let entry = LogEntry::sign(
            Statement::KeyRelease(release.clone()),
            card.signing_key,
            |label, bytes| alice.sign(label, bytes),
        )
        .unwrap();
        let logged = LoggedEntry {
            index: 9,
            entry: entry.to_bytes(),
            checkpoint: String::new(),
            inclusion_proof: Vec::new(),
        };
        decide("approve", 20, b"approval");
        store
            .add_challenge(&[1; 32], &job, Timestamp(100), Timestamp(20))
            .unwrap()
            .unwrap();
        let mut seen = Vec::new();
        let granted = store
            .debit(&debit(&[1; 32]), Timestamp(30), |_, waiting| {
                seen = waiting;
                Ok((logged.clone(), "checkpoint".into()))
            })
            .unwrap();
        assert!(granted.is_ok());
        assert_eq!(
            seen,
            vec![b"approval".to_vec()],
            "the approval is logged first"
        );
        assert!(store.log_outbox().unwrap().is_empty());

        // The owner revokes between a release's first checks and its debit.
        decide("revoke", 40, b"revocation");
        store
            .add_challenge(&[2; 32], &JobId([6; 16]), Timestamp(100), Timestamp(40))
            .unwrap()
            .unwrap();
        let mut called = false;
        let mut second = debit(&[2; 32]);
        second.job = JobId([6; 16]);
        let refused = store
            .debit(&second, Timestamp(50), |_, _| {
                called = true;
                Ok((logged.clone(), "checkpoint".into()))
            })
            .unwrap();
        assert!(matches!(refused, Err(Refusal::MeasurementRevoked { .. })));
        assert!(!called, "nothing is logged for a refused release");
        assert_eq!(
            store.releases().unwrap(),
            vec![LoggedRelease { index: 9, release }],
            "the one granted release, as it was logged"
        );
    }
}
