//! The metadata store: users, albums, photos, orders, links.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    Album, AlbumId, DownloadLink, Email, Face, NewJob, Order, OrderId, OrderStatus, Page, PageRequest, Photo, PhotoId,
    Result, Session, UploadId, User, UserId,
    pricing::{Coupon, CouponId, PriceSheet, PriceSheetId},
};

/// Which albums to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlbumFilter {
    /// A photographer's own albums.
    OwnedBy(UserId),
    /// Albums shared with this (verified) address, plus every public album.
    VisibleTo(Email),
    /// Public albums only (a client whose address is not verified yet).
    Public,
}

/// Which orders to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderFilter {
    /// A client's own orders.
    Buyer(UserId),
    /// Orders on a photographer's albums.
    Seller(UserId),
    /// Orders on one album.
    Album(AlbumId),
}

/// Fields set together with an order's status change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderChange {
    /// The gateway that reported it.
    pub gateway: Option<String>,
    /// The gateway's reference.
    pub payment_ref: Option<String>,
    /// Set when the order becomes paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// Change the order only if its `payment_ref` is unset or equals this:
    /// an event about an old checkout session leaves the order alone.
    pub only_if_ref: Option<String>,
}

/// One album's sales in one currency over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesRow {
    /// The album (it may have been deleted since).
    pub album_id: AlbumId,
    /// Its name, if it still exists.
    pub album_name: Option<String>,
    /// The photographer.
    pub seller_id: UserId,
    /// Currency of the rows summed.
    pub currency: crate::Currency,
    /// Paid orders (paid or fulfilled, not refunded).
    pub orders: u64,
    /// Photos in them.
    pub photos: u64,
    /// Sum of their prices, in minor units.
    pub revenue: i64,
}

/// One run of a periodic task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledRun {
    /// The task's name.
    pub task: String,
    /// The period it ran for (the schedule's fire time).
    pub fire_at: DateTime<Utc>,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// When it finished, if it did.
    pub finished_at: Option<DateTime<Utc>>,
    /// `ok` or `failed`.
    pub outcome: Option<String>,
    /// What it did, or why it failed.
    pub detail: Option<String>,
}

/// A stored reply to an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentReply {
    /// Who sent it; keys are scoped per user and route.
    pub user_id: UserId,
    /// The route, e.g. `POST /orders`.
    pub scope: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
    /// SHA-256 of the request body, to catch a key reused for another body.
    pub request_hash: [u8; 32],
    /// Status code sent.
    pub status: u16,
    /// Body sent.
    pub body: String,
    /// When stored; kept at least 24 hours.
    pub created_at: DateTime<Utc>,
}

