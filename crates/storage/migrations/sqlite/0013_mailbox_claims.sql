-- Mail that anyone can make the server send (a "you already have an
-- account" notice on registration of a taken address) is capped: one per
-- key until the key's slot ends (proofsheet_core::AccountStore::take_mail_slot).
CREATE TABLE mail_slots (
    slot_key TEXT PRIMARY KEY NOT NULL,
    until    INTEGER NOT NULL
);
