//! Issue 27, finding 2: bodies are checked before they are read, and read
//! in bounded memory. A multipart body must show its boundary and its part
//! headers early; the album of an upload or a selfie is checked before a
//! byte of the body is read; a client holds a bounded number of
//! connections. (The memory figures under attack: `benches/multipart.sh`.)

use std::time::Duration;

use crate::common::TestApp;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A body that sends `first` and then never ends (the sender holds the
/// connection open, as the attack did).
fn endless(first: Vec<u8>) -> reqwest::Body {
    let head = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes::Bytes::from(first)) });
    reqwest::Body::wrap_stream(head.chain(futures::stream::pending()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multipart_body_without_its_boundary_is_refused_early() {
    let app = TestApp::start().await;
    let ph = app.user("ph@bodies.test", "photographer").await;
    let album = app.album(&ph, "private", None).await;
    // 64 KiB of anything but the boundary, and the connection held open:
    // the answer comes without the rest (before, all of it was buffered).
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos")))
        .bearer_auth(&ph)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(endless(vec![b'a'; 64 * 1024]))
        .send();
    let r = tokio::time::timeout(Duration::from_secs(20), r).await.expect("answered while the body was open").unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // Endless part headers too.
    let mut head = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\nX-Pad: ".to_vec();
    head.extend(vec![b'x'; 64 * 1024]);
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos")))
        .bearer_auth(&ph)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(endless(head))
        .send();
    let r = tokio::time::timeout(Duration::from_secs(20), r).await.expect("answered while the body was open").unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // No boundary at all.
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos")))
        .bearer_auth(&ph)
        .header("content-type", "multipart/form-data")
        .body("whatever")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_multipart");
    // A well-formed multipart upload still works, and nothing else was kept.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(crate::common::jpeg(64, 48, 1, true))
            .file_name("ok.jpg")
            .mime_str("image/jpeg")
            .unwrap(),
    );
    let r = app.http.post(app.api(&format!("/albums/{album}/photos"))).bearer_auth(&ph).multipart(form).send().await;
    assert_eq!(r.unwrap().status(), StatusCode::CREATED);
    let photos = app.wait_processed(&ph, &album, 1).await;
    assert_eq!(photos.len(), 1, "{photos:?}");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_album_is_checked_before_the_body_is_read() {
    let app = TestApp::start().await;
    let ph = app.user("ph@gate.test", "photographer").await;
    let cl = app.user("cl@gate.test", "client").await;
    let private = app.album(&ph, "private", None).await;
    let public = app.album(&ph, "public", None).await;
    let multipart = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n".to_vec();
    let cases = [
        // A stranger's upload: the album is not theirs to see.
        (format!("/albums/{private}/photos"), Some(cl.clone()), StatusCode::NOT_FOUND),
        // Nobody signed in.
        (format!("/albums/{private}/photos"), None, StatusCode::UNAUTHORIZED),
        // A selfie for an album of no such id, and for one without "Find me".
        (format!("/albums/{}/find-me", uuid::Uuid::new_v4()), None, StatusCode::NOT_FOUND),
        (format!("/albums/{public}/find-me"), None, StatusCode::CONFLICT),
        (format!("/albums/{private}/find-me"), Some(cl.clone()), StatusCode::NOT_FOUND),
    ];
    for (path, who, want) in cases {
        let mut req = app
            .http
            .post(app.api(&path))
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(endless(multipart.clone()));
        if let Some(t) = &who {
            req = req.bearer_auth(t);
        }
        let r = tokio::time::timeout(Duration::from_secs(20), req.send())
            .await
            .unwrap_or_else(|_| panic!("{path}: no answer while the body was open"))
            .unwrap();
        assert_eq!(r.status(), want, "{path}");
    }
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_a_bounded_number_of_connections() {
    let app = TestApp::start_with(|c| c.server.max_connections_per_client = 3).await;
    let addr = app.server.addr;
    // Three connections holding half-sent requests.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
        held.push(s);
    }
    // Give the server a moment to accept them all (a bounded poll, not a
    // fixed wait: the fourth must be refused once the three are in).
    let mut refused = false;
    for _ in 0..50 {
        let mut fourth = tokio::net::TcpStream::connect(addr).await.unwrap();
        fourth.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.ok();
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(5), fourth.read(&mut buf)).await.unwrap().unwrap_or(0);
        if n == 0 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "a fourth connection from the same client was served");
    // One ends: its slot is free again.
    drop(held.pop());
    let mut served = false;
    for _ in 0..50 {
        let r = app.http.get(format!("{}/healthz", app.url)).send().await;
        if r.is_ok_and(|r| r.status() == StatusCode::OK) {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the freed slot was not reused");
    // All of them end: a whole new set of connections is served (once the
    // server has seen the closes; a bounded poll).
    drop(held);
    let mut answered = false;
    for _ in 0..50 {
        let fresh = reqwest::Client::new();
        let all = futures::future::join_all((0..2).map(|_| fresh.get(format!("{}/healthz", app.url)).send())).await;
        if all.iter().all(|r| r.as_ref().is_ok_and(|r| r.status() == StatusCode::OK)) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answered, "two more connections at once (beside the pooled one) after the held ones closed");
    let r = app.post_json("/users", None, json!({})).await;
    assert!(r.status().is_client_error(), "the server still answers: {}", r.status());
    app.server.shutdown().await;
}
