//! Faces: the engine behind "Find me" finds the faces in an image and
//! gives each an embedding, a vector that lies near the embeddings of the
//! same person's other faces and far from everyone else's.
//!
//! [`FaceIndex`] is what an engine implements; `proofsheet-imaging`'s
//! `faces` feature has the first one (dlib's face detector and ResNet
//! embedding). `testkit::face_index` is the conformance suite a
//! replacement must pass.

use crate::{Error, Result};

/// A rectangle in the image's pixels, clipped to the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaceBox {
    /// Left edge.
    pub left: u32,
    /// Top edge.
    pub top: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

impl FaceBox {
    /// The box from signed edges (detectors place a face at the border
    /// partly outside the image), clipped to a `width` x `height` image;
    /// `None` when nothing of it is inside.
    pub fn clipped(left: i64, top: i64, right: i64, bottom: i64, width: u32, height: u32) -> Option<FaceBox> {
        let (l, t) = (left.clamp(0, width as i64), top.clamp(0, height as i64));
        let (r, b) = (right.clamp(0, width as i64), bottom.clamp(0, height as i64));
        (r > l && b > t).then(|| FaceBox {
            left: l as u32,
            top: t as u32,
            width: (r - l) as u32,
            height: (b - t) as u32,
        })
    }
}

/// One face: where it is and its embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Face {
    /// Where, in the pixels of the image given.
    pub bounds: FaceBox,
    /// Its embedding, [`FaceIndex::dimensions`] long.
    pub embedding: Vec<f32>,
}

/// An RGB image for face detection: `width * height * 3` bytes, rows top
/// to bottom.
#[derive(Debug, Clone, Copy)]
pub struct RgbImage<'a> {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The pixels.
    pub pixels: &'a [u8],
}

impl<'a> RgbImage<'a> {
    /// Checks that `pixels` holds exactly `width * height` RGB pixels.
    pub fn new(width: u32, height: u32, pixels: &'a [u8]) -> Result<Self> {
        if pixels.len() as u128 != width as u128 * height as u128 * 3 {
            return Err(Error::invalid(
                "bad_image",
                format!("{} bytes are not {width} x {height} RGB pixels", pixels.len()),
            ));
        }
        Ok(RgbImage { width, height, pixels })
    }
}

/// Finds faces and compares them.
///
/// Rules an engine keeps (checked by `testkit::face_index`):
/// - every face of an image gives one [`Face`], its box inside the image,
///   its embedding [`FaceIndex::dimensions`] long and finite; an image
///   with no face (or too small to hold one) gives none, not an error;
/// - the same image gives the same embeddings;
/// - [`FaceIndex::distance`] is a metric: zero for an embedding and
///   itself, symmetric; two faces of one person are closer than
///   [`FaceIndex::threshold`], two people further apart;
/// - embeddings of different [`FaceIndex::model`]s are never compared:
///   stored ones carry the model's name.
///
/// Detection is CPU-bound and may take a second on a large image: callers
/// run it on a blocking thread and give it a downscaled image.
pub trait FaceIndex: Send + Sync + 'static {
    /// The model's name and version, stored beside each embedding.
    fn model(&self) -> &str;
    /// How long each embedding is.
    fn dimensions(&self) -> usize;
    /// The faces in `image`.
    fn faces(&self, image: RgbImage<'_>) -> Result<Vec<Face>>;
    /// How far apart two embeddings are (0 for the same).
    fn distance(&self, a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt()
    }
    /// Below this distance, two faces are taken for the same person.
    fn threshold(&self) -> f32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_are_clipped_to_the_image() {
        assert_eq!(
            FaceBox::clipped(-54, 161, 185, 376, 491, 1137),
            Some(FaceBox { left: 0, top: 161, width: 185, height: 215 })
        );
        assert_eq!(
            FaceBox::clipped(480, 10, 600, 40, 491, 100),
            Some(FaceBox { left: 480, top: 10, width: 11, height: 30 })
        );
        assert_eq!(FaceBox::clipped(-20, -20, -1, 5, 100, 100), None, "wholly outside");
        assert_eq!(FaceBox::clipped(10, 10, 10, 20, 100, 100), None, "empty");
    }

    #[test]
    fn images_must_hold_their_pixels() {
        assert!(RgbImage::new(2, 2, &[0; 12]).is_ok());
        assert_eq!(RgbImage::new(2, 2, &[0; 11]).unwrap_err().code(), "bad_image");
        assert_eq!(RgbImage::new(u32::MAX, u32::MAX, &[]).unwrap_err().code(), "bad_image");
    }
}
