//! The scheduler: periodic tasks on cron-like schedules, each period run
//! once across every scheduler process, each run recorded.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use tracing::Instrument;

use crate::{Error, OrderStatus, Proofsheet, Result};

/// The periodic tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Periodic {
    /// Orders left `pending` past their time become `expired`.
    ExpireOrders,
    /// Albums expired longer than the grace period lose their originals and
    /// previews (the metadata stays for reports).
    PurgeExpiredAlbums,
    /// Zips of expired links are deleted from storage.
    DeleteExpiredZips,
    /// Finished jobs older than the retention are deleted.
    PruneJobs,
    /// Blobs that no record points to (left by a crash) are deleted after a
    /// safety delay.
    CleanOrphans,
    /// Last month's sales report per photographer is made and kept.
    MonthlyReports,
    /// Clients are reminded by e-mail a few days before an album expires.
    ExpiryReminders,
    /// Resumable uploads past their expiry are deleted, complete or not.
    PruneUploads,
}

impl Periodic {
    /// Every task.
    pub const ALL: [Periodic; 8] = [
        Periodic::ExpireOrders,
        Periodic::PurgeExpiredAlbums,
        Periodic::DeleteExpiredZips,
        Periodic::PruneJobs,
        Periodic::CleanOrphans,
        Periodic::MonthlyReports,
        Periodic::ExpiryReminders,
        Periodic::PruneUploads,
    ];

    /// The stable name (in run records and configuration).
    pub fn name(&self) -> &'static str {
        match self {
            Periodic::ExpireOrders => "expire_orders",
            Periodic::PurgeExpiredAlbums => "purge_expired_albums",
            Periodic::DeleteExpiredZips => "delete_expired_zips",
            Periodic::PruneJobs => "prune_jobs",
            Periodic::CleanOrphans => "clean_orphans",
            Periodic::MonthlyReports => "monthly_reports",
            Periodic::ExpiryReminders => "expiry_reminders",
            Periodic::PruneUploads => "prune_uploads",
        }
    }

    /// The default schedule (standard 5-field cron, UTC).
    pub fn default_schedule(&self) -> &'static str {
        match self {
            Periodic::ExpireOrders => "*/10 * * * *",
            Periodic::PurgeExpiredAlbums => "15 * * * *",
            Periodic::DeleteExpiredZips => "30 * * * *",
            Periodic::PruneJobs => "45 3 * * *",
            Periodic::CleanOrphans => "0 4 * * *",
            Periodic::MonthlyReports => "0 2 1 * *",
            Periodic::ExpiryReminders => "5 * * * *",
            Periodic::PruneUploads => "20 * * * *",
        }
    }
}

impl FromStr for Periodic {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Periodic::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| Error::invalid("unknown_task", format!("no periodic task named {s:?}")))
    }
}

/// Parses a 5-field (`min hour dom month dow`) or 6/7-field (with seconds,
/// and year) cron expression, in UTC.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule> {
    let fields = expr.split_whitespace().count();
    let full = if fields == 5 { format!("0 {expr}") } else { expr.to_owned() };
    cron::Schedule::from_str(&full)
        .map_err(|e| Error::invalid("invalid_schedule", format!("bad schedule {expr:?}: {e}")))
}

/// How the periodic tasks judge age.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Unpaid orders expire after this.
    pub pending_order_ttl: Duration,
    /// Expired albums keep their blobs this long.
    pub album_grace: Duration,
    /// Succeeded jobs are kept this long.
    pub job_retention: Duration,
    /// A blob without a record is only deleted once older than this (an
    /// upload in flight writes its blob before its record).
    pub orphan_delay: Duration,
    /// Clients are reminded this long before their album expires.
    pub expiry_reminder: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            pending_order_ttl: Duration::hours(24),
            album_grace: Duration::days(30),
            job_retention: Duration::days(7),
            orphan_delay: Duration::hours(24),
            expiry_reminder: Duration::days(3),
        }
    }
}

struct Entry {
    task: Periodic,
    schedule: cron::Schedule,
    next: DateTime<Utc>,
}

/// What one tick did for one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TickRun {
    /// The task.
    pub task: Periodic,
    /// The period it ran for.
    pub fire_at: DateTime<Utc>,
    /// What it did, or the error.
    pub outcome: std::result::Result<String, String>,
}

