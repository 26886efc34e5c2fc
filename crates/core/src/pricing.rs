//! Pricing: price sheets (products, packages, an all-photos price),
//! coupons and automatic album offers, tax, and the one pure function that
//! prices a cart, [`quote`].
//!
//! Everything is integer minor units ([`Money`]); nothing here reads a
//! clock, a store or a random number, so a quote is a function of its
//! input alone. The rounding rules are stated once, here:
//!
//! - **A percent discount rounds down** to the minor unit: 15 % off €9.99
//!   is €1.49 off, never more than the percent says.
//! - **An amount discount** takes at most the subtotal: a total never goes
//!   below zero.
//! - **Exclusive tax** is `net × rate`, rounded half up (half a cent up).
//! - **Inclusive tax** is extracted from the total: `total − total ÷ (1 +
//!   rate)`, the division rounded half up; the total does not change.
//! - **Tax is on the discounted amount**: subtotal − discount.
//!
//! `docs/selling.md` has a table of worked examples, and the crate's
//! `pricing` test runs that table.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::id::{CouponId, PackageId, PriceSheetId, ProductId};
use crate::{AlbumId, Currency, Error, Money, PhotoId, Result, UserId};

/// How a digital product is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// The uploaded original, byte for byte.
    Original,
    /// A JPEG with its long edge at [`Delivery::WEB_EDGE`] px and no
    /// watermark (the original when it is smaller).
    Web,
}

impl Delivery {
    /// The long edge of a `web` delivery, in pixels.
    pub const WEB_EDGE: u32 = 2048;

    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Delivery::Original => "original",
            Delivery::Web => "web",
        }
    }
}

/// What a product is. Only digital products exist yet; prints join as a
/// variant of their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ProductKind {
    /// A file to download.
    Digital {
        /// Which file.
        delivery: Delivery,
    },
}

/// One thing a photo is sold as, at a price a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Its id.
    pub id: ProductId,
    /// "Full-resolution file".
    pub name: String,
    /// What it is.
    #[serde(flatten)]
    pub kind: ProductKind,
    /// The price of one photo.
    pub price: Money,
}

/// `photos` photos of one product for one price ("any 10 for €90").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Its id.
    pub id: PackageId,
    /// "Ten favourites".
    pub name: String,
    /// The product it sells.
    pub product: ProductId,
    /// How many photos it covers (a cart with fewer may still take it when
    /// that is cheaper).
    pub photos: u32,
    /// Its price.
    pub price: Money,
}

/// Every photo of the album as one product, for one price.
///
/// In a quote it covers every line of its product, however many: a cart of
/// that product never costs more than this. (The buyer may then take the
/// album's other photos too; that is the gallery's offer to make.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllPhotos {
    /// The product.
    pub product: ProductId,
    /// The price of the whole album.
    pub price: Money,
}

/// A photographer's prices, reusable across albums.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceSheet {
    /// Its id.
    pub id: PriceSheetId,
    /// Its photographer.
    pub owner_id: UserId,
    /// "Weddings 2027".
    pub name: String,
    /// Every price of the sheet is in it.
    pub currency: Currency,
    /// 1 to [`PriceSheet::MAX_PRODUCTS`].
    pub products: Vec<Product>,
    /// Up to [`PriceSheet::MAX_PACKAGES`].
    pub packages: Vec<Package>,
    /// The whole album for one price, if offered.
    pub all_photos: Option<AllPhotos>,
}

impl PriceSheet {
    /// The most products a sheet has.
    pub const MAX_PRODUCTS: usize = 20;
    /// The most packages a sheet has.
    pub const MAX_PACKAGES: usize = 20;
    /// The most photos a package covers.
    pub const MAX_PACKAGE_PHOTOS: u32 = 10_000;

    /// The sheet an album without one sells by: one product, the original,
    /// at the album's price per photo, so albums and orders made before
    /// price sheets sell and read as they did. Its product's id is the
    /// album's own (stable: orders keep naming it).
    pub fn default_for(album: AlbumId, owner_id: UserId, price_per_photo: Money) -> PriceSheet {
        PriceSheet {
            id: PriceSheetId::from_uuid(album.as_uuid()),
            owner_id,
            name: "Per photo".into(),
            currency: price_per_photo.currency,
            products: vec![Product {
                id: ProductId::from_uuid(album.as_uuid()),
                name: "Original".into(),
                kind: ProductKind::Digital { delivery: Delivery::Original },
                price: price_per_photo,
            }],
            packages: Vec::new(),
            all_photos: None,
        }
    }

