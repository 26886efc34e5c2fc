//! Notifications: what the shop tells people, sent through the queue so a
//! failed send is retried with backoff and never blocks a sale.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::{AlbumId, Email, OrderId, Result};

/// Something worth an e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Notification {
    /// A private album was shared with a client (to the client).
    AlbumShared {
        /// The album.
        album_id: AlbumId,
        /// The client's address.
        to: Email,
    },
    /// An album the client can see expires soon (to the client).
    AlbumExpiring {
        /// The album.
        album_id: AlbumId,
        /// The client's address.
        to: Email,
    },
    /// The zip of an order is ready (to the buyer, with the link).
    DownloadReady {
        /// The order.
        order_id: OrderId,
    },
    /// An order was paid (to the photographer).
    OrderPaid {
        /// The order.
        order_id: OrderId,
    },
    /// Prove the mailbox: a link that verifies the user's address (to the
    /// user, at registration and when they ask again).
    VerifyEmail {
        /// The user.
        user_id: crate::UserId,
        /// Where the link leads after confirming (a path of this server).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Someone tried to register with an address that has an account (to
    /// that address; the registration itself answers as if it worked, so
    /// it never tells whether an address has an account).
    AccountExists {
        /// The address.
        to: Email,
    },
    /// A webhook endpoint was turned off by the sender (to its owner).
    WebhookDisabled {
        /// The endpoint.
        webhook_id: crate::WebhookId,
    },
    /// A single-use sign-in link (to the address it signs in; see
    /// [`Users::send_sign_in_link`](crate::Users::send_sign_in_link)). The
    /// mailer makes the token from the id; no secret is in the queue. It is
    /// queued for every well-formed address, so the request does the same
    /// work whoever asks; the worker delivers it only when the address may
    /// sign in (see [`Proofsheet::may_sign_in`](crate::Proofsheet::may_sign_in)).
    SignInLink {
        /// The stored link.
        link_id: uuid::Uuid,
        /// The address.
        to: Email,
        /// Where the link leads after signing in (a path of this server).
        next: Option<String>,
    },
}

/// Delivers notifications: looks up what it needs, renders, sends. The
/// reference server's implementation renders the templates in the repo and
/// sends through SMTP (or only logs, by default).
#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Sends one notification. Errors that may pass must be retryable
    /// (`Error::Backend`), so the queue tries again.
    async fn notify(&self, notification: &Notification) -> Result<()>;
}

/// A notifier that only logs (the default; embedders without e-mail).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogNotifier;

#[async_trait]
impl Notifier for LogNotifier {
    async fn notify(&self, notification: &Notification) -> Result<()> {
        tracing::info!(?notification, "notification (not sent: no mailer configured)");
        Ok(())
    }
}
