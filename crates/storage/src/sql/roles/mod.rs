//! The SQL behind `SqliteStore` and `PgStore`, written once, in ordinary
//! Rust.
//!
//! Both dialects take `$N` placeholders, `ON CONFLICT DO NOTHING`,
//! `RETURNING` and `CAST(.. AS ..)`, so one text serves both. This module
//! tree is compiled twice, once inside `crate::sqlite` and once inside
//! `crate::postgres` (each declares it with `#[path]`), against the names
//! its parent gives it: `Store`, `Db`, `Conn`, `DbRow`, `CLAIM_LOCK` and
//! `SET_POSITIONS` (a JSON array of ids read as rows: `json_each` or
//! `json_array_elements_text`).
//! Those names are the whole of the dialect differences: the drivers'
//! concrete types (which keep sqlx's types concrete, with no generic
//! bounds to spell out) and the claim query's row lock (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL; SQLite's single writer makes the statement
//! atomic alone).
//!
//! This file holds what the roles share (the row readers and the `*_in`
//! helpers that write inside a caller's transaction) and the connection;
//! each role's statements live in a module of their own (`accounts.rs`,
//! `albums.rs`, `orders.rs`, `downloads.rs`, `reports.rs`, `schedules.rs`,
//! `idempotency.rs`, `queue.rs`, `webhooks.rs`), so a compile error points
//! at its line in the role's file.

mod accounts;
mod albums;
mod downloads;
mod faces;
mod idempotency;
mod orders;
mod queue;
mod quotas;
mod reports;
mod schedules;
mod selling;
mod webhooks;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{
    Album, AlbumId, Currency, DownloadLink, Email, Error, IdempotentReply, Job, JobId, JobStatus, LinkId,
    MetadataStore, Money, NewJob, Order, OrderId, OrderItem, OrderStatus, PageRequest, Photo, PhotoId, PhotoStatus,
    Result, Role, User, UserId, Visibility,
};
use sqlx::Row;
use std::str::FromStr;

use super::{Conn, Db, DbRow, Store};
use crate::sql::{db_err, from_millis, millis, parse_uuid};

async fn enqueue_in(conn: &mut Conn, job: &NewJob) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, created_at, updated_at)
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7)",
    )
    .bind(job.id.to_string())
    .bind(job.task.kind())
    .bind(job.payload().to_string())
    .bind(job.max_attempts as i64)
    .bind(millis(job.run_at))
    .bind(millis(job.run_at))
    .bind(millis(job.run_at))
    .execute(&mut *conn)
    .await
    .map_err(db_err("enqueuing a job"))?;
    Ok(())
}

/// The outbox's last step: enqueues `jobs` on `tx` and commits it, so the
/// change and the events it emits stand or fall together.
async fn commit_with_jobs(mut tx: sqlx::Transaction<'_, Db>, jobs: &[NewJob], context: &'static str) -> Result<()> {
    for job in jobs {
        enqueue_in(&mut tx, job).await?;
    }
    tx.commit().await.map_err(db_err(context))
}

/// Stores an idempotent reply on `conn`; `false` if its key is taken.
async fn insert_reply_in(conn: &mut Conn, reply: &IdempotentReply) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, scope, key, request_hash, status, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(reply.user_id.to_string())
    .bind(&reply.scope)
    .bind(&reply.key)
    .bind(&reply.request_hash[..])
    .bind(reply.status as i64)
    .bind(&reply.body)
    .bind(millis(reply.created_at))
    .execute(&mut *conn)
    .await
    .map_err(db_err("storing an idempotency key"))?;
    Ok(done.rows_affected() == 1)
}

