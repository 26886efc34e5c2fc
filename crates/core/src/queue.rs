//! The durable job queue.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::{Job, JobId, JobStatus, NewJob, Page, PageRequest, Result};

/// Which jobs a worker takes. Webhook deliveries have their own lane, so a
/// slow endpoint never holds up previews and zips, and a burst of renders
/// never delays events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lane {
    /// Any job (tests, `drain`, embedders with one loop).
    #[default]
    All,
    /// Only [`Lane::WEBHOOK_KINDS`].
    Webhooks,
    /// Everything but [`Lane::WEBHOOK_KINDS`].
    Work,
}

impl Lane {
    /// The job kinds of the webhooks lane.
    pub const WEBHOOK_KINDS: [&'static str; 2] = ["emit_event", "deliver_webhook"];

    /// Whether a job of `kind` is in this lane.
    pub fn takes(&self, kind: &str) -> bool {
        match self {
            Lane::All => true,
            Lane::Webhooks => Self::WEBHOOK_KINDS.contains(&kind),
            Lane::Work => !Self::WEBHOOK_KINDS.contains(&kind),
        }
    }
}

/// A durable queue of jobs kept in the metadata database.
///
/// Workers `claim` a job with a lease; a worker that dies simply lets the
/// lease run out and another worker takes the job over. `complete` and
/// `fail` only act for the current lease holder, so a worker whose lease
/// was taken over cannot overwrite the new holder's result.
#[async_trait]
pub trait JobQueue: Send + Sync + 'static {
    /// Adds a job on its own (jobs tied to a state change go through the
    /// `MetadataStore` method that makes the change).
    async fn enqueue(&self, job: &NewJob) -> Result<()>;
    /// Takes the oldest due job: queued with `run_at <= now`, or running
    /// with an expired lease. The job comes back `running`, with
    /// `attempts` counted and a fresh `lease_token`.
    async fn claim(&self, now: DateTime<Utc>, lease: Duration) -> Result<Option<Job>> {
        self.claim_in(now, lease, Lane::All).await
    }
    /// [`JobQueue::claim`] among the jobs of one lane.
    async fn claim_in(&self, now: DateTime<Utc>, lease: Duration, lane: Lane) -> Result<Option<Job>>;
    /// Extends a running job's lease to `until`, for the holder of
    /// `job.lease_token` only; `false` if the lease was lost (taken over, or
    /// the job ended). A worker renews while the job makes progress, so a
    /// job may run for many leases while a crashed worker's job is taken
    /// over within one.
    async fn renew(&self, job: &Job, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool>;
    /// Hands a running job back (a clean shutdown): queued again, due at
    /// `now`, and this claim not counted as an attempt. Holder only;
    /// `false` if the lease was lost.
    async fn release(&self, job: &Job, now: DateTime<Utc>) -> Result<bool>;
    /// Marks the job `succeeded`; `false` if the lease was lost.
    async fn complete(&self, job: &Job, now: DateTime<Utc>) -> Result<bool>;
    /// Records `error`; queues the job again at `retry_at`, or marks it
    /// `failed` when `retry_at` is `None`. `false` if the lease was lost.
    async fn fail(&self, job: &Job, error: &str, retry_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<bool>;
    /// A job by id.
    async fn job(&self, id: JobId) -> Result<Option<Job>>;
    /// A page of jobs, optionally of one status, by id.
    async fn list_jobs(&self, status: Option<JobStatus>, page: PageRequest) -> Result<Page<Job>>;
    /// Queues a `failed` job again now, with its attempts reset, and
    /// returns it as the same statement left it (a worker may claim it the
    /// next instant; the answer must not show that claim); `None` if there
    /// is no such job or it is not failed.
    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>>;
    /// Deletes `succeeded` jobs last changed before `before` (and nothing
    /// else); returns how many.
    async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64>;
    /// How many jobs are in each status.
    async fn counts(&self) -> Result<Vec<(JobStatus, u64)>>;
}
