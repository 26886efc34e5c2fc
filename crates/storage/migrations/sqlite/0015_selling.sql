-- Selling (issue 30): price sheets with their products and packages,
-- coupons and automatic offers, and the orders that hold a coupon.
--
-- A sheet is written whole: its products and packages are replaced with it
-- in one transaction (proofsheet_core::SellingStore::save_sheet). Orders
-- keep their own copy of what they sold, so changing or removing a sheet
-- never changes an order.
CREATE TABLE price_sheets (
    id               TEXT PRIMARY KEY NOT NULL,
    owner_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    currency         TEXT NOT NULL,
    all_product_id   TEXT,
    all_price_amount BIGINT CHECK (all_price_amount >= 0),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX price_sheets_owner ON price_sheets (owner_id, id);

CREATE TABLE sheet_products (
    sheet_id     TEXT NOT NULL REFERENCES price_sheets (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('digital')),
    delivery     TEXT NOT NULL CHECK (delivery IN ('original', 'web')),
    price_amount BIGINT NOT NULL CHECK (price_amount >= 0),
    PRIMARY KEY (sheet_id, position),
    UNIQUE (sheet_id, id)
);

CREATE TABLE sheet_packages (
    sheet_id     TEXT NOT NULL REFERENCES price_sheets (id) ON DELETE CASCADE,
    position     BIGINT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    photos       BIGINT NOT NULL CHECK (photos >= 1),
    price_amount BIGINT NOT NULL CHECK (price_amount >= 0),
    PRIMARY KEY (sheet_id, position),
    UNIQUE (sheet_id, id)
);

-- The sheet an album sells by (none: its price per photo, as before).
ALTER TABLE albums ADD COLUMN price_sheet_id TEXT;
CREATE INDEX albums_price_sheet ON albums (price_sheet_id);

-- Codes compare without regard to case: code_key is the code lower-cased,
-- unique per photographer. held counts the orders holding the coupon
-- (pending or paid); it never passes max_redemptions.
CREATE TABLE coupons (
    id               TEXT PRIMARY KEY NOT NULL,
    owner_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code             TEXT NOT NULL,
    code_key         TEXT NOT NULL,
    percent_off      BIGINT CHECK (percent_off BETWEEN 1 AND 100),
    amount_off       BIGINT CHECK (amount_off >= 0),
    currency         TEXT,
    min_order_amount BIGINT CHECK (min_order_amount >= 0),
    starts_at        BIGINT,
    expires_at       BIGINT,
    max_redemptions  BIGINT CHECK (max_redemptions >= 1),
    once_per_client  BIGINT NOT NULL DEFAULT 0,
    album_ids        TEXT NOT NULL DEFAULT '[]',
    auto_apply       BIGINT NOT NULL DEFAULT 0,
    held             BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0),
    created_at       BIGINT NOT NULL,
    UNIQUE (owner_id, code_key),
    CHECK ((percent_off IS NULL) <> (amount_off IS NULL)),
    CHECK (max_redemptions IS NULL OR held <= max_redemptions)
);
CREATE INDEX coupons_owner ON coupons (owner_id, id);

-- The order holding a coupon. buyer_key is the buyer's id for a coupon
-- that is once per client, else the order's id, so the unique pair says
-- "one order per client" exactly when the coupon asks for it. An order
-- that expires or is cancelled gives its hold back.
CREATE TABLE coupon_redemptions (
    coupon_id  TEXT NOT NULL REFERENCES coupons (id) ON DELETE CASCADE,
    order_id   TEXT NOT NULL,
    buyer_key  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (coupon_id, order_id),
    UNIQUE (coupon_id, buyer_key)
);
CREATE INDEX coupon_redemptions_order ON coupon_redemptions (order_id);
