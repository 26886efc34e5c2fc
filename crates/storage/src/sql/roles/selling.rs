//! `SellingStore`: price sheets with their products and packages, coupons
//! and offers, and the coupons orders hold. In SQL for both dialects, one
//! text per statement, compiled once per dialect; it shares the row readers
//! and `*_in` helpers of `roles/mod.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use proofsheet_core::{
    AlbumId, CouponHold, Currency, Error, Money, OrderId, Page, PageRequest, Result, SellingStore, UserId,
    pricing::{
        AllPhotos, Coupon, CouponId, Delivery, Discount, Package, PackageId, PriceSheet, PriceSheetId, Product,
        ProductId, ProductKind,
    },
};
use sqlx::Row;

use super::{Conn, DbRow, Store, after};
use crate::sql::{db_err, from_millis, millis, parse_uuid};

/// Takes `hold` for `order` inside the order's transaction: `false` when
/// the coupon is used up (every redemption held) or, once per client, the
/// buyer already holds it. See `SellingStore`'s rules.
pub(super) async fn hold_in(conn: &mut Conn, hold: &CouponHold, order: OrderId, now: DateTime<Utc>) -> Result<bool> {
    let coupon = hold.coupon_id.to_string();
    // A write first (SQLite: no read-then-write upgrade to fail): the
    // redemption row, keyed by the buyer when the coupon is once per
    // client, else by the order.
    let taken = sqlx::query(
        "INSERT INTO coupon_redemptions (coupon_id, order_id, buyer_key, created_at)
         SELECT id, $2, CASE WHEN once_per_client <> 0 THEN $3 ELSE $2 END, $4 FROM coupons WHERE id = $1
         ON CONFLICT DO NOTHING",
    )
    .bind(&coupon)
    .bind(order.to_string())
    .bind(hold.buyer_id.to_string())
    .bind(millis(now))
    .execute(&mut *conn)
    .await
    .map_err(db_err("holding a coupon"))?;
    if taken.rows_affected() != 1 {
        return Ok(false);
    }
    let counted = sqlx::query(
        "UPDATE coupons SET held = held + 1
         WHERE id = $1 AND (max_redemptions IS NULL OR held < max_redemptions)",
    )
    .bind(&coupon)
    .execute(&mut *conn)
    .await
    .map_err(db_err("holding a coupon"))?;
    Ok(counted.rows_affected() == 1)
}

/// Gives back the coupon an order held (it expired or was cancelled),
/// inside the order's transaction.
pub(super) async fn release_in(conn: &mut Conn, order: OrderId) -> Result<()> {
    let held: Vec<String> =
        sqlx::query_scalar("DELETE FROM coupon_redemptions WHERE order_id = $1 RETURNING coupon_id")
            .bind(order.to_string())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("releasing a coupon"))?;
    for coupon in held {
        sqlx::query("UPDATE coupons SET held = held - 1 WHERE id = $1 AND held > 0")
            .bind(coupon)
            .execute(&mut *conn)
            .await
            .map_err(db_err("releasing a coupon"))?;
    }
    Ok(())
}

fn uuid_col<T>(row: &DbRow, column: &str, wrap: fn(uuid::Uuid) -> T) -> Result<T> {
    Ok(wrap(parse_uuid(&row.get::<String, _>(column))?))
}

fn coupon_from(row: &DbRow) -> Result<Coupon> {
    let currency = row.get::<Option<String>, _>("currency").map(|c| c.parse::<Currency>()).transpose()?;
    let money = |column: &str| -> Result<Option<Money>> {
        match (row.get::<Option<i64>, _>(column), currency) {
            (Some(amount), Some(c)) => Ok(Some(Money::new(amount, c)?)),
            (Some(_), None) => Err(Error::backend_permanent("reading a coupon", "an amount without a currency")),
            (None, _) => Ok(None),
        }
    };
    let discount = match (row.get::<Option<i64>, _>("percent_off"), money("amount_off")?) {
        (Some(p), None) => Discount::Percent(p.clamp(1, 100) as u8),
        (None, Some(m)) => Discount::Amount(m),
        _ => return Err(Error::backend_permanent("reading a coupon", "not exactly one of percent and amount")),
    };
    let albums: Vec<AlbumId> = serde_json::from_str(&row.get::<String, _>("album_ids"))
        .map_err(|e| Error::backend_permanent("reading a coupon's albums", e))?;
    Ok(Coupon {
        id: uuid_col(row, "id", CouponId::from_uuid)?,
        owner_id: uuid_col(row, "owner_id", UserId::from_uuid)?,
        code: row.get("code"),
        discount,
        min_order: money("min_order_amount")?,
        starts_at: row.get::<Option<i64>, _>("starts_at").map(from_millis),
        expires_at: row.get::<Option<i64>, _>("expires_at").map(from_millis),
        max_redemptions: row.get::<Option<i64>, _>("max_redemptions").map(|n| n as u32),
        once_per_client: row.get::<i64, _>("once_per_client") != 0,
        album_ids: albums,
        auto_apply: row.get::<i64, _>("auto_apply") != 0,
    })
}

