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
    /// Objects this store can extend and move in place (a local file
    /// system), or `None` (object stores). Resumable uploads use it to
    /// write a file once rather than in parts that are read back and
    /// written again when the last one arrives.
    fn staging(&self) -> Option<&dyn Staging> {
        None
    }
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

/// Objects written piece by piece at known offsets, then moved into place
/// ([`BlobStore::staging`]). Staged objects share the store's keys: they
/// are read with [`BlobStore::stream`] and [`BlobStore::size`] and removed
/// with [`BlobStore::delete`] like any other.
#[async_trait]
pub trait Staging: Send + Sync {
    /// Opens `key` to write from byte `offset`, creating it empty when
    /// missing. Bytes at or past `offset` are dropped first, so an
    /// interrupted write cannot leave stale bytes behind the new ones. An
    /// `offset` past the object's end is `Conflict` (`offset_mismatch`).
    ///
    /// One writer at a time, across processes: a second waits a while
    /// for the first to end, then fails with `Conflict` (`upload_busy`).
    ///
    /// Each write is visible once written. [`BlobWriter::finish`] returns
    /// how many bytes were written; it need not make them durable (a crash
    /// may lose a suffix, never leave garbage). [`BlobWriter::abort`] cuts
    /// the object back to `offset`.
    async fn write_at(&self, key: &str, offset: u64) -> Result<Box<dyn BlobWriter>>;
    /// Makes the object `from` durable and moves it to `to`, replacing
    /// what is there, in one step: readers of `to` see the old object or
    /// the whole new one.
    async fn rename(&self, from: &str, to: &str) -> Result<()>;
}

/// Packs objects into one archive object.
#[async_trait]
pub trait Packager: Send + Sync + 'static {
    /// Streams the objects `entries` (name inside the archive, source key)
    /// into a new object at `dest`, never holding the whole archive in
    /// memory. Returns the archive's size.
    async fn package(&self, blobs: &dyn BlobStore, dest: &str, entries: &[(String, String)]) -> Result<u64>;
}
