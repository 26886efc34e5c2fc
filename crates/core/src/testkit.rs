//! Conformance suites for the core traits, shared by every backend (the
//! way OpenDAL's behaviour tests are): a backend crate calls each suite from
//! its own tests, once per backend it provides. A new backend passes the
//! same suite or it is not done. Enabled by the `testkit` feature.
//!
//! The suites panic on the first broken promise, naming the backend.
#![allow(missing_docs, clippy::missing_panics_doc)]

use bytes::Bytes;
use chrono::Duration;
use futures::TryStreamExt;

use crate::*;

pub fn user(email: &str, role: Role) -> User {
    User {
        id: UserId::new(),
        email: email.parse().unwrap(),
        name: "A".into(),
        surname: "B".into(),
        role,
        email_verified: true,
        created_at: SystemClock.now(),
    }
}

pub fn eur(n: i64) -> Money {
    Money::new(n, "EUR".parse().unwrap()).unwrap()
}

pub fn album(owner: &User, visibility: Visibility, client: Option<&str>) -> Album {
    let id = AlbumId::new();
    Album {
        id,
        owner_id: owner.id,
        name: "Album".into(),
        visibility,
        client_email: client.map(|c| c.parse().unwrap()),
        price_per_photo: eur(500),
        expires_at: None,
        watermark: None,
        storage_prefix: Album::prefix_for(owner.id, id),
        created_at: SystemClock.now(),
        updated_at: SystemClock.now(),
        purged_at: None,
        revision: 0,
        find_me: false,
        draft: false,
        client_name: None,
        cover_photo_id: None,
    }
}

pub fn photo(album: AlbumId) -> Photo {
    Photo {
        id: PhotoId::new(),
        album_id: album,
        filename: "a.jpg".into(),
        content_type: "image/jpeg".into(),
        size_bytes: 10,
        status: PhotoStatus::Processing,
        failure_reason: None,
        width: None,
        height: None,
        created_at: SystemClock.now(),
        renders: 0,
        sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
        taken_at: None,
        position: None,
    }
}

pub fn order(buyer: &User, album: &Album, photos: &[&Photo]) -> Order {
    Order {
        id: OrderId::new(),
        buyer_id: buyer.id,
        album_id: album.id,
        seller_id: album.owner_id,
        status: OrderStatus::Pending,
        items: photos
            .iter()
            .map(|p| OrderItem { photo_id: p.id, filename: p.filename.clone(), price: eur(500) })
            .collect(),
        total: eur(500 * photos.len() as i64),
        gateway: None,
        payment_ref: None,
        created_at: SystemClock.now(),
        updated_at: SystemClock.now(),
        paid_at: None,
    }
}

/// Every metadata suite in turn (each also runs alone; see
/// `crates/storage/tests/conformance.rs`, one test per role).
pub async fn metadata_store<S: MetadataStore + JobQueue>(name: &str, store: &S) {
    deployment(name, store).await;
    accounts(name, store).await;
    albums(name, store).await;
    photos(name, store).await;
    orders(name, store).await;
    downloads(name, store).await;
    reports(name, store).await;
    schedules(name, store).await;
    idempotency(name, store).await;
    sign_in_links(name, store).await;
    favourites(name, store).await;
    logos(name, store).await;
    webhooks(name, store).await;
    events(name, store).await;
    faces(name, store).await;
    quotas(name, store).await;
    photo_order(name, store).await;
    drafts(name, store).await;
    selling(name, store).await;
}

/// `SellingStore`: sheets saved whole and read back in order, not deleted
/// while an open album sells by them; coupon codes once per photographer
/// in any case; holds taken with their orders, exactly up to the limit
/// when 50 orders race for a single-use code, once per client, given back
/// by an expired or cancelled order and kept by a paid one.
pub async fn selling<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    use crate::pricing::*;
    let shop = shop(s).await;
    let (ph, cl) = (&shop.ph, &shop.cl);
    let now = SystemClock.now();
    let product = |delivery, amount| Product {
        id: ProductId::new(),
        name: format!("{delivery:?}"),
        kind: ProductKind::Digital { delivery },
        price: eur(amount),
    };
    let (original, web) = (product(Delivery::Original, 500), product(Delivery::Web, 200));
    let mut sheet = PriceSheet {
        id: PriceSheetId::new(),
        owner_id: ph.id,
        name: "Weddings".into(),
        currency: eur(0).currency,
        products: vec![original.clone(), web.clone()],
        packages: vec![Package {
            id: PackageId::new(),
            name: "Ten".into(),
            product: original.id,
            photos: 10,
            price: eur(4000),
        }],
        all_photos: Some(AllPhotos { product: web.id, price: eur(9000) }),
    };
    s.save_sheet(&sheet, now).await.unwrap();
    assert_eq!(s.sheet(sheet.id).await.unwrap().as_ref(), Some(&sheet), "{name}: a sheet round trip");
    // Saved whole: products replaced in their new order, packages gone.
    sheet.products.reverse();
    sheet.packages.clear();
    sheet.all_photos = None;
    sheet.name = "Weddings 2027".into();
    s.save_sheet(&sheet, now).await.unwrap();
    assert_eq!(s.sheet(sheet.id).await.unwrap().as_ref(), Some(&sheet), "{name}: replaced whole");
    let stolen = PriceSheet { owner_id: cl.id, name: "Mine".into(), ..sheet.clone() };
    assert_eq!(s.save_sheet(&stolen, now).await.unwrap_err().code(), "not_found", "{name}: not another's");
    assert_eq!(s.sheet(sheet.id).await.unwrap().unwrap().owner_id, ph.id);
    let listed = s.list_sheets(ph.id, PageRequest::first()).await.unwrap();
    assert_eq!(listed.items.iter().map(|x| x.id).collect::<Vec<_>>(), vec![sheet.id], "{name}");
    assert!(s.list_sheets(cl.id, PageRequest::first()).await.unwrap().items.is_empty());
    // An open album keeps its sheet; a closed one lets it go.
    s.set_album_sheet(shop.album.id, Some(sheet.id)).await.unwrap();
    assert_eq!(s.album_sheet(shop.album.id).await.unwrap(), Some(sheet.id), "{name}");
    assert_eq!(s.delete_sheet(sheet.id, now).await.unwrap_err().code(), "in_use", "{name}: an open album");
    let mut closed = album(ph, Visibility::Public, None);
    closed.expires_at = Some(now - Duration::days(1));
    s.insert_album(&closed).await.unwrap();
    s.set_album_sheet(shop.album.id, None).await.unwrap();
    s.set_album_sheet(closed.id, Some(sheet.id)).await.unwrap();
    assert!(s.delete_sheet(sheet.id, now).await.unwrap(), "{name}: only a closed album sells by it");
    assert!(s.sheet(sheet.id).await.unwrap().is_none());
    assert!(!s.delete_sheet(sheet.id, now).await.unwrap(), "{name}: gone");

    // Coupons: codes once per photographer, in any case.
    let coupon = |code: &str, discount| Coupon {
        id: CouponId::new(),
        owner_id: ph.id,
        code: code.into(),
        discount,
        min_order: Some(eur(1000)),
        starts_at: Some(now - Duration::days(1)),
        expires_at: Some(now + Duration::days(30)),
        max_redemptions: Some(1),
        once_per_client: false,
        album_ids: vec![shop.album.id],
        auto_apply: false,
    };
    let single = coupon("SPRING", Discount::Percent(10));
    s.save_coupon(&single, now).await.unwrap();
    let (got, held) = s.coupon(single.id).await.unwrap().unwrap();
    let close = |a: Option<chrono::DateTime<chrono::Utc>>| a.map(|t| t.timestamp_millis());
    assert_eq!((close(got.starts_at), close(got.expires_at)), (close(single.starts_at), close(single.expires_at)));
    assert_eq!(Coupon { starts_at: single.starts_at, expires_at: single.expires_at, ..got }, single, "{name}");
    assert_eq!(held, 0);
    let twin = coupon("spring", Discount::Amount(eur(300)));
    assert_eq!(s.save_coupon(&twin, now).await.unwrap_err().code(), "coupon_code_taken", "{name}: any case");
    let other_owner = Coupon { owner_id: cl.id, ..twin.clone() };
    s.save_coupon(&other_owner, now).await.unwrap();
    assert_eq!(s.coupon_by_code(ph.id, " Spring ").await.unwrap().map(|(c, _)| c.id), Some(single.id), "{name}");
    let offer = Coupon { auto_apply: true, max_redemptions: None, ..coupon("EARLY", Discount::Amount(eur(300))) };
    s.save_coupon(&offer, now).await.unwrap();
    assert_eq!(s.offers(ph.id).await.unwrap().iter().map(|(c, _)| c.id).collect::<Vec<_>>(), vec![offer.id]);
    assert_eq!(s.list_coupons(ph.id, PageRequest::first()).await.unwrap().items.len(), 2, "{name}");

    // 50 orders race for the single-use code: exactly one holds it.
    let hold = CouponHold { coupon_id: single.id, buyer_id: cl.id };
    let orders: Vec<Order> = (0..50).map(|_| order(cl, &shop.album, &[&shop.photo])).collect();
    let results = futures::future::join_all(orders.iter().map(|o| s.insert_order(o, None, Some(&hold)))).await;
    let mut won = Vec::new();
    for (o, r) in orders.iter().zip(results) {
        match r {
            Ok(true) => won.push(o.id),
            Ok(false) => panic!("{name}: no key was given"),
            Err(e) => assert_eq!(e.code(), "coupon_exhausted", "{name}: {e}"),
        }
    }
    assert_eq!(won.len(), 1, "{name}: one order holds a single-use code");
    for o in &orders {
        assert_eq!(s.order(o.id).await.unwrap().is_some(), won.contains(&o.id), "{name}: the losers wrote nothing");
    }
    assert_eq!(s.coupon(single.id).await.unwrap().unwrap().1, 1);
    // Cancelled: the hold goes back, and the next order takes it; paid, it stays.
    let none = OrderChange::default();
    assert!(s.transition_order(won[0], OrderStatus::Cancelled, &none, &[], now).await.unwrap().is_some());
    assert_eq!(s.coupon(single.id).await.unwrap().unwrap().1, 0, "{name}: a cancelled order frees it");
    let next = order(cl, &shop.album, &[&shop.photo]);
    assert!(s.insert_order(&next, None, Some(&hold)).await.unwrap());
    let paid = OrderChange { paid_at: Some(now), ..OrderChange::default() };
    assert!(s.transition_order(next.id, OrderStatus::Paid, &paid, &[], now).await.unwrap().is_some());
    assert_eq!(s.coupon(single.id).await.unwrap().unwrap().1, 1, "{name}: a paid order keeps it");
    let late = order(cl, &shop.album, &[&shop.photo]);
    let e = s.insert_order(&late, None, Some(&hold)).await.unwrap_err();
    assert_eq!(e.code(), "coupon_exhausted", "{name}");
    // Once per client: a second order of the same client is refused,
    // another client's is not; an expired order frees its client's turn.
    let once = Coupon { once_per_client: true, max_redemptions: None, ..coupon("ONCE", Discount::Percent(5)) };
    s.save_coupon(&once, now).await.unwrap();
    let mine = CouponHold { coupon_id: once.id, buyer_id: cl.id };
    let first = order(cl, &shop.album, &[&shop.photo]);
    assert!(s.insert_order(&first, None, Some(&mine)).await.unwrap());
    let again = order(cl, &shop.album, &[&shop.photo]);
    assert_eq!(s.insert_order(&again, None, Some(&mine)).await.unwrap_err().code(), "coupon_exhausted", "{name}");
    let other = user(&format!("other-{}@x.test", uuid::Uuid::new_v4().simple()), Role::Client);
    s.insert_user(&other, "hash").await.unwrap();
    let theirs = order(&other, &shop.album, &[&shop.photo]);
    assert!(s.insert_order(&theirs, None, Some(&CouponHold { coupon_id: once.id, buyer_id: other.id })).await.unwrap());
    assert!(
        s.transition_order(first.id, OrderStatus::Expired, &OrderChange::default(), &[], now).await.unwrap().is_some()
    );
    assert!(s.insert_order(&again, None, Some(&mine)).await.unwrap(), "{name}: expired, the client may again");
    assert_eq!(s.coupon(once.id).await.unwrap().unwrap().1, 2, "{name}");
    assert!(s.delete_coupon(once.id).await.unwrap());
    assert!(s.coupon(once.id).await.unwrap().is_none());
}

