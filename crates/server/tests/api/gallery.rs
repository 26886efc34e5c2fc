//! The gallery's contract in the API: drafts, the cover, the photo order
//! (capture time, then the owner's), the client's name.

use crate::common;

use common::{TestApp, jpeg};
use proofsheet_core::Notification;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn invitations(notes: &[Notification], to: &str) -> usize {
    notes.iter().filter(|n| matches!(n, Notification::AlbumShared { to: t, .. } if t.as_str() == to)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_its_owners_alone_until_published() {
    let app = TestApp::start().await;
    let ph = app.user("ph@drafts.test", "photographer").await;
    let cl = app.user("maja@drafts.test", "client").await;
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Berg wedding", "visibility": "public", "client_email": "maja@drafts.test",
                   "client_name": "Maja Berg", "draft": true, "price_per_photo": {"amount": 500, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let album: Value = r.json().await.unwrap();
    let id = album["id"].as_str().unwrap().to_owned();
    assert_eq!((album["draft"].as_bool(), album["client_name"].as_str()), (Some(true), Some("Maja Berg")));
    // Public, but a draft: 404 to its client, to anyone, and to the photo list.
    for token in [Some(cl.as_str()), None] {
        assert_eq!(app.get(&format!("/albums/{id}"), token).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/albums/{id}/photos"), token).await.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(app.get(&format!("/albums/{id}"), Some(&ph)).await.status(), StatusCode::OK);
    let listed: Value = app.get("/albums", Some(&cl)).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0, "not listed to the client");
    let (status, page) = app.page_as(&cl, &format!("/albums/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nor shown in the web app: {}", &page[..page.len().min(200)]);
    app.wait_idle().await;
    assert_eq!(invitations(&app.notifications().await, "maja@drafts.test"), 0, "a draft mails nobody");

    // Publishing sends the invitation once and opens the album.
    let (status, body) = app.patch_album(&ph, &id, json!({"draft": false})).await;
    assert_eq!((status, body["draft"].as_bool()), (StatusCode::OK, Some(false)));
    assert_eq!(app.get(&format!("/albums/{id}"), Some(&cl)).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/albums/{id}"), None).await.status(), StatusCode::OK, "public once published");
    app.wait_idle().await;
    assert_eq!(invitations(&app.notifications().await, "maja@drafts.test"), 1, "published: invited once");
    let (status, _) = app.patch_album(&ph, &id, json!({"name": "Berg wedding, Saturday"})).await;
    assert_eq!(status, StatusCode::OK);
    app.wait_idle().await;
    assert_eq!(invitations(&app.notifications().await, "maja@drafts.test"), 1, "other changes mail nobody");

    // Albums made without `draft` are published, as in v1.
    let plain = app.album(&ph, "private", Some("maja@drafts.test")).await;
    let got: Value = app.get(&format!("/albums/{plain}"), Some(&cl)).await.json().await.unwrap();
    assert_eq!(got["draft"].as_bool(), Some(false));
    // A name too long is refused.
    let (status, body) = app.patch_album(&ph, &id, json!({"client_name": "x".repeat(101)})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_client_name")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_come_in_capture_order_and_the_owner_can_reorder_them_and_pick_the_cover() {
    let app = TestApp::start().await;
    let ph = app.user("ph@order.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    // Uploaded c, a, b: no EXIF time, so by file name.
    for name in ["c.jpg", "a.jpg", "b.jpg"] {
        assert_eq!(app.upload(&ph, &album, name, jpeg(60, 40, 1, true)).await.status(), StatusCode::CREATED);
    }
    let photos = app.wait_processed(&ph, &album, 3).await;
    let names = |v: &Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|p| p["filename"].as_str().unwrap().to_owned()).collect()
    };
    let list = || async { app.get(&format!("/albums/{album}/photos"), None).await.json::<Value>().await.unwrap() };
    assert_eq!(names(&list().await), ["a.jpg", "b.jpg", "c.jpg"]);
    let id_of = |name: &str| photos.iter().find(|p| p["filename"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    let order_path = format!("/albums/{album}/order");
    let put = |body: Value| app.put_json(&order_path, Some(&ph), body);
    let r = put(json!({"photo_ids": [id_of("c.jpg"), id_of("a.jpg")]})).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(names(&list().await), ["c.jpg", "a.jpg", "b.jpg"], "placed first, the rest after");
    // A repeated id or another album's photo: 422, nothing changes.
    let r = put(json!({"photo_ids": [id_of("b.jpg"), id_of("b.jpg")]})).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "invalid_photo_order");
    assert_eq!(names(&list().await), ["c.jpg", "a.jpg", "b.jpg"]);
    // The studio's drag and drop: the grid's form with before:/after: and
    // `of`, saved as "Move earlier" is; another album's photo is refused.
    let (csrf_cookie, csrf) = app.web_form_as(&format!("/albums/{album}"), Some(&ph)).await;
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let drag = |act: String, of: String| {
        let form = [("csrf", csrf.clone()), ("act", act), ("of", of)];
        no_follow
            .post(format!("{}/albums/{album}/photos", app.url))
            .header("cookie", format!("ps_session={ph}; {csrf_cookie}"))
            .form(&form)
            .send()
    };
    let r = drag(format!("before:{}", id_of("b.jpg")), id_of("c.jpg")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(names(&list().await), ["b.jpg", "c.jpg", "a.jpg"], "b dropped before c");
    let r = drag(format!("after:{}", id_of("b.jpg")), id_of("a.jpg")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(names(&list().await), ["c.jpg", "a.jpg", "b.jpg"], "b dropped after a, the last");
    let elsewhere = app.album(&ph, "public", None).await;
    app.upload(&ph, &elsewhere, "y.jpg", jpeg(60, 40, 1, true)).await;
    let foreign = app.wait_processed(&ph, &elsewhere, 1).await[0]["id"].as_str().unwrap().to_owned();
    let r = drag(format!("before:{}", id_of("b.jpg")), foreign).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "beside another album's photo");
    assert_eq!(names(&list().await), ["c.jpg", "a.jpg", "b.jpg"], "nothing moved");
    // Only the owner orders.
    let cl = app.user("cl@order.test", "client").await;
    let r = app.put_json(&format!("/albums/{album}/order"), Some(&cl), json!({"photo_ids": []})).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // The cover: a photo of this album, or null for the first.
    let (status, body) = app.patch_album(&ph, &album, json!({"cover_photo_id": id_of("b.jpg")})).await;
    assert_eq!((status, body["cover_photo_id"].as_str()), (StatusCode::OK, Some(id_of("b.jpg").as_str())));
    let other = app.album(&ph, "public", None).await;
    app.upload(&ph, &other, "x.jpg", jpeg(60, 40, 1, true)).await;
    let stranger = app.wait_processed(&ph, &other, 1).await[0]["id"].as_str().unwrap().to_owned();
    let (status, body) = app.patch_album(&ph, &album, json!({"cover_photo_id": stranger})).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_cover")));
    let (status, body) = app.patch_album(&ph, &album, json!({"cover_photo_id": null})).await;
    assert_eq!((status, body["cover_photo_id"].clone()), (StatusCode::OK, Value::Null));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_link_signs_the_client_in_and_makes_their_account() {
    let app = TestApp::start().await;
    let ph = app.user("ph@invite.test", "photographer").await;
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Berg wedding", "visibility": "private", "client_email": "maja@invite.test",
                   "client_name": "Maja Berg", "price_per_photo": {"amount": 500, "currency": "EUR"}}),
        )
        .await;
    let album: proofsheet_core::AlbumId = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
    let engine = &app.server.state.engine;
    let in_days = |d: i64| chrono::Utc::now() + chrono::Duration::days(d);
    let maja: proofsheet_core::Email = "maja@invite.test".parse().unwrap();
    let token = engine.link_signer().invitation_token(album, &maja, in_days(30));
    let once = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let open = |token: String| {
        let once = once.clone();
        let url = format!("{}/invitations/{token}", app.url);
        async move { once.get(url).send().await.unwrap() }
    };
    let r = open(token.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/albums/{album}"));
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let session = cookie.trim_start_matches("ps_session=").to_owned();
    // The account is the client's, named as the photographer typed it,
    // with the mailbox proven; it sees the album.
    let me: Value = app.get("/users/me", Some(&session)).await.json().await.unwrap();
    assert_eq!((me["name"].as_str(), me["surname"].as_str()), (Some("Maja"), Some("Berg")));
    assert_eq!((me["role"].as_str(), me["email_verified"].as_bool()), (Some("client"), Some(true)));
    assert_eq!(app.get(&format!("/albums/{album}"), Some(&session)).await.status(), StatusCode::OK);
    // The link works again (a second device), for the same account.
    let r = open(token.clone()).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Forged, expired, for another address, or for an album whose client
    // changed: 401 and no session.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 2;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let expired = engine.link_signer().invitation_token(album, &maja, in_days(-1));
    let stranger = engine.link_signer().invitation_token(album, &"eve@invite.test".parse().unwrap(), in_days(30));
    for bad in [String::from_utf8(forged).unwrap(), expired, stranger, "x".into()] {
        let r = open(bad).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().starts_with("ps_session=")));
    }
    let (status, _) = app.patch_album(&ph, &album.to_string(), json!({"client_email": "other@invite.test"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(open(token).await.status(), StatusCode::UNAUTHORIZED, "the client changed: the old link is dead");

    // A draft's link opens nothing; nor does one to a photographer's address.
    let (status, _) = app.patch_album(&ph, &album.to_string(), json!({"draft": true})).await;
    assert_eq!(status, StatusCode::OK);
    let other: proofsheet_core::Email = "other@invite.test".parse().unwrap();
    assert_eq!(
        open(engine.link_signer().invitation_token(album, &other, in_days(30))).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) =
        app.patch_album(&ph, &album.to_string(), json!({"draft": false, "client_email": "ph@invite.test"})).await;
    assert_eq!(status, StatusCode::OK);
    let own: proofsheet_core::Email = "ph@invite.test".parse().unwrap();
    assert_eq!(
        open(engine.link_signer().invitation_token(album, &own, in_days(30))).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_album_names_its_studio_and_the_studio_has_settings() {
    let app = TestApp::start().await;
    let ph = app.user("ph@closed.test", "photographer").await;
    let cl = app.user("cl@closed.test", "client").await;
    let (status, page) = app.page_as(&ph, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    for label in ["Studio name", "Website", "Contact email", "Time zone", "Accent colour", "Save settings"] {
        assert!(page.contains(label), "the settings page has {label}");
    }
    assert!(page.contains(r#"value="Europe/Stockholm""#), "the time zones are offered");
    let (status, _) = app.page_as(&cl, "/settings").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "clients have no studio");
    let engine = &app.server.state.engine;
    let user = engine.users().authenticate(&ph).await.unwrap().unwrap();
    let nord = proofsheet_core::Studio {
        name: "Studio Nord".into(),
        website: Some("https://nord.test".into()),
        contact_email: Some("hello@nord.test".parse().unwrap()),
        time_zone: "Europe/Stockholm".into(),
        accent: Some("#AA3300".into()),
    };
    engine.users().save_studio(&user, nord).await.unwrap();
    let album = app.album(&ph, "private", Some("cl@closed.test")).await;
    let (status, page) = app.page_as(&cl, &format!("/albums/{album}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Studio Nord"), "the gallery carries the studio's name");
    assert!(page.contains(r#"href="/accent/aa3300.css""#), "and its accent colour");
    let css = app.http.get(format!("{}/accent/aa3300.css", app.url)).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(css.text().await.unwrap().trim(), ":root{--accent:#aa3300;}");
    let bad = app.http.get(format!("{}/accent/zz3300.css", app.url)).send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::NOT_FOUND);
    let (status, _) = app.patch_album(&ph, &album, json!({"expires_at": "2020-01-01T00:00:00Z"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = app.page_as(&cl, &format!("/albums/{album}")).await;
    assert_eq!(status, StatusCode::GONE);
    assert!(page.contains("has closed") && page.contains("Studio Nord") && page.contains("hello@nord.test"), "{page}");
    // A stranger learns nothing of it.
    let other = app.user("eve@closed.test", "client").await;
    assert_eq!(app.page_as(&other, &format!("/albums/{album}")).await.0, StatusCode::NOT_FOUND);
}

/// `/albums/{id}/tiles`: the gallery's later tiles as the server's own
/// markup, after a cursor or for chosen photos in the order given, under
/// the album's rules (a draft's tiles are its owner's alone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gallery_tiles_come_from_the_server_under_the_albums_rules() {
    let app = TestApp::start().await;
    let ph = app.user("ph@tiles.test", "photographer").await;
    let cl = app.user("cl@tiles.test", "client").await;
    let album = app.album(&ph, "private", Some("cl@tiles.test")).await;
    for (name, w, h) in [("a.jpg", 300, 200), ("b.jpg", 200, 300), ("c.jpg", 600, 200)] {
        app.upload(&ph, &album, name, jpeg(w, h, 1, true)).await;
    }
    let photos = app.wait_processed(&ph, &album, 3).await;
    let id = |name: &str| photos.iter().find(|p| p["filename"] == name).unwrap()["id"].as_str().unwrap().to_owned();
    // After the first photo: the other two, with their aspect classes.
    let first: Value = app.get(&format!("/albums/{album}/photos?limit=1"), Some(&cl)).await.json().await.unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let path = format!("/albums/{album}/tiles?cursor={}", urlencoding(cursor));
    let (status, html) = app.page_as(&cl, &path).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.starts_with("<ul>") || html.starts_with("<ul "), "a fragment, not a page: {html}");
    assert_eq!(html.matches("<li ").count(), 2, "{html}");
    assert!(!html.contains("data-next"), "the end of the album: {html}");
    assert!(html.contains("class=\"ar-67\"") && html.contains("class=\"ar-300\""), "2:3 and 3:1: {html}");
    assert!(html.contains("aria-label=\"Favourite\""), "a client's tiles have Favourite");
    // Chosen photos, in the order asked; a photo of no album is left out.
    let unknown = proofsheet_core::PhotoId::new();
    let (status, html) = app
        .page_as(&cl, &format!("/albums/{album}/tiles?photo={}&photo={unknown}&photo={}", id("c.jpg"), id("a.jpg")))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (c, a) = (html.find(&id("c.jpg")).unwrap(), html.find(&id("a.jpg")).unwrap());
    assert!(c < a, "in the order asked");
    assert_eq!(html.matches("<li ").count(), 2);
    // A stranger and a visitor get the album's status, not its tiles.
    let other = app.user("other@tiles.test", "client").await;
    let (status, html) = app.page_as(&other, &format!("/albums/{album}/tiles?photo={}", id("a.jpg"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!html.contains(&id("a.jpg")));
    let r = app.http.get(format!("{}/albums/{album}/tiles", app.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // A draft's tiles are its owner's alone.
    let (status, _) = app.patch_album(&ph, &album, json!({"draft": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.page_as(&cl, &format!("/albums/{album}/tiles")).await.0, StatusCode::NOT_FOUND);
    let (status, html) = app.page_as(&ph, &format!("/albums/{album}/tiles")).await;
    assert_eq!((status, html.matches("<li ").count()), (StatusCode::OK, 3));
}

fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}
