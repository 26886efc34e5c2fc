//! Proofsheet payment gateways.
//!
//! [`TestGateway`] is the offline gateway of the embedded default: its
//! checkout page is served by the Proofsheet server itself, and its
//! notifications are signed and verified exactly like a real provider's, so
//! the whole sale runs with no network. [`StripeGateway`] is Stripe Checkout, behind the
//! `stripe` feature (on by default). Write your own by implementing
//! [`PaymentGateway`](proofsheet_core::PaymentGateway) (`examples/redirect-gateway`
//! is one, with the suite every gateway passes).
//!
//! A gateway turns a provider's notification into a [`PaymentEvent`](proofsheet_core::PaymentEvent)
//! only when its signature checks out:
//!
//! ```
//! use proofsheet_core::{OrderId, PaymentGateway, PaymentOutcome};
//! use proofsheet_payments::TestGateway;
//!
//! let gateway = TestGateway::new(b"a secret shared with the provider".to_vec(), "http://localhost:8080");
//! let (order, now) = (OrderId::new(), chrono::Utc::now());
//! let (headers, body) = gateway.notification(order, PaymentOutcome::Paid, now);
//! let event = gateway.verify_notification(&headers, &body, now)?.expect("a payment event");
//! assert_eq!((event.order_id, event.outcome), (order, PaymentOutcome::Paid));
//!
//! // Signed by anyone else, or changed on the way: refused, nothing read.
//! let stranger = TestGateway::new(b"another secret".to_vec(), "http://localhost:8080");
//! let (forged_headers, _) = stranger.notification(order, PaymentOutcome::Paid, now);
//! assert_eq!(gateway.verify_notification(&forged_headers, &body, now).unwrap_err().code(), "invalid_signature");
//! # Ok::<(), proofsheet_core::Error>(())
//! ```
#![warn(missing_docs)]

pub mod signature;
#[cfg(feature = "stripe")]
pub mod stripe;
mod test_gateway;

#[cfg(feature = "stripe")]
pub use stripe::{StripeConfig, StripeGateway};
pub use test_gateway::{SIGNATURE_HEADER, TestGateway, TestNotification};
