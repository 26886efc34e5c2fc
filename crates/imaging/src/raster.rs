//! An owned RGB8 image and the geometric stages: decode, resize, orient.

use fast_image_resize::{self as fr, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use proofsheet_core::{Error, ImageFormat, Result, RgbImageMut};
use serde::{Deserialize, Serialize};
use zune_jpeg::{
    JpegDecoder,
    zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions},
};

use crate::probe::{jpeg_is_complete, jpeg_orientation};

/// Packed 8-bit RGB pixels, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub pixels: Vec<u8>,
}

impl Rgb {
    /// A smooth gradient (red across, green down), to try watermarks on.
    pub fn gradient(width: u32, height: u32) -> Rgb {
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
        for y in 0..height {
            for x in 0..width {
                pixels.extend([(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
            }
        }
        Rgb { width, height, pixels }
    }

    /// A sky fading to white over a darker ground: a stand-in photo to try
    /// watermarks on, light in its upper part and dark in its lower.
    pub fn landscape(width: u32, height: u32) -> Rgb {
        let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
        let horizon = height * 3 / 5;
        for y in 0..height {
            for x in 0..width {
                let wave = (x as f32 / width as f32 * std::f32::consts::PI * 2.0).sin() * height as f32 / 20.0;
                let hill = (horizon as f32 - wave).clamp(1.0, (height - 1) as f32) as u32;
                let p = if y < hill {
                    let t = y as f32 / hill as f32;
                    [(70.0 + 170.0 * t) as u8, (130.0 + 110.0 * t) as u8, (200.0 + 45.0 * t) as u8]
                } else {
                    let t = (y - hill) as f32 / (height - hill).max(1) as f32;
                    [(70.0 - 40.0 * t) as u8, (95.0 - 50.0 * t) as u8, (50.0 - 25.0 * t) as u8]
                };
                pixels.extend(p);
            }
        }
        Rgb { width, height, pixels }
    }

    /// A view that watermarks can draw on.
    pub fn as_mut(&mut self) -> RgbImageMut<'_> {
        RgbImageMut { width: self.width, height: self.height, pixels: &mut self.pixels }
    }

    /// The pixel at (x, y).
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

fn bad(message: impl std::fmt::Display) -> Error {
    Error::Image { message: message.to_string() }
}

/// A JPEG codec for previews. Every build has [`JpegCodec::Rust`]; the
/// C codecs exist when their cargo feature is on (`mozjpeg`, the default;
/// `turbojpeg`). Which one renders is chosen at run time
/// (`imaging.jpeg_codec`, `auto` by default: the fastest built in), so one
/// build can test all of its codecs side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JpegCodec {
    /// The fastest codec this build has: `turbojpeg`, else `mozjpeg`, else
    /// `rust`.
    #[default]
    Auto,
    /// zune-jpeg and jpeg-decoder to decode (scaled by 1/2, 1/4 or 1/8),
    /// jpeg-encoder to encode: no C at all.
    Rust,
    /// MozJPEG's decoder (scaled in eighths, built from C by the `cc`
    /// crate); jpeg-encoder encodes.
    Mozjpeg,
    /// libjpeg-turbo (SIMD) decodes in eighths and encodes.
    Turbojpeg,
}

impl JpegCodec {
    /// The codecs this build has, slowest first.
    pub fn built() -> &'static [JpegCodec] {
        const ALL: &[JpegCodec] = &[
            JpegCodec::Rust,
            #[cfg(feature = "mozjpeg")]
            JpegCodec::Mozjpeg,
            #[cfg(feature = "turbojpeg")]
            JpegCodec::Turbojpeg,
        ];
        ALL
    }

    /// The codec `self` stands for in this build (`Auto` becomes the
    /// fastest built), or an error naming the missing cargo feature.
    pub fn resolve(self) -> Result<JpegCodec> {
        match self {
            JpegCodec::Auto => Ok(*JpegCodec::built().last().expect("Rust is always built")),
            codec if JpegCodec::built().contains(&codec) => Ok(codec),
            codec => Err(Error::invalid(
                "invalid_imaging",
                format!(
                    "jpeg_codec = \"{}\" needs the cargo feature `{}`, which this build lacks",
                    codec.key(),
                    codec.key()
                ),
            )),
        }
    }

    /// The name in the config: `auto`, `rust`, `mozjpeg` or `turbojpeg`.
    pub fn key(self) -> &'static str {
        match self {
            JpegCodec::Auto => "auto",
            JpegCodec::Rust => "rust",
            JpegCodec::Mozjpeg => "mozjpeg",
            JpegCodec::Turbojpeg => "turbojpeg",
        }
    }

