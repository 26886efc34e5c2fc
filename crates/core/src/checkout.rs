//! The checkout service: orders, payments and verified notifications.

use std::collections::HashSet;

use tracing::instrument;

use crate::{
    Access, AlbumId, CheckoutRecorded, CheckoutRequest, Error, NewJob, Order, OrderChange, OrderFilter, OrderId,
    OrderItem, OrderStatus, Page, PageRequest, PaymentEvent, PaymentOutcome, PhotoId, PhotoStatus, Proofsheet, Result,
    Role, Task, User,
};

/// What applying a payment notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The order moved to the new status.
    Changed(Order),
    /// The notification was a repeat, or came too late to matter.
    Ignored,
}

/// A client's `Idempotency-Key` for a request that creates something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The route, e.g. `POST /orders`; keys are scoped per user and route.
    pub scope: String,
    /// The key the client sent.
    pub key: String,
    /// SHA-256 of the request body, to catch a key reused for another body.
    pub request_hash: [u8; 32],
}

impl IdempotencyKey {
    /// The stored reply (`201` with `body`) this key answers with.
    fn reply(&self, user: crate::UserId, body: String, now: chrono::DateTime<chrono::Utc>) -> crate::IdempotentReply {
        crate::IdempotentReply {
            user_id: user,
            scope: self.scope.clone(),
            key: self.key.clone(),
            request_hash: self.request_hash,
            status: 201,
            body,
            created_at: now,
        }
    }
}

/// The address a stored checkout reply holds. Replies stored before the
/// key moved into [`Checkout::start_once`] held the REST answer's JSON
/// (`{"checkout_url": ...}`); they are read as that address.
fn checkout_url(stored: String) -> String {
    serde_json::from_str::<serde_json::Value>(&stored)
        .ok()
        .and_then(|v| v.get("checkout_url")?.as_str().map(str::to_owned))
        .unwrap_or(stored)
}

/// The checkout service. Get it with [`Proofsheet::checkout`].
pub struct Checkout<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The checkout service.
    pub fn checkout(&self) -> Checkout<'_> {
        Checkout(self)
    }
}

