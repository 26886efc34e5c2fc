//! Wire types: what the JSON looks like. Read-only fields exist only on the
//! response types; request types deny unknown fields, so nothing can be
//! mass-assigned.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object, types::MaybeUndefined};
use proofsheet_core::{
    Album, Currency, Error, Job, Money, Order, OrderStatus, Page, Photo, PhotoStatus, Position, Role, User, Visibility,
    WatermarkChoice,
};

/// A JSON string in a request, and only a string: poem-openapi's `String`
/// also takes numbers and booleans (`false` would become `"false"`), which
/// the contract does not allow.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Text(pub String);

impl std::ops::Deref for Text {
    type Target = String;
    fn deref(&self) -> &String {
        &self.0
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.0
    }
}

impl poem_openapi::types::Type for Text {
    const IS_REQUIRED: bool = true;
    type RawValueType = String;
    type RawElementValueType = String;

    fn name() -> std::borrow::Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> poem_openapi::registry::MetaSchemaRef {
        <String as poem_openapi::types::Type>::schema_ref()
    }

    fn as_raw_value(&self) -> Option<&String> {
        Some(&self.0)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a String> + 'a> {
        Box::new(std::iter::once(&self.0))
    }
}

impl poem_openapi::types::ParseFromJSON for Text {
    fn parse_from_json(value: Option<serde_json::Value>) -> poem_openapi::types::ParseResult<Self> {
        match value.unwrap_or_default() {
            serde_json::Value::String(s) => Ok(Text(s)),
            other => Err(poem_openapi::types::ParseError::expected_type(other)),
        }
    }
}

impl poem_openapi::types::ToJSON for Text {
    fn to_json(&self) -> Option<serde_json::Value> {
        Some(serde_json::Value::String(self.0.clone()))
    }
}

/// Money in integer minor units (cents for EUR).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Money", deny_unknown_fields)]
pub struct MoneyDto {
    /// Minor units, never negative.
    pub amount: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: Text,
}

impl From<Money> for MoneyDto {
    fn from(m: Money) -> Self {
        MoneyDto { amount: m.amount, currency: Text(m.currency.to_string()) }
    }
}

impl TryFrom<MoneyDto> for Money {
    type Error = Error;

    fn try_from(m: MoneyDto) -> Result<Self, Error> {
        Money::new(m.amount, m.currency.parse::<Currency>()?)
    }
}

/// A price per photo: money of at most `Money::MAX_PRICE` minor units, so
/// no order total or sales sum can overflow.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Price", deny_unknown_fields)]
pub struct PriceDto {
    /// Minor units, 0 to 100,000,000 (1,000,000.00 in a two-decimal currency).
    pub amount: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: Text,
}

impl From<Money> for PriceDto {
    fn from(m: Money) -> Self {
        PriceDto { amount: m.amount, currency: Text(m.currency.to_string()) }
    }
}

impl TryFrom<PriceDto> for Money {
    type Error = Error;

    fn try_from(m: PriceDto) -> Result<Self, Error> {
        Money::price(m.amount, m.currency.parse::<Currency>()?)
    }
}

/// A user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Role", rename_all = "snake_case")]
pub enum RoleDto {
    /// Sells photos.
    Photographer,
    /// Buys photos.
    Client,
    /// Operates the system.
    Admin,
}

impl From<Role> for RoleDto {
    fn from(r: Role) -> Self {
        match r {
            Role::Photographer => RoleDto::Photographer,
            Role::Client => RoleDto::Client,
            Role::Admin => RoleDto::Admin,
        }
    }
}

/// The roles one may register as (admins are made from the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "RegistrationRole", rename_all = "snake_case")]
pub enum RegistrationRole {
    /// Sells photos.
    Photographer,
    /// Buys photos.
    Client,
}

