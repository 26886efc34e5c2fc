//! Who gets what: the authorization matrix (generated from the OpenAPI
//! document), mass assignment, and rate limits.

use crate::common;

/// Proven mailboxes and registration that does not tell.
#[path = "parts/verification.rs"]
mod verification;

/// Issue 27's smaller holes.
#[path = "parts/smaller.rs"]
mod smaller;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestApp, jpeg};
use proofsheet_core::UserId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The callers of the matrix.
const CALLERS: [&str; 6] = ["anonymous", "owner", "other_photographer", "client_buyer", "other_client", "admin"];

struct World {
    tokens: BTreeMap<&'static str, Option<String>>,
    /// Placeholder name -> id, for the victim's objects.
    ids: BTreeMap<&'static str, String>,
}

/// A photographer with a private album shared with a client, a ready photo,
/// and that client's fulfilled order; plus strangers and an admin.
async fn world(app: &TestApp) -> World {
    let owner = app.user("owner@studio.test", "photographer").await;
    let album = app.album(&owner, "private", Some("buyer@home.test")).await;
    let r = app.upload(&owner, &album, "a.jpg", jpeg(320, 240, 1, true)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let photo = app.wait_processed(&owner, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let buyer = app.user("buyer@home.test", "client").await;
    let r = app.post_json("/orders", Some(&buyer), json!({"album_id": album, "photo_ids": [photo]})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&buyer), json!({})).await;
    let checkout = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    app.http.post(format!("{checkout}/pay")).send().await.unwrap();
    let o = app.wait_order(&buyer, &order, "fulfilled").await;
    let token = o["download"]["url"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let admin = app.admin("admin@ops.test").await;
    let jobs = app.server.state.engine.backends().queue.list_jobs(None, proofsheet_core::PageRequest::first()).await;
    let job = jobs.unwrap().items[0].id.to_string();
    let tokens = BTreeMap::from([
        ("anonymous", None),
        ("owner", Some(owner)),
        ("other_photographer", Some(app.user("rival@studio.test", "photographer").await)),
        ("client_buyer", Some(buyer)),
        ("other_client", Some(app.user("stranger@home.test", "client").await)),
        ("admin", Some(admin)),
    ]);
    let upload = tus_upload(app, tokens["owner"].as_deref().unwrap(), &album).await;
    let (webhook, delivery) = webhook(app, tokens["owner"].as_deref().unwrap()).await;
    let ids = BTreeMap::from([
        ("webhook_id", webhook),
        ("delivery_id", delivery),
        ("upload_id", upload),
        ("album_id", album),
        ("photo_id", photo),
        ("order_id", order),
        ("token", token),
        ("gateway", "test".to_owned()),
        ("job_id", job),
    ]);
    World { tokens, ids }
}

/// A webhook endpoint of the owner's (nothing listens at its address)
/// and the delivery of a test ping to it.
async fn webhook(app: &TestApp, owner: &str) -> (String, String) {
    let r = app
        .post_json("/webhooks", Some(owner), json!({"url": "http://127.0.0.1:9/hook", "events": ["order.paid"]}))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/webhooks/{id}/test"), Some(owner), json!({})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    (id, r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned())
}

/// A resumable upload of the owner's in `album` (nothing sent yet).
async fn tus_upload(app: &TestApp, owner: &str, album: &str) -> String {
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/uploads")))
        .bearer_auth(owner)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", "1000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    r.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

/// Expected status per caller, in `CALLERS` order, for every operation
/// that takes an id. The ids belong to the owner's album and the buyer's
/// order. 404 hides what is not yours (docs/api.md); 403 where you may see the
/// object but not do this; 401 for anonymous calls to signed-in routes.
fn expectations() -> BTreeMap<(&'static str, &'static str), [u16; 6]> {
    BTreeMap::from([
        //                                                      anon owner other_ph buyer other_cl admin
        (("GET", "/api/v1/albums/{album_id}"), [404, 200, 404, 200, 404, 404]),
        (("PATCH", "/api/v1/albums/{album_id}"), [401, 200, 404, 403, 404, 404]),
        (("DELETE", "/api/v1/albums/{album_id}"), [401, 204, 404, 403, 404, 404]),
        (("PUT", "/api/v1/albums/{album_id}/order"), [401, 204, 404, 403, 404, 404]),
        (("GET", "/api/v1/albums/{album_id}/photos"), [404, 200, 404, 200, 404, 404]),
        (("POST", "/api/v1/albums/{album_id}/photos"), [401, 201, 404, 403, 404, 404]),
        (("GET", "/api/v1/photos/{photo_id}/preview"), [404, 200, 404, 200, 404, 404]),
        (("GET", "/api/v1/photos/{photo_id}/thumbnail"), [404, 200, 404, 200, 404, 404]),
        (("GET", "/api/v1/photos/{photo_id}/original"), [401, 200, 404, 404, 404, 404]),
        (("DELETE", "/api/v1/photos/{photo_id}"), [401, 204, 404, 403, 404, 404]),
        (("PUT", "/api/v1/photos/{photo_id}/favourite"), [401, 403, 404, 204, 404, 404]),
        (("DELETE", "/api/v1/photos/{photo_id}/favourite"), [401, 403, 404, 204, 404, 404]),
        (("GET", "/api/v1/albums/{album_id}/favourites"), [401, 200, 404, 403, 404, 404]),
        (("POST", "/api/v1/albums/{album_id}/watermark-preview"), [401, 200, 404, 403, 404, 404]),
        // Whoever may see the album may search it, once its owner turned
        // "Find me" on (off here: 409 to those who may see it).
        (("POST", "/api/v1/albums/{album_id}/find-me"), [404, 409, 404, 409, 404, 404]),
        // tus discovery tells nothing about the album: anyone may ask.
        (("OPTIONS", "/api/v1/albums/{album_id}/uploads"), [204, 204, 204, 204, 204, 204]),
        (("POST", "/api/v1/albums/{album_id}/uploads"), [401, 201, 404, 403, 404, 404]),
        // A resumable upload is its creator's alone, whoever sees the album.
        (("HEAD", "/api/v1/albums/{album_id}/uploads/{upload_id}"), [401, 200, 404, 404, 404, 404]),
        (("PATCH", "/api/v1/albums/{album_id}/uploads/{upload_id}"), [401, 204, 404, 404, 404, 404]),
        (("DELETE", "/api/v1/albums/{album_id}/uploads/{upload_id}"), [401, 204, 404, 404, 404, 404]),
        // A quote is for whoever may see the album (an empty cart: 422).
        (("POST", "/api/v1/albums/{album_id}/quote"), [404, 422, 404, 422, 404, 404]),
        (("GET", "/api/v1/orders/{order_id}"), [401, 200, 404, 200, 404, 404]),
        (("POST", "/api/v1/orders/{order_id}/checkout"), [401, 403, 404, 409, 404, 404]),
        // The buyer may, but its link was issued just now: 429 until the
        // fresh-link interval passes (sale.rs checks the 201 later on).
        (("POST", "/api/v1/orders/{order_id}/download-link"), [401, 404, 404, 429, 404, 404]),
        // A download link is a bearer capability: whoever holds it downloads.
        (("GET", "/api/v1/downloads/{token}"), [200, 200, 200, 200, 200, 200]),
        (("GET", "/api/v1/downloads/{token}/{photo_id}"), [200, 200, 200, 200, 200, 200]),
        // Webhooks are authenticated by their signature, not by a caller.
        (("POST", "/api/v1/payments/{gateway}/webhook"), [422, 422, 422, 422, 422, 422]),
        (("POST", "/api/v1/jobs/{job_id}/retry"), [401, 403, 403, 403, 403, 409]),
        // A photographer's endpoints are theirs; admins manage every one;
        // clients manage none.
        (("GET", "/api/v1/webhooks/{webhook_id}"), [401, 200, 404, 403, 403, 200]),
        (("PATCH", "/api/v1/webhooks/{webhook_id}"), [401, 200, 404, 403, 403, 200]),
        (("DELETE", "/api/v1/webhooks/{webhook_id}"), [401, 204, 404, 403, 403, 204]),
        (("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"), [401, 200, 404, 403, 403, 200]),
        (("POST", "/api/v1/webhooks/{webhook_id}/test"), [401, 202, 404, 403, 403, 202]),
        (("GET", "/api/v1/webhooks/{webhook_id}/deliveries"), [401, 200, 404, 403, 403, 200]),
        (("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"), [401, 202, 404, 403, 403, 202]),
    ])
}

/// Operations without ids: listed so a new operation fails the test until
/// someone decides where it belongs.
const WITHOUT_IDS: &[(&str, &str)] = &[
    ("POST", "/api/v1/users"),
    ("POST", "/api/v1/sessions"),
    ("POST", "/api/v1/sessions/email-link"),
    ("POST", "/api/v1/sessions/email-link/exchange"),
    ("DELETE", "/api/v1/sessions/current"),
    ("GET", "/api/v1/users/me"),
    ("POST", "/api/v1/users/verify-email"),
    ("PUT", "/api/v1/users/me/password"),
    ("GET", "/api/v1/sessions"),
    ("DELETE", "/api/v1/sessions"),
    ("POST", "/api/v1/albums"),
    ("GET", "/api/v1/albums"),
    ("GET", "/api/v1/watermarks"),
    ("PUT", "/api/v1/users/me/logo"),
    ("GET", "/api/v1/users/me/logo"),
    ("DELETE", "/api/v1/users/me/logo"),
    ("POST", "/api/v1/orders"),
    ("GET", "/api/v1/orders"),
    ("GET", "/api/v1/reports/sales"),
    ("GET", "/api/v1/reports/monthly"),
    ("GET", "/api/v1/jobs"),
    ("GET", "/api/v1/jobs/runs"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
];

fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("PATCH", p) if p.starts_with("/api/v1/webhooks") => Some(json!({"description": "Renamed"})),
        ("PATCH", _) => Some(json!({"name": "Renamed"})),
        ("POST", p) if p.ends_with("/checkout") => Some(json!({})),
        ("POST", p) if p.ends_with("/quote") => Some(json!({"items": []})),
        ("PUT", p) if p.ends_with("/order") => Some(json!({"photo_ids": []})),
        ("POST", p) if p.ends_with("/watermark-preview") => Some(json!({"watermark": null})),
        ("POST", p) if p.ends_with("/webhook") => Some(json!({"id": "evt", "order_id": "x", "outcome": "paid"})),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_with_an_id_is_checked_for_every_kind_of_caller() {
    let app = TestApp::start().await;
    let spec: Value =
        app.http.get(format!("{}/api/v1/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
    let mut in_spec = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            in_spec.insert((method.to_uppercase(), path.clone()));
        }
    }
    let table = expectations();
    let covered: BTreeSet<(String, String)> = table
        .keys()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .chain(WITHOUT_IDS.iter().map(|(m, p)| (m.to_string(), p.to_string())))
        .collect();
    let uncovered: Vec<_> = in_spec.difference(&covered).collect();
    assert!(uncovered.is_empty(), "operations the matrix does not cover: {uncovered:?}");
    let stale: Vec<_> = covered.difference(&in_spec).collect();
    assert!(stale.is_empty(), "matrix rows for operations that no longer exist: {stale:?}");
    for (m, p) in WITHOUT_IDS {
        assert!(!p.contains('{'), "{m} {p} takes an id: give it a matrix row");
    }

    let w = world(&app).await;
    let mut failures = Vec::new();
    let mut calls = 0;
    for ((method, template), want) in &table {
        for (i, caller) in CALLERS.iter().enumerate() {
            // Destructive calls that would succeed run on a fresh copy, so
            // the rest of the matrix keeps its objects.
            let mut ids = w.ids.clone();
            if want[i] == 204 {
                let owner = w.tokens["owner"].as_deref().unwrap();
                let album = app.album(owner, "private", Some("buyer@home.test")).await;
                app.upload(owner, &album, "b.jpg", jpeg(64, 48, 1, true)).await;
                let photo = app.wait_processed(owner, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
                if template.contains("{upload_id}") {
                    ids.insert("upload_id", tus_upload(&app, owner, &album).await);
                }
                if template.contains("{webhook_id}") {
                    let (hook, delivery) = webhook(&app, owner).await;
                    ids.insert("webhook_id", hook);
                    ids.insert("delivery_id", delivery);
                }
                ids.insert("album_id", album);
                ids.insert("photo_id", photo);
            }
            let mut path = template.to_string();
            for (name, id) in &ids {
                path = path.replace(&format!("{{{name}}}"), id);
            }
            let mut req =
                app.http.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.url));
            if let Some(t) = &w.tokens[caller] {
                req = req.bearer_auth(t);
            }
            if template.contains("/uploads") {
                req = req.header("Tus-Resumable", "1.0.0");
                match *method {
                    "POST" => req = req.header("Upload-Length", "1000"),
                    // An empty chunk at the upload's offset: stores nothing.
                    "PATCH" => {
                        req = req.header("Upload-Offset", "0").header("content-type", "application/offset+octet-stream")
                    }
                    _ => {}
                }
            } else if (template.ends_with("/photos") || template.ends_with("/find-me")) && *method == "POST" {
                req = req.header("content-type", "image/jpeg").body(jpeg(64, 48, 1, true));
            } else if let Some(body) = body_for(method, template) {
                req = req.json(&body);
            }
            let got = req.send().await.unwrap().status().as_u16();
            calls += 1;
            if got != want[i] {
                failures.push(format!("{method} {template} as {caller}: got {got}, want {}", want[i]));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {calls} calls differ:\n{}", failures.len(), failures.join("\n"));
    eprintln!("authorization matrix: {} operations with ids x {} callers = {calls} calls", table.len(), CALLERS.len());
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_and_unknown_fields_cannot_be_set() {
    let app = TestApp::start().await;
    let owner = app.user("owner@studio.test", "photographer").await;
    let buyer = app.user("buyer@home.test", "client").await;
    let album = app.album(&owner, "public", None).await;
    app.upload(&owner, &album, "a.jpg", jpeg(64, 48, 1, true)).await;
    let photo = app.wait_processed(&owner, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let intruder = UserId::new().to_string();
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/users".into(),
            json!({"email": "x@y.test", "password": "correct horse", "name": "A", "surname": "B", "role": "client", "id": intruder}),
        ),
        (
            "POST",
            "/users".into(),
            json!({"email": "x@y.test", "password": "correct horse", "name": "A", "surname": "B", "role": "admin"}),
        ),
        (
            "POST",
            "/albums".into(),
            json!({"name": "N", "visibility": "public", "price_per_photo": {"amount": 1, "currency": "EUR"}, "owner_id": intruder}),
        ),
        (
            "POST",
            "/albums".into(),
            json!({"name": "N", "visibility": "public", "price_per_photo": {"amount": 1, "currency": "EUR"}, "id": intruder}),
        ),
        ("PATCH", format!("/albums/{album}"), json!({"owner_id": intruder})),
        ("PATCH", format!("/albums/{album}"), json!({"id": intruder})),
        ("PATCH", format!("/albums/{album}"), json!({"created_at": "2020-01-01T00:00:00Z"})),
        ("POST", "/orders".into(), json!({"album_id": album, "photo_ids": [photo], "status": "paid"})),
        (
            "POST",
            "/orders".into(),
            json!({"album_id": album, "photo_ids": [photo], "total": {"amount": 0, "currency": "EUR"}}),
        ),
        (
            "POST",
            "/sessions".into(),
            json!({"email": "owner@studio.test", "password": "correct horse", "user_id": intruder}),
        ),
    ];
    // The same order without the extra field is accepted: each refusal
    // below is for the read-only field alone.
    let valid = app.post_json("/orders", Some(&buyer), json!({"album_id": album, "photo_ids": [photo]})).await;
    assert_eq!(valid.status(), StatusCode::CREATED);
    for (method, path, body) in cases {
        let token = if path == "/orders" { &buyer } else { &owner };
        let req = app.http.request(Method::from_bytes(method.as_bytes()).unwrap(), app.api(&path)).bearer_auth(token);
        let r = req.json(&body).send().await.unwrap();
        let status = r.status();
        assert!(matches!(status.as_u16(), 400 | 422), "{method} {path} {body}: {status}");
    }
    // Nothing changed.
    let a: Value = app.get(&format!("/albums/{album}"), Some(&owner)).await.json().await.unwrap();
    assert_eq!(a["id"], album.as_str());
    assert_eq!(a["name"], "Wedding");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_429_with_retry_after() {
    let app = TestApp::start_with(|c| {
        c.limits.register_per_minute = 3;
        c.limits.orders_per_minute = 2;
        c.limits.downloads_per_minute = 2;
        c.limits.signin_failures_before_delay = 3;
    })
    .await;
    let limited = |r: reqwest::Response| async move {
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(wait >= 1, "{wait}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    };
    // Registration, per IP: the first three pass.
    let ph = app.user("ph@studio.test", "photographer").await;
    let a = app.user("a@home.test", "client").await;
    let b = app.user("b@home.test", "client").await;
    let r = app
        .post_json(
            "/users",
            None,
            json!({"email": "d@x.test", "password": "correct horse", "name": "D", "surname": "D", "role": "client"}),
        )
        .await;
    limited(r).await;

    // Orders, per token: a's third is refused; b is unaffected.
    let album = app.album(&ph, "public", None).await;
    app.upload(&ph, &album, "a.jpg", jpeg(64, 48, 1, true)).await;
    let photo = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let order = json!({"album_id": album, "photo_ids": [photo]});
    for _ in 0..2 {
        assert_eq!(app.post_json("/orders", Some(&a), order.clone()).await.status(), StatusCode::CREATED);
    }
    limited(app.post_json("/orders", Some(&a), order.clone()).await).await;
    assert_eq!(app.post_json("/orders", Some(&b), order.clone()).await.status(), StatusCode::CREATED);

    // Downloads, per IP, whether or not the token is real (slows guessing).
    for _ in 0..2 {
        assert_eq!(app.get(&format!("/downloads/{}", "A".repeat(43)), None).await.status(), StatusCode::NOT_FOUND);
    }
    limited(app.get(&format!("/downloads/{}", "A".repeat(43)), None).await).await;

    // Failed sign-ins slow the account down from the guessing address ...
    let sign = |password: &'static str| {
        app.post_json("/sessions", None, json!({"email": "a@home.test", "password": password}))
    };
    for _ in 0..3 {
        assert_eq!(sign("wrong").await.status(), StatusCode::UNAUTHORIZED);
    }
    limited(sign("correct horse").await).await;
    // ... while the owner, from another address, signs in at once.
    let elsewhere = reqwest::Client::builder().local_address(std::net::IpAddr::from([127, 0, 0, 2])).build().unwrap();
    let r = elsewhere
        .post(app.api("/sessions"))
        .json(&json!({"email": "a@home.test", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "a stranger's guesses do not lock the owner out");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(sign("correct horse").await.status(), StatusCode::CREATED, "not locked out for good");
    // A success resets the count: two more failures stay below the three
    // free ones (without the reset, the second would already answer 429).
    assert_eq!(sign("wrong").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sign("wrong").await.status(), StatusCode::UNAUTHORIZED, "a success resets the count");
    assert_eq!(sign("correct horse").await.status(), StatusCode::CREATED, "a success resets the count");
    app.server.shutdown().await;
}

/// Issue 27, finding 7: every operation of the API document has a
/// rate-limit decision. Routes declare their class where they are defined
/// (`api::guards`, `web::routes`); this test asks the running server: with
/// every limit at one request a minute, an operation that changes
/// something answers 429 to its second call, unless it is named below with
/// the reason it needs no limit. So a new route fails this test until
/// someone decides.
const UNLIMITED: &[(&str, &str, &str)] = &[
    ("DELETE", "/api/v1/sessions/current", "signed in; ends the caller's own session"),
    ("DELETE", "/api/v1/sessions", "signed in; ends the caller's own sessions"),
    ("POST", "/api/v1/users/verify-email", "a MAC'd token: nothing to guess"),
    ("POST", "/api/v1/albums", "owner; cheap rows"),
    ("PATCH", "/api/v1/albums/{album_id}", "owner; share mails are capped per album, photographer and recipient"),
    ("DELETE", "/api/v1/albums/{album_id}", "owner"),
    ("PUT", "/api/v1/albums/{album_id}/order", "owner; reorders one album's rows"),
    ("POST", "/api/v1/albums/{album_id}/share", "owner; share mails are capped"),
    ("POST", "/api/v1/albums/{album_id}/watermark-preview", "owner; renders one small preview"),
    ("DELETE", "/api/v1/albums/{album_id}/uploads/{upload_id}", "owner; ends an upload"),
    ("DELETE", "/api/v1/photos/{photo_id}", "owner"),
    ("PUT", "/api/v1/photos/{photo_id}/favourite", "a client's own mark"),
    ("DELETE", "/api/v1/photos/{photo_id}/favourite", "a client's own mark"),
    ("PUT", "/api/v1/users/me/logo", "owner; 1 MiB at most"),
    ("DELETE", "/api/v1/users/me/logo", "owner"),
    ("POST", "/api/v1/orders/{order_id}/download-link", "buyer; one fresh link per interval"),
    ("POST", "/api/v1/payments/{gateway}/webhook", "the gateway's signed calls; verified before read"),
    ("POST", "/api/v1/jobs/{job_id}/retry", "admin"),
    ("POST", "/api/v1/webhooks", "photographer; endpoints per user are capped"),
    ("PATCH", "/api/v1/webhooks/{webhook_id}", "owner"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}", "owner"),
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret", "owner"),
    ("POST", "/api/v1/webhooks/{webhook_id}/test", "owner; deliveries in flight per endpoint are capped"),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", "owner; in-flight cap"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_has_a_rate_limit_decision() {
    let app = TestApp::start_with(|c| {
        let l = &mut c.limits;
        (l.register_per_minute, l.signin_per_minute, l.email_links_per_minute, l.downloads_per_minute) = (1, 1, 1, 1);
        (l.uploads_per_minute, l.orders_per_minute, l.checkout_per_minute) = (1, 1, 1);
        (l.find_me_per_minute, l.find_me_per_album_per_minute) = (1, 1);
    })
    .await;
    let spec: Value =
        app.http.get(format!("{}/api/v1/openapi.json", app.url)).send().await.unwrap().json().await.unwrap();
    let mut wrong = Vec::new();
    let mut limited_seen = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if ["GET", "HEAD", "OPTIONS"].contains(&method.as_str()) && !path.starts_with("/api/v1/downloads") {
                continue; // reads: bounded by the connection caps
            }
            // A concrete path for the template (`{album_id}` -> `x`).
            let concrete: String =
                path.split('/').map(|seg| if seg.starts_with('{') { "x" } else { seg }).collect::<Vec<_>>().join("/");
            let m: reqwest::Method = method.parse().unwrap();
            let mut statuses = Vec::new();
            for _ in 0..2 {
                let r = app.http.request(m.clone(), format!("{}{concrete}", app.url)).json(&json!({})).send().await;
                statuses.push(r.unwrap().status());
            }
            let limited = statuses[1] == StatusCode::TOO_MANY_REQUESTS;
            limited_seen += usize::from(limited);
            let exempt = UNLIMITED.iter().any(|(um, up, _)| *um == method && *up == path);
            match (limited, exempt) {
                (false, false) => wrong.push(format!("{method} {path}: no limit and no reason ({statuses:?})")),
                (true, true) => wrong.push(format!("{method} {path} is limited and listed as unlimited")),
                _ => {}
            }
        }
    }
    assert!(wrong.is_empty(), "operations without their rate-limit decision: {wrong:#?}");
    assert!(limited_seen >= 12, "the limited operations answered 429: {limited_seen}");
    // The web app's forms that spend: limited as the API operation they
    // mirror (each posted twice with a valid CSRF token).
    for path in [
        "/register",
        "/signin",
        "/signin/link",
        "/account/password",
        "/signin/email-link",
        "/albums/x/checkout",
        "/orders/x/pay",
    ] {
        let (cookie, csrf) = app.web_form("/signin").await;
        let mut last = StatusCode::OK;
        for _ in 0..2 {
            let r = app
                .http
                .post(format!("{}{path}", app.url))
                .header("cookie", &cookie)
                .form(&[("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            last = r.status();
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS, "POST {path}");
    }
    app.server.shutdown().await;
}
