//! The WebAssembly watermark host: a working plugin, and every way a plugin
//! can misbehave, each ending in a clear error and a host that goes on.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use proofsheet_core::{Mark, RgbImageMut, Watermark};
use proofsheet_imaging::plugin::{PluginHost, PluginLimits, PluginWatermark};

/// A bump allocator and the three exports around `body`, which sees
/// `$p $w $h $q $n` (pixels, width, height, params, params length).
fn plugin(body: &str, memory_pages: u32, version: i32) -> String {
    format!(
        r#"(module
            (memory (export "memory") {memory_pages})
            (global $next (mut i32) (i32.const 1024))
            (func (export "proofsheet_abi_version") (result i32) (i32.const {version}))
            (func (export "proofsheet_alloc") (param $len i32) (result i32)
                (local $ptr i32)
                (local.set $ptr (global.get $next))
                (global.set $next (i32.add (global.get $next) (local.get $len)))
                ;; grow when needed (64 KiB pages), 0 when it cannot
                (block $ok
                    (br_if $ok (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
                    (br_if $ok (i32.ne (memory.grow (i32.add (i32.div_u (i32.sub (global.get $next)
                        (i32.mul (memory.size) (i32.const 65536))) (i32.const 65536)) (i32.const 1))) (i32.const -1)))
                    (local.set $ptr (i32.const 0)))
                (local.get $ptr))
            (func (export "proofsheet_watermark") (param $p i32) (param $w i32) (param $h i32) (param $q i32) (param $n i32) (result i32)
                {body}))"#
    )
}

/// Inverts every pixel: easy to check.
const INVERT: &str = r#"
    (local $i i32) (local $end i32)
    (local.set $i (local.get $p))
    (local.set $end (i32.add (local.get $p) (i32.mul (i32.mul (local.get $w) (local.get $h)) (i32.const 3))))
    (block $done (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (i32.store8 (local.get $i) (i32.sub (i32.const 255) (i32.load8_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.const 0)"#;

fn image(w: u32, h: u32) -> Vec<u8> {
    (0..w * h * 3).map(|i| (i % 251) as u8).collect()
}

/// A host of its own per test (tests run in parallel; hosts share nothing).
fn host() -> PluginHost {
    PluginHost::with_max_memory().unwrap()
}

fn load(body: &str, limits: PluginLimits) -> PluginWatermark {
    host().load("test", &wat::parse_str(plugin(body, 1, 1)).unwrap(), "{}", limits).unwrap()
}

fn run(p: &dyn Watermark, w: u32, h: u32) -> (Vec<u8>, proofsheet_core::Result<()>) {
    let mut px = image(w, h);
    let r = p.apply(&mut RgbImageMut { width: w, height: h, pixels: &mut px });
    (px, r)
}

#[test]
fn a_plugin_draws_on_the_pixels() {
    let p = load(INVERT, PluginLimits::default());
    let (px, r) = run(&p, 300, 200);
    r.unwrap();
    assert!(px.iter().zip(image(300, 200)).all(|(a, b)| *a == 255 - b));
}

#[test]
fn a_looping_plugin_is_stopped_at_its_deadline() {
    let limits = PluginLimits { deadline: Duration::from_millis(200), ..PluginLimits::default() };
    let p = load("(loop $forever (br $forever)) (i32.const 0)", limits);
    let started = Instant::now();
    let (px, r) = run(&p, 64, 64);
    let took = started.elapsed();
    let e = r.unwrap_err();
    assert!(e.to_string().contains("deadline"), "{e}");
    // The bound is wide on purpose: a loaded 2-core machine may delay the
    // epoch ticker by a second, while a loop that is not stopped never ends.
    assert!(took < Duration::from_secs(3), "stopped after {took:?} (deadline 200 ms)");
    assert_eq!(px, image(64, 64), "nothing written back from a failed call");
}

#[test]
fn a_memory_hungry_plugin_hits_the_cap() {
    let limits = PluginLimits { memory_bytes: 4 << 20, ..PluginLimits::default() };
    // Grows by 1 MiB at a time until it cannot, then reports the failure.
    let hog = r#"
        (block $capped (loop $more
            (br_if $capped (i32.eq (memory.grow (i32.const 16)) (i32.const -1)))
            (br $more)))
        (i32.const 7)"#;
    let p = load(hog, limits);
    let e = run(&p, 16, 16).1.unwrap_err();
    assert!(e.to_string().contains("error code 7"), "{e}");
    // An image bigger than the cap cannot even be handed over.
    let e = run(&load(INVERT, limits), 1500, 1000).1.unwrap_err();
    assert!(e.to_string().contains("memory"), "{e}");
}

#[test]
fn a_plugin_importing_wasi_does_not_load() {
    let wasi = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1))"#;
    let e = host().load("wasi", &wat::parse_str(wasi).unwrap(), "", PluginLimits::default()).unwrap_err();
    assert!(e.to_string().contains("imports wasi_snapshot_preview1::fd_write, which is not granted"), "{e}");
}

#[test]
fn malformed_plugins_are_refused_with_a_reason() {
    let cases = [
        ("garbage", b"\0asm garbage".to_vec(), "not a valid module"),
        ("no exports", wat::parse_str("(module (memory (export \"memory\") 1))").unwrap(), "does not export"),
        ("version 2", wat::parse_str(plugin("(i32.const 0)", 1, 2)).unwrap(), "ABI version 2"),
    ];
    for (name, wasm, want) in cases {
        let e = host().load(name, &wasm, "", PluginLimits::default()).unwrap_err();
        assert_eq!(e.code(), "image_rejected", "{name}");
        assert!(e.to_string().contains(want), "{name}: {e}");
    }
}

#[test]
fn traps_and_garbage_are_errors_and_the_fallback_takes_over() {
    let trap = load("(unreachable)", PluginLimits::default());
    let e = run(&trap, 8, 8).1.unwrap_err();
    assert!(e.to_string().contains("trapped"), "{e}");
    let oob = load("(i32.store (i32.const -4) (i32.const 1)) (i32.const 0)", PluginLimits::default());
    assert!(run(&oob, 8, 8).1.unwrap_err().to_string().contains("trapped"));
    let refusing = load("(i32.const 3)", PluginLimits::default());
    assert!(run(&refusing, 8, 8).1.unwrap_err().to_string().contains("error code 3"));
    let invert = Arc::new(load(INVERT, PluginLimits::default()));
    let with_fallback = trap.with_fallback(invert);
    let (px, r) = run(&with_fallback, 8, 8);
    r.unwrap();
    assert!(px.iter().zip(image(8, 8)).all(|(a, b)| *a == 255 - b), "the fallback drew instead");
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_thousand_trapping_calls_do_not_grow_memory() {
    let trap = load("(unreachable)", PluginLimits::default());
    for _ in 0..50 {
        let _ = run(&trap, 64, 64);
    }
    let before = rss_kib();
    for _ in 0..1000 {
        assert!(run(&trap, 64, 64).1.is_err());
    }
    let grown = rss_kib().saturating_sub(before);
    eprintln!("RSS grew {grown} KiB over 1000 trapping calls");
    assert!(grown < 10 * 1024, "RSS grew {grown} KiB");
}

#[test]
fn two_plugins_run_at_once() {
    let a = load(INVERT, PluginLimits::default());
    let b = load("(i32.store8 (local.get $p) (i32.const 7)) (i32.const 0)", PluginLimits::default());
    std::thread::scope(|s| {
        let ha = s.spawn(|| (0..50).all(|_| run(&a, 200, 100).1.is_ok()));
        let hb = s.spawn(|| (0..50).all(|_| run(&b, 200, 100).1.is_ok()));
        assert!(ha.join().unwrap() && hb.join().unwrap());
    });
}

/// Pooled slots are reused, but nothing of one call survives into the
/// next: a plugin that leaves a mark in its memory (in the first page and
/// past the pixels) never finds it again.
#[test]
fn no_call_sees_what_the_previous_one_left() {
    let body = r#"
        (local $far i32)
        (local.set $far (i32.add (local.get $p) (i32.mul (i32.mul (local.get $w) (local.get $h)) (i32.const 3))))
        (if (i32.or (i32.load8_u (i32.const 512)) (i32.load8_u (local.get $far))) (then (return (i32.const 9))))
        (i32.store8 (i32.const 512) (i32.const 1))
        (i32.store8 (local.get $far) (i32.const 1))
        (i32.const 0)"#;
    let p = host()
        .load(
            "leaky",
            &wat::parse_str(plugin(body, 1, 1).replace("(i32.const 1024))", "(i32.const 2048))")).unwrap(),
            "",
            PluginLimits::default(),
        )
        .unwrap();
    for i in 0..20 {
        // Sizes vary, so the mark past the pixels lands in different pages.
        let (_, r) = run(&p, 300 + i * 7, 200);
        r.unwrap_or_else(|e| panic!("call {i} saw the previous call's memory: {e}"));
    }
}

/// Calls run in pooled slots; more calls at once than there are slots wait
/// for one instead of failing, and a cap the pool cannot give is refused.
#[test]
fn more_calls_than_pool_slots_wait_their_turn() {
    let p = load(INVERT, PluginLimits::default());
    let start = std::sync::Barrier::new(300);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..300)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let (px, r) = run(&p, 64, 64);
                    r.is_ok() && px[0] == 255 - image(64, 64)[0]
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()), "every call ran and inverted");
    });
    let too_big = PluginLimits { memory_bytes: 2 << 30, ..PluginLimits::default() };
    let err = host().load("big", &wat::parse_str(plugin(INVERT, 1, 1)).unwrap(), "", too_big).unwrap_err();
    assert!(err.to_string().contains("over 1024 MiB"), "{err}");
}

