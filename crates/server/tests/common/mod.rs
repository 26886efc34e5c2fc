//! Shared test helpers: a real server on port 0, an HTTP client, real JPEGs.
#![allow(dead_code)]

use std::{sync::Arc, time::Duration};

use proofsheet_core::ManualClock;
use proofsheet_server::{Config, Running};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

#[allow(unused_imports)]
pub use proofsheet_payments::stripe::test_server::{StripeEventKind, StripeTestServer};

pub const STRIPE_KEY: &str = "sk_test_proofsheet_server_tests";
pub const STRIPE_WHSEC: &str = "whsec_proofsheet_server_tests";

/// Points `c` at a local Stripe-speaking server and makes Stripe the default.
pub fn stripe_config(c: &mut Config, api_base: &str) {
    use proofsheet_server::config::Secret;
    c.payments.default_gateway = Some(proofsheet_server::config::GatewayName::Stripe);
    c.payments.stripe.secret_key = Some(serde_json::from_value::<Secret>(json!(STRIPE_KEY)).unwrap());
    c.payments.stripe.webhook_secret = Some(serde_json::from_value::<Secret>(json!(STRIPE_WHSEC)).unwrap());
    c.payments.stripe.api_base = Some(api_base.to_owned());
}

/// `Stripe-Signature` headers for `bodies`, signed now: by Stripe's Python
/// library when `PROOFSHEET_TEST_PYTHON` is set (always in CI), else ours.
pub fn stripe_sign(bodies: &[Vec<u8>]) -> Vec<String> {
    let now = chrono::Utc::now();
    let cases: Vec<Value> = bodies
        .iter()
        .map(
            |b| json!({"payload": String::from_utf8(b.clone()).unwrap(), "secret": STRIPE_WHSEC, "t": now.timestamp()}),
        )
        .collect();
    match proofsheet_payments::stripe::test_server::stripe_python("sign", &json!(cases)) {
        Some(headers) => headers.into_iter().map(|h| h.as_str().unwrap().to_owned()).collect(),
        None => bodies.iter().map(|b| proofsheet_payments::signature::sign(STRIPE_WHSEC.as_bytes(), b, now)).collect(),
    }
}

/// The Checkout Session id at the end of a Stripe checkout URL.
pub fn session_of(checkout_url: &str) -> String {
    checkout_url.rsplit('/').next().unwrap().to_owned()
}

pub struct TestApp {
    pub server: Running,
    pub clock: Arc<ManualClock>,
    pub http: Client,
    pub url: String,
    pub dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(edit: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.addr = "127.0.0.1:0".into();
        config.server.data_dir = dir.path().to_owned();
        config.worker.poll_ms = 25;
        // Webhook receivers in tests listen on loopback over plain HTTP.
        config.webhooks.allow_http = true;
        config.webhooks.allow_private_networks = true;
        edit(&mut config);
        let clock = Arc::new(ManualClock::new());
        let server = proofsheet_server::start(config, clock.clone()).await.expect("server starts");
        let url = server.url.clone();
        TestApp { server, clock, http: Client::new(), url, dir }
    }

    /// A server whose default gateway is Stripe, pointed at a fresh local
    /// Stripe-speaking server (returned with it).
    pub async fn start_stripe(edit: impl FnOnce(&mut Config)) -> (Self, StripeTestServer) {
        let stripe = StripeTestServer::start(STRIPE_KEY).await.unwrap();
        let app = Self::start_with(|c| {
            stripe_config(c, &stripe.base_url);
            edit(c)
        })
        .await;
        (app, stripe)
    }

    /// Delivers Stripe webhook bodies, signed by Stripe's own Python library
    /// (our signer when Python is not configured), all at once; returns the
    /// statuses and replies in order.
    pub async fn stripe_webhooks(&self, bodies: &[Vec<u8>]) -> Vec<(StatusCode, Value)> {
        let headers = stripe_sign(bodies);
        let sends = bodies.iter().zip(headers).map(|(body, header)| {
            self.http
                .post(self.api("/payments/stripe/webhook"))
                .header("Stripe-Signature", header)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
        });
        let mut out = Vec::new();
        for r in futures::future::join_all(sends).await {
            let r = r.unwrap();
            let status = r.status();
            out.push((status, r.json().await.unwrap_or(Value::Null)));
        }
        out
    }

    /// A server on PostgreSQL and S3 (fresh database, fresh key prefix),
    /// or `None` when those servers are not configured and not required.
    pub async fn start_scale_out() -> Option<Self> {
        Self::start_scale_out_with(|_| {}).await
    }

