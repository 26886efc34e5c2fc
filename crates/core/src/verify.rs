//! Proving a mailbox: a signed link mailed to the address, which marks the
//! account's e-mail verified. Until then an album shared with the address
//! stays closed to the account (see `Album::access_for`).

use chrono::Duration;

use crate::{Error, LinkSigner, NewJob, Notification, Proofsheet, Result, SignedIn, Task, User};

/// How long a mailed verification link works.
pub const EMAIL_TOKEN_TTL_DAYS: i64 = 7;

impl Proofsheet {
    /// E-mail verification.
    pub fn email_verification(&self) -> EmailVerification<'_> {
        EmailVerification(self)
    }
}

/// E-mail verification. Get it with [`Proofsheet::email_verification`].
pub struct EmailVerification<'a>(pub(crate) &'a Proofsheet);

impl EmailVerification<'_> {
    /// A token for `user`'s current address, valid for
    /// [`EMAIL_TOKEN_TTL_DAYS`] days (what the mailed link carries).
    pub fn token(&self, user: &User) -> String {
        self.0.link_signer().email_token(user, self.0.now() + Duration::days(EMAIL_TOKEN_TTL_DAYS))
    }

    /// Queues the mail with the link to `user` (a no-op for a verified
    /// one); `next` is where the link leads once confirmed (a path of this
    /// server; anything else is dropped).
    pub async fn send(&self, user: &User, next: Option<&str>) -> Result<()> {
        if user.email_verified {
            return Ok(());
        }
        let next = next.filter(|n| crate::is_local_path(n)).map(str::to_owned);
        let notification = Notification::VerifyEmail { user_id: user.id, next };
        self.0.backends().queue.enqueue(&NewJob::now(Task::Notify { notification }, self.0.now())).await
    }

    /// Checks a mailed token and marks its user's address verified; the
    /// user as they are now. A token that is forged, expired, for another
    /// address than the account's current one, or for no account, finds
    /// nothing (`NotFound`, like an unknown download token). Using a token
    /// twice is harmless.
    ///
    /// The first proof hands the account to the mailbox (see
    /// [`AccountStore::claim_mailbox`](crate::AccountStore::claim_mailbox)):
    /// every session ends and the password set at registration is cleared,
    /// unless `password` is that password (whoever registered is the one
    /// confirming), since a stranger may have registered the address.
    pub async fn confirm(&self, token: &str, password: Option<&str>) -> Result<User> {
        let invalid = || Error::not_found("verification link");
        let (id, _) = LinkSigner::email_token_user(token).ok_or_else(invalid)?;
        let mut user = self.0.meta().user(id).await?.ok_or_else(invalid)?;
        if !self.0.link_signer().email_token_valid(token, &user, self.0.now()) {
            return Err(invalid());
        }
        if !user.email_verified {
            let keep = match password.filter(|p| !p.is_empty()) {
                Some(p) => {
                    let hash = self.0.meta().password_hash(user.id).await?;
                    crate::users::verify_password(p.to_owned(), hash).await?
                }
                None => false,
            };
            self.0.users().prove_mailbox(&mut user, keep).await?;
            tracing::info!(target: "audit", action = "verify_email", user_id = %user.id, "e-mail address verified");
        }
        Ok(user)
    }

    /// [`EmailVerification::confirm`], then a session for the user lasting
    /// `ttl`: the mailed link signs its reader in.
    pub async fn confirm_and_sign_in(&self, token: &str, password: Option<&str>, ttl: Duration) -> Result<SignedIn> {
        let user = self.confirm(token, password).await?;
        self.0.users().open_session(user, ttl).await
    }
}
