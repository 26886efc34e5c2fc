//! The failed sign-in slowdown.
//!
//! Failed sign-ins slow down the *account as tried from one client*: after
//! `limits.signin_failures_before_delay` failures in a row from that
//! client, each further attempt from it must wait 1 s, then 2 s, 4 s, ...
//! up to `limits.signin_max_delay_seconds`; during the wait its attempts
//! answer 429 (even with the right password, or guessing would go on). The
//! owner signing in from another address is not slowed by that, so a
//! stranger's wrong guesses from one address cannot lock the owner out.
//! Guessing from many addresses (an IPv6 /64 counts as one) is held back by
//! the per-client sign-in rate and by an account-wide count: past
//! [`ACCOUNT_WIDE_FACTOR`] times `limits.signin_failures_before_delay`
//! failures from all addresses together, every password sign-in of the
//! account waits the same way. That slows the owner's password too, never
//! their mailed sign-in link. A success resets the counts.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use super::{LimitsConfig, ceil_secs};

/// Consecutive failed sign-ins per account and client (IP, or IPv6 /64),
/// with an exponential delay; and per account from every client together,
/// past [`ACCOUNT_WIDE_FACTOR`] times as many failures, so guessing from
/// many addresses is slowed too. Only password sign-ins are slowed: the
/// owner can always sign in with a mailed link.
pub struct FailedSignIns {
    enabled: bool,
    free: u32,
    max_delay: Duration,
    accounts: Mutex<HashMap<(String, IpAddr), (u32, Instant)>>,
    everywhere: Mutex<HashMap<String, (u32, Instant)>>,
}

/// An account's failures from all clients together may be this many times
/// the per-client allowance (`limits.signin_failures_before_delay`) before
/// every password sign-in of the account waits.
pub const ACCOUNT_WIDE_FACTOR: u32 = 4;

/// One more failure on a record: past `free`, the next attempt waits
/// 1 s, 2 s, 4 s, ... up to `max_delay`.
fn count_failure(entry: &mut (u32, Instant), free: u32, max_delay: Duration, now: Instant) {
    entry.0 += 1;
    if entry.0 >= free {
        let doublings = (entry.0 - free).min(20);
        entry.1 = now + Duration::from_secs(1u64 << doublings).min(max_delay);
    }
}

fn account_key(email: &str, ip: IpAddr) -> (String, IpAddr) {
    (email.trim().to_lowercase(), ip)
}

