//! The payment gateway plugin surface.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Order, OrderId, Result};

/// What a gateway needs to start a payment.
#[derive(Debug, Clone)]
pub struct CheckoutRequest<'a> {
    /// The order to pay (pending; its items and total are final).
    pub order: &'a Order,
    /// The album's name, for the payment page.
    pub album_name: &'a str,
    /// Where the buyer returns after paying.
    pub success_url: String,
    /// Where the buyer returns after giving up.
    pub cancel_url: String,
    /// Derived from the order: the same order always sends the same key,
    /// so a retried call never opens a second payment.
    pub idempotency_key: String,
    /// The buyer's e-mail, to prefill the payment page.
    pub buyer_email: Option<&'a str>,
    /// Now, by the engine's clock (for session expiry).
    pub now: DateTime<Utc>,
}

/// Where the buyer pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// The page the buyer is sent to.
    pub url: String,
    /// The gateway's reference for this payment attempt.
    pub reference: String,
}

/// What a verified notification says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The money was taken: the order becomes `paid`.
    Paid,
    /// The buyer declined or the payment failed: `cancelled`.
    Declined,
    /// The payment window closed: `expired`.
    Expired,
    /// The money went back: `refunded`, download revoked.
    Refunded,
}

/// A verified notification from a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// The gateway's unique id for this notification (deduplication key).
    pub id: String,
    /// The order it concerns.
    pub order_id: OrderId,
    /// What happened.
    pub outcome: PaymentOutcome,
    /// The gateway's reference for the payment.
    pub reference: Option<String>,
}

/// A payment provider.
///
/// What an implementation must guarantee:
/// - `create_checkout` is idempotent for the same `idempotency_key` (pass it
///   on to the provider), and never marks anything paid by itself.
/// - `verify_notification` authenticates the raw body (signature, shared
///   secret, timestamp tolerance) *before* parsing it, compares secrets in
///   constant time, and returns `Error::Invalid { code: "invalid_signature" }`
///   for anything it cannot prove came from the provider. It returns
///   `Ok(None)` for a genuine notification the shop does not act on.
/// - It maps the provider's states onto [`PaymentOutcome`] only; the order
///   state machine (`OrderStatus::allowed_from`) decides what that changes,
///   so duplicates and out-of-order deliveries are harmless.
#[async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    /// The name used in routes (`/api/v1/payments/{name}/webhook`) and in
    /// `POST /orders/{id}/checkout {"gateway": name}`.
    fn name(&self) -> &str;
    /// Opens a payment for an order.
    async fn create_checkout(&self, request: &CheckoutRequest<'_>) -> Result<CheckoutSession>;
    /// Authenticates and reads a notification.
    fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentEvent>>;
}
