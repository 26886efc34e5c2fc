//! The object store for originals, previews and zips.

use std::{ops::Range, pin::Pin};

use async_trait::async_trait;
use bytes::Bytes;
use futures::Stream;

use crate::Result;

/// A stream of bytes from the object store.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// Object storage, addressed by `/`-separated keys.
///
/// Implementations: `OpendalBlobStore` over OpenDAL (fs, memory; S3 later).
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Writes a whole object.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// Starts a streamed write; nothing is visible under `key` until
    /// [`BlobWriter::finish`].
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>>;
    /// Reads a whole object (`NotFound` if missing).
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Streams an object, or a byte range of it.
    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream>;
    /// The size of an object (`NotFound` if missing).
    async fn size(&self, key: &str) -> Result<u64>;
    /// Removes an object; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Removes every object under `prefix/`.
    async fn delete_prefix(&self, prefix: &str) -> Result<()>;
    /// Lists keys under `prefix/`, recursively.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;
    /// Checks the store (readiness).
    async fn ping(&self) -> Result<()>;
    /// A URL that reads the object straight from the store until `ttl`
    /// passes, or `None` when this store cannot make one (then the bytes
    /// go through the server). Callers check access first: the URL is a
    /// bearer credential.
    async fn presign_read(&self, key: &str, ttl: std::time::Duration) -> Result<Option<String>> {
        let _ = (key, ttl);
        Ok(None)
    }
}

/// A streamed write in progress.
#[async_trait]
pub trait BlobWriter: Send {
    /// Appends bytes.
    async fn write(&mut self, chunk: Bytes) -> Result<()>;
    /// Completes the object; returns its size. When it fails, nothing of
    /// the object may stay behind (no temp file, no partial object): the
    /// writer aborts itself.
    async fn finish(self: Box<Self>) -> Result<u64>;
    /// Gives up; nothing is left under the key.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Packs objects into one archive object.
#[async_trait]
pub trait Packager: Send + Sync + 'static {
    /// Streams the objects `entries` (name inside the archive, source key)
    /// into a new object at `dest`, never holding the whole archive in
    /// memory. Returns the archive's size.
    async fn package(&self, blobs: &dyn BlobStore, dest: &str, entries: &[(String, String)]) -> Result<u64>;
}