impl Checkout<'_> {
    /// Creates a pending order for photos of one album, priced now.
    #[instrument(skip_all, fields(user_id = %buyer.id, album_id = %album_id))]
    pub async fn create_order(&self, buyer: &User, album_id: AlbumId, photo_ids: &[PhotoId]) -> Result<Order> {
        self.create_order_once(buyer, album_id, photo_ids, None).await
    }

    /// Like [`Checkout::create_order`], at most once per idempotency key:
    /// the key is reserved in the order's own transaction, so any number of
    /// concurrent requests with one key make one order and all get it. A
    /// key already used with another request body is refused (422
    /// `idempotency_key_reused`).
    pub async fn create_order_once(
        &self,
        buyer: &User,
        album_id: AlbumId,
        photo_ids: &[PhotoId],
        key: Option<&IdempotencyKey>,
    ) -> Result<Order> {
        if buyer.role != Role::Client {
            return Err(Error::forbidden("clients_only", "only clients place orders"));
        }
        let (album, access) = self.0.albums().get(Some(buyer), album_id).await?;
        debug_assert!(access == Access::Client || access == Access::Public);
        let now = self.0.now();
        if album.is_expired(now) {
            return Err(Error::conflict("album_expired", "the album has expired"));
        }
        let max = self.0.settings().max_order_items;
        if photo_ids.is_empty() || photo_ids.len() > max {
            return Err(Error::invalid("invalid_photo_ids", format!("order 1 to {max} photos")));
        }
        let mut seen = HashSet::new();
        let mut items = Vec::with_capacity(photo_ids.len());
        for id in photo_ids {
            if !seen.insert(*id) {
                return Err(Error::invalid("duplicate_photo", format!("photo {id} is listed twice")));
            }
            let photo = match self.0.meta().photo(*id).await? {
                Some(p) if p.album_id == album.id => p,
                _ => {
                    return Err(Error::invalid("unknown_photo", format!("photo {id} is not in this album")));
                }
            };
            if photo.status != PhotoStatus::Ready {
                return Err(Error::conflict("photo_not_ready", format!("photo {id} is not ready for sale")));
            }
            items.push(OrderItem { photo_id: photo.id, filename: photo.filename, price: album.price_per_photo });
        }
        let total = album.price_per_photo.times(items.len() as u64)?;
        let order = Order {
            id: OrderId::new(),
            buyer_id: buyer.id,
            album_id: album.id,
            seller_id: album.owner_id,
            status: OrderStatus::Pending,
            items,
            total,
            gateway: None,
            payment_ref: None,
            created_at: now,
            updated_at: now,
            paid_at: None,
        };
        let reply = key.map(|k| k.reply(buyer.id, order.id.to_string(), now));
        if !self.0.meta().insert_order(&order, reply.as_ref(), None).await? {
            // Another request with this key won: its order is the answer.
            let k = key.expect("only a key can be taken");
            let stored = self.stored_reply(buyer, k).await?;
            let stored = stored.ok_or_else(|| Error::backend("reading an idempotency key", "reserved but missing"))?;
            let id: OrderId = stored.parse().map_err(|e| Error::backend_permanent("reading an idempotency key", e))?;
            return self.order(buyer, id).await;
        }
        tracing::info!(order_id = %order.id, total = %order.total, "order created");
        Ok(order)
    }

    /// An order its buyer or seller may see; `NotFound` for anyone else.
    pub async fn order(&self, user: &User, id: OrderId) -> Result<Order> {
        match self.0.meta().order(id).await? {
            Some(o) if o.buyer_id == user.id || o.seller_id == user.id => Ok(o),
            _ => Err(Error::not_found("order")),
        }
    }

    /// An order as a gateway's own payment page shows it: the page's
    /// signed session names the order, and that signature is the
    /// authorization (the offline test gateway's page).
    pub async fn order_for_payment_page(&self, id: OrderId) -> Result<Option<Order>> {
        self.0.meta().order(id).await
    }

    /// The album of an order its buyer or seller may see (`None` once the
    /// album is deleted: the order outlives it).
    pub async fn album_of(&self, user: &User, order: &Order) -> Result<Option<crate::Album>> {
        if order.buyer_id != user.id && order.seller_id != user.id {
            return Err(Error::not_found("order"));
        }
        self.0.meta().album(order.album_id).await
    }

    /// The reply stored for a request with this idempotency key, to answer
    /// again; `None` when the key is new; 422 `idempotency_key_reused` when
    /// it came with another request body, 422 `invalid_idempotency_key`
    /// unless it is 1 to 255 characters.
    pub async fn replay(&self, user: &User, key: &IdempotencyKey) -> Result<Option<String>> {
        if key.key.is_empty() || key.key.len() > 255 {
            return Err(Error::invalid("invalid_idempotency_key", "Idempotency-Key must be 1 to 255 characters"));
        }
        self.stored_reply(user, key).await
    }

    /// The body stored for this key, if any; 422 `idempotency_key_reused`
    /// when it was stored for another request body.
    async fn stored_reply(&self, user: &User, key: &IdempotencyKey) -> Result<Option<String>> {
        match self.0.meta().idempotent_reply(user.id, &key.scope, &key.key).await? {
            Some(r) if r.request_hash == key.request_hash => Ok(Some(r.body)),
            Some(_) => Err(Error::invalid(
                "idempotency_key_reused",
                "this Idempotency-Key was used with a different request body",
            )),
            None => Ok(None),
        }
    }

    /// The caller's orders: a client's purchases, a photographer's sales.
    pub async fn orders(&self, user: &User, page: PageRequest) -> Result<Page<Order>> {
        let filter = match user.role {
            Role::Photographer => OrderFilter::Seller(user.id),
            Role::Client | Role::Admin => OrderFilter::Buyer(user.id),
        };
        self.0.meta().list_orders(filter, page).await
    }

    /// The orders on an album, for its owner (`Forbidden`/`NotFound` as
    /// [`crate::Albums::get_owned`]).
    pub async fn album_orders(&self, user: &User, album: AlbumId, page: PageRequest) -> Result<Page<Order>> {
        let album = self.0.albums().get_owned(user, album).await?;
        self.0.meta().list_orders(OrderFilter::Album(album.id), page).await
    }

    /// Opens a payment with a gateway for the buyer's pending order; the
    /// answer is where to send the buyer to pay.
    pub async fn start(
        &self,
        buyer: &User,
        id: OrderId,
        gateway: Option<&str>,
        success_url: String,
        cancel_url: String,
    ) -> Result<String> {
        self.start_once(buyer, id, gateway, success_url, cancel_url, None).await
    }

    /// Like [`Checkout::start`], at most once per idempotency key: a key
    /// seen before answers the same address again without touching the
    /// gateway, and the key is reserved in the same transaction that makes
    /// the new session the order's ([`crate::OrderStore::record_checkout`]),
    /// so of two concurrent requests with one key, one records its session
    /// and both answer it. A key already used with another request body is
    /// refused (422 `idempotency_key_reused`); an answer that was an error
    /// keeps no key.
    #[instrument(skip_all, fields(order_id = %id))]
    pub async fn start_once(
        &self,
        buyer: &User,
        id: OrderId,
        gateway: Option<&str>,
        success_url: String,
        cancel_url: String,
        key: Option<&IdempotencyKey>,
    ) -> Result<String> {
        if let Some(k) = key
            && let Some(url) = self.replay(buyer, k).await?
        {
            return Ok(checkout_url(url));
        }
        let order = match self.0.meta().order(id).await? {
            Some(o) if o.buyer_id == buyer.id => o,
            Some(o) if o.seller_id == buyer.id => {
                return Err(Error::forbidden("not_buyer", "only the buyer pays for an order"));
            }
            _ => return Err(Error::not_found("order")),
        };
        if order.status != OrderStatus::Pending {
            return Err(Error::conflict("order_not_pending", format!("the order is {}", order.status.as_str())));
        }
        let gateway = self.0.gateway(gateway)?;
        let album = match self.0.meta().album(order.album_id).await? {
            Some(a) if !a.is_expired(self.0.now()) => a,
            _ => {
                return Err(Error::conflict("album_expired", "the album is no longer for sale"));
            }
        };
        if !album.access_for(Some(buyer)).can_view() {
            self.cancel(&order, "the buyer lost access to the album").await?;
            return Err(Error::conflict(
                "order_cancelled",
                "you no longer have access to this album: the order is cancelled",
            ));
        }
        let album_name = album.name;
        // One payable session per order: the one opened before (on any
        // gateway still configured) is closed first. If it turns out paid,
        // that payment is applied and no new session opens.
        let previous = match (order.status, order.gateway.as_deref(), order.payment_ref.as_deref()) {
            (OrderStatus::Pending, Some(name), Some(reference)) => Some((name, reference)),
            _ => None,
        };
        if self.close_open_checkout(&order).await? {
            return Err(Error::conflict("order_not_pending", "the order was paid in an earlier checkout"));
        }
        let previous = previous.filter(|(name, _)| *name == gateway.name()).map(|(_, reference)| reference);
        let idempotency_key = match previous {
            None => format!("proofsheet-checkout-{}", order.id),
            Some(reference) => {
                format!("proofsheet-checkout-{}-after-{}", order.id, crate::render::short_digest(reference.as_bytes()))
            }
        };
        let request = CheckoutRequest {
            order: &order,
            album_name: &album_name,
            success_url,
            cancel_url,
            idempotency_key,
            previous,
            buyer_email: Some(buyer.email.as_str()),
            now: self.0.now(),
        };
        let session = gateway.create_checkout(&request).await?;
        let now = self.0.now();
        let reply = key.map(|k| k.reply(buyer.id, session.url.clone(), now));
        match self.0.meta().record_checkout(order.id, gateway.name(), &session.reference, now, reply.as_ref()).await? {
            CheckoutRecorded::Recorded => {
                tracing::info!(gateway = gateway.name(), "checkout started");
                Ok(session.url)
            }
            CheckoutRecorded::NotPending => {
                // Paid (or ended) while the session opened: close it again.
                gateway.close_checkout(&order, &session.reference, now).await?;
                Err(Error::conflict("order_not_pending", "the order changed during checkout"))
            }
            CheckoutRecorded::KeyTaken => {
                // Another request with this key recorded its session first:
                // that one is the answer, and ours closes unless the
                // gateway gave both the same session (one gateway key).
                let k = key.expect("only a key can be taken");
                let url = self.stored_reply(buyer, k).await?;
                let url = url.ok_or_else(|| Error::backend("reading an idempotency key", "reserved but missing"))?;
                let url = checkout_url(url);
                let current = self.0.meta().order(order.id).await?.and_then(|o| o.payment_ref);
                if current.as_deref() != Some(session.reference.as_str()) {
                    gateway.close_checkout(&order, &session.reference, now).await?;
                }
                Ok(url)
            }
        }
    }

    /// Authenticates a gateway notification and applies it.
    ///
    /// Nothing in `body` is read before the gateway has verified it.
    #[instrument(skip_all, fields(gateway = gateway))]
    pub async fn notification(&self, gateway: &str, headers: &[(String, String)], body: &[u8]) -> Result<Applied> {
        let gw = self.0.gateway(Some(gateway)).map_err(|_| Error::not_found("gateway"))?;
        let event = match gw.verify_notification(headers, body, self.0.now()) {
            Ok(Some(event)) => event,
            Ok(None) => {
                crate::metrics::payment(gw.name(), "none", "ignored");
                return Ok(Applied::Ignored);
            }
            Err(e) => {
                crate::metrics::payment(gw.name(), "unverified", "rejected");
                tracing::warn!(target: "audit", action = "payment_notification", gateway = gw.name(), error = %e, "refused");
                return Err(e);
            }
        };
        let outcome = event.outcome.as_str();
        let (order_id, event_id) = (event.order_id, event.id.clone());
        let applied = self.apply(gw.name(), event).await?;
        let result = if matches!(applied, Applied::Changed(_)) { "changed" } else { "ignored" };
        crate::metrics::payment(gw.name(), outcome, result);
        tracing::info!(
            target: "audit", action = "payment_notification", gateway = gw.name(), %order_id, %event_id, outcome, result,
            "applied"
        );
        Ok(applied)
    }

    /// Applies a verified payment event through the order state machine.
    ///
    /// Safe to call any number of times, in any order: the status guard in
    /// the store makes every transition happen at most once.
    #[instrument(skip_all, fields(order_id = %event.order_id, event_id = %event.id))]
    pub async fn apply(&self, gateway: &str, event: PaymentEvent) -> Result<Applied> {
        let now = self.0.now();
        let meta = self.0.meta();
        let change = OrderChange {
            gateway: Some(gateway.to_owned()),
            payment_ref: event.reference.clone(),
            paid_at: (event.outcome == PaymentOutcome::Paid).then_some(now),
            // A closed session's end is not the order's end; a payment,
            // from whichever session, always counts.
            only_if_ref: match event.outcome {
                PaymentOutcome::Expired | PaymentOutcome::Declined => event.checkout.clone(),
                PaymentOutcome::Paid | PaymentOutcome::Refunded => None,
            },
        };
        let (to, mut jobs) = match event.outcome {
            PaymentOutcome::Paid => (
                OrderStatus::Paid,
                vec![
                    NewJob::now(Task::BuildZip { order_id: event.order_id }, now),
                    NewJob::now(
                        Task::Notify { notification: crate::Notification::OrderPaid { order_id: event.order_id } },
                        now,
                    ),
                ],
            ),
            PaymentOutcome::Declined => (OrderStatus::Cancelled, vec![]),
            PaymentOutcome::Expired => (OrderStatus::Expired, vec![]),
            // The links are revoked in the same transaction; the zips are
            // deleted by a job, so the webhook answers at once and a storage
            // hiccup is retried rather than lost.
            PaymentOutcome::Refunded => {
                (OrderStatus::Refunded, vec![NewJob::now(Task::RevokeDownloads { order_id: event.order_id }, now)])
            }
        };
        let reported = match to {
            OrderStatus::Paid => Some(crate::EventType::OrderPaid),
            OrderStatus::Refunded => Some(crate::EventType::OrderRefunded),
            OrderStatus::Expired => Some(crate::EventType::OrderExpired),
            _ => None,
        };
        if let Some(kind) = reported
            && let Some(order) = meta.order(event.order_id).await?
        {
            jobs.push(self.0.event_job(kind, order.seller_id, crate::webhooks::order_data(&order, to)));
        }
        let changed = meta.transition_order(event.order_id, to, &change, &jobs, now).await?;
        meta.record_payment_event(gateway, &event.id, now).await?;
        match changed {
            Some(order) => {
                tracing::info!(status = to.as_str(), "order status changed");
                Ok(Applied::Changed(order))
            }
            None => {
                tracing::info!(status = to.as_str(), "payment event ignored by the state machine");
                Ok(Applied::Ignored)
            }
        }
    }

    /// Cancels the pending orders on `album` whose buyers may no longer
    /// see it (the owner changed its client or made it private), closing
    /// any checkout they opened, so nobody pays for, or downloads, photos
    /// of an album they lost. Returns how many were cancelled.
    pub async fn cancel_orders_without_access(&self, album: &crate::Album) -> Result<usize> {
        let meta = self.0.meta();
        let mut cancelled = 0;
        let mut page = PageRequest { limit: PageRequest::MAX_LIMIT, after: None };
        loop {
            let orders = meta.list_orders(OrderFilter::Album(album.id), page).await?;
            for order in orders.items.iter().filter(|o| o.status == OrderStatus::Pending) {
                let buyer = meta.user(order.buyer_id).await?;
                if buyer.as_ref().is_some_and(|b| album.access_for(Some(b)).can_view()) {
                    continue;
                }
                if self.cancel(order, "the buyer lost access to the album").await? {
                    cancelled += 1;
                }
            }
            match orders.next_cursor.as_deref().map(|c| PageRequest::new(Some(PageRequest::MAX_LIMIT), Some(c))) {
                Some(next) => page = next?,
                None => return Ok(cancelled),
            }
        }
    }

    /// Closes the checkout session `order` has open with a gateway still
    /// configured, if any; `true` when the gateway reports it paid (that
    /// payment is then applied).
    async fn close_open_checkout(&self, order: &Order) -> Result<bool> {
        if let (Some(name), Some(reference)) = (order.gateway.as_deref(), order.payment_ref.as_deref())
            && let Ok(gateway) = self.0.gateway(Some(name))
            && let Some(paid) = gateway.close_checkout(order, reference, self.0.now()).await?
        {
            let name = gateway.name().to_owned();
            self.apply(&name, paid).await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Cancels a pending order and closes its open checkout, if any;
    /// `false` if it was no longer pending. A payment the gateway had
    /// already taken is applied instead (the order is then paid).
    async fn cancel(&self, order: &Order, why: &str) -> Result<bool> {
        if self.close_open_checkout(order).await? {
            return Ok(false);
        }
        let changed = self
            .0
            .meta()
            .transition_order(order.id, OrderStatus::Cancelled, &OrderChange::default(), &[], self.0.now())
            .await?
            .is_some();
        if changed {
            tracing::info!(target: "audit", order_id = %order.id, reason = why, "pending order cancelled");
        }
        Ok(changed)
    }

    /// Expires orders left `pending` since before `older_than` (abandoned
    /// carts), a batch at a time; returns how many were expired. Safe on
    /// several processes at once: the status guard expires each once.
    pub async fn expire_stale(&self, older_than: chrono::DateTime<chrono::Utc>) -> Result<usize> {
        let meta = self.0.meta();
        let mut expired = 0;
        loop {
            let ids = meta.stale_pending_orders(older_than, 100).await?;
            if ids.is_empty() {
                return Ok(expired);
            }
            for id in ids {
                let now = self.0.now();
                let Some(order) = meta.order(id).await? else { continue };
                let event = self.0.event_job(
                    crate::EventType::OrderExpired,
                    order.seller_id,
                    crate::webhooks::order_data(&order, OrderStatus::Expired),
                );
                if meta
                    .transition_order(id, OrderStatus::Expired, &OrderChange::default(), &[event], now)
                    .await?
                    .is_some()
                {
                    tracing::info!(order_id = %id, "abandoned order expired");
                    expired += 1;
                }
            }
        }
    }
}
