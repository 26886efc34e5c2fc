//! Users and sessions.

use std::sync::Arc;

use chrono::Duration;
use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use proofsheet_core::{Email, Error, NewJob, Notification, Role, Session, Task, User, UserId, validate_name};

use super::{ApiTags, error::ApiError, model::*};
use crate::{
    app::AppState,
    auth::{BearerAuth, hash_password, new_token, token_hash, verify_password},
};

/// Users and sessions.
pub struct UsersApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum Created<T: poem_openapi::types::ToJSON + Send + Sync> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
}

#[derive(ApiResponse)]
enum Accepted {
    /// Accepted: a mail goes out if one is due.
    #[oai(status = 202)]
    Accepted,
}

#[derive(ApiResponse)]
enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

fn check_password(p: &str) -> Result<(), Error> {
    if !(8..=256).contains(&p.chars().count()) {
        return Err(Error::invalid("weak_password", "a password has 8 to 256 characters"));
    }
    Ok(())
}

/// Registers a user (also used by `proofsheet admin create-user`, which
/// vouches for the address: `verified`). An unverified user is mailed a
/// verification link. `Conflict("email_taken")` when the address has an
/// account (the REST API hides that; the command line says it).
pub async fn register(
    state: &AppState,
    email: &str,
    password: &str,
    name: &str,
    surname: &str,
    role: Role,
    verified: bool,
) -> Result<User, Error> {
    let user = new_user(state, email, name, surname, role, verified)?;
    check_password(password)?;
    let hash = hash_password(password.to_owned()).await?;
    state.engine.backends().metadata.insert_user(&user, &hash).await?;
    tracing::info!(user_id = %user.id, role = role.as_str(), "user registered");
    state.engine.email_verification().send(&user).await?;
    Ok(user)
}

fn new_user(
    state: &AppState,
    email: &str,
    name: &str,
    surname: &str,
    role: Role,
    verified: bool,
) -> Result<User, Error> {
    Ok(User {
        id: UserId::new(),
        email: email.parse()?,
        name: validate_name("name", name)?,
        surname: validate_name("surname", surname)?,
        role,
        email_verified: verified,
        created_at: state.engine.backends().clock.now(),
    })
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Users")]
impl UsersApi {
    /// Register as a photographer or a client.
    #[oai(path = "/users", method = "post")]
    async fn create_user(&self, body: Json<RegisterRequest>) -> Result<Created<UserDto>, ApiError> {
        let b = body.0;
        let role = match b.role {
            RegistrationRole::Photographer => Role::Photographer,
            RegistrationRole::Client => Role::Client,
        };
        match register(&self.state, &b.email, &b.password, &b.name, &b.surname, role, false).await {
            Ok(user) => Ok(Created::Created(Json(user.into()))),
            Err(e) if e.code() == "email_taken" => {
                // Registration never tells whether an address has an
                // account: the answer looks like a new (unverified) user,
                // and the address's owner is told by mail instead.
                let stand_in = new_user(&self.state, &b.email, &b.name, &b.surname, role, false)?;
                let engine = &self.state.engine;
                let notice = Notification::AccountExists { to: stand_in.email.clone() };
                let job = NewJob::now(Task::Notify { notification: notice }, engine.backends().clock.now());
                engine.backends().queue.enqueue(&job).await?;
                tracing::info!(target: "audit", action = "register", result = "address_taken", "registration for a taken address");
                Ok(Created::Created(Json(stand_in.into())))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Sign in: returns a bearer token.
    #[oai(path = "/sessions", method = "post")]
    async fn create_session(
        &self,
        body: Json<SessionRequest>,
        req: &poem::Request,
    ) -> Result<Created<SessionDto>, ApiError> {
        let meta = &self.state.engine.backends().metadata;
        let signins = self.state.limits.signins();
        let ip = crate::limits::client_ip(req);
        let account = body.email.trim().to_owned();
        // Raw input reaches the audit log only quoted and escaped (`?`), so
        // a newline in it cannot forge a log line.
        let logged: String = account.chars().take(254).collect();
        if let Err(wait) = signins.check(&account, ip) {
            tracing::info!(target: "audit", action = "sign_in", account = ?logged, result = "delayed", "sign-in delayed");
            return Err(ApiError::from(proofsheet_core::Error::RateLimited {
                message: "too many failed sign-ins for this account; wait and try again".into(),
                retry_after: wait,
            }));
        }
        let found = match body.email.parse::<Email>() {
            Ok(email) => meta.user_by_email(&email).await?,
            Err(_) => None,
        };
        let (user, hash) = match found {
            Some((u, h)) => (Some(u), Some(h)),
            None => (None, None),
        };
        let ok = verify_password(body.0.password.into(), hash).await?;
        let Some(user) = user.filter(|_| ok) else {
            signins.failed(&account, ip);
            tracing::info!(target: "audit", action = "sign_in", account = ?logged, result = "refused", "sign-in refused");
            return Err(ApiError::Unauthorized(Json(super::error::ErrorBody {
                code: "invalid_credentials".into(),
                message: "wrong e-mail address or password".into(),
            })));
        };
        let now = self.state.engine.backends().clock.now();
        let (token, token_hash) = new_token();
        let expires_at = now + Duration::hours(self.state.config.sessions.ttl_hours as i64);
        meta.insert_session(&Session { token_hash, user_id: user.id, expires_at, created_at: now }).await?;
        signins.succeeded(&account, ip);
        tracing::info!(target: "audit", action = "sign_in", user_id = %user.id, result = "ok", "signed in");
        Ok(Created::Created(Json(SessionDto { token, expires_at })))
    }

    /// Sign out: the token stops working.
    #[oai(path = "/sessions/current", method = "delete")]
    async fn delete_session(&self, auth: BearerAuth, req: &poem::Request) -> Result<NoContent, ApiError> {
        let token = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.get(7..))
            .unwrap_or_default()
            .trim();
        self.state.engine.backends().metadata.delete_session(&token_hash(token)).await?;
        tracing::info!(user_id = %auth.0.id, "signed out");
        Ok(NoContent::Done)
    }

    /// The caller.
    #[oai(path = "/users/me", method = "get")]
    async fn me(&self, auth: BearerAuth) -> Result<Json<UserDto>, ApiError> {
        Ok(Json(auth.0.into()))
    }

    /// Prove the mailbox: the token from the link mailed at registration
    /// (or by `POST /users/me/verification-email`). Albums shared with the
    /// address open to the account from then on. 404 for a forged, expired
    /// or superseded token.
    #[oai(path = "/users/verify-email", method = "post")]
    async fn verify_email(&self, body: Json<VerifyEmailRequest>) -> Result<Json<UserDto>, ApiError> {
        let user = self.state.engine.email_verification().confirm(&body.0.token).await?;
        Ok(Json(user.into()))
    }

    /// Mail the verification link again (at most once a minute per
    /// account; 202 whether or not a mail went out).
    #[oai(path = "/users/me/verification-email", method = "post")]
    async fn resend_verification(&self, auth: BearerAuth) -> Result<Accepted, ApiError> {
        if self.state.limits.verification_mail_allowed(auth.0.id) {
            self.state.engine.email_verification().send(&auth.0).await?;
        }
        Ok(Accepted::Accepted)
    }
}
