//! Proofsheet storage backends.
//!
//! - [`SqliteStore`]: the [`MetadataStore`](proofsheet_core::MetadataStore)
//!   and durable [`JobQueue`](proofsheet_core::JobQueue) on SQLite, with
//!   migrations run at connect time (feature `sqlite`, default).
//! - [`PgStore`]: the same on PostgreSQL, claiming jobs with
//!   `FOR UPDATE SKIP LOCKED` (feature `postgres`).
//! - [`OpendalBlobStore`]: the [`BlobStore`](proofsheet_core::BlobStore) on
//!   Apache OpenDAL, over the local filesystem (feature `fs`, default) or
//!   memory.
//! - [`ZipPackager`]: streams an order's originals into a Stored zip.
//!
//! ```
//! # tokio_test();
//! # fn tokio_test() {
//! # let rt = tokio::runtime::Runtime::new().unwrap();
//! # rt.block_on(async {
//! use proofsheet_core::{BlobStore, MetadataStore};
//! use proofsheet_storage::{OpendalBlobStore, SqliteStore};
//!
//! let store = SqliteStore::connect("sqlite::memory:").await?;
//! store.ping().await?;
//! let blobs = OpendalBlobStore::memory()?;
//! blobs.put("a/b.txt", "hello".into()).await?;
//! assert_eq!(blobs.get("a/b.txt").await?, "hello");
//! # Ok::<(), proofsheet_core::Error>(())
//! # }).unwrap();
//! # }
//! ```
#![warn(missing_docs)]

mod blob;
#[cfg(feature = "postgres")]
mod postgres;
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod zip;

pub use blob::OpendalBlobStore;
#[cfg(feature = "s3")]
pub use blob::S3Options;
#[cfg(feature = "postgres")]
pub use postgres::{PgStore, fresh_database as fresh_pg_database};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use zip::ZipPackager;
