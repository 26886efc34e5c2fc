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
    /// When it was taken, by the camera's clock (EXIF `DateTimeOriginal`),
    /// if the header says.
    pub taken_at: Option<chrono::NaiveDateTime>,
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

/// Where a mark goes on an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Repeated over the whole image, rows staggered: hard to crop out.
    #[default]
    Tiled,
    /// Once, in the middle.
    Center,
    /// Once, in a corner.
    TopLeft,
    /// Once, in a corner.
    TopRight,
    /// Once, in a corner.
    BottomLeft,
    /// Once, in a corner.
    BottomRight,
}

impl Position {
    /// Every position, in the order a form lists them.
    pub const ALL: [Position; 6] = [
        Position::Tiled,
        Position::Center,
        Position::TopLeft,
        Position::TopRight,
        Position::BottomLeft,
        Position::BottomRight,
    ];

    /// The wire name (`bottom_right`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Position::Tiled => "tiled",
            Position::Center => "center",
            Position::TopLeft => "top_left",
            Position::TopRight => "top_right",
            Position::BottomLeft => "bottom_left",
            Position::BottomRight => "bottom_right",
        }
    }
}

impl std::str::FromStr for Position {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Position::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            Error::invalid(
                "invalid_watermark",
                "position is one of tiled, center, top_left, top_right, bottom_left, bottom_right",
            )
        })
    }
}

/// The watermark an album picked instead of the deployment's default.
///
/// Stored with the album as JSON (`{"kind": "text", ...}`), so it is also
/// the album's database shape (the REST API's is `WatermarkDto`).
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
    /// The album owner's logo (see [`crate::Logos`]), placed, scaled and
    /// blended as given.
    Logo {
        /// Which of the owner's logos: the digest ([`short_digest`]) of
        /// its PNG. Set by [`crate::Albums`] to the owner's current logo
        /// whatever a caller sends, so a new logo re-renders the albums
        /// that use it.
        #[serde(default)]
        logo: String,
        /// Where it goes.
        position: Position,
        /// Its width as a percentage of the image's width, in
        /// [`WatermarkChoice::LOGO_SCALE_PCT`].
        scale_pct: u8,
        /// Its opacity in percent, in [`WatermarkChoice::LOGO_OPACITY_PCT`].
        opacity_pct: u8,
    },
}

impl WatermarkChoice {
    /// A logo's width, in percent of the image's width. The one home of
    /// this range: the REST DTO and its OpenAPI schema (as fractions), the
    /// web form's inputs (whose `min` and `max` the page's script reads)
    /// and [`WatermarkChoice::validate`] all read it.
    pub const LOGO_SCALE_PCT: std::ops::RangeInclusive<u8> = 2..=100;
    /// A logo's opacity in percent; the same readers as
    /// [`WatermarkChoice::LOGO_SCALE_PCT`].
    pub const LOGO_OPACITY_PCT: std::ops::RangeInclusive<u8> = 5..=100;
    /// The longest watermark text, in characters.
    pub const MAX_TEXT_CHARS: usize = 100;
    /// The longest plugin parameter string, in characters.
    pub const MAX_PARAMS_CHARS: usize = 4096;

    /// The logo as placed when nothing else is said: bottom right, a fifth
    /// of the image's width, half opaque. The DTO's absent fields and the
    /// web form's first values come from here.
    pub fn default_logo() -> Self {
        WatermarkChoice::Logo { logo: String::new(), position: Position::BottomRight, scale_pct: 20, opacity_pct: 50 }
    }

    /// The message for a logo scale outside [`WatermarkChoice::LOGO_SCALE_PCT`],
    /// in the REST API's terms (fractions of the image's width).
    pub fn logo_scale_rule() -> String {
        let r = Self::LOGO_SCALE_PCT;
        format!("a logo's scale is {} to {} (of the image's width)", fraction(*r.start()), fraction(*r.end()))
    }

    /// The message for an opacity outside [`WatermarkChoice::LOGO_OPACITY_PCT`].
    pub fn logo_opacity_rule() -> String {
        let r = Self::LOGO_OPACITY_PCT;
        format!("a logo's opacity is {} to {}", fraction(*r.start()), fraction(*r.end()))
    }