/// A user.
#[derive(Debug, Clone, Object)]
#[oai(rename = "User")]
pub struct UserDto {
    /// Opaque id.
    pub id: String,
    /// E-mail address.
    pub email: String,
    /// Given name.
    pub name: String,
    /// Family name.
    pub surname: String,
    /// Role.
    pub role: RoleDto,
    /// Whether the address is proven (the mailed link was used). Albums
    /// shared with an unverified address stay closed to the account.
    pub email_verified: bool,
    /// When registered.
    pub created_at: DateTime<Utc>,
}

/// The token from a mailed verification link.
#[derive(Debug, Clone, Object)]
#[oai(rename = "VerifyEmailRequest", deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The `token` parameter of the link.
    pub token: String,
    /// The password chosen at registration, to keep it. The first proof of
    /// an address ends every session of the account and clears its
    /// password unless this is that password (a stranger may have
    /// registered the address first).
    pub password: Option<Text>,
}

/// A password change, or a first password for an account without one.
#[derive(Debug, Clone, Object)]
#[oai(rename = "PasswordChange", deny_unknown_fields)]
pub struct PasswordChangeRequest {
    /// The current password: required when the account has one.
    pub current_password: Option<Text>,
    /// The new password, 8 to 256 characters.
    pub new_password: Text,
}

/// One of the caller's sessions.
#[derive(Debug, Clone, Object)]
#[oai(rename = "SessionInfo")]
pub struct SessionInfoDto {
    /// A public name for the session (not its token).
    pub id: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Whether it is the session making this request.
    pub current: bool,
}

impl From<proofsheet_core::SessionInfo> for SessionInfoDto {
    fn from(s: proofsheet_core::SessionInfo) -> Self {
        SessionInfoDto { id: s.id, created_at: s.created_at, expires_at: s.expires_at, current: s.current }
    }
}

/// The caller's live sessions, newest first (at most 100, so one page).
#[derive(Debug, Clone, Object)]
#[oai(rename = "SessionList")]
pub struct SessionListDto {
    /// The sessions.
    pub items: Vec<SessionInfoDto>,
    /// Always null: the list fits one page.
    pub next_cursor: Option<String>,
}

impl From<User> for UserDto {
    fn from(u: User) -> Self {
        UserDto {
            id: u.id.to_string(),
            email: u.email.to_string(),
            name: u.name,
            surname: u.surname,
            role: u.role.into(),
            email_verified: u.email_verified,
            created_at: u.created_at,
        }
    }
}

/// Registration.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct RegisterRequest {
    /// E-mail address (unique).
    pub email: Text,
    /// 8 to 256 characters.
    pub password: Text,
    /// Given name.
    pub name: Text,
    /// Family name.
    pub surname: Text,
    /// `photographer` or `client`.
    pub role: RegistrationRole,
}

/// Sign-in.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct SessionRequest {
    /// E-mail address.
    pub email: Text,
    /// Password.
    pub password: Text,
}

/// Ask for a sign-in link by e-mail.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct EmailLinkRequest {
    /// The address to mail the link to.
    pub email: Text,
    /// A path of this server the mailed link leads to after signing in
    /// (for example `/albums/{album_id}`); anything else is ignored.
    pub next: Option<Text>,
}

/// Exchange a mailed sign-in token for a session.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct EmailLinkExchange {
    /// The `token` of the mailed link (`/signin/link?token=...`).
    pub token: Text,
}

/// One client's favourites in an album.
#[derive(Debug, Clone, Object)]
pub struct ClientFavourites {
    /// The client.
    pub user_id: String,
    /// The client's address.
    pub email: String,
    /// The photos they marked, by id.
    pub photo_ids: Vec<String>,
}

/// An album's favourites, per client (by address).
#[derive(Debug, Clone, Object)]
pub struct FavouritesDto {
    /// One entry per client who marked any.
    pub clients: Vec<ClientFavourites>,
}

