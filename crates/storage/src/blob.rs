//! `OpendalBlobStore`: the blob store on Apache OpenDAL.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;
use opendal::{ErrorKind, Operator};
use proofsheet_core::{BlobStore, BlobWriter, ByteStream, Error, Result, Staging};

/// How much of a local file one read takes when streaming.
const READ_CHUNK: usize = 1 << 20;

/// Object storage on any OpenDAL operator: the local filesystem (default),
/// memory (tests), and S3-compatible stores (the `s3` feature, later).
#[derive(Debug, Clone)]
pub struct OpendalBlobStore {
    op: Operator,
    /// The directory of a local file system store, which stages resumable
    /// uploads in place ([`BlobStore::staging`]).
    #[cfg(feature = "fs")]
    local: Option<local::LocalStaging>,
}

/// Whether an error says the disk or a quota is full (ENOSPC, EDQUOT),
/// wherever in its chain the operating system's word is.
pub(crate) fn is_storage_full(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && (io.kind() == std::io::ErrorKind::StorageFull
                || io.kind() == std::io::ErrorKind::QuotaExceeded
                || matches!(io.raw_os_error(), Some(28 | 122)))
        {
            return true;
        }
        let text = err.to_string();
        if text.contains("No space left on device") || text.contains("Disk quota exceeded") {
            return true;
        }
        next = err.source();
    }
    false
}

fn dal_err(context: &'static str) -> impl Fn(opendal::Error) -> Error {
    move |e| match e.kind() {
        ErrorKind::NotFound => Error::not_found("object"),
        _ if is_storage_full(&e) => Error::StorageFull { context: context.into(), source: Box::new(e) },
        kind => {
            let retryable = e.is_temporary()
                || !matches!(kind, ErrorKind::PermissionDenied | ErrorKind::ConfigInvalid | ErrorKind::Unsupported);
            Error::Backend { context: context.into(), source: Box::new(e), retryable }
        }
    }
}

fn check_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key.starts_with('/')
        || key.ends_with('/')
        || key.split('/').any(|p| p == ".." || p == "." || p.is_empty())
    {
        return Err(Error::backend_permanent("checking an object key", format!("unsafe object key {key:?}")));
    }
    Ok(())
}

impl OpendalBlobStore {
    /// Wraps any OpenDAL operator.
    pub fn new(op: Operator) -> Self {
        OpendalBlobStore {
            op,
            #[cfg(feature = "fs")]
            local: None,
        }
    }

    /// Objects as files under `root` (created if missing). Writes go to a
    /// temporary directory inside `root` and are renamed into place when
    /// finished, so a half-written object is never visible.
    #[cfg(feature = "fs")]
    pub fn fs(root: &std::path::Path) -> Result<Self> {
        std::fs::create_dir_all(root.join(".tmp")).map_err(|e| Error::backend("creating the storage root", e))?;
        let root = root.canonicalize().map_err(|e| Error::backend("opening the storage root", e))?;
        let root = root.to_string_lossy();
        let local = local::LocalStaging::new(std::path::PathBuf::from(&*root));
        let builder = opendal::services::Fs::default().root(&root).atomic_write_dir(&format!("{root}/.tmp"));
        let op = Operator::new(builder).map_err(dal_err("configuring fs storage"))?;
        Ok(OpendalBlobStore { op, local: Some(local) })
    }

    /// Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, moto).
    /// Credentials come only from `options`: no environment, profile or
    /// instance-metadata lookups, so what is configured is what is used.
    /// Temporary failures are retried with backoff; each call has a timeout.
    #[cfg(feature = "s3")]
    pub fn s3(options: &S3Options) -> Result<Self> {
        install_s3_transport();
        let mut builder = opendal::services::S3::default()
            .bucket(&options.bucket)
            .region(&options.region)
            .access_key_id(&options.access_key_id)
            .secret_access_key(&options.secret_access_key)
            .disable_config_load()
            .disable_ec2_metadata();
        if let Some(endpoint) = &options.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if !options.path_style {
            builder = builder.enable_virtual_host_style();
        }
        if let Some(root) = &options.root {
            builder = builder.root(root);
        }
        let op = Operator::new(builder)
            .map_err(dal_err("configuring S3 storage"))?
            .layer(opendal::layers::TimeoutLayer::new().with_timeout(options.timeout).with_io_timeout(options.timeout))
            .layer(opendal::layers::RetryLayer::new().with_max_times(options.retries).with_jitter());
        Ok(Self::new(op))
    }

    /// Objects in this process's memory (tests, throwaway runs).
    pub fn memory() -> Result<Self> {
        let builder = opendal::services::Memory::default();
        Ok(Self::new(Operator::new(builder).map_err(dal_err("configuring memory storage"))?))
    }

    /// The underlying operator.
    pub fn operator(&self) -> &Operator {
        &self.op
    }
}

