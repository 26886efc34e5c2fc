//! `TestGateway`: an offline gateway whose payment page is the server's own.

use async_trait::async_trait;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use proofsheet_core::{
    CheckoutRequest, CheckoutSession, Error, OrderId, PaymentEvent, PaymentGateway, PaymentOutcome, Result,
};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::signature;

/// The header that carries a notification's signature.
pub const SIGNATURE_HEADER: &str = "proofsheet-signature";

/// The body of a test-gateway notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestNotification {
    /// Unique per notification.
    pub id: String,
    /// The order.
    pub order_id: OrderId,
    /// `paid` or `declined`.
    pub outcome: String,
}

/// A gateway that needs no network: `create_checkout` returns a page of the
/// Proofsheet server itself (`{base_url}/checkout/test/{session}`) with Pay
/// and Decline buttons. Those post back to the server, which turns the click
/// into a signed notification and feeds it through the same verification
/// and state machine as a real provider's webhook.
///
/// The session in the URL is the order id plus an HMAC of it, so only the
/// buyer who was given the checkout URL can pay or decline. Notifications
/// are signed like Stripe's: `t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`.
pub struct TestGateway {
    secret: Vec<u8>,
    base_url: String,
}

impl std::fmt::Debug for TestGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestGateway").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl TestGateway {
    /// A gateway signing with `secret` whose pages live under `base_url`.
    pub fn new(secret: impl Into<Vec<u8>>, base_url: impl Into<String>) -> Self {
        TestGateway { secret: secret.into(), base_url: base_url.into().trim_end_matches('/').to_owned() }
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// The session token for an order.
    pub fn session_for(&self, order: OrderId) -> String {
        let tag = self.mac(&[b"session:", order.as_uuid().as_bytes()]);
        format!("{order}.{}", URL_SAFE_NO_PAD.encode(&tag[..16]))
    }

    /// The order a session token stands for, if the token is genuine.
    pub fn order_of_session(&self, session: &str) -> Option<OrderId> {
        let (id, _) = session.split_once('.')?;
        let order: OrderId = id.parse().ok()?;
        let expected = self.session_for(order);
        bool::from(expected.as_bytes().ct_eq(session.as_bytes())).then_some(order)
    }

    /// Signs a notification body as the gateway would.
    pub fn sign(&self, body: &[u8], at: DateTime<Utc>) -> String {
        signature::sign(&self.secret, body, at)
    }

    /// A signed notification for a click on the payment page: (headers, body).
    pub fn notification(
        &self,
        order: OrderId,
        outcome: PaymentOutcome,
        at: DateTime<Utc>,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let outcome = outcome.as_str();
        let body = serde_json::to_vec(&TestNotification {
            id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
            order_id: order,
            outcome: outcome.into(),
        })
        .expect("serialisable");
        let header = self.sign(&body, at);
        (vec![(SIGNATURE_HEADER.to_owned(), header)], body)
    }
}

#[async_trait]
impl PaymentGateway for TestGateway {
    fn name(&self) -> &str {
        "test"
    }

    async fn create_checkout(&self, request: &CheckoutRequest<'_>) -> Result<CheckoutSession> {
        let session = self.session_for(request.order.id);
        Ok(CheckoutSession { url: format!("{}/checkout/test/{session}", self.base_url), reference: session })
    }

    fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<PaymentEvent>> {
        let header = signature::header(headers, SIGNATURE_HEADER);
        signature::verify(header, body, &self.secret, now, signature::DEFAULT_TOLERANCE_SECS)?;
        // Verified: only now is the body read (UTF-8 throughout, as the
        // Stripe gateway holds it).
        std::str::from_utf8(body)
            .map_err(|e| Error::invalid("invalid_notification", format!("a notification that is not UTF-8: {e}")))?;
        let n: TestNotification = serde_json::from_slice(body)
            .map_err(|e| Error::invalid("invalid_notification", format!("unreadable notification: {e}")))?;
        let outcome = match n.outcome.as_str() {
            "paid" => PaymentOutcome::Paid,
            "declined" => PaymentOutcome::Declined,
            "expired" => PaymentOutcome::Expired,
            "refunded" => PaymentOutcome::Refunded,
            _ => return Ok(None),
        };
        Ok(Some(PaymentEvent { id: n.id, order_id: n.order_id, outcome, reference: None, checkout: None }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw() -> TestGateway {
        TestGateway::new(b"test-secret-0123456789".to_vec(), "http://127.0.0.1:1/")
    }

    #[test]
    fn signed_notifications_verify_and_tampered_ones_do_not() {
        let g = gw();
        let now = Utc::now();
        let order = OrderId::new();
        let (headers, body) = g.notification(order, PaymentOutcome::Paid, now);
        let ev = g.verify_notification(&headers, &body, now).unwrap().unwrap();
        assert_eq!((ev.order_id, ev.outcome), (order, PaymentOutcome::Paid));

        let mut changed = body.clone();
        changed[5] ^= 1;
        assert_eq!(g.verify_notification(&headers, &changed, now).unwrap_err().code(), "invalid_signature");
        let other = TestGateway::new(b"another secret".to_vec(), "http://x");
        assert!(other.verify_notification(&headers, &body, now).is_err());
        assert!(g.verify_notification(&[], &body, now).is_err());
        let late = now + chrono::Duration::seconds(301);
        assert!(g.verify_notification(&headers, &body, late).is_err());
        let garbage = vec![(SIGNATURE_HEADER.to_owned(), "garbage".to_owned())];
        assert!(g.verify_notification(&garbage, &body, now).is_err());
    }

    #[test]
    fn sessions_cannot_be_forged() {
        let g = gw();
        let order = OrderId::new();
        let s = g.session_for(order);
        assert_eq!(g.order_of_session(&s), Some(order));
        assert_eq!(g.order_of_session(&format!("{order}.AAAAAAAAAAAAAAAAAAAAAA")), None);
        assert_eq!(g.order_of_session(&gw().session_for(OrderId::new())[..10]), None);
    }
}

#[cfg(test)]
mod conformance {
    use chrono::Utc;
    use proofsheet_core::{OrderStatus, PaymentOutcome, Role, testkit};

    use super::TestGateway;

    #[tokio::test]
    async fn test_gateway_passes_the_gateway_suite() {
        let g = TestGateway::new(b"conformance-secret".to_vec(), "http://127.0.0.1:9");
        let ph = testkit::user("ph@x.test", Role::Photographer);
        let cl = testkit::user("cl@x.test", Role::Client);
        let album = testkit::album(&ph, proofsheet_core::Visibility::Public, None);
        let photo = testkit::photo(album.id);
        let order = testkit::order(&cl, &album, &[&photo]);
        assert_eq!(order.status, OrderStatus::Pending);
        let genuine = g.notification(order.id, PaymentOutcome::Paid, Utc::now());
        testkit::payment_gateway("test", &g, &order, genuine).await;
    }
}
