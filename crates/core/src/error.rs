//! The one error type of the core crate and its classifiers.

use std::fmt;

/// A boxed error from a backend (database, object store, gateway, codec).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in the SDK.
///
/// Variants carry a stable machine `code` where callers map them to wire
/// errors; messages are for humans and never contain backend internals
/// (those stay in `source`, which is logged, not shown).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The object does not exist, or the caller may not know it exists.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for ("album", "photo", ...).
        what: &'static str,
    },
    /// No valid credentials were presented.
    #[error("authentication required")]
    Unauthenticated,
    /// The caller is known and may see the object, but may not do this.
    #[error("{message}")]
    Forbidden {
        /// Stable reason.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// The request conflicts with the current state.
    #[error("{message}")]
    Conflict {
        /// Stable reason.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// The object existed but is no longer available (an expired link).
    #[error("{message}")]
    Gone {
        /// Stable reason.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// Too many requests of this kind; try again after `retry_after`.
    #[error("{message}")]
    RateLimited {
        /// Human explanation.
        message: String,
        /// Seconds until a retry may succeed.
        retry_after: u64,
    },
    /// A value is well-formed but not acceptable.
    #[error("{message}")]
    Invalid {
        /// Stable reason.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// The payload is not a supported media type.
    #[error("{message}")]
    UnsupportedMedia {
        /// Human explanation.
        message: String,
    },
    /// The payload is larger than allowed.
    #[error("{message}")]
    TooLarge {
        /// Stable reason.
        code: &'static str,
        /// Human explanation.
        message: String,
    },
    /// An image could not be turned into previews; retrying will not help.
    #[error("image rejected: {message}")]
    Image {
        /// Human explanation, safe to show to the photo's owner.
        message: String,
    },
    /// A payment gateway call or notification failed.
    #[error("payment gateway error: {message}")]
    Gateway {
        /// Human explanation.
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// The object store or the database is out of space (a full disk, a
    /// quota). Nothing was stored; trying again once space returns works,
    /// so jobs retry it with backoff. The API answers 507 `storage_full`.
    #[error("{context}: storage is full")]
    StorageFull {
        /// What was being done.
        context: String,
        /// The backend's own error (logged, never shown to clients).
        #[source]
        source: BoxError,
    },
    /// The photographer's storage quota is used up: nothing was stored.
    /// The API answers 507 `quota_exceeded`.
    #[error("storage quota used up: {used} of {limit} bytes in use, {wanted} more asked for")]
    QuotaExceeded {
        /// Bytes in use (photos and unfinished uploads).
        used: u64,
        /// The quota.
        limit: u64,
        /// Bytes the refused upload needed.
        wanted: u64,
    },
    /// A storage or database backend failed. The message includes the
    /// backend's own error: it goes to logs and job records, never to API
    /// clients.
    #[error("{context}: {source}")]
    Backend {
        /// What was being done.
        context: String,
        /// The backend's own error.
        #[source]
        source: BoxError,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An object that is missing or hidden.
    pub fn not_found(what: &'static str) -> Self {
        Error::NotFound { what }
    }

    /// A well-formed but unacceptable value.
    pub fn invalid(code: &'static str, message: impl fmt::Display) -> Self {
        Error::Invalid { code, message: message.to_string() }
    }

    /// A conflict with the current state.
    pub fn conflict(code: &'static str, message: impl fmt::Display) -> Self {
        Error::Conflict { code, message: message.to_string() }
    }

    /// A forbidden action on a visible object.
    pub fn forbidden(code: &'static str, message: impl fmt::Display) -> Self {
        Error::Forbidden { code, message: message.to_string() }
    }

    /// A transient backend failure (network, lock, I/O).
    pub fn backend(context: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error::Backend { context: context.to_string(), source: source.into(), retryable: true }
    }

    /// A backend failure that will not go away by retrying (corrupt data).
    pub fn backend_permanent(context: impl fmt::Display, source: impl Into<BoxError>) -> Self {
        Error::Backend { context: context.to_string(), source: source.into(), retryable: false }
    }

    /// Whether the object was missing.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// Whether a job that failed with this error should be tried again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Backend { retryable, .. } | Error::Gateway { retryable, .. } => *retryable,
            Error::StorageFull { .. } => true,
            _ => false,
        }
    }

    /// The stable machine-readable reason.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "not_found",
            Error::Unauthenticated => "unauthenticated",
            Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Invalid { code, .. }
            | Error::Gone { code, .. }
            | Error::TooLarge { code, .. } => code,
            Error::UnsupportedMedia { .. } => "unsupported_media_type",
            Error::RateLimited { .. } => "rate_limited",
            Error::Image { .. } => "image_rejected",
            Error::Gateway { .. } => "payment_gateway_error",
            Error::StorageFull { .. } => "storage_full",
            Error::QuotaExceeded { .. } => "quota_exceeded",
            Error::Backend { .. } => "internal",
        }
    }
}
