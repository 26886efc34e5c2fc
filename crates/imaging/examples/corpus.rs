//! Writes a benchmark corpus of photographic-like JPEGs: smooth lighting,
//! soft shapes with edges, fine texture and sensor noise (so neither the
//! entropy coder nor the resizer gets an easy flat image), at the sizes
//! cameras make, some stored sideways with an EXIF orientation tag.
//!
//! `cargo run --release -p proofsheet-imaging --example corpus -- <dir> <megapixels,...> <count per size>`

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A 3:2 frame of about `mp` megapixels.
fn frame(mp: f64) -> (u16, u16) {
    let h = ((mp * 1e6 / 1.5).sqrt()).round() as u32;
    let w = h * 3 / 2;
    (w.min(65000) as u16 & !15, h.min(65000) as u16 & !15)
}

fn photo(w: u16, h: u16, seed: u32) -> Vec<u8> {
    let (w, h) = (w as usize, h as usize);
    let mut px = vec![0u8; w * h * 3];
    let mut rng = seed.wrapping_mul(2_654_435_761).max(1);
    let mut noise = || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        (rng % 17) as i32 - 8
    };
    let (cx, cy) = (w as f32 * (0.3 + (seed % 5) as f32 * 0.1), h as f32 * 0.55);
    let r2 = (h as f32 * 0.28).powi(2);
    for y in 0..h {
        let fy = y as f32 / h as f32;
        for x in 0..w {
            let fx = x as f32 / w as f32;
            // Sky-to-ground light, a soft subject with a hard edge, texture.
            let sky = [90.0 + 120.0 * (1.0 - fy), 130.0 + 90.0 * (1.0 - fy), 200.0 - 60.0 * fy];
            let d = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
            let subject = d < r2;
            let texture = ((fx * 517.0).sin() * (fy * 331.0).cos()) * 18.0;
            let base = if subject {
                [190.0 - 70.0 * fy, 120.0 + 40.0 * fx, 90.0]
            } else if fy > 0.7 {
                [70.0 + 30.0 * fx, 110.0 - 20.0 * fy, 50.0]
            } else {
                sky
            };
            let i = (y * w + x) * 3;
            for c in 0..3 {
                let v = base[c] + texture + noise() as f32;
                px[i + c] = v.clamp(0.0, 255.0) as u8;
            }
        }
    }
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 90);
    enc.set_sampling_factor(SamplingFactor::R_4_2_0);
    enc.encode(&px, w as u16, h as u16, ColorType::Rgb).expect("encodable");
    out
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: corpus <dir> <mp,...> <count>"));
    let sizes: Vec<f64> =
        args.get(2).map(String::as_str).unwrap_or("12,24,45").split(',').map(|s| s.parse().unwrap()).collect();
    let count: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    std::fs::create_dir_all(&dir).unwrap();
    for mp in sizes {
        let (w, h) = frame(mp);
        for i in 0..count {
            // Every third is stored sideways (orientation 6), as portrait
            // shots from a camera held upright are.
            let (jpeg, tag) =
                if i % 3 == 2 { (with_orientation(&photo(h, w, i), 6), "-o6") } else { (photo(w, h, i), "") };
            let name = format!("{mp}mp-{i:02}{tag}.jpg");
            std::fs::write(dir.join(&name), &jpeg).unwrap();
            println!("{name}: {w}x{h}, {} KiB", jpeg.len() / 1024);
        }
    }
}
