//! The studio: the owner's view of an album (the photo grid, upload,
//! sharing, favourites, orders, settings) and the forms it posts.

use super::*;

/// Photos per page of the studio's grid: a 2,000-photo wedding is 17
/// pages, each a few dozen KB of HTML.
pub(super) const STUDIO_PAGE: usize = 120;

pub(super) async fn studio(
    state: &AppState,
    visit: &Visit,
    album: Album,
    notice: Option<&str>,
    cursor: Option<&str>,
) -> Response {
    let user = visit.user.clone().expect("the owner is signed in");
    let albums = state.engine.albums();
    // Every photo (counts, names for favourites); the grid shows a page.
    let all = match albums.all_photos(&album).await {
        Ok(items) => items,
        Err(e) => return super::super::error_page(state, visit, e),
    };
    let start = cursor.and_then(|c| all.iter().position(|p| p.id.to_string() == c)).map_or(0, |i| i + 1);
    let shown = &all[start.min(all.len())..(start + STUDIO_PAGE).min(all.len())];
    let previous = match start {
        0 => None,
        s if s <= STUDIO_PAGE => Some(String::new()),
        s => Some(all[s - STUDIO_PAGE - 1].id.to_string()),
    };
    let next = (start + STUDIO_PAGE < all.len()).then(|| all[start + STUDIO_PAGE - 1].id.to_string());
    let favourites = albums.favourites(&user, album.id).await.unwrap_or_default();
    // The album's orders, newest first.
    let sales = state.engine.checkout();
    let mut orders = match proofsheet_core::every_page(|page| sales.album_orders(&user, album.id, page)).await {
        Ok(orders) => orders,
        Err(e) => return super::super::error_page(state, visit, e),
    };
    orders.reverse();
    let by_id: std::collections::HashMap<PhotoId, &Photo> = all.iter().map(|p| (p.id, p)).collect();
    let link = crate::urls::album(&state.public_url, album.id);
    let own = own_studio(state, &user).await;
    let f = AlbumFields::of(&album, &own);
    let marks = MarkOptions::of(state, &user, Some(album.id)).await;
    let now = state.engine.now();
    // "Find me": how far indexing has come.
    let ready = all.iter().filter(|p| p.status == PhotoStatus::Ready).count();
    let indexed = match album.find_me {
        true => state.engine.faces().progress(&user, album.id).await.ok(),
        false => None,
    };
    // The photographer's storage, against their quota.
    let storage = albums.storage(&user).await.ok();
    let mut clients: Vec<(String, Vec<PhotoId>)> = Vec::new();
    for fav in &favourites {
        match clients.last_mut() {
            Some((email, ids)) if *email == fav.email.as_str() => ids.push(fav.photo_id),
            _ => clients.push((fav.email.to_string(), vec![fav.photo_id])),
        }
    }
    let here = format!("/albums/{}", album.id);
    Page::new(album.name.clone(), visit)
        .body(html! {
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            @if album.draft {
                section.card.draft aria-labelledby="draft-h" {
                    h2 #draft-h { "Draft" }
                    p {
                        "Only you can see this album. Add the photos, then publish it: "
                        @if let Some(c) = &album.client_email { "the invitation goes to " (c) " then." }
                        @else { "its link works for your client from then on." }
                    }
                    form method="post" action={ (here) "/publish" } {
                        (csrf_field(visit))
                        button type="submit" { "Publish" }
                    }
                }
            }
            p.meta {
                @if album.draft { "Draft · " }
                (visibility_word(album.visibility)) " · " (album.price_per_photo.human()) " per photo"
                @if let Some(c) = &album.client_email {
                    " · for " @if let Some(n) = &album.client_name { (n) " <" (c) ">" } @else { (c) }
                }
                @if let Some(c) = closing(&album, &own, now, false) { " · " (c) }
                " · " a href={ (here) "?view=client" } { "View as client" }
            }
            section aria-labelledby="upload-h" {
                h2 #upload-h { "Photos" }
                div.drop #drop data-album=(album.id) data-max-bytes=(state.config.uploads.max_bytes) {
                    label for="files" { "Add photos" }
                    input #files type="file" name="file" multiple accept="image/jpeg,image/png";
                    p.hint { "Choose files or drop them anywhere on this page. JPEG or PNG; several upload at once, and a dropped connection picks up where it stopped." }
                }
                @if let Some((used, limit)) = storage {
                    @let full = limit.is_some_and(|l| used >= l);
                    p.storage #storage role=[full.then_some("alert")] {
                        "Storage: " (proofsheet_core::human_bytes(used))
                        @if let Some(l) = limit {
                            " of " (proofsheet_core::human_bytes(l)) " used"
                            @if full { ". Your storage is full: delete photos or albums to upload more." }
                        } @else { " used" }
                    }
                }
                p.upload-summary #upload-live role="status" aria-live="polite" {}
                p.hint {
                    span #photo-count { (all.len()) } " photos, in capture order (the camera's time, then the file name) unless you move them: "
                    "drag a photo onto another, or use “Move earlier” and “Move later”. "
                    @if !all.is_empty() { "Showing " (start + 1) "–" (start + shown.len()) "." }
                }
                p.visually-hidden #order-live role="status" aria-live="polite" {}
                form #photo-actions method="post" action={ (here) "/photos" } {
                    (csrf_field(visit))
                    input type="hidden" name="cursor" value=(cursor.unwrap_or(""));
                    div.bulk {
                        button.secondary type="submit" name="act" value="delete-selected"
                            data-confirm="Delete the selected photos?" { "Delete selected" }
                    }
                    ul.studio-grid #photos data-album=(album.id) aria-label="Photos in this album" {
                        @for p in shown { (studio_tile(Some(p), album.cover_photo_id == Some(p.id))) }
                    }
                }
                template #studio-tile { (studio_tile(None, false)) }
                (crate::web::assets::script("studio"))
                nav.pager aria-label="Pages of photos" {
                    @if let Some(p) = &previous {
                        a href={ (here) @if !p.is_empty() { "?cursor=" (p) } } { "Previous photos" }
                    }
                    @if let Some(n) = &next { a href={ (here) "?cursor=" (n) } { "More photos" } }
                }
            }
            section aria-labelledby="share-h" {
                h2 #share-h { "Share" }
                label for="gallery-link" { "Gallery link" }
                div.pair.copy {
                    input #gallery-link readonly value=(link);
                    button.secondary type="button" data-copy="gallery-link" { "Copy link" }
                }
                @if album.draft {
                    p.hint { "A draft's link works for you only; publish the album to share it." }
                } @else if album.client_email.is_some() {
                    form method="post" action={ "/albums/" (album.id) "/share" } {
                        (csrf_field(visit))
                        button.secondary type="submit" { "Send invitation e-mail" }
                    }
                } @else {
                    p.hint { "Add a client e-mail in the settings to send them an invitation." }
                }
            }
            section aria-labelledby="fav-h" {
                h2 #fav-h { "Favourites" }
                @if clients.is_empty() { p { "No client has marked a favourite yet." } }
                @for (n, (email, ids)) in clients.iter().enumerate() {
                    @let names: Vec<&str> = ids.iter().filter_map(|id| by_id.get(id)).map(|p| p.filename.as_str()).collect();
                    h3 { (email) " (" (ids.len()) ")" }
                    ul.fav-grid {
                        @for id in ids {
                            @match by_id.get(id) {
                                Some(p) => li {
                                    img src={ "/api/v1/photos/" (p.id) "/thumbnail" } alt="" loading="lazy"
                                        width=(p.width.unwrap_or(4)) height=(p.height.unwrap_or(3));
                                    span { (p.filename) }
                                },
                                None => li { span { "(deleted photo)" } },
                            }
                        }
                    }
                    @let field = format!("fav-names-{n}");
                    label for=(field) { "File names for a Lightroom filter" }
                    div.pair.copy {
                        input id=(field) readonly value=(names.join(" OR "));
                        button.secondary type="button" data-copy=(field) { "Copy file names" }
                    }
                }
            }
            section aria-labelledby="orders-h" {
                h2 #orders-h { "Orders" }
                @if orders.is_empty() { p { "No orders yet." } }
                @else {
                    ul.plain {
                        @for o in &orders {
                            li { a href={ "/orders/" (o.id) } { (o.items.len()) " photo(s), " (o.total.human()) } " · " (super::super::orders::status_words(o.status)) " · " (time(o.created_at)) }
                        }
                    }
                }
            }
            section aria-labelledby="settings-h" {
                h2 #settings-h { "Settings" }
                @if let Some((scanned, faces)) = indexed {
                    p.notice #findme-progress {
                        "“Find me” is on: " (scanned) " of " (ready) " ready photos indexed, "
                        (faces) (if faces == 1 { " face" } else { " faces" }) " found."
                        @if (scanned as usize) < ready { " The rest are being indexed; reload to see progress." }
                    }
                }
                (album_form(visit, &format!("/albums/{}/settings", album.id), &f, &marks, "Save changes", None))
            }
            section aria-labelledby="danger-h" {
                h2 #danger-h { "Delete album" }
                form method="post" action={ "/albums/" (album.id) "/delete" } data-confirm={ "Delete the album \u{201c}" (album.name) "\u{201d} with all its photos?" } {
                    (csrf_field(visit))
                    p { "The album, its photos and previews go. Sold originals stay for their buyers' download window." }
                    button.danger type="submit" { "Delete album" }
                }
            }
        })
        .render(state)
}