/// Where and how to reach an S3-compatible bucket.
#[cfg(feature = "s3")]
#[derive(Clone)]
pub struct S3Options {
    /// `https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:9000`, ...;
    /// `None` for AWS's default endpoint of the region.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (`/` for the whole bucket).
    pub root: Option<String>,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
    /// Path-style addressing (`endpoint/bucket/key`), which most
    /// self-hosted servers need; `false` for virtual-host style.
    pub path_style: bool,
    /// How long one call (or one read or write of a stream) may take
    /// before it is abandoned and retried.
    pub timeout: std::time::Duration,
    /// How many times a temporary failure (a timeout, a refused
    /// connection, `503 SlowDown`) is retried, with jittered backoff from
    /// 1 s doubling, before the error reaches the caller.
    pub retries: usize,
}

#[cfg(feature = "s3")]
impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: String::new(),
            root: None,
            access_key_id: String::new(),
            secret_access_key: String::new(),
            path_style: true,
            timeout: std::time::Duration::from_secs(60),
            retries: 4,
        }
    }
}

#[cfg(feature = "s3")]
impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("root", &self.root)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish()
    }
}

/// OpenDAL's HTTP transport and rustls need their providers installed
/// once per process (ring, not aws-lc: no C build).
#[cfg(feature = "s3")]
fn install_s3_transport() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal::install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

struct DalWriter {
    inner: opendal::Writer,
    written: u64,
}

#[async_trait]
impl BlobWriter for DalWriter {
    async fn write(&mut self, chunk: Bytes) -> Result<()> {
        self.written += chunk.len() as u64;
        self.inner.write(chunk).await.map_err(dal_err("writing an object"))
    }

    async fn finish(mut self: Box<Self>) -> Result<u64> {
        if let Err(e) = self.inner.close().await {
            // Nothing half-written stays behind: the temp file goes too.
            let _ = self.inner.abort().await;
            return Err(dal_err("finishing an object")(e));
        }
        Ok(self.written)
    }

    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.inner.abort().await.map_err(dal_err("aborting an object"))
    }
}

#[async_trait]
impl BlobStore for OpendalBlobStore {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        check_key(key)?;
        self.op.write(key, data).await.map_err(dal_err("writing an object"))?;
        Ok(())
    }

    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>> {
        check_key(key)?;
        let inner = self.op.writer(key).await.map_err(dal_err("opening an object for writing"))?;
        Ok(Box::new(DalWriter { inner, written: 0 }))
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        check_key(key)?;
        Ok(self.op.read(key).await.map_err(dal_err("reading an object"))?.to_bytes())
    }

    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream> {
        check_key(key)?;
        // Stat first so a missing object is NotFound before any byte is sent.
        let size = self.size(key).await?;
        let range = range.unwrap_or(0..size);
        // Local files are read a MiB at a time: each read is a trip to a
        // blocking thread, and the service's default size made streaming a
        // file (a resumable upload's parts, a zip) several times slower
        // than writing it. Remote stores keep one streamed request.
        let reader = if self.op.info().scheme() == "fs" {
            self.op.reader_with(key).chunk(READ_CHUNK).await
        } else {
            self.op.reader(key).await
        }
        .map_err(dal_err("opening an object"))?;
        let stream = reader.into_bytes_stream(range).await.map_err(dal_err("streaming an object"))?;
        Ok(Box::pin(stream.map_err(|e| Error::backend("streaming an object", e))))
    }

    async fn size(&self, key: &str) -> Result<u64> {
        check_key(key)?;
        Ok(self.op.stat(key).await.map_err(dal_err("reading an object's size"))?.content_length())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        match self.op.delete(key).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(dal_err("deleting an object")(e)),
            _ => Ok(()),
        }
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        check_key(prefix)?;
        match self.op.delete_with(&format!("{prefix}/")).recursive(true).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(dal_err("deleting objects")(e)),
            _ => Ok(()),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        check_key(prefix)?;
        let entries = match self.op.list_with(&format!("{prefix}/")).recursive(true).await {
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(vec![]),
            other => other.map_err(dal_err("listing objects"))?,
        };
        let mut keys: Vec<String> =
            entries.into_iter().filter(|e| e.metadata().mode().is_file()).map(|e| e.path().to_owned()).collect();
        keys.sort();
        Ok(keys)
    }

    async fn ping(&self) -> Result<()> {
        self.op.check().await.map_err(dal_err("checking storage"))
    }

    fn staging(&self) -> Option<&dyn Staging> {
        #[cfg(feature = "fs")]
        if let Some(local) = &self.local {
            return Some(local);
        }
        None
    }

    async fn presign_read(&self, key: &str, ttl: std::time::Duration) -> Result<Option<String>> {
        check_key(key)?;
        if !self.op.info().capability().presign_read {
            return Ok(None);
        }
        let req = self.op.presign_read(key, ttl).await.map_err(dal_err("presigning a read"))?;
        Ok(Some(req.uri().to_string()))
    }
}