/// `AlbumStore`'s photo order: placed photos first, then capture time
/// (none last), then file name; cursors walk that order; a new order
/// replaces the old one whole, and a bad one changes nothing.
pub async fn photo_order<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let ph = user("ph@order.test", Role::Photographer);
    s.insert_user(&ph, "h").await.unwrap();
    let a = album(&ph, Visibility::Public, None);
    s.insert_album(&a).await.unwrap();
    let at =
        |h: u32| Some(chrono::NaiveDate::from_ymd_opt(2026, 6, 20).unwrap().and_hms_opt(h, 0, 0).unwrap().and_utc());
    // Uploaded in this order; taken at 14:00, 12:00, unknown, 12:00, unknown.
    let specs = [("d.jpg", at(14)), ("b.jpg", at(12)), ("z.png", None), ("a.jpg", at(12)), ("c.png", None)];
    let mut ids = Vec::new();
    for (file, taken) in specs {
        let p = Photo { filename: file.into(), taken_at: taken, ..photo(a.id) };
        s.insert_photo(&p, &[]).await.unwrap();
        ids.push(p.id);
    }
    let names = |page: &Page<Photo>| page.items.iter().map(|p| p.filename.clone()).collect::<Vec<_>>();
    let walk = |limit: u32| async move {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = s.list_photos(a.id, PageRequest::new(Some(limit), cursor.as_deref()).unwrap()).await.unwrap();
            all.extend(names(&page));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return all,
            }
        }
    };
    let capture = ["a.jpg", "b.jpg", "d.jpg", "c.png", "z.png"];
    assert_eq!(walk(200).await, capture, "{name}: capture time, then file name; no time last");
    assert_eq!(walk(2).await, capture, "{name}: pages of 2 walk the same order");
    let got = s.photo(ids[0]).await.unwrap().unwrap();
    assert_eq!(got.taken_at, at(14), "{name}: capture time round trip");
    // Placing two photos puts them first; the rest keep capture order.
    let rev = s.album(a.id).await.unwrap().unwrap().revision;
    s.set_photo_order(a.id, &[ids[2], ids[0]]).await.unwrap();
    assert_eq!(walk(2).await, ["z.png", "d.jpg", "a.jpg", "b.jpg", "c.png"], "{name}: placed first");
    assert!(s.album(a.id).await.unwrap().unwrap().revision > rev, "{name}: ordering changes the revision");
    assert_eq!(s.photo(ids[2]).await.unwrap().unwrap().position, Some(0), "{name}");
    // A new order replaces the old one whole.
    s.set_photo_order(a.id, &[ids[4]]).await.unwrap();
    assert_eq!(walk(3).await, ["c.png", "a.jpg", "b.jpg", "d.jpg", "z.png"], "{name}: replaced");
    // A repeat or a stranger changes nothing.
    let other = album(&ph, Visibility::Public, None);
    s.insert_album(&other).await.unwrap();
    let stranger = photo(other.id);
    s.insert_photo(&stranger, &[]).await.unwrap();
    for bad in [vec![ids[0], ids[0]], vec![ids[1], stranger.id], vec![PhotoId::new()]] {
        let e = s.set_photo_order(a.id, &bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_photo_order", "{name}");
        assert_eq!(walk(200).await, ["c.png", "a.jpg", "b.jpg", "d.jpg", "z.png"], "{name}: nothing changed");
    }
    // A cursor whose photo is gone is refused, not read as the end.
    let first = s.list_photos(a.id, PageRequest::new(Some(1), None).unwrap()).await.unwrap();
    s.delete_photo(ids[4]).await.unwrap();
    let e = s.list_photos(a.id, PageRequest::new(Some(1), first.next_cursor.as_deref()).unwrap()).await.unwrap_err();
    assert_eq!(e.code(), "invalid_cursor", "{name}");
}

/// Drafts: listed to their owner only; never a reminder's or an
/// invitation's; the draft flag, client name and cover round trip.
pub async fn drafts<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let ph = user("ph@drafts.test", Role::Photographer);
    let cl = user("cl@drafts.test", Role::Client);
    s.insert_user(&ph, "h").await.unwrap();
    s.insert_user(&cl, "h").await.unwrap();
    let now = SystemClock.now();
    let mut draft = album(&ph, Visibility::Public, Some("cl@drafts.test"));
    draft.draft = true;
    draft.client_name = Some("Maja Berg".into());
    draft.expires_at = Some(now + Duration::days(2));
    s.insert_album(&draft).await.unwrap();
    assert_eq!(s.album(draft.id).await.unwrap().unwrap(), draft, "{name}: round trip");
    let visible = s.list_albums(&AlbumFilter::VisibleTo(cl.email.clone()), PageRequest::first()).await.unwrap();
    assert!(visible.items.is_empty(), "{name}: a draft is not listed to its client");
    assert!(s.list_albums(&AlbumFilter::Public, PageRequest::first()).await.unwrap().items.is_empty(), "{name}");
    assert_eq!(s.list_albums(&AlbumFilter::OwnedBy(ph.id), PageRequest::first()).await.unwrap().items.len(), 1);
    assert!(!s.is_invited(&cl.email).await.unwrap(), "{name}: a draft invites nobody");
    assert!(s.albums_to_remind(now, now + Duration::days(3), 10).await.unwrap().is_empty(), "{name}: nor reminds");
    let cover = photo(draft.id);
    s.insert_photo(&cover, &[]).await.unwrap();
    let mut published = s.album(draft.id).await.unwrap().unwrap();
    published.draft = false;
    published.cover_photo_id = Some(cover.id);
    s.update_album(&published).await.unwrap();
    let got = s.album(draft.id).await.unwrap().unwrap();
    assert_eq!((got.draft, got.cover_photo_id), (false, Some(cover.id)), "{name}: published, with its cover");
    // The studio: none until saved, then the saved one, replaced whole.
    assert!(s.studio(ph.id).await.unwrap().is_none(), "{name}");
    let mut studio = crate::Studio::default_for(&ph);
    studio.website = Some("https://nord.test".into());
    studio.contact_email = Some("hello@nord.test".parse().unwrap());
    studio.time_zone = "Europe/Stockholm".into();
    s.set_studio(ph.id, &studio, now).await.unwrap();
    assert_eq!(s.studio(ph.id).await.unwrap().as_ref(), Some(&studio), "{name}: studio round trip");
    let plain = crate::Studio { website: None, contact_email: None, accent: Some("#aa3300".into()), ..studio };
    s.set_studio(ph.id, &plain, now).await.unwrap();
    assert_eq!(s.studio(ph.id).await.unwrap(), Some(plain), "{name}: replaced whole");
    assert!(s.is_invited(&cl.email).await.unwrap(), "{name}: published, it invites");
    assert_eq!(
        s.list_albums(&AlbumFilter::VisibleTo(cl.email.clone()), PageRequest::first()).await.unwrap().items.len(),
        1
    );
}

/// `FaceStore`: a scan replaces the photo's faces; only ready photos of
/// open albums with "Find me" on are stored; turning it off, deleting a
/// photo or an album, purging and expiry delete them; other models'
/// embeddings are never answered.
pub async fn faces<S: MetadataStore + JobQueue>(name: &str, store: &S) {
    let s: &dyn MetadataStore = store;
    let ph = user("ph@faces.test", Role::Photographer);
    s.insert_user(&ph, "h").await.unwrap();
    let now = SystemClock.now();
    let face = |x: f32, left: u32| crate::Face {
        bounds: crate::FaceBox { left, top: 10, width: 40, height: 50 },
        embedding: vec![x, -x, 0.25, f32::MIN_POSITIVE],
    };
    let mut on = album(&ph, Visibility::Public, None);
    on.find_me = true;
    let off = album(&ph, Visibility::Public, None);
    s.insert_album(&on).await.unwrap();
    s.insert_album(&off).await.unwrap();
    assert!(s.album(on.id).await.unwrap().unwrap().find_me, "{name}: find_me round trip");
    let ready = |a: AlbumId| {
        let mut p = photo(a);
        p.status = PhotoStatus::Ready;
        p
    };
    let (p1, p2, p3, processing, elsewhere) = (ready(on.id), ready(on.id), ready(on.id), photo(on.id), ready(off.id));
    for p in [&p1, &p2, &p3, &processing, &elsewhere] {
        s.insert_photo(p, &[]).await.unwrap();
    }
    assert!(s.photo_faces(p1.id).await.unwrap().is_none(), "{name}: not scanned yet");
    assert!(s.put_photo_faces(p1.id, "m1", &[face(0.5, 1), face(0.75, 2)], now).await.unwrap(), "{name}");
    assert!(s.put_photo_faces(p2.id, "m1", &[], now).await.unwrap(), "{name}: a scan with no face is kept");
    assert!(s.put_photo_faces(p3.id, "m2", &[face(0.1, 3)], now).await.unwrap(), "{name}");
    assert!(!s.put_photo_faces(processing.id, "m1", &[face(0.5, 1)], now).await.unwrap(), "{name}: not ready");
    assert!(!s.put_photo_faces(elsewhere.id, "m1", &[face(0.5, 1)], now).await.unwrap(), "{name}: find_me off");
    assert!(!s.put_photo_faces(PhotoId::new(), "m1", &[face(0.5, 1)], now).await.unwrap(), "{name}: no photo");
    let (model, stored) = s.photo_faces(p1.id).await.unwrap().unwrap();
    assert_eq!((model.as_str(), stored), ("m1", vec![face(0.5, 1), face(0.75, 2)]), "{name}: exact round trip");
    let m1 = s.album_faces(on.id, "m1").await.unwrap();
    assert_eq!(m1, vec![(p1.id, face(0.5, 1).embedding), (p1.id, face(0.75, 2).embedding)], "{name}: one model only");
    assert_eq!(s.face_counts(on.id).await.unwrap(), (3, 3), "{name}: three photos scanned, three faces");
    // A second scan replaces the first.
    assert!(s.put_photo_faces(p1.id, "m1", &[face(0.9, 4)], now).await.unwrap(), "{name}");
    assert_eq!(s.photo_faces(p1.id).await.unwrap().unwrap().1, vec![face(0.9, 4)], "{name}: replaced");
    // A photo deleted takes its faces; a photo no longer ready is not searched.
    s.delete_photo(p3.id).await.unwrap();
    assert!(s.photo_faces(p3.id).await.unwrap().is_none(), "{name}: deleted with the photo");
    let mut failed = p1.clone();
    failed.status = PhotoStatus::Failed;
    s.update_photo(&failed, &[]).await.unwrap();
    assert!(s.album_faces(on.id, "m1").await.unwrap().is_empty(), "{name}: only ready photos are searched");
    s.update_photo(&p1, &[]).await.unwrap();
    // Turning the search off deletes every face of the album.
    let mut turned_off = s.album(on.id).await.unwrap().unwrap();
    turned_off.find_me = false;
    s.update_album(&turned_off).await.unwrap();
    assert_eq!(s.face_counts(on.id).await.unwrap(), (0, 0), "{name}: off deletes them");
    assert!(!s.put_photo_faces(p1.id, "m1", &[face(0.9, 4)], now).await.unwrap(), "{name}: a late scan is dropped");
    // Expiry: an expired album keeps none, and a scan after it is dropped.
    let mut expiring = s.album(on.id).await.unwrap().unwrap();
    expiring.find_me = true;
    expiring.expires_at = Some(now + Duration::hours(1));
    s.update_album(&expiring).await.unwrap();
    assert!(s.put_photo_faces(p1.id, "m1", &[face(0.9, 4)], now).await.unwrap(), "{name}");
    assert_eq!(s.forget_expired_faces(now).await.unwrap(), 0, "{name}: not expired yet");
    let later = now + Duration::hours(2);
    assert!(!s.put_photo_faces(p2.id, "m1", &[], later).await.unwrap(), "{name}: expired album");
    assert_eq!(s.forget_expired_faces(later).await.unwrap(), 1, "{name}: expiry deletes them");
    assert_eq!(s.face_counts(on.id).await.unwrap(), (0, 0), "{name}");
    // Purge, then album deletion.
    let mut reopened = s.album(on.id).await.unwrap().unwrap();
    reopened.expires_at = None;
    s.update_album(&reopened).await.unwrap();
    assert!(s.put_photo_faces(p1.id, "m1", &[face(0.9, 4)], now).await.unwrap(), "{name}");
    s.mark_album_purged(on.id, now, &[]).await.unwrap();
    assert_eq!(s.face_counts(on.id).await.unwrap(), (0, 0), "{name}: purge deletes them");
    assert!(!s.put_photo_faces(p1.id, "m1", &[face(0.9, 4)], now).await.unwrap(), "{name}: purged album");
    let mut other = album(&ph, Visibility::Public, None);
    other.find_me = true;
    s.insert_album(&other).await.unwrap();
    let p4 = ready(other.id);
    s.insert_photo(&p4, &[]).await.unwrap();
    assert!(s.put_photo_faces(p4.id, "m1", &[face(0.3, 5)], now).await.unwrap(), "{name}");
    s.delete_album(other.id).await.unwrap();
    assert!(s.photo_faces(p4.id).await.unwrap().is_none(), "{name}: deleted with the album");
}

/// A photographer, a client, and a public album of theirs with one ready
/// photo, for the suites that need a sale to work on.
struct Shop {
    ph: User,
    cl: User,
    album: Album,
    photo: Photo,
}

