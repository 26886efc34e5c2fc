//! The selling service over a running server's engine: price sheets and
//! coupons are their photographer's alone, an album sells by its owner's
//! sheet, and a quote prices a cart of the album's ready photos with the
//! typed code or the best offer.

use crate::common;

use common::{TestApp, jpeg};
use proofsheet_core::pricing::{
    Coupon, Delivery, Discount, Package, PackageId, PriceSheet, PriceSheetId, Product, ProductId, ProductKind,
};
use proofsheet_core::{Money, PageRequest, PhotoId, User, UserId};
use serde_json::Value;

fn eur(amount: i64) -> Money {
    Money { amount, currency: "EUR".parse().unwrap() }
}

fn sheet() -> PriceSheet {
    let original = Product {
        id: ProductId::new(),
        name: "Full resolution".into(),
        kind: ProductKind::Digital { delivery: Delivery::Original },
        price: eur(500),
    };
    let web = Product {
        id: ProductId::new(),
        name: "Web size".into(),
        kind: ProductKind::Digital { delivery: Delivery::Web },
        price: eur(200),
    };
    PriceSheet {
        id: PriceSheetId::new(),
        owner_id: UserId::new(),
        name: "Weddings".into(),
        currency: eur(0).currency,
        packages: vec![Package {
            id: PackageId::new(),
            name: "Any 3".into(),
            product: original.id,
            photos: 3,
            price: eur(1200),
        }],
        products: vec![original, web],
        all_photos: None,
    }
}

