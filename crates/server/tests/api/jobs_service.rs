//! The jobs service with a controllable clock, on SQLite and (when
//! configured) PostgreSQL: each periodic task's effect, a task run twice,
//! and two schedulers sharing one store.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use chrono::{Duration, TimeZone, Utc};
use proofsheet_core::*;
use proofsheet_imaging::{ImagePipeline, PipelineConfig};
use proofsheet_payments::TestGateway;
use proofsheet_storage::{OpendalBlobStore, PgStore, SqliteStore, ZipPackager};

struct Shop {
    engine: Proofsheet,
    clock: Arc<ManualClock>,
    blobs: Arc<OpendalBlobStore>,
    worker: Worker,
    photographer: User,
    client: User,
}

async fn stores() -> Vec<(&'static str, Arc<dyn Both>)> {
    let mut out: Vec<(&'static str, Arc<dyn Both>)> =
        vec![("sqlite", Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap()))];
    match std::env::var("PROOFSHEET_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let url = proofsheet_storage::fresh_pg_database(&admin).await.unwrap();
            out.push(("postgres", Arc::new(PgStore::connect(&url, 5).await.unwrap())));
        }
        Err(_) => assert!(std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(), "PostgreSQL is required"),
    }
    out
}

trait Both: MetadataStore + JobQueue {}
impl<T: MetadataStore + JobQueue> Both for T {}

async fn shop(store: Arc<dyn Both>, settings: Settings) -> Shop {
    let clock = Arc::new(ManualClock::new());
    let blobs = Arc::new(OpendalBlobStore::memory().unwrap());
    let engine = Proofsheet::new(
        Backends {
            metadata: store.clone() as Arc<dyn MetadataStore>,
            queue: store as Arc<dyn JobQueue>,
            blobs: blobs.clone(),
            renderer: Arc::new(ImagePipeline::new(PipelineConfig::default()).unwrap()),
            packager: Arc::new(ZipPackager),
            gateways: vec![Arc::new(TestGateway::new(b"s".to_vec(), "http://x"))],
            clock: clock.clone(),
            notifier: Arc::new(LogNotifier),
            webhooks: Arc::new(proofsheet_core::NoWebhooks),
            faces: None,
        },
        settings,
        b"0123456789abcdef0123".to_vec(),
    )
    .unwrap();
    let photographer = testkit::user(&format!("ph{}@jobs.test", uuid::Uuid::new_v4().simple()), Role::Photographer);
    let client = testkit::user(&format!("cl{}@jobs.test", uuid::Uuid::new_v4().simple()), Role::Client);
    engine.backends().metadata.insert_user(&photographer, "!").await.unwrap();
    engine.backends().metadata.insert_user(&client, "!").await.unwrap();
    let worker = Worker::new(engine.clone());
    Shop { engine, clock, blobs, worker, photographer, client }
}

impl Shop {
    /// An album shared with the client, expiring in 10 days, with 2 ready photos.
    async fn album(&self) -> (Album, Vec<Photo>) {
        let album = self
            .engine
            .albums()
            .create(
                &self.photographer,
                NewAlbum {
                    name: "Shoot".into(),
                    visibility: Visibility::Private,
                    client_email: Some(self.client.email.clone()),
                    price_per_photo: testkit::eur(700),
                    expires_at: Some(self.clock.now() + Duration::days(10)),
                    watermark: None,
                    find_me: false,
                    draft: false,
                    client_name: None,
                },
            )
            .await
            .unwrap();
        for i in 0..2 {
            let bytes = Bytes::from(common::jpeg(320, 240, 1, false));
            let body = Box::pin(futures::stream::once(async move { Ok(bytes) }));
            self.engine.albums().upload(&self.photographer, album.id, Some(&format!("{i}.jpg")), body).await.unwrap();
        }
        self.worker.drain().await.unwrap();
        let photos =
            self.engine.albums().photos(Some(&self.photographer), album.id, PageRequest::first()).await.unwrap();
        assert!(photos.items.iter().all(|p| p.status == PhotoStatus::Ready));
        (album, photos.items)
    }

