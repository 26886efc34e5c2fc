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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_upload_bytes: 100 * 1024 * 1024,
            link_ttl: Duration::days(7),
            job_lease: Duration::seconds(30),
            max_order_items: 500,
            max_downloads_per_link: 0,
            download_window: Duration::days(30),
            fresh_link_interval: Duration::hours(1),
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
}

struct Inner {
    backends: Backends,
    settings: Settings,
    links: LinkSigner,
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
    /// Assembles an engine. `link_secret` signs download tokens: keep it
    /// stable across restarts and shared by all processes, or links die.
    pub fn new(backends: Backends, settings: Settings, link_secret: impl Into<Vec<u8>>) -> Result<Self> {
        let link_secret = link_secret.into();
        if link_secret.len() < 16 {
            return Err(Error::invalid("weak_secret", "the link secret must be at least 16 bytes"));
        }
        if backends.gateways.is_empty() {
            return Err(Error::invalid("no_gateway", "at least one payment gateway is needed"));
        }
        Ok(Proofsheet { inner: Arc::new(Inner { backends, settings, links: LinkSigner::new(link_secret) }) })
    }

    /// The backends.
    pub fn backends(&self) -> &Backends {
        &self.inner.backends
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

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.backends.clock.now()
    }

    pub(crate) fn meta(&self) -> &dyn MetadataStore {
        &*self.inner.backends.metadata
    }

    pub(crate) fn blobs(&self) -> &dyn BlobStore {
        &*self.inner.backends.blobs
    }
}
