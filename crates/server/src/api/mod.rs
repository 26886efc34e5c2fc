//! The REST API under `/api/v1`: the served OpenAPI document
//! (`/api/v1/openapi.json`) is its detailed contract, and
//! `docs/api.md` states the contract and what it leaves open.

pub mod albums;
pub mod conditional;
pub mod error;
pub mod guards;
pub mod model;
pub mod ops;
pub mod orders;
pub mod selling;
pub mod spec;
pub mod tus;
pub mod users;
pub mod webhooks;

use poem_openapi::Tags;

/// Groups in the docs.
#[derive(Tags)]
pub enum ApiTags {
    /// Registration and sign-in.
    Users,
    /// Albums and photos.
    Albums,
    /// Orders, payments and downloads.
    Orders,
    /// Health, jobs.
    Operations,
    /// Outgoing webhooks (Standard Webhooks v1).
    Webhooks,
}
