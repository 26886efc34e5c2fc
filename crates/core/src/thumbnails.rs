//! The thumbnails service: turns `PhotoUploaded` into previews.

use tracing::instrument;

use crate::{Album, Error, Photo, PhotoId, PhotoStatus, Proofsheet, Renditions, Result};

/// What rendering a photo came to.
enum RenderOutcome {
    /// Stored.
    Done(Renditions),
    /// The file or the watermark can never render: the reason.
    Failed(String),
}

/// The thumbnails service. Get it with [`Proofsheet::thumbnails`].
pub struct Thumbnails<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The thumbnails service.
    pub fn thumbnails(&self) -> Thumbnails<'_> {
        Thumbnails(self)
    }
}

impl Thumbnails<'_> {
    /// Renders a photo's preview and thumbnail.
    ///
    /// A file that can never be rendered (corrupt, truncated) marks the
    /// photo `failed` with the reason and returns `Ok`: the job is done.
    /// Transient errors (storage) are returned so the queue retries.
    #[instrument(skip_all, fields(photo_id = %id))]
    pub async fn render(&self, id: PhotoId) -> Result<()> {
        let meta = self.0.meta();
        let Some(photo) = meta.photo(id).await? else {
            return Ok(()); // deleted since upload: nothing to do
        };
        if photo.status != PhotoStatus::Processing {
            // A job delivered again (its first worker died after finishing):
            // the work is done, do not render twice.
            return Ok(());
        }
        let Some(album) = meta.album(photo.album_id).await? else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        let out = match self.render_blobs(&album, id).await? {
            RenderOutcome::Done(out) => out,
            RenderOutcome::Failed(reason) => return self.mark_failed(id, &reason).await,
        };
        // Only a still-processing photo becomes ready (it may have been
        // deleted, or finished by another worker, while we rendered).
        let mut ready = photo.clone();
        ready.status = PhotoStatus::Ready;
        ready.failure_reason = None;
        (ready.width, ready.height) = (Some(out.width), Some(out.height));
        let event = self.0.event_job(crate::EventType::PhotoReady, album.owner_id, crate::webhooks::photo_data(&ready));
        // Faces are indexed by a job of their own, queued with the change:
        // the preview never waits for them.
        let jobs: Vec<_> = std::iter::once(event).chain(self.0.faces().job_after_render(&album, id)).collect();
        if !meta.mark_photo_rendered(id, out.width, out.height, &jobs).await? {
            return Ok(());
        }
        tracing::info!(ms = started.elapsed().as_millis() as u64, "previews rendered");
        Ok(())
    }

    /// Renders a photo's preview and thumbnail again with its album's
    /// current watermark (it changed). A ready photo is re-rendered in
    /// place and stays `ready`, so clients keep seeing the old preview until
    /// the new one is stored. A failed photo is tried again and becomes
    /// `ready` if it renders now (its failure may have been the old
    /// watermark's). Photos still processing are left to their own job,
    /// which reads the album's watermark when it runs.
    ///
    /// `watermark` is the version ([`crate::watermark_version`]) the
    /// refresh was queued for: if the album's watermark has changed since, a
    /// newer refresh is queued and this one returns at once (`None`: always
    /// render).
    #[instrument(skip_all, fields(photo_id = %id))]
    pub async fn refresh(&self, id: PhotoId, watermark: Option<&str>) -> Result<()> {
        let meta = self.0.meta();
        let Some(mut photo) = meta.photo(id).await? else { return Ok(()) };
        if photo.status == PhotoStatus::Processing {
            return Ok(());
        }
        let Some(album) = meta.album(photo.album_id).await? else { return Ok(()) };
        if album.purged_at.is_some() {
            return Ok(());
        }
        if watermark.is_some_and(|v| v != crate::watermark_version(album.watermark.as_ref())) {
            tracing::debug!("watermark changed again since; the newer refresh renders it");
            crate::metrics::preview("superseded", std::time::Duration::ZERO);
            return Ok(());
        }
        match self.render_blobs(&album, id).await? {
            // A ready photo's original rendered before, so the new watermark
            // is what fails on it: it is marked, as a new upload would be; a
            // failed one keeps failing with the new reason.
            RenderOutcome::Failed(reason) => return self.mark_failed(id, &reason).await,
            RenderOutcome::Done(out) => {
                let was_failed = photo.status == PhotoStatus::Failed;
                photo.status = PhotoStatus::Ready;
                photo.failure_reason = None;
                photo.width = Some(out.width);
                photo.height = Some(out.height);
                // New images: their ETags change with the count.
                photo.renders += 1;
                let mut events = Vec::new();
                if was_failed {
                    tracing::info!("a failed photo rendered with the new watermark");
                    let data = crate::webhooks::photo_data(&photo);
                    events.push(self.0.event_job(crate::EventType::PhotoReady, album.owner_id, data));
                    events.extend(self.0.faces().job_after_render(&album, id));
                }
                meta.update_photo(&photo, &events).await?;
                tracing::info!("previews refreshed");
            }
        }
        Ok(())
    }

    /// Renders and stores the preview and thumbnail of photo `id`.
    async fn render_blobs(&self, album: &Album, id: PhotoId) -> Result<RenderOutcome> {
        let prefix = &album.storage_prefix;
        let original = match self.0.blobs().get(&Photo::original_key(prefix, id)).await {
            Err(e) if e.is_not_found() => {
                return Ok(RenderOutcome::Failed("the original is missing from storage".into()));
            }
            other => other?,
        };
        let mark = match self.0.logos().mark(album.owner_id, album.watermark.as_ref()).await {
            Err(e) if e.is_not_found() => return self.logo_missing(album).await,
            other => other?,
        };
        let (out, took) = self.0.render_in_budget(original, mark.as_ref()).await;
        let out = match out {
            Ok(out) => out,
            Err(Error::Image { message }) => {
                crate::metrics::preview("rejected", took);
                return Ok(RenderOutcome::Failed(message));
            }
            Err(e) => return Err(e),
        };
        crate::metrics::preview("rendered", took);
        let blobs = self.0.blobs();
        blobs.put(&Photo::preview_key(prefix, id), out.preview.clone()).await?;
        blobs.put(&Photo::thumbnail_key(prefix, id), out.thumbnail.clone()).await?;
        Ok(RenderOutcome::Done(out))
    }

    /// The album's logo is not in storage. If the album has moved to another
    /// logo since it was read (a new one was uploaded and the old file
    /// deleted), the job is tried again and reads the album anew;
    /// otherwise the photo fails with the reason.
    async fn logo_missing(&self, album: &Album) -> Result<RenderOutcome> {
        let now = self.0.meta().album(album.id).await?;
        if now.is_some_and(|a| a.watermark != album.watermark) {
            return Err(Error::conflict("watermark_changed", "the album's watermark changed during the render"));
        }
        Ok(RenderOutcome::Failed("the album's logo is missing from storage".into()))
    }

    /// Marks a photo `failed` with a reason its owner can read.
    pub async fn mark_failed(&self, id: PhotoId, reason: &str) -> Result<()> {
        let meta = self.0.meta();
        if let Some(mut photo) = meta.photo(id).await? {
            tracing::warn!(photo_id = %id, reason, "photo failed");
            let newly = photo.status != PhotoStatus::Failed;
            photo.status = PhotoStatus::Failed;
            photo.failure_reason = Some(reason.chars().take(500).collect());
            let mut events = Vec::new();
            if newly && let Some(album) = meta.album(photo.album_id).await? {
                let data = crate::webhooks::photo_data(&photo);
                events.push(self.0.event_job(crate::EventType::PhotoFailed, album.owner_id, data));
            }
            meta.update_photo(&photo, &events).await?;
        }
        Ok(())
    }
}
