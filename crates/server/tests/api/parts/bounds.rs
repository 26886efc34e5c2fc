//! Every bound of the HTTP server, hit by a request that is refused
//! cleanly while the server stays healthy: body sizes (declared and
//! chunked, JSON, webhooks, multipart uploads), half-sent request heads,
//! stalled bodies and the connection cap.

use crate::common;

use std::time::Duration;

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Sends `total` bytes of chunked body to `path` over a raw socket, as a
/// client that keeps sending whatever the server says, and returns the
/// server's answer (read while sending: the server answers and hangs up
/// before the body is done).
async fn raw_chunked(addr: std::net::SocketAddr, method: &str, path: &str, headers: &str, total: usize) -> String {
    raw_chunked_after(addr, method, path, headers, b"", total).await
}

/// [`raw_chunked`] whose body starts with `first` (a multipart part's head).
async fn raw_chunked_after(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &str,
    first: &[u8],
    total: usize,
) -> String {
    let s = TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = s.into_split();
    let head = format!("{method} {path} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n{headers}\r\n");
    let first = first.to_vec();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await?;
        if !first.is_empty() {
            wr.write_all(format!("{:x}\r\n", first.len()).as_bytes()).await?;
            wr.write_all(&first).await?;
            wr.write_all(b"\r\n").await?;
        }
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            wr.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await?;
            wr.write_all(&chunk).await?;
            wr.write_all(b"\r\n").await?;
            sent += chunk.len();
        }
        wr.write_all(b"0\r\n\r\n").await?;
        Ok::<_, std::io::Error>(sent)
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), rd.read_to_end(&mut answer)).await;
    let sent = writer.await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(sent.is_err() || answer.contains("413"), "the whole body was taken: {answer}");
    answer
}

async fn healthy(app: &TestApp) {
    let r = app.http.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the server stays healthy");
}

async fn too_large(r: reqwest::Response, what: &str) {
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{what}");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "body_too_large", "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_on_every_route() {
    let app = TestApp::start_with(|c| c.uploads.max_bytes = 1024 * 1024).await;
    let ph = app.user("ph@bounds.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;

    // JSON: declared and chunked, signed in or not.
    let big = json!({"email": "a@b.test", "password": "x".repeat(200_000)});
    too_large(app.http.post(app.api("/sessions")).json(&big).send().await.unwrap(), "declared JSON").await;
    let addr = app.server.addr;
    let json_head = "content-type: application/json\r\n";
    let answer = raw_chunked(addr, "POST", "/api/v1/sessions", json_head, 300 * 1024 * 1024).await;
    assert!(
        answer.starts_with("HTTP/1.1 413") && answer.contains("body_too_large"),
        "300 MB of chunked JSON: {answer}"
    );
    let auth = format!("{json_head}authorization: Bearer {ph}\r\n");
    let answer = raw_chunked(addr, "PATCH", &format!("/api/v1/albums/{album}"), &auth, 1 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "chunked PATCH: {answer}");
    healthy(&app).await;

    // Webhooks: 1 MiB at most, before the signature is even looked at.
    let answer = raw_chunked(addr, "POST", "/api/v1/payments/test/webhook", "", 64 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413") && answer.contains("body_too_large"), "64 MB webhook: {answer}");
    // A declared 2 GB body is answered from its head alone: not a byte of
    // it is sent here.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /api/v1/payments/test/webhook HTTP/1.1\r\nhost: x\r\ncontent-length: 2000000000\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut answer)).await.unwrap().unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "declared 2 GB webhook: {answer}");
    // A small one still reaches the verifier.
    let r = app.http.post(app.api("/payments/test/webhook")).body("{}").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Uploads: a multipart stream over uploads.max_bytes is cut off while
    // it streams, whatever it claims.
    let multipart = format!("authorization: Bearer {ph}\r\ncontent-type: multipart/form-data; boundary=XyZ\r\n");
    // The body is one part whose content never ends: only the limit stops it.
    let part = b"--XyZ\r\ncontent-disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n";
    let path = format!("/api/v1/albums/{album}/photos");
    let answer = raw_chunked_after(addr, "POST", &path, &multipart, part, 50 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "a 50 MB multipart stream: {answer}");
    let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
    assert_eq!(photos["items"].as_array().unwrap().len(), 0, "nothing was created");
    // A normal upload still works.
    let r = app.upload(&ph, &album, "ok.jpg", common::jpeg(64, 48, 1, true)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    healthy(&app).await;
    app.server.shutdown().await;
}

/// Reads from `s` until EOF or `limit`; true if the server closed it.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a 408 or the like before closing
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_and_stalled_bodies_are_cut_off() {
    let app = TestApp::start_with(|c| {
        c.server.header_read_timeout_seconds = 1;
        c.server.idle_timeout_seconds = 2;
    })
    .await;
    let addr = app.server.addr;
    // 50 connections that send half a request line.
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HT").await.unwrap();
        slow.push(s);
    }
    for s in &mut slow {
        assert!(closed_within(s, Duration::from_secs(10)).await, "a half-sent head is cut off");
    }
    // A body that stalls after its head.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /api/v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"em")
        .await
        .unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(15)).await, "a stalled body is cut off");
    // A kept-alive connection with nothing more to say is closed too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
    assert!(closed_within(&mut s, Duration::from_secs(10)).await, "an idle keep-alive connection is closed");
    healthy(&app).await;
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_one() {
    let app = TestApp::start_with(|c| {
        c.server.max_connections = 3;
        c.server.header_read_timeout_seconds = 60;
        c.server.idle_timeout_seconds = 60;
    })
    .await;
    let addr = app.server.addr;
    let mut held = Vec::new();
    for _ in 0..3 {
        // Each is served once (so the server has surely accepted it), then
        // stays open, kept alive.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await.unwrap();
        let mut answer = [0u8; 512];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut answer)).await.unwrap().unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer[..n]));
        held.push(s);
    }
    let fresh = reqwest::Client::new();
    let mut waiting = tokio::spawn({
        let url = format!("{}/healthz", app.url);
        async move { fresh.get(url).send().await.map(|r| r.status()) }
    });
    // The answer to the fourth is awaited, with a bound: it must not come.
    let early = tokio::time::timeout(Duration::from_millis(700), &mut waiting).await;
    assert!(early.is_err(), "a fourth connection is not served while three are open");
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap().unwrap();
    assert_eq!(status, StatusCode::OK, "served once a connection closed");
    app.server.shutdown().await;
}

