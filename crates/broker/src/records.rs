//! The owner's records, read a page at a time for the owner's portal: the agreements the
//! broker knows, decisions, releases newest first, and refusals.
//!
//! Every read is indexed (releases and refusals by their row id), so a page costs the same
//! with a hundred or a million rows.

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use sealroom_core::agreement::SignedAgreement;
use sealroom_core::attestation::Platform;
use sealroom_core::clock::Timestamp;
use sealroom_core::ids::{AgreementId, Measurement};
use sealroom_core::statement::Decision;
use sealroom_ledger::{KeyRelease, LogEntry, Statement, VerifiedCheckpoint};

use crate::store::{
    BrokerStore, CurrentDecision, RefusalRecord, StoreError, last_checkpoint, refusal_record,
    save_checkpoint,
};

/// A release as the broker recorded it, with the exact log entry it appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRecord {
    /// When the key was released.
    pub at: Timestamp,
    /// ε spent, in millionths.
    pub epsilon_micros: u64,
    /// The entry's index in the transparency log.
    pub index: u64,
    /// The entry's bytes, as appended.
    pub entry: Vec<u8>,
    /// What the entry says, or why the kept bytes are not a key release.
    pub release: Result<KeyRelease, String>,
}

/// A stored decision about one runtime of one agreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    /// The platform.
    pub platform: Platform,
    /// The runtime id.
    pub measurement: Measurement,
    /// The current decision and when it was issued.
    pub current: CurrentDecision,
}

fn corrupt_text(
    column: usize,
    e: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e))
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadText(String);