async fn shop(s: &dyn MetadataStore) -> Shop {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let ph = user(&format!("ph-{tag}@x.test"), Role::Photographer);
    let cl = user(&format!("cl-{tag}@x.test"), Role::Client);
    s.insert_user(&ph, "hash-ph").await.unwrap();
    s.insert_user(&cl, "hash-cl").await.unwrap();
    let album = album(&ph, Visibility::Public, None);
    s.insert_album(&album).await.unwrap();
    let mut photo = photo(album.id);
    s.insert_photo(&photo, &[]).await.unwrap();
    assert!(s.mark_photo_rendered(photo.id, 30, 20, &[]).await.unwrap());
    photo = s.photo(photo.id).await.unwrap().unwrap();
    let album = s.album(album.id).await.unwrap().unwrap();
    Shop { ph, cl, album, photo }
}

/// A paid order of the shop's photo, with the given payment reference.
async fn paid_order(s: &dyn MetadataStore, shop: &Shop) -> Order {
    let o = order(&shop.cl, &shop.album, &[&shop.photo]);
    assert!(s.insert_order(&o, None, None).await.unwrap());
    let change = OrderChange {
        gateway: Some("test".into()),
        payment_ref: Some(format!("ref-{}", o.id)),
        paid_at: Some(SystemClock.now()),
        only_if_ref: None,
    };
    s.transition_order(o.id, OrderStatus::Paid, &change, &[], SystemClock.now()).await.unwrap().unwrap()
}

fn link_for(order: OrderId, token_hash: [u8; 32]) -> DownloadLink {
    DownloadLink {
        id: LinkId::new(),
        order_id: order,
        token_hash,
        zip_key: "orders/x.zip".into(),
        zip_size: 42,
        expires_at: SystemClock.now() + Duration::days(7),
        created_at: SystemClock.now(),
        download_count: 0,
        bytes_served: 0,
        revoked: false,
        zip_deleted: false,
    }
}

/// `MetadataStore` itself: the connection answers, and a deployment secret
/// is made by whoever asks first and then shared.
pub async fn deployment<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    s.ping().await.unwrap();
    let now = SystemClock.now();
    let first = s.deployment_secret("server", "aaaa", now).await.unwrap();
    assert_eq!(first, "aaaa", "{name}: the first candidate is kept");
    assert_eq!(s.deployment_secret("server", "bbbb", now).await.unwrap(), "aaaa", "{name}: then shared");
    assert_eq!(s.deployment_secret("other", "cccc", now).await.unwrap(), "cccc", "{name}: names apart");
}

/// `AccountStore`: unique addresses, lookups, verification, sessions with
/// expiry and revocation, the first proof of a mailbox, password changes,
/// session lists and mail slots.
pub async fn accounts<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let ph = user("ph@x.test", Role::Photographer);
    let mut cl = user("cl@x.test", Role::Client);
    cl.email_verified = false;
    s.insert_user(&ph, "hash-ph").await.unwrap();
    s.insert_user(&cl, "hash-cl").await.unwrap();
    let dup = user("ph@x.test", Role::Client);
    assert_eq!(s.insert_user(&dup, "h").await.unwrap_err().code(), "email_taken", "{name}");
    let (found, hash) = s.user_by_email(&ph.email).await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (ph.id, "hash-ph"), "{name}");
    assert_eq!(s.user(cl.id).await.unwrap().unwrap(), cl, "{name}");
    assert!(s.user(UserId::new()).await.unwrap().is_none(), "{name}");
    let now = SystemClock.now();
    // Verification is the first proof of the mailbox (`claim_mailbox`, its
    // full rules below); an operator's keeps the password.
    assert!(s.claim_mailbox(cl.id, true, now).await.unwrap(), "{name}");
    assert!(!s.claim_mailbox(cl.id, true, now).await.unwrap(), "{name}: once");
    assert!(s.user(cl.id).await.unwrap().unwrap().email_verified, "{name}: verified");
    assert_eq!(s.password_hash(cl.id).await.unwrap().as_deref(), Some("hash-cl"), "{name}: kept");
    let session =
        Session { token_hash: [7; 32], user_id: ph.id, expires_at: now + Duration::hours(1), created_at: now };
    s.insert_session(&session).await.unwrap();
    assert_eq!(s.session_user(&[7; 32], now).await.unwrap().unwrap().id, ph.id);
    assert!(s.session_user(&[7; 32], now + Duration::hours(2)).await.unwrap().is_none(), "{name}: expired");
    s.delete_session(&[7; 32]).await.unwrap();
    assert!(s.session_user(&[7; 32], now).await.unwrap().is_none(), "{name}: revoked");

    // Passwords by id.
    assert_eq!(s.password_hash(ph.id).await.unwrap().as_deref(), Some("hash-ph"), "{name}");
    assert_eq!(s.password_hash(UserId::new()).await.unwrap(), None, "{name}: no such user");
    let session = |byte: u8, user: UserId, minutes: i64| Session {
        token_hash: [byte; 32],
        user_id: user,
        expires_at: now + Duration::hours(1),
        created_at: now + Duration::minutes(minutes),
    };

    // The first proof of a mailbox ends every session and clears the
    // password; a second proof changes nothing.
    let mut squatted = user("squatted@x.test", Role::Client);
    squatted.email_verified = false;
    s.insert_user(&squatted, "stranger-hash").await.unwrap();
    for b in [11, 12] {
        s.insert_session(&session(b, squatted.id, 0)).await.unwrap();
    }
    assert!(s.claim_mailbox(squatted.id, false, now).await.unwrap(), "{name}: the first proof");
    assert!(s.user(squatted.id).await.unwrap().unwrap().email_verified, "{name}");
    assert_eq!(s.password_hash(squatted.id).await.unwrap().as_deref(), Some(crate::NO_PASSWORD), "{name}");
    assert!(s.sessions_of(squatted.id, now).await.unwrap().is_empty(), "{name}: every session ended");
    assert!(s.session_user(&[11; 32], now).await.unwrap().is_none(), "{name}");
    s.insert_session(&session(13, squatted.id, 0)).await.unwrap();
    s.set_password(squatted.id, "owner-hash", Some(&[13; 32])).await.unwrap();
    assert!(!s.claim_mailbox(squatted.id, false, now).await.unwrap(), "{name}: only the first proof claims");
    assert_eq!(s.password_hash(squatted.id).await.unwrap().as_deref(), Some("owner-hash"), "{name}: kept");
    assert!(s.session_user(&[13; 32], now).await.unwrap().is_some(), "{name}: kept");
    assert!(!s.claim_mailbox(UserId::new(), false, now).await.unwrap(), "{name}: no such user");
    let mut keeper = user("keeper@x.test", Role::Photographer);
    keeper.email_verified = false;
    s.insert_user(&keeper, "keeper-hash").await.unwrap();
    s.insert_session(&session(14, keeper.id, 0)).await.unwrap();
    assert!(s.claim_mailbox(keeper.id, true, now).await.unwrap(), "{name}");
    assert_eq!(s.password_hash(keeper.id).await.unwrap().as_deref(), Some("keeper-hash"), "{name}: kept on request");
    assert!(s.session_user(&[14; 32], now).await.unwrap().is_none(), "{name}: sessions end all the same");

    // Sessions listed newest first, live ones only; a password change and
    // "sign out everywhere" keep only the caller's.
    for (b, minutes) in [(21, 0), (22, 2), (23, 1)] {
        s.insert_session(&session(b, ph.id, minutes)).await.unwrap();
    }
    let expired = Session { expires_at: now - Duration::minutes(1), ..session(24, ph.id, -90) };
    s.insert_session(&expired).await.unwrap();
    let listed: Vec<u8> = s.sessions_of(ph.id, now).await.unwrap().iter().map(|x| x.token_hash[0]).collect();
    assert_eq!(listed, vec![22, 23, 21], "{name}: newest first, live only");
    s.set_password(ph.id, "hash-ph-2", Some(&[22; 32])).await.unwrap();
    let listed: Vec<u8> = s.sessions_of(ph.id, now).await.unwrap().iter().map(|x| x.token_hash[0]).collect();
    assert_eq!(listed, vec![22], "{name}: the caller's session stays");
    assert_eq!(s.password_hash(ph.id).await.unwrap().as_deref(), Some("hash-ph-2"), "{name}");
    assert_eq!(s.set_password(UserId::new(), "h", None).await.unwrap_err().code(), "not_found", "{name}");
    s.insert_session(&session(25, ph.id, 3)).await.unwrap();
    // The password change ended the expired one too: 22 is left to end.
    assert_eq!(s.delete_sessions_of(ph.id, Some(&[25; 32])).await.unwrap(), 1, "{name}: 22");
    assert!(s.session_user(&[25; 32], now).await.unwrap().is_some(), "{name}");
    assert_eq!(s.delete_sessions_of(ph.id, None).await.unwrap(), 1, "{name}");
    assert!(s.sessions_of(ph.id, now).await.unwrap().is_empty(), "{name}");

    // Mail slots: one taker until the slot ends, even concurrently.
    let key = format!("test:{}", uuid::Uuid::new_v4());
    let day = now + Duration::days(1);
    let (a, b) = tokio::join!(s.take_mail_slot(&key, now, day), s.take_mail_slot(&key, now, day));
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|t| **t).count(), 1, "{name}: exactly one taker");
    assert!(!s.take_mail_slot(&key, now + Duration::hours(23), day).await.unwrap(), "{name}: still taken");
    assert!(s.take_mail_slot(&key, day, day + Duration::days(1)).await.unwrap(), "{name}: free once it ends");
    assert!(s.take_mail_slot(&format!("{key}:other"), now, day).await.unwrap(), "{name}: keys apart");
}

/// `AlbumStore`, storage quotas: what an owner uses (photos of albums not
/// purged, live upload reservations), reservations refused past the quota
/// (exactly as many as fit, even concurrently), idle reservations not
/// counted, and a photo recorded within the quota only, taking its
/// upload's reservation's place in the same step.
pub async fn quotas<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let now = SystemClock.now();
    let ph = user(&format!("quota-{}@x.test", uuid::Uuid::new_v4().simple()), Role::Photographer);
    s.insert_user(&ph, "h").await.unwrap();
    let other = user(&format!("quota-{}@x.test", uuid::Uuid::new_v4().simple()), Role::Photographer);
    s.insert_user(&other, "h").await.unwrap();
    let a = album(&ph, Visibility::Private, None);
    s.insert_album(&a).await.unwrap();
    assert_eq!(s.storage_used(ph.id, now).await.unwrap(), 0, "{name}: nothing yet");
    let mut p1 = photo(a.id);
    p1.size_bytes = 300;
    s.insert_photo(&p1, &[]).await.unwrap();
    assert_eq!(s.storage_used(ph.id, now).await.unwrap(), 300, "{name}: a photo counts");
    assert_eq!(s.storage_used(other.id, now).await.unwrap(), 0, "{name}: owners apart");

    // Reservations: ten at once of 100 bytes each against 1000 (300 used):
    // exactly seven fit.
    let hour = now + Duration::hours(1);
    let ids: Vec<crate::UploadId> = (0..10).map(|_| crate::UploadId::new()).collect();
    let tries = ids.iter().map(|id| s.reserve_upload(*id, ph.id, 100, hour, Some(1000), now));
    let fits = futures::future::join_all(tries).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(fits, 7, "{name}: as many as fit, even concurrently");
    assert_eq!(s.storage_used(ph.id, now).await.unwrap(), 1000, "{name}");
    let big = crate::UploadId::new();
    assert!(s.reserve_upload(big, other.id, 10_000, hour, None, now).await.unwrap(), "{name}: no quota");
    s.release_upload(big).await.unwrap();

    // The reserved uploads: which ones got in, one released, one idle.
    let mut reserved = Vec::new();
    for id in &ids {
        if let Some(until) = s.upload_idle_until(*id).await.unwrap() {
            assert_eq!(until, hour, "{name}");
            reserved.push(*id);
        }
    }
    assert_eq!(reserved.len(), 7, "{name}");
    s.release_upload(reserved[0]).await.unwrap();
    assert_eq!(s.upload_idle_until(reserved[0]).await.unwrap(), None, "{name}: released");
    assert!(s.touch_upload(reserved[1], now + Duration::minutes(1)).await.unwrap(), "{name}");
    assert!(!s.touch_upload(reserved[0], hour).await.unwrap(), "{name}: nothing to touch");
    let later = now + Duration::minutes(2);
    assert_eq!(s.storage_used(ph.id, later).await.unwrap(), 300 + 5 * 100, "{name}: the idle one stops counting");

    // A photo within the quota: over it, nothing is written.
    let p2 = Photo { size_bytes: 250, ..photo(a.id) };
    let err = s.insert_photo_within_quota(&p2, &[], Some(1000), None, later).await.unwrap_err();
    assert_eq!(err.code(), "quota_exceeded", "{name}");
    assert!(s.photo(p2.id).await.unwrap().is_none(), "{name}: nothing written");
    // The upload it completes leaves the count as its photo comes in
    // (300 + 4 others' 400 + 250 fits where 300 + 500 + 250 did not).
    s.insert_photo_within_quota(&p2, &[], Some(1000), Some(reserved[2]), later).await.unwrap();
    assert_eq!(s.upload_idle_until(reserved[2]).await.unwrap(), None, "{name}: its reservation went with it");
    assert_eq!(s.storage_used(ph.id, later).await.unwrap(), 300 + 250 + 4 * 100, "{name}");
    let mut p3 = photo(a.id);
    p3.size_bytes = 10_000;
    s.insert_photo_within_quota(&p3, &[], None, None, later).await.unwrap();
    let unknown = Photo { album_id: AlbumId::new(), ..photo(a.id) };
    assert!(s.insert_photo_within_quota(&unknown, &[], Some(1), None, later).await.unwrap_err().is_not_found());
    // A purged album's photos stop counting.
    s.mark_album_purged(a.id, later, &[]).await.unwrap();
    assert_eq!(s.storage_used(ph.id, later).await.unwrap(), 4 * 100, "{name}: only the reservations");
}

