//! A photographer's studio: the brand their galleries, pages and mails
//! carry, and the time zone their dates are in.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Email, Error, MetadataStore, Result, User, UserId};

/// What a photographer's clients see of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Studio {
    /// The name galleries, pages and mails show ("Studio Nord"); 1 to 100
    /// printable characters.
    pub name: String,
    /// Their website (`http://` or `https://`).
    pub website: Option<String>,
    /// Where clients write; Reply-To of the mails (else the account's
    /// address).
    pub contact_email: Option<Email>,
    /// An IANA time zone ("Europe/Stockholm"): an album that closes on a
    /// day closes at the end of that day here, and dates show here.
    pub time_zone: String,
    /// The accent colour of their galleries, `#rrggbb`.
    pub accent: Option<String>,
}

impl Studio {
    /// The studio of a photographer who has not set one: their name, UTC.
    pub fn default_for(user: &User) -> Self {
        Studio {
            name: format!("{} {}", user.name, user.surname),
            website: None,
            contact_email: None,
            time_zone: "UTC".into(),
            accent: None,
        }
    }

    /// Checks every field (`Invalid` with a code naming the field).
    pub fn validate(self) -> Result<Self> {
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(Error::invalid("invalid_studio_name", "the studio name is 1 to 100 printable characters"));
        }
        let website = self.website.map(|w| w.trim().to_owned()).filter(|w| !w.is_empty());
        if let Some(w) = &website
            && (!(w.starts_with("https://") || w.starts_with("http://"))
                || w.len() > 200
                || w.chars().any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>'))
        {
            return Err(Error::invalid("invalid_website", "the website is an http:// or https:// address"));
        }
        zone(&self.time_zone)?;
        let accent = self.accent.map(|a| a.trim().to_ascii_lowercase()).filter(|a| !a.is_empty());
        if let Some(a) = &accent
            && !(a.len() == 7 && a.starts_with('#') && a[1..].chars().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(Error::invalid("invalid_accent", "the accent colour is #rrggbb"));
        }
        Ok(Studio { name, website, accent, ..self })
    }

    /// The instant an album that closes on `day` closes: the start of the
    /// next day in the studio's time zone.
    pub fn end_of(&self, day: NaiveDate) -> Result<DateTime<Utc>> {
        let tz = zone(&self.time_zone)?;
        let next = day.succ_opt().ok_or_else(|| Error::invalid("invalid_date", "that date is out of range"))?;
        let civil = jiff::civil::date(
            i16::try_from(chrono::Datelike::year(&next)).map_err(|_| Error::invalid("invalid_date", "out of range"))?,
            chrono::Datelike::month(&next) as i8,
            chrono::Datelike::day(&next) as i8,
        );
        let start = tz
            .to_ambiguous_zoned(civil.to_datetime(jiff::civil::Time::midnight()))
            .compatible()
            .map_err(|e| Error::invalid("invalid_date", e))?;
        DateTime::from_timestamp(start.timestamp().as_second(), 0)
            .ok_or_else(|| Error::invalid("invalid_date", "that date is out of range"))
    }

    /// The day `t` falls on in the studio's time zone.
    pub fn day_of(&self, t: DateTime<Utc>) -> NaiveDate {
        let local = zone(&self.time_zone).ok().and_then(|tz| {
            let ts = jiff::Timestamp::from_second(t.timestamp()).ok()?;
            let d = ts.to_zoned(tz).date();
            NaiveDate::from_ymd_opt(i32::from(d.year()), d.month() as u32, d.day() as u32)
        });
        local.unwrap_or_else(|| t.date_naive())
    }

    /// The last day an album closing at `expires_at` sells, in the studio's
    /// time zone: an album made to close "on 6 January" expires at the end
    /// of that day (`expires_at` is the start of 7 January there), and this
    /// answers 6 January. Every page and mail that names the closing day
    /// shows this day, never the date of `expires_at`.
    pub fn last_open_day(&self, expires_at: DateTime<Utc>) -> NaiveDate {
        self.day_of(expires_at - chrono::Duration::nanoseconds(1))
    }
}

/// The studio of photographer `owner` as the store holds it: the one they
/// saved, else [`Studio::default_for`] them; `None` for no such user. The
/// one home of that rule (the users service and the mailer read it here).
pub async fn studio_of(meta: &dyn MetadataStore, owner: UserId) -> Result<Option<Studio>> {
    if let Some(s) = meta.studio(owner).await? {
        return Ok(Some(s));
    }
    Ok(meta.user(owner).await?.map(|u| Studio::default_for(&u)))
}

/// The time zones a studio may pick, by IANA name.
pub fn time_zones() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    names.retain(|n| n.contains('/') || n == "UTC");
    names.sort();
    names.dedup();
    names
}

fn zone(name: &str) -> Result<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get(name).map_err(|_| {
        Error::invalid("invalid_time_zone", format!("{name:?} is not a time zone (e.g. Europe/Stockholm)"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn studio(tz: &str) -> Studio {
        Studio { name: "Studio Nord".into(), website: None, contact_email: None, time_zone: tz.into(), accent: None }
    }

    #[test]
    fn an_album_closing_on_a_day_sells_through_that_day_in_the_studios_zone() {
        let s = studio("Europe/Stockholm");
        let day = NaiveDate::from_ymd_opt(2027, 1, 6).unwrap();
        let end = s.end_of(day).unwrap();
        // Midnight in Stockholm (UTC+1 in January) is 23:00 UTC the day before.
        assert_eq!(end.to_rfc3339(), "2027-01-06T23:00:00+00:00");
        assert_eq!(s.last_open_day(end), day, "it says 6 January");
        let la = studio("America/Los_Angeles");
        assert_eq!(la.end_of(day).unwrap().to_rfc3339(), "2027-01-07T08:00:00+00:00");
        assert_eq!(la.last_open_day(la.end_of(day).unwrap()), day);
        assert_eq!(studio("UTC").end_of(day).unwrap().to_rfc3339(), "2027-01-07T00:00:00+00:00");
    }

    #[test]
    fn fields_are_checked() {
        assert_eq!(studio("Mars/Olympus").validate().unwrap_err().code(), "invalid_time_zone");
        let bad = Studio { website: Some("javascript:alert(1)".into()), ..studio("UTC") };
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_website");
        let bad = Studio { accent: Some("red".into()), ..studio("UTC") };
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_accent");
        let bad = Studio { name: " ".into(), ..studio("UTC") };
        assert_eq!(bad.validate().unwrap_err().code(), "invalid_studio_name");
        let ok =
            Studio { accent: Some("#1F5FBF".into()), website: Some(" https://nord.test ".into()), ..studio("UTC") };
        let ok = ok.validate().unwrap();
        assert_eq!((ok.accent.as_deref(), ok.website.as_deref()), (Some("#1f5fbf"), Some("https://nord.test")));
        assert!(time_zones().iter().any(|z| z == "Europe/Stockholm") && time_zones().len() > 300);
    }
}
