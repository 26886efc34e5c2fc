//! Metrics, request ids carried into jobs, and the security headers.

use crate::common;

use common::{TestApp, jpeg};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_request_ids_and_headers() {
    let app = TestApp::start().await;
    let ph = app.user("ph@studio.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;

    // A request id given by the caller is echoed and stored with the job.
    let r = app
        .http
        .post(app.api(&format!("/albums/{album}/photos?filename=a.jpg")))
        .bearer_auth(&ph)
        .header("content-type", "image/jpeg")
        .header("x-request-id", "upload-42.a_b")
        .body(jpeg(640, 480, 1, true))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["x-request-id"], "upload-42.a_b");
    let jobs = &app.server.state.engine.backends().queue;
    let listed = jobs.list_jobs(None, proofsheet_core::PageRequest::first()).await.unwrap();
    let render = listed.items.iter().find(|j| j.kind == "render_preview").expect("a preview job");
    assert_eq!(render.payload["request_id"], "upload-42.a_b", "the job knows the request that caused it");
    // An unusable one is replaced by a fresh id.
    let r = app
        .http
        .get(app.api("/albums"))
        .bearer_auth(&ph)
        .header("x-request-id", "bad id with spaces and {braces}")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    assert_ne!(
        app.http.get(app.api("/albums")).bearer_auth(&ph).send().await.unwrap().headers()["x-request-id"],
        id.as_str()
    );

    app.wait_processed(&ph, &album, 1).await;
    assert_eq!(app.get(&format!("/albums/{}", uuid::Uuid::new_v4()), Some(&ph)).await.status(), StatusCode::NOT_FOUND);
    let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
    for want in [
        "proofsheet_http_requests_total{method=\"GET\",route=\"/api/v1/albums/{album_id}\",status=\"404\"}",
        "proofsheet_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/albums/{album_id}/photos\",status=\"201\",le=\"+Inf\"}",
        "proofsheet_jobs_total{kind=\"render_preview\",outcome=\"succeeded\"}",
        "proofsheet_job_duration_seconds_count{kind=\"render_preview\"}",
        "proofsheet_previews_total{outcome=\"rendered\"}",
        "proofsheet_preview_duration_seconds_sum",
        "proofsheet_jobs{status=\"queued\"}",
    ] {
        assert!(metrics.contains(want), "missing {want} in:\n{metrics}");
    }
    assert!(!metrics.contains(&album), "no ids in metric labels");

    // Security headers: JSON, the docs page and the gateway's pages.
    let r = app.get("/albums", Some(&ph)).await;
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let docs = app.http.get(format!("{}/docs", app.url)).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    for (name, want) in [
        ("content-security-policy", "frame-ancestors 'none'"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert!(docs.headers()[name].to_str().unwrap().contains(want), "/docs {name}");
    }
    // Issue 27: the docs page allows its own inline blocks by hash only.
    let csp = docs.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(!csp.contains("unsafe-inline") && csp.contains("'sha256-"), "/docs CSP: {csp}");
    // The buyer's checkout page.
    let cl = app.user("cl@home.test", "client").await;
    let photos: Value = app.get(&format!("/albums/{album}/photos"), Some(&cl)).await.json().await.unwrap();
    let photo = photos["items"][0]["id"].as_str().unwrap().to_owned();
    let r = app.post_json("/orders", Some(&cl), json!({"album_id": album, "photo_ids": [photo]})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&cl), json!({})).await;
    let url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    let page = app.http.get(&url).send().await.unwrap();
    for (name, want) in [
        ("content-security-policy", "default-src 'none'"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        assert!(page.headers()[name].to_str().unwrap().contains(want), "checkout page {name}");
    }
    app.http.post(format!("{url}/pay")).send().await.unwrap();
    let o = app.wait_order(&cl, &order, "fulfilled").await;
    let zip = app.http.get(o["download"]["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    let metrics = app.http.get(format!("{}/metrics", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("proofsheet_payment_events_total{gateway=\"test\",outcome=\"paid\",result=\"changed\"}"),
        "{metrics}"
    );
    let sent: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("proofsheet_download_bytes_total "))
        .and_then(|v| v.parse().ok())
        .expect("download bytes counted");
    assert!(sent >= zip.len() as u64, "{sent} < {}", zip.len());
    // A 405 says what is allowed.
    let r = app.http.request(reqwest::Method::PUT, app.api("/albums")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, POST");
    app.server.shutdown().await;
}

/// With `server.metrics_token` set, `/metrics` needs it as a bearer token;
/// without one it answers only the loopback interface (these tests' own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_operator_token_when_one_is_set() {
    let app = TestApp::start_with(|c| {
        c.server.metrics_token = Some(serde_json::from_value(serde_json::json!("m-secret-token-1234")).unwrap())
    })
    .await;
    let url = format!("{}/metrics", app.url);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), reqwest::StatusCode::UNAUTHORIZED);
    let wrong = app.http.get(&url).bearer_auth("m-secret-token-1235").send().await.unwrap();
    assert_eq!(wrong.status(), reqwest::StatusCode::UNAUTHORIZED);
    let right = app.http.get(&url).bearer_auth("m-secret-token-1234").send().await.unwrap();
    assert_eq!(right.status(), reqwest::StatusCode::OK);
    assert!(right.text().await.unwrap().contains("proofsheet_jobs"));
    let printed = format!("{:?}", app.server.state.config);
    assert!(!printed.contains("m-secret-token"), "the token never prints");
    app.server.shutdown().await;
}
