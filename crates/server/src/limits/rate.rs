//! Request rates (governor's GCRA, keyed), by class.
//!
//! A route that spends declares its [`Class`] where it is defined, with
//! the [`Limited`] middleware (the API's operations through
//! `crate::api::guards`). Per client (see [`super::client`]): registration,
//! sign-in, sign-in links, downloads and "Find me" selfie searches (which
//! are also limited per album). Per session (the bearer token or the web
//! app's session cookie, hashed; a call without one falls back to the
//! client): uploads, orders and checkout. A limited request answers 429
//! `rate_limited` with `Retry-After` before its handler, its
//! authentication or its body are looked at.

use std::{
    collections::HashMap,
    hash::Hash,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use sha2::{Digest, Sha256};

use super::{LimitsConfig, ceil_secs, client, signin::FailedSignIns, too_many};

/// What a limited route spends, and so which limit it counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Making an account (`limits.register_per_minute`, per client).
    Register,
    /// A password or sign-in-link sign-in, or a password change
    /// (`limits.signin_per_minute`, per client).
    SignIn,
    /// Mailing a sign-in link (`limits.email_links_per_minute`, per client).
    EmailLink,
    /// Reading a download link (`limits.downloads_per_minute`, per client).
    Download,
    /// Sending photo bytes (`limits.uploads_per_minute`, per session).
    Upload,
    /// Making an order (`limits.orders_per_minute`, per session).
    Order,
    /// Opening a payment (`limits.checkout_per_minute`, per session).
    Checkout,
    /// A selfie search (`limits.find_me_per_minute` per client, and
    /// `limits.find_me_per_album_per_minute` per album: the route's
    /// `album_id`).
    FindMe,
}

impl Class {
    /// Every class.
    pub const ALL: [Class; 8] = [
        Class::Register,
        Class::SignIn,
        Class::EmailLink,
        Class::Download,
        Class::Upload,
        Class::Order,
        Class::Checkout,
        Class::FindMe,
    ];

    /// Its name in logs.
    pub fn name(self) -> &'static str {
        match self {
            Class::Register => "register",
            Class::SignIn => "sign_in",
            Class::EmailLink => "email_link",
            Class::Download => "download",
            Class::Upload => "upload",
            Class::Order => "order",
            Class::Checkout => "checkout",
            Class::FindMe => "find_me",
        }
    }

    fn per_minute(self, config: &LimitsConfig) -> u32 {
        match self {
            Class::Register => config.register_per_minute,
            Class::SignIn => config.signin_per_minute,
            Class::EmailLink => config.email_links_per_minute,
            Class::Download => config.downloads_per_minute,
            Class::Upload => config.uploads_per_minute,
            Class::Order => config.orders_per_minute,
            Class::Checkout => config.checkout_per_minute,
            Class::FindMe => config.find_me_per_minute,
        }
    }

    /// Whether one session's calls share a bucket (else one client's do).
    fn per_session(self) -> bool {
        matches!(self, Class::Upload | Class::Order | Class::Checkout)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(IpAddr),
    Session([u8; 32]),
}

/// The limiters of one process, and its failed sign-in tracker.
pub struct Limits {
    limiters: HashMap<Class, DefaultKeyedRateLimiter<Key>>,
    per_album: Option<DefaultKeyedRateLimiter<String>>,
    link_addresses: Option<DefaultKeyedRateLimiter<String>>,
    signins: FailedSignIns,
    seen: AtomicU64,
}

fn keyed<K: Hash + Eq + Clone>(per_minute: u32, enabled: bool) -> Option<DefaultKeyedRateLimiter<K>> {
    NonZeroU32::new(per_minute).filter(|_| enabled).map(|n| RateLimiter::keyed(Quota::per_minute(n)))
}

/// `Err(seconds to wait)` when `key` is over `limiter`'s rate.
fn take<K: Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), u64> {
    limiter
        .check_key(key)
        .map_err(|not_until| ceil_secs(not_until.wait_time_from(governor::clock::DefaultClock::default().now())))
}

impl Limits {
    /// Limiters for `config` (none when disabled).
    pub fn new(config: &LimitsConfig) -> Self {
        let limiters = Class::ALL
            .into_iter()
            .filter_map(|class| Some((class, keyed(class.per_minute(config), config.enabled)?)))
            .collect();
        let link_addresses = NonZeroU32::new(config.email_links_per_address_per_hour)
            .filter(|_| config.enabled)
            .and_then(|n| Quota::with_period(Duration::from_secs(3600) / n.get()).map(|q| q.allow_burst(n)))
            .map(RateLimiter::keyed);
        Limits {
            limiters,
            per_album: keyed(config.find_me_per_album_per_minute, config.enabled),
            link_addresses,
            signins: FailedSignIns::new(config),
            seen: AtomicU64::new(0),
        }
    }

    /// `Err(seconds to wait)` when another sign-in link to `email` is over
    /// `limits.email_links_per_address_per_hour` (counted whether or not
    /// the address has an account, so the answer tells nothing).
    pub fn email_link_allowed(&self, email: &str) -> Result<(), u64> {
        let Some(limiter) = &self.link_addresses else { return Ok(()) };
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        take(limiter, &email.trim().to_lowercase())
    }

    /// The failed sign-in tracker.
    pub fn signins(&self) -> &FailedSignIns {
        &self.signins
    }

    /// `Err(seconds to wait)` when `req`, of `class`, is over its limit.
    pub fn check(&self, class: Class, req: &Request) -> Result<(), u64> {
        if self.seen.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            // Forget keys that are back to a full bucket, so memory stays bounded.
            for l in self.limiters.values() {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.per_album {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        if let Some(limiter) = self.limiters.get(&class) {
            let key = match crate::credentials::claimed_session(req).filter(|_| class.per_session()) {
                // The token itself, however the scheme is spelled: one
                // bucket per session, API and web app alike.
                Some(token) => Key::Session(Sha256::digest(token.as_bytes()).into()),
                None => Key::Client(client(req)),
            };
            take(limiter, &key)?;
        }
        if class == Class::FindMe
            && let (Some(limiter), Some(album)) = (&self.per_album, crate::credentials::album_in_path(req))
        {
            take(limiter, &album.to_owned())?;
        }
        Ok(())
    }
}

/// The middleware a route of a [`Class`] is wrapped in. It reads the
/// process's [`Limits`] from the request (`routes::with_middleware` attaches them).
#[derive(Debug, Clone, Copy)]
pub struct Limited(pub Class);

impl<E: Endpoint> Middleware<E> for Limited {
    type Output = LimitedEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        LimitedEndpoint { inner: ep, class: self.0 }
    }
}

/// See [`Limited`].
pub struct LimitedEndpoint<E> {
    inner: E,
    class: Class,
}

impl<E: Endpoint> Endpoint for LimitedEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let limits = req.data::<Arc<Limits>>().expect("routes::with_middleware attaches the limits to every request");
        if let Err(wait) = limits.check(self.class, &req) {
            tracing::info!(class = self.class.name(), retry_after = wait, "rate limited");
            return Ok(too_many(wait));
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
