//! Bad input gets a clear error and loses nothing.

use crate::common;

/// The HTTP server's bounds (body sizes, timeouts, connection cap, prices).
#[path = "parts/bounds.rs"]
mod bounds;

use std::time::Instant;

use common::{TestApp, jpeg};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn jpeg_header(w: u16, h: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    v.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
    v.extend_from_slice(&h.to_be_bytes());
    v.extend_from_slice(&w.to_be_bytes());
    v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    v
}

async fn code(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(json!({}));
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_reject_non_images_bombs_and_oversized_bodies() {
    let app = TestApp::start_with(|c| c.uploads.max_bytes = 2 * 1024 * 1024).await;
    let ph = app.user("ph@bad.test", "photographer").await;
    let album = app.album(&ph, "private", None).await;

    // Not an image, whatever the header claims.
    let r = app.upload(&ph, &album, "x.jpg", b"this is plain text, not a photo".repeat(10)).await;
    assert_eq!(code(r).await, (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type".into()));
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos")))
        .bearer_auth(&ph)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app.upload(&ph, &album, "gif.jpg", b"GIF89a\x01\x00\x01\x00".to_vec()).await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app.upload(&ph, &album, "empty.jpg", vec![]).await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // A pixel bomb: a 65000 x 65000 header, refused from the header alone.
    let started = Instant::now();
    let r = app.upload(&ph, &album, "bomb.jpg", jpeg_header(65000, 65000)).await;
    let elapsed = started.elapsed();
    assert_eq!(code(r).await, (StatusCode::PAYLOAD_TOO_LARGE, "too_many_pixels".into()));
    eprintln!("pixel bomb refused in {elapsed:?}");

    // Over the body limit: by Content-Length, and by counting a chunked stream.
    let big = vec![0u8; 3 * 1024 * 1024];
    let mut too_big = jpeg(64, 64, 1, false);
    too_big.extend_from_slice(&big);
    let r = app.upload(&ph, &album, "big.jpg", too_big.clone()).await;
    assert_eq!(code(r).await, (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large".into()));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = too_big.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos")))
        .bearer_auth(&ph)
        .header("content-type", "image/jpeg")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (StatusCode::PAYLOAD_TOO_LARGE, "upload_too_large".into()));

    // None of that left a photo or a stored blob behind.
    let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
    assert!(photos["items"].as_array().unwrap().is_empty());
    let data = app.server.state.config.server.data_dir.join("blobs");
    let leftovers: Vec<_> = walk(&data).into_iter().filter(|p| !p.contains("/.tmp")).collect();
    assert!(leftovers.is_empty(), "no blobs left: {leftovers:?}");

    // A truncated JPEG is accepted (its header is fine) and ends `failed`
    // with a reason; the worker carries on with the next photo.
    let good = jpeg(800, 600, 1, false);
    let truncated = good[..good.len() / 2].to_vec();
    assert_eq!(app.upload(&ph, &album, "cut.jpg", truncated).await.status(), StatusCode::CREATED);
    assert_eq!(app.upload(&ph, &album, "good.jpg", good).await.status(), StatusCode::CREATED);
    let photos = app.wait_processed(&ph, &album, 2).await;
    let cut = photos.iter().find(|p| p["filename"] == "cut.jpg").unwrap();
    assert_eq!(cut["status"], "failed");
    assert!(cut["failure_reason"].as_str().unwrap().contains("truncated"), "{cut}");
    assert!(cut["preview_url"].is_null());
    let ok = photos.iter().find(|p| p["filename"] == "good.jpg").unwrap();
    assert_eq!(ok["status"], "ready");

    // Multipart uploads take several files at once.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(jpeg(300, 200, 1, false))
                .file_name("m1.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(jpeg(200, 300, 1, false))
                .file_name("m2.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos")))
        .bearer_auth(&ph)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let made: Value = r.json().await.unwrap();
    assert_eq!(made["items"].as_array().unwrap().len(), 2);
    app.wait_processed(&ph, &album, 4).await;
    app.server.shutdown().await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_checked_strictly() {
    let app = TestApp::start().await;
    let ph = app.user("strict@bad.test", "photographer").await;

    // Malformed JSON: 400 with the error shape.
    let r = app
        .http
        .post(app.api("/albums"))
        .bearer_auth(&ph)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await.0, StatusCode::BAD_REQUEST);

    // Unknown fields and read-only fields are refused on create and update.
    let base = json!({"name": "A", "visibility": "private", "price_per_photo": {"amount": 100, "currency": "EUR"}});
    for (field, value) in
        [("owner_id", json!("00000000-0000-0000-0000-000000000000")), ("id", json!("x")), ("admin", json!(true))]
    {
        let mut b = base.clone();
        b[field] = value;
        let r = app.post_json("/albums", Some(&ph), b).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{field}");
    }
    let album = app.album(&ph, "private", None).await;
    for body in
        [json!({"owner_id": "x"}), json!({"created_at": "2020-01-01T00:00:00Z"}), json!({"storage_prefix": "/etc"})]
    {
        let r = app.http.patch(app.api(&format!("/albums/{album}"))).bearer_auth(&ph).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    let r = app.post_json("/users", None, json!({"email": "a@b.test", "password": "long enough", "name": "A", "surname": "B", "role": "client", "id": "x"})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = app
        .post_json(
            "/users",
            None,
            json!({"email": "a@b.test", "password": "long enough", "name": "A", "surname": "B", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "nobody registers as admin");

    // Invalid values: 422 with a reason.
    let mut b = base.clone();
    b["price_per_photo"] = json!({"amount": -5, "currency": "EUR"});
    assert_eq!(
        code(app.post_json("/albums", Some(&ph), b).await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount".into())
    );
    let mut b = base.clone();
    b["price_per_photo"] = json!({"amount": 5, "currency": "euro"});
    assert_eq!(
        code(app.post_json("/albums", Some(&ph), b).await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_currency".into())
    );
    let mut b = base.clone();
    b["client_email"] = json!("not-an-email");
    assert_eq!(
        code(app.post_json("/albums", Some(&ph), b).await).await,
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_email".into())
    );
    let r = app
        .post_json(
            "/users",
            None,
            json!({"email": "c@b.test", "password": "short", "name": "A", "surname": "B", "role": "client"}),
        )
        .await;
    assert_eq!(code(r).await, (StatusCode::UNPROCESSABLE_ENTITY, "weak_password".into()));

    // Wrong password and unknown account: 401, the same answer.
    let r = app.post_json("/sessions", None, json!({"email": "strict@bad.test", "password": "wrong password"})).await;
    assert_eq!(code(r).await, (StatusCode::UNAUTHORIZED, "invalid_credentials".into()));
    let r = app.post_json("/sessions", None, json!({"email": "nobody@bad.test", "password": "wrong password"})).await;
    assert_eq!(code(r).await, (StatusCode::UNAUTHORIZED, "invalid_credentials".into()));
    // A duplicate e-mail answers like a new account (registration never
    // tells whether an address has one), but creates nothing: the real
    // account's password still works, the stranger's does not.
    let r = app.post_json("/users", None, json!({"email": "STRICT@bad.test", "password": "long enough", "name": "A", "surname": "B", "role": "client"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let stand_in: Value = r.json().await.unwrap();
    assert_eq!(
        (stand_in["email"].as_str(), stand_in["email_verified"].as_bool()),
        (Some("strict@bad.test"), Some(false))
    );
    let r = app.post_json("/sessions", None, json!({"email": "strict@bad.test", "password": "long enough"})).await;
    assert_eq!(code(r).await, (StatusCode::UNAUTHORIZED, "invalid_credentials".into()));
    // Garbage ids are simply not found; bad page sizes are invalid.
    assert_eq!(app.get("/albums/not-a-uuid", Some(&ph)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/albums?limit=0", Some(&ph)).await.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get("/albums?limit=abc", Some(&ph)).await.status(), StatusCode::BAD_REQUEST);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_gateway_notifications_change_nothing() {
    let app = TestApp::start().await;
    let r = app
        .http
        .post(app.api("/payments/test/webhook"))
        .body(r#"{"id":"evt_1","order_id":"x","outcome":"paid"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(code(r).await, (StatusCode::UNPROCESSABLE_ENTITY, "invalid_signature".into()));
    let r = app
        .http
        .post(app.api("/payments/test/webhook"))
        .header("proofsheet-signature", "t=1,v1=00")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = app.http.post(app.api("/payments/nope/webhook")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.server.shutdown().await;
}
