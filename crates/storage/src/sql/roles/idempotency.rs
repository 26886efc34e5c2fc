//! `IdempotencyStore`: stored replies to idempotent requests. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{Error, IdempotencyStore, IdempotentReply, Result, UserId};
use sqlx::Row;

use super::{Store, insert_reply_in};
use crate::sql::{db_err, from_millis, millis};

#[async_trait]
impl IdempotencyStore for Store {
    async fn idempotent_reply(&self, user: UserId, scope: &str, key: &str) -> Result<Option<IdempotentReply>> {
        let Some(r) = sqlx::query("SELECT * FROM idempotency_keys WHERE user_id = $1 AND scope = $2 AND key = $3")
            .bind(user.to_string())
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading an idempotency key"))?
        else {
            return Ok(None);
        };
        let hash: Vec<u8> = r.get("request_hash");
        Ok(Some(IdempotentReply {
            user_id: user,
            scope: r.get("scope"),
            key: r.get("key"),
            request_hash: hash.try_into().map_err(|_| Error::backend_permanent("idempotency", "bad hash"))?,
            status: r.get::<i64, _>("status") as u16,
            body: r.get("body"),
            created_at: from_millis(r.get("created_at")),
        }))
    }

    async fn save_idempotent_reply(&self, reply: &IdempotentReply) -> Result<bool> {
        let mut conn = self.conn().await?;
        insert_reply_in(&mut conn, reply).await
    }

    async fn prune_idempotent_replies(&self, before: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(millis(before))
            .execute(&self.pool)
            .await
            .map_err(db_err("pruning idempotency keys"))?;
        Ok(done.rows_affected())
    }
}
