//! The webhook transport: reqwest with redirects off, no proxy, a timeout,
//! and an address check at every connection.
//!
//! SSRF: an endpoint URL must be `https` (unless `webhooks.allow_http`) and
//! may not point at loopback, private, link-local, shared (CGNAT),
//! multicast or cloud metadata addresses (unless
//! `webhooks.allow_private_networks`). An address written in the URL is
//! refused when the endpoint is made; a name is resolved by our own
//! resolver at every connection, which refuses it if any of its addresses
//! is forbidden, so a name that later resolves elsewhere (DNS rebinding)
//! does not get through either.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use proofsheet_core::{DeliveryAttempt, Error, WebhookResponse, WebhookTransport};

use crate::config::WebhooksConfig;

/// Whether `ip` is one a webhook may never reach without
/// `webhooks.allow_private_networks`.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local (fc00::/7, fd00:ec2::254 among them)
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x64 && s[1] == 0xff9b) // NAT64 of any IPv4 address
                || (s[0] == 0x2002) // 6to4, which embeds an IPv4 address
                || (s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0) // IPv4-compatible
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, the cloud metadata address among them
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // shared address space 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking
        || o[0] >= 240 // reserved
}

/// Characters of a URL's path; a query also takes `?`.
const PATH_CHARS: &str = "._~%!$&'()*+,;=:@/-";

/// The endpoint URLs the API takes under the default configuration, as
/// a JSON-schema pattern for the OpenAPI document. [`url_shape`] checks
/// exactly this.
pub fn url_pattern(allow_http: bool) -> String {
    let scheme = if allow_http { "https?" } else { "https" };
    let port = "6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}";
    let chars = r"A-Za-z0-9._~%!$&'()*+,;=:@/-";
    format!(r"^{scheme}://[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{{2,63}}(:({port}))?(/[{chars}]*)?(\?[{chars}?]*)?$")
}

/// Checks `url` against [`url_pattern`]: a scheme, a domain name whose
/// last label is 2 to 63 letters, a port from 1 to 65535, then a path
/// and a query of plain URL characters (no user name, no fragment).
pub fn url_shape(url: &str, allow_http: bool) -> Result<(), String> {
    let rest = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if allow_http => rest,
        (None, Some(_)) => return Err("url must be https (webhooks.allow_http is off)".into()),
        _ => return Err("url must start with https://".into()),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    if let Some(p) = port
        && !(p.len() <= 5 && !p.starts_with('0') && p.parse::<u32>().is_ok_and(|n| (1..=65535).contains(&n)))
    {
        return Err("url's port must be 1 to 65535".into());
    }
    let labels: Vec<&str> = host.split('.').collect();
    let last = labels.last().copied().unwrap_or_default();
    if labels.len() < 2
        || labels.iter().any(|l| l.is_empty() || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        || !(2..=63).contains(&last.len())
        || !last.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return Err("url's host must be a domain name (an address or a user name is not taken)".into());
    }
    let (path, query) = match tail.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (tail, None),
    };
    let plain = |s: &str, extra: &str| {
        s.chars().all(|c| c.is_ascii_alphanumeric() || PATH_CHARS.contains(c) || extra.contains(c))
    };
    if !plain(path, "") || !query.is_none_or(|q| plain(q, "?")) {
        return Err("url's path and query take plain URL characters only (percent-encode the rest; no fragment)".into());
    }
    Ok(())
}

/// Resolves names for the webhook client, refusing forbidden addresses.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
                // The address stays in our logs, never in the sender's
                // answer: it would tell a photographer what internal
                // names resolve to.
                tracing::warn!(%host, address = %bad.ip(), "webhook destination refused: private or reserved address");
                return Err("destination not allowed".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Sends webhook deliveries over HTTP(S).
pub struct HttpWebhooks {
    client: reqwest::Client,
    allow_http: bool,
    allow_private: bool,
}

impl HttpWebhooks {
    /// A transport configured by `[webhooks]`.
    pub fn new(config: &WebhooksConfig) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(config.timeout_seconds.into()))
            .connect_timeout(Duration::from_secs(config.timeout_seconds.min(10).into()))
            .pool_idle_timeout(Duration::from_secs(30))
            .dns_resolver(Arc::new(CheckedResolver { allow_private: config.allow_private_networks }))
            .build()?;
        Ok(HttpWebhooks { client, allow_http: config.allow_http, allow_private: config.allow_private_networks })
    }

    fn parse(&self, url: &str) -> Result<reqwest::Url, String> {
        // The documented shape, which takes domain names only, so no
        // address written in the URL gets past it; with private networks
        // allowed, addresses and `localhost` are taken too. Names are
        // checked when they resolve (`CheckedResolver`).
        if let Err(e) = url_shape(url, self.allow_http)
            && !self.allow_private
        {
            return Err(e);
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("url is not a valid URL: {e}"))?;
        match parsed.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Err("url must be https (webhooks.allow_http is off)".into()),
            other => return Err(format!("url must be https, not {other}")),
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(
                "url may not hold a user name or password; put a secret in the path or use the signature".into()
            );
        }
        if parsed.fragment().is_some() {
            return Err("url may not have a fragment".into());
        }
        Ok(parsed)
    }
}

