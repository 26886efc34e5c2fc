//! The users service: accounts, passwords and sessions.
//!
//! The REST API, the command line and (next) the web app all go through
//! it, so the rules live here once: password length, argon2id hashes
//! checked off the async threads, unknown addresses costing the same time as
//! wrong passwords, registration that never tells whether an address has an
//! account, 256-bit bearer tokens stored only as SHA-256.

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tracing::instrument;

use crate::{Email, Error, NewJob, Notification, Proofsheet, Result, Role, Session, Task, User, UserId, validate_name};

/// A new account's details, as the person typed them.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// E-mail address (validated, stored lowercased).
    pub email: &'a str,
    /// Password, 8 to 256 characters.
    pub password: &'a str,
    /// Given name.
    pub name: &'a str,
    /// Family name.
    pub surname: &'a str,
    /// Role.
    pub role: Role,
}

/// A session just opened.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Who.
    pub user: User,
    /// The bearer token, shown once; only its hash is stored.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The users service. Get it with [`Proofsheet::users`].
pub struct Users<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The users service.
    pub fn users(&self) -> Users<'_> {
        Users(self)
    }
}

impl Users<'_> {
    /// The password rule: 8 to 256 characters.
    pub fn check_password(password: &str) -> Result<()> {
        if !(8..=256).contains(&password.chars().count()) {
            return Err(Error::invalid("weak_password", "a password has 8 to 256 characters"));
        }
        Ok(())
    }

    /// Creates an account. `verified`: the caller vouches for the address
    /// (an operator on the command line); otherwise a verification link is
    /// mailed. `Conflict("email_taken")` when the address has an account:
    /// for operators, who may know; the public path is [`Users::sign_up`].
    #[instrument(skip_all, fields(role = new.role.as_str()))]
    pub async fn register(&self, new: NewUser<'_>, verified: bool) -> Result<User> {
        let user = self.new_user(&new, verified)?;
        Self::check_password(new.password)?;
        let hash = hash_password(new.password.to_owned()).await?;
        self.0.meta().insert_user(&user, &hash).await?;
        tracing::info!(user_id = %user.id, "user registered");
        self.0.email_verification().send(&user).await?;
        Ok(user)
    }

    /// Registration as anyone may do it: it never tells whether the address
    /// has an account. A taken address gets a stand-in user of the same
    /// shape (a fresh id, unverified, stored nowhere), and the address's
    /// owner is mailed that someone tried.
    pub async fn sign_up(&self, new: NewUser<'_>) -> Result<User> {
        match self.register(new.clone(), false).await {
            Err(e) if e.code() == "email_taken" => {
                let stand_in = self.new_user(&new, false)?;
                let notice = Notification::AccountExists { to: stand_in.email.clone() };
                let job = NewJob::now(Task::Notify { notification: notice }, self.0.now());
                self.0.backends().queue.enqueue(&job).await?;
                tracing::info!(target: "audit", action = "register", result = "address_taken", "registration for a taken address");
                Ok(stand_in)
            }
            other => other,
        }
    }

    /// Opens a session lasting `ttl` for the right address and password;
    /// `None` for anything else (an unknown address costs the same time as
    /// a wrong password).
    pub async fn sign_in(&self, email: &str, password: &str, ttl: Duration) -> Result<Option<SignedIn>> {
        let found = match email.parse::<Email>() {
            Ok(email) => self.0.meta().user_by_email(&email).await?,
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), Some(h)),
            None => (None, None),
        };
        let ok = verify_password(password.to_owned(), hash).await?;
        let Some(user) = user.filter(|_| ok) else { return Ok(None) };
        let signed_in = self.open_session(user, ttl).await?;
        tracing::info!(target: "audit", action = "sign_in", user_id = %signed_in.user.id, result = "ok", "signed in");
        Ok(Some(signed_in))
    }

    async fn open_session(&self, user: User, ttl: Duration) -> Result<SignedIn> {
        let now = self.0.now();
        let (token, token_hash) = new_token();
        let expires_at = now + ttl;
        self.0.meta().insert_session(&Session { token_hash, user_id: user.id, expires_at, created_at: now }).await?;
        Ok(SignedIn { user, token, expires_at })
    }

    /// Mails a single-use sign-in link, valid [`SIGN_IN_LINK_MINUTES`]
    /// minutes, to `email` when the address may sign in: it has an account,
    /// or a photographer named it as an album's client (the link then
    /// makes the client account). Otherwise nothing is sent. The answer is
    /// the same either way (`Ok`), so it tells nobody whether an address
    /// has an account; only a malformed address is an error. `next` is a
    /// path of this server to land on after signing in (anything else is
    /// dropped). Rate limits are the caller's (per address and per IP).
    pub async fn send_sign_in_link(&self, email: &str, next: Option<&str>) -> Result<()> {
        let email: Email = email.parse()?;
        let meta = self.0.meta();
        let may = meta.user_by_email(&email).await?.is_some() || meta.is_invited(&email).await?;
        if !may {
            tracing::info!(target: "audit", action = "sign_in_link", result = "no_account", "sign-in link not sent");
            return Ok(());
        }
        let now = self.0.now();
        let link = crate::SignInLink {
            id: uuid::Uuid::new_v4(),
            email: email.clone(),
            expires_at: now + Duration::minutes(SIGN_IN_LINK_MINUTES),
            created_at: now,
        };
        meta.insert_sign_in_link(&link).await?;
        let next = next.filter(|n| is_local_path(n)).map(str::to_owned);
        let notification = Notification::SignInLink { link_id: link.id, to: email, next };
        self.0.backends().queue.enqueue(&NewJob::now(Task::Notify { notification }, now)).await?;
        tracing::info!(target: "audit", action = "sign_in_link", result = "sent", "sign-in link queued");
        Ok(())
    }

    /// Exchanges a mailed sign-in token for a session lasting `ttl`. The
    /// link works once, within its 15 minutes; it proves the mailbox (the
    /// address is marked verified) and, for an invited address with no
    /// account yet, makes a client account named after the address. `None`
    /// for a forged, used or expired token.
    pub async fn sign_in_with_link(&self, token: &str, ttl: Duration) -> Result<Option<SignedIn>> {
        let Some(id) = self.0.link_signer().sign_in_link_id(token) else { return Ok(None) };
        let meta = self.0.meta();
        let Some(email) = meta.take_sign_in_link(id, self.0.now()).await? else { return Ok(None) };
        let mut user = match meta.user_by_email(&email).await? {
            Some((user, _)) => user,
            None if meta.is_invited(&email).await? => {
                let local = email.as_str().split('@').next().unwrap_or("Client");
                let name: String = local.chars().take(100).collect();
                let mut unusable = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut unusable);
                let password = URL_SAFE_NO_PAD.encode(unusable);
                let new = NewUser {
                    email: email.as_str(),
                    password: &password,
                    name: &name,
                    surname: "-",
                    role: Role::Client,
                };
                let user = self.new_user(&new, true)?;
                let hash = hash_password(password).await?;
                match meta.insert_user(&user, &hash).await {
                    Ok(()) => user,
                    // Made meanwhile by another request: use that one.
                    Err(e) if e.code() == "email_taken" => match meta.user_by_email(&email).await? {
                        Some((user, _)) => user,
                        None => return Err(e),
                    },
                    Err(e) => return Err(e),
                }
            }
            None => return Ok(None),
        };
        if !user.email_verified {
            meta.mark_email_verified(user.id, self.0.now()).await?;
            user.email_verified = true;
        }
        let signed_in = self.open_session(user, ttl).await?;
        tracing::info!(target: "audit", action = "sign_in", user_id = %signed_in.user.id, result = "ok", how = "link", "signed in");
        Ok(Some(signed_in))
    }

    /// The user a bearer token belongs to, if it is a live session's.
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>> {
        self.0.meta().session_user(&token_hash(token), self.0.now()).await
    }

    /// Ends the session of `token` (nothing if there is none).
    pub async fn sign_out(&self, token: &str) -> Result<()> {
        self.0.meta().delete_session(&token_hash(token)).await
    }

    fn new_user(&self, new: &NewUser<'_>, verified: bool) -> Result<User> {
        Ok(User {
            id: UserId::new(),
            email: new.email.parse()?,
            name: validate_name("name", new.name)?,
            surname: validate_name("surname", new.surname)?,
            role: new.role,
            email_verified: verified,
            created_at: self.0.now(),
        })
    }
}

