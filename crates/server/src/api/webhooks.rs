//! Webhook endpoints and their deliveries (`/api/v1/webhooks`): a
//! photographer's for their albums, an admin's for all. The rules live in
//! `proofsheet_core::Webhooks`; this maps them to HTTP.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use proofsheet_core::{Delivery, DeliveryAttempt, EventType, NewWebhook, PageRequest, Webhook, WebhookPatch};

use super::{ApiTags, error::ApiError, model::*};
use crate::{auth::BearerAuth, state::AppState};

/// The events an endpoint may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "WebhookEvent")]
pub enum WebhookEventDto {
    /// A photo's preview and thumbnail are ready.
    #[oai(rename = "photo.ready")]
    PhotoReady,
    /// A photo could not be processed.
    #[oai(rename = "photo.failed")]
    PhotoFailed,
    /// An album expired and its files were purged.
    #[oai(rename = "album.expired")]
    AlbumExpired,
    /// An order was paid.
    #[oai(rename = "order.paid")]
    OrderPaid,
    /// An order's download link was issued.
    #[oai(rename = "order.fulfilled")]
    OrderFulfilled,
    /// An order was refunded.
    #[oai(rename = "order.refunded")]
    OrderRefunded,
    /// An order expired unpaid.
    #[oai(rename = "order.expired")]
    OrderExpired,
}

impl WebhookEventDto {
    fn core(self) -> EventType {
        match self {
            WebhookEventDto::PhotoReady => EventType::PhotoReady,
            WebhookEventDto::PhotoFailed => EventType::PhotoFailed,
            WebhookEventDto::AlbumExpired => EventType::AlbumExpired,
            WebhookEventDto::OrderPaid => EventType::OrderPaid,
            WebhookEventDto::OrderFulfilled => EventType::OrderFulfilled,
            WebhookEventDto::OrderRefunded => EventType::OrderRefunded,
            WebhookEventDto::OrderExpired => EventType::OrderExpired,
        }
    }
}

fn names(events: Vec<WebhookEventDto>) -> Vec<String> {
    events.into_iter().map(|e| e.core().as_str().to_owned()).collect()
}

/// A new endpoint.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: `https://` and a public host name (see the
    /// webhooks section of `docs/api.md` for what is refused).
    pub url: Text,
    /// The events wanted, at least one.
    pub events: Vec<WebhookEventDto>,
    /// A note for yourself, at most 500 characters.
    pub description: Option<Text>,
    /// Whether events are sent to it (default `true`).
    pub enabled: Option<bool>,
}

/// Endpoint changes; absent fields stay.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// New URL.
    pub url: Option<Text>,
    /// New events, at least one.
    pub events: Option<Vec<WebhookEventDto>>,
    /// New note.
    pub description: Option<Text>,
    /// On or off; `true` also clears why the sender turned it off.
    pub enabled: Option<bool>,
}

