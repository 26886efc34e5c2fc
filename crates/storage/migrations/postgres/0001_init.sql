-- Proofsheet metadata, PostgreSQL dialect. Times are Unix milliseconds (UTC);
-- ids are UUID strings (UUIDv7, so "ORDER BY id" is creation order and
-- serves as the pagination cursor).

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    surname       TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('photographer', 'client', 'admin')),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE albums (
    id             TEXT PRIMARY KEY NOT NULL,
    owner_id       TEXT NOT NULL REFERENCES users (id),
    name           TEXT NOT NULL,
    visibility     TEXT NOT NULL CHECK (visibility IN ('private', 'public')),
    client_email   TEXT,
    price_amount   BIGINT NOT NULL CHECK (price_amount >= 0),
    price_currency TEXT NOT NULL,
    expires_at     BIGINT,
    storage_prefix TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX albums_owner ON albums (owner_id, id);
CREATE INDEX albums_client ON albums (client_email, id) WHERE client_email IS NOT NULL;
CREATE INDEX albums_public ON albums (id) WHERE visibility = 'public';

CREATE TABLE photos (
    id             TEXT PRIMARY KEY NOT NULL,
    album_id       TEXT NOT NULL REFERENCES albums (id) ON DELETE CASCADE,
    filename       TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('processing', 'ready', 'failed')),
    failure_reason TEXT,
    width          BIGINT,
    height         BIGINT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX photos_album ON photos (album_id, id);

-- Orders keep their own copy of what was bought (no foreign key to photos
-- or albums), so a photographer deleting an album never rewrites history.
CREATE TABLE orders (
    id           TEXT PRIMARY KEY NOT NULL,
    buyer_id     TEXT NOT NULL REFERENCES users (id),
    album_id     TEXT NOT NULL,
    seller_id    TEXT NOT NULL REFERENCES users (id),
    status       TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'fulfilled', 'cancelled', 'expired', 'refunded')),
    total_amount BIGINT NOT NULL CHECK (total_amount >= 0),
    currency     TEXT NOT NULL,
    gateway      TEXT,
    payment_ref  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    paid_at      BIGINT
);
CREATE INDEX orders_buyer ON orders (buyer_id, id);
CREATE INDEX orders_seller ON orders (seller_id, id);

CREATE TABLE order_items (
    order_id     TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    photo_id     TEXT NOT NULL,
    filename     TEXT NOT NULL,
    price_amount BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE download_links (
    id             TEXT PRIMARY KEY NOT NULL,
    order_id       TEXT NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    token_hash     BYTEA NOT NULL UNIQUE,
    zip_key        TEXT NOT NULL,
    zip_size       BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    download_count BIGINT NOT NULL DEFAULT 0,
    revoked        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX download_links_order ON download_links (order_id, id);

CREATE TABLE payment_events (
    gateway     TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (gateway, event_id)
);

CREATE TABLE idempotency_keys (
    user_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    key          TEXT NOT NULL,
    request_hash BYTEA NOT NULL,
    status       BIGINT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, scope, key)
);

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at       BIGINT NOT NULL,
    lease_until  BIGINT,
    lease_token  TEXT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
-- The claim query scans only due work: queued by run_at, running by lease.
CREATE INDEX jobs_queued ON jobs (run_at) WHERE status = 'queued';
CREATE INDEX jobs_running ON jobs (lease_until) WHERE status = 'running';
CREATE INDEX jobs_status ON jobs (status, id);
