//! `StripeGateway`: Stripe Checkout through the async-stripe 1.0 crates.
//!
//! Only what a sale needs is compiled: the HTTP client (`async-stripe`, with
//! rustls and ring) and Checkout Sessions (`async-stripe-checkout`).
//! Webhooks are verified by [`crate::signature`] (Stripe's documented
//! scheme) rather than async-stripe-webhook, so the tolerance is
//! configurable and "now" is the engine's clock, and events are read with
//! the few fields we act on, so a new Stripe API version with new fields
//! never breaks fulfilment.
//!
//! Mapping (see [`PaymentGateway`] for the contract):
//!
//! | Stripe event | when | outcome |
//! |---|---|---|
//! | `checkout.session.completed` | `payment_status` is `paid` or `no_payment_required` | `Paid` |
//! | `checkout.session.async_payment_succeeded` | always | `Paid` |
//! | `checkout.session.async_payment_failed` | always | `Declined` |
//! | `checkout.session.expired` | always | `Expired` |
//! | `charge.refunded` | `refunded` is true (fully refunded) | `Refunded` |
//! | anything else | | ignored (`Ok(None)`) |
//!
//! Before a second session opens for an order, the first is expired through
//! `POST /v1/checkout/sessions/{id}/expire` ([`PaymentGateway::close_checkout`]).
//! If Stripe refuses because the session is no longer open, the session is
//! read back: paid means the order is paid (and no new session opens), a
//! delayed payment still processing refuses the new checkout (409
//! `payment_processing`), expired means nothing to do.
//!
//! The order is found through `client_reference_id` (sessions) or
//! `metadata.order_id` (sessions and charges: the gateway sets it on the
//! session and on its PaymentIntent, whose charges carry it). A partial
//! refund leaves the download alone; a full one revokes it.

#[cfg(feature = "testkit")]
pub mod test_server;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use proofsheet_core::{
    CheckoutRequest, CheckoutSession, Error, Order, OrderId, PaymentEvent, PaymentGateway, PaymentOutcome, Result,
};
use serde::Deserialize;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionPaymentIntentData, ExpireCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{CheckoutSessionPaymentStatus, CheckoutSessionStatus};

use crate::signature;

/// The header Stripe signs webhooks with.
pub const SIGNATURE_HEADER: &str = "Stripe-Signature";

/// Settings of a [`StripeGateway`]. `Debug` never prints the secrets.
#[derive(Clone)]
pub struct StripeConfig {
    /// The secret (`sk_...`) or restricted (`rk_...`) API key.
    pub secret_key: String,
    /// The webhook endpoint's signing secret (`whsec_...`).
    pub webhook_secret: String,
    /// Where the API lives; `None` is `https://api.stripe.com/`. Tests
    /// point it at a local server.
    pub api_base: Option<String>,
    /// How far a webhook's signature timestamp may be from now.
    pub tolerance_secs: i64,
    /// How long a Checkout Session stays open: 30 min to 23 h (Stripe
    /// allows 30 min to 24 h from creation; see `session_window`).
    pub session_ttl: Duration,
    /// Per-request timeout for API calls.
    pub timeout: std::time::Duration,
}

impl StripeConfig {
    /// A configuration with Stripe's defaults: 300 s tolerance, 1 h sessions.
    pub fn new(secret_key: impl Into<String>, webhook_secret: impl Into<String>) -> Self {
        StripeConfig {
            secret_key: secret_key.into(),
            webhook_secret: webhook_secret.into(),
            api_base: None,
            tolerance_secs: signature::DEFAULT_TOLERANCE_SECS,
            session_ttl: Duration::hours(1),
            timeout: std::time::Duration::from_secs(20),
        }
    }
}

impl std::fmt::Debug for StripeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeConfig")
            .field("secret_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("api_base", &self.api_base)
            .field("tolerance_secs", &self.tolerance_secs)
            .field("session_ttl", &self.session_ttl)
            .finish()
    }
}

/// Stripe Checkout as a [`PaymentGateway`] named `stripe`.
pub struct StripeGateway {
    client: stripe::Client,
    webhook_secret: Vec<u8>,
    tolerance_secs: i64,
    session_ttl: Duration,
}

impl std::fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeGateway").field("tolerance_secs", &self.tolerance_secs).finish_non_exhaustive()
    }
}

