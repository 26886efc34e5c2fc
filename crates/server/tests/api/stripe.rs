//! Stripe over HTTP: webhooks delivered at least once, in any order, at
//! once; refunds; forged and stale deliveries; start-up without secrets.
//! Signatures are made by Stripe's own Python library (see common).

use crate::common;

use std::collections::HashMap;

use common::{StripeEventKind, StripeTestServer, TestApp, jpeg, session_of};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A photographer's public album with `photos` ready photos, and a client.
async fn shop(app: &TestApp, photos: usize) -> (String, Vec<String>, String) {
    let ph = app.user("ph@studio.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    for i in 0..photos {
        let r = app.upload(&ph, &album, &format!("p{i}.jpg"), jpeg(320, 240, 1, i % 2 == 0)).await;
        assert_eq!(r.status(), StatusCode::CREATED);
    }
    let ids =
        app.wait_processed(&ph, &album, photos).await.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    let client = app.user("client@home.test", "client").await;
    (album, ids, client)
}

/// Creates an order and its Stripe session; returns (order id, session id).
async fn checkout(app: &TestApp, client: &str, album: &str, photos: &[String]) -> (String, String) {
    let r = app.post_json("/orders", Some(client), json!({"album_id": album, "photo_ids": photos})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(client), json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    (order, session_of(&url))
}

async fn links_of(app: &TestApp) -> HashMap<String, i64> {
    let db = app.server.state.config.server.data_dir.join("proofsheet.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT order_id, COUNT(*) FROM download_links GROUP BY order_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows.into_iter().collect()
}

fn zips_of(app: &TestApp, order: &str) -> usize {
    let dir = app.server.state.config.server.data_dir.join("blobs/orders").join(order);
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

async fn status(app: &TestApp, client: &str, order: &str) -> Value {
    app.get(&format!("/orders/{order}"), Some(client)).await.json().await.unwrap()
}

/// Waits until `check` holds for every order (the worker is asynchronous).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: not reached in 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_completion_delivered_twenty_times_at_once_fulfils_once() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, photos, client) = shop(&app, 2).await;
    let (order, session) = checkout(&app, &client, &album, &photos).await;
    let body = stripe.event(&session, StripeEventKind::Completed);
    let replies = app.stripe_webhooks(&vec![body; 20]).await;
    assert!(replies.iter().all(|(s, _)| *s == StatusCode::OK), "{replies:?}");
    assert_eq!(
        replies.iter().filter(|(_, v)| v["changed"] == true).count(),
        1,
        "exactly one delivery changed the order"
    );
    let o = app.wait_order(&client, &order, "fulfilled").await;
    assert!(o["download"]["url"].is_string());
    // Once every job has run, count: one link, one zip.
    app.wait_idle().await;
    assert_eq!(links_of(&app).await.get(&order), Some(&1));
    assert_eq!(zips_of(&app, &order), 1);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_revokes_the_link_deletes_the_zip_and_a_late_completion_changes_nothing() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, photos, client) = shop(&app, 1).await;
    let (order, session) = checkout(&app, &client, &album, &photos).await;
    let completed = stripe.event(&session, StripeEventKind::Completed);
    app.stripe_webhooks(std::slice::from_ref(&completed)).await;
    let o = app.wait_order(&client, &order, "fulfilled").await;
    let url = o["download"]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), StatusCode::OK);

    // A partial refund leaves the purchase alone.
    let partial = stripe.event(&session, StripeEventKind::PartlyRefunded);
    assert_eq!(app.stripe_webhooks(&[partial]).await[0].1["changed"], false);
    assert_eq!(status(&app, &client, &order).await["status"], "fulfilled");

    let refunded = stripe.event(&session, StripeEventKind::Refunded);
    let (code, reply) = app.stripe_webhooks(&[refunded]).await.remove(0);
    assert_eq!((code, &reply["changed"]), (StatusCode::OK, &json!(true)));
    let o = status(&app, &client, &order).await;
    assert_eq!(o["status"], "refunded");
    assert!(o["download"].is_null());
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), StatusCode::NOT_FOUND, "the link is revoked at once");
    eventually("the zip is deleted", async || zips_of(&app, &order) == 0).await;

    // The completion delivered again, late: a refunded order stays refunded.
    assert_eq!(app.stripe_webhooks(&[completed]).await[0].1["changed"], false);
    assert_eq!(status(&app, &client, &order).await["status"], "refunded");
    // The photographer's report does not count it.
    let ph_token = {
        let r = app.post_json("/sessions", None, json!({"email": "ph@studio.test", "password": "correct horse"})).await;
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    };
    let report: Value = app.get("/reports/sales", Some(&ph_token)).await.json().await.unwrap();
    assert_eq!(report["totals"], json!([]));
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_unknown_deliveries_are_refused_and_change_nothing() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, photos, client) = shop(&app, 1).await;
    let (order, session) = checkout(&app, &client, &album, &photos).await;
    let body = stripe.event(&session, StripeEventKind::Completed);
    let hook = app.api("/payments/stripe/webhook");
    let post = |header: Option<String>, body: Vec<u8>| {
        let mut r = app.http.post(&hook).body(body);
        if let Some(h) = header {
            r = r.header("Stripe-Signature", h);
        }
        r.send()
    };
    let now = chrono::Utc::now();
    let other_secret = proofsheet_payments::signature::sign(b"whsec_forged", &body, now);
    let stale = proofsheet_payments::signature::sign(
        common::STRIPE_WHSEC.as_bytes(),
        &body,
        now - chrono::Duration::seconds(301),
    );
    let mut tampered = body.clone();
    let n = tampered.len() - 3;
    tampered[n] ^= 1;
    let good = common::stripe_sign(std::slice::from_ref(&body)).remove(0);
    for (name, header, body) in [
        ("no signature", None, body.clone()),
        ("another secret", Some(other_secret), body.clone()),
        ("301 s old", Some(stale), body.clone()),
        ("tampered body", Some(good), tampered),
        ("garbage", Some("t=1,v1=zz".to_owned()), body.clone()),
    ] {
        let r = post(header, body).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_signature", "{name}");
    }
    assert_eq!(status(&app, &client, &order).await["status"], "pending");
    let r = app.http.post(app.api("/payments/paypal/webhook")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.server.shutdown().await;
}

