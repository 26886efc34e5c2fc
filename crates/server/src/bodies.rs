//! Request bodies held to what a request may cost before it is trusted.
//!
//! - [`MultipartGuard`] (every route): a `multipart/form-data` body is
//!   watched as it streams by. Its first boundary must come within
//!   [`MAX_PREAMBLE`] bytes, each part's headers must end within
//!   [`MAX_PART_HEADERS`] bytes of its boundary, and after the closing
//!   boundary at most [`MAX_EPILOGUE`] bytes may follow. The multipart
//!   parser keeps in memory everything it has not yet matched to a
//!   boundary or a header's end, so without these a body that never sends
//!   its boundary is held whole, as slowly as its sender likes. Parts
//!   themselves stream on (poem spools file parts to disk). A body that
//!   breaks a bound ends with a read error, which the parser answers 400.
//! - [`BodyGate`] (`POST /api/v1/albums/{id}/photos` and `.../find-me`):
//!   who is asking and whether they may use the album is settled before a
//!   byte of the body is read: a stranger's upload or a selfie for an
//!   album that is not searchable is refused at once, not after it was
//!   spooled.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::Stream;
use memchr::memmem;
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, http::Method};
use proofsheet_core::{AlbumId, Error};

use crate::{api::error::ApiError, state::AppState};

/// Bytes a multipart body may send before its first boundary (browsers and
/// HTTP libraries send none).
pub const MAX_PREAMBLE: usize = 4 * 1024;
/// Bytes of one part's headers (`Content-Disposition`, `Content-Type`).
pub const MAX_PART_HEADERS: usize = 8 * 1024;
/// Bytes after the closing boundary.
pub const MAX_EPILOGUE: usize = 4 * 1024;

/// Where the scan is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before the first boundary.
    Preamble,
    /// Just after a boundary: `--` ends the body, anything else starts a part.
    AfterBoundary,
    /// A part's headers, up to the empty line.
    Headers,
    /// A part's content, up to the next boundary.
    Content,
    /// After the closing boundary.
    Epilogue,
}

/// Follows a multipart body's structure with a few bytes of memory (the
/// tail that may hold half a delimiter), to bound what the parser buffers.
#[derive(Debug)]
pub struct Scanner {
    /// `--boundary`.
    delimiter: Vec<u8>,
    /// `\r\n--boundary`.
    part_end: Vec<u8>,
    phase: Phase,
    /// Bytes seen in this phase so far (those before `tail`).
    seen: usize,
    /// Bytes kept from the last chunk: a delimiter may straddle two.
    tail: Vec<u8>,
}

impl Scanner {
    /// A scanner for `boundary` (the `boundary` parameter of the
    /// `Content-Type`, without the leading dashes).
    pub fn new(boundary: &str) -> Scanner {
        let delimiter = [b"--".as_slice(), boundary.as_bytes()].concat();
        let part_end = [b"\r\n".as_slice(), &delimiter].concat();
        Scanner { delimiter, part_end, phase: Phase::Preamble, seen: 0, tail: Vec::new() }
    }

    /// Takes the next chunk; an error names the bound it broke.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), &'static str> {
        let mut data = std::mem::take(&mut self.tail);
        data.extend_from_slice(chunk);
        let mut pos = 0;
        loop {
            let rest = &data[pos..];
            let (pattern, bound, what): (&[u8], usize, &'static str) = match self.phase {
                Phase::Preamble => (&self.delimiter, MAX_PREAMBLE, "no multipart boundary where the body starts"),
                Phase::Headers => (b"\r\n\r\n", MAX_PART_HEADERS, "a multipart part's headers are too long"),
                Phase::Content => (&self.part_end, usize::MAX, ""),
                Phase::Epilogue => {
                    self.seen += rest.len();
                    return if self.seen > MAX_EPILOGUE { Err("too much after the closing boundary") } else { Ok(()) };
                }
                Phase::AfterBoundary => {
                    if rest.len() < 2 {
                        self.tail = rest.to_vec();
                        return Ok(());
                    }
                    self.phase = if rest.starts_with(b"--") { Phase::Epilogue } else { Phase::Headers };
                    self.seen = 0;
                    continue;
                }
            };
            match memmem::find(rest, pattern) {
                Some(i) => {
                    if self.seen + i > bound {
                        return Err(what);
                    }
                    pos += i + pattern.len();
                    self.seen = 0;
                    self.phase = match self.phase {
                        Phase::Headers => Phase::Content,
                        _ => Phase::AfterBoundary,
                    };
                }
                None => {
                    // Keep what could be the start of the pattern.
                    let keep = rest.len().min(pattern.len() - 1);
                    self.seen += rest.len() - keep;
                    if self.seen > bound {
                        return Err(what);
                    }
                    self.tail = rest[rest.len() - keep..].to_vec();
                    return Ok(());
                }
            }
        }
    }
}

