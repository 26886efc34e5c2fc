//! Proofsheet imaging: turns uploaded originals into watermarked previews.
//!
//! [`ImagePipeline`] implements [`proofsheet_core::PreviewRenderer`]:
//! it probes headers without decoding (format, dimensions, pixel-bomb
//! limit), decodes JPEG with zune-jpeg and PNG with `png`, resizes with
//! fast_image_resize's SIMD convolution, honours EXIF orientation, burns in
//! the built-in [`watermark`] and encodes JPEG with no metadata (so previews
//! never carry GPS positions or camera serial numbers).
//!
//! ```
//! use proofsheet_imaging::{ImagePipeline, PipelineConfig};
//!
//! let pipeline = ImagePipeline::new(PipelineConfig::default())?;
//! assert!(pipeline.render_sync(b"not an image").is_err());
//! # Ok::<(), proofsheet_core::Error>(())
//! ```
#![warn(missing_docs)]

#[cfg(feature = "faces")]
pub mod faces;
mod pipeline;
pub mod plugin;
pub mod probe;
pub mod raster;
pub mod watermark;

pub use pipeline::{ImagePipeline, PipelineConfig, PreviewPixels};
pub use raster::JpegCodec;
pub use watermark::{LogoWatermark, Position, TextWatermark, WatermarkConfig, sample_logo_png};
