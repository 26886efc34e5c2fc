//! Faces: the engine behind "Find me" finds the faces in an image and
//! gives each an embedding, a vector that lies near the embeddings of the
//! same person's other faces and far from everyone else's.
//!
//! [`FaceIndex`] is what an engine implements; `proofsheet-imaging`'s
//! `faces` feature has the first one (dlib's face detector and ResNet
//! embedding). `testkit::face_index` is the conformance suite a
//! replacement must pass.

use std::sync::Arc;

use bytes::Bytes;
use tracing::instrument;

use crate::{Album, AlbumId, Error, NewJob, Photo, PhotoId, PhotoStatus, Proofsheet, Result, Task, User};

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

/// An image's pixels, owned: what a renderer decodes for face detection
/// ([`crate::PreviewRenderer::decode_fitted`]).
#[derive(Debug, Clone)]
pub struct RgbPixels {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes, rows top to bottom.
    pub pixels: Vec<u8>,
}

impl RgbPixels {
    /// A borrowed view, checked.
    pub fn view(&self) -> Result<RgbImage<'_>> {
        RgbImage::new(self.width, self.height, &self.pixels)
    }
}

/// One photo a selfie matched: the closest of its faces.
#[derive(Debug, Clone)]
pub struct FaceMatch {
    /// The photo (always `ready`).
    pub photo: Photo,
    /// How far its closest face is from the selfie's (below the index's
    /// threshold; smaller is surer).
    pub distance: f32,
}

/// The "Find me" service: indexes the faces of albums that turned it on
/// and searches them with a selfie. Get it with [`Proofsheet::faces`].
///
/// Privacy, by construction: a selfie is decoded, searched with and
/// dropped inside [`Faces::find`]; neither it nor its embedding is stored,
/// queued or logged. Embeddings of an album's photos are deleted when
/// "Find me" is turned off, when a photo or the album is deleted, and when
/// the album expires (`docs/faces.md`).
pub struct Faces<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The "Find me" service.
    pub fn faces(&self) -> Faces<'_> {
        Faces(self)
    }
}

