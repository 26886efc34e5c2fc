//! The preview renderer and watermark surfaces.

use async_trait::async_trait;
use bytes::Bytes;

use crate::Result;

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

/// Turns originals into watermarked previews.
#[async_trait]
pub trait PreviewRenderer: Send + Sync + 'static {
    /// Looks at the first bytes of an upload (`complete` when that is the
    /// whole file). Must not decode pixels. Errors:
    /// `UnsupportedMedia` for anything that is not a supported image,
    /// `TooLarge { code: "too_many_pixels" }` over the pixel limit.
    fn probe(&self, head: &[u8], complete: bool) -> Result<Probe>;
    /// Decodes, orients, resizes, watermarks and encodes. `Error::Image`
    /// for a file that can never be rendered (truncated, corrupt).
    async fn render(&self, original: Bytes) -> Result<Renditions>;
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
