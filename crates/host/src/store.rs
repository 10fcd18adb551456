//! The host's SQLite store: uploaded datasets, agreements, jobs and sealed outputs.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{OptionalExtension, params};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::{AgreementId, JobId};
use sealroom_core::output::{SealedOutput, SignedReceipt};
use sealroom_core::wire::JobFailure;
use sealroom_service::ServiceError;

use crate::blobs::StoredBlob;
use crate::jobs::{JobRecord, JobStatus};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS datasets (
    owner TEXT NOT NULL,
    dataset TEXT NOT NULL,
    size INTEGER NOT NULL,
    digest TEXT NOT NULL,
    path TEXT NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (owner, dataset)
);
CREATE TABLE IF NOT EXISTS agreements (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    stored_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    agreement TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    error TEXT,
    receipt TEXT
);
CREATE TABLE IF NOT EXISTS outputs (
    job TEXT NOT NULL REFERENCES jobs(id),
    output TEXT NOT NULL,
    reader TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job, output, reader)
);
";

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
        /// What.
        what: &'static str,
        /// Why.
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

/// The host's store.
#[derive(Debug)]
pub struct HostStore {
    conn: Mutex<rusqlite::Connection>,
}

impl HostStore {
    /// Opens or creates the store.
    pub fn open(path: &Path) -> Result<Self, ServiceError> {
        Ok(Self {
            conn: Mutex::new(sealroom_service::open_database(path, SCHEMA)?),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, rusqlite::Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records an uploaded dataset (replacing an earlier upload).
    pub fn put_dataset(&self, blob: &StoredBlob, at: Timestamp) -> Result<(), HostStoreError> {
        self.conn().execute(
            "INSERT INTO datasets (owner, dataset, size, digest, path, uploaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (owner, dataset) DO UPDATE SET size = excluded.size, digest = excluded.digest,
               path = excluded.path, uploaded_at = excluded.uploaded_at",
            params![blob.owner, blob.dataset, blob.size as i64, blob.digest.to_string(), blob.path.to_string_lossy(), at.0],
        )?;
        Ok(())
    }

    /// An uploaded dataset.
    pub fn dataset(
        &self,
        owner: &str,
        dataset: &str,
    ) -> Result<Option<StoredBlob>, HostStoreError> {
        let row: Option<(i64, String, String)> = self
            .conn()
            .query_row(
                "SELECT size, digest, path FROM datasets WHERE owner = ?1 AND dataset = ?2",
                params![owner, dataset],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        row.map(|(size, digest, path)| {
            Ok(StoredBlob {
                owner: owner.into(),
                dataset: dataset.into(),
                size: size as u64,
                digest: digest
                    .parse()
                    .map_err(
                        |e: sealroom_core::ids::IdParseError| HostStoreError::Corrupt {
                            what: "digest",
                            reason: e.to_string(),
                        },
                    )?,
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
        self.conn().execute(
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

    /// The signing keys of every party to a stored agreement: they may write to the log.
    pub fn party_keys(
        &self,
    ) -> Result<Vec<sealroom_core::party::SigningPublicKey>, HostStoreError> {
        let conn = self.conn();
        let mut select = conn.prepare_cached("SELECT body FROM agreements")?;
        let bodies = select
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        let mut keys = Vec::new();
        for body in bodies {
            let agreement: SignedAgreement = from_json("agreement", &body)?;
            keys.extend(agreement.agreement.parties.iter().map(|p| p.signing_key));
        }
        Ok(keys)
    }

    /// A stored agreement.
    pub fn agreement(&self, id: &AgreementId) -> Result<Option<SignedAgreement>, HostStoreError> {
        let body: Option<String> = self
            .conn()
            .query_row(
                "SELECT body FROM agreements WHERE id = ?1",
                params![id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        body.map(|b| from_json("agreement", &b)).transpose()
    }

    /// Records a job as running.
    pub fn start_job(
        &self,
        job: &JobId,
        agreement: &AgreementId,
        at: Timestamp,
    ) -> Result<(), HostStoreError> {
        self.conn().execute(
            "INSERT INTO jobs (id, agreement, status, created_at) VALUES (?1, ?2, 'running', ?3)",
            params![job.to_string(), agreement.to_string(), at.0],
        )?;
        Ok(())
    }

    /// Records a finished job and its sealed outputs, all or nothing.
    pub fn finish_job(
        &self,
        job: &JobId,
        receipt: &SignedReceipt,
        outputs: &[SealedOutput],
        at: Timestamp,
    ) -> Result<(), HostStoreError> {
        let mut conn = self.conn();
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
        self.conn().execute(
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
        let conn = self.conn();
        let row = conn
            .query_row(
                "SELECT agreement, status, created_at, finished_at, error, receipt FROM jobs WHERE id = ?1",
                params![job.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        let Some((agreement, status, created, finished, error, receipt)) = row else {
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
            agreement_id: agreement
                .parse()
                .map_err(
                    |e: sealroom_core::ids::IdParseError| HostStoreError::Corrupt {
                        what: "agreement id",
                        reason: e.to_string(),
                    },
                )?,
            status: match status.as_str() {
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

    /// The outputs of a job sealed to `reader`.
    pub fn outputs_for(
        &self,
        job: &JobId,
        reader: &str,
    ) -> Result<Vec<SealedOutput>, HostStoreError> {
        let conn = self.conn();
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
