//! Sales reports.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::{Currency, Error, Proofsheet, Result, Role, SalesRow, User};

/// Totals in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesTotal {
    /// Currency.
    pub currency: Currency,
    /// Paid orders.
    pub orders: u64,
    /// Photos sold.
    pub photos: u64,
    /// Revenue in minor units.
    pub revenue: i64,
}

/// Sales over a period: totals per currency and rows per album.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesReport {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
    /// Per currency.
    pub totals: Vec<SalesTotal>,
    /// Per album and currency.
    pub albums: Vec<SalesRow>,
    /// The best sellers: (photo, file name, times sold), most sold first.
    pub top_photos: Vec<(crate::PhotoId, String, u64)>,
}

impl SalesReport {
    /// The report as JSON (the shape `GET /api/v1/reports/sales` answers).
    pub fn to_json(&self) -> String {
        let money = |amount: i64, c: Currency| serde_json::json!({ "amount": amount, "currency": c.as_str() });
        serde_json::json!({
            "from": self.from,
            "to": self.to,
            "totals": self.totals.iter().map(|t| serde_json::json!({
                "currency": t.currency.as_str(), "orders": t.orders, "photos_sold": t.photos,
                "revenue": money(t.revenue, t.currency),
            })).collect::<Vec<_>>(),
            "albums": self.albums.iter().map(|a| serde_json::json!({
                "album_id": a.album_id.to_string(), "album_name": a.album_name, "currency": a.currency.as_str(),
                "orders": a.orders, "photos_sold": a.photos, "revenue": money(a.revenue, a.currency),
            })).collect::<Vec<_>>(),
            "top_photos": self.top_photos.iter().map(|(id, name, n)| serde_json::json!({
                "photo_id": id.to_string(), "filename": name, "sold": n,
            })).collect::<Vec<_>>(),
        })
        .to_string()
    }
}

/// The reports service. Get it with [`Proofsheet::reports`].
pub struct Reports<'a>(&'a Proofsheet);

impl Proofsheet {
    /// The reports service.
    pub fn reports(&self) -> Reports<'_> {
        Reports(self)
    }
}

impl Reports<'_> {
    /// Sales of orders paid in `[from, to)` and not refunded: a
    /// photographer's own, or everyone's for an admin.
    pub async fn sales(&self, user: &User, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<SalesReport> {
        let seller = match user.role {
            Role::Photographer => Some(user.id),
            Role::Admin => None,
            Role::Client => {
                return Err(Error::forbidden("photographers_only", "sales reports are for photographers and admins"));
            }
        };
        self.for_seller(seller, from, to).await
    }

    /// A photographer's monthly reports kept by the scheduler, as
    /// (`YYYY-MM`, the report's JSON), newest first; an admin's own (none
    /// unless they sell); clients have none to see.
    pub async fn monthly(&self, user: &User) -> Result<Vec<(String, String)>> {
        if user.role == Role::Client {
            return Err(Error::forbidden("photographers_only", "reports are for photographers"));
        }
        self.0.meta().monthly_reports(user.id).await
    }

    /// The same report for one seller (`None`: everyone), with no caller to
    /// authorize: for the system's own tasks (the monthly reports), which
    /// act for no user.
    pub async fn for_seller(
        &self,
        seller: Option<crate::UserId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<SalesReport> {
        // An empty or inverted period is simply a report of nothing.
        let albums = self.0.meta().sales(seller, from, to).await?;
        let top_photos = self.0.meta().top_photos(seller, from, to, 10).await?;
        let mut totals: BTreeMap<Currency, SalesTotal> = BTreeMap::new();
        for row in &albums {
            let t = totals.entry(row.currency).or_insert(SalesTotal {
                currency: row.currency,
                orders: 0,
                photos: 0,
                revenue: 0,
            });
            // Checked: prices are capped so this cannot overflow, and if
            // stored data ever broke that, the report says so instead of
            // wrapping into a negative revenue.
            let overflow = || Error::invalid("amount_overflow", "the sales total is too large to add up");
            t.orders = t.orders.checked_add(row.orders).ok_or_else(overflow)?;
            t.photos = t.photos.checked_add(row.photos).ok_or_else(overflow)?;
            t.revenue = t.revenue.checked_add(row.revenue).ok_or_else(overflow)?;
        }
        Ok(SalesReport { from, to, totals: totals.into_values().collect(), albums, top_photos })
    }
}
