//! The web app's forms, as the REST matrix checks the API: every
//! state-changing page route refuses a post without its CSRF token (403,
//! nothing changed), and the album and order forms answer each kind of
//! caller as the album's and order's rules say, through the test app.

use crate::common;

use common::{TestApp, jpeg};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A browser: its session (if signed in) and the CSRF cookie and token of
/// that session, as a page hands them out.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn browser(app: &TestApp, session: Option<&str>) -> Browser {
    let (csrf_cookie, csrf) = app.web_form_as("/signin", session).await;
    let cookie = match session {
        Some(s) => format!("ps_session={s}; {csrf_cookie}"),
        None => csrf_cookie,
    };
    Browser { cookie, csrf }
}

/// Posts a form as `b`, with (`with_token`) or without its CSRF token;
/// the status, redirects not followed.
async fn post(app: &TestApp, b: &Browser, path: &str, fields: &[(&str, &str)], with_token: bool) -> StatusCode {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    if with_token {
        form.push(("csrf", b.csrf.as_str()));
    }
    http.post(format!("{}{path}", app.url)).header("cookie", &b.cookie).form(&form).send().await.unwrap().status()
}

/// A form: its path, its fields, and the status each caller gets.
type Case<'a> = (String, Vec<(&'a str, &'a str)>, [u16; 5]);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_web_form_checks_its_token_and_its_caller() {
    let app = TestApp::start().await;
    let owner = app.user("owner@web.test", "photographer").await;
    let rival = app.user("rival@web.test", "photographer").await;
    let client = app.user("client@web.test", "client").await;
    let stranger = app.user("stranger@web.test", "client").await;
    let album = app.album(&owner, "private", Some("client@web.test")).await;
    assert_eq!(app.upload(&owner, &album, "a.jpg", jpeg(120, 80, 1, true)).await.status(), StatusCode::CREATED);
    let photo = app.wait_processed(&owner, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    let r = app.post_json("/orders", Some(&client), json!({"album_id": album, "photo_ids": [photo]})).await;
    let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let cover = format!("cover:{photo}");
    let later = format!("later:{photo}");
    // (path, fields, expected per caller: anonymous, owner, rival, client, stranger)
    let forms: Vec<Case> = vec![
        (
            format!("/albums/{album}/settings"),
            vec![("name", "Renamed"), ("client_email", "client@web.test"), ("price", "5.00"), ("currency", "EUR")],
            [303, 303, 404, 403, 404],
        ),
        (format!("/albums/{album}/publish"), vec![], [303, 303, 404, 403, 404]),
        (format!("/albums/{album}/share"), vec![], [303, 303, 404, 403, 404]),
        (format!("/albums/{album}/photos"), vec![("act", cover.as_str())], [303, 303, 404, 403, 404]),
        (format!("/albums/{album}/photos"), vec![("act", later.as_str())], [303, 303, 404, 403, 404]),
        // Paying is the buyer's; the album's owner sees the order but may
        // not pay it, strangers find no such order.
        (format!("/orders/{order}/pay"), vec![], [303, 403, 404, 303, 404]),
        (format!("/orders/{order}/fresh-link"), vec![], [303, 404, 404, 409, 404]),
        ("/settings".to_owned(), vec![("studio_name", "Nord"), ("time_zone", "UTC")], [303, 303, 303, 403, 403]),
    ];
    let sessions = [None, Some(owner.as_str()), Some(rival.as_str()), Some(client.as_str()), Some(stranger.as_str())];
    let names = ["anonymous", "owner", "rival", "client", "stranger"];
    let mut wrong = Vec::new();
    for (path, fields, expected) in &forms {
        for ((session, name), want) in sessions.iter().zip(names).zip(expected) {
            let b = browser(&app, *session).await;
            // Without the token: refused before anything is read.
            let refused = post(&app, &b, path, fields, false).await;
            if refused != StatusCode::FORBIDDEN {
                wrong.push(format!("POST {path} as {name} without a token: {refused}"));
            }
            let got = post(&app, &b, path, fields, true).await;
            if got.as_u16() != *want {
                wrong.push(format!("POST {path} as {name}: {got}, expected {want}"));
            }
        }
    }
    assert!(wrong.is_empty(), "web forms answering otherwise: {wrong:#?}");
    // Only the owner's posts changed the album; a token from one session is
    // worthless in another.
    let got: Value = app.get(&format!("/albums/{album}"), Some(&owner)).await.json().await.unwrap();
    assert_eq!((got["name"].as_str(), got["cover_photo_id"].as_str()), (Some("Renamed"), Some(photo.as_str())));
    let mine = browser(&app, Some(&owner)).await;
    let theirs =
        Browser { cookie: format!("ps_session={rival}; {}", mine.cookie.split("; ").nth(1).unwrap()), csrf: mine.csrf };
    let r = post(&app, &theirs, "/settings", &[("studio_name", "Stolen"), ("time_zone", "UTC")], true).await;
    assert_eq!(r, StatusCode::FORBIDDEN, "another session's token");
}
