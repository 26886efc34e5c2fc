//! The webhooks service (`engine.webhooks()`): endpoints managed by their
//! owners, events fanned out to them, deliveries signed, retried and
//! recorded.
//!
//! An event enters the queue in the transaction of the change it reports
//! (an [`Event`] job); the worker fans it out into one delivery per
//! endpoint that wants it, each with its own job, so a slow or dead
//! endpoint only ever holds its own deliveries. Deliveries are at least
//! once: receivers drop repeats by `webhook-id`.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;

use crate::{
    Delivery, DeliveryAttempt, DeliveryId, DeliveryStatus, Error, Event, EventType, NewJob, Notification, Page,
    PageRequest, Proofsheet, Result, Role, Task, User, UserId, Webhook, WebhookId, new_webhook_secret, sign_webhook,
};

/// Most endpoints one user may have.
pub const MAX_WEBHOOKS_PER_USER: usize = 50;

/// Deliveries this process sends to one endpoint at once; more wait their
/// turn (requeued a quarter second later), so a slow or dead endpoint holds at most
/// this many of the webhooks lane's slots and the other endpoints keep
/// theirs.
pub const MAX_IN_FLIGHT_PER_ENDPOINT: usize = 2;

/// Deliveries in flight per endpoint in this process.
#[derive(Default)]
pub(crate) struct InFlight(std::sync::Mutex<std::collections::HashMap<WebhookId, usize>>);

/// One delivery's place among its endpoint's in flight; given back on drop.
pub(crate) struct Slot<'a>(&'a InFlight, WebhookId);

impl InFlight {
    fn take(&self, id: WebhookId) -> Option<Slot<'_>> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(id).or_default();
        if *n >= MAX_IN_FLIGHT_PER_ENDPOINT {
            return None;
        }
        *n += 1;
        Some(Slot(self, id))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut map = self.0.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Longest endpoint URL.
pub const MAX_WEBHOOK_URL: usize = 2000;

/// The longest `Retry-After` honoured; a longer one waits this long.
pub const MAX_RETRY_AFTER: Duration = Duration::hours(24);

/// How long ended deliveries are kept (the `prune_jobs` task).
pub const KEEP_DELIVERIES: Duration = Duration::days(30);

/// How long the old secret keeps signing after a rotation.
pub const SECRET_OVERLAP: Duration = Duration::hours(24);

/// The Standard Webhooks retry schedule (after the first attempt: 5 s,
/// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and two more days, so an
/// endpoint that is down over a weekend still gets its events: ten
/// attempts over about three days.
pub fn default_retry_schedule() -> Vec<Duration> {
    vec![
        Duration::seconds(5),
        Duration::minutes(5),
        Duration::minutes(30),
        Duration::hours(2),
        Duration::hours(5),
        Duration::hours(10),
        Duration::hours(10),
        Duration::hours(24),
        Duration::hours(24),
    ]
}

/// A new endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewWebhook {
    /// Where events go.
    pub url: String,
    /// Wire names of the events wanted.
    pub events: Vec<String>,
    /// A note.
    pub description: Option<String>,
    /// Whether it starts enabled (default yes).
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    /// Where events go.
    pub url: Option<String>,
    /// Wire names of the events wanted.
    pub events: Option<Vec<String>>,
    /// A note.
    pub description: Option<String>,
    /// On or off; turning it on clears why it was turned off and its
    /// failure streak.
    pub enabled: Option<bool>,
}

/// The webhooks service.
pub struct Webhooks<'a>(&'a Proofsheet);

impl Proofsheet {
    /// Webhook endpoints and deliveries.
    pub fn webhooks(&self) -> Webhooks<'_> {
        Webhooks(self)
    }

    /// The job that reports `kind` about `owner`'s album with `data`, to
    /// enqueue in the transaction of the change.
    pub(crate) fn event_job(&self, kind: EventType, owner: UserId, data: serde_json::Value) -> NewJob {
        let now = self.now();
        Event::new(kind, owner, data, now).job(now)
    }
}

fn may_manage(by: &User) -> Result<()> {
    match by.role {
        Role::Photographer | Role::Admin => Ok(()),
        Role::Client => Err(Error::forbidden("photographers_only", "only photographers and admins manage webhooks")),
    }
}