impl StripeGateway {
    /// Checks the configuration and builds the client. Refuses an empty or
    /// publishable key, an empty webhook secret, a session lifetime Stripe
    /// would refuse, and a tolerance that is not positive.
    pub fn new(config: StripeConfig) -> Result<Self> {
        let bad = |m: &str| Error::invalid("invalid_stripe_config", m.to_owned());
        if !(config.secret_key.starts_with("sk_") || config.secret_key.starts_with("rk_")) {
            return Err(bad("payments.stripe.secret_key must be a secret (sk_...) or restricted (rk_...) key"));
        }
        if config.webhook_secret.trim().is_empty() {
            return Err(bad("payments.stripe.webhook_secret must be set (the endpoint's whsec_... secret)"));
        }
        if config.tolerance_secs <= 0 {
            return Err(bad("payments.stripe.tolerance_seconds must be positive"));
        }
        if config.session_ttl < Duration::minutes(30) || config.session_ttl > Duration::hours(23) {
            return Err(bad("payments.stripe.session_minutes must be 30 to 1380 (within Stripe's 24 h)"));
        }
        let mut builder = stripe::ClientBuilder::new(config.secret_key.clone()).timeout(config.timeout).app_info(
            "proofsheet",
            Some(env!("CARGO_PKG_VERSION").to_owned()),
            None,
        );
        if let Some(base) = &config.api_base {
            let base = if base.ends_with('/') { base.clone() } else { format!("{base}/") };
            builder = builder.url(base);
        }
        let client = builder.build().map_err(|e| bad(&format!("building the Stripe client: {e}")))?;
        Ok(StripeGateway {
            client,
            webhook_secret: config.webhook_secret.into_bytes(),
            tolerance_secs: config.tolerance_secs,
            session_ttl: config.session_ttl,
        })
    }

    /// The session's expiry, and which window it is: `created + k * ttl`
    /// for the smallest `k >= 1` that leaves the buyer at least 30 minutes
    /// (Stripe's minimum). A retry within one window sends the very same
    /// parameters under the same idempotency key, so Stripe returns the same
    /// session rather than refusing the key; a checkout started again in a
    /// later window gets a new key (suffixed with `k`) and a new session.
    fn session_window(&self, created: DateTime<Utc>, now: DateTime<Utc>) -> (i64, DateTime<Utc>) {
        let ttl = self.session_ttl.num_seconds();
        let needed = (now + Duration::minutes(30) - created).num_seconds().max(1);
        let k = (needed + ttl - 1) / ttl;
        (k, created + Duration::seconds(k * ttl))
    }

    /// The request Stripe receives for `request` (exposed for tests).
    pub fn session_request(&self, request: &CheckoutRequest<'_>) -> CreateCheckoutSession {
        let order = request.order;
        let order_id = order.id.to_string();
        let currency: stripe_types::Currency =
            order.total.currency.as_str().to_ascii_lowercase().parse().expect("infallible");
        let line_items: Vec<_> = order
            .items
            .iter()
            .map(|item| {
                let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
                price.unit_amount = Some(item.price.amount);
                let mut product = ProductData::new(item.filename.clone());
                product.description = Some(format!("Photo from {}", request.album_name));
                product.metadata = Some(HashMap::from([("photo_id".to_owned(), item.photo_id.to_string())]));
                price.product_data = Some(product);
                let mut line = CreateCheckoutSessionLineItems::new();
                line.price_data = Some(price);
                line.quantity = Some(1);
                line
            })
            .collect();
        let metadata = HashMap::from([("order_id".to_owned(), order_id.clone())]);
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let mut create = CreateCheckoutSession::new()
            .mode(stripe_checkout::CheckoutSessionMode::Payment)
            .client_reference_id(order_id)
            .metadata(metadata)
            .payment_intent_data(intent)
            .line_items(line_items)
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone())
            .expires_at(self.session_window(order.created_at, request.now).1.timestamp());
        if let Some(email) = request.buyer_email {
            create = create.customer_email(email);
        }
        create
    }
}

fn stripe_error(e: StripeError) -> Error {
    let (message, retryable) = match &e {
        // 409 is Stripe's "idempotent request in flight"; 429 rate limiting.
        StripeError::Stripe(err, status) => (
            format!("Stripe answered {status}: {}", err.message.as_deref().unwrap_or("")),
            matches!(status, 409 | 429 | 500..),
        ),
        StripeError::ClientError(m) => (format!("Stripe is unreachable: {m}"), true),
        StripeError::Timeout => ("Stripe did not answer in time".into(), true),
        StripeError::JSONDeserialize(m) => (format!("unreadable Stripe response: {m}"), false),
        StripeError::ConfigError(m) => (format!("Stripe client configuration: {m}"), false),
    };
    Error::Gateway { message, retryable }
}

/// The parts of an event we read; everything else is ignored.
#[derive(Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    object: EventObject,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EventObject {
    id: String,
    client_reference_id: Option<String>,
    metadata: Option<HashMap<String, String>>,
    payment_status: Option<String>,
    payment_intent: Option<String>,
    refunded: Option<bool>,
}

