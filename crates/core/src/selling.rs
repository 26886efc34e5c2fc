//! The selling service: a photographer's price sheets and coupons, the
//! sheet an album sells by, and the quote of a cart, each with its
//! authorization. The pricing rules themselves are [`crate::pricing`]'s;
//! the storage rules [`crate::SellingStore`]'s.

use std::collections::HashSet;

use tracing::instrument;

use crate::{
    AlbumId, Error, Page, PageRequest, PhotoId, Proofsheet, Result, Role, User,
    pricing::{self, Breakdown, CartLine, Coupon, CouponId, Discount, PriceSheet, PriceSheetId, ProductId, TaxRule},
};

/// The selling service. Get it with [`Proofsheet::selling`].
pub struct Selling<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The selling service.
    pub fn selling(&self) -> Selling<'_> {
        Selling(self)
    }
}

/// The longest coupon code.
pub const MAX_COUPON_CODE: usize = 40;

/// Whether every redemption of a coupon is held.
fn spent(coupon: &Coupon, held: u32) -> bool {
    coupon.max_redemptions.is_some_and(|max| held >= max)
}

fn photographer(user: &User) -> Result<()> {
    if user.role != Role::Photographer {
        return Err(Error::forbidden("photographers_only", "price sheets and coupons are photographers'"));
    }
    Ok(())
}

