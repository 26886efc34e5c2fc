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

impl LinkSigner {
    /// A signer over a server secret (at least 32 bytes recommended).
    pub fn new(secret: impl Into<Vec<u8>>) -> Self {
        Self { secret: secret.into() }
    }

    /// The token for a link.
    pub fn token(&self, link: LinkId) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(b"proofsheet-download-v1:");
        mac.update(link.as_uuid().as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
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
    use super::*;

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
