//! Nothing secret reaches the logs: a whole sale is logged at debug level
//! and the log is searched for every token, password and session it used.
//! The audit events are there.

mod common;

use std::sync::{Arc, Mutex};

use common::{TestApp, jpeg};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_password_or_session_is_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("debug,hyper=info,h2=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let app = TestApp::start().await;
    let ph = app.user("ph@studio.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    app.upload(&ph, &album, "a.jpg", jpeg(320, 240, 1, true)).await;
    let photo = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let cl = app.user("cl@home.test", "client").await;
    let r = app.post_json("/sessions", None, json!({"email": "cl@home.test", "password": "wrong password"})).await;
    assert_eq!(r.status(), 401);
    let r = app.post_json("/orders", Some(&cl), json!({"album_id": album, "photo_ids": [photo]})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&cl), json!({})).await;
    let checkout = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    app.http.post(format!("{checkout}/pay")).send().await.unwrap();
    let o = app.wait_order(&cl, &order, "fulfilled").await;
    let url = o["download"]["url"].as_str().unwrap().to_owned();
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 200);
    app.server.shutdown().await;

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    let download_token = url.rsplit('/').next().unwrap();
    let session = checkout.rsplit('/').next().unwrap();
    for (what, secret) in [
        ("download token", download_token),
        ("checkout session", session),
        ("photographer's bearer token", ph.as_str()),
        ("client's bearer token", cl.as_str()),
        ("password", "correct horse"),
        ("wrong password", "wrong password"),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log");
    }
    for audit in ["action=\"sign_in\"", "result=\"refused\"", "action=\"payment_notification\"", "action=\"download\""]
    {
        assert!(log.contains(audit), "no audit event {audit}");
    }
    assert!(log.contains("route=/api/v1/downloads/{token}"), "requests are logged by route template");
    // Issue 27: a server whose checkouts fall back to the offline test
    // gateway says so when it starts (nothing is configured here).
    assert!(log.contains("no payment gateway is configured"), "the test gateway became the default silently");
    // The first proof of an address is audited (TestApp::user verifies).
    assert!(log.contains("action=\"claim_mailbox\""), "no audit event for the proof of an address");
}