/// `AccountStore`, sign-in links: a link is taken once, only before it
/// expires; invitations are albums naming the address, until purged.
pub async fn sign_in_links<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let now = SystemClock.now();
    let email: Email = "link@x.test".parse().unwrap();
    let link = crate::SignInLink {
        id: uuid::Uuid::new_v4(),
        email: email.clone(),
        expires_at: now + Duration::minutes(15),
        created_at: now,
    };
    s.insert_sign_in_link(&link).await.unwrap();
    let (a, b) = tokio::join!(s.take_sign_in_link(link.id, now), s.take_sign_in_link(link.id, now));
    let taken: Vec<_> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
    assert_eq!(taken, vec![email.clone()], "{name}: taken exactly once, even concurrently");
    let late = crate::SignInLink { id: uuid::Uuid::new_v4(), ..link.clone() };
    s.insert_sign_in_link(&late).await.unwrap();
    assert_eq!(s.take_sign_in_link(late.id, now + Duration::minutes(16)).await.unwrap(), None, "{name}: expired");
    assert_eq!(s.take_sign_in_link(late.id, now).await.unwrap(), None, "{name}: an expired take used it up");
    assert_eq!(s.take_sign_in_link(uuid::Uuid::new_v4(), now).await.unwrap(), None, "{name}: unknown");

    let invited: Email = "invited@x.test".parse().unwrap();
    assert!(!s.is_invited(&invited).await.unwrap(), "{name}");
    let ph = user("ph@links.test", Role::Photographer);
    s.insert_user(&ph, "h").await.unwrap();
    let shared = album(&ph, Visibility::Private, Some("invited@x.test"));
    s.insert_album(&shared).await.unwrap();
    assert!(s.is_invited(&invited).await.unwrap(), "{name}: named as an album's client");
    s.mark_album_purged(shared.id, now, &[]).await.unwrap();
    assert!(!s.is_invited(&invited).await.unwrap(), "{name}: not once the album is purged");
}

/// `AccountStore`, logos: one current logo per user, replaced in place,
/// removed on request and with the user's account rows.
pub async fn logos<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let now = SystemClock.now();
    let ph = user(&format!("logo-{}@x.test", uuid::Uuid::new_v4().simple()), Role::Photographer);
    s.insert_user(&ph, "h").await.unwrap();
    let other = user(&format!("logo-{}@x.test", uuid::Uuid::new_v4().simple()), Role::Photographer);
    s.insert_user(&other, "h").await.unwrap();
    assert_eq!(s.logo(ph.id).await.unwrap(), None, "{name}: none at first");
    s.set_logo(ph.id, Some("aaaa"), now).await.unwrap();
    s.set_logo(other.id, Some("cccc"), now).await.unwrap();
    assert_eq!(s.logo(ph.id).await.unwrap().as_deref(), Some("aaaa"), "{name}");
    s.set_logo(ph.id, Some("bbbb"), now).await.unwrap();
    assert_eq!(s.logo(ph.id).await.unwrap().as_deref(), Some("bbbb"), "{name}: replaced, one per user");
    s.set_logo(ph.id, None, now).await.unwrap();
    s.set_logo(ph.id, None, now).await.unwrap();
    assert_eq!(s.logo(ph.id).await.unwrap(), None, "{name}: removed (twice is fine)");
    assert_eq!(s.logo(other.id).await.unwrap().as_deref(), Some("cccc"), "{name}: others' logos stay");
}

/// `AlbumStore`, favourites: idempotent marks per client, listed for the
/// owner by client, gone with their photo.
pub async fn favourites<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let shop = shop(s).await;
    let other = user(&format!("other-{}@x.test", uuid::Uuid::new_v4().simple()), Role::Client);
    s.insert_user(&other, "h").await.unwrap();
    let mut second = photo(shop.album.id);
    s.insert_photo(&second, &[]).await.unwrap();
    second = s.photo(second.id).await.unwrap().unwrap();
    let now = SystemClock.now();
    let (a, p1, p2) = (shop.album.id, shop.photo.id, second.id);
    s.set_favourite(a, p1, shop.cl.id, true, now).await.unwrap();
    s.set_favourite(a, p1, shop.cl.id, true, now).await.unwrap();
    s.set_favourite(a, p2, shop.cl.id, true, now).await.unwrap();
    s.set_favourite(a, p2, other.id, true, now).await.unwrap();
    let mut mine = vec![p1, p2];
    mine.sort();
    assert_eq!(s.favourites_of(a, shop.cl.id).await.unwrap(), mine, "{name}: idempotent, by photo");
    assert_eq!(s.favourites(a).await.unwrap().len(), 3, "{name}: every client's");
    assert_eq!(s.photo_counts(shop.ph.id).await.unwrap(), vec![(a, 2)], "{name}: photo counts");
    assert!(s.photo_counts(other.id).await.unwrap().is_empty(), "{name}: no albums, no counts");
    s.set_favourite(a, p1, shop.cl.id, false, now).await.unwrap();
    s.set_favourite(a, p1, shop.cl.id, false, now).await.unwrap();
    assert_eq!(s.favourites_of(a, shop.cl.id).await.unwrap(), vec![p2], "{name}: unmarked");
    s.delete_photo(p2).await.unwrap();
    assert!(s.favourites(a).await.unwrap().is_empty(), "{name}: gone with the photo");
}

/// `AlbumStore`, albums: visibility filters, pagination, changes round
/// trip and change the revision.
pub async fn albums<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let ph = user("ph@albums.test", Role::Photographer);
    let cl = user("cl@albums.test", Role::Client);
    s.insert_user(&ph, "h").await.unwrap();
    s.insert_user(&cl, "h").await.unwrap();
    let private = album(&ph, Visibility::Private, Some("cl@albums.test"));
    let public = album(&ph, Visibility::Public, None);
    let hidden = album(&ph, Visibility::Private, Some("other@albums.test"));
    for a in [&private, &public, &hidden] {
        s.insert_album(a).await.unwrap();
    }
    assert_eq!(s.album(private.id).await.unwrap().unwrap(), private, "{name}: round trip");
    assert!(s.album(AlbumId::new()).await.unwrap().is_none(), "{name}");
    let owned = s.list_albums(&AlbumFilter::OwnedBy(ph.id), PageRequest::first()).await.unwrap();
    assert_eq!(owned.items.len(), 3);
    let visible = s.list_albums(&AlbumFilter::VisibleTo(cl.email.clone()), PageRequest::first()).await.unwrap();
    let ids: Vec<_> = visible.items.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![private.id, public.id], "{name}: shared + public, in id order");
    let public_only = s.list_albums(&AlbumFilter::Public, PageRequest::first()).await.unwrap();
    assert_eq!(public_only.items.iter().map(|a| a.id).collect::<Vec<_>>(), vec![public.id], "{name}: public");
    let first = s.list_albums(&AlbumFilter::OwnedBy(ph.id), PageRequest::new(Some(2), None).unwrap()).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let cursor = first.next_cursor.clone().expect("more pages");
    let rest =
        s.list_albums(&AlbumFilter::OwnedBy(ph.id), PageRequest::new(Some(2), Some(&cursor)).unwrap()).await.unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next_cursor.is_none());
    let mut changed = private.clone();
    changed.name = "Renamed".into();
    changed.client_email = None;
    changed.watermark =
        Some(WatermarkChoice::Plugin { plugin: "tiled-text".into(), params: "text=\"ü\";opacity=0.5".into() });
    s.update_album(&changed).await.unwrap();
    changed.revision += 1;
    assert_eq!(s.album(private.id).await.unwrap().unwrap(), changed, "{name}: changes round trip, revision bumped");
    let mut text = public.clone();
    text.watermark = Some(WatermarkChoice::Text { text: "STUDIO NORD".into() });
    s.update_album(&text).await.unwrap();
    assert_eq!(s.album(public.id).await.unwrap().unwrap().watermark, text.watermark, "{name}: text mark");
    // Expiry: reminders once, purge once.
    let mut expiring = album(&ph, Visibility::Private, Some("cl@albums.test"));
    let now = SystemClock.now();
    expiring.expires_at = Some(now + Duration::days(2));
    s.insert_album(&expiring).await.unwrap();
    let to_remind = s.albums_to_remind(now, now + Duration::days(3), 10).await.unwrap();
    assert_eq!(to_remind.iter().map(|a| a.id).collect::<Vec<_>>(), vec![expiring.id], "{name}: reminder due");
    assert!(s.mark_album_reminded(expiring.id, now).await.unwrap(), "{name}");
    assert!(!s.mark_album_reminded(expiring.id, now).await.unwrap(), "{name}: reminded once");
    assert!(s.albums_to_remind(now, now + Duration::days(3), 10).await.unwrap().is_empty(), "{name}");
    let later = now + Duration::days(5);
    let purge = s.albums_to_purge(later, 10).await.unwrap();
    assert_eq!(purge.iter().map(|a| a.id).collect::<Vec<_>>(), vec![expiring.id], "{name}: expired, to purge");
    s.mark_album_purged(expiring.id, later, &[]).await.unwrap();
    assert!(s.albums_to_purge(later, 10).await.unwrap().is_empty(), "{name}: purged once");
    assert!(s.album(expiring.id).await.unwrap().unwrap().purged_at.is_some(), "{name}");
}