/// Staging on the local file system: a file written at an offset under an
/// exclusive `flock(2)`, cut back with `ftruncate`, and made durable with
/// `fsync` and moved with `rename(2)` once whole. Chunks are not synced
/// one by one: a crash can lose the last ones written, and then the file
/// is shorter (Linux file systems grow a file's size only with its data),
/// so the client learns the shorter offset and sends them again (tus
/// servers such as tusd do the same).
#[cfg(feature = "fs")]
mod local {
    use std::{
        io::SeekFrom,
        path::{Path, PathBuf},
    };

    use async_trait::async_trait;
    use bytes::Bytes;
    use proofsheet_core::{BlobWriter, Error, Result, Staging};
    use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};

    use super::{READ_CHUNK, check_key, is_storage_full};

    #[derive(Debug, Clone)]
    pub(super) struct LocalStaging {
        root: PathBuf,
    }

    fn io_err(context: &'static str) -> impl Fn(std::io::Error) -> Error {
        move |e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found("object"),
            _ if is_storage_full(&e) => Error::StorageFull { context: context.into(), source: Box::new(e) },
            _ => Error::backend(context, e),
        }
    }

    impl LocalStaging {
        pub(super) fn new(root: PathBuf) -> Self {
            LocalStaging { root }
        }

        fn path(&self, key: &str) -> Result<PathBuf> {
            check_key(key)?;
            Ok(self.root.join(key))
        }
    }

    async fn create_parent(path: &Path) -> Result<()> {
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(io_err("creating a directory"))?;
        }
        Ok(())
    }

    /// How long a write waits for another one to the same object.
    const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

    struct LocalWriter {
        // Chunks from a request body are small; a MiB buffer makes each
        // trip to a blocking thread worth it.
        file: BufWriter<tokio::fs::File>,
        start: u64,
        written: u64,
    }

    #[async_trait]
    impl BlobWriter for LocalWriter {
        async fn write(&mut self, chunk: Bytes) -> Result<()> {
            self.written += chunk.len() as u64;
            self.file.write_all(&chunk).await.map_err(io_err("writing a staged object"))
        }

        async fn finish(mut self: Box<Self>) -> Result<u64> {
            if let Err(e) = self.file.flush().await {
                // Nothing of a failed write stays (BlobWriter's rule).
                let _ = self.file.get_ref().set_len(self.start).await;
                return Err(io_err("writing a staged object")(e));
            }
            Ok(self.written)
        }

        async fn abort(self: Box<Self>) -> Result<()> {
            // What is buffered is dropped with the writer; what reached the
            // file is cut off.
            let file = self.file.into_inner();
            file.set_len(self.start).await.map_err(io_err("cutting a staged object"))
        }
    }

    #[async_trait]
    impl Staging for LocalStaging {
        async fn write_at(&self, key: &str, offset: u64) -> Result<Box<dyn BlobWriter>> {
            let path = self.path(key)?;
            create_parent(&path).await?;
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .await
                .map_err(io_err("opening a staged object"))?;
            // One writer at a time, across processes: an exclusive lock
            // held until the writer is dropped. A second waits for the first
            // (a client that resumes while its cut request is still being
            // written out), then finds its offset and drops what lay past.
            let file = file.into_std().await;
            let waited = std::time::Instant::now();
            loop {
                match file.try_lock() {
                    Ok(()) => break,
                    Err(std::fs::TryLockError::WouldBlock) if waited.elapsed() < LOCK_WAIT => {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    }
                    Err(std::fs::TryLockError::WouldBlock) => {
                        return Err(Error::conflict(
                            "upload_busy",
                            "another request is still writing this upload; try again shortly",
                        ));
                    }
                    Err(std::fs::TryLockError::Error(e)) => return Err(io_err("locking a staged object")(e)),
                }
            }
            let mut file = tokio::fs::File::from_std(file);
            let len = file.metadata().await.map_err(io_err("reading a staged object's size"))?.len();
            if offset > len {
                return Err(Error::conflict(
                    "offset_mismatch",
                    format!("cannot write at byte {offset} of an object of {len} bytes"),
                ));
            }
            if len > offset {
                file.set_len(offset).await.map_err(io_err("cutting a staged object"))?;
            }
            file.seek(SeekFrom::Start(offset)).await.map_err(io_err("opening a staged object"))?;
            Ok(Box::new(LocalWriter { file: BufWriter::with_capacity(READ_CHUNK, file), start: offset, written: 0 }))
        }

        async fn rename(&self, from: &str, to: &str) -> Result<()> {
            let (from, to) = (self.path(from)?, self.path(to)?);
            let file = tokio::fs::File::open(&from).await.map_err(io_err("opening a staged object"))?;
            file.sync_all().await.map_err(io_err("syncing a staged object"))?;
            create_parent(&to).await?;
            tokio::fs::rename(&from, &to).await.map_err(io_err("moving an object"))
        }
    }
}
