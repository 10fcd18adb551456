//! The log's SQLite storage: entries and the tree's stored hashes.
//!
//! Hashes are kept in the layout of `tlog_tiles` (Go's sumdb `tlog`): every
//! complete subtree's hash is stored once, at `stored_hash_index(level, n)`, so
//! roots and proofs need only `O(log n)` reads. An entry and the hashes it adds
//! are written in one transaction: after a crash the tree is whole at the last
//! committed size, and nothing acknowledged is lost (`synchronous = FULL`).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sealroom_service::{Schema, ServiceError};
use tlog_tiles::{Hash, HashReader};

use sealroom_ledger::leaf_hash;

const SQL: &str = "
CREATE TABLE IF NOT EXISTS entries (
    idx INTEGER PRIMARY KEY,
    leaf_hash BLOB NOT NULL UNIQUE,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS hashes (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL
);
";

/// The tables and their version (files written before versions were kept have exactly these tables).
const SCHEMA: Schema = Schema {
    sql: SQL,
    version: 1,
    unversioned_is_current: true,
};

/// The log's storage failed or is inconsistent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite failed.
    #[error("log database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database could not be opened.
    #[error(transparent)]
    Open(#[from] ServiceError),
    /// A size or index beyond the tree was asked for.
    #[error("{what} {value} is beyond the log's {size} entries")]
    BeyondTree {
        /// What was asked for.
        what: &'static str,
        /// The value asked for.
        value: u64,
        /// The log's size.
        size: u64,
    },
    /// A consistency proof was asked for between sizes that have none.
    #[error(
        "there is no consistency proof from size {from} to size {to}: the older size must be at least 1 and at most the newer"
    )]
    NoConsistencyProof {
        /// The older size asked for.
        from: u64,
        /// The newer size asked for.
        to: u64,
    },
    /// The stored tree does not match its entries.
    #[error("the stored tree is damaged: {0}")]
    Damaged(String),
}

/// Reads stored hashes through one SQLite connection (or transaction).
struct SqlHashes<'a>(&'a Connection);

impl HashReader for SqlHashes<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        let fail = |e: rusqlite::Error| tlog_tiles::Error::InvalidInput(e.to_string());
        let mut select = self
            .0
            .prepare_cached("SELECT hash FROM hashes WHERE id = ?1")
            .map_err(fail)?;
        indexes
            .iter()
            .map(|&id| {
                let bytes: Vec<u8> = select
                    .query_row([id as i64], |r| r.get(0))
                    .optional()
                    .map_err(fail)?
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)?;
                bytes
                    .try_into()
                    .map(Hash)
                    .map_err(|_| tlog_tiles::Error::MalformedHash)
            })
            .collect()
    }
}

fn tree_error(e: tlog_tiles::Error) -> StoreError {
    StoreError::Damaged(e.to_string())
}

/// The log's entries and stored hashes in one SQLite file.
#[derive(Debug)]
pub struct LogStore {
    conn: Connection,
    size: u64,
}

/// Where an appended entry landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The entry's index.
    pub index: u64,
    /// False when the same bytes were already logged (appends are idempotent).
    pub new: bool,
}

