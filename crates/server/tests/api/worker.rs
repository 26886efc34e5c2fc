//! The worker: retries with backoff through an outage, gives up on what
//! cannot succeed (error kept, photo marked), and carries on.

use crate::common;

use std::{
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
};

use async_trait::async_trait;
use bytes::Bytes;
use chrono::Duration;
use proofsheet_core::*;
use proofsheet_imaging::{ImagePipeline, PipelineConfig};
use proofsheet_payments::TestGateway;
use proofsheet_storage::{OpendalBlobStore, SqliteStore, ZipPackager};

/// The real memory store, with reads of originals failing (as in a storage
/// outage) while `outage` is above zero, and writes of previews failing
/// as on a full disk while `full` is above zero.
struct Flaky {
    inner: OpendalBlobStore,
    outage: AtomicU32,
    full: AtomicU32,
}

#[async_trait]
impl BlobStore for Flaky {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        if self.full.load(Ordering::SeqCst) > 0 {
            self.full.fetch_sub(1, Ordering::SeqCst);
            let enospc = std::io::Error::from_raw_os_error(28);
            return Err(Error::StorageFull { context: "writing an object".into(), source: Box::new(enospc) });
        }
        self.inner.put(key, data).await
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn BlobWriter>> {
        self.inner.writer(key).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        if key.contains("/originals/") && self.outage.load(Ordering::SeqCst) > 0 {
            self.outage.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::backend("reading an object", "simulated storage outage"));
        }
        self.inner.get(key).await
    }
    async fn stream(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream> {
        self.inner.stream(key, range).await
    }
    async fn size(&self, key: &str) -> Result<u64> {
        self.inner.size(key).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.inner.delete_prefix(prefix).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix).await
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

/// An engine over a SQLite store with these blobs, renderer, clock and
/// settings, the offline gateway and no mail.
fn engine_over(
    store: Arc<SqliteStore>,
    blobs: Arc<dyn BlobStore>,
    renderer: Arc<dyn PreviewRenderer>,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> Proofsheet {
    engine_packing(store, blobs, renderer, Arc::new(ZipPackager), clock, settings)
}

/// [`engine_over`] with a packager of the test's own.
fn engine_packing(
    store: Arc<SqliteStore>,
    blobs: Arc<dyn BlobStore>,
    renderer: Arc<dyn PreviewRenderer>,
    packager: Arc<dyn Packager>,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> Proofsheet {
    Proofsheet::new(
        Backends {
            metadata: store.clone(),
            queue: store,
            blobs,
            renderer,
            packager,
            gateways: vec![Arc::new(TestGateway::new(b"s".to_vec(), "http://x"))],
            clock,
            notifier: Arc::new(LogNotifier),
            webhooks: Arc::new(proofsheet_core::NoWebhooks),
            faces: None,
        },
        settings,
        b"0123456789abcdef0123".to_vec(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_through_an_outage_and_gives_up_on_the_impossible() {
    let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
    let blobs = Arc::new(Flaky {
        inner: OpendalBlobStore::memory().unwrap(),
        outage: AtomicU32::new(2),
        full: AtomicU32::new(0),
    });
    let clock = Arc::new(ManualClock::new());
    let engine = engine_over(
        store.clone(),
        blobs.clone(),
        Arc::new(ImagePipeline::new(PipelineConfig::default()).unwrap()),
        clock.clone(),
        Settings::default(),
    );
    let (ph, album, photo) = upload_one(&engine, &store, 640).await;
    let worker = Worker::new(engine.clone());

    // Two failures while storage is out; each waits out its backoff.
    assert!(matches!(worker.run_once().await.unwrap(), Ran::Retrying(_, ref e) if e.contains("reading an object")));
    assert_eq!(worker.run_once().await.unwrap(), Ran::Idle, "backing off");
    clock.advance(Duration::seconds(3));
    assert!(matches!(worker.run_once().await.unwrap(), Ran::Retrying(..)));
    clock.advance(Duration::seconds(5));
    let Ran::Succeeded(job) = worker.run_once().await.unwrap() else { panic!("third attempt succeeds") };
    assert_eq!(job.attempts, 3);
    assert_eq!(store.photo(photo.id).await.unwrap().unwrap().status, PhotoStatus::Ready);

    // A job that can never succeed ends `failed` at once with its error,
    // and the worker goes on to the next job.
    let bogus = NewJob::now(Task::BuildZip { order_id: OrderId::new() }, clock.now());
    store.enqueue(&bogus).await.unwrap();
    let broken_album_order = {
        let cl = testkit::user("cl@w.test", Role::Client);
        store.insert_user(&cl, "!").await.unwrap();
        let p = store.photo(photo.id).await.unwrap().unwrap();
        let o = testkit::order(&cl, &album, &[&p]);
        assert!(store.insert_order(&o, None, None).await.unwrap());
        engine.albums().delete(&ph, album.id).await.unwrap();
        let ev = PaymentEvent {
            id: "evt".into(),
            order_id: o.id,
            outcome: PaymentOutcome::Paid,
            reference: None,
            checkout: None,
        };
        engine.checkout().apply("test", ev).await.unwrap();
        o.id
    };
    let mut ran = Vec::new();
    loop {
        match worker.run_once().await.unwrap() {
            Ran::Idle => break,
            r => ran.push(r),
        }
    }
    // The events (photo.ready, order.paid) went to no endpoint: there is none.
    let is_event = |r: &Ran| matches!(r, Ran::Succeeded(j) if j.kind == "emit_event");
    assert_eq!(ran.iter().filter(|r| is_event(r)).count(), 2, "{ran:?}");
    ran.retain(|r| !is_event(r));
    // The unknown order's zip job, the order-paid notice and the zip job
    // whose album is gone (those two in either order).
    assert_eq!(ran.len(), 3, "{ran:?}");
    assert!(matches!(&ran[0], Ran::Succeeded(j) if j.id == bogus.id), "an unknown order is nothing to do");
    assert!(ran.iter().any(|r| matches!(r, Ran::Succeeded(j) if j.kind == "notify")), "{ran:?}");
    let Some(Ran::Failed(failed, message)) = ran.iter().find(|r| matches!(r, Ran::Failed(..))) else {
        panic!("{ran:?}")
    };
    assert!(message.contains("deleted"), "{message}");
    let stored = store.job(failed.id).await.unwrap().unwrap();
    assert_eq!(stored.status, JobStatus::Failed);
    assert!(stored.last_error.unwrap().contains("deleted"));
    let order = store.order(broken_album_order).await.unwrap().unwrap();
    assert_eq!(order.status, OrderStatus::Paid, "still paid: an operator can see and act on it");
}

/// The real pipeline, made slow: every render first waits `delay`, and
/// every attempt (not only every completion) is counted.
/// Renders at once and the most ever at once are counted too.
struct Slow {
    inner: ImagePipeline,
    delay: std::time::Duration,
    attempts: AtomicU32,
    in_flight: AtomicU32,
    most_in_flight: AtomicU32,
}

#[async_trait]
impl PreviewRenderer for Slow {
    fn probe(&self, head: &[u8], complete: bool) -> Result<Probe> {
        self.inner.probe(head, complete)
    }
    async fn render(&self, original: Bytes, watermark: Option<&proofsheet_core::Mark>) -> Result<Renditions> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        let out = self.inner.render(original, watermark).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

/// An engine on a fresh SQLite file with a slow renderer and a short lease.
async fn slow_engine(
    dir: &std::path::Path,
    lease: Duration,
    delay: std::time::Duration,
) -> (Proofsheet, Arc<SqliteStore>, Arc<Slow>) {
    slow_engine_with(dir, Settings { job_lease: lease, ..Settings::default() }, delay).await
}

async fn slow_engine_with(
    dir: &std::path::Path,
    settings: Settings,
    delay: std::time::Duration,
) -> (Proofsheet, Arc<SqliteStore>, Arc<Slow>) {
    let store = Arc::new(SqliteStore::connect(&format!("sqlite://{}", dir.join("t.db").display())).await.unwrap());
    let slow = Arc::new(Slow {
        inner: ImagePipeline::new(PipelineConfig::default()).unwrap(),
        delay,
        attempts: AtomicU32::new(0),
        in_flight: AtomicU32::new(0),
        most_in_flight: AtomicU32::new(0),
    });
    let blobs = Arc::new(OpendalBlobStore::memory().unwrap());
    let engine = engine_over(store.clone(), blobs, slow.clone(), Arc::new(SystemClock), settings);
    (engine, store, slow)
}

/// Runs `n` workers until every job is done.
async fn run_workers_until_idle(engine: &Proofsheet, store: &SqliteStore, n: usize) {
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..n)
        .map(|_| {
            let w = Worker::new(engine.clone());
            let rx = stop_rx.clone();
            tokio::spawn(async move { w.run(std::time::Duration::from_millis(10), rx).await })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let jobs = store.list_jobs(None, PageRequest::new(Some(200), None).unwrap()).await.unwrap().items;
        if jobs.iter().all(|j| j.status == JobStatus::Succeeded) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "jobs never finished: {jobs:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
}

/// A photographer, their public album and one uploaded photo `width` px wide.
async fn upload_one(engine: &Proofsheet, store: &SqliteStore, width: u16) -> (User, Album, Photo) {
    let ph = testkit::user("ph@w.test", Role::Photographer);
    store.insert_user(&ph, "!").await.unwrap();
    let album = engine
        .albums()
        .create(
            &ph,
            NewAlbum {
                name: "A".into(),
                visibility: Visibility::Public,
                client_email: None,
                price_per_photo: testkit::eur(100),
                expires_at: None,
                watermark: None,
                find_me: false,
                draft: false,
                client_name: None,
            },
        )
        .await
        .unwrap();
    let jpeg = Bytes::from(common::jpeg(width, width / 4 * 3, 1, false));
    let body = Box::pin(futures::stream::once(async move { Ok(jpeg) }));
    let photo = engine.albums().upload(&ph, album.id, Some("a.jpg"), body).await.unwrap();
    (ph, album, photo)
}

/// Renders share the process's pixel budget: with room for two photos'
/// megapixels, six workers on six uploads never render more than two at
/// once, yet do render two side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_share_the_pixel_budget() {
    let dir = tempfile::tempdir().unwrap();
    // 1200 x 900 px = 1.08 MP, which counts as 2 MP: two fit in 4 MP.
    let settings = Settings { render_budget_pixels: 4_000_000, ..Settings::default() };
    let (engine, store, slow) = slow_engine_with(dir.path(), settings, std::time::Duration::from_millis(300)).await;
    let (ph, album, _) = upload_one(&engine, &store, 1200).await;
    for i in 0..5 {
        let jpeg = Bytes::from(common::jpeg(1200, 900, i + 2, false));
        let body = Box::pin(futures::stream::once(async move { Ok(jpeg) }));
        engine.albums().upload(&ph, album.id, Some("b.jpg"), body).await.unwrap();
    }
    run_workers_until_idle(&engine, &store, 6).await;
    assert_eq!(slow.attempts.load(Ordering::SeqCst), 6);
    assert_eq!(slow.most_in_flight.load(Ordering::SeqCst), 2, "two at once, never more");
    assert_eq!(engine.render_budget().available(), 4, "every share given back");
}

/// Watermark changes in a row are coalesced: each photo is rendered again
/// once, with the last watermark, however many changes were queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watermark_changes_in_a_row_render_each_photo_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store, slow) = slow_engine(dir.path(), Duration::seconds(30), std::time::Duration::ZERO).await;
    let (ph, album, _) = upload_one(&engine, &store, 320).await;
    for i in 0..2 {
        let jpeg = Bytes::from(common::jpeg(320, 240, i + 2, false));
        let body = Box::pin(futures::stream::once(async move { Ok(jpeg) }));
        engine.albums().upload(&ph, album.id, Some("b.jpg"), body).await.unwrap();
    }
    Worker::new(engine.clone()).drain().await.unwrap();
    assert_eq!(slow.attempts.load(Ordering::SeqCst), 3);
    for text in ["one", "two", "three", "four", "Studio Lee"] {
        let patch =
            AlbumPatch { watermark: Some(Some(WatermarkChoice::Text { text: text.into() })), ..AlbumPatch::default() };
        engine.albums().update(&ph, album.id, patch).await.unwrap();
    }
    Worker::new(engine.clone()).drain().await.unwrap();
    assert_eq!(slow.attempts.load(Ordering::SeqCst), 3 + 3, "15 refreshes queued, 3 rendered");
    let jobs = store.list_jobs(None, PageRequest::new(Some(100), None).unwrap()).await.unwrap().items;
    let refreshes: Vec<_> = jobs.iter().filter(|j| j.kind == "refresh_preview").collect();
    assert_eq!(refreshes.len(), 15);
    assert!(refreshes.iter().all(|j| j.status == JobStatus::Succeeded), "superseded ones end as done");
    // What was rendered last carries the last watermark.
    let last = watermark_version(Some(&WatermarkChoice::Text { text: "Studio Lee".into() }));
    let current = store.album(album.id).await.unwrap().unwrap().watermark;
    assert_eq!(watermark_version(current.as_ref()), last);
}

/// A job ten leases long keeps its lease by renewing it: two workers poll
/// the queue all along, yet the render is attempted once and succeeds once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_ten_leases_long_runs_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Duration::milliseconds(300);
    let (engine, store, slow) = slow_engine(dir.path(), lease, std::time::Duration::from_secs(3)).await;
    let photo = upload_one(&engine, &store, 320).await.2.id;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let w = Worker::new(engine.clone());
            let rx = stop_rx.clone();
            tokio::spawn(async move { w.run(std::time::Duration::from_millis(20), rx).await })
        })
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while store.photo(photo).await.unwrap().unwrap().status != PhotoStatus::Ready {
        assert!(std::time::Instant::now() < deadline, "the photo never became ready");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The job ends `succeeded` (polled, bounded); then a worker that looks
    // for work, however late, finds none: nobody takes it again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let jobs = store.list_jobs(None, PageRequest::first()).await.unwrap().items;
        if jobs.iter().any(|j| j.kind == "render_preview" && j.status == JobStatus::Succeeded) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the render job never ended succeeded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for _ in 0..3 {
        // (Other jobs, such as the photo's event, may still be there.)
        let ran = Worker::new(engine.clone()).run_once().await.unwrap();
        assert!(!format!("{ran:?}").contains("render_preview"), "the render was taken again: {ran:?}");
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(slow.attempts.load(Ordering::SeqCst), 1, "rendered once, never taken over");
    let jobs = store.list_jobs(None, PageRequest::first()).await.unwrap().items;
    let render: Vec<_> = jobs.iter().filter(|j| j.kind == "render_preview").collect();
    assert_eq!(render.len(), 1);
    assert_eq!((render[0].status, render[0].attempts), (JobStatus::Succeeded, 1));
}

/// A zip packager made slow, counting its attempts.
struct SlowZip {
    delay: std::time::Duration,
    attempts: AtomicU32,
}

#[async_trait]
impl Packager for SlowZip {
    async fn package(&self, blobs: &dyn BlobStore, dest: &str, entries: &[(String, String)]) -> Result<u64> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.delay).await;
        ZipPackager.package(blobs, dest, entries).await
    }
}

/// The same for a zip: a 3 s zip under a 300 ms lease, two workers
/// polling, is built once and issues one link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_job_ten_leases_long_is_built_once() {
    let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
    let zip = Arc::new(SlowZip { delay: std::time::Duration::from_secs(3), attempts: AtomicU32::new(0) });
    let engine = engine_packing(
        store.clone(),
        Arc::new(OpendalBlobStore::memory().unwrap()),
        Arc::new(ImagePipeline::new(PipelineConfig::default()).unwrap()),
        zip.clone(),
        Arc::new(SystemClock),
        Settings { job_lease: Duration::milliseconds(300), ..Settings::default() },
    );
    let (_, album, photo) = upload_one(&engine, &store, 320).await;
    Worker::new(engine.clone()).drain().await.unwrap();
    let cl = testkit::user("cl@w.test", Role::Client);
    store.insert_user(&cl, "!").await.unwrap();
    let order = engine.checkout().create_order(&cl, album.id, &[photo.id]).await.unwrap();
    let paid = PaymentEvent {
        id: "evt-zip".into(),
        order_id: order.id,
        outcome: PaymentOutcome::Paid,
        reference: None,
        checkout: None,
    };
    engine.checkout().apply("test", paid).await.unwrap();
    run_workers_until_idle(&engine, &store, 2).await;
    assert_eq!(zip.attempts.load(Ordering::SeqCst), 1, "zipped once, never taken over");
    assert_eq!(store.order(order.id).await.unwrap().unwrap().status, OrderStatus::Fulfilled);
    let jobs = store.list_jobs(None, PageRequest::first()).await.unwrap().items;
    let build: Vec<_> = jobs.iter().filter(|j| j.kind == "build_zip").collect();
    assert_eq!(build.len(), 1);
    assert_eq!((build[0].status, build[0].attempts), (JobStatus::Succeeded, 1));
}

/// A worker stopped mid-job hands the job back at once (queued, due now,
/// the attempt not counted), and the next worker finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_hands_its_job_back_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, store, slow) = slow_engine(dir.path(), Duration::seconds(30), std::time::Duration::from_secs(3)).await;
    let photo = upload_one(&engine, &store, 320).await.2.id;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let w = Worker::new(engine.clone());
    let running = tokio::spawn(async move { w.run(std::time::Duration::from_millis(20), stop_rx).await });
    while slow.attempts.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(2), running)
        .await
        .expect("the worker stops without finishing its 3 s job")
        .unwrap();
    let job = store.list_jobs(None, PageRequest::first()).await.unwrap().items.remove(0);
    assert_eq!((job.status, job.attempts), (JobStatus::Queued, 0), "handed back, attempt not counted");
    assert!(job.run_at <= SystemClock.now());
    assert_eq!(store.photo(photo).await.unwrap().unwrap().status, PhotoStatus::Processing);
    // Another worker takes it at once (well within a 30 s lease).
    let next = Worker::new(engine.clone());
    let ran = tokio::time::timeout(std::time::Duration::from_secs(20), next.run_once()).await.unwrap().unwrap();
    assert!(matches!(ran, Ran::Succeeded(ref j) if j.id == job.id), "{ran:?}");
    assert_eq!(store.photo(photo).await.unwrap().unwrap().status, PhotoStatus::Ready);
    assert_eq!(slow.attempts.load(Ordering::SeqCst), 2);
}

