//! The logos service: a photographer's logo, which any of their albums may
//! burn into its previews (`WatermarkChoice::Logo`).
//!
//! The PNG lives in the blob store under a name made of its digest
//! ([`Logos::key`]); the metadata store names the current one. A new logo
//! moves every album that uses a logo to it (their previews are rendered
//! again), then the old file goes; removing the logo puts those albums back
//! on the deployment's default watermark.

use bytes::Bytes;
use tracing::instrument;

use crate::{
    Album, AlbumFilter, Error, Mark, PageRequest, Proofsheet, Result, Role, User, UserId, WatermarkChoice, short_digest,
};

/// The largest logo file accepted, in bytes.
pub const MAX_LOGO_BYTES: usize = 1024 * 1024;

/// A photographer's current logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// The digest of the PNG ([`short_digest`]): albums name it.
    pub digest: String,
    /// The PNG.
    pub png: Bytes,
}

/// The logos service. Get it with [`Proofsheet::logos`].
pub struct Logos<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The logos service.
    pub fn logos(&self) -> Logos<'_> {
        Logos(self)
    }
}

impl Logos<'_> {
    /// Where logo `digest` of `owner` is stored.
    pub fn key(owner: UserId, digest: &str) -> String {
        format!("{}/{digest}.png", Self::prefix(owner))
    }

    fn prefix(owner: UserId) -> String {
        format!("photographers/{owner}/logos")
    }

    fn check_role(user: &User) -> Result<()> {
        if user.role != Role::Photographer {
            return Err(Error::forbidden("photographers_only", "logos belong to photographers"));
        }
        Ok(())
    }

    /// Makes `png` the photographer's logo. It must be a PNG the renderer
    /// can draw, at most [`MAX_LOGO_BYTES`] (`TooLarge("logo_too_large")`,
    /// `Invalid("invalid_logo")`). Albums that use a logo move to this one
    /// and their previews are rendered again.
    #[instrument(skip_all, fields(user_id = %user.id, bytes = png.len()))]
    pub async fn put(&self, user: &User, png: Bytes) -> Result<Logo> {
        Self::check_role(user)?;
        if png.len() > MAX_LOGO_BYTES {
            return Err(Error::TooLarge {
                code: "logo_too_large",
                message: format!("a logo is at most {} KiB", MAX_LOGO_BYTES / 1024),
            });
        }
        let renderer = self.0.backends().renderer.clone();
        let file = png.clone();
        tokio::task::spawn_blocking(move || renderer.check_logo(&file))
            .await
            .map_err(|e| Error::backend("checking the logo", e))??;
        let digest = short_digest(&png);
        self.0.blobs().put(&Self::key(user.id, &digest), png.clone()).await?;
        self.0.meta().set_logo(user.id, Some(&digest), self.0.now()).await?;
        self.move_albums(user.id, Some(&digest)).await?;
        self.forget_others(user.id, Some(&digest)).await;
        tracing::info!(digest, "logo stored");
        Ok(Logo { digest, png })
    }

    /// The photographer's logo; `NotFound("logo")` when they have none.
    pub async fn get(&self, user: &User) -> Result<Logo> {
        Self::check_role(user)?;
        self.current(user.id).await?.ok_or(Error::not_found("logo"))
    }

    /// Whether the photographer has a logo: one read of its name, the PNG
    /// stays in storage (pages ask this on every visit).
    pub async fn has_logo(&self, user: &User) -> Result<bool> {
        Self::check_role(user)?;
        Ok(self.0.meta().logo(user.id).await?.is_some())
    }

    /// Removes the photographer's logo; albums that used it go back to the
    /// deployment's default watermark. `NotFound("logo")` when there is none.
    #[instrument(skip_all, fields(user_id = %user.id))]
    pub async fn delete(&self, user: &User) -> Result<()> {
        Self::check_role(user)?;
        if self.0.meta().logo(user.id).await?.is_none() {
            return Err(Error::not_found("logo"));
        }
        self.0.meta().set_logo(user.id, None, self.0.now()).await?;
        self.move_albums(user.id, None).await?;
        self.forget_others(user.id, None).await;
        tracing::info!("logo removed");
        Ok(())
    }

    /// The owner's current logo, read from storage.
    async fn current(&self, owner: UserId) -> Result<Option<Logo>> {
        let Some(digest) = self.0.meta().logo(owner).await? else { return Ok(None) };
        let png = self.0.blobs().get(&Self::key(owner, &digest)).await?;
        Ok(Some(Logo { digest, png }))
    }

    /// Fills in the logo a `Logo` choice of `owner`'s album names: their
    /// current one (`Conflict("no_logo")` when they have none: the choice
    /// is fine, the account is not ready for it).
    pub(crate) async fn resolve(&self, owner: UserId, choice: &mut WatermarkChoice) -> Result<()> {
        if let WatermarkChoice::Logo { logo, .. } = choice {
            *logo = self
                .0
                .meta()
                .logo(owner)
                .await?
                .ok_or_else(|| Error::conflict("no_logo", "upload a logo first (PUT /api/v1/users/me/logo)"))?;
        }
        Ok(())
    }

    /// An album's watermark with the files it names, as the renderer takes
    /// it. A logo missing from storage is `NotFound`.
    pub(crate) async fn mark(&self, owner: UserId, choice: Option<&WatermarkChoice>) -> Result<Option<Mark>> {
        let Some(choice) = choice else { return Ok(None) };
        let logo = match choice {
            WatermarkChoice::Logo { logo, .. } => Some(self.0.blobs().get(&Self::key(owner, logo)).await?),
            _ => None,
        };
        Ok(Some(Mark { choice: choice.clone(), logo }))
    }

    /// Points every album of `owner` that uses a logo at `digest` (`None`:
    /// back to the default watermark) and queues their previews.
    async fn move_albums(&self, owner: UserId, digest: Option<&str>) -> Result<()> {
        let meta = self.0.meta();
        let filter = AlbumFilter::OwnedBy(owner);
        let mut page = PageRequest::new(Some(PageRequest::MAX_LIMIT), None)?;
        loop {
            let albums = meta.list_albums(&filter, page).await?;
            for album in albums.items {
                let Some(WatermarkChoice::Logo { logo, position, scale_pct, opacity_pct }) = &album.watermark else {
                    continue;
                };
                if Some(logo.as_str()) == digest {
                    continue;
                }
                let watermark = digest.map(|d| WatermarkChoice::Logo {
                    logo: d.to_owned(),
                    position: *position,
                    scale_pct: *scale_pct,
                    opacity_pct: *opacity_pct,
                });
                let album = Album { watermark, updated_at: self.0.now(), ..album };
                meta.update_album(&album).await?;
                self.0.albums().refresh_previews(&album).await?;
            }
            match albums.next_cursor {
                Some(c) => page = PageRequest::new(Some(PageRequest::MAX_LIMIT), Some(&c))?,
                None => return Ok(()),
            }
        }
    }

    /// Deletes the owner's logo files but `keep` and the current one (a
    /// concurrent upload's). A failure is logged: a stray file costs a
    /// little storage, never a render.
    async fn forget_others(&self, owner: UserId, keep: Option<&str>) {
        let blobs = self.0.blobs();
        let current = self.0.meta().logo(owner).await.ok().flatten();
        let keep: Vec<String> = keep.into_iter().chain(current.as_deref()).map(|d| Self::key(owner, d)).collect();
        let keys = match blobs.list(&Self::prefix(owner)).await {
            Ok(keys) => keys,
            Err(e) => return tracing::warn!(error = %e, "could not list old logos"),
        };
        for key in keys.into_iter().filter(|k| !keep.contains(k)) {
            if let Err(e) = blobs.delete(&key).await {
                tracing::warn!(error = %e, key, "could not delete an old logo");
            }
        }
    }
}
