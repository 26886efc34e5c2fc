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
    PhotoId, PhotoStatus, Position, Role, Studio, Visibility, WatermarkChoice,
};
use serde::Deserialize;

use super::{
    FormData, Page, Visit,
    layout::{csrf_field, day, time},
    see_other, to_signin,
};
use crate::state::AppState;

/// Currencies the album form offers (any ISO 4217 code works in the API).
const CURRENCIES: &[&str] = &["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "CAD", "AUD", "JPY"];

/// Photos the gallery renders before the script loads more.
const GALLERY_PAGE: u32 = 48;
/// Photos per page of the studio's grid: a 2,000-photo wedding is 17
/// pages, each a few dozen KB of HTML.
const STUDIO_PAGE: usize = 120;

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
    let own = state.engine.users().studio(user.id).await.unwrap_or_else(|_| Studio::default_for(&user));
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

/// The album fields, as typed into the form.
struct AlbumFields {
    name: String,
    client_email: String,
    client_name: String,
    visibility: Visibility,
    price: String,
    currency: String,
    expires_on: String,
    /// The studio's time zone, which "Expires on" is in.
    time_zone: String,
    /// The watermark's kind: "" (the default), "text", "logo" or
    /// "plugin:NAME". A form without it (older pages) means "text" when
    /// `watermark` has text.
    wm_kind: String,
    /// The text of a text mark.
    watermark: String,
    /// A plugin's parameters.
    wm_params: String,
    /// A logo's position, size (% of the width) and opacity (%).
    wm_position: String,
    wm_scale: String,
    wm_opacity: String,
    /// "Find me" (selfie search) on.
    find_me: bool,
}

/// What the watermark part of the album form offers.
struct MarkOptions {
    /// The installed plugins.
    plugins: Vec<String>,
    /// Whether the photographer has uploaded a logo.
    has_logo: bool,
    /// The album whose photos the live preview uses (settings only).
    preview_of: Option<AlbumId>,
    /// Whether this server can index faces ("Find me").
    faces: bool,
}

impl MarkOptions {
    async fn of(state: &AppState, user: &proofsheet_core::User, preview_of: Option<AlbumId>) -> Self {
        MarkOptions {
            plugins: state.engine.watermark_plugins(),
            has_logo: state.engine.logos().has_logo(user).await.unwrap_or(false),
            preview_of,
            faces: state.engine.faces().available(),
        }
    }
}

impl AlbumFields {
    fn blank() -> Self {
        AlbumFields {
            name: String::new(),
            client_email: String::new(),
            client_name: String::new(),
            visibility: Visibility::Private,
            price: "5.00".into(),
            currency: "EUR".into(),
            expires_on: String::new(),
            time_zone: "UTC".into(),
            wm_kind: String::new(),
            watermark: String::new(),
            wm_params: String::new(),
            wm_position: "bottom_right".into(),
            wm_scale: "20".into(),
            wm_opacity: "50".into(),
            find_me: false,
        }
    }

    fn of(album: &Album, studio: &Studio) -> Self {
        let mut f = AlbumFields {
            name: album.name.clone(),
            client_email: album.client_email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
            client_name: album.client_name.clone().unwrap_or_default(),
            visibility: album.visibility,
            price: album.price_per_photo.major_units(),
            currency: album.price_per_photo.currency.to_string(),
            expires_on: album
                .expires_at
                .map(|t| studio.last_open_day(t).format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            time_zone: studio.time_zone.clone(),
            find_me: album.find_me,
            ..AlbumFields::blank()
        };
        match &album.watermark {
            None => {}
            Some(WatermarkChoice::Text { text }) => {
                f.wm_kind = "text".into();
                f.watermark = text.clone();
            }
            Some(WatermarkChoice::Plugin { plugin, params }) => {
                f.wm_kind = format!("plugin:{plugin}");
                f.wm_params = params.clone();
            }
            Some(WatermarkChoice::Logo { position, scale_pct, opacity_pct, .. }) => {
                f.wm_kind = "logo".into();
                f.wm_position = position.as_str().into();
                f.wm_scale = scale_pct.to_string();
                f.wm_opacity = opacity_pct.to_string();
            }
        }
        f
    }

    fn read(form: &FormData) -> Self {
        let watermark = form.text("watermark").to_owned();
        let wm_kind = match form.get("wm_kind") {
            Some(k) => k.to_owned(),
            None if !watermark.is_empty() => "text".into(),
            None => String::new(),
        };
        AlbumFields {
            name: form.text("name").to_owned(),
            client_email: form.text("client_email").to_owned(),
            client_name: form.text("client_name").to_owned(),
            visibility: if form.get("visibility") == Some("public") { Visibility::Public } else { Visibility::Private },
            price: form.text("price").to_owned(),
            currency: form.text("currency").to_owned(),
            expires_on: form.text("expires_on").to_owned(),
            time_zone: "UTC".into(),
            wm_kind,
            watermark,
            wm_params: form.get("wm_params").unwrap_or("").to_owned(),
            wm_position: form.text("wm_position").to_owned(),
            wm_scale: form.text("wm_scale").to_owned(),
            wm_opacity: form.text("wm_opacity").to_owned(),
            find_me: form.get("find_me").is_some(),
        }
    }

    /// The watermark the fields describe.
    fn mark(&self) -> Result<Option<WatermarkChoice>, Error> {
        let bad = |m: &str| Error::invalid("invalid_watermark", m.to_owned());
        let percent = |v: &str, what: &str, range: std::ops::RangeInclusive<u8>| {
            v.parse::<u8>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                bad(&format!("the logo's {what} is a whole number from {} to {}", range.start(), range.end()))
            })
        };
        Ok(match self.wm_kind.as_str() {
            "" => None,
            "text" if self.watermark.is_empty() => return Err(bad("enter the watermark text")),
            "text" => Some(WatermarkChoice::Text { text: self.watermark.clone() }),
            "logo" => Some(WatermarkChoice::Logo {
                logo: String::new(),
                position: self.wm_position.parse()?,
                scale_pct: percent(&self.wm_scale, "size", 2..=100)?,
                opacity_pct: percent(&self.wm_opacity, "opacity", 5..=100)?,
            }),
            k => match k.strip_prefix("plugin:") {
                Some(plugin) => {
                    Some(WatermarkChoice::Plugin { plugin: plugin.to_owned(), params: self.wm_params.clone() })
                }
                None => return Err(bad("choose a watermark from the list")),
            },
        })
    }

    /// The checked values: (client, price, expiry, watermark).
    #[allow(clippy::type_complexity)]
    fn parse(
        &self,
        studio: &Studio,
    ) -> Result<(Option<Email>, Money, Option<DateTime<Utc>>, Option<WatermarkChoice>), Error> {
        let client = if self.client_email.is_empty() { None } else { Some(self.client_email.parse::<Email>()?) };
        let currency: Currency = self.currency.parse()?;
        let price = Money::parse_major(&self.price, currency)?;
        // "Expires on" a day: open through that day in the studio's time
        // zone, closed after.
        let expires = if self.expires_on.is_empty() {
            None
        } else {
            let day = NaiveDate::parse_from_str(&self.expires_on, "%Y-%m-%d")
                .map_err(|_| Error::invalid("invalid_date", "enter the expiry date as YYYY-MM-DD"))?;
            Some(studio.end_of(day)?)
        };
        Ok((client, price, expires, self.mark()?))
    }
}

