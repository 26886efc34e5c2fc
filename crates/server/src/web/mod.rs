//! The web app of `docs/web.md`: a studio for photographers and a gallery
//! that sells, server-rendered HTML (maud, checked at compile time) with a
//! little JavaScript of our own for what needs it (upload progress, live
//! status, the lightbox, the selection). Every rule is the core's: these
//! handlers call the same services as the REST API.
//!
//! Browser sessions are the API's sessions: the `ps_session` cookie holds a
//! session token (`HttpOnly`, `SameSite=Lax`, `Secure` when
//! `server.public_url` is https). Every state-changing form carries a CSRF
//! token, an HMAC of the `ps_csrf` cookie (`__Host-ps_csrf` behind https)
//! and the session cookie under a key derived from the server secret,
//! checked before any handler runs ([`CsrfForms`]); the page's script sends the same token in an
//! `X-CSRF-Token` header when it calls the API with the session cookie (see
//! [`CookieAuth`]). The Content-Security-Policy allows no inline script or
//! style.

mod account;
mod albums;
pub mod assets;
mod layout;
mod orders;
mod sales;
mod settings;

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use poem::{
    Endpoint, EndpointExt, IntoResponse, Middleware, Request, Response, Route, get,
    http::{HeaderValue, Method, StatusCode, header},
    post,
};
use proofsheet_core::User;
use rand::RngCore;
use sha2::Sha256;

use crate::{
    limits::{Class, Limited},
    state::AppState,
};

pub use crate::credentials::{SESSION_COOKIE, cookie};
pub use layout::Page;
pub use orders::status_words;

/// The CSRF cookie (its HMAC, with the session, is the token forms carry).
pub const CSRF_COOKIE: &str = "ps_csrf";
/// The CSRF cookie's name behind https: the `__Host-` prefix makes the
/// browser refuse it from a sibling domain or over plain http.
pub const CSRF_COOKIE_HTTPS: &str = "__Host-ps_csrf";

/// The CSRF cookie's name for this deployment.
pub fn csrf_cookie_name(state: &AppState) -> &'static str {
    if state.public_url.starts_with("https://") { CSRF_COOKIE_HTTPS } else { CSRF_COOKIE }
}
/// The form field and header carrying the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The Content-Security-Policy of every page: scripts and styles only from
/// this server's files, never inline.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
                       connect-src 'self'; form-action 'self' https:; base-uri 'none'; frame-ancestors 'none'";

/// Adds the web app's pages to `route`, each with the page headers (the
/// strict Content-Security-Policy and the rest).
/// The web app's routes. A form that spends declares its rate-limit
/// class here, the same class as the API operation it mirrors.
pub fn routes(route: Route) -> Route {
    fn page<E: Endpoint + 'static>(ep: E) -> poem::endpoint::BoxEndpoint<'static, Response> {
        ep.with(CsrfForms)
            .with(
                poem::middleware::SetHeader::new()
                    .overriding("Content-Security-Policy", CSP)
                    .overriding("X-Frame-Options", "DENY")
                    .overriding("Referrer-Policy", "same-origin"),
            )
            .map_to_response()
            .boxed()
    }
    route
        .at("/", page(get(account::home)))
        .at("/signin", page(get(account::signin_page).post(account::signin.with(Limited(Class::SignIn)))))
        .at("/signin/email-link", page(post(account::email_link.with(Limited(Class::EmailLink)))))
        .at("/signin/link", page(get(account::link_page).post(account::link_sign_in.with(Limited(Class::SignIn)))))
        .at("/invitations/:token", page(get(account::invitation.with(Limited(Class::SignIn)))))
        .at("/register", page(get(account::register_page).post(account::register.with(Limited(Class::Register)))))
        .at("/signout", page(post(account::signout)))
        .at("/verify-email", page(get(account::verify_page).post(account::verify)))
        .at("/account", page(get(account::account_page)))
        .at("/account/password", page(post(account::change_password.with(Limited(Class::SignIn)))))
        .at("/account/sessions/end", page(post(account::end_sessions)))
        .at("/albums", page(get(albums::list).post(albums::create)))
        .at("/albums/new", page(get(albums::new_page)))
        .at("/albums/:id", page(get(albums::album_page)))
        .at("/albums/:id/settings", page(post(albums::save_settings)))
        .at("/albums/:id/share", page(post(albums::share)))
        .at("/albums/:id/delete", page(post(albums::delete)))
        .at("/albums/:id/publish", page(post(albums::publish)))
        .at("/albums/:id/photos", page(post(albums::photo_actions)))
        .at("/albums/:id/cart", page(get(albums::cart)))
        .at("/albums/:id/tiles", page(get(albums::tiles)))
        .at("/albums/:id/checkout", page(post(albums::checkout.with(Limited(Class::Order)))))
        .at("/orders", page(get(orders::list)))
        .at("/orders/:id", page(get(orders::order_page)))
        .at("/orders/:id/pay", page(post(orders::pay.with(Limited(Class::Checkout)))))
        .at("/orders/:id/fresh-link", page(post(orders::fresh_link)))
        .at("/orders/:id/:how", page(get(orders::returned)))
        .at("/sales", page(get(sales::sales_page)))
        .at("/settings", page(get(settings::settings).post(settings::save)))
        .at("/privacy/find-me", page(get(albums::find_me_privacy)))
        .at("/assets/:name", page(get(assets::serve)))
        .at("/accent/:file", page(get(assets::accent)))
}

