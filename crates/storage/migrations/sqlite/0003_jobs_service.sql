-- Album purge after expiry: metadata stays for reports, blobs go.
ALTER TABLE albums ADD COLUMN purged_at INTEGER;
CREATE INDEX albums_expiring ON albums (expires_at) WHERE expires_at IS NOT NULL AND purged_at IS NULL;

-- Expired links lose their zip; the row stays (counts, audit).
ALTER TABLE download_links ADD COLUMN zip_deleted_at INTEGER;
CREATE INDEX download_links_expiry ON download_links (expires_at) WHERE zip_deleted_at IS NULL;

-- One row per periodic task and period: the primary key makes each period
-- run once however many schedulers race for it.
CREATE TABLE scheduled_runs (
    task        TEXT NOT NULL,
    fire_at     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT,
    detail      TEXT,
    PRIMARY KEY (task, fire_at)
);

-- Monthly sales reports made by the scheduler and kept.
CREATE TABLE monthly_reports (
    seller_id  TEXT NOT NULL,
    month      TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (seller_id, month)
);

CREATE INDEX jobs_finished ON jobs (updated_at) WHERE status = 'succeeded';

-- Reminder e-mails before expiry are sent once per album.
ALTER TABLE albums ADD COLUMN reminded_at INTEGER;
