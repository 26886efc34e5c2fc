//! Client access needs a proven mailbox: an account registered with the
//! invited address signs in only once a mailed link proves it, and that
//! proof hands the account to the mailbox (a stranger who registered the
//! address first keeps no session and no password); registration never
//! tells whether an address has an account.

use crate::common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Issue 27, finding 1: a stranger registers the invited client's address
/// with his own password (and, as before these rules, held a session). The
/// client then proves the mailbox, by a sign-in link or by the verification
/// mail: the stranger's session and password stop working, and the client
/// alone holds the account, sets a password, sees where it is signed in and
/// signs out everywhere else.
async fn a_stranger_who_registered_the_address_first_keeps_nothing(app: &TestApp) {
    let ph = app.user("ph@verify.test", "photographer").await;
    let public = app.album(&ph, "public", None).await;
    for (bride, how) in [("bride@verify.test", "sign-in link"), ("groom@verify.test", "verification mail")] {
        let album = app.album(&ph, "private", Some(bride)).await;
        let created = app.registered(bride, "client").await;
        assert_eq!(created["email_verified"], false);

        // Before the proof, the stranger's password opens nothing, with the
        // same answer as a wrong password.
        let early = app.post_json("/sessions", None, json!({"email": bride, "password": "correct horse"})).await;
        let wrong =
            app.post_json("/sessions", None, json!({"email": "ph@verify.test", "password": "wrong horse"})).await;
        assert_eq!((early.status(), wrong.status()), (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED), "{how}");
        assert_eq!(early.json::<Value>().await.unwrap(), wrong.json::<Value>().await.unwrap(), "{how}");
        // A session he held from before these rules opens nothing either.
        let old = format!("stranger-session-{}", uuid::Uuid::new_v4());
        let id: proofsheet_core::UserId = created["id"].as_str().unwrap().parse().unwrap();
        let now = chrono::Utc::now();
        let session = proofsheet_core::Session {
            token_hash: proofsheet_core::token_hash(&old),
            user_id: id,
            expires_at: now + chrono::Duration::days(1),
            created_at: now,
        };
        app.server.state.engine.backends().metadata.insert_session(&session).await.unwrap();
        assert_eq!(app.get("/users/me", Some(&old)).await.status(), StatusCode::UNAUTHORIZED, "{how}");
        // (An album page takes anonymous callers: a dead token sees what
        // anyone sees, and this album is private.)
        assert_eq!(app.get(&format!("/albums/{album}"), Some(&old)).await.status(), StatusCode::NOT_FOUND);

        // The client proves the mailbox.
        if how == "verification mail" {
            let token = app.verification_token(&created).await;
            let r = app.post_json("/users/verify-email", None, json!({"token": token})).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(r.json::<Value>().await.unwrap()["email_verified"], true);
        }
        let r = app.post_json("/sessions/email-link", None, json!({"email": bride})).await;
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let link = app.sign_in_link_token(bride).await;
        let r = app.post_json("/sessions/email-link/exchange", None, json!({"token": link})).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{how}");
        let client = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
        assert_eq!(app.get(&format!("/albums/{album}"), Some(&client)).await.status(), StatusCode::OK, "{how}");

        // The stranger keeps nothing: his session ended, his password is gone.
        assert_eq!(app.get("/users/me", Some(&old)).await.status(), StatusCode::UNAUTHORIZED, "{how}");
        assert_eq!(app.get(&format!("/albums/{album}"), Some(&old)).await.status(), StatusCode::NOT_FOUND);
        assert_eq!(app.sign_in(bride, "correct horse").await, None, "{how}: the stranger's password is cleared");

        // The client sets a password of their own (none is needed first).
        let r = app.put_json("/users/me/password", Some(&client), json!({"new_password": "the bride's own"})).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{how}");
        assert_eq!(app.sign_in(bride, "correct horse").await, None);
        let second = app.sign_in(bride, "the bride's own").await.expect("the client's password works");

        // Where the account is signed in; "sign out everywhere" keeps only the caller.
        let listed: Value = app.get("/sessions", Some(&client)).await.json().await.unwrap();
        let items = listed["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{listed}");
        assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1, "{listed}");
        assert!(listed["next_cursor"].is_null());
        let r = app.http.delete(app.api("/sessions")).bearer_auth(&second).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/users/me", Some(&client)).await.status(), StatusCode::UNAUTHORIZED, "ended");
        assert_eq!(app.get("/users/me", Some(&second)).await.status(), StatusCode::OK, "the caller's stays");

        // A password change needs the current one and ends the other sessions.
        let third = app.sign_in(bride, "the bride's own").await.unwrap();
        let change = |current: Option<&str>| {
            let mut body = json!({"new_password": "changed again"});
            if let Some(c) = current {
                body["current_password"] = json!(c);
            }
            app.put_json("/users/me/password", Some(&second), body)
        };
        let r = change(None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "current_password_required");
        let r = change(Some("not it at all")).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "wrong_password");
        let r = app.put_json("/users/me/password", Some(&second), json!({"new_password": "short"})).await;
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(change(Some("the bride's own")).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(app.get("/users/me", Some(&third)).await.status(), StatusCode::UNAUTHORIZED, "other sessions end");
        assert_eq!(app.get("/users/me", Some(&second)).await.status(), StatusCode::OK);
        assert_eq!(app.sign_in(bride, "the bride's own").await, None);
        assert!(app.sign_in(bride, "changed again").await.is_some());
    }
    // Without a proven address nothing private opens: an unverified
    // registration never gets a session at all.
    app.registered("late@verify.test", "client").await;
    assert_eq!(app.sign_in("late@verify.test", "correct horse").await, None);
    let listed: Value = app.get("/albums", Some(&ph)).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().iter().any(|a| a["id"] == public.as_str()));
    // Forged and tampered verification tokens change nothing.
    for token in ["", "garbage", &"A".repeat(75)] {
        let r = app.post_json("/users/verify-email", None, json!({"token": token})).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{token:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_registered_the_address_first_keeps_nothing_on_sqlite() {
    let app = TestApp::start().await;
    a_stranger_who_registered_the_address_first_keeps_nothing(&app).await;
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_who_registered_the_address_first_keeps_nothing_on_postgres() {
    let Some(app) = TestApp::start_scale_out().await else { return };
    a_stranger_who_registered_the_address_first_keeps_nothing(&app).await;
    app.server.shutdown().await;
}

/// The registrant who confirms with the password they chose keeps it; the
/// web form's mailed link page signs in; a GET of the link verifies nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registrant_keeps_the_password_by_typing_it_when_confirming() {
    let app = TestApp::start().await;
    let created = app.registered("keep@verify.test", "photographer").await;
    let token = app.verification_token(&created).await;
    let page = app.http.get(format!("{}/verify-email?token={token}", app.url)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Confirm my e-mail address"));
    assert_eq!(app.sign_in("keep@verify.test", "correct horse").await, None, "a GET verifies nothing");
    let r = app.post_json("/users/verify-email", None, json!({"token": token, "password": "wrong horse"})).await;
    assert_eq!(r.status(), StatusCode::OK, "a wrong password still proves the mailbox");
    assert_eq!(app.sign_in("keep@verify.test", "correct horse").await, None, "but does not keep the password");
    let kept = app.registered("kept@verify.test", "photographer").await;
    let token = app.verification_token(&kept).await;
    let r = app.post_json("/users/verify-email", None, json!({"token": token, "password": "correct horse"})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.sign_in("kept@verify.test", "correct horse").await.is_some(), "the right password is kept");
    // Using the link twice is harmless and changes nothing.
    let r = app.post_json("/users/verify-email", None, json!({"token": token})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.sign_in("kept@verify.test", "correct horse").await.is_some());
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

/// The median of some durations, in microseconds.
fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

/// Issue 27, finding 4: a sign-in-link request does the same work for an
/// address with an account as for one without (it stores a link and
/// queues its mail either way; the worker drops the mail of an address
/// that may not sign in), so its time tells nothing: the medians of
/// alternating requests are within 10 %. The shared machine adds noise,
/// so up to three rounds are measured; one within 10 % passes (the hole
/// this closes showed 80 % on every request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_links_take_the_same_time_for_known_and_unknown_addresses() {
    // The workers sleep through the measurement (their first poll is at
    // start), so what is timed is the request alone: it is the request's
    // answer time that an enumerator sees.
    let app = TestApp::start_with(|c| {
        c.limits.enabled = false;
        c.worker.poll_ms = 600_000;
    })
    .await;
    let known: Vec<String> = (0..4).map(|i| format!("known-{i}@timing.test")).collect();
    for k in &known {
        app.user(k, "client").await;
    }
    let mut ratios = Vec::new();
    for round in 0..3 {
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for i in 0..100 {
            let mut pair = [
                (known[i % known.len()].clone(), &mut with),
                (format!("nobody-{round}-{i}@timing.test"), &mut without),
            ];
            // Alternate which goes first, so neither always runs warm.
            if i % 2 == 1 {
                pair.swap(0, 1);
            }
            for (addr, into) in pair {
                let started = std::time::Instant::now();
                let r = app.post_json("/sessions/email-link", None, json!({"email": addr})).await;
                into.push(started.elapsed().as_micros());
                assert_eq!(r.status(), StatusCode::ACCEPTED);
            }
        }
        let (a, b) = (median(with), median(without));
        let ratio = a.max(b) as f64 / a.min(b).max(1) as f64;
        eprintln!("round {round}: median {a} µs with an account, {b} µs without (ratio {ratio:.3})");
        if ratio <= 1.10 {
            app.server.shutdown().await;
            return;
        }
        ratios.push(ratio);
    }
    panic!("sign-in-link requests take different times with and without an account: ratios {ratios:?}");
}

/// Issue 27, findings 4 and 5: the web register form answers the same for
/// a new and a taken address (200, "Check your e-mail"; it answered 303 and
/// 200), a password sign-in before the proof answers like a wrong password,
/// and registering a taken address over and over mails its owner at most
/// once a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_register_form_gives_one_answer_and_mails_a_taken_address_once_a_day() {
    let app = TestApp::start_with(|c| c.limits.enabled = false).await;
    app.user("taken@form.test", "photographer").await;
    let mut answers = Vec::new();
    for email in ["taken@form.test", "fresh@form.test"] {
        let (cookie, csrf) = app.web_form("/register").await;
        let r = app
            .http
            .post(format!("{}/register", app.url))
            .header("cookie", cookie)
            .form(&[
                ("csrf", csrf.as_str()),
                ("name", "Eve"),
                ("surname", "Doe"),
                ("email", email),
                ("password", "correct horse"),
                ("role", "client"),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let html = r.text().await.unwrap();
        let title = html.split("<title>").nth(1).unwrap().split("</title>").next().unwrap().to_owned();
        answers.push((status, title.replace(email, "ADDRESS")));
    }
    assert_eq!(answers[0], answers[1], "one answer for a taken and a new address");
    assert_eq!(answers[0].0, StatusCode::OK);
    assert!(answers[0].1.starts_with("Check your e-mail"), "{:?}", answers[0]);

    // Fifteen registrations of the taken address: one mail to its owner.
    for _ in 0..15 {
        let body = json!({"email": "taken@form.test", "password": "x-password", "name": "A", "surname": "B", "role": "client"});
        assert_eq!(app.post_json("/users", None, body).await.status(), StatusCode::CREATED);
    }
    app.wait_idle().await;
    let exists_mails = app
        .notifications()
        .await
        .into_iter()
        .filter(
            |n| matches!(n, proofsheet_core::Notification::AccountExists { to } if to.as_str() == "taken@form.test"),
        )
        .count();
    assert_eq!(exists_mails, 1, "16 registrations of a taken address, one mail to its owner");
    app.server.shutdown().await;
}
