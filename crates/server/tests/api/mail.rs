//! E-mail notifications read back from a real SMTP server on loopback
//! (aiosmtpd, started by scripts/services.sh, delivering into a Maildir).

use crate::common;

use std::time::Duration;

use common::{TestApp, jpeg};
use proofsheet_core::{Clock, Periodic, Policy, Scheduler};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn smtp() -> Option<(String, std::path::PathBuf)> {
    match (std::env::var("PROOFSHEET_TEST_SMTP_URL"), std::env::var("PROOFSHEET_TEST_MAILDIR")) {
        (Ok(url), Ok(dir)) => Some((url, dir.into())),
        _ => {
            assert!(std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(), "the SMTP server is required");
            eprintln!("PROOFSHEET_TEST_SMTP_URL unset: e-mail tests skipped");
            None
        }
    }
}

/// (subject, whole message) of every message to `to` in the Maildir, but
/// the verification mails: `TestApp::user` verifies through the API at
/// once, racing the mail (which is not sent once the address is verified).
/// Those mails have their own test below.
fn inbox(maildir: &std::path::Path, to: &str) -> Vec<(String, String)> {
    all_mail(maildir, to).into_iter().filter(|m| !m.0.contains("Confirm your e-mail address")).collect()
}

/// Every message to `to`.
fn all_mail(maildir: &std::path::Path, to: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else { continue };
        for e in entries.flatten() {
            // Undo quoted-printable soft line breaks and `=3D`, enough to find URLs.
            let text = std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=");
            let header = |name: &str| {
                text.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned()).unwrap_or_default()
            };
            if header("To:").contains(to) {
                out.push((header("Subject:"), text.clone()));
            }
        }
    }
    out
}