fn events(names: &[String]) -> Result<Vec<EventType>> {
    if names.is_empty() {
        return Err(Error::invalid("no_events", "events must name at least one event"));
    }
    let mut out = Vec::new();
    for n in names {
        let e = EventType::parse(n)?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

fn description(d: Option<String>) -> Result<String> {
    let d = d.unwrap_or_default();
    if d.chars().count() > 500 || d.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(
            "invalid_description",
            "description is at most 500 characters, no control characters",
        ));
    }
    Ok(d)
}

impl Webhooks<'_> {
    fn check_url(&self, url: &str) -> Result<String> {
        if url.is_empty() || url.len() > MAX_WEBHOOK_URL {
            return Err(Error::invalid("invalid_url", format!("url must be 1 to {MAX_WEBHOOK_URL} characters")));
        }
        self.0.backends().webhooks.check_url(url)?;
        Ok(url.to_owned())
    }

    /// Adds an endpoint for `by`'s albums (every album for an admin); the
    /// answer holds its secret, shown this once.
    pub async fn create(&self, by: &User, new: NewWebhook) -> Result<Webhook> {
        may_manage(by)?;
        let url = self.check_url(&new.url)?;
        let events = events(&new.events)?;
        let description = description(new.description)?;
        let meta = self.0.meta();
        let mine = meta.list_webhooks(Some(by.id), PageRequest { limit: PageRequest::MAX_LIMIT, after: None }).await?;
        if mine.items.len() >= MAX_WEBHOOKS_PER_USER {
            return Err(Error::conflict(
                "too_many_webhooks",
                format!("at most {MAX_WEBHOOKS_PER_USER} webhook endpoints per user"),
            ));
        }
        let now = self.0.now();
        let webhook = Webhook {
            id: WebhookId::new(),
            owner_id: by.id,
            url,
            events,
            description,
            enabled: new.enabled.unwrap_or(true),
            disabled_reason: None,
            secret: new_webhook_secret(),
            previous_secret: None,
            previous_secret_until: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        meta.insert_webhook(&webhook).await?;
        tracing::info!(webhook_id = %webhook.id, by = %by.id, "webhook endpoint added");
        Ok(webhook)
    }

    /// `by`'s endpoints (an admin's: everyone's), by id.
    pub async fn list(&self, by: &User, page: PageRequest) -> Result<Page<Webhook>> {
        may_manage(by)?;
        let owner = if by.role == Role::Admin { None } else { Some(by.id) };
        self.0.meta().list_webhooks(owner, page).await
    }

    /// One endpoint; `NotFound` unless `by` owns it or is an admin.
    pub async fn get(&self, by: &User, id: &str) -> Result<Webhook> {
        may_manage(by)?;
        let id: WebhookId = id.parse().map_err(|_| Error::not_found("webhook"))?;
        match self.0.meta().webhook(id).await? {
            Some(w) if w.owner_id == by.id || by.role == Role::Admin => Ok(w),
            _ => Err(Error::not_found("webhook")),
        }
    }

    /// Changes an endpoint.
    pub async fn update(&self, by: &User, id: &str, patch: WebhookPatch) -> Result<Webhook> {
        let mut w = self.get(by, id).await?;
        if let Some(url) = patch.url {
            w.url = self.check_url(&url)?;
        }
        if let Some(names) = patch.events {
            w.events = events(&names)?;
        }
        if patch.description.is_some() {
            w.description = description(patch.description)?;
        }
        if let Some(on) = patch.enabled {
            if on && !w.enabled {
                w.disabled_reason = None;
                w.failing_since = None;
            }
            w.enabled = on;
        }
        w.updated_at = self.0.now();
        self.0.meta().update_webhook(&w).await?;
        Ok(w)
    }

    /// Deletes an endpoint and its deliveries.
    pub async fn delete(&self, by: &User, id: &str) -> Result<()> {
        let w = self.get(by, id).await?;
        self.0.meta().delete_webhook(w.id).await?;
        tracing::info!(webhook_id = %w.id, by = %by.id, "webhook endpoint deleted");
        Ok(())
    }

    /// A new secret; the old one keeps signing beside it for
    /// [`SECRET_OVERLAP`], so receivers can switch without losing events.
    /// The answer holds the new secret, shown this once.
    pub async fn rotate_secret(&self, by: &User, id: &str) -> Result<Webhook> {
        let mut w = self.get(by, id).await?;
        let now = self.0.now();
        w.previous_secret = Some(std::mem::replace(&mut w.secret, new_webhook_secret()));
        w.previous_secret_until = Some(now + SECRET_OVERLAP);
        w.updated_at = now;
        self.0.meta().update_webhook(&w).await?;
        tracing::info!(webhook_id = %w.id, by = %by.id, "webhook secret rotated");
        Ok(w)
    }

    /// Sends a `ping` event to the endpoint (even a disabled one's
    /// delivery is recorded, as failed); answers the delivery.
    pub async fn test(&self, by: &User, id: &str) -> Result<Delivery> {
        let w = self.get(by, id).await?;
        let now = self.0.now();
        let event = Event::new(
            EventType::Ping,
            w.owner_id,
            serde_json::json!({ "webhook_id": w.id.to_string(), "requested_by": by.id.to_string() }),
            now,
        );
        let delivery = new_delivery(&w, &event, now);
        let job = deliver_job(delivery.id, 0, now);
        self.0.meta().add_deliveries(&[(delivery.clone(), job)]).await?;
        Ok(delivery)
    }

    /// A page of an endpoint's deliveries, each with its attempts.
    pub async fn deliveries(
        &self,
        by: &User,
        id: &str,
        page: PageRequest,
    ) -> Result<Page<(Delivery, Vec<DeliveryAttempt>)>> {
        let w = self.get(by, id).await?;
        let meta = self.0.meta();
        let page = meta.list_deliveries(w.id, page).await?;
        let mut items = Vec::with_capacity(page.items.len());
        for d in page.items {
            let attempts = meta.attempts(d.id).await?;
            items.push((d, attempts));
        }
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    /// Sends a delivery again now, whatever became of it; `Conflict` while
    /// the endpoint is disabled. Answers the delivery with its attempts so
    /// far.
    pub async fn retry(&self, by: &User, id: &str, delivery: &str) -> Result<(Delivery, Vec<DeliveryAttempt>)> {
        let w = self.get(by, id).await?;
        if !w.enabled {
            return Err(Error::conflict("webhook_disabled", "enable the endpoint before sending to it again"));
        }
        let delivery: DeliveryId = delivery.parse().map_err(|_| Error::not_found("delivery"))?;
        let meta = self.0.meta();
        let mut d = match meta.delivery(delivery).await? {
            Some(d) if d.webhook_id == w.id => d,
            _ => return Err(Error::not_found("delivery")),
        };
        let now = self.0.now();
        d.status = DeliveryStatus::Pending;
        d.next_attempt_at = Some(now);
        d.updated_at = now;
        meta.record_attempt(&d, None, &[deliver_job(d.id, d.attempts, now)]).await?;
        tracing::info!(delivery_id = %d.id, by = %by.id, "webhook delivery sent again");
        let attempts = meta.attempts(d.id).await?;
        Ok((d, attempts))
    }

    /// Fans an event out: one delivery per enabled endpoint that wants it
    /// (the owner's and every admin's). Running it twice adds nothing.
    pub async fn emit(&self, event: &Event) -> Result<()> {
        let meta = self.0.meta();
        let now = self.0.now();
        let out: Vec<(Delivery, NewJob)> = meta
            .webhooks_for(event.owner)
            .await?
            .iter()
            .filter(|w| w.wants(event.kind))
            .map(|w| {
                let d = new_delivery(w, event, now);
                let job = deliver_job(d.id, 0, now);
                (d, job)
            })
            .collect();
        if !out.is_empty() {
            let added = meta.add_deliveries(&out).await?;
            tracing::debug!(event = event.kind.as_str(), added, "event fanned out");
        }
        Ok(())
    }

    /// One attempt of a delivery (the `deliver_webhook` job). `after` is the
    /// number of attempts the job was queued after: a job that finds
    /// another attempt made since (a retry asked for meanwhile) does
    /// nothing. Errors only when the store fails; what the endpoint did is
    /// recorded, not returned.
    pub async fn deliver(&self, id: DeliveryId, after: u32) -> Result<()> {
        let meta = self.0.meta();
        let Some(mut d) = meta.delivery(id).await? else { return Ok(()) };
        if d.status != DeliveryStatus::Pending || d.attempts != after {
            return Ok(());
        }
        let Some(mut w) = meta.webhook(d.webhook_id).await? else { return Ok(()) };
        let b = self.0.backends();
        let now = b.clock.now();
        if !w.enabled {
            d.status = DeliveryStatus::Failed;
            d.next_attempt_at = None;
            d.updated_at = now;
            return meta.record_attempt(&d, None, &[]).await;
        }
        let Some(_slot) = self.0.webhooks_in_flight().take(w.id) else {
            // The endpoint has its share in flight: this one waits its turn
            // (the delivery itself is unchanged; only a job is added).
            let turn = now + Duration::milliseconds(250);
            return b.queue.enqueue(&deliver_job(d.id, d.attempts, turn)).await;
        };
        let timestamp = now.timestamp();
        let headers = [
            ("webhook-id", d.message_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", sign_webhook(&w.signing_secrets(now), &d.message_id, timestamp, &d.body)),
            ("content-type", "application/json".to_owned()),
            ("user-agent", concat!("Proofsheet-Webhooks/", env!("CARGO_PKG_VERSION")).to_owned()),
        ];
        let started = std::time::Instant::now();
        let answer = b.webhooks.post(&w.url, &headers, &d.body).await;
        let took = started.elapsed();
        let now = b.clock.now();
        d.attempts += 1;
        d.updated_at = now;
        let mut attempt = DeliveryAttempt {
            delivery_id: d.id,
            attempt: d.attempts,
            at: now,
            status_code: None,
            response: None,
            error: None,
            duration_ms: took.as_millis() as u64,
        };
        let mut jobs = Vec::new();
        let mut retry_after = None;
        let outcome = match answer {
            Ok(r) => {
                attempt.status_code = Some(r.status);
                attempt.response = Some(excerpt(&r.excerpt));
                if matches!(r.status, 429 | 502 | 503 | 504) {
                    retry_after = r.retry_after.map(|s| Duration::seconds(s.min(i64::MAX as u64) as i64));
                }
                if (200..300).contains(&r.status) {
                    "succeeded"
                } else if r.status == 410 {
                    "gone"
                } else {
                    "failed"
                }
            }
            Err(e) => {
                attempt.error = Some(excerpt(&e));
                "failed"
            }
        };
        crate::metrics::job("webhook_attempt", outcome, took);
        // What the sender may change on the endpoint, to write it only when
        // it did change.
        let before = (w.failing_since, w.enabled);
        match outcome {
            "succeeded" => {
                d.status = DeliveryStatus::Succeeded;
                d.next_attempt_at = None;
                w.failing_since = None;
            }
            "gone" => {
                d.status = DeliveryStatus::Failed;
                d.next_attempt_at = None;
                self.turn_off(&mut w, "the endpoint answered 410 Gone", &mut jobs, now);
            }
            _ => {
                let settings = self.0.settings();
                let schedule = &settings.webhook_retries;
                match schedule.get(d.attempts as usize - 1) {
                    Some(wait) => {
                        let wait =
                            retry_after.map(|r| r.min(MAX_RETRY_AFTER).max(*wait)).unwrap_or_else(|| jitter(*wait));
                        let at = now + wait;
                        d.next_attempt_at = Some(at);
                        jobs.push(deliver_job(d.id, d.attempts, at));
                    }
                    None => {
                        d.status = DeliveryStatus::Failed;
                        d.next_attempt_at = None;
                    }
                }
                let since = *w.failing_since.get_or_insert(now);
                if now - since >= settings.webhook_disable_after {
                    let reason = format!(
                        "every delivery failed since {}",
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    );
                    self.turn_off(&mut w, &reason, &mut jobs, now);
                }
            }
        }
        if (w.failing_since, w.enabled) != before {
            // The endpoint may have been changed by its owner meanwhile: only
            // the sender's fields are written over a fresh read.
            if let Some(mut fresh) = meta.webhook(w.id).await? {
                fresh.failing_since = w.failing_since;
                if !w.enabled && fresh.enabled {
                    fresh.enabled = false;
                    fresh.disabled_reason = w.disabled_reason.clone();
                    fresh.updated_at = now;
                }
                meta.update_webhook(&fresh).await?;
            }
        }
        tracing::info!(
            delivery_id = %d.id,
            webhook_id = %w.id,
            attempt = d.attempts,
            status = attempt.status_code,
            outcome,
            "webhook attempt"
        );
        meta.record_attempt(&d, Some(&attempt), &jobs).await
    }

    fn turn_off(&self, w: &mut Webhook, reason: &str, jobs: &mut Vec<NewJob>, now: DateTime<Utc>) {
        if !w.enabled {
            return;
        }
        tracing::warn!(webhook_id = %w.id, reason, "webhook endpoint turned off");
        w.enabled = false;
        w.disabled_reason = Some(reason.to_owned());
        jobs.push(NewJob::now(Task::Notify { notification: Notification::WebhookDisabled { webhook_id: w.id } }, now));
    }

    /// Deletes deliveries that ended more than `keep` ago (the periodic
    /// clean-up); answers how many.
    pub async fn prune(&self, keep: Duration) -> Result<u64> {
        self.0.meta().prune_deliveries(self.0.now() - keep).await
    }
}

/// What order events carry.
pub(crate) fn order_data(order: &crate::Order, status: crate::OrderStatus) -> serde_json::Value {
    serde_json::json!({
        "order_id": order.id.to_string(),
        "album_id": order.album_id.to_string(),
        "buyer_id": order.buyer_id.to_string(),
        "status": status.as_str(),
        "total": { "amount": order.total.amount, "currency": order.total.currency.as_str() },
        "photo_count": order.items.len(),
    })
}

/// What photo events carry.
pub(crate) fn photo_data(photo: &crate::Photo) -> serde_json::Value {
    serde_json::json!({
        "photo_id": photo.id.to_string(),
        "album_id": photo.album_id.to_string(),
        "filename": photo.filename,
        "status": photo.status.as_str(),
        "width": photo.width,
        "height": photo.height,
        "sha256": photo.sha256,
        "reason": photo.failure_reason,
    })
}

fn new_delivery(w: &Webhook, event: &Event, now: DateTime<Utc>) -> Delivery {
    Delivery {
        id: DeliveryId::new(),
        webhook_id: w.id,
        message_id: event.id.clone(),
        event_type: event.kind.as_str().to_owned(),
        body: event.body(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        created_at: now,
        updated_at: now,
    }
}

fn deliver_job(id: DeliveryId, after: u32, at: DateTime<Utc>) -> NewJob {
    let mut job = NewJob::now(Task::DeliverWebhook { delivery_id: id, after }, at);
    // The delivery keeps its own schedule; the queue's retries only cover
    // the store failing under the worker.
    job.max_attempts = 20;
    job
}

/// `wait` give or take a tenth, so endpoints that failed together do not
/// all come back at once.
fn jitter(wait: Duration) -> Duration {
    let ms = wait.num_milliseconds().max(0);
    let spread = ms / 10;
    if spread == 0 {
        return wait;
    }
    Duration::milliseconds(ms + rand::thread_rng().gen_range(-spread..=spread))
}

fn excerpt(s: &str) -> String {
    let mut end = s.len().min(DeliveryAttempt::EXCERPT_BYTES);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_and_jitter_stays_within_a_tenth() {
        let total: Duration = default_retry_schedule().into_iter().sum();
        assert!(total > Duration::hours(70) && total < Duration::hours(80), "{total}");
        for _ in 0..200 {
            let j = jitter(Duration::minutes(10));
            assert!(j >= Duration::minutes(9) && j <= Duration::minutes(11), "{j}");
        }
        assert_eq!(jitter(Duration::milliseconds(5)), Duration::milliseconds(5));
    }

    #[test]
    fn excerpts_cut_on_a_character_boundary() {
        let long = "é".repeat(2000);
        let e = excerpt(&long);
        assert!(e.len() <= DeliveryAttempt::EXCERPT_BYTES && e.chars().all(|c| c == 'é'));
    }
}