    /// A paid, fulfilled order of `photos`.
    async fn sale(&self, album: &Album, photos: &[Photo]) -> Order {
        let ids: Vec<_> = photos.iter().map(|p| p.id).collect();
        let order = self.engine.checkout().create_order(&self.client, album.id, &ids).await.unwrap();
        let ev = PaymentEvent {
            id: format!("evt-{}", order.id),
            order_id: order.id,
            outcome: PaymentOutcome::Paid,
            reference: None,
            checkout: None,
        };
        self.engine.checkout().apply("test", ev).await.unwrap();
        self.worker.drain().await.unwrap();
        let order = self.engine.checkout().order(&self.client, order.id).await.unwrap();
        assert_eq!(order.status, OrderStatus::Fulfilled);
        order
    }

    fn scheduler(&self) -> Scheduler {
        Scheduler::with_defaults(self.engine.clone(), Policy::default()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_run_each_period_once_and_record_it() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let schedules =
            vec![(Periodic::PruneJobs, "0 * * * *".to_owned()), (Periodic::ExpireOrders, "*/10 * * * *".to_owned())];
        let mut a = Scheduler::new(shop.engine.clone(), &schedules, Policy::default()).unwrap();
        let mut b = Scheduler::new(shop.engine.clone(), &schedules, Policy::default()).unwrap();
        assert!(a.tick().await.unwrap().is_empty(), "{name}: nothing due yet");
        // Three hours pass (late: several periods missed): one run per task.
        shop.clock.advance(Duration::hours(3));
        let (ra, rb) = futures::join!(a.tick(), b.tick());
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.len() + rb.len(), 2, "{name}: each task once across both schedulers: {ra:?} {rb:?}");
        assert!(
            a.tick().await.unwrap().is_empty() && b.tick().await.unwrap().is_empty(),
            "{name}: not again this period"
        );
        // Ten minutes on: the 10-minute task is due again (the hourly one
        // only if an hour boundary passed), still once across both.
        shop.clock.advance(Duration::minutes(10));
        let ran: Vec<_> = [a.tick().await.unwrap(), b.tick().await.unwrap()].concat();
        let tasks: Vec<_> = ran.iter().map(|r| r.task).collect();
        assert_eq!(tasks.iter().filter(|t| **t == Periodic::ExpireOrders).count(), 1, "{name}: {tasks:?}");
        assert!(tasks.iter().filter(|t| **t == Periodic::PruneJobs).count() <= 1, "{name}: {tasks:?}");
        let runs = shop.engine.backends().metadata.scheduled_runs(10).await.unwrap();
        assert_eq!(runs.len(), 2 + ran.len(), "{name}");
        assert!(runs.iter().all(|r| r.outcome.as_deref() == Some("ok") && r.finished_at.is_some()), "{name}: {runs:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_albums_close_to_clients_then_lose_their_blobs_but_not_their_sales() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let (album, photos) = shop.album().await;
        let order = shop.sale(&album, &photos[..1]).await;
        shop.clock.advance(Duration::days(11));
        // Closed to the client with a clear status; open to the owner.
        let err = shop.engine.albums().get(Some(&shop.client), album.id).await.unwrap_err();
        assert_eq!(err.code(), "album_expired", "{name}");
        let err = shop.engine.checkout().create_order(&shop.client, album.id, &[photos[1].id]).await.unwrap_err();
        assert_eq!(err.code(), "album_expired", "{name}: no new orders");
        assert!(shop.engine.albums().get(Some(&shop.photographer), album.id).await.is_ok());
        // The paid order keeps its download window: its 7-day link has run
        // out, but a fresh one works although the album has expired.
        let link = shop.engine.downloads().link(&order).await.unwrap().unwrap();
        assert_eq!(shop.engine.downloads().check(&link.token).await.unwrap_err().code(), "link_expired");
        let fresh = shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap().expect("zip kept");
        assert!(
            shop.engine.downloads().open(&fresh.token, None).await.is_ok(),
            "{name}: paid downloads survive expiry"
        );

        // Within the grace period nothing is deleted; after it, blobs go.
        let sched = shop.scheduler();
        assert_eq!(sched.run(Periodic::PurgeExpiredAlbums).await.unwrap(), "purged 0 albums");
        shop.clock.advance(Duration::days(30));
        assert_eq!(sched.run(Periodic::PurgeExpiredAlbums).await.unwrap(), "purged 1 albums", "{name}");
        assert_eq!(
            sched.run(Periodic::PurgeExpiredAlbums).await.unwrap(),
            "purged 0 albums",
            "{name}: twice is harmless"
        );
        assert!(
            shop.blobs.list(&album.storage_prefix).await.unwrap().is_empty(),
            "{name}: originals and previews gone"
        );
        let kept = shop.engine.backends().metadata.album(album.id).await.unwrap().unwrap();
        assert!(kept.purged_at.is_some());
        let err = shop
            .engine
            .albums()
            .image(Some(&shop.photographer), photos[0].id, PhotoVariant::Preview)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "album_purged");
        // Reports still count the sale.
        let report = shop
            .engine
            .reports()
            .sales(&shop.photographer, shop.clock.now() - Duration::days(60), shop.clock.now())
            .await
            .unwrap();
        assert_eq!(report.totals[0].revenue, 700, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_zips_are_deleted_and_fresh_links_rebuild_them() {
    for (name, store) in stores().await {
        let settings = Settings { max_downloads_per_link: 2, ..Settings::default() };
        let shop = shop(store, settings).await;
        let (album, photos) = shop.album().await;
        let order = shop.sale(&album, &photos).await;
        let link = shop.engine.downloads().link(&order).await.unwrap().unwrap();

        // Each body is read to its end, as a client would.
        let read = |token: String, range: Option<std::ops::Range<u64>>| {
            let engine = shop.engine.clone();
            async move {
                let opened = engine.downloads().open(&token, range).await?;
                let total = opened.total_size;
                let body: Vec<bytes::Bytes> = futures::TryStreamExt::try_collect(opened.body).await?;
                Ok::<_, Error>((total, body.iter().map(|b| b.len() as u64).sum::<u64>()))
            }
        };
        // The cap: two downloads, then the link is used up. A download
        // broken off before its first byte costs nothing.
        drop(shop.engine.downloads().open(&link.token, None).await.unwrap());
        let meta = shop.engine.backends().metadata.clone();
        while meta.link_for_order(order.id).await.unwrap().unwrap().bytes_served > 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..2 {
            read(link.token.clone(), None).await.unwrap();
        }
        let err = read(link.token.clone(), None).await.unwrap_err();
        assert_eq!(err.code(), "download_limit_reached", "{name}");

        // A fresh link shares the stored zip; a second within the hour is refused.
        shop.clock.advance(Duration::hours(2));
        let fresh =
            shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap().expect("zip still stored");
        // Ranges count by the byte against the cap (two zips' worth): a
        // resumed download costs one, and `bytes=1-` cannot get around it.
        let (size, got) = read(fresh.token.clone(), Some(0..10)).await.unwrap();
        assert_eq!(got, 10);
        assert!(read(fresh.token.clone(), Some(10..size)).await.is_ok(), "{name}: resumed");
        assert!(read(fresh.token.clone(), Some(1..size)).await.is_ok(), "{name}: 2 x size - 1");
        let err = read(fresh.token.clone(), Some(1..size)).await.unwrap_err();
        assert_eq!(err.code(), "download_limit_reached", "{name}: ranges are counted");
        assert!(read(fresh.token.clone(), Some(size - 1..size)).await.is_ok(), "{name}: the last byte fits");
        let err = read(fresh.token.clone(), Some(0..1)).await.unwrap_err();
        assert_eq!(err.code(), "download_limit_reached", "{name}");
        let err = shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap_err();
        assert!(
            matches!(err, Error::RateLimited { retry_after, .. } if retry_after > 0 && retry_after <= 3600),
            "{name}: {err:?}"
        );
        let err = shop.engine.downloads().fresh_link(&shop.photographer, order.id).await.unwrap_err();
        assert_eq!(err.code(), "not_found", "{name}: only the buyer");

        // Both links expire; the task deletes the zip once, harmlessly twice.
        shop.clock.advance(Duration::days(8));
        let sched = shop.scheduler();
        assert_eq!(sched.run(Periodic::DeleteExpiredZips).await.unwrap(), "deleted 1 expired zips", "{name}");
        assert_eq!(sched.run(Periodic::DeleteExpiredZips).await.unwrap(), "deleted 0 expired zips", "{name}");
        assert!(shop.blobs.list(&format!("orders/{}", order.id)).await.unwrap().is_empty());
        assert_eq!(shop.engine.downloads().check(&fresh.token).await.unwrap_err().code(), "link_expired");

        // Within the 30-day window, a fresh link rebuilds the zip.
        assert!(
            shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap().is_none(),
            "{name}: rebuilding"
        );
        shop.worker.drain().await.unwrap();
        let order = shop.engine.checkout().order(&shop.client, order.id).await.unwrap();
        let rebuilt = shop.engine.downloads().link(&order).await.unwrap().expect("a new link");
        let opened = shop.engine.downloads().open(&rebuilt.token, None).await.unwrap();
        assert!(opened.total_size > 1000, "{name}");
        // After the window: no more fresh links.
        shop.clock.advance(Duration::days(30));
        let err = shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap_err();
        assert_eq!(err.code(), "download_window_closed", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_up_prunes_jobs_orphans_and_abandoned_orders_and_keeps_monthly_reports() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let (album, photos) = shop.album().await;
        let sched = shop.scheduler();

        // An abandoned order expires after a day; a paid one is untouched.
        let abandoned = shop.engine.checkout().create_order(&shop.client, album.id, &[photos[0].id]).await.unwrap();
        let paid = shop.sale(&album, &photos[1..]).await;
        assert_eq!(sched.run(Periodic::ExpireOrders).await.unwrap(), "expired 0 abandoned orders");
        shop.clock.advance(Duration::hours(25));
        assert_eq!(sched.run(Periodic::ExpireOrders).await.unwrap(), "expired 1 abandoned orders", "{name}");
        let meta = &shop.engine.backends().metadata;
        assert_eq!(meta.order(abandoned.id).await.unwrap().unwrap().status, OrderStatus::Expired);
        assert_eq!(meta.order(paid.id).await.unwrap().unwrap().status, OrderStatus::Fulfilled);

        // Orphans: an old blob with no record goes; a young one (an upload in
        // flight) and every recorded blob stay.
        let old_id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            (shop.clock.now() - Duration::days(3)).timestamp() as u64,
            0,
        ));
        let young_id =
            uuid::Uuid::new_v7(uuid::Timestamp::from_unix(uuid::NoContext, shop.clock.now().timestamp() as u64, 0));
        let old_key = format!("{}/originals/{old_id}", album.storage_prefix);
        let young_key = format!("{}/originals/{young_id}", album.storage_prefix);
        shop.blobs.put(&old_key, Bytes::from_static(b"orphan")).await.unwrap();
        shop.blobs.put(&young_key, Bytes::from_static(b"in flight")).await.unwrap();
        let before = shop.blobs.list(&album.storage_prefix).await.unwrap().len();
        assert_eq!(sched.run(Periodic::CleanOrphans).await.unwrap(), "removed 1 orphaned blobs", "{name}");
        let after = shop.blobs.list(&album.storage_prefix).await.unwrap();
        assert_eq!(after.len(), before - 1);
        assert!(!after.contains(&old_key) && after.contains(&young_key), "{name}");
        assert!(shop.blobs.list(&format!("orders/{}", paid.id)).await.unwrap().len() == 1, "{name}: live zip kept");

        // Finished jobs are pruned after the retention; failed ones stay.
        let counts = shop.engine.backends().queue.counts().await.unwrap();
        assert!(counts.iter().any(|(s, n)| *s == JobStatus::Succeeded && *n > 0));
        shop.clock.advance(Duration::days(8));
        let pruned = sched.run(Periodic::PruneJobs).await.unwrap();
        assert!(pruned.starts_with("pruned ") && pruned != "pruned 0 finished jobs", "{name}: {pruned}");
        let counts = shop.engine.backends().queue.counts().await.unwrap();
        assert!(!counts.iter().any(|(s, n)| *s == JobStatus::Succeeded && *n > 0), "{name}: {counts:?}");

        // The monthly report for the month of the sale, made on the first of
        // the next month (the clock moves back for that), kept once.
        let paid_at = meta.order(paid.id).await.unwrap().unwrap().paid_at.unwrap();
        let report_day = if paid_at.month() == 12 {
            Utc.with_ymd_and_hms(paid_at.year() + 1, 1, 1, 2, 0, 0).unwrap()
        } else {
            Utc.with_ymd_and_hms(paid_at.year(), paid_at.month() + 1, 1, 2, 0, 0).unwrap()
        };
        shop.clock.advance(report_day - shop.clock.now());
        let month = format!("{:04}-{:02}", paid_at.year(), paid_at.month());
        assert_eq!(sched.run(Periodic::MonthlyReports).await.unwrap(), format!("made 1 reports for {month}"), "{name}");
        assert_eq!(
            sched.run(Periodic::MonthlyReports).await.unwrap(),
            format!("made 0 reports for {month}"),
            "{name}: kept once"
        );
        let kept = meta.monthly_reports(shop.photographer.id).await.unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].0, month);
        let body: serde_json::Value = serde_json::from_str(&kept[0].1).unwrap();
        assert_eq!(body["totals"][0]["revenue"]["amount"], 700, "{name}");
    }
}

