//! The SQLite file every service keeps its state in: WAL mode, full sync, a versioned schema.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::ServiceError;

/// A service's one SQLite connection, shared by its request handlers and serialized by a mutex.
#[derive(Debug)]
pub struct Database(Mutex<rusqlite::Connection>);

impl Database {
    /// Opens the database at `path` as [`open_database`] does.
    pub fn open(path: &Path, schema: &str, version: u32) -> Result<Self, ServiceError> {
        Ok(Self(Mutex::new(open_database(path, schema, version)?)))
    }

    /// The connection. A handler that panicked while holding it does not make it unusable: the
    /// transaction it had open was rolled back when it unwound.
    pub fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Opens (creating if needed) a SQLite database in WAL mode with `schema` at `version`.
///
/// A new database gets the schema and `PRAGMA user_version = version`; an existing one must
/// already be at `version`, so a store written by another build is refused at start rather
/// than failing halfway through a request.
pub fn open_database(
    path: &Path,
    schema: &str,
    version: u32,
) -> Result<rusqlite::Connection, ServiceError> {
    let path_text = path.display().to_string();
    let err = |source| ServiceError::Database {
        path: path_text.clone(),
        source,
    };
    let conn = rusqlite::Connection::open(path).map_err(err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(err)?;
    let found: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let tables: u32 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    if tables > 0 && found != version {
        return Err(ServiceError::SchemaVersion {
            path: path_text,
            found,
            expected: version,
        });
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(err)?;
    conn.execute_batch(&format!(
        "BEGIN; {schema}; PRAGMA user_version = {version}; COMMIT;"
    ))
    .map_err(err)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY);";

    #[test]
    fn a_new_file_gets_the_schema_and_reopens_at_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let conn = open_database(&path, SCHEMA, 3).unwrap();
        conn.execute("INSERT INTO things VALUES ('kept')", [])
            .unwrap();
        drop(conn);
        let conn = open_database(&path, SCHEMA, 3).unwrap();
        let name: String = conn
            .query_row("SELECT name FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "kept");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn a_handler_that_panics_mid_transaction_leaves_the_database_usable_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&dir.path().join("s.sqlite"), SCHEMA, 1).unwrap();
        std::thread::scope(|s| {
            let crashed = s.spawn(|| {
                let mut conn = db.lock();
                let tx = conn.transaction().unwrap();
                tx.execute("INSERT INTO things VALUES ('half-done')", [])
                    .unwrap();
                panic!("handler fails mid-transaction");
            });
            assert!(crashed.join().is_err());
        });
        let conn = db.lock();
        let count: u32 = conn
            .query_row("SELECT COUNT(*) FROM things", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 0, "the half-done transaction was rolled back");
        conn.execute("INSERT INTO things VALUES ('next')", [])
            .unwrap();
    }

    #[test]
    fn a_file_from_another_schema_version_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(open_database(&path, SCHEMA, 1).unwrap());
        let err = open_database(&path, "CREATE TABLE other (x INTEGER);", 2).unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::SchemaVersion {
                    found: 1,
                    expected: 2,
                    ..
                }
            ),
            "{err}"
        );
        let conn = rusqlite::Connection::open(&path).unwrap();
        let tables: u32 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'other'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "nothing was applied to the refused file");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal", "still the mode its own build set");
    }

    #[test]
    fn a_file_written_before_versions_were_kept_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(SCHEMA)
            .unwrap();
        let err = open_database(&path, SCHEMA, 1).unwrap_err();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            mode, "delete",
            "the refused file's journal mode is untouched"
        );
        assert!(
            matches!(
                err,
                ServiceError::SchemaVersion {
                    found: 0,
                    expected: 1,
                    ..
                }
            ),
            "{err}"
        );
    }
}