impl Faces<'_> {
    /// Faces are looked for in the photo fitted within this many pixels:
    /// the gallery's preview size, so a face a guest can see in the
    /// preview is large enough to be found.
    pub const INDEX_EDGE: u32 = 2048;
    /// A selfie is fitted within this many pixels first: a selfie's face
    /// is large, and a smaller image is faster to search.
    pub const SELFIE_EDGE: u32 = 1024;

    /// Whether this engine has a face index (the server's `faces` feature
    /// and `faces.models_dir`).
    pub fn available(&self) -> bool {
        self.0.backends().faces.is_some()
    }

    /// The distance under which a face counts as the selfie's (0 without
    /// a face index).
    pub fn threshold(&self) -> f32 {
        self.0.backends().faces.as_ref().map_or(0.0, |f| f.threshold())
    }

    fn index_backend(&self) -> Result<&Arc<dyn FaceIndex>> {
        self.0.backends().faces.as_ref().ok_or_else(|| {
            Error::conflict(
                "faces_unavailable",
                "this server has no face index: it was built without the `faces` feature or \
                 `faces.models_dir` is not set",
            )
        })
    }

    /// Checks that "Find me" can be turned on here.
    pub(crate) fn check_available(&self) -> Result<()> {
        self.index_backend().map(|_| ())
    }

    /// Decodes `data` fitted within `edge` and finds its faces, off the
    /// async workers and inside the process's pixel budget.
    async fn faces_in(&self, data: Bytes, edge: u32) -> Result<Vec<Face>> {
        let index = self.index_backend()?.clone();
        let renderer = self.0.backends().renderer.clone();
        let pixels = self.0.pixels_in(&data)?;
        let _budget = self.0.render_budget().acquire(pixels).await;
        tokio::task::spawn_blocking(move || {
            let image = renderer.decode_fitted(&data, edge)?;
            index.faces(image.view()?)
        })
        .await
        .map_err(|e| Error::backend("finding faces", e))?
    }

    /// The `index_faces` job: finds the faces of a ready photo of an album
    /// with "Find me" on and stores their embeddings. Does nothing for a
    /// photo deleted, not ready, already scanned by this model, or whose
    /// album turned the search off or closed since the job was queued.
    #[instrument(skip_all, fields(photo_id = %id))]
    pub async fn index(&self, id: PhotoId) -> Result<()> {
        let Ok(index) = self.index_backend() else {
            tracing::warn!("index_faces job on a server without a face index: skipped");
            return Ok(());
        };
        let meta = self.0.meta();
        let Some(photo) = meta.photo(id).await? else { return Ok(()) };
        if photo.status != PhotoStatus::Ready {
            return Ok(());
        }
        let Some(album) = meta.album(photo.album_id).await? else { return Ok(()) };
        if !album.faces_searchable(self.0.now()) {
            return Ok(());
        }
        if meta.photo_faces(id).await?.is_some_and(|(model, _)| model == index.model()) {
            return Ok(()); // delivered again after it finished
        }
        let started = std::time::Instant::now();
        let original = self.0.blobs().get(&Photo::original_key(&album.storage_prefix, id)).await?;
        let faces = match self.faces_in(original, Self::INDEX_EDGE).await {
            Ok(faces) => faces,
            // It rendered, so this is unexpected; record no faces rather
            // than retry a file that will fail the same way.
            Err(Error::Image { message }) => {
                tracing::warn!(%message, "faces: the photo could not be decoded; indexed with no face");
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        let stored = meta.put_photo_faces(id, index.model(), &faces, self.0.now()).await?;
        tracing::info!(faces = faces.len(), stored, ms = started.elapsed().as_millis() as u64, "faces indexed");
        Ok(())
    }

    /// Queues an `index_faces` job for every ready photo of `album` (it
    /// turned "Find me" on, or reopened with it on). Answers how many.
    pub(crate) async fn queue_album(&self, album: &Album) -> Result<u64> {
        let queued = self
            .0
            .enqueue_per_photo(album, |p| {
                (p.status == PhotoStatus::Ready).then_some(Task::IndexFaces { photo_id: p.id })
            })
            .await?;
        tracing::info!(album_id = %album.id, photos = queued, "photos queued for face indexing");
        Ok(queued)
    }

    /// The job that indexes a photo once it is rendered, when its album
    /// has "Find me" on (`None` otherwise): queued with the photo's
    /// `ready` change, so rendering never waits for it.
    pub(crate) fn job_after_render(&self, album: &Album, photo: PhotoId) -> Option<NewJob> {
        (album.find_me && self.available()).then(|| NewJob::now(Task::IndexFaces { photo_id: photo }, self.0.now()))
    }

    /// How many of the album's photos are indexed, and how many faces they
    /// hold. Owner only.
    pub async fn progress(&self, user: &User, album: AlbumId) -> Result<(u64, u64)> {
        let album = self.0.albums().get_owned(user, album).await?;
        self.0.meta().face_counts(album.id).await
    }

    /// Searches an album's photos for the one face in `selfie` (a JPEG,
    /// PNG or WebP), as `viewer` may see the album: its photos whose
    /// closest face lies under the index's threshold, closest first.
    ///
    /// Errors: the album's own (`NotFound`, `Gone` once expired);
    /// `Conflict` `find_me_off` when the owner has not turned it on,
    /// `faces_unavailable` without a face index; the upload's
    /// (`UnsupportedMedia`, `TooLarge`, `Image`); `Invalid` `no_face` or
    /// `several_faces` unless the selfie holds exactly one face.
    ///
    /// The selfie and its embedding live only in this call.
    #[instrument(skip_all, fields(album_id = %album_id))]
    pub async fn find(&self, viewer: Option<&User>, album_id: AlbumId, selfie: Bytes) -> Result<Vec<FaceMatch>> {
        let (album, index) = self.searchable(viewer, album_id).await?;
        let mut faces = self.faces_in(selfie, Self::SELFIE_EDGE).await?;
        let face = match faces.len() {
            1 => faces.pop().expect("one face"),
            0 => {
                return Err(Error::invalid(
                    "no_face",
                    "no face was found in the selfie: take it facing the camera, in good light, with the face filling \
                     much of the picture",
                ));
            }
            n => {
                return Err(Error::invalid(
                    "several_faces",
                    format!("the selfie shows {n} faces: take one of yourself alone"),
                ));
            }
        };
        self.ranked(&album, &index, &face.embedding).await
    }

    /// [`Faces::find`] for a face already measured: the album's photos
    /// whose closest face to `embedding` is under the index's threshold,
    /// closest first, as `viewer` may see the album. For embedders that
    /// measure faces elsewhere, and for the search benchmark (which times
    /// the search without the selfie's own detection).
    pub async fn find_by_embedding(
        &self,
        viewer: Option<&User>,
        album_id: AlbumId,
        embedding: &[f32],
    ) -> Result<Vec<FaceMatch>> {
        let (album, index) = self.searchable(viewer, album_id).await?;
        self.ranked(&album, &index, embedding).await
    }

    /// Whether `viewer` may search the album (it exists for them, is open,
    /// and has "Find me" on, on a server with a face index): the checks of
    /// [`Faces::find`], for a server to run before it reads a selfie.
    pub async fn check_searchable(&self, viewer: Option<&User>, album_id: AlbumId) -> Result<()> {
        self.searchable(viewer, album_id).await.map(|_| ())
    }

    /// The album as `viewer` may see it, if it can be searched, and the
    /// index to search it with.
    async fn searchable(&self, viewer: Option<&User>, album_id: AlbumId) -> Result<(Album, Arc<dyn FaceIndex>)> {
        let (album, _) = self.0.albums().get(viewer, album_id).await?;
        if !album.find_me {
            return Err(Error::conflict(
                "find_me_off",
                "the photographer has not turned \"Find me\" on for this album",
            ));
        }
        Ok((album, self.index_backend()?.clone()))
    }

    async fn ranked(&self, album: &Album, index: &Arc<dyn FaceIndex>, embedding: &[f32]) -> Result<Vec<FaceMatch>> {
        let stored = self.0.meta().album_faces(album.id, index.model()).await?;
        let threshold = index.threshold();
        let mut best: std::collections::HashMap<PhotoId, f32> = std::collections::HashMap::new();
        for (photo, stored) in &stored {
            let d = index.distance(embedding, stored);
            if d < threshold {
                best.entry(*photo).and_modify(|b| *b = b.min(d)).or_insert(d);
            }
        }
        let mut ranked: Vec<(PhotoId, f32)> = best.into_iter().collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let mut matches = Vec::with_capacity(ranked.len());
        for (id, distance) in ranked {
            // Read again: a photo deleted since its faces were read is left out.
            if let Some(photo) = self.0.meta().photo(id).await?.filter(|p| p.status == PhotoStatus::Ready) {
                matches.push(FaceMatch { photo, distance });
            }
        }
        tracing::info!(searched = stored.len(), matched = matches.len(), "find me");
        Ok(matches)
    }
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
