//! Signing in and out, by password or by a mailed link, and registering.

use std::sync::Arc;

use maud::html;
use poem::{
    Request, Response, handler,
    http::StatusCode,
    web::{Data, Path, Query},
};
use proofsheet_core::{NewUser, Role, is_local_path};
use serde::Deserialize;

use super::{FormData, Page, Visit, layout::csrf_field, see_other};
use crate::{
    auth::{self, PasswordChange, PasswordSignIn, sign_in_with_password},
    state::AppState,
};

/// Query parameters the account pages take.
#[derive(Debug, Default, Deserialize)]
pub struct AccountQuery {
    next: Option<String>,
    email: Option<String>,
    role: Option<String>,
    token: Option<String>,
    sent: Option<String>,
}

/// Whether a sign-in was asked for on the way to paying: the gallery's
/// checkout sends visitors here with `next` set to its page and
/// `?checkout` (the cart, `/albums/{id}/cart`, counts too).
fn buying(next: &str) -> bool {
    let path = next.split('?').next().unwrap_or(next);
    next.starts_with("/albums/") && (next.ends_with("?checkout") || path.ends_with("/cart"))
}

fn next_or(next: Option<&str>, default: &str) -> String {
    next.filter(|n| is_local_path(n)).unwrap_or(default).to_owned()
}

/// `GET /`: what Proofsheet is; signed in, the user's home.
#[handler]
pub async fn home(req: &Request, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    if visit.user.is_some() {
        return visit.respond(state, see_other("/albums"));
    }
    Page::new("Sell your photos, watermarked until paid", &visit)
        .body(html! {
            p.lead {
                "Proofsheet is a studio for photographers and a gallery that sells. Upload an album, "
                "share it with your client, and they pick the photos they want, pay, and download the originals."
            }
            ul.features {
                li { "Every upload gets a watermarked preview; originals stay private until bought." }
                li { "Clients select photos at a fixed price per photo and pay online." }
                li { "Paid orders get an expiring link to a zip of the originals." }
            }
            p.actions {
                a.button href="/signin" { "Sign in" }
                " "
                a.button.secondary href="/register" { "Create account" }
            }
        })
        .render(state)
}

fn signin_form(visit: &Visit, next: &str, email: &str, error: Option<&str>, sent: bool) -> maud::Markup {
    html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        @if sent {
            p.notice role="status" {
                "If that address may sign in, a link is on its way. It works once, for 15 minutes."
            }
        }
        @if buying(next) {
            p.notice { "To buy your selection, sign in or create an account. Your selection is kept, and you come back to it." }
        }
        form.card method="post" action="/signin" {
            (csrf_field(visit))
            input type="hidden" name="next" value=(next);
            label for="email" { "Email" }
            input #email type="email" name="email" autocomplete="email" required value=(email);
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="current-password";
            button type="submit" { "Sign in" }
            p.or { "No password? We can e-mail you a link that signs you in." }
            button.secondary type="submit" formaction="/signin/email-link" formnovalidate { "Email me a sign-in link" }
        }
        p {
            "New here? "
            @if buying(next) {
                a href={ "/register?role=client&next=" (crate::urls::encode(next)) } { "Create account" }
            } @else {
                a href={ "/register?next=" (crate::urls::encode(next)) } { "Create account" }
            }
        }
    }
}

/// `GET /signin`.
#[handler]
pub async fn signin_page(req: &Request, Query(q): Query<AccountQuery>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(q.next.as_deref(), "/albums");
    let email = q.email.unwrap_or_default();
    Page::new("Sign in", &visit).body(signin_form(&visit, &next, &email, None, q.sent.is_some())).render(state)
}

