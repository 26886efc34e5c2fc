//! Helpers shared by the SQL backends. The statements themselves are in
//! `roles/`, compiled once per dialect by `crate::sqlite` and
//! `crate::postgres`.

use chrono::{DateTime, TimeZone, Utc};
use proofsheet_core::{Error, Result};
use uuid::Uuid;

/// Unix milliseconds, the stored form of a time.
pub(crate) fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// Back from Unix milliseconds.
pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Parses a stored UUID.
pub(crate) fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| Error::backend_permanent("reading an id", e))
}

/// Maps a driver error to a backend error with context, classed by cause:
/// constraint violations and decoding errors are permanent (the same
/// statement would fail again), pool, I/O, connection and disk-full errors
/// retryable (they pass when the database or the disk comes back).
pub(crate) fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        if is_full(&e) {
            return Error::StorageFull { context: context.into(), source: Box::new(e) };
        }
        if is_retryable(&e) { Error::backend(context, e) } else { Error::backend_permanent(context, e) }
    }
}

/// Whether the database says its disk is full: SQLite's `SQLITE_FULL` (13),
/// PostgreSQL's `disk_full` (53100), or an I/O error out of space.
fn is_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("13" | "53100")),
        other => crate::blob::is_storage_full(other),
    }
}

/// Whether trying the same statement again later may succeed.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    use sqlx::error::ErrorKind;
    match e {
        sqlx::Error::Database(db) => match db.kind() {
            ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation => false,
            // Anything else the server said: a lock, a full disk
            // (SQLITE_FULL), a serialization failure, a shutdown.
            _ => true,
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        _ => false,
    }
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    use sqlx::{Connection, SqliteConnection};

    use super::db_err;

    #[tokio::test]
    async fn constraint_violations_are_permanent_and_outages_retryable() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE CHECK (v <> 'x'))")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t (v) VALUES ('a')").execute(&mut conn).await.unwrap();
        for (sql, what) in [
            ("INSERT INTO t (v) VALUES ('a')", "unique"),
            ("INSERT INTO t (v) VALUES (NULL)", "not null"),
            ("INSERT INTO t (v) VALUES ('x')", "check"),
        ] {
            let e = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
            assert!(!db_err("test")(e).is_retryable(), "a {what} violation must not be retried");
        }
        assert!(db_err("test")(sqlx::Error::PoolTimedOut).is_retryable());
        assert!(db_err("test")(sqlx::Error::PoolClosed).is_retryable());
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert!(db_err("test")(sqlx::Error::Io(io)).is_retryable());
        assert!(!db_err("test")(sqlx::Error::RowNotFound).is_retryable());
    }
}