    /// A name for logs and benchmarks: `pure Rust`, `mozjpeg`,
    /// `libjpeg-turbo` (or `auto`).
    pub fn label(self) -> &'static str {
        match self {
            JpegCodec::Auto => "auto",
            JpegCodec::Rust => "pure Rust",
            JpegCodec::Mozjpeg => "mozjpeg",
            JpegCodec::Turbojpeg => "libjpeg-turbo",
        }
    }
}

/// A decoded original and its EXIF orientation (1 to 8).
pub struct Decoded {
    /// Pixels as stored (not yet oriented).
    pub image: Rgb,
    /// EXIF orientation to apply.
    pub orientation: u8,
}

/// Decodes a JPEG (zune-jpeg) or PNG to RGB at full size.
pub fn decode(data: &[u8], format: ImageFormat) -> Result<Decoded> {
    match format {
        ImageFormat::Jpeg => decode_jpeg(data),
        ImageFormat::Png => decode_png(data).map(|image| Decoded { image, orientation: 1 }),
    }
}

/// Decodes to at least `min_edge` pixels on the longest side, as cheaply as
/// the format allows, with the fastest codec of this build
/// ([`JpegCodec::Auto`]); see [`decode_at_least_with`].
pub fn decode_at_least(data: &[u8], format: ImageFormat, width: u32, height: u32, min_edge: u32) -> Result<Decoded> {
    decode_at_least_with(JpegCodec::Auto, data, format, width, height, min_edge)
}

/// Decodes to at least `min_edge` pixels on the longest side with `codec`.
///
/// With [`JpegCodec::Rust`], a JPEG at least twice that size is decoded
/// straight at 1/2, 1/4 or 1/8 scale in the DCT domain (jpeg-decoder's
/// scaled IDCT: no full-size pixels are ever made, so both time and memory
/// drop), anything else at full size. With MozJPEG or libjpeg-turbo, every
/// JPEG is decoded at the smallest of its eighths (1/8, 2/8, ... 8/8) that
/// still covers `min_edge`; a JPEG they cannot turn into RGB (CMYK) falls
/// back to the pure-Rust path. The result may be larger than `min_edge`
/// (the smallest scale that still covers it); resize it to the exact size
/// after.
pub fn decode_at_least_with(
    codec: JpegCodec,
    data: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
    min_edge: u32,
) -> Result<Decoded> {
    let codec = codec.resolve()?;
    if format == ImageFormat::Jpeg && codec != JpegCodec::Rust {
        if !jpeg_is_complete(data) {
            return Err(bad("the JPEG is truncated: its image data ends before the end-of-image marker"));
        }
        let decoded = match codec {
            #[cfg(feature = "turbojpeg")]
            JpegCodec::Turbojpeg => turbo::decode_at_least(data, width, height, min_edge)?,
            #[cfg(feature = "mozjpeg")]
            JpegCodec::Mozjpeg => moz::decode_at_least(data, width, height, min_edge)?,
            _ => None,
        };
        if let Some(image) = decoded {
            return Ok(Decoded { image, orientation: jpeg_orientation(data) });
        }
    }
    decode_at_least_rust(data, format, width, height, min_edge)
}

/// [`decode_at_least`] with the pure-Rust decoders, whatever the features
/// (jpeg-decoder's scaled IDCT by 1/2, 1/4 or 1/8, else zune-jpeg at full
/// size): the fallback for CMYK, and the benchmarks' yardstick.
pub fn decode_at_least_rust(
    data: &[u8],
    format: ImageFormat,
    width: u32,
    height: u32,
    min_edge: u32,
) -> Result<Decoded> {
    let long = width.max(height);
    if format != ImageFormat::Jpeg || long < min_edge.saturating_mul(2) {
        return decode(data, format);
    }
    if !jpeg_is_complete(data) {
        return Err(bad("the JPEG is truncated: its image data ends before the end-of-image marker"));
    }
    match decode_jpeg_scaled(data, width, height, min_edge)? {
        Some(image) => Ok(Decoded { image, orientation: jpeg_orientation(data) }),
        // CMYK and 16-bit JPEGs: the full decoder handles their colours.
        None => decode_jpeg(data),
    }
}