/// `AlbumStore`, photos: the outbox writes the job with the row, renders
/// are counted, every photo write changes the album's revision, and
/// deleting an album takes its photos but never its orders.
pub async fn photos<S: MetadataStore + JobQueue>(name: &str, store: &S) {
    let s: &dyn MetadataStore = store;
    let ph = user("ph@photos.test", Role::Photographer);
    let cl = user("cl@photos.test", Role::Client);
    s.insert_user(&ph, "h").await.unwrap();
    s.insert_user(&cl, "h").await.unwrap();
    let public = album(&ph, Visibility::Public, None);
    s.insert_album(&public).await.unwrap();
    let p1 = photo(public.id);
    let p2 = photo(public.id);
    let job = NewJob::now(Task::RenderPreview { photo_id: p1.id }, SystemClock.now());
    s.insert_photo(&p1, std::slice::from_ref(&job)).await.unwrap();
    s.insert_photo(&p2, &[]).await.unwrap();
    assert_eq!(store.job(job.id).await.unwrap().unwrap().status, JobStatus::Queued, "{name}: outbox");
    let orphan = photo(AlbumId::new());
    let orphan_job = NewJob::now(Task::RenderPreview { photo_id: orphan.id }, SystemClock.now());
    let err = s.insert_photo(&orphan, std::slice::from_ref(&orphan_job)).await.unwrap_err();
    assert_eq!(err.code(), "not_found", "{name}: a photo needs its album");
    assert!(store.job(orphan_job.id).await.unwrap().is_none(), "{name}: and its job is not written");
    let mut ready = p1.clone();
    ready.status = PhotoStatus::Ready;
    ready.width = Some(3000);
    ready.height = Some(2000);
    s.update_photo(&ready, &[]).await.unwrap();
    assert_eq!(s.photo(p1.id).await.unwrap().unwrap(), ready);
    let page = s.list_photos(public.id, PageRequest::new(Some(1), None).unwrap()).await.unwrap();
    assert_eq!(page.items.len(), 1, "{name}");
    let cursor = page.next_cursor.expect("a second page");
    let rest = s.list_photos(public.id, PageRequest::new(Some(1), Some(&cursor)).unwrap()).await.unwrap();
    assert_eq!(rest.items.len(), 1, "{name}");
    assert!(rest.next_cursor.is_none() && rest.items[0].id != page.items[0].id, "{name}: pages by id");

    // Rendering is counted once, and only for a processing photo.
    assert!(s.mark_photo_rendered(p2.id, 10, 20, &[]).await.unwrap(), "{name}");
    assert!(!s.mark_photo_rendered(p2.id, 10, 20, &[]).await.unwrap(), "{name}: never twice");
    let p2_ready = s.photo(p2.id).await.unwrap().unwrap();
    assert_eq!((p2_ready.status, p2_ready.width, p2_ready.height), (PhotoStatus::Ready, Some(10), Some(20)));
    assert_eq!(p2_ready.renders, 1, "{name}: a render is counted");
    let mut again = p2_ready.clone();
    again.renders += 1;
    s.update_photo(&again, &[]).await.unwrap();
    assert_eq!(s.photo(p2.id).await.unwrap().unwrap().renders, 2, "{name}: update_photo saves the count");

    // Every write to an album's photos changes the album's revision.
    let revision = |id| async move { s.album(id).await.unwrap().unwrap().revision };
    let other = album(&ph, Visibility::Public, None);
    s.insert_album(&other).await.unwrap();
    let before = revision(public.id).await;
    let extra = photo(public.id);
    s.insert_photo(&extra, &[]).await.unwrap();
    let after_insert = revision(public.id).await;
    assert!(after_insert > before, "{name}: adding a photo changes the revision");
    assert!(s.mark_photo_rendered(extra.id, 4, 3, &[]).await.unwrap());
    let after_render = revision(public.id).await;
    assert!(after_render > after_insert, "{name}: rendering changes it");
    let mut failed = s.photo(extra.id).await.unwrap().unwrap();
    failed.status = PhotoStatus::Failed;
    s.update_photo(&failed, &[]).await.unwrap();
    let after_update = revision(public.id).await;
    assert!(after_update > after_render, "{name}: a status change changes it");
    s.delete_photo(extra.id).await.unwrap();
    assert!(s.photo(extra.id).await.unwrap().is_none(), "{name}: deleted");
    assert!(revision(public.id).await > after_update, "{name}: deleting a photo changes it");
    assert_eq!(revision(other.id).await, 0, "{name}: other albums keep theirs");

    // Deleting an album removes its photos but keeps orders.
    let o = order(&cl, &public, &[&ready]);
    assert!(s.insert_order(&o, None, None).await.unwrap());
    s.delete_album(public.id).await.unwrap();
    assert!(s.album(public.id).await.unwrap().is_none(), "{name}: gone");
    assert!(s.photo(p1.id).await.unwrap().is_none(), "{name}: photos go with the album");
    assert!(s.order(o.id).await.unwrap().is_some(), "{name}: orders stay");
}

/// `OrderStore`: items round trip; transitions move forward once, write
/// their jobs with them, and ignore events about other checkouts; payment
/// notifications are recorded once.
pub async fn orders<S: MetadataStore + JobQueue>(name: &str, store: &S) {
    let s: &dyn MetadataStore = store;
    let shop = shop(s).await;
    let (ph, cl) = (&shop.ph, &shop.cl);
    let o = order(cl, &shop.album, &[&shop.photo]);
    assert!(s.insert_order(&o, None, None).await.unwrap());
    assert_eq!(s.order(o.id).await.unwrap().unwrap(), o, "{name}: order round trip");
    assert_eq!(s.list_orders(OrderFilter::Buyer(cl.id), PageRequest::first()).await.unwrap().items.len(), 1);
    assert_eq!(s.list_orders(OrderFilter::Seller(ph.id), PageRequest::first()).await.unwrap().items.len(), 1);
    assert!(s.list_orders(OrderFilter::Buyer(ph.id), PageRequest::first()).await.unwrap().items.is_empty());
    let on_album = s.list_orders(OrderFilter::Album(o.album_id), PageRequest::first()).await.unwrap();
    assert_eq!(on_album.items.iter().map(|o| o.id).collect::<Vec<_>>(), vec![o.id], "{name}: by album");
    let elsewhere = s.list_orders(OrderFilter::Album(crate::AlbumId::new()), PageRequest::first()).await.unwrap();
    assert!(elsewhere.items.is_empty(), "{name}: another album has none");
    let hour = Duration::hours(1);
    assert!(s.stale_pending_orders(SystemClock.now() + hour, 10).await.unwrap().contains(&o.id), "{name}");
    assert!(s.stale_pending_orders(SystemClock.now() - hour, 10).await.unwrap().is_empty(), "{name}");
    // A recorded checkout session guards events about older sessions.
    // With a key, the key and the session go in together, and a second
    // request with the key changes nothing.
    let key = |k: &str, body: &str| IdempotentReply {
        user_id: cl.id,
        scope: "POST /orders/x/checkout".into(),
        key: k.into(),
        request_hash: [2; 32],
        status: 201,
        body: body.into(),
        created_at: SystemClock.now(),
    };
    let recorded = s.record_checkout(o.id, "test", "ref", SystemClock.now(), Some(&key("c1", "url1"))).await.unwrap();
    assert_eq!(recorded, CheckoutRecorded::Recorded, "{name}");
    let stored = s.order(o.id).await.unwrap().unwrap();
    assert_eq!((stored.gateway.as_deref(), stored.payment_ref.as_deref()), (Some("test"), Some("ref")));
    let twice = s.record_checkout(o.id, "test", "ref2", SystemClock.now(), Some(&key("c1", "url2"))).await.unwrap();
    assert_eq!(twice, CheckoutRecorded::KeyTaken, "{name}: the key is taken");
    assert_eq!(s.order(o.id).await.unwrap().unwrap().payment_ref.as_deref(), Some("ref"), "{name}: unchanged");
    let reply = s.idempotent_reply(cl.id, "POST /orders/x/checkout", "c1").await.unwrap().unwrap();
    assert_eq!(reply.body, "url1", "{name}: the first answer is kept");
    let old_session = OrderChange { only_if_ref: Some("an-older-session".into()), ..OrderChange::default() };
    assert!(
        s.transition_order(o.id, OrderStatus::Expired, &old_session, &[], SystemClock.now()).await.unwrap().is_none(),
        "{name}: an event about another session leaves the order alone"
    );
    let zip_job = NewJob::now(Task::BuildZip { order_id: o.id }, SystemClock.now());
    let change = OrderChange {
        gateway: Some("test".into()),
        payment_ref: Some("ref".into()),
        paid_at: Some(SystemClock.now()),
        only_if_ref: Some("ref".into()),
    };
    let paid = s
        .transition_order(o.id, OrderStatus::Paid, &change, std::slice::from_ref(&zip_job), SystemClock.now())
        .await
        .unwrap();
    assert_eq!(paid.unwrap().status, OrderStatus::Paid);
    assert!(store.job(zip_job.id).await.unwrap().is_some(), "{name}: paid emits the zip job");
    let again_job = NewJob::now(Task::BuildZip { order_id: o.id }, SystemClock.now());
    let again = s
        .transition_order(o.id, OrderStatus::Paid, &change, std::slice::from_ref(&again_job), SystemClock.now())
        .await
        .unwrap();
    assert!(again.is_none(), "{name}: paying twice is refused");
    assert!(store.job(again_job.id).await.unwrap().is_none(), "{name}: and emits nothing");
    let late = s.record_checkout(o.id, "test", "late", SystemClock.now(), Some(&key("c2", "url"))).await.unwrap();
    assert_eq!(late, CheckoutRecorded::NotPending, "{name}: paid, not pending");
    let kept = s.idempotent_reply(cl.id, "POST /orders/x/checkout", "c2").await.unwrap();
    assert!(kept.is_none(), "{name}: a refused checkout keeps no key");
    assert!(
        s.transition_order(o.id, OrderStatus::Cancelled, &OrderChange::default(), &[], SystemClock.now())
            .await
            .unwrap()
            .is_none(),
        "{name}: a paid order cannot be cancelled"
    );
    assert!(!s.stale_pending_orders(SystemClock.now() + hour, 10).await.unwrap().contains(&o.id), "{name}: paid");
    // Payment events are recorded once per gateway.
    assert!(s.record_payment_event("test", "evt_1", SystemClock.now()).await.unwrap());
    assert!(!s.record_payment_event("test", "evt_1", SystemClock.now()).await.unwrap(), "{name}: a duplicate");
    assert!(s.record_payment_event("other", "evt_1", SystemClock.now()).await.unwrap(), "{name}: gateways apart");
}

/// `DownloadStore`: fulfilment stores the link with the status change,
/// once; downloads are counted atomically within a budget; a refund
/// revokes the link; paid orders hold their originals, refunded ones not.
pub async fn downloads<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let shop = shop(s).await;
    let o = paid_order(s, &shop).await;
    let day_ago = SystemClock.now() - Duration::days(1);
    assert_eq!(s.held_photos(shop.album.id, day_ago).await.unwrap(), vec![shop.photo.id], "{name}: held");
    assert!(s.held_photos(shop.album.id, SystemClock.now() + Duration::days(1)).await.unwrap().is_empty(), "{name}");
    let link = link_for(o.id, [9; 32]);
    assert!(s.fulfil_order(&link, &[], SystemClock.now()).await.unwrap());
    assert_eq!(s.order(o.id).await.unwrap().unwrap().status, OrderStatus::Fulfilled, "{name}");
    let second = link_for(o.id, [10; 32]);
    assert!(!s.fulfil_order(&second, &[], SystemClock.now()).await.unwrap(), "{name}: fulfilled once");
    assert!(s.link_by_token_hash(&[10; 32]).await.unwrap().is_none(), "{name}: and nothing stored");
    let stored = s.link_by_token_hash(&[9; 32]).await.unwrap().unwrap();
    assert_eq!((stored.id, stored.zip_size), (link.id, 42), "{name}");
    assert_eq!(s.link(link.id).await.unwrap().unwrap().token_hash, [9; 32], "{name}");
    assert!(s.count_download(&stored, 42, true, None).await.unwrap());
    assert!(s.count_download(&stored, 40, false, Some(84)).await.unwrap(), "{name}: within the budget");
    let counted = s.link_for_order(o.id).await.unwrap().unwrap();
    assert_eq!((counted.download_count, counted.bytes_served), (1, 82), "{name}");
    assert!(!s.count_download(&stored, 3, false, Some(84)).await.unwrap(), "{name}: 85 > 84");
    assert!(s.count_download(&stored, 2, false, Some(84)).await.unwrap(), "{name}: exactly the budget");
    assert!(!s.count_download(&stored, 1, true, Some(84)).await.unwrap(), "{name}: budget used up");
    let counted = s.link_for_order(o.id).await.unwrap().unwrap();
    assert_eq!((counted.download_count, counted.bytes_served), (1, 84), "{name}: nothing counted past it");
    assert!(s.count_download(&stored, -30, false, None).await.unwrap(), "{name}: unsent bytes given back");
    assert_eq!(s.link_for_order(o.id).await.unwrap().unwrap().bytes_served, 54, "{name}");
    // A fresh link is the order's newest; expired zips are found and marked.
    let mut fresh = link_for(o.id, [11; 32]);
    fresh.created_at = SystemClock.now() + Duration::seconds(1);
    s.insert_link(&fresh).await.unwrap();
    assert_eq!(s.link_for_order(o.id).await.unwrap().unwrap().id, fresh.id, "{name}: the newest link");
    let later = SystemClock.now() + Duration::days(8);
    let expired = s.expired_links_with_zips(later, 10).await.unwrap();
    assert_eq!(expired.len(), 2, "{name}: both links expired with their zip");
    s.mark_zip_deleted(link.id, later).await.unwrap();
    let left = s.expired_links_with_zips(later, 10).await.unwrap();
    assert_eq!(left.iter().map(|l| l.id).collect::<Vec<_>>(), vec![fresh.id], "{name}: marked deleted");
    // A refund revokes the links in the same transaction, and holds nothing.
    let refunded =
        s.transition_order(o.id, OrderStatus::Refunded, &OrderChange::default(), &[], SystemClock.now()).await.unwrap();
    assert_eq!(refunded.unwrap().status, OrderStatus::Refunded);
    assert!(s.link_by_token_hash(&[9; 32]).await.unwrap().unwrap().revoked, "{name}: revoked");
    assert!(s.link_by_token_hash(&[11; 32]).await.unwrap().unwrap().revoked, "{name}: every link");
    assert!(s.held_photos(shop.album.id, day_ago).await.unwrap().is_empty(), "{name}: a refund holds nothing");
    let change = OrderChange { paid_at: Some(SystemClock.now()), ..OrderChange::default() };
    assert!(
        s.transition_order(o.id, OrderStatus::Paid, &change, &[], SystemClock.now()).await.unwrap().is_none(),
        "{name}: no revival"
    );
}

