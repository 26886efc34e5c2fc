-- The SHA-256 of each original (hex), so a client can tell which files an
-- album already holds (`proofsheet upload` skips them). NULL for photos
-- uploaded before it was recorded.
ALTER TABLE photos ADD COLUMN sha256 TEXT;
