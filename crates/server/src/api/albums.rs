//! Albums and photos.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use poem::{Body, Request};
use poem_openapi::{
    ApiRequest, ApiResponse, Multipart, OpenApi, Union,
    param::{Header, Path, Query},
    payload::{Binary, Json},
    types::{MaybeUndefined, multipart::Upload},
};
use proofsheet_core::{
    AlbumId, AlbumPatch, ByteStream, Email, Error, Money, NewAlbum, PageRequest, Photo, PhotoId, PhotoVariant, Role,
    WatermarkChoice, short_digest,
};

use super::guards::{finding_me, logo_sized, order_sized, uploading};
use super::{
    ApiTags,
    conditional::{JsonBytes, none_match_hits},
    error::ApiError,
    model::*,
};
use crate::limits::body::{DRAIN_LIMIT, MAX_SELFIE_BYTES, upload_declared_too_large};
use crate::{
    auth::{BearerAuth, MaybeAuth},
    state::AppState,
};

/// Albums and photos.
pub struct AlbumsApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum AlbumCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<AlbumDto>),
}

#[derive(ApiResponse)]
enum Marked {
    /// Done (also when it already was so).
    #[oai(status = 204)]
    Done,
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    Done,
}

/// A raw body makes one photo; a multipart body a list.
// One value per response, written out at once: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Union)]
enum UploadResult {
    /// One photo from a raw body.
    One(PhotoDto),
    /// Photos from a multipart body, one per `file` part.
    Many(PhotoList),
}

#[derive(ApiResponse)]
enum Uploaded {
    /// Stored; previews are processing.
    #[oai(status = 201)]
    Created(Json<UploadResult>),
}

