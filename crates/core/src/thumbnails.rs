//! The thumbnails service: turns `PhotoUploaded` into previews.

use tracing::instrument;

use crate::{Error, Photo, PhotoId, PhotoStatus, Proofsheet, Result};

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
        let prefix = &album.storage_prefix;
        let original = match self.0.blobs().get(&Photo::original_key(prefix, id)).await {
            Err(e) if e.is_not_found() => {
                return self.mark_failed(id, "the original is missing from storage").await;
            }
            other => other?,
        };
        let started = std::time::Instant::now();
        let out = match self.0.backends().renderer.render(original).await {
            Ok(out) => out,
            Err(Error::Image { message }) => {
                crate::metrics::preview("rejected", started.elapsed());
                return self.mark_failed(id, &message).await;
            }
            Err(e) => return Err(e),
        };
        crate::metrics::preview("rendered", started.elapsed());
        let blobs = self.0.blobs();
        blobs.put(&Photo::preview_key(prefix, id), out.preview).await?;
        blobs.put(&Photo::thumbnail_key(prefix, id), out.thumbnail).await?;
        // Only a still-processing photo becomes ready (it may have been
        // deleted, or finished by another worker, while we rendered).
        if !meta.mark_photo_rendered(id, out.width, out.height).await? {
            return Ok(());
        }
        tracing::info!(ms = started.elapsed().as_millis() as u64, "previews rendered");
        Ok(())
    }

    /// Marks a photo `failed` with a reason its owner can read.
    pub async fn mark_failed(&self, id: PhotoId, reason: &str) -> Result<()> {
        let meta = self.0.meta();
        if let Some(mut photo) = meta.photo(id).await? {
            tracing::warn!(photo_id = %id, reason, "photo failed");
            photo.status = PhotoStatus::Failed;
            photo.failure_reason = Some(reason.chars().take(500).collect());
            meta.update_photo(&photo).await?;
        }
        Ok(())
    }
}