/// `ReportStore`: sales count paid orders of the period per seller, not
/// refunded ones; monthly reports are stored once.
pub async fn reports<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let shop = shop(s).await;
    let (ph, cl) = (&shop.ph, &shop.cl);
    paid_order(s, &shop).await;
    let refunded = paid_order(s, &shop).await;
    s.transition_order(refunded.id, OrderStatus::Refunded, &OrderChange::default(), &[], SystemClock.now())
        .await
        .unwrap()
        .unwrap();
    let pending = order(cl, &shop.album, &[&shop.photo]);
    assert!(s.insert_order(&pending, None, None).await.unwrap());
    let (now, day) = (SystemClock.now(), Duration::days(1));
    let sales = s.sales(Some(ph.id), now - day, now + day).await.unwrap();
    assert_eq!(sales.len(), 1, "{name}: one album, one currency");
    assert_eq!(
        (sales[0].album_id, sales[0].orders, sales[0].photos, sales[0].revenue),
        (shop.album.id, 1, 1, 500),
        "{name}: the paid order only"
    );
    assert!(s.sales(Some(cl.id), now - day, now + day).await.unwrap().is_empty(), "{name}: per seller");
    let top = s.top_photos(Some(ph.id), now - day, now + day, 10).await.unwrap();
    assert_eq!(top, vec![(shop.photo.id, shop.photo.filename.clone(), 1)], "{name}: top photos");
    assert!(s.sales(None, now + day, now + day * 2).await.unwrap().is_empty(), "{name}: period");
    assert!(!s.sales(None, now - day, now + day).await.unwrap().is_empty(), "{name}: everyone's");
    s.delete_album(shop.album.id).await.unwrap();
    let kept = s.sales(Some(ph.id), now - day, now + day).await.unwrap();
    assert_eq!((kept.len(), kept[0].album_name.as_deref()), (1, None), "{name}: sales outlive the album");
    assert!(s.save_monthly_report(ph.id, "2026-10", "{\"a\":1}", now).await.unwrap());
    assert!(!s.save_monthly_report(ph.id, "2026-10", "{\"a\":2}", now).await.unwrap(), "{name}: once");
    assert!(s.save_monthly_report(ph.id, "2026-11", "{\"a\":3}", now).await.unwrap());
    let months: Vec<_> = s.monthly_reports(ph.id).await.unwrap();
    assert_eq!(
        months,
        vec![("2026-11".to_owned(), "{\"a\":3}".to_owned()), ("2026-10".to_owned(), "{\"a\":1}".to_owned())],
        "{name}: newest first, the first kept"
    );
    assert!(s.monthly_reports(cl.id).await.unwrap().is_empty(), "{name}");
}

/// `WebhookStore`: endpoints round trip and list per owner; an event's
/// endpoints are its owner's and every admin's, enabled ones only; a
/// delivery is stored once per event and endpoint, with its job; an
/// attempt is stored with the delivery's new state and the next job;
/// ended deliveries are pruned, pending ones kept; deleting an endpoint
/// deletes its deliveries.
pub async fn webhooks<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let ph = user(&format!("hooks-{tag}@x.test"), Role::Photographer);
    let other = user(&format!("other-{tag}@x.test"), Role::Photographer);
    let admin = user(&format!("admin-{tag}@x.test"), Role::Admin);
    for u in [&ph, &other, &admin] {
        s.insert_user(u, "hash").await.unwrap();
    }
    let now = SystemClock.now();
    let hook = |owner: &User, enabled: bool| Webhook {
        id: WebhookId::new(),
        owner_id: owner.id,
        url: format!("https://hooks.example.com/{tag}"),
        events: vec![EventType::OrderPaid, EventType::PhotoReady],
        description: "note".into(),
        enabled,
        disabled_reason: None,
        secret: new_webhook_secret(),
        previous_secret: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let (mine, off, theirs, ops) = (hook(&ph, true), hook(&ph, false), hook(&other, true), hook(&admin, true));
    for w in [&mine, &off, &theirs, &ops] {
        s.insert_webhook(w).await.unwrap();
    }
    assert_eq!(s.webhook(mine.id).await.unwrap().as_ref(), Some(&mine), "{name}: round trip");
    let mut changed = mine.clone();
    changed.events = vec![EventType::AlbumExpired];
    changed.previous_secret = Some("whsec_b2xk".into());
    changed.previous_secret_until = Some(now + Duration::days(1));
    changed.failing_since = Some(now);
    changed.disabled_reason = Some("gone".into());
    changed.updated_at = now + Duration::seconds(1);
    s.update_webhook(&changed).await.unwrap();
    assert_eq!(s.webhook(mine.id).await.unwrap().as_ref(), Some(&changed), "{name}: every field saved");
    s.update_webhook(&mine).await.unwrap();

    let first = s.list_webhooks(Some(ph.id), PageRequest { limit: 1, after: None }).await.unwrap();
    assert_eq!(first.items.len(), 1, "{name}");
    let cursor = first.next_cursor.as_deref();
    let second = s.list_webhooks(Some(ph.id), PageRequest::new(Some(5), cursor).unwrap()).await.unwrap();
    let listed: std::collections::HashSet<_> = first.items.iter().chain(&second.items).map(|w| w.id).collect();
    assert_eq!(listed, [mine.id, off.id].into(), "{name}: one owner's, by pages");
    let everyone = s.list_webhooks(None, PageRequest::new(Some(200), None).unwrap()).await.unwrap();
    assert!([mine.id, off.id, theirs.id, ops.id].iter().all(|id| everyone.items.iter().any(|w| w.id == *id)), "{name}");
    let receivers: std::collections::HashSet<_> = s.webhooks_for(ph.id).await.unwrap().iter().map(|w| w.id).collect();
    assert!(receivers.contains(&mine.id) && receivers.contains(&ops.id), "{name}: the owner's and the admins'");
    assert!(!receivers.contains(&off.id) && !receivers.contains(&theirs.id), "{name}: enabled, and no one else's");

    let delivery = |hook: WebhookId, msg: &str| Delivery {
        id: DeliveryId::new(),
        webhook_id: hook,
        message_id: msg.to_owned(),
        event_type: "order.paid".into(),
        body: r#"{"type":"order.paid"}"#.into(),
        status: DeliveryStatus::Pending,
        attempts: 0,
        next_attempt_at: Some(now),
        created_at: now,
        updated_at: now,
    };
    let job = |d: &Delivery, after: u32| NewJob::now(Task::DeliverWebhook { delivery_id: d.id, after }, now);
    let d = delivery(mine.id, &format!("msg_{tag}"));
    let d_job = job(&d, 0);
    assert_eq!(s.add_deliveries(&[(d.clone(), d_job.clone())]).await.unwrap(), 1, "{name}");
    let dup = delivery(mine.id, &format!("msg_{tag}"));
    let dup_job = job(&dup, 0);
    let other_hook = delivery(ops.id, &format!("msg_{tag}"));
    let added = s.add_deliveries(&[(dup.clone(), dup_job.clone()), (other_hook.clone(), job(&other_hook, 0))]).await;
    assert_eq!(added.unwrap(), 1, "{name}: once per event and endpoint");
    assert!(s.job(dup_job.id).await.unwrap().is_none(), "{name}: no job for a delivery not stored");
    assert!(s.job(d_job.id).await.unwrap().is_some(), "{name}: the job with its delivery");
    assert_eq!(s.delivery(d.id).await.unwrap().as_ref(), Some(&d), "{name}: round trip");

    let mut tried = d.clone();
    tried.attempts = 1;
    tried.next_attempt_at = Some(now + Duration::seconds(5));
    let attempt = DeliveryAttempt {
        delivery_id: d.id,
        attempt: 1,
        at: now,
        status_code: Some(500),
        response: Some("oops".into()),
        error: None,
        duration_ms: 12,
    };
    let next = job(&d, 1);
    s.record_attempt(&tried, Some(&attempt), std::slice::from_ref(&next)).await.unwrap();
    assert_eq!(s.delivery(d.id).await.unwrap().as_ref(), Some(&tried), "{name}");
    assert_eq!(s.attempts(d.id).await.unwrap(), vec![attempt], "{name}");
    assert!(s.job(next.id).await.unwrap().is_some(), "{name}: the next attempt's job with it");
    assert_eq!(s.list_deliveries(mine.id, PageRequest::first()).await.unwrap().items, vec![tried.clone()]);

    assert_eq!(s.prune_deliveries(now - Duration::days(30)).await.unwrap(), 0, "{name}: nothing ended long ago");
    let mut ended = tried.clone();
    ended.status = DeliveryStatus::Succeeded;
    ended.next_attempt_at = None;
    ended.updated_at = now - Duration::days(31);
    s.record_attempt(&ended, None, &[]).await.unwrap();
    assert_eq!(s.prune_deliveries(now - Duration::days(30)).await.unwrap(), 1, "{name}: ended ones go");
    assert!(s.delivery(d.id).await.unwrap().is_none() && s.attempts(d.id).await.unwrap().is_empty(), "{name}");
    assert!(s.delivery(other_hook.id).await.unwrap().is_some(), "{name}: pending ones stay");

    assert!(s.delete_webhook(ops.id).await.unwrap(), "{name}");
    assert!(!s.delete_webhook(ops.id).await.unwrap(), "{name}: once");
    assert!(s.delivery(other_hook.id).await.unwrap().is_none(), "{name}: its deliveries with it");
}

/// The outbox for events: a change that happens writes its event jobs with
/// it; one that does not (a photo no longer processing, an album purged
/// already) writes none.
pub async fn events<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let shop = shop(s).await;
    let now = SystemClock.now();
    let event = |kind| Event::new(kind, shop.ph.id, serde_json::json!({}), now).job(now);
    let late = event(EventType::PhotoReady);
    assert!(!s.mark_photo_rendered(shop.photo.id, 1, 1, std::slice::from_ref(&late)).await.unwrap(), "{name}");
    assert!(s.job(late.id).await.unwrap().is_none(), "{name}: no event for a change that did not happen");
    let mut p = photo(shop.album.id);
    s.insert_photo(&p, &[]).await.unwrap();
    let ready = event(EventType::PhotoReady);
    assert!(s.mark_photo_rendered(p.id, 8, 6, std::slice::from_ref(&ready)).await.unwrap(), "{name}");
    assert!(s.job(ready.id).await.unwrap().is_some(), "{name}: the event with the change");
    p = s.photo(p.id).await.unwrap().unwrap();
    p.status = PhotoStatus::Failed;
    let failed = event(EventType::PhotoFailed);
    s.update_photo(&p, std::slice::from_ref(&failed)).await.unwrap();
    assert!(s.job(failed.id).await.unwrap().is_some(), "{name}");
    let purged = event(EventType::AlbumExpired);
    assert!(s.mark_album_purged(shop.album.id, now, std::slice::from_ref(&purged)).await.unwrap(), "{name}");
    let again = event(EventType::AlbumExpired);
    assert!(!s.mark_album_purged(shop.album.id, now, std::slice::from_ref(&again)).await.unwrap(), "{name}");
    assert!(s.job(purged.id).await.unwrap().is_some() && s.job(again.id).await.unwrap().is_none(), "{name}: once");
}

/// `ScheduleStore`: each period of a task is claimed once and its end
/// recorded; a lease has one holder at a time, renewable, free once
/// expired.
pub async fn schedules<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let now = SystemClock.now();
    let fire = now - Duration::minutes(1);
    assert!(s.claim_scheduled_run("prune_jobs", fire, now).await.unwrap(), "{name}");
    assert!(!s.claim_scheduled_run("prune_jobs", fire, now).await.unwrap(), "{name}: claimed once");
    assert!(s.claim_scheduled_run("clean_orphans", fire, now).await.unwrap(), "{name}: tasks apart");
    s.finish_scheduled_run("prune_jobs", fire, now, "ok", "pruned 3").await.unwrap();
    let runs = s.scheduled_runs(10).await.unwrap();
    let run = runs.iter().find(|r| r.task == "prune_jobs").unwrap();
    assert_eq!((run.outcome.as_deref(), run.detail.as_deref()), (Some("ok"), Some("pruned 3")), "{name}");
    assert!(run.finished_at.is_some(), "{name}");
    assert_eq!(s.scheduled_runs(1).await.unwrap().len(), 1, "{name}: limit");

    let until = now + Duration::seconds(30);
    assert!(s.acquire_lease("scheduler", "a", until, now).await.unwrap(), "{name}");
    assert!(!s.acquire_lease("scheduler", "b", until, now).await.unwrap(), "{name}: held by a");
    assert!(s.acquire_lease("scheduler", "a", until + Duration::seconds(30), now).await.unwrap(), "{name}: renew");
    let later_now = now + Duration::seconds(61);
    assert!(
        s.acquire_lease("scheduler", "b", later_now + Duration::seconds(30), later_now).await.unwrap(),
        "{name}: expired"
    );
    assert!(s.acquire_lease("other", "a", until, now).await.unwrap(), "{name}: names are independent");
}