/// How long a mailed sign-in link works.
pub const SIGN_IN_LINK_MINUTES: i64 = 15;

/// Whether `next` is a path of this server (`/albums/x`), not another
/// site (`//evil.test`, `https://…`, `/\evil.test`).
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\')
}

/// Hashes a password with argon2id (off the async threads).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::backend_permanent("hashing a password", e.to_string()))
    })
    .await
    .map_err(|e| Error::backend("hashing a password", e))?
}

/// A fixed hash checked when the account does not exist, so a wrong address
/// costs the same time as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Kf2ts3u8kS3nlYzq3a0G9xhXQhyGpxW5GHFKfU7Bqk";

/// Checks a password against a stored hash (or the dummy).
async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::backend_permanent("reading a hash", e.to_string()))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real)
    })
    .await
    .map_err(|e| Error::backend("checking a password", e))?
}

/// A new random bearer token (256 bits) and the hash that is stored.
fn new_token() -> (String, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    (token, hash)
}

/// What the database stores for a bearer token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_have_8_to_256_characters() {
        assert!(Users::check_password("seven77").is_err());
        assert!(Users::check_password("eight888").is_ok());
        assert!(Users::check_password(&"é".repeat(256)).is_ok());
        assert!(Users::check_password(&"x".repeat(257)).is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_the_dummy_never_does() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap(), "no account, no sign-in");
        let (token, hash) = new_token();
        assert_eq!(token.len(), 43);
        assert_eq!(token_hash(&token), hash);
    }
}
