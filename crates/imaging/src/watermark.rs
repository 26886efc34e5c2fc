//! The built-in watermarks: tiled or placed text, and a logo with opacity.

use std::{path::PathBuf, sync::Arc};

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use fast_image_resize::{self as fr, PixelType, ResizeOptions, Resizer};
pub use proofsheet_core::Position;
use proofsheet_core::{Error, Result, RgbImageMut, Watermark};
use serde::{Deserialize, Serialize};

/// The built-in watermark's settings (`[imaging.watermark]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatermarkConfig {
    /// Text to burn in; empty for none.
    pub text: String,
    /// A PNG logo (with alpha) to burn in.
    pub logo_path: Option<PathBuf>,
    /// 0.0 (invisible) to 1.0 (opaque).
    pub opacity: f32,
    /// Placement of the text and the logo.
    pub position: Position,
    /// Text height as a fraction of the image's shorter edge.
    pub text_size: f32,
    /// Logo width as a fraction of the image's width.
    pub logo_size: f32,
    /// A WebAssembly watermark plugin (see `plugins/README.md`) used
    /// instead of the built-in text and logo.
    pub plugin: Option<PathBuf>,
    /// The plugin's parameter string.
    pub plugin_params: String,
    /// Memory cap of one plugin call, in MiB.
    pub plugin_memory_mib: u32,
    /// Deadline of one plugin call, in milliseconds.
    pub plugin_deadline_ms: u32,
    /// When the plugin fails, draw the built-in watermark instead of
    /// failing the photo.
    pub plugin_fallback: bool,
}

impl Default for WatermarkConfig {
    fn default() -> Self {
        WatermarkConfig {
            text: "PROOF".into(),
            logo_path: None,
            opacity: 0.4,
            position: Position::Tiled,
            text_size: 0.06,
            logo_size: 0.25,
            plugin: None,
            plugin_params: String::new(),
            plugin_memory_mib: 64,
            plugin_deadline_ms: 500,
            plugin_fallback: false,
        }
    }
}

impl WatermarkConfig {
    /// Builds the watermark these settings describe; a `plugin` is loaded
    /// on `host` (an error when there is none).
    pub fn build(&self, host: Option<&crate::plugin::PluginHost>) -> Result<Arc<dyn Watermark>> {
        let builtin = self.builtin(&self.text, self.logo()?)?;
        let Some(path) = &self.plugin else { return Ok(builtin) };
        let host = host.ok_or_else(|| Error::invalid("invalid_watermark", "a watermark plugin needs a plugin host"))?;
        let plugin = host
            .load_file(path, &self.plugin_params, self.plugin_limits())
            .map_err(|e| Error::invalid("invalid_watermark", e.to_string()))?;
        Ok(if self.plugin_fallback { Arc::new(plugin.with_fallback(builtin)) } else { Arc::new(plugin) })
    }

    /// The built-in marks in these settings' style with `text` (none when
    /// blank) and `logo`.
    pub fn builtin(&self, text: &str, logo: Option<Arc<dyn Watermark>>) -> Result<Arc<dyn Watermark>> {
        if !(0.0..=1.0).contains(&self.opacity) {
            return Err(Error::invalid("invalid_watermark", "watermark opacity must be between 0 and 1"));
        }
        if !(0.005..=1.0).contains(&self.text_size) || !(0.01..=1.0).contains(&self.logo_size) {
            return Err(Error::invalid("invalid_watermark", "watermark sizes must be between 0.01 and 1"));
        }
        let mut marks: Vec<Arc<dyn Watermark>> = Vec::new();
        if !text.trim().is_empty() {
            marks.push(Arc::new(TextWatermark::new(text, self.opacity, self.position, self.text_size)));
        }
        marks.extend(logo);
        Ok(Arc::new(Stack(marks)))
    }

    /// The configured logo, read and decoded.
    pub fn logo(&self) -> Result<Option<Arc<dyn Watermark>>> {
        let Some(path) = &self.logo_path else { return Ok(None) };
        let png = std::fs::read(path)
            .map_err(|e| Error::invalid("invalid_watermark", format!("cannot read logo {}: {e}", path.display())))?;
        Ok(Some(Arc::new(LogoWatermark::from_png(&png, self.opacity, self.position, self.logo_size)?)))
    }

