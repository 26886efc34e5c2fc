//! Resumable uploads (tus 1.0): a real tus client (tuspy) whose connection
//! breaks mid-file and resumes, on the embedded default and on PostgreSQL +
//! S3; and the protocol's rules, request by request.

use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::{TestApp, jpeg};

const TUS: &str = "1.0.0";

/// A JPEG of a few MB (grainy, so it does not compress away).
fn big_jpeg() -> Vec<u8> {
    jpeg(4000, 2600, 1, true)
}

/// Runs tests/support/tus_client.py: tuspy through a proxy that cuts the
/// connection once after `cut_after` bytes. `None` without Python (allowed
/// only when the test services are not required). Runs on a blocking
/// thread: the server answers on this test's runtime meanwhile.
async fn tuspy(
    url: &str,
    token: &str,
    file: &std::path::Path,
    chunk: usize,
    checksum: bool,
    cut_after: usize,
) -> Option<Value> {
    let Ok(python) = std::env::var("PROOFSHEET_TEST_PYTHON") else {
        assert!(std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(), "tuspy is required: run scripts/services.sh");
        eprintln!("PROOFSHEET_TEST_PYTHON unset: the tuspy run is skipped");
        return None;
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/tus_client.py");
    let args = [
        script.to_owned(),
        url.to_owned(),
        token.to_owned(),
        file.display().to_string(),
        chunk.to_string(),
        if checksum { "1" } else { "0" }.to_owned(),
        cut_after.to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || std::process::Command::new(python).args(args).output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "tuspy failed: {}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// Two uploads of the same big JPEG, each cut once mid-file: one in a
/// single `PATCH` without checksums (the server keeps the bytes that
/// arrived, and HEAD says so), one in 256 KiB chunks with SHA-1 checksums
/// (the cut chunk is dropped, the earlier ones stay). Both become photos
/// whose originals are the file, byte for byte.
async fn resumes_after_a_broken_connection(app: &TestApp) {
    let owner = app.user("tus@studio.test", "photographer").await;
    let album = app.album(&owner, "private", None).await;
    let bytes = big_jpeg();
    assert!(bytes.len() > 2_000_000, "{} bytes", bytes.len());
    let file = app.dir.path().join("wedding-0001.jpg");
    std::fs::write(&file, &bytes).unwrap();
    let url = app.api(&format!("/albums/{album}/uploads"));
    let len = bytes.len();
    let runs = [(len, false, len * 2 / 5), (256 * 1024, true, len * 3 / 5)];
    let mut photos = Vec::new();
    for (chunk, checksum, cut) in runs {
        let Some(run) = tuspy(&url, &owner, &file, chunk, checksum, cut).await else { return };
        assert_eq!(run["cuts"], 1, "{run}");
        let heads: Vec<u64> = run["heads"].as_array().unwrap().iter().map(|h| h.as_u64().unwrap()).collect();
        assert!(!heads.is_empty(), "tuspy asked where to resume: {run}");
        let resumed_at = *heads.last().unwrap();
        assert!(resumed_at > 0 && resumed_at < len as u64, "resumed mid-file, not from 0: {run}");
        if checksum {
            assert_eq!(resumed_at % chunk as u64, 0, "only whole, checked chunks are kept: {run}");
        }
        let location = run["url"].as_str().unwrap();
        assert!(location.contains(&format!("/api/v1/albums/{album}/uploads/")), "{location}");
        photos.push(run["photo_id"].as_str().expect("the last PATCH names the photo").to_owned());
    }
    let listed = app.wait_processed(&owner, &album, 2).await;
    for id in &photos {
        let photo = listed.iter().find(|p| p["id"] == id.as_str()).expect("the photo is in the album");
        assert_eq!(photo["status"], "ready", "{photo}");
        assert_eq!(photo["filename"], "wedding-0001.jpg");
        assert_eq!(photo["width"], 4000);
        let digest: String = {
            use sha2::Digest as _;
            sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
        };
        assert_eq!(photo["sha256"], digest.as_str(), "the API names the original's SHA-256");
        let r = app.get(&format!("/photos/{id}/original"), Some(&owner)).await;
        let r = if r.status() == StatusCode::TEMPORARY_REDIRECT {
            app.http.get(r.headers()["location"].to_str().unwrap()).send().await.unwrap()
        } else {
            r
        };
        assert_eq!(r.status(), StatusCode::OK);
        assert!(r.bytes().await.unwrap() == bytes, "the original is the file, byte for byte");
    }
}

#[tokio::test]
async fn tuspy_resumes_after_a_broken_connection_on_the_embedded_default() {
    let app = TestApp::start().await;
    resumes_after_a_broken_connection(&app).await;
}

#[tokio::test]
async fn tuspy_resumes_after_a_broken_connection_on_postgres_and_s3() {
    let Some(app) = TestApp::start_scale_out().await else { return };
    resumes_after_a_broken_connection(&app).await;
}

fn tus(app: &TestApp, method: Method, url: &str, token: Option<&str>) -> reqwest::RequestBuilder {
    let url = if url.starts_with("http") { url.to_owned() } else { format!("{}{url}", app.url) };
    let mut req = app.http.request(method, url).header("Tus-Resumable", TUS);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req
}

async fn create(app: &TestApp, token: &str, album: &str, length: usize) -> String {
    let r = tus(app, Method::POST, &app.api(&format!("/albums/{album}/uploads")), Some(token))
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", format!("filename {}", base64::engine::general_purpose::STANDARD.encode("a.jpg")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
    assert_eq!(r.headers()["tus-resumable"], TUS);
    assert!(r.headers().contains_key("upload-expires"));
    r.headers()["location"].to_str().unwrap().to_owned()
}

async fn patch(
    app: &TestApp,
    token: &str,
    at: &str,
    offset: usize,
    body: &[u8],
    checksum: Option<String>,
) -> reqwest::Response {
    let mut req = tus(app, Method::PATCH, at, Some(token))
        .header("Upload-Offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream");
    if let Some(c) = checksum {
        req = req.header("Upload-Checksum", c);
    }
    req.body(body.to_vec()).send().await.unwrap()
}

async fn offset(app: &TestApp, token: &str, at: &str) -> (StatusCode, Option<u64>) {
    let r = tus(app, Method::HEAD, at, Some(token)).send().await.unwrap();
    let offset = r.headers().get("upload-offset").map(|v| v.to_str().unwrap().parse().unwrap());
    (r.status(), offset)
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha1(data: &[u8]) -> String {
    use sha1::Digest as _;
    format!("sha1 {}", base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(data)))
}

/// The protocol, request by request: discovery, version, sizes, offsets,
/// checksums, content type, who may continue, termination, a file that is
/// no image, and expiry with clean-up.
#[tokio::test]
async fn the_tus_protocol_rules_hold() {
    let app = TestApp::start_with(|c| c.uploads.max_bytes = 4_000_000).await;
    let owner = app.user("rules@studio.test", "photographer").await;
    let rival = app.user("rival@studio.test", "photographer").await;
    let album = app.album(&owner, "private", None).await;
    let base = app.api(&format!("/albums/{album}/uploads"));
    let file = jpeg(900, 600, 1, true);

    // Discovery.
    let r = app.http.request(Method::OPTIONS, &base).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["tus-version"], TUS);
    assert_eq!(r.headers()["tus-max-size"], "4000000");
    let extensions = r.headers()["tus-extension"].to_str().unwrap();
    for ext in ["creation", "expiration", "checksum", "termination"] {
        assert!(extensions.split(',').any(|e| e == ext), "{extensions}");
    }
    assert!(r.headers()["tus-checksum-algorithm"].to_str().unwrap().contains("sha1"));

    // Version, size.
    let r = app.http.post(&base).bearer_auth(&owner).header("Upload-Length", "10").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(r.headers()["tus-version"], TUS);
    let r = tus(&app, Method::POST, &base, Some(&owner)).header("Upload-Length", "4000001").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.headers()["tus-resumable"], TUS, "errors name the version too");
    let r = tus(&app, Method::POST, &base, Some(&rival)).header("Upload-Length", "10").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "only the album's owner uploads into it");

    // Offsets, checksums, content type.
    let at = create(&app, &owner, &album, file.len()).await;
    assert!(at.starts_with(&format!("/api/v1/albums/{album}/uploads/")), "{at}");
    assert_eq!(offset(&app, &owner, &at).await, (StatusCode::OK, Some(0)));
    let half = file.len() / 2;
    let r = patch(&app, &owner, &at, 5, &file[5..half], None).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "a wrong offset");
    let r = patch(&app, &owner, &at, 0, &file[..half], Some(sha1(b"something else"))).await;
    assert_eq!(r.status().as_u16(), 460, "a checksum that does not match");
    assert_eq!(offset(&app, &owner, &at).await.1, Some(0), "nothing of that chunk was kept");
    let r = patch(&app, &owner, &at, 0, &file[..half], Some("md5 AAAA".into())).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "an algorithm we do not take");
    let r = tus(&app, Method::PATCH, &at, Some(&owner))
        .header("Upload-Offset", "0")
        .header("content-type", "application/octet-stream")
        .body(file[..half].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = patch(&app, &owner, &at, 0, &file[..half], Some(sha1(&file[..half]))).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["upload-offset"], half.to_string().as_str());
    assert!(!r.headers().contains_key("proofsheet-photo-id"));
    // On the local file system the chunks go into one staged file, moved
    // into place at the end rather than read back and written again.
    let id = at.rsplit('/').next().unwrap();
    let held = app.server.state.engine.backends().blobs.list(&format!("uploads/{id}")).await.unwrap();
    assert_eq!(held, [format!("uploads/{id}/data"), format!("uploads/{id}/info.json")], "one staged file");

    // Only its creator sees or continues it.
    assert_eq!(offset(&app, &rival, &at).await.0, StatusCode::NOT_FOUND);
    assert_eq!(patch(&app, &rival, &at, half, &file[half..], None).await.status(), StatusCode::NOT_FOUND);
    let r = tus(&app, Method::HEAD, &at, None).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Past the declared length.
    let mut longer = file[half..].to_vec();
    longer.push(0);
    assert_eq!(patch(&app, &owner, &at, half, &longer, None).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(offset(&app, &owner, &at).await.1, Some(half as u64), "the refused chunk left nothing");

    // The last chunk makes the photo.
    let r = patch(&app, &owner, &at, half, &file[half..], None).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let photo = r.headers()["proofsheet-photo-id"].to_str().unwrap().to_owned();
    let r = tus(&app, Method::HEAD, &at, Some(&owner)).send().await.unwrap();
    assert_eq!(r.headers()["upload-offset"], file.len().to_string().as_str());
    assert_eq!(r.headers()["proofsheet-photo-id"], photo.as_str(), "a client that lost the answer learns it");
    let listed = app.wait_processed(&owner, &album, 1).await;
    assert_eq!(listed[0]["id"], photo.as_str());
    assert_eq!(listed[0]["filename"], "a.jpg");
    assert_eq!(listed[0]["status"], "ready");
    assert_eq!(listed[0]["sha256"], sha256(&file), "hashed as the chunks came");

    // Chunks through two processes: the one that completes the upload did
    // not see the first chunk, so it hashes the file it holds.
    let other = {
        let engine = &app.server.state.engine;
        proofsheet_core::Proofsheet::new(
            engine.backends().clone(),
            engine.settings().clone(),
            engine.link_signer().clone(),
        )
        .unwrap()
    };
    let second = jpeg(640, 480, 7, true);
    let at = create(&app, &owner, &album, second.len()).await;
    assert_eq!(patch(&app, &owner, &at, 0, &second[..1000], None).await.status(), StatusCode::NO_CONTENT);
    let user = other.users().authenticate(&owner).await.unwrap().unwrap();
    let id = at.rsplit('/').next().unwrap().parse().unwrap();
    let rest = bytes::Bytes::copy_from_slice(&second[1000..]);
    let body: proofsheet_core::ByteStream = Box::pin(futures::stream::iter([Ok(rest)]));
    let done = other.uploads().append(&user, album.parse().unwrap(), id, 1000, None, body).await.unwrap();
    let made = other.albums().photo(Some(&user), done.photo_id.unwrap()).await.unwrap().0;
    assert_eq!(made.sha256.as_deref(), Some(sha256(&second).as_str()), "hashed from the file");

    // Termination.
    let at = create(&app, &owner, &album, file.len()).await;
    assert_eq!(patch(&app, &owner, &at, 0, &file[..1000], None).await.status(), StatusCode::NO_CONTENT);
    let r = tus(&app, Method::DELETE, &at, Some(&rival)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = tus(&app, Method::DELETE, &at, Some(&owner)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(offset(&app, &owner, &at).await.0, StatusCode::NOT_FOUND);

    // A file that is no image fails at its first chunk, and is gone.
    let at = create(&app, &owner, &album, 300_000).await;
    let r = patch(&app, &owner, &at, 0, &vec![b'x'; 200_000], None).await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(offset(&app, &owner, &at).await.0, StatusCode::NOT_FOUND);

    // Expiry: 410 after a day, then the scheduled clean-up deletes it.
    let at = create(&app, &owner, &album, file.len()).await;
    assert_eq!(patch(&app, &owner, &at, 0, &file[..1000], None).await.status(), StatusCode::NO_CONTENT);
    app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(offset(&app, &owner, &at).await.0, StatusCode::GONE);
    let engine = &app.server.state.engine;
    let blobs = &engine.backends().blobs;
    assert!(!blobs.list("uploads").await.unwrap().is_empty());
    let pruned = engine.uploads().prune_expired(engine.backends().clock.now()).await.unwrap();
    assert_eq!(pruned, 3, "the expired upload and the two finished ones");
    assert!(blobs.list("uploads").await.unwrap().is_empty(), "nothing of either is left");
    assert_eq!(offset(&app, &owner, &at).await.0, StatusCode::NOT_FOUND);
}

/// Issue 27, finding 3: a photographer's storage has a quota
/// (`limits.storage_per_photographer`). Unfinished resumable uploads count
/// at their declared length until they complete, end, or sit idle for an
/// hour; past the quota, uploads answer 507 `quota_exceeded`, nothing is
/// kept, and the studio shows what is used. On SQLite and on PostgreSQL
/// with S3.
async fn storage_is_held_to_the_quota(app: &TestApp) {
    let owner = app.user("quota@tus.test", "photographer").await;
    let album = app.album(&owner, "private", None).await;
    let file = crate::common::jpeg(200, 150, 1, true);
    let quota = 3 * file.len() + file.len() / 2;
    // Two unfinished uploads hold two files' worth; a third does not fit.
    let a = create(app, &owner, &album, file.len()).await;
    let b = create(app, &owner, &album, file.len()).await;
    let r = tus(app, Method::POST, &app.api(&format!("/albums/{album}/uploads")), Some(&owner))
        .header("Upload-Length", (2 * file.len()).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "quota_exceeded", "{body}");
    // A direct upload fits beside them, once.
    assert_eq!(app.upload(&owner, &album, "one.jpg", file.clone()).await.status(), StatusCode::CREATED);
    let r = app.upload(&owner, &album, "two.jpg", file.clone()).await;
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE, "past the quota");
    // The reserved uploads complete into photos (their reservations become them).
    assert_eq!(patch(app, &owner, &a, 0, &file, None).await.status(), StatusCode::NO_CONTENT);
    app.wait_processed(&owner, &album, 2).await;
    // The other sits idle for an hour: it ends, and its room comes back.
    assert_eq!(patch(app, &owner, &b, 0, &file[..1000], None).await.status(), StatusCode::NO_CONTENT);
    app.clock.advance(chrono::Duration::minutes(61));
    assert_eq!(offset(app, &owner, &b).await.0, StatusCode::GONE, "idle for an hour");
    let engine = &app.server.state.engine;
    engine.uploads().prune_expired(engine.backends().clock.now()).await.unwrap();
    assert_eq!(offset(app, &owner, &b).await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.upload(&owner, &album, "three.jpg", file.clone()).await.status(), StatusCode::CREATED);
    let photos = app.wait_processed(&owner, &album, 3).await;
    assert_eq!(photos.len(), 3, "the refused upload left no photo");
    // Nothing of a refused upload is left among the originals.
    let originals: Vec<String> = engine.backends().blobs.list("photographers").await.unwrap();
    let kept = originals.iter().filter(|k| k.contains("/originals/")).count();
    assert_eq!(kept, 3, "{originals:?}");
    // The studio says what is used, against the quota.
    let (_, studio) = app.page_as(&owner, &format!("/albums/{album}")).await;
    let used = proofsheet_core::human_bytes((3 * file.len()) as u64);
    let limit = proofsheet_core::human_bytes(quota as u64);
    assert!(studio.contains(&format!("Storage: {used} of {limit} used")), "the studio shows the storage");
}

fn small_quota(c: &mut proofsheet_server::Config) {
    let file = crate::common::jpeg(200, 150, 1, true);
    c.limits.storage_per_photographer = (3 * file.len() + file.len() / 2) as u64;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_is_held_to_the_quota_on_the_embedded_default() {
    let app = TestApp::start_with(small_quota).await;
    storage_is_held_to_the_quota(&app).await;
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_is_held_to_the_quota_on_postgres_and_s3() {
    let Some(app) = TestApp::start_scale_out_with(small_quota).await else { return };
    storage_is_held_to_the_quota(&app).await;
    app.server.shutdown().await;
}
