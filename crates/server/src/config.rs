//! Configuration: defaults < TOML file (`--config`) < `PROOFSHEET__SECTION__KEY`
//! environment variables.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::{Context, bail};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use proofsheet_imaging::PipelineConfig;
use serde::{Deserialize, Serialize};

/// A secret string that never prints.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything the server reads from its configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[database]`
    pub database: DatabaseConfig,
    /// `[storage]`
    pub storage: StorageConfig,
    /// `[imaging]`: preview sizes, qualities, pixel limit, watermark.
    pub imaging: PipelineConfig,
    /// `[uploads]`
    pub uploads: UploadsConfig,
    /// `[webhooks]`: outgoing webhooks.
    pub webhooks: WebhooksConfig,
    /// `[downloads]`
    pub downloads: DownloadsConfig,
    /// `[sessions]`
    pub sessions: SessionsConfig,
    /// `[payments]`
    pub payments: PaymentsConfig,
    /// `[limits]`: rate limits and the failed sign-in slowdown.
    pub limits: crate::limits::LimitsConfig,
    /// `[worker]`
    pub worker: WorkerConfig,
    /// `[scheduler]`
    pub scheduler: SchedulerConfig,
    /// `[orders]`
    pub orders: OrdersConfig,
    /// `[mail]`
    pub mail: MailConfig,
    /// `[faces]`: "Find me" (selfie search).
    pub faces: FacesConfig,
}

/// `[faces]`: "Find me". Needs a server built with the `faces` feature
/// and the models of `scripts/faces-models.sh` (see `docs/faces.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FacesConfig {
    /// The folder with dlib's model files
    /// (`shape_predictor_5_face_landmarks.dat`,
    /// `dlib_face_recognition_resnet_model_v1.dat`). Unset: albums cannot
    /// turn "Find me" on. Set on a build without the `faces` feature, or
    /// pointing at a folder without the models: the server does not start.
    pub models_dir: Option<std::path::PathBuf>,
}

/// `[mail]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// SMTP server: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://user:pass@host:465`. Unset: notifications are only logged.
    pub smtp_url: Option<Secret>,
    /// Sender address.
    pub from: String,
    /// Clients are reminded this many days before their album expires.
    pub expiry_reminder_days: u32,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig { smtp_url: None, from: "Proofsheet <noreply@localhost>".into(), expiry_reminder_days: 3 }
    }
}

/// `[scheduler]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerConfig {
    /// How often the scheduler wakes, in milliseconds (its lease lasts 3 ticks).
    pub tick_ms: u64,
    /// Cron schedules (UTC) by task name, overriding the defaults:
    /// `expire_orders`, `purge_expired_albums`, `delete_expired_zips`,
    /// `prune_jobs`, `clean_orphans`, `monthly_reports`. `off` disables one.
    pub schedules: std::collections::BTreeMap<String, String>,
    /// Expired albums keep their originals and previews this many days.
    pub album_grace_days: u32,
    /// Succeeded jobs are kept this many days.
    pub job_retention_days: u32,
    /// Blobs without a record are deleted once older than this many hours.
    pub orphan_delay_hours: u32,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            tick_ms: 10_000,
            schedules: Default::default(),
            album_grace_days: 30,
            job_retention_days: 7,
            orphan_delay_hours: 24,
        }
    }
}

/// `[orders]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersConfig {
    /// A pending order not paid within this many hours expires.
    pub pending_ttl_hours: u32,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig { pending_ttl_hours: 24 }
    }
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Listen address (`127.0.0.1:8080`; port 0 picks a free port).
    pub addr: String,
    /// The URL clients reach this server at (behind a proxy or load
    /// balancer); defaults to `http://<addr>`.
    pub public_url: Option<String>,
    /// Where the embedded defaults keep their files.
    pub data_dir: PathBuf,
    /// Signs download links and test-gateway sessions. Unset: a random one
    /// is made once and kept in the metadata database, shared by every
    /// process of the deployment. Set, it must be the same in every process.
    pub secret: Option<Secret>,
    /// A request head must arrive whole within this many seconds (also the
    /// longest wait of a kept-alive connection for its next request).
    pub header_read_timeout_seconds: u32,
    /// A connection that moves no byte for this many seconds is closed.
    pub idle_timeout_seconds: u32,
    /// Most connections open at once; more wait in the listen backlog.
    pub max_connections: u32,
    /// Most connections open at once from one client (an IPv4 address or
    /// an IPv6 /64); more are closed at once.
    pub max_connections_per_client: u32,
    /// A bearer token `GET /metrics` requires. Unset: `/metrics` answers
    /// only callers on the loopback interface (a Prometheus on the same
    /// host or a sidecar), everyone else 403.
    pub metrics_token: Option<Secret>,
    /// Memory for serialized photo-list pages, in MiB, per api process
    /// (0: no cache). Each is checked against its album's revision, so a
    /// change from any process is seen at once.
    pub list_cache_megabytes: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: "127.0.0.1:8080".into(),
            public_url: None,
            data_dir: "./data".into(),
            secret: None,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            max_connections: 1024,
            max_connections_per_client: 64,
            metrics_token: None,
            list_cache_megabytes: 32,
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://path.db` or `postgres://user:pass@host:port/db`; defaults
    /// to `sqlite://<data_dir>/proofsheet.db`.
    pub url: Option<Secret>,
    /// PostgreSQL pool size per process.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig { url: None, max_connections: 10 }
    }
}

