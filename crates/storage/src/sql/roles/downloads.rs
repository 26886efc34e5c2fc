//! `DownloadStore`: links, download counts, held originals. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{AlbumId, DownloadLink, DownloadStore, LinkId, NewJob, OrderId, PhotoId, Result};
use sqlx::Row;

use super::{Store, enqueue_in, insert_link_in, link_from};
use crate::sql::{db_err, millis, parse_uuid};

#[async_trait]
impl DownloadStore for Store {
    async fn fulfil_order(&self, link: &DownloadLink, jobs: &[NewJob], now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let done =
            sqlx::query("UPDATE orders SET status = 'fulfilled', updated_at = $1 WHERE id = $2 AND status = 'paid'")
                .bind(millis(now))
                .bind(link.order_id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(db_err("fulfilling an order"))?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        insert_link_in(&mut tx, link).await?;
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await.map_err(db_err("committing a fulfilment"))?;
        Ok(true)
    }

    async fn link_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<DownloadLink>> {
        sqlx::query("SELECT * FROM download_links WHERE token_hash = $1")
            .bind(&hash[..])
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a link"))?
            .map(|r| link_from(&r))
            .transpose()
    }

    async fn link(&self, id: LinkId) -> Result<Option<DownloadLink>> {
        sqlx::query("SELECT * FROM download_links WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a link"))?
            .map(|r| link_from(&r))
            .transpose()
    }

    async fn link_for_order(&self, order: OrderId) -> Result<Option<DownloadLink>> {
        sqlx::query("SELECT * FROM download_links WHERE order_id = $1 ORDER BY id DESC LIMIT 1")
            .bind(order.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a link"))?
            .map(|r| link_from(&r))
            .transpose()
    }

    async fn count_download(
        &self,
        link: &DownloadLink,
        bytes: i64,
        from_start: bool,
        budget: Option<u64>,
    ) -> Result<bool> {
        let budget = budget.map(|b| b.min(i64::MAX as u64) as i64);
        let done = sqlx::query(
                    "UPDATE download_links SET download_count = download_count + $1,
                                               bytes_served = CASE WHEN bytes_served + $2 < 0 THEN 0 ELSE bytes_served + $3 END
                     WHERE id = $4 AND (CAST($5 AS BIGINT) IS NULL OR bytes_served + $6 <= $7)",
                )
                .bind(i64::from(from_start))
                .bind(bytes)
                .bind(bytes)
                .bind(link.id.to_string())
                .bind(budget)
                .bind(bytes)
                .bind(budget)
                .execute(&self.pool)
                .await
                .map_err(db_err("counting a download"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn expired_links_with_zips(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<DownloadLink>> {
        let rows = sqlx::query(
                    "SELECT * FROM download_links WHERE expires_at < $1 AND zip_deleted_at IS NULL ORDER BY expires_at LIMIT $2",
                )
                .bind(millis(before))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("finding expired links"))?;
        rows.iter().map(link_from).collect()
    }

    async fn mark_zip_deleted(&self, link: LinkId, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE download_links SET zip_deleted_at = $1 WHERE id = $2 AND zip_deleted_at IS NULL")
            .bind(millis(now))
            .bind(link.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("marking a zip deleted"))?;
        Ok(())
    }

    async fn insert_link(&self, link: &DownloadLink) -> Result<()> {
        let mut conn = self.conn().await?;
        insert_link_in(&mut conn, link).await
    }

    async fn held_photos(&self, album: AlbumId, paid_after: DateTime<Utc>) -> Result<Vec<PhotoId>> {
        let rows = sqlx::query(
            "SELECT DISTINCT i.photo_id FROM order_items i JOIN orders o ON o.id = i.order_id
                     WHERE o.album_id = $1 AND o.status IN ('paid', 'fulfilled') AND o.paid_at > $2",
        )
        .bind(album.to_string())
        .bind(millis(paid_after))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading held photos"))?;
        rows.iter().map(|r| Ok(PhotoId::from_uuid(parse_uuid(&r.get::<String, _>("photo_id"))?))).collect()
    }
}
