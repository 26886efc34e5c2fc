//! Orders, checkout, gateway webhooks and downloads.

use std::{ops::Range, sync::Arc};

use poem::{Body, Request};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::{Binary, Json},
};
use proofsheet_core::{AlbumId, Error, IdempotencyKey, Order, OrderId, PageRequest, PhotoId, User};
use sha2::{Digest, Sha256};

use super::guards::{checking_out, downloading, ordering, webhook_sized};
use super::{ApiTags, error::ApiError, model::*};
use crate::{auth::BearerAuth, state::AppState};

/// Orders, payments and downloads.
pub struct OrdersApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum OrderCreated {
    /// Created (or the first reply to the same `Idempotency-Key`).
    #[oai(status = 201)]
    Created(Json<OrderDto>),
}

#[derive(ApiResponse)]
enum CheckoutStarted {
    /// Send the buyer to `checkout_url`.
    #[oai(status = 201)]
    Created(Json<CheckoutDto>),
}

#[derive(ApiResponse)]
enum FreshLink {
    /// A new link to the stored zip.
    #[oai(status = 201)]
    Created(Json<DownloadDto>),
    /// The zip is being rebuilt; the link will show on the order.
    #[oai(status = 202)]
    Preparing(Json<serde_json::Value>),
}

#[derive(ApiResponse)]
enum WebhookReply {
    /// Verified and accepted (repeats included).
    #[oai(status = 200)]
    Accepted(Json<serde_json::Value>),
}