/// `Retry-After` as seconds: a number, or an HTTP date.
fn retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(s) = value.parse::<u64>() {
        return Some(s);
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some((at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds().max(0) as u64)
}

#[async_trait]
impl WebhookTransport for HttpWebhooks {
    fn check_url(&self, url: &str) -> proofsheet_core::Result<()> {
        self.parse(url).map(|_| ()).map_err(|m| Error::invalid("invalid_url", m))
    }

    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<WebhookResponse, String> {
        let url = self.parse(url)?;
        let mut req = self.client.post(url).body(body.to_owned());
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let mut resp = req.send().await.map_err(describe)?;
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
        // Only the start of the answer is read and kept.
        let mut excerpt = Vec::new();
        while excerpt.len() < DeliveryAttempt::EXCERPT_BYTES {
            match resp.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        excerpt.truncate(DeliveryAttempt::EXCERPT_BYTES);
        Ok(WebhookResponse { status, retry_after, excerpt: String::from_utf8_lossy(&excerpt).into_owned() })
    }
}

/// A reqwest error in a sentence, its causes included (the resolver's
/// refusal is one of them).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut out = kind.to_owned();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(allow_http: bool, allow_private: bool) -> HttpWebhooks {
        HttpWebhooks::new(&WebhooksConfig {
            allow_http,
            allow_private_networks: allow_private,
            ..WebhooksConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn private_and_reserved_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_when_an_endpoint_is_made() {
        let strict = transport(false, false);
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://127.0.0.1/x",
            "https://[::1]:8443/x",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/x",
            "https://user:pass@hooks.example.com/x",
            "https://hooks.example.com/x#frag",
            "not a url",
        ] {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        for good in [
            "https://hooks.example.com/proofsheet",
            "https://hooks.example.com:8443/p/a-b_c.d~e?token=abc&x=1%20",
            "https://EXAMPLE.co",
            "https://a.b-c.example",
        ] {
            assert!(strict.check_url(good).is_ok(), "{good}");
        }
        for bad in ["https://example.com:0/x", "https://example.com:65536/", "https://example.c0m/", "https://example/"]
        {
            assert!(strict.check_url(bad).is_err(), "{bad}");
        }
        let loose = transport(true, true);
        assert!(loose.check_url("http://127.0.0.1:9000/hook").is_ok());
    }

    #[test]
    fn the_pattern_in_the_document_is_the_rule() {
        // JSON-schema patterns are ECMA regexes; Rust has none in the tree,
        // so the pattern is checked for the pieces the checker enforces.
        let p = url_pattern(false);
        assert!(p.starts_with("^https://") && p.contains("{2,63}") && p.contains("6553[0-5]") && p.ends_with(")?$"));
        assert!(url_pattern(true).starts_with("^https?://"));
    }

    #[tokio::test]
    async fn a_name_that_resolves_to_loopback_is_refused_at_connection_time() {
        use reqwest::dns::Resolve;
        let name = |n: &str| n.parse::<reqwest::dns::Name>().unwrap();
        let err = CheckedResolver { allow_private: false }.resolve(name("localhost")).await.err().unwrap();
        // Issue 27: the sender learns the destination is refused, never
        // what the name resolves to.
        assert_eq!(err.to_string(), "destination not allowed");
        assert!(!err.to_string().contains("127.0.0.1") && !err.to_string().contains("::1"), "{err}");
        let ok = CheckedResolver { allow_private: true }.resolve(name("localhost")).await.unwrap();
        assert!(ok.into_iter().all(|a| a.ip().is_loopback()));
    }

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        assert_eq!(retry_after("120"), Some(120));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        assert_eq!(retry_after("soon"), None);
    }
}
