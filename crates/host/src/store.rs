//! The host's SQLite store: uploaded datasets, agreements, jobs and sealed outputs.

use std::path::Path;

use rusqlite::{OptionalExtension, params};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_core::output::{SealedOutput, SignedReceipt};
use sealroom_core::party::{PartyCard, SigningPublicKey};
use sealroom_core::run::SignedRunRequest;
use sealroom_core::wire::JobFailure;
use sealroom_service::{Database, Schema, ServiceError};

use crate::blobs::StoredBlob;
use crate::jobs::{JobRecord, JobStatus};

const SQL: &str = "
CREATE TABLE IF NOT EXISTS parties (
    name TEXT PRIMARY KEY,
    signing_key TEXT NOT NULL UNIQUE,
    card TEXT NOT NULL,
    added_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    agreement TEXT NOT NULL,
    owner TEXT NOT NULL,
    dataset TEXT NOT NULL,
    size INTEGER NOT NULL,
    digest TEXT NOT NULL,
    header_digest TEXT NOT NULL,
    sealed_at_ms INTEGER NOT NULL,
    path TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (agreement, owner, dataset)
);
CREATE TABLE IF NOT EXISTS agreements (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    agreement TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    run_request TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_agreement ON jobs (agreement, created_at);
CREATE TABLE IF NOT EXISTS programs (
    module TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    path TEXT NOT NULL,
    published_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (
    job TEXT NOT NULL REFERENCES jobs(id),
    output TEXT NOT NULL,
    reader TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job, output, reader)
);
";

/// The tables and their version (files written before versions were kept predate signed envelopes and are refused).
const SCHEMA: Schema = Schema {
    sql: SQL,
    version: 1,
    unversioned_is_current: false,
};

/// A database operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostStoreError {
    /// SQLite failed.
    #[error("host database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored value is unreadable.
    #[error("host database holds an unreadable {what}: {reason}")]
    Corrupt {
        /// Which kind of stored value is unreadable.
        what: &'static str,
        /// What went wrong, in words.
        reason: String,
    },
}

fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, HostStoreError> {
    serde_json::from_str(text).map_err(|e| HostStoreError::Corrupt {
        what,
        reason: e.to_string(),
    })
}

fn parse_id<T: std::str::FromStr<Err = sealroom_core::ids::IdParseError>>(
    what: &'static str,
    text: &str,
) -> Result<T, HostStoreError> {
    text.parse().map_err(
        |e: sealroom_core::ids::IdParseError| HostStoreError::Corrupt {
            what,
            reason: e.to_string(),
        },
    )
}

/// The host's store.
#[derive(Debug)]
pub struct HostStore {
    db: Database,
}

impl HostStore {
    /// Opens or creates the store.
    pub fn open(path: &Path) -> Result<Self, ServiceError> {
        Ok(Self {
            db: Database::open(path, &SCHEMA)?,
        })
    }

    /// Onboards a party: the host serves it from now on. A party of the same name is replaced.
    pub fn add_party(&self, card: &PartyCard, at: Timestamp) -> Result<(), HostStoreError> {
        self.db.lock().execute(
            "INSERT INTO parties (name, signing_key, card, added_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET signing_key = excluded.signing_key, card = excluded.card, added_at = excluded.added_at",
            params![
                card.name,
                sealroom_core::bytes::encode(&card.signing_key.0),
                serde_json::to_string(card).expect("serializes"),
                at.0
            ],
        )?;
        Ok(())
    }

    /// Stops serving a party; returns whether it was onboarded.
    pub fn remove_party(&self, name: &str) -> Result<bool, HostStoreError> {
        Ok(self
            .db
            .lock()
            .execute("DELETE FROM parties WHERE name = ?1", [name])?
            > 0)
    }

    /// Every onboarded party, by name.
    pub fn parties(&self) -> Result<Vec<PartyCard>, HostStoreError> {
        let conn = self.db.lock();
        let mut select = conn.prepare_cached("SELECT card FROM parties ORDER BY name")?;
        let cards = select
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        cards.iter().map(|c| from_json("party card", c)).collect()
    }

    /// The onboarded party of this name.
    pub fn party(&self, name: &str) -> Result<Option<PartyCard>, HostStoreError> {
        let card: Option<String> = self
            .db
            .lock()
            .query_row("SELECT card FROM parties WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        card.map(|c| from_json("party card", &c)).transpose()
    }

    /// The onboarded party with this signing key.
    pub fn party_by_key(
        &self,
        key: &SigningPublicKey,
    ) -> Result<Option<PartyCard>, HostStoreError> {
        let card: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT card FROM parties WHERE signing_key = ?1",
                [sealroom_core::bytes::encode(&key.0)],
                |r| r.get(0),
            )
            .optional()?;
        card.map(|c| from_json("party card", &c)).transpose()
    }

