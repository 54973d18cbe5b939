//! Time: an injectable [`Clock`] and the UTC timestamps written into entry metadata
//! (`2026-11-01T10:00:00Z`, RFC 3339, second precision), parsed and formatted by
//! `sre_core::time`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Parse `YYYY-MM-DDTHH:MM:SSZ` (also accepts a space for `T` and a missing `Z`, or a
    /// bare `YYYY-MM-DD`). Returns `None` for anything else.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let t = sre_core::time::parse_utc(s)?;
        Some(match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_secs()).ok()?),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_secs()).ok()?),
        })
    }

    /// Whole days from `self` to `later` (negative if `later` is earlier).
    pub fn days_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).div_euclid(86_400)
    }

    /// This timestamp plus `d`.
    pub fn plus(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }

    /// Compact form for file names: `20261101T100000Z`.
    pub fn compact(self) -> String {
        self.to_string().replace(['-', ':'], "")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = if self.0 >= 0 {
            UNIX_EPOCH + Duration::from_secs(self.0.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(self.0.unsigned_abs())
        };
        f.write_str(&sre_core::time::format_utc(t))
    }
}

/// Where "now" comes from. Inject a [`ManualClock`] in tests to age entries.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock set to `at`.
    pub fn new(at: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(at.0)))
    }

    /// Move forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Ordering::SeqCst,
        );
    }

    /// Set the time.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-11-01T10:00:00Z",
            "2000-02-29T23:59:59Z",
            "2099-12-31T23:59:59Z",
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.to_string(), s);
        }
        assert_eq!(Timestamp::parse("1970-01-02").unwrap().0, 86_400);
        assert!(Timestamp::parse("2026-13-01").is_none());
        assert!(Timestamp::parse("yesterday").is_none());
        let a = Timestamp::parse("2026-11-01T10:00:00Z").unwrap();
        let b = Timestamp::parse("2026-12-14T09:00:00Z").unwrap();
        assert_eq!(a.days_until(b), 42);
        assert_eq!(a.compact(), "20261101T100000Z");
    }
}
