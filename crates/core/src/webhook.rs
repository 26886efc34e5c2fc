//! Outgoing webhooks: the types, the store role and the transport, after
//! the [Standard Webhooks](https://www.standardwebhooks.com/) specification
//! v1. The service that uses them is [`crate::Webhooks`].

use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{DeliveryId, Error, NewJob, Page, PageRequest, Result, Task, UserId, WebhookId};

/// What happened. The wire names are the `type` of the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A photo's preview and thumbnail are ready.
    #[serde(rename = "photo.ready")]
    PhotoReady,
    /// A photo could not be processed (`data.reason` says why).
    #[serde(rename = "photo.failed")]
    PhotoFailed,
    /// An album expired and its files were purged.
    #[serde(rename = "album.expired")]
    AlbumExpired,
    /// An order was paid.
    #[serde(rename = "order.paid")]
    OrderPaid,
    /// A paid order's zip is ready and its download link issued.
    #[serde(rename = "order.fulfilled")]
    OrderFulfilled,
    /// An order was refunded; its links are revoked.
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    /// An order was left unpaid until it expired.
    #[serde(rename = "order.expired")]
    OrderExpired,
    /// A test sent on request (`POST /webhooks/{id}/test`); every endpoint
    /// takes it, whatever it subscribed to.
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    /// The events an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 7] = [
        EventType::PhotoReady,
        EventType::PhotoFailed,
        EventType::AlbumExpired,
        EventType::OrderPaid,
        EventType::OrderFulfilled,
        EventType::OrderRefunded,
        EventType::OrderExpired,
    ];

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::PhotoReady => "photo.ready",
            EventType::PhotoFailed => "photo.failed",
            EventType::AlbumExpired => "album.expired",
            EventType::OrderPaid => "order.paid",
            EventType::OrderFulfilled => "order.fulfilled",
            EventType::OrderRefunded => "order.refunded",
            EventType::OrderExpired => "order.expired",
            EventType::Ping => "ping",
        }
    }

    /// Parses a wire name an endpoint may subscribe to.
    pub fn parse(s: &str) -> Result<Self> {
        Self::SUBSCRIBABLE.into_iter().find(|e| e.as_str() == s).ok_or_else(|| {
            let known: Vec<&str> = Self::SUBSCRIBABLE.iter().map(|e| e.as_str()).collect();
            Error::invalid("unknown_event", format!("unknown event {s:?}; events are {}", known.join(", ")))
        })
    }
}

/// One event, as it goes into the queue in the transaction of the change
/// it reports ([`Event::job`]); the worker fans it out to the endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The message id (`webhook-id`): `msg_` and a UUIDv7, the same on
    /// every endpoint and every attempt, so receivers can drop repeats.
    pub id: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When it happened.
    pub timestamp: DateTime<Utc>,
    /// The photographer whose album it concerns: their endpoints and every
    /// admin's receive it.
    pub owner: UserId,
    /// The event's details (ids, status, amounts).
    pub data: serde_json::Value,
}

impl Event {
    /// A new event happening `now`.
    pub fn new(kind: EventType, owner: UserId, data: serde_json::Value, now: DateTime<Utc>) -> Self {
        Event { id: format!("msg_{}", uuid::Uuid::now_v7().simple()), kind, timestamp: now, owner, data }
    }

    /// The job that fans it out, to enqueue with the change it reports.
    pub fn job(self, now: DateTime<Utc>) -> NewJob {
        NewJob::now(Task::EmitEvent { event: Box::new(self) }, now)
    }

    /// The body every endpoint receives: `{"type", "timestamp", "data"}`.
    pub fn body(&self) -> String {
        serde_json::json!({
            "type": self.kind.as_str(),
            "timestamp": self.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.data,
        })
        .to_string()
    }
}

