//! Resumable uploads over tus 1.0 (<https://tus.io/protocols/resumable-upload>):
//! the core protocol with the creation, expiration, checksum and
//! termination extensions, at `/api/v1/albums/{album_id}/uploads`.
//!
//! The state lives in the blob store ([`proofsheet_core::Uploads`]), so
//! any api process may take the next `PATCH`. A finished upload becomes a
//! photo exactly as a direct upload does; its id comes back in the
//! `Proofsheet-Photo-Id` header of the last `PATCH` (and of `HEAD` after).

use std::sync::Arc;

use base64::Engine as _;
use poem::{Body, Request};
use poem_openapi::{
    ApiRequest, ApiResponse, OpenApi,
    param::{Header, Path},
    payload::{Binary, Json},
};
use proofsheet_core::{AlbumId, Checksum, Error, ResumableUpload, UploadId};

use super::guards::{resuming, starting_upload};
use super::{
    ApiTags,
    error::{ApiError, ErrorBody},
};
use crate::{auth::BearerAuth, state::AppState};

/// The protocol version this server speaks.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions this server supports.
const TUS_EXTENSIONS: &str = "creation,expiration,checksum,termination";

/// Resumable uploads (tus 1.0).
pub struct TusApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

/// The chunk of a `PATCH`.
#[derive(ApiRequest)]
enum Chunk {
    /// Bytes from `Upload-Offset` on.
    #[oai(content_type = "application/offset+octet-stream")]
    Bytes(Binary<Body>),
}

#[derive(ApiResponse)]
enum Discovery {
    /// What this server supports.
    #[oai(status = 204)]
    Supported(
        #[oai(header = "Tus-Resumable")] String,
        #[oai(header = "Tus-Version")] String,
        #[oai(header = "Tus-Extension")] String,
        #[oai(header = "Tus-Max-Size")] u64,
        #[oai(header = "Tus-Checksum-Algorithm")] String,
    ),
}

#[derive(ApiResponse)]
enum Created {
    /// The upload exists: send its bytes with `PATCH` to `Location` (a
    /// path on this server).
    #[oai(status = 201)]
    Created(
        #[oai(header = "Location")] String,
        #[oai(header = "Upload-Expires")] String,
        #[oai(header = "Upload-Offset")] u64,
    ),
    /// `Tus-Resumable` is missing or names a version this server lacks.
    #[oai(status = 412)]
    Unsupported(Json<ErrorBody>, #[oai(header = "Tus-Version")] String),
}

#[derive(ApiResponse)]
enum Status {
    /// How far the upload got (`Upload-Offset` of `Upload-Length`).
    #[oai(status = 200)]
    Found(
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Upload-Length")] u64,
        #[oai(header = "Upload-Expires")] String,
        #[oai(header = "Cache-Control")] String,
        #[oai(header = "Proofsheet-Photo-Id")] Option<String>,
    ),
    /// `Tus-Resumable` is missing or names a version this server lacks.
    #[oai(status = 412)]
    Unsupported(Json<ErrorBody>, #[oai(header = "Tus-Version")] String),
}

#[derive(ApiResponse)]
enum Appended {
    /// The chunk is stored; on the last one, the photo is made (its id in
    /// `Proofsheet-Photo-Id`).
    #[oai(status = 204)]
    Stored(
        #[oai(header = "Upload-Offset")] u64,
        #[oai(header = "Upload-Expires")] String,
        #[oai(header = "Proofsheet-Photo-Id")] Option<String>,
    ),
    /// `Tus-Resumable` is missing or names a version this server lacks.
    #[oai(status = 412)]
    Unsupported(Json<ErrorBody>, #[oai(header = "Tus-Version")] String),
    /// The chunk's `Upload-Checksum` does not match its bytes; nothing of
    /// it was kept.
    #[oai(status = 460)]
    ChecksumMismatch(Json<ErrorBody>),
}

#[derive(ApiResponse)]
enum Terminated {
    /// The upload and its bytes are gone.
    #[oai(status = 204)]
    Done,
    /// `Tus-Resumable` is missing or names a version this server lacks.
    #[oai(status = 412)]
    Unsupported(Json<ErrorBody>, #[oai(header = "Tus-Version")] String),
}

fn version_error(given: &Option<String>) -> Option<(Json<ErrorBody>, String)> {
    (given.as_deref() != Some(TUS_VERSION)).then(|| {
        let message = format!("send Tus-Resumable: {TUS_VERSION} (got {})", given.as_deref().unwrap_or("none"));
        (Json(ErrorBody { code: "tus_version".into(), message }), TUS_VERSION.to_owned())
    })
}

/// `Upload-Expires` is an HTTP date (RFC 9110).
fn http_date(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// The file name in `Upload-Metadata` (`filename`, else `name`, as Uppy
/// sends it): comma-separated `key base64(value)` pairs.
fn filename(metadata: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(metadata) = metadata else { return Ok(None) };
    let mut found: (Option<String>, Option<String>) = (None, None);
    for pair in metadata.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()
            .and_then(|v| String::from_utf8(v).ok())
            .ok_or_else(|| {
                ApiError::bad_request("bad_metadata", format!("Upload-Metadata: {key}'s value is not base64 of UTF-8"))
            })?;
        match key {
            "filename" => found.0 = Some(value),
            "name" => found.1 = Some(value),
            _ => {}
        }
    }
    Ok(found.0.or(found.1).filter(|f| !f.is_empty()))
}

/// The upload's URL, relative to the server (tus allows it, and it stays
/// right behind any proxy or port mapping).
fn location(upload: &ResumableUpload) -> String {
    format!("/api/v1/albums/{}/uploads/{}", upload.album_id, upload.id)
}

fn ids(album_id: &str, upload_id: &str) -> Result<(AlbumId, UploadId), ApiError> {
    let album: AlbumId = album_id.parse()?;
    let upload: UploadId = upload_id.parse().map_err(|_| Error::not_found("upload"))?;
    Ok((album, upload))
}

/// Resumable uploads (tus 1.0).
#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Albums")]
impl TusApi {
    /// tus discovery: the version, extensions (`creation`, `expiration`,
    /// `checksum`, `termination`), largest upload and checksum algorithms.
    #[oai(path = "/albums/:album_id/uploads", method = "options")]
    async fn discover(&self, #[oai(name = "album_id")] _album_id: Path<String>) -> Discovery {
        Discovery::Supported(
            TUS_VERSION.into(),
            TUS_VERSION.into(),
            TUS_EXTENSIONS.into(),
            self.state.config.uploads.max_bytes,
            Checksum::ALGORITHMS.into(),
        )
    }

