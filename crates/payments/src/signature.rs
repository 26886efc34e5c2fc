//! Stripe's webhook signature scheme, shared by every gateway here.
//!
//! A signed notification carries a header `t=<unix seconds>,v1=<hex>[,v1=<hex>...]`
//! where each `v1` is HMAC-SHA256, keyed with the endpoint secret, over
//! `"{t}.{raw body}"`. Several `v1` values appear while a secret is being
//! rotated; any one matching is enough. `v0` and unknown schemes are ignored.
//! Nothing of the body is parsed before [`verify`] has accepted it.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use proofsheet_core::{Error, Result};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The default tolerance between the signature's timestamp and now: 300 s,
/// as in Stripe's own libraries.
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// `v1` for `body` signed at unix time `t` with `secret`, as lowercase hex.
pub fn compute(secret: &[u8], t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// A complete header value for `body` signed at `at`.
pub fn sign(secret: &[u8], body: &[u8], at: DateTime<Utc>) -> String {
    let t = at.timestamp();
    format!("t={t},v1={}", compute(secret, t, body))
}

/// Checks `header` against `body`: the timestamp must be within
/// `tolerance_secs` of `now` (either side), and one `v1` must equal the
/// HMAC (compared in constant time). Every failure is 422
/// `invalid_signature` with a message that names what was wrong but never
/// echoes a secret or an expected value.
pub fn verify(header: Option<&str>, body: &[u8], secret: &[u8], now: DateTime<Utc>, tolerance_secs: i64) -> Result<()> {
    let header = header.ok_or_else(|| invalid("the notification is not signed"))?;
    let mut t = None;
    let mut candidates: Vec<&str> = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => {
                t = Some(v.parse::<i64>().map_err(|_| invalid("the signature timestamp is not a number"))?)
            }
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let t = t.ok_or_else(|| invalid("the signature header has no timestamp"))?;
    if candidates.is_empty() {
        return Err(invalid("the signature header has no v1 signature"));
    }
    if now.timestamp().abs_diff(t) > tolerance_secs.unsigned_abs() {
        return Err(invalid("the signature timestamp is outside the tolerance"));
    }
    let expected = compute(secret, t, body);
    // Check every candidate, so timing does not tell which one matched.
    let matched =
        candidates.iter().fold(subtle::Choice::from(0), |acc, c| acc | c.as_bytes().ct_eq(expected.as_bytes()));
    if !bool::from(matched) {
        return Err(invalid("no signature matches"));
    }
    Ok(())
}

/// The value of header `name` (ASCII case-insensitive), if present.
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn invalid(message: &str) -> Error {
    Error::invalid("invalid_signature", message)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    const SECRET: &[u8] = b"whsec_test_0123456789abcdef";

    #[test]
    fn table() {
        let now = Utc::now();
        let body = br#"{"id":"evt_1","type":"checkout.session.completed"}"#;
        let good = sign(SECRET, body, now);
        let t = now.timestamp();
        let sig = compute(SECRET, t, body);
        let mut flipped = body.to_vec();
        flipped[3] ^= 1;
        let cases: Vec<(&str, Option<String>, &[u8], bool)> = vec![
            ("valid", Some(good.clone()), body, true),
            ("wrong secret", Some(sign(b"whsec_other", body, now)), body, false),
            ("body changed by one byte", Some(good.clone()), &flipped, false),
            ("301 s old", Some(sign(SECRET, body, now - Duration::seconds(301))), body, false),
            ("301 s ahead", Some(sign(SECRET, body, now + Duration::seconds(301))), body, false),
            ("300 s old is still fine", Some(sign(SECRET, body, now - Duration::seconds(300))), body, true),
            ("two v1, one valid", Some(format!("t={t},v1={},v1={sig}", "0".repeat(64))), body, true),
            ("two v1, the valid one first", Some(format!("t={t},v1={sig},v1=deadbeef")), body, true),
            ("only v0", Some(format!("t={t},v0={sig}")), body, false),
            ("header missing", None, body, false),
            ("garbage header", Some("garbage".into()), body, false),
            ("empty header", Some(String::new()), body, false),
            ("timestamp not a number", Some(format!("t=soon,v1={sig}")), body, false),
            ("uppercase hex", Some(format!("t={t},v1={}", sig.to_uppercase())), body, false),
        ];
        for (name, header, body, ok) in cases {
            let got = verify(header.as_deref(), body, SECRET, now, DEFAULT_TOLERANCE_SECS);
            assert_eq!(got.is_ok(), ok, "{name}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.code(), "invalid_signature", "{name}");
            }
        }
    }

    #[test]
    fn tolerance_is_configurable() {
        let now = Utc::now();
        let header = sign(SECRET, b"{}", now - Duration::seconds(100));
        assert!(verify(Some(&header), b"{}", SECRET, now, 60).is_err());
        assert!(verify(Some(&header), b"{}", SECRET, now, 120).is_ok());
    }

    #[test]
    fn hex_matches_the_reference() {
        // RFC 4231 test case 2.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