/// `IdempotencyStore`: replies per user, scope and key, the first kept;
/// an order with a taken key is not written; pruning by age.
pub async fn idempotency<S: MetadataStore + JobQueue>(name: &str, s: &S) {
    let shop = shop(s).await;
    let (ph, cl) = (&shop.ph, &shop.cl);
    let reply = IdempotentReply {
        user_id: cl.id,
        scope: "POST /orders".into(),
        key: "k1".into(),
        request_hash: [1; 32],
        status: 201,
        body: "b".into(),
        created_at: SystemClock.now(),
    };
    assert!(s.save_idempotent_reply(&reply).await.unwrap());
    let second = IdempotentReply { body: "other".into(), ..reply.clone() };
    assert!(!s.save_idempotent_reply(&second).await.unwrap(), "{name}: the first is kept");
    assert_eq!(s.idempotent_reply(cl.id, "POST /orders", "k1").await.unwrap().unwrap().body, "b");
    assert!(s.idempotent_reply(ph.id, "POST /orders", "k1").await.unwrap().is_none(), "{name}: per user");
    assert!(s.idempotent_reply(cl.id, "POST /other", "k1").await.unwrap().is_none(), "{name}: per scope");
    // An order with a taken key is not written at all; with a free key,
    // the order and the key go in together.
    let blocked = order(cl, &shop.album, &[&shop.photo]);
    assert!(!s.insert_order(&blocked, Some(&reply), None).await.unwrap(), "{name}: key taken");
    assert!(s.order(blocked.id).await.unwrap().is_none(), "{name}: nothing written");
    let k2 = IdempotentReply { key: "k2".into(), body: blocked.id.to_string(), ..reply.clone() };
    assert!(s.insert_order(&blocked, Some(&k2), None).await.unwrap(), "{name}: free key");
    assert!(s.order(blocked.id).await.unwrap().is_some());
    assert_eq!(s.idempotent_reply(cl.id, "POST /orders", "k2").await.unwrap().unwrap().body, blocked.id.to_string());
    // Pruning removes only replies stored before the horizon.
    assert_eq!(s.prune_idempotent_replies(SystemClock.now() - Duration::hours(1)).await.unwrap(), 0, "{name}");
    assert!(s.idempotent_reply(cl.id, "POST /orders", "k1").await.unwrap().is_some(), "{name}: kept");
    assert_eq!(s.prune_idempotent_replies(SystemClock.now() + Duration::hours(1)).await.unwrap(), 2, "{name}");
    assert!(s.idempotent_reply(cl.id, "POST /orders", "k1").await.unwrap().is_none(), "{name}: pruned");
}

/// Claims, job leases, take-over, stale holders, retries with backoff, final failure.
pub async fn job_queue(name: &str, q: &dyn JobQueue) {
    {
        let now = SystemClock.now();
        let lease = Duration::seconds(30);
        assert!(q.claim(now, lease).await.unwrap().is_none(), "{name}: empty");
        let a = NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, now);
        let mut later = NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, now);
        later.run_at = now + Duration::minutes(5);
        q.enqueue(&a).await.unwrap();
        q.enqueue(&later).await.unwrap();

        // Claiming takes the due job once, with a lease.
        let job = q.claim(now, lease).await.unwrap().unwrap();
        assert_eq!((job.id, job.status, job.attempts), (a.id, JobStatus::Running, 1), "{name}");
        assert!(q.claim(now, lease).await.unwrap().is_none(), "{name}: not due, not twice");

        // A lease that runs out lets another worker take the job over; the
        // first holder can then no longer finish it.
        let taken = q.claim(now + Duration::seconds(31), lease).await.unwrap().unwrap();
        assert_eq!((taken.id, taken.attempts), (a.id, 2), "{name}: taken over");
        assert!(!q.complete(&job, now).await.unwrap(), "{name}: stale holder");
        assert!(!q.fail(&job, "late", None, now).await.unwrap(), "{name}: stale holder");

        // A holder renews its lease and keeps the job past the first
        // lease's end; a stale holder cannot renew.
        assert!(!q.renew(&job, now + Duration::seconds(90), now).await.unwrap(), "{name}: stale holder renews");
        assert!(q.renew(&taken, now + Duration::seconds(90), now).await.unwrap(), "{name}: holder renews");
        assert!(q.claim(now + Duration::seconds(62), lease).await.unwrap().is_none(), "{name}: renewed lease holds");

        // Failure with a retry time queues it again; without, it ends failed.
        assert!(q.fail(&taken, "boom", Some(now + Duration::seconds(2)), now).await.unwrap());
        assert!(q.claim(now + Duration::seconds(1), lease).await.unwrap().is_none(), "{name}: backoff");
        let retried = q.claim(now + Duration::seconds(3), lease).await.unwrap().unwrap();
        assert_eq!((retried.attempts, retried.last_error.as_deref()), (3, Some("boom")));
        assert!(q.fail(&retried, "gave up", None, now).await.unwrap());
        let failed = q.job(a.id).await.unwrap().unwrap();
        assert_eq!((failed.status, failed.last_error.as_deref()), (JobStatus::Failed, Some("gave up")), "{name}");

        // A released job is due again at once, its claim not counted; the
        // releaser no longer holds it.
        let mut soon = NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, now);
        soon.run_at = now - Duration::seconds(1);
        q.enqueue(&soon).await.unwrap();
        let held = q.claim(now, lease).await.unwrap().unwrap();
        assert_eq!((held.id, held.attempts), (soon.id, 1), "{name}");
        assert!(q.release(&held, now).await.unwrap(), "{name}: release");
        assert!(!q.release(&held, now).await.unwrap(), "{name}: released twice");
        assert!(!q.renew(&held, now + lease, now).await.unwrap(), "{name}: renew after release");
        let again = q.claim(now, lease).await.unwrap().unwrap();
        assert_eq!((again.id, again.attempts), (soon.id, 1), "{name}: a release is not an attempt");
        assert!(q.complete(&again, now).await.unwrap());

        // The later job runs when due and completes.
        let due = q.claim(now + Duration::minutes(6), lease).await.unwrap().unwrap();
        assert_eq!(due.id, later.id);
        assert!(q.complete(&due, now).await.unwrap());
        let listed = q.list_jobs(Some(JobStatus::Failed), PageRequest::first()).await.unwrap();
        assert_eq!(listed.items.iter().map(|j| j.id).collect::<Vec<_>>(), vec![a.id]);
        let counts = q.counts().await.unwrap();
        assert!(
            counts.contains(&(JobStatus::Failed, 1)) && counts.contains(&(JobStatus::Succeeded, 2)),
            "{name}: {counts:?}"
        );

        // A failed job is queued again with its attempts reset, and the
        // answer is the queued job itself; only failed jobs are retried.
        let later_now = now + Duration::minutes(7);
        let queued = q.retry_job(a.id, later_now).await.unwrap().expect("a failed job is retried");
        assert_eq!((queued.id, queued.status, queued.attempts), (a.id, JobStatus::Queued, 0), "{name}");
        assert_eq!(queued.run_at, later_now, "{name}: due at once");
        assert!(q.retry_job(a.id, later_now).await.unwrap().is_none(), "{name}: a queued job is not retried");
        assert!(q.retry_job(due.id, later_now).await.unwrap().is_none(), "{name}: a succeeded job is not retried");
        assert!(q.retry_job(JobId::new(), later_now).await.unwrap().is_none(), "{name}: no such job");
        let rerun = q.claim(later_now, lease).await.unwrap().unwrap();
        assert_eq!((rerun.id, rerun.attempts), (a.id, 1), "{name}: the retried job runs");
    }
}

/// Lanes: a webhooks-lane claim takes only webhook jobs, a work-lane claim
/// everything else, an `All` claim either.
pub async fn job_lanes(name: &str, q: &dyn JobQueue) {
    let now = SystemClock.now() + Duration::days(1);
    let lease = Duration::seconds(30);
    // What earlier suites left due is taken out of the way first.
    while let Some(j) = q.claim(now, lease).await.unwrap() {
        q.complete(&j, now).await.unwrap();
    }
    let render = NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, now);
    let deliver = NewJob::now(Task::DeliverWebhook { delivery_id: DeliveryId::new(), after: 0 }, now);
    let mut emit = NewJob::now(
        Task::EmitEvent { event: Box::new(Event::new(EventType::Ping, UserId::new(), serde_json::json!({}), now)) },
        now,
    );
    emit.run_at = now + Duration::seconds(1);
    for j in [&render, &deliver, &emit] {
        q.enqueue(j).await.unwrap();
    }
    let later = now + Duration::seconds(2);
    let hook = q.claim_in(later, lease, Lane::Webhooks).await.unwrap().unwrap();
    assert_eq!(hook.id, deliver.id, "{name}: the webhooks lane takes a delivery");
    let hook = q.claim_in(later, lease, Lane::Webhooks).await.unwrap().unwrap();
    assert_eq!(hook.id, emit.id, "{name}: and an event");
    assert!(q.claim_in(later, lease, Lane::Webhooks).await.unwrap().is_none(), "{name}: never a render");
    let work = q.claim_in(later, lease, Lane::Work).await.unwrap().unwrap();
    assert_eq!(work.id, render.id, "{name}: the work lane takes the render");
    assert!(q.claim_in(later, lease, Lane::Work).await.unwrap().is_none(), "{name}");
    assert!(Lane::Webhooks.takes("deliver_webhook") && !Lane::Work.takes("emit_event") && Lane::All.takes("notify"));
}

/// Four claimers race over 50 jobs (interleaved on the caller's task, so
/// the claims overlap in the backend): each job goes to exactly one.
pub async fn job_queue_contention(name: &str, store: &dyn JobQueue) {
    {
        let now = SystemClock.now();
        for _ in 0..50 {
            store.enqueue(&NewJob::now(Task::RenderPreview { photo_id: PhotoId::new() }, now)).await.unwrap();
        }
        let claimer = || async {
            let mut got = Vec::new();
            while let Some(j) = store.claim(SystemClock.now(), Duration::minutes(5)).await.unwrap() {
                got.push(j.id);
                store.complete(&j, SystemClock.now()).await.unwrap();
            }
            got
        };
        let results = futures::future::join_all((0..4).map(|_| claimer())).await;
        let mut all: Vec<JobId> = results.into_iter().flatten().collect();
        let n = all.len();
        all.sort();
        all.dedup();
        assert_eq!((n, all.len()), (50, 50), "{name}: every job exactly once");
    }
}

/// Whole and streamed reads and writes, ranges, abort, listing, prefixes, unsafe keys.
pub async fn blob_store(name: &str, blobs: &dyn BlobStore) {
    {
        blobs.ping().await.unwrap();
        blobs.put("a/b/one.bin", Bytes::from_static(b"0123456789")).await.unwrap();
        assert_eq!(blobs.get("a/b/one.bin").await.unwrap(), "0123456789", "{name}");
        assert_eq!(blobs.size("a/b/one.bin").await.unwrap(), 10);
        let part: Vec<Bytes> = blobs.stream("a/b/one.bin", Some(2..5)).await.unwrap().try_collect().await.unwrap();
        assert_eq!(part.concat(), b"234", "{name}: range");
        assert!(blobs.get("a/missing").await.unwrap_err().is_not_found(), "{name}");
        assert!(blobs.size("a/missing").await.unwrap_err().is_not_found(), "{name}");
        assert!(blobs.stream("a/missing", None).await.err().unwrap().is_not_found(), "{name}");

        // Streamed writes: visible only when finished; abort leaves nothing.
        let mut w = blobs.writer("a/big.bin").await.unwrap();
        for i in 0..64u8 {
            w.write(Bytes::from(vec![i; 64 * 1024])).await.unwrap();
        }
        assert_eq!(w.finish().await.unwrap(), 64 * 64 * 1024);
        assert_eq!(blobs.size("a/big.bin").await.unwrap(), 64 * 64 * 1024, "{name}");
        let mut w = blobs.writer("a/aborted.bin").await.unwrap();
        w.write(Bytes::from_static(b"partial")).await.unwrap();
        w.abort().await.unwrap();
        assert!(blobs.get("a/aborted.bin").await.unwrap_err().is_not_found(), "{name}: abort leaves nothing");

        let mut keys = blobs.list("a").await.unwrap();
        keys.sort();
        assert_eq!(keys, vec!["a/b/one.bin", "a/big.bin"], "{name}");
        assert!(blobs.list("nothing-here").await.unwrap().is_empty());
        blobs.delete("a/big.bin").await.unwrap();
        blobs.delete("a/big.bin").await.unwrap(); // twice is fine
        blobs.put("c/keep.bin", Bytes::from_static(b"k")).await.unwrap();
        blobs.delete_prefix("a").await.unwrap();
        assert!(blobs.list("a").await.unwrap().is_empty(), "{name}");
        assert_eq!(blobs.get("c/keep.bin").await.unwrap(), "k", "{name}: other prefixes stay");

        // Keys that could escape the store are refused.
        for bad in ["../etc/passwd", "/abs", "a/../../b", "", "a//b"] {
            assert!(blobs.put(bad, Bytes::new()).await.is_err(), "{name}: {bad:?}");
        }
    }
    if let Some(staging) = blobs.staging() {
        staged_objects(name, blobs, staging).await;
    }
}