fn decode_jpeg_scaled(data: &[u8], width: u32, height: u32, min_edge: u32) -> Result<Option<Rgb>> {
    let mut decoder = jpeg_decoder::Decoder::new(data);
    decoder.read_info().map_err(|e| bad(format!("the JPEG could not be read: {e}")))?;
    let info = decoder.info().ok_or_else(|| bad("the JPEG has no header"))?;
    if (info.width as u32, info.height as u32) != (width, height) {
        return Err(bad("the JPEG's frame does not match its header"));
    }
    let k = width.max(height) as f64 / min_edge as f64;
    let want = |v: u32| ((v as f64 / k).ceil() as u32).clamp(1, u16::MAX as u32) as u16;
    let (w, h) =
        decoder.scale(want(width), want(height)).map_err(|e| bad(format!("the JPEG could not be scaled: {e}")))?;
    let pixels = decoder.decode().map_err(|e| bad(format!("the JPEG could not be decoded: {e}")))?;
    let info = decoder.info().ok_or_else(|| bad("the JPEG has no header"))?;
    let n = w as usize * h as usize;
    let pixels = match info.pixel_format {
        jpeg_decoder::PixelFormat::RGB24 => pixels,
        jpeg_decoder::PixelFormat::L8 => pixels.iter().flat_map(|&g| [g, g, g]).collect(),
        jpeg_decoder::PixelFormat::CMYK32 | jpeg_decoder::PixelFormat::L16 => return Ok(None),
    };
    if pixels.len() != n * 3 {
        return Err(bad("the JPEG decoded to an unexpected size"));
    }
    Ok(Some(Rgb { width: w as u32, height: h as u32, pixels }))
}

fn decode_jpeg(data: &[u8]) -> Result<Decoded> {
    if !jpeg_is_complete(data) {
        return Err(bad("the JPEG is truncated: its image data ends before the end-of-image marker"));
    }
    let options = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::RGB)
        .set_max_width(u16::MAX as usize)
        .set_max_height(u16::MAX as usize);
    let mut decoder = JpegDecoder::new_with_options(ZCursor::new(data), options);
    let pixels = decoder.decode().map_err(|e| bad(format!("the JPEG could not be decoded: {e:?}")))?;
    let (w, h) = decoder.dimensions().ok_or_else(|| bad("the JPEG has no dimensions"))?;
    if pixels.len() != w * h * 3 {
        return Err(bad("the JPEG decoded to an unexpected size"));
    }
    Ok(Decoded { image: Rgb { width: w as u32, height: h as u32, pixels }, orientation: jpeg_orientation(data) })
}

fn decode_png(data: &[u8]) -> Result<Rgb> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(data));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| bad(format!("the PNG could not be read: {e}")))?;
    let size = reader.output_buffer_size().ok_or_else(|| bad("the PNG is too large"))?;
    let mut buf = vec![0; size];
    let frame = reader.next_frame(&mut buf).map_err(|e| bad(format!("the PNG could not be decoded: {e}")))?;
    buf.truncate(frame.buffer_size());
    let (w, h) = (frame.width, frame.height);
    let n = w as usize * h as usize;
    // Transparent areas go on white, as a print would.
    let over_white = |c: u8, a: u8| ((c as u32 * a as u32 + 255 * (255 - a as u32) + 127) / 255) as u8;
    let pixels = match frame.color_type {
        png::ColorType::Rgb => buf,
        png::ColorType::Rgba => buf.chunks_exact(4).flat_map(|p| [0, 1, 2].map(|i| over_white(p[i], p[3]))).collect(),
        png::ColorType::Grayscale => buf.iter().flat_map(|&g| [g, g, g]).collect(),
        png::ColorType::GrayscaleAlpha => buf.chunks_exact(2).flat_map(|p| [over_white(p[0], p[1]); 3]).collect(),
        png::ColorType::Indexed => return Err(bad("the PNG palette was not expanded")),
    };
    if pixels.len() != n * 3 {
        return Err(bad("the PNG decoded to an unexpected size"));
    }
    Ok(Rgb { width: w, height: h, pixels })
}