/// Where blobs (originals, previews, zips) are kept: `storage.kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// Files under `storage.root`.
    #[default]
    Fs,
    /// Memory (tests and trials: gone at exit).
    Memory,
    /// An S3-compatible bucket (`[storage.s3]`).
    S3,
}

/// A payment gateway the server can register: `payments.default_gateway`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayName {
    /// The offline test gateway (its payment page is the server's own).
    Test,
    /// Stripe Checkout.
    Stripe,
}

impl GatewayName {
    /// The name the engine and the webhook route know it by.
    pub fn as_str(self) -> &'static str {
        match self {
            GatewayName::Test => "test",
            GatewayName::Stripe => "stripe",
        }
    }
}

/// `[storage]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `fs` (default), `memory` or `s3`.
    pub kind: StorageKind,
    /// For `fs`: the root folder; defaults to `<data_dir>/blobs`.
    pub root: Option<PathBuf>,
    /// For `s3`: `[storage.s3]`.
    pub s3: S3Config,
    /// Answer previews, thumbnails and downloads with a redirect to a
    /// presigned URL of the store (after the access check) instead of
    /// streaming them through the server, where the store can presign.
    pub presign: bool,
    /// Lifetime of those URLs in seconds (60 to 3600).
    pub presign_seconds: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            kind: StorageKind::Fs,
            root: None,
            s3: S3Config::default(),
            presign: false,
            presign_seconds: 900,
        }
    }
}

/// `[storage.s3]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL; unset for AWS's regional endpoint.
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Bucket (required).
    pub bucket: String,
    /// Key prefix inside the bucket.
    pub root: Option<String>,
    /// Access key id (required).
    pub access_key_id: Option<Secret>,
    /// Secret access key (required).
    pub secret_access_key: Option<Secret>,
    /// Path-style addressing (most self-hosted servers need it).
    pub path_style: bool,
    /// How long one call to the bucket may take before it is abandoned.
    pub timeout_seconds: u64,
    /// Retries of a temporary failure, with backoff, before an error.
    pub retries: usize,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            endpoint: None,
            region: "us-east-1".into(),
            bucket: String::new(),
            root: None,
            access_key_id: None,
            secret_access_key: None,
            path_style: true,
            timeout_seconds: 60,
            retries: 4,
        }
    }
}

/// `[uploads]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UploadsConfig {
    /// Largest request body for an upload, in bytes (larger: 413).
    pub max_bytes: u64,
    /// How long a resumable (tus) upload may take from its creation, in
    /// hours; then it is deleted, complete or not.
    pub resumable_ttl_hours: u32,
    /// An unfinished resumable upload that receives nothing for this many
    /// minutes is deleted, and stops counting against its owner's quota.
    pub resumable_idle_minutes: u32,
}

impl Default for UploadsConfig {
    fn default() -> Self {
        UploadsConfig { max_bytes: 100 * 1024 * 1024, resumable_ttl_hours: 24, resumable_idle_minutes: 60 }
    }
}

/// `[webhooks]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhooksConfig {
    /// Allow `http://` endpoint URLs (default: https only).
    pub allow_http: bool,
    /// Allow endpoints on loopback, private, link-local and cloud metadata
    /// addresses (default: refused, at creation and at every connection).
    pub allow_private_networks: bool,
    /// How long one attempt may take, connection to last byte read.
    pub timeout_seconds: u32,
    /// Deliveries sent at once by each worker process (their own lane:
    /// previews and zips never wait for them).
    pub concurrency: usize,
    /// The waits between a delivery's attempts, in seconds; empty: the
    /// Standard Webhooks schedule and two more days (ten attempts over
    /// about three days).
    pub retry_schedule_seconds: Vec<u64>,
    /// An endpoint whose every delivery failed for this many hours is
    /// turned off and its owner mailed.
    pub disable_after_hours: f64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            allow_http: false,
            allow_private_networks: false,
            timeout_seconds: 15,
            concurrency: 8,
            retry_schedule_seconds: Vec::new(),
            disable_after_hours: 72.0,
        }
    }
}

