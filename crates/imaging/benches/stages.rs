//! Each stage of the per-upload job on a 24 MP photographic-like JPEG,
//! side by side with the alternatives it replaced, so the ratios show in
//! one run: `cargo bench -p proofsheet-imaging --bench stages`.
//! (`benches/compare_vips.sh` compares the whole job with vipsthumbnail.)

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use proofsheet_core::{ImageFormat, Watermark};
use proofsheet_imaging::{ImagePipeline, JpegCodec, PipelineConfig, raster, watermark::WatermarkConfig};

fn photo(w: u32, h: u32) -> raster::Rgb {
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    let mut rng = 0x9E37_79B9u32;
    for y in 0..h {
        for x in 0..w {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            let n = (rng % 13) as i32 - 6;
            let (fx, fy) = (x as f32 / w as f32, y as f32 / h as f32);
            let t = ((fx * 417.0).sin() * (fy * 231.0).cos() * 20.0) as i32;
            pixels.push((80 + (fx * 120.0) as i32 + t + n).clamp(0, 255) as u8);
            pixels.push((150 - (fy * 90.0) as i32 + t + n).clamp(0, 255) as u8);
            pixels.push((120 + t - n).clamp(0, 255) as u8);
        }
    }
    raster::Rgb { width: w, height: h, pixels }
}

