//! Proofsheet core: the domain of a photo-selling engine, its business
//! rules, and the traits every backend implements.
//!
//! This crate knows no backend: storage, databases, payment providers and
//! image codecs plug in through [`MetadataStore`], [`JobQueue`],
//! [`BlobStore`], [`Packager`], [`PaymentGateway`] and [`PreviewRenderer`].
//! [`Proofsheet`] holds them and exposes the services of DESIGN.md:
//! [`Albums`], [`Thumbnails`], [`Checkout`] and [`Downloads`], with a
//! [`Worker`] that runs the jobs connecting them.
//!
//! ```
//! use proofsheet_core::{Currency, Email, Money, OrderStatus};
//!
//! let price = Money::new(500, "EUR".parse::<Currency>()?)?;
//! assert_eq!(price.times(3)?.amount, 1500);
//! assert!("not-an-address".parse::<Email>().is_err());
//! // Notifications can arrive twice or late: status only moves forward.
//! assert!(!OrderStatus::Refunded.can_become(OrderStatus::Paid));
//! # Ok::<(), proofsheet_core::Error>(())
//! ```
//!
//! The `proofsheet-storage`, `proofsheet-imaging` and `proofsheet-payments`
//! crates provide the backends; `examples/embed` wires them up without the
//! reference server.
#![warn(missing_docs)]

mod album;
mod albums;
mod blob;
mod budget;
mod cache;
mod checkout;
mod clock;
pub mod context;
mod download;
mod downloads;
mod engine;
mod error;
mod faces;
mod gateway;
mod id;
mod job;
mod jobs;
mod logos;
pub mod metrics;
mod money;
pub mod multipart;
mod notify;
mod order;
mod page;
mod photo;
pub mod pricing;
mod queue;
mod render;
mod reports;
mod scheduler;
mod selling;
mod store;
mod studio;
#[cfg(feature = "testkit")]
pub mod testkit;
mod thumbnails;
mod uploads;
mod user;
mod users;
mod verify;
mod webhook;
mod webhooks;
mod worker;

pub use album::{Access, Album, Visibility};
pub use albums::{
    AlbumPatch, Albums, ImageKey, NewAlbum, PhotoMove, PhotoVariant, SHARE_MAILS_PER_RECIPIENT, human_bytes,
};
pub use blob::{BlobStore, BlobWriter, ByteStream, Packager, Staging};
pub use budget::RenderBudget;
pub use cache::RevisionCache;
pub use checkout::{Applied, Checkout, IdempotencyKey};
pub use clock::{Clock, ManualClock, SystemClock};
pub use download::{DownloadLink, INVITATION_DAYS, LinkSigner};
pub use downloads::{DownloadFile, Downloads, LinkView, OpenedDownload};
pub use engine::{Backends, Proofsheet, Settings};
pub use error::{BoxError, Error, Result};
pub use faces::{Face, FaceBox, FaceIndex, FaceMatch, Faces, RgbImage, RgbPixels};
pub use gateway::{CheckoutRequest, CheckoutSession, PaymentEvent, PaymentGateway, PaymentOutcome};
pub use id::{AlbumId, DeliveryId, JobId, LinkId, OrderId, PhotoId, UploadId, UserId, WebhookId};
pub use job::{Job, JobStatus, NewJob, Task, backoff};
pub use jobs::{Actor, Jobs};
pub use logos::{Logo, Logos, MAX_LOGO_BYTES};
pub use money::{Currency, Money};
pub use notify::{LogNotifier, Notification, Notifier};
pub use order::{Order, OrderItem, OrderStatus};
pub use page::{Page, PageRequest, every_page};
pub use photo::{Photo, PhotoStatus, sanitize_filename};
pub use pricing::{Breakdown, CartLine, Coupon, PriceSheet, QuoteInput, TaxRule, quote};
pub use queue::{JobQueue, Lane};
pub use render::{
    ImageFormat, ImageInfo, Mark, Position, PreviewRenderer, Probe, Renditions, RgbImageMut, Watermark,
    WatermarkChoice, short_digest, watermark_version,
};
pub use reports::{Reports, SalesReport, SalesTotal};
pub use scheduler::{Periodic, Policy, Scheduler, TickRun, parse_schedule};
pub use selling::{MAX_COUPON_CODE, Selling};
pub use store::{
    AccountStore, AlbumFilter, AlbumStore, CheckoutRecorded, CouponHold, DownloadStore, FaceStore, Favourite,
    IdempotencyStore, IdempotentReply, MetadataStore, OrderChange, OrderFilter, OrderStore, ReportStore, SalesRow,
    ScheduleStore, ScheduledRun, SellingStore, SignInLink,
};
pub use studio::{Studio, studio_of, time_zones};
pub use thumbnails::Thumbnails;
pub use uploads::{Checksum, ResumableUpload, Uploads};
pub use user::{Email, Role, Session, User, validate_name};
pub use users::{
    ACCOUNT_EXISTS_MAIL_HOURS, NO_PASSWORD, NewUser, SIGN_IN_LINK_MINUTES, SessionInfo, SignedIn, Users, hash_password,
    is_local_path, token_hash,
};
pub use verify::{EMAIL_TOKEN_TTL_DAYS, EmailVerification};
pub use webhook::{
    Delivery, DeliveryAttempt, DeliveryStatus, Event, EventType, NoWebhooks, Webhook, WebhookResponse, WebhookStore,
    WebhookTransport, new_webhook_secret, sign_webhook,
};
pub use webhooks::{
    MAX_IN_FLIGHT_PER_ENDPOINT, MAX_WEBHOOK_URL, MAX_WEBHOOKS_PER_USER, NewWebhook, SECRET_OVERLAP, WebhookPatch,
    Webhooks, default_retry_schedule,
};
pub use worker::{Ran, Worker};
