-- Sign-in links: a single-use link mailed to an address, valid for 15
-- minutes. The mailed token is the row's id and a MAC over it (only the
-- server can make one); taking the link deletes the row, so it works once.
CREATE TABLE sign_in_links (
    id         TEXT PRIMARY KEY NOT NULL,
    email      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sign_in_links_expiry ON sign_in_links (expires_at);

-- A client's favourites: go with the photo or the user.
CREATE TABLE favourites (
    photo_id   TEXT NOT NULL REFERENCES photos (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    album_id   TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (photo_id, user_id)
);
CREATE INDEX favourites_album ON favourites (album_id, user_id);
