//! The downloads service: zips of bought originals behind expiring links.

use std::{collections::HashMap, ops::Range};

use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::{
    Album, ByteStream, DownloadLink, Error, LinkId, LinkSigner, NewJob, Notification, Order, OrderId, OrderStatus,
    Photo, Proofsheet, Result, Task,
};

/// A link as shown to its buyer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    /// The secret token (goes in the URL).
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// One bought photo of a link's order, ready to stream on its own.
#[derive(Debug, Clone)]
pub struct DownloadFile {
    /// The link it is served under (its expiry and byte budget apply).
    pub link: DownloadLink,
    /// Where the original is stored.
    key: String,
    /// Its name, as in the zip.
    pub filename: String,
    /// `image/jpeg` or `image/png`, from the name.
    pub content_type: &'static str,
    /// Its size in bytes.
    pub size: u64,
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
    /// Zips `entries` into `zip_key`. A missing original can never appear
    /// by itself: the job fails for good, with a reason an operator reads.
    async fn package(&self, zip_key: &str, entries: &[(String, String)]) -> Result<u64> {
        match self.0.backends().packager.package(self.0.blobs(), zip_key, entries).await {
            Err(e) if e.is_not_found() => Err(Error::backend_permanent(
                "building a zip",
                "an original of this order is gone: its photo or album was deleted before the order was paid",
            )),
            other => other,
        }
    }

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
        // A deleted album keeps the originals its paid orders hold, under
        // the prefix its owner and id name.
        let entries = zip_entries(&order, &Album::prefix_for(order.seller_id, order.album_id));
        let link_id = LinkId::new();
        let zip_key = DownloadLink::zip_key(order.id, link_id);
        let size = self.package(&zip_key, &entries).await?;
        let now = self.0.now();
        let link = self.new_link(link_id, order.id, zip_key.clone(), size, now);
        let ready = NewJob::now(Task::Notify { notification: Notification::DownloadReady { order_id: order.id } }, now);
        let mut data = crate::webhooks::order_data(&order, crate::OrderStatus::Fulfilled);
        data["link_expires_at"] = serde_json::json!(link.expires_at);
        let event = self.0.event_job(crate::EventType::OrderFulfilled, order.seller_id, data);
        if !meta.fulfil_order(&link, &[ready, event], now).await? {
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
        if link.expires_at <= self.0.now() || link.zip_deleted {
            return Err(Error::Gone { code: "link_expired", message: "this download link has expired".into() });
        }
        if self.budget(&link).is_some_and(|budget| link.bytes_served >= budget) {
            return Err(self.limit_reached());
        }
        Ok(link)
    }

    /// The bytes a link may serve: `max_downloads_per_link` times its
    /// zip's size; `None` without a cap.
    fn budget(&self, link: &DownloadLink) -> Option<u64> {
        let cap = self.0.settings().max_downloads_per_link;
        (cap > 0).then(|| cap.saturating_mul(link.zip_size.max(1)))
    }

    fn limit_reached(&self) -> Error {
        let cap = self.0.settings().max_downloads_per_link;
        Error::Gone {
            code: "download_limit_reached",
            message: format!("this link was used {cap} times; ask for a fresh one"),
        }
    }

    /// Opens a download by token (see [`Downloads::check`]) and streams the
    /// zip, or `range` of it (already clamped to the size). Every byte
    /// served counts against `max_downloads_per_link` (that many times the
    /// zip's size): the requested bytes are reserved before the first is
    /// sent, and what a broken-off download did not send is given back, so
    /// resuming costs nothing extra and ranges cannot get around the cap.
    #[instrument(skip_all)]
    pub async fn open(&self, token: &str, range: Option<Range<u64>>) -> Result<OpenedDownload> {
        let link = self.check(token).await?;
        self.open_link(link, range).await
    }

    /// Streams a link already validated by [`Downloads::check`] (callers
    /// that need its size first, to resolve a `Range`, check once).
    pub async fn open_link(&self, link: DownloadLink, range: Option<Range<u64>>) -> Result<OpenedDownload> {
        let (bytes, from_start) = match &range {
            Some(r) => (r.end.saturating_sub(r.start), r.start == 0),
            None => (link.zip_size, true),
        };
        let reserved = bytes.min(i64::MAX as u64) as i64;
        if !self.0.meta().count_download(&link, reserved, from_start, self.budget(&link)).await? {
            return Err(self.limit_reached());
        }
        let body = match self.0.blobs().stream(&link.zip_key, range).await {
            Ok(body) => body,
            Err(e) => {
                let _ = self.0.meta().count_download(&link, -reserved, false, None).await;
                return Err(e);
            }
        };
        let body = Box::pin(Metered {
            inner: body,
            unsent: bytes,
            meta: self.0.backends().metadata.clone(),
            link: Some(link.clone()),
        });
        tracing::info!(order_id = %link.order_id, "download started");
        Ok(OpenedDownload { total_size: link.zip_size, link, body })
    }

