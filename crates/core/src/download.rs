//! Expiring download links and their tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::{LinkId, OrderId};

/// A link to an order's zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLink {
    /// Opaque id.
    pub id: LinkId,
    /// The order it delivers.
    pub order_id: OrderId,
    /// SHA-256 of the token; the token itself is never stored.
    pub token_hash: [u8; 32],
    /// Object key of the zip.
    pub zip_key: String,
    /// Size of the zip in bytes.
    pub zip_size: u64,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// How many downloads started (requests from byte 0).
    pub download_count: u64,
    /// Bytes served, ranges included (what `max_downloads_per_link` caps).
    pub bytes_served: u64,
    /// Set when the order is refunded.
    pub revoked: bool,
    /// Set once the zip was deleted from storage (after expiry).
    pub zip_deleted: bool,
}

impl DownloadLink {
    /// Where all zips live in the object store.
    pub const ZIPS: &'static str = "orders";

    /// The object key of a zip made for `link` of `order`:
    /// `orders/{order}/{link}.zip`. Fresh links may share it.
    pub fn zip_key(order: OrderId, link: LinkId) -> String {
        format!("{}/{order}/{link}.zip", Self::ZIPS)
    }

    /// The prefix under which all of `order`'s zips live.
    pub fn zips_prefix(order: OrderId) -> String {
        format!("{}/{order}", Self::ZIPS)
    }

    /// The order and link a zip key names, if it is one
    /// ([`DownloadLink::zip_key`] read back).
    pub fn parse_zip_key(key: &str) -> Option<(OrderId, LinkId)> {
        let rest = key.strip_prefix(Self::ZIPS)?.strip_prefix('/')?;
        let (order, file) = rest.split_once('/')?;
        let link = file.strip_suffix(".zip")?;
        Some((order.parse().ok()?, link.parse().ok()?))
    }
}

/// What an address-proving token is for: a token made for one never
/// passes as the other.
const EMAIL_DOMAIN: &[u8] = b"proofsheet-verify-email-v1:";
const INVITATION_DOMAIN: &[u8] = b"proofsheet-invitation-v1:";

/// How long an invitation e-mail's link signs its client in.
pub const INVITATION_DAYS: i64 = 30;

/// Makes and checks download tokens.
///
/// A token is `HMAC-SHA256(secret, link id)`: 256 bits nobody can guess,
/// that the server can show again to the buyer (it recomputes it) while the
/// database holds only its SHA-256, so a database leak leaks no links.
#[derive(Clone)]
pub struct LinkSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(<secret>)")
    }
}

impl From<Vec<u8>> for LinkSigner {
    fn from(secret: Vec<u8>) -> Self {
        Self::new(secret)
    }
}