/// One photo in the studio's grid: a checkbox to pick it for bulk
/// actions, its thumbnail, name and status, and its own buttons (submit
/// buttons of the one `#photo-actions` form, so 120 photos carry one CSRF
/// token). The page carries it once more as `<template id=studio-tile>`
/// for the script to clone for photos uploaded in the page.
pub(super) fn studio_tile(p: Option<&Photo>, cover: bool) -> Markup {
    let (id, name) = p.map(|p| (p.id.to_string(), p.filename.clone())).unwrap_or_default();
    let status = p.map_or("uploading", |p| p.status.as_str());
    html! {
        li id={ "p-" (id) } data-photo=(id) data-status=(status) {
            @if p.is_some_and(|p| p.status == PhotoStatus::Ready) {
                img src={ "/api/v1/photos/" (id) "/thumbnail" } alt="" loading="lazy"
                    width=(p.and_then(|p| p.width).unwrap_or(4)) height=(p.and_then(|p| p.height).unwrap_or(3));
            } @else { span.ph aria-hidden="true" {} }
            label.pick {
                input type="checkbox" name="photo" value=(id);
                span.name { (name) }
            }
            span.status {
                @if let Some(p) = p { (status_word(p)) @if let Some(r) = &p.failure_reason { ": " (r) } }
                @else { "Waiting" }
            }
            @if cover { span.badge { "Cover" } }
            span.acts {
                button.link type="submit" name="act" value={ "earlier:" (id) } { "Move earlier" }
                button.link type="submit" name="act" value={ "later:" (id) } { "Move later" }
                button.link type="submit" name="act" value={ "cover:" (id) } { "Use as cover" }
                button.link type="submit" name="act" value={ "delete:" (id) } data-confirm={ "Delete " (name) "?" }
                    aria-label={ "Delete " (name) } { "Delete" }
            }
        }
    }
}