/// `[downloads]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DownloadsConfig {
    /// How long a download link works, in hours.
    pub link_ttl_hours: u32,
    /// Downloads allowed per link (0: no cap; resumed ranges do not count).
    pub max_per_link: u64,
    /// Days after payment during which a buyer may ask for a fresh link.
    pub window_days: u32,
    /// At most one fresh link per order in this many minutes.
    pub fresh_link_interval_minutes: u32,
}

impl Default for DownloadsConfig {
    fn default() -> Self {
        DownloadsConfig { link_ttl_hours: 7 * 24, max_per_link: 0, window_days: 30, fresh_link_interval_minutes: 60 }
    }
}

/// `[sessions]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionsConfig {
    /// How long a sign-in lasts, in hours.
    pub ttl_hours: u32,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        SessionsConfig { ttl_hours: 30 * 24 }
    }
}

/// `[payments]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// The gateway used when a checkout names none: `test` or `stripe`.
    /// Unset: `stripe` when Stripe is configured, else `test`.
    pub default_gateway: Option<GatewayName>,
    /// Registers the offline test gateway (whose Pay button fulfils an
    /// order without any money moving) beside a real one. For test and
    /// staging deployments only: without it, the test gateway exists only
    /// when it is the default and no real gateway is configured.
    pub enable_test_gateway_for_testing: bool,
    /// `[payments.stripe]`: Stripe Checkout. On when `default_gateway` is
    /// `stripe` or any of its keys is set; then both secrets are required.
    pub stripe: StripeSection,
}

impl PaymentsConfig {
    /// Whether the Stripe gateway is configured.
    pub fn stripe_enabled(&self) -> bool {
        let s = &self.stripe;
        self.default_gateway == Some(GatewayName::Stripe)
            || s.secret_key.is_some()
            || s.webhook_secret.is_some()
            || s.api_base.is_some()
    }

    /// The gateway a checkout that names none uses.
    pub fn default_gateway(&self) -> GatewayName {
        match self.default_gateway {
            Some(name) => name,
            None if self.stripe_enabled() => GatewayName::Stripe,
            None => GatewayName::Test,
        }
    }

    /// Whether the offline test gateway is registered (and its pages and
    /// webhook routed): when it is the default, or when the testing key
    /// says so.
    pub fn test_gateway_enabled(&self) -> bool {
        self.default_gateway() == GatewayName::Test || self.enable_test_gateway_for_testing
    }
}

/// `[payments.stripe]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StripeSection {
    /// The secret API key, `sk_...` (or a restricted `rk_...`). No default.
    pub secret_key: Option<Secret>,
    /// The webhook endpoint's signing secret, `whsec_...`. No default.
    pub webhook_secret: Option<Secret>,
    /// Stripe's API address; unset is `https://api.stripe.com/`.
    pub api_base: Option<String>,
    /// How far a webhook signature's timestamp may be from now, in seconds.
    pub tolerance_seconds: u32,
    /// How long a Checkout Session stays open, in minutes (30 to 1380).
    pub session_minutes: u32,
}

impl Default for StripeSection {
    fn default() -> Self {
        StripeSection {
            secret_key: None,
            webhook_secret: None,
            api_base: None,
            tolerance_seconds: 300,
            session_minutes: 60,
        }
    }
}

/// `[worker]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Jobs run at once in this process (0: one per CPU core).
    pub concurrency: usize,
    /// How often an idle worker looks for work, in milliseconds.
    pub poll_ms: u64,
    /// How long a claim on a job lasts without renewal, in seconds. Running
    /// jobs renew it every third of this, so it bounds how long a crashed
    /// worker's jobs wait before another worker takes them over, not how
    /// long a job may run.
    pub lease_seconds: u32,
    /// Megapixels this process decodes at once over all its renders: each
    /// render holds its original's pixel count of it while it runs.
    pub render_budget_megapixels: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig { concurrency: 0, poll_ms: 200, lease_seconds: 30, render_budget_megapixels: 150 }
    }
}