impl LinkSigner {
    /// A signer over a server secret (at least 32 bytes recommended).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self { secret: secret.into() }
    }

    /// Whether the secret is too short to sign with (under 16 bytes).
    pub fn is_weak(&self) -> bool {
        self.secret.len() < 16
    }

    /// The token for a link.
    pub fn token(&self, link: LinkId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"proofsheet-download-v1:");
        mac.update(link.as_uuid().as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The token of a sign-in link: its id and an HMAC over it (64
    /// characters). Only this server makes them; the database keeps the id.
    pub fn sign_in_token(&self, id: uuid::Uuid) -> String {
        let mut raw = id.as_bytes().to_vec();
        raw.extend_from_slice(&self.sign_in_mac(id).finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The sign-in link a token names, if this signer made it.
    pub fn sign_in_link_id(&self, token: &str) -> Option<uuid::Uuid> {
        let raw = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok().filter(|r| r.len() == 48)?;
        let id = uuid::Uuid::from_slice(&raw[..16]).ok()?;
        self.sign_in_mac(id).verify_slice(&raw[16..]).ok()?;
        Some(id)
    }

    fn sign_in_mac(&self, id: uuid::Uuid) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"proofsheet-sign-in-v1:");
        mac.update(id.as_bytes());
        mac
    }

    /// A token proving `user` reads mail at their current address, valid
    /// until `expires`: the user id, the expiry and an HMAC over both and
    /// the address (a token for an old address proves nothing about a new
    /// one). Stateless: nothing is stored until it is used.
    pub fn email_token(&self, user: &crate::User, expires: chrono::DateTime<chrono::Utc>) -> String {
        let mut raw = Vec::with_capacity(56);
        raw.extend_from_slice(user.id.as_uuid().as_bytes());
        raw.extend_from_slice(&expires.timestamp().to_be_bytes());
        let mac = self.email_mac(EMAIL_DOMAIN, &raw, user.email.as_str()).finalize().into_bytes();
        raw.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The token of an album's invitation link, for its client at `email`,
    /// valid until `expires`: the album id, the expiry and an HMAC over
    /// both and the address. A link to an album whose client changed since
    /// proves nothing (see [`LinkSigner::invitation_valid`]).
    pub fn invitation_token(
        &self,
        album: crate::AlbumId,
        email: &crate::Email,
        expires: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let mut raw = Vec::with_capacity(56);
        raw.extend_from_slice(album.as_uuid().as_bytes());
        raw.extend_from_slice(&expires.timestamp().to_be_bytes());
        let mac = self.email_mac(INVITATION_DOMAIN, &raw, email.as_str()).finalize().into_bytes();
        raw.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The album an invitation token names, if it has the shape of one
    /// (not yet whether it is genuine).
    pub fn invitation_album(token: &str) -> Option<crate::AlbumId> {
        Self::email_token_parts(token).map(|(id, _, _)| crate::AlbumId::from_uuid(id.as_uuid()))
    }

    /// Whether `token` was made by this signer to invite `email` to
    /// `album`, and has not expired at `now`.
    pub fn invitation_valid(
        &self,
        token: &str,
        album: crate::AlbumId,
        email: &crate::Email,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        let Some((id, expires, raw)) = Self::email_token_parts(token) else { return false };
        id.as_uuid() == album.as_uuid()
            && expires > now
            && self.email_mac(INVITATION_DOMAIN, &raw[..24], email.as_str()).verify_slice(&raw[24..]).is_ok()
    }

    /// The user an e-mail token names and its expiry, if it has the shape
    /// of one (not yet whether it is genuine: see [`LinkSigner::email_token_valid`]).
    pub fn email_token_user(token: &str) -> Option<(crate::UserId, chrono::DateTime<chrono::Utc>)> {
        Self::email_token_parts(token).map(|(id, expires, _)| (id, expires))
    }

    /// Whether `token` was made by this signer for `user` at their current
    /// address and has not expired at `now`.
    pub fn email_token_valid(&self, token: &str, user: &crate::User, now: chrono::DateTime<chrono::Utc>) -> bool {
        let Some((id, expires, raw)) = Self::email_token_parts(token) else { return false };
        // HMAC's own comparison, in constant time.
        id == user.id
            && expires > now
            && self.email_mac(EMAIL_DOMAIN, &raw[..24], user.email.as_str()).verify_slice(&raw[24..]).is_ok()
    }

    /// User id, expiry and the raw 56 bytes of a token of the right shape.
    fn email_token_parts(token: &str) -> Option<(crate::UserId, chrono::DateTime<chrono::Utc>, Vec<u8>)> {
        let raw = URL_SAFE_NO_PAD.decode(token.as_bytes()).ok().filter(|r| r.len() == 56)?;
        let id = uuid::Uuid::from_slice(&raw[..16]).ok()?;
        let secs = i64::from_be_bytes(raw[16..24].try_into().ok()?);
        Some((crate::UserId::from_uuid(id), chrono::DateTime::from_timestamp(secs, 0)?, raw))
    }

    /// The MAC of a token's first 24 bytes for `email` in `domain` (what
    /// the token is for), not yet finalised.
    fn email_mac(&self, domain: &[u8], head: &[u8], email: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(domain);
        mac.update(head);
        mac.update(email.as_bytes());
        mac
    }

    /// What the database stores and is searched by.
    pub fn hash(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// Cheap shape check so garbage never reaches the database.
    pub fn looks_like_token(token: &str) -> bool {
        token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sign_in_tokens_name_their_link_and_only_their_signer_reads_them() {
        let a = LinkSigner::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let b = LinkSigner::new(b"another secret, another token...".to_vec());
        let id = uuid::Uuid::new_v4();
        let token = a.sign_in_token(id);
        assert_eq!(token.len(), 64);
        assert_eq!(a.sign_in_link_id(&token), Some(id));
        assert_eq!(b.sign_in_link_id(&token), None, "another server's secret");
        let mut forged = token.clone().into_bytes();
        forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(a.sign_in_link_id(std::str::from_utf8(&forged).unwrap()), None);
        assert_eq!(a.sign_in_link_id("short"), None);
    }

    #[test]
    fn zip_keys_read_back() {
        let (order, link) = (crate::OrderId::new(), crate::LinkId::new());
        let key = super::DownloadLink::zip_key(order, link);
        assert_eq!(key, format!("orders/{order}/{link}.zip"));
        assert!(key.starts_with(&super::DownloadLink::zips_prefix(order)));
        assert_eq!(super::DownloadLink::parse_zip_key(&key), Some((order, link)));
        for other in ["orders/x/y.zip", "orders/README", &format!("previews/{order}/{link}.zip"), "orders"] {
            assert_eq!(super::DownloadLink::parse_zip_key(other), None, "{other}");
        }
    }

    use super::*;

    #[test]
    fn email_tokens_name_their_user_address_and_expiry() {
        let a = LinkSigner::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let b = LinkSigner::new(b"another secret, another token...".to_vec());
        let mut user = crate::User {
            id: crate::UserId::new(),
            email: "a@x.test".parse().unwrap(),
            name: "A".into(),
            surname: "B".into(),
            role: crate::Role::Client,
            email_verified: false,
            created_at: Utc::now(),
        };
        let now = chrono::Utc::now();
        let token = a.email_token(&user, now + chrono::Duration::days(1));
        assert_eq!(LinkSigner::email_token_user(&token).map(|(id, _)| id), Some(user.id));
        assert!(a.email_token_valid(&token, &user, now));
        assert!(!b.email_token_valid(&token, &user, now), "another secret");
        assert!(!a.email_token_valid(&token, &user, now + chrono::Duration::days(2)), "expired");
        let mut forged = URL_SAFE_NO_PAD.decode(&token).unwrap();
        forged[20] ^= 1; // a later expiry
        assert!(!a.email_token_valid(&URL_SAFE_NO_PAD.encode(forged), &user, now), "tampered");
        user.email = "b@x.test".parse().unwrap();
        assert!(!a.email_token_valid(&token, &user, now), "the address changed");
        assert!(!a.email_token_valid("garbage", &user, now));
    }

    #[test]
    fn tokens_are_stable_per_secret_and_link() {
        let a = LinkSigner::new(b"0123456789abcdef0123456789abcdef".to_vec());
        let b = LinkSigner::new(b"another secret, another token...".to_vec());
        let id = LinkId::new();
        assert_eq!(a.token(id), a.token(id));
        assert_ne!(a.token(id), b.token(id));
        assert_ne!(a.token(id), a.token(LinkId::new()));
        assert!(LinkSigner::looks_like_token(&a.token(id)));
        assert!(!LinkSigner::looks_like_token("../../etc"));
        assert!(!format!("{a:?}").contains("0123"));
    }
}