/// A webhook endpoint (its secret is only in the answers of creation and
/// rotation).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Webhook")]
pub struct WebhookDto {
    /// Opaque id.
    pub id: String,
    /// Who manages it.
    pub owner_id: String,
    /// Where events go.
    pub url: String,
    /// What it receives.
    pub events: Vec<WebhookEventDto>,
    /// A note.
    pub description: String,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// Why the sender turned it off (`410 Gone`, failing for days).
    pub disabled_reason: Option<String>,
    /// Since when every delivery failed.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret before the last rotation still signs.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// The wire enum of a subscribable event (`ping` is none).
fn dto_event(e: EventType) -> Option<WebhookEventDto> {
    Some(match e {
        EventType::PhotoReady => WebhookEventDto::PhotoReady,
        EventType::PhotoFailed => WebhookEventDto::PhotoFailed,
        EventType::AlbumExpired => WebhookEventDto::AlbumExpired,
        EventType::OrderPaid => WebhookEventDto::OrderPaid,
        EventType::OrderFulfilled => WebhookEventDto::OrderFulfilled,
        EventType::OrderRefunded => WebhookEventDto::OrderRefunded,
        EventType::OrderExpired => WebhookEventDto::OrderExpired,
        EventType::Ping => return None,
    })
}

impl From<&Webhook> for WebhookDto {
    fn from(w: &Webhook) -> Self {
        WebhookDto {
            id: w.id.to_string(),
            owner_id: w.owner_id.to_string(),
            url: w.url.clone(),
            events: w.events.iter().filter_map(|e| dto_event(*e)).collect(),
            description: w.description.clone(),
            enabled: w.enabled,
            disabled_reason: w.disabled_reason.clone(),
            failing_since: w.failing_since,
            previous_secret_expires_at: w.previous_secret_until.filter(|_| w.previous_secret.is_some()),
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// An endpoint with its signing secret: the answer of creation and of
/// rotation, the only ones that show it.
#[derive(Debug, Clone, Object)]
#[oai(rename = "WebhookWithSecret")]
pub struct WebhookSecretDto {
    /// The endpoint.
    #[oai(flatten)]
    pub webhook: WebhookDto,
    /// `whsec_` and base64: verify each delivery's `webhook-signature`
    /// with it (any Standard Webhooks library does).
    pub secret: String,
}

/// A page of endpoints.
#[derive(Debug, Clone, Object)]
pub struct WebhookPage {
    /// The endpoints.
    pub items: Vec<WebhookDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Object)]
#[oai(rename = "DeliveryAttempt")]
pub struct AttemptDto {
    /// Which attempt, from 1.
    pub attempt: u32,
    /// When sent.
    pub at: DateTime<Utc>,
    /// The answer's status code; `null` when none came.
    pub status_code: Option<u16>,
    /// The start of the answer's body (at most 1 KiB).
    pub response: Option<String>,
    /// Why no answer came (timeout, refused, blocked address).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

impl From<DeliveryAttempt> for AttemptDto {
    fn from(a: DeliveryAttempt) -> Self {
        AttemptDto {
            attempt: a.attempt,
            at: a.at,
            status_code: a.status_code,
            response: a.response,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Delivery")]
pub struct DeliveryDto {
    /// Opaque id.
    pub id: String,
    /// The endpoint.
    pub webhook_id: String,
    /// The event's `webhook-id`, the same on every attempt.
    pub message_id: String,
    /// The event's type.
    pub event_type: String,
    /// The body sent, byte for byte.
    pub body: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts made.
    pub attempt_count: u32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The attempts, in order.
    pub attempts: Vec<AttemptDto>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl DeliveryDto {
    fn new(d: Delivery, attempts: Vec<DeliveryAttempt>) -> Self {
        DeliveryDto {
            id: d.id.to_string(),
            webhook_id: d.webhook_id.to_string(),
            message_id: d.message_id,
            event_type: d.event_type,
            body: d.body,
            status: d.status.as_str().to_owned(),
            attempt_count: d.attempts,
            next_attempt_at: d.next_attempt_at,
            attempts: attempts.into_iter().map(AttemptDto::from).collect(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// A page of deliveries.
#[derive(Debug, Clone, Object)]
pub struct DeliveryPage {
    /// The deliveries, oldest first.
    pub items: Vec<DeliveryDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
enum Created {
    /// Created; the secret is shown this once.
    #[oai(status = 201)]
    Created(Json<WebhookSecretDto>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted, with its deliveries.
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
enum Queued {
    /// Queued; the worker sends it at once.
    #[oai(status = 202)]
    Accepted(Json<DeliveryDto>),
}

/// The webhooks routes.
pub struct WebhooksApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Add an endpoint (photographers: events of their albums; admins: of
    /// every album). The answer holds its secret, shown this once.
    #[oai(path = "/webhooks", method = "post")]
    async fn create_webhook(&self, auth: BearerAuth, body: Json<CreateWebhookRequest>) -> Result<Created, ApiError> {
        let b = body.0;
        let new = NewWebhook {
            url: b.url.into(),
            events: names(b.events),
            description: b.description.map(String::from),
            enabled: b.enabled,
        };
        let w = self.state.engine.webhooks().create(&auth.0, new).await?;
        Ok(Created::Created(Json(WebhookSecretDto { webhook: (&w).into(), secret: w.secret })))
    }

    /// The caller's endpoints (an admin's: everyone's).
    #[oai(path = "/webhooks", method = "get")]
    async fn list_webhooks(
        &self,
        auth: BearerAuth,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> Result<Json<WebhookPage>, ApiError> {
        let page = PageRequest::new(limit.0, cursor.0.as_deref())?;
        let page = self.state.engine.webhooks().list(&auth.0, page).await?;
        let (items, next_cursor) = page_parts(page, |w| WebhookDto::from(&w));
        Ok(Json(WebhookPage { items, next_cursor }))
    }

    /// One endpoint.
    #[oai(path = "/webhooks/:webhook_id", method = "get")]
    async fn get_webhook(&self, auth: BearerAuth, webhook_id: Path<String>) -> Result<Json<WebhookDto>, ApiError> {
        Ok(Json((&self.state.engine.webhooks().get(&auth.0, &webhook_id.0).await?).into()))
    }

    /// Change an endpoint.
    #[oai(path = "/webhooks/:webhook_id", method = "patch")]
    async fn update_webhook(
        &self,
        auth: BearerAuth,
        webhook_id: Path<String>,
        body: Json<UpdateWebhookRequest>,
    ) -> Result<Json<WebhookDto>, ApiError> {
        let b = body.0;
        let patch = WebhookPatch {
            url: b.url.map(String::from),
            events: b.events.map(names),
            description: b.description.map(String::from),
            enabled: b.enabled,
        };
        Ok(Json((&self.state.engine.webhooks().update(&auth.0, &webhook_id.0, patch).await?).into()))
    }

    /// Delete an endpoint and its deliveries.
    #[oai(path = "/webhooks/:webhook_id", method = "delete")]
    async fn delete_webhook(&self, auth: BearerAuth, webhook_id: Path<String>) -> Result<Deleted, ApiError> {
        self.state.engine.webhooks().delete(&auth.0, &webhook_id.0).await?;
        Ok(Deleted::Done)
    }

    /// A new signing secret. The old one keeps signing beside it for 24
    /// hours (both signatures in `webhook-signature`), so receivers switch
    /// without losing an event.
    #[oai(path = "/webhooks/:webhook_id/rotate-secret", method = "post")]
    async fn rotate_secret(
        &self,
        auth: BearerAuth,
        webhook_id: Path<String>,
    ) -> Result<Json<WebhookSecretDto>, ApiError> {
        let w = self.state.engine.webhooks().rotate_secret(&auth.0, &webhook_id.0).await?;
        Ok(Json(WebhookSecretDto { webhook: (&w).into(), secret: w.secret }))
    }

    /// Send a `ping` event to the endpoint.
    #[oai(path = "/webhooks/:webhook_id/test", method = "post")]
    async fn test_webhook(&self, auth: BearerAuth, webhook_id: Path<String>) -> Result<Queued, ApiError> {
        let d = self.state.engine.webhooks().test(&auth.0, &webhook_id.0).await?;
        Ok(Queued::Accepted(Json(DeliveryDto::new(d, Vec::new()))))
    }

    /// The endpoint's deliveries, oldest first, each with its attempts
    /// (time, status code, the start of the answer, the next attempt).
    #[oai(path = "/webhooks/:webhook_id/deliveries", method = "get")]
    async fn list_deliveries(
        &self,
        auth: BearerAuth,
        webhook_id: Path<String>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> Result<Json<DeliveryPage>, ApiError> {
        let page = PageRequest::new(limit.0, cursor.0.as_deref())?;
        let page = self.state.engine.webhooks().deliveries(&auth.0, &webhook_id.0, page).await?;
        let (items, next_cursor) = page_parts(page, |(d, a)| DeliveryDto::new(d, a));
        Ok(Json(DeliveryPage { items, next_cursor }))
    }

    /// Send a delivery again now (`409` while the endpoint is off).
    #[oai(path = "/webhooks/:webhook_id/deliveries/:delivery_id/retry", method = "post")]
    async fn retry_delivery(
        &self,
        auth: BearerAuth,
        webhook_id: Path<String>,
        delivery_id: Path<String>,
    ) -> Result<Queued, ApiError> {
        let (d, attempts) = self.state.engine.webhooks().retry(&auth.0, &webhook_id.0, &delivery_id.0).await?;
        Ok(Queued::Accepted(Json(DeliveryDto::new(d, attempts))))
    }
}
