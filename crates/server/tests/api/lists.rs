//! Photo lists: `ETag` and `If-None-Match` -> 304, and the page cache,
//! which must follow changes made by any process sharing the database.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{TestApp, jpeg};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_changes_from_any_process_on_sqlite() {
    lists_follow_changes_from_any_process(TestApp::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_changes_from_any_process_on_postgres_and_s3() {
    let Some(app) = TestApp::start_scale_out().await else { return };
    lists_follow_changes_from_any_process(app).await;
}

/// A GET with an optional bearer token and `If-None-Match`; the status
/// and the `ETag` sent back.
async fn conditional_get(
    app: &TestApp,
    url: &str,
    token: Option<&str>,
    etag: Option<&str>,
) -> (reqwest::Response, StatusCode, String) {
    let mut req = app.http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(e) = etag {
        req = req.header("If-None-Match", e);
    }
    let r = req.send().await.unwrap();
    let status = r.status();
    let tag = r.headers().get("etag").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (r, status, tag)
}

async fn get_page(app: &TestApp, path: &str, token: Option<&str>, etag: Option<&str>) -> (StatusCode, String, Value) {
    let (r, status, tag) = conditional_get(app, &app.api(path), token, etag).await;
    if status == StatusCode::OK || status == StatusCode::NOT_MODIFIED {
        assert_eq!(r.headers()["cache-control"], "private, no-cache", "{path}");
    }
    let text = r.text().await.unwrap();
    if status == StatusCode::NOT_MODIFIED {
        assert!(text.is_empty(), "a 304 has no body");
    }
    (status, tag, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn names(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|p| p["filename"].as_str().unwrap().to_owned()).collect()
}

async fn lists_follow_changes_from_any_process(a: TestApp) {
    // A second server on the same database and object store: its changes
    // reach `a`'s readers through the album revision alone.
    let b = TestApp::start_with(|c| {
        *c = a.server.state.config.clone();
        c.server.addr = "127.0.0.1:0".into();
    })
    .await;
    let ph = a.user("ph@lists.test", "photographer").await;
    let album = a.album(&ph, "public", None).await;
    assert_eq!(a.upload(&ph, &album, "one.jpg", jpeg(64, 48, 1, true)).await.status(), StatusCode::CREATED);
    a.wait_processed(&ph, &album, 1).await;
    let path = format!("/albums/{album}/photos?limit=10");

    let (status, e1, page) = get_page(&a, &path, None, None).await;
    assert_eq!((status, names(&page)), (StatusCode::OK, vec!["one.jpg".to_owned()]));
    assert!(e1.starts_with('"') && e1.ends_with('"'), "a strong ETag: {e1}");
    let (status, again, cached) = get_page(&a, &path, None, None).await;
    assert_eq!((status, &again, &cached), (StatusCode::OK, &e1, &page), "the cached page is the same page");
    let (status, tag, _) = get_page(&a, &path, None, Some(&e1)).await;
    assert_eq!((status, tag.as_str()), (StatusCode::NOT_MODIFIED, e1.as_str()));
    let (status, _, _) = get_page(&a, &path, None, Some(&format!("W/{e1}, \"other\""))).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "weak comparison, lists");
    let (status, _, _) = get_page(&a, &format!("/albums/{album}/photos?limit=11"), None, Some(&e1)).await;
    assert_eq!(status, StatusCode::OK, "another page has another ETag");

    // An upload through the other server: the old copy is stale at once.
    assert_eq!(b.upload(&ph, &album, "two.jpg", jpeg(64, 48, 1, false)).await.status(), StatusCode::CREATED);
    let (status, e2, page) = get_page(&a, &path, None, Some(&e1)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(e2, e1);
    assert_eq!(names(&page).len(), 2);
    // Rendering (by either server's worker) changes it again.
    let done = b.wait_processed(&ph, &album, 2).await;
    let (status, e3, page) = get_page(&a, &path, None, Some(&e2)).await;
    assert_eq!(status, StatusCode::OK, "the render was seen");
    assert_ne!(e3, e2);
    assert!(page["items"].as_array().unwrap().iter().all(|p| p["status"] == "ready"), "{page}");
    // A deletion through the other server.
    let gone = done.iter().find(|p| p["filename"] == "one.jpg").unwrap()["id"].as_str().unwrap().to_owned();
    let r = b.http.delete(b.api(&format!("/photos/{gone}"))).bearer_auth(&ph).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let (status, _, page) = get_page(&a, &path, None, Some(&e3)).await;
    assert_eq!((status, names(&page)), (StatusCode::OK, vec!["two.jpg".to_owned()]));
    // A change to the album itself.
    let (_, e4, _) = get_page(&a, &path, None, None).await;
    let (status, reply) = b.patch_album(&ph, &album, serde_json::json!({"name": "Renamed"})).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    let (status, _, _) = get_page(&a, &path, None, Some(&e4)).await;
    assert_eq!(status, StatusCode::OK, "an album change changes the ETag");

    // Access is decided first: an ETag gets a stranger nothing.
    let private = a.album(&ph, "private", Some("cl@lists.test")).await;
    let private_path = format!("/albums/{private}/photos");
    let (status, tag, _) = get_page(&a, &private_path, Some(&ph), None).await;
    assert_eq!(status, StatusCode::OK);
    let stranger = a.user("stranger@lists.test", "client").await;
    for token in [None, Some(stranger.as_str())] {
        let (status, _, body) = get_page(&a, &private_path, token, Some(&tag)).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
    }
    let (status, _, _) = get_page(&a, &private_path, Some(&ph), Some(&tag)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "the owner's own copy");
}

async fn get_image(app: &TestApp, url: &str, token: Option<&str>, etag: Option<&str>) -> (StatusCode, String, usize) {
    let (r, status, tag) = conditional_get(app, url, token, etag).await;
    (status, tag, r.bytes().await.unwrap().len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_answer_304_until_they_are_rendered_again() {
    let app = TestApp::start().await;
    let ph = app.user("ph@images.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    app.upload(&ph, &album, "one.jpg", jpeg(64, 48, 1, true)).await;
    let photo = app.wait_processed(&ph, &album, 1).await.remove(0);
    let thumb = photo["thumbnail_url"].as_str().unwrap().to_owned();
    let preview = photo["preview_url"].as_str().unwrap().to_owned();
    let id = photo["id"].as_str().unwrap();
    let original = app.api(&format!("/photos/{id}/original"));

    let (status, t1, len) = get_image(&app, &thumb, None, None).await;
    assert!(status == StatusCode::OK && len > 0 && !t1.is_empty(), "{status} {t1}");
    let (status, p1, _) = get_image(&app, &preview, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(p1, t1, "each image has its own tag");
    let (status, tag, len) = get_image(&app, &thumb, None, Some(&t1)).await;
    assert_eq!((status, tag.as_str(), len), (StatusCode::NOT_MODIFIED, t1.as_str(), 0));
    let (status, o1, _) = get_image(&app, &original, Some(&ph), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get_image(&app, &original, Some(&ph), Some(&o1)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "an original never changes");
    let (status, _, _) = get_image(&app, &original, None, Some(&o1)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the original's tag gets a visitor nothing");

    // A new watermark renders the previews again: the old copies are stale.
    let mark = serde_json::json!({"watermark": {"kind": "text", "text": "NEW MARK"}});
    let (status, reply) = app.patch_album(&ph, &album, mark).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    app.wait_idle().await;
    let (status, t2, len) = get_image(&app, &thumb, None, Some(&t1)).await;
    assert_eq!(status, StatusCode::OK, "the re-rendered thumbnail is sent");
    assert!(len > 0 && t2 != t1, "{t1} -> {t2}");
    let (status, _, _) = get_image(&app, &preview, None, Some(&p1)).await;
    assert_eq!(status, StatusCode::OK, "and the preview");
    let (status, _, _) = get_image(&app, &thumb, None, Some(&t2)).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);

    // Access first: once the album is private, the tag gets a visitor 404.
    let (status, _) = app.patch_album(&ph, &album, serde_json::json!({"visibility": "private"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _) = get_image(&app, &thumb, None, Some(&t2)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
