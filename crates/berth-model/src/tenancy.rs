//! The multi-tenant vocabulary shared by metadata and policy: accounts, access levels,
//! permissions, and time as berth stores it.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An account (tenant), e.g. `10042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A point in time with millisecond precision, as every backend stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(i64);

impl Timestamp {
    /// Milliseconds since the Unix epoch.
    pub const fn from_unix_millis(ms: i64) -> Self {
        Timestamp(ms)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn unix_millis(self) -> i64 {
        self.0
    }

    /// The current time (reads the system clock).
    pub fn now() -> Self {
        SystemTime::now().into()
    }

    /// This time plus `d`.
    pub fn plus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Midnight UTC at the start of a `YYYY-MM-DD` date (a day of the proleptic Gregorian
    /// calendar, years 1970 to 9999).
    pub fn parse_date(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let digits = |r: std::ops::Range<usize>| -> Option<i64> {
            s.get(r.clone())
                .filter(|d| d.bytes().all(|c| c.is_ascii_digit()))?
                .parse()
                .ok()
        };
        let (y, m, d) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
        let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let days_in_month = match m {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if y < 1970 || d < 1 || d > days_in_month {
            return None;
        }
        Some(Timestamp(days_from_civil(y, m, d) * 86_400_000))
    }

    /// A `YYYY-MM-DD` date (midnight UTC) or an RFC 3339 time in UTC or with an offset
    /// (`2026-11-23T07:36:09Z`, `2026-11-23T09:36:09.5+02:00`).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        if s.len() == 10 {
            return Self::parse_date(s);
        }
        let (date, rest) = (s.get(..10)?, s.get(10..)?);
        let day = Self::parse_date(date)?;
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let two = |r: &str| -> Option<i64> {
            (r.len() == 2 && r.bytes().all(|c| c.is_ascii_digit()))
                .then(|| r.parse().ok())
                .flatten()
        };
        let (h, m, sec) = (
            two(rest.get(0..2)?)?,
            two(rest.get(3..5)?)?,
            two(rest.get(6..8)?)?,
        );
        if rest.get(2..3)? != ":" || rest.get(5..6)? != ":" || h > 23 || m > 59 || sec > 60 {
            return None;
        }
        let mut rest = &rest[8..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
            millis = padded.parse::<i64>().ok()?;
            rest = &fraction[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.get(..1)? {
                    "+" => 1,
                    "-" => -1,
                    _ => return None,
                };
                if rest.len() != 6 || rest.get(3..4)? != ":" {
                    return None;
                }
                let (oh, om) = (two(rest.get(1..3)?)?, two(rest.get(4..6)?)?);
                sign * (oh * 3600 + om * 60) * 1000
            }
        };
        Some(Timestamp(
            day.0 + ((h * 60 + m) * 60 + sec) * 1000 + millis - offset,
        ))
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-23T07:36:09.123Z`.
    pub fn rfc3339(self) -> String {
        let days = self.0.div_euclid(86_400_000);
        let ms = self.0.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        let (h, min, sec, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{sec:02}.{milli:03}Z")
    }

    /// This time minus `d`.
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Err(e) => Timestamp(-i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX)),
        }
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        if t.0 >= 0 {
            UNIX_EPOCH + Duration::from_millis(t.0.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_millis(t.0.unsigned_abs())
        }
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// Who may pull a repository without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone may pull.
    Public,
    /// Only users with a permission on it.
    Private,
}

impl Access {
    /// `public` or `private`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Private => "private",
        }
    }

    /// Parses `public` or `private`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "public" => Some(Access::Public),
            "private" => Some(Access::Private),
            _ => None,
        }
    }
}

/// What a repository user may do in one repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Pull only.
    Pull,
    /// Push and pull.
    PushPull,
}

impl Permission {
    /// `pull` or `push_pull`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Pull => "pull",
            Permission::PushPull => "push_pull",
        }
    }

    /// Parses `pull` or `push_pull`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pull" => Some(Permission::Pull),
            "push_pull" => Some(Permission::PushPull),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for a in [Access::Public, Access::Private] {
            assert_eq!(Access::parse(a.as_str()), Some(a));
        }
        for p in [Permission::Pull, Permission::PushPull] {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("push"), None);
    }

    #[test]
    fn dates_parse_and_times_print_in_utc() {
        let t = Timestamp::parse_date("2026-11-23").unwrap();
        assert_eq!(t.rfc3339(), "2026-11-23T00:00:00.000Z");
        assert_eq!(t.unix_millis(), 1_795_392_000_000);
        assert_eq!(
            Timestamp::from_unix_millis(0).rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            Timestamp::parse_date("2024-02-29")
                .unwrap()
                .plus(Duration::from_millis(86_399_999))
                .rfc3339(),
            "2024-02-29T23:59:59.999Z"
        );
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-11-23",
            "x",
        ] {
            assert_eq!(Timestamp::parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339_times_parse_with_offsets() {
        let t = Timestamp::parse_rfc3339("2026-11-23T07:36:09.123Z").unwrap();
        assert_eq!(t.rfc3339(), "2026-11-23T07:36:09.123Z");
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-23T09:36:09.1234+02:00").unwrap(),
            t
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2026-11-23").unwrap().rfc3339(),
            "2026-11-23T00:00:00.000Z"
        );
        for bad in [
            "2026-11-23T25:00:00Z",
            "2026-11-23T07:36Z",
            "2026-11-23T07:36:09",
            "2026-11-23T07:36:09.Z",
            "2026-11-23X07:36:09Z",
        ] {
            assert_eq!(Timestamp::parse_rfc3339(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn printed_times_parse_back(ms in 0i64..253_402_300_799_000) {
            let t = Timestamp::from_unix_millis(ms);
            proptest::prop_assert_eq!(Timestamp::parse_rfc3339(&t.rfc3339()), Some(t));
        }
    }

    proptest::proptest! {
        #[test]
        fn every_day_prints_as_the_date_it_parses_from(days in 0i64..2_932_896) {
            let t = Timestamp::from_unix_millis(days * 86_400_000);
            let date = &t.rfc3339()[..10];
            proptest::prop_assert_eq!(Timestamp::parse_date(date), Some(t));
        }
    }

    #[test]
    fn timestamps_convert_both_ways() {
        for ms in [-5_000, 0, 1_700_000_000_123] {
            let t = Timestamp::from_unix_millis(ms);
            assert_eq!(Timestamp::from(SystemTime::from(t)), t);
        }
        let t = Timestamp::from_unix_millis(1000);
        assert_eq!(
            t.plus(Duration::from_secs(1))
                .minus(Duration::from_secs(2))
                .unix_millis(),
            0
        );
    }
}