async fn insert_link_in(conn: &mut Conn, link: &DownloadLink) -> Result<()> {
    sqlx::query(
        "INSERT INTO download_links (id, order_id, token_hash, zip_key, zip_size, expires_at, created_at,
                                     download_count, revoked, bytes_served)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(link.id.to_string())
    .bind(link.order_id.to_string())
    .bind(&link.token_hash[..])
    .bind(&link.zip_key)
    .bind(link.zip_size as i64)
    .bind(millis(link.expires_at))
    .bind(millis(link.created_at))
    .bind(link.download_count as i64)
    .bind(link.revoked as i64)
    .bind(link.bytes_served as i64)
    .execute(&mut *conn)
    .await
    .map_err(db_err("adding a download link"))?;
    Ok(())
}

/// Deletes an album's faces ("Find me") inside the caller's transaction.
async fn forget_album_faces_in(conn: &mut Conn, album: AlbumId) -> Result<()> {
    // `faces` rows go with their scan (cascade).
    sqlx::query("DELETE FROM face_scans WHERE album_id = $1")
        .bind(album.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("deleting an album's faces"))?;
    Ok(())
}

fn user_from(row: &DbRow) -> Result<User> {
    Ok(User {
        id: UserId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        email: row.get::<String, _>("email").parse()?,
        name: row.get("name"),
        surname: row.get("surname"),
        role: Role::from_str(row.get("role"))?,
        email_verified: row.get::<Option<i64>, _>("email_verified_at").is_some(),
        created_at: from_millis(row.get("created_at")),
    })
}

fn album_from(row: &DbRow) -> Result<Album> {
    let currency: Currency = row.get::<String, _>("price_currency").parse()?;
    Ok(Album {
        id: AlbumId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        owner_id: UserId::from_uuid(parse_uuid(&row.get::<String, _>("owner_id"))?),
        name: row.get("name"),
        visibility: Visibility::parse(row.get("visibility"))?,
        client_email: row.get::<Option<String>, _>("client_email").map(|e| e.parse::<Email>()).transpose()?,
        price_per_photo: Money::new(row.get("price_amount"), currency)?,
        expires_at: row.get::<Option<i64>, _>("expires_at").map(from_millis),
        watermark: row
            .get::<Option<String>, _>("watermark")
            .map(|w| serde_json::from_str(&w))
            .transpose()
            .map_err(|e| Error::backend_permanent("reading an album's watermark", e))?,
        storage_prefix: row.get("storage_prefix"),
        created_at: from_millis(row.get("created_at")),
        updated_at: from_millis(row.get("updated_at")),
        purged_at: row.get::<Option<i64>, _>("purged_at").map(from_millis),
        revision: row.get::<i64, _>("revision") as u64,
        find_me: row.get::<i64, _>("find_me") != 0,
        draft: row.get::<i64, _>("draft") != 0,
        client_name: row.get("client_name"),
        cover_photo_id: row
            .get::<Option<String>, _>("cover_photo_id")
            .map(|c| parse_uuid(&c).map(PhotoId::from_uuid))
            .transpose()?,
    })
}

fn watermark_json(a: &Album) -> Result<Option<String>> {
    a.watermark
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::backend_permanent("storing an album's watermark", e))
}

fn photo_from(row: &DbRow) -> Result<Photo> {
    Ok(Photo {
        id: PhotoId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        album_id: AlbumId::from_uuid(parse_uuid(&row.get::<String, _>("album_id"))?),
        filename: row.get("filename"),
        content_type: row.get("content_type"),
        size_bytes: row.get::<i64, _>("size_bytes") as u64,
        status: PhotoStatus::parse(row.get("status"))?,
        failure_reason: row.get("failure_reason"),
        width: row.get::<Option<i64>, _>("width").map(|v| v as u32),
        height: row.get::<Option<i64>, _>("height").map(|v| v as u32),
        renders: row.get::<i64, _>("render_count") as u32,
        created_at: from_millis(row.get("created_at")),
        sha256: row.get("sha256"),
        taken_at: row.get::<Option<i64>, _>("taken_at").map(from_millis),
        position: row.get::<Option<i64>, _>("position").map(|v| v as u32),
    })
}

