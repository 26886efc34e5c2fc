//! The one place where errors become HTTP statuses and JSON bodies.

use poem::{Response, http::StatusCode};
use poem_openapi::{ApiResponse, Object, payload::Json};
use proofsheet_core::Error;

/// `{"code": "snake_case_reason", "message": "..."}`
#[derive(Debug, Clone, Object)]
pub struct ErrorBody {
    /// Stable machine-readable reason.
    pub code: String,
    /// Human explanation.
    pub message: String,
}

/// Every error an operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed request.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// No or invalid token.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Known, but not allowed.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Not found, or not yours.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// Conflicts with the current state.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// No longer available.
    #[oai(status = 410)]
    Gone(Json<ErrorBody>),
    /// Too large.
    #[oai(status = 413)]
    TooLarge(Json<ErrorBody>),
    /// Unsupported media type.
    #[oai(status = 415)]
    Unsupported(Json<ErrorBody>),
    /// Invalid value.
    #[oai(status = 422)]
    Invalid(Json<ErrorBody>),
    /// Rate limited: try again after `Retry-After` seconds.
    #[oai(status = 429)]
    TooMany(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Something broke on our side.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The payment provider failed.
    #[oai(status = 502)]
    BadGateway(Json<ErrorBody>),
    /// A storage service (object store, database) is not answering: nothing
    /// was changed; try again after `Retry-After` seconds.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// Storage is full: nothing was stored; try again later.
    #[oai(status = 507)]
    StorageFull(Json<ErrorBody>, #[oai(header = "Retry-After")] u64),
    /// The photographer's storage quota is used up: nothing was stored.
    #[oai(status = 507)]
    QuotaExceeded(Json<ErrorBody>),
}

fn body(code: &str, message: impl Into<String>) -> Json<ErrorBody> {
    Json(ErrorBody { code: code.to_owned(), message: message.into() })
}

impl ApiError {
    /// A 400 with a reason.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest(body(code, message))
    }

    /// A 413 with a reason.
    pub fn too_large(code: &str, message: impl Into<String>) -> Self {
        ApiError::TooLarge(body(code, message))
    }

    /// A 401.
    pub fn unauthorized() -> Self {
        ApiError::Unauthorized(body("unauthenticated", "a valid bearer token is required"))
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let code = e.code();
        match &e {
            Error::NotFound { .. } => ApiError::NotFound(body(code, e.to_string())),
            Error::Unauthenticated => ApiError::unauthorized(),
            Error::Forbidden { .. } => ApiError::Forbidden(body(code, e.to_string())),
            Error::Conflict { .. } => ApiError::Conflict(body(code, e.to_string())),
            Error::Gone { .. } => ApiError::Gone(body(code, e.to_string())),
            Error::Invalid { .. } | Error::Image { .. } => ApiError::Invalid(body(code, e.to_string())),
            Error::UnsupportedMedia { .. } => ApiError::Unsupported(body(code, e.to_string())),
            Error::TooLarge { .. } => ApiError::TooLarge(body(code, e.to_string())),
            Error::RateLimited { retry_after, .. } => ApiError::TooMany(body(code, e.to_string()), *retry_after),
            Error::StorageFull { .. } => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "storage is full");
                ApiError::StorageFull(body(code, "storage is full; nothing was stored, try again later"), 60)
            }
            Error::QuotaExceeded { used, limit, .. } => {
                let message = format!(
                    "your storage is full: {} of {} in use; delete photos or albums to make room",
                    proofsheet_core::human_bytes(*used),
                    proofsheet_core::human_bytes(*limit)
                );
                ApiError::QuotaExceeded(body(code, message))
            }
            Error::Gateway { .. } => {
                tracing::error!(error = %e, "payment gateway failure");
                ApiError::BadGateway(body(code, "the payment provider failed; try again"))
            }
            Error::Backend { retryable: true, .. } => {
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "storage unavailable");
                let message = "a storage service is not answering; nothing was changed, try again shortly";
                ApiError::Unavailable(body("unavailable", message), 10)
            }
            _ => {
                // Backend details go to the log, never to the client.
                tracing::error!(error = %e, source = ?std::error::Error::source(&e), "internal error");
                ApiError::Internal(body("internal", "internal error"))
            }
        }
    }
}

/// Turns any error poem or poem-openapi raises outside our operations
/// (unknown route, bad JSON, wrong content type, missing token) into the
/// same JSON shape.
pub async fn any_error_to_json(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let message = if status.is_server_error() {
        tracing::error!(error = %err, "internal error");
        "internal error".to_owned()
    } else if status == StatusCode::UNAUTHORIZED {
        "a valid bearer token is required".to_owned()
    } else {
        err.to_string()
    };
    let json = serde_json::json!({ "code": code, "message": message });
    Response::builder().status(status).content_type("application/json; charset=utf-8").body(json.to_string())
}