impl From<Vec<proofsheet_core::Favourite>> for FavouritesDto {
    fn from(all: Vec<proofsheet_core::Favourite>) -> Self {
        let mut clients: Vec<ClientFavourites> = Vec::new();
        for f in all {
            match clients.last_mut() {
                Some(c) if c.user_id == f.user_id.to_string() => c.photo_ids.push(f.photo_id.to_string()),
                _ => clients.push(ClientFavourites {
                    user_id: f.user_id.to_string(),
                    email: f.email.to_string(),
                    photo_ids: vec![f.photo_id.to_string()],
                }),
            }
        }
        FavouritesDto { clients }
    }
}

/// A new session.
#[derive(Debug, Clone, Object)]
pub struct SessionDto {
    /// The bearer token; shown once.
    pub token: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Album visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "Visibility", rename_all = "snake_case")]
pub enum VisibilityDto {
    /// Owner and named client only.
    Private,
    /// Anyone.
    Public,
}

impl From<Visibility> for VisibilityDto {
    fn from(v: Visibility) -> Self {
        match v {
            Visibility::Private => VisibilityDto::Private,
            Visibility::Public => VisibilityDto::Public,
        }
    }
}

impl From<VisibilityDto> for Visibility {
    fn from(v: VisibilityDto) -> Self {
        match v {
            VisibilityDto::Private => Visibility::Private,
            VisibilityDto::Public => Visibility::Public,
        }
    }
}

/// What kind of watermark an album picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "WatermarkKind", rename_all = "snake_case")]
pub enum WatermarkKindDto {
    /// The built-in mark with the album's own `text`.
    Text,
    /// An installed plugin (`GET /api/v1/watermarks`) with its `params`.
    Plugin,
    /// The photographer's logo (`PUT /api/v1/users/me/logo`), with
    /// `position`, `scale` and `opacity`.
    Logo,
}

/// Where a logo goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "WatermarkPosition", rename_all = "snake_case")]
pub enum PositionDto {
    /// Repeated over the whole image.
    Tiled,
    /// Once, in the middle.
    Center,
    /// A corner.
    TopLeft,
    /// A corner.
    TopRight,
    /// A corner.
    BottomLeft,
    /// A corner.
    BottomRight,
}

impl From<Position> for PositionDto {
    fn from(p: Position) -> Self {
        match p {
            Position::Tiled => PositionDto::Tiled,
            Position::Center => PositionDto::Center,
            Position::TopLeft => PositionDto::TopLeft,
            Position::TopRight => PositionDto::TopRight,
            Position::BottomLeft => PositionDto::BottomLeft,
            Position::BottomRight => PositionDto::BottomRight,
        }
    }
}

impl From<PositionDto> for Position {
    fn from(p: PositionDto) -> Self {
        match p {
            PositionDto::Tiled => Position::Tiled,
            PositionDto::Center => Position::Center,
            PositionDto::TopLeft => Position::TopLeft,
            PositionDto::TopRight => Position::TopRight,
            PositionDto::BottomLeft => Position::BottomLeft,
            PositionDto::BottomRight => Position::BottomRight,
        }
    }
}

/// An album's own watermark: `{"kind": "text", "text"}`,
/// `{"kind": "plugin", "plugin", "params"?}` or
/// `{"kind": "logo", "position"?, "scale"?, "opacity"?}`. One flat object,
/// so that unknown fields can be refused; the served document states the
/// three shapes as a `oneOf` (see `spec.rs`).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Watermark", deny_unknown_fields)]
pub struct WatermarkDto {
    /// `text`, `plugin` or `logo`.
    pub kind: WatermarkKindDto,
    /// For `text`: 1 to 100 printable characters.
    #[oai(skip_serializing_if_is_none)]
    pub text: Option<Text>,
    /// For `plugin`: an installed plugin's name.
    #[oai(skip_serializing_if_is_none)]
    pub plugin: Option<Text>,
    /// For `plugin`: its parameter string (see the plugin's docs), up to
    /// 4096 characters; empty when absent.
    #[oai(skip_serializing_if_is_none)]
    pub params: Option<Text>,
    /// For `logo`: where it goes; `bottom_right` when absent.
    #[oai(skip_serializing_if_is_none)]
    pub position: Option<PositionDto>,
    /// For `logo`: its width as a share of the image's width, 0.02 to 1;
    /// 0.2 when absent.
    #[oai(skip_serializing_if_is_none)]
    pub scale: Option<f64>,
    /// For `logo`: 0.05 (faint) to 1 (opaque); 0.5 when absent.
    #[oai(skip_serializing_if_is_none)]
    pub opacity: Option<f64>,
    /// For `logo`, in answers: which of the photographer's logos it draws
    /// (the current one; a new logo moves the album to it). Ignored in
    /// requests.
    #[oai(skip_serializing_if_is_none)]
    pub logo: Option<String>,
}

