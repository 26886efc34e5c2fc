//! Several `proofsheet` processes over one PostgreSQL and one S3 bucket:
//! an `api` and two `worker`s, each with its own data dir and no configured
//! secret (they share the one kept in the database). 200 uploads all end
//! `ready`, each rendered exactly once, though a worker is killed with
//! SIGKILL mid-job (its job is attempted twice); then the same for zips,
//! killing the last worker and starting a fresh one.

use crate::common;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::jpeg;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(role: &str, addr: &str, env: &[(String, String)], log: &std::path::Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    // A data dir of its own: nothing shared through files.
    let data = log.with_extension("data");
    let child = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["serve", "--role", role, "--addr", addr])
        .envs(env.iter().cloned())
        .env("PROOFSHEET__SERVER__DATA_DIR", &data)
        .env("PROOFSHEET_LOG", "info")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .unwrap();
    Proc(child)
}

/// `proofsheet admin verify-email` for `email` against the deployment
/// `env` and `data` describe: only a proven address signs in with a
/// password, and the operator vouches for these (keeping the password).
fn vouch(env: &[(String, String)], data: &std::path::Path, email: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .arg("--data-dir")
        .arg(data)
        .args(["admin", "verify-email", "--email", email])
        .env_remove("PROOFSHEET_CONFIG")
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(out.status.success(), "verify-email {email}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Uploads `n` copies of `sample` to `url` (an album's photos).
async fn upload_copies(http: &Client, url: &str, token: &str, sample: &[u8], n: usize) {
    for i in 0..n {
        let r = http
            .post(format!("{url}?filename=p{i:03}.jpg"))
            .bearer_auth(token)
            .header("content-type", "image/jpeg")
            .body(sample.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_and_two_workers_survive_a_killed_worker() {
    let (Ok(pg), Ok(s3)) =
        (std::env::var("PROOFSHEET_TEST_POSTGRES_URL"), std::env::var("PROOFSHEET_TEST_S3_ENDPOINT"))
    else {
        assert!(std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(), "PostgreSQL and S3 are required");
        eprintln!("PostgreSQL / S3 not configured: multi-process test skipped");
        return;
    };
    let db = proofsheet_storage::fresh_pg_database(&pg).await.unwrap();
    let bucket = std::env::var("PROOFSHEET_TEST_S3_BUCKET").unwrap_or_else(|_| "proofsheet-test".into());
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(String, String)> = [
        ("PROOFSHEET__DATABASE__URL", db.as_str()),
        ("PROOFSHEET__STORAGE__KIND", "s3"),
        ("PROOFSHEET__STORAGE__S3__ENDPOINT", s3.as_str()),
        ("PROOFSHEET__STORAGE__S3__BUCKET", bucket.as_str()),
        ("PROOFSHEET__STORAGE__S3__ROOT", &format!("/multi-{}", uuid::Uuid::new_v4().simple())),
        ("PROOFSHEET__STORAGE__S3__ACCESS_KEY_ID", "test-key"),
        ("PROOFSHEET__STORAGE__S3__SECRET_ACCESS_KEY", "test-secret"),
        ("PROOFSHEET__WORKER__CONCURRENCY", "1"),
        ("PROOFSHEET__WORKER__POLL_MS", "50"),
        ("PROOFSHEET__WORKER__LEASE_SECONDS", "4"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _api = spawn("api", &format!("127.0.0.1:{port}"), &env, &dir.path().join("api.log"));
    let mut w1 = Some(spawn("worker", "127.0.0.1:0", &env, &dir.path().join("w1.log")));
    let mut w2 = Some(spawn("worker", "127.0.0.1:0", &env, &dir.path().join("w2.log")));
    let http = Client::new();
    wait_until("the api process", Duration::from_secs(60), || async {
        http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    let api = |p: &str| format!("{base}/api/v1{p}");
    let admin_data = dir.path().join("admin.data");
    let token = |email: &'static str, role: &'static str| {
        let http = http.clone();
        let (env, admin_data) = (&env, &admin_data);
        async move {
            let r = http
                .post(api("/users"))
                .json(&json!({"email": email, "password": "correct horse", "name": "A", "surname": "B", "role": role}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::CREATED);
            vouch(env, admin_data, email);
            let r = http
                .post(api("/sessions"))
                .json(&json!({"email": email, "password": "correct horse"}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
        }
    };
    let ph = token("ph@multi.test", "photographer").await;
    let cl = token("cl@multi.test", "client").await;
    // The operator vouches for the client's address (no mail server here).
    let verified = Command::new(env!("CARGO_BIN_EXE_proofsheet"))
        .args(["admin", "verify-email", "--email", "cl@multi.test"])
        .envs(env.iter().cloned())
        .env("PROOFSHEET__SERVER__DATA_DIR", dir.path().join("cli.data"))
        .status()
        .unwrap();
    assert!(verified.success());
    let r = http.post(api("/albums")).bearer_auth(&ph)
        .json(&json!({"name": "Big shoot", "visibility": "private", "client_email": "cl@multi.test", "price_per_photo": {"amount": 300, "currency": "EUR"}}))
        .send().await.unwrap();
    let album = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    // 200 uploads through the API process (which renders nothing itself).
    let started = Instant::now();
    upload_copies(&http, &api(&format!("/albums/{album}/photos")), &ph, &jpeg(1600, 1200, 1, false), 200).await;
    let ready_count = || {
        let http = http.clone();
        let (url, ph) = (api(&format!("/albums/{album}/photos?limit=200")), ph.clone());
        async move {
            let page: Value = http.get(url).bearer_auth(&ph).send().await.unwrap().json().await.unwrap();
            let items = page["items"].as_array().unwrap().clone();
            (items.iter().filter(|p| p["status"] == "ready").count(), items)
        }
    };
    // Kill one worker while it is busy: wait for the first batch, kill w1,
    // and check that it held a job (two render jobs running at once, while
    // w2 runs at most one). A worker caught between two jobs is replaced
    // and killed again.
    let store = proofsheet_storage::PgStore::connect(&db, 2).await.unwrap();
    wait_until("a first batch of previews", Duration::from_secs(120), || async { ready_count().await.0 >= 20 }).await;
    let mut killed_at = 0;
    let mut caught = false;
    let mut kills = 0;
    for round in 0..5 {
        kills += 1;
        killed_at = ready_count().await.0;
        let mut victim = w1.take().unwrap();
        victim.0.kill().unwrap(); // SIGKILL: no shutdown, its job's lease just runs out
        victim.0.wait().unwrap();
        for _ in 0..40 {
            let running: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'running' AND kind = 'render_preview'")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            if running == 2 {
                caught = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        if caught {
            break;
        }
        w1 = Some(spawn("worker", "127.0.0.1:0", &env, &dir.path().join(format!("w1-{round}.log"))));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(caught, "the killed worker held a job");
    assert!(killed_at < 200, "the kill happened mid-way ({killed_at} ready)");
    // The stranded job is taken over within one lease (4 s) plus 30 s.
    let killed = Instant::now();
    wait_until("the killed worker's job to be taken over", Duration::from_secs(4 + 30), || async {
        let retried: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = 'render_preview' AND attempts >= 2 AND status = 'succeeded'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        retried >= 1
    })
    .await;
    eprintln!(
        "PostgreSQL + S3: the killed worker's job finished {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    wait_until("every preview", Duration::from_secs(300), || async { ready_count().await.0 == 200 }).await;
    let previews_took = started.elapsed();
    let (_, photos) = ready_count().await;
    assert!(photos.iter().all(|p| p["status"] == "ready"), "no photo failed or stuck");

    // Each ready photo also queued a `photo.ready` event job, and a killed
    // worker's finished render may still hold its job's lease: the queue
    // must drain (nothing stuck) before the counts below are final.
    wait_until("every job to finish", Duration::from_secs(60), || async {
        let unfinished: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running')")
            .fetch_one(store.pool())
            .await
            .unwrap();
        unfinished == 0
    })
    .await;
    // Exactly one stored rendering per photo; the killed worker's job was
    // attempted twice (claims count attempts, completions do not), and no
    // other job more than once; no job left behind.
    let counts: Vec<i64> = sqlx::query_scalar("SELECT render_count FROM photos").fetch_all(store.pool()).await.unwrap();
    assert_eq!(counts.len(), 200);
    assert!(counts.iter().all(|&c| c == 1), "render counts: {counts:?}");
    let attempts: Vec<i64> = sqlx::query_scalar(
        "SELECT CAST(attempts AS BIGINT) FROM jobs WHERE kind = 'render_preview' ORDER BY attempts DESC",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(attempts.len(), 200);
    assert_eq!(attempts[0], 2, "the killed worker's job ran again: {attempts:?}");
    let again = attempts.iter().filter(|&&a| a > 1).count();
    assert!((1..=kills).contains(&again), "only jobs of killed workers ran again ({kills} kills): {attempts:?}");
    let unfinished: Vec<(String, String)> = sqlx::query_as("SELECT kind, status FROM jobs WHERE status <> 'succeeded'")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(unfinished.is_empty(), "no job lost, stuck or failed: {unfinished:?}");

    // Zips: five paid orders; the last worker is killed and a fresh one finishes.
    let ids: Vec<String> = photos.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    let mut orders = Vec::new();
    for chunk in ids.chunks(40).take(5) {
        let r = http
            .post(api("/orders"))
            .bearer_auth(&cl)
            .json(&json!({"album_id": album, "photo_ids": chunk}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let order = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let r = http.post(api(&format!("/orders/{order}/checkout"))).bearer_auth(&cl).send().await.unwrap();
        let url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
        assert_eq!(http.post(format!("{url}/pay")).send().await.unwrap().status(), StatusCode::OK);
        orders.push(order);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut last = w2.take().unwrap();
    last.0.kill().unwrap();
    last.0.wait().unwrap();
    let _w3 = spawn("worker", "127.0.0.1:0", &env, &dir.path().join("w3.log"));
    for order in &orders {
        let url = api(&format!("/orders/{order}"));
        wait_until("a fulfilled order", Duration::from_secs(120), || async {
            let o: Value = http.get(&url).bearer_auth(&cl).send().await.unwrap().json().await.unwrap();
            o["status"] == "fulfilled"
        })
        .await;
        let o: Value = http.get(&url).bearer_auth(&cl).send().await.unwrap().json().await.unwrap();
        let zip = http.get(o["download"]["url"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
        let archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
        assert_eq!(archive.len(), 40, "each zip holds its 40 originals");
    }
    let links: Vec<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM download_links GROUP BY order_id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(links, vec![1; 5], "one link per order");
    eprintln!("200 previews with a worker killed: {previews_took:?}; killed at {killed_at} ready");
}

/// The embedded default: one `proofsheet serve` on SQLite and local files,
/// killed with SIGKILL while it renders 20 uploads, then started again on
/// the same data dir with the default 30 s lease: every photo is ready
/// within one lease plus 30 s of the restart, none stuck `processing`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_embedded_server_finishes_every_upload_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let base = format!("http://{addr}/api/v1");
    let start = |log: &str| {
        let out = std::fs::File::create(dir.path().join(log)).unwrap();
        Proc(
            Command::new(env!("CARGO_BIN_EXE_proofsheet"))
                .args(["serve", "--addr", &addr, "--data-dir"])
                .arg(&data)
                .env_remove("PROOFSHEET_CONFIG")
                .env("PROOFSHEET__WORKER__CONCURRENCY", "2")
                .env("PROOFSHEET_LOG", "info")
                .stdout(Stdio::null())
                .stderr(out)
                .spawn()
                .unwrap(),
        )
    };
    let http = Client::new();
    let ready_url = format!("http://{addr}/readyz");
    let up = || async { http.get(&ready_url).send().await.is_ok_and(|r| r.status() == StatusCode::OK) };
    let mut server = start("first.log");
    wait_until("the server", Duration::from_secs(60), up).await;
    let email = "ph@embedded.test";
    let r = http
        .post(format!("{base}/users"))
        .json(
            &json!({"email": email, "password": "correct horse", "name": "A", "surname": "B", "role": "photographer"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    vouch(&[], &data, email);
    let r = http.post(format!("{base}/sessions")).json(&json!({"email": email, "password": "correct horse"})).send();
    let ph = r.await.unwrap().json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let r = http
        .post(format!("{base}/albums"))
        .bearer_auth(&ph)
        .json(&json!({"name": "Crash", "visibility": "public", "price_per_photo": {"amount": 300, "currency": "EUR"}}))
        .send()
        .await
        .unwrap();
    let album = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    upload_copies(&http, &format!("{base}/albums/{album}/photos"), &ph, &jpeg(2400, 1800, 1, false), 20).await;
    let counts = || {
        let http = http.clone();
        let (url, ph) = (format!("{base}/albums/{album}/photos?limit=100"), ph.clone());
        async move {
            let page: Value = http.get(url).bearer_auth(&ph).send().await.unwrap().json().await.unwrap();
            let items = page["items"].as_array().unwrap().clone();
            let ready = items.iter().filter(|p| p["status"] == "ready").count();
            let failed = items.iter().filter(|p| p["status"] == "failed").count();
            (ready, failed)
        }
    };
    wait_until("a first preview", Duration::from_secs(120), || async { counts().await.0 >= 1 }).await;
    // The two workers always have a render in hand while the backlog lasts
    // (each claims the next as it finishes one): wait until the database
    // shows one leased, then kill.
    wait_until("a leased render", Duration::from_secs(60), || async { !leased_renders(&data).await.is_empty() }).await;
    server.0.kill().unwrap(); // SIGKILL mid-batch: running jobs keep their leases
    server.0.wait().unwrap();
    let at_kill = counts_after_kill(&data, &album).await;
    assert!(at_kill < 20, "the kill happened mid-way ({at_kill} ready)");
    let leased = leased_renders(&data).await;
    assert!(!leased.is_empty(), "a render was leased when the process died");

    let restarted = Instant::now();
    let _server = start("second.log");
    wait_until("the restarted server", Duration::from_secs(60), up).await;
    wait_until("every preview after the restart", Duration::from_secs(30 + 30), || async { counts().await == (20, 0) })
        .await;
    eprintln!(
        "SQLite: killed with {at_kill}/20 ready; all 20 ready {:.1} s after the restart",
        restarted.elapsed().as_secs_f64()
    );
    // Each render the dead process held ran again, to success, once its
    // lease ran out.
    let url = format!("sqlite://{}", data.join("proofsheet.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for id in &leased {
        let (status, attempts): (String, i64) =
            sqlx::query_as("SELECT status, attempts FROM jobs WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
        assert_eq!(status, "succeeded", "job {id}");
        assert!(attempts >= 2, "job {id} ran again after the kill: {attempts} attempts");
    }
    pool.close().await;
}

/// The render jobs leased (running) in the SQLite file at `data`: read
/// beside a live server (WAL lets a reader in) or after it died.
async fn leased_renders(data: &std::path::Path) -> Vec<String> {
    let url = format!("sqlite://{}", data.join("proofsheet.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let ids: Vec<String> =
        sqlx::query_scalar("SELECT id FROM jobs WHERE kind = 'render_preview' AND status = 'running'")
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    ids
}

/// Ready photos of `album`, read from the SQLite file of a stopped server.
async fn counts_after_kill(data: &std::path::Path, album: &str) -> usize {
    let url = format!("sqlite://{}", data.join("proofsheet.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM photos WHERE album_id = $1 AND status = 'ready'")
        .bind(album)
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n as usize
}
