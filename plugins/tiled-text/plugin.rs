//! Tiled diagonal text: the album's text repeated over the whole image on
//! 30-degree diagonals, blended with an opacity.
//!
//! Parameters: `text=PROOF;opacity=0.3;scale=0;color=ffffff;spacing=1.6`
//! (`scale=0` sizes the letters from the image: about 1/40 of the short
//! edge per 8-pixel glyph row).

include!("../common.rs");

/// font8x8 (public domain), printable ASCII 0x20..0x7F, 8 rows of 8 bits (bit 0 = left).
const FONT: [[u8; 8]; 95] = [
    [0, 0, 0, 0, 0, 0, 0, 0],
    [24, 60, 60, 24, 24, 0, 24, 0],
    [54, 54, 0, 0, 0, 0, 0, 0],
    [54, 54, 127, 54, 127, 54, 54, 0],
    [12, 62, 3, 30, 48, 31, 12, 0],
    [0, 99, 51, 24, 12, 102, 99, 0],
    [28, 54, 28, 110, 59, 51, 110, 0],
    [6, 6, 3, 0, 0, 0, 0, 0],
    [24, 12, 6, 6, 6, 12, 24, 0],
    [6, 12, 24, 24, 24, 12, 6, 0],
    [0, 102, 60, 255, 60, 102, 0, 0],
    [0, 12, 12, 63, 12, 12, 0, 0],
    [0, 0, 0, 0, 0, 12, 12, 6],
    [0, 0, 0, 63, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 12, 12, 0],
    [96, 48, 24, 12, 6, 3, 1, 0],
    [62, 99, 115, 123, 111, 103, 62, 0],
    [12, 14, 12, 12, 12, 12, 63, 0],
    [30, 51, 48, 28, 6, 51, 63, 0],
    [30, 51, 48, 28, 48, 51, 30, 0],
    [56, 60, 54, 51, 127, 48, 120, 0],
    [63, 3, 31, 48, 48, 51, 30, 0],
    [28, 6, 3, 31, 51, 51, 30, 0],
    [63, 51, 48, 24, 12, 12, 12, 0],
    [30, 51, 51, 30, 51, 51, 30, 0],
    [30, 51, 51, 62, 48, 24, 14, 0],
    [0, 12, 12, 0, 0, 12, 12, 0],
    [0, 12, 12, 0, 0, 12, 12, 6],
    [24, 12, 6, 3, 6, 12, 24, 0],
    [0, 0, 63, 0, 0, 63, 0, 0],
    [6, 12, 24, 48, 24, 12, 6, 0],
    [30, 51, 48, 24, 12, 0, 12, 0],
    [62, 99, 123, 123, 123, 3, 30, 0],
    [12, 30, 51, 51, 63, 51, 51, 0],
    [63, 102, 102, 62, 102, 102, 63, 0],
    [60, 102, 3, 3, 3, 102, 60, 0],
    [31, 54, 102, 102, 102, 54, 31, 0],
    [127, 70, 22, 30, 22, 70, 127, 0],
    [127, 70, 22, 30, 22, 6, 15, 0],
    [60, 102, 3, 3, 115, 102, 124, 0],
    [51, 51, 51, 63, 51, 51, 51, 0],
    [30, 12, 12, 12, 12, 12, 30, 0],
    [120, 48, 48, 48, 51, 51, 30, 0],
    [103, 102, 54, 30, 54, 102, 103, 0],
    [15, 6, 6, 6, 70, 102, 127, 0],
    [99, 119, 127, 127, 107, 99, 99, 0],
    [99, 103, 111, 123, 115, 99, 99, 0],
    [28, 54, 99, 99, 99, 54, 28, 0],
    [63, 102, 102, 62, 6, 6, 15, 0],
    [30, 51, 51, 51, 59, 30, 56, 0],
    [63, 102, 102, 62, 54, 102, 103, 0],
    [30, 51, 7, 14, 56, 51, 30, 0],
    [63, 45, 12, 12, 12, 12, 30, 0],
    [51, 51, 51, 51, 51, 51, 63, 0],
    [51, 51, 51, 51, 51, 30, 12, 0],
    [99, 99, 99, 107, 127, 119, 99, 0],
    [99, 99, 54, 28, 28, 54, 99, 0],
    [51, 51, 51, 30, 12, 12, 30, 0],
    [127, 99, 49, 24, 76, 102, 127, 0],
    [30, 6, 6, 6, 6, 6, 30, 0],
    [3, 6, 12, 24, 48, 96, 64, 0],
    [30, 24, 24, 24, 24, 24, 30, 0],
    [8, 28, 54, 99, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 255],
    [12, 12, 24, 0, 0, 0, 0, 0],
    [0, 0, 30, 48, 62, 51, 110, 0],
    [7, 6, 6, 62, 102, 102, 59, 0],
    [0, 0, 30, 51, 3, 51, 30, 0],
    [56, 48, 48, 62, 51, 51, 110, 0],
    [0, 0, 30, 51, 63, 3, 30, 0],
    [28, 54, 6, 15, 6, 6, 15, 0],
    [0, 0, 110, 51, 51, 62, 48, 31],
    [7, 6, 54, 110, 102, 102, 103, 0],
    [12, 0, 14, 12, 12, 12, 30, 0],
    [48, 0, 48, 48, 48, 51, 51, 30],
    [7, 6, 102, 54, 30, 54, 103, 0],
    [14, 12, 12, 12, 12, 12, 30, 0],
    [0, 0, 51, 127, 127, 107, 99, 0],
    [0, 0, 31, 51, 51, 51, 51, 0],
    [0, 0, 30, 51, 51, 51, 30, 0],
    [0, 0, 59, 102, 102, 62, 6, 15],
    [0, 0, 110, 51, 51, 62, 48, 120],
    [0, 0, 59, 110, 102, 6, 15, 0],
    [0, 0, 62, 3, 30, 48, 31, 0],
    [8, 12, 62, 12, 12, 44, 24, 0],
    [0, 0, 51, 51, 51, 51, 110, 0],
    [0, 0, 51, 51, 51, 30, 12, 0],
    [0, 0, 99, 107, 127, 127, 54, 0],
    [0, 0, 99, 54, 28, 54, 99, 0],
    [0, 0, 51, 51, 51, 62, 48, 31],
    [0, 0, 63, 25, 12, 38, 63, 0],
    [56, 12, 12, 7, 12, 12, 56, 0],
    [24, 24, 24, 0, 24, 24, 24, 0],
    [7, 12, 12, 56, 12, 12, 7, 0],
    [110, 59, 0, 0, 0, 0, 0, 0],
];

