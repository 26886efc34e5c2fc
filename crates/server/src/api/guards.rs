//! What an API operation costs, declared on the operation itself:
//! `#[oai(path = ..., method = ..., transform = "uploading")]`. Each guard
//! is the operation's rate-limit class ([`crate::limits::rate`]), its body
//! class ([`crate::limits::body`]) and, for bodies that must not be read
//! before the caller is known, its gate ([`crate::bodies::BodyGate`]), in
//! that order: the cheapest refusal first. An operation with no guard has
//! no rate limit and takes `limits.body_bytes`; the security tests hold
//! every operation to its decision.

use poem::{Endpoint, EndpointExt};

use crate::{
    bodies::BodyGate,
    limits::{BodyClass, Class, Limited, Sized},
};

/// `POST /users`.
pub fn registering<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::Register))
}

/// Password sign-ins, link exchanges, password changes.
pub fn signing_in<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::SignIn))
}

/// `POST /sessions/email-link`.
pub fn mailing_link<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::EmailLink))
}

/// `GET /downloads/{token}` (and its `HEAD`).
pub fn downloading<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::Download))
}

/// `POST /albums/{album_id}/photos`: limited, upload-sized, owner-gated.
pub fn uploading<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(BodyGate::Upload).with(Sized(BodyClass::Upload)).with(Limited(Class::Upload))
}

/// Starting a resumable upload (no body).
pub fn starting_upload<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::Upload))
}

/// A resumable upload's `PATCH` (the handler checks the owner before
/// reading: a tus body is raw bytes, streamed, never spooled).
pub fn resuming<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Sized(BodyClass::Upload)).with(Limited(Class::Upload))
}

/// `POST /orders`.
pub fn ordering<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::Order))
}

/// `POST /orders/{order_id}/checkout`.
pub fn checking_out<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Limited(Class::Checkout))
}

/// `POST /albums/{album_id}/find-me`: limited, selfie-sized, gated.
pub fn finding_me<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(BodyGate::FindMe).with(Sized(BodyClass::Selfie)).with(Limited(Class::FindMe))
}

/// `POST /payments/{gateway}/webhook`: the gateway's own body size.
pub fn webhook_sized<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Sized(BodyClass::Webhook))
}

/// `PUT /albums/{album_id}/order`: up to 10,000 photo ids.
pub fn order_sized<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Sized(BodyClass::PhotoOrder))
}

/// `PUT /users/me/logo`.
pub fn logo_sized<E: Endpoint>(ep: E) -> impl Endpoint {
    ep.with(Sized(BodyClass::Logo))
}
