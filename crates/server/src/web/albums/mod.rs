//! Albums: the studio (the owner's view: upload, live status, settings,
//! sharing, favourites, orders) and the gallery (everyone else's: the grid,
//! the lightbox, the selection and checkout).

// Handlers return early with a whole page (`Err(Response)`), once per
// request; boxing it would buy nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use maud::{Markup, PreEscaped, html};
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Query},
};
use proofsheet_core::{
    Access, Album, AlbumId, AlbumPatch, Currency, Email, Error, IdempotencyKey, Money, NewAlbum, PageRequest, Photo,
    PhotoId, PhotoMove, PhotoStatus, Position, Role, Studio, Visibility, WatermarkChoice,
};
use serde::Deserialize;

use super::{
    FormData, Page, Visit,
    layout::{csrf_field, day, time},
    see_other, to_signin,
};
use crate::state::AppState;

mod buying;
mod form;
mod gallery;
mod studio;

use form::*;
use gallery::*;
use studio::*;

pub use buying::{cart, checkout};
pub(super) use form::logo_section;
pub use gallery::{find_me_privacy, tiles};
pub use studio::{delete, photo_actions, publish, save_settings, share};

/// `?cursor=` of the gallery and album list, `?error=` after a failed form.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
    notice: Option<String>,
    /// `client`: the owner sees the gallery as their client does.
    view: Option<String>,
}

/// When an album closes, in words: "open until 6 January 2030", or
/// "closed after …" once it has (capitalised to start a sentence).
fn closing(album: &Album, studio: &Studio, now: chrono::DateTime<chrono::Utc>, capital: bool) -> Option<Markup> {
    let d = studio.last_open_day(album.expires_at?);
    let words = match (album.is_expired(now), capital) {
        (false, true) => "Open until ",
        (false, false) => "open until ",
        (true, true) => "Closed after ",
        (true, false) => "closed after ",
    };
    Some(html! { (words) (day(d)) })
}

/// The signed-in photographer's own studio (made of their name if the
/// store cannot say).
async fn own_studio(state: &AppState, user: &proofsheet_core::User) -> Studio {
    state.engine.users().studio(user.id).await.unwrap_or_else(|_| Studio::default_for(user))
}

fn require_user<'a>(visit: &'a Visit, here: &str) -> Result<&'a proofsheet_core::User, Response> {
    visit.user.as_ref().ok_or_else(|| to_signin(here))
}

/// `GET /albums`: a photographer's own albums with counts and sales; a
/// client's shared albums.
#[handler]
pub async fn list(req: &Request, Query(q): Query<ListQuery>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let user = match require_user(&visit, "/albums") {
        Ok(u) => u.clone(),
        Err(r) => return r,
    };
    let page = match PageRequest::new(Some(100), q.cursor.as_deref()) {
        Ok(p) => p,
        Err(e) => return super::error_page(state, &visit, e),
    };
    let albums = match state.engine.albums().list(&user, page).await {
        Ok(a) => a,
        Err(e) => return super::error_page(state, &visit, e),
    };
    let now = state.engine.now();
    if user.role != Role::Photographer {
        // Each album's studio, for its name and closing day.
        let mut studios = Vec::with_capacity(albums.items.len());
        for a in &albums.items {
            studios.push(state.engine.albums().studio(a).await.unwrap_or_else(|_| Studio::default_for(&user)));
        }
        return Page::new("Albums", &visit)
            .body(html! {
                @if albums.items.is_empty() {
                    p { "No albums yet. When a photographer shares an album with " strong { (user.email) } ", it appears here." }
                    @if !user.email_verified {
                        p { "Albums shared with your address open once you confirm it: follow the link we e-mailed you." }
                    }
                }
                ul.cards {
                    @for (a, studio) in albums.items.iter().zip(&studios) {
                        li.card {
                            h2 { a href={ "/albums/" (a.id) } { (a.name) } }
                            p { (a.price_per_photo.human()) " per photo" }
                            p.meta { (studio.name) }
                            @if let Some(c) = closing(a, studio, now, true) { p { (c) } }
                        }
                    }
                }
                (more_link("/albums", albums.next_cursor.as_deref()))
            })
            .render(state);
    }
    let own = own_studio(state, &user).await;
    let counts = state.engine.albums().photo_counts(&user).await.unwrap_or_default();
    let far = DateTime::<Utc>::MAX_UTC;
    let sales = match state.engine.reports().sales(&user, DateTime::<Utc>::MIN_UTC, far).await {
        Ok(s) => s.albums,
        Err(e) => return super::error_page(state, &visit, e),
    };
    Page::new("Albums", &visit)
        .own_heading()
        .body(html! {
            div.heading {
                h1 { "Albums" }
                a.button href="/albums/new" { "New album" }
            }
            @if albums.items.is_empty() {
                p { "No albums yet. Make one, upload photos, and share it with your client." }
            } @else {
                div.scroll {
                    table {
                        caption.visually-hidden { "Your albums" }
                        thead { tr { th scope="col" { "Album" } th scope="col" { "Photos" } th scope="col" { "Orders" } th scope="col" { "Revenue" } th scope="col" { "Visibility" } th scope="col" { "Expires" } } }
                        tbody {
                            @for a in &albums.items {
                                @let rows: Vec<_> = sales.iter().filter(|r| r.album_id == a.id).collect();
                                tr {
                                    th scope="row" { a href={ "/albums/" (a.id) } { (a.name) } }
                                    td.num { (counts.get(&a.id).copied().unwrap_or(0)) }
                                    td.num { (rows.iter().map(|r| r.orders).sum::<u64>()) }
                                    td.num {
                                        @if rows.is_empty() { (Money::zero(a.price_per_photo.currency).human()) }
                                        @for (i, r) in rows.iter().enumerate() {
                                            @if i > 0 { ", " }
                                            (Money { amount: r.revenue, currency: r.currency }.human())
                                        }
                                    }
                                    td { (visibility_word(a.visibility)) }
                                    td { @if let Some(t) = a.expires_at { (day(own.last_open_day(t))) } @else { "Never" } }
                                }
                            }
                        }
                    }
                }
            }
            (more_link("/albums", albums.next_cursor.as_deref()))
        })
        .render(state)
}

