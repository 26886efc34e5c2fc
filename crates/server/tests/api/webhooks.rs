//! Outgoing webhooks end to end: a receiver on loopback
//! (tests/support/webhook_receiver.py) verifies every delivery with the
//! official `standardwebhooks` library. Endpoints that answer 200, 500
//! then 200, 410, 429 with `Retry-After`, or hang; rotation with both
//! signatures; events of one photographer never reaching another; an
//! endpoint failing for days turned off and its owner told; the SSRF rules.

use std::time::Duration;

use proofsheet_core::{JobStatus, PageRequest};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, jpeg};

/// The receiver process; killed on drop.
struct Receiver {
    child: std::process::Child,
    url: String,
    http: reqwest::Client,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Receiver {
    /// `None` without Python (allowed only when the test services are not
    /// required).
    async fn start() -> Option<Receiver> {
        let Ok(python) = std::env::var("PROOFSHEET_TEST_PYTHON") else {
            assert!(
                std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(),
                "the webhook receiver needs Python with standardwebhooks: run scripts/services.sh"
            );
            eprintln!("PROOFSHEET_TEST_PYTHON unset: the webhook test is skipped");
            return None;
        };
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/webhook_receiver.py");
        tokio::task::spawn_blocking(move || {
            use std::io::BufRead;
            let mut child =
                std::process::Command::new(python).arg(script).stdout(std::process::Stdio::piped()).spawn().unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("receiver said {line:?}"));
            Some(Receiver { child, url: format!("http://127.0.0.1:{port}"), http: reqwest::Client::new() })
        })
        .await
        .unwrap()
    }

    fn hook(&self, name: &str) -> String {
        format!("{}/hook/{name}", self.url)
    }

    async fn configure(&self, name: &str, config: Value) {
        let r = self.http.post(format!("{}/_config/{name}", self.url)).json(&config).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
    }

    async fn log(&self) -> Vec<Value> {
        self.http.get(format!("{}/_log", self.url)).send().await.unwrap().json().await.unwrap()
    }

    async fn received(&self, name: &str) -> Vec<Value> {
        self.log().await.into_iter().filter(|e| e["name"] == name).collect()
    }

