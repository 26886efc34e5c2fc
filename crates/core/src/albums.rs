//! The albums service: albums, uploads and access to photos.

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::instrument;

use crate::{
    Access, Album, AlbumFilter, AlbumId, BlobWriter, ByteStream, Email, Error, Money, NewJob, Page, PageRequest, Photo,
    PhotoId, PhotoStatus, Probe, Proofsheet, Result, Role, Task, User, Visibility, WatermarkChoice,
    photo::sanitize_filename,
};

/// Where [`Albums::move_photo`] puts a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoMove {
    /// One place earlier.
    Earlier,
    /// One place later.
    Later,
    /// Just before this photo of the same album.
    Before(PhotoId),
    /// Just after this photo of the same album.
    After(PhotoId),
}

/// How much of an upload is buffered to find the image header. JPEG
/// headers can sit behind large EXIF/ICC segments (up to 64 KiB each).
pub(crate) const PROBE_LIMIT: usize = 1024 * 1024;

/// What [`Albums::receive`] learnt of an upload's bytes.
struct Received {
    format: crate::ImageFormat,
    taken_at: Option<chrono::NaiveDateTime>,
    size: u64,
    sha256: String,
}

/// An upload past `max_upload_bytes`.
pub(crate) fn upload_too_large(max: u64) -> Error {
    Error::TooLarge { code: "upload_too_large", message: format!("an upload may be at most {max} bytes") }
}

fn hex(digest: sha2::Sha256) -> String {
    sha2::Digest::finalize(digest).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new album.
#[derive(Debug, Clone)]
pub struct NewAlbum {
    /// Display name.
    pub name: String,
    /// Who may see it.
    pub visibility: Visibility,
    /// The client it is shared with.
    pub client_email: Option<Email>,
    /// Price of each photo.
    pub price_per_photo: Money,
    /// When it closes to clients.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its own watermark; `None` for the deployment's default.
    pub watermark: Option<WatermarkChoice>,
    /// "Find me" on from the start (needs a face index: `Error::Conflict`
    /// `faces_unavailable` without one).
    pub find_me: bool,
    /// Made as a draft: only its owner sees it, and the invitation waits
    /// until it is published.
    pub draft: bool,
    /// The client's name, for the invitation and their account.
    pub client_name: Option<String>,
}

/// Changes to an album; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AlbumPatch {
    /// New name.
    pub name: Option<String>,
    /// New visibility.
    pub visibility: Option<Visibility>,
    /// New client (`Some(None)` removes it).
    pub client_email: Option<Option<Email>>,
    /// New price (applies to new orders only).
    pub price_per_photo: Option<Money>,
    /// New expiry (`Some(None)` removes it).
    pub expires_at: Option<Option<DateTime<Utc>>>,
    /// New watermark (`Some(None)` goes back to the default). Ready photos
    /// are rendered again with it, in the background.
    pub watermark: Option<Option<WatermarkChoice>>,
    /// Turn "Find me" on (its photos are indexed in the background) or off
    /// (their faces are deleted at once).
    pub find_me: Option<bool>,
    /// New client name (`Some(None)` removes it).
    pub client_name: Option<Option<String>>,
    /// Publish (`Some(false)`: the invitation goes now) or take back to a
    /// draft (`Some(true)`).
    pub draft: Option<bool>,
    /// New cover (`Some(None)`: the first photo); a photo of this album.
    pub cover_photo_id: Option<Option<PhotoId>>,
}

/// Which image of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoVariant {
    /// The watermarked preview.
    Preview,
    /// The watermarked grid thumbnail.
    Thumbnail,
    /// The untouched upload (owner only).
    Original,
}

/// A byte count as people read it: `912 KB`, `1.5 GB`, `100 GB` for the
/// default quota of 100 GiB (units of 1024, named as most storage meters
/// name them).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} bytes"),
        _ if value < 10.0 => format!("{value:.1} {}", UNITS[unit]),
        _ => format!("{value:.0} {}", UNITS[unit]),
    }
}

/// Invitations ("album shared" mails) one address receives in 24 hours,
/// from all photographers together.
pub const SHARE_MAILS_PER_RECIPIENT: usize = 5;

/// The albums service. Get it with [`Proofsheet::albums`].
pub struct Albums<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The albums service.
    pub fn albums(&self) -> Albums<'_> {
        Albums(self)
    }
}

