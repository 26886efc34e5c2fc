//! A corner logo with opacity: a ring with a dot (a lens) on a rounded
//! square, drawn in one corner of the image.
//!
//! Parameters: `corner=br;size=0.12;opacity=0.6;margin=0.03;color=ffffff;background=000000`
//! (`corner` is tl, tr, bl or br; `size` and `margin` are fractions of the
//! short edge).

include!("../common.rs");

#[no_mangle]
pub extern "C" fn proofsheet_watermark(pixels: i32, width: i32, height: i32, params: i32, params_len: i32) -> i32 {
    let (px, params) = match unsafe { inputs(pixels, width, height, params, params_len) } {
        Some(v) => v,
        None => return 1,
    };
    if !params_ok(params, &["color", "background", "corner"], &["size", "margin", "opacity"]) {
        return 2;
    }
    let (w, h) = (width as usize, height as usize);
    let short = w.min(h) as f32;
    let size = ((param_f32(params, "size", 0.12).max(0.01).min(0.5) * short) as usize).max(8);
    let margin = (param_f32(params, "margin", 0.03).max(0.0).min(0.2) * short) as usize;
    let alpha = param_f32(params, "opacity", 0.6).max(0.0).min(1.0);
    let fg = hex_color(param(params, "color"), [255, 255, 255]);
    let bg = hex_color(param(params, "background"), [0, 0, 0]);
    if size + margin > w || size + margin > h {
        return 0; // too small an image for a logo
    }
    let (x0, y0) = match param(params, "corner").unwrap_or("br") {
        "tl" => (margin, margin),
        "tr" => (w - margin - size, margin),
        "bl" => (margin, h - margin - size),
        _ => (w - margin - size, h - margin - size),
    };
    let c = size as f32 / 2.0;
    let radius = size as f32 * 0.18;
    for y in 0..size {
        for x in 0..size {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            // Rounded square background.
            let dx = (fx - c).abs() - (c - radius);
            let dy = (fy - c).abs() - (c - radius);
            let outside = dx > 0.0 && dy > 0.0 && dx * dx + dy * dy > radius * radius;
            if outside {
                continue;
            }
            let d = ((fx - c) * (fx - c) + (fy - c) * (fy - c)).sqrt() / c;
            let lens = (d > 0.55 && d < 0.75) || d < 0.22;
            blend(px, w, x0 + x, y0 + y, if lens { fg } else { bg }, alpha);
        }
    }
    0
}
