//! The album form: its fields as typed, their checks, the watermark part
//! with its live preview, and the logo section (shown in `/settings`).

use super::*;

/// Currencies the album form offers (any ISO 4217 code works in the API).
pub(super) const CURRENCIES: &[&str] =
    &["EUR", "USD", "GBP", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "CAD", "AUD", "JPY"];

/// The album fields, as typed into the form.
pub(super) struct AlbumFields {
    pub(super) name: String,
    pub(super) client_email: String,
    pub(super) client_name: String,
    pub(super) visibility: Visibility,
    pub(super) price: String,
    pub(super) currency: String,
    pub(super) expires_on: String,
    /// The studio's time zone, which "Expires on" is in.
    pub(super) time_zone: String,
    /// The watermark's kind: "" (the default), "text", "logo" or
    /// "plugin:NAME". A form without it (older pages) means "text" when
    /// `watermark` has text.
    pub(super) wm_kind: String,
    /// The text of a text mark.
    pub(super) watermark: String,
    /// A plugin's parameters.
    pub(super) wm_params: String,
    /// A logo's position, size (% of the width) and opacity (%).
    pub(super) wm_position: String,
    pub(super) wm_scale: String,
    pub(super) wm_opacity: String,
    /// "Find me" (selfie search) on.
    pub(super) find_me: bool,
}

/// What the watermark part of the album form offers.
pub(super) struct MarkOptions {
    /// The installed plugins.
    pub(super) plugins: Vec<String>,
    /// Whether the photographer has uploaded a logo.
    pub(super) has_logo: bool,
    /// The album whose photos the live preview uses (settings only).
    pub(super) preview_of: Option<AlbumId>,
    /// Whether this server can index faces ("Find me").
    pub(super) faces: bool,
}

impl MarkOptions {
    pub(super) async fn of(state: &AppState, user: &proofsheet_core::User, preview_of: Option<AlbumId>) -> Self {
        MarkOptions {
            plugins: state.engine.watermark_plugins(),
            has_logo: state.engine.logos().has_logo(user).await.unwrap_or(false),
            preview_of,
            faces: state.engine.faces().available(),
        }
    }
}

impl AlbumFields {
    pub(super) fn blank() -> Self {
        let mut f = AlbumFields {
            name: String::new(),
            client_email: String::new(),
            client_name: String::new(),
            visibility: Visibility::Private,
            price: "5.00".into(),
            currency: "EUR".into(),
            expires_on: String::new(),
            time_zone: "UTC".into(),
            wm_kind: String::new(),
            watermark: String::new(),
            wm_params: String::new(),
            wm_position: String::new(),
            wm_scale: String::new(),
            wm_opacity: String::new(),
            find_me: false,
        };
        // The logo inputs start at core's default logo, shown (not chosen).
        f.show_watermark(&WatermarkChoice::default_logo());
        f.wm_kind = String::new();
        f
    }

    /// Fills the watermark inputs from a choice.
    fn show_watermark(&mut self, choice: &WatermarkChoice) {
        match choice {
            WatermarkChoice::Text { text } => {
                self.wm_kind = "text".into();
                self.watermark = text.clone();
            }
            WatermarkChoice::Plugin { plugin, params } => {
                self.wm_kind = format!("plugin:{plugin}");
                self.wm_params = params.clone();
            }
            WatermarkChoice::Logo { position, scale_pct, opacity_pct, .. } => {
                self.wm_kind = "logo".into();
                self.wm_position = position.as_str().into();
                self.wm_scale = scale_pct.to_string();
                self.wm_opacity = opacity_pct.to_string();
            }
        }
    }

