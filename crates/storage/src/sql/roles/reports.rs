//! `ReportStore`: sales and monthly reports. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{AlbumId, PhotoId, ReportStore, Result, SalesRow, UserId};
use sqlx::Row;

use super::Store;
use crate::sql::{db_err, millis, parse_uuid};

#[async_trait]
impl ReportStore for Store {
    async fn sales(&self, seller: Option<UserId>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<SalesRow>> {
        let seller = seller.map(|s| s.to_string());
        let rows = sqlx::query(
                    "SELECT o.album_id, a.name AS album_name, o.seller_id, o.currency,
                            COUNT(DISTINCT o.id) AS orders, COUNT(*) AS photos, CAST(SUM(i.price_amount) AS BIGINT) AS revenue
                     FROM orders o
                     JOIN order_items i ON i.order_id = o.id
                     LEFT JOIN albums a ON a.id = o.album_id
                     WHERE o.status IN ('paid', 'fulfilled') AND o.paid_at >= $1 AND o.paid_at < $2
                       AND (CAST($3 AS TEXT) IS NULL OR o.seller_id = $4)
                     GROUP BY o.album_id, a.name, o.seller_id, o.currency
                     ORDER BY o.album_id, o.currency",
                )
                .bind(millis(from))
                .bind(millis(to))
                .bind(&seller)
                .bind(&seller)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("reporting sales"))?;
        rows.iter()
            .map(|r| {
                Ok(SalesRow {
                    album_id: AlbumId::from_uuid(parse_uuid(&r.get::<String, _>("album_id"))?),
                    album_name: r.get("album_name"),
                    seller_id: UserId::from_uuid(parse_uuid(&r.get::<String, _>("seller_id"))?),
                    currency: r.get::<String, _>("currency").parse()?,
                    orders: r.get::<i64, _>("orders") as u64,
                    photos: r.get::<i64, _>("photos") as u64,
                    revenue: r.get("revenue"),
                })
            })
            .collect()
    }

    async fn top_photos(
        &self,
        seller: Option<UserId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(PhotoId, String, u64)>> {
        let seller = seller.map(|s| s.to_string());
        let rows = sqlx::query(
            "SELECT i.photo_id, MIN(i.filename) AS filename, COUNT(*) AS sold
                     FROM orders o JOIN order_items i ON i.order_id = o.id
                     WHERE o.status IN ('paid', 'fulfilled') AND o.paid_at >= $1 AND o.paid_at < $2
                       AND (CAST($3 AS TEXT) IS NULL OR o.seller_id = $4)
                     GROUP BY i.photo_id
                     ORDER BY sold DESC, i.photo_id
                     LIMIT $5",
        )
        .bind(millis(from))
        .bind(millis(to))
        .bind(&seller)
        .bind(&seller)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("finding top photos"))?;
        rows.iter()
            .map(|r| {
                Ok((
                    PhotoId::from_uuid(parse_uuid(&r.get::<String, _>("photo_id"))?),
                    r.get("filename"),
                    r.get::<i64, _>("sold") as u64,
                ))
            })
            .collect()
    }

    async fn save_monthly_report(&self, seller: UserId, month: &str, body: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO monthly_reports (seller_id, month, body, created_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT DO NOTHING",
        )
        .bind(seller.to_string())
        .bind(month)
        .bind(body)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("saving a monthly report"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn monthly_reports(&self, seller: UserId) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT month, body FROM monthly_reports WHERE seller_id = $1 ORDER BY month DESC")
            .bind(seller.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing monthly reports"))?;
        Ok(rows.iter().map(|r| (r.get("month"), r.get("body"))).collect())
    }
}