    /// [`TestApp::start_scale_out`] with a configuration edit.
    pub async fn start_scale_out_with(edit: impl FnOnce(&mut Config)) -> Option<Self> {
        let (Ok(pg), Ok(s3)) =
            (std::env::var("PROOFSHEET_TEST_POSTGRES_URL"), std::env::var("PROOFSHEET_TEST_S3_ENDPOINT"))
        else {
            assert!(
                std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(),
                "PostgreSQL and S3 are required: run scripts/services.sh"
            );
            eprintln!("PROOFSHEET_TEST_POSTGRES_URL / PROOFSHEET_TEST_S3_ENDPOINT unset: scale-out run skipped");
            return None;
        };
        let db = proofsheet_storage::fresh_pg_database(&pg).await.unwrap();
        let bucket = std::env::var("PROOFSHEET_TEST_S3_BUCKET").unwrap_or_else(|_| "proofsheet-test".into());
        Some(
            Self::start_with(|c| {
                scale_out(c, &db, &s3, &bucket);
                edit(c);
            })
            .await,
        )
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.url, path)
    }

    pub async fn post_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut req = self.http.post(self.api(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    #[allow(dead_code)]
    pub async fn put_json(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        let mut req = self.http.put(self.api(path)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.http.get(self.api(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Registers, proves the mailbox (with the token the mailed link
    /// carries, through `POST /users/verify-email`) and signs in; returns
    /// the bearer token.
    pub async fn user(&self, email: &str, role: &str) -> String {
        let created = self.registered(email, role).await;
        let token = self.verification_token(&created).await;
        // The registrant confirms with the password they chose, so it is kept.
        let r = self.post_json("/users/verify-email", None, json!({"token": token, "password": "correct horse"})).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
        self.sign_in(email, "correct horse").await.expect("a verified account signs in")
    }

    /// A password sign-in: the bearer token, or `None` for 401.
    #[allow(dead_code)]
    pub async fn sign_in(&self, email: &str, password: &str) -> Option<String> {
        let r = self.post_json("/sessions", None, json!({"email": email, "password": password})).await;
        match r.status() {
            StatusCode::CREATED => Some(r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()),
            StatusCode::UNAUTHORIZED => None,
            other => panic!("sign-in answered {other}: {}", r.text().await.unwrap()),
        }
    }

    /// An admin (made as the command line does: admins are never
    /// registered), signed in; returns the bearer token.
    #[allow(dead_code)]
    pub async fn admin(&self, email: &str) -> String {
        let meta = &self.server.state.engine.backends().metadata;
        let admin = proofsheet_core::User {
            id: proofsheet_core::UserId::new(),
            email: email.parse::<proofsheet_core::Email>().unwrap(),
            name: "Ad".into(),
            surname: "Min".into(),
            role: proofsheet_core::Role::Admin,
            email_verified: true,
            created_at: chrono::Utc::now(),
        };
        let hash = proofsheet_core::hash_password("correct horse".into()).await.unwrap();
        meta.insert_user(&admin, &hash).await.unwrap();
        let r = self.post_json("/sessions", None, json!({"email": email, "password": "correct horse"})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned()
    }

    /// The token a verification mail to `user` (a `UserDto`) would carry.
    pub async fn verification_token(&self, user: &Value) -> String {
        let engine = &self.server.state.engine;
        let id: proofsheet_core::UserId = user["id"].as_str().unwrap().parse().unwrap();
        let user = engine.backends().metadata.user(id).await.unwrap().unwrap();
        engine.email_verification().token(&user)
    }

    /// Every notification ever queued (sent, dropped or waiting), oldest
    /// first: what the mails would say, read from the job queue.
    #[allow(dead_code)]
    pub async fn notifications(&self) -> Vec<proofsheet_core::Notification> {
        let queue = &self.server.state.engine.backends().queue;
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let jobs = queue.list_jobs(None, proofsheet_core::PageRequest { limit: 200, after }).await.unwrap();
            for job in &jobs.items {
                if let Ok(proofsheet_core::Task::Notify { notification }) =
                    proofsheet_core::Task::from_json(&job.payload)
                {
                    out.push(notification);
                }
            }
            match jobs.next_cursor {
                Some(c) => after = Some(c.parse().unwrap()),
                None => return out,
            }
        }
    }

    /// The token of the newest sign-in link queued for `email` (what its
    /// mail would carry), read from the job queue; waits up to 10 s.
    #[allow(dead_code)]
    pub async fn sign_in_link_token(&self, email: &str) -> String {
        for _ in 0..100 {
            let found = self.notifications().await.into_iter().rev().find_map(|n| match n {
                proofsheet_core::Notification::SignInLink { link_id, to, .. } if to.as_str() == email => Some(link_id),
                _ => None,
            });
            if let Some(id) = found {
                return self.server.state.engine.link_signer().sign_in_token(id);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no sign-in link queued for {email}");
    }

    /// A web page as the holder of an API session (the web app's session
    /// cookie is the same token): its status and HTML.
    #[allow(dead_code)]
    pub async fn page_as(&self, token: &str, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .header("cookie", format!("ps_session={token}"))
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// A web form's CSRF cookie (`ps_csrf=...`) and the token its page
    /// carries, from a signed-out visit to `path`.
    #[allow(dead_code)]
    pub async fn web_form(&self, path: &str) -> (String, String) {
        self.web_form_as(path, None).await
    }

    /// [`TestApp::web_form`] as the holder of API session `session` (the
    /// token is bound to the session), or signed out.
    #[allow(dead_code)]
    pub async fn web_form_as(&self, path: &str, session: Option<&str>) -> (String, String) {
        let mut req = self.http.get(format!("{}{path}", self.url));
        if let Some(s) = session {
            req = req.header("cookie", format!("ps_session={s}"));
        }
        let page = req.send().await.unwrap();
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("ps_csrf="))
            .map(|v| v.split(';').next().unwrap().to_owned())
            .expect("a CSRF cookie");
        (cookie, csrf_token_in(&page.text().await.unwrap()))
    }

    /// Registers without proving the mailbox (password "correct horse");
    /// the `UserDto` the API answered.
    pub async fn registered(&self, email: &str, role: &str) -> Value {
        let r = self
            .post_json(
                "/users",
                None,
                json!({"email": email, "password": "correct horse", "name": "Test", "surname": "User", "role": role}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn album(&self, token: &str, visibility: &str, client: Option<&str>) -> String {
        let r = self
            .post_json(
                "/albums",
                Some(token),
                json!({"name": "Wedding", "visibility": visibility, "client_email": client,
                       "price_per_photo": {"amount": 500, "currency": "EUR"}}),
            )
            .await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// `PATCH /albums/{album}` with `body`: the status and the reply.
    #[allow(dead_code)]
    pub async fn patch_album(&self, token: &str, album: &str, body: Value) -> (StatusCode, Value) {
        let r =
            self.http.patch(self.api(&format!("/albums/{album}"))).bearer_auth(token).json(&body).send().await.unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn upload(&self, token: &str, album: &str, name: &str, bytes: Vec<u8>) -> Response {
        self.http
            .post(self.api(&format!("/albums/{album}/photos?filename={name}")))
            .bearer_auth(token)
            .header("content-type", "image/jpeg")
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    /// Polls the album until no photo is processing; returns the photos.
    pub async fn wait_processed(&self, token: &str, album: &str, count: usize) -> Vec<Value> {
        for _ in 0..1200 {
            let r = self.get(&format!("/albums/{album}/photos"), Some(token)).await;
            assert_eq!(r.status(), StatusCode::OK);
            let items = r.json::<Value>().await.unwrap()["items"].as_array().unwrap().clone();
            if items.len() == count && items.iter().all(|p| p["status"] != "processing") {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("photos still processing after 120 s");
    }

    /// Waits until the job queue has nothing queued or running that is due
    /// now: what the last requests set off has all happened. Checks of
    /// "nothing more happened" come after this, never after a fixed sleep.
    #[allow(dead_code)]
    pub async fn wait_idle(&self) {
        let b = self.server.state.engine.backends();
        for _ in 0..1200 {
            let mut busy = false;
            for status in [proofsheet_core::JobStatus::Queued, proofsheet_core::JobStatus::Running] {
                let page = proofsheet_core::PageRequest::new(Some(200), None).unwrap();
                let jobs = b.queue.list_jobs(Some(status), page).await.unwrap().items;
                busy |= jobs.iter().any(|j| status == proofsheet_core::JobStatus::Running || j.run_at <= b.clock.now());
            }
            if !busy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the job queue was still busy after 60 s");
    }

    /// Polls an order until its status is `want`.
    pub async fn wait_order(&self, token: &str, order: &str, want: &str) -> Value {
        for _ in 0..600 {
            let o: Value = self.get(&format!("/orders/{order}"), Some(token)).await.json().await.unwrap();
            if o["status"] == want {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("order never became {want}");
    }
}

/// Points a config at PostgreSQL and S3.
pub fn scale_out(c: &mut Config, db: &str, s3_endpoint: &str, bucket: &str) {
    use proofsheet_server::config::{S3Config, Secret};
    c.database.url = Some(serde_json::from_value::<Secret>(json!(db)).unwrap());
    c.storage.kind = proofsheet_server::config::StorageKind::S3;
    c.storage.s3 = S3Config {
        endpoint: Some(s3_endpoint.into()),
        bucket: bucket.into(),
        root: Some(format!("/test-{}", uuid::Uuid::new_v4().simple())),
        access_key_id: Some(serde_json::from_value(json!("test-key")).unwrap()),
        secret_access_key: Some(serde_json::from_value(json!("test-secret")).unwrap()),
        ..S3Config::default()
    };
}

/// A photographic-looking test JPEG: smooth gradients plus grain, so it
/// compresses like a photo, not like a flat colour. The left `red_share`
/// of the stored image is red-tinted and the rest blue-tinted, so tests can
/// tell which way is up. `orientation` (1 to 8) goes into a real EXIF
/// segment together with a GPS position.
pub fn jpeg(width: u16, height: u16, orientation: u16, red_left: bool) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut px = vec![0u8; w * h * 3];
    let mut seed = 0x2545_f491_u32;
    for y in 0..h {
        for x in 0..w {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let grain = ((seed >> 16) & 31) as i32 - 16;
            let shade = (60 + (x * 100 / w) + (y * 60 / h)) as i32 + grain;
            let left = if red_left { x < w / 2 } else { y < h / 2 };
            let (r, g, b) =
                if left { (shade + 110, shade / 2, shade / 2) } else { (shade / 2, shade / 2, shade + 110) };
            let i = (y * w + x) * 3;
            px[i] = r.clamp(0, 255) as u8;
            px[i + 1] = g.clamp(0, 255) as u8;
            px[i + 2] = b.clamp(0, 255) as u8;
        }
    }
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, 90);
    enc.add_app_segment(1, exif(orientation)).unwrap();
    enc.encode(&px, width, height, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

/// A little-endian EXIF block: IFD0 with Orientation and a GPS IFD pointer;
/// the GPS IFD holds a latitude reference.
fn exif(orientation: u16) -> Vec<u8> {
    let mut t = b"Exif\0\0II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes()); // IFD0 at 8
    t.extend_from_slice(&2u16.to_le_bytes()); // 2 entries
    t.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation
    t.extend_from_slice(&3u16.to_le_bytes()); // SHORT
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&orientation.to_le_bytes());
    t.extend_from_slice(&[0, 0]);
    t.extend_from_slice(&0x8825u16.to_le_bytes()); // GPSInfo
    t.extend_from_slice(&4u16.to_le_bytes()); // LONG
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&38u32.to_le_bytes()); // GPS IFD at 38
    t.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
    t.extend_from_slice(&1u16.to_le_bytes()); // 1 entry
    t.extend_from_slice(&1u16.to_le_bytes()); // GPSLatitudeRef
    t.extend_from_slice(&2u16.to_le_bytes()); // ASCII
    t.extend_from_slice(&2u32.to_le_bytes());
    t.extend_from_slice(b"N\0\0\0");
    t.extend_from_slice(&0u32.to_le_bytes());
    t
}

/// Decodes a JPEG to (width, height, RGB).
pub fn decode(jpeg: &[u8]) -> (usize, usize, Vec<u8>) {
    use zune_jpeg::zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let opts = DecoderOptions::default().jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut d = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(jpeg), opts);
    let px = d.decode().unwrap();
    let (w, h) = d.dimensions().unwrap();
    (w, h, px)
}

/// Mean (r, g, b) of the rows `y0..y1`.
pub fn mean_rgb(img: &(usize, usize, Vec<u8>), y0: usize, y1: usize) -> [f64; 3] {
    let (w, _, px) = img;
    let mut sum = [0f64; 3];
    for y in y0..y1 {
        for x in 0..*w {
            for c in 0..3 {
                sum[c] += px[(y * w + x) * 3 + c] as f64;
            }
        }
    }
    let n = ((y1 - y0) * w) as f64;
    sum.map(|s| s / n)
}

/// The CSRF token a page's `<meta name="csrf-token">` carries.
#[allow(dead_code)]
pub fn csrf_token_in(html: &str) -> String {
    let start = html.find("name=\"csrf-token\" content=\"").expect("the token") + 27;
    html[start..].chars().take_while(|c| *c != '"').collect()
}
