//! What one client may cost: request rates ([`rate`]), request bodies
//! ([`body`]) and password guesses ([`signin`]), with their configuration
//! (`[limits]`, [`LimitsConfig`]) and who counts as one client
//! ([`client`]).
//!
//! Routes declare their classes where they are defined: an API operation
//! with `#[oai(..., transform = "...")]`, a web form with
//! `.with(Limited(Class::...))`. Nothing here knows a path.
//!
//! The client is the TCP peer: put the server behind a proxy that limits by
//! the real client, or raise these.

pub mod body;
pub mod rate;
pub mod signin;

use std::{net::IpAddr, time::Duration};

use poem::{IntoResponse, Request, Response};
use serde::{Deserialize, Serialize};

pub use body::{BodyClass, BodyLimit, Sized};
pub use rate::{Class, Limited, Limits};
pub use signin::{ACCOUNT_WIDE_FACTOR, FailedSignIns};

/// `[limits]`: requests per minute (each is also the burst); 0 is no limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Switch every limit off (trusted benchmarks, a proxy that limits).
    pub enabled: bool,
    /// `POST /users`, per client IP.
    pub register_per_minute: u32,
    /// `POST /sessions`, per client IP.
    pub signin_per_minute: u32,
    /// `POST /sessions/email-link` (and the web app's "Email me a sign-in
    /// link"), per client IP.
    pub email_links_per_minute: u32,
    /// Sign-in links mailed to one address per hour (more requests answer
    /// 429 and send nothing).
    pub email_links_per_address_per_hour: u32,
    /// `GET /downloads/{token}`, per client IP.
    pub downloads_per_minute: u32,
    /// `POST /albums/{id}/photos`, per token.
    pub uploads_per_minute: u32,
    /// `POST /orders`, per token.
    pub orders_per_minute: u32,
    /// `POST /orders/{id}/checkout`, per token.
    pub checkout_per_minute: u32,
    /// `POST /albums/{id}/find-me` (a selfie search), per client IP.
    pub find_me_per_minute: u32,
    /// `POST /albums/{id}/find-me`, per album, whoever asks: one album's
    /// guests together (a gallery shared at an event) cannot take all of
    /// the server's CPU.
    pub find_me_per_album_per_minute: u32,
    /// Failed sign-ins in a row before an account is slowed down.
    pub signin_failures_before_delay: u32,
    /// The longest wait between sign-in attempts of a slowed account.
    pub signin_max_delay_seconds: u32,
    /// Largest request body of every route but uploads and payment
    /// webhooks, in bytes (JSON bodies are small). Larger: 413
    /// `body_too_large`, counted on the stream, with or without
    /// `Content-Length`. Uploads are bounded by `uploads.max_bytes`.
    pub body_bytes: u64,
    /// Largest payment webhook body, in bytes.
    pub webhook_body_bytes: u64,
    /// Storage one photographer may use, in bytes: the originals in their
    /// albums plus their unfinished resumable uploads (0: no quota). Over
    /// it, uploads answer 507 `quota_exceeded`. Applies whether or not
    /// `enabled` is set (it guards the disk, not the request rate).
    pub storage_per_photographer: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            enabled: true,
            register_per_minute: 300,
            signin_per_minute: 600,
            email_links_per_minute: 30,
            email_links_per_address_per_hour: 5,
            downloads_per_minute: 600,
            uploads_per_minute: 6000,
            orders_per_minute: 120,
            checkout_per_minute: 120,
            find_me_per_minute: 20,
            find_me_per_album_per_minute: 240,
            signin_failures_before_delay: 10,
            signin_max_delay_seconds: 300,
            body_bytes: 64 * 1024,
            storage_per_photographer: 100 * 1024 * 1024 * 1024,
            webhook_body_bytes: 1024 * 1024,
        }
    }
}

/// Whole seconds to wait, rounded up (a `Retry-After` of 0 would invite
/// an immediate retry).
fn ceil_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The 429 every limit answers with: the API's own error reply.
fn too_many(retry_after: u64) -> Response {
    let error = proofsheet_core::Error::RateLimited {
        message: "too many requests; try again later".into(),
        retry_after: retry_after.max(1),
    };
    crate::api::error::ApiError::from(error).into_response()
}

/// The client IP of a request: the TCP peer (`0.0.0.0` when unknown).
pub fn client_ip(req: &Request) -> IpAddr {
    req.remote_addr().as_socket_addr().map(|a| a.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// The client a request counts as for limits: [`client_key`] of its
/// [`client_ip`].
pub fn client(req: &Request) -> IpAddr {
    client_key(client_ip(req))
}

/// The client an address counts as for limits: an IPv4 address (also when
/// written IPv4-mapped), or an IPv6 address's /64 network, since one
/// subscriber holds a whole /64 and could otherwise use addresses without
/// end.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b), "one /64, one client");
        assert_eq!(client_key(a), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        assert_eq!(client_key("::ffff:192.0.2.7".parse().unwrap()), v4, "IPv4-mapped is the IPv4 client");
    }
}
