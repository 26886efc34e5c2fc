-- The gallery and the studio (issue 28).
--
-- An album made in the web app is a draft until its owner publishes it: a
-- draft is seen by its owner only and mails nobody. Its client has a name
-- (for the invitation and the account it creates), and the owner may pick
-- the cover photo (else the first photo is the cover).
ALTER TABLE albums ADD COLUMN draft BIGINT NOT NULL DEFAULT 0;
ALTER TABLE albums ADD COLUMN client_name TEXT;
ALTER TABLE albums ADD COLUMN cover_photo_id TEXT;

-- Photos are shown in capture-time order (EXIF DateTimeOriginal, by the
-- camera's clock), then by file name, unless the owner placed them:
-- position orders the placed photos first, the rest follow in capture
-- order (proofsheet_core::AlbumStore::list_photos).
ALTER TABLE photos ADD COLUMN taken_at BIGINT;
ALTER TABLE photos ADD COLUMN position BIGINT;

-- A photographer's studio: the brand their galleries, pages and mails carry.
CREATE TABLE studios (
    user_id       TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    website       TEXT,
    contact_email TEXT,
    time_zone     TEXT NOT NULL,
    accent        TEXT,
    updated_at    BIGINT NOT NULL
);