/// What a page knows about its caller: who is signed in (and with which
/// session token), and the CSRF token its forms carry.
pub struct Visit {
    /// The signed-in user.
    pub user: Option<User>,
    /// The session token, when signed in.
    pub token: Option<String>,
    /// The CSRF cookie's value (new when `set_csrf`).
    csrf_cookie: String,
    /// Whether the CSRF cookie must be set on the response.
    set_csrf: bool,
    /// Whether a stale session cookie must be cleared.
    clear_session: bool,
    /// The CSRF token for forms.
    pub csrf: String,
}

/// The CSRF token for a CSRF cookie value and the session cookie's value
/// (empty when signed out): bound to both, so a token taken from one
/// session is worthless in another, and signing in or out changes it.
pub fn csrf_token(state: &AppState, cookie: &str, session: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&state.web_key).expect("any key length");
    mac.update(b"csrf:");
    mac.update(cookie.as_bytes());
    mac.update(b"\0session:");
    mac.update(session.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Whether `given` is the CSRF token of the request's CSRF cookie and
/// session cookie.
pub fn csrf_ok(state: &AppState, req: &Request, given: Option<&str>) -> bool {
    let (Some(cookie), Some(given)) = (cookie(req, csrf_cookie_name(state)), given) else { return false };
    let expected = csrf_token(state, cookie, self::cookie(req, SESSION_COOKIE).unwrap_or(""));
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into()
}

impl Visit {
    /// Reads the caller's cookies (and checks the session).
    pub async fn of(state: &AppState, req: &Request) -> Visit {
        let (csrf_cookie, set_csrf) = match cookie(req, csrf_cookie_name(state)).filter(|c| c.len() == 43) {
            Some(c) => (c.to_owned(), false),
            None => {
                let mut raw = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut raw);
                (URL_SAFE_NO_PAD.encode(raw), true)
            }
        };
        let token = cookie(req, SESSION_COOKIE).filter(|t| !t.is_empty() && t.len() <= 128).map(str::to_owned);
        let user = match &token {
            Some(t) => state.engine.users().authenticate(t).await.ok().flatten(),
            None => None,
        };
        let clear_session = cookie(req, SESSION_COOKIE).is_some() && user.is_none();
        let token = token.filter(|_| user.is_some());
        // Bound to the session the next request will carry: this one's, or
        // none when a stale cookie is cleared with this response.
        let csrf = csrf_token(state, &csrf_cookie, token.as_deref().unwrap_or(""));
        Visit { user, token, csrf_cookie, set_csrf, clear_session, csrf }
    }

    /// The cookies this visit must set on its response.
    pub fn respond(&self, state: &AppState, mut resp: Response) -> Response {
        let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" };
        if self.set_csrf {
            let name = csrf_cookie_name(state);
            let c = format!("{name}={}; Path=/; HttpOnly; SameSite=Lax{secure}", self.csrf_cookie);
            append_cookie(&mut resp, &c);
        }
        if self.clear_session {
            append_cookie(&mut resp, &clear_session_cookie(state));
        }
        resp
    }
}