impl Config {
    /// Loads defaults, then the TOML file if given, then `PROOFSHEET__*`
    /// variables (`PROOFSHEET__DATABASE__URL=...`).
    pub fn load(file: Option<&std::path::Path>) -> anyhow::Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                bail!("config file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file(path));
        }
        fig = fig.merge(Env::prefixed("PROOFSHEET__").split("__").lowercase(true));
        let config: Config = fig.extract().context("reading the configuration")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what can be checked before start-up.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.listen_addr()?;
        match self.storage.kind {
            StorageKind::Fs | StorageKind::Memory => {}
            StorageKind::S3 => {
                let s3 = &self.storage.s3;
                if s3.bucket.is_empty() {
                    bail!("storage.kind is s3 but storage.s3.bucket is not set (PROOFSHEET__STORAGE__S3__BUCKET)");
                }
                if s3.access_key_id.is_none() || s3.secret_access_key.is_none() {
                    bail!(
                        "storage.kind is s3 but storage.s3.access_key_id or storage.s3.secret_access_key is not set \
                         (PROOFSHEET__STORAGE__S3__ACCESS_KEY_ID, PROOFSHEET__STORAGE__S3__SECRET_ACCESS_KEY)"
                    );
                }
            }
        }
        let url = self.database_url();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!("database.url must start with sqlite:// or postgres://");
        }
        if !(60..=3600).contains(&self.storage.presign_seconds) {
            bail!("storage.presign_seconds must be between 60 and 3600");
        }
        let s = &self.server;
        if self.storage.s3.timeout_seconds == 0 {
            bail!("storage.s3.timeout_seconds must be positive");
        }
        if s.header_read_timeout_seconds == 0
            || s.idle_timeout_seconds == 0
            || s.max_connections == 0
            || s.max_connections_per_client == 0
        {
            bail!(
                "server.header_read_timeout_seconds, server.idle_timeout_seconds, server.max_connections and \
                 server.max_connections_per_client must be positive"
            );
        }
        if self.worker.render_budget_megapixels == 0 {
            bail!("worker.render_budget_megapixels must be at least 1");
        }
        if self.worker.lease_seconds < 2 {
            bail!("worker.lease_seconds must be at least 2");
        }
        if self.webhooks.timeout_seconds == 0 || self.webhooks.timeout_seconds > 120 {
            bail!("webhooks.timeout_seconds must be 1 to 120");
        }
        if self.webhooks.concurrency == 0 {
            bail!("webhooks.concurrency must be positive");
        }
        if !(self.webhooks.disable_after_hours.is_finite() && self.webhooks.disable_after_hours >= 0.0) {
            bail!("webhooks.disable_after_hours must be a number of hours, 0 or more");
        }
        if self.uploads.resumable_ttl_hours == 0 || self.uploads.resumable_idle_minutes == 0 {
            bail!("uploads.resumable_ttl_hours and uploads.resumable_idle_minutes must be positive");
        }
        if self.uploads.max_bytes == 0 {
            bail!("uploads.max_bytes must be positive");
        }
        if self.downloads.link_ttl_hours == 0 || self.sessions.ttl_hours == 0 {
            bail!("downloads.link_ttl_hours and sessions.ttl_hours must be positive");
        }
        let default_gateway = self.payments.default_gateway();
        if default_gateway == GatewayName::Test
            && self.payments.stripe_enabled()
            && !self.payments.enable_test_gateway_for_testing
        {
            bail!(
                "payments.default_gateway is test while Stripe is configured: the offline test gateway fulfils \
                 orders without payment. Unset payments.default_gateway (Stripe becomes the default), or, in a test \
                 deployment only, set payments.enable_test_gateway_for_testing = true"
            );
        }
        if self.payments.stripe_enabled() {
            let s = &self.payments.stripe;
            let missing = |v: &Option<Secret>| v.as_ref().is_none_or(|v| v.expose().trim().is_empty());
            if missing(&s.secret_key) {
                bail!(
                    "the Stripe gateway needs payments.stripe.secret_key (PROOFSHEET__PAYMENTS__STRIPE__SECRET_KEY); \
                     there is no default"
                );
            }
            if missing(&s.webhook_secret) {
                bail!(
                    "the Stripe gateway needs payments.stripe.webhook_secret \
                     (PROOFSHEET__PAYMENTS__STRIPE__WEBHOOK_SECRET); there is no default"
                );
            }
        }
        if let Some(s) = &self.server.secret
            && s.expose().len() < 32
        {
            bail!("server.secret must be at least 32 characters");
        }
        Ok(())
    }

    /// The listen address.
    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.addr.parse().with_context(|| format!("server.addr {:?} is not host:port", self.server.addr))
    }

    /// The database URL, with the embedded default.
    pub fn database_url(&self) -> String {
        match &self.database.url {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.server.data_dir.join("proofsheet.db").display()),
        }
    }
}