/// A worker whose lease was taken over drops its work instead of
/// finishing it alongside the new holder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_lost_its_lease_drops_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let lease = Duration::milliseconds(600);
    let (engine, store, slow) = slow_engine(dir.path(), lease, std::time::Duration::from_secs(2)).await;
    upload_one(&engine, &store, 320).await;
    let w = Worker::new(engine.clone());
    let first = tokio::spawn(async move { w.run_once().await });
    while slow.attempts.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    // Someone else claims the job as if the lease had run out (a paused
    // process, a clock jump): the first worker's next renewal fails.
    let taken = store.claim(SystemClock.now() + Duration::seconds(1), Duration::seconds(60)).await.unwrap().unwrap();
    let ran = first.await.unwrap().unwrap();
    assert!(matches!(ran, Ran::LeaseLost(ref j) if j.id == taken.id), "{ran:?}");
    let job = store.job(taken.id).await.unwrap().unwrap();
    assert_eq!((job.status, job.lease_token.as_deref()), (JobStatus::Running, taken.lease_token.as_deref()));
}

/// A full disk is waited out: a render that cannot store its preview ten
/// times in a row (twice the attempts any other failure gets) retries with
/// backoff, never more than 10 minutes apart, and the photo is ready once
/// space returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_waited_out_until_the_photo_renders() {
    let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
    let blobs = Arc::new(Flaky {
        inner: OpendalBlobStore::memory().unwrap(),
        outage: AtomicU32::new(0),
        full: AtomicU32::new(10),
    });
    let clock = Arc::new(ManualClock::new());
    let engine = engine_over(
        store.clone(),
        blobs.clone(),
        Arc::new(ImagePipeline::new(PipelineConfig::default()).unwrap()),
        clock.clone(),
        Settings::default(),
    );
    let (_, _, photo) = upload_one(&engine, &store, 320).await;
    let worker = Worker::new(engine.clone());
    let mut retries = 0;
    loop {
        match worker.run_once().await.unwrap() {
            Ran::Retrying(job, e) => {
                assert!(e.contains("storage is full"), "{e}");
                let stored = store.job(job.id).await.unwrap().unwrap();
                assert_eq!(stored.status, JobStatus::Queued, "queued again, never given up");
                assert!(stored.run_at > clock.now(), "after a backoff");
                assert!(stored.run_at <= clock.now() + Duration::minutes(10), "never more than 10 minutes apart");
                retries += 1;
            }
            Ran::Idle => clock.advance(Duration::minutes(10)),
            Ran::Succeeded(_) => break,
            other => panic!("{other:?}"),
        }
        assert!(retries <= 20, "still failing");
    }
    assert!(retries >= 5, "more failures than max_attempts, and still retried ({retries})");
    assert_eq!(store.photo(photo.id).await.unwrap().unwrap().status, PhotoStatus::Ready);
}