async fn wait_mail(maildir: &std::path::Path, to: &str, n: usize) -> Vec<(String, String)> {
    for _ in 0..300 {
        let got = inbox(maildir, to);
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("expected {n} message(s) to {to}, got {:?}", inbox(maildir, to));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_sends_its_four_e_mails() {
    let Some((url, maildir)) = smtp() else { return };
    let app = TestApp::start_with(|c| {
        c.mail.smtp_url = Some(serde_json::from_value(json!(url)).unwrap());
        c.mail.from = "Studio <studio@proofsheet.test>".into();
    })
    .await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (ph_mail, cl_mail) = (format!("ph-{tag}@mail.test"), format!("cl-{tag}@mail.test"));
    let ph = app.user(&ph_mail, "photographer").await;

    // Sharing an album mails the client.
    let album = app.album(&ph, "private", Some(&cl_mail)).await;
    let shared = wait_mail(&maildir, &cl_mail, 1).await;
    assert!(shared[0].0.contains("shared \"Wedding\" with you"), "{:?}", shared[0].0);
    // Its link signs the client in: one request from the mail to the
    // gallery, with a session cookie.
    let link = shared[0].1.split_whitespace().find(|w| w.contains("/invitations/")).expect("an invitation link");
    let link = link.trim_start_matches("href=\"").split(['"', '<', '>']).next().unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/invitations/", app.url)), "{link}");
    let once = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = once.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "{}", r.text().await.unwrap());
    assert_eq!(r.headers()["location"], format!("/albums/{album}"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    // The session is the client's (the web cookie is an API token too).
    let cl = cookie.strip_prefix("ps_session=").unwrap().split(';').next().unwrap().to_owned();
    assert!(shared[0].1.contains("Content-Type: text/html"), "a plain and an HTML part");

    // An album that closes at the end of 6 January says 6 January (issue
    // 28: it said 7 January, the date its `expires_at` falls on).
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Gala", "visibility": "private", "client_email": cl_mail,
                   "price_per_photo": {"amount": 500, "currency": "EUR"}, "expires_at": "2030-01-07T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let shared = wait_mail(&maildir, &cl_mail, 2).await;
    let gala = shared.iter().find(|m| m.0.contains("\"Gala\"")).expect("the second invitation");
    assert!(gala.1.contains("6 January 2030"), "{}", gala.1);
    assert!(!gala.1.contains("7 January 2030") && !gala.1.contains("2030-01-07"), "{}", gala.1);
    // Under the studio's name, replies to the photographer.
    assert!(gala.1.contains("From: \"Test User\" <studio@proofsheet.test>"), "{}", gala.1);
    assert!(gala.1.contains(&format!("Reply-To: {ph_mail}")), "{}", gala.1);

    // With a studio of its own: its name, its contact, its time zone (an
    // album closing at the end of 6 January in Stockholm closes at 23:00 UTC).
    let engine = &app.server.state.engine;
    let ph_user = engine.users().authenticate(&ph).await.unwrap().unwrap();
    let studio = proofsheet_core::Studio {
        name: "Studio Nord".into(),
        website: None,
        contact_email: Some("hello@nord.test".parse().unwrap()),
        time_zone: "Europe/Stockholm".into(),
        accent: None,
    };
    engine.users().save_studio(&ph_user, studio).await.unwrap();
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Nord", "visibility": "private", "client_email": cl_mail, "client_name": "Maja Berg",
                   "price_per_photo": {"amount": 500, "currency": "EUR"}, "expires_at": "2030-01-06T23:00:00Z"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let shared = wait_mail(&maildir, &cl_mail, 3).await;
    let nord = shared.iter().find(|m| m.0.contains("\"Nord\"")).expect("the third invitation");
    assert!(nord.0.starts_with("Studio Nord shared"), "{}", nord.0);
    assert!(nord.1.contains("6 January 2030 (Europe/Stockholm)"), "{}", nord.1);
    assert!(nord.1.contains("Hello Maja,"), "{}", nord.1);
    assert!(nord.1.contains("From: \"Studio Nord\" <studio@proofsheet.test>"), "{}", nord.1);
    assert!(nord.1.contains("Reply-To: hello@nord.test"), "{}", nord.1);

    // Paying mails the photographer; fulfilment mails the buyer the link.
    assert_eq!(app.upload(&ph, &album, "a.jpg", jpeg(400, 300, 1, false)).await.status(), StatusCode::CREATED);
    let photos = app.wait_processed(&ph, &album, 1).await;
    let r = app.post_json("/orders", Some(&cl), json!({"album_id": album, "photo_ids": [photos[0]["id"]]})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let r = app.post_json(&format!("/orders/{order}/checkout"), Some(&cl), json!({})).await;
    let checkout = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    app.http.post(format!("{checkout}/pay")).send().await.unwrap();
    let paid = app.wait_order(&cl, &order, "fulfilled").await;
    let sale = wait_mail(&maildir, &ph_mail, 1).await;
    assert!(sale[0].0.starts_with("New sale: 1 photo(s)"), "{:?}", sale[0].0);
    assert!(sale[0].1.contains(&order));
    let mails = wait_mail(&maildir, &cl_mail, 4).await;
    let ready = mails.iter().find(|m| m.0.contains("are ready")).expect("download-ready mail");
    // The mail links the order page (where "Download" lives), not the
    // raw download URL.
    assert!(ready.1.contains(&format!("{}/orders/{order}", app.url)), "{}", ready.1);
    let link = paid["download"]["url"].as_str().unwrap();
    assert!(!ready.1.contains(link), "no raw download link in the mail");

    // Two days before expiry the client is reminded, once.
    let r = app
        .http
        .patch(app.api(&format!("/albums/{album}")))
        .bearer_auth(&ph)
        .json(&json!({"expires_at": (app.clock.now() + chrono::Duration::days(2)).to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let engine = app.server.state.engine.clone();
    let sched = Scheduler::with_defaults(engine, Policy::default()).unwrap();
    assert_eq!(sched.run(Periodic::ExpiryReminders).await.unwrap(), "reminded 1 clients");
    assert_eq!(sched.run(Periodic::ExpiryReminders).await.unwrap(), "reminded 0 clients");
    let mails = wait_mail(&maildir, &cl_mail, 5).await;
    assert!(mails.iter().any(|m| m.0.contains("closes soon")), "{:?}", mails.iter().map(|m| &m.0).collect::<Vec<_>>());
    app.wait_idle().await;
    assert_eq!(inbox(&maildir, &cl_mail).len(), 5, "no second reminder");
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_mail_server_never_blocks_the_sale_and_is_retried() {
    let app = TestApp::start_with(|c| {
        // A port nobody listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        c.mail.smtp_url = Some(serde_json::from_value(json!(format!("smtp://127.0.0.1:{port}"))).unwrap());
    })
    .await;
    let ph = app.user("ph@down.test", "photographer").await;
    let album = app.album(&ph, "private", Some("cl@down.test")).await;
    assert!(!album.is_empty(), "the album is made although the mail cannot go");
    let queue = &app.server.state.engine.backends().queue;
    for _ in 0..100 {
        let jobs = queue.list_jobs(None, proofsheet_core::PageRequest::first()).await.unwrap();
        if let Some(j) = jobs.items.iter().find(|j| j.kind == "notify" && j.last_error.is_some()) {
            assert_eq!(j.status, proofsheet_core::JobStatus::Queued, "queued again with backoff");
            assert!(j.run_at > app.clock.now(), "not before its backoff");
            assert!(j.last_error.as_ref().unwrap().contains("sending an e-mail"));
            app.server.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the notification job never failed and retried");
}

/// Registration mails a link that proves the mailbox; a second
/// registration of the address mails its owner instead of telling the
/// registrant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_mails_a_working_verification_link() {
    let Some((url, maildir)) = smtp() else { return };
    let app = TestApp::start_with(|c| c.mail.smtp_url = Some(serde_json::from_value(json!(url)).unwrap())).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let to = format!("new-{tag}@mail.test");
    app.registered(&to, "client").await;
    let mut mail = None;
    for _ in 0..300 {
        mail = all_mail(&maildir, &to).into_iter().find(|m| m.0.contains("Confirm your e-mail address"));
        if mail.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, text) = mail.expect("a verification mail");
    let start = text.find(&format!("{}/verify-email?token=", app.url)).expect("the link");
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect();
    let verify_token = link.split("token=").nth(1).unwrap().to_owned();
    let r =
        app.post_json("/users/verify-email", None, json!({"token": verify_token, "password": "correct horse"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = app.sign_in(&to, "correct horse").await.expect("verified, with the password kept");
    let me: Value = app.get("/users/me", Some(&token)).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
    // The same address again: the owner hears of it by mail.
    let r = app
        .post_json(
            "/users",
            None,
            json!({"email": to, "password": "another password", "name": "X", "surname": "Y", "role": "client"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    for _ in 0..300 {
        if all_mail(&maildir, &to).iter().any(|m| m.0.contains("already have a Proofsheet account")) {
            app.server.shutdown().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no account-exists mail");
}

/// `POST /sessions/email-link`: 202 for any address, a mail only for one
/// that may sign in (an account, or a photographer's invitation); the
/// mailed token makes a session once, proves the mailbox, and makes the
/// invited client's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_links_work_once_and_tell_nobody_who_has_an_account() {
    let Some((url, maildir)) = smtp() else { return };
    let app = TestApp::start_with(|c| c.mail.smtp_url = Some(serde_json::from_value(json!(url)).unwrap())).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (invited, stranger) = (format!("inv-{tag}@mail.test"), format!("nobody-{tag}@mail.test"));
    let ph = app.user(&format!("ph-{tag}@mail.test"), "photographer").await;
    let album = app.album(&ph, "private", Some(&invited)).await;
    for to in [&invited, &stranger] {
        let r =
            app.post_json("/sessions/email-link", None, json!({"email": to, "next": format!("/albums/{album}")})).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "the same answer for {to}");
    }
    let r = app.post_json("/sessions/email-link", None, json!({"email": "not an address"})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let mut link = None;
    for _ in 0..300 {
        link = all_mail(&maildir, &invited).into_iter().find(|m| m.0.contains("sign-in link")).map(|m| m.1);
        if link.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = link.expect("a sign-in mail to the invited address");
    let start = text.find(&format!("{}/signin/link?token=", app.url)).expect("the link");
    let url: String = text[start..].chars().take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<').collect();
    assert!(url.contains(&format!("next=%2Falbums%2F{album}")), "{url}");
    let token = url.split("token=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    let r = app.post_json("/sessions/email-link/exchange", None, json!({"token": token})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let session = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let me: Value = app.get("/users/me", Some(&session)).await.json().await.unwrap();
    assert_eq!((me["role"].as_str(), me["email_verified"].as_bool()), (Some("client"), Some(true)));
    assert_eq!(app.get(&format!("/albums/{album}"), Some(&session)).await.status(), StatusCode::OK);
    let again = app.post_json("/sessions/email-link/exchange", None, json!({"token": token})).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "a link works once");
    let forged = app.post_json("/sessions/email-link/exchange", None, json!({"token": "A".repeat(64)})).await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    // Favourites: the client marks, the owner sees them per client.
    app.upload(&ph, &album, "f.jpg", jpeg(320, 240, 2, false)).await;
    let photo = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let put = app.http.put(format!("{}/api/v1/photos/{photo}/favourite", app.url)).bearer_auth(&session).send().await;
    assert_eq!(put.unwrap().status(), StatusCode::NO_CONTENT);
    let favs: Value = app.get(&format!("/albums/{album}/favourites"), Some(&ph)).await.json().await.unwrap();
    assert_eq!(favs["clients"][0]["email"], invited.as_str());
    assert_eq!(favs["clients"][0]["photo_ids"], json!([photo]));
    // Every queued mail has been sent or dropped once the queue is idle.
    app.wait_idle().await;
    assert!(all_mail(&maildir, &stranger).is_empty(), "no mail to an address that may not sign in");
    app.server.shutdown().await;
}

/// Sign-in links are limited per address (`limits.email_links_per_address_per_hour`),
/// whatever the case of the address and whether or not it has an account;
/// other addresses are not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_links_are_limited_per_address() {
    let app = TestApp::start_with(|c| {
        c.limits.enabled = true;
        c.limits.email_links_per_address_per_hour = 2;
        c.limits.email_links_per_minute = 1000;
    })
    .await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (a, b) = (format!("a-{tag}@mail.test"), format!("b-{tag}@mail.test"));
    for to in [a.clone(), a.to_uppercase()] {
        let r = app.post_json("/sessions/email-link", None, json!({"email": to})).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED, "{to}");
    }
    let r = app.post_json("/sessions/email-link", None, json!({"email": a})).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS, "the third link to the same address in an hour");
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 3600, "Retry-After {wait}");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "rate_limited");
    let r = app.post_json("/sessions/email-link", None, json!({"email": b})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED, "another address is not held up");
    app.server.shutdown().await;
}

/// The invitation of an album published with photos shows its cover: the
/// owner's choice, as an inline JPEG part (`Content-ID: <cover>`) that the
/// HTML part shows as `cid:cover`, byte for byte the stored thumbnail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_shows_the_albums_cover() {
    let Some((url, maildir)) = smtp() else { return };
    let app = TestApp::start_with(|c| c.mail.smtp_url = Some(serde_json::from_value(json!(url)).unwrap())).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (ph_mail, cl_mail) = (format!("ph-{tag}@cover.test"), format!("cl-{tag}@cover.test"));
    let ph = app.user(&ph_mail, "photographer").await;
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Coast", "visibility": "private", "client_email": cl_mail, "draft": true,
                   "price_per_photo": {"amount": 500, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let album = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for (name, seed) in [("a.jpg", 1), ("b.jpg", 2)] {
        app.upload(&ph, &album, name, jpeg(640, 427, seed, true)).await;
    }
    let photos = app.wait_processed(&ph, &album, 2).await;
    let b = photos.iter().find(|p| p["filename"] == "b.jpg").unwrap()["id"].as_str().unwrap().to_owned();
    let (status, _) = app.patch_album(&ph, &album, json!({"cover_photo_id": b, "draft": false})).await;
    assert_eq!(status, StatusCode::OK);
    wait_mail(&maildir, &cl_mail, 1).await;
    // The raw message (all_mail undoes quoted-printable, which would eat
    // the base64 padding).
    let raw = ["new", "cur"]
        .iter()
        .filter_map(|sub| std::fs::read_dir(maildir.join(sub)).ok())
        .flatten()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default().replace("\r\n", "\n"))
        .find(|m| m.contains(&cl_mail))
        .expect("the invitation");
    assert!(raw.contains("multipart/related"), "{raw}");
    let (_, part) = raw.split_once("Content-ID: <cover>").expect("an inline part with the cover's id");
    let (headers, body) = part.split_once("\n\n").unwrap();
    assert!(headers.contains("Content-Type: image/jpeg") && headers.contains("inline"), "{headers}");
    let b64: String = body.lines().take_while(|l| !l.starts_with("--")).collect::<Vec<_>>().concat();
    use base64::Engine as _;
    let jpeg_bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).expect("base64");
    let thumb = app.get(&format!("/photos/{b}/thumbnail"), Some(&ph)).await.bytes().await.unwrap();
    assert_eq!(jpeg_bytes, thumb.to_vec(), "the cover is the chosen photo's thumbnail");
    let html = wait_mail(&maildir, &cl_mail, 1).await.remove(0).1;
    assert!(html.contains("src=\"cid:cover\"") && html.contains("alt=\"Coast\""), "{html}");
}