/// Accounts and sessions.
///
/// Rules: an e-mail address belongs to one user (`insert_user` answers
/// `Conflict("email_taken")`); a session is found only before its
/// `expires_at` and never after `delete_session`; the first proof of an
/// address ([`AccountStore::claim_mailbox`]) ends the account's sessions
/// and clears a password set before it, in one transaction; a password
/// change ends every other session in the same transaction.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Adds a user; `Conflict("email_taken")` if the address is in use.
    async fn insert_user(&self, user: &User, password_hash: &str) -> Result<()>;
    /// A user and their password hash, by address.
    async fn user_by_email(&self, email: &Email) -> Result<Option<(User, String)>>;
    /// A user by id.
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    /// Stores a session.
    async fn insert_session(&self, session: &Session) -> Result<()>;
    /// The user of a live session.
    async fn session_user(&self, token_hash: &[u8; 32], now: DateTime<Utc>) -> Result<Option<User>>;
    /// Revokes a session.
    async fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()>;
    /// A user's password hash: `None` when there is no such user,
    /// [`NO_PASSWORD`](crate::NO_PASSWORD) when the account has none.
    async fn password_hash(&self, user: UserId) -> Result<Option<String>>;
    /// The first proof of a mailbox: marks the never-verified address of
    /// `user` verified and, in the same transaction, ends every session of
    /// the account and (unless `keep_password`) clears its password, so
    /// that whoever set them up before the proof (a stranger who registered
    /// the address) keeps nothing. `false`, changing nothing, when the
    /// address was verified already or there is no such user.
    async fn claim_mailbox(&self, user: UserId, keep_password: bool, now: DateTime<Utc>) -> Result<bool>;
    /// Sets a user's password hash and, in the same transaction, ends every
    /// session of the account but `keep` (the caller's).
    async fn set_password(&self, user: UserId, hash: &str, keep: Option<&[u8; 32]>) -> Result<()>;
    /// A user's live sessions at `now`, newest first, at most 100.
    async fn sessions_of(&self, user: UserId, now: DateTime<Utc>) -> Result<Vec<Session>>;
    /// Ends every session of a user but `keep`; how many ended.
    async fn delete_sessions_of(&self, user: UserId, keep: Option<&[u8; 32]>) -> Result<u64>;
    /// Takes the mail slot `key` until `until`: `true` when it was free
    /// (never taken, or its last taker's `until` is not after `now`).
    ///
    /// Rule: of concurrent callers for one free slot, exactly one gets
    /// `true`. Used to cap mail that anyone can trigger (one "you already
    /// have an account" mail per address per day).
    async fn take_mail_slot(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool>;
    /// Stores a sign-in link (and forgets links that expired before its
    /// `created_at`).
    async fn insert_sign_in_link(&self, link: &SignInLink) -> Result<()>;
    /// Takes a sign-in link: the address it was made for, if it exists and
    /// has not expired at `now`; it is gone afterwards either way.
    ///
    /// Rule: a link is taken at most once, even by concurrent callers.
    async fn take_sign_in_link(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<Option<Email>>;
    /// Whether `email` is the client of an album that is neither purged nor
    /// a draft (an
    /// invitation: such an address may get a client account by e-mail link).
    async fn is_invited(&self, email: &Email) -> Result<bool>;
    /// The digest naming a user's current watermark logo, if they have one.
    async fn logo(&self, user: UserId) -> Result<Option<String>>;
    /// Makes `logo` the user's current logo (`None`: they have none).
    async fn set_logo(&self, user: UserId, logo: Option<&str>, now: DateTime<Utc>) -> Result<()>;
    /// A photographer's studio, if they saved one.
    async fn studio(&self, user: UserId) -> Result<Option<crate::Studio>>;
    /// Saves a photographer's studio (validated by the caller), replacing
    /// the one before.
    async fn set_studio(&self, user: UserId, studio: &crate::Studio, now: DateTime<Utc>) -> Result<()>;
}

/// A single-use sign-in link mailed to an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInLink {
    /// The link's id (the mailed token carries it with a MAC).
    pub id: uuid::Uuid,
    /// The address it signs in.
    pub email: Email,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A client's favourite photo, as the album's owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Favourite {
    /// The photo.
    pub photo_id: PhotoId,
    /// The client.
    pub user_id: UserId,
    /// The client's address.
    pub email: Email,
    /// When it was marked.
    pub created_at: DateTime<Utc>,
}

/// Albums and their photos.
///
/// Rules: every change to an album or its photos changes
/// [`Album::revision`] in the same transaction; `insert_photo` writes its
/// jobs in the same transaction (the outbox) and fails with
/// `NotFound("album")` for an album that does not exist; deleting an album
/// deletes its photos' records but never orders; albums are listed by id,
/// photos in their album's order (below), both paged by cursor; a draft
/// album is listed to its owner only.
///
/// An album's photo order: the photos its owner placed
/// ([`AlbumStore::set_photo_order`], by `position`), then the others by
/// capture time (`taken_at`; photos without one after those with one),
/// then by file name, then by id.
#[async_trait]
pub trait AlbumStore: Send + Sync {
    /// Adds an album.
    async fn insert_album(&self, album: &Album) -> Result<()>;
    /// An album by id.
    async fn album(&self, id: AlbumId) -> Result<Option<Album>>;
    /// Saves an album's changed fields.
    ///
    /// Rule: this and every write to the album's photos (insert, update,
    /// render, delete) change [`Album::revision`] in the same transaction,
    /// so a reader holding a cached photo list knows from the album alone
    /// whether it is still true.
    async fn update_album(&self, album: &Album) -> Result<()>;
    /// Removes an album and its photo records.
    async fn delete_album(&self, id: AlbumId) -> Result<()>;
    /// A page of albums, by id.
    async fn list_albums(&self, filter: &AlbumFilter, page: PageRequest) -> Result<Page<Album>>;
    /// Adds a photo and enqueues `jobs` in the same transaction.
    async fn insert_photo(&self, photo: &Photo, jobs: &[NewJob]) -> Result<()>;
    /// A photo by id.
    async fn photo(&self, id: PhotoId) -> Result<Option<Photo>>;
    /// Saves a photo's status, reason, size and render count, enqueuing
    /// `jobs` (its events) in the same transaction.
    async fn update_photo(&self, photo: &Photo, jobs: &[NewJob]) -> Result<()>;
    /// Marks a `processing` photo `ready` with its upright size and counts
    /// one rendering, enqueuing `jobs` in the same transaction; `false`
    /// (nothing changed, nothing enqueued) if it was not processing.
    async fn mark_photo_rendered(&self, id: PhotoId, width: u32, height: u32, jobs: &[NewJob]) -> Result<bool>;
    /// Removes a photo record.
    async fn delete_photo(&self, id: PhotoId) -> Result<()>;
    /// The storage `owner` uses at `now`: the originals of the photos in
    /// their albums that are not purged, plus the declared lengths of their
    /// unfinished resumable uploads that are not idle past `idle_until`.
    async fn storage_used(&self, owner: UserId, now: DateTime<Utc>) -> Result<u64>;
    /// Reserves `length` bytes of `owner`'s storage for an unfinished
    /// resumable upload; `false` (nothing stored) when that would take them
    /// past `quota`.
    ///
    /// Rule: the check and the reservation are one step per owner:
    /// concurrent reservations of one owner never together pass the quota.
    async fn reserve_upload(
        &self,
        upload: UploadId,
        owner: UserId,
        length: u64,
        idle_until: DateTime<Utc>,
        quota: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// Moves an upload's idle deadline (a chunk arrived); `false` if it has
    /// no reservation.
    async fn touch_upload(&self, upload: UploadId, idle_until: DateTime<Utc>) -> Result<bool>;
    /// An upload reservation's idle deadline, if it has one.
    async fn upload_idle_until(&self, upload: UploadId) -> Result<Option<DateTime<Utc>>>;
    /// Drops an upload's reservation (finished, ended or pruned).
    async fn release_upload(&self, upload: UploadId) -> Result<()>;
    /// [`AlbumStore::insert_photo`] within the album owner's quota: in one
    /// step, the photo is added only if the owner's storage use (without
    /// the reservation of `releasing`, the upload this photo completes)
    /// plus the photo's size stays within `quota`, and `releasing`'s
    /// reservation goes in the same transaction.
    /// `Error::QuotaExceeded` otherwise, with nothing written.
    async fn insert_photo_within_quota(
        &self,
        photo: &Photo,
        jobs: &[NewJob],
        quota: Option<u64>,
        releasing: Option<UploadId>,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Places photos of `album`: the listed ones take positions 0, 1, …
    /// in that order, every other photo loses its place (it follows in
    /// capture order). `Invalid("invalid_photo_order")`, with nothing
    /// changed, when an id is not a photo of the album or repeats.
    async fn set_photo_order(&self, album: AlbumId, order: &[PhotoId]) -> Result<()>;
    /// A page of an album's photos, in the album's order; the cursor is the
    /// last photo's id (`Invalid("invalid_cursor")` if that photo is gone).
    async fn list_photos(&self, album: AlbumId, page: PageRequest) -> Result<Page<Photo>>;
    /// Albums that expired before `before` and whose blobs are not purged yet.
    async fn albums_to_purge(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<Album>>;
    /// Albums with a client, published, expiring before `before` (and not
    /// yet), not reminded.
    async fn albums_to_remind(&self, now: DateTime<Utc>, before: DateTime<Utc>, limit: u32) -> Result<Vec<Album>>;
    /// Records that an album's client was reminded; `false` if already.
    async fn mark_album_reminded(&self, id: AlbumId, now: DateTime<Utc>) -> Result<bool>;
    /// Records that an album's blobs are gone, enqueuing `jobs` in the
    /// same transaction; `false` (nothing enqueued) if it was already.
    async fn mark_album_purged(&self, id: AlbumId, now: DateTime<Utc>, jobs: &[NewJob]) -> Result<bool>;
    /// Marks (`on`) or unmarks a photo of `album` as `user`'s favourite.
    /// Idempotent. Favourites go with their photo and their user.
    async fn set_favourite(
        &self,
        album: AlbumId,
        photo: PhotoId,
        user: UserId,
        on: bool,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// How many photos each album of `owner` holds (albums with none too).
    async fn photo_counts(&self, owner: UserId) -> Result<Vec<(AlbumId, u64)>>;
    /// Every favourite in an album, by client then photo.
    async fn favourites(&self, album: AlbumId) -> Result<Vec<Favourite>>;
    /// The photos of an album that `user` marked.
    async fn favourites_of(&self, album: AlbumId, user: UserId) -> Result<Vec<PhotoId>>;
}

/// Orders and payments.
///
/// Rules: status changes follow [`OrderStatus::allowed_from`] and happen at
/// most once (a second identical change answers `None` and writes no
/// jobs); an [`OrderChange::only_if_ref`] that names another checkout
/// leaves the order alone; a refund revokes the order's download links in
/// the same transaction; a gateway's notification id is recorded once.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Adds an order with its items.
    ///
    /// With `reply` (a request's `Idempotency-Key`), the key is reserved in
    /// the same transaction, before the order is written: when the key is
    /// already taken nothing is written and the answer is `false` (the
    /// caller reads the stored reply), so concurrent requests with one key
    /// make one order.
    ///
    /// With `hold`, the order holds a coupon, taken in the same transaction
    /// (see [`SellingStore`] for when it is refused: 409
    /// `coupon_exhausted`, nothing written).
    async fn insert_order(
        &self,
        order: &Order,
        reply: Option<&IdempotentReply>,
        hold: Option<&CouponHold>,
    ) -> Result<bool>;
    /// An order by id.
    async fn order(&self, id: OrderId) -> Result<Option<Order>>;
    /// A page of orders, by id.
    async fn list_orders(&self, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>>;
    /// Moves an order to `to` if its status is one of `to.allowed_from()`,
    /// applying `change` and enqueuing `jobs` in the same transaction.
    /// Returns the updated order, or `None` if the status did not allow it
    /// (the caller decides whether that is an error or a duplicate).
    async fn transition_order(
        &self,
        id: OrderId,
        to: OrderStatus,
        change: &OrderChange,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Option<Order>>;
    /// Records the checkout session just opened for a `pending` order (its
    /// gateway and reference, kept in `gateway` and `payment_ref`).
    ///
    /// With `reply` (the request's `Idempotency-Key` and the answer to
    /// store under it), the key is reserved in the same transaction, before
    /// the order is touched: when it is already taken nothing changes and
    /// the answer is [`CheckoutRecorded::KeyTaken`] (the caller answers the
    /// stored reply), as in [`OrderStore::insert_order`].
    async fn record_checkout(
        &self,
        id: OrderId,
        gateway: &str,
        reference: &str,
        now: DateTime<Utc>,
        reply: Option<&IdempotentReply>,
    ) -> Result<CheckoutRecorded>;
    /// Up to `limit` orders still `pending` that were created before `before`.
    async fn stale_pending_orders(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<OrderId>>;
    /// Records a gateway notification id; `false` if it was seen before.
    async fn record_payment_event(&self, gateway: &str, event_id: &str, now: DateTime<Utc>) -> Result<bool>;
}

/// An order's hold on a coupon ([`OrderStore::insert_order`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponHold {
    /// The coupon.
    pub coupon_id: CouponId,
    /// The buyer: one hold per buyer when the coupon is once per client.
    pub buyer_id: UserId,
}

/// Price sheets, coupons and offers, and the coupons orders hold.
///
/// Its rules, which `testkit::selling` checks:
/// - **A sheet is saved whole** ([`SellingStore::save_sheet`]): its
///   products and packages are replaced with it in one transaction, in
///   their order, with the ids the caller gave (orders and packages name
///   them). Its owner does not change.
/// - **A sheet an open album sells by is not deleted**: 409 `in_use`
///   while an album that has not expired names it; albums that have
///   closed fall back to their price per photo.
/// - **A coupon's code is its photographer's once**, without regard to
///   case: another coupon of theirs with the code is 409
///   `coupon_code_taken`, nothing written.
/// - **A hold is taken with its order** ([`OrderStore::insert_order`]),
///   atomically: once `max_redemptions` orders hold the coupon, or (once
///   per client) the buyer has an order holding it, the order is refused
///   with 409 `coupon_exhausted` and nothing is written, however many
///   orders race for the last one. An order that expires or is cancelled
///   gives its hold back in the same transaction as its change
///   ([`OrderStore::transition_order`]); a paid one keeps it (and so do
///   fulfilled and refunded ones).
#[async_trait]
pub trait SellingStore: Send + Sync {
    /// Adds or replaces a sheet, with its products and packages.
    async fn save_sheet(&self, sheet: &PriceSheet, now: DateTime<Utc>) -> Result<()>;
    /// A sheet by id.
    async fn sheet(&self, id: PriceSheetId) -> Result<Option<PriceSheet>>;
    /// A photographer's sheets, by id.
    async fn list_sheets(&self, owner: UserId, page: PageRequest) -> Result<Page<PriceSheet>>;
    /// Removes a sheet (`false`: there was none); 409 `in_use` while an
    /// open album sells by it.
    async fn delete_sheet(&self, id: PriceSheetId, now: DateTime<Utc>) -> Result<bool>;
    /// Sets (or clears) the sheet an album sells by.
    async fn set_album_sheet(&self, album: AlbumId, sheet: Option<PriceSheetId>) -> Result<()>;
    /// The sheet an album sells by, if any.
    async fn album_sheet(&self, album: AlbumId) -> Result<Option<PriceSheetId>>;
    /// Adds or replaces a coupon (409 `coupon_code_taken`: another of the
    /// photographer's coupons has its code).
    async fn save_coupon(&self, coupon: &Coupon, now: DateTime<Utc>) -> Result<()>;
    /// A coupon by id, with how many orders hold it.
    async fn coupon(&self, id: CouponId) -> Result<Option<(Coupon, u32)>>;
    /// A photographer's coupon by its code, in any case, with how many
    /// orders hold it.
    async fn coupon_by_code(&self, owner: UserId, code: &str) -> Result<Option<(Coupon, u32)>>;
    /// A photographer's coupons, by id.
    async fn list_coupons(&self, owner: UserId, page: PageRequest) -> Result<Page<Coupon>>;
    /// A photographer's automatic offers (`auto_apply`), by id, each with
    /// how many orders hold it.
    async fn offers(&self, owner: UserId) -> Result<Vec<(Coupon, u32)>>;
    /// Removes a coupon (`false`: there was none); orders keep what it
    /// took off.
    async fn delete_coupon(&self, id: CouponId) -> Result<bool>;
}

/// What [`OrderStore::record_checkout`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutRecorded {
    /// The session is the order's (and the key, if any, holds the reply).
    Recorded,
    /// The order is no longer pending: nothing changed.
    NotPending,
    /// Another request with the same idempotency key was first: nothing
    /// changed.
    KeyTaken,
}

/// Download links, what they served, and the originals sold orders hold.
///
/// Rules: `fulfil_order` stores the link and moves the order from `paid`
/// to `fulfilled` together, once; `count_download` never lets concurrent
/// requests together pass the budget; a refunded order holds nothing.
#[async_trait]
pub trait DownloadStore: Send + Sync {
    /// Stores `link`, moves the order from `paid` to `fulfilled` and
    /// enqueues `jobs`, in one transaction; `false` (and nothing stored) if
    /// the order was not `paid`.
    async fn fulfil_order(&self, link: &DownloadLink, jobs: &[NewJob], now: DateTime<Utc>) -> Result<bool>;
    /// A link by the hash of its token.
    async fn link_by_token_hash(&self, hash: &[u8; 32]) -> Result<Option<DownloadLink>>;
    /// A link by id.
    async fn link(&self, id: crate::LinkId) -> Result<Option<DownloadLink>>;
    /// The newest link of an order.
    async fn link_for_order(&self, order: OrderId) -> Result<Option<DownloadLink>>;
    /// Adds `bytes` to the bytes the link has served (one more download
    /// when `from_start`) in one atomic step, but only if the new total
    /// stays within `budget` (`None`: no cap). `false`: it would not,
    /// and nothing was counted, so concurrent requests can never together
    /// pass the budget. A negative `bytes` gives back what was reserved
    /// but not sent (a download broken off).
    async fn count_download(
        &self,
        link: &DownloadLink,
        bytes: i64,
        from_start: bool,
        budget: Option<u64>,
    ) -> Result<bool>;
    /// Links that expired before `before` whose zip is still stored.
    async fn expired_links_with_zips(&self, before: DateTime<Utc>, limit: u32) -> Result<Vec<DownloadLink>>;
    /// Records that a link's zip was deleted.
    async fn mark_zip_deleted(&self, link: crate::LinkId, now: DateTime<Utc>) -> Result<()>;
    /// Adds a link to an already fulfilled order (a fresh link).
    async fn insert_link(&self, link: &DownloadLink) -> Result<()>;
    /// Photos of `album` in paid or fulfilled orders paid after
    /// `paid_after`: their originals are held for the buyers' download
    /// window, whatever the photographer deletes or expiry purges. A
    /// refunded order holds nothing.
    async fn held_photos(&self, album: AlbumId, paid_after: DateTime<Utc>) -> Result<Vec<PhotoId>>;
}

/// Sales figures and kept monthly reports.
///
/// Rules: sales count paid and fulfilled orders paid in `[from, to)`,
/// never refunded ones, and survive the album's deletion; a month's report
/// is stored once.
#[async_trait]
pub trait ReportStore: Send + Sync {
    /// Sales per album and currency of orders paid in `[from, to)` and not
    /// refunded; one seller's, or everyone's.
    async fn sales(&self, seller: Option<UserId>, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<SalesRow>>;
    /// The `limit` best-selling photos of a seller (or everyone) in
    /// `[from, to)`: (photo, file name, times sold), most sold first.
    async fn top_photos(
        &self,
        seller: Option<UserId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(PhotoId, String, u64)>>;
    /// Stores a monthly report (`month` is `YYYY-MM`); `false` if it exists.
    async fn save_monthly_report(&self, seller: UserId, month: &str, body: &str, now: DateTime<Utc>) -> Result<bool>;
    /// A seller's kept monthly reports as (month, body), newest first.
    async fn monthly_reports(&self, seller: UserId) -> Result<Vec<(String, String)>>;
}

/// The scheduler's record of periodic runs, and leases.
///
/// Rules: each (task, period) is claimed once, whoever asks; a lease has
/// one holder until it expires, and its holder may renew it.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Claims the run of `task` for the period `fire_at`; `false` if
    /// another scheduler (or an earlier tick) already has it.
    async fn claim_scheduled_run(&self, task: &str, fire_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool>;
    /// Records how a claimed run ended.
    async fn finish_scheduled_run(
        &self,
        task: &str,
        fire_at: DateTime<Utc>,
        now: DateTime<Utc>,
        outcome: &str,
        detail: &str,
    ) -> Result<()>;
    /// The newest runs, newest first.
    async fn scheduled_runs(&self, limit: u32) -> Result<Vec<ScheduledRun>>;
    /// Takes or renews the named lease for `holder` until `until`, if it is
    /// free, expired at `now`, or already `holder`'s. `false`: someone else
    /// holds it. Used so that one scheduler runs across processes.
    async fn acquire_lease(&self, name: &str, holder: &str, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool>;
}

/// Replies to requests that carried an `Idempotency-Key`.
///
/// Rules: one reply per (user, scope, key), the first kept; a reply is
/// kept until [`IdempotencyStore::prune_idempotent_replies`] removes it
/// (the scheduler's `prune_jobs` task, never before 24 hours).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// The stored reply for a key, if any.
    async fn idempotent_reply(&self, user: UserId, scope: &str, key: &str) -> Result<Option<IdempotentReply>>;
    /// Stores a reply; `false` if a reply for that key already exists.
    async fn save_idempotent_reply(&self, reply: &IdempotentReply) -> Result<bool>;
    /// Deletes replies stored before `before`; returns how many. The caller
    /// keeps every reply at least 24 hours.
    async fn prune_idempotent_replies(&self, before: DateTime<Utc>) -> Result<u64>;
}

/// The faces found in photos, for "Find me" (see [`crate::FaceIndex`] and
/// `docs/faces.md`).
///
/// Rules an implementation keeps (checked by `testkit::faces`):
/// - [`FaceStore::put_photo_faces`] replaces a photo's scan and faces in
///   one transaction, and stores nothing (answering `false`) unless the
///   photo exists and its album has `find_me` on, is not purged and has not
///   expired at `now`: a scan that finishes after the owner turned the
///   search off, or after the album closed, leaves nothing behind;
/// - deleting a photo or an album deletes its faces with it;
///   [`AlbumStore::update_album`] with `find_me` off deletes the album's
///   faces in its transaction; [`AlbumStore::mark_album_purged`] deletes
///   them too; [`FaceStore::forget_expired_faces`] deletes those of every
///   album whose expiry has passed;
/// - [`FaceStore::album_faces`] answers only embeddings of the model asked
///   for, of photos that are `ready`, in the order they were stored.
#[async_trait]
pub trait FaceStore: Send + Sync {
    /// Stores what scanning `photo` with `model` found (perhaps no face);
    /// `false` when the rules above say not to.
    async fn put_photo_faces(&self, photo: PhotoId, model: &str, faces: &[Face], now: DateTime<Utc>) -> Result<bool>;
    /// Every stored face of the album's ready photos found by `model`:
    /// the photo and the face's embedding.
    async fn album_faces(&self, album: AlbumId, model: &str) -> Result<Vec<(PhotoId, Vec<f32>)>>;
    /// The faces stored for one photo, and the model that found them
    /// (`None` when it has not been scanned).
    async fn photo_faces(&self, photo: PhotoId) -> Result<Option<(String, Vec<Face>)>>;
    /// How many of the album's photos have been scanned, and how many
    /// faces were found in them.
    async fn face_counts(&self, album: AlbumId) -> Result<(u64, u64)>;
    /// Deletes the faces of every album whose expiry is at or before `now`;
    /// answers how many photos' scans went.
    async fn forget_expired_faces(&self, now: DateTime<Utc>) -> Result<u64>;
}

/// Everything the services store, by role: a backend implements each role
/// trait and this one (its connection and the deployment's secrets).
///
/// Methods that change state and emit an event take the jobs to enqueue and
/// write them in the same transaction (the outbox): an event is never
/// emitted for a change that rolled back, and never lost for one that
/// committed. Each role trait states the rules an implementation must
/// keep, and `proofsheet_core::testkit` (feature `testkit`) has a suite per role that checks them.
/// Implementations: `SqliteStore` and `PgStore` (crate
/// `proofsheet-storage`).
#[async_trait]
pub trait MetadataStore:
    AccountStore
    + AlbumStore
    + OrderStore
    + DownloadStore
    + ReportStore
    + ScheduleStore
    + IdempotencyStore
    + crate::WebhookStore
    + FaceStore
    + SellingStore
    + Send
    + Sync
    + 'static
{
    /// Checks the connection (readiness).
    async fn ping(&self) -> Result<()>;
    /// The deployment-wide secret called `name`: the stored one, or else
    /// `candidate`, stored now. Every process of a deployment that shares
    /// this store gets the same value, whichever asked first (concurrent
    /// first calls agree too: the first insert wins, the rest read it).
    async fn deployment_secret(&self, name: &str, candidate: &str, now: DateTime<Utc>) -> Result<String>;
}
