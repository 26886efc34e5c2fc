//! Load generator for `benches/load.sh`: N concurrent clients browse a
//! public album, fetch previews and thumbnails and create orders while a
//! photographer uploads, for a fixed time. Prints req/s, latency
//! percentiles per kind of request, and every error.
//!
//! `cargo run --release -p proofsheet-server --example load -- <base_url> [clients] [seconds]`
//!
//! New accounts are proven with the command in `PROOFSHEET_BENCH_ADMIN`
//! (see [`vouch`]).
//!
//! For `benches/lists.sh` it also has two other modes:
//! - `load seed <base_url> <photos>` (prints the album id; the
//!   photographer's token goes to stderr as `token …`): a photographer's public album of
//!   `<photos>` small ready JPEGs; prints the album id.
//! - `load hello <addr>`: a poem hello-world on `<addr>`, the yardstick the
//!   photo list is measured against (same framework and runtime, no work).

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use reqwest::Client;
use serde_json::{Value, json};

type Samples = Arc<Mutex<BTreeMap<&'static str, (Vec<Duration>, u64)>>>;

fn jpeg(w: u16, h: u16, seed: u32) -> Vec<u8> {
    let px: Vec<u8> = (0..w as u32 * h as u32)
        .flat_map(|i| {
            let (x, y) = (i % w as u32, i / w as u32);
            [(x * 255 / w as u32) as u8, (y * 255 / h as u32) as u8, ((x ^ y).wrapping_add(seed) % 251) as u8]
        })
        .collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 85).encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

async fn token(http: &Client, base: &str, email: &str, role: &str) -> String {
    let body = json!({"email": email, "password": "correct horse", "name": "Load", "surname": "Test", "role": role});
    let r = http.post(format!("{base}/api/v1/users")).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "register {email}: {}", r.status());
    vouch(email);
    let r = http
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"email": email, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
}

/// Only a proven address signs in with a password: the operator vouches for
/// a freshly registered one with `proofsheet admin verify-email`, through
/// the command in `PROOFSHEET_BENCH_ADMIN` (the benches write one that runs
/// the server's binary against its data; see `benches/server.sh`).
fn vouch(email: &str) {
    let admin = std::env::var("PROOFSHEET_BENCH_ADMIN")
        .expect("PROOFSHEET_BENCH_ADMIN: a command running `proofsheet admin` against the server's data");
    let out = std::process::Command::new(&admin).args(["verify-email", "--email", email]).output().unwrap();
    assert!(out.status.success(), "{admin} verify-email: {}", String::from_utf8_lossy(&out.stderr));
}

async fn timed(samples: &Samples, kind: &'static str, req: reqwest::RequestBuilder) {
    let started = Instant::now();
    // Read the whole body: a response is only done when its bytes are in.
    let ok = match req.send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        Ok(r) => {
            eprintln!("error: {kind}: {} {}", r.status(), r.text().await.unwrap_or_default());
            false
        }
        Err(e) => {
            eprintln!("error: {kind}: {e}");
            false
        }
    };
    let took = started.elapsed();
    let mut s = samples.lock().unwrap();
    let entry = s.entry(kind).or_default();
    entry.0.push(took);
    entry.1 += u64::from(!ok);
}

#[poem::handler]
fn hello() -> &'static str {
    "hello, world"
}