/// One bought photo: its original, whole or a range.
#[derive(ApiResponse)]
enum FileDownload {
    /// A JPEG original.
    #[oai(status = 200, content_type = "image/jpeg")]
    Jpeg(
        Binary<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Accept-Ranges")] String,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// A PNG original.
    #[oai(status = 200, content_type = "image/png")]
    Png(
        Binary<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Accept-Ranges")] String,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// A range of a JPEG original.
    #[oai(status = 206, content_type = "image/jpeg")]
    PartialJpeg(
        Binary<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Content-Range")] String,
        #[oai(header = "Accept-Ranges")] String,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// A range of a PNG original.
    #[oai(status = 206, content_type = "image/png")]
    PartialPng(
        Binary<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Content-Range")] String,
        #[oai(header = "Accept-Ranges")] String,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// The range is outside the file.
    #[oai(status = 416)]
    Unsatisfiable(Json<super::error::ErrorBody>, #[oai(header = "Content-Range")] String),
}

/// Zips and their redirects are private to their buyer: no cache keeps them.
const NO_STORE: &str = "no-store";

#[derive(ApiResponse)]
enum Download {
    /// The whole zip. `Cache-Control: no-store`: a bought zip is never kept
    /// by a shared cache or proxy.
    #[oai(status = 200, content_type = "application/zip")]
    Full(
        Binary<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Accept-Ranges")] String,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// The requested range.
    #[oai(status = 206, content_type = "application/zip")]
    Partial(
        Binary<Body>,
        #[oai(header = "Content-Length")] u64,
        #[oai(header = "Content-Range")] String,
        #[oai(header = "Accept-Ranges")] String,
        #[oai(header = "Content-Disposition")] String,
        #[oai(header = "Cache-Control")] String,
    ),
    /// With `storage.presign`: fetch the zip from the object store at
    /// `Location` (valid for `storage.presign_seconds`; ranges work there too).
    #[oai(status = 307)]
    Redirect(#[oai(header = "Location")] String, #[oai(header = "Cache-Control")] String),
    /// The range is outside the file.
    #[oai(status = 416)]
    Unsatisfiable(Json<super::error::ErrorBody>, #[oai(header = "Content-Range")] String),
}

/// Parses a single-range `Range: bytes=...` header. `Ok(None)`: serve it
/// all (no header, or several ranges, which RFC 9110 lets us ignore);
/// `Err(())`: unsatisfiable.
fn parse_range(header: Option<&str>, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() { size } else { b.parse::<u64>().map_err(|_| ())?.saturating_add(1).min(size) };
        if start >= size || end <= start {
            return Err(());
        }
        start..end
    };
    Ok(Some(range))
}

impl OrdersApi {
    async fn order_dto(&self, user: &User, order: Order) -> Result<OrderDto, Error> {
        let download = if order.buyer_id == user.id {
            self.state
                .engine
                .downloads()
                .link(&order)
                .await?
                .map(|l| DownloadDto::new(&self.state.public_url, &l.token, l.expires_at, &order))
        } else {
            None
        };
        Ok(OrderDto::new(order, download))
    }
}

fn zip_body(stream: proofsheet_core::ByteStream) -> Body {
    use futures::TryStreamExt;
    let counted = stream.inspect_ok(|chunk| proofsheet_core::metrics::downloaded(chunk.len() as u64));
    Body::from_bytes_stream(counted.map_err(|e| std::io::Error::other(e.to_string())))
}

fn hash_json<T: serde::Serialize>(v: &T) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(v).unwrap_or_default()).into()
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl OrdersApi {
    /// Order photos of one album (clients). Honours `Idempotency-Key`.
    #[oai(path = "/orders", method = "post", transform = "ordering")]
    async fn create_order(
        &self,
        auth: BearerAuth,
        #[oai(name = "Idempotency-Key")] key: Header<Option<String>>,
        body: Json<CreateOrderRequest>,
    ) -> Result<OrderCreated, ApiError> {
        let user = &auth.0;
        let hash = hash_json(&body.0);
        let engine = &self.state.engine;
        let key = key.0.map(|key| IdempotencyKey { scope: "POST /orders".into(), key, request_hash: hash });
        if let Some(k) = &key
            && let Some(order_id) = engine.checkout().replay(user, k).await?
        {
            let order = engine.checkout().order(user, order_id.parse()?).await?;
            return Ok(OrderCreated::Created(Json(self.order_dto(user, order).await?)));
        }
        let album: AlbumId = body.album_id.parse().map_err(|_| Error::not_found("album"))?;
        let photos = body
            .photo_ids
            .iter()
            .map(|p| {
                p.parse::<PhotoId>().map_err(|_| Error::invalid("unknown_photo", format!("{p:?} is not a photo id")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        // The key is reserved in the order's own transaction: concurrent
        // requests with one key make one order and all answer it.
        let order = engine.checkout().create_order_once(user, album, &photos, key.as_ref()).await?;
        Ok(OrderCreated::Created(Json(self.order_dto(user, order).await?)))
    }

    /// The caller's orders: a client's purchases, a photographer's sales.
    #[oai(path = "/orders", method = "get")]
    async fn list_orders(
        &self,
        auth: BearerAuth,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> Result<Json<OrderPage>, ApiError> {
        let page = PageRequest::new(limit.0, cursor.0.as_deref())?;
        let page = self.state.engine.checkout().orders(&auth.0, page).await?;
        let next_cursor = page.next_cursor.clone();
        let mut items = Vec::with_capacity(page.items.len());
        for o in page.items {
            items.push(self.order_dto(&auth.0, o).await?);
        }
        Ok(Json(OrderPage { items, next_cursor }))
    }

    /// One order (buyer or album owner); when fulfilled, the buyer sees `download`.
    #[oai(path = "/orders/:order_id", method = "get")]
    async fn get_order(&self, auth: BearerAuth, order_id: Path<String>) -> Result<Json<OrderDto>, ApiError> {
        let id: OrderId = order_id.0.parse()?;
        let order = self.state.engine.checkout().order(&auth.0, id).await?;
        Ok(Json(self.order_dto(&auth.0, order).await?))
    }

    /// Start paying (buyer): returns where to pay. The JSON body is optional:
    /// `{"gateway": "test"}`. Honours `Idempotency-Key`.
    #[oai(path = "/orders/:order_id/checkout", method = "post", transform = "checking_out")]
    async fn checkout(
        &self,
        auth: BearerAuth,
        order_id: Path<String>,
        #[oai(name = "Idempotency-Key")] key: Header<Option<String>>,
        body: bytes::Bytes,
    ) -> Result<CheckoutStarted, ApiError> {
        let user = &auth.0;
        let id: OrderId = order_id.0.parse()?;
        // The body is optional (`{"gateway": "test"}` or nothing at all).
        let body: CheckoutRequestDto = if body.iter().all(u8::is_ascii_whitespace) {
            CheckoutRequestDto::default()
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad_request(
                    "malformed_json",
                    format!("the body must be {{\"gateway\": \"name\"}} or empty: {e}"),
                )
            })?
        };
        let key = key.0.map(|key| IdempotencyKey {
            scope: format!("POST /orders/{id}/checkout"),
            key,
            request_hash: hash_json(&body),
        });
        // None: the engine's first gateway, which is the configured default.
        let gateway = body.gateway.as_deref().map(String::as_str);
        let back = crate::urls::order(&self.state.public_url, id);
        let (done, cancelled) = (format!("{back}?payment=done"), format!("{back}?payment=cancelled"));
        let url = self.state.engine.checkout().start_once(user, id, gateway, done, cancelled, key.as_ref()).await?;
        Ok(CheckoutStarted::Created(Json(CheckoutDto { checkout_url: url })))
    }

    /// A fresh download link for a fulfilled order (buyer), within the
    /// download window (`downloads.window_days` after payment), at most one
    /// per `downloads.fresh_link_interval_minutes` (else 429). 201 with the
    /// link while the zip is stored; 202 when it must be rebuilt first (the
    /// link then appears on `GET /orders/{id}`).
    #[oai(path = "/orders/:order_id/download-link", method = "post")]
    async fn fresh_link(&self, auth: BearerAuth, order_id: Path<String>) -> Result<FreshLink, ApiError> {
        let id: OrderId = order_id.0.parse()?;
        match self.state.engine.downloads().fresh_link(&auth.0, id).await? {
            Some(l) => {
                let order = self.state.engine.checkout().order(&auth.0, id).await?;
                Ok(FreshLink::Created(Json(DownloadDto::new(&self.state.public_url, &l.token, l.expires_at, &order))))
            }
            None => Ok(FreshLink::Preparing(Json(serde_json::json!({ "status": "preparing" })))),
        }
    }

    /// Signed notifications from a payment gateway; verified before anything is read.
    #[oai(path = "/payments/:gateway/webhook", method = "post", transform = "webhook_sized")]
    async fn webhook(
        &self,
        gateway: Path<String>,
        req: &Request,
        body: bytes::Bytes,
    ) -> Result<WebhookReply, ApiError> {
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect();
        let applied = self.state.engine.checkout().notification(&gateway.0, &headers, &body).await?;
        let changed = matches!(applied, proofsheet_core::Applied::Changed(_));
        Ok(WebhookReply::Accepted(Json(serde_json::json!({ "received": true, "changed": changed }))))
    }

    /// The zip of a paid order's originals, streamed, with `Range` support, until the link expires.
    #[oai(path = "/downloads/:token", method = "get", transform = "downloading")]
    async fn download(
        &self,
        token: Path<String>,
        #[oai(name = "Range")] range: Header<Option<String>>,
    ) -> Result<Download, ApiError> {
        let downloads = self.state.engine.downloads();
        let storage = &self.state.config.storage;
        if storage.presign {
            let ttl = std::time::Duration::from_secs(storage.presign_seconds as u64);
            if let Some(url) = downloads.presigned(&token.0, ttl).await? {
                tracing::info!(target: "audit", action = "download", via = "presigned redirect", "zip redirected");
                return Ok(Download::Redirect(url, NO_STORE.into()));
            }
        }
        let link = downloads.check(&token.0).await?;
        let size = link.zip_size;
        tracing::info!(
            target: "audit", action = "download", link_id = %link.id, order_id = %link.order_id,
            range = range.0.as_deref().unwrap_or("all"), "zip sent"
        );
        let disposition = crate::urls::attachment(&downloads.zip_name(&link).await?);
        match parse_range(range.0.as_deref(), size) {
            Err(()) => Ok(Download::Unsatisfiable(
                Json(super::error::ErrorBody {
                    code: "range_not_satisfiable".into(),
                    message: format!("the file has {size} bytes"),
                }),
                format!("bytes */{size}"),
            )),
            Ok(None) => {
                let opened = downloads.open_link(link, None).await?;
                Ok(Download::Full(Binary(zip_body(opened.body)), size, "bytes".into(), disposition, NO_STORE.into()))
            }
            Ok(Some(r)) => {
                let (start, end) = (r.start, r.end);
                let opened = downloads.open_link(link, Some(r)).await?;
                Ok(Download::Partial(
                    Binary(zip_body(opened.body)),
                    end - start,
                    format!("bytes {start}-{}/{size}", end - 1),
                    "bytes".into(),
                    disposition,
                    NO_STORE.into(),
                ))
            }
        }
    }

    /// One photo of a paid order, on its own (a phone saves it to its
    /// camera roll): the link's rules apply (expiry, byte budget shared
    /// with the zip), `Range` supported.
    #[oai(path = "/downloads/:token/:photo_id", method = "get", transform = "downloading")]
    async fn download_file(
        &self,
        token: Path<String>,
        photo_id: Path<String>,
        #[oai(name = "Range")] range: Header<Option<String>>,
    ) -> Result<FileDownload, ApiError> {
        let photo: PhotoId = photo_id.0.parse().map_err(|_| Error::not_found("photo"))?;
        let downloads = self.state.engine.downloads();
        let file = downloads.file(&token.0, photo).await?;
        let (size, png) = (file.size, file.content_type == "image/png");
        tracing::info!(
            target: "audit", action = "download", link_id = %file.link.id, order_id = %file.link.order_id,
            photo_id = %photo, range = range.0.as_deref().unwrap_or("all"), "file sent"
        );
        let disposition = crate::urls::attachment(&file.filename);
        let range = match parse_range(range.0.as_deref(), size) {
            Err(()) => {
                return Ok(FileDownload::Unsatisfiable(
                    Json(super::error::ErrorBody {
                        code: "range_not_satisfiable".into(),
                        message: format!("the file has {size} bytes"),
                    }),
                    format!("bytes */{size}"),
                ));
            }
            Ok(r) => r,
        };
        let body = Binary(zip_body(downloads.open_file(&file, range.clone()).await?));
        let bytes = "bytes".to_owned();
        Ok(match (range, png) {
            (None, false) => FileDownload::Jpeg(body, size, bytes, disposition, NO_STORE.into()),
            (None, true) => FileDownload::Png(body, size, bytes, disposition, NO_STORE.into()),
            (Some(r), png) => {
                let (len, content_range) = (r.end - r.start, format!("bytes {}-{}/{size}", r.start, r.end - 1));
                match png {
                    false => FileDownload::PartialJpeg(body, len, content_range, bytes, disposition, NO_STORE.into()),
                    true => FileDownload::PartialPng(body, len, content_range, bytes, disposition, NO_STORE.into()),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Ok(Some(0..10)));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Ok(Some(90..100)));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Ok(Some(90..100)));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100), Ok(Some(50..100)));
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Ok(None));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=5-2"), 100), Err(()));
        assert_eq!(parse_range(Some("bytes=x-"), 100), Err(()));
    }
}
