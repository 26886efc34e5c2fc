//! The SQL behind `SqliteStore` and `PgStore`, written once.
//!
//! Both dialects take `$N` placeholders, `ON CONFLICT DO NOTHING`,
//! `RETURNING` and `CAST(.. AS ..)`, so one text serves both; the only
//! difference is the claim query's row lock (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL; SQLite's single writer makes the statement atomic alone).
//! The macro stamps the trait impls out for each concrete driver, which
//! keeps sqlx's types concrete and the SQL in one place.

macro_rules! sql_store {
    (store: $store:ident, db: $db:ty, conn: $conn:ty, row: $row:ty, claim_lock: $lock:literal) => {
        use async_trait::async_trait;
        use chrono::{DateTime, Duration, Utc};
        use proofsheet_core::{
            AccountStore, Album, AlbumFilter, AlbumId, AlbumStore, Currency, DownloadLink, DownloadStore, Email, Error, Favourite,
            IdempotencyStore, IdempotentReply, Job, JobId, JobQueue, JobStatus, Lane, LinkId, MetadataStore, Money, NewJob,
            Order, OrderChange, OrderFilter, OrderId, OrderItem, OrderStatus, OrderStore, Page, PageRequest, Photo,
            PhotoId, PhotoStatus, ReportStore, Result, Role, SalesRow, ScheduleStore, ScheduledRun, Session, SignInLink, User,
            UserId, Visibility,
        };
        use sqlx::Row;
        use std::str::FromStr;
        use uuid::Uuid;

        use crate::sql::{db_err, from_millis, millis, parse_uuid};

async fn enqueue_in(conn: &mut $conn, job: &NewJob) -> Result<()> {
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

/// Stores an idempotent reply on `conn`; `false` if its key is taken.
async fn insert_reply_in(conn: &mut $conn, reply: &IdempotentReply) -> Result<bool> {
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

async fn insert_link_in(conn: &mut $conn, link: &DownloadLink) -> Result<()> {
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

fn user_from(row: &$row) -> Result<User> {
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

fn album_from(row: &$row) -> Result<Album> {
    let currency: Currency = row.get::<String, _>("price_currency").parse()?;
    Ok(Album {
        id: AlbumId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        owner_id: UserId::from_uuid(parse_uuid(&row.get::<String, _>("owner_id"))?),
        name: row.get("name"),
        visibility: Visibility::parse(row.get("visibility"))?,
        client_email: row
            .get::<Option<String>, _>("client_email")
            .map(|e| e.parse::<Email>())
            .transpose()?,
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
    })
}

fn watermark_json(a: &Album) -> Result<Option<String>> {
    a.watermark
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| Error::backend_permanent("storing an album's watermark", e))
}

fn photo_from(row: &$row) -> Result<Photo> {
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
    })
}

fn link_from(row: &$row) -> Result<DownloadLink> {
    let hash: Vec<u8> = row.get("token_hash");
    Ok(DownloadLink {
        id: LinkId::from_uuid(parse_uuid(&row.get::<String, _>("id"))?),
        order_id: OrderId::from_uuid(parse_uuid(&row.get::<String, _>("order_id"))?),
        token_hash: hash
            .try_into()
            .map_err(|_| Error::backend_permanent("reading a link", "bad token hash"))?,
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

fn job_from(row: &$row) -> Result<Job> {
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

impl $store {
    async fn load_order(&self, conn: &mut $conn, id: &str) -> Result<Option<Order>> {
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
                    price: Money::new(
                        r.get("price_amount"),
                        r.get::<String, _>("currency").parse()?,
                    )?,
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

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<$db>> {
        self.pool
            .acquire()
            .await
            .map_err(db_err("acquiring a connection"))
    }
}

fn after(page: &PageRequest) -> String {
    page.after
        .map(|u| u.hyphenated().to_string())
        .unwrap_or_default()
}

#[async_trait]
impl AccountStore for $store {
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO users (id, email, name, surname, role, password_hash, created_at, email_verified_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.id.to_string())
        .bind(user.email.as_str())
        .bind(&user.name)
        .bind(&user.surname)
        .bind(user.role.as_str())
        .bind(password_hash)
        .bind(millis(user.created_at))
        .bind(user.email_verified.then(|| millis(user.created_at)))
        .execute(&self.pool)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_unique_violation() => {
                Error::conflict("email_taken", "an account with this e-mail address exists")
            }
            _ => Error::backend("adding a user", e),
        })?;
        Ok(())
    }

    async fn mark_email_verified(&self, user: UserId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET email_verified_at = COALESCE(email_verified_at, $1) WHERE id = $2",
        )
        .bind(millis(now))
        .bind(user.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("verifying an e-mail address"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn user_by_email(&self, email: &Email) -> Result<Option<(User, String)>> {
        sqlx::query("SELECT * FROM users WHERE email = $1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a user"))?
            .map(|r| Ok((user_from(&r)?, r.get("password_hash"))))
            .transpose()
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        sqlx::query("SELECT * FROM users WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a user"))?
            .map(|r| user_from(&r))
            .transpose()
    }

    async fn insert_session(&self, s: &Session) -> Result<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&s.token_hash[..])
            .bind(s.user_id.to_string())
            .bind(millis(s.expires_at))
            .bind(millis(s.created_at))
            .execute(&self.pool)
            .await
            .map_err(db_err("adding a session"))?;
        Ok(())
    }

    async fn session_user(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<User>> {
        sqlx::query("SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2")
            .bind(&token_hash[..])
            .bind(millis(now))
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a session"))?
            .map(|r| user_from(&r))
            .transpose()
    }

    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&token_hash[..])
            .execute(&self.pool)
            .await
            .map_err(db_err("deleting a session"))?;
        Ok(())
    }

    async fn insert_sign_in_link(&self, link: &SignInLink) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err("adding a sign-in link"))?;
        sqlx::query("DELETE FROM sign_in_links WHERE expires_at <= $1")
            .bind(millis(link.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err("forgetting expired sign-in links"))?;
        sqlx::query("INSERT INTO sign_in_links (id, email, expires_at, created_at) VALUES ($1, $2, $3, $4)")
            .bind(link.id.to_string())
            .bind(link.email.as_str())
            .bind(millis(link.expires_at))
            .bind(millis(link.created_at))
            .execute(&mut *tx)
            .await
            .map_err(db_err("adding a sign-in link"))?;
        tx.commit().await.map_err(db_err("adding a sign-in link"))?;
        Ok(())
    }

    async fn take_sign_in_link(&self, id: Uuid, now: DateTime<Utc>) -> Result<Option<Email>> {
        let row = sqlx::query("DELETE FROM sign_in_links WHERE id = $1 RETURNING email, expires_at")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("taking a sign-in link"))?;
        let Some(row) = row else { return Ok(None) };
        if row.get::<i64, _>("expires_at") <= millis(now) {
            return Ok(None);
        }
        Ok(Some(row.get::<String, _>("email").parse()?))
    }

    async fn is_invited(&self, email: &Email) -> Result<bool> {
        let row = sqlx::query("SELECT 1 AS one FROM albums WHERE client_email = $1 AND purged_at IS NULL LIMIT 1")
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("looking up an invitation"))?;
        Ok(row.is_some())
    }

    async fn logo(&self, user: UserId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT digest FROM logos WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a logo"))?;
        Ok(row.map(|r| r.get("digest")))
    }

    async fn set_logo(&self, user: UserId, logo: Option<&str>, now: DateTime<Utc>) -> Result<()> {
        let query = match logo {
            Some(digest) => sqlx::query(
                "INSERT INTO logos (user_id, digest, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at",
            )
            .bind(user.to_string())
            .bind(digest)
            .bind(millis(now)),
            None => sqlx::query("DELETE FROM logos WHERE user_id = $1").bind(user.to_string()),
        };
        query.execute(&self.pool).await.map_err(db_err("setting a logo"))?;
        Ok(())
    }
}

