//! Users and sessions.

use std::sync::Arc;

use poem_openapi::{ApiResponse, OpenApi, payload::Json};
use proofsheet_core::{NewUser, Role, SignedIn};

use super::guards::{mailing_link, registering, signing_in};
use super::{ApiTags, error::ApiError, model::*};
use crate::{
    auth::{BearerAuth, PasswordChange, PasswordSignIn, change_password, sign_in_with_password},
    credentials::bearer_token,
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
    #[oai(path = "/users", method = "post", transform = "registering")]
    async fn create_user(&self, body: Json<RegisterRequest>) -> Result<Created<UserDto>, ApiError> {
        let b = body.0;
        let role = match b.role {
            RegistrationRole::Photographer => Role::Photographer,
            RegistrationRole::Client => Role::Client,
        };
        let new = NewUser { email: &b.email, password: &b.password, name: &b.name, surname: &b.surname, role };
        let user = self.state.engine.users().sign_up(new, None).await?;
        Ok(Created::Created(Json(user.into())))
    }

    /// Sign in: returns a bearer token.
    #[oai(path = "/sessions", method = "post", transform = "signing_in")]
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
    #[oai(path = "/sessions/email-link", method = "post", transform = "mailing_link")]
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
    #[oai(path = "/sessions/email-link/exchange", method = "post", transform = "signing_in")]
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
        self.state.engine.users().sign_out(bearer_token(req).unwrap_or_default()).await?;
        tracing::info!(user_id = %auth.0.id, "signed out");
        Ok(NoContent::Done)
    }

    /// The caller's live sessions, newest first; `current` marks the one
    /// making this request.
    #[oai(path = "/sessions", method = "get")]
    async fn list_sessions(&self, auth: BearerAuth, req: &poem::Request) -> Result<Json<SessionListDto>, ApiError> {
        let sessions = self.state.engine.users().sessions(&auth.0, bearer_token(req)).await?;
        Ok(Json(SessionListDto { items: sessions.into_iter().map(Into::into).collect(), next_cursor: None }))
    }

    /// Sign out everywhere else: every session of the caller's account
    /// ends but the one making this request.
    #[oai(path = "/sessions", method = "delete")]
    async fn delete_other_sessions(&self, auth: BearerAuth, req: &poem::Request) -> Result<NoContent, ApiError> {
        self.state.engine.users().sign_out_everywhere(&auth.0, bearer_token(req)).await?;
        Ok(NoContent::Done)
    }

    /// Change the password, or set one on an account that has none (a
    /// client made by an invitation link). `current_password` is required
    /// when the account has a password (403 `current_password_required`,
    /// 403 `wrong_password`, both counted as failed sign-ins). Every other
    /// session of the account ends; the caller's stays.
    #[oai(path = "/users/me/password", method = "put", transform = "signing_in")]
    async fn change_password(
        &self,
        auth: BearerAuth,
        body: Json<PasswordChangeRequest>,
        req: &poem::Request,
    ) -> Result<NoContent, ApiError> {
        let b = body.0;
        let current = b.current_password.as_ref().map(|p| p.as_str());
        match change_password(&self.state, req, &auth.0, current, &b.new_password, bearer_token(req)).await? {
            PasswordChange::Done => Ok(NoContent::Done),
            PasswordChange::Delayed(wait) => Err(ApiError::from(proofsheet_core::Error::RateLimited {
                message: "too many wrong passwords for this account; wait and try again".into(),
                retry_after: wait,
            })),
        }
    }

    /// The caller.
    #[oai(path = "/users/me", method = "get")]
    async fn me(&self, auth: BearerAuth) -> Result<Json<UserDto>, ApiError> {
        Ok(Json(auth.0.into()))
    }

    /// Prove the mailbox: the token from the link mailed at registration.
    /// Albums shared with the address open to the account from then on.
    /// The first proof ends every session of the account and clears its
    /// password unless `password` is the one chosen at registration (a
    /// stranger may have registered the address first). 404 for a forged,
    /// expired or superseded token.
    #[oai(path = "/users/verify-email", method = "post")]
    async fn verify_email(&self, body: Json<VerifyEmailRequest>) -> Result<Json<UserDto>, ApiError> {
        let b = body.0;
        let user =
            self.state.engine.email_verification().confirm(&b.token, b.password.as_deref().map(String::as_str)).await?;
        Ok(Json(user.into()))
    }
}
