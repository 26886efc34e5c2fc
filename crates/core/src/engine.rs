//! The SDK entry point: backends plus settings, and the services over them.

use std::sync::Arc;

use chrono::Duration;

use crate::{
    BlobStore, Clock, Error, JobQueue, LinkSigner, MetadataStore, Packager, PaymentGateway, PreviewRenderer, Result,
};

/// Tunable business settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Largest accepted upload, in bytes.
    pub max_upload_bytes: u64,
    /// How long a download link works.
    pub link_ttl: Duration,
    /// How long a claim on a job lasts without renewal. A worker renews it
    /// three times per lease while the job runs, so this bounds how long a
    /// crashed worker's job waits, not how long a job may run.
    pub job_lease: Duration,
    /// Most photos in one order.
    pub max_order_items: usize,
    /// Downloads allowed per link (0: no cap). Resumed ranges do not count.
    pub max_downloads_per_link: u64,
    /// How long after payment a buyer may ask for a fresh link.
    pub download_window: Duration,
    /// At most one fresh link per order in this interval.
    pub fresh_link_interval: Duration,
    /// Pixels this process decodes at once, over all renders
    /// ([`crate::RenderBudget`]).
    pub render_budget_pixels: u64,
    /// How long a resumable upload may take, from its creation; after
    /// that it is deleted, complete or not.
    pub upload_ttl: Duration,
    /// Storage one photographer may use, in bytes: their photos' originals
    /// and their unfinished resumable uploads (`None`: no quota).
    pub storage_quota: Option<u64>,
    /// An unfinished resumable upload that receives nothing for this long
    /// is deleted (and stops counting against the quota).
    pub upload_idle: Duration,
    /// The waits between a webhook delivery's attempts
    /// ([`crate::default_retry_schedule`]); out of waits, it fails.
    pub webhook_retries: Vec<Duration>,
    /// An endpoint whose every delivery failed for this long is turned off
    /// and its owner told.
    pub webhook_disable_after: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_upload_bytes: 100 * 1024 * 1024,
            storage_quota: Some(100 * 1024 * 1024 * 1024),
            upload_idle: Duration::hours(1),
            link_ttl: Duration::days(7),
            job_lease: Duration::seconds(30),
            max_order_items: 500,
            max_downloads_per_link: 0,
            download_window: Duration::days(30),
            fresh_link_interval: Duration::hours(1),
            render_budget_pixels: 150_000_000,
            upload_ttl: Duration::hours(24),
            webhook_retries: crate::default_retry_schedule(),
            webhook_disable_after: Duration::hours(72),
        }
    }
}

/// The swappable parts.
#[derive(Clone)]
pub struct Backends {
    /// Users, albums, photos, orders, links.
    pub metadata: Arc<dyn MetadataStore>,
    /// Durable jobs.
    pub queue: Arc<dyn JobQueue>,
    /// Originals, previews, zips.
    pub blobs: Arc<dyn BlobStore>,
    /// Preview maker.
    pub renderer: Arc<dyn PreviewRenderer>,
    /// Zip maker.
    pub packager: Arc<dyn Packager>,
    /// Payment gateways; the first is the default.
    pub gateways: Vec<Arc<dyn PaymentGateway>>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// E-mail (or any channel); `LogNotifier` only logs.
    pub notifier: Arc<dyn crate::Notifier>,
    /// Sends webhook deliveries; [`crate::NoWebhooks`] for none.
    pub webhooks: Arc<dyn crate::WebhookTransport>,
    /// Finds faces for "Find me" (`proofsheet-imaging`'s `faces` feature);
    /// `None`: albums cannot turn it on.
    pub faces: Option<Arc<dyn crate::FaceIndex>>,
}

struct Inner {
    backends: Backends,
    settings: Settings,
    links: LinkSigner,
    share_notices: ShareNotices,
    render_budget: crate::RenderBudget,
    webhooks_in_flight: crate::webhooks::InFlight,
    upload_digests: crate::uploads::Digests,
}