/// Prices are capped (100,000,000 minor units), so no total can overflow:
/// 2^62 is refused, the cap itself is a valid price, and a sale at the cap
/// reports its revenue exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_are_capped_so_totals_cannot_overflow() {
    let app = TestApp::start().await;
    let ph = app.user("ph@price.test", "photographer").await;
    let album = |amount: i64| json!({"name": "Big", "visibility": "public", "price_per_photo": {"amount": amount, "currency": "EUR"}});
    for amount in [1i64 << 62, i64::MAX, 100_000_001] {
        let r = app.post_json("/albums", Some(&ph), album(amount)).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{amount}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_amount");
    }
    let r = app.post_json("/albums", Some(&ph), album(100_000_000)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app
        .http
        .patch(app.api(&format!("/albums/{id}")))
        .bearer_auth(&ph)
        .json(&json!({"price_per_photo": {"amount": 1i64 << 62, "currency": "EUR"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // Two photos at the cap, bought and reported.
    for name in ["a.jpg", "b.jpg"] {
        assert_eq!(app.upload(&ph, &id, name, common::jpeg(64, 48, 1, true)).await.status(), StatusCode::CREATED);
    }
    let ids: Vec<String> =
        app.wait_processed(&ph, &id, 2).await.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    let cl = app.user("cl@price.test", "client").await;
    let r = app.post_json("/orders", Some(&cl), json!({"album_id": id, "photo_ids": ids})).await;
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["total"]["amount"], 200_000_000);
    let order = order["id"].as_str().unwrap();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&cl), json!({})).await;
    let url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    assert_eq!(app.http.post(format!("{url}/pay")).send().await.unwrap().status(), StatusCode::OK);
    let report: Value = app.get("/reports/sales", Some(&ph)).await.json().await.unwrap();
    assert_eq!(report["totals"][0]["revenue"]["amount"], 200_000_000, "{report}");
    app.server.shutdown().await;
}

/// This process's resident memory, in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

/// An owner's originals stream from the store: ten parallel downloads of a
/// 100 MB original keep the server's memory flat (loading each whole would
/// add a gigabyte).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_parallel_100_mb_originals_keep_memory_flat() {
    let app = TestApp::start_with(|c| c.uploads.max_bytes = 120 * 1024 * 1024).await;
    let ph = app.user("ph@big.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    // A real JPEG followed by 100 MB of trailing data (kept as uploaded).
    let mut original = common::jpeg(64, 48, 1, true);
    original.resize(100 * 1024 * 1024, 0x5a);
    let r = app.upload(&ph, &album, "big.jpg", original).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let before = rss_mib();
    let url = app.api(&format!("/photos/{id}/original"));
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let downloads: Vec<_> = (0..10)
        .map(|_| {
            let (http, url, ph, peak) = (app.http.clone(), url.clone(), ph.clone(), peak.clone());
            tokio::spawn(async move {
                let mut r = http.get(url).bearer_auth(ph).send().await.unwrap();
                assert_eq!(r.status(), StatusCode::OK);
                assert_eq!(r.headers()["cache-control"], "private, no-store");
                let mut got = 0usize;
                while let Some(chunk) = r.chunk().await.unwrap() {
                    got += chunk.len();
                    peak.fetch_max(rss_mib(), std::sync::atomic::Ordering::Relaxed);
                }
                got
            })
        })
        .collect();
    for d in downloads {
        assert_eq!(d.await.unwrap(), 100 * 1024 * 1024, "the whole original");
    }
    let grew = peak.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(before);
    eprintln!("10 parallel 100 MB originals: RSS {before} MiB before, +{grew} MiB at the peak");
    // Other tests share this process and its RSS: the bound leaves them
    // room, and is still half of the gigabyte that loading whole would add.
    assert!(grew < 500, "RSS grew by {grew} MiB while streaming 1 GB of originals");
    app.server.shutdown().await;
}

/// Mounts a tmpfs of `kib` KiB at a fresh folder; `None` where this machine
/// does not let us (not root, no mount namespace), said on stderr.
fn tiny_filesystem(kib: u32) -> Option<(tempfile::TempDir, Unmount)> {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
        .arg(dir.path())
        .status();
    match status {
        Ok(s) if s.success() => {
            let unmount = Unmount(dir.path().to_owned());
            Some((dir, unmount))
        }
        _ => {
            eprintln!("cannot mount a tmpfs here: the full-disk test needs root");
            None
        }
    }
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A real full filesystem under the blob store: an upload that does not
/// fit answers 507 `storage_full` with `Retry-After`, leaves no file and
/// no photo behind, and the server stays healthy; smaller uploads that fit
/// still work and render.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_uploads_cleanly_and_keeps_nothing() {
    let Some((disk, _unmount)) = tiny_filesystem(2048) else { return };
    let root = disk.path().join("blobs");
    let app = TestApp::start_with(|c| c.storage.root = Some(root.clone())).await;
    let ph = app.user("ph@full.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    // 3 MB does not fit in 2 MB.
    let mut big = common::jpeg(64, 48, 1, true);
    big.resize(3 * 1024 * 1024, 0x11);
    let r = app.upload(&ph, &album, "big.jpg", big).await;
    assert_eq!(r.status().as_u16(), 507);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "storage_full");
    let files: Vec<_> = walk(&root);
    assert!(files.is_empty(), "nothing half-written stays: {files:?}");
    let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
    assert!(photos["items"].as_array().unwrap().is_empty(), "no photo was made");
    // What fits still works, and renders.
    let r = app.upload(&ph, &album, "small.jpg", common::jpeg(320, 240, 1, true)).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let done = app.wait_processed(&ph, &album, 1).await;
    assert_eq!(done[0]["status"], "ready");
    healthy(&app).await;
    app.server.shutdown().await;
}

/// Issue 27, finding 7: a full disk under the database is `507
/// storage_full` on the paths that skipped the error classifier (a user's
/// insert, a photo's insert), not a retryable 503; and a photo whose row
/// cannot be written leaves no original behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_database_disk_is_507_on_user_and_photo_inserts() {
    let Some((disk, _unmount)) = tiny_filesystem(4096) else { return };
    let db = disk.path().join("proofsheet.db");
    let blobs = tempfile::tempdir().unwrap();
    let blob_root = blobs.path().to_owned();
    let app = TestApp::start_with(|c| {
        c.database.url = Some(serde_json::from_value(json!(format!("sqlite://{}", db.display()))).unwrap());
        c.storage.root = Some(blob_root.clone());
        // The worker would keep the database busy with the renders.
        c.worker.poll_ms = 600_000;
        c.limits.enabled = false;
    })
    .await;
    let ph = app.user("ph@dbfull.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    // Fill the disk around the database.
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(disk.path().join("filler")).unwrap();
        let block = vec![0u8; 64 * 1024];
        while filler.write_all(&block).is_ok() {}
        let mut byte = [0u8; 1];
        while filler.write_all(&byte).is_ok() {
            byte[0] ^= 1;
        }
    }
    // Registrations until the database cannot take one: that one is 507.
    let mut refused = None;
    for i in 0..2000 {
        let body = json!({"email": format!("u{i}@dbfull.test"), "password": "correct horse",
                          "name": "N".repeat(100), "surname": "S".repeat(100), "role": "client"});
        let r = app.post_json("/users", None, body).await;
        if r.status() != StatusCode::CREATED {
            refused = Some((r.status(), r.json::<Value>().await.unwrap()));
            break;
        }
    }
    let (status, body) = refused.expect("the full disk refused a registration");
    assert_eq!((status.as_u16(), body["code"].as_str()), (507, Some("storage_full")), "{body}");
    // Uploads until the database cannot record one: 507, and its original
    // is gone from the blob store.
    let mut made = 0;
    let mut refused = None;
    for i in 0..200 {
        let r = app.upload(&ph, &album, &format!("p{i}.jpg"), common::jpeg(64, 48, 1, true)).await;
        if r.status() == StatusCode::CREATED {
            made += 1;
        } else {
            refused = Some((r.status(), r.json::<Value>().await.unwrap()));
            break;
        }
    }
    let (status, body) = refused.expect("the full disk refused a photo");
    assert_eq!((status.as_u16(), body["code"].as_str()), (507, Some("storage_full")), "{body}");
    let originals = walk(&blob_root).into_iter().filter(|p| p.to_string_lossy().contains("/originals/")).count();
    assert_eq!(originals, made, "only the recorded photos keep an original");
    healthy(&app).await;
    app.server.shutdown().await;
}