fn stages(c: &mut Criterion) {
    let (w, h) = (6000, 4000);
    let jpeg = raster::encode_jpeg(&photo(w, h), 90).unwrap();
    // Run with the default (MozJPEG), `--features turbojpeg` and
    // `--no-default-features` (pure Rust): the group is named after the
    // codec, so the runs sit side by side in the report; each run also
    // times the pure-Rust decode and encode beside its own codec.
    let codec = JpegCodec::Auto.resolve().expect("auto always resolves");
    let mut g = c.benchmark_group(format!("24mp, {}", codec.label()));
    g.sample_size(10);
    g.bench_function("decode/full (zune-jpeg)", |b| {
        b.iter(|| raster::decode(black_box(&jpeg), ImageFormat::Jpeg).unwrap())
    });
    g.bench_function("decode/scaled for 2048 (DCT-domain, this build's codec)", |b| {
        b.iter(|| raster::decode_at_least(black_box(&jpeg), ImageFormat::Jpeg, w, h, 2048).unwrap())
    });
    if codec != JpegCodec::Rust {
        g.bench_function("decode/scaled for 2048 (pure Rust, jpeg-decoder)", |b| {
            b.iter(|| raster::decode_at_least_rust(black_box(&jpeg), ImageFormat::Jpeg, w, h, 2048).unwrap())
        });
    }
    let full = raster::decode(&jpeg, ImageFormat::Jpeg).unwrap().image;
    let scaled = raster::decode_at_least(&jpeg, ImageFormat::Jpeg, w, h, 2048).unwrap().image;
    g.bench_function("resize/full to 2048 (Lanczos3)", |b| {
        b.iter(|| raster::resize(black_box(&full), 2048, 1365).unwrap())
    });
    g.bench_function("resize/scaled to 2048 (Lanczos3)", |b| {
        b.iter(|| raster::resize(black_box(&scaled), 2048, 1365).unwrap())
    });
    let preview = raster::resize(&scaled, 2048, 1365).unwrap();
    g.bench_function("resize/thumbnail from preview", |b| {
        b.iter(|| raster::resize(black_box(&preview), 400, 267).unwrap())
    });
    g.bench_function("resize/thumbnail from original", |b| {
        b.iter(|| raster::resize(black_box(&full), 400, 267).unwrap())
    });
    let mark = WatermarkConfig::default().build(None).unwrap();
    g.bench_function("watermark/preview", |b| {
        b.iter_batched(
            || preview.clone(),
            |mut p| mark.apply(&mut p.as_mut()).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    let logo = proofsheet_imaging::LogoWatermark::from_png(
        &proofsheet_imaging::sample_logo_png(400),
        0.5,
        proofsheet_imaging::Position::BottomRight,
        0.2,
    )
    .unwrap();
    g.bench_function("watermark/preview, logo (400 px PNG, 20 % wide)", |b| {
        b.iter_batched(
            || preview.clone(),
            |mut p| logo.apply(&mut p.as_mut()).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    let host = proofsheet_imaging::plugin::PluginHost::new(64 << 20).unwrap();
    let plugin_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/build/tiled-text.wasm");
    if plugin_path.exists() {
        let plugin = host
            .load_file(&plugin_path, "text=PROOF;opacity=0.4", proofsheet_imaging::plugin::PluginLimits::default())
            .unwrap();
        g.bench_function("watermark/preview, tiled-text plugin (wasm)", |b| {
            b.iter_batched(
                || preview.clone(),
                |mut p| proofsheet_core::Watermark::apply(&plugin, &mut p.as_mut()).unwrap(),
                criterion::BatchSize::LargeInput,
            )
        });
    }
    // The host's own cost per call (a fresh instance, the pixels copied in
    // and out): a plugin that draws nothing.
    let noop = wat::parse_str(
        r#"(module (memory (export "memory") 1)
            (global $next (mut i32) (i32.const 1024))
            (func (export "proofsheet_abi_version") (result i32) (i32.const 1))
            (func (export "proofsheet_alloc") (param $len i32) (result i32) (local $p i32)
                (local.set $p (global.get $next))
                (global.set $next (i32.add (global.get $next) (local.get $len)))
                (if (i32.gt_u (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
                    (then (drop (memory.grow (i32.add (i32.div_u (i32.sub (global.get $next)
                        (i32.mul (memory.size) (i32.const 65536))) (i32.const 65536)) (i32.const 1))))))
                (local.get $p))
            (func (export "proofsheet_watermark") (param i32 i32 i32 i32 i32) (result i32) (i32.const 0)))"#,
    )
    .unwrap();
    let noop = host.load("noop", &noop, "", proofsheet_imaging::plugin::PluginLimits::default()).unwrap();
    g.bench_function("watermark/preview, no-op plugin (host overhead)", |b| {
        b.iter_batched(
            || preview.clone(),
            |mut p| proofsheet_core::Watermark::apply(&noop, &mut p.as_mut()).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("encode/preview q85 (this build's codec)", |b| {
        b.iter(|| raster::encode_jpeg(black_box(&preview), 85).unwrap())
    });
    if codec != JpegCodec::Rust {
        g.bench_function("encode/preview q85 (jpeg-encoder)", |b| {
            b.iter(|| raster::encode_jpeg_rust(black_box(&preview), 85).unwrap())
        });
    }
    g.bench_function("orient/preview (6)", |b| {
        b.iter_batched(|| preview.clone(), |p| raster::orient(p, 6), criterion::BatchSize::LargeInput)
    });
    let pipeline = ImagePipeline::new(PipelineConfig::default()).unwrap();
    g.bench_function("whole job (both sizes, watermark, encode)", |b| {
        b.iter(|| pipeline.render_sync(black_box(&jpeg)).unwrap())
    });
    g.finish();
}

/// Every JPEG codec this build has, side by side in one process on the same
/// 24 MP original: the scaled decode, the preview's encode and the whole
/// job. Build with `--features turbojpeg` to see all three
/// (`cargo bench -p proofsheet-imaging --bench stages --features turbojpeg -- codecs`).
fn codecs(c: &mut Criterion) {
    let (w, h) = (6000, 4000);
    let jpeg = raster::encode_jpeg(&photo(w, h), 90).unwrap();
    let preview = raster::resize(&raster::decode(&jpeg, ImageFormat::Jpeg).unwrap().image, 2048, 1365).unwrap();
    let mut g = c.benchmark_group("24mp, codecs side by side");
    g.sample_size(10);
    for &codec in JpegCodec::built() {
        let label = codec.label();
        g.bench_function(format!("decode/scaled for 2048 ({label})"), |b| {
            b.iter(|| raster::decode_at_least_with(codec, black_box(&jpeg), ImageFormat::Jpeg, w, h, 2048).unwrap())
        });
        g.bench_function(format!("encode/preview q85 ({label})"), |b| {
            b.iter(|| raster::encode_jpeg_with(codec, black_box(&preview), 85).unwrap())
        });
        let pipeline = ImagePipeline::new(PipelineConfig { jpeg_codec: codec, ..PipelineConfig::default() }).unwrap();
        g.bench_function(format!("whole job ({label})"), |b| {
            b.iter(|| pipeline.render_sync(black_box(&jpeg)).unwrap())
        });
    }
    g.finish();
}

criterion_group!(benches, stages, codecs);
criterion_main!(benches);
