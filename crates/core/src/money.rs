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

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