/// The replay test: 50 orders, each with a Stripe-side fate (paid,
/// paid then refunded, or expired); 1,000 deliveries drawn from their
/// events (every event at least once), shuffled, sent 25 at a time. In the
/// end every order matches Stripe, none is fulfilled twice, and refunded
/// orders have no working link and no zip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_shuffled_replays_over_fifty_orders_agree_with_stripe() {
    let (app, stripe) = TestApp::start_stripe(|c| c.worker.concurrency = 2).await;
    let (album, photos, client) = shop(&app, 3).await;
    let seed: u64 = std::env::var("PROOFSHEET_REPLAY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261125);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut fates = Vec::new();
    let mut events: Vec<Vec<u8>> = Vec::new();
    for i in 0..50 {
        let chosen = [photos[i % 3].clone()];
        let (order, session) = checkout(&app, &client, &album, &chosen).await;
        let fate = ["fulfilled", "refunded", "expired"][rng.gen_range(0..3)];
        match fate {
            "fulfilled" => events.push(stripe.event(&session, StripeEventKind::Completed)),
            "refunded" => {
                events.push(stripe.event(&session, StripeEventKind::Completed));
                events.push(stripe.event(&session, StripeEventKind::Refunded));
            }
            _ => events.push(stripe.event(&session, StripeEventKind::Expired)),
        }
        fates.push((order, fate));
    }
    let mut deliveries: Vec<Vec<u8>> = events.clone();
    while deliveries.len() < 1000 {
        deliveries.push(events[rng.gen_range(0..events.len())].clone());
    }
    deliveries.shuffle(&mut rng);
    let mut changed = 0;
    for batch in deliveries.chunks(25) {
        for (code, reply) in app.stripe_webhooks(batch).await {
            assert_eq!(code, StatusCode::OK, "{reply}");
            changed += usize::from(reply["changed"] == true);
        }
    }
    eventually("every order reaches its Stripe-side state", async || {
        let mut all = true;
        for (order, fate) in &fates {
            all &= status(&app, &client, order).await["status"] == *fate;
            all &= *fate != "refunded" || zips_of(&app, order) == 0;
        }
        all
    })
    .await;
    app.wait_idle().await;
    let links = links_of(&app).await;
    let mut by_fate: HashMap<&str, usize> = HashMap::new();
    for (order, fate) in &fates {
        *by_fate.entry(fate).or_default() += 1;
        let o = status(&app, &client, order).await;
        assert_eq!(o["status"], *fate, "{order}");
        let n_links = links.get(order).copied().unwrap_or(0);
        assert!(n_links <= 1, "{order}: {n_links} links");
        match *fate {
            "fulfilled" => {
                assert_eq!((n_links, zips_of(&app, order)), (1, 1), "{order}: one link, one zip");
                let url = o["download"]["url"].as_str().unwrap();
                assert_eq!(app.http.get(url).send().await.unwrap().status(), StatusCode::OK);
            }
            "refunded" => {
                assert!(o["download"].is_null());
                assert_eq!(zips_of(&app, order), 0, "{order}: no zip after a refund");
            }
            _ => assert_eq!((n_links, zips_of(&app, order)), (0, 0), "{order}: nothing for an expired order"),
        }
    }
    // Paid orders change twice at most (paid, refunded), others once; a
    // refund overtaking its payment makes the payment a no-op.
    assert!(changed <= events.len() && changed >= 50, "{changed} changes for {} events", events.len());
    eprintln!(
        "replays: seed {seed}, {} deliveries of {} events over 50 orders ({by_fate:?}); {changed} changed an order",
        deliveries.len(),
        events.len()
    );
    app.server.shutdown().await;
}

