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
