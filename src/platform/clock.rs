//! Local wall-clock time broken into fields, for backup names and diff headers.
//!
//! Chef names backups and dates diff headers in the host's local time; this module asks the C
//! library for the local offset instead of pulling in a calendar crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time in the host's local time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// Calendar year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub minute: u32,
    /// Second, 0-60.
    pub second: u32,
    /// Nanoseconds within the second.
    pub nanos: u32,
    /// Offset from UTC in seconds (east positive).
    pub offset: i32,
}

impl LocalTime {
    /// Breaks `time` into local fields; falls back to UTC if the C library cannot.
    pub fn of(time: SystemTime) -> Self {
        let (secs, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(_) => (0, 0),
        };
        local_fields(secs)
            .map(|mut t| {
                t.nanos = nanos;
                t
            })
            .unwrap_or_else(|| utc_fields(secs, nanos))
    }

    /// Breaks `time` into UTC fields.
    pub fn utc(time: SystemTime) -> Self {
        let (secs, nanos) = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos()),
            Err(_) => (0, 0),
        };
        utc_fields(secs, nanos)
    }

    /// The current local time.
    pub fn now() -> Self {
        Self::of(SystemTime::now())
    }

    /// `YYYYMMDDHHMMSS.ffffff`, Chef's backup suffix.
    pub fn backup_stamp(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}.{:06}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos / 1000
        )
    }

    /// `YYYYMMDD`, the date part of Chef's temp file names.
    pub fn date_stamp(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn +HHMM`, as `diff -u` prints file times.
    pub fn diff_stamp(&self) -> String {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let off = self.offset.unsigned_abs();
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:09} {sign}{:02}{:02}",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.nanos,
            off / 3600,
            (off % 3600) / 60
        )
    }
}

fn local_fields(secs: i64) -> Option<LocalTime> {
    #[allow(clippy::useless_conversion)] // time_t is not i64 on every target
    let t: nix::libc::time_t = secs.try_into().ok()?;
    // SAFETY: `tm` is plain data; localtime_r only writes into it and reads `t`.
    let mut tm: nix::libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call.
    let filled = unsafe { nix::libc::localtime_r(&t, &mut tm) };
    if filled.is_null() {
        return None;
    }
    Some(LocalTime {
        year: tm.tm_year + 1900,
        month: (tm.tm_mon + 1) as u32,
        day: tm.tm_mday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
        nanos: 0,
        offset: tm.tm_gmtoff as i32,
    })
}

/// Civil date from days since the epoch (proleptic Gregorian).
fn utc_fields(secs: i64, nanos: u32) -> LocalTime {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    LocalTime {
        year,
        month,
        day,
        hour: (rem / 3600) as u32,
        minute: ((rem % 3600) / 60) as u32,
        second: (rem % 60) as u32,
        nanos,
        offset: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_fallback_matches_a_known_date() {
        // 2024-02-29 12:34:56 UTC
        let t = utc_fields(1_709_210_096, 123_456_789);
        assert_eq!((t.year, t.month, t.day), (2024, 2, 29));
        assert_eq!((t.hour, t.minute, t.second), (12, 34, 56));
        assert_eq!(t.backup_stamp(), "20240229123456.123456");
        assert_eq!(t.diff_stamp(), "2024-02-29 12:34:56.123456789 +0000");
    }
}
