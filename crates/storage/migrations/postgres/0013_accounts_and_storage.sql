-- Accounts and storage (issue 27).
--
-- Mail that anyone can make the server send (a "you already have an
-- account" notice on registration of a taken address) is capped: one per
-- key until the key's slot ends (proofsheet_core::AccountStore::take_mail_slot).
CREATE TABLE mail_slots (
    slot_key TEXT PRIMARY KEY NOT NULL,
    until    BIGINT NOT NULL
);

-- Storage quotas: an unfinished resumable upload reserves its declared
-- length against its owner's quota until it completes, ends, or sits idle
-- past idle_until (proofsheet_core::AlbumStore::reserve_upload).
CREATE TABLE upload_reservations (
    upload_id  TEXT PRIMARY KEY NOT NULL,
    owner_id   TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    length     BIGINT NOT NULL,
    idle_until BIGINT NOT NULL
);
CREATE INDEX upload_reservations_owner ON upload_reservations (owner_id, idle_until);