/// Words for a logo position.
fn position_words(p: Position) -> &'static str {
    match p {
        Position::Tiled => "Repeated over the photo",
        Position::Center => "Centre",
        Position::TopLeft => "Top left",
        Position::TopRight => "Top right",
        Position::BottomLeft => "Bottom left",
        Position::BottomRight => "Bottom right",
    }
}

/// The watermark part of the album form: the kind, then the fields of
/// each kind (the script shows only the chosen kind's), and in the
/// settings a live preview on one of the album's photos.
fn mark_fields(f: &AlbumFields, o: &MarkOptions) -> Markup {
    let kind = f.wm_kind.as_str();
    html! {
        fieldset.mark #mark data-album=[o.preview_of] {
            legend { "Watermark" }
            label for="wm_kind" { "Watermark" }
            select #wm_kind name="wm_kind" {
                option value="" selected[kind.is_empty()] { "Studio default" }
                option value="text" selected[kind == "text"] { "Text" }
                option value="logo" selected[kind == "logo"] disabled[!o.has_logo && kind != "logo"] {
                    @if o.has_logo { "My logo" } @else { "My logo (upload it in Settings first)" }
                }
                @for p in &o.plugins {
                    @let v = format!("plugin:{p}");
                    option value=(v) selected[kind == v] { "Plugin: " (p) }
                }
            }
            div data-wm-for="text" {
                label for="watermark" { "Watermark text" }
                input #watermark name="watermark" maxlength="100" value=(f.watermark);
            }
            div data-wm-for="logo" {
                label for="wm_position" { "Logo position" }
                select #wm_position name="wm_position" {
                    @for p in Position::ALL {
                        option value=(p.as_str()) selected[f.wm_position == p.as_str()] { (position_words(p)) }
                    }
                }
                div.pair {
                    div {
                        label for="wm_scale" { "Logo size (% of photo width)" }
                        input #wm_scale name="wm_scale" type="number" min="2" max="100" step="1" value=(f.wm_scale);
                    }
                    div {
                        label for="wm_opacity" { "Logo opacity (%)" }
                        input #wm_opacity name="wm_opacity" type="number" min="5" max="100" step="1" value=(f.wm_opacity);
                    }
                }
            }
            @if !o.plugins.is_empty() {
                div data-wm-for="plugin" {
                    label for="wm_params" { "Plugin parameters" }
                    input #wm_params name="wm_params" maxlength="4096" value=(f.wm_params);
                }
            }
            @if o.preview_of.is_some() {
                figure.wm-preview {
                    img #wm-preview alt="Preview of the watermark on a photo of this album" hidden;
                    figcaption #wm-preview-status role="status" aria-live="polite" {
                        "A preview of the chosen watermark appears here as you change it."
                    }
                }
            }
        }
    }
}