    pub(super) fn of(album: &Album, studio: &Studio) -> Self {
        let mut f = AlbumFields {
            name: album.name.clone(),
            client_email: album.client_email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
            client_name: album.client_name.clone().unwrap_or_default(),
            visibility: album.visibility,
            price: album.price_per_photo.major_units(),
            currency: album.price_per_photo.currency.to_string(),
            expires_on: album
                .expires_at
                .map(|t| studio.last_open_day(t).format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            time_zone: studio.time_zone.clone(),
            find_me: album.find_me,
            ..AlbumFields::blank()
        };
        if let Some(w) = &album.watermark {
            f.show_watermark(w);
        }
        f
    }

    pub(super) fn read(form: &FormData) -> Self {
        let watermark = form.text("watermark").to_owned();
        let wm_kind = match form.get("wm_kind") {
            Some(k) => k.to_owned(),
            None if !watermark.is_empty() => "text".into(),
            None => String::new(),
        };
        AlbumFields {
            name: form.text("name").to_owned(),
            client_email: form.text("client_email").to_owned(),
            client_name: form.text("client_name").to_owned(),
            visibility: if form.get("visibility") == Some("public") { Visibility::Public } else { Visibility::Private },
            price: form.text("price").to_owned(),
            currency: form.text("currency").to_owned(),
            expires_on: form.text("expires_on").to_owned(),
            time_zone: "UTC".into(),
            wm_kind,
            watermark,
            wm_params: form.get("wm_params").unwrap_or("").to_owned(),
            wm_position: form.text("wm_position").to_owned(),
            wm_scale: form.text("wm_scale").to_owned(),
            wm_opacity: form.text("wm_opacity").to_owned(),
            find_me: form.get("find_me").is_some(),
        }
    }

    /// The watermark the fields describe.
    pub(super) fn mark(&self) -> Result<Option<WatermarkChoice>, Error> {
        let bad = |m: &str| Error::invalid("invalid_watermark", m.to_owned());
        let percent = |v: &str, what: &str, range: std::ops::RangeInclusive<u8>| {
            v.parse::<u8>().ok().filter(|n| range.contains(n)).ok_or_else(|| {
                bad(&format!("the logo's {what} is a whole number from {} to {}", range.start(), range.end()))
            })
        };
        Ok(match self.wm_kind.as_str() {
            "" => None,
            "text" if self.watermark.is_empty() => return Err(bad("enter the watermark text")),
            "text" => Some(WatermarkChoice::Text { text: self.watermark.clone() }),
            "logo" => Some(WatermarkChoice::Logo {
                logo: String::new(),
                position: self.wm_position.parse()?,
                scale_pct: percent(&self.wm_scale, "size", WatermarkChoice::LOGO_SCALE_PCT)?,
                opacity_pct: percent(&self.wm_opacity, "opacity", WatermarkChoice::LOGO_OPACITY_PCT)?,
            }),
            k => match k.strip_prefix("plugin:") {
                Some(plugin) => {
                    Some(WatermarkChoice::Plugin { plugin: plugin.to_owned(), params: self.wm_params.clone() })
                }
                None => return Err(bad("choose a watermark from the list")),
            },
        })
    }

    /// The checked values: (client, price, expiry, watermark).
    #[allow(clippy::type_complexity)]
    pub(super) fn parse(
        &self,
        studio: &Studio,
    ) -> Result<(Option<Email>, Money, Option<DateTime<Utc>>, Option<WatermarkChoice>), Error> {
        let client = if self.client_email.is_empty() { None } else { Some(self.client_email.parse::<Email>()?) };
        let currency: Currency = self.currency.parse()?;
        let price = Money::parse_major(&self.price, currency)?;
        // "Expires on" a day: open through that day in the studio's time
        // zone, closed after.
        let expires = if self.expires_on.is_empty() {
            None
        } else {
            let day = NaiveDate::parse_from_str(&self.expires_on, "%Y-%m-%d")
                .map_err(|_| Error::invalid("invalid_date", "enter the expiry date as YYYY-MM-DD"))?;
            Some(studio.end_of(day)?)
        };
        Ok((client, price, expires, self.mark()?))
    }
}

/// Words for a logo position.
pub(super) fn position_words(p: Position) -> &'static str {
    match p {
        Position::Tiled => "Repeated over the photo",
        Position::Center => "Centre",
        Position::TopLeft => "Top left",
        Position::TopRight => "Top right",
        Position::BottomLeft => "Bottom left",
        Position::BottomRight => "Bottom right",
    }
}

/// The watermark part of the album form: the kind, then the fields of
/// each kind (the script shows only the chosen kind's), and in the
/// settings a live preview on one of the album's photos.
pub(super) fn mark_fields(f: &AlbumFields, o: &MarkOptions) -> Markup {
    let kind = f.wm_kind.as_str();
    html! {
        (crate::web::assets::script("album-form"))
        fieldset.mark #mark data-album=[o.preview_of] {
            legend { "Watermark" }
            label for="wm_kind" { "Watermark" }
            select #wm_kind name="wm_kind" {
                option value="" selected[kind.is_empty()] { "Studio default" }
                option value="text" selected[kind == "text"] { "Text" }
                option value="logo" selected[kind == "logo"] disabled[!o.has_logo && kind != "logo"] {
                    @if o.has_logo { "My logo" } @else { "My logo (upload it in Settings first)" }
                }
                @for p in &o.plugins {
                    @let v = format!("plugin:{p}");
                    option value=(v) selected[kind == v] { "Plugin: " (p) }
                }
            }
            div data-wm-for="text" {
                label for="watermark" { "Watermark text" }
                input #watermark name="watermark" maxlength=(WatermarkChoice::MAX_TEXT_CHARS) value=(f.watermark);
            }
            div data-wm-for="logo" {
                label for="wm_position" { "Logo position" }
                select #wm_position name="wm_position" {
                    @for p in Position::ALL {
                        option value=(p.as_str()) selected[f.wm_position == p.as_str()] { (position_words(p)) }
                    }
                }
                div.pair {
                    div {
                        label for="wm_scale" { "Logo size (% of photo width)" }
                        input #wm_scale name="wm_scale" type="number" min=(WatermarkChoice::LOGO_SCALE_PCT.start())
                            max=(WatermarkChoice::LOGO_SCALE_PCT.end()) step="1" value=(f.wm_scale);
                    }
                    div {
                        label for="wm_opacity" { "Logo opacity (%)" }
                        input #wm_opacity name="wm_opacity" type="number" min=(WatermarkChoice::LOGO_OPACITY_PCT.start())
                            max=(WatermarkChoice::LOGO_OPACITY_PCT.end()) step="1" value=(f.wm_opacity);
                    }
                }
            }
            @if !o.plugins.is_empty() {
                div data-wm-for="plugin" {
                    label for="wm_params" { "Plugin parameters" }
                    input #wm_params name="wm_params" maxlength=(WatermarkChoice::MAX_PARAMS_CHARS) value=(f.wm_params);
                }
            }
            @if o.preview_of.is_some() {
                figure.wm-preview {
                    img #wm-preview alt="Preview of the watermark on a photo of this album" hidden;
                    figcaption #wm-preview-status role="status" aria-live="polite" {
                        "A preview of the chosen watermark appears here as you change it."
                    }
                }
            }
        }
    }
}

