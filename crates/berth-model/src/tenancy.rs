//! The multi-tenant vocabulary shared by metadata and policy: accounts, repository-user names,
//! access levels, permissions, and time as berth stores it.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An account (tenant), e.g. `10042`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Why a string is not a repository user's name. Each variant names the rule that failed; the
/// names in it are cut to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryUserNameError {
    /// A full name does not start with an account prefix such as `10000-`.
    #[error("repository user name {0:?} does not start with its account's prefix, as in 10000-ci")]
    MissingPrefix(String),
    /// A name given for one account carries the prefix of another.
    #[error(
        "repository user name {name:?} carries the prefix {prefix}- of another account than \
         {account}; to mean {account}-{name}, give that whole name"
    )]
    OtherAccount {
        /// The name as given.
        name: String,
        /// The prefix it carries, without its `-`.
        prefix: String,
        /// The account it was given for.
        account: AccountId,
    },
    /// An account id is not a positive number, so it has no prefix.
    #[error("account {0} cannot own repository users: an account id is a positive number")]
    NotAnAccount(AccountId),
    /// Nothing follows the account prefix.
    #[error("a repository user name needs a name after the account prefix, as in 10000-ci")]
    Empty,
    /// A character other than a lowercase letter, a digit, `.`, `_` or `-`.
    #[error(
        "repository user name {name:?} holds {found:?}: repository user names are lowercase \
         letters and digits, with '.', '_' or '-' between them"
    )]
    InvalidCharacter {
        /// The name as given.
        name: String,
        /// The first character refused.
        found: char,
    },
    /// The part after the prefix starts or ends with `.`, `_` or `-`.
    #[error(
        "repository user name {0:?} must start and end with a letter or digit (after the \
         account prefix)"
    )]
    Edge(String),
    /// Longer than [`RepositoryUserName::MAX_LEN`] with the prefix.
    #[error(
        "repository user name {name:?} is {len} characters with its account prefix, over the \
         limit of {max}"
    )]
    TooLong {
        /// The name with the prefix.
        name: String,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// A name as it goes into an error: cut short, so a hostile one cannot fill a log line.
fn shown(s: &str) -> String {
    s.chars().take(80).collect()
}

/// The name of a repository user (a robot credential): `<account>-<local>`, e.g. `10000-ci`.
///
/// The account prefix is part of the name, so names are unique across accounts and a login
/// tells whose user it is. [`RepositoryUserName::for_account`] takes what people type (`ci` or
/// `10000-ci` for account 10000); [`RepositoryUserName::parse`] takes the full name as stored
/// and as it appears in the management API's paths. The part after the prefix is lowercase
/// letters and digits with `.`, `_` or `-` between them, and the whole name is at most
/// [`RepositoryUserName::MAX_LEN`] characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryUserName {
    full: String,
    account: AccountId,
    /// Where the local part starts in `full` (after the prefix's `-`).
    local: usize,
}

impl RepositoryUserName {
    /// The longest name, prefix included.
    pub const MAX_LEN: usize = 64;

    /// Parses a full name, `<account>-<local>`; the account is written as a positive decimal
    /// number without leading zeros.
    pub fn parse(s: &str) -> Result<Self, RepositoryUserNameError> {
        let (digits, local) = split_prefix(s)
            .and_then(|(digits, local)| Some((account_of(digits)?, local)))
            .ok_or_else(|| RepositoryUserNameError::MissingPrefix(shown(s)))?;
        Self::new(digits, local)
    }

    /// `local` in `account`: the name `<account>-<local>`.
    pub fn new(account: AccountId, local: &str) -> Result<Self, RepositoryUserNameError> {
        if account.0 < 1 {
            return Err(RepositoryUserNameError::NotAnAccount(account));
        }
        check_local(local)?;
        let full = format!("{account}-{local}");
        if full.len() > Self::MAX_LEN {
            return Err(RepositoryUserNameError::TooLong {
                len: full.len(),
                name: shown(&full),
                max: Self::MAX_LEN,
            });
        }
        Ok(RepositoryUserName {
            local: full.len() - local.len(),
            full,
            account,
        })
    }

    /// A name given for `account`, with or without its prefix: `ci` and `10000-ci` are both
    /// `10000-ci` for account 10000. A name that starts with another account's prefix
    /// (`10001-ci`, `2024-ci`) is refused rather than prefixed again; `10000-2024-ci` says
    /// that name outright.
    pub fn for_account(account: AccountId, given: &str) -> Result<Self, RepositoryUserNameError> {
        match split_prefix(given) {
            Some((digits, local)) if account_of(digits) == Some(account) => {
                Self::new(account, local)
            }
            Some((digits, _)) => Err(RepositoryUserNameError::OtherAccount {
                name: shown(given),
                prefix: digits.to_owned(),
                account,
            }),
            None => Self::new(account, given),
        }
    }

    /// The whole name, prefix included.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The account it belongs to, from its prefix.
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// The name without the account prefix (`ci` in `10000-ci`).
    pub fn local(&self) -> &str {
        &self.full[self.local..]
    }
}

/// The digits before the first `-` and what follows it, when `s` starts with `<digits>-`.
fn split_prefix(s: &str) -> Option<(&str, &str)> {
    let (digits, local) = s.split_once('-')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some((digits, local))
}