    /// The limits every plugin call runs under.
    pub fn plugin_limits(&self) -> crate::plugin::PluginLimits {
        crate::plugin::PluginLimits {
            memory_bytes: (self.plugin_memory_mib.max(1) as usize) << 20,
            deadline: std::time::Duration::from_millis(self.plugin_deadline_ms.max(1) as u64),
        }
    }
}

/// Several marks applied in turn.
pub struct Stack(pub Vec<Arc<dyn Watermark>>);

impl Watermark for Stack {
    fn apply(&self, image: &mut RgbImageMut<'_>) -> Result<()> {
        self.0.iter().try_for_each(|m| m.apply(image))
    }
}

/// Blends `color` over pixel `i` with `alpha` (0 to 255).
#[inline]
fn blend(pixels: &mut [u8], i: usize, color: [u8; 3], alpha: u32) {
    for c in 0..3 {
        let p = pixels[i + c] as u32;
        pixels[i + c] = ((p * (255 - alpha) + color[c] as u32 * alpha + 127) / 255) as u8;
    }
}

/// Top-left corners for a mark of `mw x mh` on a `w x h` image.
fn anchors(position: Position, w: u32, h: u32, mw: u32, mh: u32) -> Vec<(i64, i64)> {
    let margin = (w.min(h) / 30) as i64;
    let (w, h, mw, mh) = (w as i64, h as i64, mw as i64, mh as i64);
    match position {
        Position::Center => vec![((w - mw) / 2, (h - mh) / 2)],
        Position::TopLeft => vec![(margin, margin)],
        Position::TopRight => vec![(w - mw - margin, margin)],
        Position::BottomLeft => vec![(margin, h - mh - margin)],
        Position::BottomRight => vec![(w - mw - margin, h - mh - margin)],
        Position::Tiled => {
            let step_x = mw + mw / 2 + 1;
            let step_y = mh * 3 + 1;
            let mut out = Vec::new();
            let mut row = 0;
            let mut y = mh / 2;
            while y < h {
                let mut x = if row % 2 == 0 { -mw / 4 } else { step_x / 2 - mw / 4 };
                while x < w {
                    out.push((x, y));
                    x += step_x;
                }
                y += step_y;
                row += 1;
            }
            out
        }
    }
}

/// The built-in mark's typeface: Open Sans Bold (Apache-2.0; see
/// `fonts/README.md`), compiled in.
static FONT_TTF: &[u8] = include_bytes!("../fonts/OpenSans-Bold.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: std::sync::OnceLock<FontRef<'static>> = std::sync::OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_TTF).expect("the bundled font parses"))
}

/// Text drawn anti-aliased in the bundled TrueType font, white with a soft
/// dark edge so it shows on light and dark photos alike.
pub struct TextWatermark {
    text: String,
    alpha: u32,
    position: Position,
    size: f32,
}

/// A line of text rasterised once: coverage 0 to 255 per pixel.
struct Mask {
    width: u32,
    height: u32,
    coverage: Vec<u8>,
}

impl TextWatermark {
    /// A text mark (at most 64 characters are drawn). Characters the font
    /// lacks are drawn as `?`.
    pub fn new(text: &str, opacity: f32, position: Position, size: f32) -> Self {
        let font = font();
        let text = text
            .chars()
            .take(64)
            .map(|c| if font.glyph_id(c).0 == 0 && !c.is_whitespace() { '?' } else { c })
            .collect();
        TextWatermark { text, alpha: (opacity.clamp(0.0, 1.0) * 255.0).round() as u32, position, size }
    }

