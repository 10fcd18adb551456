//! One aggregator's SQLite store: its HPKE keys, its tasks, the leader's uploaded reports and
//! jobs, the helper's answered jobs, batch buckets, replay protection and collections.
//!
//! Every state change that must not be half done (a job's output shares committed with its
//! reports marked aggregated; a collection's result stored with its batch marked collected) is
//! one transaction, so an aggregator killed at any point restarts into a state from which it
//! finishes with nothing counted twice or lost.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use sealroom_dap::hpke::{HpkeKeypair, KDF_HKDF_SHA256};
use sealroom_dap::messages::{HpkeConfig, Interval, TaskId, decode_all, encode};
use sealroom_service::{Database, Schema, ServiceError};

use crate::error::DapError;
use crate::task::AggregatorTask;

const SCHEMA: Schema = Schema {
    version: 1,
    unversioned_is_current: false,
    sql: "
CREATE TABLE IF NOT EXISTS hpke_keys (
    config_id INTEGER PRIMARY KEY,
    config BLOB NOT NULL,
    private_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS tasks (
    task_id BLOB PRIMARY KEY,
    task TEXT NOT NULL
);
-- Leader: every uploaded report, by state: 0 waiting, 1 in an aggregation job, 2 done
-- (aggregated or rejected; its shares are then erased and only its id kept against replays).
CREATE TABLE IF NOT EXISTS reports (
    task_id BLOB NOT NULL,
    report_id BLOB NOT NULL,
    time INTEGER NOT NULL,
    report BLOB NOT NULL,
    state INTEGER NOT NULL,
    PRIMARY KEY (task_id, report_id)
);
CREATE INDEX IF NOT EXISTS reports_by_state ON reports (task_id, state, time);
-- Helper: ids of reports committed to a batch bucket.
CREATE TABLE IF NOT EXISTS aggregated (
    task_id BLOB NOT NULL,
    report_id BLOB NOT NULL,
    PRIMARY KEY (task_id, report_id)
);
-- Batch buckets (DAP-18 §4.5.3): a time unit (time_interval) or a batch id (leader_selected).
CREATE TABLE IF NOT EXISTS buckets (
    task_id BLOB NOT NULL,
    bucket BLOB NOT NULL,
    bucket_time INTEGER,
    agg_share BLOB,
    report_count INTEGER NOT NULL,
    checksum BLOB NOT NULL,
    min_time INTEGER,
    max_time INTEGER,
    collected INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, bucket)
);
CREATE INDEX IF NOT EXISTS buckets_by_time ON buckets (task_id, bucket_time);
-- Collected time intervals [start, end) in time-precision units.
CREATE TABLE IF NOT EXISTS collected_intervals (
    task_id BLOB NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
-- Leader: aggregation jobs (state 0 running, 1 finished, 2 abandoned), with the exact request
-- sent to the helper, so that a restarted leader re-sends it byte for byte.
CREATE TABLE IF NOT EXISTS leader_jobs (
    task_id BLOB NOT NULL,
    job_id BLOB NOT NULL,
    bucket BLOB,
    request BLOB NOT NULL,
    state INTEGER NOT NULL,
    PRIMARY KEY (task_id, job_id)
);
CREATE TABLE IF NOT EXISTS leader_job_reports (
    task_id BLOB NOT NULL,
    job_id BLOB NOT NULL,
    ord INTEGER NOT NULL,
    report_id BLOB NOT NULL,
    time INTEGER NOT NULL,
    verify_state BLOB NOT NULL,
    PRIMARY KEY (task_id, job_id, ord)
);
-- Helper: each aggregation job's request digest and answer (a repeated request gets the same
-- answer; a different one under the same id is refused).
CREATE TABLE IF NOT EXISTS helper_jobs (
    task_id BLOB NOT NULL,
    job_id BLOB NOT NULL,
    request_hash BLOB NOT NULL,
    response BLOB NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, job_id)
);
-- Leader: collection jobs (state 0 waiting, 1 ready, 2 failed, 3 deleted); fetched once the
-- collector has read the result; last_report is the newest report's rowid when it was
-- created (reports uploaded later do not hold it back).
CREATE TABLE IF NOT EXISTS collection_jobs (
    task_id BLOB NOT NULL,
    job_id BLOB NOT NULL,
    request BLOB NOT NULL,
    request_hash BLOB NOT NULL,
    state INTEGER NOT NULL,
    response BLOB,
    problem TEXT,
    detail TEXT,
    created INTEGER NOT NULL,
    fetched INTEGER NOT NULL DEFAULT 0,
    last_report INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (task_id, job_id)
);
-- Helper: answered aggregate share requests.
CREATE TABLE IF NOT EXISTS aggregate_shares (
    task_id BLOB NOT NULL,
    share_id BLOB NOT NULL,
    request_hash BLOB NOT NULL,
    response BLOB NOT NULL,
    PRIMARY KEY (task_id, share_id)
);
",
};

