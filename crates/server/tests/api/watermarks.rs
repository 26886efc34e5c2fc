//! An album picks its own watermark: the built-in mark with its own text,
//! or an installed plugin with its own params. Bad choices are refused when
//! they are made; a change re-renders the album's ready photos in place.

use crate::common;

use std::time::Duration;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn plugin_dir() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/build");
    if dir.join("tiled-text.wasm").exists() {
        return Some(dir);
    }
    assert!(std::env::var_os("PROOFSHEET_REQUIRE_SERVICES").is_none(), "run plugins/build.sh first");
    eprintln!("skipped: plugins/build/*.wasm not built (run plugins/build.sh)");
    None
}

async fn preview(app: &TestApp, token: &str, photo: &Value) -> Vec<u8> {
    let r = app.get(&format!("/photos/{}/preview", photo["id"].as_str().unwrap()), Some(token)).await;
    assert_eq!(r.status(), StatusCode::OK);
    r.bytes().await.unwrap().to_vec()
}

/// Polls the preview until it is no longer `old`; the photo must stay
/// `ready` all along.
async fn wait_changed(app: &TestApp, token: &str, album: &str, photo: &Value, old: &[u8]) -> Vec<u8> {
    for _ in 0..600 {
        let photos = app.wait_processed(token, album, 1).await;
        assert_eq!(photos[0]["status"], "ready", "the photo stays ready while it is re-rendered");
        let now = preview(app, token, photo).await;
        if now != old {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the preview was not re-rendered within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_album_picks_its_watermark_and_its_previews_follow() {
    let Some(dir) = plugin_dir() else { return };
    let app = TestApp::start_with(|c| {
        c.imaging.plugins.insert("tiled-text".into(), dir.join("tiled-text.wasm"));
        c.imaging.plugins.insert("corner-logo".into(), dir.join("corner-logo.wasm"));
    })
    .await;
    let owner = app.user("owner@studio.test", "photographer").await;
    let client = app.user("client@home.test", "client").await;

    // What may be picked: photographers only.
    let r = app.get("/watermarks", Some(&owner)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let options: Value = r.json().await.unwrap();
    assert_eq!(options, json!({"kinds": ["text", "plugin", "logo"], "plugins": ["corner-logo", "tiled-text"]}));
    assert_eq!(app.get("/watermarks", Some(&client)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/watermarks", None).await.status(), StatusCode::UNAUTHORIZED);

    // Bad choices are refused with the reason, and no album is made.
    let new_album = |watermark: Value| {
        json!({"name": "Shoot", "visibility": "private", "client_email": "client@home.test",
               "price_per_photo": {"amount": 500, "currency": "EUR"}, "watermark": watermark})
    };
    for (bad, why) in [
        (json!({"kind": "text"}), "needs `text`"),
        (json!({"kind": "text", "text": "   "}), "1 to 100"),
        (json!({"kind": "text", "text": "two\nlines"}), "1 to 100"),
        (json!({"kind": "text", "text": "x".repeat(101)}), "1 to 100"),
        (json!({"kind": "text", "text": "PROOF", "plugin": "tiled-text"}), "only `text`"),
        (json!({"kind": "plugin"}), "needs `plugin`"),
        (json!({"kind": "plugin", "plugin": "tiled-text", "text": "PROOF"}), "`params` only"),
        (json!({"kind": "plugin", "plugin": "tiled-text", "params": "x".repeat(4097)}), "4096"),
        (json!({"kind": "plugin", "plugin": "nope"}), "installed: corner-logo, tiled-text"),
        (json!({"kind": "plugin", "plugin": "tiled-text", "params": "txet=typo"}), "error code 2"),
        (json!({"kind": "plugin", "plugin": "corner-logo", "params": "size=big"}), "error code 2"),
    ] {
        let r = app.post_json("/albums", Some(&owner), new_album(bad.clone())).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], "invalid_watermark", "{bad}: {body}");
        assert!(body["message"].as_str().unwrap().contains(why), "{bad}: {body}");
    }
    for bad in [
        json!({"kind": "none"}),
        json!({"text": "PROOF"}),
        json!({"kind": "text", "text": "x", "color": "red"}),
        json!({"kind": "text", "text": 7}),
        json!("PROOF"),
    ] {
        let r = app.post_json("/albums", Some(&owner), new_album(bad.clone())).await;
        assert!(matches!(r.status().as_u16(), 400 | 422), "{bad}: {}", r.status());
    }
    let listed: Value = app.get("/albums", Some(&owner)).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "nothing was made by the refused requests");

    // An album with its own text, and one with the default.
    let r = app.post_json("/albums", Some(&owner), new_album(json!({"kind": "text", "text": "STUDIO NORD"}))).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let own: Value = r.json().await.unwrap();
    assert_eq!(own["watermark"], json!({"kind": "text", "text": "STUDIO NORD"}));
    let own_id = own["id"].as_str().unwrap().to_owned();
    let plain_id = app.album(&owner, "private", Some("client@home.test")).await;
    let plain: Value = app.get(&format!("/albums/{plain_id}"), Some(&owner)).await.json().await.unwrap();
    assert!(plain["watermark"].is_null(), "the default: {plain}");

    // The watermark is the owner's business: the client does not see it.
    let seen: Value = app.get(&format!("/albums/{own_id}"), Some(&client)).await.json().await.unwrap();
    assert!(seen.get("watermark").is_none_or(Value::is_null), "{seen}");

    let photo = jpeg(1600, 1200, 1, true);
    for album in [&own_id, &plain_id] {
        assert_eq!(app.upload(&owner, album, "a.jpg", photo.clone()).await.status(), StatusCode::CREATED);
    }
    let own_photo = app.wait_processed(&owner, &own_id, 1).await.remove(0);
    let plain_photo = app.wait_processed(&owner, &plain_id, 1).await.remove(0);
    assert_eq!(own_photo["status"], "ready");
    let default_preview = preview(&app, &owner, &plain_photo).await;
    let text_preview = preview(&app, &owner, &own_photo).await;
    assert_ne!(text_preview, default_preview, "the album's text is drawn instead of the default");

    // Switch to a plugin with params: re-rendered in place.
    let choice = json!({"kind": "plugin", "plugin": "tiled-text", "params": "text=NORD;opacity=0.6"});
    let (status, album) = app.patch_album(&owner, &own_id, json!({"watermark": choice})).await;
    assert_eq!(status, StatusCode::OK, "{album}");
    assert_eq!(album["watermark"], choice);
    let plugin_preview = wait_changed(&app, &owner, &own_id, &own_photo, &text_preview).await;
    assert_ne!(plugin_preview, default_preview);
    let (_, _, px) = decode(&plugin_preview);
    assert!(!px.is_empty());

    // A refused change changes nothing.
    let (status, body) = app
        .patch_album(&owner, &own_id, json!({"watermark": {"kind": "plugin", "plugin": "tiled-text", "params": "x"}}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let kept: Value = app.get(&format!("/albums/{own_id}"), Some(&owner)).await.json().await.unwrap();
    assert_eq!(kept["watermark"], choice);

    // Other changes leave the watermark (and the previews) alone.
    let (status, renamed) = app.patch_album(&owner, &own_id, json!({"name": "Renamed"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(renamed["watermark"], choice);

    // `null` goes back to the default: the same bytes as the plain album's.
    let (status, album) = app.patch_album(&owner, &own_id, json!({"watermark": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(album["watermark"].is_null(), "{album}");
    let back = wait_changed(&app, &owner, &own_id, &own_photo, &plugin_preview).await;
    assert_eq!(back, default_preview, "rendered again with the default watermark");
    let thumb = app.get(&format!("/photos/{}/thumbnail", own_photo["id"].as_str().unwrap()), Some(&owner)).await;
    let plain_thumb =
        app.get(&format!("/photos/{}/thumbnail", plain_photo["id"].as_str().unwrap()), Some(&owner)).await;
    assert_eq!(thumb.bytes().await.unwrap(), plain_thumb.bytes().await.unwrap(), "the thumbnail too");
    app.server.shutdown().await;
}

/// A plugin that passes the sample check (320 px wide) but fails on real
/// previews (over 1000 px): photos fail with its reason, and going back to
/// the default watermark renders them after all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_failed_by_a_watermark_recover_when_it_changes() {
    let wasm = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (global $next (mut i32) (i32.const 1024))
            (func (export "proofsheet_abi_version") (result i32) (i32.const 1))
            (func (export "proofsheet_alloc") (param $len i32) (result i32) (local $p i32)
                (local.set $p (global.get $next))
                (global.set $next (i32.add (global.get $next) (local.get $len)))
                (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
                    (then (drop (memory.grow (i32.add (i32.div_u (i32.sub (global.get $next)
                        (i32.mul (memory.size) (i32.const 65536))) (i32.const 65536)) (i32.const 1))))))
                (local.get $p))
            (func (export "proofsheet_watermark") (param $p i32) (param $w i32) (param i32 i32 i32) (result i32)
                (if (result i32) (i32.gt_u (local.get $w) (i32.const 1000)) (then (i32.const 3)) (else (i32.const 0)))))"#,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("picky.wasm");
    std::fs::write(&path, wasm).unwrap();
    let app = TestApp::start_with(|c| {
        c.imaging.plugins.insert("picky".into(), path.clone());
    })
    .await;
    let owner = app.user("owner@studio.test", "photographer").await;
    let album = app.album(&owner, "private", None).await;
    let (status, body) =
        app.patch_album(&owner, &album, json!({"watermark": {"kind": "plugin", "plugin": "picky"}})).await;
    assert_eq!(status, StatusCode::OK, "the sample passes: {body}");
    assert_eq!(app.upload(&owner, &album, "a.jpg", jpeg(1600, 1200, 1, true)).await.status(), StatusCode::CREATED);
    let photo = app.wait_processed(&owner, &album, 1).await.remove(0);
    assert_eq!(photo["status"], "failed");
    assert!(photo["failure_reason"].as_str().unwrap().contains("error code 3"), "{photo}");

    let (status, _) = app.patch_album(&owner, &album, json!({"watermark": null})).await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..600 {
        let photos = app.wait_processed(&owner, &album, 1).await;
        if photos[0]["status"] == "ready" {
            assert!(photos[0]["failure_reason"].is_null(), "{}", photos[0]);
            assert_eq!((photos[0]["width"].as_u64(), photos[0]["height"].as_u64()), (Some(1600), Some(1200)));
            let r = app.get(&format!("/photos/{}/preview", photo["id"].as_str().unwrap()), Some(&owner)).await;
            assert_eq!(r.status(), StatusCode::OK);
            app.server.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the photo did not recover");
}

/// A photographer uploads a logo once; an album picks it with a position,
/// scale and opacity, sees it on a preview before saving, and follows the
/// logo when it is replaced or removed. Bad logos are refused and nothing
/// is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photographers_logo_marks_the_albums_that_pick_it() {
    let app = TestApp::start().await;
    let owner = app.user("owner@studio.test", "photographer").await;
    let client = app.user("client@home.test", "client").await;
    let put = |token: &str, body: Vec<u8>, content_type: &'static str| {
        app.http.put(app.api("/users/me/logo")).bearer_auth(token).header("content-type", content_type).body(body)
    };
    let logo = proofsheet_imaging::sample_logo_png(240);

    // Photographers only; none yet.
    assert_eq!(app.get("/users/me/logo", Some(&owner)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(put(&client, logo.clone(), "image/png").send().await.unwrap().status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/users/me/logo", None).await.status(), StatusCode::UNAUTHORIZED);

    // Bad logos: refused with the reason, nothing kept.
    let mut huge = logo.clone();
    huge.resize(1024 * 1024 + 1, 0);
    for (body, status, code) in [
        (b"not a png".to_vec(), 422, "invalid_logo"),
        (jpeg(64, 48, 1, true), 422, "invalid_logo"),
        (logo[..logo.len() / 2].to_vec(), 422, "invalid_logo"),
        (huge, 413, "logo_too_large"),
    ] {
        let r = put(&owner, body, "image/png").send().await.unwrap();
        assert_eq!(r.status().as_u16(), status);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code);
    }
    assert_eq!(app.get("/users/me/logo", Some(&owner)).await.status(), StatusCode::NOT_FOUND);

    // An album cannot pick a logo its owner has not uploaded.
    let album = app.album(&owner, "private", Some("client@home.test")).await;
    let (status, body) = app.patch_album(&owner, &album, json!({"watermark": {"kind": "logo"}})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "no_logo");
    assert!(body["message"].as_str().unwrap().contains("upload a logo first"), "{body}");

    let r = put(&owner, logo.clone(), "image/png").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let stored: Value = r.json().await.unwrap();
    assert_eq!(stored["size"], logo.len());
    let digest = stored["digest"].as_str().unwrap().to_owned();
    let r = app.get("/users/me/logo", Some(&owner)).await;
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap(), logo, "the same bytes back");

    // Picking it: defaults filled in, ranges checked.
    for bad in [
        json!({"kind": "logo", "scale": 0.01}),
        json!({"kind": "logo", "scale": 1.5}),
        json!({"kind": "logo", "opacity": 0.0}),
        json!({"kind": "logo", "text": "PROOF"}),
        json!({"kind": "text", "text": "PROOF", "opacity": 0.5}),
    ] {
        let (status, body) = app.patch_album(&owner, &album, json!({"watermark": bad})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_eq!(body["code"], "invalid_watermark");
    }
    let photo_bytes = jpeg(1600, 1200, 1, true);
    let plain = app.album(&owner, "private", None).await;
    app.upload(&owner, &plain, "a.jpg", photo_bytes.clone()).await;
    app.upload(&owner, &album, "a.jpg", photo_bytes).await;
    let plain_photo = app.wait_processed(&owner, &plain, 1).await.remove(0);
    let photo = app.wait_processed(&owner, &album, 1).await.remove(0);
    let default_preview = preview(&app, &owner, &plain_photo).await;
    assert!(preview(&app, &owner, &photo).await == default_preview);

    // The live preview, before saving: a JPEG of the album's photo with the
    // mark; the client may not ask for it.
    let app = &app;
    let try_mark = |token: String, body: Value| {
        let url = app.api(&format!("/albums/{album}/watermark-preview"));
        async move { app.http.post(url).bearer_auth(token).json(&body).send().await.unwrap() }
    };
    let choice = json!({"kind": "logo", "position": "center", "scale": 0.25, "opacity": 1.0});
    let r = try_mark(owner.clone(), json!({"watermark": choice})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let tried = r.bytes().await.unwrap().to_vec();
    let (w, h, _) = decode(&tried);
    assert_eq!((w, h), (1600, 1200));
    assert!(tried != default_preview);
    let r = try_mark(owner.clone(), json!({"watermark": null})).await;
    assert!(r.bytes().await.unwrap() == default_preview, "no mark given: the default, as a save would render it");
    assert_eq!(try_mark(client.clone(), json!({"watermark": null})).await.status(), StatusCode::FORBIDDEN);
    let r = try_mark(owner.clone(), json!({"watermark": {"kind": "logo", "scale": 3}})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let (status, saved) = app.patch_album(&owner, &album, json!({"watermark": choice})).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        saved["watermark"],
        json!({"kind": "logo", "position": "center", "scale": 0.25, "opacity": 1.0, "logo": digest})
    );
    let with_logo = wait_changed(app, &owner, &album, &photo, &default_preview).await;
    assert!(with_logo == tried, "saved, it renders as the live preview showed");
    // The logo is drawn where it was placed, opaque: a 400 px badge in the
    // middle, its dark ring above the centre and its light disc at it.
    let (w, _, px) = decode(&with_logo);
    let at = |x: usize, y: usize| px[(y * w + x) * 3..(y * w + x) * 3 + 3].to_vec();
    let near = |p: Vec<u8>, want: [u8; 3]| p.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 30);
    assert!(near(at(800, 420), [30, 40, 70]), "the ring: {:?}", at(800, 420));
    assert!(near(at(800, 600), [245, 240, 225]), "the disc: {:?}", at(800, 600));

    // A new logo: the album moves to it and its previews follow.
    let other = proofsheet_imaging::sample_logo_png(90);
    let r = put(&owner, other.clone(), "application/octet-stream").send().await.unwrap();
    let new_digest = r.json::<Value>().await.unwrap()["digest"].as_str().unwrap().to_owned();
    assert_ne!(new_digest, digest);
    let moved: Value = app.get(&format!("/albums/{album}"), Some(&owner)).await.json().await.unwrap();
    assert_eq!(moved["watermark"]["logo"], new_digest.as_str());
    let newer = wait_changed(app, &owner, &album, &photo, &with_logo).await;
    assert!(newer != default_preview);

    // Removed: albums that used it go back to the default watermark.
    let r = app.http.delete(app.api("/users/me/logo")).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let back: Value = app.get(&format!("/albums/{album}"), Some(&owner)).await.json().await.unwrap();
    assert!(back["watermark"].is_null(), "{back}");
    // Renders queued for the logos before may still land in between: the
    // preview ends as the default one.
    let mut now = wait_changed(app, &owner, &album, &photo, &newer).await;
    for _ in 0..600 {
        if now == default_preview {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = preview(app, &owner, &photo).await;
    }
    assert!(now == default_preview, "the album's previews went back to the default watermark");
    assert_eq!(app.get("/users/me/logo", Some(&owner)).await.status(), StatusCode::NOT_FOUND);
    let r = app.http.delete(app.api("/users/me/logo")).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
