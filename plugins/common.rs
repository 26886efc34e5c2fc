// Shared by the example plugins (included with `include!`): the ABI
// exports every Proofsheet plugin needs, and a tiny `key=value;...`
// parameter reader. Built with Debian's rustc 1.63 and no crates.

use std::alloc::{alloc, Layout};

#[no_mangle]
pub extern "C" fn proofsheet_abi_version() -> i32 {
    1
}

/// Memory for the host to write the pixels and the parameters into. It is
/// never freed: every call runs in a fresh instance.
#[no_mangle]
pub extern "C" fn proofsheet_alloc(len: i32) -> i32 {
    if len <= 0 {
        return 0;
    }
    match Layout::from_size_align(len as usize, 8) {
        Ok(layout) => unsafe { alloc(layout) as i32 },
        Err(_) => 0,
    }
}

/// `key=value;key=value` (also accepts `,` between pairs).
fn param<'a>(params: &'a str, key: &str) -> Option<&'a str> {
    params
        .split(|c| c == ';' || c == ',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim() == key)
        .map(|(_, v)| v.trim())
}

/// Every pair is `key=value` with a known key, and the numeric ones parse:
/// a typo is refused (error code 2) instead of silently ignored, so the
/// host can tell the photographer when they pick the watermark.
fn params_ok(params: &str, keys: &[&str], numeric: &[&str]) -> bool {
    params.split(|c| c == ';' || c == ',').filter(|kv| !kv.trim().is_empty()).all(|kv| match kv.split_once('=') {
        Some((k, v)) => {
            let k = k.trim();
            (keys.contains(&k) || numeric.contains(&k)) && (!numeric.contains(&k) || v.trim().parse::<f32>().is_ok())
        }
        None => false,
    })
}

fn param_f32(params: &str, key: &str, default: f32) -> f32 {
    param(params, key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The pixels and parameters the host handed over.
unsafe fn inputs<'a>(pixels: i32, width: i32, height: i32, params: i32, params_len: i32) -> Option<(&'a mut [u8], &'a str)> {
    if pixels == 0 || width <= 0 || height <= 0 || params_len < 0 {
        return None;
    }
    let px = std::slice::from_raw_parts_mut(pixels as *mut u8, width as usize * height as usize * 3);
    let p = std::slice::from_raw_parts(params as *const u8, params_len as usize);
    Some((px, std::str::from_utf8(p).unwrap_or("")))
}

/// Blends `color` over the pixel at (x, y) with `alpha` (0 to 1).
fn blend(px: &mut [u8], width: usize, x: usize, y: usize, color: [u8; 3], alpha: f32) {
    let i = (y * width + x) * 3;
    for c in 0..3 {
        let v = px[i + c] as f32 * (1.0 - alpha) + color[c] as f32 * alpha;
        px[i + c] = v.round().max(0.0).min(255.0) as u8;
    }
}

fn hex_color(s: Option<&str>, default: [u8; 3]) -> [u8; 3] {
    let s = match s {
        Some(s) if s.len() == 6 => s,
        _ => return default,
    };
    let ch = |i: usize| u8::from_str_radix(&s[i..i + 2], 16).ok();
    match (ch(0), ch(2), ch(4)) {
        (Some(r), Some(g), Some(b)) => [r, g, b],
        _ => default,
    }
}