impl BrokerStore {
    /// Every agreement the owner acted on: registered an envelope for, decided about, or spent
    /// budget under; plus those stored with [`Self::put_agreement`]. Sorted by id.
    pub fn agreement_ids(&self) -> Result<Vec<AgreementId>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT agreement FROM envelopes UNION SELECT agreement FROM decisions
             UNION SELECT agreement FROM budgets UNION SELECT id FROM agreements ORDER BY 1",
        )?;
        let rows = stmt.query_map([], |r| {
            r.get::<_, String>(0)?
                .parse()
                .map_err(|e: sealroom_core::ids::IdParseError| corrupt_text(0, e))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps a copy of a signed agreement (checked by the caller), replacing any copy kept
    /// before.
    pub fn put_agreement(
        &self,
        signed: &SignedAgreement,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.db.lock().execute(
            "INSERT INTO agreements (id, signed, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET signed = excluded.signed, stored_at = excluded.stored_at",
            params![
                signed.id.to_string(),
                serde_json::to_string(signed).expect("an agreement serializes"),
                now.0
            ],
        )?;
        Ok(())
    }

    /// The kept copy of an agreement, if any.
    pub fn stored_agreement(
        &self,
        id: &AgreementId,
    ) -> Result<Option<SignedAgreement>, StoreError> {
        let text: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT signed FROM agreements WHERE id = ?1",
                [id.to_string()],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt_text(0, e).into()))
            .transpose()
    }

    /// The current decision about every runtime of `agreement` the owner decided on.
    pub fn decisions_of(&self, agreement: &AgreementId) -> Result<Vec<DecisionRecord>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT platform, measurement, decision, issued_at FROM decisions WHERE agreement = ?1
             ORDER BY platform, measurement",
        )?;
        let rows = stmt.query_map([agreement.to_string()], |r| {
            let platform: String = r.get(0)?;
            let measurement: String = r.get(1)?;
            let decision: String = r.get(2)?;
            Ok(DecisionRecord {
                platform: Platform::from_name(&platform)
                    .ok_or_else(|| corrupt_text(0, BadText(format!("platform {platform:?}"))))?,
                measurement: measurement
                    .parse()
                    .map_err(|e: sealroom_core::ids::IdParseError| corrupt_text(1, e))?,
                current: CurrentDecision {
                    decision: if decision == "approve" {
                        Decision::Approve
                    } else {
                        Decision::Revoke
                    },
                    issued_at: Timestamp(r.get(3)?),
                },
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many releases were granted (rows are never deleted, so this is the largest row id).
    pub fn release_count(&self) -> Result<u64, StoreError> {
        count(self, "SELECT COALESCE(MAX(id), 0) FROM releases")
    }

    /// Up to `limit` releases, newest first, skipping the `offset` newest. Rows are never
    /// deleted, so their ids are dense and a page is found by id: its cost does not grow with
    /// `offset`.
    pub fn releases_newest_first(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<ReleaseRecord>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT at, epsilon_micros, log_index, entry FROM releases
             WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM releases) - ?2 ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![sql_int(limit), sql_int(offset)], |r| {
            Ok((
                Timestamp(r.get(0)?),
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
                r.get::<_, Vec<u8>>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (at, epsilon_micros, index, entry) = row?;
            let release = match LogEntry::from_bytes(&entry).map(|e| e.statement) {
                Ok(Statement::KeyRelease(release)) => Ok(release),
                Ok(other) => Err(format!("it is a {} entry", other.kind())),
                Err(e) => Err(e.to_string()),
            };
            Ok(ReleaseRecord {
                at,
                epsilon_micros,
                index,
                entry,
                release,
            })
        })
        .collect()
    }

    /// How many refusals were recorded (the largest row id, as for releases).
    pub fn refusal_count(&self) -> Result<u64, StoreError> {
        count(self, "SELECT COALESCE(MAX(id), 0) FROM refusals")
    }

    /// Up to `limit` refusals, newest first, skipping the `offset` newest (found by id, as
    /// releases are).
    pub fn refusals_newest_first(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<RefusalRecord>, StoreError> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT at, agreement, dataset, job, code, detail FROM refusals
             WHERE id <= (SELECT COALESCE(MAX(id), 0) FROM refusals) - ?2 ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![sql_int(limit), sql_int(offset)], refusal_record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Remembers `newer` as the last checkpoint seen, if the kept one is still `checked` (the
    /// one the caller verified `newer` extends, by a consistency proof). Returns whether it was
    /// saved: a release may have kept a checkpoint of its own meanwhile, which `newer` was never
    /// checked against, and which then stays.
    pub fn advance_checkpoint(
        &self,
        checked: Option<&str>,
        newer: &VerifiedCheckpoint,
    ) -> Result<bool, StoreError> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let saved = last_checkpoint(&tx)?.as_deref() == checked;
        if saved {
            save_checkpoint(&tx, &newer.note)?;
        }
        tx.commit()?;
        Ok(saved)
    }
}

/// A count or offset as SQLite's integer (past `i64::MAX`, no row is that far anyway).
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn count(store: &BrokerStore, sql: &str) -> Result<u64, StoreError> {
    Ok(store.db.lock().query_row(sql, [], |r| r.get::<_, i64>(0))? as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Refusal;

    fn store_with(releases: u64, refusals: u64) -> (tempfile::TempDir, BrokerStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = BrokerStore::open(&dir.path().join("broker.sqlite")).unwrap();
        {
            let conn = store.db.lock();
            for n in 0..releases {
                conn.execute(
                    "INSERT INTO releases (at, agreement, dataset, job, platform, measurement, epsilon_micros, log_index, envelope, requested_by, entry)
                     VALUES (?1, 'a', 'd', ?2, 'sim', 'm', 1, ?1, 'e', 'r', X'7b7d')",
                    params![n as i64, format!("job-{n}")],
                )
                .unwrap();
            }
        }
        for n in 0..refusals {
            store
                .add_refusal(
                    Timestamp(n as i64),
                    None,
                    None,
                    None,
                    &Refusal::Malformed(format!("refusal {n}")),
                )
                .unwrap();
        }
        (dir, store)
    }

    #[test]
    fn pages_of_releases_cover_every_release_once_newest_first() {
        let (_dir, store) = store_with(60, 0);
        assert_eq!(store.release_count().unwrap(), 60);
        let mut seen = Vec::new();
        for (offset, expected) in [(0, 25), (25, 25), (50, 10), (75, 0)] {
            let page = store.releases_newest_first(offset, 25).unwrap();
            assert_eq!(page.len(), expected, "offset {offset}");
            seen.extend(page.iter().map(|r| r.index));
        }
        assert_eq!(seen, (0..60).rev().collect::<Vec<u64>>());
        assert!(
            store
                .releases_newest_first(u64::MAX, 25)
                .unwrap()
                .is_empty()
        );
        let damaged = &store.releases_newest_first(0, 1).unwrap()[0];
        assert!(
            damaged.release.is_err(),
            "a record that is no key release says so"
        );
    }

    #[test]
    fn pages_of_refusals_cover_every_refusal_once_newest_first() {
        let (_dir, store) = store_with(0, 30);
        assert_eq!(store.refusal_count().unwrap(), 30);
        assert!(store.releases_newest_first(0, 25).unwrap().is_empty());
        let first = store.refusals_newest_first(0, 25).unwrap();
        let second = store.refusals_newest_first(25, 25).unwrap();
        assert_eq!((first.len(), second.len()), (25, 5));
        assert_eq!(first[0].at, Timestamp(29));
        assert_eq!(second[4].at, Timestamp(0));
    }
}
