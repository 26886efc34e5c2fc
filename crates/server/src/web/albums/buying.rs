//! The cart (`/albums/{id}/cart`) and checkout: the selection reviewed,
//! then one order per press of "Pay now".

use super::*;

/// The cart's address for these photos: what "Pay now" comes back to
/// after signing in.
pub(super) fn cart_url(album: AlbumId, photos: &[PhotoId]) -> String {
    let mut url = format!("/albums/{album}/cart");
    for (n, p) in photos.iter().enumerate() {
        url.push_str(if n == 0 { "?photo=" } else { "&photo=" });
        url.push_str(&p.to_string());
    }
    url
}

/// The photo ids a cart or checkout form names (`photo`, repeated), in
/// order, without repeats, at most `max`; unreadable ids are dropped (a
/// cart is the buyer's own wish list, not a request to validate).
pub(super) fn chosen_photos<'a>(ids: impl Iterator<Item = &'a str>, max: usize) -> Vec<PhotoId> {
    let mut seen = std::collections::HashSet::new();
    ids.filter_map(|s| s.parse::<PhotoId>().ok()).filter(|p| seen.insert(*p)).take(max).collect()
}

/// `GET /albums/{id}/cart?photo=…`: the cart review. Each chosen photo
/// with its thumbnail, price and "Remove"; the breakdown; "Pay now". The
/// gallery's "Checkout" brings the selection here (the script keeps it in
/// the browser, and this page writes back what it shows).
#[handler]
pub async fn cart(req: &Request, Path(id): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let Ok(album_id) = id.parse::<AlbumId>() else {
        return super::super::error_page(state, &visit, Error::not_found("album"));
    };
    let query = FormData::parse(req.uri().query().unwrap_or("").as_bytes());
    let albums = state.engine.albums();
    let (album, access) = match albums.get(visit.user.as_ref(), album_id).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() && visit.user.is_none() => return to_signin(&format!("/albums/{id}/cart")),
        Err(e) => return super::super::error_page(state, &visit, e),
    };
    let removed: Option<PhotoId> = query.get("remove").and_then(|r| r.parse().ok());
    let wanted = chosen_photos(query.all("photo"), state.engine.settings().max_order_items);
    let wanted: Vec<PhotoId> = wanted.into_iter().filter(|p| Some(*p) != removed).collect();
    let photos = match albums.ready_photos_in(&album, &wanted).await {
        Ok(p) => p,
        Err(e) => return super::super::error_page(state, &visit, e),
    };
    let ids: Vec<PhotoId> = photos.iter().map(|p| p.id).collect();
    let price = album.price_per_photo;
    let total = price.times(photos.len() as u64).unwrap_or(price);
    let open = !album.is_expired(state.engine.now());
    let owner = access == Access::Owner;
    let here = format!("/albums/{}", album.id);
    let key = uuid::Uuid::new_v4().to_string();
    let studio = albums.studio(&album).await.ok();
    Page::new(format!("Your selection from {}", album.name), &visit)
        .studio(studio.as_ref())
        .body(html! {
            p.meta { a href=(here) { "Back to the gallery" } }
            @if photos.is_empty() {
                p #cart-empty { "Nothing is selected. Press Select on the photos you want in the gallery." }
            } @else {
                // A GET form: "Remove" asks for the same cart without one
                // photo, so the page works without the script too.
                form.cart #cart method="get" action={ (here) "/cart" } data-album=(album.id) {
                    @for p in &photos { input type="hidden" name="photo" value=(p.id); }
                    ul.cart-items aria-label="Selected photos" {
                        @for p in &photos {
                            li data-photo=(p.id) {
                                img src={ "/api/v1/photos/" (p.id) "/thumbnail" } alt=(p.filename) loading="lazy"
                                    width=(p.width.unwrap_or(4)) height=(p.height.unwrap_or(3));
                                span.name { (p.filename) }
                                span.what { "Digital original" }
                                span.price { (price.human()) }
                                button.link type="submit" name="remove" value=(p.id) aria-label={ "Remove " (p.filename) } { "Remove" }
                            }
                        }
                    }
                }
                section.card.breakdown aria-labelledby="total-h" {
                    h2 #total-h { "Total" }
                    dl {
                        dt { (photos.len()) @if photos.len() == 1 { " photo" } @else { " photos" } " × " (price.human()) }
                        dd { (total.human()) }
                        dt.total { "Total" }
                        dd.total #cart-total { (total.human()) }
                    }
                    p.hint { "Full-resolution originals without watermark, to download once paid." }
                    @if owner {
                        p.notice { "This is your own album: clients pay here; you cannot buy from yourself." }
                    } @else if !open {
                        p.notice { "This album is closed: its photos can no longer be bought." }
                    } @else {
                        form method="post" action={ (here) "/checkout" } {
                            (csrf_field(&visit))
                            input type="hidden" name="key" value=(key);
                            @for p in &photos { input type="hidden" name="photo" value=(p.id); }
                            button type="submit" { "Pay now" }
                        }
                        @if visit.user.is_none() {
                            p.hint { "You will sign in or create an account first, then come back to this cart." }
                        }
                    }
                }
            }
            // What the gallery's script keeps as the selection.
            div #cart-state hidden data-album=(album.id) data-photos=(ids.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(" ")) {}
            (crate::web::assets::script("cart"))
        })
        .render(state)
}

/// `POST /albums/{id}/checkout`: the cart becomes an order and the buyer
/// goes to the gateway. A visitor signs in first and comes back to the
/// same cart. The cart page's `key` makes a double press one order.
#[handler]
pub async fn checkout(
    req: &Request,
    Path(id): Path<String>,
    Data(form): Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let album_id = match id.parse::<AlbumId>() {
        Ok(a) => a,
        Err(e) => return super::super::error_page(state, &visit, e),
    };
    let photo_ids = chosen_photos(form.all("photo"), state.engine.settings().max_order_items);
    let Some(user) = visit.user.clone() else {
        // Back to the same cart; the sign-in page says why it appears.
        return to_signin(&cart_url(album_id, &photo_ids));
    };
    if photo_ids.is_empty() {
        return visit.respond(state, see_other(&cart_url(album_id, &[])));
    }
    let key = Some(form.text("key")).filter(|k| !k.is_empty()).map(|k| {
        let mut sorted: Vec<String> = photo_ids.iter().map(|p| p.to_string()).collect();
        sorted.sort();
        IdempotencyKey {
            scope: "web checkout".into(),
            key: k.to_owned(),
            request_hash: <sha2::Sha256 as sha2::Digest>::digest(format!("{album_id} {}", sorted.join(" "))).into(),
        }
    });
    let checkout = state.engine.checkout();
    let order = match checkout.create_order_once(&user, album_id, &photo_ids, key.as_ref()).await {
        Ok(o) => o,
        Err(e) => return super::super::error_page(state, &visit, e),
    };
    // The same key opens the payment once: a double press lands on the
    // same payment page.
    let key = key.map(|k| IdempotencyKey { scope: format!("web checkout {}", order.id), ..k });
    super::super::orders::start_payment(state, &visit, &user, order.id, key.as_ref()).await
}
