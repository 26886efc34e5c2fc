//! `AlbumStore`: albums, photos, favourites. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{
    Album, AlbumFilter, AlbumId, AlbumStore, Email, Error, Favourite, NewJob, Page, PageRequest, Photo, PhotoId,
    Result, UploadId, UserId,
};
use sqlx::Row;

use super::{Store, after, album_from, commit_with_jobs, forget_album_faces_in, photo_from, watermark_json};
use crate::sql::{db_err, from_millis, millis, parse_uuid};

#[async_trait]
impl AlbumStore for Store {
    async fn set_favourite(
        &self,
        album: AlbumId,
        photo: PhotoId,
        user: UserId,
        on: bool,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let query = if on {
            sqlx::query(
                "INSERT INTO favourites (photo_id, user_id, album_id, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
            )
            .bind(photo.to_string())
            .bind(user.to_string())
            .bind(album.to_string())
            .bind(millis(now))
        } else {
            sqlx::query("DELETE FROM favourites WHERE photo_id = $1 AND user_id = $2")
                .bind(photo.to_string())
                .bind(user.to_string())
        };
        query.execute(&self.pool).await.map_err(db_err("saving a favourite"))?;
        Ok(())
    }

    async fn photo_counts(&self, owner: UserId) -> Result<Vec<(AlbumId, u64)>> {
        let rows = sqlx::query(
            "SELECT a.id, CAST(COUNT(p.id) AS BIGINT) AS n FROM albums a LEFT JOIN photos p ON p.album_id = a.id
                     WHERE a.owner_id = $1 GROUP BY a.id ORDER BY a.id",
        )
        .bind(owner.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("counting photos"))?;
        rows.iter()
            .map(|r| Ok((AlbumId::from_uuid(parse_uuid(&r.get::<String, _>("id"))?), r.get::<i64, _>("n") as u64)))
            .collect()
    }