async fn create_album(http: &Client, base: &str, token: &str) -> String {
    let album: Value = http
        .post(format!("{base}/api/v1/albums"))
        .bearer_auth(token)
        .json(&json!({"name": "Load", "visibility": "public", "price_per_photo": {"amount": 300, "currency": "EUR"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    album["id"].as_str().unwrap().to_owned()
}

async fn upload(http: &Client, base: &str, token: &str, album: &str, name: &str, body: Vec<u8>) {
    let r = http
        .post(format!("{base}/api/v1/albums/{album}/photos?filename={name}"))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "upload {name}: {}", r.status());
}

/// Waits until the album has `count` photos (up to 200), all ready; returns
/// (id, preview URL, thumbnail URL) of each.
async fn wait_ready(http: &Client, base: &str, album: &str, count: usize) -> Vec<(String, String, String)> {
    loop {
        let v: Value = http
            .get(format!("{base}/api/v1/albums/{album}/photos?limit=200"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = v["items"].as_array().unwrap();
        if items.len() >= count.min(200) && items.iter().all(|p| p["status"] == "ready") {
            return items
                .iter()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap().to_owned();
                    (s("id"), s("preview_url"), s("thumbnail_url"))
                })
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("hello") => {
            let app = poem::Route::new().at("/", poem::get(hello));
            poem::Server::new(poem::listener::TcpListener::bind(args[2].clone())).run(app).await.unwrap();
            return;
        }
        Some("seed") => {
            let (http, base) = (Client::new(), &args[2]);
            let count: usize = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(100);
            let ph = token(&http, base, &format!("lists-{:x}@load.test", std::process::id()), "photographer").await;
            let album = create_album(&http, base, &ph).await;
            let image = jpeg(320, 213, 7);
            for i in 0..count {
                upload(&http, base, &ph, &album, &format!("photo-{i:04}.jpg"), image.clone()).await;
            }
            wait_ready(&http, base, &album, count).await;
            // The album on stdout; the photographer's session token on
            // stderr's last line for a bench that opens the studio.
            println!("{album}");
            eprintln!("token {ph}");
            return;
        }
        _ => {}
    }
    let base = args.get(1).cloned().unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let clients: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
    let http = Client::builder().pool_max_idle_per_host(clients * 2).build().unwrap();
    let run = format!("{:x}", std::process::id());

    // A photographer with a public album of 20 ready photos.
    let ph = token(&http, &base, &format!("ph-{run}@load.test"), "photographer").await;
    let album = create_album(&http, &base, &ph).await;
    for i in 0..20 {
        upload(&http, &base, &ph, &album, &format!("seed-{i}.jpg"), jpeg(1600, 1067, i)).await;
    }
    let photos = wait_ready(&http, &base, &album, 20).await;
    let mut tokens = Vec::new();
    for c in 0..clients {
        tokens.push(token(&http, &base, &format!("client-{c}-{run}@load.test"), "client").await);
    }
    eprintln!("seeded: 20 photos, {clients} clients; running {seconds} s");

    let samples: Samples = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    // The photographer keeps uploading 6 MP photos.
    {
        let (http, base, album, ph, samples) = (http.clone(), base.clone(), album.clone(), ph.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 100;
            while Instant::now() < deadline {
                let body = jpeg(3000, 2000, i);
                let req = http
                    .post(format!("{base}/api/v1/albums/{album}/photos?filename=live-{i}.jpg"))
                    .bearer_auth(&ph)
                    .header("content-type", "image/jpeg")
                    .body(body);
                timed(&samples, "upload", req).await;
                i += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }));
    }
    for (c, tok) in tokens.into_iter().enumerate() {
        let (http, base, album, photos, samples) =
            (http.clone(), base.clone(), album.clone(), photos.clone(), samples.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = c;
            while Instant::now() < deadline {
                timed(&samples, "list_albums", http.get(format!("{base}/api/v1/albums")).bearer_auth(&tok)).await;
                timed(&samples, "album", http.get(format!("{base}/api/v1/albums/{album}")).bearer_auth(&tok)).await;
                let page = http.get(format!("{base}/api/v1/albums/{album}/photos?limit=50")).bearer_auth(&tok);
                timed(&samples, "list_photos", page).await;
                for k in 0..3 {
                    let (_, _, thumb) = &photos[(n + k) % photos.len()];
                    timed(&samples, "thumbnail", http.get(thumb).bearer_auth(&tok)).await;
                }
                let (id, preview, _) = &photos[n % photos.len()];
                timed(&samples, "preview", http.get(preview).bearer_auth(&tok)).await;
                if n % 5 == 0 {
                    let order = json!({"album_id": album, "photo_ids": [id]});
                    let req = http.post(format!("{base}/api/v1/orders")).bearer_auth(&tok).json(&order);
                    timed(&samples, "create_order", req).await;
                }
                n += 1;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let s = samples.lock().unwrap();
    let (mut total, mut errors, mut all) = (0u64, 0u64, Vec::new());
    println!("{:<14} {:>8} {:>7} {:>9} {:>9} {:>9}", "request", "count", "errors", "p50 ms", "p99 ms", "max ms");
    for (kind, (times, errs)) in s.iter() {
        let mut t = times.clone();
        t.sort();
        let pct =
            |p: f64| t[((t.len() as f64 * p).ceil() as usize).saturating_sub(1).min(t.len() - 1)].as_secs_f64() * 1e3;
        println!("{kind:<14} {:>8} {errs:>7} {:>9.2} {:>9.2} {:>9.2}", t.len(), pct(0.5), pct(0.99), pct(1.0));
        total += t.len() as u64;
        errors += errs;
        all.extend(t);
    }
    all.sort();
    let p99 = all[((all.len() as f64 * 0.99).ceil() as usize).saturating_sub(1)].as_secs_f64() * 1e3;
    println!(
        "load: {clients} clients, {elapsed:.1} s, {total} requests, {:.0} req/s, p99 {p99:.2} ms, {errors} errors",
        total as f64 / elapsed
    );
    if errors > 0 {
        std::process::exit(1);
    }
}
