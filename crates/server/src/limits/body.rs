//! Request body limits, enforced on the body stream itself, before a
//! handler (or poem's multipart spooling) can hold more of it. The answer
//! is 413 with the code of the route's [`BodyClass`].
//!
//! A route that takes more (or less) than `limits.body_bytes` declares its
//! class where it is defined, with the [`Sized`] middleware. The outer
//! [`BodyLimit`] counts every body against the class its route declared by
//! the time the body is read:
//! - a `Content-Length` over the largest class of all is refused before
//!   routing;
//! - a `Content-Length` over the route's class is refused by [`Sized`]
//!   before the handler runs, or, on a route with the default class, at
//!   the first read of the body;
//! - a body without one (chunked) is cut off at the limit.
//!
//! A refused body is still read a little in the background and dropped, so
//! a client that is still sending reads the 413 instead of a reset
//! connection; a huge body is cut off after [`DRAIN_LIMIT`] bytes.

use std::{
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
};

use bytes::Bytes;
use futures::{Stream, stream::BoxStream};
use poem::{Body, Endpoint, IntoResponse, Middleware, Request, Response, http::header};

/// How much of a refused body is still read and thrown away, so the client
/// (which is usually still sending) gets to read our 413 instead of a reset
/// connection.
pub const DRAIN_LIMIT: u64 = 16 * 1024 * 1024;

/// The largest selfie, in bytes (a phone's camera photo fits; larger is
/// 413 `selfie_too_large`).
pub const MAX_SELFIE_BYTES: usize = 15 * 1024 * 1024;

/// How large a route's request body may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyClass {
    /// `limits.body_bytes`, 413 `body_too_large`: every route that does
    /// not declare another.
    Default,
    /// `uploads.max_bytes` plus 1 MiB for multipart headers, 413
    /// `upload_too_large` (the code the upload handler answers too).
    Upload,
    /// `limits.webhook_body_bytes`, 413 `body_too_large`.
    Webhook,
    /// [`proofsheet_core::MAX_LOGO_BYTES`], 413 `logo_too_large`.
    Logo,
    /// [`MAX_SELFIE_BYTES`] plus 64 KiB for multipart headers, 413
    /// `selfie_too_large`.
    Selfie,
    /// An album's photo order: 1 MiB (room for 10,000 ids), 413
    /// `body_too_large`.
    PhotoOrder,
}

/// The configured sizes behind the classes, and the middleware that holds
/// every body to its route's class.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    /// [`BodyClass::Default`].
    pub default: u64,
    /// [`BodyClass::Webhook`].
    pub webhook: u64,
    /// [`BodyClass::Upload`].
    pub upload: u64,
}

impl BodyLimit {
    /// The limit of a class, and the code its 413 carries.
    fn of(&self, class: BodyClass) -> (u64, &'static str) {
        match class {
            BodyClass::Default => (self.default, "body_too_large"),
            BodyClass::Upload => (self.upload, "upload_too_large"),
            BodyClass::Webhook => (self.webhook, "body_too_large"),
            BodyClass::Logo => (proofsheet_core::MAX_LOGO_BYTES as u64, "logo_too_large"),
            BodyClass::Selfie => (MAX_SELFIE_BYTES as u64 + 64 * 1024, "selfie_too_large"),
            BodyClass::PhotoOrder => (1024 * 1024, "body_too_large"),
        }
    }

    /// The largest any route takes.
    fn largest(&self) -> (u64, &'static str) {
        [BodyClass::Default, BodyClass::Upload, BodyClass::Webhook, BodyClass::Logo, BodyClass::Selfie]
            .map(|c| self.of(c))
            .into_iter()
            .max_by_key(|(limit, _)| *limit)
            .expect("classes exist")
    }
}

/// One request's body budget, shared by [`BodyLimit`] (which counts) and
/// the route's [`Sized`] (which sets the class).
#[derive(Clone)]
struct Budget {
    sizes: BodyLimit,
    class: Arc<Mutex<BodyClass>>,
    /// The limit and code of a refusal, once the body broke its limit.
    refused: Arc<Mutex<Option<(u64, &'static str)>>>,
}

impl Budget {
    fn limit(&self) -> (u64, &'static str) {
        self.sizes.of(*self.class.lock().unwrap())
    }