    /// The name a link's zip is saved under: the album's, made safe for a
    /// file name (`photos.zip` once the album is gone or has none usable).
    pub async fn zip_name(&self, link: &DownloadLink) -> Result<String> {
        let Some(order) = self.0.meta().order(link.order_id).await? else { return Ok("photos.zip".into()) };
        let name = self.0.meta().album(order.album_id).await?.map(|a| a.name).unwrap_or_default();
        let stem = crate::photo::sanitize_filename(Some(&name), "photos", "zip");
        let stem = stem.trim_end_matches(".zip").trim().to_owned();
        Ok(if stem.is_empty() { "photos.zip".into() } else { format!("{stem}.zip") })
    }

    /// One photo of the order a link delivers, under the link's rules
    /// ([`Downloads::check`]: revoked or unknown `NotFound`, expired `Gone`,
    /// budget spent `Gone`); `NotFound` for a photo the order does not
    /// hold. Its bytes count against the same budget as the zip's
    /// ([`Downloads::open_file`]), so a phone can save one photo and a
    /// link still serves at most its budget in all.
    pub async fn file(&self, token: &str, photo: crate::PhotoId) -> Result<DownloadFile> {
        let link = self.check(token).await?;
        let order = self.0.meta().order(link.order_id).await?.ok_or(Error::not_found("download"))?;
        let item = order.items.iter().find(|i| i.photo_id == photo).ok_or(Error::not_found("photo"))?;
        // Originals live under the album's prefix, which is the owner's and
        // the album's ids (`Album::prefix_for`): known even after the album
        // was deleted, while the order holds its originals.
        let key = Photo::original_key(&crate::Album::prefix_for(order.seller_id, order.album_id), photo);
        let size = match self.0.blobs().size(&key).await {
            Ok(s) => s,
            Err(e) if e.is_not_found() => {
                return Err(Error::Gone { code: "file_gone", message: "this photo is no longer stored".into() });
            }
            Err(e) => return Err(e),
        };
        let png = item.filename.to_ascii_lowercase().ends_with(".png");
        Ok(DownloadFile {
            link,
            key,
            filename: item.filename.clone(),
            content_type: if png { "image/png" } else { "image/jpeg" },
            size,
        })
    }

    /// Streams a file found by [`Downloads::file`], or `range` of it
    /// (clamped by the caller); its bytes are reserved against the link's
    /// budget first and what is not sent is given back, as for the zip.
    pub async fn open_file(&self, file: &DownloadFile, range: Option<Range<u64>>) -> Result<ByteStream> {
        let bytes = range.as_ref().map_or(file.size, |r| r.end.saturating_sub(r.start));
        let reserved = bytes.min(i64::MAX as u64) as i64;
        if !self.0.meta().count_download(&file.link, reserved, false, self.budget(&file.link)).await? {
            return Err(self.limit_reached());
        }
        let body = match self.0.blobs().stream(&file.key, range).await {
            Ok(body) => body,
            Err(e) => {
                let _ = self.0.meta().count_download(&file.link, -reserved, false, None).await;
                return Err(e);
            }
        };
        tracing::info!(order_id = %file.link.order_id, "file download started");
        Ok(Box::pin(Metered {
            inner: body,
            unsent: bytes,
            meta: self.0.backends().metadata.clone(),
            link: Some(file.link.clone()),
        }))
    }

    /// A buyer's request for a fresh link to a fulfilled order, within the
    /// download window and at most once per `fresh_link_interval`. While the
    /// zip is still stored the new link points at it (`Some`); once it was
    /// deleted a rebuild is queued (`None`: the link shows on the order when
    /// ready).
    #[instrument(skip_all, fields(order_id = %id))]
    pub async fn fresh_link(&self, buyer: &crate::User, id: OrderId) -> Result<Option<LinkView>> {
        let meta = self.0.meta();
        let order = match meta.order(id).await? {
            Some(o) if o.buyer_id == buyer.id => o,
            _ => return Err(Error::not_found("order")),
        };
        if order.status != OrderStatus::Fulfilled {
            return Err(Error::conflict("order_not_fulfilled", format!("the order is {}", order.status.as_str())));
        }
        let now = self.0.now();
        let settings = self.0.settings();
        if order.paid_at.is_none_or(|p| p + settings.download_window <= now) {
            return Err(Error::Gone {
                code: "download_window_closed",
                message: "the download window of this order has closed".into(),
            });
        }
        let newest = meta.link_for_order(id).await?;
        if let Some(l) = &newest {
            let wait = l.created_at + settings.fresh_link_interval - now;
            if wait > chrono::Duration::zero() {
                return Err(Error::RateLimited {
                    message: "a fresh link was made recently; try again later".into(),
                    retry_after: wait.num_seconds().max(1) as u64,
                });
            }
        }
        match newest.filter(|l| !l.zip_deleted && !l.revoked) {
            Some(l) if self.0.blobs().size(&l.zip_key).await.is_ok() => {
                let link_id = LinkId::new();
                let link = self.new_link(link_id, id, l.zip_key, l.zip_size, now);
                meta.insert_link(&link).await?;
                Ok(Some(LinkView { token: self.0.link_signer().token(link_id), expires_at: link.expires_at }))
            }
            _ => {
                self.0
                    .backends()
                    .queue
                    .enqueue(&crate::NewJob::now(crate::Task::RebuildZip { order_id: id }, now))
                    .await?;
                Ok(None)
            }
        }
    }