/// A report's state in the leader's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum ReportState {
    /// Uploaded, not yet in an aggregation job.
    Waiting = 0,
    /// In a running aggregation job.
    InJob = 1,
    /// Aggregated or rejected; only its id is kept.
    Done = 2,
}

/// A collection job's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i64)]
pub enum CollectionState {
    /// Not yet run.
    Waiting = 0,
    /// Its result is stored.
    Ready = 1,
    /// It failed with a stored problem.
    Failed = 2,
    /// The collector deleted it.
    Deleted = 3,
}

/// An aggregator's store.
#[derive(Debug)]
pub struct Store {
    db: Database,
}

/// A time in precision units as SQLite stores it.
pub fn sql_time(time: u64) -> Result<i64, DapError> {
    i64::try_from(time).map_err(|_| DapError::internal("a time beyond 2^63 units"))
}

/// The batch bucket key of a time unit.
pub fn time_bucket(time: u64) -> Vec<u8> {
    time.to_be_bytes().to_vec()
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, ServiceError> {
        Ok(Self {
            db: Database::open(path, &SCHEMA)?,
        })
    }

    /// The connection, for a transaction.
    pub fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.db.lock()
    }

    /// The aggregator's HPKE keys; one is generated (config id 1, X25519/HKDF-SHA256/AES-128-GCM)
    /// if there are none.
    pub fn hpke_keys(&self) -> Result<Vec<HpkeKeypair>, DapError> {
        let conn = self.lock();
        let mut keys = Vec::new();
        {
            let mut statement =
                conn.prepare("SELECT config, private_key FROM hpke_keys ORDER BY config_id")?;
            let rows = statement.query_map([], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            for row in rows {
                let (config, private_key) = row?;
                let config: HpkeConfig =
                    decode_all(&config, "HpkeConfig").map_err(DapError::internal)?;
                keys.push(HpkeKeypair::new(config, private_key).map_err(DapError::internal)?);
            }
        }
        if keys.is_empty() {
            let key = HpkeKeypair::generate(1);
            debug_assert_eq!(key.config.kdf_id, KDF_HKDF_SHA256);
            conn.execute(
                "INSERT INTO hpke_keys (config_id, config, private_key) VALUES (?1, ?2, ?3)",
                params![
                    key.config.id,
                    encode(&key.config, "HpkeConfig").map_err(DapError::internal)?,
                    key.private_key()
                ],
            )?;
            keys.push(key);
        }
        Ok(keys)
    }

    /// Adds a task; refuses one whose id is already taken.
    pub fn add_task(&self, task: &AggregatorTask) -> Result<(), DapError> {
        task.validate()
            .map_err(|e| DapError::Conflict(e.to_string()))?;
        let added = self.lock().execute(
            "INSERT OR IGNORE INTO tasks (task_id, task) VALUES (?1, ?2)",
            params![task.task_id.0, task.to_json()],
        )?;
        if added == 0 {
            return Err(DapError::Conflict(format!(
                "task {} already exists in this store",
                task.task_id
            )));
        }
        Ok(())
    }

    /// The task `task_id`, if this aggregator has it.
    pub fn task(&self, task_id: &TaskId) -> Result<Option<AggregatorTask>, DapError> {
        let json: Option<String> = self
            .lock()
            .query_row(
                "SELECT task FROM tasks WHERE task_id = ?1",
                [task_id.0],
                |r| r.get(0),
            )
            .optional()?;
        json.map(|json| AggregatorTask::from_json(&json).map_err(DapError::internal))
            .transpose()
    }

    /// Every task, in id order.
    pub fn tasks(&self) -> Result<Vec<AggregatorTask>, DapError> {
        let conn = self.lock();
        let mut statement = conn.prepare("SELECT task FROM tasks ORDER BY task_id")?;
        let rows = statement.query_map([], |r| r.get::<_, String>(0))?;
        let mut tasks = Vec::new();
        for json in rows {
            tasks.push(AggregatorTask::from_json(&json?).map_err(DapError::internal)?);
        }
        Ok(tasks)
    }
}

/// Whether a collected interval of `task_id` overlaps `[start, end)`.
pub fn interval_collected(
    conn: &Connection,
    task_id: &TaskId,
    start: i64,
    end: i64,
) -> rusqlite::Result<bool> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM collected_intervals
                        WHERE task_id = ?1 AND start < ?3 AND end > ?2)",
    )?
    .query_row(params![task_id.0, start, end], |r| r.get(0))
}

/// The interval `[start, start + duration)` in SQLite's integers, or `None` if it overflows.
pub fn interval_bounds(interval: &Interval) -> Option<(i64, i64)> {
    let start = i64::try_from(interval.start.0).ok()?;
    let end = start.checked_add(i64::try_from(interval.duration.0).ok()?)?;
    Some((start, end))
}