    fn refuse(&self) {
        *self.refused.lock().unwrap() = Some(self.limit());
    }
}

/// `413 upload_too_large` when the request's `Content-Length` says an
/// upload's file is over `max` bytes, before a byte is read. The upload
/// class's own limit ([`BodyClass::Upload`]) leaves room for multipart
/// headers, so a raw upload (the file is the whole body) is held to the
/// file's limit here; a body without a length is cut off on the stream
/// by core's upload instead.
pub fn upload_declared_too_large(req: &Request, max: u64) -> Option<crate::api::error::ApiError> {
    declared_length(req).is_some_and(|n| n > max).then(|| {
        crate::api::error::ApiError::too_large("upload_too_large", format!("an upload may be at most {max} bytes"))
    })
}

fn declared_length(req: &Request) -> Option<u64> {
    req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

fn body_too_large(limit: u64, code: &'static str) -> Response {
    let error = proofsheet_core::Error::TooLarge {
        code,
        message: format!("the request body is larger than this route takes ({limit} bytes)"),
    };
    crate::api::error::ApiError::from(error).into_response()
}

/// Reads a refused body on in the background, up to [`DRAIN_LIMIT`].
fn drain(body: BoxStream<'static, Result<Bytes, std::io::Error>>) {
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn(async move {
            let mut body = body;
            let mut read = 0u64;
            while let Some(Ok(chunk)) = futures::StreamExt::next(&mut body).await {
                read += chunk.len() as u64;
                if read > DRAIN_LIMIT {
                    break;
                }
            }
        });
    }
}

/// The body as the handler reads it: counted against the budget's class
/// at each chunk, and its `Content-Length` checked at the first read.
struct Counted {
    inner: Option<BoxStream<'static, Result<Bytes, std::io::Error>>>,
    budget: Budget,
    /// The declared `Content-Length`, until the first read checks it.
    declared: Option<u64>,
    seen: u64,
    drain_on_drop: bool,
}

impl Counted {
    fn over(&mut self, drain: bool) -> Poll<Option<Result<Bytes, std::io::Error>>> {
        self.budget.refuse();
        self.drain_on_drop = drain;
        if !drain {
            self.inner = None;
        }
        Poll::Ready(Some(Err(std::io::Error::other("request body over its limit"))))
    }
}

impl Stream for Counted {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.drain_on_drop || self.inner.is_none() {
            return Poll::Ready(None);
        }
        let (limit, _) = self.budget.limit();
        if self.declared.take().is_some_and(|n| n > limit) {
            return self.over(true);
        }
        let polled = Pin::new(self.inner.as_mut().expect("checked above")).poll_next(cx);
        match polled {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen = self.seen.saturating_add(chunk.len() as u64);
                if self.seen > limit { self.over(false) } else { Poll::Ready(Some(Ok(chunk))) }
            }
            other => other,
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.drain_on_drop
            && let Some(body) = self.inner.take()
        {
            drain(body);
        }
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        BodyLimitEndpoint { inner: ep, sizes: *self }
    }
}

/// See [`BodyLimit`].
pub struct BodyLimitEndpoint<E> {
    inner: E,
    sizes: BodyLimit,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let declared = declared_length(&req);
        let (largest, code) = self.sizes.largest();
        if declared.is_some_and(|n| n > largest) {
            drain(Box::pin(req.take_body().into_bytes_stream()));
            return Ok(body_too_large(largest, code));
        }
        let budget = Budget {
            sizes: self.sizes,
            class: Arc::new(Mutex::new(BodyClass::Default)),
            refused: Arc::new(Mutex::new(None)),
        };
        let inner = Box::pin(req.take_body().into_bytes_stream());
        let counted = Counted { inner: Some(inner), budget: budget.clone(), declared, seen: 0, drain_on_drop: false };
        req.set_body(Body::from_bytes_stream(counted));
        req.set_data(budget.clone());
        let resp = self.inner.call(req).await.map(IntoResponse::into_response);
        if let Some((limit, code)) = *budget.refused.lock().unwrap() {
            return Ok(body_too_large(limit, code));
        }
        resp
    }
}

/// The middleware a route that takes other than the default body is
/// wrapped in: it sets the class and refuses a declared `Content-Length`
/// over it before the route's handler runs.
#[derive(Debug, Clone, Copy)]
pub struct Sized(pub BodyClass);

impl<E: Endpoint> Middleware<E> for Sized {
    type Output = SizedEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        SizedEndpoint { inner: ep, class: self.0 }
    }
}

/// See [`Sized`].
pub struct SizedEndpoint<E> {
    inner: E,
    class: BodyClass,
}

impl<E: Endpoint> Endpoint for SizedEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        if let Some(budget) = req.data::<Budget>().cloned() {
            *budget.class.lock().unwrap() = self.class;
            if declared_length(&req).is_some_and(|n| n > budget.limit().0) {
                // Read at once: the stream sees the declared length over
                // its limit, records the refusal and drains the rest.
                let mut body = req.take_body().into_bytes_stream();
                let _ = futures::StreamExt::next(&mut body).await;
                let (limit, code) = budget.limit();
                return Ok(body_too_large(limit, code));
            }
        }
        self.inner.call(req).await.map(IntoResponse::into_response)
    }
}
