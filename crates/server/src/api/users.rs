//! Users and sessions.

use std::sync::Arc;

use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use proofsheet_core::{NewUser, Role, SignedIn};

use super::{ApiTags, error::ApiError, model::*};
use crate::{
    auth::{BearerAuth, PasswordSignIn, sign_in_with_password},
    state::AppState,
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
        let new = NewUser { email: &b.email, password: &b.password, name: &b.name, surname: &b.surname, role };
        let user = self.state.engine.users().sign_up(new).await?;
        Ok(Created::Created(Json(user.into())))
    }

    /// Sign in: returns a bearer token.
    #[oai(path = "/sessions", method = "post")]
    async fn create_session(
        &self,
        body: Json<SessionRequest>,
        req: &poem::Request,
    ) -> Result<Created<SessionDto>, ApiError> {
        let signed_in = match sign_in_with_password(&self.state, req, &body.email, &body.password).await? {
            PasswordSignIn::Ok(signed_in) => signed_in,
            PasswordSignIn::Delayed(wait) => {
                return Err(ApiError::from(proofsheet_core::Error::RateLimited {
                    message: "too many failed sign-ins for this account; wait and try again".into(),
                    retry_after: wait,
                }));
            }
            PasswordSignIn::Refused => {
                return Err(ApiError::Unauthorized(Json(super::error::ErrorBody {
                    code: "invalid_credentials".into(),
                    message: "wrong e-mail address or password".into(),
                })));
            }
        };
        let SignedIn { token, expires_at, .. } = signed_in;
        Ok(Created::Created(Json(SessionDto { token, expires_at })))
    }

    /// Ask for a sign-in link by e-mail: a single-use link, valid 15
    /// minutes, mailed when the address has an account or a photographer
    /// shared an album with it (following it then makes the client
    /// account). Always 202, so the answer tells nobody whether an address
    /// has an account. Limited per client IP and per address (429).
    #[oai(path = "/sessions/email-link", method = "post")]
    async fn create_email_link(&self, body: Json<EmailLinkRequest>) -> Result<Accepted, ApiError> {
        let b = body.0;
        if b.next.as_ref().is_some_and(|n| n.chars().count() > 512) {
            return Err(
                proofsheet_core::Error::invalid("invalid_next", "next is a path of at most 512 characters").into()
            );
        }
        if let Err(wait) = self.state.limits.email_link_allowed(&b.email) {
            return Err(ApiError::from(proofsheet_core::Error::RateLimited {
                message: "too many sign-in links for this address; wait and try again".into(),
                retry_after: wait,
            }));
        }
        self.state.engine.users().send_sign_in_link(&b.email, b.next.as_ref().map(|n| n.as_str())).await?;
        Ok(Accepted::Accepted)
    }

    /// Exchange the token of a mailed sign-in link for a session. The link
    /// works once; following it proves the mailbox (the address becomes
    /// verified). 401 `invalid_link` for a used, expired or forged token.
    #[oai(path = "/sessions/email-link/exchange", method = "post")]
    async fn exchange_email_link(&self, body: Json<EmailLinkExchange>) -> Result<Created<SessionDto>, ApiError> {
        let ttl = self.state.session_ttl();
        let Some(signed_in) = self.state.engine.users().sign_in_with_link(&body.0.token, ttl).await? else {
            return Err(ApiError::Unauthorized(Json(super::error::ErrorBody {
                code: "invalid_link".into(),
                message: "this sign-in link was used, has expired or is not valid; ask for a new one".into(),
            })));
        };
        let SignedIn { token, expires_at, .. } = signed_in;
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
        self.state.engine.users().sign_out(token).await?;
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
