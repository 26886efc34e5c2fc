//! `PgStore`: the metadata store and job queue on PostgreSQL, for
//! deployments with several processes.

use sqlx::{
    PgConnection, PgPool, Postgres,
    postgres::{PgPoolOptions, PgRow},
};

use proofsheet_core::{Error, Result};

use crate::sql::db_err;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Metadata and jobs in PostgreSQL. Workers claim jobs with
/// `FOR UPDATE SKIP LOCKED`, so any number of them share the queue without
/// waiting on each other's rows.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:port/db`) with a pool
    /// of at most `max_connections`, and runs the migrations.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(db_err("connecting to PostgreSQL"))?;
        let store = PgStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations (they take an advisory lock, so several
    /// processes starting at once is safe).
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await.map_err(|e| Error::backend("running PostgreSQL migrations", e))
    }

    /// The connection pool, for embedders who add their own tables.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

// The shared SQL (`sql/roles`), compiled for this dialect against these
// names.
type Store = PgStore;
type Db = Postgres;
type Conn = PgConnection;
type DbRow = PgRow;
/// The claim locks the row it takes and skips rows other workers hold.
const CLAIM_LOCK: &str = "FOR UPDATE SKIP LOCKED";
/// Places an album's photos in one statement: `$1` is the order as a JSON
/// array of ids (its ordinal, from 1, is the position plus one), `$2` the
/// album. Photos of other albums are not touched, so the count of rows
/// changed says whether every id was the album's.
const SET_POSITIONS: &str = "UPDATE photos SET position = o.n - 1
    FROM json_array_elements_text(CAST($1 AS json)) WITH ORDINALITY AS o(id, n)
    WHERE photos.id = o.id AND photos.album_id = $2";

// The same files are compiled in the other dialect's module too: that is
// the design (see `sql/roles/mod.rs`), not a mistake.
#[allow(clippy::duplicate_mod)]
#[path = "sql/roles/mod.rs"]
mod roles;

/// Creates an empty database next to the one `admin_url` points at and
/// returns its URL: each test (or benchmark run) gets a clean schema.
pub async fn fresh_database(admin_url: &str) -> Result<String> {
    use sqlx::Connection;
    let mut conn = PgConnection::connect(admin_url).await.map_err(db_err("connecting to PostgreSQL"))?;
    let name = format!("proofsheet_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .map_err(db_err("creating a database"))?;
    let (base, _) =
        admin_url.rsplit_once('/').ok_or_else(|| Error::invalid("invalid_database_url", "no database name"))?;
    Ok(format!("{base}/{name}"))
}
