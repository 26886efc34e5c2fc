//! The preview pipeline: a clean sequence of stages, each swappable.
//!
//! probe -> decode -> resize (preview) -> orient -> resize (thumbnail) ->
//! watermark (each) -> encode (each)
//!
//! Resizing happens before orienting (the longest edge is the same either
//! way), so rotation touches 4 MP instead of 24. The thumbnail is made from
//! the clean, oriented preview rather than from the original.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::{Arc, Mutex, OnceLock},
};

use async_trait::async_trait;
use bytes::Bytes;
use proofsheet_core::{Error, ImageInfo, Mark, PreviewRenderer, Probe, Renditions, Result, Watermark, WatermarkChoice};
use serde::{Deserialize, Serialize};

use crate::{
    plugin::{PluginHost, PluginWatermark},
    probe::probe,
    raster::{self, JpegCodec, Rgb},
    watermark::{LogoWatermark, WatermarkConfig},
};

/// How many photographers' logos stay decoded between renders.
const LOGO_CACHE: usize = 8;
/// The JPEG quality of a web-size file (a bought file: higher than a
/// preview's).
pub const WEB_QUALITY: u8 = 90;
/// The largest logo accepted, in pixels (decoded, a logo takes 4 bytes a
/// pixel in the cache).
const MAX_LOGO_PIXELS: u64 = 4_000_000;

/// Pipeline settings (`[imaging]` in the config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Longest edge of the preview, in pixels.
    pub preview_edge: u32,
    /// Longest edge of the grid thumbnail, in pixels.
    pub thumbnail_edge: u32,
    /// JPEG quality of the preview (1 to 100).
    pub preview_quality: u8,
    /// JPEG quality of the thumbnail (1 to 100).
    pub thumbnail_quality: u8,
    /// Largest accepted image, in pixels (width x height).
    pub max_pixels: u64,
    /// The default watermark (built-in, or a plugin).
    pub watermark: WatermarkConfig,
    /// Watermark plugins albums may pick, by name: `name = "path.wasm"`.
    /// They run under the limits in `watermark`.
    pub plugins: BTreeMap<String, PathBuf>,
    /// The JPEG codec (`auto`, `rust`, `mozjpeg`, `turbojpeg`): `auto`,
    /// the default, takes the fastest this build has. Naming one the build
    /// lacks is an error at start-up.
    pub jpeg_codec: JpegCodec,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            preview_edge: 2048,
            thumbnail_edge: 400,
            preview_quality: 85,
            thumbnail_quality: 80,
            max_pixels: 100_000_000,
            watermark: WatermarkConfig::default(),
            plugins: BTreeMap::new(),
            jpeg_codec: JpegCodec::Auto,
        }
    }
}

/// The built-in [`PreviewRenderer`].
#[derive(Clone)]
pub struct ImagePipeline {
    config: PipelineConfig,
    watermark: Arc<dyn Watermark>,
    /// The configured logo, kept for albums that pick their own text.
    logo: Option<Arc<dyn Watermark>>,
    plugins: Arc<BTreeMap<String, PluginWatermark>>,
    /// Photographers' logos, decoded, by digest.
    logos: Arc<Mutex<HashMap<String, LogoWatermark>>>,
    /// `config.jpeg_codec`, resolved (never `Auto`).
    codec: JpegCodec,
}

