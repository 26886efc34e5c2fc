//! Assembling the engine from the configuration, and running it.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use hmac::{Hmac, Mac};
use poem::{EndpointExt, Route, get, middleware::SetHeader, post};
use poem_openapi::OpenApiService;
use proofsheet_core::{
    AlbumId, Backends, Clock, JobQueue, LinkSigner, MetadataStore, PageRequest, PaymentGateway, Periodic, Policy,
    Proofsheet, Scheduler, Settings, Worker,
};
use proofsheet_imaging::ImagePipeline;
use proofsheet_payments::{StripeConfig, StripeGateway, TestGateway};
use proofsheet_storage::{OpendalBlobStore, PgStore, S3Options, SqliteStore, ZipPackager};
use rand::RngCore;
use sha2::Sha256;
use tokio::sync::watch;

use crate::{
    api::{
        albums::AlbumsApi,
        error::any_error_to_json,
        ops::{HealthApi, OpsApi},
        orders::OrdersApi,
        users::UsersApi,
    },
    config::Config,
    pages,
};

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
    /// Serialized photo-list pages, each valid for one album revision.
    pub photo_pages: proofsheet_core::RevisionCache<(AlbumId, PageRequest), bytes::Bytes>,
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
    Ok(match config.storage.kind.as_str() {
        "memory" => OpendalBlobStore::memory()?,
        "s3" => {
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
        _ => {
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
    let default = config.payments.default_gateway();
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
    // The engine and the mailer must sign download tokens alike.
    let link_secret = derive(&secret, "download-links");
    let backends = Backends {
        metadata: store.clone() as Arc<dyn MetadataStore>,
        queue: store as Arc<dyn JobQueue>,
        blobs: Arc::new(blobs),
        renderer: Arc::new(renderer),
        packager: Arc::new(ZipPackager),
        gateways: gateways(&config, test_gateway.clone())?,
        clock,
        notifier: Arc::new(crate::mail::MailNotifier::new(
            store_for_mail,
            LinkSigner::new(link_secret.clone()),
            public_url.clone(),
            &config.mail.from,
            config.mail.smtp_url.as_ref().map(|s| s.expose()),
        )?),
    };
    let settings = Settings {
        max_upload_bytes: config.uploads.max_bytes,
        link_ttl: chrono::Duration::hours(config.downloads.link_ttl_hours as i64),
        job_lease: chrono::Duration::seconds(config.worker.lease_seconds as i64),
        max_downloads_per_link: config.downloads.max_per_link,
        download_window: chrono::Duration::days(config.downloads.window_days as i64),
        fresh_link_interval: chrono::Duration::minutes(config.downloads.fresh_link_interval_minutes as i64),
        render_budget_pixels: u64::from(config.worker.render_budget_megapixels) * 1_000_000,
        ..Settings::default()
    };
    let engine = Proofsheet::new(backends, settings, link_secret)?;
    let limits = Arc::new(crate::limits::Limits::new(&config.limits));
    let photo_pages = proofsheet_core::RevisionCache::new(config.server.list_cache_megabytes as usize * 1024 * 1024);
    Ok(Arc::new(AppState { engine, config, public_url, test_gateway, limits, photo_pages }))
}

/// The HTTP application: the API, its docs, the gateway pages.
pub fn routes(state: Arc<AppState>) -> poem::Route {
    let api = OpenApiService::new(
        (
            UsersApi { state: state.clone() },
            AlbumsApi { state: state.clone() },
            OrdersApi { state: state.clone() },
            OpsApi { state: state.clone() },
            HealthApi { state: state.clone() },
        ),
        "Proofsheet",
        env!("CARGO_PKG_VERSION"),
    )
    .description("Sell photos: albums, watermarked previews, checkout and expiring downloads.")
    .server(state.public_url.clone());
    // Swagger UI runs inline scripts of its own; nothing else may load.
    let docs = api.swagger_ui().with(
        SetHeader::new()
            .overriding(
                "Content-Security-Policy",
                "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                 img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
            )
            .overriding("X-Frame-Options", "DENY")
            .overriding("Referrer-Policy", "no-referrer"),
    );
    let spec_json = crate::api::spec::patch(&api.spec(), &state.engine.backends().renderer.watermark_plugins());
    let spec = poem::endpoint::make_sync(move |_| {
        poem::Response::builder().content_type("application/json; charset=utf-8").body(spec_json.clone())
    });
    let html = |route: Route| {
        route.with(
            SetHeader::new()
                .overriding(
                    "Content-Security-Policy",
                    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                )
                .overriding("X-Frame-Options", "DENY")
                .overriding("Referrer-Policy", "no-referrer"),
        )
    };
    let returned = Route::new().at("/:id/:how", get(pages::returned));
    let verify = Route::new().at("/", get(pages::verify_email_page).post(pages::verify_email));
    let route = Route::new()
        .nest("/api/v1/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/", api)
        .nest("/orders", html(returned))
        .nest("/verify-email", html(verify));
    // The test gateway's payment pages exist only where it is configured.
    if state.test_gateway.is_some() {
        let checkout = Route::new()
            .at("/test/:session", get(pages::checkout_page))
            .at("/test/:session/pay", post(pages::pay))
            .at("/test/:session/decline", post(pages::decline));
        route.nest("/checkout", html(checkout))
    } else {
        route
    }
}

/// What a process without the `api` role serves: health, readiness, metrics.
pub fn health_routes(state: Arc<AppState>) -> poem::Route {
    let api = OpenApiService::new(HealthApi { state }, "Proofsheet (worker)", env!("CARGO_PKG_VERSION"));
    Route::new().nest("/", api)
}

/// Shared middleware: state, headers, request logs, JSON errors.
fn finish(route: poem::Route, state: Arc<AppState>) -> impl poem::Endpoint {
    let limits = state.limits.clone();
    let bodies = crate::limits::BodyLimit {
        default: state.config.limits.body_bytes,
        webhook: state.config.limits.webhook_body_bytes,
        upload: state.config.uploads.max_bytes.saturating_add(1024 * 1024),
    };
    route
        .with(bodies)
        .with(crate::limits::RateLimit(limits))
        .data(state)
        .with(SetHeader::new().overriding("X-Content-Type-Options", "nosniff"))
        .catch_all_error(any_error_to_json)
        .around(observe)
}

/// Request log, request id, metrics and the `Allow` header of a 405,
/// around everything.
///
/// The request id is the caller's `X-Request-Id` when it is 1 to 64 of
/// `[A-Za-z0-9._-]`, else a new one; it is echoed in the response, set on
/// the request's log span, and stored with every job the request enqueues
/// (the job's log span carries it too).
async fn observe<E: poem::Endpoint<Output = poem::Response>>(
    ep: Arc<E>,
    req: poem::Request,
) -> poem::Result<poem::Response> {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let path = req.uri().path().to_owned();
    let method = req.method().as_str().to_owned();
    let given =
        req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| {
            (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
    let request_id = given.map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let route = crate::api::spec::template_of(&path).unwrap_or_else(|| "other".into());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let call = proofsheet_core::context::with_request_id(request_id.clone(), poem::Endpoint::call(&*ep, req));
    let mut resp = call.instrument(span).await?;
    if resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = crate::api::spec::allowed_methods(&path)
        && let Ok(value) = poem::http::HeaderValue::from_str(&allow)
    {
        // RFC 9110: a 405 lists the methods the resource does take.
        resp.headers_mut().insert(poem::http::header::ALLOW, value);
    }
    if let Ok(value) = poem::http::HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", value);
    }
    let took = started.elapsed();
    // The route template, never the raw path: download tokens and checkout
    // sessions live in paths and must not reach the logs.
    tracing::info!(
        request_id = %request_id, method = %method, route = %route, status = resp.status().as_u16(),
        ms = took.as_secs_f64() * 1e3, "request"
    );
    proofsheet_core::metrics::http(&method, &route, resp.status().as_u16(), took);
    Ok(resp)
}

/// What one process does. Any combination; `all` is every role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roles {
    /// Serves the REST API, docs and pages; does no image work.
    pub api: bool,
    /// Runs queued jobs (previews, zips); serves only health and metrics.
    pub worker: bool,
    /// Runs periodic tasks; at most one process holds the scheduler lease.
    pub scheduler: bool,
}

impl Roles {
    /// Every role: the embedded default.
    pub const ALL: Roles = Roles { api: true, worker: true, scheduler: true };

    /// Parses `api`, `worker`, `scheduler`, `all`, comma-separated or repeated.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> anyhow::Result<Roles> {
        let mut r = Roles { api: false, worker: false, scheduler: false };
        for name in names.iter().flat_map(|n| n.as_ref().split(',')).map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "api" => r.api = true,
                "worker" => r.worker = true,
                "scheduler" => r.scheduler = true,
                "all" => r = Roles::ALL,
                other => anyhow::bail!("unknown role {other:?}: roles are api, worker, scheduler and all"),
            }
        }
        if !(r.api || r.worker || r.scheduler) {
            return Ok(Roles::ALL);
        }
        Ok(r)
    }
}

