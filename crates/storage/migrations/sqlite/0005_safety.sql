-- Secrets shared by every process of one deployment (the server secret
-- when none is configured): made once by the first process, read by all.
CREATE TABLE deployment_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Bytes a link has served, ranges included: `downloads.max_per_link` caps
-- this at that many times the zip's size, so resuming costs nothing extra
-- and ranges cannot get around the cap.
ALTER TABLE download_links ADD COLUMN bytes_served BIGINT NOT NULL DEFAULT 0;

-- When the user proved the mailbox (a mailed link, or an admin's word);
-- NULL: not yet, and albums shared with the address stay closed to them.
-- Accounts made before verification existed are taken as verified.
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
UPDATE users SET email_verified_at = created_at;
