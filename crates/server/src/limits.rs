//! Rate limits (governor's GCRA, keyed) and the failed sign-in slowdown.
//!
//! Per client IP: registration, sign-in, downloads and "Find me" selfie
//! searches (which are also limited per album). Per bearer token
//! (its SHA-256; anonymous calls fall back to the IP): uploads, orders and
//! checkout. A limited request answers 429 `rate_limited` with
//! `Retry-After` before any handler runs. The client IP is the TCP peer: put
//! the server behind a proxy that limits by the real client, or raise these.
//!
//! Failed sign-ins slow down the *account as tried from one client IP*:
//! after `limits.signin_failures_before_delay` failures in a row from that
//! IP, each further attempt from it must wait 1 s, then 2 s, 4 s, ... up to
//! `limits.signin_max_delay_seconds`; during the wait its attempts answer
//! 429 (even with the right password, or guessing would go on). The owner
//! signing in from another address is not slowed by that, so a stranger's
//! wrong guesses from one address cannot lock the owner out. Guessing from
//! many addresses (an IPv6 /64 counts as one) is held back by the per-IP
//! sign-in limit and by an account-wide count: past 4 times
//! `limits.signin_failures_before_delay` failures from all addresses
//! together, every password sign-in of the account waits the same way.
//! That slows the owner's password too, never their mailed sign-in link.
//! A success resets the counts.

use std::{
    collections::HashMap,
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::api::albums::DRAIN_LIMIT;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter, clock::Clock};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, http::Method};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Register,
    SignIn,
    EmailLink,
    Download,
    Upload,
    Order,
    Checkout,
    FindMe,
    FindMeAlbum,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Ip(IpAddr),
    Token([u8; 32]),
    Album(String),
}

/// The limiters of one process.
pub struct Limits {
    limiters: HashMap<Kind, DefaultKeyedRateLimiter<Key>>,
    signins: FailedSignIns,
    seen: AtomicU64,
    link_addresses: Option<DefaultKeyedRateLimiter<String>>,
}

impl Limits {
    /// Limiters for `config` (none when disabled).
    pub fn new(config: &LimitsConfig) -> Self {
        let mut limiters = HashMap::new();
        if config.enabled {
            for (kind, per_minute) in [
                (Kind::Register, config.register_per_minute),
                (Kind::SignIn, config.signin_per_minute),
                (Kind::EmailLink, config.email_links_per_minute),
                (Kind::Download, config.downloads_per_minute),
                (Kind::Upload, config.uploads_per_minute),
                (Kind::Order, config.orders_per_minute),
                (Kind::Checkout, config.checkout_per_minute),
                (Kind::FindMe, config.find_me_per_minute),
                (Kind::FindMeAlbum, config.find_me_per_album_per_minute),
            ] {
                if let Some(n) = NonZeroU32::new(per_minute) {
                    limiters.insert(kind, RateLimiter::keyed(Quota::per_minute(n)));
                }
            }
        }
        let signins = FailedSignIns {
            enabled: config.enabled && config.signin_failures_before_delay > 0,
            free: config.signin_failures_before_delay,
            max_delay: Duration::from_secs(u64::from(config.signin_max_delay_seconds.max(1))),
            accounts: Mutex::new(HashMap::new()),
            everywhere: Mutex::new(HashMap::new()),
        };
        let link_addresses = NonZeroU32::new(config.email_links_per_address_per_hour)
            .filter(|_| config.enabled)
            .and_then(|n| Quota::with_period(Duration::from_secs(3600) / n.get()).map(|q| q.allow_burst(n)))
            .map(RateLimiter::keyed);
        Limits { limiters, signins, seen: AtomicU64::new(0), link_addresses }
    }

    /// `Err(seconds to wait)` when another sign-in link to `email` is over
    /// `limits.email_links_per_address_per_hour` (counted whether or not
    /// the address has an account, so the answer tells nothing).
    pub fn email_link_allowed(&self, email: &str) -> Result<(), u64> {
        let Some(limiter) = &self.link_addresses else { return Ok(()) };
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        limiter
            .check_key(&email.trim().to_lowercase())
            .map_err(|not_until| ceil_secs(not_until.wait_time_from(governor::clock::DefaultClock::default().now())))
    }