/// The scheduler's periodic tasks and their schedules, from the config.
pub fn scheduler_for(engine: Proofsheet, config: &Config) -> anyhow::Result<Scheduler> {
    let mut schedules = Vec::new();
    for task in Periodic::ALL {
        let expr = config.scheduler.schedules.get(task.name()).map(String::as_str).unwrap_or(task.default_schedule());
        if expr != "off" {
            schedules.push((task, expr.to_owned()));
        }
    }
    for name in config.scheduler.schedules.keys() {
        name.parse::<Periodic>().with_context(|| format!("scheduler.schedules.{name}"))?;
    }
    let policy = Policy {
        pending_order_ttl: chrono::Duration::hours(config.orders.pending_ttl_hours as i64),
        album_grace: chrono::Duration::days(config.scheduler.album_grace_days as i64),
        job_retention: chrono::Duration::days(config.scheduler.job_retention_days as i64),
        orphan_delay: chrono::Duration::hours(config.scheduler.orphan_delay_hours as i64),
        expiry_reminder: chrono::Duration::days(config.mail.expiry_reminder_days as i64),
    };
    Ok(Scheduler::new(engine, &schedules, policy)?)
}

/// The scheduler loop: every `tick`, takes (or renews) the `scheduler`
/// lease; the holder runs the periodic tasks that are due. A process that
/// dies lets the lease lapse (3 ticks) and another scheduler takes over;
/// even two holders at once would run each period once (runs are claimed).
pub fn spawn_scheduler(
    mut scheduler: Scheduler,
    engine: Proofsheet,
    tick: Duration,
    mut stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        let lease = chrono::Duration::from_std(tick * 3).unwrap_or(chrono::Duration::seconds(30));
        let mut held = false;
        loop {
            let now = engine.backends().clock.now();
            match engine.backends().queue.acquire_lease("scheduler", &holder, now + lease, now).await {
                Ok(true) => {
                    if !held {
                        tracing::info!(%holder, "this process is now the scheduler");
                        held = true;
                    }
                    match scheduler.tick().await {
                        Ok(runs) => {
                            for r in runs {
                                tracing::info!(task = r.task.name(), outcome = ?r.outcome, "periodic task ran");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
                    }
                }
                Ok(false) => held = false,
                Err(e) => tracing::error!(error = %e, "scheduler could not reach the database"),
            }
            tokio::select! {
                _ = tokio::time::sleep(tick) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
    })
}

/// Runs `concurrency` worker loops ([`Worker::run`]) until `stop` flips;
/// jobs in flight then go back to the queue at once.
pub fn spawn_workers(
    engine: Proofsheet,
    concurrency: usize,
    poll: Duration,
    stop: watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..concurrency.max(1))
        .map(|n| {
            let worker = Worker::new(engine.clone());
            let stop = stop.clone();
            tokio::spawn(async move {
                tracing::debug!(worker = n, "worker started");
                worker.run(poll, stop).await;
            })
        })
        .collect()
}

/// A running server (and its workers).
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its public URL.
    pub url: String,
    /// The shared state (tests reach the engine through it).
    pub state: Arc<AppState>,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests and jobs in flight finish, and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        for w in self.workers {
            let _ = w.await;
        }
    }

    /// Waits until the server stops (Ctrl-C / SIGTERM), then shuts down.
    pub async fn wait_for_signal(self) {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.shutdown().await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Binds (port 0 picks a free port), builds everything and starts serving
/// HTTP and running jobs in this process.
pub async fn start(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Running> {
    start_roles(config, clock, Roles::ALL).await
}

/// Like [`start`], running only `roles` in this process.
pub async fn start_roles(config: Config, clock: Arc<dyn Clock>, roles: Roles) -> anyhow::Result<Running> {
    config.validate()?;
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    let bounds = crate::serve::Bounds {
        header_read_timeout: Duration::from_secs(config.server.header_read_timeout_seconds.into()),
        idle_timeout: Duration::from_secs(config.server.idle_timeout_seconds.into()),
        max_connections: config.server.max_connections as usize,
    };
    let url = config.server.public_url.clone().unwrap_or_else(|| format!("http://{local}"));
    let url = url.trim_end_matches('/').to_owned();
    let workers = match config.worker.concurrency {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };
    let poll = Duration::from_millis(config.worker.poll_ms.max(10));
    let tick = Duration::from_millis(config.scheduler.tick_ms.max(10));
    let state = build_state(config, url.clone(), clock).await?;
    let scheduler = scheduler_for(state.engine.clone(), &state.config)?;
    let (stop, stop_rx) = watch::channel(false);
    let mut server_stop = stop_rx.clone();
    let app = if roles.api { routes(state.clone()) } else { health_routes(state.clone()) };
    let app = finish(app, state.clone());
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = server_stop.changed().await;
        };
        crate::serve::serve(listener, app, bounds, stopped, Duration::from_secs(10)).await
    });
    let mut tasks = Vec::new();
    if roles.worker {
        tasks.extend(spawn_workers(state.engine.clone(), workers, poll, stop_rx.clone()));
    }
    if roles.scheduler {
        tasks.push(spawn_scheduler(scheduler, state.engine.clone(), tick, stop_rx));
    }
    tracing::info!(%local, url, ?roles, jpeg_codec = proofsheet_imaging::raster::JPEG_CODEC, "proofsheet listening");
    Ok(Running { addr: local, url, state, stop, server, workers: tasks })
}
