//! Photos and their processing status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AlbumId, Error, PhotoId, PhotoVariant, Result};

/// Where a photo is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoStatus {
    /// Uploaded; previews are being made.
    Processing,
    /// Previews exist.
    Ready,
    /// Previews could not be made; see `failure_reason`.
    Failed,
}

impl PhotoStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            PhotoStatus::Processing => "processing",
            PhotoStatus::Ready => "ready",
            PhotoStatus::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "processing" => Ok(PhotoStatus::Processing),
            "ready" => Ok(PhotoStatus::Ready),
            "failed" => Ok(PhotoStatus::Failed),
            _ => Err(Error::backend_permanent("bad photo status", format!("{s:?}"))),
        }
    }
}

/// One uploaded photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Photo {
    /// Opaque id.
    pub id: PhotoId,
    /// The album it belongs to.
    pub album_id: AlbumId,
    /// A safe file name (used inside download zips).
    pub filename: String,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
    /// Size of the original in bytes.
    pub size_bytes: u64,
    /// Processing status.
    pub status: PhotoStatus,
    /// Why processing failed.
    pub failure_reason: Option<String>,
    /// Upright width of the original, once known.
    pub width: Option<u32>,
    /// Upright height of the original, once known.
    pub height: Option<u32>,
    /// When uploaded.
    pub created_at: DateTime<Utc>,
    /// How many times its preview and thumbnail were stored (0 until the
    /// first render); it changes whenever they do.
    #[serde(default)]
    pub renders: u32,
    /// The SHA-256 of the original, in lowercase hex (`None` for photos
    /// stored before it was recorded).
    #[serde(default)]
    pub sha256: Option<String>,
    /// When it was taken, by the camera's clock (EXIF `DateTimeOriginal`,
    /// read as if UTC: it orders a shoot, it names no instant).
    #[serde(default)]
    pub taken_at: Option<DateTime<Utc>>,
    /// Where its owner placed it in the album (0 first); `None`: after the
    /// placed photos, in capture order.
    #[serde(default)]
    pub position: Option<u32>,
}

impl Photo {
    /// A strong `ETag` for one of its images: previews change with each
    /// render, an original never does.
    pub fn etag(&self, variant: PhotoVariant) -> String {
        match variant {
            PhotoVariant::Original => "\"original\"".to_owned(),
            PhotoVariant::Preview => format!("\"preview-{}\"", self.renders),
            PhotoVariant::Thumbnail => format!("\"thumbnail-{}\"", self.renders),
        }
    }

    /// Object key of the original.
    pub fn original_key(prefix: &str, id: PhotoId) -> String {
        format!("{prefix}/originals/{id}")
    }

    /// Object key of the watermarked preview.
    pub fn preview_key(prefix: &str, id: PhotoId) -> String {
        format!("{prefix}/previews/{id}.jpg")
    }

    /// Object key of the watermarked grid thumbnail.
    pub fn thumbnail_key(prefix: &str, id: PhotoId) -> String {
        format!("{prefix}/thumbnails/{id}.jpg")
    }
}

/// Turns an uploaded file name into one that is safe inside a zip and in a
/// `Content-Disposition` header: no directories, no control or shell-special
/// characters, at most 120 characters, never empty.
pub fn sanitize_filename(name: Option<&str>, fallback_stem: &str, ext: &str) -> String {
    let base = name
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') { c } else { '_' })
        .collect::<String>();
    let base = base.trim().trim_start_matches('.').to_owned();
    let mut out: String = if base.is_empty() { format!("{fallback_stem}.{ext}") } else { base };
    if out.chars().count() > 120 {
        out = out.chars().rev().take(120).collect::<Vec<_>>().into_iter().rev().collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(sanitize_filename(Some("../../etc/passwd"), "x", "jpg"), "passwd");
        assert_eq!(sanitize_filename(Some("C:\\a\\IMG 1.JPG"), "x", "jpg"), "IMG 1.JPG");
        assert_eq!(sanitize_filename(Some("..."), "p1", "jpg"), "p1.jpg");
        assert_eq!(sanitize_filename(None, "p1", "png"), "p1.png");
        assert_eq!(sanitize_filename(Some("a\"b;c\r\n.jpg"), "x", "jpg"), "a_b_c__.jpg");
    }
}
