//! The example gateway passes the gateway suite and sells through the
//! engine: redirect, signed callback (twice, and forged), zip.

use std::sync::Arc;

use chrono::{Duration, Utc};
use proofsheet_core::{
    Applied, Backends, OrderStatus, PaymentGateway, PaymentOutcome, Photo, PhotoStatus, Proofsheet, Role, Settings,
    SystemClock, Visibility, Worker, testkit,
};
use proofsheet_example_redirect_gateway::PayLink;
use proofsheet_imaging::{ImagePipeline, PipelineConfig};
use proofsheet_storage::{OpendalBlobStore, SqliteStore, ZipPackager};

fn paylink() -> PayLink {
    PayLink::new("studio-42", b"shared secret from the provider".to_vec(), "https://pay.paylink.example/pay")
}

#[tokio::test]
async fn paylink_passes_the_gateway_suite() {
    let gw = paylink();
    let ph = testkit::user("ph@x.test", Role::Photographer);
    let cl = testkit::user("cl@x.test", Role::Client);
    let album = testkit::album(&ph, Visibility::Public, None);
    let photo = testkit::photo(album.id);
    let order = testkit::order(&cl, &album, &[&photo]);
    let genuine = gw.callback(order.id, "AUTHORISED", "evt-1", Utc::now());
    testkit::payment_gateway("paylink", &gw, &order, (vec![], genuine)).await;
    assert!(!format!("{gw:?}").contains("shared secret"));
}

#[tokio::test]
async fn statuses_map_and_stale_or_foreign_callbacks_are_refused() {
    let gw = paylink();
    let order = proofsheet_core::OrderId::new();
    let now = Utc::now();
    for (status, want) in [
        ("AUTHORISED", Some(PaymentOutcome::Paid)),
        ("REFUSED", Some(PaymentOutcome::Declined)),
        ("EXPIRED", Some(PaymentOutcome::Expired)),
        ("REFUNDED", Some(PaymentOutcome::Refunded)),
        ("PENDING", None),
    ] {
        let body = gw.callback(order, status, "e", now);
        assert_eq!(gw.verify_notification(&[], &body, now).unwrap().map(|e| e.outcome), want, "{status}");
    }
    let stale = gw.callback(order, "AUTHORISED", "e", now - Duration::seconds(301));
    assert_eq!(gw.verify_notification(&[], &stale, now).unwrap_err().code(), "invalid_signature");
    let other = PayLink::new("someone-else", b"shared secret from the provider".to_vec(), "https://x");
    let foreign = other.callback(order, "AUTHORISED", "e", now);
    assert_eq!(gw.verify_notification(&[], &foreign, now).unwrap_err().code(), "invalid_signature");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_through_the_engine() {
    let store = Arc::new(SqliteStore::connect("sqlite::memory:").await.unwrap());
    let blobs = Arc::new(OpendalBlobStore::memory().unwrap());
    let gw = Arc::new(paylink());
    let engine = Proofsheet::new(
        Backends {
            metadata: store.clone(),
            queue: store.clone(),
            blobs: blobs.clone(),
            renderer: Arc::new(ImagePipeline::new(PipelineConfig::default()).unwrap()),
            packager: Arc::new(ZipPackager),
            gateways: vec![gw.clone()],
            clock: Arc::new(SystemClock),
            notifier: Arc::new(proofsheet_core::LogNotifier),
            webhooks: Arc::new(proofsheet_core::NoWebhooks),
            faces: None,
        },
        Settings::default(),
        b"link secret of the example".to_vec(),
    )
    .unwrap();
    let meta = &engine.backends().metadata;
    let ph = testkit::user("ph@x.test", Role::Photographer);
    let cl = testkit::user("cl@x.test", Role::Client);
    meta.insert_user(&ph, "!").await.unwrap();
    meta.insert_user(&cl, "!").await.unwrap();
    let album = testkit::album(&ph, Visibility::Public, None);
    meta.insert_album(&album).await.unwrap();
    let photo = Photo { status: PhotoStatus::Ready, ..testkit::photo(album.id) };
    meta.insert_photo(&photo, &[]).await.unwrap();
    use proofsheet_core::BlobStore;
    blobs
        .put(&Photo::original_key(&album.storage_prefix, photo.id), bytes::Bytes::from_static(b"original bytes"))
        .await
        .unwrap();

    let order = engine.checkout().create_order(&cl, album.id, &[photo.id]).await.unwrap();
    let pay_at = engine
        .checkout()
        .start(&cl, order.id, Some("paylink"), "https://shop.example/ok".into(), "https://shop.example/no".into())
        .await
        .unwrap();
    assert!(pay_at.starts_with("https://pay.paylink.example/pay?amount=500&"), "{pay_at}");
    assert!(pay_at.contains(&format!("reference={}", order.id)));

    // A forged callback (signed with a guessed secret) changes nothing.
    let forger = PayLink::new("studio-42", b"guess".to_vec(), "x");
    let forged = forger.callback(order.id, "AUTHORISED", "evt-f", Utc::now());
    assert!(engine.checkout().notification("paylink", &[], &forged).await.is_err());

    let paid = gw.callback(order.id, "AUTHORISED", "evt-1", Utc::now());
    assert!(matches!(engine.checkout().notification("paylink", &[], &paid).await.unwrap(), Applied::Changed(_)));
    assert_eq!(engine.checkout().notification("paylink", &[], &paid).await.unwrap(), Applied::Ignored, "a repeat");
    Worker::new(engine.clone()).drain().await.unwrap();
    let order = engine.checkout().order(&cl, order.id).await.unwrap();
    assert_eq!(order.status, OrderStatus::Fulfilled);
    assert_eq!(order.gateway.as_deref(), Some("paylink"));
    assert!(engine.downloads().link(&order).await.unwrap().is_some());
}
