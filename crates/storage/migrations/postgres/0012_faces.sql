-- "Find me": an album's opt-in, and the faces found in its photos.
-- face_scans records that a photo was scanned (with how many faces, by
-- which model); faces holds one embedding per face (little-endian f32s).
-- Both go with their photo (cascade), so deleting a photo or an album
-- deletes them; turning find_me off, purging an album and its expiry
-- delete them explicitly (proofsheet_core::FaceStore's rules).
ALTER TABLE albums ADD COLUMN find_me BIGINT NOT NULL DEFAULT 0;

CREATE TABLE face_scans (
    photo_id   TEXT PRIMARY KEY NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    album_id   TEXT NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    model      TEXT NOT NULL,
    faces      BIGINT NOT NULL,
    scanned_at BIGINT NOT NULL
);
CREATE INDEX face_scans_album ON face_scans (album_id);

CREATE TABLE faces (
    photo_id   TEXT NOT NULL REFERENCES face_scans (photo_id) ON DELETE CASCADE,
    face_no    BIGINT NOT NULL,
    album_id   TEXT NOT NULL,
    model      TEXT NOT NULL,
    box_left   BIGINT NOT NULL,
    box_top    BIGINT NOT NULL,
    box_width  BIGINT NOT NULL,
    box_height BIGINT NOT NULL,
    embedding  BYTEA NOT NULL,
    PRIMARY KEY (photo_id, face_no)
);
CREATE INDEX faces_album ON faces (album_id, model);
