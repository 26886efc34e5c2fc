//! The whole sale through the axum shop over real HTTP: register, sign in,
//! make an album, upload, wait for previews, order, pay, download a zip
//! holding exactly the bought originals; and the errors on the way.

use std::time::Duration;

use proofsheet_core::{OrderId, PaymentOutcome};
use proofsheet_example_axum_shop::{Secrets, Shop};
use proofsheet_payments::TestGateway;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn jpeg(seed: u8) -> Vec<u8> {
    let (w, h) = (96u16, 64u16);
    let px: Vec<u8> = (0..w as usize * h as usize).flat_map(|i| [(i % 251) as u8, seed, (i / 97) as u8]).collect();
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 90).encode(&px, w, h, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_buys_two_photos_through_the_axum_shop() {
    let dir = tempfile::tempdir().unwrap();
    // Keys made here, for this run only.
    let gateway_secret = rand::random::<[u8; 32]>().to_vec();
    let secrets = Secrets { links: rand::random::<[u8; 32]>().to_vec(), gateway: gateway_secret.clone() };
    let shop = Shop::start(dir.path(), secrets).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(axum::serve(listener, shop.router()).into_future());
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{base}{p}");

    let mut tokens = Vec::new();
    for (email, role) in [("ann@studio.test", "photographer"), ("bo@home.test", "client")] {
        let body = json!({"email": email, "password": "correct horse battery", "name": "X", "role": role});
        let r = http.post(url("/register")).json(&body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let id: proofsheet_core::UserId = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().parse().unwrap();
        let early = http.post(url("/login")).json(&json!({"email": email, "password": "correct horse battery"}));
        assert_eq!(early.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "not before the proof");
        // What the verification mail carries, as the shop's notifier would send it.
        let user = shop.engine.backends().metadata.user(id).await.unwrap().unwrap();
        let token = shop.engine.email_verification().token(&user);
        let proof = json!({"token": token, "password": "correct horse battery"});
        assert_eq!(http.post(url("/verify")).json(&proof).send().await.unwrap().status(), StatusCode::OK);
        let r = http.post(url("/login")).json(&json!({"email": email, "password": "correct horse battery"}));
        let session: Value = r.send().await.unwrap().json().await.unwrap();
        tokens.push(session["token"].as_str().unwrap().to_owned());
    }
    let (ph, cl) = (&tokens[0], &tokens[1]);
    let r = http.post(url("/login")).json(&json!({"email": "ann@studio.test", "password": "wrong password!"}));
    assert_eq!(r.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // Rules from core, statuses from the shop.
    let new_album = json!({"name": "Beach", "price": 450, "currency": "EUR"});
    let r = http.post(url("/albums")).bearer_auth(cl).json(&new_album).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "clients make no albums");
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "photographers_only");
    let r = http.post(url("/albums")).json(&new_album).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = http.post(url("/albums")).bearer_auth(ph).json(&new_album).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let album = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let originals: Vec<(String, Vec<u8>)> = (0..3).map(|i| (format!("IMG_{i}.jpg"), jpeg(i * 80))).collect();
    for (name, bytes) in &originals {
        let r = http.put(url(&format!("/albums/{album}/photos/{name}"))).bearer_auth(ph).body(bytes.clone());
        assert_eq!(r.send().await.unwrap().status(), StatusCode::CREATED);
    }
    let r = http.put(url(&format!("/albums/{album}/photos/notes.txt"))).bearer_auth(ph).body("not an image");
    assert_eq!(r.send().await.unwrap().status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // The shop's own workers render the previews.
    let mut photos = Vec::new();
    for _ in 0..300 {
        photos =
            http.get(url(&format!("/albums/{album}/photos"))).send().await.unwrap().json::<Vec<Value>>().await.unwrap();
        if photos.iter().all(|p| p["status"] == "ready") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(photos.len(), 3);
    assert!(photos.iter().all(|p| p["status"] == "ready"), "{photos:?}");
    let preview =
        http.get(url(&format!("/photos/{}/preview", photos[0]["id"].as_str().unwrap()))).send().await.unwrap();
    assert_eq!(preview.headers()["content-type"], "image/jpeg");
    assert!(preview.bytes().await.unwrap().starts_with(&[0xFF, 0xD8]));

    // Two of the three, paid, delivered.
    let bought: Vec<&Value> = photos.iter().filter(|p| p["filename"] != "IMG_1.jpg").collect();
    let ids: Vec<&str> = bought.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let r =
        http.post(url("/orders")).bearer_auth(cl).json(&json!({"album": album, "photos": ids})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!((order["total"].as_i64(), order["currency"].as_str()), (Some(900), Some("EUR")));
    let id = order["id"].as_str().unwrap();
    assert_eq!(http.get(url(&format!("/orders/{id}"))).bearer_auth(ph).send().await.unwrap().status(), StatusCode::OK);
    // The gateway's notification: a forged one changes nothing, the
    // signed one (sent twice, as providers do) pays the order once.
    let order_id: OrderId = id.parse().unwrap();
    let now = chrono::Utc::now();
    let send = |(headers, body): (Vec<(String, String)>, Vec<u8>)| {
        let mut r = http.post(url("/payments/test/webhook")).body(body);
        for (k, v) in headers {
            r = r.header(k, v);
        }
        r.send()
    };
    let forged = TestGateway::new(b"not the shop's secret".to_vec(), "http://x").notification(
        order_id,
        PaymentOutcome::Paid,
        now,
    );
    assert_eq!(send(forged).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let pending: Value =
        http.get(url(&format!("/orders/{id}"))).bearer_auth(cl).send().await.unwrap().json().await.unwrap();
    assert_eq!(pending["status"], "pending", "a forged notification changes nothing");
    let genuine = TestGateway::new(gateway_secret, "http://x").notification(order_id, PaymentOutcome::Paid, now);
    let first: Value = send(genuine.clone()).await.unwrap().json().await.unwrap();
    let again: Value = send(genuine).await.unwrap().json().await.unwrap();
    assert_eq!((first["changed"].as_bool(), again["changed"].as_bool()), (Some(true), Some(false)));
    let mut seen = Value::Null;
    for _ in 0..300 {
        seen = http.get(url(&format!("/orders/{id}"))).bearer_auth(cl).send().await.unwrap().json().await.unwrap();
        if seen["status"] == "fulfilled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen["status"], "fulfilled", "{seen}");
    let token = seen["download"]["token"].as_str().unwrap();
    let zip = http.get(url(&format!("/downloads/{token}"))).send().await.unwrap().bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).unwrap();
    let mut names = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        let original = originals.iter().find(|(n, _)| entry.name().ends_with(n.as_str())).expect("a bought file");
        assert!(bytes == original.1, "{} is the original, byte for byte", entry.name());
        names.push(original.0.clone());
    }
    names.sort();
    assert_eq!(names, ["IMG_0.jpg", "IMG_2.jpg"]);
    let r = http.get(url("/downloads/forged-token")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    server.abort();
    shop.stop().await;
}
