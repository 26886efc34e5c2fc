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

use crate::{
    AlbumId, Email, Error, NewJob, Notification, Proofsheet, Result, Role, Session, Task, User, UserId, validate_name,
};

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

impl Proofsheet {
    /// Whether `email` may sign in by a mailed link: it has an account, or
    /// a photographer named it as an album's client (the link then makes
    /// the client account).
    pub async fn may_sign_in(&self, email: &Email) -> Result<bool> {
        Ok(self.meta().user_by_email(email).await?.is_some() || self.meta().is_invited(email).await?)
    }
}

impl Users<'_> {
    /// The operator vouches for an account's address (`proofsheet admin
    /// verify-email`): it becomes proven, as with a mailed link, and its
    /// sessions from before end; the password is kept, since the operator
    /// knows the person. `NotFound` when no account has the address.
    pub async fn vouch_for(&self, email: &Email) -> Result<User> {
        let meta = self.0.meta();
        let Some((user, _)) = meta.user_by_email(email).await? else { return Err(Error::not_found("user")) };
        meta.claim_mailbox(user.id, true, self.0.now()).await?;
        tracing::info!(user_id = %user.id, "address vouched for by the operator");
        Ok(user)
    }

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
        self.create(&new, verified, None).await
    }

    async fn create(&self, new: &NewUser<'_>, verified: bool, next: Option<&str>) -> Result<User> {
        let user = self.new_user(new, verified)?;
        Self::check_password(new.password)?;
        let hash = hash_password(new.password.to_owned()).await?;
        self.0.meta().insert_user(&user, &hash).await?;
        tracing::info!(user_id = %user.id, "user registered");
        self.0.email_verification().send(&user, next).await?;
        Ok(user)
    }

    /// Registration as anyone may do it: it never tells whether the address
    /// has an account. A new account is mailed its verification link
    /// (leading to `next`, a path of this server, once confirmed). A taken
    /// address gets a stand-in user of the same shape (a fresh id,
    /// unverified, stored nowhere), and the address's owner is mailed that
    /// someone tried, at most once a day per address
    /// ([`ACCOUNT_EXISTS_MAIL_HOURS`]), so registrations cannot flood a
    /// mailbox.
    pub async fn sign_up(&self, new: NewUser<'_>, next: Option<&str>) -> Result<User> {
        match self.create(&new, false, next).await {
            Err(e) if e.code() == "email_taken" => {
                let stand_in = self.new_user(&new, false)?;
                let now = self.0.now();
                let key = format!("account_exists:{}", stand_in.email);
                let until = now + Duration::hours(ACCOUNT_EXISTS_MAIL_HOURS);
                if self.0.meta().take_mail_slot(&key, now, until).await? {
                    let notice = Notification::AccountExists { to: stand_in.email.clone() };
                    self.0.backends().queue.enqueue(&NewJob::now(Task::Notify { notification: notice }, now)).await?;
                }
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
        // Only a proven address signs in with a password: before the proof
        // the password may be a stranger's (who registered the address
        // first), and the answer is the same as for a wrong password.
        let (user, hash) = match found {
            Some((u, h)) if u.email_verified => (Some(u), Some(h)),
            _ => (None, None),
        };
        let ok = verify_password(password.to_owned(), hash).await?;
        let Some(user) = user.filter(|_| ok) else { return Ok(None) };
        let signed_in = self.open_session(user, ttl).await?;
        tracing::info!(target: "audit", action = "sign_in", user_id = %signed_in.user.id, result = "ok", "signed in");
        Ok(Some(signed_in))
    }

    pub(crate) async fn open_session(&self, user: User, ttl: Duration) -> Result<SignedIn> {
        let now = self.0.now();
        let (token, token_hash) = new_token();
        let expires_at = now + ttl;
        self.0.meta().insert_session(&Session { token_hash, user_id: user.id, expires_at, created_at: now }).await?;
        Ok(SignedIn { user, token, expires_at })
    }

    /// Mails a single-use sign-in link, valid [`SIGN_IN_LINK_MINUTES`]
    /// minutes, to `email` when the address may sign in: it has an account,
    /// or a photographer named it as an album's client (the link then
    /// makes the client account). The request does the same work for every
    /// well-formed address (it stores a link and queues its mail), and the
    /// worker drops the mail of an address that may not sign in, so neither
    /// the answer nor its time tells whether an address has an account;
    /// only a malformed address is an error. `next` is a path of this
    /// server to land on after signing in (anything else is dropped). Rate
    /// limits are the caller's (per address and per IP).
    pub async fn send_sign_in_link(&self, email: &str, next: Option<&str>) -> Result<()> {
        let email: Email = email.parse()?;
        let now = self.0.now();
        let link = crate::SignInLink {
            id: uuid::Uuid::new_v4(),
            email: email.clone(),
            expires_at: now + Duration::minutes(SIGN_IN_LINK_MINUTES),
            created_at: now,
        };
        self.0.meta().insert_sign_in_link(&link).await?;
        let next = next.filter(|n| is_local_path(n)).map(str::to_owned);
        let notification = Notification::SignInLink { link_id: link.id, to: email, next };
        self.0.backends().queue.enqueue(&NewJob::now(Task::Notify { notification }, now)).await?;
        tracing::info!(target: "audit", action = "sign_in_link", result = "queued", "sign-in link queued");
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
            None if meta.is_invited(&email).await? => self.invited_client(&email, None).await?,
            None => return Ok(None),
        };
        self.prove_mailbox(&mut user, false).await?;
        let signed_in = self.open_session(user, ttl).await?;
        tracing::info!(target: "audit", action = "sign_in", user_id = %signed_in.user.id, result = "ok", how = "link", "signed in");
        Ok(Some(signed_in))
    }

    /// Exchanges an invitation e-mail's link for a session lasting `ttl`,
    /// and answers the album it opens. The link (signed, for one album and
    /// its client's address, [`crate::INVITATION_DAYS`] days) proves the
    /// mailbox as a sign-in link does, and may be used again until it
    /// expires. The first use makes the client's account, named as the
    /// photographer typed it. `None` for a forged or expired link, an album
    /// that is gone, a draft, one whose client changed since, or an address
    /// whose account is not a client's (they sign in as usual).
    pub async fn accept_invitation(&self, token: &str, ttl: Duration) -> Result<Option<(SignedIn, AlbumId)>> {
        let Some(album_id) = crate::LinkSigner::invitation_album(token) else { return Ok(None) };
        let meta = self.0.meta();
        let Some(album) = meta.album(album_id).await? else { return Ok(None) };
        let Some(email) = album.client_email.clone() else { return Ok(None) };
        if album.draft
            || album.purged_at.is_some()
            || !self.0.link_signer().invitation_valid(token, album.id, &email, self.0.now())
        {
            return Ok(None);
        }
        let mut user = match meta.user_by_email(&email).await? {
            Some((user, _)) if user.role == Role::Client => user,
            Some(_) => return Ok(None),
            None => match self.invited_client(&email, album.client_name.as_deref()).await? {
                user if user.role == Role::Client => user,
                _ => return Ok(None),
            },
        };
        self.prove_mailbox(&mut user, false).await?;
        let signed_in = self.open_session(user, ttl).await?;
        tracing::info!(target: "audit", action = "sign_in", user_id = %signed_in.user.id, result = "ok", how = "invitation", album_id = %album.id, "signed in");
        Ok(Some((signed_in, album.id)))
    }

    /// The studio of photographer `id`: the one they saved, else
    /// [`crate::Studio::default_for`] them (`NotFound` for no such user).
    pub async fn studio(&self, id: UserId) -> Result<crate::Studio> {
        crate::studio_of(self.0.meta(), id).await?.ok_or(Error::not_found("user"))
    }

    /// Saves the caller's studio (photographers only), checked first.
    pub async fn save_studio(&self, user: &User, studio: crate::Studio) -> Result<crate::Studio> {
        if user.role != Role::Photographer {
            return Err(Error::forbidden("photographers_only", "only photographers have a studio"));
        }
        let studio = studio.validate()?;
        self.0.meta().set_studio(user.id, &studio, self.0.now()).await?;
        Ok(studio)
    }

    /// Makes the passwordless client account of an invited address (the
    /// client signs in by mailed links and may set a password later),
    /// named as the photographer typed it ("Maja Berg": name and surname),
    /// else after the address. Made meanwhile by another request: that one.
    async fn invited_client(&self, email: &Email, typed: Option<&str>) -> Result<User> {
        let local: String = email.as_str().split('@').next().unwrap_or("Client").chars().take(100).collect();
        let (name, surname) = match typed.map(str::trim).filter(|t| !t.is_empty()) {
            Some(t) => t.split_once(' ').map_or((t, "-"), |(n, s)| (n, s.trim())),
            None => (local.as_str(), "-"),
        };
        let new = NewUser { email: email.as_str(), password: "", name, surname, role: Role::Client };
        let user = self.new_user(&new, true)?;
        let meta = self.0.meta();
        match meta.insert_user(&user, NO_PASSWORD).await {
            Ok(()) => Ok(user),
            Err(e) if e.code() == "email_taken" => meta.user_by_email(email).await?.map(|(u, _)| u).ok_or(e),
            Err(e) => Err(e),
        }
    }

    /// The user a bearer token belongs to, if it is a live session's of a
    /// proven address (a session an unproven account held from before
    /// these rules opens nothing: until the mailbox is proven, an account
    /// may not upload, share, buy or send mail).
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>> {
        Ok(self.0.meta().session_user(&token_hash(token), self.0.now()).await?.filter(|u| u.email_verified))
    }

    /// Ends the session of `token` (nothing if there is none).
    pub async fn sign_out(&self, token: &str) -> Result<()> {
        self.0.meta().delete_session(&token_hash(token)).await
    }

    /// The mailbox of `user` is proven (a link mailed to it was used). The
    /// first proof hands the account to the mailbox: every session ends and
    /// a password set before it is cleared, unless `keep_password` (the
    /// person who proved the mailbox also showed that password), so a
    /// stranger who registered the address first keeps nothing.
    pub(crate) async fn prove_mailbox(&self, user: &mut User, keep_password: bool) -> Result<()> {
        if user.email_verified {
            return Ok(());
        }
        if self.0.meta().claim_mailbox(user.id, keep_password, self.0.now()).await? {
            tracing::info!(target: "audit", action = "claim_mailbox", user_id = %user.id, kept_password = keep_password,
                "address proven: earlier sessions ended");
        }
        user.email_verified = true;
        Ok(())
    }

    /// Whether `user` has a password (a client made by an invitation link
    /// has none until they set one).
    pub async fn has_password(&self, user: UserId) -> Result<bool> {
        Ok(self.0.meta().password_hash(user).await?.is_some_and(|h| h != NO_PASSWORD))
    }

    /// Sets `user`'s password to `new`. When the account has one, `current`
    /// must be it (`Forbidden`: `current_password_required` or
    /// `wrong_password`).
    /// Every session but the one of `keep_token` (the caller's) ends in the
    /// same transaction. Rate limits on wrong guesses are the caller's.
    pub async fn change_password(
        &self,
        user: &User,
        current: Option<&str>,
        new: &str,
        keep_token: Option<&str>,
    ) -> Result<()> {
        Self::check_password(new)?;
        let stored = self.0.meta().password_hash(user.id).await?.ok_or_else(|| Error::not_found("user"))?;
        if stored != NO_PASSWORD {
            let Some(current) = current.filter(|c| !c.is_empty()) else {
                return Err(Error::forbidden("current_password_required", "give the current password to change it"));
            };
            if !verify_password(current.to_owned(), Some(stored)).await? {
                return Err(Error::forbidden("wrong_password", "the current password is not right"));
            }
        }
        let hash = hash_password(new.to_owned()).await?;
        self.0.meta().set_password(user.id, &hash, keep_token.map(token_hash).as_ref()).await?;
        tracing::info!(target: "audit", action = "set_password", user_id = %user.id, "password set; other sessions ended");
        Ok(())
    }

    /// `user`'s live sessions, newest first (at most 100); `current_token`
    /// marks the caller's.
    pub async fn sessions(&self, user: &User, current_token: Option<&str>) -> Result<Vec<SessionInfo>> {
        let current = current_token.map(token_hash);
        let sessions = self.0.meta().sessions_of(user.id, self.0.now()).await?;
        Ok(sessions
            .into_iter()
            .map(|s| SessionInfo {
                id: session_id(&s.token_hash),
                created_at: s.created_at,
                expires_at: s.expires_at,
                current: current == Some(s.token_hash),
            })
            .collect())
    }

    /// "Sign out everywhere": ends every session of `user` but the one of
    /// `keep_token`; how many ended.
    pub async fn sign_out_everywhere(&self, user: &User, keep_token: Option<&str>) -> Result<u64> {
        let n = self.0.meta().delete_sessions_of(user.id, keep_token.map(token_hash).as_ref()).await?;
        tracing::info!(target: "audit", action = "sign_out_everywhere", user_id = %user.id, ended = n, "sessions ended");
        Ok(n)
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

/// The stored password hash of an account that has no password (it signs
/// in by mailed links only): never matches any password.
pub const NO_PASSWORD: &str = "";

/// At most one "you already have an account" mail per address in this
/// many hours, however often the address is registered.
pub const ACCOUNT_EXISTS_MAIL_HOURS: i64 = 24;

/// One of a user's sessions, as its owner sees it (the token is never
/// shown again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// A public name for the session: hex of the first 12 bytes of the
    /// stored hash (the token cannot be found from it).
    pub id: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it is the caller's own.
    pub current: bool,
}

fn session_id(hash: &[u8; 32]) -> String {
    hash[..12].iter().map(|b| format!("{b:02x}")).collect()
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
pub(crate) async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    // An account without a password is checked against the dummy, so it
    // costs the same time and never matches.
    let hash = hash.filter(|h| h != NO_PASSWORD);
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