#[tokio::test]
async fn stripe_without_its_secrets_refuses_to_start() {
    let stripe = StripeTestServer::start(common::STRIPE_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut full = proofsheet_server::Config::default();
    common::stripe_config(&mut full, &stripe.base_url);
    let printed = format!("{full:?}");
    assert!(!printed.contains(common::STRIPE_KEY) && !printed.contains(common::STRIPE_WHSEC), "{printed}");
    for (what, edit) in [
        (
            "payments.stripe.secret_key",
            Box::new(|c: &mut proofsheet_server::Config| c.payments.stripe.secret_key = None)
                as Box<dyn Fn(&mut proofsheet_server::Config)>,
        ),
        (
            "payments.stripe.webhook_secret",
            Box::new(|c: &mut proofsheet_server::Config| c.payments.stripe.webhook_secret = None),
        ),
    ] {
        let mut config = proofsheet_server::Config::default();
        config.server.addr = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().to_owned();
        common::stripe_config(&mut config, &stripe.base_url);
        edit(&mut config);
        let clock = std::sync::Arc::new(proofsheet_core::ManualClock::new());
        let err = match proofsheet_server::start(config, clock).await {
            Ok(_) => panic!("started without {what}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains(what), "{err}");
        assert!(!err.contains(common::STRIPE_KEY) && !err.contains(common::STRIPE_WHSEC), "{err}");
    }
}

/// A Stripe deployment takes no checkout through the offline test gateway:
/// it is not registered, its pages and webhook do not exist, and a checkout
/// naming it is refused. Only the testing key brings it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stripe_deployment_refuses_the_test_gateway() {
    let (app, _stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, ids, client) = shop(&app, 1).await;
    let r = app.post_json("/orders", Some(&client), json!({"album_id": album, "photo_ids": ids})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&client), json!({"gateway": "test"})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unknown_gateway");
    // The default is Stripe.
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&client), json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    assert!(!url.contains("/checkout/test/"), "{url}");
    // No test pages and no test webhook: a forged "paid" has nowhere to go.
    let r = app.http.get(format!("{}/checkout/test/anything", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.http.post(format!("{}/checkout/test/anything/pay", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.http.post(app.api("/payments/test/webhook")).body("{}").send().await.unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    assert_eq!(status(&app, &client, &order).await["status"], "pending");
    app.server.shutdown().await;

    // Naming the test gateway the default beside Stripe stops start-up ...
    let stripe = StripeTestServer::start(common::STRIPE_KEY).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = proofsheet_server::Config::default();
    config.server.addr = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().to_owned();
    common::stripe_config(&mut config, &stripe.base_url);
    config.payments.default_gateway = Some(proofsheet_server::config::GatewayName::Test);
    let clock = std::sync::Arc::new(proofsheet_core::ManualClock::new());
    let err = match proofsheet_server::start(config.clone(), clock.clone()).await {
        Ok(_) => panic!("the test gateway stood beside Stripe"),
        Err(e) => format!("{e:#}"),
    };
    assert!(err.contains("enable_test_gateway_for_testing"), "{err}");
    // ... unless the operator says this is a test deployment.
    config.payments.default_gateway = None;
    config.payments.enable_test_gateway_for_testing = true;
    let (app, _) = (TestApp::start_with(|c| *c = config.clone()).await, ());
    let (album, ids, client) = shop(&app, 1).await;
    let r = app.post_json("/orders", Some(&client), json!({"album_id": album, "photo_ids": ids})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&client), json!({"gateway": "test"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    assert!(url.contains("/checkout/test/"), "{url}");
    app.server.shutdown().await;
}

/// Starts the checkout of `order` again; returns the reply.
async fn checkout_again(app: &TestApp, client: &str, order: &str) -> reqwest::Response {
    app.post_json(&format!("/orders/{order}/checkout"), Some(client), json!({})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_checkout_expires_the_first_session_and_the_order_stays_payable() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, photos, client) = shop(&app, 1).await;
    let (order, first) = checkout(&app, &client, &album, &photos).await;
    let r = checkout_again(&app, &client, &order).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let second = session_of(r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap());
    assert_ne!(first, second, "a new session");
    assert_eq!(stripe.session(&first).unwrap()["status"], "expired", "the first can no longer be paid");
    assert_eq!(stripe.session(&second).unwrap()["status"], "open");

    // Stripe reports the first session's expiry: that does not end the order.
    let expired = stripe.event(&first, StripeEventKind::Expired);
    assert_eq!(app.stripe_webhooks(&[expired]).await[0].1["changed"], false);
    assert_eq!(status(&app, &client, &order).await["status"], "pending");

    stripe.pay(&second, true);
    let completed = stripe.event(&second, StripeEventKind::Completed);
    assert_eq!(app.stripe_webhooks(&[completed]).await[0].1["changed"], true);
    app.wait_order(&client, &order, "fulfilled").await;
    // Once paid, no checkout opens again.
    assert_eq!(checkout_again(&app, &client, &order).await.status(), StatusCode::CONFLICT);
    assert_eq!(stripe.session_count(), 2);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkout_resumed_after_paying_opens_nothing_and_delivers_once() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, photos, client) = shop(&app, 1).await;
    let (order, first) = checkout(&app, &client, &album, &photos).await;
    // Paid on Stripe's page; the webhook has not arrived yet.
    stripe.pay(&first, true);
    let r = checkout_again(&app, &client, &order).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "order_not_pending");
    assert_eq!(stripe.session_count(), 1, "no second session to pay");
    let o = app.wait_order(&client, &order, "fulfilled").await;
    assert!(o["download"]["url"].is_string());
    // The webhook, when it comes, changes nothing.
    let completed = stripe.event(&first, StripeEventKind::Completed);
    assert_eq!(app.stripe_webhooks(&[completed]).await[0].1["changed"], false);
    assert_eq!(links_of(&app).await.get(&order), Some(&1));

    // A delayed payment method still running refuses a new session too.
    let (order, first) = checkout(&app, &client, &album, &photos).await;
    stripe.pay(&first, false);
    let r = checkout_again(&app, &client, &order).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "payment_processing");
    assert_eq!(status(&app, &client, &order).await["status"], "pending");
    app.server.shutdown().await;
}

/// A delayed payment method: `completed` with `unpaid` changes nothing,
/// `async_payment_failed` cancels the order; a second order whose payment
/// Stripe reports after the order expired still delivers (the money was
/// taken).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_delayed_payment_cancels_and_a_payment_after_expiry_delivers() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    let (album, photos, client) = shop(&app, 1).await;
    let (order, session) = checkout(&app, &client, &album, &photos).await;
    let unpaid = stripe.event(&session, StripeEventKind::CompletedUnpaid);
    assert_eq!(app.stripe_webhooks(&[unpaid]).await[0].1["changed"], false);
    assert_eq!(status(&app, &client, &order).await["status"], "pending");
    let failed = stripe.event(&session, StripeEventKind::AsyncFailed);
    let (code, reply) = app.stripe_webhooks(&[failed]).await.remove(0);
    assert_eq!((code, &reply["changed"]), (StatusCode::OK, &json!(true)));
    let o = status(&app, &client, &order).await;
    assert_eq!(o["status"], "cancelled");
    assert!(o["download"].is_null());

    let (order, session) = checkout(&app, &client, &album, &photos).await;
    let expired = stripe.event(&session, StripeEventKind::Expired);
    assert_eq!(app.stripe_webhooks(&[expired]).await[0].1["changed"], true);
    assert_eq!(status(&app, &client, &order).await["status"], "expired");
    let succeeded = stripe.event(&session, StripeEventKind::AsyncSucceeded);
    assert_eq!(app.stripe_webhooks(&[succeeded]).await[0].1["changed"], true);
    let o = app.wait_order(&client, &order, "fulfilled").await;
    assert_eq!(app.http.get(o["download"]["url"].as_str().unwrap()).send().await.unwrap().status(), StatusCode::OK);
    app.server.shutdown().await;
}
