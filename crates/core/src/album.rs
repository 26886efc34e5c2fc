//! Albums, their visibility and who may see them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{AlbumId, Email, Error, Money, Result, Role, User, UserId, WatermarkChoice};

/// Who may see an album besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Only the owner and the named client.
    Private,
    /// Anyone, signed in or not.
    Public,
}

impl Visibility {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "private" => Ok(Visibility::Private),
            "public" => Ok(Visibility::Public),
            _ => Err(Error::invalid("invalid_visibility", "visibility is private or public")),
        }
    }
}

/// An album of photos for sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Album {
    /// Opaque id.
    pub id: AlbumId,
    /// The photographer who owns it.
    pub owner_id: UserId,
    /// Display name.
    pub name: String,
    /// Who may see it.
    pub visibility: Visibility,
    /// The client it is shared with, if any.
    pub client_email: Option<Email>,
    /// Fixed price of each photo.
    pub price_per_photo: Money,
    /// After this the album is closed to clients.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its own watermark; `None` for the deployment's default.
    #[serde(default)]
    pub watermark: Option<WatermarkChoice>,
    /// Where its blobs live in the object store (no trailing slash).
    pub storage_prefix: String,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When its originals and previews were deleted, after expiry and the
    /// grace period. The metadata stays for reports.
    pub purged_at: Option<DateTime<Utc>>,
    /// Changes whenever the album or any of its photos change, in the same
    /// transaction (a store's rule; new albums start at 0). Caches of the
    /// photo list and its `ETag` compare it, so a reader in any process
    /// sees the change as soon as it commits.
    #[serde(default)]
    pub revision: u64,
    /// "Find me" is on: its photos' faces are indexed and a visitor may
    /// search them with a selfie (off by default; see `docs/faces.md`).
    #[serde(default)]
    pub find_me: bool,
    /// A draft: only its owner sees it, and nobody is mailed about it until
    /// it is published (`draft` becomes `false`).
    #[serde(default)]
    pub draft: bool,
    /// The client's name, as the photographer typed it: the invitation
    /// greets them with it, and the account it creates carries it.
    #[serde(default)]
    pub client_name: Option<String>,
    /// The photo the gallery opens on; `None`: the first ready photo.
    #[serde(default)]
    pub cover_photo_id: Option<crate::PhotoId>,
}

/// How a caller relates to an album.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Owns it: may do anything.
    Owner,
    /// The client it is shared with: may view and buy.
    Client,
    /// A public album seen by anyone: may view and buy (if signed in).
    Public,
    /// May not know it exists.
    None,
}

impl Access {
    /// Whether the caller may see the album, its photos and previews.
    pub fn can_view(self) -> bool {
        !matches!(self, Access::None)
    }
}

impl Album {
    /// Validates a name: 1 to 200 printable characters.
    pub fn validate_name(name: &str) -> Result<String> {
        let n = name.trim();
        if n.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(Error::invalid("invalid_name", "album name must be 1 to 200 printable characters"));
        }
        Ok(n.to_owned())
    }

    /// Validates a client's name: up to 100 printable characters; blank is
    /// no name.
    pub fn validate_client_name(name: &str) -> Result<Option<String>> {
        let n = name.trim();
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::invalid("invalid_client_name", "a client's name is at most 100 printable characters"));
        }
        Ok((!n.is_empty()).then(|| n.to_owned()))
    }

    /// How `viewer` (None for anonymous) relates to this album.
    pub fn access_for(&self, viewer: Option<&User>) -> Access {
        match viewer {
            Some(u) if u.id == self.owner_id => Access::Owner,
            // A draft is its owner's alone.
            _ if self.draft => Access::None,
            // Only a proven mailbox opens an album shared with its address.
            Some(u) if u.email_verified && self.client_email.as_ref() == Some(&u.email) && u.role != Role::Admin => {
                Access::Client
            }
            _ if self.visibility == Visibility::Public => Access::Public,
            _ => Access::None,
        }
    }

    /// Whether the album has expired at `now`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }

    /// Whether its photos' faces are indexed and searchable at `now`:
    /// "Find me" on, the album neither purged nor expired (the rule
    /// `FaceStore` keeps in storage too).
    pub fn faces_searchable(&self, now: DateTime<Utc>) -> bool {
        self.find_me && self.purged_at.is_none() && !self.is_expired(now)
    }

    /// The object-store key prefix for a new album: partitioned by owner so
    /// one photographer's data can be listed, moved or purged together.
    pub fn prefix_for(owner: UserId, album: AlbumId) -> String {
        format!("photographers/{owner}/albums/{album}")
    }
}
