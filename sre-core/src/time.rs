//! UTC timestamps as agents and people write them, on `humantime` (1970 to 9999).

use std::time::{Duration, SystemTime};

/// Parse a UTC time written leniently: RFC 3339 (`2026-11-24T10:00:00Z`, fractions allowed),
/// with a space instead of `T`, without the `Z` (or with `+00:00`), without seconds
/// (`2026-11-24T10:00`), or a bare date (`2026-11-24`, midnight). `None` otherwise.
///
/// ```
/// use sre_core::time::{format_utc, parse_utc};
/// let t = parse_utc("2026-11-24 10:00").unwrap();
/// assert_eq!(format_utc(t), "2026-11-24T10:00:00Z");
/// assert_eq!(parse_utc("2026-11-24"), parse_utc("2026-11-24T00:00:00Z"));
/// assert!(parse_utc("yesterday").is_none());
/// ```
pub fn parse_utc(s: &str) -> Option<SystemTime> {
    let s = s.trim();
    let s = s
        .strip_suffix("+00:00")
        .or_else(|| s.strip_suffix(['Z', 'z']))
        .unwrap_or(s);
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, t),
        None => (s, "00:00:00"),
    };
    let time = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_string()
    };
    humantime::parse_rfc3339_weak(&format!("{date}T{time}")).ok()
}

/// `2026-11-24T10:00:00Z` (second precision).
pub fn format_utc(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// A duration as people write it: `90s`, `15m`, `2h`, `3d`, `1w`, `1h 30m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    humantime::parse_duration(s.trim()).ok()
}
