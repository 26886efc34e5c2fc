//! The gallery: what a client or visitor sees (the cover, the justified
//! rows, the tiles the script asks for as it scrolls), the closed-album
//! page and the "Find me" privacy page.

use super::*;

/// Photos the gallery renders before the script loads more.
pub(super) const GALLERY_PAGE: u32 = 48;
/// An album that closed, as its client or visitor finds it: the studio's
/// name and how to reach them, not an error.
pub(super) async fn closed_page(state: &AppState, visit: &Visit, id: AlbumId) -> Response {
    let (name, studio) = match state.engine.albums().closed(visit.user.as_ref(), id).await {
        Ok(v) => v,
        Err(e) => return super::super::error_page(state, visit, e),
    };
    Page::new(format!("{name} has closed"), visit)
        .studio(&studio)
        .status(StatusCode::GONE)
        .body(html! {
            p.lead { "This album from " strong { (studio.name) } " has closed: its photos can no longer be viewed or bought." }
            p { "If you still want photos from it, ask " (studio.name) ":" }
            ul.plain {
                @if let Some(c) = &studio.contact_email { li { a href={ "mailto:" (c) } { (c) } } }
                @if let Some(w) = &studio.website { li { a href=(w) rel="noopener" { (w) } } }
            }
            p { "Photos you bought stay on " a href="/orders" { "your orders" } " until their download window closes." }
        })
        .render(state)
}

pub(super) async fn gallery(state: &AppState, visit: &Visit, album: Album, cursor: Option<String>) -> Response {
    let albums = state.engine.albums();
    let page = match PageRequest::new(Some(GALLERY_PAGE), cursor.as_deref()) {
        Ok(p) => p,
        Err(e) => return super::super::error_page(state, visit, e),
    };
    let photos = match albums.photos_of(&album, page).await {
        Ok(p) => p,
        Err(e) => return super::super::error_page(state, visit, e),
    };
    let favourites: std::collections::HashSet<PhotoId> =
        albums.favourites_of(visit.user.as_ref(), &album).await.unwrap_or_default().into_iter().collect();
    let client = visit.user.as_ref().is_some_and(|u| u.role == Role::Client);
    let now = state.engine.now();
    let open = !album.is_expired(now);
    let price = album.price_per_photo;
    let studio = albums.studio(&album).await.unwrap_or_else(|_| Studio {
        name: String::new(),
        website: None,
        contact_email: None,
        time_zone: "UTC".into(),
        accent: None,
    });
    // The owner's choice of cover, else the first ready photo.
    let chosen = match album.cover_photo_id {
        Some(id) => albums.photo(visit.user.as_ref(), id).await.ok().map(|(p, _, _)| p),
        None => None,
    };
    let cover = chosen.as_ref().or_else(|| photos.items.iter().find(|p| p.status == PhotoStatus::Ready));
    let cover = cover.filter(|p| p.status == PhotoStatus::Ready);
    Page::new(album.name.clone(), visit)
        .studio(&studio)
        .own_heading()
        .body(html! {
            // The cover: the album's first photo across the page, with the
            // album's name, the studio's and the closing day.
            section.cover.(if cover.is_some() { "with-photo" } else { "plain" }) aria-labelledby="album-name" {
                @if let Some(p) = cover {
                    img src={ "/api/v1/photos/" (p.id) "/preview" }
                        srcset={ "/api/v1/photos/" (p.id) "/thumbnail 400w, /api/v1/photos/" (p.id) "/preview 2048w" }
                        sizes="100vw" alt="" fetchpriority="high" decoding="async"
                        width=(p.width.unwrap_or(4)) height=(p.height.unwrap_or(3));
                }
                div.cover-text {
                    h1 #album-name { (album.name) }
                    p {
                        @if !studio.name.is_empty() { (studio.name) }
                        @if let Some(c) = closing(&album, &studio, now, false) {
                            @if !studio.name.is_empty() { " · " }
                            (c)
                        }
                    }
                }
            }
            p.meta { (price.human()) " per photo" }
            @if !open { p.notice { "This album is closed: its photos can no longer be bought." } }
            @if open && album.find_me && state.engine.faces().available() {
                section.card.findme #findme data-album=(album.id) aria-labelledby="findme-h" {
                    h2 #findme-h { "Find yourself in this album" }
                    p {
                        "Take a selfie, or choose a photo of yourself, to see only the photos you are in. "
                        "Your selfie is compared on this server and discarded at once: it is never stored. "
                        a href="/privacy/find-me" { "How “Find me” works" }
                    }
                    div.findme-row {
                        button type="button" #findme-go { "Find me" }
                        input #selfie type="file" accept="image/jpeg,image/png,image/webp" capture="user"
                            aria-label="Selfie" hidden;
                        button type="button" #findme-all hidden { "Select all matches" }
                        button type="button" #findme-reset hidden { "Show all photos" }
                    }
                    p #findme-status aria-live="polite" {}
                }
            }
            div.bar {
                p #selection role="status" aria-live="polite" { "0 selected · " (Money::zero(price.currency).human()) }
                // Narrow the rows (the script shows them; without it,
                // every photo stays shown).
                div.filters #filters role="group" aria-label="Show" hidden {
                    button.filter type="button" data-filter="all" aria-pressed="true" { "All" }
                    @if client {
                        button.filter type="button" data-filter="favourites" aria-pressed="false" { "Favourites" }
                    }
                    button.filter type="button" data-filter="selected" aria-pressed="false" { "Selected" }
                }
                form #checkout method="get" action={ "/albums/" (album.id) "/cart" } {
                    div #chosen {}
                    button type="submit" disabled[!open] { "Checkout" }
                }
            }
            ul.justified #gallery
                data-album=(album.id) data-price=(price.amount) data-currency=(price.currency)
                data-exponent=(price.currency.exponent()) data-client=(client)
                data-next=[photos.next_cursor.as_deref()] {
                @for p in photos.items.iter().filter(|p| p.status == PhotoStatus::Ready) {
                    (tile(p, favourites.contains(&p.id), client))
                }
            }
            @if let Some(c) = &photos.next_cursor {
                p.more #more { a href={ "/albums/" (album.id) "?cursor=" (crate::urls::encode(c)) } { "More photos" } }
            }
            (crate::web::assets::script("gallery"))
            dialog #lightbox aria-label="Photo" {
                div.lb {
                    img #lb-img alt="";
                    p #lb-caption {}
                    div.lb-nav {
                        button type="button" #lb-prev aria-label="Previous photo" { "←" }
                        button type="button" #lb-select aria-pressed="false" { "Select" }
                        @if client { button.fav type="button" #lb-fav aria-pressed="false" { "Favourite" } }
                        button type="button" #lb-next aria-label="Next photo" { "→" }
                        button type="button" #lb-close { "Close" }
                    }
                }
            }
        })
        .render(state)
}

