//! The worker: claims jobs and runs them through the services.

use tracing::Instrument;

use crate::{Job, Proofsheet, Result, Task, backoff};

/// What one `run_once` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Ran {
    /// The queue had nothing due.
    Idle,
    /// A job ran and succeeded.
    Succeeded(Job),
    /// A job failed and will be retried.
    Retrying(Job, String),
    /// A job failed for good.
    Failed(Job, String),
    /// The worker was stopped while the job ran; the job went back to the
    /// queue, due at once.
    HandedBack(Job),
    /// The job's lease was taken over by another worker; its work here was
    /// dropped.
    LeaseLost(Job),
}

/// How often a running job's lease is renewed: three times per lease, so
/// two renewals in a row may fail before another worker can take it over.
fn heartbeat(lease: chrono::Duration) -> std::time::Duration {
    (lease / 3).to_std().unwrap_or_default().max(std::time::Duration::from_millis(50))
}

/// The wait after `failures` queue errors in a row: `poll` doubled per
/// failure, at most 30 s.
fn error_backoff(poll: std::time::Duration, failures: u32) -> std::time::Duration {
    let cap = std::time::Duration::from_secs(30);
    poll.max(std::time::Duration::from_millis(10)).saturating_mul(1u32 << failures.min(16)).min(cap)
}

/// Runs queued jobs. Any number of workers, in any number of processes,
/// may share one queue.
#[derive(Clone)]
pub struct Worker {
    engine: Proofsheet,
    lane: crate::Lane,
}

impl Worker {
    /// A worker over an engine.
    pub fn new(engine: Proofsheet) -> Self {
        Worker { engine, lane: crate::Lane::All }
    }

    /// A worker that takes only the jobs of `lane`.
    pub fn in_lane(engine: Proofsheet, lane: crate::Lane) -> Self {
        Worker { engine, lane }
    }

    /// Claims and runs at most one job.
    pub async fn run_once(&self) -> Result<Ran> {
        self.run_once_until(std::future::pending()).await
    }

