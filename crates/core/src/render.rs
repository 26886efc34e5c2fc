//! The preview renderer and watermark surfaces.

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Image formats the pipeline accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageFormat {
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// PNG.
    Png,
}

impl ImageFormat {
    /// The MIME type.
    pub fn mime(&self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
        }
    }

    /// The usual file extension.
    pub fn extension(&self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Png => "png",
        }
    }
}

/// What a header says about an image, read without decoding pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    /// Format.
    pub format: ImageFormat,
    /// Stored width.
    pub width: u32,
    /// Stored height.
    pub height: u32,
}

/// The result of looking at the first bytes of an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// The header is incomplete: give me more bytes.
    NeedMore,
    /// A supported image within the limits.
    Image(ImageInfo),
}

/// The watermarked images made for one photo.
#[derive(Debug, Clone)]
pub struct Renditions {
    /// The preview JPEG (longest edge 2048 px by default).
    pub preview: Bytes,
    /// The grid thumbnail JPEG (400 px by default).
    pub thumbnail: Bytes,
    /// Upright width of the original.
    pub width: u32,
    /// Upright height of the original.
    pub height: u32,
}

/// The watermark an album picked instead of the deployment's default.
///
/// Stored with the album as JSON (`{"kind": "text", ...}`), so it is also
/// the album's wire and database shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum WatermarkChoice {
    /// The built-in mark (the deployment's style) with this text.
    Text {
        /// 1 to 100 printable characters.
        text: String,
    },
    /// A WebAssembly plugin the deployment registered, by name.
    Plugin {
        /// The registered name (see [`PreviewRenderer::watermark_plugins`]).
        plugin: String,
        /// The plugin's parameter string, up to 4096 characters.
        params: String,
    },
}

impl WatermarkChoice {
    /// Checks the parts that do not depend on the renderer: lengths and
    /// characters. Renderers check the rest in
    /// [`PreviewRenderer::check_watermark`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid("invalid_watermark", m.to_owned()));
        match self {
            WatermarkChoice::Text { text } => {
                let n = text.chars().count();
                if text.trim().is_empty() || n > 100 || text.chars().any(char::is_control) {
                    return bad("watermark text must be 1 to 100 printable characters");
                }
            }
            WatermarkChoice::Plugin { plugin, params } => {
                if plugin.is_empty() || plugin.chars().count() > 64 {
                    return bad("plugin names are 1 to 64 characters");
                }
                if params.chars().count() > 4096 {
                    return bad("plugin params are at most 4096 characters");
                }
            }
        }
        Ok(())
    }
}

/// Turns originals into watermarked previews.
#[async_trait]
pub trait PreviewRenderer: Send + Sync + 'static {
    /// Looks at the first bytes of an upload (`complete` when that is the
    /// whole file). Must not decode pixels. Errors:
    /// `UnsupportedMedia` for anything that is not a supported image,
    /// `TooLarge { code: "too_many_pixels" }` over the pixel limit.
    fn probe(&self, head: &[u8], complete: bool) -> Result<Probe>;
    /// Decodes, orients, resizes, watermarks and encodes, with the album's
    /// `watermark` (`None`: the renderer's default). `Error::Image` for a
    /// file that can never be rendered (truncated, corrupt) or a watermark
    /// that fails on it.
    async fn render(&self, original: Bytes, watermark: Option<&WatermarkChoice>) -> Result<Renditions>;
    /// Whether `choice` can be rendered: called when an album picks it, so
    /// a bad choice is refused then (`Error::Invalid`, code
    /// `invalid_watermark`) rather than failing every photo later. The
    /// default accepts what [`WatermarkChoice::validate`] accepts and no
    /// plugins.
    fn check_watermark(&self, choice: &WatermarkChoice) -> Result<()> {
        choice.validate()?;
        match choice {
            WatermarkChoice::Text { .. } => Ok(()),
            WatermarkChoice::Plugin { plugin, .. } => {
                Err(Error::invalid("invalid_watermark", format!("no watermark plugin named {plugin:?} is installed")))
            }
        }
    }
    /// The names of the watermark plugins albums may pick.
    fn watermark_plugins(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A mutable view of packed 8-bit RGB pixels, row-major, no padding.
#[derive(Debug)]
pub struct RgbImageMut<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub pixels: &'a mut [u8],
}

/// Burns a visible mark into a preview.
pub trait Watermark: Send + Sync + 'static {
    /// Marks the image in place.
    fn apply(&self, image: &mut RgbImageMut<'_>) -> Result<()>;
}

/// A short, stable name for an album's watermark setting (`None`: the
/// renderer's default): refresh jobs carry it, so a job queued for a
/// watermark that has changed since knows a newer job will do its work.
pub fn watermark_version(choice: Option<&WatermarkChoice>) -> String {
    short_digest(&serde_json::to_vec(&choice).expect("a watermark serialises"))
}

/// Sixteen hex digits of SHA-256: a short, fixed-length name for `data`
/// (watermark versions, idempotency key parts, `ETag`s).
pub fn short_digest(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)[..8].iter().map(|b| format!("{b:02x}")).collect()
}
