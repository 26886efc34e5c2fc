-- How many times a photo's previews were stored: the multi-process tests
-- check that a re-delivered job never renders twice.
ALTER TABLE photos ADD COLUMN render_count BIGINT NOT NULL DEFAULT 0;

-- Named leases: at most one holder at a time (the scheduler).
CREATE TABLE leases (
    name   TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    until  BIGINT NOT NULL
);

-- Finding abandoned pending orders.
CREATE INDEX orders_pending ON orders (created_at) WHERE status = 'pending';
