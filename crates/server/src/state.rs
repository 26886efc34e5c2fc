//! What every request handler shares, and the backends it is built from:
//! the server secret, the metadata store, the blob store, the gateways.

use std::sync::Arc;

use anyhow::Context;
use hmac::{Hmac, Mac};
use proofsheet_core::{
    AlbumId, Backends, BlobStore, Clock, JobQueue, LinkSigner, MetadataStore, PageRequest, PaymentGateway, Proofsheet,
    Settings,
};
use proofsheet_imaging::ImagePipeline;
use proofsheet_payments::{StripeConfig, StripeGateway, TestGateway};
use proofsheet_storage::{OpendalBlobStore, PgStore, S3Options, SqliteStore, ZipPackager};
use rand::RngCore;
use sha2::Sha256;

use crate::config::{Config, StorageKind};

/// What every request handler shares.
pub struct AppState {
    /// The engine.
    pub engine: Proofsheet,
    /// The configuration it was built from.
    pub config: Config,
    /// The URL clients reach this server at, without a trailing slash.
    pub public_url: String,
    /// The offline gateway, whose pages this server serves; `None` when it
    /// is not configured (its pages then answer 404).
    pub test_gateway: Option<Arc<TestGateway>>,
    /// Rate limits of this process.
    pub limits: Arc<crate::limits::Limits>,
    /// The web app's key (CSRF tokens), derived from the server secret.
    pub web_key: Vec<u8>,
    /// Serialized photo-list pages, each valid for one album revision.
    pub photo_pages: proofsheet_core::RevisionCache<(AlbumId, PageRequest, bool), bytes::Bytes>,
}

impl AppState {
    /// How long a new session lasts (`sessions.ttl_hours`).
    pub fn session_ttl(&self) -> chrono::Duration {
        chrono::Duration::hours(self.config.sessions.ttl_hours as i64)
    }
}

/// The server secret: the configured one; else the deployment's, made once
/// and kept in the metadata database, so every process sharing that
/// database (api, workers, scheduler) signs and checks links alike with
/// nothing to configure. A `<data_dir>/secret.key` left by an earlier
/// version is adopted as that secret (links it signed keep working).
async fn server_secret(
    config: &Config,
    store: &dyn MetadataStore,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.server.secret {
        return Ok(s.expose().as_bytes().to_vec());
    }
    let legacy = std::fs::read_to_string(config.server.data_dir.join("secret.key"))
        .ok()
        .map(|hex| hex.trim().to_owned())
        .filter(|hex| hex.len() >= 64);
    let candidate = legacy.unwrap_or_else(|| {
        let mut raw = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        raw.iter().map(|b| format!("{b:02x}")).collect()
    });
    let secret = store.deployment_secret("server", &candidate, now).await.context("reading the server secret")?;
    if secret == candidate {
        tracing::debug!("using the deployment's server secret (kept in the database)");
    }
    Ok(secret.into_bytes())
}

/// A sub-key of the server secret for one purpose.
fn derive(secret: &[u8], purpose: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Both halves of a SQL backend: the metadata store and the job queue.
pub trait Store: MetadataStore + JobQueue {}
impl<T: MetadataStore + JobQueue> Store for T {}

/// Opens the metadata store the configuration names (and migrates it).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = PgStore::connect(&url, config.database.max_connections).await.context("opening PostgreSQL")?;
        return Ok(Arc::new(store));
    }
    if url.contains(&*config.server.data_dir.to_string_lossy()) {
        std::fs::create_dir_all(&config.server.data_dir)?;
    }
    Ok(Arc::new(SqliteStore::connect(&url).await.context("opening the database")?))
}

/// Opens the blob store the configuration names.
pub fn open_blobs(config: &Config) -> anyhow::Result<OpendalBlobStore> {
    Ok(match config.storage.kind {
        StorageKind::Memory => OpendalBlobStore::memory()?,
        StorageKind::S3 => {
            let s3 = &config.storage.s3;
            let secret =
                |s: &Option<crate::config::Secret>| s.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
            OpendalBlobStore::s3(&S3Options {
                endpoint: s3.endpoint.clone(),
                region: s3.region.clone(),
                bucket: s3.bucket.clone(),
                root: s3.root.clone(),
                access_key_id: secret(&s3.access_key_id),
                secret_access_key: secret(&s3.secret_access_key),
                path_style: s3.path_style,
                timeout: std::time::Duration::from_secs(s3.timeout_seconds),
                retries: s3.retries,
            })
            .context("configuring S3 storage")?
        }
        StorageKind::Fs => {
            let root = config.storage.root.clone().unwrap_or_else(|| config.server.data_dir.join("blobs"));
            OpendalBlobStore::fs(&root).context("opening file storage")?
        }
    })
}

