//! `WebhookStore` in SQL, for both dialects (one text per statement; the
//! two agree on all of it). Compiled once per dialect; it
//! shares `enqueue_in`, `after` and the store's pool with `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{Error, NewJob, Page, PageRequest, Result, UserId};
use sqlx::Row;

use super::{DbRow, Store, after, commit_with_jobs, enqueue_in};
use crate::sql::{db_err, from_millis, millis, parse_uuid};

use proofsheet_core::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryStatus, EventType, Webhook, WebhookId, WebhookStore,
};

fn webhook_from(row: &DbRow) -> Result<Webhook> {
    let events: Vec<EventType> = serde_json::from_str(&row.get::<String, _>("events"))
        .map_err(|e| Error::backend_permanent("reading a webhook's events", e))?;
    Ok(Webhook {
        id: WebhookId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        owner_id: UserId::from_uuid(parse_uuid(&row.get::<String, _>("owner_id"))?),
        url: row.get("url"),
        events,
        description: row.get("description"),
        enabled: row.get::<i64, _>("enabled") != 0,
        disabled_reason: row.get("disabled_reason"),
        secret: row.get("secret"),
        previous_secret: row.get("previous_secret"),
        previous_secret_until: row.get::<Option<i64>, _>("previous_secret_until").map(from_millis),
        failing_since: row.get::<Option<i64>, _>("failing_since").map(from_millis),
        created_at: from_millis(row.get("created_at")),
        updated_at: from_millis(row.get("updated_at")),
    })
}

fn delivery_from(row: &DbRow) -> Result<Delivery> {
    Ok(Delivery {
        id: DeliveryId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        webhook_id: WebhookId::from_uuid(parse_uuid(&row.get::<String, _>("webhook_id"))?),
        message_id: row.get("message_id"),
        event_type: row.get("event_type"),
        body: row.get("body"),
        status: DeliveryStatus::parse(row.get("status"))?,
        attempts: row.get::<i64, _>("attempts") as u32,
        next_attempt_at: row.get::<Option<i64>, _>("next_attempt_at").map(from_millis),
        created_at: from_millis(row.get("created_at")),
        updated_at: from_millis(row.get("updated_at")),
    })
}

fn events_json(w: &Webhook) -> String {
    serde_json::to_string(&w.events).expect("event names always serialise")
}

#[async_trait]
impl WebhookStore for Store {
    async fn insert_webhook(&self, w: &Webhook) -> Result<()> {
        sqlx::query(
            "INSERT INTO webhooks (id, owner_id, url, events, description, enabled, disabled_reason, secret,
                                           previous_secret, previous_secret_until, failing_since, created_at,
                                           updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(w.id.to_string())
        .bind(w.owner_id.to_string())
        .bind(&w.url)
        .bind(events_json(w))
        .bind(&w.description)
        .bind(w.enabled as i64)
        .bind(&w.disabled_reason)
        .bind(&w.secret)
        .bind(&w.previous_secret)
        .bind(w.previous_secret_until.map(millis))
        .bind(w.failing_since.map(millis))
        .bind(millis(w.created_at))
        .bind(millis(w.updated_at))
        .execute(&self.pool)
        .await
        .map_err(db_err("adding a webhook"))?;
        Ok(())
    }

    async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>> {
        sqlx::query("SELECT * FROM webhooks WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a webhook"))?
            .map(|r| webhook_from(&r))
            .transpose()
    }

    async fn update_webhook(&self, w: &Webhook) -> Result<()> {
        sqlx::query(
            "UPDATE webhooks SET url = $1, events = $2, description = $3, enabled = $4, disabled_reason = $5,
                                         secret = $6, previous_secret = $7, previous_secret_until = $8,
                                         failing_since = $9, updated_at = $10
                     WHERE id = $11",
        )
        .bind(&w.url)
        .bind(events_json(w))
        .bind(&w.description)
        .bind(w.enabled as i64)
        .bind(&w.disabled_reason)
        .bind(&w.secret)
        .bind(&w.previous_secret)
        .bind(w.previous_secret_until.map(millis))
        .bind(w.failing_since.map(millis))
        .bind(millis(w.updated_at))
        .bind(w.id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("updating a webhook"))?;
        Ok(())
    }

