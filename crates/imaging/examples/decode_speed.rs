//! Measures the JPEG decode candidates on one file, side by side:
//! zune-jpeg at full size vs jpeg-decoder at full size and with DCT-domain
//! scaling to the smallest size still covering a 2048 px preview.
//!
//! `cargo run --release -p proofsheet-imaging --example decode_speed -- <file.jpg> [rounds]`

use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read(&args[1]).unwrap();
    let rounds: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let time = |name: &str, f: &dyn Fn() -> (usize, usize)| {
        let mut best = f64::MAX;
        let mut size = (0, 0);
        for _ in 0..rounds {
            let t = Instant::now();
            size = f();
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!("{name:<34} {:>5}x{:<5} {:>8.1} ms", size.0, size.1, best * 1e3);
        best
    };
    let zune = time("zune-jpeg, full size", &|| {
        let mut d = zune_jpeg::JpegDecoder::new(zune_jpeg::zune_core::bytestream::ZCursor::new(&data[..]));
        let px = d.decode().unwrap();
        let (w, h) = d.dimensions().unwrap();
        assert_eq!(px.len(), w * h * 3);
        (w, h)
    });
    time("jpeg-decoder, full size", &|| {
        let mut d = jpeg_decoder::Decoder::new(&data[..]);
        let px = d.decode().unwrap();
        let i = d.info().unwrap();
        assert_eq!(px.len(), i.width as usize * i.height as usize * 3);
        (i.width as usize, i.height as usize)
    });
    let scaled = time("jpeg-decoder, scaled for 2048 px", &|| {
        let mut d = jpeg_decoder::Decoder::new(&data[..]);
        d.read_info().unwrap();
        let i = d.info().unwrap();
        let k = (i.width.max(i.height) as f64 / 2048.0).max(1.0);
        let (w, h) = d.scale((i.width as f64 / k).ceil() as u16, (i.height as f64 / k).ceil() as u16).unwrap();
        let px = d.decode().unwrap();
        assert_eq!(px.len(), w as usize * h as usize * 3);
        (w as usize, h as usize)
    });
    println!("scaled jpeg-decoder / full zune-jpeg time: {:.2}", scaled / zune);
}
