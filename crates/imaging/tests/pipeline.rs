//! The built-in pipeline against the renderer suite, and its quality.

use proofsheet_core::testkit;
use proofsheet_imaging::{ImagePipeline, PipelineConfig, raster};

/// A smooth, photo-like test image (gradients and soft shapes).
fn photo_like(w: u32, h: u32) -> raster::Rgb {
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let fx = x as f32 / w as f32;
            let fy = y as f32 / h as f32;
            let wave = ((fx * 12.0).sin() * (fy * 9.0).cos() * 60.0) as i32;
            pixels.push((90 + (fx * 120.0) as i32 + wave).clamp(0, 255) as u8);
            pixels.push((70 + (fy * 140.0) as i32 - wave / 2).clamp(0, 255) as u8);
            pixels.push((160 - (fx * fy * 100.0) as i32 + wave / 3).clamp(0, 255) as u8);
        }
    }
    raster::Rgb { width: w, height: h, pixels }
}

#[tokio::test]
async fn image_pipeline_passes_the_renderer_suite() {
    let jpeg = raster::encode_jpeg(&photo_like(1600, 1000), 92).unwrap();
    let pipeline = ImagePipeline::new(PipelineConfig::default()).unwrap();
    testkit::preview_renderer("image-pipeline", &pipeline, &jpeg, 1600, 1000).await;
}

/// PSNR of the unwatermarked preview against an exact area-average
/// downscale of the same pixels. 30 dB is the usual floor for "visually
/// the same" after a JPEG round trip; Lanczos + q85 lands well above it.
#[test]
fn previews_stay_close_to_a_reference_downscale() {
    let src = photo_like(2048 * 2, 1536 * 2);
    let jpeg = raster::encode_jpeg(&src, 95).unwrap();
    let mut cfg = PipelineConfig::default();
    cfg.watermark.text = String::new();
    let out = ImagePipeline::new(cfg).unwrap().render_pixels(&jpeg).unwrap();
    assert_eq!((out.preview.width, out.preview.height), (2048, 1536));
    // Reference: 2x2 box average of the source (exact for a factor of 2).
    let mut se = 0f64;
    for y in 0..1536u32 {
        for x in 0..2048u32 {
            for c in 0..3 {
                let s: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                    .iter()
                    .map(|(dx, dy)| src.pixels[(((y * 2 + dy) * src.width + x * 2 + dx) * 3 + c) as usize] as u32)
                    .sum();
                let r = s as f64 / 4.0;
                let p = out.preview.pixels[((y * 2048 + x) * 3 + c) as usize] as f64;
                se += (r - p) * (r - p);
            }
        }
    }
    let mse = se / (2048.0 * 1536.0 * 3.0);
    let psnr = 10.0 * (255.0f64 * 255.0 / mse).log10();
    assert!(psnr > 30.0, "preview PSNR {psnr:.1} dB");
}

#[test]
fn a_png_with_alpha_becomes_a_preview_on_white() {
    let mut png_bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png_bytes, 64, 32);
        enc.set_color(png::ColorType::Rgba);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&[0, 0, 0, 0].repeat(64 * 32)).unwrap();
    }
    let mut cfg = PipelineConfig::default();
    cfg.watermark.text = String::new();
    let out = ImagePipeline::new(cfg).unwrap().render_pixels(&png_bytes).unwrap();
    assert_eq!((out.width, out.height), (64, 32));
    assert!(out.preview.pixels.iter().all(|&v| v == 255), "transparent pixels become white");
}
