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
    /// Derived from the order and [`CheckoutRequest::previous`]: the same
    /// order at the same point always sends the same key, so a retried or
    /// concurrent call never opens a second payment.
    pub idempotency_key: String,
    /// The reference of the session opened before this one for the same
    /// order on this gateway, if any. The engine has already closed it with
    /// [`PaymentGateway::close_checkout`] when `create_checkout` runs.
    pub previous: Option<&'a str>,
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

impl PaymentOutcome {
    /// The wire and metric name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentOutcome::Paid => "paid",
            PaymentOutcome::Declined => "declined",
            PaymentOutcome::Expired => "expired",
            PaymentOutcome::Refunded => "refunded",
        }
    }
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
    /// The checkout session ([`CheckoutSession::reference`]) the event is
    /// about, when it is about one. An `Expired` or `Declined` event for a
    /// session other than the order's latest is ignored: closing an old
    /// session to open a new one does not end the order.
    pub checkout: Option<String>,
}

/// A payment provider: the plugin surface for payment gateways.
///
/// Implementations in this repository: `TestGateway` and `StripeGateway`
/// (crate `proofsheet-payments`), and `PayLink` in
/// `examples/redirect-gateway`, a hosted-page provider with a signed
/// redirect and a signed form callback: start from that one for your own.
/// Register a gateway in [`Backends::gateways`](crate::Backends); the
/// reference server then routes `POST /api/v1/payments/{name}/webhook` to
/// it and accepts `{"gateway": name}` at checkout. Check an implementation
/// with `testkit::payment_gateway` (feature `testkit`).
///
/// What an implementation must guarantee:
///
/// - **Idempotent checkout.** `create_checkout` returns the same session
///   for the same `idempotency_key` (derived from the order by the engine):
///   pass the key to the provider, or make the result a pure function of
///   the order. It never marks anything paid by itself; only a verified
///   notification does.
/// - **Verification before trust.** `verify_notification` authenticates
///   the raw body (signature over the exact bytes, shared secret, timestamp
///   tolerance) *before* parsing it, compares secrets and signatures in
///   constant time, and returns `Error::Invalid { code: "invalid_signature" }`
///   for anything it cannot prove came from the provider. It returns
///   `Ok(None)` for a genuine notification the shop does not act on (an
///   unknown event type, a payment still pending, a partial refund).
/// - **Map, don't decide.** It maps the provider's states onto
///   [`PaymentOutcome`] only, with a unique `PaymentEvent::id` per
///   provider event. The engine applies it through the order state machine
///   ([`OrderStatus::allowed_from`](crate::OrderStatus::allowed_from)), so
///   duplicates, concurrent deliveries and out-of-order deliveries are
///   harmless:
///
///   | outcome | order becomes | from | then |
///   |---|---|---|---|
///   | `Paid` | `paid` | `pending`, `expired` | zip job; `fulfilled` when it is ready |
///   | `Declined` | `cancelled` | `pending` | |
///   | `Expired` | `expired` | `pending` | |
///   | `Refunded` | `refunded` | `pending`, `paid`, `fulfilled`, `expired` | links revoked at once, zips deleted by a job |
///
///   Anything else (a late `Paid` for a refunded order, a second `Paid`) is
///   answered 200 and changes nothing.
/// - **One payable session per order.** Before the engine opens a new
///   session for an order that already had one, it calls
///   [`close_checkout`](PaymentGateway::close_checkout) on the old one, so a
///   buyer who resumes a checkout cannot pay twice. A provider whose
///   sessions cannot be paid once the order is paid (the test gateway's
///   page checks the order) may keep the default, which does nothing.
/// - **No secrets in `Debug`** or in error messages.
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
    /// Closes the session `reference` of `order` so it can no longer be
    /// paid. Returns `Ok(Some(event))`, a `Paid` event, when the provider
    /// says the session was paid already (its notification may still be on
    /// its way): the engine applies it and opens no new session. Closing a
    /// session that is already closed is `Ok(None)`.
    async fn close_checkout(&self, order: &Order, reference: &str, now: DateTime<Utc>) -> Result<Option<PaymentEvent>> {
        let _ = (order, reference, now);
        Ok(None)
    }
}