pub(super) fn album_form(
    visit: &Visit,
    action: &str,
    f: &AlbumFields,
    marks: &MarkOptions,
    submit: &str,
    error: Option<&str>,
) -> Markup {
    html! {
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form.card method="post" action=(action) {
            (csrf_field(visit))
            label for="name" { "Album name" }
            input #name name="name" required maxlength="200" value=(f.name);
            div.pair {
                div {
                    label for="client_name" { "Client name" }
                    input #client_name name="client_name" maxlength="100" autocomplete="off" value=(f.client_name);
                }
                div {
                    label for="client_email" { "Client email" }
                    input #client_email type="email" name="client_email" value=(f.client_email)
                        aria-describedby="client-hint";
                }
            }
            p.hint #client-hint {
                "Optional. When you publish the album, the client gets an e-mail whose link opens it, signed in."
            }
            label for="visibility" { "Visibility" }
            select #visibility name="visibility" {
                option value="private" selected[f.visibility == Visibility::Private] { "Private" }
                option value="public" selected[f.visibility == Visibility::Public] { "Public" }
            }
            div.pair {
                div {
                    label for="price" { "Price per photo" }
                    input #price name="price" inputmode="decimal" required value=(f.price) placeholder="5.00";
                }
                div {
                    label for="currency" { "Currency" }
                    select #currency name="currency" {
                        @for c in CURRENCIES { option value=(c) selected[f.currency == *c] { (c) } }
                        @if !f.currency.is_empty() && !CURRENCIES.contains(&f.currency.as_str()) {
                            option value=(f.currency) selected { (f.currency) }
                        }
                    }
                }
            }
            label for="expires_on" { "Expires on" }
            input #expires_on type="date" name="expires_on" value=(f.expires_on) aria-describedby="expires-hint";
            p.hint #expires-hint { "Optional. Clients can buy until the end of this day (" (f.time_zone) ")." }
            (mark_fields(f, marks))
            div.check {
                input #find_me type="checkbox" name="find_me" value="on" checked[f.find_me] disabled[!marks.faces]
                    aria-describedby="find-me-hint";
                label for="find_me" { "Find me: guests find their photos with a selfie" }
            }
            p.hint #find-me-hint {
                @if marks.faces {
                    "Off by default. The faces in this album's photos are indexed on this server (nothing leaves it); "
                    "a guest's selfie is used for the search and never stored. Turning it off deletes the index. "
                    a href="/privacy/find-me" { "What guests are told" }
                } @else {
                    "Not available: this server was set up without face search (see docs/faces.md)."
                }
            }
            button type="submit" { (submit) }
        }
    }
}

/// The photographer's logo: shown, replaced or removed by the page's
/// script through `PUT`/`DELETE /api/v1/users/me/logo`.
pub(crate) fn logo_section(has_logo: bool) -> Markup {
    html! {
        (crate::web::assets::script("logo"))
        section aria-labelledby="logo-h" {
            h2 #logo-h { "Your logo" }
            p.hint #logo-hint { "A PNG, ideally with a transparent background, up to 1 MiB. Any of your albums can use it as its watermark (choose “My logo” in the album's settings)." }
            @if has_logo {
                img.logo #logo-img src="/api/v1/users/me/logo" alt="Your current logo";
            } @else {
                p { "No logo yet." }
            }
            div.logo-upload #logo {
                label for="logo-file" { @if has_logo { "Replace logo (PNG)" } @else { "Logo (PNG)" } }
                input #logo-file type="file" accept="image/png" aria-describedby="logo-hint";
                @if has_logo { button.secondary type="button" #logo-remove { "Remove logo" } }
                p #logo-status role="status" aria-live="polite" {}
            }
        }
    }
}