/// "Album shared" notices sent by this process in the last 24 hours: at
/// most [`ShareNotices::PER_ALBUM`] per album and
/// [`ShareNotices::PER_PHOTOGRAPHER`] per photographer. A photographer may
/// correct a client's address; nobody may use albums to relay mail with a
/// subject of their choosing to strangers. Each process keeps its own
/// count, like the rate limits.
#[derive(Default)]
pub(crate) struct ShareNotices {
    sent: std::sync::Mutex<std::collections::VecDeque<(chrono::DateTime<chrono::Utc>, crate::AlbumId, crate::UserId)>>,
}

impl ShareNotices {
    /// Notices per album per day.
    pub const PER_ALBUM: usize = 3;
    /// Notices per photographer per day.
    pub const PER_PHOTOGRAPHER: usize = 20;

    /// Whether one more notice may go for `album` of `owner` at `now`
    /// (and counts it if so).
    pub(crate) fn allow(
        &self,
        album: crate::AlbumId,
        owner: crate::UserId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let mut sent = self.sent.lock().unwrap();
        while sent.front().is_some_and(|(at, _, _)| *at <= now - chrono::Duration::hours(24)) {
            sent.pop_front();
        }
        let for_album = sent.iter().filter(|(_, a, _)| *a == album).count();
        let for_owner = sent.iter().filter(|(_, _, o)| *o == owner).count();
        if for_album >= Self::PER_ALBUM || for_owner >= Self::PER_PHOTOGRAPHER {
            return false;
        }
        sent.push_back((now, album, owner));
        true
    }
}

/// The Proofsheet engine: every business rule, over any backends.
///
/// Cheap to clone. The services are views: `engine.albums()`,
/// `engine.thumbnails()`, `engine.checkout()`, `engine.downloads()`, and
/// the [`Worker`](crate::Worker) that runs their jobs.
#[derive(Clone)]
pub struct Proofsheet {
    inner: Arc<Inner>,
}

impl Proofsheet {
    /// Assembles an engine. `links` (a [`LinkSigner`], or its secret as
    /// bytes) signs download tokens: keep its secret stable across restarts
    /// and shared by all processes, or links die. A notifier that writes
    /// download links into mail holds a clone of the same signer.
    pub fn new(backends: Backends, settings: Settings, links: impl Into<LinkSigner>) -> Result<Self> {
        let links = links.into();
        if links.is_weak() {
            return Err(Error::invalid("weak_secret", "the link secret must be at least 16 bytes"));
        }
        if backends.gateways.is_empty() {
            return Err(Error::invalid("no_gateway", "at least one payment gateway is needed"));
        }
        let render_budget = crate::RenderBudget::new(settings.render_budget_pixels);
        let share_notices = ShareNotices::default();
        let webhooks_in_flight = crate::webhooks::InFlight::default();
        Ok(Proofsheet {
            inner: Arc::new(Inner {
                backends,
                settings,
                links,
                share_notices,
                render_budget,
                webhooks_in_flight,
                upload_digests: Default::default(),
            }),
        })
    }

    /// The backends, for tests that look at what a service stored
    /// (feature `testkit`). Everything else goes through the services,
    /// which hold the rules: a backend reached directly skips them.
    #[cfg(feature = "testkit")]
    pub fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    /// The backends (see the `testkit` accessor).
    #[cfg(not(feature = "testkit"))]
    pub(crate) fn backends(&self) -> &Backends {
        &self.inner.backends
    }

