//! The downloads service: zips of bought originals behind expiring links.

use std::{collections::HashMap, ops::Range};

use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::{
    ByteStream, DownloadLink, Error, LinkId, LinkSigner, Order, OrderId, OrderStatus, Photo, Proofsheet, Result,
};

/// A link as shown to its buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// The secret token (goes in the URL).
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// An opened download.
pub struct OpenedDownload {
    /// The link.
    pub link: DownloadLink,
    /// Size of the whole zip.
    pub total_size: u64,
    /// The requested bytes.
    pub body: ByteStream,
}

/// The downloads service. Get it with [`Proofsheet::downloads`].
pub struct Downloads<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The downloads service.
    pub fn downloads(&self) -> Downloads<'_> {
        Downloads(self)
    }
}

impl Downloads<'_> {
    /// Handles `OrderPaid`: streams the bought originals into a zip in the
    /// object store, then issues a link and marks the order `fulfilled`
    /// in one transaction. Running it twice issues one link.
    #[instrument(skip_all, fields(order_id = %id))]
    pub async fn build_zip(&self, id: OrderId) -> Result<()> {
        let meta = self.0.meta();
        let Some(order) = meta.order(id).await? else {
            return Ok(());
        };
        if order.status != OrderStatus::Paid {
            return Ok(()); // fulfilled already, or refunded meanwhile
        }
        let album = meta.album(order.album_id).await?.ok_or_else(|| {
            Error::backend_permanent("building a zip", "the album was deleted before its zip was made")
        })?;
        let entries = zip_entries(&order, &album.storage_prefix);
        let link_id = LinkId::new();
        let zip_key = format!("orders/{}/{}.zip", order.id, link_id);
        let packager = &self.0.backends().packager;
        let size = packager.package(self.0.blobs(), &zip_key, &entries).await?;
        let now = self.0.now();
        let link = DownloadLink {
            id: link_id,
            order_id: order.id,
            token_hash: LinkSigner::hash(&self.0.link_signer().token(link_id)),
            zip_key: zip_key.clone(),
            zip_size: size,
            expires_at: now + self.0.settings().link_ttl,
            created_at: now,
            download_count: 0,
            revoked: false,
        };
        if !meta.fulfil_order(&link, now).await? {
            // Refunded (or fulfilled by another worker) while we zipped.
            self.0.blobs().delete(&zip_key).await?;
            return Ok(());
        }
        tracing::info!(bytes = size, "order fulfilled");
        Ok(())
    }

    /// The order's current link, if it has a live one.
    pub async fn link(&self, order: &Order) -> Result<Option<LinkView>> {
        if order.status != OrderStatus::Fulfilled {
            return Ok(None);
        }
        Ok(self
            .0
            .meta()
            .link_for_order(order.id)
            .await?
            .filter(|l| !l.revoked)
            .map(|l| LinkView { token: self.0.link_signer().token(l.id), expires_at: l.expires_at }))
    }

    /// Checks a token: unknown, revoked and malformed tokens are
    /// `NotFound`; expired ones `Gone`. Counts nothing.
    pub async fn check(&self, token: &str) -> Result<DownloadLink> {
        if !LinkSigner::looks_like_token(token) {
            return Err(Error::not_found("download"));
        }
        let meta = self.0.meta();
        let link = meta.link_by_token_hash(&LinkSigner::hash(token)).await?.ok_or(Error::not_found("download"))?;
        if link.revoked {
            return Err(Error::not_found("download"));
        }
        if link.expires_at <= self.0.now() {
            return Err(Error::Gone { code: "link_expired", message: "this download link has expired".into() });
        }
        Ok(link)
    }

    /// Opens a download by token (see [`Downloads::check`]) and streams the
    /// zip, or `range` of it (already clamped to the size). A request that
    /// starts at byte 0 counts as one download.
    #[instrument(skip_all)]
    pub async fn open(&self, token: &str, range: Option<Range<u64>>) -> Result<OpenedDownload> {
        let link = self.check(token).await?;
        if range.as_ref().is_none_or(|r| r.start == 0) {
            self.0.meta().count_download(&link).await?;
        }
        let body = self.0.blobs().stream(&link.zip_key, range).await?;
        tracing::info!(order_id = %link.order_id, "download started");
        Ok(OpenedDownload { total_size: link.zip_size, link, body })
    }

    /// A time-limited URL straight to the zip in the object store, when
    /// the store can make one; the download is counted. `None`: stream it.
    pub async fn presigned(&self, token: &str, ttl: std::time::Duration) -> Result<Option<String>> {
        let link = self.check(token).await?;
        let Some(url) = self.0.blobs().presign_read(&link.zip_key, ttl).await? else { return Ok(None) };
        self.0.meta().count_download(&link).await?;
        tracing::info!(order_id = %link.order_id, "download redirected to the store");
        Ok(Some(url))
    }

    /// Revokes an order's links and deletes its zips (refunds).
    pub async fn revoke(&self, order: OrderId) -> Result<()> {
        // The store revoked the links with the status change; the blobs go now.
        for key in self.0.blobs().list(&format!("orders/{order}")).await? {
            self.0.blobs().delete(&key).await?;
        }
        Ok(())
    }
}

/// Names inside the zip: the photos' file names, made unique.
fn zip_entries(order: &Order, prefix: &str) -> Vec<(String, String)> {
    let mut used: HashMap<String, u32> = HashMap::new();
    order
        .items
        .iter()
        .map(|item| {
            let mut name = item.filename.clone();
            let n = used.entry(name.to_lowercase()).or_insert(0);
            *n += 1;
            if *n > 1 {
                name = match name.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem} ({n}).{ext}"),
                    None => format!("{name} ({n})"),
                };
            }
            (name, Photo::original_key(prefix, item.photo_id))
        })
        .collect()
}