/// A webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Opaque id.
    pub id: WebhookId,
    /// Who manages it: a photographer (events of their albums) or an admin
    /// (events of every album).
    pub owner_id: UserId,
    /// Where events are posted.
    pub url: String,
    /// What it subscribed to.
    pub events: Vec<EventType>,
    /// A note for its owner.
    pub description: String,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// Why it was turned off by the sender (`410 Gone`, failing for days);
    /// cleared when its owner enables it again.
    pub disabled_reason: Option<String>,
    /// The signing secret, `whsec_` + base64 of 32 random bytes.
    pub secret: String,
    /// The secret before the last rotation, still signing beside the new
    /// one until `previous_secret_until`.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_secret_until: Option<DateTime<Utc>>,
    /// Since when every delivery failed (`None` after a success).
    pub failing_since: Option<DateTime<Utc>>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether it receives `kind`.
    pub fn wants(&self, kind: EventType) -> bool {
        kind == EventType::Ping || self.events.contains(&kind)
    }

    /// The secrets that sign at `now`: the current one, and the previous
    /// one during the day after a rotation.
    pub fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<&str> {
        let mut out = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            out.push(old);
        }
        out
    }
}

/// A fresh signing secret: `whsec_` and the base64 of 32 random bytes
/// (the specification allows 24 to 64).
pub fn new_webhook_secret() -> String {
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}">` per secret, space-separated. A secret that
/// is not `whsec_` + base64 signs with its raw bytes.
pub fn sign_webhook(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| {
            let key = secret
                .strip_prefix("whsec_")
                .and_then(|k| base64::engine::general_purpose::STANDARD.decode(k).ok())
                .unwrap_or_else(|| secret.as_bytes().to_vec());
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
            mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
            format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// An attempt was answered with 2xx.
    Succeeded,
    /// Out of attempts, or the endpoint was turned off.
    Failed,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "failed" => Ok(DeliveryStatus::Failed),
            other => Err(Error::backend_permanent("reading a delivery", format!("unknown status {other:?}"))),
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Opaque id.
    pub id: DeliveryId,
    /// The endpoint.
    pub webhook_id: WebhookId,
    /// The event's message id (`webhook-id`); one delivery per event and
    /// endpoint.
    pub message_id: String,
    /// The event's type.
    pub event_type: String,
    /// The body sent, byte for byte the same on every attempt.
    pub body: String,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Which attempt, from 1.
    pub attempt: u32,
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The answer's status code (`None`: no answer, see `error`).
    pub status_code: Option<u16>,
    /// The start of the answer's body, at most
    /// [`DeliveryAttempt::EXCERPT_BYTES`].
    pub response: Option<String>,
    /// What went wrong without an answer (timeout, refused, blocked
    /// address).
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
}

impl DeliveryAttempt {
    /// How much of an answer is kept.
    pub const EXCERPT_BYTES: usize = 1024;
}

/// Webhook endpoints and their deliveries.
///
/// Rules: a delivery is stored once per event and endpoint (a second
/// `add_deliveries` with the same message id and endpoint adds nothing and
/// enqueues nothing), and its job is enqueued in the same transaction;
/// `record_attempt` stores the attempt, the delivery's new state and the
/// next attempt's job together; deleting an endpoint deletes its
/// deliveries and their attempts.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds an endpoint.
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<()>;
    /// An endpoint by id.
    async fn webhook(&self, id: WebhookId) -> Result<Option<Webhook>>;
    /// Saves every field of an endpoint.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<()>;
    /// Deletes an endpoint with its deliveries; `false` if there was none.
    async fn delete_webhook(&self, id: WebhookId) -> Result<bool>;
    /// A page of endpoints by id: one owner's, or all (`None`).
    async fn list_webhooks(&self, owner: Option<UserId>, page: PageRequest) -> Result<Page<Webhook>>;
    /// The enabled endpoints that receive `owner`'s events: their own and
    /// every admin's.
    async fn webhooks_for(&self, owner: UserId) -> Result<Vec<Webhook>>;
    /// Adds deliveries, each with the job that sends it, skipping those
    /// already stored for their endpoint and message id; answers how many
    /// were added.
    async fn add_deliveries(&self, deliveries: &[(Delivery, NewJob)]) -> Result<u64>;
    /// A delivery by id.
    async fn delivery(&self, id: DeliveryId) -> Result<Option<Delivery>>;
    /// A page of an endpoint's deliveries by id (UUIDv7: oldest first).
    async fn list_deliveries(&self, webhook: WebhookId, page: PageRequest) -> Result<Page<Delivery>>;
    /// A delivery's attempts, in order.
    async fn attempts(&self, delivery: DeliveryId) -> Result<Vec<DeliveryAttempt>>;
    /// Saves `delivery`'s status, attempts and next attempt, adds `attempt`
    /// (if any) and enqueues `jobs`, in one transaction.
    async fn record_attempt(
        &self,
        delivery: &Delivery,
        attempt: Option<&DeliveryAttempt>,
        jobs: &[NewJob],
    ) -> Result<()>;
    /// Deletes deliveries (with their attempts) that ended before `before`;
    /// answers how many.
    async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// What an endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookResponse {
    /// The status code.
    pub status: u16,
    /// Its `Retry-After`, in seconds, if it sent one.
    pub retry_after: Option<u64>,
    /// The start of its body, at most [`DeliveryAttempt::EXCERPT_BYTES`].
    pub excerpt: String,
}

