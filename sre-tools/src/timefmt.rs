//! Small UTC time and size helpers for tool arguments and output (times via
//! `sre_core::time`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// `YYYY-MM-DD HH:MM:SSZ` for a time.
pub fn format_utc(t: SystemTime) -> String {
    sre_core::time::format_utc(t).replacen('T', " ", 1)
}

/// Parse a point in time: a duration ago (`90s`, `15m`, `2h`, `3d`, `1w`) or a UTC timestamp
/// (`2026-11-24`, `2026-11-24T10:00`, `2026-11-24T10:00:00Z`, space instead of `T` allowed).
pub fn parse_time(s: &str, now: SystemTime) -> Result<SystemTime> {
    let s = s.trim();
    if let Some(d) = sre_core::time::parse_duration(s) {
        return Ok(now.checked_sub(d).unwrap_or(UNIX_EPOCH));
    }
    sre_core::time::parse_utc(s).ok_or_else(|| {
        Error::InvalidArgument(format!(
            "cannot parse time `{s}`: use a duration ago like `30m`, `2h`, `3d`, or a UTC timestamp like `2026-11-24T10:00:00Z`"
        ))
    })
}

/// Human size: `512 B`, `1.5 KiB`, `3.2 MiB`.
pub fn human_size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parse a size like `512`, `10k`, `5M`, `1G` (binary multiples).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => {
            let mult = match t[i..]
                .to_ascii_lowercase()
                .trim_end_matches("ib")
                .trim_end_matches('b')
            {
                "" => 1,
                "k" => 1 << 10,
                "m" => 1 << 20,
                "g" => 1 << 30,
                "t" => 1u64 << 40,
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "cannot parse size `{s}` (use e.g. 512, 10k, 5M, 1G)"
                    )));
                }
            };
            (&t[..i], mult)
        }
        None => (t, 1),
    };
    let n: f64 = num.trim().parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "cannot parse size `{s}` (use e.g. 512, 10k, 5M, 1G)"
        ))
    })?;
    Ok((n * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn round_trip() {
        let t = parse_time("2026-11-24T10:11:12Z", SystemTime::now()).unwrap();
        assert_eq!(format_utc(t), "2026-11-24 10:11:12Z");
        let t = parse_time("1999-02-28", SystemTime::now()).unwrap();
        assert_eq!(format_utc(t), "1999-02-28 00:00:00Z");
        let now = SystemTime::now();
        assert_eq!(
            parse_time("2h", now).unwrap(),
            now - Duration::from_secs(7200)
        );
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("99999999999999-01-01", now).is_err());
        assert!(parse_time("99999999999999999999d", now).is_err());
        assert!(parse_time("", now).is_err());
        assert_eq!(parse_size("5M").unwrap(), 5 << 20);
        assert_eq!(parse_size("10kb").unwrap(), 10 << 10);
        assert_eq!(parse_size("100").unwrap(), 100);
        assert!(parse_size("lots").is_err());
    }
}
