//! Time, behind a trait so tests move it instead of sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// Times are kept to the millisecond everywhere (that is what the stores
/// keep), so a value read back equals the value written.
fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// A source of the current time, to the millisecond.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(Utc::now())
    }
}

/// A clock that runs with the wall clock plus an offset the test controls.
///
/// It keeps running (so leases and timeouts still tick) but can be pushed
/// forward to make links and albums expire.
#[derive(Debug, Default)]
pub struct ManualClock {
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock at the wall time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut o = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *o += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        to_millis(Utc::now() + *self.offset.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