    /// Lays the text out on one line `px` pixels tall and rasterises it.
    fn mask(&self, px: f32) -> Mask {
        let font = font().as_scaled(PxScale::from(px));
        let mut caret = 0.0f32;
        let mut last = None;
        let mut glyphs = Vec::with_capacity(self.text.len());
        for c in self.text.chars() {
            let id = font.glyph_id(c);
            if let Some(prev) = last {
                caret += font.kern(prev, id);
            }
            glyphs.push(id.with_scale_and_position(px, point(caret, font.ascent())));
            caret += font.h_advance(id);
            last = Some(id);
        }
        let width = caret.ceil().max(1.0) as u32;
        let height = (font.ascent() - font.descent()).ceil().max(1.0) as u32;
        let mut coverage = vec![0u8; (width * height) as usize];
        for glyph in glyphs {
            let Some(outline) = font.outline_glyph(glyph) else { continue };
            let b = outline.px_bounds();
            outline.draw(|x, y, c| {
                let (x, y) = (b.min.x as i64 + x as i64, b.min.y as i64 + y as i64);
                if x >= 0 && y >= 0 && (x as u32) < width && (y as u32) < height {
                    let i = (y as u32 * width + x as u32) as usize;
                    coverage[i] = coverage[i].max((c.clamp(0.0, 1.0) * 255.0).round() as u8);
                }
            });
        }
        Mask { width, height, coverage }
    }
}

impl Watermark for TextWatermark {
    fn apply(&self, img: &mut RgbImageMut<'_>) -> Result<()> {
        let px = (img.width.min(img.height) as f32 * self.size).max(6.0);
        let mask = self.mask(px);
        let edge = (px / 24.0).round().max(1.0) as i64;
        for (ax, ay) in anchors(self.position, img.width, img.height, mask.width, mask.height) {
            // The shadow first, offset down and right, then the white face.
            blit(img, &mask, ax + edge, ay + edge, [0, 0, 0], self.alpha * 2 / 3);
            blit(img, &mask, ax, ay, [255, 255, 255], self.alpha);
        }
        Ok(())
    }
}

/// Blends `color` through `mask` (scaled by `alpha`) with its top-left
/// corner at `(x0, y0)`, clipped to the image.
fn blit(img: &mut RgbImageMut<'_>, mask: &Mask, x0: i64, y0: i64, color: [u8; 3], alpha: u32) {
    let (w, h) = (img.width as i64, img.height as i64);
    let (mw, mh) = (mask.width as i64, mask.height as i64);
    let (left, right) = (x0.max(0), (x0 + mw).min(w));
    if left >= right {
        return;
    }
    for y in y0.max(0)..(y0 + mh).min(h) {
        let row = &mask.coverage[((y - y0) * mw + (left - x0)) as usize..((y - y0) * mw + (right - x0)) as usize];
        let base = ((y * w + left) * 3) as usize;
        for (i, &c) in row.iter().enumerate() {
            if c != 0 {
                blend(img.pixels, base + i * 3, color, (c as u32 * alpha + 127) / 255);
            }
        }
    }
}

/// A PNG logo, scaled to a fraction of the image width, alpha-blended.
/// Cloning shares the decoded pixels.
#[derive(Clone)]
pub struct LogoWatermark {
    rgba: Arc<Vec<u8>>,
    width: u32,
    height: u32,
    opacity: f32,
    position: Position,
    size: f32,
}

impl LogoWatermark {
    /// A logo from PNG bytes (any colour type; alpha is honoured).
    pub fn from_png(png_bytes: &[u8], opacity: f32, position: Position, size: f32) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| Error::invalid("invalid_watermark", format!("bad logo PNG: {e}"));
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
        let (w, h) = (reader.info().width, reader.info().height);
        if w as u64 * h as u64 > 16_000_000 {
            return Err(bad(&"larger than 16 megapixels"));
        }
        let mut buf = vec![0; reader.output_buffer_size().ok_or_else(|| bad(&"too large"))?];
        let frame = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
        buf.truncate(frame.buffer_size());
        let rgba = match frame.color_type {
            png::ColorType::Rgba => buf,
            png::ColorType::Rgb => buf.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
            png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g, 255]).collect(),
            png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
            png::ColorType::Indexed => return Err(bad(&"palette not expanded")),
        };
        Ok(LogoWatermark {
            rgba: Arc::new(rgba),
            width: w,
            height: h,
            opacity: opacity.clamp(0.0, 1.0),
            position,
            size,
        })
    }

    /// The same logo with another opacity, position and size.
    pub fn styled(&self, opacity: f32, position: Position, size: f32) -> Self {
        LogoWatermark { opacity: opacity.clamp(0.0, 1.0), position, size, ..self.clone() }
    }
}