impl LogStore {
    /// Opens or creates the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = sealroom_service::open_database(path, &SCHEMA)?;
        let size: i64 =
            conn.query_row("SELECT COALESCE(MAX(idx) + 1, 0) FROM entries", [], |r| {
                r.get(0)
            })?;
        let size = size as u64;
        let hashes: i64 = conn.query_row("SELECT COUNT(*) FROM hashes", [], |r| r.get(0))?;
        if hashes as u64 != tlog_tiles::stored_hash_count(size) {
            return Err(StoreError::Damaged(format!(
                "{size} entries but {hashes} stored hashes (expected {})",
                tlog_tiles::stored_hash_count(size)
            )));
        }
        Ok(Self { conn, size })
    }

    /// Entries in the log.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Tells a read-only store how many entries another connection has committed.
    pub(crate) fn observe_size(&mut self, size: u64) {
        self.size = self.size.max(size);
    }

    /// Appends entries in one transaction and returns where each landed.
    /// An entry already in the log is not added again; its existing index is returned.
    pub fn append(&mut self, entries: &[Vec<u8>]) -> Result<Vec<Placed>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut size = self.size;
        let mut placed = Vec::with_capacity(entries.len());
        for body in entries {
            let leaf = leaf_hash(body);
            let existing: Option<i64> = tx
                .prepare_cached("SELECT idx FROM entries WHERE leaf_hash = ?1")?
                .query_row([&leaf.0[..]], |r| r.get(0))
                .optional()?;
            if let Some(index) = existing {
                placed.push(Placed {
                    index: index as u64,
                    new: false,
                });
                continue;
            }
            let hashes = tlog_tiles::stored_hashes_for_record_hash(size, leaf, &SqlHashes(&tx))
                .map_err(tree_error)?;
            let first = tlog_tiles::stored_hash_index(0, size);
            let mut insert = tx.prepare_cached("INSERT INTO hashes (id, hash) VALUES (?1, ?2)")?;
            for (i, h) in hashes.iter().enumerate() {
                insert.execute(params![(first + i as u64) as i64, &h.0[..]])?;
            }
            tx.prepare_cached("INSERT INTO entries (idx, leaf_hash, body) VALUES (?1, ?2, ?3)")?
                .execute(params![size as i64, &leaf.0[..], body])?;
            placed.push(Placed {
                index: size,
                new: true,
            });
            size += 1;
        }
        tx.commit()?;
        self.size = size;
        Ok(placed)
    }

    fn check_size(&self, what: &'static str, value: u64) -> Result<(), StoreError> {
        if value > self.size {
            return Err(StoreError::BeyondTree {
                what,
                value,
                size: self.size,
            });
        }
        Ok(())
    }

    /// The root hash of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<[u8; 32], StoreError> {
        self.check_size("tree size", size)?;
        Ok(tlog_tiles::tree_hash(size, &SqlHashes(&self.conn))
            .map_err(tree_error)?
            .0)
    }

    /// The entry at `index`.
    pub fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .prepare_cached("SELECT body FROM entries WHERE idx = ?1")?
            .query_row([index as i64], |r| r.get(0))
            .optional()?)
    }

    /// Up to `count` entries from `start`, in order.
    pub fn entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut select = self
            .conn
            .prepare_cached("SELECT body FROM entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx")?;
        let rows = select.query_map(
            [
                start as i64,
                start.saturating_add(count).min(i64::MAX as u64) as i64,
            ],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.check_size("tree size", size)?;
        if index >= size {
            return Err(StoreError::BeyondTree {
                what: "index",
                value: index,
                size,
            });
        }
        let proof =
            tlog_tiles::prove_record(size, index, &SqlHashes(&self.conn)).map_err(tree_error)?;
        Ok(proof.into_iter().map(|h| h.0).collect())
    }

    /// The consistency proof from the tree of `from` entries to the tree of `to` entries.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.check_size("tree size", to)?;
        if from == 0 || from > to {
            return Err(StoreError::NoConsistencyProof { from, to });
        }
        let proof = tlog_tiles::prove_tree(to, from, &SqlHashes(&self.conn)).map_err(tree_error)?;
        Ok(proof.into_iter().map(|h| h.0).collect())
    }

    /// Recomputes every stored hash from the entries and compares: the tree matches its entries.
    pub fn check_integrity(&self) -> Result<(), StoreError> {
        let mut frontier = sealroom_ledger::Frontier::default();
        let mut select = self
            .conn
            .prepare("SELECT idx, leaf_hash, body FROM entries ORDER BY idx")?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let (idx, stored_leaf, body): (i64, Vec<u8>, Vec<u8>) =
                (row.get(0)?, row.get(1)?, row.get(2)?);
            let leaf = leaf_hash(&body);
            if idx as u64 != frontier.size() || stored_leaf != leaf.0 {
                return Err(StoreError::Damaged(format!(
                    "entry {idx} does not match its leaf hash or position"
                )));
            }
            frontier.push(leaf.0);
        }
        if frontier.root() != self.root(self.size)? {
            return Err(StoreError::Damaged(
                "the stored root differs from the root of the entries".into(),
            ));
        }
        Ok(())
    }
}
