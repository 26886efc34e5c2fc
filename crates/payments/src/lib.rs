//! Proofsheet payment gateways.
//!
//! [`TestGateway`] is the offline gateway of the embedded default: its
//! checkout page is served by the Proofsheet server itself, and its
//! notifications are signed and verified exactly like a real provider's, so
//! the whole sale runs with no network. Stripe comes behind the `stripe`
//! feature. Write your own by implementing
//! [`PaymentGateway`](proofsheet_core::PaymentGateway).
#![warn(missing_docs)]

mod test_gateway;

pub use test_gateway::{SIGNATURE_HEADER, TestGateway, TestNotification};