/// [`crate::Staging`]: writes at offsets, cut back on abort, stale bytes
/// dropped, moved whole.
async fn staged_objects(name: &str, blobs: &dyn BlobStore, staging: &dyn crate::Staging) {
    let key = "s/upload/data";
    let mut w = staging.write_at(key, 0).await.unwrap();
    w.write(Bytes::from_static(b"hello ")).await.unwrap();
    assert_eq!(w.finish().await.unwrap(), 6, "{name}: bytes written");
    assert_eq!(blobs.size(key).await.unwrap(), 6, "{name}");
    assert_eq!(staging.write_at(key, 7).await.err().map(|e| e.code()), Some("offset_mismatch"), "{name}: past the end");

    // Aborted: cut back to where the write began.
    let mut w = staging.write_at(key, 6).await.unwrap();
    w.write(Bytes::from(vec![b'x'; 3 << 20])).await.unwrap();
    w.abort().await.unwrap();
    assert_eq!(blobs.get(key).await.unwrap(), "hello ", "{name}: abort cuts back");

    // A write at an earlier offset drops what lay past it.
    let mut w = staging.write_at(key, 0).await.unwrap();
    w.write(Bytes::from_static(b"HE")).await.unwrap();
    w.finish().await.unwrap();
    assert_eq!(blobs.get(key).await.unwrap(), "HE", "{name}: stale bytes dropped");
    let mut w = staging.write_at(key, 2).await.unwrap();
    for chunk in [&b"LLO "[..], b"world"] {
        w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    w.finish().await.unwrap();

    // One writer at a time: a second waits for the first, then drops
    // what lay past its offset.
    let mut first = staging.write_at(key, 11).await.unwrap();
    first.write(Bytes::from_static(b"!!! stale")).await.unwrap();
    let second = tokio::time::timeout(std::time::Duration::from_millis(300), staging.write_at(key, 11)).await;
    assert!(second.is_err(), "{name}: a second writer waits while the first writes");
    let waiting = staging.write_at(key, 11);
    let (second, finished) = futures::join!(waiting, async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        first.finish().await
    });
    assert_eq!(finished.unwrap(), 9, "{name}");
    second.unwrap().finish().await.unwrap();
    assert_eq!(blobs.get(key).await.unwrap(), "HELLO world", "{name}: the second writer cut the first's bytes");

    // Moved whole, replacing what is there.
    blobs.put("s/photo/original", Bytes::from_static(b"old")).await.unwrap();
    staging.rename(key, "s/photo/original").await.unwrap();
    assert_eq!(blobs.get("s/photo/original").await.unwrap(), "HELLO world", "{name}: moved");
    assert!(blobs.size(key).await.unwrap_err().is_not_found(), "{name}: gone from where it was");
    staging.rename("s/upload/data", "s/x").await.expect_err("a missing object does not move");
    staging.write_at("../escape", 0).await.err().expect("unsafe keys are refused");
    blobs.delete_prefix("s").await.unwrap();
}

/// A gateway opens a checkout idempotently and authenticates notifications
/// before reading them. `genuine` is a notification the gateway itself would
/// send about `order`.
pub async fn payment_gateway(
    name: &str,
    gw: &dyn PaymentGateway,
    order: &Order,
    genuine: (Vec<(String, String)>, Vec<u8>),
) {
    let request = CheckoutRequest {
        order,
        album_name: "Album",
        success_url: "http://shop.test/ok".into(),
        cancel_url: "http://shop.test/cancel".into(),
        idempotency_key: format!("proofsheet-checkout-{}", order.id),
        previous: None,
        buyer_email: Some("buyer@shop.test"),
        now: SystemClock.now(),
    };
    let first = gw.create_checkout(&request).await.unwrap();
    assert!(first.url.starts_with("http"), "{name}: checkout URL {:?}", first.url);
    assert_eq!(gw.create_checkout(&request).await.unwrap(), first, "{name}: same key, same session");
    // An unpaid session closes, and closing it again is no error.
    for attempt in ["closes", "closes again"] {
        let closed = gw.close_checkout(order, &first.reference, SystemClock.now()).await;
        assert!(matches!(closed, Ok(None)), "{name}: an unpaid session {attempt}: {closed:?}");
    }

    let now = SystemClock.now();
    let (headers, body) = genuine;
    let event = gw.verify_notification(&headers, &body, now).unwrap().expect("a genuine notification");
    assert_eq!(event.order_id, order.id, "{name}");
    assert!(!event.id.is_empty(), "{name}: events carry an id for deduplication");
    let mut tampered = body.clone();
    let last = tampered.len() - 2;
    tampered[last] ^= 0x01;
    assert_eq!(
        gw.verify_notification(&headers, &tampered, now).unwrap_err().code(),
        "invalid_signature",
        "{name}: tampered"
    );
    // Gateways that sign in headers must refuse the body alone (gateways
    // that sign inside the body, like form callbacks, pass no headers).
    if !headers.is_empty() {
        let unsigned = gw.verify_notification(&[], &body, now).unwrap_err();
        assert_eq!(unsigned.code(), "invalid_signature", "{name}: unsigned");
    }
    if !headers.is_empty() {
        let garbage: Vec<(String, String)> = headers.iter().map(|(k, _)| (k.clone(), "garbage".to_owned())).collect();
        assert!(gw.verify_notification(&garbage, &body, now).is_err(), "{name}: garbage signature");
    }
    assert!(gw.verify_notification(&headers, b"garbage", now).is_err(), "{name}: a garbage body");
}

/// A renderer probes without decoding, refuses junk and bombs, and renders
/// `sample` (a JPEG of `width` x `height`, upright) into JPEG previews no
/// larger than the original. `logo` is a PNG with alpha for a renderer
/// that draws logos (`None` for one that refuses them all).
pub async fn preview_renderer(
    name: &str,
    r: &dyn PreviewRenderer,
    sample: &[u8],
    width: u32,
    height: u32,
    logo: Option<&[u8]>,
) {
    assert_eq!(r.probe(b"plain text, not an image", true).unwrap_err().code(), "unsupported_media_type", "{name}");
    assert_eq!(r.probe(&sample[..2], false).unwrap(), Probe::NeedMore, "{name}: wants more bytes");
    match r.probe(sample, true).unwrap() {
        Probe::Image(info) => {
            assert_eq!((info.format, info.width, info.height), (ImageFormat::Jpeg, width, height), "{name}")
        }
        Probe::NeedMore => panic!("{name}: a whole JPEG needs no more bytes"),
    }
    let out = r.render(Bytes::copy_from_slice(sample), None).await.unwrap();
    assert_eq!((out.width, out.height), (width, height), "{name}");
    for (what, jpeg) in [("preview", &out.preview), ("thumbnail", &out.thumbnail)] {
        assert!(jpeg.starts_with(&[0xFF, 0xD8]) && jpeg.ends_with(&[0xFF, 0xD9]), "{name}: {what} is a JPEG");
        assert!(!jpeg.windows(4).any(|w| w == b"Exif"), "{name}: {what} carries no EXIF");
    }
    assert!(out.thumbnail.len() < out.preview.len(), "{name}: the thumbnail is smaller");
    let truncated = Bytes::copy_from_slice(&sample[..sample.len() / 2]);
    assert_eq!(r.render(truncated, None).await.unwrap_err().code(), "image_rejected", "{name}: truncated");
    let junk = Bytes::from_static(b"junk");
    assert_eq!(r.render(junk, None).await.unwrap_err().code(), "image_rejected", "{name}: junk");

    // An album's own text is drawn instead of the default mark.
    let own = WatermarkChoice::Text { text: "Studio Nord".into() };
    r.check_watermark(&own).unwrap();
    let marked = r.render(Bytes::copy_from_slice(sample), Some(&crate::Mark::new(own))).await.unwrap();
    assert_eq!((marked.width, marked.height), (width, height), "{name}");
    assert_ne!(marked.preview, out.preview, "{name}: the album's text changes the preview");
    for bad in [
        WatermarkChoice::Text { text: " ".into() },
        WatermarkChoice::Text { text: "x".repeat(101) },
        WatermarkChoice::Text { text: "line\nbreak".into() },
        WatermarkChoice::Plugin { plugin: "no-such-plugin".into(), params: String::new() },
    ] {
        assert_eq!(r.check_watermark(&bad).unwrap_err().code(), "invalid_watermark", "{name}: {bad:?}");
    }

    // Logos: files that are no logo are refused when uploaded; a logo
    // choice is checked for its ranges and drawn where it is placed.
    for junk in [&b"not a png"[..], sample] {
        assert_eq!(r.check_logo(junk).unwrap_err().code(), "invalid_logo", "{name}: a JPEG or junk is no logo");
    }
    let choice = |scale_pct, opacity_pct| WatermarkChoice::Logo {
        logo: "test".into(),
        position: crate::Position::BottomRight,
        scale_pct,
        opacity_pct,
    };
    let Some(logo) = logo else {
        assert_eq!(r.check_watermark(&choice(20, 50)).unwrap_err().code(), "invalid_watermark", "{name}");
        return;
    };
    r.check_logo(logo).unwrap();
    r.check_watermark(&choice(20, 50)).unwrap();
    for (scale, opacity) in [(1, 50), (101, 50), (20, 4), (20, 101)] {
        assert_eq!(r.check_watermark(&choice(scale, opacity)).unwrap_err().code(), "invalid_watermark", "{name}");
    }
    let mark = crate::Mark { choice: choice(20, 80), logo: Some(Bytes::copy_from_slice(logo)) };
    let with_logo = r.render(Bytes::copy_from_slice(sample), Some(&mark)).await.unwrap();
    assert_ne!(with_logo.preview, out.preview, "{name}: the logo changes the preview");
    let faint = crate::Mark { choice: choice(20, 10), ..mark.clone() };
    let faint = r.render(Bytes::copy_from_slice(sample), Some(&faint)).await.unwrap();
    assert_ne!(faint.preview, with_logo.preview, "{name}: opacity changes the preview");
    let without_file = crate::Mark { logo: None, ..mark };
    assert_eq!(
        r.render(Bytes::copy_from_slice(sample), Some(&without_file)).await.unwrap_err().code(),
        "image_rejected",
        "{name}: a logo choice without its file cannot render"
    );
}

/// A face engine ([`FaceIndex`]) keeps its rules on `people` (each image
/// shows exactly one face, labelled with whose it is; at least two people,
/// one of them twice) and `no_face` (an image without any).
pub fn face_index(name: &str, index: &dyn FaceIndex, people: &[(&str, RgbImage<'_>)], no_face: RgbImage<'_>) {
    assert!(!index.model().is_empty(), "{name}: a model name");
    assert!(index.threshold() > 0.0 && index.threshold().is_finite(), "{name}: a threshold");
    let mut found = Vec::new();
    for (who, image) in people {
        let faces = index.faces(*image).unwrap();
        assert_eq!(faces.len(), 1, "{name}: one face of {who}: {faces:?}");
        let face = faces.into_iter().next().unwrap();
        let b = face.bounds;
        assert!(b.width > 0 && b.height > 0, "{name}: {who}: an empty box");
        assert!(b.left + b.width <= image.width && b.top + b.height <= image.height, "{name}: {who}: {b:?} is outside");
        assert_eq!(face.embedding.len(), index.dimensions(), "{name}: {who}: embedding length");
        assert!(face.embedding.iter().all(|v| v.is_finite()), "{name}: {who}: finite");
        found.push((*who, face.embedding));
    }
    let again = index.faces(people[0].1).unwrap();
    assert!(index.distance(&again[0].embedding, &found[0].1) < 1e-4, "{name}: the same image, the same embedding");

    let (mut same, mut different) = (0, 0);
    for (i, (a, ea)) in found.iter().enumerate() {
        assert!(index.distance(ea, ea).abs() < 1e-6, "{name}: zero for itself");
        for (b, eb) in &found[i + 1..] {
            let d = index.distance(ea, eb);
            assert!((d - index.distance(eb, ea)).abs() < 1e-6, "{name}: symmetric");
            if a == b {
                same += 1;
                assert!(d < index.threshold(), "{name}: {a} and {a} are {d} apart");
            } else {
                different += 1;
                assert!(d > index.threshold(), "{name}: {a} and {b} are only {d} apart");
            }
        }
    }
    assert!(same > 0 && different > 0, "{name}: the samples need one person twice and two people");

    assert!(index.faces(no_face).unwrap().is_empty(), "{name}: no face where there is none");
    let tiny = RgbImage::new(1, 1, &[128; 3]).unwrap();
    assert!(index.faces(tiny).unwrap().is_empty(), "{name}: a 1x1 image holds no face");
    let gray = vec![128u8; 64 * 64 * 3];
    assert!(index.faces(RgbImage::new(64, 64, &gray).unwrap()).unwrap().is_empty(), "{name}: a flat image");
}