impl EventObject {
    fn order_id(&self) -> Option<OrderId> {
        let from_meta = self.metadata.as_ref().and_then(|m| m.get("order_id"));
        self.client_reference_id.as_ref().or(from_meta).and_then(|s| s.parse().ok())
    }
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    fn name(&self) -> &str {
        "stripe"
    }

    async fn create_checkout(&self, request: &CheckoutRequest<'_>) -> Result<CheckoutSession> {
        let (window, _) = self.session_window(request.order.created_at, request.now);
        let key = IdempotencyKey::new(format!("{}-{window}", request.idempotency_key))
            .map_err(|e| Error::invalid("invalid_idempotency_key", format!("{e:?}")))?;
        let session = self
            .session_request(request)
            .customize()
            .request_strategy(RequestStrategy::Idempotent(key))
            .send(&self.client)
            .await
            .map_err(stripe_error)?;
        let url = session.url.ok_or_else(|| Error::Gateway {
            message: "Stripe returned a Checkout Session without a URL".into(),
            retryable: false,
        })?;
        tracing::info!(session = %session.id, "stripe checkout session created");
        Ok(CheckoutSession { url, reference: session.id.to_string() })
    }

    fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentEvent>> {
        let header = signature::header(headers, SIGNATURE_HEADER);
        signature::verify(header, body, &self.webhook_secret, now, self.tolerance_secs)?;
        // Verified: only now is the body read. JSON is UTF-8 throughout
        // (RFC 8259); serde_json checks that only in the fields it keeps,
        // so a body with bad bytes elsewhere is refused here, whole.
        std::str::from_utf8(body)
            .map_err(|e| Error::invalid("invalid_notification", format!("a Stripe event that is not UTF-8: {e}")))?;
        let event: Event = serde_json::from_slice(body)
            .map_err(|e| Error::invalid("invalid_notification", format!("unreadable Stripe event: {e}")))?;
        let object = &event.data.object;
        let outcome = match event.kind.as_str() {
            "checkout.session.completed" => match object.payment_status.as_deref() {
                Some("paid" | "no_payment_required") => PaymentOutcome::Paid,
                // Delayed payment methods: async_payment_succeeded follows.
                _ => return Ok(None),
            },
            "checkout.session.async_payment_succeeded" => PaymentOutcome::Paid,
            "checkout.session.async_payment_failed" => PaymentOutcome::Declined,
            "checkout.session.expired" => PaymentOutcome::Expired,
            "charge.refunded" if object.refunded == Some(true) => PaymentOutcome::Refunded,
            _ => return Ok(None),
        };
        let Some(order_id) = object.order_id() else {
            tracing::warn!(event = %event.id, kind = %event.kind, "Stripe event for no order of ours; ignored");
            return Ok(None);
        };
        let reference = object.payment_intent.clone().or_else(|| Some(object.id.clone()).filter(|s| !s.is_empty()));
        let checkout = event.kind.starts_with("checkout.session.").then(|| object.id.clone());
        Ok(Some(PaymentEvent { id: event.id, order_id, outcome, reference, checkout }))
    }

    async fn close_checkout(
        &self,
        order: &Order,
        reference: &str,
        _now: DateTime<Utc>,
    ) -> Result<Option<PaymentEvent>> {
        let session = match ExpireCheckoutSession::new(reference).send(&self.client).await {
            Ok(session) => session,
            // "Only open sessions can be expired": read where it ended.
            Err(StripeError::Stripe(_, 400)) => {
                RetrieveCheckoutSession::new(reference).send(&self.client).await.map_err(stripe_error)?
            }
            Err(e) => return Err(stripe_error(e)),
        };
        match (&session.status, &session.payment_status) {
            (Some(CheckoutSessionStatus::Expired), _) => {
                tracing::info!(session = %session.id, "earlier stripe checkout session expired");
                Ok(None)
            }
            (
                Some(CheckoutSessionStatus::Complete),
                CheckoutSessionPaymentStatus::Paid | CheckoutSessionPaymentStatus::NoPaymentRequired,
            ) => {
                tracing::info!(session = %session.id, "earlier stripe checkout session was paid");
                Ok(Some(PaymentEvent {
                    id: format!("{reference}.paid-when-closed"),
                    order_id: order.id,
                    outcome: PaymentOutcome::Paid,
                    reference: session.payment_intent.as_ref().map(|p| p.id().to_string()),
                    checkout: Some(reference.to_owned()),
                }))
            }
            (Some(CheckoutSessionStatus::Complete), _) => Err(Error::conflict(
                "payment_processing",
                "a payment for this order is still being processed; its result arrives by itself",
            )),
            (status, _) => Err(Error::Gateway {
                message: format!(
                    "Stripe left checkout session {reference} {}",
                    status.as_ref().map(|s| s.as_str()).unwrap_or("without a status")
                ),
                retryable: true,
            }),
        }
    }
}