    /// Waits until `name` has received `n` deliveries matching `pred`.
    async fn wait_for(&self, name: &str, n: usize, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        for _ in 0..300 {
            let got: Vec<Value> = self.received(name).await.into_iter().filter(&pred).collect();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{name} did not receive {n} deliveries: {:#?}", self.received(name).await);
    }
}

fn of_type(t: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| e["body"]["type"] == t
}

/// Creates an endpoint; answers its id and secret.
async fn endpoint(app: &TestApp, token: &str, url: &str, events: Value) -> (String, String) {
    let r = app.post_json("/webhooks", Some(token), json!({"url": url, "events": events, "description": "test"})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
    let w: Value = r.json().await.unwrap();
    let secret = w["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (w["id"].as_str().unwrap().to_owned(), secret)
}

async fn call(app: &TestApp, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut req = app.http.request(method, app.api(path)).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn deliveries(app: &TestApp, token: &str, hook: &str) -> Vec<Value> {
    let (status, page) = call(app, Method::GET, &format!("/webhooks/{hook}/deliveries"), token, None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint's deliveries satisfy `done`.
async fn wait_deliveries(app: &TestApp, token: &str, hook: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..300 {
        let d = deliveries(app, token, hook).await;
        if done(&d) {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("deliveries of {hook} never settled: {:#?}", deliveries(app, token, hook).await);
}

fn quick(c: &mut proofsheet_server::config::Config) {
    c.webhooks.retry_schedule_seconds = vec![1, 1, 1];
    c.webhooks.timeout_seconds = 2;
}

async fn the_whole_flow(app: &TestApp, rx: &Receiver) {
    let owner = app.user("hooks@studio.test", "photographer").await;
    let other = app.user("other@studio.test", "photographer").await;
    let ops = app.admin("hooks-admin@ops.test").await;
    let all = json!([
        "photo.ready",
        "photo.failed",
        "album.expired",
        "order.paid",
        "order.fulfilled",
        "order.refunded",
        "order.expired"
    ]);
    let (ok, ok_secret) = endpoint(app, &owner, &rx.hook("ok"), all.clone()).await;
    let (flaky, flaky_secret) = endpoint(app, &owner, &rx.hook("flaky"), json!(["photo.ready"])).await;
    let (gone, gone_secret) = endpoint(app, &owner, &rx.hook("gone"), json!(["photo.ready"])).await;
    let (hang, hang_secret) = endpoint(app, &owner, &rx.hook("hang"), json!(["photo.ready"])).await;
    let (_, stranger_secret) = endpoint(app, &other, &rx.hook("stranger"), all.clone()).await;
    let (_, admin_secret) = endpoint(app, &ops, &rx.hook("admin"), all.clone()).await;
    rx.configure("ok", json!({"secrets": [ok_secret]})).await;
    rx.configure("flaky", json!({"secrets": [flaky_secret], "script": [500, 200]})).await;
    rx.configure("gone", json!({"secrets": [gone_secret], "script": [410]})).await;
    rx.configure("hang", json!({"secrets": [hang_secret], "hang": 4})).await;
    rx.configure("stranger", json!({"secrets": [stranger_secret]})).await;
    rx.configure("admin", json!({"secrets": [admin_secret]})).await;

    // A photo becomes ready: every endpoint that wants it hears of it once,
    // signed; the hanging one holds up nobody.
    let album = app.album(&owner, "private", Some("buyer@home.test")).await;
    let started = std::time::Instant::now();
    assert_eq!(app.upload(&owner, &album, "a.jpg", jpeg(320, 240, 1, true)).await.status(), StatusCode::CREATED);
    let photo = app.wait_processed(&owner, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let ready = rx.wait_for("ok", 1, of_type("photo.ready")).await;
    assert!(started.elapsed() < Duration::from_secs(4), "the hanging endpoint held up the others");
    let e = &ready[0];
    assert_eq!(e["verified"], json!([true]), "{e}");
    assert_eq!(e["body"]["data"]["photo_id"], photo);
    assert_eq!(e["body"]["data"]["album_id"], album);
    assert_eq!(e["body"]["data"]["status"], "ready");
    assert!(e["id"].as_str().unwrap().starts_with("msg_"));
    let admin_ready = rx.wait_for("admin", 1, of_type("photo.ready")).await;
    assert_eq!(admin_ready[0]["id"], e["id"], "one message id for every endpoint");
    assert_eq!(admin_ready[0]["verified"], json!([true]));

    // 500 then 200: retried after the schedule's wait, same id, recorded.
    let flaky_got = rx.wait_for("flaky", 2, |_| true).await;
    assert_eq!(flaky_got[0]["id"], flaky_got[1]["id"]);
    assert!(flaky_got.iter().all(|g| g["verified"] == json!([true])));
    let d = wait_deliveries(app, &owner, &flaky, |d| d.len() == 1 && d[0]["status"] == "succeeded").await;
    let attempts = d[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.iter().map(|a| a["status_code"].clone()).collect::<Vec<_>>(), [json!(500), json!(200)]);
    assert!(attempts[0]["response"].as_str().unwrap().contains("\"n\": 1"), "{}", attempts[0]);
    assert_eq!(d[0]["attempt_count"], 2);
    assert_eq!(d[0]["next_attempt_at"], Value::Null);
    let gap = chrono::DateTime::parse_from_rfc3339(attempts[1]["at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(attempts[0]["at"].as_str().unwrap()).unwrap();
    assert!(gap >= chrono::Duration::milliseconds(850), "the retry waited its second: {gap}");

    // 410: turned off at once, its owner to be mailed.
    let d = wait_deliveries(app, &owner, &gone, |d| d.len() == 1 && d[0]["status"] == "failed").await;
    assert_eq!(d[0]["attempts"][0]["status_code"], 410);
    let (_, w) = call(app, Method::GET, &format!("/webhooks/{gone}"), &owner, None).await;
    assert_eq!(w["enabled"], false);
    assert!(w["disabled_reason"].as_str().unwrap().contains("410"), "{w}");
    assert!(w.get("secret").is_none(), "the secret is shown at creation and rotation only");
    let (status, e) = call(
        app,
        Method::POST,
        &format!("/webhooks/{gone}/deliveries/{}/retry", d[0]["id"].as_str().unwrap()),
        &owner,
        None,
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("webhook_disabled")));

    // The hanging endpoint: its attempt times out and is retried.
    let d = wait_deliveries(app, &owner, &hang, |d| d.len() == 1 && d[0]["attempt_count"].as_u64() >= Some(1)).await;
    let error = d[0]["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("timed out"), "{d:#?}");
    assert_eq!(d[0]["status"], "pending", "retried later");

    // A sale: paid and fulfilled reach the owner and the admin, never the
    // other photographer.
    let buyer = app.user("buyer@home.test", "client").await;
    let r = app.post_json("/orders", Some(&buyer), json!({"album_id": album, "photo_ids": [photo]})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&buyer), json!({})).await;
    let checkout = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    app.http.post(format!("{checkout}/pay")).send().await.unwrap();
    app.wait_order(&buyer, &order, "fulfilled").await;
    let paid = rx.wait_for("ok", 1, of_type("order.paid")).await;
    assert_eq!(paid[0]["body"]["data"]["order_id"], order);
    assert_eq!(paid[0]["body"]["data"]["status"], "paid");
    assert!(paid[0]["body"]["data"]["total"]["amount"].as_i64().unwrap() > 0);
    let fulfilled = rx.wait_for("ok", 1, of_type("order.fulfilled")).await;
    assert!(fulfilled[0]["body"]["data"]["link_expires_at"].is_string());
    rx.wait_for("admin", 1, of_type("order.fulfilled")).await;
    app.wait_idle().await;
    assert!(rx.received("stranger").await.is_empty(), "another photographer's events never reach them");

    // Rotation: both signatures for a day, each secret verifies on its own.
    let (status, rotated) = call(app, Method::POST, &format!("/webhooks/{ok}/rotate-secret"), &owner, None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, ok_secret);
    assert!(rotated["previous_secret_expires_at"].is_string());
    rx.configure("ok", json!({"secrets": [new_secret, ok_secret]})).await;
    let (status, ping) = call(app, Method::POST, &format!("/webhooks/{ok}/test"), &owner, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ping}");
    let got = rx.wait_for("ok", 1, of_type("ping")).await;
    assert_eq!(got[0]["signatures"], 2);
    assert_eq!(got[0]["verified"], json!([true, true]), "{}", got[0]);
    assert_eq!(got[0]["id"], ping["message_id"]);

    // A delivery sent again keeps its message id, so receivers drop it.
    let d = deliveries(app, &owner, &ok).await;
    let first = d.iter().find(|d| d["event_type"] == "photo.ready").unwrap();
    let (status, again) = call(
        app,
        Method::POST,
        &format!("/webhooks/{ok}/deliveries/{}/retry", first["id"].as_str().unwrap()),
        &owner,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let twice = rx.wait_for("ok", 2, of_type("photo.ready")).await;
    assert_eq!(twice[0]["id"], twice[1]["id"]);

    // Others' endpoints are not found; clients manage none; admins see all.
    let (status, _) = call(app, Method::GET, &format!("/webhooks/{ok}"), &other, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, e) = call(app, Method::GET, "/webhooks", &buyer, None).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::FORBIDDEN, Some("photographers_only")));
    let (_, mine) = call(app, Method::GET, "/webhooks", &owner, None).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 4);
    let (_, everyone) = call(app, Method::GET, "/webhooks", &ops, None).await;
    assert_eq!(everyone["items"].as_array().unwrap().len(), 6);

    // Turned on again: its reason goes; deleted: its deliveries go too.
    let (status, w) =
        call(app, Method::PATCH, &format!("/webhooks/{gone}"), &owner, Some(json!({"enabled": true}))).await;
    assert_eq!((status, &w["enabled"], &w["disabled_reason"]), (StatusCode::OK, &json!(true), &Value::Null));
    let (status, _) = call(app, Method::DELETE, &format!("/webhooks/{hang}"), &owner, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(app, Method::GET, &format!("/webhooks/{hang}/deliveries"), &owner, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_retried_and_recorded_on_the_embedded_default() {
    let Some(rx) = Receiver::start().await else { return };
    let app = TestApp::start_with(quick).await;
    the_whole_flow(&app, &rx).await;
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_retried_and_recorded_on_postgres_and_s3() {
    let Some(rx) = Receiver::start().await else { return };
    let Some(app) = TestApp::start_scale_out_with(quick).await else { return };
    the_whole_flow(&app, &rx).await;
    app.server.shutdown().await;
}

/// `429` with `Retry-After` waits as long as asked; an endpoint that keeps
/// failing past `webhooks.disable_after_hours` is turned off, its owner
/// mailed, and its pending deliveries end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_turned_off_and_retry_after_is_honoured() {
    let Some(rx) = Receiver::start().await else { return };
    let app = TestApp::start_with(|c| {
        c.webhooks.retry_schedule_seconds = vec![1, 1, 1, 1, 1, 1];
        c.webhooks.disable_after_hours = 2.5 / 3600.0;
    })
    .await;
    let owner = app.user("dead@studio.test", "photographer").await;
    let (busy, busy_secret) = endpoint(&app, &owner, &rx.hook("busy"), json!(["photo.ready"])).await;
    let (dead, dead_secret) = endpoint(&app, &owner, &rx.hook("dead"), json!(["photo.ready"])).await;
    rx.configure("busy", json!({"secrets": [busy_secret], "script": [429, 200], "retry_after": "2"})).await;
    rx.configure("dead", json!({"secrets": [dead_secret], "script": [503]})).await;
    let album = app.album(&owner, "private", None).await;
    app.upload(&owner, &album, "a.jpg", jpeg(64, 48, 1, true)).await;
    app.wait_processed(&owner, &album, 1).await;

    // A dozen deliveries to an endpoint that takes 3 s to answer hold at
    // most its share of the lane: another endpoint's ping goes at once.
    let (slow, slow_secret) = endpoint(&app, &owner, &rx.hook("slow"), json!(["order.paid"])).await;
    let (fast, fast_secret) = endpoint(&app, &owner, &rx.hook("fast"), json!(["order.paid"])).await;
    rx.configure("slow", json!({"secrets": [slow_secret], "hang": 3})).await;
    rx.configure("fast", json!({"secrets": [fast_secret]})).await;
    for _ in 0..12 {
        let (status, _) = call(&app, Method::POST, &format!("/webhooks/{slow}/test"), &owner, None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    rx.wait_for("slow", 1, |_| true).await;
    let asked = std::time::Instant::now();
    call(&app, Method::POST, &format!("/webhooks/{fast}/test"), &owner, None).await;
    rx.wait_for("fast", 1, of_type("ping")).await;
    assert!(asked.elapsed() < Duration::from_secs(2), "a slow endpoint held up another: {:?}", asked.elapsed());
    let in_flight_at_most = proofsheet_core::MAX_IN_FLIGHT_PER_ENDPOINT;
    let slow_log = rx.received("slow").await;
    assert!(slow_log.len() <= in_flight_at_most * 2, "{} at once to the slow one", slow_log.len());

    let d = wait_deliveries(&app, &owner, &busy, |d| d.len() == 1 && d[0]["status"] == "succeeded").await;
    let a = d[0]["attempts"].as_array().unwrap();
    let gap = chrono::DateTime::parse_from_rfc3339(a[1]["at"].as_str().unwrap()).unwrap()
        - chrono::DateTime::parse_from_rfc3339(a[0]["at"].as_str().unwrap()).unwrap();
    assert!(gap >= chrono::Duration::milliseconds(1900), "Retry-After: 2 was honoured: {gap}");

    for _ in 0..200 {
        let (_, w) = call(&app, Method::GET, &format!("/webhooks/{dead}"), &owner, None).await;
        if w["enabled"] == false {
            assert!(w["disabled_reason"].as_str().unwrap().contains("every delivery failed since"), "{w}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let d = wait_deliveries(&app, &owner, &dead, |d| d.len() == 1 && d[0]["status"] == "failed").await;
    let n = d[0]["attempt_count"].as_u64().unwrap();
    assert!((3..=5).contains(&n), "turned off after about 2.5 s of 1 s retries: {n} attempts");
    assert!(d[0]["attempts"].as_array().unwrap().iter().all(|a| a["status_code"] == 503));
    // Its owner is told, by mail (the notification is in the queue).
    app.wait_idle().await;
    let b = app.server.state.engine.backends();
    let jobs = b.queue.list_jobs(Some(JobStatus::Succeeded), PageRequest::new(Some(200), None).unwrap()).await.unwrap();
    assert!(
        jobs.items.iter().any(|j| j.payload["notification"]["event"] == "webhook_disabled"),
        "the owner was mailed"
    );
    let mail = proofsheet_server::mail::MailNotifier::new(
        b.metadata.clone(),
        app.server.state.engine.link_signer().clone(),
        app.url.clone(),
        "Proofsheet <noreply@example.com>",
        None,
    )
    .unwrap();
    let notice = proofsheet_core::Notification::WebhookDisabled { webhook_id: dead.parse().unwrap() };
    let m = mail.render(&notice).await.unwrap().unwrap();
    assert_eq!(m.to, "dead@studio.test");
    assert!(m.text.contains(&rx.hook("dead")) && m.text.contains("every delivery failed"), "{}", m.text);
    app.server.shutdown().await;
}

/// The SSRF rules with the default configuration: https only, and no
/// address of this machine or its networks, when made and when changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_on_private_networks_or_plain_http_are_refused() {
    let app = TestApp::start_with(|c| {
        c.webhooks.allow_http = false;
        c.webhooks.allow_private_networks = false;
    })
    .await;
    let owner = app.user("ssrf@studio.test", "photographer").await;
    for url in [
        "http://hooks.example.com/x",
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/x",
        "https://localhost/x",
        "https://user:pw@hooks.example.com/x",
        "file:///etc/passwd",
    ] {
        let r = app.post_json("/webhooks", Some(&owner), json!({"url": url, "events": ["order.paid"]})).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["code"], "invalid_url", "{url}: {e}");
    }
    let (id, _) = endpoint(&app, &owner, "https://hooks.example.com/proofsheet", json!(["order.paid"])).await;
    let (status, e) =
        call(&app, Method::PATCH, &format!("/webhooks/{id}"), &owner, Some(json!({"url": "https://192.168.1.1/x"})))
            .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_url")));
    let r = app.post_json("/webhooks", Some(&owner), json!({"url": "https://a.example.com/", "events": []})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post_json("/webhooks", Some(&owner), json!({"url": "https://a.example.com/", "events": ["order.shipped"]}))
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "an unknown event is refused by the schema");
    let spec: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let pattern =
        spec["components"]["schemas"]["CreateWebhookRequest"]["properties"]["url"]["pattern"].as_str().unwrap();
    assert!(pattern.starts_with("^https://"), "{pattern}");
    app.server.shutdown().await;
}
