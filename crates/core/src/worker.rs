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
}

/// Runs queued jobs. Any number of workers, in any number of processes,
/// may share one queue.
#[derive(Clone)]
pub struct Worker {
    engine: Proofsheet,
}

impl Worker {
    /// A worker over an engine.
    pub fn new(engine: Proofsheet) -> Self {
        Worker { engine }
    }

    /// Claims and runs at most one job.
    pub async fn run_once(&self) -> Result<Ran> {
        let backends = self.engine.backends();
        let now = backends.clock.now();
        let Some(job) = backends.queue.claim(now, self.engine.settings().job_lease).await? else {
            return Ok(Ran::Idle);
        };
        let request_id = job.payload.get("request_id").and_then(|v| v.as_str()).unwrap_or("");
        let span = tracing::info_span!("job", job_id = %job.id, kind = %job.kind, attempt = job.attempts, request_id);
        let started = std::time::Instant::now();
        let outcome = self.dispatch(&job).instrument(span.clone()).await;
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
                if e.is_retryable() && job.attempts < job.max_attempts {
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
            Task::RefreshPreview { photo_id } => self.engine.thumbnails().refresh(photo_id).await,
            Task::BuildZip { order_id } => self.engine.downloads().build_zip(order_id).await,
            Task::RebuildZip { order_id } => self.engine.downloads().rebuild_zip(order_id).await,
            Task::RevokeDownloads { order_id } => self.engine.downloads().revoke(order_id).await,
            Task::Notify { notification } => self.engine.backends().notifier.notify(&notification).await,
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