/// Sends one signed POST. The reference server's implementation
/// (`proofsheet-server`) uses reqwest with redirects off, a timeout, and
/// an address check at every connection (no loopback, private, link-local
/// or metadata addresses unless allowed), so DNS rebinding does not get
/// through.
#[async_trait]
pub trait WebhookTransport: Send + Sync + 'static {
    /// Checks a URL when an endpoint is made or changed: scheme, host, and
    /// an address written in the URL. `Error::Invalid` says what is wrong.
    fn check_url(&self, url: &str) -> Result<()>;
    /// POSTs `body` with `headers`; `Err` with a reason when no answer came
    /// (refused, timed out, blocked address).
    async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> std::result::Result<WebhookResponse, String>;
}

/// A transport for engines without webhooks: endpoints cannot be made.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoWebhooks;

#[async_trait]
impl WebhookTransport for NoWebhooks {
    fn check_url(&self, _url: &str) -> Result<()> {
        Err(Error::invalid("webhooks_unavailable", "this engine sends no webhooks"))
    }

    async fn post(&self, _: &str, _: &[(&str, String)], _: &str) -> std::result::Result<WebhookResponse, String> {
        Err("this engine sends no webhooks".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_the_specification_example() {
        // The example of the Standard Webhooks specification (and of its
        // reference libraries' tests).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(sign_webhook(&[secret], id, 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_are_fresh_and_the_old_one_signs_for_a_day() {
        let a = new_webhook_secret();
        assert!(a.starts_with("whsec_") && a != new_webhook_secret());
        let raw = base64::engine::general_purpose::STANDARD.decode(&a[6..]).unwrap();
        assert_eq!(raw.len(), 32);
        let now = Utc::now();
        let mut w = Webhook {
            id: WebhookId::new(),
            owner_id: UserId::new(),
            url: "https://example.com/hook".into(),
            events: vec![EventType::OrderPaid],
            description: String::new(),
            enabled: true,
            disabled_reason: None,
            secret: a.clone(),
            previous_secret: Some("whsec_b2xk".into()),
            previous_secret_until: Some(now + chrono::Duration::hours(24)),
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        assert_eq!(w.signing_secrets(now).len(), 2);
        w.previous_secret_until = Some(now);
        assert_eq!(w.signing_secrets(now), vec![a.as_str()]);
        assert!(w.wants(EventType::Ping) && w.wants(EventType::OrderPaid) && !w.wants(EventType::PhotoReady));
    }

    #[test]
    fn event_names_round_trip_and_unknown_ones_are_refused() {
        for e in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::parse(e.as_str()).unwrap(), e);
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
        }
        assert!(EventType::parse("ping").is_err(), "ping is sent on request, not subscribed to");
        assert!(EventType::parse("order.shipped").is_err());
    }
}