/// `GET /albums/{id}/tiles?cursor=…`, or `?photo=…&photo=…`: gallery
/// tiles as an HTML fragment for the gallery's script to append, one
/// `<li>` a ready photo ([`tile`]) inside `<ul data-next="…">` (the next
/// page's cursor, absent at the end). With `cursor`, the next page of the
/// album in its order; with `photo` ids (at most 200), those photos in the
/// order given ("Find me"'s matches). The album's own rules apply: whoever
/// may not see the album gets its status (404, 410), not tiles.
#[handler]
pub async fn tiles(req: &Request, Path(id): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let fragment = |status: StatusCode, body: Markup| {
        let resp = Response::builder()
            .status(status)
            .content_type("text/html; charset=utf-8")
            .header("Cache-Control", "no-store")
            .body(body.into_string());
        visit.respond(state, resp)
    };
    let failed = |e: Error| fragment(super::super::status_of(e), html! { ul {} });
    let Ok(album_id) = id.parse::<AlbumId>() else { return failed(Error::not_found("album")) };
    let albums = state.engine.albums();
    let album = match albums.get(visit.user.as_ref(), album_id).await {
        Ok((album, _)) => album,
        Err(e) => return failed(e),
    };
    let query = FormData::parse(req.uri().query().unwrap_or("").as_bytes());
    let ids = super::buying::chosen_photos(query.all("photo"), PageRequest::MAX_LIMIT as usize);
    let (photos, next) = if ids.is_empty() {
        let page = match PageRequest::new(Some(GALLERY_PAGE), query.get("cursor")) {
            Ok(p) => p,
            Err(e) => return failed(e),
        };
        match albums.photos_of(&album, page).await {
            Ok(p) => (p.items.into_iter().filter(|p| p.status == PhotoStatus::Ready).collect(), p.next_cursor),
            Err(e) => return failed(e),
        }
    } else {
        match albums.ready_photos_in(&album, &ids).await {
            Ok(p) => (p, None),
            Err(e) => return failed(e),
        }
    };
    let favourites: std::collections::HashSet<PhotoId> =
        albums.favourites_of(visit.user.as_ref(), &album).await.unwrap_or_default().into_iter().collect();
    let client = visit.user.as_ref().is_some_and(|u| u.role == Role::Client);
    fragment(
        StatusCode::OK,
        html! {
            ul data-next=[next.as_deref()] {
                @for p in &photos { (tile(p, favourites.contains(&p.id), client)) }
            }
        },
    )
}

