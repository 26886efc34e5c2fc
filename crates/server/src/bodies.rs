//! Request bodies held to what a request may cost before it is trusted.
//!
//! - [`MultipartGuard`] (every route): a `multipart/form-data` body is
//!   watched as it streams by ([`proofsheet_core::multipart`]): its first
//!   boundary must come within 4 KiB, each part's headers must end within
//!   8 KiB of its boundary, and after the closing boundary at most 4 KiB
//!   may follow. The multipart
//!   parser keeps in memory everything it has not yet matched to a
//!   boundary or a header's end, so without these a body that never sends
//!   its boundary is held whole, as slowly as its sender likes. Parts
//!   themselves stream on (poem spools file parts to disk). A body that
//!   breaks a bound ends with a read error, which the parser answers 400.
//! - [`BodyGate`] (declared by `POST /api/v1/albums/{id}/photos` and
//!   `.../find-me`):
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
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response};
use proofsheet_core::{
    AlbumId,
    multipart::{Scanner, multipart_boundary},
};

use crate::{api::error::ApiError, state::AppState};

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

/// Who may send the body of an upload or a selfie, settled before a byte
/// of it is read: the route's album (its `album_id`) is checked for the
/// caller. See the module docs.
#[derive(Debug, Clone, Copy)]
pub enum BodyGate {
    /// `POST /api/v1/albums/{album_id}/photos`: the album's owner only.
    Upload,
    /// `POST /api/v1/albums/{album_id}/find-me`: whoever may search the
    /// album's photos.
    FindMe,
}

impl<E: Endpoint> Middleware<E> for BodyGate {
    type Output = BodyGateEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyGateEndpoint { inner: ep, gate: *self }
    }
}

/// See [`BodyGate`].
pub struct BodyGateEndpoint<E> {
    inner: E,
    gate: BodyGate,
}

impl<E: Endpoint> Endpoint for BodyGateEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let state = req.data::<Arc<AppState>>().cloned().expect("state is attached to every route");
        if let Err(e) = check(&state, &req, self.gate).await {
            // Nothing of the body is read: the connection closes after
            // this answer if the client is still sending.
            drop(req.take_body());
            return Ok(closing(e.into_response()));
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}

async fn check(state: &AppState, req: &Request, gate: BodyGate) -> Result<(), ApiError> {
    let id: AlbumId = crate::credentials::album_in_path(req).unwrap_or_default().parse()?;
    let user = match crate::credentials::bearer_token(req) {
        Some(token) => Some(state.engine.users().authenticate(token).await?.ok_or_else(ApiError::unauthorized)?),
        None => None,
    };
    match gate {
        BodyGate::Upload => {
            let user = user.ok_or_else(ApiError::unauthorized)?;
            state.engine.albums().get_owned(&user, id).await?;
        }
        BodyGate::FindMe => state.engine.faces().check_searchable(user.as_ref(), id).await?,
    }
    Ok(())
}
