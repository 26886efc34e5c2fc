//! Resumable uploads: the state behind the tus 1.0 protocol, kept in the
//! blob store so any process may take the next chunk.
//!
//! An upload is created with its total length and file name; chunks are
//! appended at the offset the server reports; when the last byte arrives
//! the chunks are streamed, in order, through [`crate::Albums::upload`],
//! so a resumable upload becomes a photo exactly as a direct one does
//! (same header probe, size limit, render job). Under
//! `uploads/{upload_id}/` the blob store holds:
//!
//! - `info.json`: album, owner, length, file name, creation and expiry;
//! - on stores that stage ([`crate::BlobStore::staging`], the local file
//!   system), `data`: the bytes so far, each chunk written at its offset;
//!   the offset is its size, and on completion it is moved into place as
//!   the original, after its header is probed (and the whole of it hashed
//!   unless this process hashed every chunk as it came);
//! - on the others (S3), `parts/{start:020}`: each chunk, named by the
//!   offset it starts at (zero-padded so the listing is in order); the
//!   offset is the last part's start plus its size, and on completion the
//!   parts are streamed into the original;
//! - `done.json`: the photo it became, once complete (kept until expiry,
//!   so a client that lost the last answer learns the upload finished).
//!
//! Expired uploads, complete or not, are deleted by the `prune_uploads`
//! scheduled task ([`Uploads::prune_expired`]), and so is an unfinished
//! one that received nothing for [`crate::Settings::upload_idle`] (an
//! hour by default). Until it completes or ends, an upload reserves its
//! declared length against its owner's storage quota
//! ([`crate::AlbumStore::reserve_upload`]); the photo it becomes takes the
//! reservation's place in one transaction.
//!
//! Two requests appending to the same upload at once (which the protocol
//! forbids) may overwrite each other's chunk at the same offset; the
//! photo's header probe and size checks still run on the assembled file,
//! and a file that does not come to exactly the declared length is
//! refused.

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tracing::instrument;

use crate::{AlbumId, ByteStream, Error, Photo, PhotoId, Probe, Proofsheet, Result, UploadId, User, UserId};

// The first chunk is probed for an image header up to the same limit as a
// direct upload's, before the rest of the file is accepted.
use crate::albums::{PROBE_LIMIT, upload_too_large};

/// A resumable upload as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableUpload {
    /// Its id.
    pub id: UploadId,
    /// The album the photo goes into.
    pub album_id: AlbumId,
    /// Who created it (only they may continue it).
    pub owner: UserId,
    /// The file's total size in bytes.
    pub length: u64,
    /// Bytes received so far.
    pub offset: u64,
    /// The file name the client gave.
    pub filename: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it is deleted, complete or not.
    pub expires_at: DateTime<Utc>,
    /// The photo it became, once complete.
    pub photo_id: Option<PhotoId>,
}

#[derive(Serialize, Deserialize)]
struct Info {
    album_id: AlbumId,
    owner: UserId,
    length: u64,
    filename: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct Done {
    photo_id: PhotoId,
}

/// A checksum a client sent with a chunk (tus `Upload-Checksum`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// SHA-1 (the one every tus server must support).
    Sha1(Vec<u8>),
    /// SHA-256.
    Sha256(Vec<u8>),
}

impl Checksum {
    /// The algorithms understood, as tus `Tus-Checksum-Algorithm` lists them.
    pub const ALGORITHMS: &'static str = "sha1,sha256";

    /// Parses `"<algorithm> <base64 digest>"`. An unknown algorithm or a
    /// malformed value is `Invalid` with code `checksum_unsupported`.
    pub fn parse(header: &str) -> Result<Self> {
        use base64::Engine as _;
        let bad = || {
            Error::invalid(
                "checksum_unsupported",
                format!("Upload-Checksum takes one of {}, then a space and the base64 digest", Self::ALGORITHMS),
            )
        };
        let (algorithm, digest) = header.trim().split_once(' ').ok_or_else(bad)?;
        let digest = base64::engine::general_purpose::STANDARD.decode(digest.trim()).map_err(|_| bad())?;
        match (algorithm, digest.len()) {
            ("sha1", 20) => Ok(Checksum::Sha1(digest)),
            ("sha256", 32) => Ok(Checksum::Sha256(digest)),
            _ => Err(bad()),
        }
    }
}

enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn of(checksum: &Checksum) -> Self {
        match checksum {
            Checksum::Sha1(_) => Hasher::Sha1(sha1::Sha1::new()),
            Checksum::Sha256(_) => Hasher::Sha256(sha2::Sha256::new()),
        }
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
        }
    }

    fn matches(self, checksum: &Checksum) -> bool {
        let (Checksum::Sha1(want) | Checksum::Sha256(want)) = checksum;
        let got = match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
        };
        &got == want
    }
}

/// The SHA-256 state of staged uploads whose chunks all came through this
/// process, by upload and the offset it covers, so the chunk that
/// completes one need not read the file back to hash it. An upload whose
/// state is missing or at another offset (a chunk went to another
/// process, this one restarted, or the entry was evicted) is hashed from
/// the file instead. The file's bytes below an offset never change once
/// written (each write starts at the upload's offset), so a state is
/// never stale, as long as the client sends the same file each time.
#[derive(Default)]
pub(crate) struct Digests(std::sync::Mutex<std::collections::HashMap<UploadId, (u64, sha2::Sha256)>>);

impl Digests {
    /// Uploads whose state is kept; past it, one is dropped.
    const MAX: usize = 1024;

    fn take(&self, id: UploadId, offset: u64) -> Option<sha2::Sha256> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&id).filter(|(at, _)| *at == offset).map(|(_, d)| d)
    }

    fn keep(&self, id: UploadId, offset: u64, digest: sha2::Sha256) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX
            && let Some(evicted) = map.keys().next().copied()
        {
            map.remove(&evicted);
        }
        map.insert(id, (offset, digest));
    }
}

/// The resumable uploads service.
pub struct Uploads<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The resumable uploads service.
    pub fn uploads(&self) -> Uploads<'_> {
        Uploads(self)
    }
}

fn upload_key(id: UploadId) -> String {
    format!("{}/{id}", Uploads::PREFIX)
}

fn info_key(id: UploadId) -> String {
    format!("{}/info.json", upload_key(id))
}

fn done_key(id: UploadId) -> String {
    format!("{}/done.json", upload_key(id))
}

fn data_key(id: UploadId) -> String {
    format!("{}/data", upload_key(id))
}

fn parts_prefix(id: UploadId) -> String {
    format!("{}/parts", upload_key(id))
}

fn part_key(id: UploadId, start: u64) -> String {
    format!("{}/{start:020}", parts_prefix(id))
}

fn not_found() -> Error {
    Error::not_found("upload")
}