    /// A product of the sheet.
    pub fn product(&self, id: ProductId) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// Checks the sheet's own rules: a name, 1 to 20 products and up to 20
    /// packages, every price in the sheet's currency and at most
    /// [`Money::MAX_PRICE`] (a package or the album up to 10,000 times
    /// that), packages of 1 to 10,000 photos of one of its products.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::invalid("invalid_price_sheet", m));
        let name_ok = |n: &str| !n.trim().is_empty() && n.chars().count() <= 100 && !n.chars().any(char::is_control);
        if !name_ok(&self.name) {
            return bad("a sheet's name is 1 to 100 printable characters".into());
        }
        if self.products.is_empty() || self.products.len() > Self::MAX_PRODUCTS {
            return bad(format!("a sheet has 1 to {} products", Self::MAX_PRODUCTS));
        }
        if self.packages.len() > Self::MAX_PACKAGES {
            return bad(format!("a sheet has at most {} packages", Self::MAX_PACKAGES));
        }
        let price_ok = |m: &Money, max: i64| m.currency == self.currency && (0..=max).contains(&m.amount);
        let mut ids = HashSet::new();
        for p in &self.products {
            if !name_ok(&p.name) {
                return bad("a product's name is 1 to 100 printable characters".into());
            }
            if !ids.insert(p.id) {
                return bad("a product is listed twice".into());
            }
            if !price_ok(&p.price, Money::MAX_PRICE) {
                return bad(format!(
                    "{}: a price is 0 to {} minor units in {}",
                    p.name,
                    Money::MAX_PRICE,
                    self.currency
                ));
            }
        }
        let bulk = Money::MAX_PRICE * i64::from(Self::MAX_PACKAGE_PHOTOS);
        for k in &self.packages {
            if !name_ok(&k.name) {
                return bad("a package's name is 1 to 100 printable characters".into());
            }
            if self.product(k.product).is_none() {
                return bad(format!("{}: its product is not on the sheet", k.name));
            }
            if !(1..=Self::MAX_PACKAGE_PHOTOS).contains(&k.photos) {
                return bad(format!("{}: a package has 1 to {} photos", k.name, Self::MAX_PACKAGE_PHOTOS));
            }
            if !price_ok(&k.price, bulk) {
                return bad(format!("{}: a package's price is 0 to {bulk} minor units in {}", k.name, self.currency));
            }
        }
        if let Some(all) = &self.all_photos {
            if self.product(all.product).is_none() {
                return bad("the all-photos price's product is not on the sheet".into());
            }
            if !price_ok(&all.price, bulk) {
                return bad(format!("the all-photos price is 0 to {bulk} minor units in {}", self.currency));
            }
        }
        Ok(())
    }
}

/// What a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discount {
    /// 1 to 100 percent of the subtotal (rounded down).
    Percent(u8),
    /// A fixed amount (at most the subtotal).
    Amount(Money),
}

/// A code a buyer types, or (`auto_apply`) an album offer applied without
/// one, such as an early-bird discount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// Its id.
    pub id: CouponId,
    /// Its photographer.
    pub owner_id: UserId,
    /// The code, compared without regard to case.
    pub code: String,
    /// What it takes off.
    pub discount: Discount,
    /// The least subtotal it applies to.
    pub min_order: Option<Money>,
    /// From when.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when (exclusive).
    pub expires_at: Option<DateTime<Utc>>,
    /// How many orders may hold it (checked by the store, which counts).
    pub max_redemptions: Option<u32>,
    /// One order per client (checked by the store).
    pub once_per_client: bool,
    /// The albums it is for; empty: every album of its photographer.
    pub album_ids: Vec<AlbumId>,
    /// An offer: applied to every cart it fits, no code typed.
    pub auto_apply: bool,
}

impl Coupon {
    /// A coupon of `owner`'s with this code and discount and no other
    /// condition: any album, any time, any number of orders, typed (not an
    /// offer). Set the other fields as needed.
    pub fn new(owner_id: UserId, code: &str, discount: Discount) -> Coupon {
        Coupon {
            id: CouponId::new(),
            owner_id,
            code: code.to_owned(),
            discount,
            min_order: None,
            starts_at: None,
            expires_at: None,
            max_redemptions: None,
            once_per_client: false,
            album_ids: Vec::new(),
            auto_apply: false,
        }
    }

