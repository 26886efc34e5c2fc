//! `SqliteStore`: the metadata store and job queue on SQLite (the embedded default).

use sqlx::{
    Sqlite, SqliteConnection, SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous},
};

use std::str::FromStr;

use proofsheet_core::{Error, Result};

use crate::sql::db_err;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Metadata and jobs in one SQLite database file (or in memory).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`
    /// (`sqlite://path/to/file.db` or `sqlite::memory:`) and runs the
    /// migrations.
    pub async fn connect(url: &str) -> Result<Self> {
        let memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| Error::invalid("invalid_database_url", format!("bad SQLite URL: {e}")))?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10))
            .journal_mode(if memory { SqliteJournalMode::Memory } else { SqliteJournalMode::Wal })
            .synchronous(SqliteSynchronous::Normal);
        // An in-memory database lives in one connection; a file takes a few
        // readers beside its one writer.
        let pool = SqlitePoolOptions::new()
            .max_connections(if memory { 1 } else { 8 })
            .min_connections(if memory { 1 } else { 0 })
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(db_err("opening the SQLite database"))?;
        let store = SqliteStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| Error::backend("running SQLite migrations", e))
    }

    /// The connection pool, for embedders who add their own tables.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

// The shared SQL (`sql/roles`), compiled for this dialect against these
// names.
type Store = SqliteStore;
type Db = Sqlite;
type Conn = SqliteConnection;
type DbRow = SqliteRow;
/// SQLite needs no row lock in the claim: its single writer makes the
/// statement atomic.
const CLAIM_LOCK: &str = "";
/// Places an album's photos in one statement: `$1` is the order as a JSON
/// array of ids (its index is the position), `$2` the album. Photos of
/// other albums are not touched, so the count of rows changed says
/// whether every id was the album's.
const SET_POSITIONS: &str = "UPDATE photos
    SET position = (SELECT CAST(o.key AS INTEGER) FROM json_each($1) AS o WHERE o.value = photos.id)
    WHERE album_id = $2 AND id IN (SELECT value FROM json_each($1))";

// The same files are compiled in the other dialect's module too: that is
// the design (see `sql/roles/mod.rs`), not a mistake.
#[allow(clippy::duplicate_mod)]
#[path = "sql/roles/mod.rs"]
mod roles;
