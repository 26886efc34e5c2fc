//! Face indexing speed ("Find me"): dlib's detector and embedding on the
//! labelled photos of scripts/faces-models.sh, fitted to the gallery's
//! preview size (2048 px on the long edge) and to half of it, one photo at
//! a time on one core; criterion's throughput is photos per second:
//!
//!   eval "$(bash scripts/faces-models.sh)"
//!   cargo bench -p proofsheet-imaging --features faces --bench faces

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use proofsheet_core::{FaceIndex, RgbImage};
use proofsheet_imaging::{faces::DlibFaceIndex, raster};

fn photos(dir: &std::path::Path) -> Vec<raster::Rgb> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "jpg") {
            let mut d = jpeg_decoder::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
            let pixels = d.decode().unwrap();
            let info = d.info().unwrap();
            out.push(raster::Rgb { width: info.width as u32, height: info.height as u32, pixels });
        }
    }
    out
}

fn faces(c: &mut Criterion) {
    let (Ok(models), Ok(images)) =
        (std::env::var("PROOFSHEET_FACES_MODELS_DIR"), std::env::var("PROOFSHEET_TEST_FACES_IMAGES"))
    else {
        eprintln!("run `eval \"$(bash scripts/faces-models.sh)\"` first");
        return;
    };
    let index = DlibFaceIndex::open(models.as_ref()).unwrap();
    let originals = photos(images.as_ref());
    let mut g = c.benchmark_group("index faces");
    g.sample_size(10);
    g.throughput(Throughput::Elements(originals.len() as u64));
    for edge in [2048, 1024] {
        let fitted: Vec<raster::Rgb> = originals
            .iter()
            .map(|p| {
                let (w, h) = raster::fit(p.width, p.height, edge);
                raster::resize(p, w, h).unwrap()
            })
            .collect();
        g.bench_function(format!("{} photos fitted in {edge} px", fitted.len()), |b| {
            b.iter(|| {
                for p in &fitted {
                    let found = index.faces(RgbImage::new(p.width, p.height, &p.pixels).unwrap()).unwrap();
                    black_box(found);
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, faces);
criterion_main!(benches);