impl From<WatermarkChoice> for WatermarkDto {
    fn from(w: WatermarkChoice) -> Self {
        let none = WatermarkDto {
            kind: WatermarkKindDto::Text,
            text: None,
            plugin: None,
            params: None,
            position: None,
            scale: None,
            opacity: None,
            logo: None,
        };
        match w {
            WatermarkChoice::Text { text } => WatermarkDto { text: Some(Text(text)), ..none },
            WatermarkChoice::Plugin { plugin, params } => WatermarkDto {
                kind: WatermarkKindDto::Plugin,
                plugin: Some(Text(plugin)),
                params: Some(Text(params)),
                ..none
            },
            WatermarkChoice::Logo { logo, position, scale_pct, opacity_pct } => WatermarkDto {
                kind: WatermarkKindDto::Logo,
                position: Some(position.into()),
                scale: Some(f64::from(scale_pct) / 100.0),
                opacity: Some(f64::from(opacity_pct) / 100.0),
                logo: Some(logo),
                ..none
            },
        }
    }
}

impl TryFrom<WatermarkDto> for WatermarkChoice {
    type Error = Error;

    fn try_from(w: WatermarkDto) -> Result<Self, Error> {
        let bad = |m: &str| Error::invalid("invalid_watermark", m.to_owned());
        let logo_fields = w.position.is_some() || w.scale.is_some() || w.opacity.is_some();
        match w.kind {
            WatermarkKindDto::Text => {
                if w.plugin.is_some() || w.params.is_some() || logo_fields {
                    return Err(bad("a text watermark takes only `text`"));
                }
                let text = w.text.ok_or_else(|| bad("a text watermark needs `text`"))?;
                Ok(WatermarkChoice::Text { text: text.0 })
            }
            WatermarkKindDto::Plugin => {
                if w.text.is_some() || logo_fields {
                    return Err(bad("a plugin watermark takes `plugin` and `params` only"));
                }
                let plugin = w.plugin.ok_or_else(|| bad("a plugin watermark needs `plugin`"))?;
                Ok(WatermarkChoice::Plugin { plugin: plugin.0, params: w.params.map(|p| p.0).unwrap_or_default() })
            }
            WatermarkKindDto::Logo => {
                if w.text.is_some() || w.plugin.is_some() || w.params.is_some() {
                    return Err(bad("a logo watermark takes `position`, `scale` and `opacity` only"));
                }
                let WatermarkChoice::Logo { position, scale_pct, opacity_pct, .. } = WatermarkChoice::default_logo()
                else {
                    unreachable!("default_logo is a logo")
                };
                // Checked as the fractions the client sent (0.019 is refused,
                // not rounded up into the range), then stored in percent.
                let pct = |v: Option<f64>, default: u8, range: std::ops::RangeInclusive<u8>, rule: fn() -> String| {
                    let v = v.unwrap_or(f64::from(default) / 100.0);
                    let (lo, hi) = (f64::from(*range.start()) / 100.0, f64::from(*range.end()) / 100.0);
                    if !(lo..=hi).contains(&v) {
                        return Err(bad(&rule()));
                    }
                    Ok((v * 100.0).round().clamp(f64::from(*range.start()), f64::from(*range.end())) as u8)
                };
                Ok(WatermarkChoice::Logo {
                    logo: String::new(),
                    position: w.position.map(Into::into).unwrap_or(position),
                    scale_pct: pct(
                        w.scale,
                        scale_pct,
                        WatermarkChoice::LOGO_SCALE_PCT,
                        WatermarkChoice::logo_scale_rule,
                    )?,
                    opacity_pct: pct(
                        w.opacity,
                        opacity_pct,
                        WatermarkChoice::LOGO_OPACITY_PCT,
                        WatermarkChoice::logo_opacity_rule,
                    )?,
                })
            }
        }
    }
}