/// The payment gateways the operator configured, the default first: the
/// test gateway only when [`PaymentsConfig::test_gateway_enabled`], Stripe
/// when `[payments.stripe]` is set. A checkout or webhook naming any other
/// gateway is refused.
///
/// [`PaymentsConfig::test_gateway_enabled`]: crate::config::PaymentsConfig::test_gateway_enabled
/// The face index for "Find me": `None` when `faces.models_dir` is unset;
/// an error (the server does not start) when it is set but the models are
/// missing or unreadable, or this build lacks the `faces` feature.
pub fn open_faces(config: &crate::config::FacesConfig) -> anyhow::Result<Option<Arc<dyn proofsheet_core::FaceIndex>>> {
    let Some(dir) = &config.models_dir else { return Ok(None) };
    #[cfg(feature = "faces")]
    {
        let index = proofsheet_imaging::faces::DlibFaceIndex::open(dir)
            .with_context(|| format!("faces.models_dir = {}", dir.display()))?;
        tracing::info!(models_dir = %dir.display(), "\"Find me\" is available (dlib face index loaded)");
        Ok(Some(Arc::new(index)))
    }
    #[cfg(not(feature = "faces"))]
    {
        anyhow::bail!(
            "faces.models_dir is set ({}) but this server was built without the `faces` feature: \
             build with `--features faces` (see docs/faces.md) or unset it",
            dir.display()
        )
    }
}

fn gateways(config: &Config, test: Option<Arc<TestGateway>>) -> anyhow::Result<Vec<Arc<dyn PaymentGateway>>> {
    let mut gateways: Vec<Arc<dyn PaymentGateway>> = Vec::new();
    if let Some(test) = test {
        gateways.push(test);
    }
    if config.payments.stripe_enabled() {
        let s = &config.payments.stripe;
        let expose = |v: &Option<crate::config::Secret>| v.as_ref().map(|v| v.expose().to_owned()).unwrap_or_default();
        let mut stripe = StripeConfig::new(expose(&s.secret_key), expose(&s.webhook_secret));
        stripe.api_base = s.api_base.clone();
        stripe.tolerance_secs = i64::from(s.tolerance_seconds);
        stripe.session_ttl = chrono::Duration::minutes(i64::from(s.session_minutes));
        gateways.push(Arc::new(StripeGateway::new(stripe).context("configuring [payments.stripe]")?));
    }
    let default = config.payments.default_gateway().as_str();
    gateways.sort_by_key(|g| g.name() != default);
    anyhow::ensure!(
        gateways.first().is_some_and(|g| g.name() == default),
        "payments.default_gateway {default:?} is not configured"
    );
    Ok(gateways)
}

/// Builds the shared state for a server reachable at `public_url`.
pub async fn build_state(config: Config, public_url: String, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<AppState>> {
    let store = open_store(&config).await?;
    let secret = server_secret(&config, &*store, clock.now()).await?;
    let blobs = open_blobs(&config)?;
    let store_for_mail = store.clone() as Arc<dyn MetadataStore>;
    let renderer = ImagePipeline::new(config.imaging.clone()).context("configuring [imaging]")?;
    let test_gateway = config
        .payments
        .test_gateway_enabled()
        .then(|| Arc::new(TestGateway::new(derive(&secret, "test-gateway"), public_url.clone())));
    // One signer for download tokens: the engine's, and the mailer's clone.
    let links = LinkSigner::new(derive(&secret, "download-links"));
    let blobs: Arc<dyn BlobStore> = Arc::new(blobs);
    let backends = Backends {
        metadata: store.clone() as Arc<dyn MetadataStore>,
        queue: store as Arc<dyn JobQueue>,
        blobs: blobs.clone(),
        renderer: Arc::new(renderer),
        packager: Arc::new(ZipPackager),
        gateways: gateways(&config, test_gateway.clone())?,
        clock,
        notifier: Arc::new(
            crate::mail::MailNotifier::new(
                store_for_mail,
                links.clone(),
                public_url.clone(),
                &config.mail.from,
                config.mail.smtp_url.as_ref().map(|s| s.expose()),
            )?
            .with_images(blobs),
        ),
        webhooks: Arc::new(crate::webhooks::HttpWebhooks::new(&config.webhooks)?),
        faces: open_faces(&config.faces)?,
    };
    let settings = Settings {
        max_upload_bytes: config.uploads.max_bytes,
        upload_ttl: chrono::Duration::hours(config.uploads.resumable_ttl_hours.into()),
        upload_idle: chrono::Duration::minutes(config.uploads.resumable_idle_minutes.into()),
        storage_quota: Some(config.limits.storage_per_photographer).filter(|q| *q > 0),
        link_ttl: chrono::Duration::hours(config.downloads.link_ttl_hours as i64),
        job_lease: chrono::Duration::seconds(config.worker.lease_seconds as i64),
        max_downloads_per_link: config.downloads.max_per_link,
        download_window: chrono::Duration::days(config.downloads.window_days as i64),
        fresh_link_interval: chrono::Duration::minutes(config.downloads.fresh_link_interval_minutes as i64),
        render_budget_pixels: u64::from(config.worker.render_budget_megapixels) * 1_000_000,
        webhook_retries: if config.webhooks.retry_schedule_seconds.is_empty() {
            proofsheet_core::default_retry_schedule()
        } else {
            config.webhooks.retry_schedule_seconds.iter().map(|s| chrono::Duration::seconds(*s as i64)).collect()
        },
        webhook_disable_after: chrono::Duration::milliseconds(
            (config.webhooks.disable_after_hours * 3_600_000.0) as i64,
        ),
        ..Settings::default()
    };
    let engine = Proofsheet::new(backends, settings, links)?;
    let limits = Arc::new(crate::limits::Limits::new(&config.limits));
    let photo_pages = proofsheet_core::RevisionCache::new(config.server.list_cache_megabytes as usize * 1024 * 1024);
    let web_key = derive(&secret, "web-app");
    Ok(Arc::new(AppState { engine, config, public_url, test_gateway, limits, web_key, photo_pages }))
}
