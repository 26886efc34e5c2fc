//! `FaceStore`: what "Find me" found in photos. One text per statement for
//! both dialects, compiled once per dialect; it shares the helpers of
//! `roles/mod.rs`. An embedding is stored as its little-endian `f32`s.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{AlbumId, Error, Face, FaceBox, FaceStore, PhotoId, Result};
use sqlx::Row;

use super::Store;
use crate::sql::{db_err, millis, parse_uuid};

fn to_bytes(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Result<Vec<f32>> {
    if !bytes.len().is_multiple_of(4) {
        return Err(Error::backend_permanent("reading a face", "an embedding is not a whole number of f32s"));
    }
    Ok(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

#[async_trait]
impl FaceStore for Store {
    async fn put_photo_faces(&self, photo: PhotoId, model: &str, faces: &[Face], now: DateTime<Utc>) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        sqlx::query("DELETE FROM face_scans WHERE photo_id = $1")
            .bind(photo.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("replacing a photo's faces"))?;
        // Only for a ready photo of an open album with the search on: the
        // check and the write are one statement.
        let done = sqlx::query(
            "INSERT INTO face_scans (photo_id, album_id, model, faces, scanned_at)
             SELECT p.id, p.album_id, $2, $3, $4 FROM photos p JOIN albums a ON a.id = p.album_id
             WHERE p.id = $1 AND p.status = 'ready' AND a.find_me <> 0 AND a.purged_at IS NULL
               AND (a.expires_at IS NULL OR a.expires_at > $5)",
        )
        .bind(photo.to_string())
        .bind(model)
        .bind(faces.len() as i64)
        .bind(millis(now))
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err("storing a photo's faces"))?;
        if done.rows_affected() != 1 {
            tx.rollback().await.map_err(db_err("rolling back a face scan"))?;
            return Ok(false);
        }
        for (n, face) in faces.iter().enumerate() {
            let b = face.bounds;
            sqlx::query(
                "INSERT INTO faces (photo_id, face_no, album_id, model, box_left, box_top, box_width, box_height,
                                    embedding)
                 SELECT photo_id, $2, album_id, model, $3, $4, $5, $6, $7 FROM face_scans WHERE photo_id = $1",
            )
            .bind(photo.to_string())
            .bind(n as i64)
            .bind(b.left as i64)
            .bind(b.top as i64)
            .bind(b.width as i64)
            .bind(b.height as i64)
            .bind(to_bytes(&face.embedding))
            .execute(&mut *tx)
            .await
            .map_err(db_err("storing a face"))?;
        }
        tx.commit().await.map_err(db_err("committing a face scan"))?;
        Ok(true)
    }

    async fn album_faces(&self, album: AlbumId, model: &str) -> Result<Vec<(PhotoId, Vec<f32>)>> {
        let rows = sqlx::query(
            "SELECT f.photo_id, f.embedding FROM faces f JOIN photos p ON p.id = f.photo_id
             WHERE f.album_id = $1 AND f.model = $2 AND p.status = 'ready'
             ORDER BY f.photo_id, f.face_no",
        )
        .bind(album.to_string())
        .bind(model)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading an album's faces"))?;
        rows.iter()
            .map(|r| {
                let id = PhotoId::from_uuid(parse_uuid(r.get::<&str, _>("photo_id"))?);
                Ok((id, from_bytes(r.get::<&[u8], _>("embedding"))?))
            })
            .collect()
    }

    async fn photo_faces(&self, photo: PhotoId) -> Result<Option<(String, Vec<Face>)>> {
        let Some(scan) = sqlx::query("SELECT model FROM face_scans WHERE photo_id = $1")
            .bind(photo.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a face scan"))?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT box_left, box_top, box_width, box_height, embedding FROM faces WHERE photo_id = $1 ORDER BY face_no",
        )
        .bind(photo.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("reading a photo's faces"))?;
        let faces = rows
            .iter()
            .map(|r| {
                Ok(Face {
                    bounds: FaceBox {
                        left: r.get::<i64, _>("box_left") as u32,
                        top: r.get::<i64, _>("box_top") as u32,
                        width: r.get::<i64, _>("box_width") as u32,
                        height: r.get::<i64, _>("box_height") as u32,
                    },
                    embedding: from_bytes(r.get::<&[u8], _>("embedding"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((scan.get("model"), faces)))
    }

    async fn face_counts(&self, album: AlbumId) -> Result<(u64, u64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS photos, CAST(COALESCE(SUM(faces), 0) AS BIGINT) AS faces FROM face_scans
             WHERE album_id = $1",
        )
        .bind(album.to_string())
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("counting an album's faces"))?;
        Ok((row.get::<i64, _>("photos") as u64, row.get::<i64, _>("faces") as u64))
    }

    async fn forget_expired_faces(&self, now: DateTime<Utc>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM face_scans WHERE album_id IN
               (SELECT id FROM albums WHERE expires_at IS NOT NULL AND expires_at <= $1)",
        )
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("deleting the faces of expired albums"))?;
        Ok(done.rows_affected())
    }
}
