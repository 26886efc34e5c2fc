//! Orders, their items and the order state machine.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AlbumId, Error, Money, OrderId, PhotoId, Result, UserId};

/// Where an order is. Status only moves forward: see [`OrderStatus::can_become`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Created, not paid.
    Pending,
    /// Paid; the zip is being made.
    Paid,
    /// The zip and its link are ready.
    Fulfilled,
    /// The buyer declined or cancelled the payment.
    Cancelled,
    /// The payment window ran out.
    Expired,
    /// The money went back; the download is revoked.
    Refunded,
}

impl OrderStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Fulfilled => "fulfilled",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => OrderStatus::Pending,
            "paid" => OrderStatus::Paid,
            "fulfilled" => OrderStatus::Fulfilled,
            "cancelled" => OrderStatus::Cancelled,
            "expired" => OrderStatus::Expired,
            "refunded" => OrderStatus::Refunded,
            _ => {
                return Err(Error::backend_permanent("bad order status", format!("{s:?}")));
            }
        })
    }

    /// The states an order may be in just before it becomes `self`.
    ///
    /// Notifications arrive at least once and in any order, so every
    /// transition is guarded by this table: a late "paid" never revives a
    /// refunded order, a repeated "paid" never pays twice.
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        use OrderStatus::*;
        match self {
            Pending => &[],
            // A payment that went through after our own cart expiry ran
            // still delivers: the buyer's money was taken.
            Paid => &[Pending, Expired],
            Fulfilled => &[Paid],
            Cancelled => &[Pending],
            Expired => &[Pending],
            // A refund may overtake its payment's notification; it wins,
            // and the late payment notification is then ignored.
            Refunded => &[Pending, Paid, Fulfilled, Expired],
        }
    }

    /// Whether an order in `self` may move to `next`.
    pub fn can_become(self, next: OrderStatus) -> bool {
        next.allowed_from().contains(&self)
    }
}

/// One bought photo, with the price frozen at order time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    /// The photo.
    pub photo_id: PhotoId,
    /// Its file name at order time (the name inside the zip).
    pub filename: String,
    /// Price at order time.
    pub price: Money,
}

/// A client's order of photos from one album.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Opaque id.
    pub id: OrderId,
    /// The client who buys.
    pub buyer_id: UserId,
    /// The album bought from.
    pub album_id: AlbumId,
    /// The album's owner, kept so the photographer still sees the sale
    /// after the album is deleted.
    pub seller_id: UserId,
    /// Where it is.
    pub status: OrderStatus,
    /// What is bought.
    pub items: Vec<OrderItem>,
    /// Sum of item prices.
    pub total: Money,
    /// The gateway used at checkout.
    pub gateway: Option<String>,
    /// The gateway's reference for the payment (session id, charge id).
    pub payment_ref: Option<String>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When paid.
    pub paid_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;

    #[test]
    fn status_only_moves_forward() {
        assert!(Pending.can_become(Paid));
        assert!(Paid.can_become(Fulfilled));
        assert!(Fulfilled.can_become(Refunded));
        assert!(!Refunded.can_become(Paid));
        assert!(!Paid.can_become(Paid));
        assert!(!Cancelled.can_become(Paid));
        assert!(!Fulfilled.can_become(Paid));
        assert!(!Pending.can_become(Fulfilled));
        assert!(Expired.can_become(Paid), "a late payment still delivers");
        assert!(Pending.can_become(Refunded), "a refund that overtakes its payment wins");
        assert!(!Refunded.can_become(Fulfilled));
    }
}
