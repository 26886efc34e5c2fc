//! Proofsheet storage backends.
//!
//! - [`SqliteStore`]: the [`MetadataStore`](proofsheet_core::MetadataStore)
//!   and durable [`JobQueue`](proofsheet_core::JobQueue) on SQLite, with
//!   migrations run at connect time (feature `sqlite`, default).
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
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;
mod zip;

pub use blob::OpendalBlobStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub use zip::ZipPackager;
