-- A photographer's logo for watermarks: the PNG lives in the blob store at
-- photographers/{user_id}/logos/{digest}.png; this row names the current one.
CREATE TABLE logos (
    user_id    TEXT PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest     TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
