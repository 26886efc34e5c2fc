//! Passwords, bearer tokens and the security schemes of the API.

use std::sync::Arc;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use proofsheet_core::{Error, Result, User};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppState;

/// Hashes a password with argon2id (off the async threads).
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::backend_permanent("hashing a password", e.to_string()))
    })
    .await
    .map_err(|e| Error::backend("hashing a password", e))?
}

/// A fixed hash checked when the account does not exist, so a wrong address
/// costs the same time as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Kf2ts3u8kS3nlYzq3a0G9xhXQhyGpxW5GHFKfU7Bqk";

/// Checks a password against a stored hash (or the dummy).
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool> {
    tokio::task::spawn_blocking(move || {
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&hash).map_err(|e| Error::backend_permanent("reading a hash", e.to_string()))?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real)
    })
    .await
    .map_err(|e| Error::backend("checking a password", e))?
}

/// A new random bearer token (256 bits) and the hash that is stored.
pub fn new_token() -> (String, [u8; 32]) {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let hash = token_hash(&token);
    (token, hash)
}

/// What the database stores for a token.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `Authorization: Bearer <token>` from `POST /api/v1/sessions`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_token")]
pub struct BearerAuth(pub User);

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<User> {
    let state = req.data::<Arc<AppState>>().expect("state is attached to every route");
    let now = state.engine.backends().clock.now();
    match state.engine.backends().metadata.session_user(&token_hash(&bearer.token), now).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(crate::api::error::ApiError::unauthorized().into()),
        Err(e) => Err(crate::api::error::ApiError::from(e).into()),
    }
}

/// A signed-in caller, or nobody (public albums and previews).
#[derive(SecurityScheme)]
pub enum MaybeAuth {
    /// Signed in.
    Bearer(BearerAuth),
    /// Anonymous.
    #[oai(fallback)]
    Anonymous,
}

impl MaybeAuth {
    /// The caller, if signed in.
    pub fn user(&self) -> Option<&User> {
        match self {
            MaybeAuth::Bearer(b) => Some(&b.0),
            MaybeAuth::Anonymous => None,
        }
    }
}
