//! The worker: retries with backoff through an outage, gives up on what
//! cannot succeed (error kept, photo marked), and carries on.

mod common;

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
/// outage) while `outage` is above zero.
struct Flaky {
    inner: OpendalBlobStore,
    outage: AtomicU32,
}

#[async_trait]
impl BlobStore for Flaky {
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_through_an_outage_and_gives_up_on_the_impossible() {
    let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
    let blobs = Arc::new(Flaky { inner: OpendalBlobStore::memory().unwrap(), outage: AtomicU32::new(2) });
    let clock = Arc::new(ManualClock::new());
    let engine = Proofsheet::new(
        Backends {
            metadata: store.clone(),
            queue: store.clone(),
            blobs: blobs.clone(),
            renderer: Arc::new(ImagePipeline::new(PipelineConfig::default()).unwrap()),
            packager: Arc::new(ZipPackager),
            gateways: vec![Arc::new(TestGateway::new(b"s".to_vec(), "http://x"))],
            clock: clock.clone(),
            notifier: Arc::new(LogNotifier),
        },
        Settings::default(),
        b"0123456789abcdef0123".to_vec(),
    )
    .unwrap();
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
            },
        )
        .await
        .unwrap();
    let jpeg = Bytes::from(common::jpeg(640, 480, 1, false));
    let body = Box::pin(futures::stream::once(async move { Ok(jpeg) }));
    let photo = engine.albums().upload(&ph, album.id, Some("a.jpg"), body).await.unwrap();
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
        store.insert_order(&o).await.unwrap();
        engine.albums().delete(&ph, album.id).await.unwrap();
        let ev = PaymentEvent { id: "evt".into(), order_id: o.id, outcome: PaymentOutcome::Paid, reference: None };
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
