//! Money: integer minor units plus an ISO 4217 currency code. Never floats.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// The code as a string slice.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point (ISO 4217's minor unit): 0 for yen
    /// and the like, 3 for the dinars, 2 for the rest.
    pub fn exponent(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
            | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// The sign people write before an amount, where one is unambiguous;
    /// `None` for the rest (they read the code).
    pub fn symbol(&self) -> Option<&'static str> {
        Some(match self.as_str() {
            "EUR" => "€",
            "USD" => "$",
            "GBP" => "£",
            "JPY" => "¥",
            "INR" => "₹",
            "KRW" => "₩",
            "ILS" => "₪",
            "NGN" => "₦",
            "UAH" => "₴",
            "VND" => "₫",
            _ => return None,
        })
    }
}

impl FromStr for Currency {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bytes = s.as_bytes();
        if bytes.len() != 3 || !bytes.iter().all(u8::is_ascii_uppercase) {
            return Err(Error::invalid(
                "invalid_currency",
                format!("currency must be a three-letter ISO 4217 code such as EUR, got {s:?}"),
            ));
        }
        Ok(Currency([bytes[0], bytes[1], bytes[2]]))
    }
}

impl TryFrom<String> for Currency {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of money in minor units (cents for EUR), never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: Currency,
}

impl Money {
    /// Validated money: the amount may not be negative.
    pub fn new(amount: i64, currency: Currency) -> Result<Self> {
        if amount < 0 {
            return Err(Error::invalid("invalid_amount", "an amount may not be negative"));
        }
        Ok(Money { amount, currency })
    }

    /// The largest price per photo, in minor units (1,000,000.00 in a
    /// two-decimal currency). With at most 500 photos an order, no order
    /// total, and no sum of fewer than 10^8 orders, can overflow an `i64`.
    pub const MAX_PRICE: i64 = 100_000_000;

    /// A validated price per photo: 0 to [`Money::MAX_PRICE`].
    pub fn price(amount: i64, currency: Currency) -> Result<Self> {
        if amount > Self::MAX_PRICE {
            return Err(Error::invalid(
                "invalid_amount",
                format!("a price is at most {} minor units", Self::MAX_PRICE),
            ));
        }
        Money::new(amount, currency)
    }

    /// Zero in a currency.
    pub fn zero(currency: Currency) -> Self {
        Money { amount: 0, currency }
    }

    /// `self * n`, refusing overflow.
    pub fn times(self, n: u64) -> Result<Self> {
        i64::try_from(n)
            .ok()
            .and_then(|n| self.amount.checked_mul(n))
            .map(|amount| Money { amount, currency: self.currency })
            .ok_or_else(|| Error::invalid("amount_overflow", "the total is too large"))
    }
}

impl Money {
    /// The amount in major units as a plain number, for forms and
    /// spreadsheets: `62.50`, `-3.05`, `500` (a currency without minor
    /// units); no symbol, no separators.
    pub fn major_units(&self) -> String {
        let exp = self.currency.exponent();
        if exp == 0 {
            return self.amount.to_string();
        }
        let unit = 10i64.pow(exp);
        let sign = if self.amount < 0 { "-" } else { "" };
        let abs = self.amount.unsigned_abs();
        let unit = unit as u64;
        format!("{sign}{}.{:0width$}", abs / unit, abs % unit, width = exp as usize)
    }

    /// The amount as people read it: `€15.00`, `$4.50`, `¥500`, `CHF 12.00`.
    pub fn human(&self) -> String {
        // The plain number, with thousands separators: 1,234,567.89.
        let plain = self.major_units();
        let (sign, plain) = plain.strip_prefix('-').map_or(("", plain.as_str()), |p| ("-", p));
        let (whole, fraction) = plain.split_once('.').map_or((plain, None), |(w, f)| (w, Some(f)));
        let mut digits = whole.to_owned();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        while digits.len() > 3 {
            let tail = digits.split_off(digits.len() - 3);
            grouped = format!(",{tail}{grouped}");
        }
        let mut number = format!("{sign}{digits}{grouped}");
        if let Some(fraction) = fraction {
            number = format!("{number}.{fraction}");
        }
        match self.currency.symbol() {
            Some(sign) => format!("{sign}{number}"),
            None => format!("{} {number}", self.currency),
        }
    }