fn visibility_word(v: Visibility) -> &'static str {
    match v {
        Visibility::Private => "Private",
        Visibility::Public => "Public",
    }
}

fn more_link(base: &str, cursor: Option<&str>) -> Markup {
    html! {
        @if let Some(c) = cursor {
            p.more { a href={ (base) "?cursor=" (crate::urls::encode(c)) } { "More" } }
        }
    }
}

/// `GET /albums/new`.
#[handler]
pub async fn new_page(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    if let Err(r) = require_user(&visit, "/albums/new") {
        return r;
    }
    let marks = match &visit.user {
        Some(u) => MarkOptions::of(state, u, None).await,
        None => MarkOptions { plugins: Vec::new(), has_logo: false, preview_of: None, faces: false },
    };
    let mut f = AlbumFields::blank();
    if let Some(u) = &visit.user {
        f.time_zone = state.engine.users().studio(u.id).await.map(|s| s.time_zone).unwrap_or(f.time_zone);
    }
    Page::new("New album", &visit).body(album_form(&visit, "/albums", &f, &marks, "Create album", None)).render(state)
}

/// `POST /albums`: creates the album and shows it.
#[handler]
pub async fn create(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let user = match require_user(&visit, "/albums/new") {
        Ok(u) => u.clone(),
        Err(r) => return r,
    };
    let studio = own_studio(state, &user).await;
    let mut f = AlbumFields::read(form);
    f.time_zone = studio.time_zone.clone();
    let marks = MarkOptions::of(state, &user, None).await;
    let again = |e: Error| {
        Page::new("New album", &visit)
            .status(StatusCode::UNPROCESSABLE_ENTITY)
            .body(album_form(&visit, "/albums", &f, &marks, "Create album", Some(&e.to_string())))
            .render(state)
    };
    let (client_email, price_per_photo, expires_at, watermark) = match f.parse(&studio) {
        Ok(v) => v,
        Err(e) => return again(e),
    };
    let new = NewAlbum {
        name: f.name.clone(),
        visibility: f.visibility,
        client_email,
        price_per_photo,
        expires_at,
        watermark,
        find_me: f.find_me,
        // Made here, an album is a draft until "Publish": the photos go in
        // first, and the invitation after.
        draft: true,
        client_name: Some(f.client_name.clone()),
    };
    match state.engine.albums().create(&user, new).await {
        Ok(album) => visit.respond(state, see_other(&format!("/albums/{}", album.id))),
        Err(e @ (Error::Invalid { .. } | Error::Forbidden { .. } | Error::Conflict { .. })) => again(e),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `GET /albums/{id}`: the studio for the owner, the gallery for anyone
/// else who may see it; a visitor who is not signed in is asked to.
#[handler]
pub async fn album_page(
    req: &Request,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let here = format!("/albums/{id}");
    let Ok(album_id) = id.parse::<AlbumId>() else {
        return super::error_page(state, &visit, Error::not_found("album"));
    };
    let (album, access) = match state.engine.albums().get(visit.user.as_ref(), album_id).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() && visit.user.is_none() => return to_signin(&here),
        Err(Error::Gone { .. }) => return closed_page(state, &visit, album_id).await,
        Err(e) => return super::error_page(state, &visit, e),
    };
    if access == Access::Owner {
        if q.view.as_deref() == Some("client") {
            return gallery(state, &visit, album, q.cursor).await;
        }
        studio(state, &visit, album, q.notice.as_deref().and_then(super::notice_text), q.cursor.as_deref()).await
    } else {
        gallery(state, &visit, album, q.cursor).await
    }
}

fn status_word(p: &Photo) -> &'static str {
    match p.status {
        PhotoStatus::Processing => "Processing",
        PhotoStatus::Ready => "Ready",
        PhotoStatus::Failed => "Failed",
    }
}

/// The album an owner's form acts on, with its visit and its owner: the
/// extractor the studio's POST handlers start with (the `:id` of their
/// path). A visitor who is not signed in is sent to sign in and back to
/// the album; anyone but the owner gets the album's error page (404, 403),
/// as the handler would have answered.
pub struct Owned {
    /// The caller's visit (its cookies go on the response).
    pub visit: Visit,
    /// The album's owner, signed in.
    pub user: proofsheet_core::User,
    /// The album.
    pub album: Album,
}

impl<'a> poem::FromRequest<'a> for Owned {
    async fn from_request(req: &'a Request, _body: &mut poem::RequestBody) -> poem::Result<Self> {
        let state = req.data::<Arc<AppState>>().cloned().expect("state is attached to every route");
        let visit = Visit::of(&state, req).await;
        let id = req.raw_path_param("id").unwrap_or_default();
        let user = require_user(&visit, &format!("/albums/{id}")).map_err(poem::Error::from_response)?.clone();
        let found = match id.parse::<AlbumId>() {
            Ok(album_id) => state.engine.albums().get_owned(&user, album_id).await,
            Err(e) => Err(e),
        };
        match found {
            Ok(album) => Ok(Owned { visit, user, album }),
            Err(e) => Err(poem::Error::from_response(super::error_page(&state, &visit, e))),
        }
    }
}
