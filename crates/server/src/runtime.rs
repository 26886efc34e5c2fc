//! One process: which roles it runs, and starting and stopping the HTTP
//! server, the workers and the scheduler (their loops live in core:
//! [`Worker::run`], [`Scheduler::run_loop`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use proofsheet_core::{Clock, Periodic, Policy, Proofsheet, Scheduler, Worker};
use tokio::sync::watch;

use crate::{
    config::Config,
    routes::{health_routes, routes, with_middleware},
    state::{AppState, build_state},
};

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
    /// The worker loops and the scheduler this process runs, by role.
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, lets requests and jobs in flight finish, and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        for task in self.background {
            let _ = task.await;
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
    if !roles.api && (roles.worker || roles.scheduler) && config.mail.smtp_url.is_some() {
        // Its mails link to the site; without the API it serves none of it,
        // so its own address would be a dead link.
        anyhow::ensure!(
            config.server.public_url.is_some(),
            "a worker or scheduler that sends mail (mail.smtp_url is set) needs server.public_url \
             (PROOFSHEET__SERVER__PUBLIC_URL), the address its links point at"
        );
    }
    if roles.api
        && config.payments.default_gateway() == crate::config::GatewayName::Test
        && config.payments.default_gateway.is_none()
    {
        // Fine for trying the server; a shop that sells for real sets
        // [payments.stripe] (or payments.default_gateway) instead.
        tracing::warn!(
            "no payment gateway is configured: checkouts use the offline test gateway, whose payment page \
             anyone holding the link can complete; configure [payments.stripe] to take real payments"
        );
    }
    let addr = config.listen_addr()?;
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr().context("no local address")?;
    let bounds = crate::serve::Bounds {
        header_read_timeout: Duration::from_secs(config.server.header_read_timeout_seconds.into()),
        idle_timeout: Duration::from_secs(config.server.idle_timeout_seconds.into()),
        max_connections: config.server.max_connections as usize,
        max_connections_per_client: config.server.max_connections_per_client as usize,
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
    let app = with_middleware(app, state.clone());
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = server_stop.changed().await;
        };
        crate::serve::serve(listener, app, bounds, stopped, Duration::from_secs(10)).await
    });
    let mut tasks = Vec::new();
    if roles.worker {
        // Two lanes: previews, zips and mail; and webhooks, so a slow
        // endpoint never holds up a render and a burst of renders never
        // delays an event.
        tasks.extend(Worker::spawn_in(&state.engine, proofsheet_core::Lane::Work, workers, poll, &stop_rx));
        let hooks = state.config.webhooks.concurrency;
        tasks.extend(Worker::spawn_in(&state.engine, proofsheet_core::Lane::Webhooks, hooks, poll, &stop_rx));
    }
    if roles.scheduler {
        tasks.push(tokio::spawn(scheduler.run_loop(tick, stop_rx)));
    }
    tracing::info!(%local, url, ?roles, jpeg_codec = state.config.imaging.jpeg_codec.resolve().map(|c| c.label()).unwrap_or("?"), "proofsheet listening");
    Ok(Running { addr: local, url, state, stop, server, background: tasks })
}