fn link_from(row: &DbRow) -> Result<DownloadLink> {
    let hash: Vec<u8> = row.get("token_hash");
    Ok(DownloadLink {
        id: LinkId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        order_id: OrderId::from_uuid(parse_uuid(&row.get::<String, _>("order_id"))?),
        token_hash: hash.try_into().map_err(|_| Error::backend_permanent("reading a link", "bad token hash"))?,
        zip_key: row.get("zip_key"),
        zip_size: row.get::<i64, _>("zip_size") as u64,
        expires_at: from_millis(row.get("expires_at")),
        created_at: from_millis(row.get("created_at")),
        download_count: row.get::<i64, _>("download_count") as u64,
        bytes_served: row.get::<i64, _>("bytes_served") as u64,
        revoked: row.get::<i64, _>("revoked") != 0,
        zip_deleted: row.get::<Option<i64>, _>("zip_deleted_at").is_some(),
    })
}

fn job_from(row: &DbRow) -> Result<Job> {
    Ok(Job {
        id: JobId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        kind: row.get("kind"),
        payload: serde_json::from_str(&row.get::<String, _>("payload"))
            .map_err(|e| Error::backend_permanent("reading a job", e))?,
        status: JobStatus::parse(row.get("status"))?,
        attempts: row.get::<i64, _>("attempts") as u32,
        max_attempts: row.get::<i64, _>("max_attempts") as u32,
        run_at: from_millis(row.get("run_at")),
        lease_until: row.get::<Option<i64>, _>("lease_until").map(from_millis),
        lease_token: row.get("lease_token"),
        last_error: row.get("last_error"),
        created_at: from_millis(row.get("created_at")),
        updated_at: from_millis(row.get("updated_at")),
    })
}

impl Store {
    async fn load_order(&self, conn: &mut Conn, id: &str) -> Result<Option<Order>> {
        let Some(row) = sqlx::query("SELECT * FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("reading an order"))?
        else {
            return Ok(None);
        };
        let items = sqlx::query("SELECT * FROM order_items WHERE order_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("reading order items"))?;
        let currency: Currency = row.get::<String, _>("currency").parse()?;
        let items = items
            .iter()
            .map(|r| {
                Ok(OrderItem {
                    photo_id: PhotoId::from_uuid(parse_uuid(&r.get::<String, _>("photo_id"))?),
                    filename: r.get("filename"),
                    price: Money::new(r.get("price_amount"), r.get::<String, _>("currency").parse()?)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Order {
            id: OrderId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
            buyer_id: UserId::from_uuid(parse_uuid(&row.get::<String, _>("buyer_id"))?),
            album_id: AlbumId::from_uuid(parse_uuid(&row.get::<String, _>("album_id"))?),
            seller_id: UserId::from_uuid(parse_uuid(&row.get::<String, _>("seller_id"))?),
            status: OrderStatus::parse(row.get("status"))?,
            items,
            total: Money::new(row.get("total_amount"), currency)?,
            gateway: row.get("gateway"),
            payment_ref: row.get("payment_ref"),
            created_at: from_millis(row.get("created_at")),
            updated_at: from_millis(row.get("updated_at")),
            paid_at: row.get::<Option<i64>, _>("paid_at").map(from_millis),
        }))
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Db>> {
        self.pool.acquire().await.map_err(db_err("acquiring a connection"))
    }
}

fn after(page: &PageRequest) -> String {
    page.after.map(|u| u.hyphenated().to_string()).unwrap_or_default()
}

#[async_trait]
impl MetadataStore for Store {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_err("pinging the database"))?;
        Ok(())
    }

    async fn deployment_secret(&self, name: &str, candidate: &str, now: DateTime<Utc>) -> Result<String> {
        sqlx::query(
            "INSERT INTO deployment_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(candidate)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("storing a deployment secret"))?;
        let row = sqlx::query("SELECT value FROM deployment_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("reading a deployment secret"))?;
        Ok(row.get("value"))
    }
}