/// An object store that refuses every connection: an upload answers 503
/// `unavailable` with `Retry-After` once the client's retries are spent,
/// no photo is left behind, and the server stays up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_object_store_answers_503_and_keeps_nothing() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed); // nothing listens there now: connections are refused
    // One retry: the default 4 back off for 15 s per call.
    let app = TestApp::start_with(|c| s3_at(c, &endpoint, 60, 1)).await;
    let ph = app.user("ph@s3down.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    let r = app.upload(&ph, &album, "a.jpg", common::jpeg(320, 240, 1, true)).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "unavailable");
    assert!(!body["message"].as_str().unwrap().contains("127.0.0.1"), "no backend details: {body}");
    let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
    assert!(photos["items"].as_array().unwrap().is_empty(), "no photo was made");
    // The API itself is up; readiness names the storage as down.
    assert_eq!(app.get("/albums", Some(&ph)).await.status(), StatusCode::OK);
    let probe = |path: &'static str| app.http.get(format!("{}{path}", app.url)).send();
    assert_eq!(probe("/healthz").await.unwrap().status(), StatusCode::OK);
    assert_eq!(probe("/readyz").await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    app.server.shutdown().await;
}

/// An object store that accepts connections and never answers: each call
/// is abandoned after `storage.s3.timeout_seconds`, retried
/// `storage.s3.retries` times, and the upload then answers 503 instead of
/// hanging; nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_object_store_times_out_into_a_503() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    let accepting = tokio::spawn(async move {
        while let Ok((socket, _)) = silent.accept().await {
            keep.lock().unwrap().push(socket); // read nothing, answer nothing
        }
    });
    let app = TestApp::start_with(|c| s3_at(c, &endpoint, 1, 1)).await;
    let ph = app.user("ph@s3hang.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    let upload = app.upload(&ph, &album, "a.jpg", common::jpeg(320, 240, 1, true));
    // A hang would end here with a test failure, not a stuck CI.
    let r = tokio::time::timeout(Duration::from_secs(60), upload).await.expect("the upload answered");
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "unavailable");
    assert!(held.lock().unwrap().len() >= 2, "the call was tried again after its timeout");
    let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
    assert!(photos["items"].as_array().unwrap().is_empty(), "no photo was made");
    accepting.abort();
    app.server.shutdown().await;
}

/// Points the blob store at an S3 endpoint with this timeout and retry count.
fn s3_at(c: &mut proofsheet_server::Config, endpoint: &str, timeout_seconds: u64, retries: usize) {
    c.storage.kind = proofsheet_server::config::StorageKind::S3;
    c.storage.s3 = proofsheet_server::config::S3Config {
        endpoint: Some(endpoint.to_owned()),
        bucket: "unreachable".into(),
        access_key_id: Some(serde_json::from_value(serde_json::json!("test-key")).unwrap()),
        secret_access_key: Some(serde_json::from_value(serde_json::json!("test-secret")).unwrap()),
        timeout_seconds,
        retries,
        ..Default::default()
    };
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}