#[derive(ApiResponse)]
enum Image {
    /// A JPEG.
    #[oai(status = 200, content_type = "image/jpeg")]
    Jpeg(Binary<Body>, #[oai(header = "Cache-Control")] String, #[oai(header = "ETag")] String),
    /// A PNG (originals only).
    #[oai(status = 200, content_type = "image/png")]
    Png(Binary<Body>, #[oai(header = "Cache-Control")] String, #[oai(header = "ETag")] String),
    /// Not modified since the `ETag` sent in `If-None-Match` (a preview's
    /// changes when it is rendered again, after a watermark change).
    #[oai(status = 304)]
    NotModified(#[oai(header = "Cache-Control")] String, #[oai(header = "ETag")] String),
    /// With `storage.presign`: fetch it from the object store at `Location`
    /// (a URL valid for `storage.presign_seconds`).
    #[oai(status = 307)]
    Redirect(#[oai(header = "Location")] String, #[oai(header = "Cache-Control")] String),
}

/// A page of photos, or word that the client's copy is still good.
#[derive(ApiResponse)]
enum PhotoPageReply {
    /// The page. `ETag` changes whenever the album or any of its photos
    /// change; send it back in `If-None-Match` to get 304 while it holds.
    #[oai(status = 200)]
    Page(JsonBytes<PhotoPage>, #[oai(header = "ETag")] String, #[oai(header = "Cache-Control")] String),
    /// Not modified since the `ETag` sent in `If-None-Match`.
    #[oai(status = 304)]
    NotModified(#[oai(header = "ETag")] String, #[oai(header = "Cache-Control")] String),
}

/// A logo's body: the PNG itself.
#[derive(ApiRequest)]
enum LogoBody {
    /// A PNG (transparency is kept).
    #[oai(content_type = "image/png")]
    Png(Binary<Body>),
    /// Raw bytes: must be a PNG all the same.
    #[oai(content_type = "application/octet-stream")]
    Octets(Binary<Body>),
}

#[derive(ApiResponse)]
enum LogoImage {
    /// The PNG.
    #[oai(status = 200, content_type = "image/png")]
    Png(Binary<Bytes>, #[oai(header = "Cache-Control")] String, #[oai(header = "ETag")] String),
}

#[derive(ApiResponse)]
enum PreviewImage {
    /// The preview JPEG, with the watermark drawn.
    #[oai(status = 200, content_type = "image/jpeg")]
    Jpeg(Binary<Bytes>, #[oai(header = "Cache-Control")] String),
}

/// Reads a small body whole, refusing it (413) past `max` bytes.
async fn read_limited(body: Body, max: usize, code: &'static str) -> Result<Bytes, ApiError> {
    let mut stream = body.into_bytes_stream();
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::invalid("body_read_failed", format!("reading the body: {e}")))?;
        if out.len() + chunk.len() > max {
            return Err(ApiError::too_large(code, format!("at most {} KiB", max / 1024)));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// `multipart/form-data` with one or more `file` parts.
#[derive(Debug, Multipart)]
struct UploadForm {
    file: Vec<Upload>,
}

/// `multipart/form-data` with the selfie in a part named `selfie`, and no
/// other part.
#[derive(Debug, Multipart)]
#[oai(deny_unknown_fields)]
struct SelfieForm {
    selfie: Upload,
}

/// A selfie for "Find me": one face, at most 15 MiB.
// One per request, on the stack for its length: the multipart variant's
// size does not matter.
#[derive(ApiRequest)]
#[allow(clippy::large_enum_variant)]
enum SelfieBody {
    /// A part named `selfie`: what a browser's file input sends.
    Multipart(SelfieForm),
    /// A raw JPEG.
    #[oai(content_type = "image/jpeg")]
    Jpeg(Binary<Body>),
    /// A raw PNG.
    #[oai(content_type = "image/png")]
    Png(Binary<Body>),
    /// A raw WebP.
    #[oai(content_type = "image/webp")]
    Webp(Binary<Body>),
}

/// The photo upload body.
#[derive(ApiRequest)]
enum UploadBody {
    /// One or more `file` parts.
    Multipart(UploadForm),
    /// A raw JPEG.
    #[oai(content_type = "image/jpeg")]
    Jpeg(Binary<Body>),
    /// A raw PNG.
    #[oai(content_type = "image/png")]
    Png(Binary<Body>),
    /// Raw bytes (the format is sniffed).
    #[oai(content_type = "application/octet-stream")]
    Octets(Binary<Body>),
}

fn parse_email(e: Option<String>) -> Result<Option<Email>, Error> {
    e.map(|e| e.parse()).transpose()
}

/// Streams a request body to the upload code through a channel. When the
/// upload code stops early (too large, not an image), the rest of the body
/// is read and dropped in the background, up to [`DRAIN_LIMIT`].
pub(super) fn body_stream(body: Body) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, Error>>(4);
    tokio::spawn(async move {
        let mut body = body.into_bytes_stream();
        let mut dropped = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::invalid("body_read_failed", format!("reading the upload: {e}")));
            let len = chunk.as_ref().map(|c| c.len() as u64).unwrap_or(0);
            if tx.is_closed() || tx.send(chunk).await.is_err() {
                dropped += len;
                if dropped > DRAIN_LIMIT {
                    break;
                }
            }
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }))
}

/// Reads and drops the rest of a refused body (see [`body_stream`]).
pub(super) fn discard(body: Body) {
    drop(body_stream(body));
}

fn drain(body: UploadBody) {
    if let UploadBody::Jpeg(b) | UploadBody::Png(b) | UploadBody::Octets(b) = body {
        drop(body_stream(b.0));
    }
}

/// Previews may be cached by the browser but not shared caches: they are
/// behind authorization unless the album is public.
fn image_cache(variant: PhotoVariant) -> String {
    let cache = if variant == PhotoVariant::Original { "private, no-store" } else { "private, max-age=3600" };
    cache.to_owned()
}

fn image(variant: PhotoVariant, photo: &Photo, bytes: Body) -> Image {
    let etag = photo.etag(variant);
    if photo.content_type == "image/png" && variant == PhotoVariant::Original {
        Image::Png(Binary(bytes), image_cache(variant), etag)
    } else {
        Image::Jpeg(Binary(bytes), image_cache(variant), etag)
    }
}

impl AlbumsApi {
    fn page(limit: Option<u32>, cursor: Option<String>) -> Result<PageRequest, Error> {
        PageRequest::new(limit, cursor.as_deref())
    }

    async fn send_image(
        &self,
        auth: MaybeAuth,
        id: &str,
        variant: PhotoVariant,
        if_none_match: Option<&str>,
    ) -> Result<Image, ApiError> {
        let id: PhotoId = id.parse()?;
        let albums = self.state.engine.albums();
        let storage = &self.state.config.storage;
        // Access first: an ETag gets a caller who may not see it nothing.
        let (photo, key) = albums.image_key(auth.user(), id, variant).await?;
        if storage.presign {
            let ttl = std::time::Duration::from_secs(storage.presign_seconds as u64);
            if let Some(url) = albums.image_url(&key, ttl).await? {
                return Ok(Image::Redirect(url, "private, no-store".into()));
            }
        }
        let etag = photo.etag(variant);
        if none_match_hits(if_none_match, &etag) {
            return Ok(Image::NotModified(image_cache(variant), etag));
        }
        // Streamed from the store: an original may be hundreds of MB.
        let stream = albums.image_stream(&key).await?;
        let body =
            Body::from_bytes_stream(futures::TryStreamExt::map_err(stream, |e| std::io::Error::other(e.to_string())));
        Ok(image(variant, &photo, body))
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Albums")]
impl AlbumsApi {
    /// Create an album (photographers).
    #[oai(path = "/albums", method = "post")]
    async fn create_album(&self, auth: BearerAuth, body: Json<CreateAlbumRequest>) -> Result<AlbumCreated, ApiError> {
        let b = body.0;
        let new = NewAlbum {
            name: b.name.into(),
            visibility: b.visibility.into(),
            client_email: parse_email(b.client_email.map(String::from))?,
            price_per_photo: Money::try_from(b.price_per_photo)?,
            expires_at: b.expires_at,
            watermark: b.watermark.map(WatermarkChoice::try_from).transpose()?,
            find_me: b.find_me.unwrap_or(false),
            draft: b.draft.unwrap_or(false),
            client_name: b.client_name.map(String::from),
        };
        let album = self.state.engine.albums().create(&auth.0, new).await?;
        Ok(AlbumCreated::Created(Json(AlbumDto::new(album, true, true))))
    }

    /// Albums of the caller: a photographer's own; a client's shared ones plus public ones.
    #[oai(path = "/albums", method = "get")]
    async fn list_albums(
        &self,
        auth: BearerAuth,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
    ) -> Result<Json<AlbumPage>, ApiError> {
        let page = self.state.engine.albums().list(&auth.0, Self::page(limit.0, cursor.0)?).await?;
        let user = &auth.0;
        let (items, next_cursor) = page_parts(page, |a| {
            let owner = a.owner_id == user.id;
            let close = owner || a.client_email.as_ref() == Some(&user.email);
            AlbumDto::new(a, close, owner)
        });
        Ok(Json(AlbumPage { items, next_cursor }))
    }

    /// One album (owner, its client, or anyone if public).
    #[oai(path = "/albums/:album_id", method = "get")]
    async fn get_album(&self, auth: MaybeAuth, album_id: Path<String>) -> Result<Json<AlbumDto>, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        let (album, access) = self.state.engine.albums().get(auth.user(), id).await?;
        let close = matches!(access, proofsheet_core::Access::Owner | proofsheet_core::Access::Client);
        Ok(Json(AlbumDto::new(album, close, access == proofsheet_core::Access::Owner)))
    }

    /// Change an album (owner).
    #[oai(path = "/albums/:album_id", method = "patch")]
    async fn update_album(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        body: Json<UpdateAlbumRequest>,
    ) -> Result<Json<AlbumDto>, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        let b = body.0;
        let patch = AlbumPatch {
            name: b.name.map(String::from),
            visibility: b.visibility.map(Into::into),
            client_email: match b.client_email {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(e) => Some(Some(e.parse()?)),
            },
            price_per_photo: b.price_per_photo.map(Money::try_from).transpose()?,
            expires_at: match b.expires_at {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(t) => Some(Some(t)),
            },
            watermark: match b.watermark {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(w) => Some(Some(w.try_into()?)),
            },
            find_me: b.find_me,
            client_name: match b.client_name {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(n) => Some(Some(n.into())),
            },
            draft: b.draft,
            cover_photo_id: match b.cover_photo_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(p) => Some(Some(p.parse()?)),
            },
        };
        let album = self.state.engine.albums().update(&auth.0, id, patch).await?;
        Ok(Json(AlbumDto::new(album, true, true)))
    }

    /// The watermarks an album may pick (photographers): the built-in mark
    /// with its own text, or one of the installed plugins.
    #[oai(path = "/watermarks", method = "get")]
    async fn watermarks(&self, auth: BearerAuth) -> Result<Json<WatermarkOptionsDto>, ApiError> {
        if auth.0.role != Role::Photographer {
            return Err(Error::forbidden("photographers_only", "watermarks are chosen by photographers").into());
        }
        let plugins = self.state.engine.watermark_plugins();
        let mut kinds = vec![WatermarkKindDto::Text];
        if !plugins.is_empty() {
            kinds.push(WatermarkKindDto::Plugin);
        }
        let logo = WatermarkChoice::default_logo();
        if self.state.engine.can_draw(&logo) {
            kinds.push(WatermarkKindDto::Logo);
        }
        Ok(Json(WatermarkOptionsDto { kinds, plugins }))
    }

    /// What an album's photos would look like with `watermark`, before it is
    /// saved (owner): one of its photos (the first ready one, or a sample
    /// picture while there is none) rendered as a preview. Not stored.
    #[oai(path = "/albums/:album_id/watermark-preview", method = "post")]
    async fn watermark_preview(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        body: Json<WatermarkPreviewRequest>,
    ) -> Result<PreviewImage, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        let choice = body.0.watermark.map(WatermarkChoice::try_from).transpose()?;
        let jpeg = self.state.engine.albums().watermark_preview(&auth.0, id, choice).await?;
        Ok(PreviewImage::Jpeg(Binary(jpeg), "no-store".into()))
    }

    /// Upload the caller's logo (photographers): a PNG of at most 1 MiB and
    /// 4 megapixels, ideally with transparency. Albums whose watermark is
    /// the logo move to the new one and their previews are rendered again.
    #[oai(path = "/users/me/logo", method = "put", transform = "logo_sized")]
    async fn put_logo(&self, auth: BearerAuth, body: LogoBody) -> Result<Json<LogoDto>, ApiError> {
        let (LogoBody::Png(b) | LogoBody::Octets(b)) = body;
        let png = read_limited(b.0, proofsheet_core::MAX_LOGO_BYTES, "logo_too_large").await?;
        let logo = self.state.engine.logos().put(&auth.0, png).await?;
        Ok(Json(LogoDto { digest: logo.digest, size: logo.png.len() as u64 }))
    }

    /// The caller's logo (photographers); 404 when they have none.
    #[oai(path = "/users/me/logo", method = "get")]
    async fn get_logo(&self, auth: BearerAuth) -> Result<LogoImage, ApiError> {
        let logo = self.state.engine.logos().get(&auth.0).await?;
        Ok(LogoImage::Png(Binary(logo.png), "private, no-cache".into(), format!("\"{}\"", logo.digest)))
    }

    /// Remove the caller's logo (photographers); albums that used it go
    /// back to the default watermark.
    #[oai(path = "/users/me/logo", method = "delete")]
    async fn delete_logo(&self, auth: BearerAuth) -> Result<Deleted, ApiError> {
        self.state.engine.logos().delete(&auth.0).await?;
        Ok(Deleted::Done)
    }

    /// Delete an album with its photos, previews and originals (owner).
    /// Set the album's photo order (owner): the listed photos first, in
    /// that order; the others follow in capture order (EXIF, then file name).
    #[oai(path = "/albums/:album_id/order", method = "put", transform = "order_sized")]
    async fn put_photo_order(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        body: Json<PhotoOrderRequest>,
    ) -> Result<Marked, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        let ids = body.0.photo_ids.iter().map(|p| p.parse()).collect::<Result<Vec<PhotoId>, _>>()?;
        self.state.engine.albums().set_order(&auth.0, id, &ids).await?;
        Ok(Marked::Done)
    }

    #[oai(path = "/albums/:album_id", method = "delete")]
    async fn delete_album(&self, auth: BearerAuth, album_id: Path<String>) -> Result<Deleted, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        self.state.engine.albums().delete(&auth.0, id).await?;
        Ok(Deleted::Done)
    }

    /// Upload photos (owner): a raw JPEG/PNG body answers 201 with the photo;
    /// `multipart/form-data` with `file` parts answers 201 with `{"items": [...]}`.
    /// Streamed to storage; at most `uploads.max_bytes` (413 beyond).
    #[oai(path = "/albums/:album_id/photos", method = "post", transform = "uploading")]
    async fn upload_photos(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        filename: Query<Option<String>>,
        req: &Request,
        body: UploadBody,
    ) -> Result<Uploaded, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        if let Some(e) = upload_declared_too_large(req, self.state.config.uploads.max_bytes) {
            drain(body);
            return Err(e);
        }
        let albums = self.state.engine.albums();
        let base = &self.state.public_url;
        match body {
            UploadBody::Jpeg(b) | UploadBody::Png(b) | UploadBody::Octets(b) => {
                let photo = albums.upload(&auth.0, id, filename.0.as_deref(), body_stream(b.0)).await?;
                Ok(Uploaded::Created(Json(UploadResult::One(PhotoDto::new(photo, base)))))
            }
            UploadBody::Multipart(form) => {
                if form.file.is_empty() {
                    return Err(ApiError::bad_request("no_files", "send one or more parts named `file`"));
                }
                let mut items = Vec::with_capacity(form.file.len());
                for upload in form.file {
                    let name = upload.file_name().map(str::to_owned);
                    let reader = tokio_util::io::ReaderStream::new(upload.into_async_read());
                    let stream: ByteStream = Box::pin(reader.map(|r| {
                        r.map_err(|e| Error::invalid("body_read_failed", format!("reading the upload: {e}")))
                    }));
                    let photo: Photo = albums.upload(&auth.0, id, name.as_deref(), stream).await?;
                    items.push(PhotoDto::new(photo, base));
                }
                Ok(Uploaded::Created(Json(UploadResult::Many(PhotoList { items }))))
            }
        }
    }

    /// "Find me": a selfie (exactly one face) against the album's photos,
    /// as the caller may see the album, when its owner turned it on. Answers
    /// the photos that show that face, closest first. The selfie and its
    /// embedding are used in memory for this request only: never stored,
    /// queued or logged. 422 `no_face` / `several_faces` unless the selfie
    /// shows exactly one face; 409 `find_me_off` when the album has not
    /// turned it on. Rate-limited per client IP and per album.
    #[oai(path = "/albums/:album_id/find-me", method = "post", transform = "finding_me")]
    async fn find_me(
        &self,
        auth: MaybeAuth,
        album_id: Path<String>,
        body: SelfieBody,
    ) -> Result<Json<FindMeResult>, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        // Both ways in are bounded (the body limit stops a larger stream
        // before this runs; these say it in the selfie's own words).
        let selfie = match body {
            SelfieBody::Jpeg(b) | SelfieBody::Png(b) | SelfieBody::Webp(b) => {
                read_limited(b.0, MAX_SELFIE_BYTES, "selfie_too_large").await?
            }
            SelfieBody::Multipart(form) => {
                let part = form.selfie;
                if part.size() > MAX_SELFIE_BYTES {
                    let message = format!("a selfie may be at most {MAX_SELFIE_BYTES} bytes");
                    return Err(ApiError::too_large("selfie_too_large", message));
                }
                Bytes::from(
                    part.into_vec()
                        .await
                        .map_err(|e| Error::invalid("body_read_failed", format!("reading the selfie: {e}")))?,
                )
            }
        };
        let faces = self.state.engine.faces();
        let matches = faces.find(auth.user(), id, selfie).await?;
        let base = &self.state.public_url;
        let items = matches
            .into_iter()
            // A visitor's answer: no original hashes.
            .map(|m| FaceMatchDto { photo: PhotoDto::for_viewer(m.photo, base, false), distance: m.distance })
            .collect();
        let threshold = self.state.engine.faces().threshold();
        Ok(Json(FindMeResult { items, threshold }))
    }