/// Runs periodic tasks. Any number of schedulers may run: each period of
/// each task is claimed in the store first, so it runs once.
pub struct Scheduler {
    engine: Proofsheet,
    policy: Policy,
    entries: Vec<Entry>,
}

impl Scheduler {
    /// A scheduler for `schedules` (task, cron expression).
    pub fn new(engine: Proofsheet, schedules: &[(Periodic, String)], policy: Policy) -> Result<Self> {
        let now = engine.backends().clock.now();
        let entries = schedules
            .iter()
            .map(|(task, expr)| {
                let schedule = parse_schedule(expr)?;
                let next = schedule
                    .after(&now)
                    .next()
                    .ok_or_else(|| Error::invalid("invalid_schedule", format!("schedule {expr:?} never fires")))?;
                Ok(Entry { task: *task, schedule, next })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Scheduler { engine, policy, entries })
    }

    /// Every task on its default schedule.
    pub fn with_defaults(engine: Proofsheet, policy: Policy) -> Result<Self> {
        let schedules: Vec<_> = Periodic::ALL.iter().map(|t| (*t, t.default_schedule().to_owned())).collect();
        Self::new(engine, &schedules, policy)
    }

    /// Runs every task whose time has come (once, for the latest period
    /// passed, however many were missed) and records each run.
    pub async fn tick(&mut self) -> Result<Vec<TickRun>> {
        let now = self.engine.backends().clock.now();
        let mut runs = Vec::new();
        for i in 0..self.entries.len() {
            if self.entries[i].next > now {
                continue;
            }
            let mut fire_at = self.entries[i].next;
            while let Some(n) = self.entries[i].schedule.after(&fire_at).next() {
                if n > now {
                    self.entries[i].next = n;
                    break;
                }
                fire_at = n;
            }
            let task = self.entries[i].task;
            if let Some(run) = self.run_recorded(task, fire_at, now).await? {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// The scheduler loop, until `stop` turns `true`: every `tick`, takes
    /// (or renews) the `scheduler` lease in the job queue; the holder runs
    /// the periodic tasks that are due ([`Scheduler::tick`]). A process
    /// that dies lets the lease lapse (three ticks) and another scheduler
    /// takes over; even two holders at once would run each period once
    /// (runs are claimed). What an embedder spawns beside its workers.
    pub async fn run_loop(mut self, tick: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let holder = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let lease = chrono::Duration::from_std(tick * 3).unwrap_or(chrono::Duration::seconds(30));
        let mut held = false;
        loop {
            let backends = self.engine.backends();
            let now = backends.clock.now();
            match backends.metadata.acquire_lease("scheduler", &holder, now + lease, now).await {
                Ok(true) => {
                    if !held {
                        tracing::info!(%holder, "this process is now the scheduler");
                        held = true;
                    }
                    match self.tick().await {
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
                () = tokio::time::sleep(tick) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
        }
    }

    /// Runs one task now, as an operator asks (`proofsheet jobs run`), and
    /// records the run like a scheduled one, fired now.
    pub async fn run_now(&self, task: Periodic) -> Result<TickRun> {
        let now = self.engine.backends().clock.now();
        self.run_recorded(task, now, now)
            .await?
            .ok_or_else(|| Error::conflict("already_running", format!("{} was started this very moment", task.name())))
    }

    /// Claims the period `fire_at` of `task`, runs it and records how it
    /// went; `None` if another scheduler has that period.
    async fn run_recorded(
        &self,
        task: Periodic,
        fire_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<TickRun>> {
        let meta = &self.engine.backends().metadata;
        if !meta.claim_scheduled_run(task.name(), fire_at, now).await? {
            return Ok(None); // another scheduler has this period
        }
        let span = tracing::info_span!("periodic", task = task.name(), %fire_at);
        let outcome = self.run(task).instrument(span).await;
        let done = self.engine.backends().clock.now();
        let (word, detail) = match &outcome {
            Ok(d) => ("ok", d.clone()),
            Err(e) => ("failed", e.to_string()),
        };
        meta.finish_scheduled_run(task.name(), fire_at, done, word, &detail).await?;
        match &outcome {
            Ok(detail) => tracing::info!(task = task.name(), detail = %detail, "periodic task ran"),
            Err(e) => {
                tracing::error!(task = task.name(), error = %e, "periodic task failed; it runs again next period")
            }
        }
        Ok(Some(TickRun { task, fire_at, outcome: outcome.map_err(|e| e.to_string()) }))
    }

    /// Runs one task now, unrecorded (tests, embedders). Every task
    /// is safe to run twice, late, or on two processes at once.
    pub async fn run(&self, task: Periodic) -> Result<String> {
        let now = self.engine.backends().clock.now();
        let b = self.engine.backends();
        match task {
            Periodic::ExpireOrders => {
                let n = self.engine.checkout().expire_stale(now - self.policy.pending_order_ttl).await?;
                Ok(format!("expired {n} abandoned orders"))
            }
            Periodic::PurgeExpiredAlbums => {
                // "Find me" embeddings go at expiry, not after the grace
                // period: nobody may search a closed album.
                let forgotten = b.metadata.forget_expired_faces(now).await?;
                if forgotten > 0 {
                    tracing::info!(photos = forgotten, "faces of expired albums deleted");
                }
                let mut n = 0;
                loop {
                    let albums = b.metadata.albums_to_purge(now - self.policy.album_grace, 50).await?;
                    if albums.is_empty() {
                        break;
                    }
                    for album in albums {
                        // Blobs first: a crash in between leaves an album that is
                        // purged again next time, never a record pointing nowhere
                        // that claims to be whole.
                        // Originals bought within the download window stay for
                        // their buyers; clean-up removes them once released.
                        self.engine.delete_album_blobs(&album).await?;
                        let data = serde_json::json!({
                            "album_id": album.id.to_string(),
                            "name": album.name,
                            "expired_at": album.expires_at,
                        });
                        let event = self.engine.event_job(crate::EventType::AlbumExpired, album.owner_id, data);
                        b.metadata.mark_album_purged(album.id, now, &[event]).await?;
                        tracing::info!(album_id = %album.id, "expired album purged");
                        n += 1;
                    }
                }
                Ok(match forgotten {
                    0 => format!("purged {n} albums"),
                    f => format!("purged {n} albums; deleted the faces of {f} photos of expired albums"),
                })
            }
            Periodic::DeleteExpiredZips => {
                let mut deleted = std::collections::HashSet::new();
                loop {
                    let links = b.metadata.expired_links_with_zips(now, 100).await?;
                    if links.is_empty() {
                        break;
                    }
                    for link in links {
                        // A fresh link may share the zip: keep it while one lives.
                        let newest = b.metadata.link_for_order(link.order_id).await?;
                        let shared = newest.is_some_and(|l| {
                            l.id != link.id && l.zip_key == link.zip_key && l.expires_at > now && !l.revoked
                        });
                        if !shared {
                            b.blobs.delete(&link.zip_key).await?;
                            deleted.insert(link.zip_key.clone());
                        }
                        b.metadata.mark_zip_deleted(link.id, now).await?;
                    }
                }
                Ok(format!("deleted {} expired zips", deleted.len()))
            }
            Periodic::PruneJobs => {
                let horizon = now - self.policy.job_retention;
                let n = b.queue.prune_jobs(horizon).await?;
                // Idempotency replies go with them, always kept at least a
                // day (a retry within a day gets the first reply).
                b.metadata.prune_idempotent_replies(horizon.min(now) - chrono::Duration::hours(24)).await?;
                let d = self.engine.webhooks().prune(crate::webhooks::KEEP_DELIVERIES).await?;
                Ok(format!("pruned {n} finished jobs and {d} webhook deliveries"))
            }
            Periodic::CleanOrphans => self.clean_orphans(now).await,
            Periodic::MonthlyReports => self.monthly_reports(now).await,
            Periodic::ExpiryReminders => {
                let mut n = 0;
                loop {
                    let albums = b.metadata.albums_to_remind(now, now + self.policy.expiry_reminder, 100).await?;
                    if albums.is_empty() {
                        break;
                    }
                    for album in albums {
                        // Mark first: at most one reminder even if two run at once.
                        if !b.metadata.mark_album_reminded(album.id, now).await? {
                            continue;
                        }
                        let Some(to) = album.client_email.clone() else { continue };
                        let notification = crate::Notification::AlbumExpiring { album_id: album.id, to };
                        b.queue.enqueue(&crate::NewJob::now(crate::Task::Notify { notification }, now)).await?;
                        n += 1;
                    }
                }
                Ok(format!("reminded {n} clients"))
            }
            Periodic::PruneUploads => {
                let n = self.engine.uploads().prune_expired(now).await?;
                Ok(format!("deleted {n} expired uploads"))
            }
        }
    }

    /// Deletes blobs whose record is gone, if they are older than the
    /// safety delay. Ids are UUIDv7, so a key's age is in its name.
    async fn clean_orphans(&self, now: DateTime<Utc>) -> Result<String> {
        let b = self.engine.backends();
        let cutoff = now - self.policy.orphan_delay;
        let old_enough = |id: &str| {
            uuid::Uuid::parse_str(id)
                .ok()
                .and_then(|u| u.get_timestamp())
                .map(|ts| {
                    let (secs, nanos) = ts.to_unix();
                    Utc.timestamp_opt(secs as i64, nanos).single().is_some_and(|t| t < cutoff)
                })
                .unwrap_or(false)
        };
        let mut removed = 0;
        // Per album: whether it is gone or purged, and the photos it holds.
        let mut albums: std::collections::HashMap<crate::AlbumId, (bool, std::collections::HashSet<crate::PhotoId>)> =
            std::collections::HashMap::new();
        for key in b.blobs.list("photographers").await? {
            // photographers/{owner}/albums/{album}/{originals|previews|thumbnails}/{photo}[.jpg]
            let parts: Vec<&str> = key.split('/').collect();
            let [_, _, _, _, kind, file] = parts[..] else { continue };
            if !matches!(kind, "originals" | "previews" | "thumbnails") {
                continue;
            }
            let id = file.trim_end_matches(".jpg");
            let Ok(photo) = id.parse::<crate::PhotoId>() else { continue };
            if !old_enough(id) {
                continue;
            }
            let recorded = b.metadata.photo(photo).await?.is_some();
            let orphan = match parts[3].parse::<crate::AlbumId>() {
                // An original is an orphan once its record is gone or its
                // album purged, and no order within its download window
                // holds it. Each album is looked up once per run.
                Ok(album) if kind == "originals" => {
                    let (closed, held) = match albums.entry(album) {
                        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                        std::collections::hash_map::Entry::Vacant(new) => {
                            let closed = b.metadata.album(album).await?.is_none_or(|a| a.purged_at.is_some());
                            new.insert((closed, self.engine.held_photos(album).await?))
                        }
                    };
                    (!recorded || *closed) && !held.contains(&photo)
                }
                _ => !recorded,
            };
            if orphan {
                b.blobs.delete(&key).await?;
                removed += 1;
            }
        }
        for key in b.blobs.list(crate::DownloadLink::ZIPS).await? {
            // A zip's key names the link it was made for (fresh links share
            // it); it is known while that link exists and is not refunded.
            // A key that is not a zip key of ours is left alone.
            let known = match crate::DownloadLink::parse_zip_key(&key) {
                Some((_, link_id)) if !old_enough(&link_id.to_string()) => continue,
                Some((order_id, link_id)) => match b.metadata.order(order_id).await? {
                    Some(o) if o.status != OrderStatus::Refunded => {
                        b.metadata.link(link_id).await?.is_some_and(|l| !l.zip_deleted)
                    }
                    _ => false,
                },
                None => continue,
            };
            if !known {
                b.blobs.delete(&key).await?;
                removed += 1;
            }
        }
        Ok(format!("removed {removed} orphaned blobs"))
    }

    /// Makes and keeps last month's report for every photographer with
    /// sales. Running it again changes nothing (one report per month).
    async fn monthly_reports(&self, now: DateTime<Utc>) -> Result<String> {
        let (y, m) = if now.month() == 1 { (now.year() - 1, 12) } else { (now.year(), now.month() - 1) };
        let from = Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0).single().expect("valid date");
        let to = Utc.with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0).single().expect("valid date");
        let month = format!("{y:04}-{m:02}");
        let rows = self.engine.backends().metadata.sales(None, from, to).await?;
        let mut sellers: Vec<_> = rows.iter().map(|r| r.seller_id).collect();
        sellers.sort();
        sellers.dedup();
        let mut made = 0;
        for seller in sellers {
            let report = self.engine.reports().for_seller(Some(seller), from, to).await?;
            let body = report.to_json();
            if self.engine.backends().metadata.save_monthly_report(seller, &month, &body, now).await? {
                made += 1;
            }
        }
        Ok(format!("made {made} reports for {month}"))
    }
}