    /// The failed sign-in tracker.
    pub fn signins(&self) -> &FailedSignIns {
        &self.signins
    }

    /// `Err(seconds to wait)` when `req` is over its limit.
    fn check(&self, req: &Request) -> Result<(), u64> {
        let Some(kind) = classify(req.method(), req.uri().path()) else { return Ok(()) };
        if let Some(limiter) = self.limiters.get(&kind) {
            self.check_one(req, kind, limiter)?;
        }
        if kind == Kind::FindMe {
            // Per album too: the album's id is the path's fourth segment.
            if let (Some(limiter), Some(album)) =
                (self.limiters.get(&Kind::FindMeAlbum), req.uri().path().split('/').nth(4))
            {
                let now = governor::clock::DefaultClock::default().now();
                limiter
                    .check_key(&Key::Album(album.to_owned()))
                    .map_err(|not_until| ceil_secs(not_until.wait_time_from(now)))?;
            }
        }
        Ok(())
    }

    fn check_one(&self, req: &Request, kind: Kind, limiter: &DefaultKeyedRateLimiter<Key>) -> Result<(), u64> {
        if self.seen.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            // Forget keys that are back to a full bucket, so memory stays bounded.
            for l in self.limiters.values() {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        let ip = client(req);
        let key = match kind {
            Kind::Register | Kind::SignIn | Kind::EmailLink | Kind::Download | Kind::FindMe | Kind::FindMeAlbum => {
                Key::Ip(ip)
            }
            Kind::Upload | Kind::Order | Kind::Checkout => {
                // The token itself, however the scheme is spelled
                // (`Bearer`, `bearer`), or the web app's session cookie
                // (the same token): one bucket per session.
                let session = crate::web::cookie(req, crate::web::SESSION_COOKIE).filter(|t| !t.is_empty());
                match crate::api::users::bearer_token(req).or(session) {
                    Some(token) => Key::Token(Sha256::digest(token.as_bytes()).into()),
                    None => Key::Ip(ip),
                }
            }
        };
        limiter
            .check_key(&key)
            .map_err(|not_until| ceil_secs(not_until.wait_time_from(governor::clock::DefaultClock::default().now())))
    }
}

fn classify(method: &Method, path: &str) -> Option<Kind> {
    // The web app's forms share the API's limits.
    let web: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match (method, web.as_slice()) {
        (&Method::POST, ["register"]) => return Some(Kind::Register),
        (&Method::POST, ["signin"] | ["signin", "link"] | ["account", "password"]) => return Some(Kind::SignIn),
        (&Method::POST, ["signin", "email-link"]) => return Some(Kind::EmailLink),
        // The web checkout makes an order; paying opens a checkout.
        (&Method::POST, ["albums", _, "checkout"]) => return Some(Kind::Order),
        (&Method::POST, ["orders", _, "pay"]) => return Some(Kind::Checkout),
        _ => {}
    }
    let rest = path.strip_prefix("/api/v1/")?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    match (method, parts.as_slice()) {
        (&Method::POST, ["users"]) => Some(Kind::Register),
        (&Method::POST, ["sessions"] | ["sessions", "email-link", "exchange"]) => Some(Kind::SignIn),
        (&Method::PUT, ["users", "me", "password"]) => Some(Kind::SignIn),
        (&Method::POST, ["sessions", "email-link"]) => Some(Kind::EmailLink),
        (&Method::GET | &Method::HEAD, ["downloads", _]) => Some(Kind::Download),
        (&Method::POST, ["albums", _, "photos"] | ["albums", _, "uploads"]) => Some(Kind::Upload),
        (&Method::PATCH, ["albums", _, "uploads", _]) => Some(Kind::Upload),
        (&Method::POST, ["orders"]) => Some(Kind::Order),
        (&Method::POST, ["orders", _, "checkout"]) => Some(Kind::Checkout),
        (&Method::POST, ["albums", _, "find-me"]) => Some(Kind::FindMe),
        _ => None,
    }
}

/// The rate-limit class of a request (`register`, `sign_in`,
/// `email_link`, `download`, `upload`, `order`, `checkout`, `find_me`), or
/// `None` for a route no rate limit covers. Public so a test can hold
/// every operation of the API document to a decision.
pub fn limit_class(method: &Method, path: &str) -> Option<&'static str> {
    classify(method, path).map(|k| match k {
        Kind::Register => "register",
        Kind::SignIn => "sign_in",
        Kind::EmailLink => "email_link",
        Kind::Download => "download",
        Kind::Upload => "upload",
        Kind::Order => "order",
        Kind::Checkout => "checkout",
        Kind::FindMe | Kind::FindMeAlbum => "find_me",
    })
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

/// The middleware applying [`Limits`].
pub struct RateLimit(pub Arc<Limits>);

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        RateLimitEndpoint { inner: ep, limits: self.0.clone() }
    }
}