    /// The time now, by the engine's clock (a test clock in tests).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.backends.clock.now()
    }

    /// The watermark plugins albums may pick, by name.
    pub fn watermark_plugins(&self) -> Vec<String> {
        self.inner.backends.renderer.watermark_plugins()
    }

    /// Whether the renderer can draw `choice` (a logo needs a renderer
    /// that draws logos, a plugin an installed plugin).
    pub fn can_draw(&self, choice: &crate::WatermarkChoice) -> bool {
        self.inner.backends.renderer.check_watermark(choice).is_ok()
    }

    /// Readiness: `Err(what)` naming the first backend that does not
    /// answer (`"database"`, `"storage"`), with its error.
    pub async fn ready(&self) -> std::result::Result<(), (&'static str, Error)> {
        self.inner.backends.metadata.ping().await.map_err(|e| ("database", e))?;
        self.inner.backends.blobs.ping().await.map_err(|e| ("storage", e))
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The download token signer.
    pub fn link_signer(&self) -> &LinkSigner {
        &self.inner.links
    }

    /// A gateway by name, or the default one.
    pub fn gateway(&self, name: Option<&str>) -> Result<Arc<dyn PaymentGateway>> {
        let gateways = &self.inner.backends.gateways;
        match name {
            None => Ok(gateways[0].clone()),
            Some(n) => gateways.iter().find(|g| g.name() == n).cloned().ok_or_else(|| {
                Error::invalid("unknown_gateway", format!("no payment gateway named {n:?} is configured"))
            }),
        }
    }

    /// Photos of `album` whose originals are held for their buyers: in a
    /// paid or fulfilled order whose download window is still open.
    pub(crate) async fn held_photos(&self, album: crate::AlbumId) -> Result<std::collections::HashSet<crate::PhotoId>> {
        let since = self.now() - self.inner.settings.download_window;
        Ok(self.meta().held_photos(album, since).await?.into_iter().collect())
    }

    /// The pixels this process may decode at once.
    pub fn render_budget(&self) -> &crate::RenderBudget {
        &self.inner.render_budget
    }

    /// How many pixels decoding `data` takes, from its header (0 for a
    /// header the renderer wants more of); the probe's error for a file
    /// that is not a supported image or has too many pixels. What a decode
    /// holds of [`Proofsheet::render_budget`].
    pub(crate) fn pixels_in(&self, data: &[u8]) -> Result<u64> {
        Ok(match self.inner.backends.renderer.probe(data, true)? {
            crate::Probe::Image(info) => u64::from(info.width) * u64::from(info.height),
            _ => 0,
        })
    }

    /// Enqueues the task `task` gives for each photo of `album` (none for
    /// `None`), a page at a time; answers how many were queued.
    pub(crate) async fn enqueue_per_photo(
        &self,
        album: &crate::Album,
        task: impl Fn(&crate::Photo) -> Option<crate::Task>,
    ) -> Result<u64> {
        let mut queued = 0u64;
        for task in self.albums().all_photos(album).await?.iter().filter_map(&task) {
            self.inner.backends.queue.enqueue(&crate::NewJob::now(task, self.now())).await?;
            queued += 1;
        }
        Ok(queued)
    }

    /// Renders `original` with `mark` inside the process's pixel budget:
    /// decoding needs memory in proportion to pixels, so two huge images
    /// wait for each other while small ones run side by side. Also answers
    /// how long the render itself took (the wait for the budget left out).
    pub(crate) async fn render_in_budget(
        &self,
        original: bytes::Bytes,
        mark: Option<&crate::Mark>,
    ) -> (Result<crate::Renditions>, std::time::Duration) {
        let renderer = &self.inner.backends.renderer;
        // A file the probe refuses: the render itself reports what is wrong.
        let pixels = self.pixels_in(&original).unwrap_or(0);
        let _budget = self.render_budget().acquire(pixels).await;
        let started = std::time::Instant::now();
        let out = renderer.render(original, mark).await;
        (out, started.elapsed())
    }

    /// Deletes every blob of `album` (originals, previews, thumbnails)
    /// except the originals its buyers still hold; returns how many were
    /// kept. Album deletion and the expiry purge both go through here.
    pub(crate) async fn delete_album_blobs(&self, album: &crate::Album) -> Result<usize> {
        let held = self.held_photos(album.id).await?;
        let prefix = &album.storage_prefix;
        if held.is_empty() {
            self.blobs().delete_prefix(prefix).await?;
            return Ok(0);
        }
        let keep: std::collections::HashSet<String> =
            held.iter().map(|photo| crate::Photo::original_key(prefix, *photo)).collect();
        for key in self.blobs().list(prefix).await? {
            if !keep.contains(&key) {
                self.blobs().delete(&key).await?;
            }
        }
        Ok(keep.len())
    }

    pub(crate) fn upload_digests(&self) -> &crate::uploads::Digests {
        &self.inner.upload_digests
    }

    pub(crate) fn webhooks_in_flight(&self) -> &crate::webhooks::InFlight {
        &self.inner.webhooks_in_flight
    }

    pub(crate) fn share_notices(&self) -> &ShareNotices {
        &self.inner.share_notices
    }

    pub(crate) fn meta(&self) -> &dyn MetadataStore {
        &*self.inner.backends.metadata
    }

    pub(crate) fn blobs(&self) -> &dyn BlobStore {
        &*self.inner.backends.blobs
    }
}