fn album_form(
    visit: &Visit,
    action: &str,
    f: &AlbumFields,
    marks: &MarkOptions,
    submit: &str,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action=(action) {
            (csrf_field(visit))
            label for="name" { "Album name" }
            input #name name="name" required maxlength="200" value=(f.name);
            div.pair {
                div {
                    label for="client_name" { "Client name" }
                    input #client_name name="client_name" maxlength="100" autocomplete="off" value=(f.client_name);
                }
                div {
                    label for="client_email" { "Client email" }
                    input #client_email type="email" name="client_email" value=(f.client_email)
                        aria-describedby="client-hint";
                }
            }
            p.hint #client-hint {
                "Optional. When you publish the album, the client gets an e-mail whose link opens it, signed in."
            }
            label for="visibility" { "Visibility" }
            select #visibility name="visibility" {
                option value="private" selected[f.visibility == Visibility::Private] { "Private" }
                option value="public" selected[f.visibility == Visibility::Public] { "Public" }
            }
            div.pair {
                div {
                    label for="price" { "Price per photo" }
                    input #price name="price" inputmode="decimal" required value=(f.price) placeholder="5.00";
                }
                div {
                    label for="currency" { "Currency" }
                    select #currency name="currency" {
                        @for c in CURRENCIES { option value=(c) selected[f.currency == *c] { (c) } }
                        @if !f.currency.is_empty() && !CURRENCIES.contains(&f.currency.as_str()) {
                            option value=(f.currency) selected { (f.currency) }
                        }
                    }
                }
            }
            label for="expires_on" { "Expires on" }
            input #expires_on type="date" name="expires_on" value=(f.expires_on) aria-describedby="expires-hint";
            p.hint #expires-hint { "Optional. Clients can buy until the end of this day (" (f.time_zone) ")." }
            (mark_fields(f, marks))
            div.check {
                input #find_me type="checkbox" name="find_me" value="on" checked[f.find_me] disabled[!marks.faces]
                    aria-describedby="find-me-hint";
                label for="find_me" { "Find me: guests find their photos with a selfie" }
            }
            p.hint #find-me-hint {
                @if marks.faces {
                    "Off by default. The faces in this album's photos are indexed on this server (nothing leaves it); "
                    "a guest's selfie is used for the search and never stored. Turning it off deletes the index. "
                    a href="/privacy/find-me" { "What guests are told" }
                } @else {
                    "Not available: this server was set up without face search (see docs/faces.md)."
                }
            }
            button type="submit" { (submit) }
        }
    }
}

