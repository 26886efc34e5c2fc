//! The whole sale over real HTTP, on the embedded default (SQLite + files +
//! the test gateway), with real JPEGs.

use crate::common;

use std::{collections::HashMap, io::Read, sync::Arc};

use common::{StripeEventKind, StripeTestServer, TestApp, decode, jpeg, mean_rgb, session_of};
use proofsheet_imaging::{ImagePipeline, PipelineConfig, watermark::Stack};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_buys_three_photos_and_downloads_exactly_those_originals() {
    whole_sale(TestApp::start().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sale_on_postgres_and_s3() {
    if let Some(app) = TestApp::start_scale_out().await {
        whole_sale(app).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_sale_through_stripe() {
    let (app, stripe) = TestApp::start_stripe(|_| {}).await;
    whole_sale_with(app, Some(stripe)).await;
}

async fn whole_sale(app: TestApp) {
    whole_sale_with(app, None).await
}

/// Pays for `order` through the gateway under test.
async fn pay(app: &TestApp, stripe: &Option<StripeTestServer>, client: &str, order_id: &str) {
    let gateway = if stripe.is_some() { "stripe" } else { "test" };
    let r = app.post_json(&format!("/orders/{order_id}/checkout"), Some(client), json!({"gateway": gateway})).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let checkout_url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    let Some(stripe) = stripe else {
        assert!(checkout_url.starts_with(&app.url));
        let page = app.http.get(&checkout_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert!(page.text().await.unwrap().contains("€15.00"), "the total as people read it");
        // A forged session pays nothing.
        let forged = format!("{}/checkout/test/{order_id}.AAAAAAAAAAAAAAAAAAAAAA/pay", app.url);
        assert_eq!(app.http.post(forged).send().await.unwrap().status(), StatusCode::NOT_FOUND);
        let paid = app.http.post(format!("{checkout_url}/pay")).send().await.unwrap();
        assert_eq!(paid.status(), StatusCode::OK);
        // Paying twice changes nothing.
        assert_eq!(app.http.post(format!("{checkout_url}/pay")).send().await.unwrap().status(), StatusCode::CONFLICT);
        return;
    };
    // The buyer is sent to Stripe; Stripe reports the payment by webhook.
    assert!(checkout_url.starts_with(&stripe.base_url), "{checkout_url}");
    let session = stripe.session(&session_of(&checkout_url)).expect("the session exists at Stripe");
    assert_eq!(session["client_reference_id"], order_id);
    assert_eq!(session["amount_total"], 1500);
    assert_eq!(session["currency"], "eur");
    let completed = stripe.event(&session_of(&checkout_url), StripeEventKind::Completed);
    let replies = app.stripe_webhooks(std::slice::from_ref(&completed)).await;
    assert_eq!(replies[0].0, StatusCode::OK, "{:?}", replies[0].1);
    assert_eq!(replies[0].1["changed"], true);
    // Delivered again (Stripe retries): nothing changes.
    let replies = app.stripe_webhooks(&[completed]).await;
    assert_eq!((replies[0].0, &replies[0].1["changed"]), (StatusCode::OK, &json!(false)));
}

/// Ends `order`'s payment without money: declined on the test gateway's
/// page, or the Stripe session expiring. Returns the status it ends in.
async fn fail_payment(app: &TestApp, stripe: &Option<StripeTestServer>, client: &str, order_id: &str) -> &'static str {
    let r = app.http.post(app.api(&format!("/orders/{order_id}/checkout"))).bearer_auth(client).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "checkout without a body uses the default gateway");
    let checkout_url = r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned();
    match stripe {
        None => {
            assert_eq!(app.http.post(format!("{checkout_url}/decline")).send().await.unwrap().status(), StatusCode::OK);
            "cancelled"
        }
        Some(stripe) => {
            let expired = stripe.event(&session_of(&checkout_url), StripeEventKind::Expired);
            assert_eq!(app.stripe_webhooks(&[expired]).await[0].0, StatusCode::OK);
            "expired"
        }
    }
}

async fn whole_sale_with(app: TestApp, stripe: Option<StripeTestServer>) {
    // The photographer registers and creates a private album for a client.
    let photographer = app.user("ph@studio.test", "photographer").await;
    let album = app.album(&photographer, "private", Some("client@home.test")).await;

    // Five uploads of several megapixels; two are stored sideways with EXIF
    // orientation 6 (and every one carries a GPS position).
    let mut originals: HashMap<String, Vec<u8>> = HashMap::new();
    let mut by_name: HashMap<String, String> = HashMap::new();
    for i in 0..5 {
        let (bytes, name) = if i < 2 {
            (jpeg(3000, 2000, 6, true), format!("sideways-{i}.jpg"))
        } else {
            (jpeg(2400, 1600, 1, false), format!("upright-{i}.jpg"))
        };
        let r = app.upload(&photographer, &album, &name, bytes.clone()).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        let photo: Value = r.json().await.unwrap();
        assert_eq!(photo["status"], "processing");
        assert_eq!(photo["filename"], name);
        let id = photo["id"].as_str().unwrap().to_owned();
        by_name.insert(name, id.clone());
        originals.insert(id, bytes);
    }
    let photos = app.wait_processed(&photographer, &album, 5).await;
    assert!(photos.iter().all(|p| p["status"] == "ready"), "{photos:?}");
    let sideways = photos.iter().find(|p| p["filename"] == "sideways-0.jpg").unwrap();
    assert_eq!((sideways["width"].as_u64(), sideways["height"].as_u64()), (Some(2000), Some(3000)), "upright size");

    // The client registers and sees the album.
    let client = app.user("client@home.test", "client").await;
    let listed: Value = app.get("/albums", Some(&client)).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().iter().any(|a| a["id"] == album.as_str()));

    // The preview: smaller, upright, watermarked, no EXIF (so no GPS).
    let sideways_id = by_name["sideways-0.jpg"].clone();
    let preview_url = sideways["preview_url"].as_str().unwrap();
    let r = app.http.get(preview_url).bearer_auth(&client).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    let preview = r.bytes().await.unwrap().to_vec();
    assert!(preview.len() < originals[&sideways_id].len() / 2, "the preview is much smaller than the original");
    assert!(!preview.windows(4).any(|w| w == b"Exif"), "no EXIF in previews");
    assert!(!preview.windows(2).any(|w| w == [0xFF, 0xE1]), "no APP1 segment in previews");
    let img = decode(&preview);
    assert_eq!((img.0, img.1), (1365, 2048), "portrait, longest edge 2048");
    let top = mean_rgb(&img, 0, img.1 / 3);
    let bottom = mean_rgb(&img, img.1 * 2 / 3, img.1);
    assert!(top[0] > top[2] + 40.0, "top is red once upright: {top:?}");
    assert!(bottom[2] > bottom[0] + 40.0, "bottom is blue once upright: {bottom:?}");
    // Compare with the same pipeline without a watermark: marked pixels exist.
    let clean = ImagePipeline::new(PipelineConfig::default())
        .unwrap()
        .with_watermark(Arc::new(Stack(vec![])))
        .render_sync(&originals[&sideways_id])
        .unwrap();
    let clean = decode(&clean.preview);
    let marked = img.2.chunks(3).zip(clean.2.chunks(3)).filter(|(a, b)| {
        let la = a.iter().map(|&v| v as i32).sum::<i32>();
        let lb = b.iter().map(|&v| v as i32).sum::<i32>();
        (la - lb).abs() > 60
    });
    let share = marked.count() as f64 / (img.0 * img.1) as f64;
    assert!(share > 0.01 && share < 0.6, "watermark covers {share:.3} of the preview");
    let thumb = app.http.get(sideways["thumbnail_url"].as_str().unwrap()).bearer_auth(&client).send().await.unwrap();
    let thumb = decode(&thumb.bytes().await.unwrap());
    assert_eq!((thumb.0, thumb.1), (267, 400));

    // Nobody but the owner gets an original; strangers don't see the album.
    let r = app.get(&format!("/photos/{sideways_id}/original"), Some(&client)).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.get(&format!("/photos/{sideways_id}/original"), Some(&photographer)).await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), originals[&sideways_id]);
    let stranger = app.user("stranger@else.test", "client").await;
    assert_eq!(app.get(&format!("/albums/{album}"), Some(&stranger)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/albums/{album}/photos"), Some(&stranger)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.http.get(preview_url).bearer_auth(&stranger).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(app.http.get(preview_url).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let listed: Value = app.get("/albums", Some(&stranger)).await.json().await.unwrap();
    assert!(listed["items"].as_array().unwrap().is_empty());

    // The client orders three photos, twice with the same Idempotency-Key.
    let bought: Vec<String> =
        ["sideways-0.jpg", "upright-2.jpg", "upright-4.jpg"].iter().map(|n| by_name[*n].clone()).collect();
    let body = json!({"album_id": album, "photo_ids": bought});
    let order_req = |body: Value| {
        app.http.post(app.api("/orders")).bearer_auth(&client).header("Idempotency-Key", "order-1").json(&body).send()
    };
    let r = order_req(body.clone()).await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let order: Value = r.json().await.unwrap();
    assert_eq!(order["status"], "pending");
    assert_eq!(order["total"], json!({"amount": 1500, "currency": "EUR"}));
    let order_id = order["id"].as_str().unwrap().to_owned();
    let again: Value = order_req(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(again["id"], order["id"], "same key, same body: the first order");
    let other = json!({"album_id": album, "photo_ids": [bought[0]]});
    assert_eq!(order_req(other).await.unwrap().status(), StatusCode::UNPROCESSABLE_ENTITY);
    let orders: Value = app.get("/orders", Some(&client)).await.json().await.unwrap();
    assert_eq!(orders["items"].as_array().unwrap().len(), 1);

    // Checkout and pay.
    pay(&app, &stripe, &client, &order_id).await;

    let order = app.wait_order(&client, &order_id, "fulfilled").await;
    let url = order["download"]["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&format!("{}/api/v1/downloads/", app.url)));
    // The photographer sees the sale but not the buyer's link.
    let seen: Value = app.get(&format!("/orders/{order_id}"), Some(&photographer)).await.json().await.unwrap();
    assert_eq!(seen["status"], "fulfilled");
    assert!(seen["download"].is_null());

    // The zip holds exactly the three originals, byte for byte.
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.headers()["cache-control"], "no-store", "no cache keeps a bought zip");
    let zip_bytes = r.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.clone())).unwrap();
    assert_eq!(zip.len(), 3);
    let mut names = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().to_owned();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        assert_eq!(data, originals[&by_name[&name]], "{name} is byte-identical");
        names.push(name);
    }
    names.sort();
    assert_eq!(names, ["sideways-0.jpg", "upright-2.jpg", "upright-4.jpg"]);

    // Range requests resume a download.
    let r = app.http.get(&url).header("Range", "bytes=100-199").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], format!("bytes 100-199/{}", zip_bytes.len()));
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.bytes().await.unwrap().to_vec(), zip_bytes[100..200]);
    let r = app.http.get(&url).header("Range", format!("bytes={}-", zip_bytes.len())).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);

    // The zip is named after the album ("Wedding").
    let r = app.http.get(&url).send().await.unwrap();
    let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains("filename=\"Wedding.zip\""), "{disposition}");

    // Each photo on its own, under the same link: whole, in ranges, and
    // never a photo the order does not hold.
    let files = order["download"]["files"].as_array().unwrap();
    assert_eq!(files.len(), 3);
    for f in files {
        let id = f["photo_id"].as_str().unwrap();
        let r = app.http.get(f["url"].as_str().unwrap()).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "image/jpeg");
        assert_eq!(r.headers()["cache-control"], "no-store");
        let name = by_name.iter().find(|(_, v)| v.as_str() == id).unwrap().0.clone();
        assert!(r.headers()["content-disposition"].to_str().unwrap().contains(&format!("filename=\"{name}\"")));
        assert_eq!(r.bytes().await.unwrap().to_vec(), originals[id], "{name}: the original, byte for byte");
        let r = app.http.get(f["url"].as_str().unwrap()).header("Range", "bytes=10-19").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(r.bytes().await.unwrap().to_vec(), originals[id][10..20]);
    }
    let unbought = by_name["upright-3.jpg"].clone();
    let r = app.http.get(format!("{url}/{unbought}")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "a photo the order does not hold");

    // A forged or mangled token finds nothing.
    let bad = format!("{}/api/v1/downloads/{}", app.url, "A".repeat(43));
    assert_eq!(app.http.get(bad).send().await.unwrap().status(), StatusCode::NOT_FOUND);

    // A declined payment cancels the order and makes no link.
    let r = app.post_json("/orders", Some(&client), json!({"album_id": album, "photo_ids": [bought[1]]})).await;
    let second = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let ended = fail_payment(&app, &stripe, &client, &second).await;
    let declined = app.wait_order(&client, &second, ended).await;
    assert!(declined["download"].is_null());
    // A cancelled order cannot be paid any more.
    let r = app.post_json(&format!("/orders/{second}/checkout"), Some(&client), json!({})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);

    // Another client cannot read or pay the first client's order.
    assert_eq!(app.get(&format!("/orders/{order_id}"), Some(&stranger)).await.status(), StatusCode::NOT_FOUND);

    // The sale shows in the photographer's report (the declined order does not).
    let r = app.get("/reports/sales", Some(&photographer)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        report["totals"],
        json!([{"currency": "EUR", "orders": 1, "photos_sold": 3, "revenue": {"amount": 1500, "currency": "EUR"}}])
    );
    assert_eq!(report["albums"][0]["album_id"], album.as_str());
    let top = report["top_photos"].as_array().unwrap();
    assert_eq!(top.len(), 3, "{top:?}");
    assert!(top.iter().all(|t| t["sold"] == 1 && bought.contains(&t["photo_id"].as_str().unwrap().to_owned())));
    let r = app.get("/reports/sales?format=csv&from=2020-01-01", Some(&photographer)).await;
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert_eq!(csv.lines().nth(1).unwrap(), format!("{album},Wedding,EUR,1,3,15.00"));
    assert_eq!(app.get("/reports/sales", Some(&client)).await.status(), StatusCode::FORBIDDEN);
    let other: Value = app
        .get("/reports/sales", Some(&app.user("rival@studio.test", "photographer").await))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(other["totals"], json!([]), "a photographer sees only their own sales");

    // Eight days later the link no longer works.
    app.clock.advance(chrono::Duration::days(8));
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "link_expired");

    // Within the download window the buyer gets a fresh link (at once while
    // the zip is stored, else after a rebuild), and not twice in an hour.
    let fresh_url = app.api(&format!("/orders/{order_id}/download-link"));
    let r = app.http.post(&fresh_url).bearer_auth(&client).send().await.unwrap();
    assert!(matches!(r.status().as_u16(), 201 | 202), "{}", r.status());
    let r2 = app.http.post(&fresh_url).bearer_auth(&client).send().await.unwrap();
    assert_eq!(r2.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r2.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
    assert_eq!(app.http.post(&fresh_url).bearer_auth(&stranger).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let mut fresh = None;
    for _ in 0..300 {
        let o: Value = app.get(&format!("/orders/{order_id}"), Some(&client)).await.json().await.unwrap();
        if let Some(u) = o["download"]["url"].as_str().filter(|u| *u != url) {
            fresh = Some(u.to_owned());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let fresh = fresh.expect("a fresh link shows on the order");
    let again = app.http.get(&fresh).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(zip::ZipArchive::new(std::io::Cursor::new(again.to_vec())).unwrap().len(), 3);

    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_albums_are_readable_anonymously_and_private_ones_are_not() {
    let app = TestApp::start().await;
    let ph = app.user("pub@studio.test", "photographer").await;
    let public = app.album(&ph, "public", None).await;
    let private = app.album(&ph, "private", None).await;
    assert_eq!(app.get(&format!("/albums/{public}"), None).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/albums/{public}/photos"), None).await.status(), StatusCode::OK);
    assert_eq!(app.get(&format!("/albums/{private}"), None).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/albums", None).await.status(), StatusCode::UNAUTHORIZED);
    // A client sees public albums in the list; another photographer cannot change them.
    let client = app.user("anyone@home.test", "client").await;
    let listed: Value = app.get("/albums", Some(&client)).await.json().await.unwrap();
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [public.as_str()]);
    let other = app.user("other@studio.test", "photographer").await;
    let r = app
        .http
        .patch(app.api(&format!("/albums/{public}")))
        .bearer_auth(&other)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app.http.delete(app.api(&format!("/albums/{private}"))).bearer_auth(&other).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Clients cannot create albums; photographers cannot buy.
    let r = app
        .post_json(
            "/albums",
            Some(&client),
            json!({"name": "x", "visibility": "public", "price_per_photo": {"amount": 1, "currency": "EUR"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The owner renames, clears the client, and deletes.
    let r = app
        .http
        .patch(app.api(&format!("/albums/{private}")))
        .bearer_auth(&ph)
        .json(&json!({"name": "Renamed", "client_email": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Renamed");
    let r = app.http.delete(app.api(&format!("/albums/{private}"))).bearer_auth(&ph).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/albums/{private}"), Some(&ph)).await.status(), StatusCode::NOT_FOUND);
    // Signing out revokes the token.
    let r = app.http.delete(app.api("/sessions/current")).bearer_auth(&ph).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get("/users/me", Some(&ph)).await.status(), StatusCode::UNAUTHORIZED);
    app.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presigned_urls_only_after_the_access_check() {
    let (Ok(pg), Ok(s3)) =
        (std::env::var("PROOFSHEET_TEST_POSTGRES_URL"), std::env::var("PROOFSHEET_TEST_S3_ENDPOINT"))
    else {
        assert!(std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(), "PostgreSQL and S3 are required");
        return;
    };
    let db = proofsheet_storage::fresh_pg_database(&pg).await.unwrap();
    let bucket = std::env::var("PROOFSHEET_TEST_S3_BUCKET").unwrap_or_else(|_| "proofsheet-test".into());
    let app = TestApp::start_with(|c| {
        common::scale_out(c, &db, &s3, &bucket);
        c.storage.presign = true;
        c.storage.presign_seconds = 600;
    })
    .await;
    let ph = app.user("ph@presign.test", "photographer").await;
    let album = app.album(&ph, "private", Some("cl@presign.test")).await;
    let original = jpeg(900, 600, 1, false);
    assert_eq!(app.upload(&ph, &album, "p.jpg", original.clone()).await.status(), StatusCode::CREATED);
    let photos = app.wait_processed(&ph, &album, 1).await;
    let preview_url = photos[0]["preview_url"].as_str().unwrap();
    let no_follow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // Strangers and anonymous callers get 404, never a URL.
    let stranger = app.user("x@presign.test", "client").await;
    assert_eq!(no_follow.get(preview_url).bearer_auth(&stranger).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(no_follow.get(preview_url).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // The album's client is sent to a signed, expiring URL of the store.
    let client = app.user("cl@presign.test", "client").await;
    let r = no_follow.get(preview_url).bearer_auth(&client).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&s3), "{location}");
    assert!(location.contains("X-Amz-Signature=") && location.contains("X-Amz-Expires=600"), "{location}");
    // moto does not check signatures: botocore (AWS's own signer) does here
    // (required under PROOFSHEET_REQUIRE_SERVICES, as every service is).
    let python = std::env::var("PROOFSHEET_TEST_PYTHON");
    assert!(
        python.is_ok() || std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(),
        "PROOFSHEET_TEST_PYTHON (botocore's signer) is required: run scripts/services.sh"
    );
    if let Ok(python) = python {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/verify_sigv4.py");
        let out = std::process::Command::new(python)
            .args([script, &location, "test-key", "test-secret", "us-east-1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut forged = location.clone();
        forged.replace_range(forged.len() - 4.., "0000");
        let out = std::process::Command::new(std::env::var("PROOFSHEET_TEST_PYTHON").unwrap())
            .args([script, &forged, "test-key", "test-secret", "us-east-1"])
            .output()
            .unwrap();
        assert!(!out.status.success(), "the checker rejects a wrong signature");
    }
    let bytes = app.http.get(&location).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(common::decode(&bytes).0, 900, "the preview itself");
    // Originals: the owner only, by redirect too.
    let id = photos[0]["id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/photos/{id}/original"), Some(&client)).await.status(), StatusCode::NOT_FOUND);
    let r = no_follow.get(app.api(&format!("/photos/{id}/original"))).bearer_auth(&ph).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TEMPORARY_REDIRECT);
    let got = app.http.get(r.headers()["location"].to_str().unwrap()).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(got.to_vec(), original);
    app.server.shutdown().await;
}

/// 50 identical `POST /orders` with one `Idempotency-Key`, all at once, on
/// the embedded default and on PostgreSQL: one order is made and every
/// request answers it; the same key with another body is refused. Then 20
/// checkouts of it with one key answer one payment page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_idempotent_orders_make_one() {
    let mut apps = vec![("sqlite", TestApp::start().await)];
    if let Some(app) = TestApp::start_scale_out().await {
        apps.push(("postgres", app));
    }
    for (name, app) in apps {
        let ph = app.user("ph@idem.test", "photographer").await;
        let album = app.album(&ph, "public", None).await;
        for i in 0..2 {
            app.upload(&ph, &album, &format!("p{i}.jpg"), jpeg(64, 48, 1, true)).await;
        }
        let photos: Vec<String> =
            app.wait_processed(&ph, &album, 2).await.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
        let client = app.user("cl@idem.test", "client").await;
        let body = json!({"album_id": album, "photo_ids": [photos[0]]});
        let sends = (0..50).map(|_| {
            app.http.post(app.api("/orders")).bearer_auth(&client).header("Idempotency-Key", "once").json(&body).send()
        });
        let replies = futures::future::join_all(sends).await;
        let mut ids = std::collections::BTreeSet::new();
        for r in replies {
            let r = r.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "{name}");
            ids.insert(r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 1, "{name}: every reply is the one order");
        let listed: Value = app.get("/orders", Some(&client)).await.json().await.unwrap();
        assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{name}: one order exists");
        let other = json!({"album_id": album, "photo_ids": [photos[1]]});
        let r = app.http.post(app.api("/orders")).bearer_auth(&client).header("Idempotency-Key", "once").json(&other);
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "idempotency_key_reused");
        // 20 checkouts of the order with one key, all at once: every one
        // answers the same payment page.
        let order = ids.into_iter().next().unwrap();
        let path = app.api(&format!("/orders/{order}/checkout"));
        let sends = (0..20).map(|_| {
            app.http.post(&path).bearer_auth(&client).header("Idempotency-Key", "pay").json(&json!({})).send()
        });
        let mut urls = std::collections::BTreeSet::new();
        for r in futures::future::join_all(sends).await {
            let r = r.unwrap();
            assert_eq!(r.status(), StatusCode::CREATED, "{name}");
            urls.insert(r.json::<Value>().await.unwrap()["checkout_url"].as_str().unwrap().to_owned());
        }
        assert_eq!(urls.len(), 1, "{name}: one answer for one key: {urls:?}");
        let other = json!({"gateway": "test"});
        let r = app.http.post(&path).bearer_auth(&client).header("Idempotency-Key", "pay").json(&other);
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{name}: the key with another body");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], "idempotency_key_reused");
        app.server.shutdown().await;
    }
}

/// Promises of `docs/api.md` checked over HTTP: previews are cacheable by the
/// browser only, originals by nobody; an expired album answers its client
/// and visitors `410 album_expired` and its owner still sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_headers_and_expired_albums_over_http() {
    let app = TestApp::start().await;
    let ph = app.user("ph@promise.test", "photographer").await;
    let cl = app.user("cl@promise.test", "client").await;
    let expires = (proofsheet_core::Clock::now(&*app.clock) + chrono::Duration::days(2)).to_rfc3339();
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Soon", "visibility": "private", "client_email": "cl@promise.test",
                   "price_per_photo": {"amount": 100, "currency": "EUR"}, "expires_at": expires}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let album = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    app.upload(&ph, &album, "a.jpg", jpeg(320, 240, 1, true)).await;
    let photo = app.wait_processed(&ph, &album, 1).await[0]["id"].as_str().unwrap().to_owned();
    for (path, token, want) in [
        (format!("/photos/{photo}/preview"), &cl, "private, max-age=3600"),
        (format!("/photos/{photo}/thumbnail"), &cl, "private, max-age=3600"),
        (format!("/photos/{photo}/original"), &ph, "private, no-store"),
    ] {
        let r = app.get(&path, Some(token)).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["cache-control"], want, "{path}");
    }
    // Two days later the album has expired.
    app.clock.advance(chrono::Duration::days(3));
    let r = app.get(&format!("/albums/{album}"), Some(&cl)).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "album_expired");
    let r = app.get(&format!("/photos/{photo}/preview"), Some(&cl)).await;
    assert_eq!(r.status(), StatusCode::GONE);
    assert_eq!(
        app.get(&format!("/albums/{album}"), Some(&ph)).await.status(),
        StatusCode::OK,
        "the owner still sees it"
    );
    let r = app.post_json("/orders", Some(&cl), json!({"album_id": album, "photo_ids": [photo]})).await;
    assert!(matches!(r.status().as_u16(), 409 | 410), "no new orders: {}", r.status());
    app.server.shutdown().await;
}

/// `GET /reports/monthly`: each photographer gets the reports the
/// scheduler kept for them, nobody else's; clients are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monthly_reports_are_served_to_their_photographer_only() {
    let app = TestApp::start().await;
    let ph = app.user("ph@monthly.test", "photographer").await;
    let other = app.user("other@monthly.test", "photographer").await;
    let client = app.user("cl@monthly.test", "client").await;
    let me: Value = app.get("/users/me", Some(&ph)).await.json().await.unwrap();
    let id: proofsheet_core::UserId = me["id"].as_str().unwrap().parse().unwrap();
    let report = json!({"totals": [{"currency": "EUR", "amount": 1500, "orders": 1, "photos": 3}]});
    let meta = &app.server.state.engine.backends().metadata;
    assert!(meta.save_monthly_report(id, "2026-10", &report.to_string(), chrono::Utc::now()).await.unwrap());
    let mine: Value = app.get("/reports/monthly", Some(&ph)).await.json().await.unwrap();
    assert_eq!(mine, json!([{"month": "2026-10", "report": report}]));
    let theirs: Value = app.get("/reports/monthly", Some(&other)).await.json().await.unwrap();
    assert_eq!(theirs, json!([]));
    assert_eq!(app.get("/reports/monthly", Some(&client)).await.status(), StatusCode::FORBIDDEN);
    app.server.shutdown().await;
}

/// Issue 28: an album that closes on 6 January says 6 January on every
/// page (it said 7 January, the date its `expires_at` falls on), and its
/// form shows the day it was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closing_day_is_the_day_the_photographer_chose() {
    let app = TestApp::start().await;
    let ph = app.user("ph@studio.test", "photographer").await;
    // What the form's "Expires on 2030-01-06" stores: the end of that day.
    let r = app
        .post_json(
            "/albums",
            Some(&ph),
            json!({"name": "Gala", "visibility": "public",
                   "price_per_photo": {"amount": 500, "currency": "EUR"}, "expires_at": "2030-01-07T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let album = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    for path in ["/albums".to_owned(), format!("/albums/{album}")] {
        let (status, html) = app.page_as(&ph, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("6 January 2030"), "{path}: the closing day");
        assert!(!html.contains("7 January 2030"), "{path}: not the day after");
    }
    let (_, html) = app.page_as(&ph, &format!("/albums/{album}")).await;
    assert!(html.contains("value=\"2030-01-06\""), "the form shows the day chosen");
    // A visitor's gallery says it too.
    let gallery = app.http.get(format!("{}/albums/{album}", app.url)).send().await.unwrap().text().await.unwrap();
    assert!(gallery.contains("6 January 2030") && !gallery.contains("7 January 2030"));
    app.server.shutdown().await;
}