#[no_mangle]
pub extern "C" fn proofsheet_watermark(pixels: i32, width: i32, height: i32, params: i32, params_len: i32) -> i32 {
    let (px, params) = match unsafe { inputs(pixels, width, height, params, params_len) } {
        Some(v) => v,
        None => return 1,
    };
    if !params_ok(params, &["text", "color"], &["opacity", "scale", "spacing"]) {
        return 2;
    }
    let (w, h) = (width as usize, height as usize);
    let text: Vec<u8> = param(params, "text").unwrap_or("PROOF").bytes().filter(|b| (0x20..0x7F).contains(b)).collect();
    if text.is_empty() {
        return 0;
    }
    let alpha = param_f32(params, "opacity", 0.3).max(0.0).min(1.0);
    let color = hex_color(param(params, "color"), [255, 255, 255]);
    let mut scale = param_f32(params, "scale", 0.0) as usize;
    if scale == 0 {
        scale = (w.min(h) / 320).max(1);
    }
    let spacing = param_f32(params, "spacing", 1.6).max(1.0);
    let glyph = 8 * scale;
    let run = text.len() * glyph;
    let period_x = (run as f32 * spacing) as usize + glyph;
    let period_y = (glyph as f32 * 4.0 * spacing) as usize;
    // Shear: a text pixel at (u, v) lands at (u, v - u/2): about 27 degrees
    // up. Text-space rows come in bands (`glyph` rows of text every
    // `period_y`), so each column only visits the rows of its bands instead
    // of every pixel.
    for x in 0..w {
        let half = x / 2;
        for band in half / period_y..=(h - 1 + half) / period_y {
            let shift = band * (period_x / 3);
            let u = (x + shift) % period_x;
            if u >= run {
                continue;
            }
            let glyph_rows = &FONT[(text[u / glyph] - 0x20) as usize];
            let gx = (u % glyph) / scale;
            for row_band in 0..glyph {
                let v = band * period_y + row_band;
                if v < half {
                    continue;
                }
                let y = v - half;
                if y >= h {
                    break;
                }
                if glyph_rows[row_band / scale] >> gx & 1 == 1 {
                    blend(px, w, x, y, color, alpha);
                }
            }
        }
    }
    0
}
