//! Storage quotas (`AlbumStore::storage_used`, `reserve_upload` and
//! `insert_photo_within_quota`): what an owner's photos and unfinished
//! uploads take, and the per-owner lock that makes check-and-write one
//! step on both dialects.

use chrono::{DateTime, Utc};
use proofsheet_core::{AlbumId, Error, Result, UploadId, UserId};
use sqlx::Row;

use super::{Conn, Store};
use crate::sql::{db_err, millis, parse_uuid};

/// Serialises the quota checks of one owner: a no-op write to their user
/// row takes its row lock on PostgreSQL (held to the end of the
/// transaction) and the database's write lock on SQLite.
async fn lock_owner(conn: &mut Conn, owner: UserId) -> Result<()> {
    let done = sqlx::query("UPDATE users SET email = email WHERE id = $1")
        .bind(owner.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("locking an owner's quota"))?;
    if done.rows_affected() != 1 {
        return Err(Error::not_found("user"));
    }
    Ok(())
}

/// The owner of `album`, whose quota is locked for the rest of the
/// transaction. The lock is the transaction's first statement, a write:
/// on SQLite a transaction that read first could not become a writer once
/// another had written (`SQLITE_BUSY_SNAPSHOT`, at once, whatever the busy
/// timeout).
pub(super) async fn lock_album_owner(conn: &mut Conn, album: AlbumId) -> Result<UserId> {
    let done = sqlx::query("UPDATE users SET email = email WHERE id = (SELECT owner_id FROM albums WHERE id = $1)")
        .bind(album.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("locking an owner's quota"))?;
    if done.rows_affected() != 1 {
        return Err(Error::not_found("album"));
    }
    let row = sqlx::query("SELECT owner_id FROM albums WHERE id = $1")
        .bind(album.to_string())
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err("reading an album's owner"))?;
    Ok(UserId::from_uuid(parse_uuid(&row.get::<String, _>("owner_id"))?))
}

/// What `owner` uses at `now`, leaving out the reservation of `except`.
pub(super) async fn used_in(
    conn: &mut Conn,
    owner: UserId,
    except: Option<UploadId>,
    now: DateTime<Utc>,
) -> Result<u64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE((SELECT SUM(p.size_bytes) FROM photos p JOIN albums a ON a.id = p.album_id
                                WHERE a.owner_id = $1 AND a.purged_at IS NULL), 0) AS BIGINT) AS photos,
                CAST(COALESCE((SELECT SUM(length) FROM upload_reservations
                                WHERE owner_id = $1 AND idle_until > $2 AND upload_id <> $3), 0) AS BIGINT) AS uploads",
    )
    .bind(owner.to_string())
    .bind(millis(now))
    .bind(except.map(|u| u.to_string()).unwrap_or_default())
    .fetch_one(&mut *conn)
    .await
    .map_err(db_err("counting storage"))?;
    let photos: i64 = row.get("photos");
    let uploads: i64 = row.get("uploads");
    Ok(photos.max(0) as u64 + uploads.max(0) as u64)
}

/// `Some((used, quota))` when `wanted` more bytes would take `owner` past `quota`
/// (leaving out the reservation of `except`); `None` when they fit or
/// there is no quota. Inside the caller's transaction, after its lock.
pub(super) async fn over_quota(
    conn: &mut Conn,
    owner: UserId,
    except: Option<UploadId>,
    wanted: u64,
    quota: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Option<(u64, u64)>> {
    let Some(limit) = quota else { return Ok(None) };
    let used = used_in(conn, owner, except, now).await?;
    Ok((used.saturating_add(wanted) > limit).then_some((used, limit)))
}

/// Drops an upload's reservation on `conn`.
pub(super) async fn release_in(conn: &mut Conn, upload: UploadId) -> Result<()> {
    sqlx::query("DELETE FROM upload_reservations WHERE upload_id = $1")
        .bind(upload.to_string())
        .execute(&mut *conn)
        .await
        .map_err(db_err("releasing an upload reservation"))?;
    Ok(())
}

pub(super) async fn reserve(
    store: &Store,
    upload: UploadId,
    owner: UserId,
    length: u64,
    idle_until: DateTime<Utc>,
    quota: Option<u64>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let context = "reserving storage for an upload";
    let mut tx = store.pool.begin().await.map_err(db_err(context))?;
    lock_owner(&mut tx, owner).await?;
    if over_quota(&mut tx, owner, None, length, quota, now).await?.is_some() {
        return Ok(false);
    }
    sqlx::query("INSERT INTO upload_reservations (upload_id, owner_id, length, idle_until) VALUES ($1, $2, $3, $4)")
        .bind(upload.to_string())
        .bind(owner.to_string())
        .bind(i64::try_from(length).unwrap_or(i64::MAX))
        .bind(millis(idle_until))
        .execute(&mut *tx)
        .await
        .map_err(db_err(context))?;
    tx.commit().await.map_err(db_err(context))?;
    Ok(true)
}