fn coupon(code: &str, discount: Discount, auto_apply: bool) -> Coupon {
    Coupon { auto_apply, ..Coupon::new(UserId::new(), code, discount) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sheets_and_coupons_are_the_photographers_and_quotes_price_carts() {
    let app = TestApp::start().await;
    let engine = &app.server.state.engine;
    let who = |token: String| async move { engine.users().authenticate(&token).await.unwrap().unwrap() };
    let ph_token = app.user("ph@selling.test", "photographer").await;
    let ph: User = who(ph_token.clone()).await;
    let rival_token = app.user("rival@selling.test", "photographer").await;
    let rival: User = who(rival_token.clone()).await;
    let rival_album: proofsheet_core::AlbumId = app.album(&rival_token, "public", None).await.parse().unwrap();
    let cl_token = app.user("cl@selling.test", "client").await;
    let cl: User = who(cl_token.clone()).await;
    let album = app.album(&ph_token, "private", Some("cl@selling.test")).await;
    for i in 0..4 {
        app.upload(&ph_token, &album, &format!("p{i}.jpg"), jpeg(64, 48, i, true)).await;
    }
    let photos: Vec<PhotoId> = app
        .wait_processed(&ph_token, &album, 4)
        .await
        .iter()
        .map(|p: &Value| p["id"].as_str().unwrap().parse().unwrap())
        .collect();
    let album = album.parse().unwrap();
    let selling = engine.selling();

    // Without a sheet: the album's price per photo, as before (the test
    // album's price is 5.00).
    let cart: Vec<_> = photos.iter().map(|p| (*p, None)).collect();
    let q = selling.quote(Some(&cl), album, &cart, None).await.unwrap();
    assert_eq!(q.total.amount, 4 * app_price(engine, &ph, album).await, "price_per_photo times four");

    // A sheet is its photographer's: clients may not make one, rivals do not see it.
    let e = selling.create_sheet(&cl, sheet()).await.unwrap_err();
    assert_eq!(e.code(), "photographers_only");
    let s = selling.create_sheet(&ph, sheet()).await.unwrap();
    assert_eq!(s.owner_id, ph.id);
    assert_eq!(selling.sheet(&rival, s.id).await.unwrap_err().code(), "not_found");
    assert_eq!(selling.sheets(&ph, PageRequest::first()).await.unwrap().items.len(), 1);
    let mut broken = sheet();
    broken.packages[0].product = ProductId::new();
    assert_eq!(selling.create_sheet(&ph, broken).await.unwrap_err().code(), "invalid_price_sheet");
    // Only the owner's sheet, on the owner's album.
    let theirs = selling.create_sheet(&rival, sheet()).await.unwrap();
    let e = selling.set_album_sheet(&ph, album, Some(theirs.id)).await.unwrap_err();
    assert_eq!(e.code(), "invalid_price_sheet");
    assert_eq!(selling.set_album_sheet(&rival, album, Some(theirs.id)).await.unwrap_err().code(), "not_found");
    selling.set_album_sheet(&ph, album, Some(s.id)).await.unwrap();
    assert_eq!(selling.delete_sheet(&ph, s.id).await.unwrap_err().code(), "in_use", "an open album sells by it");

    // Three originals in the package, one web file: 12 + 2.
    let (original, web) = (s.products[0].id, s.products[1].id);
    let cart = [(photos[0], Some(original)), (photos[1], None), (photos[2], Some(original)), (photos[3], Some(web))];
    let q = selling.quote(Some(&cl), album, &cart, None).await.unwrap();
    assert_eq!((q.subtotal.amount, q.total.amount), (1400, 1400));
    assert_eq!(q.packages.len(), 1);
    // A photo of no album, a stranger, an unknown product: refused.
    let e = selling.quote(Some(&cl), album, &[(PhotoId::new(), None)], None).await.unwrap_err();
    assert_eq!(e.code(), "unknown_photo");
    let stranger = who(app.user("stranger@selling.test", "client").await).await;
    assert_eq!(selling.quote(Some(&stranger), album, &cart[..1], None).await.unwrap_err().code(), "not_found");
    let e = selling.quote(Some(&cl), album, &[(photos[0], Some(ProductId::new()))], None).await.unwrap_err();
    assert_eq!(e.code(), "unknown_product");

    // Coupons: the photographer's, codes in any case; the buyer gets the
    // better of the typed code and the best offer.
    let c = selling.create_coupon(&ph, coupon("Spring-10", Discount::Percent(10), false)).await.unwrap();
    let e = selling.create_coupon(&ph, coupon("SPRING-10", Discount::Percent(20), false)).await.unwrap_err();
    assert_eq!(e.code(), "coupon_code_taken");
    let e = selling.create_coupon(&ph, coupon("no spaces", Discount::Percent(20), false)).await.unwrap_err();
    assert_eq!(e.code(), "invalid_coupon");
    let mut foreign = coupon("ELSEWHERE", Discount::Percent(20), false);
    foreign.album_ids = vec![rival_album];
    assert_eq!(selling.create_coupon(&ph, foreign).await.unwrap_err().code(), "invalid_coupon");
    assert_eq!(selling.coupon(&rival, c.id).await.unwrap_err().code(), "not_found");
    let q = selling.quote(Some(&cl), album, &cart, Some("spring-10")).await.unwrap();
    assert_eq!((q.discount.amount, q.total.amount), (140, 1260));
    assert_eq!(q.coupon.unwrap().code, "Spring-10");
    let e = selling.quote(Some(&cl), album, &cart, Some("NOPE")).await.unwrap_err();
    assert_eq!(e.code(), "coupon_unknown");
    selling.create_coupon(&ph, coupon("EARLYBIRD", Discount::Amount(eur(300)), true)).await.unwrap();
    let q = selling.quote(Some(&cl), album, &cart, None).await.unwrap();
    assert_eq!((q.discount.amount, q.coupon.as_ref().map(|c| c.auto_apply)), (300, Some(true)), "the offer alone");
    let q = selling.quote(Some(&cl), album, &cart, Some("SPRING-10")).await.unwrap();
    assert_eq!(q.discount.amount, 300, "the offer is worth more than the code");
    // Deleting: the coupon goes; a sheet goes once no open album uses it.
    selling.delete_coupon(&ph, c.id).await.unwrap();
    assert_eq!(selling.coupon(&ph, c.id).await.unwrap_err().code(), "not_found");
    selling.set_album_sheet(&ph, album, None).await.unwrap();
    selling.delete_sheet(&ph, s.id).await.unwrap();
    let q = selling.quote(Some(&cl), album, &[(photos[0], None)], None).await.unwrap();
    assert_eq!(q.subtotal.amount - q.discount.amount, q.total.amount);
    assert_eq!(q.subtotal.amount, app_price(engine, &ph, album).await, "back to the price per photo");
}

async fn app_price(engine: &proofsheet_core::Proofsheet, owner: &User, album: proofsheet_core::AlbumId) -> i64 {
    engine.albums().get_owned(owner, album).await.unwrap().price_per_photo.amount
}

/// `POST /api/v1/albums/{album_id}/quote` over HTTP: the shape of
/// docs/api.md, for whoever may see the album, refusals with their codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quote_route_prices_a_cart_for_whoever_may_see_the_album() {
    let app = TestApp::start().await;
    let ph = app.user("ph@quote.test", "photographer").await;
    let album = app.album(&ph, "public", None).await;
    for i in 0..3 {
        app.upload(&ph, &album, &format!("q{i}.jpg"), jpeg(64, 48, i, true)).await;
    }
    let photos: Vec<String> =
        app.wait_processed(&ph, &album, 3).await.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect();
    let engine = &app.server.state.engine;
    let owner = engine.users().authenticate(&ph).await.unwrap().unwrap();
    engine.selling().create_coupon(&owner, coupon("THANKS", Discount::Percent(50), false)).await.unwrap();
    let items: Vec<Value> = photos.iter().map(|p| serde_json::json!({"photo_id": p})).collect();
    // Anyone may quote a public album's photos; the code is case-free.
    let r = app
        .post_json(&format!("/albums/{album}/quote"), None, serde_json::json!({"items": items, "coupon": "thanks"}))
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let q: Value = r.json().await.unwrap();
    let price = engine.albums().get_owned(&owner, album.parse().unwrap()).await.unwrap().price_per_photo.amount;
    assert_eq!(q["subtotal"]["amount"], 3 * price);
    assert_eq!(q["discount"]["amount"], 3 * price / 2);
    assert_eq!(q["total"]["amount"], 3 * price - 3 * price / 2);
    assert_eq!(q["tax"]["amount"], 0);
    assert_eq!(q["coupon"]["code"], "THANKS");
    assert_eq!(q["lines"].as_array().unwrap().len(), 3);
    assert_eq!(q["lines"][0]["photo_id"], photos[0].as_str());
    assert_eq!(q["packages"], serde_json::json!([]));
    // Without a code: no coupon (null), full price.
    let r = app.post_json(&format!("/albums/{album}/quote"), None, serde_json::json!({"items": items})).await;
    let q: Value = r.json().await.unwrap();
    assert_eq!((q["discount"]["amount"].as_i64(), q["coupon"].clone()), (Some(0), Value::Null));
    // Refusals.
    for (body, status, code) in [
        (serde_json::json!({"items": []}), 422, "invalid_photo_ids"),
        (serde_json::json!({"items": [{"photo_id": "nope"}]}), 422, "unknown_photo"),
        (serde_json::json!({"items": [{"photo_id": photos[0], "product_id": "nope"}]}), 422, "unknown_product"),
        (serde_json::json!({"items": [{"photo_id": photos[0]}, {"photo_id": photos[0]}]}), 422, "duplicate_photo"),
        (serde_json::json!({"items": items, "coupon": "NOSUCH"}), 422, "coupon_unknown"),
    ] {
        let r = app.post_json(&format!("/albums/{album}/quote"), None, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code, "{body}");
    }
    let r = app
        .post_json(
            &format!("/albums/{}/quote", proofsheet_core::AlbumId::new()),
            None,
            serde_json::json!({"items": items}),
        )
        .await;
    assert_eq!(r.status(), reqwest::StatusCode::NOT_FOUND);
}