/// The `Set-Cookie` value of a new session.
pub fn session_cookie(state: &AppState, token: &str) -> String {
    let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" };
    let max_age = state.session_ttl().num_seconds();
    format!("{SESSION_COOKIE}={token}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_session_cookie(state: &AppState) -> String {
    let secure = if state.public_url.starts_with("https://") { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}")
}

/// Adds a `Set-Cookie` header.
pub fn append_cookie(resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The words of a `?notice=` code. Notices come from this fixed list, so a
/// link cannot put someone else's words in the site's status box; an
/// unknown code shows nothing.
pub fn notice_text(code: &str) -> Option<&'static str> {
    Some(match code {
        "saved" => "Saved.",
        "invitation_sent" => "Invitation sent.",
        "invitation_not_sent" => {
            "No invitation sent: no client e-mail, or today's invitations for this album or address are used up."
        }
        "photo_deleted" => "Photo deleted.",
        "photos_deleted" => "The selected photos are deleted.",
        "moved" => "Moved.",
        "cover_set" => "The gallery opens on that photo now.",
        "published" => "Published: the album's link works for your client now.",
        "published_invited" => "Published, and the invitation is on its way.",
        "fresh_link" => "A fresh link is ready.",
        _ => return None,
    })
}

/// A 303 to `to`.
pub fn see_other(to: &str) -> Response {
    Response::builder().status(StatusCode::SEE_OTHER).header(header::LOCATION, to).finish()
}

/// A posted form's fields, in order (repeated names allowed). Handlers
/// take it as `Data<&FormData>`: [`CsrfForms`] puts it there once the
/// form's CSRF token checked out.
#[derive(Debug, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Reads an `application/x-www-form-urlencoded` body.
    fn parse(bytes: &[u8]) -> FormData {
        FormData(form_urlencoded::parse(bytes).into_owned().collect())
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of a field, trimmed, or "".
    pub fn text(&self, name: &str) -> &str {
        self.get(name).map(str::trim).unwrap_or("")
    }

    /// Every value of a field.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A page that refuses a form without the right CSRF token.
pub fn forbidden_csrf(state: &AppState, visit: &Visit) -> Response {
    let page = Page::new("Form expired", visit).status(StatusCode::FORBIDDEN).body(maud::html! {
        p { "This form was out of date or did not come from this site, so nothing was changed." }
        p { a href="/" { "Start again" } }
    });
    page.render(state)
}

/// Where a page sends someone who must sign in first.
pub fn to_signin(next: &str) -> Response {
    see_other(&format!("/signin?next={}", crate::urls::encode(next)))
}

/// Every state-changing form of the web app must carry the CSRF token:
/// a `POST` to a page is read here (bodies are bounded by `limits.body_bytes`)
/// and refused with the "Form expired" page (403) when its `csrf` field is
/// not the token of the browser's CSRF cookie; otherwise the parsed form
/// goes to the handler as request data (`Data<&FormData>`), so a handler
/// cannot see a form this check did not pass. Handlers whose form has only
/// the token take it too (`_checked`), so they cannot run without the check.
pub struct CsrfForms;

impl<E: Endpoint> Middleware<E> for CsrfForms {
    type Output = CsrfFormsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CsrfFormsEndpoint(ep)
    }
}

/// See [`CsrfForms`].
pub struct CsrfFormsEndpoint<E>(E);

impl<E: Endpoint> Endpoint for CsrfFormsEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if req.method() == Method::POST {
            let state = req.data::<Arc<AppState>>().cloned().expect("state is attached to every route");
            let bytes = req.take_body().into_bytes().await.unwrap_or_default();
            let form = FormData::parse(&bytes);
            if !csrf_ok(&state, &req, form.get(CSRF_FIELD)) {
                let visit = Visit::of(&state, &req).await;
                return Ok(forbidden_csrf(&state, &visit));
            }
            req.extensions_mut().insert(form);
        }
        self.0.call(req).await.map(IntoResponse::into_response)
    }
}

/// Lets the page's script call the API with the session cookie: a request
/// to `/api/v1/...` with no `Authorization` header but a `ps_session`
/// cookie is given that session as its bearer token, for reads always and
/// for changes only with the right `X-CSRF-Token` header (which no other
/// site can send). Everything else is untouched.
pub struct CookieAuth;

impl<E: Endpoint> Middleware<E> for CookieAuth {
    type Output = CookieAuthEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        CookieAuthEndpoint(ep)
    }
}

/// See [`CookieAuth`].
pub struct CookieAuthEndpoint<E>(E);

impl<E: Endpoint> Endpoint for CookieAuthEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if req.uri().path().starts_with("/api/v1/") && !req.headers().contains_key(header::AUTHORIZATION) {
            let safe = matches!(*req.method(), Method::GET | Method::HEAD);
            let token = cookie(&req, SESSION_COOKIE).map(str::to_owned);
            if let Some(token) = token.filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic())) {
                let allowed = safe || {
                    let state = req.data::<Arc<AppState>>().cloned();
                    let given = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_owned);
                    state.is_some_and(|s| csrf_ok(&s, &req, given.as_deref()))
                };
                if allowed && let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
                    req.headers_mut().insert(header::AUTHORIZATION, v);
                }
            }
        }
        self.0.call(req).await.map(IntoResponse::into_response)
    }
}

/// The status an error from the core answers with: the API's mapping,
/// which also logs server-side failures.
pub fn status_of(e: proofsheet_core::Error) -> StatusCode {
    crate::api::error::ApiError::from(e).into_response().status()
}

/// An error from the core as a page.
pub fn error_page(state: &AppState, visit: &Visit, e: proofsheet_core::Error) -> Response {
    let message = e.to_string();
    let status = status_of(e);
    let (title, text) = match status {
        StatusCode::NOT_FOUND => ("Not found", "There is nothing here, or it is not yours to see.".to_owned()),
        StatusCode::FORBIDDEN => ("Not allowed", message),
        s if s.is_server_error() => ("Something went wrong", "Please try again in a moment.".to_owned()),
        _ => ("That did not work", message),
    };
    Page::new(title, visit)
        .status(status)
        .body(maud::html! {
            p { (text) }
            p { a href="/" { "Back to the start" } }
        })
        .render(state)
}