/// See [`RateLimit`].
pub struct RateLimitEndpoint<E> {
    inner: E,
    limits: Arc<Limits>,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        if let Err(wait) = self.limits.check(&req) {
            // The route template, never the raw path: download tokens live in paths.
            let route = crate::api::spec::template_of(req.uri().path()).unwrap_or_else(|| "other".into());
            tracing::info!(route = %route, retry_after = wait, "rate limited");
            return Ok(too_many(wait));
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

/// Request body limits, enforced on the body stream itself: a declared
/// `Content-Length` over the limit is refused before anything is read, and
/// a chunked body is cut off at the limit, before a handler (or poem's
/// multipart spooling) can hold more of it. Either way the answer is 413
/// `body_too_large`.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// Every route but these two and `PUT /api/v1/users/me/logo`
    /// (`proofsheet_core::MAX_LOGO_BYTES`, `logo_too_large`).
    pub default: u64,
    /// `POST /api/v1/payments/{gateway}/webhook`.
    pub webhook: u64,
    /// `POST /api/v1/albums/{id}/photos`: `uploads.max_bytes` plus room for
    /// multipart headers.
    pub upload: u64,
}

impl BodyLimit {
    /// The limit of a route, and the code its 413 carries (uploads keep
    /// the `upload_too_large` their handler answers too).
    fn of(&self, method: &Method, path: &str) -> (u64, &'static str) {
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            (&Method::POST, ["", "api", "v1", "albums", _, "photos"])
            | (&Method::PATCH, ["", "api", "v1", "albums", _, "uploads", _]) => (self.upload, "upload_too_large"),
            (&Method::POST, ["", "api", "v1", "payments", _, "webhook"]) => (self.webhook, "body_too_large"),
            (&Method::PUT, ["", "api", "v1", "users", "me", "logo"]) => {
                (proofsheet_core::MAX_LOGO_BYTES as u64, "logo_too_large")
            }
            // The selfie plus room for multipart headers.
            (&Method::POST, ["", "api", "v1", "albums", _, "find-me"]) => {
                (crate::api::albums::MAX_SELFIE_BYTES as u64 + 64 * 1024, "selfie_too_large")
            }
            _ => (self.default, "body_too_large"),
        }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint { inner: ep, limit: *self }
    }
}

/// See [`BodyLimit`].
pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: BodyLimit,
}

fn body_too_large(limit: u64, code: &'static str) -> Response {
    let error = proofsheet_core::Error::TooLarge {
        code,
        message: format!("the request body is larger than this route takes ({limit} bytes)"),
    };
    crate::api::error::ApiError::from(error).into_response()
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let (limit, code) = self.limit.of(req.method(), req.uri().path());
        let declared = req
            .headers()
            .get(poem::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            // Read a little of it in the background and drop it, so a client
            // that is still sending gets to read this 413 instead of a reset
            // connection; a huge body is cut off after DRAIN_LIMIT bytes, the
            // same allowance the upload handler drains.
            let body = req.take_body().into_async_read();
            tokio::spawn(async move {
                let mut sink = tokio::io::sink();
                let _ = tokio::io::copy(&mut tokio::io::AsyncReadExt::take(body, DRAIN_LIMIT), &mut sink).await;
            });
            return Ok(body_too_large(limit, code));
        }
        let tripped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = tripped.clone();
        let mut seen = 0u64;
        let body = req.take_body().into_bytes_stream();
        let bounded = futures::StreamExt::map(body, move |chunk| {
            let chunk = chunk?;
            seen = seen.saturating_add(chunk.len() as u64);
            if seen > limit {
                flag.store(true, Ordering::Relaxed);
                return Err(std::io::Error::other("request body over its limit"));
            }
            Ok(chunk)
        });
        req.set_body(poem::Body::from_bytes_stream(bounded));
        let resp = self.inner.call(req).await.map(IntoResponse::into_response);
        if tripped.load(Ordering::Relaxed) {
            return Ok(body_too_large(limit, code));
        }
        resp
    }
}