    /// Records an uploaded dataset (replacing an earlier upload of it under the same agreement).
    pub fn put_dataset(&self, blob: &StoredBlob, at: Timestamp) -> Result<(), HostStoreError> {
        self.db.lock().execute(
            "INSERT INTO datasets (agreement, owner, dataset, size, digest, header_digest, sealed_at_ms, path, uploaded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (agreement, owner, dataset) DO UPDATE SET size = excluded.size, digest = excluded.digest,
               header_digest = excluded.header_digest, sealed_at_ms = excluded.sealed_at_ms,
               path = excluded.path, uploaded_at = excluded.uploaded_at",
            params![
                blob.agreement.to_string(),
                blob.owner,
                blob.dataset,
                blob.size as i64,
                blob.digest.to_string(),
                blob.header_digest.to_string(),
                i64::try_from(blob.sealed_at_ms).unwrap_or(i64::MAX),
                blob.path.to_string_lossy(),
                at.0
            ],
        )?;
        Ok(())
    }

    /// An uploaded dataset of an agreement.
    pub fn dataset(
        &self,
        agreement: &AgreementId,
        owner: &str,
        dataset: &str,
    ) -> Result<Option<StoredBlob>, HostStoreError> {
        let row: Option<(i64, String, String, i64, String)> = self
            .db.lock()
            .query_row(
                "SELECT size, digest, header_digest, sealed_at_ms, path FROM datasets WHERE agreement = ?1 AND owner = ?2 AND dataset = ?3",
                params![agreement.to_string(), owner, dataset],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()?;
        row.map(|(size, digest, header_digest, sealed_at_ms, path)| {
            Ok(StoredBlob {
                agreement: *agreement,
                owner: owner.into(),
                dataset: dataset.into(),
                size: size as u64,
                digest: parse_id("digest", &digest)?,
                header_digest: parse_id("header digest", &header_digest)?,
                sealed_at_ms: sealed_at_ms as u64,
                path: path.into(),
            })
        })
        .transpose()
    }

    /// Stores a signed agreement.
    pub fn put_agreement(
        &self,
        agreement: &SignedAgreement,
        at: Timestamp,
    ) -> Result<(), HostStoreError> {
        self.db.lock().execute(
            "INSERT INTO agreements (id, body, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET body = excluded.body",
            params![
                agreement.id.to_string(),
                serde_json::to_string(agreement).expect("serializes"),
                at.0
            ],
        )?;
        Ok(())
    }

    /// A stored agreement.
    pub fn agreement(&self, id: &AgreementId) -> Result<Option<SignedAgreement>, HostStoreError> {
        let body: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT body FROM agreements WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| from_json("agreement", &b)).transpose()
    }

    /// Records a requested job as queued. Returns `false` if the job exists already (its run
    /// request was used before).
    pub fn queue_job(
        &self,
        job: &JobId,
        request: &SignedRunRequest,
        at: Timestamp,
    ) -> Result<bool, HostStoreError> {
        let inserted = self.db.lock().execute(
            "INSERT INTO jobs (id, agreement, requested_by, run_request, status, created_at) VALUES (?1, ?2, ?3, ?4, 'queued', ?5)
             ON CONFLICT (id) DO NOTHING",
            params![
                job.to_string(),
                request.request.agreement.to_string(),
                request.request.requested_by,
                serde_json::to_string(request).expect("serializes"),
                at.0
            ],
        )?;
        Ok(inserted > 0)
    }

    /// Marks a queued job as running.
    pub fn start_job(&self, job: &JobId) -> Result<(), HostStoreError> {
        self.db.lock().execute(
            "UPDATE jobs SET status = 'running' WHERE id = ?1",
            params![job.to_string()],
        )?;
        Ok(())
    }