/// The body of `POST /albums/{album_id}/watermark-preview`.
#[derive(Debug, Clone, Object)]
#[oai(rename = "WatermarkPreviewRequest", deny_unknown_fields)]
pub struct WatermarkPreviewRequest {
    /// The watermark to try; absent or `null` for the deployment's default.
    pub watermark: Option<WatermarkDto>,
}

/// A photographer's logo, as stored.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Logo")]
pub struct LogoDto {
    /// Names this version of the logo (albums that use it show it).
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The watermarks albums may pick.
#[derive(Debug, Clone, Object)]
#[oai(rename = "WatermarkOptions")]
pub struct WatermarkOptionsDto {
    /// `text`, and `plugin` when plugins are installed.
    pub kinds: Vec<WatermarkKindDto>,
    /// Names of the installed plugins.
    pub plugins: Vec<String>,
}

/// An album.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Album")]
pub struct AlbumDto {
    /// Opaque id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Who may see it.
    pub visibility: VisibilityDto,
    /// The photographer.
    pub owner_id: String,
    /// The client it is shared with (shown to its owner only).
    #[oai(skip_serializing_if_is_none)]
    pub client_email: Option<String>,
    /// The client's name (shown to its owner and client).
    #[oai(skip_serializing_if_is_none)]
    pub client_name: Option<String>,
    /// A draft: seen by its owner only, nobody mailed until published.
    pub draft: bool,
    /// The photo the gallery opens on; `null`: the first ready photo.
    pub cover_photo_id: Option<String>,
    /// Price of each photo.
    pub price_per_photo: PriceDto,
    /// When it closes to clients.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its own watermark (shown to its owner only); absent or `null` for
    /// the deployment's default.
    #[oai(skip_serializing_if_is_none)]
    pub watermark: Option<WatermarkDto>,
    /// "Find me" is on: visitors may search its photos with a selfie
    /// (`POST /albums/{album_id}/find-me`).
    pub find_me: bool,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl AlbumDto {
    /// The album as its viewer may see it: the client address to its owner
    /// and client, the watermark to its owner.
    pub fn new(a: Album, viewer_is_owner_or_client: bool, viewer_is_owner: bool) -> Self {
        AlbumDto {
            id: a.id.to_string(),
            name: a.name,
            visibility: a.visibility.into(),
            owner_id: a.owner_id.to_string(),
            client_email: if viewer_is_owner_or_client { a.client_email.map(|e| e.to_string()) } else { None },
            client_name: if viewer_is_owner_or_client { a.client_name } else { None },
            draft: a.draft,
            cover_photo_id: a.cover_photo_id.map(|p| p.to_string()),
            price_per_photo: a.price_per_photo.into(),
            expires_at: a.expires_at,
            watermark: if viewer_is_owner { a.watermark.map(Into::into) } else { None },
            find_me: a.find_me,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// A new album.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct CreateAlbumRequest {
    /// Display name, 1 to 200 characters.
    pub name: Text,
    /// `private` or `public`.
    pub visibility: VisibilityDto,
    /// The client to share it with.
    pub client_email: Option<Text>,
    /// The client's name, up to 100 characters: the invitation greets them
    /// with it and the account it creates carries it.
    pub client_name: Option<Text>,
    /// Make it a draft (default `false`): only its owner sees it, and the
    /// invitation goes when it is published (`PATCH` with `draft: false`).
    pub draft: Option<bool>,
    /// Price of each photo.
    pub price_per_photo: PriceDto,
    /// When it closes to clients (future).
    pub expires_at: Option<DateTime<Utc>>,
    /// Its own watermark; absent or `null` for the deployment's default.
    pub watermark: Option<WatermarkDto>,
    /// Turn "Find me" (selfie search) on from the start; default off. 409
    /// `faces_unavailable` on a server without a face index.
    pub find_me: Option<bool>,
}

/// Album changes: absent fields stay, `null` clears `client_email` or
/// `expires_at`, or sets `watermark` back to the default.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct UpdateAlbumRequest {
    /// New name.
    pub name: Option<Text>,
    /// New visibility.
    pub visibility: Option<VisibilityDto>,
    /// New client, or `null` for none.
    pub client_email: MaybeUndefined<Text>,
    /// New client name, or `null` for none.
    pub client_name: MaybeUndefined<Text>,
    /// `false` publishes a draft (the invitation goes then); `true` takes
    /// the album back to a draft.
    pub draft: Option<bool>,
    /// The cover photo (a photo of this album), or `null` for the first.
    pub cover_photo_id: MaybeUndefined<Text>,
    /// New price (new orders only).
    pub price_per_photo: Option<PriceDto>,
    /// New expiry, or `null` for none.
    pub expires_at: MaybeUndefined<DateTime<Utc>>,
    /// New watermark, or `null` for the default. Ready photos are rendered
    /// again with it in the background.
    pub watermark: MaybeUndefined<WatermarkDto>,
    /// Turn "Find me" on (ready photos are indexed in the background) or
    /// off (every stored face of the album is deleted at once).
    pub find_me: Option<bool>,
}

/// One photo a selfie matched.
#[derive(Debug, Clone, Object)]
pub struct FaceMatchDto {
    /// The photo, as the album's visitor sees it.
    pub photo: PhotoDto,
    /// How far its closest face is from the selfie's (0 is identical;
    /// matches are below `threshold`).
    pub distance: f32,
}

/// What a selfie found: the album's photos that show the face, closest
/// first.
#[derive(Debug, Clone, Object)]
pub struct FindMeResult {
    /// The matches, closest first.
    pub items: Vec<FaceMatchDto>,
    /// The distance under which a face counts as the selfie's.
    pub threshold: f32,
}

/// A page of albums.
#[derive(Debug, Clone, Object)]
pub struct AlbumPage {
    /// The albums.
    pub items: Vec<AlbumDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Processing status of a photo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "PhotoStatus", rename_all = "snake_case")]
pub enum PhotoStatusDto {
    /// Previews are being made.
    Processing,
    /// Previews exist.
    Ready,
    /// Previews could not be made; see `failure_reason`.
    Failed,
}

impl From<PhotoStatus> for PhotoStatusDto {
    fn from(s: PhotoStatus) -> Self {
        match s {
            PhotoStatus::Processing => PhotoStatusDto::Processing,
            PhotoStatus::Ready => PhotoStatusDto::Ready,
            PhotoStatus::Failed => PhotoStatusDto::Failed,
        }
    }
}

/// A photo.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Photo")]
pub struct PhotoDto {
    /// Opaque id.
    pub id: String,
    /// Its album.
    pub album_id: String,
    /// File name (as in the download zip).
    pub filename: String,
    /// `image/jpeg` or `image/png`.
    pub content_type: String,
    /// Size of the original.
    pub size_bytes: u64,
    /// Processing status.
    pub status: PhotoStatusDto,
    /// Why processing failed.
    pub failure_reason: Option<String>,
    /// Upright width, when ready.
    pub width: Option<u32>,
    /// Upright height, when ready.
    pub height: Option<u32>,
    /// The watermarked preview, when ready.
    pub preview_url: Option<String>,
    /// The watermarked grid thumbnail, when ready.
    pub thumbnail_url: Option<String>,
    /// When uploaded.
    pub created_at: DateTime<Utc>,
    /// When taken, by the camera's clock (EXIF `DateTimeOriginal`, written
    /// as UTC), when the file says.
    pub taken_at: Option<DateTime<Utc>>,
    /// The SHA-256 of the original (lowercase hex), to tell which files an
    /// album already holds: shown to the album's owner only; `null` for
    /// everyone else and for photos stored before it was kept.
    pub sha256: Option<String>,
}

impl PhotoDto {
    /// [`PhotoDto::new`] as `owner` (the album's owner, or not) sees it:
    /// the original's hash goes to the owner only.
    pub fn for_viewer(p: Photo, base: &str, owner: bool) -> Self {
        let mut dto = Self::new(p, base);
        if !owner {
            dto.sha256 = None;
        }
        dto
    }

