//! `AccountStore`: users, sessions, sign-in links, logos. In SQL for both dialects, one text per
//! statement, compiled once per dialect; it shares the row readers and `*_in`
//! helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{AccountStore, Email, Error, Result, Session, SignInLink, User, UserId};
use sqlx::Row;
use uuid::Uuid;

use super::{Store, user_from};
use crate::sql::{db_err, from_millis, millis};

#[async_trait]
impl AccountStore for Store {
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
            // Everything else is classified like any statement's error (a
            // full disk is `StorageFull`, 507, not a retryable 503).
            _ => db_err("adding a user")(e),
        })?;
        Ok(())
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

    async fn session_user(&self, token_hash: &[u8; 32], now: DateTime<Utc>) -> Result<Option<User>> {
        sqlx::query(
            "SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
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

    async fn password_hash(&self, user: UserId) -> Result<Option<String>> {
        let row = sqlx::query("SELECT password_hash FROM users WHERE id = $1")
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a password hash"))?;
        Ok(row.map(|r| r.get("password_hash")))
    }

    async fn claim_mailbox(&self, user: UserId, keep_password: bool, now: DateTime<Utc>) -> Result<bool> {
        let context = "claiming a mailbox";
        let mut tx = self.pool.begin().await.map_err(db_err(context))?;
        let verify = if keep_password {
            "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL"
        } else {
            "UPDATE users SET email_verified_at = $1, password_hash = '' WHERE id = $2 AND email_verified_at IS NULL"
        };
        let done = sqlx::query(verify)
            .bind(millis(now))
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err(context))?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err(context))?;
        tx.commit().await.map_err(db_err(context))?;
        Ok(true)
    }

    async fn set_password(&self, user: UserId, hash: &str, keep: Option<&[u8; 32]>) -> Result<()> {
        let context = "setting a password";
        let mut tx = self.pool.begin().await.map_err(db_err(context))?;
        let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(hash)
            .bind(user.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err(context))?;
        if done.rows_affected() != 1 {
            return Err(Error::not_found("user"));
        }
        delete_sessions(&mut tx, user, keep).await.map_err(db_err(context))?;
        tx.commit().await.map_err(db_err(context))?;
        Ok(())
    }

    async fn sessions_of(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT token_hash, user_id, expires_at, created_at FROM sessions
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, token_hash LIMIT 100",
        )
        .bind(user.to_string())
        .bind(millis(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("listing sessions"))?;
        rows.iter()
            .map(|r| {
                let hash: Vec<u8> = r.get("token_hash");
                let token_hash: [u8; 32] = hash
                    .try_into()
                    .map_err(|_| Error::backend_permanent("reading a session", "a token hash is not 32 bytes"))?;
                Ok(Session {
                    token_hash,
                    user_id: user,
                    expires_at: from_millis(r.get("expires_at")),
                    created_at: from_millis(r.get("created_at")),
                })
            })
            .collect()
    }

    async fn delete_sessions_of(&self, user: UserId, keep: Option<&[u8; 32]>) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db_err("ending sessions"))?;
        let n = delete_sessions(&mut tx, user, keep).await.map_err(db_err("ending sessions"))?;
        tx.commit().await.map_err(db_err("ending sessions"))?;
        Ok(n)
    }

    async fn take_mail_slot(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO mail_slots (slot_key, until) VALUES ($1, $2)
             ON CONFLICT (slot_key) DO UPDATE SET until = excluded.until WHERE mail_slots.until <= $3",
        )
        .bind(key)
        .bind(millis(until))
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("taking a mail slot"))?;
        Ok(done.rows_affected() == 1)
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

    async fn studio(&self, user: UserId) -> Result<Option<proofsheet_core::Studio>> {
        let row = sqlx::query("SELECT * FROM studios WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a studio"))?;
        row.map(|r| {
            Ok(proofsheet_core::Studio {
                name: r.get("name"),
                website: r.get("website"),
                contact_email: r.get::<Option<String>, _>("contact_email").map(|e| e.parse()).transpose()?,
                time_zone: r.get("time_zone"),
                accent: r.get("accent"),
            })
        })
        .transpose()
    }

    async fn set_studio(&self, user: UserId, s: &proofsheet_core::Studio, now: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO studios (user_id, name, website, contact_email, time_zone, accent, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, website = excluded.website,
               contact_email = excluded.contact_email, time_zone = excluded.time_zone, accent = excluded.accent,
               updated_at = excluded.updated_at",
        )
        .bind(user.to_string())
        .bind(&s.name)
        .bind(&s.website)
        .bind(s.contact_email.as_ref().map(Email::as_str))
        .bind(&s.time_zone)
        .bind(&s.accent)
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("saving a studio"))?;
        Ok(())
    }

    async fn is_invited(&self, email: &Email) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM albums WHERE client_email = $1 AND purged_at IS NULL AND draft = 0 LIMIT 1",
        )
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

/// Ends every session of `user` but `keep`, inside a transaction.
async fn delete_sessions(
    conn: &mut super::Conn,
    user: UserId,
    keep: Option<&[u8; 32]>,
) -> std::result::Result<u64, sqlx::Error> {
    let done = match keep {
        Some(keep) => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
                .bind(user.to_string())
                .bind(&keep[..])
                .execute(&mut *conn)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.to_string()).execute(&mut *conn).await?
        }
    };
    Ok(done.rows_affected())
}
