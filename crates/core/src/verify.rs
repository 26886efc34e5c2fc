//! Proving a mailbox: a signed link mailed to the address, which marks the
//! account's e-mail verified. Until then an album shared with the address
//! stays closed to the account (see `Album::access_for`).

use chrono::Duration;

use crate::{Error, LinkSigner, NewJob, Notification, Proofsheet, Result, Task, User};

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

    /// Queues the mail with the link to `user` (a no-op for a verified one).
    pub async fn send(&self, user: &User) -> Result<()> {
        if user.email_verified {
            return Ok(());
        }
        let job =
            NewJob::now(Task::Notify { notification: Notification::VerifyEmail { user_id: user.id } }, self.0.now());
        self.0.backends().queue.enqueue(&job).await
    }

    /// Checks a mailed token and marks its user's address verified; the
    /// user as they are now. A token that is forged, expired, for another
    /// address than the account's current one, or for no account, finds
    /// nothing (`NotFound`, like an unknown download token). Using a token
    /// twice is harmless.
    pub async fn confirm(&self, token: &str) -> Result<User> {
        let invalid = || Error::not_found("verification link");
        let (id, _) = LinkSigner::email_token_user(token).ok_or_else(invalid)?;
        let mut user = self.0.meta().user(id).await?.ok_or_else(invalid)?;
        if !self.0.link_signer().email_token_valid(token, &user, self.0.now()) {
            return Err(invalid());
        }
        self.0.meta().mark_email_verified(user.id, self.0.now()).await?;
        tracing::info!(target: "audit", action = "verify_email", user_id = %user.id, "e-mail address verified");
        user.email_verified = true;
        Ok(user)
    }
}