/// Dimensions that fit `max_edge` on the longest side, never upscaling.
pub fn fit(width: u32, height: u32, max_edge: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= max_edge {
        return (width, height);
    }
    let scale = max_edge as f64 / long as f64;
    let w = ((width as f64 * scale).round() as u32).max(1);
    let h = ((height as f64 * scale).round() as u32).max(1);
    (w, h)
}

/// Resizes with a SIMD convolution (Lanczos3 down to the target; fast_image_resize).
pub fn resize(src: &Rgb, width: u32, height: u32) -> Result<Rgb> {
    if (width, height) == (src.width, src.height) {
        return Ok(src.clone());
    }
    let view = fr::images::ImageRef::new(src.width, src.height, &src.pixels, PixelType::U8x3)
        .map_err(|e| bad(format!("resize input: {e}")))?;
    let mut dst = fr::images::Image::new(width, height, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new().resize(&view, &mut dst, &options).map_err(|e| bad(format!("resize: {e}")))?;
    Ok(Rgb { width, height, pixels: dst.into_vec() })
}

/// Applies an EXIF orientation so the image is upright.
///
/// The upright image is written row by row, in order. Mirrors and the
/// half turn read each of its rows from one stored row; the quarter turns
/// and transpositions read down a stored column, in square tiles so that
/// the rows they touch stay in cache.
pub fn orient(src: Rgb, orientation: u8) -> Rgb {
    if !(2..=8).contains(&orientation) {
        return src;
    }
    let (w, h) = (src.width as usize, src.height as usize);
    let (stored, _) = src.pixels.as_chunks::<3>();
    let mut out = vec![[0u8; 3]; w * h];
    if orientation <= 4 {
        // Upright row `oy` is stored row `y`, reversed for 2 and 3.
        for (oy, row) in out.chunks_exact_mut(w).enumerate() {
            let y = if orientation == 2 { oy } else { h - 1 - oy };
            let from = &stored[y * w..(y + 1) * w];
            if orientation == 4 {
                row.copy_from_slice(from);
            } else {
                row.iter_mut().zip(from.iter().rev()).for_each(|(d, s)| *d = *s);
            }
        }
        return Rgb { width: src.width, height: src.height, pixels: out.into_flattened() };
    }
    // Upright (ox, oy) is stored pixel base + ox * sx + oy * sy.
    let (wi, hi) = (w as isize, h as isize);
    let (base, sx, sy) = match orientation {
        5 => (0, wi, 1),
        6 => ((hi - 1) * wi, -wi, 1),
        7 => ((hi - 1) * wi + wi - 1, -wi, -1),
        _ => (wi - 1, wi, -1), // 8
    };
    let ow = h; // the upright image is h wide and w tall
    const TILE: usize = 32;
    for ty in (0..w).step_by(TILE) {
        for tx in (0..ow).step_by(TILE) {
            let tx_end = (tx + TILE).min(ow);
            for oy in ty..(ty + TILE).min(w) {
                let mut i = base + tx as isize * sx + oy as isize * sy;
                for d in &mut out[oy * ow + tx..oy * ow + tx_end] {
                    *d = stored[i as usize];
                    i += sx;
                }
            }
        }
    }
    Rgb { width: src.height, height: src.width, pixels: out.into_flattened() }
}

/// Encodes RGB as a baseline JPEG (4:2:0) with no metadata at all (so no
/// GPS, serial numbers or other private EXIF ever reaches a preview), with
/// the fastest codec of this build; see [`encode_jpeg_with`].
pub fn encode_jpeg(img: &Rgb, quality: u8) -> Result<Vec<u8>> {
    encode_jpeg_with(JpegCodec::Auto, img, quality)
}

/// [`encode_jpeg`] with `codec`: libjpeg-turbo for
/// [`JpegCodec::Turbojpeg`], jpeg-encoder otherwise (also for MozJPEG:
/// built without nasm, MozJPEG's C encoder took twice jpeg-encoder's time
/// for a 2048 px preview, 56 ms against 27 ms in
/// `cargo bench -p proofsheet-imaging --bench stages`, so it only decodes).
pub fn encode_jpeg_with(codec: JpegCodec, img: &Rgb, quality: u8) -> Result<Vec<u8>> {
    match codec.resolve()? {
        #[cfg(feature = "turbojpeg")]
        JpegCodec::Turbojpeg => turbo::encode(img, quality),
        _ => encode_jpeg_rust(img, quality),
    }
}

/// MozJPEG's decoder, built from C by the `cc` crate (no cmake, no nasm),
/// scaling in eighths in the DCT domain. libjpeg
/// reports errors by unwinding out of the C code (the `mozjpeg` crate's
/// design), so every call is wrapped in `catch_unwind` and a bad file is
/// an `Error::Image`, never a crash.
#[cfg(feature = "mozjpeg")]
mod moz {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use mozjpeg::{ColorSpace, Decompress};

    use super::{Rgb, bad};
    use proofsheet_core::Result;

    fn guarded<T>(what: &str, f: impl FnOnce() -> std::io::Result<T>) -> Result<T> {
        match catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(bad(format!("{what}: {e}"))),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "libjpeg error".into());
                Err(bad(format!("{what}: {message}")))
            }
        }
    }

    /// `None` when MozJPEG cannot make RGB of it (CMYK, YCCK): the caller
    /// falls back to the pure-Rust decoders.
    pub(super) fn decode_at_least(data: &[u8], width: u32, height: u32, min_edge: u32) -> Result<Option<Rgb>> {
        guarded("the JPEG could not be decoded", || {
            let mut d = Decompress::with_markers(&[]).from_mem(data)?;
            if (d.width() as u32, d.height() as u32) != (width, height) {
                return Err(std::io::Error::other("its frame does not match its header"));
            }
            if matches!(d.color_space(), ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK) {
                return Ok(None);
            }
            let long = width.max(height) as usize;
            let eighths = (1..=8usize).find(|n| (long * n).div_ceil(8) >= min_edge as usize).unwrap_or(8);
            d.scale(eighths as u8);
            let mut started = d.rgb()?;
            let (w, h) = (started.width(), started.height());
            let pixels: Vec<u8> = started.read_scanlines()?;
            started.finish()?;
            if pixels.len() != w * h * 3 {
                return Err(std::io::Error::other("it decoded to an unexpected size"));
            }
            Ok(Some(Rgb { width: w as u32, height: h as u32, pixels }))
        })
    }
}