    /// Jobs of `agreement` requested after `since`, whatever became of them.
    pub fn jobs_since(
        &self,
        agreement: &AgreementId,
        since: Timestamp,
    ) -> Result<u64, HostStoreError> {
        let n: i64 = self.db.lock().query_row(
            "SELECT COUNT(*) FROM jobs WHERE agreement = ?1 AND created_at > ?2",
            params![agreement.to_string(), since.0],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// Jobs queued or running: of `agreement`, and in all.
    pub fn pending_jobs(&self, agreement: &AgreementId) -> Result<(u64, u64), HostStoreError> {
        let conn = self.db.lock();
        let (mine, all): (i64, i64) = conn.query_row(
            "SELECT COALESCE(SUM(agreement = ?1), 0), COUNT(*) FROM jobs WHERE status IN ('queued', 'running')",
            params![agreement.to_string()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((mine as u64, all as u64))
    }

    /// Marks every job still queued or running as failed: called when the host starts, since no
    /// isolate survives a host restart.
    pub fn fail_interrupted_jobs(&self, at: Timestamp) -> Result<u64, HostStoreError> {
        let failure = JobFailure {
            code: "host-restarted".into(),
            dataset: None,
            refusal: None,
            message: "the host stopped before this job finished; ask for a new run".into(),
        };
        Ok(self.db.lock().execute(
            "UPDATE jobs SET status = 'failed', finished_at = ?1, error = ?2 WHERE status IN ('queued', 'running')",
            params![at.0, serde_json::to_string(&failure).expect("serializes")],
        )? as u64)
    }

    /// Ids of the jobs of `agreement`, newest first (at most `limit`).
    pub fn jobs_of(
        &self,
        agreement: &AgreementId,
        limit: u32,
    ) -> Result<Vec<JobId>, HostStoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT id FROM jobs WHERE agreement = ?1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
        )?;
        let ids = stmt
            .query_map(params![agreement.to_string(), limit], |r| {
                r.get::<_, String>(0)
            })?
            .collect::<Result<Vec<_>, _>>()?;
        ids.iter().map(|id| parse_id("job id", id)).collect()
    }

    /// Records a finished job and its sealed outputs, all or nothing.
    pub fn finish_job(
        &self,
        job: &JobId,
        receipt: &SignedReceipt,
        outputs: &[SealedOutput],
        at: Timestamp,
    ) -> Result<(), HostStoreError> {
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        for o in outputs {
            tx.execute(
                "INSERT INTO outputs (job, output, reader, body) VALUES (?1, ?2, ?3, ?4)",
                params![
                    job.to_string(),
                    o.output,
                    o.reader,
                    serde_json::to_string(o).expect("serializes")
                ],
            )?;
        }
        tx.execute(
            "UPDATE jobs SET status = 'finished', finished_at = ?2, receipt = ?3 WHERE id = ?1",
            params![
                job.to_string(),
                at.0,
                serde_json::to_string(receipt).expect("serializes")
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Records a failed job; no output is stored.
    pub fn fail_job(
        &self,
        job: &JobId,
        failure: &JobFailure,
        at: Timestamp,
    ) -> Result<(), HostStoreError> {
        self.db.lock().execute(
            "UPDATE jobs SET status = 'failed', finished_at = ?2, error = ?3 WHERE id = ?1",
            params![
                job.to_string(),
                at.0,
                serde_json::to_string(failure).expect("serializes")
            ],
        )?;
        Ok(())
    }

    /// A job.
    pub fn job(&self, job: &JobId) -> Result<Option<JobRecord>, HostStoreError> {
        let conn = self.db.lock();
        let row = conn
            .query_row(
                "SELECT agreement, status, created_at, finished_at, error, receipt, requested_by FROM jobs WHERE id = ?1",
                params![job.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                },
            )
            .optional()?;
        let Some((agreement, status, created, finished, error, receipt, requested_by)) = row else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare("SELECT output, reader FROM outputs WHERE job = ?1 ORDER BY output, reader")?;
        let outputs = stmt
            .query_map(params![job.to_string()], |r| {
                Ok(crate::jobs::OutputRef {
                    output: r.get(0)?,
                    reader: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(JobRecord {
            job_id: *job,
            agreement_id: parse_id("agreement id", &agreement)?,
            requested_by,
            status: match status.as_str() {
                "queued" => JobStatus::Queued,
                "running" => JobStatus::Running,
                "finished" => JobStatus::Finished,
                _ => JobStatus::Failed,
            },
            created_at: Timestamp(created),
            finished_at: finished.map(Timestamp),
            error: error.map(|e| from_json("job error", &e)).transpose()?,
            receipt: receipt.map(|r| from_json("receipt", &r)).transpose()?,
            outputs,
        }))
    }

    /// Stores a published program whose module is at `path`.
    pub fn put_program(
        &self,
        program: &crate::programs::PublishedProgram,
        path: &Path,
        at: Timestamp,
    ) -> Result<(), HostStoreError> {
        let body = serde_json::to_string(program).expect("a program serializes");
        self.db.lock().execute(
            "INSERT OR IGNORE INTO programs (module, name, body, path, published_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                program.publication.publication.module,
                program.publication.publication.name,
                body,
                path.to_string_lossy(),
                at.0
            ],
        )?;
        Ok(())
    }

    /// The published program whose module has this digest.
    pub fn program(
        &self,
        module: &str,
    ) -> Result<Option<crate::programs::PublishedProgram>, HostStoreError> {
        Ok(self.program_with_path(module)?.map(|(p, _)| p))
    }

    /// The published program whose module has this digest, and where its module is stored.
    pub fn program_with_path(
        &self,
        module: &str,
    ) -> Result<Option<(crate::programs::PublishedProgram, std::path::PathBuf)>, HostStoreError>
    {
        let row: Option<(String, String)> = self
            .db
            .lock()
            .query_row(
                "SELECT body, path FROM programs WHERE module = ?1",
                params![module],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        row.map(|(body, path)| Ok((from_json("program", &body)?, path.into())))
            .transpose()
    }

    /// The outputs of a job sealed to `reader`.
    pub fn outputs_for(
        &self,
        job: &JobId,
        reader: &str,
    ) -> Result<Vec<SealedOutput>, HostStoreError> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare("SELECT body FROM outputs WHERE job = ?1 AND reader = ?2 ORDER BY output")?;
        let bodies = stmt
            .query_map(params![job.to_string(), reader], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        bodies
            .iter()
            .map(|b| from_json("sealed output", b))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealroom_core::run::{RUN_REQUEST_FORMAT, RunRequest};
    use sealroom_core::sign::Signature;

    fn request(agreement: AgreementId, nonce: u8) -> SignedRunRequest {
        SignedRunRequest {
            request: RunRequest {
                format: RUN_REQUEST_FORMAT.into(),
                agreement,
                requested_by: "bob".into(),
                issued_at: Timestamp(10),
                nonce: [nonce; 16],
            },
            signature: Signature([0; 64]),
        }
    }

    #[test]
    fn jobs_are_queued_once_counted_while_pending_and_failed_by_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = HostStore::open(&dir.path().join("host.sqlite")).unwrap();
        let (mine, other) = (AgreementId([1; 32]), AgreementId([2; 32]));
        let (a, b, c) = (JobId([1; 16]), JobId([2; 16]), JobId([3; 16]));
        assert!(
            store
                .queue_job(&a, &request(mine, 1), Timestamp(10))
                .unwrap()
        );
        assert!(
            !store
                .queue_job(&a, &request(mine, 1), Timestamp(11))
                .unwrap(),
            "a run request is used once"
        );
        assert!(
            store
                .queue_job(&b, &request(mine, 2), Timestamp(20))
                .unwrap()
        );
        assert!(
            store
                .queue_job(&c, &request(other, 3), Timestamp(30))
                .unwrap()
        );
        store.start_job(&a).unwrap();
        assert_eq!(store.pending_jobs(&mine).unwrap(), (2, 3));
        assert_eq!(store.jobs_since(&mine, Timestamp(15)).unwrap(), 1);
        assert_eq!(
            store.jobs_of(&mine, 10).unwrap(),
            vec![b, a],
            "newest first"
        );

        let failure = JobFailure {
            code: "isolate-failed".into(),
            dataset: None,
            refusal: None,
            message: "it stopped".into(),
        };
        store.fail_job(&b, &failure, Timestamp(40)).unwrap();
        assert_eq!(store.pending_jobs(&mine).unwrap(), (1, 2));

        assert_eq!(store.fail_interrupted_jobs(Timestamp(50)).unwrap(), 2);
        assert_eq!(store.pending_jobs(&mine).unwrap(), (0, 0));
        let interrupted = store.job(&a).unwrap().unwrap();
        assert_eq!(interrupted.status, JobStatus::Failed);
        assert_eq!(interrupted.error.unwrap().code, "host-restarted");
        assert_eq!(interrupted.finished_at, Some(Timestamp(50)));
        let failed = store.job(&b).unwrap().unwrap();
        assert_eq!(
            failed.error.unwrap().code,
            "isolate-failed",
            "kept as it was"
        );
        assert!(store.job(&JobId([9; 16])).unwrap().is_none());
    }
}
