//! The job queue and the scheduler as operators see them: list, retry and
//! the record of periodic runs, with who may do it decided here.

use crate::{Error, Job, JobId, JobStatus, Page, PageRequest, Proofsheet, Result, Role, ScheduledRun, User};

/// Who asks for an administrative operation.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A signed-in user (the REST API): admins only.
    User(&'a User),
    /// The operator at the command line, who holds the configuration and
    /// the database already: no user, no check.
    Operator,
}

impl Actor<'_> {
    fn require_admin(&self, what: &str) -> Result<()> {
        match self {
            Actor::User(u) if u.role != Role::Admin => {
                Err(Error::forbidden("admins_only", format!("only admins {what}")))
            }
            _ => Ok(()),
        }
    }

    fn describe(&self) -> String {
        match self {
            Actor::User(u) => u.id.to_string(),
            Actor::Operator => "operator".into(),
        }
    }
}

/// Job administration (`engine.jobs()`).
pub struct Jobs<'a>(&'a Proofsheet);

impl Proofsheet {
    /// Job administration: list, retry, the scheduler's runs.
    pub fn jobs(&self) -> Jobs<'_> {
        Jobs(self)
    }
}

impl Jobs<'_> {
    /// A page of jobs, of one status or all, newest last.
    pub async fn list(&self, by: Actor<'_>, status: Option<JobStatus>, page: PageRequest) -> Result<Page<Job>> {
        by.require_admin("see the job queue")?;
        self.0.backends().queue.list_jobs(status, page).await
    }

    /// Queues a failed job again now with its attempts reset; `NotFound`
    /// for no such job (or an id that is none), `Conflict("job_not_failed")`
    /// for one that did not fail.
    pub async fn retry(&self, by: Actor<'_>, id: &str) -> Result<Job> {
        by.require_admin("manage the job queue")?;
        let id: JobId = id.parse().map_err(|_| Error::not_found("job"))?;
        let b = self.0.backends();
        let Some(queued) = b.queue.retry_job(id, b.clock.now()).await? else {
            return match b.queue.job(id).await? {
                None => Err(Error::not_found("job")),
                Some(j) => Err(Error::conflict("job_not_failed", format!("the job is {}", j.status.as_str()))),
            };
        };
        tracing::info!(job_id = %id, by = %by.describe(), "failed job queued again");
        Ok(queued)
    }

    /// How many jobs the queue holds, per status (for `/metrics`).
    pub async fn counts(&self, by: Actor<'_>) -> Result<Vec<(JobStatus, u64)>> {
        by.require_admin("see the job queue")?;
        self.0.backends().queue.counts().await
    }

    /// The newest `limit` (1 to 500) runs of the periodic tasks.
    pub async fn runs(&self, by: Actor<'_>, limit: u32) -> Result<Vec<ScheduledRun>> {
        by.require_admin("see the scheduler")?;
        self.0.backends().metadata.scheduled_runs(limit.clamp(1, 500)).await
    }
}
