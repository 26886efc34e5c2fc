//! Helpers shared by the SQL backends.

pub(crate) mod store;

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

/// Maps a driver error to a retryable backend error with context.
pub(crate) fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::backend(context, e)
}