/// The example plugins of `plugins/` (built by `plugins/build.sh`, which
/// `scripts/test.sh` runs first) on real images through the whole pipeline.
#[test]
fn the_example_plugins_mark_real_previews() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/build");
    if !dir.join("tiled-text.wasm").exists() {
        assert!(std::env::var_os("PROOFSHEET_REQUIRE_SERVICES").is_none(), "run plugins/build.sh first");
        eprintln!("skipped: plugins/build/*.wasm not built");
        return;
    }
    let mut src = vec![0u8; 2400 * 1600 * 3];
    for (i, p) in src.chunks_mut(3).enumerate() {
        let (x, y) = (i % 2400, i / 2400);
        p.copy_from_slice(&[(x * 255 / 2400) as u8 / 2, (y * 255 / 1600) as u8 / 2, 60]);
    }
    let jpeg = proofsheet_imaging::raster::encode_jpeg(
        &proofsheet_imaging::raster::Rgb { width: 2400, height: 1600, pixels: src },
        92,
    )
    .unwrap();
    let render = |plugin: Option<(&str, &str)>| {
        let mut cfg = proofsheet_imaging::PipelineConfig::default();
        cfg.watermark.text = String::new();
        if let Some((name, params)) = plugin {
            cfg.watermark.plugin = Some(dir.join(format!("{name}.wasm")));
            cfg.watermark.plugin_params = params.into();
        }
        proofsheet_imaging::ImagePipeline::new(cfg).unwrap().render_pixels(&jpeg).unwrap().preview
    };
    let clean = render(None);
    let changed = |marked: &proofsheet_imaging::raster::Rgb, x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let (a, b) = (marked.pixel(x, y), clean.pixel(x, y));
                n += usize::from(a.iter().zip(b).any(|(a, b)| a.abs_diff(b) > 30));
            }
        }
        n as f64 / ((x1 - x0) * (y1 - y0)) as f64
    };
    let (w, h) = (clean.width, clean.height);
    let tiled = render(Some(("tiled-text", "text=PROOF;opacity=0.5")));
    for (x0, y0) in [(0, 0), (w / 2, 0), (0, h / 2), (w / 2, h / 2)] {
        let share = changed(&tiled, x0, y0, x0 + w / 2, y0 + h / 2);
        assert!(share > 0.01 && share < 0.6, "tiled text covers {share:.3} of a quadrant");
    }
    let logo = render(Some(("corner-logo", "corner=br;size=0.15;opacity=0.8")));
    assert!(changed(&logo, w - w / 5, h - h / 4, w, h) > 0.2, "the logo is in the bottom-right corner");
    assert_eq!(changed(&logo, 0, 0, w / 2, h / 2), 0.0, "and nowhere else");
}

