//! The SQLite file every service keeps its state in: WAL mode, full sync, a versioned schema.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::ServiceError;

/// A service's one SQLite connection, shared by its request handlers and serialized by a mutex.
#[derive(Debug)]
pub struct Database(Mutex<rusqlite::Connection>);

impl Database {
    /// Opens the database at `path` as [`open_database`] does.
    pub fn open(path: &Path, schema: &Schema) -> Result<Self, ServiceError> {
        Ok(Self(Mutex::new(open_database(path, schema)?)))
    }

    /// The connection. A handler that panicked while holding it does not make it unusable: the
    /// transaction it had open was rolled back when it unwound.
    pub fn lock(&self) -> MutexGuard<'_, rusqlite::Connection> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A store's tables and their version.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// `CREATE … IF NOT EXISTS` statements (no transaction control, no pragmas).
    pub sql: &'static str,
    /// Stored in `PRAGMA user_version`; bumped whenever `sql` changes in a way older files lack.
    pub version: u32,
    /// Files written before versions were kept (`user_version` 0) already have exactly these
    /// tables, so they are adopted and stamped with `version` instead of refused.
    pub unversioned_is_current: bool,
}

/// Opens (creating if needed) a SQLite database in WAL mode with `schema`.
///
/// A new database gets the schema and its version; an existing one must already be at that
/// version (or be an unversioned file the schema adopts), so a store written by another build is
/// refused at start, untouched, rather than failing halfway through a request.
pub fn open_database(path: &Path, schema: &Schema) -> Result<rusqlite::Connection, ServiceError> {
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
    let adopted = found == 0 && schema.unversioned_is_current;
    if tables > 0 && found != schema.version && !adopted {
        return Err(ServiceError::SchemaVersion {
            path: path_text,
            found,
            expected: schema.version,
        });
    }
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(err)?;
    conn.execute_batch(&format!(
        "BEGIN; {}; PRAGMA user_version = {}; COMMIT;",
        schema.sql, schema.version
    ))
    .map_err(err)?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THINGS: &str = "CREATE TABLE IF NOT EXISTS things (name TEXT PRIMARY KEY);";

    fn schema(version: u32) -> Schema {
        Schema {
            sql: THINGS,
            version,
            unversioned_is_current: false,
        }
    }

    #[test]
    fn a_new_file_gets_the_schema_and_reopens_at_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let conn = open_database(&path, &schema(3)).unwrap();
        conn.execute("INSERT INTO things VALUES ('kept')", [])
            .unwrap();
        drop(conn);
        let conn = open_database(&path, &schema(3)).unwrap();
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
        let db = Database::open(&dir.path().join("s.sqlite"), &schema(1)).unwrap();
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
        drop(open_database(&path, &schema(1)).unwrap());
        let other = Schema {
            sql: "CREATE TABLE other (x INTEGER);",
            ..schema(2)
        };
        let err = open_database(&path, &other).unwrap_err();
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
            .execute_batch(THINGS)
            .unwrap();
        let err = open_database(&path, &schema(1)).unwrap_err();
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

    #[test]
    fn an_unversioned_file_with_the_current_tables_is_adopted_with_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(THINGS).unwrap();
        conn.execute("INSERT INTO things VALUES ('kept')", [])
            .unwrap();
        drop(conn);
        let adopting = Schema {
            unversioned_is_current: true,
            ..schema(1)
        };
        let conn = open_database(&path, &adopting).unwrap();
        let (version, rows): (u32, u32) = (
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap(),
            conn.query_row("SELECT COUNT(*) FROM things", [], |r| r.get(0))
                .unwrap(),
        );
        assert_eq!((version, rows), (1, 1));
    }
}
