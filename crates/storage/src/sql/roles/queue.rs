//! `JobQueue`: the durable queue. One text per statement for both
//! dialects; the claim is the one statement whose dialects differ (the
//! dialect module's `CLAIM_LOCK`).

use std::sync::LazyLock;

use super::super::CLAIM_LOCK;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use proofsheet_core::{Job, JobId, JobQueue, JobStatus, Lane, NewJob, Page, PageRequest, Result};
use sqlx::Row;
use uuid::Uuid;

use super::{Store, after, enqueue_in, job_from};
use crate::sql::{db_err, millis};

/// Claims the next due job in one statement: SQLite's single writer makes
/// it atomic; PostgreSQL adds its dialect's row lock (`CLAIM_LOCK`) so
/// concurrent workers skip each other's rows. `$6`: 0 any job, 1 the
/// webhooks lane's kinds only, 2 all others.
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $1, lease_token = $2,
                                     updated_at = $3
                     WHERE id = (SELECT id FROM jobs
                                 WHERE ((status = 'queued' AND run_at <= $4) OR (status = 'running' AND lease_until <= $5))
                                   AND ($6 = 0 OR ($6 = 1) = (kind IN ('emit_event', 'deliver_webhook')))
                                 ORDER BY run_at, id LIMIT 1 {CLAIM_LOCK})
                     RETURNING *"
    )
});

#[async_trait]
impl JobQueue for Store {
    async fn enqueue(&self, job: &NewJob) -> Result<()> {
        let mut conn = self.conn().await?;
        enqueue_in(&mut conn, job).await
    }

    async fn claim_in(&self, now: DateTime<Utc>, lease: Duration, lane: Lane) -> Result<Option<Job>> {
        let token = Uuid::new_v4().to_string();
        sqlx::query(CLAIM.as_str())
            .bind(millis(now + lease))
            .bind(&token)
            .bind(millis(now))
            .bind(millis(now))
            .bind(millis(now))
            .bind(match lane {
                Lane::All => 0i64,
                Lane::Webhooks => 1,
                Lane::Work => 2,
            })
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("claiming a job"))?
            .map(|r| job_from(&r))
            .transpose()
    }

    async fn renew(&self, job: &Job, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET lease_until = $1, updated_at = $2
                     WHERE id = $3 AND status = 'running' AND lease_token = $4",
        )
        .bind(millis(until))
        .bind(millis(now))
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await
        .map_err(db_err("renewing a job's lease"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn release(&self, job: &Job, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
                    "UPDATE jobs SET status = 'queued', run_at = $1, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END,
                                     lease_until = NULL, lease_token = NULL, updated_at = $2
                     WHERE id = $3 AND status = 'running' AND lease_token = $4",
                )
                .bind(millis(now))
                .bind(millis(now))
                .bind(job.id.to_string())
                .bind(&job.lease_token)
                .execute(&self.pool)
                .await
                .map_err(db_err("handing a job back"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete(&self, job: &Job, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'succeeded', lease_until = NULL, lease_token = NULL, updated_at = $1
                     WHERE id = $2 AND status = 'running' AND lease_token = $3",
        )
        .bind(millis(now))
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await
        .map_err(db_err("completing a job"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail(&self, job: &Job, error: &str, retry_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<bool> {
        let (status, run_at) = match retry_at {
            Some(t) => ("queued", millis(t)),
            None => ("failed", millis(job.run_at)),
        };
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, lease_until = NULL, lease_token = NULL,
                                     updated_at = $4
                     WHERE id = $5 AND status = 'running' AND lease_token = $6",
        )
        .bind(status)
        .bind(run_at)
        .bind(error.chars().take(2000).collect::<String>())
        .bind(millis(now))
        .bind(job.id.to_string())
        .bind(&job.lease_token)
        .execute(&self.pool)
        .await
        .map_err(db_err("failing a job"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn job(&self, id: JobId) -> Result<Option<Job>> {
        sqlx::query("SELECT * FROM jobs WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a job"))?
            .map(|r| job_from(&r))
            .transpose()
    }

    async fn list_jobs(&self, status: Option<JobStatus>, page: PageRequest) -> Result<Page<Job>> {
        let rows = sqlx::query(
            "SELECT * FROM jobs WHERE (CAST($1 AS TEXT) IS NULL OR status = $2) AND id > $3 ORDER BY id LIMIT $4",
        )
        .bind(status.map(|s| s.as_str()))
        .bind(status.map(|s| s.as_str()))
        .bind(after(&page))
        .bind(page.limit as i64 + 1)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing jobs"))?;
        let jobs = rows.iter().map(job_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(jobs, page, |j| j.id.as_uuid()))
    }

    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<Option<Job>> {
        sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $2
                     WHERE id = $3 AND status = 'failed'
                     RETURNING *",
        )
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("retrying a job"))?
        .map(|r| job_from(&r))
        .transpose()
    }

    async fn prune_jobs(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jobs WHERE status = 'succeeded' AND updated_at < $1")
            .bind(millis(before))
            .execute(&self.pool)
            .await
            .map_err(db_err("pruning jobs"))?;
        Ok(done.rows_affected())
    }

    async fn counts(&self) -> Result<Vec<(JobStatus, u64)>> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status")
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("counting jobs"))?;
        rows.iter().map(|r| Ok((JobStatus::parse(r.get("status"))?, r.get::<i64, _>("n") as u64))).collect()
    }
}