/// Consecutive failed sign-ins per account and client (IP, or IPv6 /64),
/// with an exponential delay; and per account from every client together,
/// past [`ACCOUNT_WIDE_FACTOR`] times as many failures, so guessing from
/// many addresses is slowed too. Only password sign-ins are slowed: the
/// owner can always sign in with a mailed link.
pub struct FailedSignIns {
    enabled: bool,
    free: u32,
    max_delay: Duration,
    accounts: Mutex<HashMap<(String, IpAddr), (u32, Instant)>>,
    everywhere: Mutex<HashMap<String, (u32, Instant)>>,
}

/// An account's failures from all clients together may be this many times
/// the per-client allowance (`limits.signin_failures_before_delay`) before
/// every password sign-in of the account waits.
pub const ACCOUNT_WIDE_FACTOR: u32 = 4;

/// One more failure on a record: past `free`, the next attempt waits
/// 1 s, 2 s, 4 s, ... up to `max_delay`.
fn count_failure(entry: &mut (u32, Instant), free: u32, max_delay: Duration, now: Instant) {
    entry.0 += 1;
    if entry.0 >= free {
        let doublings = (entry.0 - free).min(20);
        entry.1 = now + Duration::from_secs(1u64 << doublings).min(max_delay);
    }
}

fn account_key(email: &str, ip: IpAddr) -> (String, IpAddr) {
    (email.trim().to_lowercase(), ip)
}

impl FailedSignIns {
    /// `Err(seconds)` while `email` must wait before its next attempt from `ip`.
    pub fn check(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let wait = |until: Option<Instant>| until.filter(|u| *u > now).map(|u| ceil_secs(u - now));
        let here = wait(self.accounts.lock().unwrap().get(&account_key(email, ip)).map(|(_, until)| *until));
        let all = wait(self.everywhere.lock().unwrap().get(&account_key(email, ip).0).map(|(_, until)| *until));
        match here.max(all) {
            Some(seconds) => Err(seconds),
            None => Ok(()),
        }
    }

