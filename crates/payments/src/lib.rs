//! Proofsheet payment gateways.
//!
//! [`TestGateway`] is the offline gateway of the embedded default: its
//! checkout page is served by the Proofsheet server itself, and its
//! notifications are signed and verified exactly like a real provider's, so
//! the whole sale runs with no network. [`StripeGateway`] is Stripe Checkout, behind the
//! `stripe` feature (on by default). Write your own by implementing
//! [`PaymentGateway`](proofsheet_core::PaymentGateway).
#![warn(missing_docs)]

pub mod signature;
#[cfg(feature = "stripe")]
pub mod stripe;
mod test_gateway;

#[cfg(feature = "stripe")]
pub use stripe::{StripeConfig, StripeGateway};
pub use test_gateway::{SIGNATURE_HEADER, TestGateway, TestNotification};