impl Albums<'_> {
    /// Creates an album for a photographer.
    #[instrument(skip_all, fields(user_id = %user.id))]
    pub async fn create(&self, user: &User, new: NewAlbum) -> Result<Album> {
        if user.role != Role::Photographer {
            return Err(Error::forbidden("photographers_only", "only photographers create albums"));
        }
        // A past `expires_at` is allowed, as on update: the album is closed
        // to clients from the start, and its owner can extend it.
        let mut new = new;
        if new.find_me {
            self.0.faces().check_available()?;
        }
        if let Some(w) = &mut new.watermark {
            self.0.logos().resolve(user.id, w).await?;
            self.check_watermark(w).await?;
        }
        let now = self.0.now();
        let id = AlbumId::new();
        let album = Album {
            id,
            owner_id: user.id,
            name: Album::validate_name(&new.name)?,
            visibility: new.visibility,
            client_email: new.client_email,
            price_per_photo: new.price_per_photo,
            expires_at: new.expires_at,
            watermark: new.watermark,
            storage_prefix: Album::prefix_for(user.id, id),
            created_at: now,
            updated_at: now,
            purged_at: None,
            revision: 0,
            find_me: new.find_me,
            draft: new.draft,
            client_name: new.client_name.as_deref().map(Album::validate_client_name).transpose()?.flatten(),
            cover_photo_id: None,
        };
        self.0.meta().insert_album(&album).await?;
        tracing::info!(album_id = %album.id, "album created");
        self.share_notice(&album, None).await;
        Ok(album)
    }

    /// Tells a newly named client about their album. A failure to queue the
    /// notice is logged, never fails the album change.
    async fn share_notice(&self, album: &Album, before: Option<&Email>) {
        if album.draft {
            return;
        }
        let Some(to) = album.client_email.clone().filter(|e| Some(e) != before) else { return };
        if !self.0.share_notices().allow(album.id, album.owner_id, self.0.now()) {
            tracing::warn!(album_id = %album.id, "album-shared notice not sent: too many for this album or photographer today");
            return;
        }
        match self.recipient_slot(&to).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(album_id = %album.id, "album-shared notice not sent: too many for this address today");
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, album_id = %album.id, "could not count the album-shared notices");
                return;
            }
        }
        let job = NewJob::now(
            Task::Notify { notification: crate::Notification::AlbumShared { album_id: album.id, to } },
            self.0.now(),
        );
        if let Err(e) = self.0.backends().queue.enqueue(&job).await {
            tracing::error!(error = %e, album_id = %album.id, "could not queue the album-shared notice");
        }
    }

    /// The storage `user` uses (originals and unfinished uploads) and
    /// their quota, if there is one.
    pub async fn storage(&self, user: &User) -> Result<(u64, Option<u64>)> {
        Ok((self.0.meta().storage_used(user.id, self.0.now()).await?, self.0.settings().storage_quota))
    }

    /// Whether one more invitation may go to `to` today, whoever sends it
    /// (and counts it if so): at most [`SHARE_MAILS_PER_RECIPIENT`] a day,
    /// across all photographers and processes, so accounts cannot be made
    /// to relay mail to one address.
    async fn recipient_slot(&self, to: &Email) -> Result<bool> {
        let now = self.0.now();
        let until = now + chrono::Duration::hours(24);
        for k in 0..SHARE_MAILS_PER_RECIPIENT {
            if self.0.meta().take_mail_slot(&format!("album_shared:{to}:{k}"), now, until).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// An album as `viewer` may see it: `NotFound` when they may not.
    pub async fn get(&self, viewer: Option<&User>, id: AlbumId) -> Result<(Album, Access)> {
        let album = self.0.meta().album(id).await?.ok_or(Error::not_found("album"))?;
        let access = album.access_for(viewer);
        if !access.can_view() {
            return Err(Error::not_found("album"));
        }
        if access != Access::Owner && album.is_expired(self.0.now()) {
            return Err(Error::Gone { code: "album_expired", message: "this album has expired".into() });
        }
        Ok((album, access))
    }

    /// What a closed album still tells the people who could see it: its
    /// name and its studio (to say whom to ask). `NotFound` for anyone who
    /// could not see it, and for an album still open.
    pub async fn closed(&self, viewer: Option<&User>, id: AlbumId) -> Result<(String, crate::Studio)> {
        let album = self.0.meta().album(id).await?.ok_or(Error::not_found("album"))?;
        if !album.access_for(viewer).can_view() || !album.is_expired(self.0.now()) {
            return Err(Error::not_found("album"));
        }
        Ok((album.name.clone(), self.studio(&album).await?))
    }

    /// An album the caller owns; 403 for one they can see but not change.
    pub async fn get_owned(&self, user: &User, id: AlbumId) -> Result<Album> {
        let (album, access) = self.get(Some(user), id).await?;
        if access != Access::Owner {
            return Err(Error::forbidden("not_owner", "only the album's owner may do this"));
        }
        Ok(album)
    }

    /// Albums for the caller: a photographer's own, or those shared with a
    /// client's address plus the public ones.
    pub async fn list(&self, user: &User, page: PageRequest) -> Result<Page<Album>> {
        let filter = match user.role {
            Role::Photographer => AlbumFilter::OwnedBy(user.id),
            Role::Client | Role::Admin if user.email_verified => AlbumFilter::VisibleTo(user.email.clone()),
            Role::Client | Role::Admin => AlbumFilter::Public,
        };
        self.0.meta().list_albums(&filter, page).await
    }

    /// Changes an album.
    #[instrument(skip_all, fields(album_id = %id))]
    pub async fn update(&self, user: &User, id: AlbumId, patch: AlbumPatch) -> Result<Album> {
        let mut album = self.get_owned(user, id).await?;
        // Publishing tells the client as a new client would be told.
        let before = if album.draft { None } else { album.client_email.clone() };
        // Indexing starts when the search is turned on, or when an album
        // with it on reopens (expiry deleted its faces).
        let was_searchable = album.faces_searchable(self.0.now());
        if patch.find_me == Some(true) && !album.find_me {
            self.0.faces().check_available()?;
        }
        if let Some(f) = patch.find_me {
            album.find_me = f;
        }
        if let Some(name) = patch.name {
            album.name = Album::validate_name(&name)?;
        }
        if let Some(v) = patch.visibility {
            album.visibility = v;
        }
        if let Some(c) = patch.client_email {
            album.client_email = c;
        }
        if let Some(p) = patch.price_per_photo {
            album.price_per_photo = p;
        }
        if let Some(e) = patch.expires_at {
            album.expires_at = e;
        }
        if let Some(n) = patch.client_name {
            album.client_name = n.as_deref().map(Album::validate_client_name).transpose()?.flatten();
        }
        if let Some(d) = patch.draft {
            album.draft = d;
        }
        if let Some(cover) = patch.cover_photo_id {
            if let Some(photo) = cover {
                let p = self.0.meta().photo(photo).await?;
                if p.is_none_or(|p| p.album_id != album.id) {
                    return Err(Error::invalid("invalid_cover", "the cover must be a photo of this album"));
                }
            }
            album.cover_photo_id = cover;
        }
        let mut rewatermark = false;
        if let Some(mut w) = patch.watermark {
            if let Some(w) = &mut w {
                self.0.logos().resolve(album.owner_id, w).await?;
                self.check_watermark(w).await?;
            }
            rewatermark = w != album.watermark;
            album.watermark = w;
        }
        album.updated_at = self.0.now();
        let access_changed =
            album.client_email.as_ref() != before.as_ref() || patch.visibility.is_some() || patch.draft == Some(true);
        self.0.meta().update_album(&album).await?;
        self.share_notice(&album, before.as_ref()).await;
        if access_changed && let Err(e) = self.0.checkout().cancel_orders_without_access(&album).await {
            // The change is saved; checkout refuses such an order anyway.
            tracing::error!(error = %e, album_id = %album.id, "could not cancel the orders of buyers without access");
        }
        if rewatermark {
            self.refresh_previews(&album).await?;
        }
        if album.faces_searchable(self.0.now()) && !was_searchable && self.0.faces().available() {
            self.0.faces().queue_album(&album).await?;
        }
        Ok(album)
    }

    /// Asks the renderer whether it can draw `choice`, off the async
    /// workers (a plugin is run on a sample image, up to its deadline).
    async fn check_watermark(&self, choice: &WatermarkChoice) -> Result<()> {
        choice.validate()?;
        let renderer = self.0.backends().renderer.clone();
        let choice = choice.clone();
        tokio::task::spawn_blocking(move || renderer.check_watermark(&choice))
            .await
            .map_err(|e| Error::backend("checking the watermark", e))?
    }

    /// Renders one of the album's photos (the first ready one; the
    /// renderer's sample while there is none) with `watermark` (`None`: the
    /// deployment's default) and answers the preview JPEG: what the album
    /// would look like with it, before it is saved. Owner only.
    /// `Conflict("no_photo")` when there is nothing to draw on.
    #[instrument(skip_all, fields(album_id = %id))]
    pub async fn watermark_preview(
        &self,
        user: &User,
        id: AlbumId,
        watermark: Option<WatermarkChoice>,
    ) -> Result<Bytes> {
        let album = self.get_owned(user, id).await?;
        let mut watermark = watermark;
        if let Some(w) = &mut watermark {
            self.0.logos().resolve(album.owner_id, w).await?;
            self.check_watermark(w).await?;
        }
        let mark = self.0.logos().mark(album.owner_id, watermark.as_ref()).await?;
        let renderer = &self.0.backends().renderer;
        let photos = self.0.meta().list_photos(album.id, PageRequest::new(Some(PageRequest::MAX_LIMIT), None)?).await?;
        let original = match photos.items.iter().find(|p| p.status == PhotoStatus::Ready) {
            Some(p) => self.0.blobs().get(&Photo::original_key(&album.storage_prefix, p.id)).await?,
            None => renderer
                .sample()
                .ok_or_else(|| Error::conflict("no_photo", "upload a photo first to preview a watermark on it"))?,
        };
        Ok(self.0.render_in_budget(original, mark.as_ref()).await.0?.preview)
    }

    /// Queues a re-render of every ready or failed photo in the album (its
    /// watermark changed; a failure may have been the old watermark's).
    /// Photos still processing pick the new watermark up when their own job
    /// runs.
    pub(crate) async fn refresh_previews(&self, album: &Album) -> Result<()> {
        let version = crate::watermark_version(album.watermark.as_ref());
        let queued = self
            .0
            .enqueue_per_photo(album, |p| {
                (p.status != PhotoStatus::Processing)
                    .then(|| Task::RefreshPreview { photo_id: p.id, watermark: Some(version.clone()) })
            })
            .await?;
        tracing::info!(album_id = %album.id, photos = queued, "previews queued for the new watermark");
        Ok(())
    }

    /// Deletes an album, its photo records and every blob under its prefix.
    /// Orders keep their own copy of what was bought; zips already made stay.
    /// Originals bought within the download window are the exception: the
    /// album disappears at once for everyone, but those originals stay until
    /// their buyers' window closes (a fresh link still zips them), and the
    /// clean-up task removes them once no order holds them.
    #[instrument(skip_all, fields(album_id = %id))]
    pub async fn delete(&self, user: &User, id: AlbumId) -> Result<()> {
        let album = self.get_owned(user, id).await?;
        // Metadata first: once the rows are gone nothing links to the blobs,
        // and a crash between the two leaves only orphans for clean-up.
        self.0.meta().delete_album(album.id).await?;
        let held = self.0.delete_album_blobs(&album).await?;
        tracing::info!(held, "album deleted; originals within a download window kept");
        Ok(())
    }

    /// Stores an upload streamed from `body` and queues its previews.
    ///
    /// The first bytes are probed (format, dimensions) before anything is
    /// stored: non-images fail with `UnsupportedMedia`, pixel bombs with
    /// `TooLarge`, both without decoding. The body is then streamed to the
    /// object store, never held whole; past `max_upload_bytes` the write is
    /// aborted and `TooLarge` returned. The photo row and its render job
    /// are written in one transaction.
    ///
    /// The photographer's storage quota ([`crate::Settings::storage_quota`])
    /// is checked before the body is read (nothing left: `QuotaExceeded`)
    /// and again, with the photo's size, in the transaction that records
    /// it; a refused upload's bytes are deleted.
    #[instrument(skip_all, fields(album_id = %album_id))]
    pub async fn upload(
        &self,
        user: &User,
        album_id: AlbumId,
        filename: Option<&str>,
        body: ByteStream,
    ) -> Result<Photo> {
        self.upload_completing(user, album_id, filename, body, None).await
    }

    /// [`Albums::upload`] of the bytes of the resumable upload `releasing`,
    /// whose reservation the photo replaces.
    pub(crate) async fn upload_completing(
        &self,
        user: &User,
        album_id: AlbumId,
        filename: Option<&str>,
        body: ByteStream,
        releasing: Option<crate::UploadId>,
    ) -> Result<Photo> {
        let album = self.get_owned(user, album_id).await?;
        if releasing.is_none()
            && let Some(limit) = self.0.settings().storage_quota
        {
            let used = self.0.meta().storage_used(user.id, self.0.now()).await?;
            if used >= limit {
                return Err(Error::QuotaExceeded { used, limit, wanted: 1 });
            }
        }
        let id = PhotoId::new();
        let key = Photo::original_key(&album.storage_prefix, id);
        let mut writer = self.0.blobs().writer(&key).await?;
        let received = match self.receive(body, Some(&mut writer)).await {
            Ok(r) => r,
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, "aborting a failed upload");
                }
                return Err(e);
            }
        };
        if let Err(e) = writer.finish().await {
            // A failed finish aborts itself (BlobWriter's rule); the key too
            // must not keep a partial object (a full disk fails here).
            let _ = self.0.blobs().delete(&key).await;
            return Err(e);
        }
        let recorded = self.record(album_id, id, filename, received, releasing).await;
        if recorded.is_err() {
            let _ = self.0.blobs().delete(&key).await;
        }
        recorded
    }

    /// Makes a photo of the staged object `staged` ([`crate::Staging`]),
    /// as [`Albums::upload`] would of its bytes: the same probe, size
    /// limit and render job, but the bytes are read once and the object
    /// is moved into place rather than written again. Resumable uploads
    /// end here on stores that stage. Given the SHA-256 state of all its
    /// `size` bytes (the chunks went through this process in order), only
    /// the header is read.
    pub(crate) async fn adopt(
        &self,
        user: &User,
        upload: &crate::ResumableUpload,
        staged: &str,
        size: u64,
        digest: Option<sha2::Sha256>,
    ) -> Result<Photo> {
        let (album_id, filename) = (upload.album_id, upload.filename.as_deref());
        let album = self.get_owned(user, album_id).await?;
        let staging = self
            .0
            .blobs()
            .staging()
            .ok_or_else(|| Error::backend_permanent("adopting a staged upload", "this store does not stage"))?;
        let received = match digest {
            None => self.receive(self.0.blobs().stream(staged, None).await?, None).await?,
            Some(digest) => {
                let max = self.0.settings().max_upload_bytes;
                if size > max {
                    return Err(upload_too_large(max));
                }
                let limit = size.min(PROBE_LIMIT as u64);
                let mut head = self.0.blobs().stream(staged, Some(0..limit)).await?;
                let (info, _) = self.probe(&mut head, limit == size).await?;
                Received { format: info.format, taken_at: info.taken_at, size, sha256: hex(digest) }
            }
        };
        let id = PhotoId::new();
        let key = Photo::original_key(&album.storage_prefix, id);
        staging.rename(staged, &key).await?;
        let recorded = self.record(album_id, id, filename, received, Some(upload.id)).await;
        if recorded.is_err() {
            // Back where it was, so a retry finds the upload whole.
            if let Err(e) = staging.rename(&key, staged).await {
                tracing::warn!(error = %e, "moving a staged upload back");
                let _ = self.0.blobs().delete(&key).await;
            }
        }
        recorded
    }

    /// Reads the start of `body` until the renderer's probe knows the
    /// image (`whole` when the stream's end is the file's end) or gives up:
    /// `UnsupportedMedia` past [`PROBE_LIMIT`] or at the end, `TooLarge`
    /// past `max_upload_bytes`. Returns what it learnt and the bytes read.
    async fn probe(&self, body: &mut ByteStream, whole: bool) -> Result<(crate::ImageInfo, BytesMut)> {
        let max = self.0.settings().max_upload_bytes;
        let mut head = BytesMut::new();
        let mut ended = false;
        loop {
            match self.0.backends().renderer.probe(&head, ended && whole)? {
                Probe::Image(info) => return Ok((info, head)),
                Probe::NeedMore if ended || head.len() >= PROBE_LIMIT => {
                    return Err(Error::UnsupportedMedia {
                        message: "the upload is not a complete JPEG or PNG header".into(),
                    });
                }
                Probe::NeedMore => match body.next().await {
                    Some(chunk) => head.extend_from_slice(&chunk?),
                    None => ended = true,
                },
            }
            if head.len() as u64 > max {
                return Err(upload_too_large(max));
            }
        }
    }

    /// Reads an upload: its header probed before anything is stored
    /// (format, dimensions; non-images are `UnsupportedMedia`, pixel bombs
    /// `TooLarge`), then every byte hashed, counted against
    /// `max_upload_bytes` and, given a writer, written.
    async fn receive(&self, mut body: ByteStream, mut writer: Option<&mut Box<dyn BlobWriter>>) -> Result<Received> {
        let max = self.0.settings().max_upload_bytes;

        let (info, head) = self.probe(&mut body, true).await?;
        let mut size = head.len() as u64;
        let mut digest = <sha2::Sha256 as sha2::Digest>::new();
        sha2::Digest::update(&mut digest, &head);
        if let Some(w) = writer.as_mut() {
            w.write(head.freeze()).await?;
        }
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > max {
                return Err(upload_too_large(max));
            }
            sha2::Digest::update(&mut digest, &chunk);
            if let Some(w) = writer.as_mut() {
                w.write(chunk).await?;
            }
        }
        Ok(Received { format: info.format, taken_at: info.taken_at, size, sha256: hex(digest) })
    }

    /// Writes the row of a photo whose original is stored, with its render
    /// job, in one transaction.
    async fn record(
        &self,
        album_id: AlbumId,
        id: PhotoId,
        filename: Option<&str>,
        received: Received,
        releasing: Option<crate::UploadId>,
    ) -> Result<Photo> {
        let now = self.0.now();
        let stem = format!("photo-{}", &id.to_string()[..8]);
        let photo = Photo {
            id,
            album_id,
            filename: sanitize_filename(filename, &stem, received.format.extension()),
            content_type: received.format.mime().to_owned(),
            size_bytes: received.size,
            status: PhotoStatus::Processing,
            failure_reason: None,
            width: None,
            height: None,
            created_at: now,
            renders: 0,
            sha256: Some(received.sha256),
            taken_at: received.taken_at.map(|t| t.and_utc()),
            position: None,
        };
        let job = NewJob::now(Task::RenderPreview { photo_id: id }, now);
        let quota = self.0.settings().storage_quota;
        self.0.meta().insert_photo_within_quota(&photo, &[job], quota, releasing, now).await?;
        tracing::info!(photo_id = %id, bytes = received.size, "photo uploaded");
        Ok(photo)
    }

    /// Sets the album's photo order (owner only): `order` first, in that
    /// order, then every photo it leaves out, in capture order
    /// ([`crate::AlbumStore`]'s rule).
    #[instrument(skip_all, fields(album_id = %album_id))]
    pub async fn set_order(&self, user: &User, album_id: AlbumId, order: &[PhotoId]) -> Result<()> {
        let album = self.get_owned(user, album_id).await?;
        self.0.meta().set_photo_order(album.id, order).await
    }

    /// Moves one photo in its album's order (owner only): a place earlier
    /// or later (at either end it stays), or just before or after another
    /// photo of the album (the studio's drag and drop; another album's
    /// photo is 422 `invalid_photo_order`). Every photo is placed
    /// afterwards, in one statement, so the order is the one the owner saw.
    #[instrument(skip_all, fields(photo_id = %id))]
    pub async fn move_photo(&self, user: &User, id: PhotoId, to: PhotoMove) -> Result<()> {
        let (photo, album, access) = self.photo(Some(user), id).await?;
        if access != Access::Owner {
            return Err(Error::forbidden("not_owner", "only the album's owner may do this"));
        }
        let mut ids = self.all_photos(&album).await?.into_iter().map(|p| p.id).collect::<Vec<_>>();
        let at = ids.iter().position(|p| *p == photo.id).ok_or(Error::not_found("photo"))?;
        let moved = ids.remove(at);
        let place = |of: PhotoId, ids: &[PhotoId]| {
            ids.iter().position(|p| *p == of).ok_or_else(|| {
                Error::invalid("invalid_photo_order", "a photo moves only beside another photo of its album")
            })
        };
        let to = match to {
            PhotoMove::Earlier => at.saturating_sub(1),
            PhotoMove::Later => (at + 1).min(ids.len()),
            PhotoMove::Before(of) if of == moved => at,
            PhotoMove::After(of) if of == moved => at,
            PhotoMove::Before(of) => place(of, &ids)?,
            PhotoMove::After(of) => place(of, &ids)? + 1,
        };
        ids.insert(to, moved);
        if to != at {
            self.0.meta().set_photo_order(album.id, &ids).await?;
        }
        Ok(())
    }

    /// Every photo of an album, in its order.
    pub async fn all_photos(&self, album: &Album) -> Result<Vec<Photo>> {
        crate::page::every_page(|page| self.photos_of(album, page)).await
    }

    /// An album's photos, as the album's viewer may see them.
    pub async fn photos(&self, viewer: Option<&User>, album_id: AlbumId, page: PageRequest) -> Result<Page<Photo>> {
        let (album, _) = self.get(viewer, album_id).await?;
        self.photos_of(&album, page).await
    }

    /// The name an album's gallery carries: its studio's.
    pub async fn studio_name(&self, album: &Album) -> Result<String> {
        Ok(self.studio(album).await?.name)
    }

    /// The studio of the album's photographer (its name, contact, time
    /// zone): what the album's pages and mails show.
    pub async fn studio(&self, album: &Album) -> Result<crate::Studio> {
        self.0.users().studio(album.owner_id).await
    }

    /// A page of the photos of an album [`Albums::get`] already gave the
    /// viewer (access decided there; no second read of the album).
    pub async fn photos_of(&self, album: &Album, page: PageRequest) -> Result<Page<Photo>> {
        self.0.meta().list_photos(album.id, page).await
    }

    /// The ready photos of `album` among `ids`, in the order given; ids of
    /// other albums, unknown or not ready are left out. For a caller that
    /// already holds the album (read through [`Albums::get`], which
    /// authorizes): the cart, and the tiles of "Find me" matches. The
    /// caller bounds `ids`; one read per id.
    pub async fn ready_photos_in(&self, album: &Album, ids: &[PhotoId]) -> Result<Vec<Photo>> {
        let mut photos = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(p) = self.0.meta().photo(*id).await?
                && p.album_id == album.id
                && p.status == PhotoStatus::Ready
            {
                photos.push(p);
            }
        }
        Ok(photos)
    }

    /// A photo and its album, if `viewer` may see the album.
    pub async fn photo(&self, viewer: Option<&User>, id: PhotoId) -> Result<(Photo, Album, Access)> {
        let photo = self.0.meta().photo(id).await?.ok_or(Error::not_found("photo"))?;
        let (album, access) = self.get(viewer, photo.album_id).await.map_err(|e| match e {
            Error::NotFound { .. } => Error::not_found("photo"),
            e => e,
        })?;
        Ok((photo, album, access))
    }

    /// Where one image of a photo is stored, if `viewer` may have it (the
    /// key only this check makes; [`Albums::image_stream`] opens it).
    /// Originals go to the owner only: anyone else gets `NotFound`, as if
    /// it did not exist. Previews exist once the photo is `ready`.
    pub async fn image_key(
        &self,
        viewer: Option<&User>,
        id: PhotoId,
        variant: PhotoVariant,
    ) -> Result<(Photo, ImageKey)> {
        let (photo, album, access) = self.photo(viewer, id).await?;
        if album.purged_at.is_some() {
            return Err(Error::Gone {
                code: "album_purged",
                message: "this album's photos were deleted after it expired".into(),
            });
        }
        let key = match variant {
            PhotoVariant::Original if access != Access::Owner => return Err(Error::not_found("photo")),
            PhotoVariant::Original => Photo::original_key(&album.storage_prefix, id),
            _ if photo.status != PhotoStatus::Ready => {
                return Err(Error::conflict("photo_not_ready", format!("the photo is {}", photo.status.as_str())));
            }
            PhotoVariant::Preview => Photo::preview_key(&album.storage_prefix, id),
            PhotoVariant::Thumbnail => Photo::thumbnail_key(&album.storage_prefix, id),
        };
        Ok((photo, ImageKey(key)))
    }

    /// The bytes of one image of a photo (see [`Albums::image_key`]).
    pub async fn image(&self, viewer: Option<&User>, id: PhotoId, variant: PhotoVariant) -> Result<(Photo, Bytes)> {
        let (photo, key) = self.image_key(viewer, id, variant).await?;
        let bytes = self.0.blobs().get(key.as_str()).await?;
        Ok((photo, bytes))
    }

    /// An image [`Albums::image_key`] allowed, as a stream, never whole in
    /// memory (originals may be hundreds of megabytes).
    pub async fn image_stream(&self, key: &ImageKey) -> Result<crate::ByteStream> {
        self.0.blobs().stream(key.as_str(), None).await
    }

    /// A short-lived URL of the store itself for an image
    /// [`Albums::image_key`] allowed, where the store signs such URLs (S3);
    /// `None` where it does not (files, memory).
    pub async fn image_url(&self, key: &ImageKey, ttl: std::time::Duration) -> Result<Option<String>> {
        self.0.blobs().presign_read(key.as_str(), ttl).await
    }

    /// Marks (`on`) or unmarks a photo as `user`'s favourite. For clients
    /// who may see the album (its client, or anyone signed in on a public
    /// album); the owner gets `Forbidden("clients_only")`, anyone who may
    /// not see the photo `NotFound`. Idempotent.
    pub async fn set_favourite(&self, user: &User, id: PhotoId, on: bool) -> Result<()> {
        let (photo, album, access) = self.photo(Some(user), id).await?;
        if access == Access::Owner || user.role != crate::Role::Client {
            return Err(Error::forbidden("clients_only", "only clients mark favourites"));
        }
        self.0.meta().set_favourite(album.id, photo.id, user.id, on, self.0.now()).await
    }

    /// The photos of an album that `user` marked (none for a visitor).
    pub async fn favourites_of(&self, user: Option<&User>, album: &Album) -> Result<Vec<PhotoId>> {
        match user {
            Some(u) if u.role == crate::Role::Client => self.0.meta().favourites_of(album.id, u.id).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Mails the album's client the invitation (again), for its owner;
    /// `false` when the album names no client or the day's share notices
    /// for this album or photographer are used up.
    pub async fn send_invitation(&self, user: &User, id: AlbumId) -> Result<bool> {
        let album = self.get_owned(user, id).await?;
        if album.draft {
            return Err(Error::conflict("album_is_draft", "publish the album first: a draft mails nobody"));
        }
        let Some(to) = album.client_email.clone() else { return Ok(false) };
        if !self.0.share_notices().allow(album.id, album.owner_id, self.0.now()) || !self.recipient_slot(&to).await? {
            return Ok(false);
        }
        let notification = crate::Notification::AlbumShared { album_id: album.id, to };
        self.0.backends().queue.enqueue(&NewJob::now(Task::Notify { notification }, self.0.now())).await?;
        Ok(true)
    }

    /// How many photos each of a photographer's albums holds.
    pub async fn photo_counts(&self, user: &User) -> Result<std::collections::HashMap<AlbumId, u64>> {
        Ok(self.0.meta().photo_counts(user.id).await?.into_iter().collect())
    }

    /// Every client's favourites in an album, for its owner.
    pub async fn favourites(&self, user: &User, album_id: AlbumId) -> Result<Vec<crate::Favourite>> {
        let album = self.get_owned(user, album_id).await?;
        self.0.meta().favourites(album.id).await
    }

    /// Deletes a photo, its previews and its original.
    #[instrument(skip_all, fields(photo_id = %id))]
    pub async fn delete_photo(&self, user: &User, id: PhotoId) -> Result<()> {
        let (photo, album, access) = self.photo(Some(user), id).await?;
        if access != Access::Owner {
            return Err(Error::forbidden("not_owner", "only the album's owner may do this"));
        }
        // A sold original stays for its buyers' download window: the photo
        // disappears from the album, and clean-up removes the original once
        // no order holds it.
        let held = self.0.held_photos(album.id).await?.contains(&id);
        self.0.meta().delete_photo(photo.id).await?;
        let prefix = &album.storage_prefix;
        let mut keys = vec![Photo::preview_key(prefix, id), Photo::thumbnail_key(prefix, id)];
        if held {
            tracing::info!("original kept: an order within its download window holds it");
        } else {
            keys.push(Photo::original_key(prefix, id));
        }
        for key in keys {
            self.0.blobs().delete(&key).await?;
        }
        Ok(())
    }
}

/// Where an image [`Albums::image_key`] allowed is stored. Only that check
/// makes one, so [`Albums::image_stream`] opens nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageKey(String);

impl ImageKey {
    /// The object key (for a presigned URL).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod bytes_tests {
    #[test]
    fn byte_counts_read_as_people_count() {
        assert_eq!(super::human_bytes(0), "0 bytes");
        assert_eq!(super::human_bytes(1023), "1023 bytes");
        assert_eq!(super::human_bytes(1_536), "1.5 KB");
        assert_eq!(super::human_bytes(912 * 1024), "912 KB");
        assert_eq!(super::human_bytes(100 << 30), "100 GB");
        assert_eq!(super::human_bytes(1500 << 40), "1500 TB");
    }
}
