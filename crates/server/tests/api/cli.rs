//! The `proofsheet` binary: migrate, admin create-user, serve.

use crate::common;

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
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    // The key (as the variable spelled it) and the values it takes.
    assert!(stderr.contains("storage.kind") && stderr.contains("`fs`, `memory`, `s3`"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("PROOFSHEET__UPLOADS__MAX_BYTE", "5")
        .output()
        .unwrap();
    assert!(!out.status.success(), "unknown keys are refused");
    // An installed plugin that cannot be read stops start-up, named by the
    // key its environment variable makes.
    let out = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("PROOFSHEET__IMAGING__PLUGINS__TILED_TEXT", dir.path().join("missing.wasm"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("plugin tiled_text: cannot read"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_jobs_are_listed_and_retried_from_the_api_and_the_command_line() {
    use proofsheet_core::{Clock, JobQueue, NewJob, PhotoId, SystemClock, Task};
    let dir = tempfile::tempdir().unwrap();
    assert!(
        proofsheet(
            dir.path(),
            &["admin", "create-user", "--email", "ops@jobs.test", "--password", "a long admin password"]
        )
        .status
        .success()
    );
    // Two jobs that failed for good, made directly in the store.
    let store =
        proofsheet_storage::SqliteStore::connect(&format!("sqlite://{}", dir.path().join("proofsheet.db").display()))
            .await
            .unwrap();
    let mut failed = Vec::new();
    for _ in 0..2 {
        let job = NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, SystemClock.now());
        store.enqueue(&job).await.unwrap();
        let claimed = store.claim(SystemClock.now(), chrono::Duration::minutes(5)).await.unwrap().unwrap();
        store.fail(&claimed, "disk on fire", None, SystemClock.now()).await.unwrap();
        failed.push(job.id.to_string());
    }
    drop(store);

    let out = proofsheet(dir.path(), &["jobs", "list", "--status", "failed"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && listing.contains(&failed[0]) && listing.contains("disk on fire"), "{listing}");
    let out = proofsheet(dir.path(), &["jobs", "retry", &failed[0]]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = proofsheet(dir.path(), &["jobs", "retry", &failed[0]]);
    assert!(!again.status.success(), "only failed jobs are retried");
    let out = proofsheet(dir.path(), &["jobs", "run", "expire_orders"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("expire_orders: expired 0 abandoned orders"));
    assert!(!proofsheet(dir.path(), &["jobs", "run", "make_coffee"]).status.success());

    let data = dir.path().to_owned();
    let app = TestApp::start_with(|c| {
        c.server.data_dir = data;
        c.worker.concurrency = 1;
    })
    .await;
    let r =
        app.post_json("/sessions", None, json!({"email": "ops@jobs.test", "password": "a long admin password"})).await;
    let admin = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let ph = app.user("ph@jobs.test", "photographer").await;
    let retry = |token: String, id: String| {
        let http = app.http.clone();
        let url = app.api(&format!("/jobs/{id}/retry"));
        async move { http.post(url).bearer_auth(token).send().await.unwrap() }
    };
    assert_eq!(retry(ph.clone(), failed[1].clone()).await.status(), StatusCode::FORBIDDEN);
    let r = retry(admin.clone(), failed[1].clone()).await;
    assert_eq!(r.status(), StatusCode::OK);
    // The answer is the job as the retry queued it, even if the worker has
    // claimed it since.
    let queued = r.json::<Value>().await.unwrap();
    assert_eq!((&queued["status"], &queued["attempts"]), (&json!("queued"), &json!(0)), "{queued}");
    assert_eq!(retry(admin.clone(), uuid::Uuid::now_v7().to_string()).await.status(), StatusCode::NOT_FOUND);
    // The retried jobs run (their photos no longer exist: nothing to do) and
    // succeed. Counted by kind: the photographer's verification mail is a
    // job too, and may finish before or after them.
    app.wait_idle().await;
    let jobs: Value = app.get("/jobs?status=succeeded", Some(&admin)).await.json().await.unwrap();
    let renders = jobs["items"].as_array().unwrap().iter().filter(|j| j["kind"] == "render_preview").count();
    assert_eq!(renders, 2, "{jobs}");
    assert_eq!(retry(admin.clone(), failed[1].clone()).await.status(), StatusCode::CONFLICT);
    app.server.shutdown().await;
}

/// Like [`proofsheet`], with extra environment variables.
fn proofsheet_env(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("PROOFSHEET_CONFIG")
        .env_remove("PROOFSHEET_LOG")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The order `docs/configuration.md` gives: defaults, then the `--config` file (or
/// `PROOFSHEET_CONFIG`), then `PROOFSHEET__SECTION__KEY` variables.
#[test]
fn the_config_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (from_file, from_env) = (dir.path().join("file.db"), dir.path().join("env.db"));
    let file = dir.path().join("proofsheet.toml");
    std::fs::write(&file, format!("[database]\nurl = \"sqlite://{}\"\n", from_file.display())).unwrap();
    let data = dir.path().join("data");

    let default = stdout(&proofsheet_env(&data, &["migrate"], &[]));
    assert!(default.contains(&data.join("proofsheet.db").display().to_string()), "{default}");
    let file_arg = file.to_str().unwrap();
    let with_file = stdout(&proofsheet_env(&data, &["--config", file_arg, "migrate"], &[]));
    assert!(with_file.contains(&from_file.display().to_string()), "{with_file}");
    assert!(from_file.exists());
    let by_variable = stdout(&proofsheet_env(&data, &["migrate"], &[("PROOFSHEET_CONFIG", file_arg)]));
    assert!(by_variable.contains(&from_file.display().to_string()), "{by_variable}");
    let env_url = format!("sqlite://{}", from_env.display());
    let with_env = stdout(&proofsheet_env(
        &data,
        &["--config", file_arg, "migrate"],
        &[("PROOFSHEET__DATABASE__URL", env_url.as_str())],
    ));
    assert!(with_env.contains(&from_env.display().to_string()), "the variable wins: {with_env}");
    // A key the file misspells is refused, naming it.
    std::fs::write(&file, "[database]\nurll = \"x\"\n").unwrap();
    let bad = proofsheet_env(&data, &["--config", file_arg, "migrate"], &[]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("urll"), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// `jobs run TASK` runs a periodic task now and `jobs runs` lists it;
/// `--json-logs` makes every log line a JSON object.
#[test]
fn periodic_tasks_run_and_are_listed_from_the_command_line_with_json_logs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = stdout(&proofsheet(data, &["jobs", "run", "clean_orphans"]));
    assert!(out.starts_with("clean_orphans: "), "{out}");
    let unknown = proofsheet(data, &["jobs", "run", "make_coffee"]);
    assert!(!unknown.status.success());
    let runs = stdout(&proofsheet(data, &["jobs", "runs"]));
    let line = runs.lines().find(|l| l.starts_with("clean_orphans")).unwrap_or_else(|| panic!("{runs}"));
    assert!(line.contains(" ok "), "{line}");

    let logged = proofsheet_env(data, &["--json-logs", "jobs", "run", "expire_orders"], &[("PROOFSHEET_LOG", "info")]);
    assert!(logged.status.success(), "{}", String::from_utf8_lossy(&logged.stderr));
    let stderr = String::from_utf8_lossy(&logged.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty(), "info logs were written");
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{v}");
    }
}

/// `previews` renders a folder and exits 2 when any image failed, 0 when
/// none did; `plugin check` refuses a file that is not a plugin.
#[test]
fn previews_exit_2_on_a_bad_image_and_plugin_check_refuses_junk() {
    let dir = tempfile::tempdir().unwrap();
    let (good, mixed, out) = (dir.path().join("good"), dir.path().join("mixed"), dir.path().join("out"));
    for d in [&good, &mixed] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join("a.jpg"), common::jpeg(320, 240, 1, true)).unwrap();
    }
    let mut truncated = common::jpeg(320, 240, 1, true);
    truncated.truncate(truncated.len() / 3);
    std::fs::write(mixed.join("b.jpg"), truncated).unwrap();
    let (good_s, mixed_s, out_s) = (good.to_str().unwrap(), mixed.to_str().unwrap(), out.to_str().unwrap());
    let ok = proofsheet(dir.path(), &["previews", good_s, "--out", out_s, "--quiet"]);
    assert_eq!(ok.status.code(), Some(0), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(out.join("a.preview.jpg").exists() && out.join("a.thumb.jpg").exists());
    let bad = proofsheet(dir.path(), &["previews", mixed_s, "--out", out_s, "--quiet"]);
    assert_eq!(bad.status.code(), Some(2), "{}", String::from_utf8_lossy(&bad.stderr));

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"not a module").unwrap();
    let check = proofsheet(dir.path(), &["plugin", "check", junk.to_str().unwrap()]);
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("plugin"), "{}", String::from_utf8_lossy(&check.stderr));
}

/// `proofsheet login` and `proofsheet upload` against a real server: the
/// token kept 0600, a dry run, a run killed mid-way and started again
/// (nothing twice, the cut file resumed), `--recursive`, a file that is no
/// image (exit code 1), plain lines when stdout is no terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_command_sends_a_folder_and_survives_being_killed() {
    use sha2::Digest;
    let app = TestApp::start().await;
    let owner = app.user("cli@studio.test", "photographer").await;
    let album = app.album(&owner, "private", None).await;
    let home = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    let mut digests = Vec::new();
    for i in 0..4u16 {
        let bytes = common::jpeg(2400 + i * 16, 1600, 1, true);
        digests.push(format!("{:x}", sha2::Sha256::digest(&bytes)));
        std::fs::write(folder.path().join(format!("IMG_{i}.JPG")), bytes).unwrap();
    }
    std::fs::write(folder.path().join("notes.txt"), "not a photo").unwrap();
    std::fs::create_dir(folder.path().join("day2")).unwrap();
    let inner = common::jpeg(800, 600, 1, false);
    std::fs::write(folder.path().join("day2").join("inner.png.jpg"), &inner).unwrap();
    let cli = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_proofsheet"));
        c.args(args).env("XDG_CONFIG_HOME", home.path()).env_remove("PROOFSHEET_SERVER").env_remove("PROOFSHEET_TOKEN");
        c
    };
    let run = |args: Vec<String>| {
        let mut c = cli(&args.iter().map(String::as_str).collect::<Vec<_>>());
        async move { tokio::task::spawn_blocking(move || c.output().unwrap()).await.unwrap() }
    };
    let folder_arg = folder.path().display().to_string();

    // Not signed in yet: a clear message.
    let out = run(vec!["upload".into(), folder_arg.clone(), "--album".into(), album.clone()]).await;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("proofsheet login"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Login with a token: checked, kept 0600.
    let bad = run(vec!["login".into(), "--server".into(), app.url.clone(), "--token".into(), "forged".into()]).await;
    assert!(!bad.status.success(), "a forged token is refused");
    let out = run(vec!["login".into(), "--server".into(), app.url.clone(), "--token".into(), owner.clone()]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("cli@studio.test"), "{}", stdout(&out));
    let creds = home.path().join("proofsheet").join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(creds.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    }

    // A dry run sends nothing.
    let out = run(vec!["upload".into(), folder_arg.clone(), "--album".into(), album.clone(), "--dry-run".into()]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("dry run: 4 to upload"), "{}", stdout(&out));
    assert!(!stdout(&out).contains("notes.txt") && !stdout(&out).contains("inner"), "{}", stdout(&out));
    let photos = app.get(&format!("/albums/{album}/photos"), Some(&owner)).await.json::<Value>().await.unwrap();
    assert_eq!(photos["items"].as_array().unwrap().len(), 0);

    // A run killed once the first photo is in.
    let mut child = cli(&["upload", &folder_arg, "--album", &album, "--jobs", "1", "--chunk-mb", "0.25"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let held = || async {
        let photos = app.get(&format!("/albums/{album}/photos"), Some(&owner)).await.json::<Value>().await.unwrap();
        photos["items"].as_array().unwrap().len()
    };
    for _ in 0..600 {
        if held().await >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The next file may have gone in between the last look and the kill:
    // count again now that the process is gone.
    let killed_after = held().await;
    assert!((1..4).contains(&killed_after), "killed mid-run, after {killed_after} photos");
    // A kill between a file's last chunk and forgetting its upload URL
    // leaves the URL of a photo the album holds: made certain here.
    let resume = home.path().join("proofsheet").join("uploads").join(format!("{album}.json"));
    let mut left: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(&resume).unwrap_or_else(|_| b"{}".to_vec())).unwrap();
    let photos = app.get(&format!("/albums/{album}/photos"), Some(&owner)).await.json::<Value>().await.unwrap();
    let first_in = photos["items"][0]["sha256"].as_str().unwrap().to_owned();
    left.insert(first_in, Value::from(format!("{}/api/v1/albums/{album}/uploads/stale", app.url)));
    std::fs::write(&resume, serde_json::to_vec(&left).unwrap()).unwrap();

    // Started again: the rest goes, nothing twice; plain lines, a summary.
    let out =
        run(vec!["upload".into(), folder_arg.clone(), "--album".into(), album.clone(), "--jobs".into(), "2".into()])
            .await;
    assert!(out.status.success(), "{}\n{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("skipped {killed_after}")) || text.matches("skipped ").count() >= killed_after,
        "{text}"
    );
    assert!(text.contains(&format!("uploaded {}, skipped {killed_after}, failed 0", 4 - killed_after)), "{text}");
    assert!(!text.contains('\u{1b}'), "no terminal codes when stdout is not a terminal: {text}");
    let listed = app.wait_processed(&owner, &album, 4).await;
    let mut held: Vec<String> = listed.iter().map(|p| p["sha256"].as_str().unwrap().to_owned()).collect();
    held.sort();
    digests.sort();
    assert_eq!(held, digests, "each file once, byte for byte");
    assert!(listed.iter().all(|p| p["status"] == "ready"));
    assert_eq!(std::fs::read_to_string(&resume).unwrap().trim(), "{}", "no upload left to resume");

    // --recursive takes the subfolder; a file that is no image fails the run.
    std::fs::write(folder.path().join("broken.jpg"), b"this is not a JPEG at all, only its name is").unwrap();
    let out = run(vec!["upload".into(), folder_arg.clone(), "--album".into(), album.clone(), "-r".into()]).await;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("uploaded 1, skipped 4, failed 1"), "{text}");
    assert!(text.contains("broken.jpg"), "{text}");
    app.wait_processed(&owner, &album, 5).await;
}