impl FailedSignIns {
    /// The tracker `config` asks for (off when limits are off or no
    /// failure is free).
    pub fn new(config: &LimitsConfig) -> Self {
        FailedSignIns {
            enabled: config.enabled && config.signin_failures_before_delay > 0,
            free: config.signin_failures_before_delay,
            max_delay: Duration::from_secs(u64::from(config.signin_max_delay_seconds.max(1))),
            accounts: Mutex::new(HashMap::new()),
            everywhere: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` while `email` must wait before its next attempt from `ip`.
    pub fn check(&self, email: &str, ip: IpAddr) -> Result<(), u64> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let wait = |until: Option<Instant>| until.filter(|u| *u > now).map(|u| ceil_secs(u - now));
        let here = wait(self.accounts.lock().unwrap().get(&account_key(email, ip)).map(|(_, until)| *until));
        let all = wait(self.everywhere.lock().unwrap().get(&account_key(email, ip).0).map(|(_, until)| *until));
        match here.max(all) {
            Some(seconds) => Err(seconds),
            None => Ok(()),
        }
    }

    /// Records a failure; past the free ones, the next attempt from `ip` must wait.
    pub fn failed(&self, email: &str, ip: IpAddr) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap();
        if accounts.len() > 100_000 {
            // Bounded memory: forget accounts whose wait is long over.
            accounts.retain(|_, (_, until)| *until + self.max_delay > now);
        }
        let key = account_key(email, ip);
        count_failure(accounts.entry(key.clone()).or_insert((0, now)), self.free, self.max_delay, now);
        drop(accounts);
        let mut everywhere = self.everywhere.lock().unwrap();
        if everywhere.len() > 100_000 {
            everywhere.retain(|_, (_, until)| *until + self.max_delay > now);
        }
        let free = self.free.saturating_mul(ACCOUNT_WIDE_FACTOR);
        count_failure(everywhere.entry(key.0).or_insert((0, now)), free, self.max_delay, now);
    }

    /// A success clears the record of `email` from `ip`.
    pub fn succeeded(&self, email: &str, ip: IpAddr) {
        if self.enabled {
            let key = account_key(email, ip);
            self.accounts.lock().unwrap().remove(&key);
            self.everywhere.lock().unwrap().remove(&key.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::client_key;

    #[test]
    fn failed_sign_ins_slow_down_and_a_success_resets() {
        let s = FailedSignIns::new(&LimitsConfig { signin_failures_before_delay: 3, ..LimitsConfig::default() });
        let (guesser, owner) = (IpAddr::from([203, 0, 113, 9]), IpAddr::from([198, 51, 100, 7]));
        for _ in 0..2 {
            s.failed("A@x.test", guesser);
            assert!(s.check("a@x.test", guesser).is_ok());
        }
        s.failed("a@x.test", guesser);
        assert_eq!(s.check("a@X.test", guesser), Err(1));
        s.failed("a@x.test", guesser);
        assert_eq!(s.check("a@x.test", guesser), Err(2), "the delay doubles");
        assert!(s.check("b@x.test", guesser).is_ok(), "other accounts are not affected");
        assert!(s.check("a@x.test", owner).is_ok(), "the owner elsewhere is not locked out");
        // The owner fails and succeeds from their address: the guesser's
        // delay stays, the owner's record is cleared.
        s.failed("a@x.test", owner);
        s.succeeded("a@x.test", owner);
        assert_eq!(s.check("a@x.test", guesser), Err(2), "a success elsewhere does not free the guesser");
        s.succeeded("a@x.test", guesser);
        assert!(s.check("a@x.test", guesser).is_ok(), "a success resets");
    }

    /// Issue 27: 40 addresses made 400 guesses in 9 s without a 429. Past
    /// 4 times the per-address allowance from all addresses together, the
    /// account's password sign-ins wait, from any address; other accounts
    /// do not.
    #[test]
    fn guesses_from_many_addresses_slow_the_account_down() {
        let s = FailedSignIns::new(&LimitsConfig { signin_failures_before_delay: 3, ..LimitsConfig::default() });
        let wide = 3 * ACCOUNT_WIDE_FACTOR;
        for n in 0..wide - 1 {
            let ip = IpAddr::from([203, 0, 113, n as u8]);
            s.failed("a@x.test", ip);
            assert!(s.check("a@x.test", ip).is_ok(), "one failure from address {n}");
        }
        s.failed("a@x.test", IpAddr::from([203, 0, 113, 200]));
        let fresh = IpAddr::from([198, 51, 100, 1]);
        assert_eq!(s.check("a@x.test", fresh), Err(1), "a fresh address waits too");
        s.failed("a@x.test", IpAddr::from([203, 0, 113, 201]));
        assert_eq!(s.check("a@x.test", fresh), Err(2), "and the wait doubles");
        assert!(s.check("b@x.test", fresh).is_ok(), "other accounts are not affected");
        // Addresses of one IPv6 /64 are one client to the caller, which
        // passes `client_key`: three failures from one /64 start its delay.
        let v6 = |last: u16| client_key(IpAddr::from([0x2001, 0xdb8, 0, 7, 0, 0, 0, last]));
        for last in 1..=3 {
            s.failed("c@x.test", v6(last));
        }
        assert_eq!(s.check("c@x.test", v6(999)), Err(1), "another address of the /64 waits");
    }
}