impl Watermark for LogoWatermark {
    fn apply(&self, img: &mut RgbImageMut<'_>) -> Result<()> {
        let mw = ((img.width as f32 * self.size).round() as u32).clamp(1, img.width);
        let mh = ((self.height as u64 * mw as u64 / self.width as u64) as u32).clamp(1, img.height);
        let src = fr::images::ImageRef::new(self.width, self.height, &self.rgba, PixelType::U8x4)
            .map_err(|e| Error::Image { message: format!("logo: {e}") })?;
        let mut logo = fr::images::Image::new(mw, mh, PixelType::U8x4);
        Resizer::new()
            .resize(&src, &mut logo, &ResizeOptions::new().use_alpha(true))
            .map_err(|e| Error::Image { message: format!("logo resize: {e}") })?;
        let logo = logo.buffer();
        let (w, h) = (img.width as i64, img.height as i64);
        for (ax, ay) in anchors(self.position, img.width, img.height, mw, mh) {
            for ly in 0..mh as i64 {
                let y = ay + ly;
                if y < 0 || y >= h {
                    continue;
                }
                for lx in 0..mw as i64 {
                    let x = ax + lx;
                    if x < 0 || x >= w {
                        continue;
                    }
                    let s = ((ly * mw as i64 + lx) * 4) as usize;
                    let alpha = (logo[s + 3] as f32 * self.opacity).round() as u32;
                    if alpha > 0 {
                        blend(img.pixels, ((y * w + x) * 3) as usize, [logo[s], logo[s + 1], logo[s + 2]], alpha);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A PNG logo to try logo watermarks with (tests, benchmarks, the
/// screenshots): a dark ring around a light disc on a transparent ground,
/// `size` pixels square, anti-aliased.
pub fn sample_logo_png(size: u32) -> Vec<u8> {
    let r = size as f32 / 2.0;
    let mut rgba = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let d = ((x as f32 + 0.5 - r).powi(2) + (y as f32 + 0.5 - r).powi(2)).sqrt();
            let alpha = (r - d).clamp(0.0, 1.0);
            let ring = d > r * 0.72;
            let c = if ring { [30, 40, 70] } else { [245, 240, 225] };
            rgba.extend([c[0], c[1], c[2], (alpha * 255.0) as u8]);
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, size, size);
    enc.set_color(png::ColorType::Rgba);
    let mut w = enc.write_header().expect("PNG header");
    w.write_image_data(&rgba).expect("PNG data");
    drop(w);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey(w: u32, h: u32) -> Vec<u8> {
        vec![100; (w * h * 3) as usize]
    }

    #[test]
    fn tiled_text_covers_the_image_partly() {
        let mut px = grey(400, 300);
        let mark = TextWatermark::new("PROOF", 0.5, Position::Tiled, 0.08);
        mark.apply(&mut RgbImageMut { width: 400, height: 300, pixels: &mut px }).unwrap();
        let changed = px.chunks(3).filter(|p| p[0] != 100).count();
        let share = changed as f64 / (400.0 * 300.0);
        assert!(share > 0.03 && share < 0.6, "watermark covers {share}");
        // Both halves of the image are marked: tiling, not one stamp.
        let top = px[..px.len() / 2].chunks(3).filter(|p| p[0] != 100).count();
        let bottom = px[px.len() / 2..].chunks(3).filter(|p| p[0] != 100).count();
        assert!(top > 0 && bottom > 0);
    }

    #[test]
    fn corner_logo_lands_in_its_corner_with_opacity() {
        let mut logo = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut logo, 4, 4);
            enc.set_color(png::ColorType::Rgba);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&[255, 0, 0, 255].repeat(16)).unwrap();
        }
        let mark = LogoWatermark::from_png(&logo, 0.5, Position::BottomRight, 0.1).unwrap();
        let mut px = grey(300, 300);
        mark.apply(&mut RgbImageMut { width: 300, height: 300, pixels: &mut px }).unwrap();
        let at = |x: usize, y: usize| &px[(y * 300 + x) * 3..(y * 300 + x) * 3 + 3];
        assert_eq!(at(5, 5), [100, 100, 100]);
        let p = at(300 - 10 - 15, 300 - 10 - 15);
        assert!(p[0] > 150 && p[0] < 255 && p[1] < 100, "half-opaque red over grey, got {p:?}");
        assert!(LogoWatermark::from_png(b"not a png", 0.5, Position::Center, 0.1).is_err());
    }
}