use chrono::Datelike;

/// The contents of a zip: (name, bytes) of every entry, sorted.
fn unzip(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        out.push((f.name().to_owned(), data));
    }
    out.sort();
    out
}

async fn read_zip(shop: &Shop, token: &str) -> Vec<u8> {
    let opened = shop.engine.downloads().open(token, None).await.unwrap();
    let chunks: Vec<Bytes> = futures::TryStreamExt::try_collect(opened.body).await.unwrap();
    chunks.concat()
}

/// What was sold stays downloadable for the whole window: the photographer
/// deletes a sold photo, the album expires
/// and is purged, the zip expires and is deleted; a fresh link inside the
/// window still gets the same originals. Once the window closes, clean-up
/// removes them; a refund releases them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sold_originals_outlive_deletion_and_purge_within_the_window() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let (album, photos) = shop.album().await;
        let order = shop.sale(&album, &photos[..1]).await;
        let link = shop.engine.downloads().link(&order).await.unwrap().unwrap();
        let first = unzip(&read_zip(&shop, &link.token).await);
        assert_eq!(first.len(), 1, "{name}");

        // Deleting the sold photo hides it but keeps its original; the
        // unsold one goes for good.
        for p in &photos {
            shop.engine.albums().delete_photo(&shop.photographer, p.id).await.unwrap();
        }
        let originals = |shop: &Shop| {
            let blobs = shop.blobs.clone();
            let prefix = format!("{}/originals", album.storage_prefix);
            async move { blobs.list(&prefix).await.unwrap() }
        };
        let kept = originals(&shop).await;
        assert_eq!(kept.len(), 1, "{name}: only the sold original is kept: {kept:?}");
        assert!(kept[0].ends_with(&photos[0].id.to_string()), "{name}");

        // Expiry (10 days) and purge (1 day of grace), zips expired (7 days)
        // and deleted, clean-up run: the held original is still there.
        shop.clock.advance(Duration::days(12));
        let policy = Policy { album_grace: Duration::days(1), ..Policy::default() };
        let sched = Scheduler::with_defaults(shop.engine.clone(), policy.clone()).unwrap();
        assert_eq!(sched.run(Periodic::PurgeExpiredAlbums).await.unwrap(), "purged 1 albums", "{name}");
        sched.run(Periodic::DeleteExpiredZips).await.unwrap();
        sched.run(Periodic::CleanOrphans).await.unwrap();
        assert_eq!(originals(&shop).await.len(), 1, "{name}: held through purge and clean-up");

        // A fresh link inside the window rebuilds the zip from it: the same
        // files, byte for byte.
        let fresh = shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap();
        assert!(fresh.is_none(), "{name}: the zip was deleted, so it is rebuilt");
        shop.worker.drain().await.unwrap();
        let order_now = shop.engine.checkout().order(&shop.client, order.id).await.unwrap();
        let rebuilt = shop.engine.downloads().link(&order_now).await.unwrap().expect("a new link");
        assert_eq!(unzip(&read_zip(&shop, &rebuilt.token).await), first, "{name}: the same originals");

        // The window closes (30 days after payment): clean-up releases it.
        shop.clock.advance(Duration::days(19));
        let removed = sched.run(Periodic::CleanOrphans).await.unwrap();
        assert!(originals(&shop).await.is_empty(), "{name}: released after the window ({removed})");
    }
}