    /// An album's photos, with status and, when ready, preview URLs.
    #[oai(path = "/albums/:album_id/photos", method = "get")]
    async fn list_photos(
        &self,
        auth: MaybeAuth,
        album_id: Path<String>,
        limit: Query<Option<u32>>,
        cursor: Query<Option<String>>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<PhotoPageReply, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        let page = Self::page(limit.0, cursor.0)?;
        let albums = self.state.engine.albums();
        // The album decides access, and its revision whether anything in
        // this page can have changed since a client's copy or ours.
        let (album, access) = albums.get(auth.user(), id).await?;
        // Only the owner sees the originals' hashes (their uploader skips
        // files the album holds); a client's or a visitor's page is another.
        let owner = access == proofsheet_core::Access::Owner;
        let etag = format!("\"{}-{}\"", album.revision, short_digest(format!("{id}|{page:?}|{owner}").as_bytes()));
        let cache = "private, no-cache".to_owned();
        if none_match_hits(if_none_match.0.as_deref(), &etag) {
            return Ok(PhotoPageReply::NotModified(etag, cache));
        }
        let key = (id, page, owner);
        if let Some(body) = self.state.photo_pages.get(&key, album.revision) {
            return Ok(PhotoPageReply::Page(JsonBytes::from_bytes(body), etag, cache));
        }
        let photos = albums.photos_of(&album, page).await?;
        let (items, next_cursor) = page_parts(photos, |p| PhotoDto::for_viewer(p, &self.state.public_url, owner));
        let body = JsonBytes::encode(&PhotoPage { items, next_cursor });
        let bytes = body.bytes();
        self.state.photo_pages.put(key, album.revision, bytes.clone(), bytes.len());
        Ok(PhotoPageReply::Page(body, etag, cache))
    }