    /// Checks the parts that do not depend on the renderer: lengths and
    /// characters. Renderers check the rest in
    /// [`PreviewRenderer::check_watermark`].
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid("invalid_watermark", m.to_owned()));
        match self {
            WatermarkChoice::Text { text } => {
                let n = text.chars().count();
                if text.trim().is_empty() || n > Self::MAX_TEXT_CHARS || text.chars().any(char::is_control) {
                    return bad(&format!("watermark text must be 1 to {} printable characters", Self::MAX_TEXT_CHARS));
                }
            }
            WatermarkChoice::Plugin { plugin, params } => {
                if plugin.is_empty() || plugin.chars().count() > 64 {
                    return bad("plugin names are 1 to 64 characters");
                }
                if params.chars().count() > Self::MAX_PARAMS_CHARS {
                    return bad(&format!("plugin params are at most {} characters", Self::MAX_PARAMS_CHARS));
                }
            }
            WatermarkChoice::Logo { scale_pct, opacity_pct, .. } => {
                if !Self::LOGO_SCALE_PCT.contains(scale_pct) {
                    return bad(&Self::logo_scale_rule());
                }
                if !Self::LOGO_OPACITY_PCT.contains(opacity_pct) {
                    return bad(&Self::logo_opacity_rule());
                }
            }
        }
        Ok(())
    }
}

/// A percentage as the fraction the REST API speaks (`2` → `0.02`, `100` → `1`).
fn fraction(pct: u8) -> String {
    let f = f64::from(pct) / 100.0;
    format!("{f}")
}

/// An album's watermark as a renderer gets it: the choice, with the files
/// it names read from storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// What the album picked.
    pub choice: WatermarkChoice,
    /// For [`WatermarkChoice::Logo`]: the logo's PNG.
    pub logo: Option<Bytes>,
}

impl Mark {
    /// A mark that needs no file (text or plugin).
    pub fn new(choice: WatermarkChoice) -> Self {
        Mark { choice, logo: None }
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
    async fn render(&self, original: Bytes, watermark: Option<&Mark>) -> Result<Renditions>;
    /// Whether `choice` can be rendered: called when an album picks it, so
    /// a bad choice is refused then (`Error::Invalid`, code
    /// `invalid_watermark`) rather than failing every photo later. The
    /// default accepts what [`WatermarkChoice::validate`] accepts, no
    /// plugins and no logos.
    fn check_watermark(&self, choice: &WatermarkChoice) -> Result<()> {
        choice.validate()?;
        match choice {
            WatermarkChoice::Text { .. } => Ok(()),
            WatermarkChoice::Plugin { plugin, .. } => {
                Err(Error::invalid("invalid_watermark", format!("no watermark plugin named {plugin:?} is installed")))
            }
            WatermarkChoice::Logo { .. } => Err(Error::invalid("invalid_watermark", "this renderer draws no logos")),
        }
    }
    /// Whether `png` can be a photographer's logo: called when one is
    /// uploaded, so a bad file is refused then (`Error::Invalid`, code
    /// `invalid_logo`). Answers its width and height. The default refuses
    /// every logo.
    fn check_logo(&self, png: &[u8]) -> Result<(u32, u32)> {
        let _ = png;
        Err(Error::invalid("invalid_logo", "this renderer draws no logos"))
    }
    /// A JPEG to show a watermark on when an album has no photo yet (the
    /// studio's live preview); `None` when the renderer has none.
    fn sample(&self) -> Option<Bytes> {
        None
    }
    /// The names of the watermark plugins albums may pick.
    fn watermark_plugins(&self) -> Vec<String> {
        Vec::new()
    }
    /// Decodes `original` upright and fitted within `max_edge` pixels on
    /// its long side, for face detection ("Find me"). Renderers reuse their
    /// scaled decode, so no full-size pixels are made where the format
    /// allows. `Error::Image` for a file that cannot be decoded. The
    /// default decodes nothing (`Error::Conflict`, `faces_unavailable`).
    fn decode_fitted(&self, original: &[u8], max_edge: u32) -> Result<crate::RgbPixels> {
        let _ = (original, max_edge);
        Err(Error::conflict("faces_unavailable", "this renderer cannot decode images for face detection"))
    }
    /// The file a `web` product delivers ([`crate::pricing::Delivery::Web`]):
    /// the photo upright, fitted within `long_edge` pixels on its long side
    /// (never enlarged), with **no watermark** and no metadata (no GPS, no
    /// camera serial), as a JPEG. Blocking: call it off the async threads.
    /// `Error::Image` for a file that cannot be decoded; the default makes
    /// none (`Error::Conflict`, `web_unavailable`).
    fn render_web(&self, original: &[u8], long_edge: u32) -> Result<Bytes> {
        let _ = (original, long_edge);
        Err(Error::conflict("web_unavailable", "this renderer makes no web-size files"))
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