/// Deleting an album with a sale inside the window: the album is gone for
/// everyone at once, its unsold photos with it; the sold original stays,
/// a fresh link after the zip expired rebuilds the same zip from it, and
/// clean-up removes it when the window closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_album_goes_but_its_sold_originals_stay_for_the_window() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let (album, photos) = shop.album().await;
        let order = shop.sale(&album, &photos[..1]).await;
        let link = shop.engine.downloads().link(&order).await.unwrap().unwrap();
        let first = unzip(&read_zip(&shop, &link.token).await);

        shop.engine.albums().delete(&shop.photographer, album.id).await.unwrap();
        for who in [&shop.photographer, &shop.client] {
            let err = shop.engine.albums().get(Some(who), album.id).await.unwrap_err();
            assert_eq!(err.code(), "not_found", "{name}");
        }
        let left = shop.blobs.list(&album.storage_prefix).await.unwrap();
        assert_eq!(left.len(), 1, "{name}: only the sold original: {left:?}");
        assert!(left[0].ends_with(&format!("originals/{}", photos[0].id)), "{name}: {left:?}");

        // The zip expires (7 days) and is deleted; clean-up keeps the original.
        shop.clock.advance(Duration::days(8));
        let sched = Scheduler::with_defaults(shop.engine.clone(), Policy::default()).unwrap();
        sched.run(Periodic::DeleteExpiredZips).await.unwrap();
        sched.run(Periodic::CleanOrphans).await.unwrap();
        assert_eq!(shop.blobs.list(&album.storage_prefix).await.unwrap().len(), 1, "{name}: still held");
        assert!(shop.engine.downloads().fresh_link(&shop.client, order.id).await.unwrap().is_none(), "{name}");
        shop.worker.drain().await.unwrap();
        let order_now = shop.engine.checkout().order(&shop.client, order.id).await.unwrap();
        let rebuilt = shop.engine.downloads().link(&order_now).await.unwrap().expect("a new link");
        assert_eq!(unzip(&read_zip(&shop, &rebuilt.token).await), first, "{name}: the same originals");

        shop.clock.advance(Duration::days(23));
        sched.run(Periodic::CleanOrphans).await.unwrap();
        assert!(shop.blobs.list(&album.storage_prefix).await.unwrap().is_empty(), "{name}: released");
    }
}