/// `POST /signin`: the password form.
#[handler]
pub async fn signin(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(form.get("next"), "/albums");
    let email = form.text("email");
    let again = |msg: &str, status: StatusCode| {
        Page::new("Sign in", &visit)
            .status(status)
            .body(signin_form(&visit, &next, email, Some(msg), false))
            .render(state)
    };
    match sign_in_with_password(state, req, email, form.get("password").unwrap_or("")).await {
        Ok(PasswordSignIn::Ok(signed_in)) => {
            let mut resp = see_other(&next);
            super::append_cookie(&mut resp, &super::session_cookie(state, &signed_in.token));
            visit.respond(state, resp)
        }
        Ok(PasswordSignIn::Delayed(wait)) => {
            let msg = format!("Too many failed attempts for this address. Wait {wait} seconds and try again.");
            again(&msg, StatusCode::TOO_MANY_REQUESTS)
        }
        Ok(PasswordSignIn::Refused) => again("Wrong e-mail address or password.", StatusCode::UNAUTHORIZED),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `POST /signin/email-link`: "Email me a sign-in link". The answer is the
/// same whether or not the address has an account.
#[handler]
pub async fn email_link(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(form.get("next"), "/albums");
    let email = form.text("email");
    let page = |msg: Option<&str>, status: StatusCode, sent: bool| {
        Page::new("Sign in", &visit).status(status).body(signin_form(&visit, &next, email, msg, sent)).render(state)
    };
    if let Err(wait) = state.limits.email_link_allowed(email) {
        let msg = format!("Too many links asked for this address. Wait {} minutes and try again.", wait.div_ceil(60));
        return page(Some(&msg), StatusCode::TOO_MANY_REQUESTS, false);
    }
    match state.engine.users().send_sign_in_link(email, Some(&next)).await {
        Ok(()) => {
            let to = format!("/signin?sent=1&email={}&next={}", crate::urls::encode(email), crate::urls::encode(&next));
            visit.respond(state, see_other(&to))
        }
        Err(e) if e.code() == "invalid_email" => {
            page(Some("Enter your e-mail address, like name@example.com."), StatusCode::UNPROCESSABLE_ENTITY, false)
        }
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `GET /signin/link?token=`: the page a mailed link opens. It only shows
/// a button: mail scanners that fetch links must not use up the link.
#[handler]
pub async fn link_page(req: &Request, Query(q): Query<AccountQuery>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let token = q.token.unwrap_or_default();
    let next = next_or(q.next.as_deref(), "/albums");
    Page::new("Continue signing in", &visit)
        .body(html! {
            p { "Press the button to sign in with the link from your e-mail." }
            form.card method="post" action="/signin/link" {
                (csrf_field(&visit))
                input type="hidden" name="token" value=(token);
                input type="hidden" name="next" value=(next);
                button type="submit" { "Sign in" }
            }
        })
        .render(state)
}

/// `POST /signin/link`: takes the mailed link and signs in.
#[handler]
pub async fn link_sign_in(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(form.get("next"), "/albums");
    let ttl = state.session_ttl();
    match state.engine.users().sign_in_with_link(form.text("token"), ttl).await {
        Ok(Some(signed_in)) => {
            let mut resp = see_other(&next);
            super::append_cookie(&mut resp, &super::session_cookie(state, &signed_in.token));
            visit.respond(state, resp)
        }
        Ok(None) => Page::new("This link does not work any more", &visit)
            .status(StatusCode::UNAUTHORIZED)
            .body(html! {
                p { "A sign-in link works once, for 15 minutes. Ask for a new one:" }
                p { a.button href={ "/signin?next=" (crate::urls::encode(&next)) } { "Sign in" } }
            })
            .render(state),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `GET /invitations/{token}`: an invitation e-mail's link. Opens the
/// album signed in as its client, making the account on first use; a link
/// that no longer works says so and offers the usual sign-in.
#[handler]
pub async fn invitation(req: &Request, Path(token): Path<String>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    match state.engine.users().accept_invitation(&token, state.session_ttl()).await {
        Ok(Some((signed_in, album))) => {
            let mut resp = see_other(&format!("/albums/{album}"));
            super::append_cookie(&mut resp, &super::session_cookie(state, &signed_in.token));
            visit.respond(state, resp)
        }
        Ok(None) => {
            let next = proofsheet_core::LinkSigner::invitation_album(&token)
                .map_or_else(|| "/albums".to_owned(), |a| format!("/albums/{a}"));
            Page::new("This invitation does not work any more", &visit)
                .status(StatusCode::UNAUTHORIZED)
                .body(html! {
                    p {
                        "An invitation link works for " (proofsheet_core::INVITATION_DAYS) " days, for the address it "
                        "was sent to. Sign in, or ask for a sign-in link, to open the album:"
                    }
                    p { a.button href={ "/signin?next=" (crate::urls::encode(&next)) } { "Sign in" } }
                })
                .render(state)
        }
        Err(e) => super::error_page(state, &visit, e),
    }
}

struct RegisterForm<'a> {
    name: &'a str,
    surname: &'a str,
    email: &'a str,
    client: bool,
    next: &'a str,
}

fn register_form(visit: &Visit, f: &RegisterForm<'_>, error: Option<&str>) -> maud::Markup {
    html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action="/register" {
            (csrf_field(visit))
            input type="hidden" name="next" value=(f.next);
            label for="name" { "Name" }
            input #name name="name" autocomplete="given-name" required maxlength="100" value=(f.name);
            label for="surname" { "Surname" }
            input #surname name="surname" autocomplete="family-name" required maxlength="100" value=(f.surname);
            label for="email" { "Email" }
            input #email type="email" name="email" autocomplete="email" required value=(f.email);
            label for="password" { "Password" }
            input #password type="password" name="password" autocomplete="new-password" required minlength="8"
                aria-describedby="password-hint";
            p.hint #password-hint { "8 characters or more." }
            fieldset {
                legend { "I am a" }
                label.radio {
                    input type="radio" name="role" value="photographer" checked[!f.client];
                    " Photographer"
                }
                label.radio {
                    input type="radio" name="role" value="client" checked[f.client];
                    " Client"
                }
            }
            button type="submit" { "Create account" }
        }
        p { "Have an account? " a href={ "/signin?next=" (crate::urls::encode(f.next)) } { "Sign in" } }
    }
}

/// `GET /register`: `?email=` pre-fills the address, `?role=client` picks
/// the client role.
#[handler]
pub async fn register_page(
    req: &Request,
    Query(q): Query<AccountQuery>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(q.next.as_deref(), "/albums");
    let f = RegisterForm {
        name: "",
        surname: "",
        email: q.email.as_deref().unwrap_or(""),
        // Reached from a gallery (to buy), the client role is the likely one.
        client: q.role.as_deref() == Some("client") || (q.role.is_none() && buying(&next)),
        next: &next,
    };
    Page::new("Create account", &visit).body(register_form(&visit, &f, None)).render(state)
}

/// `POST /register`: creates the account; the mailed link signs it in.
#[handler]
pub async fn register(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(form.get("next"), "/albums");
    let f = RegisterForm {
        name: form.text("name"),
        surname: form.text("surname"),
        email: form.text("email"),
        client: form.get("role") == Some("client"),
        next: &next,
    };
    let password = form.get("password").unwrap_or("");
    let role = if f.client { Role::Client } else { Role::Photographer };
    let new = NewUser { email: f.email, password, name: f.name, surname: f.surname, role };
    let again = |msg: String| {
        Page::new("Create account", &visit)
            .status(StatusCode::UNPROCESSABLE_ENTITY)
            .body(register_form(&visit, &f, Some(&msg)))
            .render(state)
    };
    if let Err(e) = state.engine.users().sign_up(new, Some(&next)).await {
        return match e {
            proofsheet_core::Error::Invalid { .. } => again(e.to_string()),
            e => super::error_page(state, &visit, e),
        };
    }
    // The same answer for a new address and a taken one (whose owner was
    // mailed instead): the mailed link proves the address and signs in.
    check_your_email(state, &visit, f.email)
}

fn check_your_email(state: &AppState, visit: &Visit, email: &str) -> Response {
    Page::new("Check your e-mail", visit)
        .body(html! {
            p role="status" { "We sent a message to " strong { (email) } ". Open the link in it to confirm your address and sign in." }
            p.hint { "The link works for 7 days. Nothing arrived? Look in the spam folder, or ask for a sign-in link." }
            p { a href="/signin" { "Sign in" } }
        })
        .render(state)
}

/// `GET /verify-email?token=`: the page the mailed verification link
/// opens. It only shows a form: mail scanners that follow links must not
/// verify anyone by fetching it.
#[handler]
pub async fn verify_page(req: &Request, Query(q): Query<AccountQuery>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(q.next.as_deref(), "/albums");
    let Some(token) = q.token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return Page::new("Confirm your e-mail address", &visit)
            .status(StatusCode::BAD_REQUEST)
            .body(html! { p { "This link is incomplete." } })
            .render(state);
    };
    Page::new("Confirm your e-mail address", &visit).body(verify_form(&visit, &token, &next)).render(state)
}

fn verify_form(visit: &Visit, token: &str, next: &str) -> maud::Markup {
    html! {
        form.card method="post" action="/verify-email" {
            (csrf_field(visit))
            input type="hidden" name="token" value=(token);
            input type="hidden" name="next" value=(next);
            p { "Press the button to confirm that this e-mail address is yours and sign in." }
            label for="password" { "Password (optional)" }
            input #password type="password" name="password" autocomplete="current-password" aria-describedby="password-hint";
            p.hint #password-hint {
                "Type the password you chose when you registered to keep it. Left empty, the account has no "
                "password until you set one: you sign in with e-mailed links."
            }
            button type="submit" { "Confirm my e-mail address" }
        }
    }
}

/// `POST /verify-email`: confirms the address and signs in. The first
/// proof ends every other session and keeps the password only when it was
/// typed here.
#[handler]
pub async fn verify(req: &Request, Data(form): Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let next = next_or(form.get("next"), "/albums");
    let password = form.get("password").filter(|p| !p.is_empty());
    let verification = state.engine.email_verification();
    match verification.confirm_and_sign_in(form.text("token"), password, state.session_ttl()).await {
        Ok(signed_in) => {
            let mut resp = see_other(&next);
            super::append_cookie(&mut resp, &super::session_cookie(state, &signed_in.token));
            visit.respond(state, resp)
        }
        Err(e) if e.is_not_found() => Page::new("Link not valid", &visit)
            .status(StatusCode::NOT_FOUND)
            .body(html! {
                p { "This link is not valid or has expired. Ask for a sign-in link: it confirms your address too." }
                p { a.button href={ "/signin?next=" (crate::urls::encode(&next)) } { "Sign in" } }
            })
            .render(state),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `GET /account`: the password and the sessions of the signed-in user.
#[handler]
pub async fn account_page(req: &Request, Query(q): Query<AccountQuery>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let notice = match q.sent.as_deref() {
        Some("password") => Some("Your password is saved. Every other session was signed out."),
        Some("signed_out") => Some("Every other session was signed out."),
        _ => None,
    };
    account(state, &visit, notice, None, StatusCode::OK).await
}

async fn account(
    state: &AppState,
    visit: &Visit,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let Some(user) = &visit.user else { return super::to_signin("/account") };
    let users = state.engine.users();
    let (has_password, sessions) =
        match tokio::try_join!(users.has_password(user.id), users.sessions(user, visit.token.as_deref())) {
            Ok(found) => found,
            Err(e) => return super::error_page(state, visit, e),
        };
    let others = sessions.iter().filter(|s| !s.current).count();
    Page::new("Your account", visit)
        .status(status)
        .body(html! {
            @if let Some(n) = notice { p.notice role="status" { (n) } }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            p { "Signed in as " strong { (user.email) } "." }
            section aria-labelledby="password-heading" {
                h2 #password-heading { @if has_password { "Change your password" } @else { "Set a password" } }
                @if !has_password {
                    p { "Your account has no password: you sign in with e-mailed links. Set one to sign in with it too." }
                }
                form.card method="post" action="/account/password" {
                    (csrf_field(visit))
                    @if has_password {
                        label for="current-password" { "Current password" }
                        input #current-password type="password" name="current_password" autocomplete="current-password" required;
                    }
                    label for="new-password" { "New password" }
                    input #new-password type="password" name="new_password" autocomplete="new-password" required minlength="8"
                        aria-describedby="new-password-hint";
                    p.hint #new-password-hint { "8 characters or more. Every other session is signed out." }
                    button type="submit" { @if has_password { "Change password" } @else { "Set password" } }
                }
            }
            section aria-labelledby="sessions-heading" {
                h2 #sessions-heading { "Where you are signed in" }
                ul.sessions {
                    @for s in &sessions {
                        li {
                            "Signed in " (super::layout::time(s.created_at))
                            @if s.current { " · " strong { "this browser" } }
                            " · ends " (super::layout::time(s.expires_at))
                        }
                    }
                }
                form method="post" action="/account/sessions/end" {
                    (csrf_field(visit))
                    button.secondary type="submit" disabled[others == 0] { "Sign out everywhere else" }
                }
            }
        })
        .render(state)
}

/// `POST /account/password`: changes or sets the password.
#[handler]
pub async fn change_password(
    req: &Request,
    Data(form): Data<&FormData>,
    Data(state): Data<&Arc<AppState>>,
) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(user) = &visit.user else { return super::to_signin("/account") };
    let current = form.get("current_password");
    let new = form.get("new_password").unwrap_or("");
    let msg = match auth::change_password(state, req, user, current, new, visit.token.as_deref()).await {
        Ok(PasswordChange::Done) => return visit.respond(state, see_other("/account?sent=password")),
        Ok(PasswordChange::Delayed(wait)) => {
            let msg = format!("Too many wrong passwords. Wait {wait} seconds and try again.");
            return account(state, &visit, None, Some(&msg), StatusCode::TOO_MANY_REQUESTS).await;
        }
        Err(e) => match e.code() {
            "wrong_password" => "That is not your current password.",
            "current_password_required" => "Type your current password.",
            "weak_password" => "A password has 8 to 256 characters.",
            _ => return super::error_page(state, &visit, e),
        },
    };
    account(state, &visit, None, Some(msg), StatusCode::UNPROCESSABLE_ENTITY).await
}

/// `POST /account/sessions/end`: "Sign out everywhere else".
#[handler]
pub async fn end_sessions(req: &Request, _checked: Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    let Some(user) = &visit.user else { return super::to_signin("/account") };
    match state.engine.users().sign_out_everywhere(user, visit.token.as_deref()).await {
        Ok(_) => visit.respond(state, see_other("/account?sent=signed_out")),
        Err(e) => super::error_page(state, &visit, e),
    }
}

/// `POST /signout`: ends the session.
#[handler]
pub async fn signout(req: &Request, _checked: Data<&FormData>, Data(state): Data<&Arc<AppState>>) -> Response {
    let visit = Visit::of(state, req).await;
    if let Some(token) = &visit.token
        && let Err(e) = state.engine.users().sign_out(token).await
    {
        return super::error_page(state, &visit, e);
    }
    let mut resp = see_other("/");
    super::append_cookie(&mut resp, &super::clear_session_cookie(state));
    visit.respond(state, resp)
}