    /// The watermarked preview (JPEG).
    #[oai(path = "/photos/:photo_id/preview", method = "get")]
    async fn preview(
        &self,
        auth: MaybeAuth,
        photo_id: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<Image, ApiError> {
        self.send_image(auth, &photo_id.0, PhotoVariant::Preview, if_none_match.0.as_deref()).await
    }

    /// The watermarked grid thumbnail (JPEG).
    #[oai(path = "/photos/:photo_id/thumbnail", method = "get")]
    async fn thumbnail(
        &self,
        auth: MaybeAuth,
        photo_id: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<Image, ApiError> {
        self.send_image(auth, &photo_id.0, PhotoVariant::Thumbnail, if_none_match.0.as_deref()).await
    }

    /// The original (owner only; everyone else gets 404).
    #[oai(path = "/photos/:photo_id/original", method = "get")]
    async fn original(
        &self,
        auth: BearerAuth,
        photo_id: Path<String>,
        #[oai(name = "If-None-Match")] if_none_match: Header<Option<String>>,
    ) -> Result<Image, ApiError> {
        self.send_image(MaybeAuth::Bearer(auth), &photo_id.0, PhotoVariant::Original, if_none_match.0.as_deref()).await
    }

    /// Mark a photo as the caller's favourite (a client who may see the
    /// album). Idempotent.
    #[oai(path = "/photos/:photo_id/favourite", method = "put")]
    async fn mark_favourite(&self, auth: BearerAuth, photo_id: Path<String>) -> Result<Marked, ApiError> {
        let id: PhotoId = photo_id.0.parse()?;
        self.state.engine.albums().set_favourite(&auth.0, id, true).await?;
        Ok(Marked::Done)
    }

    /// Unmark a favourite. Idempotent.
    #[oai(path = "/photos/:photo_id/favourite", method = "delete")]
    async fn unmark_favourite(&self, auth: BearerAuth, photo_id: Path<String>) -> Result<Marked, ApiError> {
        let id: PhotoId = photo_id.0.parse()?;
        self.state.engine.albums().set_favourite(&auth.0, id, false).await?;
        Ok(Marked::Done)
    }

    /// An album's favourites, per client (owner).
    #[oai(path = "/albums/:album_id/favourites", method = "get")]
    async fn favourites(&self, auth: BearerAuth, album_id: Path<String>) -> Result<Json<FavouritesDto>, ApiError> {
        let id: AlbumId = album_id.0.parse()?;
        Ok(Json(self.state.engine.albums().favourites(&auth.0, id).await?.into()))
    }

    /// Delete a photo with its previews and original (owner).
    #[oai(path = "/photos/:photo_id", method = "delete")]
    async fn delete_photo(&self, auth: BearerAuth, photo_id: Path<String>) -> Result<Deleted, ApiError> {
        let id: PhotoId = photo_id.0.parse()?;
        self.state.engine.albums().delete_photo(&auth.0, id).await?;
        Ok(Deleted::Done)
    }
}