    async fn favourites(&self, album: AlbumId) -> Result<Vec<Favourite>> {
        let rows = sqlx::query(
            "SELECT f.photo_id, f.user_id, f.created_at, u.email FROM favourites f JOIN users u ON u.id = f.user_id
                     WHERE f.album_id = $1 ORDER BY u.email, f.photo_id",
        )
        .bind(album.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing favourites"))?;
        rows.iter()
            .map(|r| {
                Ok(Favourite {
                    photo_id: PhotoId::from_uuid(parse_uuid(&r.get::<String, _>("photo_id"))?),
                    user_id: UserId::from_uuid(parse_uuid(&r.get::<String, _>("user_id"))?),
                    email: r.get::<String, _>("email").parse()?,
                    created_at: from_millis(r.get("created_at")),
                })
            })
            .collect()
    }

    async fn favourites_of(&self, album: AlbumId, user: UserId) -> Result<Vec<PhotoId>> {
        let rows =
            sqlx::query("SELECT photo_id FROM favourites WHERE album_id = $1 AND user_id = $2 ORDER BY photo_id")
                .bind(album.to_string())
                .bind(user.to_string())
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing favourites"))?;
        rows.iter().map(|r| Ok(PhotoId::from_uuid(parse_uuid(&r.get::<String, _>("photo_id"))?))).collect()
    }

    async fn insert_album(&self, a: &Album) -> Result<()> {
        sqlx::query(
            "INSERT INTO albums (id, owner_id, name, visibility, client_email, price_amount, price_currency,
                                         expires_at, storage_prefix, created_at, updated_at, watermark, find_me,
                                         draft, client_name, cover_photo_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(a.id.to_string())
        .bind(a.owner_id.to_string())
        .bind(&a.name)
        .bind(a.visibility.as_str())
        .bind(a.client_email.as_ref().map(Email::as_str))
        .bind(a.price_per_photo.amount)
        .bind(a.price_per_photo.currency.as_str())
        .bind(a.expires_at.map(millis))
        .bind(&a.storage_prefix)
        .bind(millis(a.created_at))
        .bind(millis(a.updated_at))
        .bind(watermark_json(a)?)
        .bind(a.find_me as i64)
        .bind(a.draft as i64)
        .bind(&a.client_name)
        .bind(a.cover_photo_id.map(|p| p.to_string()))
        .execute(&self.pool)
        .await
        .map_err(db_err("adding an album"))?;
        Ok(())
    }

    async fn album(&self, id: AlbumId) -> Result<Option<Album>> {
        sqlx::query("SELECT * FROM albums WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading an album"))?
            .map(|r| album_from(&r))
            .transpose()
    }

    async fn update_album(&self, a: &Album) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        sqlx::query(
            "UPDATE albums SET name = $1, visibility = $2, client_email = $3, price_amount = $4, price_currency = $5,
                                       expires_at = $6, updated_at = $7, watermark = $9, find_me = $10,
                                       draft = $11, client_name = $12, cover_photo_id = $13,
                                       revision = revision + 1 WHERE id = $8",
        )
        .bind(&a.name)
        .bind(a.visibility.as_str())
        .bind(a.client_email.as_ref().map(Email::as_str))
        .bind(a.price_per_photo.amount)
        .bind(a.price_per_photo.currency.as_str())
        .bind(a.expires_at.map(millis))
        .bind(millis(a.updated_at))
        .bind(a.id.to_string())
        .bind(watermark_json(a)?)
        .bind(a.find_me as i64)
        .bind(a.draft as i64)
        .bind(&a.client_name)
        .bind(a.cover_photo_id.map(|p| p.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(db_err("updating an album"))?;
        if !a.find_me {
            forget_album_faces_in(&mut tx, a.id).await?;
        }
        tx.commit().await.map_err(db_err("committing an album change"))
    }

    async fn delete_album(&self, id: AlbumId) -> Result<()> {
        sqlx::query("DELETE FROM albums WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting an album"))?;
        Ok(())
    }

    async fn list_albums(&self, filter: &AlbumFilter, page: PageRequest) -> Result<Page<Album>> {
        let q = match filter {
            AlbumFilter::OwnedBy(owner) => {
                sqlx::query("SELECT * FROM albums WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                    .bind(owner.to_string())
            }
            AlbumFilter::VisibleTo(email) => sqlx::query(
                "SELECT * FROM albums WHERE (client_email = $1 OR visibility = 'public') AND draft = 0 AND id > $2
                         ORDER BY id LIMIT $3",
            )
            .bind(email.as_str().to_owned()),
            AlbumFilter::Public => sqlx::query(
                "SELECT * FROM albums WHERE visibility = 'public' AND draft = 0 AND id > $1 ORDER BY id LIMIT $2",
            ),
        };
        let rows = q
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing albums"))?;
        let albums = rows.iter().map(album_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(albums, page, |a| a.id.as_uuid()))
    }

    async fn insert_photo(&self, p: &Photo, jobs: &[NewJob]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        insert_photo_in(&mut tx, p).await?;
        commit_with_jobs(tx, jobs, "committing a photo").await?;
        Ok(())
    }

    async fn storage_used(&self, owner: UserId, now: DateTime<Utc>) -> Result<u64> {
        let mut conn = self.pool.acquire().await.map_err(db_err("counting storage"))?;
        super::quotas::used_in(&mut conn, owner, None, now).await
    }

    async fn reserve_upload(
        &self,
        upload: UploadId,
        owner: UserId,
        length: u64,
        idle_until: DateTime<Utc>,
        quota: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        super::quotas::reserve(self, upload, owner, length, idle_until, quota, now).await
    }

    async fn touch_upload(&self, upload: UploadId, idle_until: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("UPDATE upload_reservations SET idle_until = $1 WHERE upload_id = $2")
            .bind(millis(idle_until))
            .bind(upload.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("touching an upload"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn upload_idle_until(&self, upload: UploadId) -> Result<Option<DateTime<Utc>>> {
        let row = sqlx::query("SELECT idle_until FROM upload_reservations WHERE upload_id = $1")
            .bind(upload.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading an upload reservation"))?;
        Ok(row.map(|r| from_millis(r.get("idle_until"))))
    }

    async fn release_upload(&self, upload: UploadId) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(db_err("releasing an upload reservation"))?;
        super::quotas::release_in(&mut conn, upload).await
    }

    async fn insert_photo_within_quota(
        &self,
        p: &Photo,
        jobs: &[NewJob],
        quota: Option<u64>,
        releasing: Option<UploadId>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let owner = super::quotas::lock_album_owner(&mut tx, p.album_id).await?;
        if let Some((used, limit)) =
            super::quotas::over_quota(&mut tx, owner, releasing, p.size_bytes, quota, now).await?
        {
            return Err(Error::QuotaExceeded { used, limit, wanted: p.size_bytes });
        }
        insert_photo_in(&mut tx, p).await?;
        if let Some(upload) = releasing {
            super::quotas::release_in(&mut tx, upload).await?;
        }
        commit_with_jobs(tx, jobs, "committing a photo").await?;
        Ok(())
    }

    async fn photo(&self, id: PhotoId) -> Result<Option<Photo>> {
        sqlx::query("SELECT * FROM photos WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a photo"))?
            .map(|r| photo_from(&r))
            .transpose()
    }

    async fn update_photo(&self, p: &Photo, jobs: &[NewJob]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        sqlx::query(
            "UPDATE photos SET status = $1, failure_reason = $2, width = $3, height = $4, size_bytes = $5,
                                          render_count = $7 WHERE id = $6",
        )
        .bind(p.status.as_str())
        .bind(&p.failure_reason)
        .bind(p.width.map(i64::from))
        .bind(p.height.map(i64::from))
        .bind(p.size_bytes as i64)
        .bind(p.id.to_string())
        .bind(i64::from(p.renders))
        .execute(&mut *tx)
        .await
        .map_err(db_err("updating a photo"))?;
        commit_with_jobs(tx, jobs, "committing a photo").await?;
        Ok(())
    }

    async fn mark_photo_rendered(&self, id: PhotoId, width: u32, height: u32, jobs: &[NewJob]) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let done = sqlx::query(
            "UPDATE photos SET status = 'ready', failure_reason = NULL, width = $1, height = $2,
                                       render_count = render_count + 1
                     WHERE id = $3 AND status = 'processing'",
        )
        .bind(i64::from(width))
        .bind(i64::from(height))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err("marking a photo rendered"))?;
        if done.rows_affected() != 1 {
            tx.rollback().await.map_err(db_err("rolling back a render"))?;
            return Ok(false);
        }
        commit_with_jobs(tx, jobs, "committing a render").await?;
        Ok(true)
    }

    async fn delete_photo(&self, id: PhotoId) -> Result<()> {
        sqlx::query("DELETE FROM photos WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a photo"))?;
        Ok(())
    }

    async fn set_photo_order(&self, album: AlbumId, order: &[PhotoId]) -> Result<()> {
        let bad = || Error::invalid("invalid_photo_order", "every id must be a photo of this album, listed once");
        let unique: std::collections::HashSet<_> = order.iter().collect();
        if unique.len() != order.len() {
            return Err(bad());
        }
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        sqlx::query("UPDATE photos SET position = NULL WHERE album_id = $1 AND position IS NOT NULL")
            .bind(album.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("ordering photos"))?;
        // One statement for the whole order (the dialect's SET_POSITIONS),
        // not one per photo: a 2,000-photo album is one round trip.
        let ids: Vec<String> = order.iter().map(ToString::to_string).collect();
        let json = serde_json::to_string(&ids).map_err(|e| Error::backend("ordering photos", e))?;
        let done = sqlx::query(super::super::SET_POSITIONS)
            .bind(json)
            .bind(album.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("ordering photos"))?;
        if done.rows_affected() != order.len() as u64 {
            return Err(bad());
        }
        sqlx::query("UPDATE albums SET revision = revision + 1 WHERE id = $1")
            .bind(album.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("ordering photos"))?;
        tx.commit().await.map_err(db_err("committing a photo order"))
    }

    async fn list_photos(&self, album: AlbumId, page: PageRequest) -> Result<Page<Photo>> {
        // The album's order as one tuple of non-null values (a NULL sorts
        // first in SQLite and last in PostgreSQL), compared as a row with
        // the cursor photo's.
        macro_rules! key {
            () => {
                "COALESCE(position, 9223372036854775807), COALESCE(taken_at, 9223372036854775807), filename, id"
            };
        }
        let rows = match page.after {
            None => sqlx::query(concat!("SELECT * FROM photos WHERE album_id = $1 ORDER BY ", key!(), " LIMIT $2"))
                .bind(album.to_string())
                .bind(page.limit as i64 + 1),
            Some(after) => sqlx::query(concat!(
                "SELECT * FROM photos WHERE album_id = $1 AND (",
                key!(),
                ") > (SELECT ",
                key!(),
                " FROM photos WHERE id = $2 AND album_id = $1) ORDER BY ",
                key!(),
                " LIMIT $3"
            ))
            .bind(album.to_string())
            .bind(after.to_string())
            .bind(page.limit as i64 + 1),
        }
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing photos"))?;
        if let (Some(after), true) = (page.after, rows.is_empty()) {
            // No row after the cursor: the end, or a cursor photo that is gone.
            if self.photo(PhotoId::from_uuid(after)).await?.is_none_or(|p| p.album_id != album) {
                return Err(Error::invalid("invalid_cursor", "the photo this cursor points at is gone; start again"));
            }
        }
        let photos = rows.iter().map(photo_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(photos, page, |p| p.id.as_uuid()))
    }

    async fn albums_to_purge(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Album>> {
        let rows = sqlx::query(
            "SELECT * FROM albums WHERE expires_at IS NOT NULL AND expires_at < $1 AND purged_at IS NULL
                     ORDER BY expires_at LIMIT $2",
        )
        .bind(millis(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("finding albums to purge"))?;
        rows.iter().map(album_from).collect()
    }

    async fn albums_to_remind(&self, now: DateTime<Utc>, before: DateTime<Utc>, limit: u32) -> Result<Vec<Album>> {
        let rows = sqlx::query(
            "SELECT * FROM albums WHERE expires_at IS NOT NULL AND expires_at > $1 AND expires_at <= $2
                       AND client_email IS NOT NULL AND reminded_at IS NULL AND draft = 0
                     ORDER BY expires_at LIMIT $3",
        )
        .bind(millis(now))
        .bind(millis(before))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("finding albums to remind"))?;
        rows.iter().map(album_from).collect()
    }

    async fn mark_album_reminded(&self, id: AlbumId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query("UPDATE albums SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL")
            .bind(millis(now))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("marking an album reminded"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_album_purged(&self, id: AlbumId, now: DateTime<Utc>, jobs: &[NewJob]) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let done = sqlx::query("UPDATE albums SET purged_at = $1 WHERE id = $2 AND purged_at IS NULL")
            .bind(millis(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("marking an album purged"))?;
        if done.rows_affected() != 1 {
            tx.rollback().await.map_err(db_err("rolling back a purge"))?;
            return Ok(false);
        }
        forget_album_faces_in(&mut tx, id).await?;
        commit_with_jobs(tx, jobs, "committing a purge").await?;
        Ok(true)
    }
}

/// Adds a photo row inside a caller's transaction.
async fn insert_photo_in(conn: &mut super::Conn, p: &Photo) -> Result<()> {
    sqlx::query(
        "INSERT INTO photos (id, album_id, filename, content_type, size_bytes, status, failure_reason,
                             width, height, created_at, sha256, taken_at, position)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(p.id.to_string())
    .bind(p.album_id.to_string())
    .bind(&p.filename)
    .bind(&p.content_type)
    .bind(p.size_bytes as i64)
    .bind(p.status.as_str())
    .bind(&p.failure_reason)
    .bind(p.width.map(i64::from))
    .bind(p.height.map(i64::from))
    .bind(millis(p.created_at))
    .bind(&p.sha256)
    .bind(p.taken_at.map(millis))
    .bind(p.position.map(i64::from))
    .execute(&mut *conn)
    .await
    .map_err(|e| match e.as_database_error() {
        Some(d) if d.is_foreign_key_violation() => Error::not_found("album"),
        // Classified like any statement's error (a full disk is 507).
        _ => db_err("adding a photo")(e),
    })?;
    Ok(())
}