/// Installed plugins (`imaging.plugins`) are picked per album: listed,
/// checked on a sample with the album's params when picked, and drawn
/// with those params; a missing one fails the photo or falls back.
#[test]
fn albums_pick_installed_plugins_with_their_own_params() {
    use proofsheet_core::{PreviewRenderer, WatermarkChoice};
    use proofsheet_imaging::{ImagePipeline, PipelineConfig, raster};

    let dir = tempfile::tempdir().unwrap();
    let strict = dir.path().join("strict.wasm");
    // Inverts, but refuses any params but "ok" (code 2), like the examples
    // refuse unknown keys.
    let body = format!(
        "(local $i i32) (local $end i32)
        (if (result i32) (i32.and (i32.eq (local.get $n) (i32.const 2)) (i32.eq (i32.load16_u (local.get $q)) (i32.const {})))
            (then {}) (else (i32.const 2)))",
        u16::from_le_bytes(*b"ok"),
        INVERT.replace("(local $i i32) (local $end i32)", "")
    );
    std::fs::write(&strict, wat::parse_str(plugin(&body, 1, 1)).unwrap()).unwrap();
    let mut cfg = PipelineConfig::default();
    cfg.plugins.insert("strict".into(), strict.clone());
    let pipeline = ImagePipeline::new(cfg.clone()).unwrap();
    assert_eq!(pipeline.watermark_plugins(), vec!["strict".to_string()]);

    let pick = |params: &str| WatermarkChoice::Plugin { plugin: "strict".into(), params: params.into() };
    pipeline.check_watermark(&pick("ok")).unwrap();
    let err = pipeline.check_watermark(&pick("typo")).unwrap_err();
    assert_eq!(err.code(), "invalid_watermark");
    assert!(err.to_string().contains("error code 2"), "{err}");
    let err = pipeline.check_watermark(&WatermarkChoice::Plugin { plugin: "nope".into(), params: String::new() });
    assert!(err.unwrap_err().to_string().contains("installed: strict"));

    let jpeg = raster::encode_jpeg(&raster::Rgb::gradient(900, 600), 90).unwrap();
    let default = pipeline.render_sync_with(&jpeg, None).unwrap();
    let inverted = pipeline.render_sync_with(&jpeg, Some(&Mark::new(pick("ok")))).unwrap();
    let decoded = raster::decode(&inverted.preview, proofsheet_core::ImageFormat::Jpeg).unwrap().image;
    let px = decoded.pixel(0, 0);
    assert!(px[0] > 200 && px[1] > 200, "the album's plugin inverted the top-left corner: {px:?}");
    assert_ne!(default.preview, inverted.preview);
    // Params that pass the check but fail later (here: none do) would fail
    // the photo; a plugin uninstalled since fails it with the reason ...
    let bare = ImagePipeline::new(PipelineConfig::default()).unwrap();
    let err = bare.render_sync_with(&jpeg, Some(&Mark::new(pick("ok")))).unwrap_err();
    assert!(err.to_string().contains("\"strict\" is not installed"), "{err}");
    // ... or, with the fallback, gets the default watermark.
    let mut fallback = PipelineConfig::default();
    fallback.watermark.plugin_fallback = true;
    let bare = ImagePipeline::new(fallback).unwrap();
    assert_eq!(bare.render_sync_with(&jpeg, Some(&Mark::new(pick("ok")))).unwrap().preview, default.preview);
    // Failing params at render time (set before a plugin update, say).
    let err = pipeline.render_sync_with(&jpeg, Some(&Mark::new(pick("typo")))).unwrap_err();
    assert_eq!(err.code(), "image_rejected");

    // Names are checked when the config is loaded.
    for bad in ["", "Upper", "has space", &"x".repeat(65)] {
        let mut cfg = PipelineConfig::default();
        cfg.plugins.insert(bad.to_string(), strict.clone());
        assert!(ImagePipeline::new(cfg).is_err(), "{bad:?}");
    }
    let mut cfg = PipelineConfig::default();
    cfg.plugins.insert("gone".into(), dir.path().join("missing.wasm"));
    assert!(ImagePipeline::new(cfg).unwrap_err().to_string().contains("cannot read"));
}

/// A plugin keeps its host alive: with the host's own handle dropped, the
/// ticker still stops a looping plugin at its deadline. Once the last
/// plugin goes too, the ticker thread stops (dropping joins it, so a ticker
/// that did not stop would hang here).
#[test]
fn the_host_lives_as_long_as_its_plugins_and_its_ticker_stops_with_it() {
    let host = host();
    let limits = PluginLimits { deadline: Duration::from_millis(100), ..PluginLimits::default() };
    let looping =
        host.load("loop", &wat::parse_str(plugin("(loop $l (br $l)) (i32.const 0)", 1, 1)).unwrap(), "", limits);
    let looping = looping.unwrap();
    drop(host);
    let (_, r) = run(&looping, 8, 8);
    assert!(r.unwrap_err().to_string().contains("deadline"), "still ticking while a plugin lives");
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(looping);
        done.send(()).unwrap();
    });
    dropped.recv_timeout(Duration::from_secs(10)).expect("the last plugin's drop stops and joins the ticker");
}
