//! `/settings`: a photographer's studio (the name, website, contact address,
//! time zone and accent colour their galleries, pages and mails carry) and
//! their logo.
// Handlers answer early with a whole page (`Err(Response)`), as in `albums`.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use maud::{Markup, html};
use poem::{Request, Response, handler, http::StatusCode, web::Data};
use proofsheet_core::{Error, Role, Studio, User};

use super::{FormData, Page, Visit, layout::csrf_field, see_other, to_signin};
use crate::state::AppState;

fn photographer(state: &AppState, visit: &Visit) -> Result<User, Response> {
    let Some(user) = visit.user.clone() else { return Err(to_signin("/settings")) };
    if user.role != Role::Photographer {
        return Err(super::error_page(
            state,
            visit,
            Error::forbidden("photographers_only", "only photographers have a studio"),
        ));
    }
    Ok(user)
}

/// The page: the studio form (with `error` from a refused save, or a
/// `saved` notice) and the logo.
fn settings_page(
    state: &AppState,
    visit: &Visit,
    s: &Studio,
    has_logo: bool,
    error: Option<&str>,
    saved: bool,
) -> Response {
    let zones = proofsheet_core::time_zones();
    let contact = s.contact_email.as_ref().map(|e| e.to_string()).unwrap_or_default();
    let form: Markup = html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action="/settings" {
            (csrf_field(visit))
            label for="studio_name" { "Studio name" }
            input #studio_name name="studio_name" required maxlength="100" value=(s.name) aria-describedby="studio-hint";
            p.hint #studio-hint { "Your galleries, order pages and e-mails carry this name." }
            label for="website" { "Website" }
            input #website name="website" type="url" maxlength="200" placeholder="https://" value=(s.website.as_deref().unwrap_or(""));
            label for="contact_email" { "Contact email" }
            input #contact_email name="contact_email" type="email" value=(contact) aria-describedby="contact-hint";
            p.hint #contact-hint { "Clients' replies to your e-mails go here (else to your account's address); closed albums show it." }
            label for="time_zone" { "Time zone" }
            select #time_zone name="time_zone" aria-describedby="tz-hint" {
                @for z in &zones { option value=(z) selected[*z == s.time_zone] { (z) } }
            }
            p.hint #tz-hint { "An album that closes on a day sells until the end of that day here; dates show here." }
            label for="accent" { "Accent colour" }
            input #accent name="accent" type="color" value=(s.accent.as_deref().unwrap_or("#1f5fbf"));
            button type="submit" { "Save settings" }
        }
    };
    Page::new("Settings", visit)
        .status(if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK })
        .body(html! {
            @if saved { p.notice role="status" { "Saved." } }
            (form)
            (super::albums::logo_section(has_logo))
        })
        .render(state)
}

/// `GET /settings`.
#[handler]
pub async fn settings(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let user = match photographer(state, &visit) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let studio = match state.engine.users().studio(user.id).await {
        Ok(s) => s,
        Err(e) => return super::error_page(state, &visit, e),
    };
    let has_logo = state.engine.logos().has_logo(&user).await.unwrap_or(false);
    let saved = req.uri().query().is_some_and(|q| q.split('&').any(|p| p == "notice=saved"));
    settings_page(state, &visit, &studio, has_logo, None, saved)
}

/// `POST /settings`.
#[handler]
pub async fn save(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let user = match photographer(state, &visit) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let contact = form.text("contact_email").trim();
    let typed = Studio {
        name: form.text("studio_name").to_owned(),
        website: Some(form.text("website").to_owned()),
        contact_email: None,
        time_zone: form.text("time_zone").to_owned(),
        accent: Some(form.text("accent").to_owned()),
    };
    let parsed = if contact.is_empty() { Ok(None) } else { contact.parse().map(Some) };
    let result = match parsed {
        Ok(c) => state.engine.users().save_studio(&user, Studio { contact_email: c, ..typed.clone() }).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => visit.respond(state, see_other("/settings?notice=saved")),
        Err(e @ Error::Invalid { .. }) => {
            let has_logo = state.engine.logos().has_logo(&user).await.unwrap_or(false);
            settings_page(state, &visit, &typed, has_logo, Some(&e.to_string()), false)
        }
        Err(e) => super::error_page(state, &visit, e),
    }
}