/// `GET /privacy/find-me`: what "Find me" does with a selfie and with the
/// faces in an album, for guests (linked from every album that offers it,
/// and from the studio's checkbox). `docs/faces.md` says the same for
/// photographers.
#[handler]
pub async fn find_me_privacy(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    Page::new("How “Find me” works", &visit)
        .body(html! {
            section.card.prose {
                p { "Some albums let you find the photos you are in with a selfie. This is what happens, and what does not." }
                h2 { "Your selfie" }
                ul {
                    li { "It is sent to this photographer's server only, never to another company or service." }
                    li { "The server finds the one face in it, compares that face with the faces in this album's photos, and answers the photos that match." }
                    li { "The selfie and what was measured from it are kept in memory for that one search, then discarded: they are never written to disk, to the database or to a log." }
                    li { "Searches are limited per visitor and per album, so nobody can search an album without end." }
                }
                h2 { "The faces in the album's photos" }
                ul {
                    li { "Only albums whose photographer turned “Find me” on are indexed; it is off unless they do." }
                    li { "For each photo the server stores a list of numbers per face (an embedding) and where the face is. The numbers are not a picture of you; they are only ever compared with a selfie searching the same album, and are never shown or sent anywhere." }
                    li { "They are deleted when the photographer turns “Find me” off, when a photo or the album is deleted, and when the album expires." }
                    li { "Nothing leaves the server: no cloud service is involved." }
                }
                h2 { "If you would rather not" }
                p { "You do not have to use it: every photo can still be browsed and bought without it. If you do not want your face to be searchable in an album, ask its photographer to remove the photo or to turn “Find me” off." }
            }
        })
        .render(state)
}

/// A photo's aspect ratio as the stylesheet's class: `ar-150` for 3:2
/// (width over height, in hundredths, 0.25 to 4; see `assets::css`). The
/// justified rows are laid out from it before any image loads.
pub fn aspect_class(width: u32, height: u32) -> String {
    let (w, h) = (u64::from(width), u64::from(height.max(1)));
    let hundredths = (w * 100 + h / 2) / h;
    format!("ar-{}", hundredths.clamp(25, 400))
}

/// The check-mark and heart of the tile toggles (their names are the
/// buttons' `aria-label`s; a pressed toggle's icon is filled).
pub(super) const CHECK_ICON: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12" cy="12" r="10"/><path d="M7 12.5l3.2 3.2L17 9" fill="none"/></svg>"#;
pub(super) const HEART_ICON: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 20.5s-7.5-4.6-7.5-10.1A4.4 4.4 0 0 1 12 7.6a4.4 4.4 0 0 1 7.5 2.8c0 5.5-7.5 10.1-7.5 10.1z"/></svg>"#;

/// One gallery tile: the thumbnail at its own aspect ratio (a 2x source
/// set: the 400 px thumbnail, the 2048 px preview where the tile is
/// wider) and the "Select" and "Favourite" toggles over it. Photos the
/// script shows later (more as the visitor scrolls, "Find me"'s matches)
/// come from [`tiles`] as this same markup: it lives here only.
pub(super) fn tile(p: &Photo, favourite: bool, client: bool) -> Markup {
    let (id, name) = (p.id.to_string(), p.filename.clone());
    let (w, h) = (p.width.unwrap_or(4), p.height.unwrap_or(3));
    let aspect = f64::from(w) / f64::from(h.max(1));
    let sizes = format!("(max-width: 40rem) {}px, {}px", (aspect * 140.0).round(), (aspect * 240.0).round());
    let (thumb, preview) = (format!("/api/v1/photos/{id}/thumbnail"), format!("/api/v1/photos/{id}/preview"));
    html! {
        li class=(aspect_class(w, h)) data-photo=(id) {
            button.thumb type="button" aria-label={ "Open " (name) } {
                img src=(thumb) srcset={ (thumb) " 400w, " (preview) " 2048w" } sizes=(sizes)
                    alt=(name) loading="lazy" decoding="async" width=(w) height=(h);
            }
            div.tools {
                button.sel.icon type="button" aria-pressed="false" aria-label="Select" { (PreEscaped(CHECK_ICON)) }
                @if client {
                    button.fav.icon type="button" aria-pressed=(if favourite { "true" } else { "false" }) aria-label="Favourite" {
                        (PreEscaped(HEART_ICON))
                    }
                }
            }
        }
    }
}