    /// Claims and runs at most one job, renewing its lease while it runs
    /// (every third of `Settings::job_lease`), so a job may take many leases
    /// while a crashed worker's job is taken over within one. When `stop`
    /// resolves first, the job is handed back to the queue at once (due now,
    /// the attempt not counted) and its work is dropped. When the lease is
    /// lost (another worker took the job over after renewals failed), the
    /// work is dropped too: the new holder runs it.
    pub async fn run_once_until(&self, stop: impl std::future::Future<Output = ()>) -> Result<Ran> {
        let backends = self.engine.backends();
        let lease = self.engine.settings().job_lease;
        let now = backends.clock.now();
        let Some(job) = backends.queue.claim_in(now, lease, self.lane).await? else {
            return Ok(Ran::Idle);
        };
        let request_id = job.payload.get("request_id").and_then(|v| v.as_str()).unwrap_or("");
        let span = tracing::info_span!("job", job_id = %job.id, kind = %job.kind, attempt = job.attempts, request_id);
        let started = std::time::Instant::now();
        let every = heartbeat(lease);
        let running = job.clone();
        let work = async move { self.dispatch(&running).await }.instrument(span.clone());
        tokio::pin!(work, stop);
        let outcome = loop {
            tokio::select! {
                outcome = &mut work => break outcome,
                () = tokio::time::sleep(every) => {
                    let now = backends.clock.now();
                    match backends.queue.renew(&job, now + lease, now).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _entered = span.enter();
                            tracing::warn!("lease lost: another worker has taken the job over");
                            crate::metrics::job(&job.kind, "lease_lost", started.elapsed());
                            return Ok(Ran::LeaseLost(job));
                        }
                        Err(e) => {
                            let _entered = span.enter();
                            tracing::warn!(error = %e, "could not renew the job's lease; trying again");
                        }
                    }
                }
                () = &mut stop => {
                    let _entered = span.enter();
                    let now = backends.clock.now();
                    backends.queue.release(&job, now).await?;
                    tracing::info!("job handed back at shutdown");
                    crate::metrics::job(&job.kind, "handed_back", started.elapsed());
                    return Ok(Ran::HandedBack(job));
                }
            }
        };
        let took = started.elapsed();
        let _entered = span.enter();
        let now = backends.clock.now();
        match outcome {
            Ok(()) => {
                backends.queue.complete(&job, now).await?;
                crate::metrics::job(&job.kind, "succeeded", took);
                Ok(Ran::Succeeded(job))
            }
            Err(e) => {
                let message = e.to_string();
                // A full disk is waited out however long it lasts (every
                // retry at most 10 minutes apart), so every accepted upload
                // renders by itself once space returns.
                let waits_out = matches!(e, crate::Error::StorageFull { .. });
                if e.is_retryable() && (job.attempts < job.max_attempts || waits_out) {
                    tracing::warn!(error = %message, "job failed, will retry");
                    backends.queue.fail(&job, &message, Some(now + backoff(job.attempts)), now).await?;
                    crate::metrics::job(&job.kind, "retried", took);
                    Ok(Ran::Retrying(job, message))
                } else {
                    tracing::error!(error = %message, "job failed for good");
                    backends.queue.fail(&job, &message, None, now).await?;
                    crate::metrics::job(&job.kind, "failed", took);
                    self.gave_up(&job, &message).await;
                    Ok(Ran::Failed(job, message))
                }
            }
        }
    }

    /// Runs jobs until `stop` turns `true`: the loop an embedder spawns (one
    /// per job to run at once). Idle, it looks for work every `poll`; when
    /// the queue cannot be reached (the database is down or its disk full)
    /// it backs off, doubling from `poll` up to 30 s, instead of spinning.
    /// At `stop`, a job in flight is handed back to the queue at once.
    pub async fn run(&self, poll: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            if *stop.borrow() {
                break;
            }
            let mut stopping = stop.clone();
            let stopped = async move {
                let _ = stopping.wait_for(|s| *s).await;
            };
            let wait = match self.run_once_until(stopped).await {
                Ok(Ran::Idle) => {
                    failures = 0;
                    Some(poll)
                }
                Ok(_) => {
                    failures = 0;
                    None
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = error_backoff(poll, failures);
                    tracing::error!(error = %e, retry_in_ms = wait.as_millis() as u64, "worker could not reach the queue");
                    Some(wait)
                }
            };
            if let Some(wait) = wait {
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    /// Spawns `concurrency` (at least one) worker loops ([`Worker::run`])
    /// on the current Tokio runtime; they end when `stop` turns `true`,
    /// handing jobs in flight back to the queue.
    pub fn spawn(
        engine: &Proofsheet,
        concurrency: usize,
        poll: std::time::Duration,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        Self::spawn_in(engine, crate::Lane::All, concurrency, poll, stop)
    }

    /// [`Worker::spawn`] for the jobs of one lane: the reference server runs
    /// `worker.concurrency` loops on [`Lane::Work`](crate::Lane::Work) and
    /// `webhooks.concurrency` on [`Lane::Webhooks`](crate::Lane::Webhooks).
    pub fn spawn_in(
        engine: &Proofsheet,
        lane: crate::Lane,
        concurrency: usize,
        poll: std::time::Duration,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..concurrency.max(1))
            .map(|n| {
                let worker = Worker::in_lane(engine.clone(), lane);
                let stop = stop.clone();
                tokio::spawn(async move {
                    tracing::debug!(worker = n, "worker started");
                    worker.run(poll, stop).await;
                })
            })
            .collect()
    }

    /// Runs jobs until none is due; returns how many ran. For tests, batch
    /// tools and embedders that drive the queue themselves.
    pub async fn drain(&self) -> Result<usize> {
        let mut n = 0;
        while self.run_once().await? != Ran::Idle {
            n += 1;
        }
        Ok(n)
    }

    async fn dispatch(&self, job: &Job) -> Result<()> {
        match Task::from_json(&job.payload)? {
            Task::RenderPreview { photo_id } => self.engine.thumbnails().render(photo_id).await,
            Task::RefreshPreview { photo_id, watermark } => {
                self.engine.thumbnails().refresh(photo_id, watermark.as_deref()).await
            }
            Task::BuildZip { order_id } => self.engine.downloads().build_zip(order_id).await,
            Task::RebuildZip { order_id } => self.engine.downloads().rebuild_zip(order_id).await,
            Task::RevokeDownloads { order_id } => self.engine.downloads().revoke(order_id).await,
            Task::Notify { notification: crate::Notification::SignInLink { ref to, .. } }
                if !self.engine.may_sign_in(to).await? =>
            {
                // Queued for every address so the request told nobody
                // anything; only an address that may sign in gets mail.
                tracing::info!(target: "audit", action = "sign_in_link", result = "no_account", "sign-in link not sent");
                Ok(())
            }
            Task::Notify { notification } => self.engine.backends().notifier.notify(&notification).await,
            Task::EmitEvent { event } => self.engine.webhooks().emit(&event).await,
            Task::DeliverWebhook { delivery_id, after } => self.engine.webhooks().deliver(delivery_id, after).await,
            Task::IndexFaces { photo_id } => self.engine.faces().index(photo_id).await,
        }
    }

    /// Leaves the job's subject in a state its owner can see.
    async fn gave_up(&self, job: &Job, message: &str) {
        if let Ok(Task::RenderPreview { photo_id }) = Task::from_json(&job.payload) {
            let reason = format!("processing failed: {message}");
            if let Err(e) = self.engine.thumbnails().mark_failed(photo_id, &reason).await {
                tracing::error!(error = %e, "could not mark the photo failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{error_backoff, heartbeat};

    #[test]
    fn renewals_come_three_times_a_lease() {
        assert_eq!(heartbeat(chrono::Duration::seconds(30)), Duration::from_secs(10));
        assert_eq!(heartbeat(chrono::Duration::milliseconds(30)), Duration::from_millis(50), "a floor");
    }

    #[test]
    fn queue_errors_back_off_to_thirty_seconds() {
        let poll = Duration::from_millis(200);
        assert_eq!(error_backoff(poll, 1), Duration::from_millis(400));
        assert_eq!(error_backoff(poll, 3), Duration::from_millis(1600));
        assert_eq!(error_backoff(poll, 40), Duration::from_secs(30));
    }
}