    /// Builds the wire form; URLs are absolute, from the public URL.
    pub fn new(p: Photo, base: &str) -> Self {
        let ready = p.status == PhotoStatus::Ready;
        PhotoDto {
            preview_url: ready.then(|| format!("{base}/api/v1/photos/{}/preview", p.id)),
            thumbnail_url: ready.then(|| format!("{base}/api/v1/photos/{}/thumbnail", p.id)),
            id: p.id.to_string(),
            album_id: p.album_id.to_string(),
            filename: p.filename,
            content_type: p.content_type,
            size_bytes: p.size_bytes,
            status: p.status.into(),
            failure_reason: p.failure_reason,
            width: p.width,
            height: p.height,
            created_at: p.created_at,
            taken_at: p.taken_at,
            sha256: p.sha256,
        }
    }
}

/// An album's photo order.
#[derive(Debug, Clone, Object)]
#[oai(deny_unknown_fields)]
pub struct PhotoOrderRequest {
    /// Photos of the album, each at most once, in the order to show them;
    /// photos left out follow in capture order.
    #[oai(validator(max_items = 10000))]
    pub photo_ids: Vec<Text>,
}

/// A page of photos.
#[derive(Debug, Clone, Object)]
pub struct PhotoPage {
    /// The photos.
    pub items: Vec<PhotoDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Photos made by a multipart upload.
#[derive(Debug, Clone, Object)]
pub struct PhotoList {
    /// One per `file` part, in order.
    pub items: Vec<PhotoDto>,
}

/// Order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "OrderStatus", rename_all = "snake_case")]
pub enum OrderStatusDto {
    /// Not paid.
    Pending,
    /// Paid; the zip is being made.
    Paid,
    /// The download is ready.
    Fulfilled,
    /// Payment declined or cancelled.
    Cancelled,
    /// Payment window closed.
    Expired,
    /// Money returned; download revoked.
    Refunded,
}

impl From<OrderStatus> for OrderStatusDto {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Pending => OrderStatusDto::Pending,
            OrderStatus::Paid => OrderStatusDto::Paid,
            OrderStatus::Fulfilled => OrderStatusDto::Fulfilled,
            OrderStatus::Cancelled => OrderStatusDto::Cancelled,
            OrderStatus::Expired => OrderStatusDto::Expired,
            OrderStatus::Refunded => OrderStatusDto::Refunded,
        }
    }
}

/// One bought photo.
#[derive(Debug, Clone, Object)]
#[oai(rename = "OrderItem")]
pub struct OrderItemDto {
    /// The photo.
    pub photo_id: String,
    /// Its name in the zip.
    pub filename: String,
    /// Price at order time.
    pub price: PriceDto,
}

/// Where to download a fulfilled order.
#[derive(Debug, Clone, Object)]
pub struct DownloadDto {
    /// The zip, named after the album (only the token is secret; keep the
    /// URL private).
    pub url: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// Each bought photo on its own, under the same link's rules (expiry,
    /// byte budget, `Range`).
    pub files: Vec<DownloadFileDto>,
}

/// One bought photo's own download.
#[derive(Debug, Clone, Object)]
#[oai(rename = "DownloadFile")]
pub struct DownloadFileDto {
    /// The photo.
    pub photo_id: String,
    /// Its original, as bought.
    pub url: String,
}

impl DownloadDto {
    /// The zip's and each photo's URL for a link of `order`.
    pub fn new(public_url: &str, token: &str, expires_at: DateTime<Utc>, order: &Order) -> Self {
        DownloadDto {
            url: crate::urls::download(public_url, token),
            expires_at,
            files: order
                .items
                .iter()
                .map(|i| DownloadFileDto {
                    photo_id: i.photo_id.to_string(),
                    url: crate::urls::download_file(public_url, token, i.photo_id),
                })
                .collect(),
        }
    }
}

/// An order.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Order")]
pub struct OrderDto {
    /// Opaque id.
    pub id: String,
    /// The album.
    pub album_id: String,
    /// The client.
    pub buyer_id: String,
    /// Status.
    pub status: OrderStatusDto,
    /// Bought photos.
    pub items: Vec<OrderItemDto>,
    /// Sum of the items.
    pub total: MoneyDto,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
    /// When paid.
    pub paid_at: Option<DateTime<Utc>>,
    /// The download, when fulfilled (buyer only).
    pub download: Option<DownloadDto>,
}

impl OrderDto {
    /// The wire form.
    pub fn new(o: Order, download: Option<DownloadDto>) -> Self {
        OrderDto {
            id: o.id.to_string(),
            album_id: o.album_id.to_string(),
            buyer_id: o.buyer_id.to_string(),
            status: o.status.into(),
            items: o
                .items
                .into_iter()
                .map(|i| OrderItemDto { photo_id: i.photo_id.to_string(), filename: i.filename, price: i.price.into() })
                .collect(),
            total: o.total.into(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            paid_at: o.paid_at,
            download,
        }
    }
}

/// A new order.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// The album.
    pub album_id: Text,
    /// Photos of that album, 1 to 500, no repeats.
    pub photo_ids: Vec<Text>,
}

/// A page of orders.
#[derive(Debug, Clone, Object)]
pub struct OrderPage {
    /// The orders.
    pub items: Vec<OrderDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Starting a payment.
#[derive(Debug, Clone, Default, Object, serde::Serialize, serde::Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CheckoutRequestDto {
    /// Gateway name (`test`; default from the configuration).
    pub gateway: Option<Text>,
}

/// Where the buyer pays.
#[derive(Debug, Clone, Object, serde::Serialize, serde::Deserialize)]
pub struct CheckoutDto {
    /// Send the buyer here.
    pub checkout_url: String,
}

/// A queued job.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Job")]
pub struct JobDto {
    /// Opaque id.
    pub id: String,
    /// `render_preview`, `build_zip`, ...
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Not before.
    pub run_at: DateTime<Utc>,
    /// The last error.
    pub last_error: Option<String>,
    /// When enqueued.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for JobDto {
    fn from(j: Job) -> Self {
        JobDto {
            id: j.id.to_string(),
            kind: j.kind,
            status: j.status.as_str().to_owned(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            last_error: j.last_error,
            created_at: j.created_at,
            updated_at: j.updated_at,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Clone, Object)]
pub struct JobPage {
    /// The jobs.
    pub items: Vec<JobDto>,
    /// Pass as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

/// Splits a core page into items and cursor.
pub fn page_parts<T, U>(page: Page<T>, f: impl FnMut(T) -> U) -> (Vec<U>, Option<String>) {
    let next = page.next_cursor.clone();
    (page.map(f).items, next)
}
