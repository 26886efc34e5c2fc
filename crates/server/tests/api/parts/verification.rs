//! Client access needs a proven mailbox: an account registered with the
//! invited address sees nothing private until it uses the mailed link;
//! a stranger who registered the address first never gets in; registration
//! never tells whether an address has an account.

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_album_opens_only_to_a_verified_address() {
    let app = TestApp::start().await;
    let ph = app.user("ph@verify.test", "photographer").await;
    let album = app.album(&ph, "private", Some("bride@verify.test")).await;
    let public = app.album(&ph, "public", None).await;

    // Someone registers the invited address first, and cannot prove it.
    let squatter = app.unverified_user("bride@verify.test", "client").await;
    let me: Value = app.get("/users/me", Some(&squatter)).await.json().await.unwrap();
    assert_eq!(me["email_verified"], false);
    assert_eq!(app.get(&format!("/albums/{album}"), Some(&squatter)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/albums/{album}/photos"), Some(&squatter)).await.status(), StatusCode::NOT_FOUND);
    let listed: Value = app.get("/albums", Some(&squatter)).await.json().await.unwrap();
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![public.as_str()], "public albums only");
    let r = app.post_json("/orders", Some(&squatter), json!({"album_id": album, "photo_ids": [uuid::Uuid::new_v4()]}));
    assert_eq!(r.await.status(), StatusCode::NOT_FOUND);

    // Forged, tampered and foreign tokens change nothing.
    for token in ["", "garbage", &"A".repeat(75)] {
        let r = app.post_json("/users/verify-email", None, json!({"token": token})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{token:?}");
    }
    let other = app.unverified_user("other@verify.test", "client").await;
    let other_me: Value = app.get("/users/me", Some(&other)).await.json().await.unwrap();
    let mut forged = app.verification_token(&other_me).await.into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let r = app.post_json("/users/verify-email", None, json!({"token": String::from_utf8(forged).unwrap()})).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/albums/{album}"), Some(&squatter)).await.status(), StatusCode::NOT_FOUND);

    // The mailed link (its page only shows a button; the form confirms).
    let token = app.verification_token(&me).await;
    let page = app.http.get(format!("{}/verify-email?token={token}", app.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Confirm my e-mail address"));
    assert_eq!(
        app.get(&format!("/albums/{album}"), Some(&squatter)).await.status(),
        StatusCode::NOT_FOUND,
        "a GET verifies nothing"
    );
    let r = app.http.post(format!("{}/verify-email", app.url)).form(&[("token", token.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // Now the address is proven: the album opens.
    assert_eq!(app.get(&format!("/albums/{album}"), Some(&squatter)).await.status(), StatusCode::OK);
    let me: Value = app.get("/users/me", Some(&squatter)).await.json().await.unwrap();
    assert_eq!(me["email_verified"], true);
    let listed: Value = app.get("/albums", Some(&squatter)).await.json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    // Using the link twice is harmless.
    let r = app.post_json("/users/verify-email", None, json!({"token": token})).await;
    assert_eq!(r.status(), StatusCode::OK);
    // Asking for the mail again: 202, verified or not.
    let r = app.post_json("/users/me/verification-email", Some(&other), json!({})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(app.post_json("/users/me/verification-email", None, json!({})).await.status(), StatusCode::UNAUTHORIZED);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_does_not_tell_whether_an_address_has_an_account() {
    let app = TestApp::start().await;
    let body = |email: &str| json!({"email": email, "password": "correct horse", "name": "A", "surname": "B", "role": "client"});
    let taken = app.post_json("/users", None, body("taken@verify.test")).await;
    assert_eq!(taken.status(), StatusCode::CREATED);
    let first: Value = taken.json().await.unwrap();
    let again = app.post_json("/users", None, body("Taken@verify.test")).await;
    let fresh = app.post_json("/users", None, body("fresh@verify.test")).await;
    assert_eq!((again.status(), fresh.status()), (StatusCode::CREATED, StatusCode::CREATED));
    let again: Value = again.json().await.unwrap();
    let fresh: Value = fresh.json().await.unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&fresh), "the same shape");
    assert_eq!((again["email_verified"].as_bool(), fresh["email_verified"].as_bool()), (Some(false), Some(false)));
    assert_ne!(again["id"], first["id"], "no id of the real account leaks");
    // Only one account exists; the CLI can vouch for it.
    let dir = &app.server.state.config.server.data_dir;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["--data-dir", &dir.display().to_string(), "admin", "verify-email", "--email", "taken@verify.test"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = app.post_json("/sessions", None, json!({"email": "taken@verify.test", "password": "correct horse"})).await;
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let me: Value = app.get("/users/me", Some(&token)).await.json().await.unwrap();
    assert_eq!((me["id"].clone(), me["email_verified"].as_bool()), (first["id"].clone(), Some(true)));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["--data-dir", &dir.display().to_string(), "admin", "verify-email", "--email", "nobody@verify.test"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown address is an error");
    app.server.shutdown().await;
}
