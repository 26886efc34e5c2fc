//! `ScheduleStore`: periodic runs and leases. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{Result, ScheduleStore, ScheduledRun};
use sqlx::Row;

use super::Store;
use crate::sql::{db_err, from_millis, millis};

#[async_trait]
impl ScheduleStore for Store {
    async fn claim_scheduled_run(&self, task: &str, fire_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO scheduled_runs (task, fire_at, started_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(task)
        .bind(millis(fire_at))
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("claiming a scheduled run"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn finish_scheduled_run(
        &self,
        task: &str,
        fire_at: DateTime<Utc>,
        now: DateTime<Utc>,
        outcome: &str,
        detail: &str,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE scheduled_runs SET finished_at = $1, outcome = $2, detail = $3 WHERE task = $4 AND fire_at = $5",
        )
        .bind(millis(now))
        .bind(outcome)
        .bind(detail.chars().take(2000).collect::<String>())
        .bind(task)
        .bind(millis(fire_at))
        .execute(&self.pool)
        .await
        .map_err(db_err("finishing a scheduled run"))?;
        Ok(())
    }

    async fn scheduled_runs(&self, limit: u32) -> Result<Vec<ScheduledRun>> {
        let rows = sqlx::query("SELECT * FROM scheduled_runs ORDER BY started_at DESC, task LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing scheduled runs"))?;
        Ok(rows
            .iter()
            .map(|r| ScheduledRun {
                task: r.get("task"),
                fire_at: from_millis(r.get("fire_at")),
                started_at: from_millis(r.get("started_at")),
                finished_at: r.get::<Option<i64>, _>("finished_at").map(from_millis),
                outcome: r.get("outcome"),
                detail: r.get("detail"),
            })
            .collect())
    }

    async fn acquire_lease(&self, name: &str, holder: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until
                     WHERE leases.until <= $4 OR leases.holder = excluded.holder",
        )
        .bind(name)
        .bind(holder)
        .bind(millis(until))
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("taking a lease"))?;
        Ok(done.rows_affected() == 1)
    }
}