    /// Reads an amount typed in major units (`5`, `5.0`, `5.00`, `1,250.5`)
    /// in `currency`; more decimals than the currency has is an error.
    pub fn parse_major(text: &str, currency: Currency) -> Result<Self> {
        let bad =
            || Error::invalid("invalid_amount", format!("{text:?} is not an amount in {currency} (for example 5.00)"));
        let cleaned: String = text.trim().chars().filter(|c| *c != ',' && *c != ' ').collect();
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        let exp = currency.exponent() as usize;
        if whole.is_empty() && frac.is_empty()
            || whole.len() > 12
            || frac.len() > exp
            || !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
        let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<exp$}").parse().map_err(|_| bad())? };
        let amount = whole.checked_mul(10i64.pow(exp as u32)).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
        Money::price(amount, currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_units_are_plain_numbers() {
        let m = |amount, c: &str| Money { amount, currency: c.parse().unwrap() }.major_units();
        assert_eq!(m(6250, "EUR"), "62.50");
        assert_eq!(m(5, "EUR"), "0.05");
        assert_eq!(m(-305, "USD"), "-3.05");
        assert_eq!(m(-5, "EUR"), "-0.05");
        assert_eq!(m(500, "JPY"), "500");
        assert_eq!(m(123_456_789, "EUR"), "1234567.89");
    }

    #[test]
    fn money_reads_as_people_write_it() {
        let m = |a: i64, c: &str| Money::new(a, c.parse().unwrap()).unwrap();
        assert_eq!(m(1500, "EUR").human(), "€15.00");
        assert_eq!(m(5, "USD").human(), "$0.05");
        assert_eq!(m(123456789, "GBP").human(), "£1,234,567.89");
        assert_eq!(m(500, "JPY").human(), "¥500");
        assert_eq!(m(1200, "CHF").human(), "CHF 12.00");
        assert_eq!(m(1500, "KWD").human(), "KWD 1.500");
        let eur = "EUR".parse().unwrap();
        assert_eq!(Money::parse_major("5.00", eur).unwrap().amount, 500);
        assert_eq!(Money::parse_major(" 5 ", eur).unwrap().amount, 500);
        assert_eq!(Money::parse_major("1,250.5", eur).unwrap().amount, 125050);
        assert_eq!(Money::parse_major(".5", eur).unwrap().amount, 50);
        assert_eq!(Money::parse_major("500", "JPY".parse().unwrap()).unwrap().amount, 500);
        for bad in ["", ".", "5.001", "-5", "5e3", "abc", "5.5.5", "99999999999999"] {
            assert_eq!(Money::parse_major(bad, eur).unwrap_err().code(), "invalid_amount", "{bad}");
        }
        assert!(Money::parse_major("5.5", "JPY".parse().unwrap()).is_err());
    }

    #[test]
    fn currency_is_validated() {
        assert_eq!("EUR".parse::<Currency>().unwrap().as_str(), "EUR");
        for bad in ["eur", "EU", "EURO", "E1R", ""] {
            assert!(bad.parse::<Currency>().is_err(), "{bad}");
        }
    }

    #[test]
    fn money_refuses_negative_and_overflow() {
        let eur: Currency = "EUR".parse().unwrap();
        assert!(Money::new(-1, eur).is_err());
        assert_eq!(Money::new(500, eur).unwrap().times(3).unwrap().amount, 1500);
        assert!(Money::price(Money::MAX_PRICE, eur).is_ok());
        assert_eq!(Money::price(Money::MAX_PRICE + 1, eur).unwrap_err().code(), "invalid_amount");
        assert_eq!(Money::price(1 << 62, eur).unwrap_err().code(), "invalid_amount");
        assert!(Money::new(i64::MAX, eur).unwrap().times(2).is_err());
    }
}