impl std::fmt::Debug for ImagePipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImagePipeline")
            .field("config", &self.config)
            .field("plugins", &self.plugins.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Both outputs before encoding (for tests and benchmarks).
pub struct PreviewPixels {
    /// The watermarked preview.
    pub preview: Rgb,
    /// The watermarked thumbnail.
    pub thumbnail: Rgb,
    /// Upright width of the original.
    pub width: u32,
    /// Upright height of the original.
    pub height: u32,
}

impl ImagePipeline {
    /// A pipeline with the watermark its config describes.
    pub fn new(config: PipelineConfig) -> Result<Self> {
        if !(16..=16384).contains(&config.preview_edge) || !(16..=config.preview_edge).contains(&config.thumbnail_edge)
        {
            return Err(Error::invalid(
                "invalid_imaging",
                "preview_edge must be 16 to 16384 and thumbnail_edge 16 to preview_edge",
            ));
        }
        if !(1..=100).contains(&config.preview_quality) || !(1..=100).contains(&config.thumbnail_quality) {
            return Err(Error::invalid("invalid_imaging", "JPEG qualities are 1 to 100"));
        }
        let codec = config.jpeg_codec.resolve()?;
        // One plugin host for the pipeline's plugins, only when it has any
        // (a host reserves address space for its pool and runs a ticker).
        let host = if config.watermark.plugin.is_some() || !config.plugins.is_empty() {
            let host = PluginHost::new(config.watermark.plugin_limits().memory_bytes)
                .map_err(|e| Error::invalid("invalid_imaging", e.to_string()))?;
            Some(host)
        } else {
            None
        };
        let watermark = config.watermark.build(host.as_ref())?;
        let logo = config.watermark.logo()?;
        let mut plugins = BTreeMap::new();
        for (name, path) in &config.plugins {
            if name.is_empty()
                || name.len() > 64
                || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
            {
                return Err(Error::invalid(
                    "invalid_imaging",
                    format!("plugin name {name:?}: use 1 to 64 of a-z, 0-9, - and _"),
                ));
            }
            let wasm = std::fs::read(path).map_err(|e| {
                Error::invalid("invalid_imaging", format!("plugin {name}: cannot read {}: {e}", path.display()))
            })?;
            let host = host.as_ref().expect("a host when plugins are configured");
            let plugin = host
                .load(name, &wasm, "", config.watermark.plugin_limits())
                .map_err(|e| Error::invalid("invalid_imaging", e.to_string()))?;
            plugins.insert(name.clone(), plugin);
        }
        Ok(ImagePipeline { config, watermark, logo, plugins: Arc::new(plugins), logos: Arc::default(), codec })
    }

    /// A photographer's logo, decoded once and kept for the next render.
    fn logo_for(&self, digest: &str, png: &[u8]) -> Result<LogoWatermark> {
        if let Some(logo) = self.logos.lock().expect("logo cache").get(digest) {
            return Ok(logo.clone());
        }
        let logo = LogoWatermark::from_png(png, 1.0, Default::default(), 1.0)
            .map_err(|e| Error::Image { message: format!("the album's logo: {e}") })?;
        let mut cache = self.logos.lock().expect("logo cache");
        if cache.len() >= LOGO_CACHE {
            cache.clear();
        }
        cache.insert(digest.to_owned(), logo.clone());
        Ok(logo)
    }

    /// The watermark an album's `mark` stands for (`None`: the default).
    pub fn watermark_for(&self, mark: Option<&Mark>) -> Result<Arc<dyn Watermark>> {
        let choice = mark.map(|m| &m.choice);
        match choice {
            None => Ok(self.watermark.clone()),
            Some(WatermarkChoice::Logo { logo, position, scale_pct, opacity_pct }) => {
                let png = mark
                    .and_then(|m| m.logo.as_deref())
                    .ok_or_else(|| Error::Image { message: "the album's logo was not given to the renderer".into() })?;
                let style = (f32::from(*opacity_pct) / 100.0, *position, f32::from(*scale_pct) / 100.0);
                Ok(Arc::new(self.logo_for(logo, png)?.styled(style.0, style.1, style.2)))
            }
            Some(WatermarkChoice::Text { text }) => self.config.watermark.builtin(text, self.logo.clone()),
            Some(WatermarkChoice::Plugin { plugin, params }) => {
                let fallback = self.config.watermark.plugin_fallback.then(|| self.watermark.clone());
                match (self.plugins.get(plugin), fallback) {
                    (Some(p), None) => Ok(Arc::new(p.with_params(params))),
                    (Some(p), Some(f)) => Ok(Arc::new(p.with_params(params).with_fallback(f))),
                    (None, Some(f)) => {
                        tracing::warn!(plugin, "an album's watermark plugin is not installed; using the default");
                        Ok(f)
                    }
                    (None, None) => Err(Error::Image {
                        message: format!("the album's watermark plugin {plugin:?} is not installed"),
                    }),
                }
            }
        }
    }

    /// Replaces the watermark (a plugin, or none for reference renders).
    pub fn with_watermark(mut self, watermark: Arc<dyn Watermark>) -> Self {
        self.watermark = watermark;
        self
    }

    /// The settings.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The JPEG codec this pipeline renders with (`auto` resolved).
    pub fn jpeg_codec(&self) -> JpegCodec {
        self.codec
    }

    /// Runs every stage but encoding, on the calling thread, with the
    /// default watermark.
    pub fn render_pixels(&self, original: &[u8]) -> Result<PreviewPixels> {
        self.render_pixels_with(original, &*self.watermark)
    }

    /// Probes the whole of `original` and decodes it at the smallest scale
    /// that covers `edge` (big JPEGs straight at a fraction of their size).
    /// Answers the original's header, the decoded image and the size that
    /// fits within `edge`, computed from the original's size (never larger
    /// than what was decoded). A header the probe wants more of is an
    /// `Error::Image`; the probe's own errors come as it gave them.
    fn decode_for(&self, original: &[u8], edge: u32) -> Result<(ImageInfo, raster::Decoded, (u32, u32))> {
        let info = match probe(original, true, self.config.max_pixels)? {
            Probe::Image(info) => info,
            Probe::NeedMore => return Err(Error::Image { message: "the image header is incomplete".into() }),
        };
        let decoded = raster::decode_at_least_with(self.codec, original, info.format, info.width, info.height, edge)?;
        let (w, h) = raster::fit(info.width, info.height, edge);
        let fit = (w.min(decoded.image.width), h.min(decoded.image.height));
        Ok((info, decoded, fit))
    }

    /// Runs every stage but encoding, on the calling thread.
    pub fn render_pixels_with(&self, original: &[u8], watermark: &dyn Watermark) -> Result<PreviewPixels> {
        // Whatever stops the render is the file's fault: an image error.
        let (info, decoded, (pw, ph)) = self.decode_for(original, self.config.preview_edge).map_err(|e| match e {
            e @ Error::Image { .. } => e,
            e => Error::Image { message: e.to_string() },
        })?;
        let src = decoded.image;
        let preview = raster::resize(&src, pw, ph)?;
        let upright = |w: u32, h: u32| {
            if decoded.orientation >= 5 { (h, w) } else { (w, h) }
        };
        let (width, height) = upright(info.width, info.height);
        drop(src);
        let mut preview = raster::orient(preview, decoded.orientation);
        let (tw, th) = raster::fit(preview.width, preview.height, self.config.thumbnail_edge);
        let mut thumbnail = raster::resize(&preview, tw, th)?;
        watermark.apply(&mut preview.as_mut())?;
        watermark.apply(&mut thumbnail.as_mut())?;
        Ok(PreviewPixels { preview, thumbnail, width, height })
    }

    /// Decodes `original` upright and fitted within `max_edge`, with the
    /// preview's scaled decode (a big JPEG is never decoded at full size),
    /// for face detection. No watermark.
    pub fn decode_fitted_sync(&self, original: &[u8], max_edge: u32) -> Result<Rgb> {
        let (_, decoded, (w, h)) = self.decode_for(original, max_edge)?;
        let fitted = if (w, h) == (decoded.image.width, decoded.image.height) {
            decoded.image
        } else {
            raster::resize(&decoded.image, w, h)?
        };
        Ok(raster::orient(fitted, decoded.orientation))
    }

    /// Runs the whole pipeline on the calling thread, with the default
    /// watermark.
    pub fn render_sync(&self, original: &[u8]) -> Result<Renditions> {
        self.render_sync_with(original, None)
    }

    /// Runs the whole pipeline on the calling thread, with an album's
    /// watermark.
    pub fn render_sync_with(&self, original: &[u8], mark: Option<&Mark>) -> Result<Renditions> {
        let watermark = self.watermark_for(mark)?;
        let r = self.render_pixels_with(original, &*watermark)?;
        Ok(Renditions {
            preview: raster::encode_jpeg_with(self.codec, &r.preview, self.config.preview_quality)?.into(),
            thumbnail: raster::encode_jpeg_with(self.codec, &r.thumbnail, self.config.thumbnail_quality)?.into(),
            width: r.width,
            height: r.height,
        })
    }
}

#[async_trait]
impl PreviewRenderer for ImagePipeline {
    fn probe(&self, head: &[u8], complete: bool) -> Result<Probe> {
        probe(head, complete, self.config.max_pixels)
    }

    async fn render(&self, original: Bytes, watermark: Option<&Mark>) -> Result<Renditions> {
        let this = self.clone();
        let mark = watermark.cloned();
        // CPU-bound: off the async workers.
        tokio::task::spawn_blocking(move || this.render_sync_with(&original, mark.as_ref()))
            .await
            .map_err(|e| Error::Image { message: format!("the renderer crashed: {e}") })?
    }

    /// Text is checked for length and characters, a logo's scale and
    /// opacity for their ranges; a plugin must be installed and must draw
    /// on a sample image with the given params (no fallback), so bad params
    /// are refused when they are set.
    fn check_watermark(&self, choice: &WatermarkChoice) -> Result<()> {
        choice.validate()?;
        let WatermarkChoice::Plugin { plugin, params } = choice else { return Ok(()) };
        let Some(p) = self.plugins.get(plugin) else {
            let installed: Vec<&str> = self.plugins.keys().map(String::as_str).collect();
            return Err(Error::invalid(
                "invalid_watermark",
                format!("no watermark plugin named {plugin:?} is installed (installed: {})", installed.join(", ")),
            ));
        };
        let mut sample = Rgb::gradient(320, 213);
        p.with_params(params)
            .apply(&mut sample.as_mut())
            .map_err(|e| Error::invalid("invalid_watermark", format!("{e} on a sample image with these params")))
    }

    fn watermark_plugins(&self) -> Vec<String> {
        self.plugins.keys().cloned().collect()
    }

    fn decode_fitted(&self, original: &[u8], max_edge: u32) -> Result<proofsheet_core::RgbPixels> {
        let rgb = self.decode_fitted_sync(original, max_edge)?;
        Ok(proofsheet_core::RgbPixels { width: rgb.width, height: rgb.height, pixels: rgb.pixels })
    }

    /// The scaled decode of "Find me" (no full-size pixels for a big JPEG),
    /// upright and fitted, then encoded at quality 90 (`WEB_QUALITY`) by the build's
    /// codec: the encoder writes no metadata, and nothing draws a mark.
    fn render_web(&self, original: &[u8], long_edge: u32) -> Result<Bytes> {
        let rgb = self.decode_fitted_sync(original, long_edge)?;
        Ok(raster::encode_jpeg_with(self.codec, &rgb, WEB_QUALITY)?.into())
    }

    /// A PNG of at most 4 megapixels (any colour type; alpha is kept).
    fn check_logo(&self, png: &[u8]) -> Result<(u32, u32)> {
        let bad = |m: String| Error::invalid("invalid_logo", m);
        let info = match probe(png, true, MAX_LOGO_PIXELS) {
            Ok(Probe::Image(info)) if info.format == proofsheet_core::ImageFormat::Png => info,
            Ok(_) => return Err(bad("a logo is a PNG file (with transparency, ideally)".into())),
            Err(e) => return Err(bad(format!("a logo is a PNG of at most 4 megapixels: {e}"))),
        };
        LogoWatermark::from_png(png, 1.0, Default::default(), 1.0).map_err(|e| bad(e.to_string()))?;
        Ok((info.width, info.height))
    }

    /// A landscape of sky and ground, light above and dark below, so a
    /// mark shows how it reads on both.
    fn sample(&self) -> Option<Bytes> {
        static SAMPLE: OnceLock<Option<Bytes>> = OnceLock::new();
        SAMPLE.get_or_init(|| raster::encode_jpeg(&Rgb::landscape(1500, 1000), 85).ok().map(Bytes::from)).clone()
    }
}
