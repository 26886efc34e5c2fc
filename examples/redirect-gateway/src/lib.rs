//! A custom [`PaymentGateway`] for a provider with a *redirect-and-callback*
//! flow, the other common shape besides Stripe's API-plus-webhook: the shop
//! sends the buyer to the provider's hosted page with a signed URL (no API
//! call at all), and the provider posts a signed form back when the payment
//! settles. Many European PSPs work this way (hosted payment pages with an
//! HMAC over the fields).
//!
//! The provider here, "PayLink", is made up, but every rule a real
//! integration must keep is here:
//!
//! - **Idempotent checkout.** The redirect URL is a pure function of the
//!   order and the shared secret, so asking twice gives the same URL and
//!   the provider sees one payment per order (`reference` = our order id).
//! - **Verify before trust.** The callback's HMAC (over every field but
//!   `signature`, sorted by name) is checked in constant time, and its
//!   timestamp against a tolerance, *before* any field is interpreted.
//!   Anything unproven is `invalid_signature`; nothing changes.
//! - **Map, don't decide.** Provider statuses become
//!   [`PaymentOutcome`]s; the engine's order state machine decides what
//!   that changes, so duplicates and out-of-order callbacks are harmless.
//!   Statuses the shop does not act on return `Ok(None)`.
//!
//! Register it with the engine (`Backends::gateways`), and the reference
//! server routes its callbacks from `POST /api/v1/payments/paylink/webhook`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use proofsheet_core::{
    CheckoutRequest, CheckoutSession, Error, OrderId, PaymentEvent, PaymentGateway, PaymentOutcome, Result,
};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The PayLink gateway.
pub struct PayLink {
    merchant: String,
    secret: Vec<u8>,
    pay_page: String,
    tolerance_secs: i64,
}

impl std::fmt::Debug for PayLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("PayLink").field("merchant", &self.merchant).field("pay_page", &self.pay_page).finish()
    }
}

impl PayLink {
    /// A gateway for `merchant`, sharing `secret` with the provider, whose
    /// hosted page is at `pay_page` (e.g. `https://pay.paylink.example/pay`).
    pub fn new(merchant: impl Into<String>, secret: impl Into<Vec<u8>>, pay_page: impl Into<String>) -> Self {
        PayLink { merchant: merchant.into(), secret: secret.into(), pay_page: pay_page.into(), tolerance_secs: 300 }
    }

    /// HMAC-SHA256 over `k=v` pairs sorted by key, joined with `&`, as hex.
    pub fn sign(&self, fields: &[(String, String)]) -> String {
        let mut sorted: Vec<_> = fields.iter().filter(|(k, _)| k != "signature").collect();
        sorted.sort();
        let canonical: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(canonical.join("&").as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What the provider posts back (for tests and for a provider
    /// simulator): a form body with its signature.
    pub fn callback(&self, order: OrderId, status: &str, event_id: &str, at: DateTime<Utc>) -> Vec<u8> {
        let mut fields = vec![
            ("event_id".to_owned(), event_id.to_owned()),
            ("merchant".to_owned(), self.merchant.clone()),
            ("psp_reference".to_owned(), format!("psp-{event_id}")),
            ("reference".to_owned(), order.to_string()),
            ("status".to_owned(), status.to_owned()),
            ("timestamp".to_owned(), at.timestamp().to_string()),
        ];
        let signature = self.sign(&fields);
        fields.push(("signature".to_owned(), signature));
        form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish().into_bytes()
    }
}

fn invalid(message: &str) -> Error {
    Error::invalid("invalid_signature", message)
}

#[async_trait]
impl PaymentGateway for PayLink {
    fn name(&self) -> &str {
        "paylink"
    }

    async fn create_checkout(&self, request: &CheckoutRequest<'_>) -> Result<CheckoutSession> {
        let order = request.order;
        let fields = vec![
            ("amount".to_owned(), order.total.amount.to_string()),
            ("cancel_url".to_owned(), request.cancel_url.clone()),
            ("currency".to_owned(), order.total.currency.as_str().to_owned()),
            ("merchant".to_owned(), self.merchant.clone()),
            ("reference".to_owned(), order.id.to_string()),
            ("return_url".to_owned(), request.success_url.clone()),
        ];
        let signature = self.sign(&fields);
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .append_pair("signature", &signature)
            .finish();
        Ok(CheckoutSession { url: format!("{}?{query}", self.pay_page), reference: order.id.to_string() })
    }

    fn verify_notification(
        &self,
        _headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentEvent>> {
        // 1. Authenticate: the fields are only split, not interpreted.
        let fields: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
        let given = fields.iter().find(|(k, _)| k == "signature").map(|(_, v)| v.as_str());
        let given = given.ok_or_else(|| invalid("the callback is not signed"))?;
        if !bool::from(self.sign(&fields).as_bytes().ct_eq(given.as_bytes())) {
            return Err(invalid("the callback's signature does not match"));
        }
        let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let t: i64 = field("timestamp").and_then(|t| t.parse().ok()).ok_or_else(|| invalid("no timestamp"))?;
        if (now.timestamp() - t).abs() > self.tolerance_secs {
            return Err(invalid("the callback's timestamp is outside the tolerance"));
        }
        if field("merchant") != Some(self.merchant.as_str()) {
            return Err(invalid("the callback is for another merchant"));
        }
        // 2. Interpret.
        let outcome = match field("status") {
            Some("AUTHORISED") => PaymentOutcome::Paid,
            Some("REFUSED" | "CANCELLED") => PaymentOutcome::Declined,
            Some("EXPIRED") => PaymentOutcome::Expired,
            Some("REFUNDED") => PaymentOutcome::Refunded,
            _ => return Ok(None), // PENDING and the like: nothing to do yet
        };
        let order_id = field("reference")
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| Error::invalid("invalid_notification", "the callback names no order"))?;
        let id = field("event_id").filter(|e| !e.is_empty()).ok_or_else(|| invalid("no event id"))?;
        Ok(Some(PaymentEvent {
            id: id.to_owned(),
            order_id,
            outcome,
            reference: field("psp_reference").map(str::to_owned),
            checkout: None,
        }))
    }
}
