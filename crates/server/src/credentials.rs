//! Where a request carries who is asking (the bearer header and the web
//! app's session cookie) and what it asks about before its handler parses
//! it (the album in its path). Read here only, by authentication, the
//! CSRF check, the rate limits and the body gate alike.

use poem::{Request, http::header};

/// The web app's session cookie (its value is a session token, the same
/// kind the API takes as a bearer).
pub const SESSION_COOKIE: &str = "ps_session";

/// A cookie's value from the request.
pub fn cookie<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|line| {
        line.split(';').filter_map(|kv| kv.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
    })
}

/// The bearer token of a request (`Authorization: Bearer …`, the scheme's
/// name in any case), trimmed.
pub fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty())
}

/// The session a request speaks for: its bearer token, or else the web
/// app's session cookie (unchecked: this says which session is claimed,
/// not that it is valid).
pub fn claimed_session(req: &Request) -> Option<&str> {
    bearer_token(req).or_else(|| cookie(req, SESSION_COOKIE).filter(|t| !t.is_empty()))
}

/// The album a `/api/v1/albums/{album_id}/...` request is about, read
/// from the path before the operation parses its parameters (poem-openapi
/// renames path parameters by position, so the name `album_id` is not
/// there to ask for).
pub fn album_in_path(req: &Request) -> Option<&str> {
    let mut segments = req.uri().path().strip_prefix("/api/v1/albums/")?.split('/');
    segments.next().filter(|id| !id.is_empty())
}