#[async_trait]
impl AlbumStore for $store {
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
        let rows = sqlx::query("SELECT photo_id FROM favourites WHERE album_id = $1 AND user_id = $2 ORDER BY photo_id")
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
                                 expires_at, storage_prefix, created_at, updated_at, watermark)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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
        sqlx::query(
            "UPDATE albums SET name = $1, visibility = $2, client_email = $3, price_amount = $4, price_currency = $5,
                               expires_at = $6, updated_at = $7, watermark = $9,
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
        .execute(&self.pool)
        .await
        .map_err(db_err("updating an album"))?;
        Ok(())
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
            AlbumFilter::OwnedBy(owner) => sqlx::query(
                "SELECT * FROM albums WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(owner.to_string()),
            AlbumFilter::VisibleTo(email) => sqlx::query(
                "SELECT * FROM albums WHERE (client_email = $1 OR visibility = 'public') AND id > $2 ORDER BY id LIMIT $3",
            )
            .bind(email.as_str().to_owned()),
            AlbumFilter::Public => sqlx::query(
                "SELECT * FROM albums WHERE visibility = 'public' AND id > $1 ORDER BY id LIMIT $2",
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("starting a transaction"))?;
        sqlx::query(
            "INSERT INTO photos (id, album_id, filename, content_type, size_bytes, status, failure_reason,
                                 width, height, created_at, sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
        .execute(&mut *tx)
        .await
        .map_err(|e| match e.as_database_error() {
            Some(d) if d.is_foreign_key_violation() => Error::not_found("album"),
            _ => Error::backend("adding a photo", e),
        })?;
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await.map_err(db_err("committing a photo"))?;
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
        sqlx::query("UPDATE photos SET status = $1, failure_reason = $2, width = $3, height = $4, size_bytes = $5,
                                  render_count = $7 WHERE id = $6")
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
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await.map_err(db_err("committing a photo"))?;
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
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await.map_err(db_err("committing a render"))?;
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

    async fn list_photos(&self, album: AlbumId, page: PageRequest) -> Result<Page<Photo>> {
        let rows =
            sqlx::query("SELECT * FROM photos WHERE album_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(album.to_string())
                .bind(after(&page))
                .bind(page.limit as i64 + 1)
                .fetch_all(&self.pool)
                .await
                .map_err(db_err("listing photos"))?;
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
               AND client_email IS NOT NULL AND reminded_at IS NULL
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
        for job in jobs {
            enqueue_in(&mut tx, job).await?;
        }
        tx.commit().await.map_err(db_err("committing a purge"))?;
        Ok(true)
    }
}

#[async_trait]
impl OrderStore for $store {
    async fn insert_order(&self, o: &Order, reply: Option<&IdempotentReply>) -> Result<bool> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("starting a transaction"))?;
        // The key first: a second request with it waits here for the
        // first one's transaction, then finds the key taken.
        if let Some(reply) = reply
            && !insert_reply_in(&mut tx, reply).await?
        {
            tx.rollback().await.map_err(db_err("rolling back an order"))?;
            return Ok(false);
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
            OrderFilter::Buyer(u) => (
                "SELECT id FROM orders WHERE buyer_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                u.to_string(),
            ),
            OrderFilter::Seller(u) => (
                "SELECT id FROM orders WHERE seller_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                u.to_string(),
            ),
            OrderFilter::Album(a) => (
                "SELECT id FROM orders WHERE album_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                a.to_string(),
            ),
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
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("starting a transaction"))?;
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
        let done = q
            .execute(&mut *tx)
            .await
            .map_err(db_err("changing an order's status"))?;
        if done.rows_affected() == 0 {
            return Ok(None);
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
        tx.commit()
            .await
            .map_err(db_err("committing an order change"))?;
        Ok(order)
    }

    async fn record_checkout(&self, id: OrderId, gateway: &str, reference: &str, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE orders SET gateway = $1, payment_ref = $2, updated_at = $3 WHERE id = $4 AND status = 'pending'",
        )
        .bind(gateway)
        .bind(reference)
        .bind(millis(now))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("recording a checkout session"))?;
        Ok(done.rows_affected() == 1)
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

    async fn record_payment_event(
        &self,
        gateway: &str,
        event_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let done = sqlx::query("INSERT INTO payment_events (gateway, event_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(gateway)
            .bind(event_id)
            .bind(millis(now))
            .execute(&self.pool)
            .await
            .map_err(db_err("recording a payment event"))?;
        Ok(done.rows_affected() == 1)
    }
}

#[async_trait]
impl DownloadStore for $store {
    async fn fulfil_order(&self, link: &DownloadLink, jobs: &[NewJob], now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(db_err("starting a transaction"))?;
        let done = sqlx::query("UPDATE orders SET status = 'fulfilled', updated_at = $1 WHERE id = $2 AND status = 'paid'")
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
        tx.commit()
            .await
            .map_err(db_err("committing a fulfilment"))?;
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

#[async_trait]
impl ReportStore for $store {
    async fn sales(
        &self,
        seller: Option<UserId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<SalesRow>> {
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

#[async_trait]
impl ScheduleStore for $store {
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

#[async_trait]
impl IdempotencyStore for $store {
    async fn idempotent_reply(
        &self,
        user: UserId,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotentReply>> {
        let Some(r) = sqlx::query(
            "SELECT * FROM idempotency_keys WHERE user_id = $1 AND scope = $2 AND key = $3",
        )
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
            request_hash: hash
                .try_into()
                .map_err(|_| Error::backend_permanent("idempotency", "bad hash"))?,
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

#[async_trait]
impl MetadataStore for $store {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_err("pinging the database"))?;
        Ok(())
    }

    async fn deployment_secret(&self, name: &str, candidate: &str, now: DateTime<Utc>) -> Result<String> {
        sqlx::query("INSERT INTO deployment_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
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

#[async_trait]
impl JobQueue for $store {
    async fn enqueue(&self, job: &NewJob) -> Result<()> {
        let mut conn = self.conn().await?;
        enqueue_in(&mut conn, job).await
    }

    async fn claim_in(&self, now: DateTime<Utc>, lease: Duration, lane: Lane) -> Result<Option<Job>> {
        // One statement, so SQLite's write lock makes it atomic: two workers
        // never take the same job. `$6`: 0 any job, 1 the webhooks lane's
        // kinds only, 2 all others.
        let token = Uuid::new_v4().to_string();
        sqlx::query(concat!(
            "UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $1, lease_token = $2,
                             updated_at = $3
             WHERE id = (SELECT id FROM jobs
                         WHERE ((status = 'queued' AND run_at <= $4) OR (status = 'running' AND lease_until <= $5))
                           AND ($6 = 0 OR ($6 = 1) = (kind IN ('emit_event', 'deliver_webhook')))
                         ORDER BY run_at, id LIMIT 1 ", $lock, ")
             RETURNING *"),
        )
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

    async fn fail(
        &self,
        job: &Job,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool> {
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

    async fn retry_job(&self, id: JobId, now: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $2
             WHERE id = $3 AND status = 'failed'",
        )
        .bind(millis(now))
        .bind(millis(now))
        .bind(id.to_string())
        .execute(&self.pool)
        .await
        .map_err(db_err("retrying a job"))?;
        Ok(done.rows_affected() == 1)
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
        rows.iter()
            .map(|r| {
                Ok((
                    JobStatus::parse(r.get("status"))?,
                    r.get::<i64, _>("n") as u64,
                ))
            })
            .collect()
    }
}
        crate::sql::webhooks::webhook_store!(store: $store, row: $row);
    };
}

pub(crate) use sql_store;
