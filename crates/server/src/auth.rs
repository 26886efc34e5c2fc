//! The security schemes of the API. Passwords and sessions themselves are
//! the core's users service ([`proofsheet_core::Users`]).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use proofsheet_core::{SignedIn, User};

use crate::state::AppState;

/// `Authorization: Bearer <token>` from `POST /api/v1/sessions`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", checker = "check_token")]
pub struct BearerAuth(pub User);

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<User> {
    let state = req.data::<Arc<AppState>>().expect("state is attached to every route");
    match state.engine.users().authenticate(&bearer.token).await {
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

/// What a password sign-in came to.
pub enum PasswordSignIn {
    /// Signed in.
    Ok(SignedIn),
    /// This account, tried from this IP, is slowed down: wait this many
    /// seconds (the password was not checked).
    Delayed(u64),
    /// Wrong address or password.
    Refused,
}

/// A sign-in by address and password under the failed sign-in slowdown
/// (see [`crate::limits`]), with its audit lines: the one path the API's
/// `POST /sessions` and the web app's sign-in form share.
pub async fn sign_in_with_password(
    state: &AppState,
    req: &Request,
    email: &str,
    password: &str,
) -> proofsheet_core::Result<PasswordSignIn> {
    let signins = state.limits.signins();
    let ip = crate::limits::client(req);
    let account = email.trim();
    // Raw input reaches the audit log only quoted and escaped (`?`), so a
    // newline in it cannot forge a log line.
    let logged: String = account.chars().take(254).collect();
    if let Err(wait) = signins.check(account, ip) {
        tracing::info!(target: "audit", action = "sign_in", account = ?logged, result = "delayed", "sign-in delayed");
        return Ok(PasswordSignIn::Delayed(wait));
    }
    let Some(signed_in) = state.engine.users().sign_in(email, password, state.session_ttl()).await? else {
        signins.failed(account, ip);
        tracing::info!(target: "audit", action = "sign_in", account = ?logged, result = "refused", "sign-in refused");
        return Ok(PasswordSignIn::Refused);
    };
    signins.succeeded(account, ip);
    Ok(PasswordSignIn::Ok(signed_in))
}

/// What a password change came to.
pub enum PasswordChange {
    /// Saved; every other session of the account ended.
    Done,
    /// This account, tried from this client, is slowed down: wait this
    /// many seconds (nothing was checked).
    Delayed(u64),
}

/// A password change (or a first password) under the failed sign-in
/// slowdown, since a wrong current password is a guess like a wrong
/// sign-in: the one path the API's `PUT /users/me/password` and the web
/// app's `/account` form share. `keep_token` is the caller's session,
/// which stays. The core's refusals (`wrong_password`,
/// `current_password_required`, `weak_password`) come back as errors.
pub async fn change_password(
    state: &AppState,
    req: &Request,
    user: &User,
    current: Option<&str>,
    new: &str,
    keep_token: Option<&str>,
) -> proofsheet_core::Result<PasswordChange> {
    let signins = state.limits.signins();
    let ip = crate::limits::client(req);
    if let Err(wait) = signins.check(user.email.as_str(), ip) {
        return Ok(PasswordChange::Delayed(wait));
    }
    match state.engine.users().change_password(user, current, new, keep_token).await {
        Ok(()) => Ok(PasswordChange::Done),
        Err(e) => {
            if e.code() == "wrong_password" {
                signins.failed(user.email.as_str(), ip);
            }
            Err(e)
        }
    }
}