    /// Why this coupon does not apply to a cart of `album` with this
    /// subtotal at `now`, as the error a buyer who typed it gets; `None`
    /// when it applies. (Redemption counts are the store's to check.)
    pub fn refusal(&self, album: AlbumId, subtotal: Money, now: DateTime<Utc>) -> Option<Error> {
        if !self.album_ids.is_empty() && !self.album_ids.contains(&album) {
            return Some(Error::invalid("coupon_not_for_album", format!("{} is not for this album", self.code)));
        }
        if self.starts_at.is_some_and(|t| now < t) {
            return Some(Error::invalid("coupon_not_started", format!("{} is not valid yet", self.code)));
        }
        if self.expires_at.is_some_and(|t| now >= t) {
            return Some(Error::invalid("coupon_expired", format!("{} has expired", self.code)));
        }
        let foreign = |m: &Money| m.currency != subtotal.currency;
        if matches!(self.discount, Discount::Amount(m) if foreign(&m)) || self.min_order.as_ref().is_some_and(foreign) {
            return Some(Error::invalid(
                "coupon_not_for_album",
                format!("{} is in another currency than this album", self.code),
            ));
        }
        if let Some(min) = self.min_order
            && subtotal.amount < min.amount
        {
            return Some(Error::invalid(
                "coupon_below_minimum",
                format!("{} needs an order of at least {}", self.code, min.human()),
            ));
        }
        None
    }

    /// What it takes off `subtotal` (see the module's rounding rules).
    pub fn discount_on(&self, subtotal: i64) -> i64 {
        match self.discount {
            Discount::Percent(p) => (i128::from(subtotal) * i128::from(p.min(100)) / 100) as i64,
            Discount::Amount(m) => m.amount.clamp(0, subtotal),
        }
    }
}

/// A studio's tax rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum TaxRule {
    /// No tax is charged or shown.
    None,
    /// Prices include tax at `rate_bps` (2500 = 25 %); the tax is shown.
    Inclusive {
        /// Basis points, 0 to 10,000.
        rate_bps: u32,
        /// "VAT".
        label: String,
    },
    /// Tax at `rate_bps` is added to the prices.
    Exclusive {
        /// Basis points, 0 to 10,000.
        rate_bps: u32,
        /// "Sales tax".
        label: String,
    },
    /// Stripe Tax computes it at checkout; a quote shows none, and the
    /// order records what Stripe charged.
    Stripe,
}

/// One photo in a cart, as one product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CartLine {
    /// The photo.
    pub photo_id: PhotoId,
    /// The product (of the album's sheet).
    pub product_id: ProductId,
}

/// What a quote prices.
#[derive(Debug, Clone, Copy)]
pub struct QuoteInput<'a> {
    /// The album's sheet ([`PriceSheet::default_for`] when it has none).
    pub sheet: &'a PriceSheet,
    /// The cart: each photo once.
    pub lines: &'a [CartLine],
    /// The album (coupons may be for some albums only).
    pub album: AlbumId,
    /// When (coupons have dates).
    pub now: DateTime<Utc>,
    /// The photographer's automatic offers; those that do not fit are
    /// passed over silently.
    pub offers: &'a [Coupon],
    /// The coupon whose code the buyer typed, if any; one that does not fit
    /// is an error ([`Coupon::refusal`]).
    pub coupon: Option<&'a Coupon>,
    /// The studio's tax rule.
    pub tax: &'a TaxRule,
}

/// A cart line with its price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedLine {
    /// The photo.
    pub photo_id: PhotoId,
    /// Its product.
    pub product_id: ProductId,
    /// The product's price for one photo.
    pub unit_price: Money,
}

/// A package (or the all-photos price) the quote chose, with the photos
/// it covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenPackage {
    /// The package; `None` for the all-photos price.
    pub package_id: Option<PackageId>,
    /// Its product.
    pub product_id: ProductId,
    /// The cart's photos it covers.
    pub photo_ids: Vec<PhotoId>,
    /// What it costs.
    pub price: Money,
}

/// The coupon or offer a quote applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedCoupon {
    /// Its id.
    pub id: CouponId,
    /// Its code, as the photographer wrote it.
    pub code: String,
    /// Whether it was an automatic offer.
    pub auto_apply: bool,
}