/// [`encode_jpeg`] with the pure-Rust encoder, whatever the features.
pub fn encode_jpeg_rust(img: &Rgb, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(img.pixels.len() / 8);
    let w = u16::try_from(img.width).map_err(|_| bad("too wide to encode"))?;
    let h = u16::try_from(img.height).map_err(|_| bad("too tall to encode"))?;
    let encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    encoder.encode(&img.pixels, w, h, jpeg_encoder::ColorType::Rgb).map_err(|e| bad(format!("encode: {e}")))?;
    Ok(out)
}

/// libjpeg-turbo (SIMD) for JPEG decoding and encoding. One decompressor
/// and one compressor per thread, reused.
#[cfg(feature = "turbojpeg")]
mod turbo {
    use std::cell::RefCell;

    use turbojpeg::{Compressor, Decompressor, Image, PixelFormat, ScalingFactor, Subsamp};

    use super::{Rgb, bad};
    use proofsheet_core::Result;

    thread_local! {
        static DECOMPRESSOR: RefCell<Option<Decompressor>> = const { RefCell::new(None) };
        static COMPRESSOR: RefCell<Option<Compressor>> = const { RefCell::new(None) };
    }

    /// `None` when libjpeg-turbo cannot make RGB of it (CMYK): the caller
    /// falls back to the pure-Rust decoders.
    pub(super) fn decode_at_least(data: &[u8], width: u32, height: u32, min_edge: u32) -> Result<Option<Rgb>> {
        DECOMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                *cell = Some(Decompressor::new().map_err(|e| bad(format!("libjpeg-turbo: {e}")))?);
            }
            let d = cell.as_mut().expect("set above");
            let header = match d.read_header(data) {
                Ok(h) => h,
                Err(_) => return Ok(None),
            };
            if (header.width as u32, header.height as u32) != (width, height) {
                return Err(bad("the JPEG's frame does not match its header"));
            }
            if matches!(header.colorspace, turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK) {
                return Ok(None);
            }
            let long = header.width.max(header.height);
            let scale = (1..=8)
                .map(|num| ScalingFactor::new(num, 8))
                .find(|f| f.scale(long) >= min_edge as usize)
                .unwrap_or(ScalingFactor::ONE);
            let scaled = header.scaled(scale);
            d.set_scaling_factor(scale).map_err(|e| bad(format!("the JPEG could not be scaled: {e}")))?;
            let mut image = Image {
                pixels: vec![0u8; scaled.width * scaled.height * 3],
                width: scaled.width,
                pitch: scaled.width * 3,
                height: scaled.height,
                format: PixelFormat::RGB,
            };
            d.decompress(data, image.as_deref_mut()).map_err(|e| bad(format!("the JPEG could not be decoded: {e}")))?;
            Ok(Some(Rgb { width: scaled.width as u32, height: scaled.height as u32, pixels: image.pixels }))
        })
    }

    pub(super) fn encode(img: &Rgb, quality: u8) -> Result<Vec<u8>> {
        COMPRESSOR.with(|cell| {
            let mut cell = cell.borrow_mut();
            if cell.is_none() {
                let mut c = Compressor::new().map_err(|e| bad(format!("libjpeg-turbo: {e}")))?;
                c.set_subsamp(Subsamp::Sub2x2).map_err(|e| bad(format!("libjpeg-turbo: {e}")))?;
                *cell = Some(c);
            }
            let c = cell.as_mut().expect("set above");
            c.set_quality(quality as i32).map_err(|e| bad(format!("encode: {e}")))?;
            let image = Image {
                pixels: &img.pixels[..],
                width: img.width as usize,
                pitch: img.width as usize * 3,
                height: img.height as usize,
                format: PixelFormat::RGB,
            };
            c.compress_to_vec(image).map_err(|e| bad(format!("encode: {e}")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(w: u32, h: u32) -> Rgb {
        // Red top-left pixel, everything else black.
        let mut pixels = vec![0; (w * h * 3) as usize];
        pixels[0] = 255;
        Rgb { width: w, height: h, pixels }
    }

    /// The tiled walk against the plain definition, across tile edges.
    #[test]
    fn orient_matches_the_per_pixel_definition() {
        let (w, h) = (130usize, 70usize);
        let pixels: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let src = Rgb { width: w as u32, height: h as u32, pixels };
        for o in 1..=8u8 {
            let out = orient(src.clone(), o);
            let ow = out.width as usize;
            for y in 0..h {
                for x in 0..w {
                    let (nx, ny) = match o {
                        1 => (x, y),
                        2 => (w - 1 - x, y),
                        3 => (w - 1 - x, h - 1 - y),
                        4 => (x, h - 1 - y),
                        5 => (y, x),
                        6 => (h - 1 - y, x),
                        7 => (h - 1 - y, w - 1 - x),
                        _ => (y, w - 1 - x),
                    };
                    let d = (ny * ow + nx) * 3;
                    assert_eq!(out.pixels[d..d + 3], src.pixels[(y * w + x) * 3..(y * w + x) * 3 + 3], "{o}");
                }
            }
        }
    }

    #[test]
    fn orientations_put_the_marked_corner_where_exif_says() {
        // Stored top-left ends up at: (upright x, y) for each orientation.
        let expect =
            [(1, (0, 0)), (2, (2, 0)), (3, (2, 1)), (4, (0, 1)), (5, (0, 0)), (6, (1, 0)), (7, (1, 2)), (8, (0, 2))];
        for (o, (x, y)) in expect {
            let out = orient(marked(3, 2), o);
            assert_eq!((out.width, out.height), if o >= 5 { (2, 3) } else { (3, 2) }, "orientation {o}");
            assert_eq!(out.pixel(x, y), [255, 0, 0], "orientation {o}");
        }
    }

    #[test]
    fn fit_never_upscales_and_keeps_aspect() {
        assert_eq!(fit(6000, 4000, 2048), (2048, 1365));
        assert_eq!(fit(4000, 6000, 2048), (1365, 2048));
        assert_eq!(fit(800, 600, 2048), (800, 600));
        assert_eq!(fit(10000, 1, 400), (400, 1));
    }
}