    /// Start a resumable upload of one photo (owner; tus `creation`):
    /// `Upload-Length` is its size, the file name goes in `Upload-Metadata`
    /// as `filename`. Then `PATCH` its bytes to `Location`. Larger than
    /// `uploads.max_bytes`: 413. Expires after
    /// `uploads.resumable_ttl_hours`.
    #[oai(path = "/albums/:album_id/uploads", method = "post", transform = "starting_upload")]
    async fn create(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        #[oai(name = "Tus-Resumable")] tus_resumable: Header<Option<String>>,
        #[oai(name = "Upload-Length")] upload_length: Header<u64>,
        #[oai(name = "Upload-Metadata")] upload_metadata: Header<Option<String>>,
        req: &Request,
    ) -> Result<Created, ApiError> {
        if let Some((body, version)) = version_error(&tus_resumable.0) {
            return Ok(Created::Unsupported(body, version));
        }
        digits_only(req, "upload-length")?;
        let id: AlbumId = album_id.0.parse()?;
        let name = filename(upload_metadata.0.as_deref())?;
        let upload = self.state.engine.uploads().create(&auth.0, id, upload_length.0, name.as_deref()).await?;
        Ok(Created::Created(location(&upload), http_date(upload.expires_at), 0))
    }

    /// How far a resumable upload got (its creator only).
    #[oai(path = "/albums/:album_id/uploads/:upload_id", method = "head")]
    async fn status(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        upload_id: Path<String>,
        #[oai(name = "Tus-Resumable")] tus_resumable: Header<Option<String>>,
    ) -> Result<Status, ApiError> {
        if let Some((body, version)) = version_error(&tus_resumable.0) {
            return Ok(Status::Unsupported(body, version));
        }
        let (album, id) = ids(&album_id.0, &upload_id.0)?;
        let upload = self.state.engine.uploads().get(&auth.0, album, id).await?;
        Ok(Status::Found(
            upload.offset,
            upload.length,
            http_date(upload.expires_at),
            "no-store".into(),
            upload.photo_id.map(|p| p.to_string()),
        ))
    }

