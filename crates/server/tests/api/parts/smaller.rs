//! Issue 27's smaller findings, one test each: notices from a fixed list,
//! original hashes for owners only, a strict `Upload-Length`, one rate
//! bucket per token however the scheme is spelled, pending orders that end
//! with the buyer's access, a CSRF token bound to the session, HSTS on
//! https.

use crate::common::{TestApp, jpeg};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_come_from_a_fixed_list_of_codes() {
    let app = TestApp::start().await;
    let ph = app.user("ph@notice.test", "photographer").await;
    let album = app.album(&ph, "private", None).await;
    let (status, html) = app.page_as(&ph, &format!("/albums/{album}?notice=Pay+at+evil.test+now")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("evil.test"), "an attacker's words in the status box");
    let (_, html) = app.page_as(&ph, &format!("/albums/{album}?notice=saved")).await;
    assert!(html.contains("Saved."), "a known code shows its words");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_sees_the_originals_hashes() {
    let app = TestApp::start().await;
    let ph = app.user("ph@hash.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    app.upload(&ph, &album, "a.jpg", jpeg(64, 48, 1, true)).await;
    let owner = app.wait_processed(&ph, &album, 1).await;
    assert!(owner[0]["sha256"].as_str().is_some_and(|h| h.len() == 64), "{}", owner[0]);
    let cl = app.user("cl@hash.test", "client").await;
    for who in [None, Some(cl.as_str())] {
        let page: Value = app.get(&format!("/albums/{album}/photos"), who).await.json().await.unwrap();
        assert!(page["items"][0]["sha256"].is_null(), "{who:?}: {}", page["items"][0]);
    }
    // The owner's page is cached apart from the visitors'.
    let page: Value = app.get(&format!("/albums/{album}/photos"), Some(&ph)).await.json().await.unwrap();
    assert!(page["items"][0]["sha256"].is_string());
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_length_and_offset_are_digits_only() {
    let app = TestApp::start().await;
    let ph = app.user("ph@tus.test", "photographer").await;
    let album = app.album(&ph, "private", None).await;
    let create = |length: &'static str| {
        app.http
            .post(app.api(&format!("/albums/{album}/uploads")))
            .bearer_auth(&ph)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length)
            .send()
    };
    for bad in ["+5", "5e3", "0x10", "-0"] {
        let r = create(bad).await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = create("5").await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let r = app
        .http
        .patch(format!("{}{location}", app.url))
        .bearer_auth(&ph)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "+0")
        .header("content-type", "application/offset+octet-stream")
        .body(vec![1, 2])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_rate_bucket_per_token_however_the_scheme_is_spelled() {
    let app = TestApp::start_with(|c| c.limits.orders_per_minute = 3).await;
    let ph = app.user("ph@bucket.test", "photographer").await;
    let cl = app.user("cl@bucket.test", "client").await;
    let album = app.album(&ph, "public", None).await;
    app.upload(&ph, &album, "a.jpg", jpeg(64, 48, 1, true)).await;
    let photo = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let order = json!({"album_id": album, "photo_ids": [photo]});
    let mut statuses = Vec::new();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = app
            .http
            .post(app.api("/orders"))
            .header("authorization", format!("{scheme} {cl}"))
            .json(&order)
            .send()
            .await
            .unwrap();
        statuses.push(r.status());
    }
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CREATED, StatusCode::CREATED, StatusCode::TOO_MANY_REQUESTS],
        "the fourth order of one token is over the limit, whatever its spelling"
    );
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_orders_end_when_the_buyer_loses_access() {
    let app = TestApp::start().await;
    let ph = app.user("ph@access.test", "photographer").await;
    let cl = app.user("cl@access.test", "client").await;
    let album = app.album(&ph, "private", Some("cl@access.test")).await;
    app.upload(&ph, &album, "a.jpg", jpeg(64, 48, 1, true)).await;
    let photo = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let r = app.post_json("/orders", Some(&cl), json!({"album_id": album, "photo_ids": [photo]})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&cl), json!({})).await;
    assert_eq!(r.status(), StatusCode::CREATED, "a checkout is open");
    // The owner gives the album to someone else.
    let (status, _) = app.patch_album(&ph, &album, json!({"client_email": "other@access.test"})).await;
    assert_eq!(status, StatusCode::OK);
    let seen: Value = app.get(&format!("/orders/{order}"), Some(&ph)).await.json().await.unwrap();
    assert_eq!(seen["status"], "cancelled", "{seen}");
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&cl), json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT, "nothing more to pay");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_csrf_token_is_bound_to_the_session() {
    let app = TestApp::start().await;
    let ph = app.user("ph@csrf.test", "photographer").await;
    // A token from a signed-out page, and the CSRF cookie it belongs to.
    let (csrf_cookie, signed_out) = app.web_form("/signin").await;
    let sign_out = |csrf: String| {
        app.http
            .post(format!("{}/signout", app.url))
            .header("cookie", format!("{csrf_cookie}; ps_session={ph}"))
            .form(&[("csrf", csrf)])
            .send()
    };
    let r = sign_out(signed_out).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a token of no session does not work in one");
    let albums = app
        .http
        .get(format!("{}/albums", app.url))
        .header("cookie", format!("{csrf_cookie}; ps_session={ph}"))
        .send()
        .await
        .unwrap();
    let bound = crate::common::csrf_token_in(&albums.text().await.unwrap());
    let r = app
        .http
        .post(format!("{}/signout", app.url))
        .header("cookie", format!("{csrf_cookie}; ps_session=another-session"))
        .form(&[("csrf", bound.clone())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "nor in another session");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/signout", app.url))
        .header("cookie", format!("{csrf_cookie}; ps_session={ph}"))
        .form(&[("csrf", bound)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "its own session's token works");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_deployments_send_hsts_and_a_host_prefixed_csrf_cookie() {
    let app = TestApp::start_with(|c| c.server.public_url = Some("https://photos.example".into())).await;
    // The server itself, on loopback (its public URL names no real host).
    let r = app.http.get(format!("http://{}/signin", app.server.addr)).send().await.unwrap();
    let hsts = r.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(hsts.as_deref(), Some("max-age=31536000; includeSubDomains"));
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("__Host-ps_csrf=") && c.contains("Secure")), "{cookies:?}");
    app.server.shutdown().await;
    let plain = TestApp::start().await;
    let r = plain.http.get(format!("{}/healthz", plain.url)).send().await.unwrap();
    assert!(r.headers().get("strict-transport-security").is_none(), "no HSTS over plain http");
    plain.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_sends_mail_needs_the_public_url() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = proofsheet_server::Config::default();
    config.server.addr = "127.0.0.1:0".into();
    config.server.data_dir = dir.path().to_owned();
    config.mail.smtp_url = Some(serde_json::from_value(json!("smtp://127.0.0.1:9")).unwrap());
    let worker = proofsheet_server::runtime::Roles { api: false, worker: true, scheduler: false };
    let clock = std::sync::Arc::new(proofsheet_core::SystemClock);
    let Err(e) = proofsheet_server::runtime::start_roles(config.clone(), clock.clone(), worker).await else {
        panic!("a mailing worker started without server.public_url: its links would point at itself");
    };
    assert!(e.to_string().contains("server.public_url"), "{e}");
    config.server.public_url = Some("https://photos.example".into());
    let running = proofsheet_server::runtime::start_roles(config, clock, worker).await.unwrap();
    running.shutdown().await;
}

/// Issue 27, finding 5: invitations to one address are capped across all
/// photographers (accounts cannot be made to relay mail to it): 3
/// photographers with 4 albums each naming one address send it 5, not 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_to_one_address_are_capped_across_photographers() {
    let app = TestApp::start().await;
    for p in 0..3 {
        let ph = app.user(&format!("ph{p}@relay.test"), "photographer").await;
        for _ in 0..4 {
            app.album(&ph, "private", Some("target@relay.test")).await;
        }
    }
    app.wait_idle().await;
    let shared = app
        .notifications()
        .await
        .into_iter()
        .filter(|n| {
            matches!(n, proofsheet_core::Notification::AlbumShared { to, .. } if to.as_str() == "target@relay.test")
        })
        .count();
    assert_eq!(shared, proofsheet_core::SHARE_MAILS_PER_RECIPIENT, "12 albums, one address");
    app.server.shutdown().await;
}