/// `POST /albums/{id}/settings`: saves the album form.
#[handler]
pub async fn save_settings(
    Owned { visit, user, album }: Owned,
    Data(form): Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let studio = own_studio(state, &user).await;
    let mut f = AlbumFields::read(form);
    f.time_zone = studio.time_zone.clone();
    let result = match f.parse(&studio) {
        Ok((client, price, expires, watermark)) => {
            let patch = AlbumPatch {
                name: Some(f.name.clone()),
                visibility: Some(f.visibility),
                client_email: Some(client),
                price_per_photo: Some(price),
                expires_at: Some(expires),
                watermark: Some(watermark),
                find_me: Some(f.find_me),
                client_name: Some(Some(f.client_name.clone())),
                ..AlbumPatch::default()
            };
            state.engine.albums().update(&user, album.id, patch).await.map(|_| ())
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => visit.respond(state, see_other(&format!("/albums/{}?notice=saved", album.id))),
        Err(e @ (Error::Invalid { .. } | Error::Conflict { .. })) => {
            let marks = MarkOptions::of(state, &user, Some(album.id)).await;
            Page::new(format!("Settings of {}", album.name), &visit)
                .status(StatusCode::UNPROCESSABLE_ENTITY)
                .body(album_form(
                    &visit,
                    &format!("/albums/{}/settings", album.id),
                    &f,
                    &marks,
                    "Save changes",
                    Some(&e.to_string()),
                ))
                .render(state)
        }
        Err(e) => super::super::error_page(state, &visit, e),
    }
}

/// `POST /albums/{id}/share`: mails the invitation (again).
#[handler]
pub async fn share(
    Owned { visit, user, album }: Owned,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let notice = match state.engine.albums().send_invitation(&user, album.id).await {
        Ok(true) => "invitation_sent",
        Ok(false) => "invitation_not_sent",
        Err(e) => return super::super::error_page(state, &visit, e),
    };
    visit.respond(state, see_other(&format!("/albums/{}?notice={notice}", album.id)))
}

/// `POST /albums/{id}/delete`.
#[handler]
pub async fn delete(
    Owned { visit, user, album }: Owned,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    match state.engine.albums().delete(&user, album.id).await {
        Ok(()) => visit.respond(state, see_other("/albums")),
        Err(e) => super::super::error_page(state, &visit, e),
    }
}

/// `POST /albums/{id}/publish`: a draft becomes visible, and its
/// invitation goes.
#[handler]
pub async fn publish(
    Owned { visit, user, album }: Owned,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let patch = AlbumPatch { draft: Some(false), ..AlbumPatch::default() };
    match state.engine.albums().update(&user, album.id, patch).await {
        Ok(a) if a.client_email.is_some() => {
            visit.respond(state, see_other(&format!("/albums/{}?notice=published_invited", a.id)))
        }
        Ok(a) => visit.respond(state, see_other(&format!("/albums/{}?notice=published", a.id))),
        Err(e) => super::super::error_page(state, &visit, e),
    }
}

/// `POST /albums/{id}/photos`: the studio grid's buttons. `act` is
/// `earlier:ID`, `later:ID`, `cover:ID`, `delete:ID` or
/// `delete-selected` (the checked `photo`s); back to the same page. The
/// grid's drag and drop sends `before:ID` or `after:ID` with `of` (the
/// photo it was dropped on).
#[handler]
pub async fn photo_actions(
    Owned { visit, user, album }: Owned,
    Data(form): Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let albums = state.engine.albums();
    let act = form.text("act");
    let (verb, target) = act.split_once(':').unwrap_or((act, ""));
    let photo = || target.parse::<PhotoId>();
    let result: Result<&str, Error> = async {
        Ok(match verb {
            "earlier" | "later" | "before" | "after" => {
                let to = match verb {
                    "earlier" => PhotoMove::Earlier,
                    "later" => PhotoMove::Later,
                    "before" => PhotoMove::Before(form.text("of").parse()?),
                    _ => PhotoMove::After(form.text("of").parse()?),
                };
                albums.move_photo(&user, photo()?, to).await?;
                "moved"
            }
            "cover" => {
                let patch = AlbumPatch { cover_photo_id: Some(Some(photo()?)), ..AlbumPatch::default() };
                albums.update(&user, album.id, patch).await?;
                "cover_set"
            }
            "delete" => {
                albums.delete_photo(&user, photo()?).await?;
                "photo_deleted"
            }
            "delete-selected" => {
                let ids = form.all("photo").map(str::parse).collect::<Result<Vec<PhotoId>, Error>>()?;
                if ids.is_empty() {
                    return Err(Error::invalid("nothing_selected", "tick the photos to delete first"));
                }
                for pid in ids {
                    albums.delete_photo(&user, pid).await?;
                }
                "photos_deleted"
            }
            _ => return Err(Error::invalid("invalid_action", "that button is not one this page has")),
        })
    }
    .await;
    let cursor = form.text("cursor");
    let back = |notice: &str| {
        let at = if cursor.is_empty() { String::new() } else { format!("&cursor={}", crate::urls::encode(cursor)) };
        let anchor = if target.is_empty() || verb == "delete" { String::new() } else { format!("#p-{target}") };
        format!("/albums/{}?notice={notice}{at}{anchor}", album.id)
    };
    match result {
        Ok(notice) => visit.respond(state, see_other(&back(notice))),
        Err(e) => super::super::error_page(state, &visit, e),
    }
}
