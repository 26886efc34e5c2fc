//! `OrderStore`: orders, their status changes and payment notifications. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{
    CheckoutRecorded, CouponHold, Error, IdempotentReply, NewJob, Order, OrderChange, OrderFilter, OrderId,
    OrderStatus, OrderStore, Page, PageRequest, Result,
};

use super::{Store, after, enqueue_in, insert_reply_in};
use crate::sql::{db_err, millis, parse_uuid};

#[async_trait]
impl OrderStore for Store {
    async fn insert_order(
        &self,
        o: &Order,
        reply: Option<&IdempotentReply>,
        hold: Option<&CouponHold>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        // The key first: a second request with it waits here for the
        // first one's transaction, then finds the key taken.
        if let Some(reply) = reply
            && !insert_reply_in(&mut tx, reply).await?
        {
            tx.rollback().await.map_err(db_err("rolling back an order"))?;
            return Ok(false);
        }
        // The coupon next: the conditional increment takes the coupon's row
        // lock (PostgreSQL re-checks `held` once a racing order commits;
        // SQLite's single writer makes it atomic), so the last redemption
        // goes to one order.
        if let Some(hold) = hold
            && !super::selling::hold_in(&mut tx, hold, o.id, o.created_at).await?
        {
            tx.rollback().await.map_err(db_err("rolling back an order"))?;
            return Err(Error::conflict("coupon_exhausted", "this coupon has been used up"));
        }
        sqlx::query(
            "INSERT INTO orders (id, buyer_id, album_id, seller_id, status, total_amount, currency, gateway,
                                         payment_ref, created_at, updated_at, paid_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(o.id.to_string())
        .bind(o.buyer_id.to_string())
        .bind(o.album_id.to_string())
        .bind(o.seller_id.to_string())
        .bind(o.status.as_str())
        .bind(o.total.amount)
        .bind(o.total.currency.as_str())
        .bind(&o.gateway)
        .bind(&o.payment_ref)
        .bind(millis(o.created_at))
        .bind(millis(o.updated_at))
        .bind(o.paid_at.map(millis))
        .execute(&mut *tx)
        .await
        .map_err(db_err("adding an order"))?;
        for (i, item) in o.items.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_items (order_id, position, photo_id, filename, price_amount, currency)
                         VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(o.id.to_string())
            .bind(i as i64)
            .bind(item.photo_id.to_string())
            .bind(&item.filename)
            .bind(item.price.amount)
            .bind(item.price.currency.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err("adding an order item"))?;
        }
        tx.commit().await.map_err(db_err("committing an order"))?;
        Ok(true)
    }

    async fn order(&self, id: OrderId) -> Result<Option<Order>> {
        let mut conn = self.conn().await?;
        self.load_order(&mut conn, &id.to_string()).await
    }

    async fn list_orders(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        let (sql, who) = match filter {
            OrderFilter::Buyer(u) => {
                ("SELECT id FROM orders WHERE buyer_id = $1 AND id > $2 ORDER BY id LIMIT $3", u.to_string())
            }
            OrderFilter::Seller(u) => {
                ("SELECT id FROM orders WHERE seller_id = $1 AND id > $2 ORDER BY id LIMIT $3", u.to_string())
            }
            OrderFilter::Album(a) => {
                ("SELECT id FROM orders WHERE album_id = $1 AND id > $2 ORDER BY id LIMIT $3", a.to_string())
            }
        };
        let mut conn = self.conn().await?;
        let ids: Vec<String> = sqlx::query_scalar(sql)
            .bind(who)
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("listing orders"))?;
        let mut orders = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(o) = self.load_order(&mut conn, &id).await? {
                orders.push(o);
            }
        }
        Ok(Page::from_rows(orders, page, |o| o.id.as_uuid()))
    }

    async fn transition_order(
        &self,
        id: OrderId,
        to: OrderStatus,
        change: &OrderChange,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Option<Order>> {
        let from: Vec<&str> = to.allowed_from().iter().map(OrderStatus::as_str).collect();
        if from.is_empty() {
            return Ok(None);
        }
        let placeholders = (0..from.len()).map(|i| format!("${}", 8 + i)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "UPDATE orders SET status = $1, updated_at = $2,
                            gateway = COALESCE($3, gateway), payment_ref = COALESCE($4, payment_ref),
                            paid_at = COALESCE($5, paid_at)
                     WHERE id = $6 AND status IN ({placeholders})
                       AND ($7 IS NULL OR payment_ref IS NULL OR payment_ref = $7)"
        );
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(to.as_str())
            .bind(millis(now))
            .bind(&change.gateway)
            .bind(&change.payment_ref)
            .bind(change.paid_at.map(millis))
            .bind(id.to_string())
            .bind(&change.only_if_ref);
        for f in &from {
            q = q.bind(*f);
        }
        let done = q.execute(&mut *tx).await.map_err(db_err("changing an order's status"))?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        if matches!(to, OrderStatus::Expired | OrderStatus::Cancelled) {
            super::selling::release_in(&mut tx, id).await?;
        }
        if to == OrderStatus::Refunded {
            sqlx::query("UPDATE download_links SET revoked = 1 WHERE order_id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err("revoking links"))?;
        }
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        let order = self.load_order(&mut tx, &id.to_string()).await?;
        tx.commit().await.map_err(db_err("committing an order change"))?;
        Ok(order)
    }

    async fn record_checkout(
        &self,
        id: OrderId,
        gateway: &str,
        reference: &str,
        now: DateTime<Utc>,
        reply: Option<&IdempotentReply>,
    ) -> Result<CheckoutRecorded> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        // The key first, as insert_order does: a second request with it
        // waits here for the first one's transaction, then finds it taken.
        if let Some(reply) = reply
            && !insert_reply_in(&mut tx, reply).await?
        {
            tx.rollback().await.map_err(db_err("rolling back a checkout"))?;
            return Ok(CheckoutRecorded::KeyTaken);
        }
        let done = sqlx::query(
            "UPDATE orders SET gateway = $1, payment_ref = $2, updated_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(gateway)
        .bind(reference)
        .bind(millis(now))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err("recording a checkout session"))?;
        if done.rows_affected() != 1 {
            // The key is not kept for an answer that was an error.
            tx.rollback().await.map_err(db_err("rolling back a checkout"))?;
            return Ok(CheckoutRecorded::NotPending);
        }
        tx.commit().await.map_err(db_err("committing a checkout"))?;
        Ok(CheckoutRecorded::Recorded)
    }

    async fn stale_pending_orders(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<OrderId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM orders WHERE status = 'pending' AND created_at < $1 ORDER BY created_at LIMIT $2",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("finding stale orders"))?;
        ids.iter().map(|id| Ok(OrderId::from_uuid(parse_uuid(id)?))).collect()
    }

    async fn record_payment_event(&self, gateway: &str, event_id: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO payment_events (gateway, event_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(gateway)
        .bind(event_id)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("recording a payment event"))?;
        Ok(done.rows_affected() == 1)
    }
}
