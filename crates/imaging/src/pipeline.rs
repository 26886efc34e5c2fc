//! The preview pipeline: a clean sequence of stages, each swappable.
//!
//! probe -> decode -> resize (preview) -> orient -> resize (thumbnail) ->
//! watermark (each) -> encode (each)
//!
//! Resizing happens before orienting (the longest edge is the same either
//! way), so rotation touches 4 MP instead of 24. The thumbnail is made from
//! the clean, oriented preview rather than from the original.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use proofsheet_core::{Error, PreviewRenderer, Probe, Renditions, Result, Watermark};
use serde::{Deserialize, Serialize};

use crate::{
    probe::probe,
    raster::{self, Rgb},
    watermark::WatermarkConfig,
};

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
    /// The built-in watermark.
    pub watermark: WatermarkConfig,
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
        }
    }
}

/// The built-in [`PreviewRenderer`].
#[derive(Clone)]
pub struct ImagePipeline {
    config: PipelineConfig,
    watermark: Arc<dyn Watermark>,
}

/// Both outputs before encoding (for tests and benchmarks).
pub struct Rendered {
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
        let watermark = config.watermark.build()?;
        Ok(ImagePipeline { config, watermark })
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

    /// Runs every stage but encoding, on the calling thread.
    pub fn render_pixels(&self, original: &[u8]) -> Result<Rendered> {
        let info = match probe(original, true, self.config.max_pixels) {
            Ok(Probe::Image(info)) => info,
            Ok(Probe::NeedMore) => {
                return Err(Error::Image { message: "the image header is incomplete".into() });
            }
            Err(e) => {
                return Err(Error::Image { message: e.to_string() });
            }
        };
        // Big JPEGs are decoded straight at a fraction of their size; the
        // preview's size always comes from the original's.
        let decoded =
            raster::decode_at_least(original, info.format, info.width, info.height, self.config.preview_edge)?;
        let src = decoded.image;
        let (pw, ph) = raster::fit(info.width, info.height, self.config.preview_edge);
        let (pw, ph) = (pw.min(src.width), ph.min(src.height));
        let preview = raster::resize(&src, pw, ph)?;
        let upright = |w: u32, h: u32| {
            if decoded.orientation >= 5 { (h, w) } else { (w, h) }
        };
        let (width, height) = upright(info.width, info.height);
        drop(src);
        let mut preview = raster::orient(preview, decoded.orientation);
        let (tw, th) = raster::fit(preview.width, preview.height, self.config.thumbnail_edge);
        let mut thumbnail = raster::resize(&preview, tw, th)?;
        self.watermark.apply(&mut preview.as_mut())?;
        self.watermark.apply(&mut thumbnail.as_mut())?;
        Ok(Rendered { preview, thumbnail, width, height })
    }

    /// Runs the whole pipeline on the calling thread.
    pub fn render_sync(&self, original: &[u8]) -> Result<Renditions> {
        let r = self.render_pixels(original)?;
        Ok(Renditions {
            preview: raster::encode_jpeg(&r.preview, self.config.preview_quality)?.into(),
            thumbnail: raster::encode_jpeg(&r.thumbnail, self.config.thumbnail_quality)?.into(),
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

    async fn render(&self, original: Bytes) -> Result<Renditions> {
        let this = self.clone();
        // CPU-bound: off the async workers.
        tokio::task::spawn_blocking(move || this.render_sync(&original))
            .await
            .map_err(|e| Error::Image { message: format!("the renderer crashed: {e}") })?
    }
}