/// The account a prefix names: a positive number written without leading zeros.
fn account_of(digits: &str) -> Option<AccountId> {
    let id: i64 = digits.parse().ok()?;
    (id >= 1 && id.to_string() == digits).then_some(AccountId(id))
}

fn check_local(local: &str) -> Result<(), RepositoryUserNameError> {
    if local.is_empty() {
        return Err(RepositoryUserNameError::Empty);
    }
    if let Some(found) = local
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')))
    {
        return Err(RepositoryUserNameError::InvalidCharacter {
            name: shown(local),
            found,
        });
    }
    let b = local.as_bytes();
    if !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return Err(RepositoryUserNameError::Edge(shown(local)));
    }
    Ok(())
}

impl fmt::Display for RepositoryUserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl fmt::Debug for RepositoryUserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepositoryUserName({:?})", self.full)
    }
}

impl AsRef<str> for RepositoryUserName {
    fn as_ref(&self) -> &str {
        &self.full
    }
}

impl FromStr for RepositoryUserName {
    type Err = RepositoryUserNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RepositoryUserName::parse(s)
    }
}

impl serde::Serialize for RepositoryUserName {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.full)
    }
}

impl<'de> serde::Deserialize<'de> for RepositoryUserName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        RepositoryUserName::parse(&s).map_err(serde::de::Error::custom)
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
    fn user_names_get_the_account_prefix_once() {
        let a = AccountId(10042);
        let full = |given: &str| RepositoryUserName::for_account(a, given).map(|n| n.to_string());
        assert_eq!(full("ci").unwrap(), "10042-ci");
        assert_eq!(full("10042-ci").unwrap(), "10042-ci");
        assert_eq!(full("team.a_b-1").unwrap(), "10042-team.a_b-1");
        assert_eq!(full("10042-2024-ci").unwrap(), "10042-2024-ci");
        let name = RepositoryUserName::parse("10042-team.a_b-1").unwrap();
        assert_eq!(name.account(), a);
        assert_eq!(name.local(), "team.a_b-1");
        assert_eq!(name.as_str(), "10042-team.a_b-1");
        assert_eq!(
            RepositoryUserName::new(a, "ci").unwrap(),
            name_of("10042-ci")
        );
        // `new` takes the local part as it is.
        assert_eq!(
            RepositoryUserName::new(a, "10042-ci").unwrap().as_str(),
            "10042-10042-ci"
        );
        assert_eq!(
            "10042-ci".parse::<RepositoryUserName>().unwrap(),
            name_of("10042-ci")
        );
    }

    fn name_of(s: &str) -> RepositoryUserName {
        RepositoryUserName::parse(s).unwrap()
    }

    #[test]
    fn user_names_reject_with_the_rule() {
        use RepositoryUserNameError as E;
        let a = AccountId(10042);
        let given: &[(&str, E)] = &[
            ("", E::Empty),
            ("10042-", E::Empty),
            (
                "CI",
                E::InvalidCharacter {
                    name: "CI".into(),
                    found: 'C',
                },
            ),
            (
                "a b",
                E::InvalidCharacter {
                    name: "a b".into(),
                    found: ' ',
                },
            ),
            (
                "a:b",
                E::InvalidCharacter {
                    name: "a:b".into(),
                    found: ':',
                },
            ),
            ("-ci", E::Edge("-ci".into())),
            ("ci-", E::Edge("ci-".into())),
            ("10042-.ci", E::Edge(".ci".into())),
            (
                "10001-ci",
                E::OtherAccount {
                    name: "10001-ci".into(),
                    prefix: "10001".into(),
                    account: a,
                },
            ),
            (
                "2024-ci",
                E::OtherAccount {
                    name: "2024-ci".into(),
                    prefix: "2024".into(),
                    account: a,
                },
            ),
        ];
        for (input, expected) in given {
            assert_eq!(
                RepositoryUserName::for_account(a, input).as_ref(),
                Err(expected),
                "{input:?}"
            );
        }
        let long = "x".repeat(59);
        assert_eq!(
            RepositoryUserName::for_account(a, &long),
            Err(E::TooLong {
                name: format!("10042-{long}"),
                len: 65,
                max: 64
            })
        );
        assert!(RepositoryUserName::for_account(a, &"x".repeat(58)).is_ok());
        for missing in [
            "ci",
            "",
            "-ci",
            "010042-ci",
            "0-ci",
            "+5-ci",
            "99999999999999999999-ci",
        ] {
            assert_eq!(
                RepositoryUserName::parse(missing),
                Err(E::MissingPrefix(missing.into())),
                "{missing:?}"
            );
        }
        assert_eq!(
            RepositoryUserName::new(AccountId(0), "ci"),
            Err(E::NotAnAccount(AccountId(0)))
        );
    }

    #[test]
    fn user_name_errors_say_what_a_name_is() {
        let e = RepositoryUserName::for_account(AccountId(10000), "CI").unwrap_err();
        assert!(
            e.to_string()
                .contains("repository user names are lowercase letters and digits"),
            "{e}"
        );
        let e = RepositoryUserName::for_account(AccountId(10000), "10001-ci").unwrap_err();
        assert!(e.to_string().contains("10000-10001-ci"), "{e}");
        let e = RepositoryUserName::for_account(AccountId(10000), &"é".repeat(500)).unwrap_err();
        assert!(e.to_string().chars().count() < 300, "{e}");
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