/// The `boundary` parameter of a `multipart/*` content type: `None` for
/// another type, `Some(Err)` for a missing or malformed boundary.
pub fn multipart_boundary(content_type: &str) -> Option<Result<String, &'static str>> {
    let mut params = content_type.split(';');
    let essence = params.next()?.trim();
    if !essence.to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    let boundary = params.filter_map(|p| p.split_once('=')).find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"));
    let Some((_, value)) = boundary else { return Some(Err("a multipart body needs a boundary")) };
    let value = value.trim();
    let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    // RFC 2046: 1 to 70 characters.
    if value.is_empty() || value.len() > 70 || value.bytes().any(|b| b.is_ascii_control()) {
        return Some(Err("a multipart boundary has 1 to 70 characters"));
    }
    Some(Ok(value.to_owned()))
}

/// A body stream checked by a [`Scanner`]: it ends with an error at the
/// first broken bound, so the parser stops buffering there.
struct Guarded<S> {
    inner: S,
    scanner: Scanner,
    failed: bool,
    tripped: Arc<std::sync::atomic::AtomicBool>,
}

/// An answer given before the body was read to its end: the connection
/// closes after it (said in the answer, so a client does not send its next
/// request on a connection the server is closing).
fn closing(mut resp: Response) -> Response {
    resp.headers_mut().insert(poem::http::header::CONNECTION, poem::http::HeaderValue::from_static("close"));
    resp
}

impl<S> Stream for Guarded<S>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.scanner.feed(&chunk) {
                Ok(()) => Poll::Ready(Some(Ok(chunk))),
                Err(why) => {
                    self.failed = true;
                    self.tripped.store(true, std::sync::atomic::Ordering::Relaxed);
                    Poll::Ready(Some(Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why))))
                }
            },
            other => other,
        }
    }
}

/// See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct MultipartGuard;

impl<E: Endpoint> Middleware<E> for MultipartGuard {
    type Output = MultipartGuardEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        MultipartGuardEndpoint(ep)
    }
}

/// See [`MultipartGuard`].
pub struct MultipartGuardEndpoint<E>(E);

impl<E: Endpoint> Endpoint for MultipartGuardEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let content_type = req.content_type().map(str::to_owned);
        match content_type.as_deref().and_then(multipart_boundary) {
            None => {}
            Some(Err(why)) => {
                drop(req.take_body());
                return Ok(closing(ApiError::bad_request("invalid_multipart", why).into_response()));
            }
            Some(Ok(boundary)) => {
                let inner = req.take_body().into_bytes_stream();
                let tripped = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let scanner = Scanner::new(&boundary);
                let guarded = Guarded { inner: Box::pin(inner), scanner, failed: false, tripped: tripped.clone() };
                req.set_body(Body::from_bytes_stream(guarded));
                let resp = self.0.call(req).await.map(IntoResponse::into_response)?;
                return Ok(if tripped.load(std::sync::atomic::Ordering::Relaxed) { closing(resp) } else { resp });
            }
        }
        self.0.call(req).await.map(IntoResponse::into_response)
    }
}

/// See the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct BodyGate;

impl<E: Endpoint> Middleware<E> for BodyGate {
    type Output = BodyGateEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyGateEndpoint(ep)
    }
}

/// See [`BodyGate`].
pub struct BodyGateEndpoint<E>(E);

/// The requests whose album is checked before their body.
enum Gated {
    Upload(AlbumId),
    FindMe(AlbumId),
}