    /// Handles `rebuild_zip`: packages a fulfilled order again and issues
    /// a new link. Does nothing if a live link with a stored zip exists.
    #[instrument(skip_all, fields(order_id = %id))]
    pub async fn rebuild_zip(&self, id: OrderId) -> Result<()> {
        let meta = self.0.meta();
        let Some(order) = meta.order(id).await? else { return Ok(()) };
        if order.status != OrderStatus::Fulfilled {
            return Ok(());
        }
        let now = self.0.now();
        if meta.link_for_order(id).await?.is_some_and(|l| !l.zip_deleted && !l.revoked && l.expires_at > now) {
            return Ok(());
        }
        // A purged or deleted album still has the originals its open
        // orders hold.
        let link_id = LinkId::new();
        let zip_key = DownloadLink::zip_key(order.id, link_id);
        let entries = zip_entries(&order, &Album::prefix_for(order.seller_id, order.album_id));
        let size = self.package(&zip_key, &entries).await?;
        let link = self.new_link(link_id, id, zip_key, size, now);
        meta.insert_link(&link).await?;
        tracing::info!(bytes = size, "zip rebuilt");
        Ok(())
    }

    /// A time-limited URL straight to the zip in the object store, when
    /// the store can make one; the download is counted. `None`: stream it.
    pub async fn presigned(&self, token: &str, ttl: std::time::Duration) -> Result<Option<String>> {
        let link = self.check(token).await?;
        let Some(url) = self.0.blobs().presign_read(&link.zip_key, ttl).await? else { return Ok(None) };
        let size = link.zip_size.min(i64::MAX as u64) as i64;
        if !self.0.meta().count_download(&link, size, true, self.budget(&link)).await? {
            return Err(self.limit_reached());
        }
        tracing::info!(order_id = %link.order_id, "download redirected to the store");
        Ok(Some(url))
    }

    /// Revokes an order's links and deletes its zips (refunds).
    pub async fn revoke(&self, order: OrderId) -> Result<()> {
        // The store revoked the links with the status change; the blobs go now.
        for key in self.0.blobs().list(&DownloadLink::zips_prefix(order)).await? {
            self.0.blobs().delete(&key).await?;
        }
        Ok(())
    }
}

impl Downloads<'_> {
    /// A new, unused link to a stored zip, expiring after `link_ttl`.
    fn new_link(
        &self,
        id: LinkId,
        order_id: OrderId,
        zip_key: String,
        zip_size: u64,
        now: DateTime<Utc>,
    ) -> DownloadLink {
        DownloadLink {
            id,
            order_id,
            token_hash: LinkSigner::hash(&self.0.link_signer().token(id)),
            zip_key,
            zip_size,
            expires_at: now + self.0.settings().link_ttl,
            created_at: now,
            download_count: 0,
            bytes_served: 0,
            revoked: false,
            zip_deleted: false,
        }
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

/// A zip body that gives back, when dropped, the reserved bytes it did not
/// send (a download broken off), so resuming it is not charged twice.
struct Metered {
    inner: crate::ByteStream,
    unsent: u64,
    meta: std::sync::Arc<dyn crate::MetadataStore>,
    link: Option<DownloadLink>,
}

impl futures::Stream for Metered {
    type Item = Result<bytes::Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let std::task::Poll::Ready(Some(Ok(chunk))) = &polled {
            self.unsent = self.unsent.saturating_sub(chunk.len() as u64);
        }
        polled
    }
}

impl Drop for Metered {
    fn drop(&mut self) {
        let (Some(link), unsent) = (self.link.take(), self.unsent) else { return };
        if unsent == 0 {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let meta = self.meta.clone();
        runtime.spawn(async move {
            let back = -(unsent.min(i64::MAX as u64) as i64);
            if let Err(e) = meta.count_download(&link, back, false, None).await {
                tracing::warn!(error = %e, "could not give back the bytes of a broken-off download");
            }
        });
    }
}
