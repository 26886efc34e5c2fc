//! "Find me": turning it on and off, indexing after the preview, the
//! selfie search and its ranking, zero or several faces, deletions,
//! expiry and the rate limits, on SQLite + files and on PostgreSQL + S3.
//!
//! The searches need the server's `faces` feature and the models and
//! labelled photos of `scripts/faces-models.sh`
//! (`PROOFSHEET_FACES_MODELS_DIR`, `PROOFSHEET_TEST_FACES_IMAGES`);
//! `scripts/test.sh` provides both. Without the feature, only the
//! refusals are tested.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, jpeg};

/// Searches `album` with `selfie` as a raw JPEG: the status and the reply.
async fn search(app: &TestApp, token: Option<&str>, album: &str, selfie: Vec<u8>) -> (StatusCode, Value) {
    let mut req = app.http.post(app.api(&format!("/albums/{album}/find-me"))).header("content-type", "image/jpeg");
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.body(selfie).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// `POST /albums` for a public album with "Find me" on from the start.
async fn album_with_find_me(app: &TestApp, token: &str) -> reqwest::Response {
    let body = json!({"name": "Race", "visibility": "public", "find_me": true,
                      "price_per_photo": {"amount": 500, "currency": "EUR"}});
    app.post_json("/albums", Some(token), body).await
}

#[tokio::test]
async fn find_me_is_refused_where_it_cannot_run() {
    // This server has no face index (no faces.models_dir).
    let app = TestApp::start().await;
    let ph = app.user("ph@nofaces.test", "photographer").await;
    let r = album_with_find_me(&app, &ph).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "faces_unavailable");
    let album = app.album(&ph, "public", None).await;
    let got: Value = app.get(&format!("/albums/{album}"), None).await.json().await.unwrap();
    assert_eq!(got["find_me"], false, "off by default, shown to visitors");
    let (status, body) = app.patch_album(&ph, &album, json!({"find_me": true})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("faces_unavailable")));
    let (status, body) = app.patch_album(&ph, &album, json!({"find_me": false})).await;
    assert_eq!(status, StatusCode::OK, "turning it off is always allowed: {body}");
    let (status, body) = search(&app, None, &album, jpeg(64, 48, 1, true)).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("find_me_off")));
    let (status, _) = search(&app, None, "not-an-id", jpeg(64, 48, 1, true)).await;
    assert!(status.is_client_error());
    // Whatever the body, an album that is not searchable is refused before
    // it is read (issue 27): here a form without a `selfie` part.
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(jpeg(64, 48, 1, true)).mime_str("image/jpeg").unwrap());
    let r = app.http.post(app.api(&format!("/albums/{album}/find-me"))).multipart(form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    // A selfie over the limit is refused from its declared length.
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/find-me")))
        .header("content-type", "image/jpeg")
        .body(vec![0u8; 16 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "selfie_too_large");
    app.server.shutdown().await;

    // Asking for faces where they cannot load stops the server at start.
    let dir = tempfile::tempdir().unwrap();
    let mut config = proofsheet_server::config::Config::default();
    config.server.addr = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().to_owned();
    config.faces.models_dir = Some(dir.path().join("no-models-here"));
    let clock = std::sync::Arc::new(proofsheet_core::ManualClock::new());
    let Err(e) = proofsheet_server::start(config, clock).await else { panic!("started without face models") };
    let message = format!("{e:#}");
    if cfg!(feature = "faces") {
        assert!(message.contains("is missing") && message.contains("faces.models_dir"), "{message}");
    } else {
        assert!(message.contains("without the `faces` feature"), "{message}");
    }
}

#[cfg(feature = "faces")]
mod with_faces {
    use std::path::PathBuf;

    use chrono::Duration;
    use proofsheet_core::{AlbumId, Clock, Periodic, Policy, Scheduler};
    use reqwest::StatusCode;
    use serde_json::{Value, json};

    use super::search;
    use crate::common::{TestApp, decode, jpeg};

    /// The models and the labelled photos, or `None` (skipped) when they
    /// are not installed and not required.
    fn fixtures() -> Option<(PathBuf, PathBuf)> {
        match (std::env::var("PROOFSHEET_FACES_MODELS_DIR"), std::env::var("PROOFSHEET_TEST_FACES_IMAGES")) {
            (Ok(m), Ok(i)) => Some((m.into(), i.into())),
            _ => {
                assert!(
                    std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(),
                    "the face models are required: eval \"$(bash scripts/faces-models.sh)\""
                );
                eprintln!("PROOFSHEET_FACES_MODELS_DIR unset: \"Find me\" searches skipped");
                None
            }
        }
    }

    fn photo(images: &std::path::Path, name: &str) -> Vec<u8> {
        std::fs::read(images.join(name)).unwrap()
    }

    /// Two photos side by side in one JPEG: a selfie with two faces.
    fn side_by_side(a: &[u8], b: &[u8]) -> Vec<u8> {
        let (a, b) = (decode(a), decode(b));
        let (w, h) = (a.0 + b.0, a.1.max(b.1));
        let mut px = vec![255u8; w * h * 3];
        for (img, x0) in [(&a, 0), (&b, a.0)] {
            for y in 0..img.1 {
                let src = &img.2[y * img.0 * 3..(y + 1) * img.0 * 3];
                px[(y * w + x0) * 3..(y * w + x0 + img.0) * 3].copy_from_slice(src);
            }
        }
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90).encode(&px, w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        out
    }

    fn names(reply: &Value) -> Vec<String> {
        reply["items"].as_array().unwrap().iter().map(|m| m["photo"]["filename"].as_str().unwrap().to_owned()).collect()
    }

    async fn counts(app: &TestApp, album: &str) -> (u64, u64) {
        let id: AlbumId = album.parse().unwrap();
        app.server.state.engine.backends().metadata.face_counts(id).await.unwrap()
    }

    async fn scenario(app: &TestApp, images: &std::path::Path, name: &str) {
        let ph = app.user(&format!("ph@{name}.faces.test"), "photographer").await;
        let guest = format!("guest@{name}.faces.test");
        let cl = app.user(&guest, "client").await;
        let album = app.album(&ph, "private", Some(&guest)).await;
        for file in ["obama.jpg", "biden.jpg", "obama2.jpg"] {
            assert_eq!(app.upload(&ph, &album, file, photo(images, file)).await.status(), StatusCode::CREATED);
        }
        app.wait_processed(&ph, &album, 3).await;
        let (status, body) = search(app, Some(&cl), &album, photo(images, "obama3.jpg")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("find_me_off")), "{name}");

        // On: the ready photos are indexed in the background; photos
        // uploaded later are indexed after their preview.
        let (status, body) = app.patch_album(&ph, &album, json!({"find_me": true})).await;
        assert_eq!((status, &body["find_me"]), (StatusCode::OK, &json!(true)), "{name}: {body}");
        for (file, bytes) in [
            ("obama_partial_face.jpg", photo(images, "obama_partial_face.jpg")),
            ("empty.jpg", jpeg(640, 480, 1, true)),
        ] {
            assert_eq!(app.upload(&ph, &album, file, bytes).await.status(), StatusCode::CREATED);
        }
        app.wait_processed(&ph, &album, 5).await;
        app.wait_idle().await;
        let (photos, faces) = counts(app, &album).await;
        assert_eq!(photos, 5, "{name}: every ready photo scanned");
        assert!(faces >= 4, "{name}: a face in each of the four portraits, got {faces}");

        // The client finds their three photos, closest first; the other
        // person and the empty landscape are not among them.
        let (status, found) = search(app, Some(&cl), &album, photo(images, "obama3.jpg")).await;
        assert_eq!(status, StatusCode::OK, "{name}: {found}");
        let mut got = names(&found);
        let distances: Vec<f64> =
            found["items"].as_array().unwrap().iter().map(|m| m["distance"].as_f64().unwrap()).collect();
        assert!(distances.windows(2).all(|w| w[0] <= w[1]), "{name}: ranked by distance: {distances:?}");
        assert!(distances.iter().all(|d| *d < found["threshold"].as_f64().unwrap()), "{name}");
        assert!(found["items"][0]["photo"]["preview_url"].is_string(), "{name}: as the gallery shows them");
        got.sort();
        assert_eq!(got, ["obama.jpg", "obama2.jpg", "obama_partial_face.jpg"], "{name}");
        // A multipart selfie (what a browser's file input sends).
        let form = reqwest::multipart::Form::new().part(
            "selfie",
            reqwest::multipart::Part::bytes(photo(images, "biden.jpg"))
                .file_name("me.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
        let r = app
            .http
            .post(app.api(&format!("/albums/{album}/find-me")))
            .bearer_auth(&cl)
            .multipart(form)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(names(&r.json().await.unwrap()), ["biden.jpg"], "{name}: the other person finds only theirs");

        // Exactly one face, or a clear 422; not an image, 415.
        let (status, body) = search(app, Some(&cl), &album, jpeg(640, 480, 1, false)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("no_face")), "{name}");
        let pair = side_by_side(&photo(images, "obama2.jpg"), &photo(images, "biden.jpg"));
        let (status, body) = search(app, Some(&cl), &album, pair).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("several_faces")),
            "{name}"
        );
        let (status, _) = search(app, Some(&cl), &album, b"not an image at all".to_vec()).await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{name}");
        // Who may search: those who may see the album.
        let (status, _) = search(app, None, &album, photo(images, "obama3.jpg")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: a private album is hidden from strangers");

        // Deleting a photo deletes its faces.
        let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
        let obama2 = photos["items"].as_array().unwrap().iter().find(|p| p["filename"] == "obama2.jpg").unwrap();
        let r = app.http.delete(app.api(&format!("/photos/{}", obama2["id"].as_str().unwrap()))).bearer_auth(&ph);
        assert_eq!(r.send().await.unwrap().status(), StatusCode::NO_CONTENT);
        assert_eq!(counts(app, &album).await.0, 4, "{name}: the deleted photo's faces went with it");
        let (_, found) = search(app, Some(&cl), &album, photo(images, "obama3.jpg")).await;
        assert_eq!(names(&found).len(), 2, "{name}: {found}");

        // Off deletes every face at once; on again indexes again.
        let (status, _) = app.patch_album(&ph, &album, json!({"find_me": false})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(counts(app, &album).await, (0, 0), "{name}: off deletes the index");
        let (status, body) = search(app, Some(&cl), &album, photo(images, "obama3.jpg")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("find_me_off")), "{name}");
        let (status, _) = app.patch_album(&ph, &album, json!({"find_me": true})).await;
        assert_eq!(status, StatusCode::OK);
        app.wait_idle().await;
        assert_eq!(counts(app, &album).await.0, 4, "{name}: indexed again");

        // Expiry deletes them (the hourly purge task), and closes the search.
        let expires = app.clock.now() + Duration::hours(1);
        let (status, _) = app.patch_album(&ph, &album, json!({"expires_at": expires})).await;
        assert_eq!(status, StatusCode::OK);
        app.clock.advance(Duration::hours(2));
        let scheduler = Scheduler::with_defaults(app.server.state.engine.clone(), Policy::default()).unwrap();
        let detail = scheduler.run(Periodic::PurgeExpiredAlbums).await.unwrap();
        assert!(detail.contains("deleted the faces of 4 photos"), "{name}: {detail}");
        assert_eq!(counts(app, &album).await, (0, 0), "{name}: expiry deletes the index");
        let (status, _) = search(app, Some(&cl), &album, photo(images, "obama3.jpg")).await;
        assert_eq!(status, StatusCode::GONE, "{name}: an expired album cannot be searched");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_selfie_finds_its_person_on_sqlite_and_on_postgres_with_s3() {
        let Some((models, images)) = fixtures() else { return };
        let app = TestApp::start_with(|c| c.faces.models_dir = Some(models.clone())).await;
        scenario(&app, &images, "sqlite").await;
        app.server.shutdown().await;
        if let Some(app) = TestApp::start_scale_out_with(|c| c.faces.models_dir = Some(models.clone())).await {
            scenario(&app, &images, "postgres").await;
            app.server.shutdown().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn searches_are_limited_per_client_and_per_album() {
        let Some((models, images)) = fixtures() else { return };
        let app = TestApp::start_with(|c| {
            c.faces.models_dir = Some(models.clone());
            c.limits.find_me_per_minute = 2;
            c.limits.find_me_per_album_per_minute = 3;
        })
        .await;
        let ph = app.user("ph@limits.faces.test", "photographer").await;
        let r = super::album_with_find_me(&app, &ph).await;
        assert_eq!(r.status(), StatusCode::CREATED, "find_me at creation");
        let album: Value = r.json().await.unwrap();
        assert_eq!(album["find_me"], true);
        let album = album["id"].as_str().unwrap().to_owned();
        let selfie = photo(&images, "obama3.jpg");
        for _ in 0..2 {
            let (status, body) = search(&app, None, &album, selfie.clone()).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body["items"], json!([]), "an album with no photos finds nothing");
        }
        let r = app
            .http
            .post(app.api(&format!("/albums/{album}/find-me")))
            .header("content-type", "image/jpeg")
            .body(selfie.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "per client IP");
        assert!(r.headers().contains_key("retry-after"));
        app.server.shutdown().await;
        // Per album: the album's limit is reached before this client's.
        let app = TestApp::start_with(|c| {
            c.faces.models_dir = Some(models.clone());
            c.limits.find_me_per_minute = 100;
            c.limits.find_me_per_album_per_minute = 2;
        })
        .await;
        let ph = app.user("ph@album-limits.faces.test", "photographer").await;
        let album = app.album(&ph, "public", None).await;
        let (status, _) = app.patch_album(&ph, &album, json!({"find_me": true})).await;
        assert_eq!(status, StatusCode::OK);
        let other = app.album(&ph, "public", None).await;
        app.patch_album(&ph, &other, json!({"find_me": true})).await;
        for _ in 0..2 {
            assert_eq!(search(&app, None, &album, selfie.clone()).await.0, StatusCode::OK);
        }
        assert_eq!(search(&app, None, &album, selfie.clone()).await.0, StatusCode::TOO_MANY_REQUESTS, "per album");
        assert_eq!(search(&app, None, &other, selfie).await.0, StatusCode::OK, "another album is not held back");
        app.server.shutdown().await;
    }
}