/// A coupon row with its `held` count.
fn held_coupon_from(row: &DbRow) -> Result<(Coupon, u32)> {
    Ok((coupon_from(row)?, row.get::<i64, _>("held") as u32))
}

impl Store {
    /// A sheet with its products and packages, read on `conn`.
    async fn load_sheet(&self, conn: &mut Conn, id: &str) -> Result<Option<PriceSheet>> {
        let Some(row) = sqlx::query("SELECT * FROM price_sheets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err("reading a price sheet"))?
        else {
            return Ok(None);
        };
        let currency: Currency = row.get::<String, _>("currency").parse()?;
        let money = |amount: i64| Money::new(amount, currency);
        let products = sqlx::query("SELECT * FROM sheet_products WHERE sheet_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("reading a sheet's products"))?
            .iter()
            .map(|r| {
                let delivery = match r.get::<String, _>("delivery").as_str() {
                    "web" => Delivery::Web,
                    _ => Delivery::Original,
                };
                Ok(Product {
                    id: uuid_col(r, "id", ProductId::from_uuid)?,
                    name: r.get("name"),
                    kind: ProductKind::Digital { delivery },
                    price: money(r.get("price_amount"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let packages = sqlx::query("SELECT * FROM sheet_packages WHERE sheet_id = $1 ORDER BY position")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err("reading a sheet's packages"))?
            .iter()
            .map(|r| {
                Ok(Package {
                    id: uuid_col(r, "id", PackageId::from_uuid)?,
                    name: r.get("name"),
                    product: uuid_col(r, "product_id", ProductId::from_uuid)?,
                    photos: r.get::<i64, _>("photos") as u32,
                    price: money(r.get("price_amount"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let all_photos =
            match (row.get::<Option<String>, _>("all_product_id"), row.get::<Option<i64>, _>("all_price_amount")) {
                (Some(p), Some(amount)) => {
                    Some(AllPhotos { product: ProductId::from_uuid(parse_uuid(&p)?), price: money(amount)? })
                }
                _ => None,
            };
        Ok(Some(PriceSheet {
            id: uuid_col(&row, "id", PriceSheetId::from_uuid)?,
            owner_id: uuid_col(&row, "owner_id", UserId::from_uuid)?,
            name: row.get("name"),
            currency,
            products,
            packages,
            all_photos,
        }))
    }
}

#[async_trait]
impl SellingStore for Store {
    async fn save_sheet(&self, sheet: &PriceSheet, now: DateTime<Utc>) -> Result<()> {
        let sid = sheet.id.to_string();
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let (all_product, all_price) = match &sheet.all_photos {
            Some(a) => (Some(a.product.to_string()), Some(a.price.amount)),
            None => (None, None),
        };
        // A new sheet, or the same owner's: never another photographer's.
        let done = sqlx::query(
            "INSERT INTO price_sheets (id, owner_id, name, currency, all_product_id, all_price_amount,
                                       created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, currency = excluded.currency,
                 all_product_id = excluded.all_product_id, all_price_amount = excluded.all_price_amount,
                 updated_at = excluded.updated_at
             WHERE price_sheets.owner_id = excluded.owner_id",
        )
        .bind(&sid)
        .bind(sheet.owner_id.to_string())
        .bind(&sheet.name)
        .bind(sheet.currency.as_str())
        .bind(all_product)
        .bind(all_price)
        .bind(millis(now))
        .execute(&mut *tx)
        .await
        .map_err(db_err("saving a price sheet"))?;
        if done.rows_affected() != 1 {
            return Err(Error::not_found("price_sheet"));
        }
        for table in
            ["DELETE FROM sheet_products WHERE sheet_id = $1", "DELETE FROM sheet_packages WHERE sheet_id = $1"]
        {
            sqlx::query(table).bind(&sid).execute(&mut *tx).await.map_err(db_err("saving a price sheet"))?;
        }
        for (n, p) in sheet.products.iter().enumerate() {
            let ProductKind::Digital { delivery } = &p.kind;
            sqlx::query(
                "INSERT INTO sheet_products (sheet_id, position, id, name, kind, delivery, price_amount)
                 VALUES ($1, $2, $3, $4, 'digital', $5, $6)",
            )
            .bind(&sid)
            .bind(n as i64)
            .bind(p.id.to_string())
            .bind(&p.name)
            .bind(delivery.as_str())
            .bind(p.price.amount)
            .execute(&mut *tx)
            .await
            .map_err(db_err("saving a sheet's product"))?;
        }
        for (n, k) in sheet.packages.iter().enumerate() {
            sqlx::query(
                "INSERT INTO sheet_packages (sheet_id, position, id, name, product_id, photos, price_amount)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&sid)
            .bind(n as i64)
            .bind(k.id.to_string())
            .bind(&k.name)
            .bind(k.product.to_string())
            .bind(i64::from(k.photos))
            .bind(k.price.amount)
            .execute(&mut *tx)
            .await
            .map_err(db_err("saving a sheet's package"))?;
        }
        tx.commit().await.map_err(db_err("committing a price sheet"))
    }

    async fn sheet(&self, id: PriceSheetId) -> Result<Option<PriceSheet>> {
        let mut conn = self.conn().await?;
        self.load_sheet(&mut conn, &id.to_string()).await
    }

    async fn list_sheets(&self, owner: UserId, page: PageRequest) -> Result<Page<PriceSheet>> {
        let mut conn = self.conn().await?;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM price_sheets WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(owner.to_string())
                .bind(after(&page))
                .bind(page.limit as i64 + 1)
                .fetch_all(&mut *conn)
                .await
                .map_err(db_err("listing price sheets"))?;
        let mut sheets = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(s) = self.load_sheet(&mut conn, &id).await? {
                sheets.push(s);
            }
        }
        Ok(Page::from_rows(sheets, page, |s| s.id.as_uuid()))
    }

    async fn delete_sheet(&self, id: PriceSheetId, now: DateTime<Utc>) -> Result<bool> {
        // One statement: the check and the removal cannot be split by an
        // album taking the sheet in between.
        let done = sqlx::query(
            "DELETE FROM price_sheets WHERE id = $1 AND NOT EXISTS (
                 SELECT 1 FROM albums WHERE price_sheet_id = $1 AND (expires_at IS NULL OR expires_at > $2))",
        )
        .bind(id.to_string())
        .bind(millis(now))
        .execute(&self.pool)
        .await
        .map_err(db_err("removing a price sheet"))?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        match self.sheet(id).await? {
            Some(_) => Err(Error::conflict("in_use", "an open album sells by this price sheet")),
            None => Ok(false),
        }
    }

    async fn set_album_sheet(&self, album: AlbumId, sheet: Option<PriceSheetId>) -> Result<()> {
        sqlx::query("UPDATE albums SET price_sheet_id = $1, revision = revision + 1 WHERE id = $2")
            .bind(sheet.map(|s| s.to_string()))
            .bind(album.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("setting an album's price sheet"))?;
        Ok(())
    }

    async fn album_sheet(&self, album: AlbumId) -> Result<Option<PriceSheetId>> {
        let id: Option<Option<String>> = sqlx::query_scalar("SELECT price_sheet_id FROM albums WHERE id = $1")
            .bind(album.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading an album's price sheet"))?;
        id.flatten().map(|s| Ok(PriceSheetId::from_uuid(parse_uuid(&s)?))).transpose()
    }

    async fn save_coupon(&self, c: &Coupon, now: DateTime<Utc>) -> Result<()> {
        let (percent, amount, currency) = match c.discount {
            Discount::Percent(p) => (Some(i64::from(p)), None, c.min_order.map(|m| m.currency)),
            Discount::Amount(m) => (None, Some(m.amount), Some(m.currency)),
        };
        let albums = serde_json::to_string(&c.album_ids).map_err(|e| Error::backend("saving a coupon", e))?;
        let mut tx = self.pool.begin().await.map_err(db_err("starting a transaction"))?;
        let clash: Option<String> =
            sqlx::query_scalar("SELECT id FROM coupons WHERE owner_id = $1 AND code_key = $2 AND id <> $3")
                .bind(c.owner_id.to_string())
                .bind(c.code.to_lowercase())
                .bind(c.id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err("saving a coupon"))?;
        let taken = || Error::conflict("coupon_code_taken", format!("you have a coupon {} already", c.code));
        if clash.is_some() {
            return Err(taken());
        }
        let done = sqlx::query(
            "INSERT INTO coupons (id, owner_id, code, code_key, percent_off, amount_off, currency, min_order_amount,
                                  starts_at, expires_at, max_redemptions, once_per_client, album_ids, auto_apply,
                                  created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (id) DO UPDATE SET code = excluded.code, code_key = excluded.code_key,
                 percent_off = excluded.percent_off, amount_off = excluded.amount_off,
                 currency = excluded.currency, min_order_amount = excluded.min_order_amount,
                 starts_at = excluded.starts_at, expires_at = excluded.expires_at,
                 max_redemptions = excluded.max_redemptions, once_per_client = excluded.once_per_client,
                 album_ids = excluded.album_ids, auto_apply = excluded.auto_apply
             WHERE coupons.owner_id = excluded.owner_id",
        )
        .bind(c.id.to_string())
        .bind(c.owner_id.to_string())
        .bind(&c.code)
        .bind(c.code.to_lowercase())
        .bind(percent)
        .bind(amount)
        .bind(currency.map(|c| c.as_str().to_owned()))
        .bind(c.min_order.map(|m| m.amount))
        .bind(c.starts_at.map(millis))
        .bind(c.expires_at.map(millis))
        .bind(c.max_redemptions.map(i64::from))
        .bind(i64::from(c.once_per_client))
        .bind(albums)
        .bind(i64::from(c.auto_apply))
        .bind(millis(now))
        .execute(&mut *tx)
        .await;
        match done {
            Ok(d) if d.rows_affected() == 1 => tx.commit().await.map_err(db_err("committing a coupon")),
            Ok(_) => Err(Error::not_found("coupon")),
            // A racing coupon with the same code committed first.
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(taken()),
            Err(e) => Err(db_err("saving a coupon")(e)),
        }
    }

    async fn coupon(&self, id: CouponId) -> Result<Option<(Coupon, u32)>> {
        let row = sqlx::query("SELECT * FROM coupons WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a coupon"))?;
        row.map(|r| held_coupon_from(&r)).transpose()
    }

    async fn coupon_by_code(&self, owner: UserId, code: &str) -> Result<Option<(Coupon, u32)>> {
        let row = sqlx::query("SELECT * FROM coupons WHERE owner_id = $1 AND code_key = $2")
            .bind(owner.to_string())
            .bind(code.trim().to_lowercase())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("reading a coupon"))?;
        row.map(|r| held_coupon_from(&r)).transpose()
    }

    async fn list_coupons(&self, owner: UserId, page: PageRequest) -> Result<Page<Coupon>> {
        let rows = sqlx::query("SELECT * FROM coupons WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3")
            .bind(owner.to_string())
            .bind(after(&page))
            .bind(page.limit as i64 + 1)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing coupons"))?;
        let coupons = rows.iter().map(coupon_from).collect::<Result<Vec<_>>>()?;
        Ok(Page::from_rows(coupons, page, |c| c.id.as_uuid()))
    }

    async fn offers(&self, owner: UserId) -> Result<Vec<(Coupon, u32)>> {
        let rows = sqlx::query("SELECT * FROM coupons WHERE owner_id = $1 AND auto_apply = 1 ORDER BY id")
            .bind(owner.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err("listing offers"))?;
        rows.iter().map(held_coupon_from).collect()
    }

    async fn delete_coupon(&self, id: CouponId) -> Result<bool> {
        let done = sqlx::query("DELETE FROM coupons WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(db_err("removing a coupon"))?;
        Ok(done.rows_affected() == 1)
    }
}