    async fn delete_webhook(&self, id: WebhookId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a webhook"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_webhooks(&self, owner: Option<UserId>, page: PageRequest) -> Result<Page<Webhook>> {
        let rows =
            sqlx::query("SELECT * FROM webhooks WHERE ($1 = '' OR owner_id = $1) AND id > $2 ORDER BY id LIMIT $3")
                .bind(owner.map(|o| o.to_string()).unwrap_or_default())
                .bind(after(&page))
                .bind(page.limit as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing webhooks"))?;
        let items = rows.iter().map(webhook_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page, |w| w.id.as_uuid()))
    }

    async fn webhooks_for(&self, owner: UserId) -> Result<Vec<Webhook>> {
        let rows = sqlx::query(
            "SELECT w.* FROM webhooks w JOIN users u ON u.id = w.owner_id
                     WHERE w.enabled = 1 AND (w.owner_id = $1 OR u.role = 'admin')
                     ORDER BY w.id",
        )
        .bind(owner.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("finding webhooks for an event"))?;
        rows.iter().map(webhook_from).collect()
    }

    async fn add_deliveries(&self, deliveries: &[(Delivery, NewJob)]) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let mut added = 0;
        for (d, job) in deliveries {
            let done = sqlx::query(
                "INSERT INTO webhook_deliveries (id, webhook_id, message_id, event_type, body, status, attempts,
                                                         next_attempt_at, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            )
            .bind(d.id.to_string())
            .bind(d.webhook_id.to_string())
            .bind(&d.message_id)
            .bind(&d.event_type)
            .bind(&d.body)
            .bind(d.status.as_str())
            .bind(d.attempts as i64)
            .bind(d.next_attempt_at.map(millis))
            .bind(millis(d.created_at))
            .bind(millis(d.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err("adding a webhook delivery"))?;
            if done.rows_affected() == 1 {
                enqueue_in(&mut tx, job).await?;
                added += 1;
            }
        }
        tx.commit().await.map_err(db_err("committing webhook deliveries"))?;
        Ok(added)
    }

    async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>> {
        sqlx::query("SELECT * FROM webhook_deliveries WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a webhook delivery"))?
            .map(|r| delivery_from(&r))
            .transpose()
    }

    async fn list_deliveries(&self, webhook: WebhookId, page: PageRequest) -> Result<Page<Delivery>> {
        let rows =
            sqlx::query("SELECT * FROM webhook_deliveries WHERE webhook_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(webhook.to_string())
                .bind(after(&page))
                .bind(page.limit as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing webhook deliveries"))?;
        let items = rows.iter().map(delivery_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(items, page, |d| d.id.as_uuid()))
    }

    async fn attempts(&self, delivery: DeliveryId) -> Result<Vec<DeliveryAttempt>> {
        let rows = sqlx::query("SELECT * FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt")
            .bind(delivery.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("reading webhook attempts"))?;
        Ok(rows
            .iter()
            .map(|r| DeliveryAttempt {
                delivery_id: delivery,
                attempt: r.get::<i64, _>("attempt") as u32,
                at: from_millis(r.get("at")),
                status_code: r.get::<Option<i64>, _>("status_code").map(|c| c as u16),
                response: r.get("response"),
                error: r.get("error"),
                duration_ms: r.get::<i64, _>("duration_ms") as u64,
            })
            .collect())
    }

    async fn record_attempt(&self, d: &Delivery, attempt: Option<&DeliveryAttempt>, jobs: &[NewJob]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        sqlx::query(
            "UPDATE webhook_deliveries SET status = $1, attempts = $2, next_attempt_at = $3, updated_at = $4
                     WHERE id = $5",
        )
        .bind(d.status.as_str())
        .bind(d.attempts as i64)
        .bind(d.next_attempt_at.map(millis))
        .bind(millis(d.updated_at))
        .bind(d.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err("updating a webhook delivery"))?;
        if let Some(a) = attempt {
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, response, error, duration_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
            )
            .bind(a.delivery_id.to_string())
            .bind(a.attempt as i64)
            .bind(millis(a.at))
            .bind(a.status_code.map(i64::from))
            .bind(&a.response)
            .bind(&a.error)
            .bind(a.duration_ms as i64)
            .execute(&mut *tx)
            .await
            .map_err(db_err("recording a webhook attempt"))?;
        }
        commit_with_jobs(tx, jobs, "committing a webhook attempt").await?;
        Ok(())
    }

    async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND updated_at < $1")
            .bind(millis(before))
            .execute(&self.pool)
            .await
            .map_err(db_err("pruning webhook deliveries"))?;
        Ok(done.rows_affected())
    }
}