impl Uploads<'_> {
    /// Where uploads live in the blob store.
    pub const PREFIX: &'static str = "uploads";

    /// Starts an upload of `length` bytes into an album the caller owns.
    /// Longer than the largest upload: `TooLarge`; empty: `UnsupportedMedia`.
    #[instrument(skip_all, fields(album_id = %album_id))]
    pub async fn create(
        &self,
        user: &User,
        album_id: AlbumId,
        length: u64,
        filename: Option<&str>,
    ) -> Result<ResumableUpload> {
        self.0.albums().get_owned(user, album_id).await?;
        let max = self.0.settings().max_upload_bytes;
        if length > max {
            return Err(upload_too_large(max));
        }
        if length == 0 {
            return Err(Error::UnsupportedMedia { message: "an empty file is not a JPEG or PNG".into() });
        }
        let now = self.0.now();
        let info = Info {
            album_id,
            owner: user.id,
            length,
            filename: filename.map(|f| f.chars().take(255).collect()),
            created_at: now,
            expires_at: now + self.0.settings().upload_ttl,
        };
        let id = UploadId::new();
        // The declared length counts against the quota until the upload
        // completes, ends, or sits idle.
        let meta = self.0.meta();
        let quota = self.0.settings().storage_quota;
        let idle_until = now + self.0.settings().upload_idle;
        if !meta.reserve_upload(id, user.id, length, idle_until, quota, now).await? {
            let used = meta.storage_used(user.id, now).await?;
            return Err(Error::QuotaExceeded { used, limit: quota.unwrap_or(0), wanted: length });
        }
        let json = serde_json::to_vec(&info).map_err(|e| Error::backend("encoding an upload", e))?;
        if let Err(e) = self.0.blobs().put(&info_key(id), json.into()).await {
            meta.release_upload(id).await?;
            return Err(e);
        }
        tracing::info!(upload_id = %id, length, "resumable upload created");
        Ok(ResumableUpload {
            id,
            album_id,
            owner: user.id,
            length,
            offset: 0,
            filename: info.filename,
            created_at: now,
            expires_at: info.expires_at.min(idle_until),
            photo_id: None,
        })
    }

    async fn info(&self, id: UploadId) -> Result<Option<Info>> {
        match self.0.blobs().get(&info_key(id)).await {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| Error::backend("reading an upload", e)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// An upload of the caller's in `album_id`, with its offset. Someone
    /// else's, or one in another album: `NotFound`; past its expiry:
    /// `Gone` (`upload_expired`).
    pub async fn get(&self, user: &User, album_id: AlbumId, id: UploadId) -> Result<ResumableUpload> {
        let info = self.info(id).await?.ok_or_else(not_found)?;
        if info.owner != user.id || info.album_id != album_id {
            return Err(not_found());
        }
        let expired = || Error::Gone { code: "upload_expired", message: "this upload expired; start it again".into() };
        if info.expires_at <= self.0.now() {
            return Err(expired());
        }
        let photo_id = match self.0.blobs().get(&done_key(id)).await {
            Ok(bytes) => Some(
                serde_json::from_slice::<Done>(&bytes).map_err(|e| Error::backend("reading an upload", e))?.photo_id,
            ),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e),
        };
        // An unfinished upload also ends when it sits idle (its reservation
        // says until when); one from before reservations keeps its expiry.
        let mut expires_at = info.expires_at;
        if photo_id.is_none()
            && let Some(idle_until) = self.0.meta().upload_idle_until(id).await?
        {
            if idle_until <= self.0.now() {
                return Err(expired());
            }
            expires_at = expires_at.min(idle_until);
        }
        let offset = match photo_id {
            Some(_) => info.length,
            None => self.offset(id).await?,
        };
        Ok(ResumableUpload {
            id,
            album_id,
            owner: info.owner,
            length: info.length,
            offset,
            filename: info.filename,
            created_at: info.created_at,
            expires_at,
            photo_id,
        })
    }

    async fn offset(&self, id: UploadId) -> Result<u64> {
        if self.0.blobs().staging().is_some() {
            return match self.0.blobs().size(&data_key(id)).await {
                Err(e) if e.is_not_found() => Ok(0),
                other => other,
            };
        }
        let parts = self.0.blobs().list(&parts_prefix(id)).await?;
        let Some(last) = parts.last() else { return Ok(0) };
        let start: u64 = last
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::backend("reading an upload", format!("unexpected part {last}")))?;
        Ok(start + self.0.blobs().size(last).await?)
    }

    /// Appends `body` at `offset`, which must be the upload's current
    /// offset (else `Conflict`, code `offset_mismatch`). With a `checksum`,
    /// a chunk whose digest differs is dropped (`Invalid`, code
    /// `checksum_mismatch`). Without one, a body cut short (a dropped
    /// connection) keeps the bytes that arrived, so the client resumes
    /// from there. The first chunk's image header is probed at once, so a
    /// file that is not an image fails before the rest is sent. The chunk
    /// that completes the upload makes the photo (see the module docs);
    /// should that fail (not an image, too many pixels), the upload is
    /// deleted and the error returned.
    #[instrument(skip_all, fields(upload_id = %id))]
    pub async fn append(
        &self,
        user: &User,
        album_id: AlbumId,
        id: UploadId,
        offset: u64,
        checksum: Option<&Checksum>,
        mut body: ByteStream,
    ) -> Result<ResumableUpload> {
        let mut upload = self.get(user, album_id, id).await?;
        if offset != upload.offset {
            return Err(Error::conflict(
                "offset_mismatch",
                format!("Upload-Offset is {offset} but the upload holds {} bytes", upload.offset),
            ));
        }
        if upload.photo_id.is_some() {
            return Ok(upload);
        }
        let room = upload.length - offset;
        let staging = self.0.blobs().staging();
        let (key, mut writer) = match staging {
            Some(staging) => {
                let key = data_key(id);
                let writer = staging.write_at(&key, offset).await?;
                (key, writer)
            }
            None => {
                let key = part_key(id, offset);
                let writer = self.0.blobs().writer(&key).await?;
                (key, writer)
            }
        };
        let mut hasher = checksum.map(Hasher::of);
        // The whole file's SHA-256 as it arrives, when this process saw
        // every chunk before this one (staged uploads only).
        let mut digest = match (staging, offset) {
            (None, _) => None,
            (Some(_), 0) => Some(sha2::Sha256::new()),
            (Some(_), _) => self.0.upload_digests().take(id, offset),
        };
        // Kept again should this chunk be refused (nothing then changes).
        let before = digest.clone();
        let mut head = (offset == 0).then(BytesMut::new);
        let mut received = 0u64;
        let mut cut: Option<Error> = None;
        let mut failed: Option<Error> = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    cut = Some(e);
                    break;
                }
            };
            received += chunk.len() as u64;
            if received > room {
                failed = Some(Error::TooLarge {
                    code: "upload_too_large",
                    message: format!("the chunk goes past the upload's length ({} bytes)", upload.length),
                });
                break;
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&chunk);
            }
            if let Some(d) = digest.as_mut() {
                d.update(&chunk);
            }
            if let Some(head) = head.as_mut().filter(|h| h.len() < PROBE_LIMIT) {
                head.extend_from_slice(&chunk[..chunk.len().min(PROBE_LIMIT - head.len())]);
            }
            if let Err(e) = writer.write(chunk).await {
                failed = Some(e);
                break;
            }
        }
        if failed.is_none()
            && let (Some(h), Some(want)) = (hasher, checksum)
            && (cut.is_some() || !h.matches(want))
        {
            failed = Some(match cut.take() {
                Some(e) => e,
                None => Error::invalid("checksum_mismatch", "the chunk's checksum does not match its bytes"),
            });
        }
        if let Some(e) = failed.or(if received == 0 { cut.take() } else { None }) {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "aborting a refused chunk");
            }
            if let Some(d) = before {
                self.0.upload_digests().keep(id, offset, d);
            }
            return Err(e);
        }
        if received == 0 {
            writer.abort().await?;
            // All bytes are in but no photo was made (a crash between the
            // last chunk and the photo): an empty PATCH finishes it.
            if upload.offset == upload.length {
                return self.complete(user, upload, before).await;
            }
            if let Some(d) = before {
                self.0.upload_digests().keep(id, offset, d);
            }
            return Ok(upload);
        }
        if let Err(e) = writer.finish().await {
            // A failed finish leaves nothing of this chunk (BlobWriter's
            // rule); a part's key is cleared too, the staged file keeps
            // what earlier chunks wrote.
            if staging.is_none() {
                let _ = self.0.blobs().delete(&key).await;
            }
            return Err(e);
        }
        upload.offset += received;
        let complete = upload.offset == upload.length;
        if !complete {
            // It moved: the idle hour starts again.
            let idle_until = self.0.now() + self.0.settings().upload_idle;
            if self.0.meta().touch_upload(id, idle_until).await? {
                upload.expires_at =
                    upload.expires_at.max(idle_until).min(upload.created_at + self.0.settings().upload_ttl);
            }
        }
        if let Some(d) = digest.take_if(|_| !complete) {
            self.0.upload_digests().keep(id, upload.offset, d);
        }
        if let Some(head) = head {
            let probe = self.0.backends().renderer.probe(&head, complete);
            let refused = match probe {
                Err(e) => Some(e),
                Ok(Probe::NeedMore) if complete || head.len() >= PROBE_LIMIT => {
                    Some(Error::UnsupportedMedia { message: "the upload is not a complete JPEG or PNG header".into() })
                }
                Ok(_) => None,
            };
            if let Some(e) = refused {
                self.0.blobs().delete_prefix(&upload_key(id)).await?;
                self.0.meta().release_upload(id).await?;
                return Err(e);
            }
        }
        if let Some(e) = cut {
            tracing::info!(received, error = %e, "an upload's chunk was cut short; its bytes are kept");
            return Err(e);
        }
        if complete {
            return self.complete(user, upload, digest).await;
        }
        Ok(upload)
    }

    /// Makes the photo: the staged file moved into place, or the parts
    /// streamed, in order, into a new original.
    async fn complete(
        &self,
        user: &User,
        mut upload: ResumableUpload,
        digest: Option<sha2::Sha256>,
    ) -> Result<ResumableUpload> {
        let made = if self.0.blobs().staging().is_some() {
            self.adopt(user, &upload, digest).await
        } else {
            let blobs = self.0.backends().blobs.clone();
            let parts = blobs.list(&parts_prefix(upload.id)).await?;
            let stream: ByteStream = Box::pin(
                futures::stream::iter(parts)
                    .then(move |key| {
                        let blobs = blobs.clone();
                        async move { blobs.stream(&key, None).await }
                    })
                    .try_flatten(),
            );
            self.0
                .albums()
                .upload_completing(user, upload.album_id, upload.filename.as_deref(), stream, Some(upload.id))
                .await
        };
        let photo: Photo = match made {
            Ok(photo) => photo,
            Err(e) => {
                if !e.is_retryable() {
                    self.0.blobs().delete_prefix(&upload_key(upload.id)).await?;
                    self.0.meta().release_upload(upload.id).await?;
                }
                return Err(e);
            }
        };
        let done =
            serde_json::to_vec(&Done { photo_id: photo.id }).map_err(|e| Error::backend("encoding an upload", e))?;
        self.0.blobs().put(&done_key(upload.id), done.into()).await?;
        self.0.blobs().delete_prefix(&parts_prefix(upload.id)).await?;
        tracing::info!(photo_id = %photo.id, "resumable upload complete");
        upload.photo_id = Some(photo.id);
        Ok(upload)
    }

    /// The staged file becomes the photo, if it holds exactly the
    /// upload's length (two appends at once, which the protocol forbids,
    /// could leave it longer).
    async fn adopt(&self, user: &User, upload: &ResumableUpload, digest: Option<sha2::Sha256>) -> Result<Photo> {
        let key = data_key(upload.id);
        let size = self.0.blobs().size(&key).await?;
        if size != upload.length {
            return Err(Error::invalid(
                "upload_length_mismatch",
                format!("the upload holds {size} bytes but declared {}; start it again", upload.length),
            ));
        }
        self.0.albums().adopt(user, upload, &key, size, digest).await
    }

    /// Deletes an upload of the caller's and what it received (tus
    /// termination). A photo it already became stays.
    pub async fn terminate(&self, user: &User, album_id: AlbumId, id: UploadId) -> Result<()> {
        self.get(user, album_id, id).await?;
        self.0.blobs().delete_prefix(&upload_key(id)).await?;
        self.0.meta().release_upload(id).await
    }

    /// Deletes every upload past its expiry, complete or not, and leftovers
    /// of uploads whose description is gone (a crash mid-deletion) once a
    /// day old. Returns how many uploads went.
    pub async fn prune_expired(&self, now: DateTime<Utc>) -> Result<usize> {
        let keys = self.0.blobs().list(Self::PREFIX).await?;
        let mut ids: Vec<UploadId> =
            keys.iter().filter_map(|k| k.split('/').nth(1)?.parse::<UploadId>().ok()).collect();
        ids.dedup();
        let mut pruned = 0;
        for id in ids {
            // A reservation is left only while unfinished (the photo takes
            // its place in the transaction that records it).
            let idle = self.0.meta().upload_idle_until(id).await?.is_some_and(|until| until <= now);
            let expired = idle
                || match self.info(id).await? {
                    Some(info) => info.expires_at <= now,
                    None => id
                        .as_uuid()
                        .get_timestamp()
                        .map(|ts| ts.to_unix().0 as i64)
                        .is_none_or(|secs| secs < (now - chrono::Duration::days(1)).timestamp()),
                };
            if expired {
                self.0.blobs().delete_prefix(&upload_key(id)).await?;
                self.0.meta().release_upload(id).await?;
                pruned += 1;
            }
        }
        Ok(pruned)
    }
}