    /// Records a failure; past the free ones, the next attempt from `ip` must wait.
    pub fn failed(&self, email: &str, ip: IpAddr) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap();
        if accounts.len() > 100_000 {
            // Bounded memory: forget accounts whose wait is long over.
            accounts.retain(|_, (_, until)| *until + self.max_delay > now);
        }
        let key = account_key(email, ip);
        count_failure(accounts.entry(key.clone()).or_insert((0, now)), self.free, self.max_delay, now);
        drop(accounts);
        let mut everywhere = self.everywhere.lock().unwrap();
        if everywhere.len() > 100_000 {
            everywhere.retain(|_, (_, until)| *until + self.max_delay > now);
        }
        let free = self.free.saturating_mul(ACCOUNT_WIDE_FACTOR);
        count_failure(everywhere.entry(key.0).or_insert((0, now)), free, self.max_delay, now);
    }

    /// A success clears the record of `email` from `ip`.
    pub fn succeeded(&self, email: &str, ip: IpAddr) {
        if self.enabled {
            let key = account_key(email, ip);
            self.accounts.lock().unwrap().remove(&key);
            self.everywhere.lock().unwrap().remove(&key.0);
        }
    }
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

    #[test]
    fn routes_are_classified() {
        assert_eq!(classify(&Method::POST, "/api/v1/users"), Some(Kind::Register));
        assert_eq!(classify(&Method::POST, "/api/v1/sessions"), Some(Kind::SignIn));
        assert_eq!(classify(&Method::DELETE, "/api/v1/sessions/current"), None);
        assert_eq!(classify(&Method::GET, "/api/v1/downloads/abc"), Some(Kind::Download));
        assert_eq!(classify(&Method::POST, "/api/v1/albums/x/photos"), Some(Kind::Upload));
        assert_eq!(classify(&Method::GET, "/api/v1/albums/x/photos"), None);
        assert_eq!(classify(&Method::POST, "/api/v1/orders"), Some(Kind::Order));
        assert_eq!(classify(&Method::POST, "/api/v1/orders/x/checkout"), Some(Kind::Checkout));
        assert_eq!(classify(&Method::POST, "/api/v1/orders/x/download-link"), None);
        assert_eq!(classify(&Method::POST, "/users"), None);
        assert_eq!(classify(&Method::POST, "/api/v1/albums/x/find-me"), Some(Kind::FindMe));
        assert_eq!(classify(&Method::GET, "/api/v1/albums/x/find-me"), None);
    }

    #[test]
    fn failed_sign_ins_slow_down_and_a_success_resets() {
        let f = Limits::new(&LimitsConfig { signin_failures_before_delay: 3, ..LimitsConfig::default() });
        let s = f.signins();
        let (guesser, owner) = (IpAddr::from([203, 0, 113, 9]), IpAddr::from([198, 51, 100, 7]));
        for _ in 0..2 {
            s.failed("A@x.test", guesser);
            assert!(s.check("a@x.test", guesser).is_ok());
        }
        s.failed("a@x.test", guesser);
        assert_eq!(s.check("a@X.test", guesser), Err(1));
        s.failed("a@x.test", guesser);
        assert_eq!(s.check("a@x.test", guesser), Err(2), "the delay doubles");
        assert!(s.check("b@x.test", guesser).is_ok(), "other accounts are not affected");
        assert!(s.check("a@x.test", owner).is_ok(), "the owner elsewhere is not locked out");
        // The owner fails and succeeds from their address: the guesser's
        // delay stays, the owner's record is cleared.
        s.failed("a@x.test", owner);
        s.succeeded("a@x.test", owner);
        assert_eq!(s.check("a@x.test", guesser), Err(2), "a success elsewhere does not free the guesser");
        s.succeeded("a@x.test", guesser);
        assert!(s.check("a@x.test", guesser).is_ok(), "a success resets");
    }

    /// Issue 27: 40 addresses made 400 guesses in 9 s without a 429. Past
    /// 4 times the per-address allowance from all addresses together, the
    /// account's password sign-ins wait, from any address; other accounts
    /// do not.
    #[test]
    fn guesses_from_many_addresses_slow_the_account_down() {
        let f = Limits::new(&LimitsConfig { signin_failures_before_delay: 3, ..LimitsConfig::default() });
        let s = f.signins();
        let wide = 3 * ACCOUNT_WIDE_FACTOR;
        for n in 0..wide - 1 {
            let ip = IpAddr::from([203, 0, 113, n as u8]);
            s.failed("a@x.test", ip);
            assert!(s.check("a@x.test", ip).is_ok(), "one failure from address {n}");
        }
        s.failed("a@x.test", IpAddr::from([203, 0, 113, 200]));
        let fresh = IpAddr::from([198, 51, 100, 1]);
        assert_eq!(s.check("a@x.test", fresh), Err(1), "a fresh address waits too");
        s.failed("a@x.test", IpAddr::from([203, 0, 113, 201]));
        assert_eq!(s.check("a@x.test", fresh), Err(2), "and the wait doubles");
        assert!(s.check("b@x.test", fresh).is_ok(), "other accounts are not affected");
        // Addresses of one IPv6 /64 are one client to the caller, which
        // passes `client_key`: three failures from one /64 start its delay.
        let v6 = |last: u16| client_key(IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, last]));
        for last in 1..=3 {
            s.failed("c@x.test", v6(last));
        }
        assert_eq!(s.check("c@x.test", v6(999)), Err(1), "another address of the /64 waits");
    }
}
