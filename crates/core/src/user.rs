//! Users, roles and e-mail addresses.

use std::{fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Error, Result, UserId};

/// What a user is to the system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Owns albums and sells photos.
    Photographer,
    /// Views shared albums and buys photos.
    Client,
    /// Operates the system (made from the command line only).
    Admin,
}

impl Role {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Photographer => "photographer",
            Role::Client => "client",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "photographer" => Ok(Role::Photographer),
            "client" => Ok(Role::Client),
            "admin" => Ok(Role::Admin),
            _ => Err(Error::invalid("invalid_role", format!("unknown role {s:?}"))),
        }
    }
}

/// A normalised (trimmed, lower-cased) e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = Error;

    /// Exactly the documented pattern (ASCII; RFC 5322 `atext` and dots
    /// before the `@`, dot-separated labels of letters, digits and `-`
    /// after it), at most 64 + 1 + 189 characters; stored lowercased.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::invalid("invalid_email", "not a valid e-mail address");
        if s.len() > 254 {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        let atext = |c: char| c.is_ascii_alphanumeric() || ".!#$%&'*+/=?^_`{|}~-".contains(c);
        let label_ok = |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(atext)
            || !domain.contains('.')
            || !domain.split('.').all(label_ok)
        {
            return Err(bad());
        }
        Ok(Email(s.to_ascii_lowercase()))
    }
}

impl TryFrom<String> for Email {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A person using the system. Card data is never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Opaque id.
    pub id: UserId,
    /// Unique, normalised address.
    pub email: Email,
    /// Given name.
    pub name: String,
    /// Family name.
    pub surname: String,
    /// What the user may do.
    pub role: Role,
    /// Whether the user proved they read mail at `email` (a mailed link, or
    /// an admin's word). Until then, albums shared with that address stay
    /// closed to them: only public albums open.
    pub email_verified: bool,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
}

/// Validates a person's name part: 1 to 100 characters, no control characters.
pub fn validate_name(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(Error::invalid("invalid_name", format!("{field} must be 1 to 100 printable characters")));
    }
    Ok(v.to_owned())
}

/// A signed-in session: only the SHA-256 of its bearer token is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the bearer token.
    pub token_hash: [u8; 32],
    /// Whose session.
    pub user_id: UserId,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!("Ann@Example.COM".parse::<Email>().unwrap().as_str(), "ann@example.com");
        assert!("o'brien+photos@studio-1.example".parse::<Email>().is_ok());
        let bad =
            ["", "ann", "ann@", "@x.com", "ann@x", "a b@x.com", "ann@x..com", "a@b@c.com", " ann@x.com", "ann@x.com."];
        for bad in bad.into_iter().chain(["ünï@x.com", "ann@x_y.com", "ann@.x.com"]) {
            assert!(bad.parse::<Email>().is_err(), "{bad}");
        }
    }
}
