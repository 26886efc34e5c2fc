//! The built-in pipeline against the renderer suite, and its quality.

use proofsheet_core::testkit;
use proofsheet_imaging::{ImagePipeline, JpegCodec, PipelineConfig, raster, sample_logo_png};

/// One pipeline per JPEG codec this build has (pure Rust always; MozJPEG
/// and libjpeg-turbo with their features), so one build tests them all.
fn each_codec(config: PipelineConfig) -> Vec<(JpegCodec, ImagePipeline)> {
    JpegCodec::built()
        .iter()
        .map(|&codec| {
            let config = PipelineConfig { jpeg_codec: codec, ..config.clone() };
            (codec, ImagePipeline::new(config).unwrap())
        })
        .collect()
}

/// A config with no watermark (for pixel comparisons).
fn unmarked() -> PipelineConfig {
    let mut cfg = PipelineConfig::default();
    cfg.watermark.text = String::new();
    cfg
}

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
    let logo = sample_logo_png(120);
    for (codec, pipeline) in each_codec(PipelineConfig::default()) {
        let name = format!("image-pipeline ({})", codec.label());
        testkit::preview_renderer(&name, &pipeline, &jpeg, 1600, 1000, Some(&logo)).await;
    }
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

/// A big JPEG goes through the fast path (decoded at 1/2 scale in the DCT
/// domain, then Lanczos3 to the exact size). Compared with the slow,
/// high-quality reference (full-size decode, then Lanczos3), it must be
/// visually the same: above 35 dB PSNR, where JPEG q85 itself sits.
#[test]
fn the_scaled_decode_matches_a_full_decode_reference() {
    let src = photo_like(6000, 4000);
    let jpeg = raster::encode_jpeg(&src, 92).unwrap();
    let full = raster::decode(&jpeg, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
    let reference = raster::resize(&full, 2048, 1365).unwrap();
    for (codec, pipeline) in each_codec(unmarked()) {
        let fast = pipeline.render_pixels(&jpeg).unwrap();
        assert_eq!((fast.preview.width, fast.preview.height), (2048, 1365));
        assert_eq!((fast.width, fast.height), (6000, 4000), "the original's size, not the decoded one");
        let se: f64 =
            fast.preview.pixels.iter().zip(&reference.pixels).map(|(&a, &b)| (a as f64 - b as f64).powi(2)).sum();
        let psnr = 10.0 * (255.0f64 * 255.0 / (se / reference.pixels.len() as f64)).log10();
        eprintln!("{}: scaled decode vs full decode reference: {psnr:.1} dB", codec.label());
        assert!(psnr > 35.0, "{}: PSNR {psnr:.1} dB", codec.label());
    }
}

/// Inserts an EXIF APP1 segment carrying only `orientation` after SOI.
fn with_orientation(jpeg: &[u8], orientation: u8) -> Vec<u8> {
    let tiff = [b'M', b'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let len = (app1.len() + 2) as u16;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1, (len >> 8) as u8, len as u8];
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// All eight EXIF orientations, on the fast (scaled) path and the full one:
/// a red block stored in the top-left corner ends where the tag says.
#[test]
fn every_exif_orientation_comes_out_upright() {
    for (w, h) in [(4400u32, 3000u32), (1200, 800)] {
        let mut src = raster::Rgb { width: w, height: h, pixels: vec![40; (w * h * 3) as usize] };
        for y in 0..h / 3 {
            for x in 0..w / 3 {
                let i = ((y * w + x) * 3) as usize;
                src.pixels[i..i + 3].copy_from_slice(&[230, 20, 20]);
            }
        }
        let jpeg = raster::encode_jpeg(&src, 90).unwrap();
        for (codec, pipeline) in each_codec(unmarked()) {
            for o in 1..=8u8 {
                let out = pipeline.render_pixels(&with_orientation(&jpeg, o)).unwrap();
                let p = &out.preview;
                let swapped = o >= 5;
                assert_eq!((p.width > p.height), !swapped, "{w}x{h} orientation {o}: {}x{}", p.width, p.height);
                // Where the stored top-left corner lands once upright (EXIF 1-8).
                let (right, bottom) = match o {
                    1 => (false, false),
                    2 => (true, false),
                    3 => (true, true),
                    4 => (false, true),
                    5 => (false, false),
                    6 => (true, false),
                    7 => (true, true),
                    _ => (false, true),
                };
                let x = if right { p.width - p.width / 12 } else { p.width / 12 };
                let y = if bottom { p.height - p.height / 12 } else { p.height / 12 };
                let [r, _, b] = p.pixel(x, y);
                let at = p.pixel(x, y);
                assert!(r > 180 && b < 80, "{} {w}x{h} orientation {o}: corner ({x},{y}) is {at:?}", codec.label());
            }
        }
    }
}

/// CMYK JPEGs (print workflows export them) are decoded too: libjpeg-turbo
/// cannot make RGB of them, so the `turbojpeg` build falls back to the
/// pure-Rust decoders. Big (scaled path) and small (full decode) alike.
#[test]
fn cmyk_jpegs_render_on_every_decode_path() {
    for (w, h) in [(4400u16, 2900u16), (1200, 800)] {
        // K only (C = M = Y = 0): a grey ramp whichever way a decoder
        // treats Adobe's inverted CMYK.
        let mut cmyk = Vec::with_capacity(w as usize * h as usize * 4);
        for _y in 0..h {
            for x in 0..w {
                cmyk.extend([0, 0, 0, (x as u32 * 255 / w as u32) as u8]);
            }
        }
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 90).encode(&cmyk, w, h, jpeg_encoder::ColorType::Cmyk).unwrap();
        for (codec, pipeline) in each_codec(PipelineConfig::default()) {
            let out = pipeline.render_sync(&jpeg).unwrap();
            assert_eq!((out.width, out.height), (w as u32, h as u32));
            let preview = raster::decode(&out.preview, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
            assert_eq!(preview.width, (w as u32).min(2048));
            let [r, g, b] = preview.pixel(preview.width / 2, 5);
            assert!(r.abs_diff(g) < 12 && g.abs_diff(b) < 12, "{}: grey stays grey: {r} {g} {b}", codec.label());
        }
    }
}

/// Each codec of the build really is a different codec: libjpeg-turbo's
/// bytes differ from jpeg-encoder's, MozJPEG decodes in eighths where
/// jpeg-decoder only halves, all decode to the same picture; `auto` takes
/// the fastest, and naming a codec the build lacks is a clear error.
#[test]
fn each_codec_of_the_build_is_the_codec_it_says() {
    use proofsheet_core::ImageFormat::Jpeg;
    let img = photo_like(640, 480);
    let rust = raster::encode_jpeg_rust(&img, 85).unwrap();
    let reference = raster::decode(&rust, Jpeg).unwrap().image;
    let mean_diff = |a: &raster::Rgb| {
        let diff = a.pixels.iter().zip(&reference.pixels).map(|(x, y)| x.abs_diff(*y) as u64).sum::<u64>() as f64;
        diff / a.pixels.len() as f64
    };
    let built = JpegCodec::built();
    assert_eq!(built[0], JpegCodec::Rust);
    assert_eq!(built.contains(&JpegCodec::Mozjpeg), cfg!(feature = "mozjpeg"));
    assert_eq!(built.contains(&JpegCodec::Turbojpeg), cfg!(feature = "turbojpeg"));
    assert_eq!(JpegCodec::Auto.resolve().unwrap(), *built.last().unwrap());
    for &codec in built {
        let ours = raster::encode_jpeg_with(codec, &img, 85).unwrap();
        assert_eq!(ours == rust, codec != JpegCodec::Turbojpeg, "{}: its own encoder or jpeg-encoder", codec.label());
        let decoded = raster::decode_at_least_with(codec, &ours, Jpeg, 640, 480, 200).unwrap().image;
        // 3/8 covers 200 px of 640 in eighths; jpeg-decoder's halves stop at 1/2.
        let expected = if codec == JpegCodec::Rust { (320, 240) } else { (240, 180) };
        assert_eq!((decoded.width, decoded.height), expected, "{}", codec.label());
        let full = raster::decode_at_least_with(codec, &ours, Jpeg, 640, 480, 640).unwrap().image;
        assert!(mean_diff(&full) < 3.0, "{}: mean difference {}", codec.label(), mean_diff(&full));
    }
    for codec in [JpegCodec::Mozjpeg, JpegCodec::Turbojpeg] {
        if !built.contains(&codec) {
            let err =
                ImagePipeline::new(PipelineConfig { jpeg_codec: codec, ..PipelineConfig::default() }).unwrap_err();
            assert!(err.to_string().contains(codec.key()), "{err}");
        }
    }
}

/// Damaged JPEGs (bytes flipped in the headers and the entropy-coded data,
/// a cut-off end patched with an end-of-image marker) never crash any
/// codec of the build: each renders or fails with an image error, and the
/// pipeline goes on working. CI builds all three codecs into one test run,
/// so MozJPEG and libjpeg-turbo get the same damage as the pure-Rust
/// decoders. Sizes on both sides of the scaled-decode threshold.
#[test]
fn damaged_jpegs_fail_cleanly_on_every_decode_path() {
    for (codec, pipeline) in each_codec(PipelineConfig::default()) {
        damaged_jpegs_fail_cleanly(codec, &pipeline);
    }
}

fn damaged_jpegs_fail_cleanly(codec: JpegCodec, pipeline: &ImagePipeline) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut rendered, mut refused) = (0, 0);
    for (w, h) in [(4200u32, 2800u32), (900, 600)] {
        let good = raster::encode_jpeg(&photo_like(w, h), 85).unwrap();
        for i in 0..60 {
            let mut bad = good.clone();
            match i % 3 {
                // A few random bytes anywhere after the SOI marker.
                0 => {
                    for _ in 0..1 + next() % 6 {
                        let at = 2 + (next() as usize % (bad.len() - 4));
                        bad[at] = next() as u8;
                    }
                }
                // A byte in the first 600 (the headers and tables).
                1 => {
                    let at = 2 + (next() as usize % 600);
                    bad[at] ^= 1 << (next() % 8);
                }
                // Cut short, with an end-of-image marker put back.
                _ => {
                    bad.truncate(bad.len() / 2 + next() as usize % (bad.len() / 3));
                    bad.extend([0xFF, 0xD9]);
                }
            }
            match pipeline.render_sync(&bad) {
                Ok(out) => {
                    assert!(out.preview.starts_with(&[0xFF, 0xD8]));
                    rendered += 1;
                }
                Err(e) => {
                    assert_eq!(e.code(), "image_rejected", "{}: {e}", codec.label());
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 0, "{}: some damage must be refused ({rendered} rendered)", codec.label());
    // And the pipeline still works.
    let good = raster::encode_jpeg(&photo_like(900, 600), 85).unwrap();
    assert_eq!(pipeline.render_sync(&good).unwrap().width, 900);
}

/// A `web` product's file: upright, its long edge at 2048 px, never
/// enlarged, no watermark (the default mark is on: the preview has it, the
/// web file does not), no metadata; on every codec of the build.
#[test]
fn web_files_are_2048_px_unmarked_and_upright() {
    use proofsheet_core::PreviewRenderer;
    let src = photo_like(4096, 3072);
    let jpeg = raster::encode_jpeg(&src, 95).unwrap();
    // Stored rotated (orientation 6: turn 90° clockwise to show).
    let rotated = with_orientation(&jpeg, 6);
    let clean = |img: &raster::Rgb| raster::resize(img, img.width / 2, img.height / 2).unwrap();
    let reference = clean(&src);
    let psnr = |a: &raster::Rgb, b: &raster::Rgb| {
        assert_eq!((a.width, a.height), (b.width, b.height));
        let se: f64 = a.pixels.iter().zip(&b.pixels).map(|(x, y)| (*x as f64 - *y as f64).powi(2)).sum();
        10.0 * (255.0f64 * 255.0 / (se / a.pixels.len() as f64)).log10()
    };
    for (codec, pipeline) in each_codec(PipelineConfig::default()) {
        let web = pipeline.render_web(&jpeg, 2048).unwrap();
        assert!(!web.windows(4).any(|w| w == b"Exif"), "{codec:?}: no metadata");
        let decoded = raster::decode(&web, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
        assert_eq!((decoded.width, decoded.height), (2048, 1536), "{codec:?}");
        let web_psnr = psnr(&decoded, &reference);
        assert!(web_psnr > 32.0, "{codec:?}: the web file is the photo: {web_psnr:.1} dB");
        // The watermarked preview of the same photo is measurably farther.
        let preview = pipeline.render_sync(&jpeg).unwrap().preview;
        let preview = raster::decode(&preview, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
        let marked = psnr(&preview, &reference);
        assert!(web_psnr > marked + 3.0, "{codec:?}: no watermark ({web_psnr:.1} dB vs the preview's {marked:.1})");
        // Upright: the stored-rotated original comes out portrait.
        let upright = pipeline.render_web(&rotated, 2048).unwrap();
        let upright = raster::decode(&upright, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
        assert_eq!((upright.width, upright.height), (1536, 2048), "{codec:?}: orientation applied");
        // Never enlarged: a small photo stays its size.
        let small = raster::encode_jpeg(&photo_like(800, 600), 90).unwrap();
        let kept = pipeline.render_web(&small, 2048).unwrap();
        let kept = raster::decode(&kept, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
        assert_eq!((kept.width, kept.height), (800, 600), "{codec:?}");
        // A damaged file is a clear error.
        let e = pipeline.render_web(&jpeg[..jpeg.len() / 3], 2048).unwrap_err();
        assert!(matches!(e, proofsheet_core::Error::Image { .. }), "{codec:?}: {e}");
    }
}
