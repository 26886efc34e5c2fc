//! Selling over HTTP: the price of a cart (`POST /albums/{album_id}/quote`).
//! The rules live in `proofsheet_core::Selling` and
//! `proofsheet_core::pricing`; this maps them to HTTP. Price sheets and
//! coupons are managed through the SDK until their routes arrive (see
//! `docs/api.md`, "Not built yet").

use std::sync::Arc;

use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use proofsheet_core::{
    AlbumId, Error, PhotoId,
    pricing::{Breakdown, ProductId},
};

use super::{ApiTags, error::ApiError, guards::ordering, model::*};
use crate::{auth::MaybeAuth, state::AppState};

/// One photo of a cart, as one product.
#[derive(Debug, Clone, Object)]
#[oai(rename = "QuoteItem", deny_unknown_fields)]
pub struct QuoteItemDto {
    /// A ready photo of the album.
    pub photo_id: Text,
    /// A product of the album's price sheet; absent: the sheet's first (an
    /// album without a sheet sells the original at its price per photo).
    pub product_id: Option<Text>,
}

/// The body of `POST /albums/{album_id}/quote`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "QuoteRequest", deny_unknown_fields)]
pub struct QuoteRequest {
    /// 1 to 500 photos, each once.
    pub items: Vec<QuoteItemDto>,
    /// A coupon code as the buyer typed it (any case).
    pub coupon: Option<Text>,
}

/// A photo of the cart at its product's price.
#[derive(Debug, Clone, Object)]
#[oai(rename = "QuoteLine")]
pub struct QuoteLineDto {
    /// The photo.
    pub photo_id: String,
    /// Its product.
    pub product_id: String,
    /// The product's price for one photo.
    pub unit_price: MoneyDto,
}

/// A package the quote chose, with the photos it covers.
#[derive(Debug, Clone, Object)]
#[oai(rename = "QuotePackage")]
pub struct QuotePackageDto {
    /// The sheet's package, or `all_photos` for the whole album's price.
    pub package_id: String,
    /// The photos of the cart it covers.
    pub photo_ids: Vec<String>,
    /// What it costs.
    pub price: MoneyDto,
}

/// The coupon or offer applied.
#[derive(Debug, Clone, Object)]
#[oai(rename = "QuoteCoupon")]
pub struct QuoteCouponDto {
    /// Its code, as the photographer wrote it.
    pub code: String,
}

/// The price of a cart: what `POST /albums/{album_id}/quote` answers and
/// orders will carry.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Quote")]
pub struct QuoteDto {
    /// Every photo, in the cart's order.
    pub lines: Vec<QuoteLineDto>,
    /// The cheapest combination of the sheet's packages and all-photos
    /// price for this cart.
    pub packages: Vec<QuotePackageDto>,
    /// The lines outside packages plus the packages.
    pub subtotal: MoneyDto,
    /// What the coupon or the best automatic offer takes off.
    pub discount: MoneyDto,
    /// The tax (included in `total` or added to it, by the studio's rule).
    pub tax: MoneyDto,
    /// What the buyer pays.
    pub total: MoneyDto,
    /// The coupon or offer applied; `null` when none.
    pub coupon: Option<QuoteCouponDto>,
}

impl From<Breakdown> for QuoteDto {
    fn from(b: Breakdown) -> Self {
        QuoteDto {
            lines: b
                .lines
                .into_iter()
                .map(|l| QuoteLineDto {
                    photo_id: l.photo_id.to_string(),
                    product_id: l.product_id.to_string(),
                    unit_price: l.unit_price.into(),
                })
                .collect(),
            packages: b
                .packages
                .into_iter()
                .map(|k| QuotePackageDto {
                    package_id: k.package_id.map_or_else(|| "all_photos".to_owned(), |p| p.to_string()),
                    photo_ids: k.photo_ids.iter().map(ToString::to_string).collect(),
                    price: k.price.into(),
                })
                .collect(),
            subtotal: b.subtotal.into(),
            discount: b.discount.into(),
            tax: b.tax.into(),
            total: b.total.into(),
            coupon: b.coupon.map(|c| QuoteCouponDto { code: c.code }),
        }
    }
}

/// `/api/v1/albums/{album_id}/quote`.
pub struct SellingApi {
    /// Shared state.
    pub state: Arc<AppState>,
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Orders")]
impl SellingApi {
    /// The price of a cart of this album's photos, nothing stored: whoever
    /// may see the album may ask. The same breakdown orders carry.
    #[oai(path = "/albums/:album_id/quote", method = "post", transform = "ordering")]
    async fn quote(
        &self,
        auth: MaybeAuth,
        album_id: Path<String>,
        body: Json<QuoteRequest>,
    ) -> Result<Json<QuoteDto>, ApiError> {
        let album: AlbumId = album_id.0.parse().map_err(|_| Error::not_found("album"))?;
        let items =
            body.items
                .iter()
                .map(|i| {
                    let photo = i.photo_id.parse::<PhotoId>().map_err(|_| {
                        Error::invalid("unknown_photo", format!("{:?} is not a photo id", i.photo_id.0))
                    })?;
                    let product = i
                        .product_id
                        .as_ref()
                        .map(|p| {
                            p.parse::<uuid::Uuid>().map(ProductId::from_uuid).map_err(|_| {
                                Error::invalid("unknown_product", format!("{:?} is not a product id", p.0))
                            })
                        })
                        .transpose()?;
                    Ok((photo, product))
                })
                .collect::<Result<Vec<_>, Error>>()?;
        let coupon = body.coupon.as_ref().map(|c| c.0.as_str());
        let quote = self.state.engine.selling().quote(auth.user(), album, &items, coupon).await?;
        Ok(Json(quote.into()))
    }
}
