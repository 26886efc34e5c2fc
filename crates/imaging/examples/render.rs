//! Renders the preview and thumbnail of one image with the default pipeline:
//!
//! ```sh
//! cargo run --release -p proofsheet-imaging --example render -- photo.jpg out/
//! ```
//!
//! Without an input (`-` as the first argument) it renders a generated
//! 4000 x 3000 test pattern, handy for looking at the watermark.

use std::path::PathBuf;

use proofsheet_imaging::{ImagePipeline, PipelineConfig, raster};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let input = args.next().unwrap_or_else(|| "-".into());
    let out = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let original = if input == "-" {
        let (w, h) = (4000u32, 3000u32);
        let mut pixels = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let fx = x as f32 / w as f32;
                let fy = y as f32 / h as f32;
                pixels.extend_from_slice(&[
                    (40.0 + 180.0 * fx) as u8,
                    (60.0 + 140.0 * fy) as u8,
                    (200.0 - 120.0 * fx * fy) as u8,
                ]);
            }
        }
        raster::encode_jpeg(&raster::Rgb { width: w, height: h, pixels }, 90)?
    } else {
        std::fs::read(&input)?
    };
    let started = std::time::Instant::now();
    let pipeline = ImagePipeline::new(PipelineConfig::default())?;
    let r = pipeline.render_sync(&original)?;
    println!("rendered in {:?}: original {}x{}", started.elapsed(), r.width, r.height);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("preview.jpg"), &r.preview)?;
    std::fs::write(out.join("thumbnail.jpg"), &r.thumbnail)?;
    // A lossless copy too, for viewers that show PNG only.
    let px = pipeline.render_pixels(&original)?;
    let file = std::io::BufWriter::new(std::fs::File::create(out.join("preview.png"))?);
    let mut enc = png::Encoder::new(file, px.preview.width, px.preview.height);
    enc.set_color(png::ColorType::Rgb);
    enc.write_header()?.write_image_data(&px.preview.pixels)?;
    println!("wrote preview.jpg, thumbnail.jpg and preview.png in {}", out.display());
    Ok(())
}