/// The photographer's logo: shown, replaced or removed by the page's
/// script through `PUT`/`DELETE /api/v1/users/me/logo`.
pub(super) fn logo_section(has_logo: bool) -> Markup {
    html! {
        section aria-labelledby="logo-h" {
            h2 #logo-h { "Your logo" }
            p.hint #logo-hint { "A PNG, ideally with a transparent background, up to 1 MiB. Any of your albums can use it as its watermark (choose “My logo” in the album's settings)." }
            @if has_logo {
                img.logo #logo-img src="/api/v1/users/me/logo" alt="Your current logo";
            } @else {
                p { "No logo yet." }
            }
            div.logo-upload #logo {
                label for="logo-file" { @if has_logo { "Replace logo (PNG)" } @else { "Logo (PNG)" } }
                input #logo-file type="file" accept="image/png" aria-describedby="logo-hint";
                @if has_logo { button.secondary type="button" #logo-remove { "Remove logo" } }
                p #logo-status role="status" aria-live="polite" {}
            }
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
    let studio = state.engine.users().studio(user.id).await.unwrap_or_else(|_| Studio::default_for(&user));
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

/// An album that closed, as its client or visitor finds it: the studio's
/// name and how to reach them, not an error.
async fn closed_page(state: &AppState, visit: &Visit, id: AlbumId) -> Response {
    let (name, studio) = match state.engine.albums().closed(visit.user.as_ref(), id).await {
        Ok(v) => v,
        Err(e) => return super::error_page(state, visit, e),
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

/// Every item of a paged list, read page by page.
async fn every_page<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, Error>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: std::future::Future<Output = Result<proofsheet_core::Page<T>, Error>>,
{
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = fetch(PageRequest::new(Some(PageRequest::MAX_LIMIT), cursor.as_deref())?).await?;
        items.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() {
            return Ok(items);
        }
    }
}

fn status_word(p: &Photo) -> &'static str {
    match p.status {
        PhotoStatus::Processing => "Processing",
        PhotoStatus::Ready => "Ready",
        PhotoStatus::Failed => "Failed",
    }
}

async fn studio(state: &AppState, visit: &Visit, album: Album, notice: Option<&str>, cursor: Option<&str>) -> Response {
    let user = visit.user.clone().expect("the owner is signed in");
    let albums = state.engine.albums();
    // Every photo (counts, names for favourites); the grid shows a page.
    let all = match albums.all_photos(&album).await {
        Ok(items) => items,
        Err(e) => return super::error_page(state, visit, e),
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
    let mut orders = match every_page(|page| sales.album_orders(&user, album.id, page)).await {
        Ok(orders) => orders,
        Err(e) => return super::error_page(state, visit, e),
    };
    orders.reverse();
    let by_id: std::collections::HashMap<PhotoId, &Photo> = all.iter().map(|p| (p.id, p)).collect();
    let link = crate::urls::album(&state.public_url, album.id);
    let own = state.engine.users().studio(user.id).await.unwrap_or_else(|_| Studio::default_for(&user));
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
                    (all.len()) " photos, in capture order (the camera's time, then the file name) unless you move them. "
                    @if !all.is_empty() { "Showing " (start + 1) "–" (start + shown.len()) "." }
                }
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
                            li { a href={ "/orders/" (o.id) } { (o.items.len()) " photo(s), " (o.total.human()) } " · " (super::orders::status_words(o.status)) " · " (time(o.created_at)) }
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

async fn gallery(state: &AppState, visit: &Visit, album: Album, cursor: Option<String>) -> Response {
    let albums = state.engine.albums();
    let page = match PageRequest::new(Some(GALLERY_PAGE), cursor.as_deref()) {
        Ok(p) => p,
        Err(e) => return super::error_page(state, visit, e),
    };
    let photos = match albums.photos_of(&album, page).await {
        Ok(p) => p,
        Err(e) => return super::error_page(state, visit, e),
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
                    (tile(Some(p), favourites.contains(&p.id), client))
                }
            }
            template #tile-template { (tile(None, false, client)) }
            @if let Some(c) = &photos.next_cursor {
                p.more #more { a href={ "/albums/" (album.id) "?cursor=" (crate::urls::encode(c)) } { "More photos" } }
            }
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
const CHECK_ICON: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><circle cx="12" cy="12" r="10"/><path d="M7 12.5l3.2 3.2L17 9" fill="none"/></svg>"#;
const HEART_ICON: &str = r#"<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"><path d="M12 20.5s-7.5-4.6-7.5-10.1A4.4 4.4 0 0 1 12 7.6a4.4 4.4 0 0 1 7.5 2.8c0 5.5-7.5 10.1-7.5 10.1z"/></svg>"#;

/// One photo in the studio's grid: a checkbox to pick it for bulk
/// actions, its thumbnail, name and status, and its own buttons (submit
/// buttons of the one `#photo-actions` form, so 120 photos carry one CSRF
/// token). The page carries it once more as `<template id=studio-tile>`
/// for the script to clone for photos uploaded in the page.
fn studio_tile(p: Option<&Photo>, cover: bool) -> Markup {
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

/// One gallery tile: the thumbnail at its own aspect ratio (a 2x source
/// set: the 400 px thumbnail, the 2048 px preview where the tile is
/// wider) and the "Select" and "Favourite" toggles over it. The page
/// carries it once more as a `<template>` that the script clones for
/// photos it loads later: the markup lives here only.
fn tile(p: Option<&Photo>, favourite: bool, client: bool) -> Markup {
    let (id, name) = p.map(|p| (p.id.to_string(), p.filename.clone())).unwrap_or_default();
    let (w, h) = p.map(|p| (p.width.unwrap_or(4), p.height.unwrap_or(3))).unwrap_or((4, 3));
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

async fn owned(state: &AppState, visit: &Visit, id: &str) -> Result<(proofsheet_core::User, Album), Response> {
    let user = require_user(visit, &format!("/albums/{id}"))?.clone();
    let album_id: AlbumId = id.parse().map_err(|e: Error| super::error_page(state, visit, e))?;
    let album =
        state.engine.albums().get_owned(&user, album_id).await.map_err(|e| super::error_page(state, visit, e))?;
    Ok((user, album))
}

/// `POST /albums/{id}/settings`: saves the album form.
#[handler]
pub async fn save_settings(
    req: &Request,
    Path(id): Path<String>,
    Data(form): Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let (user, album) = match owned(state, &visit, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let studio = state.engine.users().studio(user.id).await.unwrap_or_else(|_| Studio::default_for(&user));
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
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `POST /albums/{id}/share`: mails the invitation (again).
#[handler]
pub async fn share(
    req: &Request,
    Path(id): Path<String>,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let (user, album) = match owned(state, &visit, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let notice = match state.engine.albums().send_invitation(&user, album.id).await {
        Ok(true) => "invitation_sent",
        Ok(false) => "invitation_not_sent",
        Err(e) => return super::error_page(state, &visit, e),
    };
    visit.respond(state, see_other(&format!("/albums/{}?notice={notice}", album.id)))
}

/// `POST /albums/{id}/delete`.
#[handler]
pub async fn delete(
    req: &Request,
    Path(id): Path<String>,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let (user, album) = match owned(state, &visit, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    match state.engine.albums().delete(&user, album.id).await {
        Ok(()) => visit.respond(state, see_other("/albums")),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `POST /albums/{id}/publish`: a draft becomes visible, and its
/// invitation goes.
#[handler]
pub async fn publish(
    req: &Request,
    Path(id): Path<String>,
    _checked: Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let (user, album) = match owned(state, &visit, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let patch = AlbumPatch { draft: Some(false), ..AlbumPatch::default() };
    match state.engine.albums().update(&user, album.id, patch).await {
        Ok(a) if a.client_email.is_some() => {
            visit.respond(state, see_other(&format!("/albums/{}?notice=published_invited", a.id)))
        }
        Ok(a) => visit.respond(state, see_other(&format!("/albums/{}?notice=published", a.id))),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `POST /albums/{id}/photos`: the studio grid's buttons. `act` is
/// `earlier:ID`, `later:ID`, `cover:ID`, `delete:ID` or
/// `delete-selected` (the checked `photo`s); back to the same page.
#[handler]
pub async fn photo_actions(
    req: &Request,
    Path(id): Path<String>,
    Data(form): Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let (user, album) = match owned(state, &visit, &id).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let albums = state.engine.albums();
    let act = form.text("act");
    let (verb, target) = act.split_once(':').unwrap_or((act, ""));
    let photo = || target.parse::<PhotoId>();
    let result: Result<&str, Error> = async {
        Ok(match verb {
            "earlier" | "later" => {
                albums.move_photo(&user, photo()?, verb == "earlier").await?;
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
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// The cart's address for these photos: what "Pay now" comes back to
/// after signing in.
fn cart_url(album: AlbumId, photos: &[PhotoId]) -> String {
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
fn chosen_photos<'a>(ids: impl Iterator<Item = &'a str>, max: usize) -> Vec<PhotoId> {
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
        return super::error_page(state, &visit, Error::not_found("album"));
    };
    let query = FormData::parse(req.uri().query().unwrap_or("").as_bytes());
    let albums = state.engine.albums();
    let (album, access) = match albums.get(visit.user.as_ref(), album_id).await {
        Ok(v) => v,
        Err(e) if e.is_not_found() && visit.user.is_none() => return to_signin(&format!("/albums/{id}/cart")),
        Err(e) => return super::error_page(state, &visit, e),
    };
    let removed: Option<PhotoId> = query.get("remove").and_then(|r| r.parse().ok());
    let wanted = chosen_photos(query.all("photo"), state.engine.settings().max_order_items);
    let mut photos = Vec::with_capacity(wanted.len());
    for pid in wanted.into_iter().filter(|p| Some(*p) != removed) {
        if let Ok((p, a, _)) = albums.photo(visit.user.as_ref(), pid).await
            && a.id == album.id
            && p.status == PhotoStatus::Ready
        {
            photos.push(p);
        }
    }
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
        Err(e) => return super::error_page(state, &visit, e),
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
        Err(e) => return super::error_page(state, &visit, e),
    };
    super::orders::start_payment(state, &visit, &user, order.id).await
}