/// A refund releases the hold at once: the photo and album can go.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_releases_the_hold() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let (album, photos) = shop.album().await;
        let order = shop.sale(&album, &photos).await;
        let ev = PaymentEvent {
            id: format!("refund-{}", order.id),
            order_id: order.id,
            outcome: PaymentOutcome::Refunded,
            reference: None,
            checkout: None,
        };
        shop.engine.checkout().apply("test", ev).await.unwrap();
        shop.worker.drain().await.unwrap();
        shop.engine.albums().delete(&shop.photographer, album.id).await.unwrap();
        assert!(shop.blobs.list(&album.storage_prefix).await.unwrap().is_empty(), "{name}");
    }
}

/// "Album shared" notices cannot be used as a mail relay: changing an
/// album's client again and again mails at most 3 addresses a day per
/// album (and 20 per photographer); the album changes all the same, and a
/// day later notices go again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_notices_are_limited_per_album() {
    let shop = shop(Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap()), Settings::default()).await;
    let (album, _) = shop.album().await; // the first notice: to the client
    let notices = || async {
        let jobs = shop.engine.backends().queue.list_jobs(None, PageRequest::first()).await.unwrap().items;
        jobs.iter().filter(|j| j.payload.to_string().contains("album_shared")).count()
    };
    assert_eq!(notices().await, 1);
    for i in 0..6 {
        let patch = AlbumPatch {
            client_email: Some(Some(format!("stranger{i}@relay.test").parse().unwrap())),
            ..AlbumPatch::default()
        };
        let changed = shop.engine.albums().update(&shop.photographer, album.id, patch).await.unwrap();
        assert_eq!(changed.client_email.unwrap().as_str(), format!("stranger{i}@relay.test"), "the change is kept");
    }
    assert_eq!(notices().await, 3, "three notices a day for one album");
    shop.clock.advance(Duration::hours(25));
    let patch = AlbumPatch { client_email: Some(Some("late@relay.test".parse().unwrap())), ..AlbumPatch::default() };
    shop.engine.albums().update(&shop.photographer, album.id, patch).await.unwrap();
    assert_eq!(notices().await, 4, "a day later, one more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_administration_is_for_admins_and_the_operator() {
    for (name, store) in stores().await {
        let shop = shop(store, Settings::default()).await;
        let jobs = shop.engine.jobs();
        // A queued job (the worker is not running).
        let job = NewJob::now(Task::RevokeDownloads { order_id: OrderId::new() }, shop.clock.now());
        shop.engine.backends().queue.enqueue(&job).await.unwrap();
        let page = PageRequest::first();
        for user in [&shop.photographer, &shop.client] {
            let by = Actor::User(user);
            assert_eq!(jobs.list(by, None, page).await.unwrap_err().code(), "admins_only", "{name}");
            assert_eq!(jobs.retry(by, &job.id.to_string()).await.unwrap_err().code(), "admins_only", "{name}");
            assert_eq!(jobs.runs(by, 10).await.unwrap_err().code(), "admins_only", "{name}");
        }
        let admin = testkit::user(&format!("ad{}@jobs.test", uuid::Uuid::new_v4().simple()), Role::Admin);
        for by in [Actor::User(&admin), Actor::Operator] {
            let listed = jobs.list(by, Some(JobStatus::Queued), page).await.unwrap();
            assert!(listed.items.iter().any(|j| j.id == job.id), "{name}");
            assert_eq!(jobs.retry(by, &job.id.to_string()).await.unwrap_err().code(), "job_not_failed", "{name}");
            assert_eq!(jobs.retry(by, "not-a-job").await.unwrap_err().code(), "not_found", "{name}");
            assert_eq!(jobs.retry(by, &JobId::new().to_string()).await.unwrap_err().code(), "not_found", "{name}");
            assert!(jobs.runs(by, 10).await.is_ok(), "{name}");
        }
    }
}
