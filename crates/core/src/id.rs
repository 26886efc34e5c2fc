//! Opaque, unguessable identifiers.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id: UUIDv7, so ids sort by creation time (cheap
            /// cursors, index locality) while 74 random bits keep them
            /// unguessable.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (from storage).
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The inner UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = crate::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| crate::Error::not_found(stringify!($name)))
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }
    };
}

define_id!(
    /// A user (photographer, client or admin).
    UserId
);
define_id!(
    /// An album.
    AlbumId
);
define_id!(
    /// A photo.
    PhotoId
);
define_id!(
    /// An order.
    OrderId
);
define_id!(
    /// A download link.
    LinkId
);
define_id!(
    /// A queued job.
    JobId
);
define_id!(
    /// A resumable (tus) upload.
    UploadId
);
define_id!(
    /// A webhook endpoint.
    WebhookId
);
define_id!(
    /// One event on its way to one webhook endpoint (its attempts share it).
    DeliveryId
);
define_id!(
    /// A photographer's price sheet.
    PriceSheetId
);
define_id!(
    /// A product of a price sheet (what one photo is sold as).
    ProductId
);
define_id!(
    /// A package of a price sheet ("any 10 for €90").
    PackageId
);
define_id!(
    /// A coupon or an automatic album offer.
    CouponId
);