fn gated(method: &Method, path: &str) -> Option<Result<Gated, Error>> {
    if method != Method::POST {
        return None;
    }
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let (id, gate): (&str, fn(AlbumId) -> Gated) = match parts.as_slice() {
        ["", "api", "v1", "albums", id, "photos"] => (id, Gated::Upload),
        ["", "api", "v1", "albums", id, "find-me"] => (id, Gated::FindMe),
        _ => return None,
    };
    Some(id.parse::<AlbumId>().map(gate))
}

impl<E: Endpoint> Endpoint for BodyGateEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if let Some(gate) = gated(req.method(), req.uri().path()) {
            let state = req.data::<Arc<AppState>>().cloned().expect("state is attached to every route");
            if let Err(e) = check(&state, &req, gate).await {
                // Nothing of the body is read: the connection closes after
                // this answer if the client is still sending.
                drop(req.take_body());
                return Ok(closing(e.into_response()));
            }
        }
        self.0.call(req).await.map(IntoResponse::into_response)
    }
}

async fn check(state: &AppState, req: &Request, gate: Result<Gated, Error>) -> Result<(), ApiError> {
    let gate = gate?;
    let user = match crate::api::users::bearer_token(req) {
        Some(token) => Some(state.engine.users().authenticate(token).await?.ok_or_else(ApiError::unauthorized)?),
        None => None,
    };
    match gate {
        Gated::Upload(id) => {
            let user = user.ok_or_else(ApiError::unauthorized)?;
            state.engine.albums().get_owned(&user, id).await?;
        }
        Gated::FindMe(id) => state.engine.faces().check_searchable(user.as_ref(), id).await?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in parts {
            out.extend_from_slice(b"--XyZ\r\n");
            out.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes());
            out.extend_from_slice(data);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"--XyZ--\r\n");
        out
    }

    #[test]
    fn well_formed_bodies_pass_in_chunks_of_any_size() {
        let big = vec![b'-'; 100_000];
        let body = body(&[("file", b"abc"), ("file", &big), ("selfie", b"--XyZ nearly\r\n--Xy")]);
        for size in [1, 2, 3, 7, 64, 4096, body.len()] {
            let mut s = Scanner::new("XyZ");
            for chunk in body.chunks(size) {
                s.feed(chunk).unwrap_or_else(|e| panic!("chunks of {size}: {e}"));
            }
            assert_eq!(s.phase, Phase::Epilogue, "chunks of {size}");
        }
    }

    #[test]
    fn a_body_without_its_boundary_is_stopped_early() {
        let mut s = Scanner::new("XyZ");
        let mut sent = 0;
        let err = loop {
            match s.feed(&[b'a'; 100]) {
                Ok(()) => sent += 100,
                Err(e) => break e,
            }
            assert!(sent < 10_000, "still reading after {sent} bytes");
        };
        assert!(sent <= MAX_PREAMBLE + 100, "{sent}");
        assert!(err.contains("boundary"));
    }

    #[test]
    fn endless_part_headers_are_stopped() {
        let mut s = Scanner::new("XyZ");
        s.feed(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"\r\nX-Pad: ").unwrap();
        let err = (0..200).find_map(|_| s.feed(&[b'x'; 100]).err()).expect("stopped");
        assert!(err.contains("headers"));
        let mut after = Scanner::new("XyZ");
        after.feed(b"--XyZ--\r\n").unwrap();
        assert!((0..100).find_map(|_| after.feed(&[b'x'; 100]).err()).is_some(), "an endless epilogue");
    }

    #[test]
    fn boundaries_are_read_from_the_content_type() {
        assert_eq!(multipart_boundary("multipart/form-data; boundary=abc"), Some(Ok("abc".into())));
        assert_eq!(multipart_boundary("Multipart/Form-Data; charset=x; BOUNDARY=\"a b\""), Some(Ok("a b".into())));
        assert!(matches!(multipart_boundary("multipart/form-data"), Some(Err(_))));
        assert!(matches!(
            multipart_boundary(&format!("multipart/form-data; boundary={}", "x".repeat(71))),
            Some(Err(_))
        ));
        assert_eq!(multipart_boundary("image/jpeg"), None);
        assert_eq!(multipart_boundary("application/x-www-form-urlencoded"), None);
    }
}
