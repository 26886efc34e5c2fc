//! The security schemes of the API. Passwords and sessions themselves are
//! the core's users service ([`proofsheet_core::Users`]).

use std::sync::Arc;

use poem::Request;
use poem_openapi::{SecurityScheme, auth::Bearer};
use proofsheet_core::User;

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
