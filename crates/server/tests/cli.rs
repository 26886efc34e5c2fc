//! The `proofsheet` binary: migrate, admin create-user, serve.

mod common;

use std::process::Command;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn proofsheet(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("PROOFSHEET_CONFIG")
        .output()
        .expect("the binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_are_made_from_the_command_line_and_see_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let out = proofsheet(dir.path(), &["migrate"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = proofsheet(
        dir.path(),
        &["admin", "create-user", "--email", "root@ops.test", "--password", "a long admin password"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin root@ops.test"));
    let again = proofsheet(
        dir.path(),
        &["admin", "create-user", "--email", "root@ops.test", "--password", "a long admin password"],
    );
    assert!(!again.status.success(), "a second account with the same address is refused");
    let bad = proofsheet(
        dir.path(),
        &["admin", "create-user", "--email", "x@ops.test", "--password", "pw", "--role", "wizard"],
    );
    assert!(!bad.status.success());

    let data = dir.path().to_owned();
    let app = TestApp::start_with(|c| c.server.data_dir = data).await;
    let r =
        app.post_json("/sessions", None, json!({"email": "root@ops.test", "password": "a long admin password"})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let admin = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let me: Value = app.get("/users/me", Some(&admin)).await.json().await.unwrap();
    assert_eq!(me["role"], "admin");
    let jobs = app.get("/jobs?status=failed", Some(&admin)).await;
    assert_eq!(jobs.status(), StatusCode::OK);
    assert!(jobs.json::<Value>().await.unwrap()["items"].as_array().unwrap().is_empty());
    let ph = app.user("ph@ops.test", "photographer").await;
    assert_eq!(app.get("/jobs", Some(&ph)).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.get("/reports/sales", Some(&admin)).await.status(), StatusCode::OK);
    app.server.shutdown().await;
}

#[test]
fn serve_refuses_a_bad_configuration_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("PROOFSHEET__STORAGE__KIND", "floppy")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("storage.kind"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("PROOFSHEET__UPLOADS__MAX_BYTE", "5")
        .output()
        .unwrap();
    assert!(!out.status.success(), "unknown keys are refused");
}
