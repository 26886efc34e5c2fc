//! The page shell every page shares: `<html lang>`, a title naming the
//! page, one `<h1>`, the landmarks (`header`, `nav`, `main`), the hashed
//! stylesheet and script, and "Sign out" when signed in.

use maud::{DOCTYPE, Markup, html};
use poem::{Response, http::StatusCode};
use proofsheet_core::Role;

use super::{CSRF_FIELD, Visit, assets};
use crate::state::AppState;

/// A page being built.
pub struct Page<'a> {
    title: String,
    visit: &'a Visit,
    status: StatusCode,
    body: Markup,
    heading: bool,
    /// A studio's brand: its name in the header's brand link and its accent
    /// colour (a stylesheet of its own: the policy forbids inline styles).
    brand: Option<(String, Option<String>)>,
}

impl<'a> Page<'a> {
    /// A page whose `<title>` and `<h1>` are `title`.
    pub fn new(title: impl Into<String>, visit: &'a Visit) -> Self {
        Page { title: title.into(), visit, status: StatusCode::OK, body: html! {}, heading: true, brand: None }
    }

    /// The status code.
    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// What goes in `<main>` after the heading.
    pub fn body(mut self, body: Markup) -> Self {
        self.body = body;
        self
    }

    /// A page of a studio's (its gallery, cart, closed album): the header
    /// carries its name, and the page its accent colour.
    pub fn studio<'s>(mut self, studio: impl Into<Option<&'s proofsheet_core::Studio>>) -> Self {
        self.brand = studio.into().map(|s| (s.name.clone(), s.accent.clone()));
        self
    }

    /// The body brings its own `<h1>` (for a heading with controls beside it).
    pub fn own_heading(mut self) -> Self {
        self.heading = false;
        self
    }

    /// The whole response.
    pub fn render(self, state: &AppState) -> Response {
        let visit = self.visit;
        let markup = html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) " · Proofsheet" }
                    meta name="csrf-token" content=(visit.csrf);
                    link rel="stylesheet" href=(assets::css_path());
                    @if let Some((_, Some(accent))) = &self.brand {
                        link rel="stylesheet" href={ "/accent/" (accent.trim_start_matches('#')) ".css" };
                    }
                    link rel="icon" href="data:,";
                    script src=(assets::js_path("common")) defer {}
                }
                body {
                    a.skip href="#main" { "Skip to content" }
                    header.top {
                        // Signed out, the pages themselves link to "Sign in"
                        // and "Create account" (one link of each name a page).
                        nav aria-label="Main" {
                            ul {
                                li {
                                    a.brand href="/" {
                                        @if let Some((name, _)) = &self.brand { (name) } @else { "Proofsheet" }
                                    }
                                }
                                @if let Some(user) = &visit.user {
                                    li { a href="/albums" { "Albums" } }
                                    li { a href="/orders" { "Orders" } }
                                    @if user.role == Role::Photographer {
                                        li { a href="/sales" { "Sales" } }
                                        li { a href="/settings" { "Settings" } }
                                    }
                                    li { a href="/account" { "Account" } }
                                }
                            }
                        }
                        @if let Some(user) = &visit.user {
                            form.signout method="post" action="/signout" {
                                input type="hidden" name=(CSRF_FIELD) value=(visit.csrf);
                                span.who { (user.name) }
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                    main #main tabindex="-1" {
                        @if self.heading { h1 { (self.title) } }
                        (self.body)
                    }
                    footer.foot { p { "Proofsheet · photos for sale, watermarked until paid" } }
                }
            }
        };
        let resp = Response::builder()
            .status(self.status)
            .content_type("text/html; charset=utf-8")
            .header("Cache-Control", "no-store")
            .body(markup.into_string());
        visit.respond(state, resp)
    }
}

/// A hidden CSRF field for a form.
pub fn csrf_field(visit: &Visit) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(visit.csrf); }
}

/// A time as `<time>`, in UTC words until the script puts it in the
/// viewer's own.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) { (t.format("%-d %B %Y, %H:%M UTC")) } }
}

/// A date (no time) as `<time>`.
/// A calendar day, shown as it is (an album's closing day: the day is the
/// rule, so the script does not move it into the viewer's zone).
pub fn day(d: chrono::NaiveDate) -> Markup {
    html! { time datetime=(d.format("%Y-%m-%d")) { (d.format("%-d %B %Y")) } }
}

/// A time's date, put in the viewer's own zone by the script.
pub fn date(t: chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)) data-date { (t.format("%-d %B %Y")) } }
}