/// A priced cart: what a quote answers and an order keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breakdown {
    /// Every line, in the cart's order, at its unit price.
    pub lines: Vec<PricedLine>,
    /// The packages chosen (their lines are paid by the package).
    pub packages: Vec<ChosenPackage>,
    /// The lines outside packages at their unit prices, plus the packages.
    pub subtotal: Money,
    /// What the coupon or offer takes off.
    pub discount: Money,
    /// The coupon or offer applied.
    pub coupon: Option<AppliedCoupon>,
    /// The tax: added (`exclusive`), or included in the total (`inclusive`).
    pub tax: Money,
    /// What the tax is called ("VAT 25 %"), when there is one.
    pub tax_label: Option<String>,
    /// Whether `tax` is part of `subtotal − discount` (inclusive) rather
    /// than added to it.
    pub tax_included: bool,
    /// What the buyer pays.
    pub total: Money,
}

/// Prices a cart: the cheapest combination of the sheet's packages and
/// all-photos price for its lines, then the coupon or the best automatic
/// offer, then tax.
///
/// - **Packages, exactly.** Packages and the all-photos price are per
///   product, so each product's lines are priced on their own. For a
///   product with `n` lines at unit price `u` and packages `(kᵢ, cᵢ)`,
///   `best(0) = 0` and `best(m) = min(best(m−1) + u, minᵢ best(m −
///   min(kᵢ, m)) + cᵢ)` (a package may cover fewer photos than it holds
///   when that is cheaper); the product costs `min(best(n), all_photos)`.
///   That is a dynamic program over counts, not a greedy guess: `O(n · p)`
///   time and `O(n)` memory for `n` lines and `p` packages, summed over
///   products (a 2,000-photo cart against 5 packages is about 10,000 steps).
///   Every photo of a product costs the same, so the total does not depend
///   on the cart's order; which photos a package covers follows that order.
/// - **One discount.** The typed coupon must fit ([`Coupon::refusal`]);
///   offers that do not fit are passed over. The buyer gets the larger of
///   the typed coupon's discount and the best offer's, never both (on a
///   tie, the typed coupon).
/// - **Tax** on the discounted amount, by the studio's rule.
///
/// Errors: an empty cart (422 `invalid_photo_ids`), a photo twice
/// (`duplicate_photo`), a product not on the sheet (`unknown_product`), a
/// typed coupon that does not fit (its refusal).
pub fn quote(input: &QuoteInput<'_>) -> Result<Breakdown> {
    let sheet = input.sheet;
    let currency = sheet.currency;
    let money = |amount: i64| Money { amount, currency };
    if input.lines.is_empty() {
        return Err(Error::invalid("invalid_photo_ids", "the cart is empty"));
    }
    let mut seen = HashSet::with_capacity(input.lines.len());
    let mut by_product: HashMap<ProductId, Vec<PhotoId>> = HashMap::new();
    let mut lines = Vec::with_capacity(input.lines.len());
    for line in input.lines {
        if !seen.insert(line.photo_id) {
            return Err(Error::invalid("duplicate_photo", format!("photo {} is in the cart twice", line.photo_id)));
        }
        let product = sheet.product(line.product_id).ok_or_else(|| {
            Error::invalid("unknown_product", format!("product {} is not on this album's price sheet", line.product_id))
        })?;
        by_product.entry(product.id).or_default().push(line.photo_id);
        lines.push(PricedLine { photo_id: line.photo_id, product_id: product.id, unit_price: product.price });
    }
    // Products in the sheet's order, so the breakdown reads the same
    // whatever the cart's order.
    let mut subtotal: i64 = 0;
    let mut packages = Vec::new();
    for product in &sheet.products {
        let Some(photos) = by_product.get(&product.id) else { continue };
        let offered: Vec<&Package> = sheet.packages.iter().filter(|k| k.product == product.id).collect();
        let all = sheet.all_photos.as_ref().filter(|a| a.product == product.id);
        let (cost, chosen) = cheapest(photos, product.price.amount, &offered, all.map(|a| a.price.amount));
        subtotal += cost;
        for (package, covered, price) in chosen {
            packages.push(ChosenPackage {
                package_id: package.map(|k| k.id),
                product_id: product.id,
                photo_ids: covered,
                price: money(price),
            });
        }
    }
    // One discount: the typed coupon (which must fit) or the best offer.
    let typed = match input.coupon {
        Some(c) => match c.refusal(input.album, money(subtotal), input.now) {
            Some(e) => return Err(e),
            None => Some((c, c.discount_on(subtotal))),
        },
        None => None,
    };
    let best_offer = input
        .offers
        .iter()
        .filter(|o| o.auto_apply && o.refusal(input.album, money(subtotal), input.now).is_none())
        .map(|o| (o, o.discount_on(subtotal)))
        .filter(|(_, d)| *d > 0)
        .max_by_key(|(_, d)| *d);
    let applied = match (typed, best_offer) {
        (Some(t), Some(o)) if o.1 > t.1 => Some(o),
        (Some(t), _) => Some(t),
        (None, o) => o,
    };
    let discount = applied.map_or(0, |(_, d)| d);
    let net = subtotal - discount;
    let (tax, total, label, included) = match input.tax {
        TaxRule::None | TaxRule::Stripe => (0, net, None, false),
        TaxRule::Exclusive { rate_bps, label } => {
            let tax = half_up(i128::from(net) * i128::from(*rate_bps), 10_000);
            (tax, net + tax, Some(tax_label(label, *rate_bps)), false)
        }
        TaxRule::Inclusive { rate_bps, label } => {
            let before = half_up(i128::from(net) * 10_000, 10_000 + i128::from(*rate_bps));
            (net - before, net, Some(tax_label(label, *rate_bps)), true)
        }
    };
    Ok(Breakdown {
        lines,
        packages,
        subtotal: money(subtotal),
        discount: money(discount),
        coupon: applied.map(|(c, _)| AppliedCoupon { id: c.id, code: c.code.clone(), auto_apply: c.auto_apply }),
        tax: money(tax),
        tax_label: label,
        tax_included: included,
        total: money(total),
    })
}