impl Selling<'_> {
    /// Adds a sheet of the caller's (a photographer's), after
    /// [`PriceSheet::validate`]; its id and owner are set here, and ids the
    /// caller left fresh stay as given (packages name their products by id).
    #[instrument(skip_all, fields(user_id = %user.id))]
    pub async fn create_sheet(&self, user: &User, mut sheet: PriceSheet) -> Result<PriceSheet> {
        photographer(user)?;
        sheet.id = PriceSheetId::new();
        sheet.owner_id = user.id;
        sheet.validate()?;
        self.0.meta().save_sheet(&sheet, self.0.now()).await?;
        Ok(sheet)
    }

    /// A sheet of the caller's; `NotFound` for anyone else's.
    pub async fn sheet(&self, user: &User, id: PriceSheetId) -> Result<PriceSheet> {
        match self.0.meta().sheet(id).await? {
            Some(s) if s.owner_id == user.id => Ok(s),
            _ => Err(Error::not_found("price_sheet")),
        }
    }

    /// The caller's sheets.
    pub async fn sheets(&self, user: &User, page: PageRequest) -> Result<Page<PriceSheet>> {
        photographer(user)?;
        self.0.meta().list_sheets(user.id, page).await
    }

    /// Replaces a sheet of the caller's whole (albums using it price
    /// orders made after by the new one; orders made before keep theirs).
    pub async fn replace_sheet(&self, user: &User, mut sheet: PriceSheet) -> Result<PriceSheet> {
        let current = self.sheet(user, sheet.id).await?;
        sheet.owner_id = current.owner_id;
        sheet.validate()?;
        self.0.meta().save_sheet(&sheet, self.0.now()).await?;
        Ok(sheet)
    }

    /// Removes a sheet of the caller's; 409 `in_use` while an open album
    /// sells by it.
    pub async fn delete_sheet(&self, user: &User, id: PriceSheetId) -> Result<()> {
        self.sheet(user, id).await?;
        self.0.meta().delete_sheet(id, self.0.now()).await?;
        Ok(())
    }

    /// Has an album of the caller's sell by one of their sheets (`None`:
    /// by its price per photo again).
    pub async fn set_album_sheet(&self, user: &User, album: AlbumId, sheet: Option<PriceSheetId>) -> Result<()> {
        let album = self.0.albums().get_owned(user, album).await?;
        if let Some(id) = sheet {
            self.sheet(user, id)
                .await
                .map_err(|_| Error::invalid("invalid_price_sheet", "price_sheet_id is not one of your price sheets"))?;
        }
        self.0.meta().set_album_sheet(album.id, sheet).await
    }

    /// The sheet an album sells by: its own, else its price per photo as
    /// a sheet ([`PriceSheet::default_for`]).
    pub async fn album_sheet(&self, album: &crate::Album) -> Result<PriceSheet> {
        let own = match self.0.meta().album_sheet(album.id).await? {
            Some(id) => self.0.meta().sheet(id).await?,
            None => None,
        };
        Ok(own.unwrap_or_else(|| PriceSheet::default_for(album.id, album.owner_id, album.price_per_photo)))
    }

    /// Checks a coupon's own rules: a code of 1 to [`MAX_COUPON_CODE`]
    /// letters, digits, `-` and `_`; a percent of 1 to 100 or an amount of
    /// 1 to [`crate::Money::MAX_PRICE`]; a minimum in the same currency; a
    /// start before the end; at least one redemption; albums of the
    /// caller's own.
    async fn check_coupon(&self, user: &User, c: &Coupon) -> Result<()> {
        let bad = |m: &str| Err(Error::invalid("invalid_coupon", m.to_owned()));
        let code_ok = |s: &str| {
            (1..=MAX_COUPON_CODE).contains(&s.chars().count())
                && s.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        };
        if !code_ok(&c.code) {
            return bad("a code is 1 to 40 letters, digits, - and _");
        }
        match c.discount {
            Discount::Percent(p) if !(1..=100).contains(&p) => return bad("percent_off is 1 to 100"),
            Discount::Amount(m) if !(1..=crate::Money::MAX_PRICE).contains(&m.amount) => {
                return bad("amount_off is more than zero and at most a photo's largest price");
            }
            Discount::Amount(m) if c.min_order.is_some_and(|min| min.currency != m.currency) => {
                return bad("min_order is in the currency of amount_off");
            }
            _ => {}
        }
        if c.min_order.is_some_and(|m| !(0..=crate::Money::MAX_PRICE * 10_000).contains(&m.amount)) {
            return bad("min_order is out of range");
        }
        if let (Some(start), Some(end)) = (c.starts_at, c.expires_at)
            && start >= end
        {
            return bad("starts_at comes before expires_at");
        }
        if c.max_redemptions == Some(0) {
            return bad("max_redemptions is at least 1");
        }
        let unique: HashSet<_> = c.album_ids.iter().collect();
        if unique.len() != c.album_ids.len() || c.album_ids.len() > 1000 {
            return bad("album_ids lists each album once, at most 1,000");
        }
        for id in &c.album_ids {
            self.0
                .albums()
                .get_owned(user, *id)
                .await
                .map_err(|_| Error::invalid("invalid_coupon", format!("album {id} is not one of yours")))?;
        }
        Ok(())
    }

    /// Adds a coupon or offer of the caller's (409 `coupon_code_taken`: the
    /// code is theirs already, in any case).
    #[instrument(skip_all, fields(user_id = %user.id))]
    pub async fn create_coupon(&self, user: &User, mut coupon: Coupon) -> Result<Coupon> {
        photographer(user)?;
        coupon.id = CouponId::new();
        coupon.owner_id = user.id;
        self.check_coupon(user, &coupon).await?;
        self.0.meta().save_coupon(&coupon, self.0.now()).await?;
        Ok(coupon)
    }

    /// A coupon of the caller's, with how many orders hold it.
    pub async fn coupon(&self, user: &User, id: CouponId) -> Result<(Coupon, u32)> {
        match self.0.meta().coupon(id).await? {
            Some((c, held)) if c.owner_id == user.id => Ok((c, held)),
            _ => Err(Error::not_found("coupon")),
        }
    }

    /// The caller's coupons and offers.
    pub async fn coupons(&self, user: &User, page: PageRequest) -> Result<Page<Coupon>> {
        photographer(user)?;
        self.0.meta().list_coupons(user.id, page).await
    }

    /// Replaces a coupon of the caller's (orders holding it keep what it
    /// took off).
    pub async fn replace_coupon(&self, user: &User, mut coupon: Coupon) -> Result<Coupon> {
        let (current, _) = self.coupon(user, coupon.id).await?;
        coupon.owner_id = current.owner_id;
        self.check_coupon(user, &coupon).await?;
        self.0.meta().save_coupon(&coupon, self.0.now()).await?;
        Ok(coupon)
    }

    /// Removes a coupon of the caller's.
    pub async fn delete_coupon(&self, user: &User, id: CouponId) -> Result<()> {
        self.coupon(user, id).await?;
        self.0.meta().delete_coupon(id).await?;
        Ok(())
    }

    /// The price of a cart of an album's photos, nothing stored: whoever
    /// may see the album may ask. `items` are photos with the product each
    /// is bought as (`None`: the sheet's first product, which is the
    /// original for an album without a sheet); `coupon` a code as typed
    /// (422 `coupon_unknown` when the album's photographer has none such,
    /// 409 `coupon_exhausted` when it is used up; see [`pricing::quote`]
    /// for the rest). Photos must be ready photos of the album
    /// (`unknown_photo`).
    #[instrument(skip_all, fields(album_id = %album_id))]
    pub async fn quote(
        &self,
        viewer: Option<&User>,
        album_id: AlbumId,
        items: &[(PhotoId, Option<ProductId>)],
        coupon: Option<&str>,
    ) -> Result<Breakdown> {
        let (album, _) = self.0.albums().get(viewer, album_id).await?;
        let max = self.0.settings().max_order_items;
        if items.is_empty() || items.len() > max {
            return Err(Error::invalid("invalid_photo_ids", format!("a cart has 1 to {max} photos")));
        }
        let ids: Vec<PhotoId> = items.iter().map(|(p, _)| *p).collect();
        let ready = self.0.albums().ready_photos_in(&album, &ids).await?;
        if let Some((missing, _)) = items.iter().find(|(p, _)| !ready.iter().any(|r| r.id == *p)) {
            return Err(Error::invalid("unknown_photo", format!("photo {missing} is not a ready photo of this album")));
        }
        let sheet = self.album_sheet(&album).await?;
        let default = sheet.products.first().map(|p| p.id).ok_or_else(|| Error::not_found("product"))?;
        let lines: Vec<CartLine> = items
            .iter()
            .map(|(p, product)| CartLine { photo_id: *p, product_id: product.unwrap_or(default) })
            .collect();
        let typed = match coupon.map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(code) => {
                let (c, held) =
                    self.0.meta().coupon_by_code(album.owner_id, code).await?.ok_or_else(|| {
                        Error::invalid("coupon_unknown", format!("{code} is not a code of this studio"))
                    })?;
                if spent(&c, held) {
                    return Err(Error::conflict("coupon_exhausted", format!("{code} has been used up")));
                }
                Some(c)
            }
        };
        // Offers that are used up are passed over like those that do not fit.
        let offers: Vec<Coupon> = self
            .0
            .meta()
            .offers(album.owner_id)
            .await?
            .into_iter()
            .filter(|(o, held)| !spent(o, *held))
            .map(|(o, _)| o)
            .collect();
        pricing::quote(&pricing::QuoteInput {
            sheet: &sheet,
            lines: &lines,
            album: album.id,
            now: self.0.now(),
            offers: &offers,
            coupon: typed.as_ref(),
            // The studio's tax rule arrives with `PUT /users/me/selling`;
            // until then quotes carry no tax, as orders do.
            tax: &TaxRule::None,
        })
    }
}