    /// Send bytes of a resumable upload (its creator only) from
    /// `Upload-Offset`, which must be the offset `HEAD` reports (else
    /// 409). With `Upload-Checksum` (`sha1` or `sha256`, base64), a chunk
    /// that does not match is dropped (460). A connection that breaks
    /// mid-chunk keeps what arrived (without a checksum). The last chunk
    /// makes the photo, exactly as a direct upload (415, 413 or 422 for a
    /// file that is no photo; the upload is then deleted).
    #[oai(path = "/albums/:album_id/uploads/:upload_id", method = "patch", transform = "resuming")]
    #[allow(clippy::too_many_arguments)]
    async fn append(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        upload_id: Path<String>,
        #[oai(name = "Tus-Resumable")] tus_resumable: Header<Option<String>>,
        #[oai(name = "Upload-Offset")] upload_offset: Header<u64>,
        #[oai(name = "Upload-Checksum")] upload_checksum: Header<Option<String>>,
        req: &Request,
        body: Chunk,
    ) -> Result<Appended, ApiError> {
        let Chunk::Bytes(bytes) = body;
        if let Some((body, version)) = version_error(&tus_resumable.0) {
            super::albums::discard(bytes.0);
            return Ok(Appended::Unsupported(body, version));
        }
        if let Err(e) = digits_only(req, "upload-offset") {
            super::albums::discard(bytes.0);
            return Err(e);
        }
        let (album, id) = ids(&album_id.0, &upload_id.0)?;
        // tus: an algorithm the server does not take is a 400.
        let checksum = upload_checksum
            .0
            .as_deref()
            .map(Checksum::parse)
            .transpose()
            .map_err(|e| ApiError::bad_request(e.code(), e.to_string()))?;
        if let Some(e) = crate::limits::body::upload_declared_too_large(req, self.state.config.uploads.max_bytes) {
            super::albums::discard(bytes.0);
            return Err(e);
        }
        let stream = super::albums::body_stream(bytes.0);
        // On a task of its own: when the client's connection breaks, poem
        // drops this handler, but the bytes that arrived must still be
        // stored (that is what the client resumes from).
        let engine = self.state.engine.clone();
        let user = auth.0;
        let offset = upload_offset.0;
        let stored =
            tokio::spawn(
                async move { engine.uploads().append(&user, album, id, offset, checksum.as_ref(), stream).await },
            );
        match stored.await.map_err(|e| Error::backend("storing a chunk", e))? {
            Ok(upload) => Ok(Appended::Stored(
                upload.offset,
                http_date(upload.expires_at),
                upload.photo_id.map(|p| p.to_string()),
            )),
            Err(e) if e.code() == "checksum_mismatch" => {
                Ok(Appended::ChecksumMismatch(Json(ErrorBody { code: e.code().into(), message: e.to_string() })))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Delete a resumable upload and the bytes it received (its creator
    /// only; tus `termination`). A photo it already became stays.
    #[oai(path = "/albums/:album_id/uploads/:upload_id", method = "delete")]
    async fn terminate(
        &self,
        auth: BearerAuth,
        album_id: Path<String>,
        upload_id: Path<String>,
        #[oai(name = "Tus-Resumable")] tus_resumable: Header<Option<String>>,
    ) -> Result<Terminated, ApiError> {
        if let Some((body, version)) = version_error(&tus_resumable.0) {
            return Ok(Terminated::Unsupported(body, version));
        }
        let (album, id) = ids(&album_id.0, &upload_id.0)?;
        self.state.engine.uploads().terminate(&auth.0, album, id).await?;
        Ok(Terminated::Done)
    }
}

/// tus sizes and offsets are non-negative integers written in decimal
/// digits only: `+5`, ` 5` or `05 ` are refused (400 `invalid_header`),
/// though Rust's integer parser would take some of them.
fn digits_only(req: &Request, name: &str) -> Result<(), ApiError> {
    let value = req.headers().get(name).map(|v| v.as_bytes()).unwrap_or_default();
    if value.is_empty() || value.len() > 20 || !value.iter().all(u8::is_ascii_digit) {
        return Err(ApiError::bad_request("invalid_header", format!("{name} must be decimal digits only")));
    }
    Ok(())
}