/// `n / d` rounded half up, for non-negative `n` and positive `d`.
fn half_up(n: i128, d: i128) -> i64 {
    ((2 * n + d) / (2 * d)) as i64
}

/// "VAT 25 %", "Sales tax 8.25 %".
fn tax_label(label: &str, rate_bps: u32) -> String {
    let (whole, frac) = (rate_bps / 100, rate_bps % 100);
    let rate = match frac {
        0 => format!("{whole}"),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    };
    format!("{label} {rate} %")
}

/// A package chosen (`None`: the all-photos price), the photos it covers
/// and its price.
type Covered<'a> = (Option<&'a Package>, Vec<PhotoId>, i64);

/// The cheapest way to buy `photos` of one product at `unit` each, with
/// these packages and the all-photos price: the cost, and the packages
/// chosen with the photos each covers and its price (`None`: the
/// all-photos price). See
/// [`quote`] for the recurrence.
fn cheapest<'a>(
    photos: &[PhotoId],
    unit: i64,
    packages: &[&'a Package],
    all_photos: Option<i64>,
) -> (i64, Vec<Covered<'a>>) {
    let n = photos.len();
    // best[m]: the least cost of m photos; how[m]: the last step taken
    // (None: one photo alone; Some(i): package i).
    let mut best = vec![0i64; n + 1];
    let mut how: Vec<Option<usize>> = vec![None; n + 1];
    for m in 1..=n {
        let mut cost = best[m - 1] + unit;
        let mut step = None;
        for (i, k) in packages.iter().enumerate() {
            let covered = (k.photos as usize).min(m);
            let c = best[m - covered] + k.price.amount;
            if c < cost {
                cost = c;
                step = Some(i);
            }
        }
        best[m] = cost;
        how[m] = step;
    }
    if let Some(all) = all_photos
        && all < best[n]
    {
        return (all, vec![(None, photos.to_vec(), all)]);
    }
    let mut chosen = Vec::new();
    let mut m = n;
    while m > 0 {
        match how[m] {
            None => m -= 1,
            Some(i) => {
                let covered = (packages[i].photos as usize).min(m);
                chosen.push((Some(packages[i]), photos[m - covered..m].to_vec(), packages[i].price.amount));
                m -= covered;
            }
        }
    }
    chosen.reverse();
    (best[n], chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tax_labels_read_as_people_write_them() {
        assert_eq!(tax_label("VAT", 2500), "VAT 25 %");
        assert_eq!(tax_label("Sales tax", 825), "Sales tax 8.25 %");
        assert_eq!(tax_label("GST", 750), "GST 7.5 %");
    }

    #[test]
    fn half_up_rounds_halves_up() {
        assert_eq!(half_up(5, 10), 1);
        assert_eq!(half_up(4, 10), 0);
        assert_eq!(half_up(15, 10), 2);
        assert_eq!(half_up(0, 7), 0);
    }
}
